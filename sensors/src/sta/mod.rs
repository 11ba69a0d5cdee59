//! The OGC SensorThings API v1.1 model of Vedetta's sensor network.
//!
//! | STA entity | Vedetta | `@iot.id` |
//! |---|---|---|
//! | Thing | a station | station id |
//! | Location | the station's point | station id |
//! | FeatureOfInterest | the station's point | station id |
//! | Sensor | the station's instrument | station id |
//! | ObservedProperty | rain (1) or water level (2) | quantity code |
//! | Datastream | station × quantity | `station_id * 10 + quantity code` ([`datastream_id`]) |
//! | Observation | a reading | `datastream_id << 42 | epoch milliseconds` ([`observation_id`]) |
//!
//! Ids are derived, not stored: every STA id maps back to a key of the readings table.

pub mod filter;
pub mod model;
pub mod options;
pub mod query;

use chrono::{DateTime, TimeZone, Utc};

use crate::Quantity;

/// The Datastream of a station's quantity.
pub fn datastream_id(station_id: i64, quantity: Quantity) -> i64 {
    station_id * 10 + i64::from(quantity.code())
}

/// The station of a Datastream id.
pub fn datastream_station(id: i64) -> i64 {
    id / 10
}

/// The quantity of a Datastream id, if it is one.
pub fn datastream_quantity(id: i64) -> Option<Quantity> {
    if id <= 0 {
        return None;
    }
    Quantity::from_code((id % 10) as i16)
}

const TIME_BITS: u32 = 42;

/// The Observation id of a reading (times from 1970 to 2109, millisecond resolution).
pub fn observation_id(datastream: i64, observed_at: DateTime<Utc>) -> i64 {
    (datastream << TIME_BITS) | (observed_at.timestamp_millis() & ((1 << TIME_BITS) - 1))
}

/// The Datastream and time of an Observation id.
pub fn observation_key(id: i64) -> Option<(i64, DateTime<Utc>)> {
    if id <= 0 {
        return None;
    }
    let datastream = id >> TIME_BITS;
    let millis = id & ((1 << TIME_BITS) - 1);
    datastream_quantity(datastream)?;
    Some((datastream, Utc.timestamp_millis_opt(millis).single()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_to_their_keys() {
        let ds = datastream_id(4321, Quantity::Level);
        assert_eq!((datastream_station(ds), datastream_quantity(ds)), (4321, Some(Quantity::Level)));
        let t: DateTime<Utc> = "2026-11-22T10:05:00.123Z".parse().unwrap();
        let obs = observation_id(ds, t);
        assert!(obs > 0);
        assert_eq!(observation_key(obs), Some((ds, t)));
        assert_eq!(datastream_quantity(43213), None);
    }
}
