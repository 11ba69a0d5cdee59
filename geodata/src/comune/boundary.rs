//! Municipal boundaries from GeoJSON (ISTAT's, as openpolis publishes them) into `core.comune`.

use serde_json::Value;
use sqlx::PgPool;

use crate::{Error, Result};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Features refused, with the reason.
    pub invalid: Vec<(usize, String)>,
}

fn text(props: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match props.get(*k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Imports comuni from a GeoJSON FeatureCollection in EPSG:4326 with ISTAT properties (`com_istat_code`,
/// `com_catasto_code`, `name`, `prov_*`, `reg_*`, as ISTAT/openpolis publish them), upserting by ISTAT code;
/// invalid polygons are repaired. Then every station gets the comune that contains it.
pub async fn import(pool: &PgPool, collection: &Value) -> Result<ImportReport> {
    let features = collection
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Import("a comuni file is a GeoJSON FeatureCollection".into()))?;
    let mut report = ImportReport::default();
    let mut tx = pool.begin().await?;
    for (i, feature) in features.iter().enumerate() {
        let props = feature.get("properties").cloned().unwrap_or(Value::Null);
        let Some(istat) = text(&props, &["com_istat_code", "PRO_COM_T", "istat"]) else {
            report.invalid.push((i, "no ISTAT code (com_istat_code)".into()));
            continue;
        };
        let istat = format!("{istat:0>6}");
        let Some(belfiore) = text(&props, &["com_catasto_code", "COD_CATASTO", "belfiore"]) else {
            report.invalid.push((i, format!("comune {istat}: no Belfiore code (com_catasto_code)")));
            continue;
        };
        let Some(name) = text(&props, &["name", "COMUNE", "nome"]) else {
            report.invalid.push((i, format!("comune {istat}: no name")));
            continue;
        };
        let Some(geometry) = feature.get("geometry").filter(|g| g.is_object()) else {
            report.invalid.push((i, format!("comune {istat} ({name}): no geometry")));
            continue;
        };
        let created: Option<bool> = sqlx::query_scalar(
            "insert into core.comune (istat, belfiore, name, province_code, province_name, province_acronym,
                 region_code, region_name, geom)
             select $1, $2, $3, $4, $5, $6, $7, $8,
                    st_multi(st_collectionextract(st_makevalid(st_setsrid(st_geomfromgeojson($9), 4326)), 3))
             on conflict (istat) do update set belfiore = excluded.belfiore, name = excluded.name,
                 province_code = excluded.province_code, province_name = excluded.province_name,
                 province_acronym = excluded.province_acronym, region_code = excluded.region_code,
                 region_name = excluded.region_name, geom = excluded.geom, updated_at = now()
             returning (xmax = 0)",
        )
        .bind(&istat)
        .bind(&belfiore)
        .bind(&name)
        .bind(text(&props, &["prov_istat_code"]))
        .bind(text(&props, &["prov_name"]))
        .bind(text(&props, &["prov_acr"]))
        .bind(text(&props, &["reg_istat_code"]))
        .bind(text(&props, &["reg_name"]))
        .bind(geometry.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| Error::Import(format!("comune {istat} ({name}): {e}")))?;
        match created {
            Some(true) => report.created += 1,
            Some(false) => report.updated += 1,
            None => report.invalid.push((i, format!("comune {istat} ({name}): empty geometry"))),
        }
    }
    let changed = report.created + report.updated > 0;
    if changed {
        super::bump_revision(&mut tx).await?;
    }
    tx.commit().await?;
    if changed {
        super::changed_locally();
    }
    Ok(report)
}
