//! "Readings committed": the event the ingest writer appends to the live-event spine (`database::event`) in the
//! transaction that stores the readings. Every consumer (alert evaluator, live map, tile invalidation, the SSE
//! stream) reads it from there, in whatever Vedetta process it runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Quantity;
use crate::qc::Flags;

/// The readings of one station and quantity that one batch committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingsCommitted {
    pub station: String,
    pub station_id: i64,
    pub quantity: Quantity,
    /// Earliest and latest observation time among the new readings (late readings included).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How many new readings (duplicates are not counted).
    pub count: u32,
    /// The newest of the new readings.
    pub latest_at: DateTime<Utc>,
    pub latest_value: f64,
    pub latest_qc: Flags,
}

impl ReadingsCommitted {
    /// Its kind on the spine. The payload of such an event is the array of what one ingest batch committed, one
    /// element per station and quantity (a single object is read too).
    pub const KIND: &'static str = "readings.committed";

    /// What an event's payload announces; an element that cannot be read is left out.
    pub fn from_payload(payload: &serde_json::Value) -> Vec<ReadingsCommitted> {
        match payload {
            serde_json::Value::Array(items) => {
                items.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect()
            }
            other => serde_json::from_value(other.clone()).ok().into_iter().collect(),
        }
    }
}
