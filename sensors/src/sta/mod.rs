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
//! | Observation | a reading | series and milliseconds since 1900 ([`observation_id`]) |
//!
//! Ids are derived, not stored: every STA id maps back to a key of the readings table.
//!
//! The modules, from text to rows: [`filter`] parses `$filter` (with [`wkt`] checking geography literals) into
//! an [`expr::Expr`], [`options`] parses the other query options, [`query`], [`functions`], [`arithmetic`]
//! and [`orderby`] translate them to SQL, [`model`] says what each entity set is in SQL and [`read`] runs the queries with bounded responses.

pub mod arithmetic;
pub mod error;
pub mod expr;
pub mod filter;
pub mod functions;
mod lex;
pub mod model;
pub mod options;
pub mod orderby;
pub mod query;
pub mod read;
pub mod wkt;

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

/// Bits of an Observation id that hold the time: milliseconds since [`OBSERVATION_EPOCH`] (2^44 ms are 557 years).
const TIME_BITS: u32 = 44;
const TIME_MASK: i64 = (1 << TIME_BITS) - 1;

/// The first instant an Observation id can name: 1900-01-01T00:00:00Z, in Unix milliseconds.
pub const OBSERVATION_EPOCH_MS: i64 = -2_208_988_800_000;

/// The first instant after the Observations served: 2400-01-01T00:00:00Z, in Unix milliseconds.
pub const OBSERVATION_END_MS: i64 = 13_569_465_600_000;

/// The largest station id whose readings have Observation ids (the series takes the 19 bits above the time).
pub const MAX_OBSERVATION_STATION: i64 = (1 << (63 - TIME_BITS - 1)) - 1;

/// The Observation id of a reading: `(station_id * 2 + quantity − 1) << 44 | milliseconds since 1900`.
///
/// Defined for readings from 1900-01-01 (inclusive) to 2400-01-01 (exclusive) of stations up to
/// [`MAX_OBSERVATION_STATION`]; `None` otherwise. The time is floored to the millisecond; [`model`] reads the
/// same id in SQL.
pub fn observation_id(datastream: i64, observed_at: DateTime<Utc>) -> Option<i64> {
    let station = datastream_station(datastream);
    let quantity = datastream_quantity(datastream)?;
    let millis = observed_at.timestamp_millis();
    if !(1..=MAX_OBSERVATION_STATION).contains(&station)
        || !(OBSERVATION_EPOCH_MS..OBSERVATION_END_MS).contains(&millis)
    {
        return None;
    }
    let series = station * 2 + i64::from(quantity.code()) - 1;
    Some((series << TIME_BITS) | (millis - OBSERVATION_EPOCH_MS))
}

/// The Datastream and time (floored to the millisecond) of an Observation id.
pub fn observation_key(id: i64) -> Option<(i64, DateTime<Utc>)> {
    let series = id >> TIME_BITS;
    let (station, quantity) = (series >> 1, Quantity::from_code((series & 1) as i16 + 1)?);
    let millis = (id & TIME_MASK) + OBSERVATION_EPOCH_MS;
    if station < 1 || millis >= OBSERVATION_END_MS {
        return None;
    }
    Some((datastream_id(station, quantity), Utc.timestamp_millis_opt(millis).single()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ids_map_back_to_their_keys() {
        let ds = datastream_id(4321, Quantity::Level);
        assert_eq!((datastream_station(ds), datastream_quantity(ds)), (4321, Some(Quantity::Level)));
        let at = t("2026-11-22T10:05:00.123Z");
        let obs = observation_id(ds, at).unwrap();
        assert!(obs > 0);
        assert_eq!(observation_key(obs), Some((ds, at)));
        assert_eq!(datastream_quantity(43213), None);
    }

    #[test]
    fn observation_ids_cover_1900_to_2400_and_every_station_up_to_the_limit() {
        assert_eq!(Utc.timestamp_millis_opt(OBSERVATION_EPOCH_MS).unwrap(), t("1900-01-01T00:00:00Z"));
        assert_eq!(Utc.timestamp_millis_opt(OBSERVATION_END_MS).unwrap(), t("2400-01-01T00:00:00Z"));
        assert_eq!(MAX_OBSERVATION_STATION, 262_143);
        for at in [
            "1900-01-01T00:00:00Z",
            "1900-01-01T00:00:00.001Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00Z",
            "2109-06-01T00:00:00Z",
            "2200-12-31T23:59:59.999Z",
            "2399-12-31T23:59:59.999Z",
        ] {
            for (station, quantity) in
                [(1, Quantity::Rain), (1, Quantity::Level), (MAX_OBSERVATION_STATION, Quantity::Level)]
            {
                let ds = datastream_id(station, quantity);
                let id = observation_id(ds, t(at)).unwrap_or_else(|| panic!("{at}"));
                assert!(id > 0, "{at}");
                assert_eq!(observation_key(id), Some((ds, t(at))), "{at} station {station}");
            }
        }
        let ds = datastream_id(7, Quantity::Rain);
        assert_eq!(observation_id(ds, t("1899-12-31T23:59:59.999Z")), None);
        assert_eq!(observation_id(ds, t("2400-01-01T00:00:00Z")), None);
        assert_eq!(
            observation_id(
                datastream_id(MAX_OBSERVATION_STATION + 1, Quantity::Rain),
                t("2026-01-01T00:00:00Z")
            ),
            None
        );
        // Sub-millisecond times share the id of their millisecond.
        let id = observation_id(ds, t("2026-11-22T10:05:00.123999Z")).unwrap();
        assert_eq!(observation_key(id), Some((ds, t("2026-11-22T10:05:00.123Z"))));
    }

    #[test]
    fn ids_that_no_reading_can_have_decode_to_nothing() {
        for id in [i64::MIN, -1, 0, 1, (1 << 44) - 1, (1 << 45) - 1, i64::MAX] {
            if let Some((ds, at)) = observation_key(id) {
                assert_eq!(observation_id(ds, at), Some(id), "{id}");
            }
        }
        assert_eq!(observation_key(0), None);
        assert_eq!(observation_key(-5), None);
        assert_eq!(observation_key(i64::MAX), None, "past 2400");
    }
}
