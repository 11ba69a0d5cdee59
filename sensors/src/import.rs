//! `vedetta import stations FILE.geojson`: stations from a GeoJSON FeatureCollection, upserted by code.

use serde_json::Value;
use sqlx::PgPool;

use crate::{Error, Result, StationInput, store};

/// What an import did, feature by feature.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// Features refused: their index in the collection and the reason (which names the station).
    pub invalid: Vec<(usize, String)>,
}

/// Imports every valid feature of `collection`; invalid ones are reported one by one and do not stop the import.
pub async fn stations(pool: &PgPool, collection: &Value) -> Result<ImportReport> {
    if collection.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(Error::InvalidQuery("a station import is a GeoJSON FeatureCollection".into()));
    }
    let features = collection.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut report = ImportReport::default();
    for (i, feature) in features.iter().enumerate() {
        let input = match StationInput::from_feature(feature) {
            Ok(input) => input,
            Err(e) => {
                report.invalid.push((i, e.to_string()));
                continue;
            }
        };
        let (station, created) = match store::upsert_station(pool, &input).await {
            Ok(done) => done,
            // Refused by the store (it would not read back as sent): reported like any invalid feature.
            Err(e @ Error::InvalidStation { .. }) => {
                report.invalid.push((i, e.to_string()));
                continue;
            }
            Err(e) => return Err(e),
        };
        if created {
            report.created.push(station.def.code);
        } else {
            report.updated.push(station.def.code);
        }
    }
    Ok(report)
}
