//! Decoding MQTT messages into readings.
//!
//! | topic | payload |
//! |---|---|
//! | `vedetta/v1/sensors/{station_code}/{quantity}` | `{"t":"2026-11-22T10:05:00+01:00","v":1.2}` or an array of such objects; optional `"u"` (`mm` for rain, `m`, `cm` or `mm` for level) |
//! | `vedetta/v1/senml/{station_code}` | a SenML JSON pack (RFC 8428): `bn`, `bt`, `bu`, `bv`, `n`, `t`, `u`, `v`; the quantity is `n` itself (`"bn":"GE-BISAG-01","n":"level"`) or the last segment of the resolved name (`…:rain`, `…/level`) |
//! | `v1.1/Datastreams({id})/Observations` | a SensorThings Observation: `{"phenomenonTime":"…","result":1.2}` |
//!
//! A message whose every part is wrong is rejected whole; in an array or pack, good elements are kept and each bad
//! one is rejected with its index, so that nothing is lost silently.
//!
//! # Accepted values and times
//!
//! - A value must be a finite JSON number whose magnitude, after the SenML base value and unit conversion, is at
//!   most [`MAX_ABS_VALUE`] (10⁹): beyond that no sensor reports a measurement, sums over windows would overflow,
//!   and the message is a dead letter (`non_finite` or `out_of_bounds`). Sentinel values such as `-9999` are kept
//!   and flagged by quality control.
//! - A time must lie between [`EARLIEST`] (1900-01-01T00:00:00Z) and [`MAX_AHEAD`] (one day) after reception;
//!   outside that span it is a dead letter of kind `time_out_of_range`. Between five minutes and one day ahead a
//!   reading is stored and flagged `future` (see [`crate::qc`]), and never becomes the station's latest.

use std::fmt;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::Quantity;

/// The largest magnitude a value may have (in the unit of its quantity, after conversion).
pub const MAX_ABS_VALUE: f64 = 1e9;

/// How far after reception an observation time may lie; later ones are dead letters (`time_out_of_range`).
pub const MAX_AHEAD: Duration = Duration::days(1);

/// The earliest observation time accepted: 1900-01-01T00:00:00Z, before any instrumental series Vedetta replays.
pub const EARLIEST: DateTime<Utc> = DateTime::from_timestamp_nanos(-2_208_988_800_000_000_000);

/// Who a message speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A station code from the topic.
    Code(String),
    /// A SensorThings Datastream id (see [`crate::sta::datastream_id`]).
    Datastream(i64),
}

/// One value as decoded, before the station is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawReading {
    pub quantity: Quantity,
    pub observed_at: DateTime<Utc>,
    pub value: f64,
}

/// Why something was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectKind {
    /// The topic is not one Vedetta reads (wrong shape, or no station code where one belongs).
    BadTopic,
    /// The payload is not JSON, or not of the expected shape (an object where an array belongs, a field of the
    /// wrong JSON type).
    BadJson,
    /// A required field is missing.
    MissingField,
    /// A time that cannot be read (not RFC 3339 with an offset, not a number in SenML).
    BadTime,
    /// A readable time outside the accepted span: before 1900, or more than a day after reception.
    TimeOutOfRange,
    /// A value that is not a number (a string, `null`, a SenML string or boolean value).
    BadValue,
    /// A number that is not finite: too large for a double (`1e999`), or a SenML base plus value that overflows.
    NonFinite,
    /// A finite value beyond ±10⁹, which no sensor measures.
    OutOfBounds,
    /// A unit that does not fit the quantity.
    WrongUnit,
    /// The payload exceeds the size cap.
    TooLarge,
    /// No station has this code (or no Datastream this id).
    UnknownStation,
    /// A quantity Vedetta does not read (neither rain nor level).
    UnknownQuantity,
    /// The station does not measure this quantity.
    WrongQuantity,
}

impl RejectKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [RejectKind; 13] = [
        RejectKind::BadTopic,
        RejectKind::BadJson,
        RejectKind::MissingField,
        RejectKind::BadTime,
        RejectKind::TimeOutOfRange,
        RejectKind::BadValue,
        RejectKind::NonFinite,
        RejectKind::OutOfBounds,
        RejectKind::WrongUnit,
        RejectKind::TooLarge,
        RejectKind::UnknownStation,
        RejectKind::UnknownQuantity,
        RejectKind::WrongQuantity,
    ];

    /// The name stored in `sensors.dead_letter.kind` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::BadTopic => "bad_topic",
            RejectKind::BadJson => "bad_json",
            RejectKind::MissingField => "missing_field",
            RejectKind::BadTime => "bad_time",
            RejectKind::TimeOutOfRange => "time_out_of_range",
            RejectKind::BadValue => "bad_value",
            RejectKind::NonFinite => "non_finite",
            RejectKind::OutOfBounds => "out_of_bounds",
            RejectKind::WrongUnit => "wrong_unit",
            RejectKind::TooLarge => "too_large",
            RejectKind::UnknownStation => "unknown_station",
            RejectKind::UnknownQuantity => "unknown_quantity",
            RejectKind::WrongQuantity => "wrong_quantity",
        }
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that goes to the dead-letter table instead of the readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub kind: RejectKind,
    pub reason: String,
    /// The offending element of an array or pack, as JSON; `None` means the whole payload.
    pub fragment: Option<String>,
}

impl Reject {
    /// A rejection of the whole message.
    pub fn new(kind: RejectKind, reason: impl Into<String>) -> Reject {
        Reject { kind, reason: reason.into(), fragment: None }
    }

    fn element(kind: RejectKind, index: usize, reason: impl fmt::Display, element: &Value) -> Reject {
        Reject { kind, reason: format!("element {index}: {reason}"), fragment: Some(element.to_string()) }
    }
}

/// A decoded message: its readings and the elements that were rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub source: Source,
    pub readings: Vec<RawReading>,
    pub rejects: Vec<Reject>,
}

/// Why one element was refused.
type Refusal = (RejectKind, String);

/// Decodes one message. `received_at` resolves SenML relative times and bounds every time (see the module docs).
pub fn decode(topic: &str, payload: &[u8], received_at: DateTime<Utc>) -> Result<Decoded, Reject> {
    let segments: Vec<&str> = topic.split('/').collect();
    match segments.as_slice() {
        ["vedetta", "v1", "sensors", code, quantity] => {
            let source = Source::Code(station_code(code)?);
            let quantity: Quantity = quantity.parse().map_err(|_| {
                Reject::new(
                    RejectKind::UnknownQuantity,
                    format!("quantity `{}` of the topic is neither rain nor level", shorten(quantity)),
                )
            })?;
            let json = parse_json(payload)?;
            decode_plain(source, quantity, &json, received_at)
        }
        ["vedetta", "v1", "senml", code] => {
            let code = station_code(code)?;
            let json = parse_json(payload)?;
            decode_senml(&code, &json, received_at)
        }
        ["v1.1", datastream, "Observations"] => {
            let id = datastream
                .strip_prefix("Datastreams(")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    Reject::new(
                        RejectKind::BadTopic,
                        format!("`{}` is not Datastreams(<id>)", shorten(datastream)),
                    )
                })?;
            let quantity = crate::sta::datastream_quantity(id).ok_or_else(|| {
                Reject::new(RejectKind::UnknownStation, format!("no Datastream has the id {id}"))
            })?;
            let json = parse_json(payload)?;
            decode_observation(Source::Datastream(id), quantity, &json, received_at)
        }
        _ => Err(Reject::new(
            RejectKind::BadTopic,
            format!(
                "topic `{}` is not vedetta/v1/sensors/{{station}}/{{rain|level}}, vedetta/v1/senml/{{station}} or v1.1/Datastreams({{id}})/Observations",
                shorten(topic)
            ),
        )),
    }
}

/// At most 100 characters of something a reason quotes.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn station_code(code: &str) -> Result<String, Reject> {
    if !crate::station::is_code_like(code) {
        return Err(Reject::new(
            RejectKind::BadTopic,
            format!("`{}` is not a station code (1 to 64 letters, digits, '-', '_' or '.')", shorten(code)),
        ));
    }
    Ok(code.to_string())
}

fn parse_json(payload: &[u8]) -> Result<Value, Reject> {
    serde_json::from_slice(payload).map_err(|e| {
        // serde_json refuses numbers beyond the range of a double (`1e999`): that is a non-finite value.
        if e.to_string().starts_with("number out of range") {
            Reject::new(RejectKind::NonFinite, format!("a number is not finite (beyond ±1.8e308): {e}"))
        } else {
            Reject::new(RejectKind::BadJson, format!("not JSON: {e}"))
        }
    })
}

fn decode_plain(
    source: Source,
    quantity: Quantity,
    json: &Value,
    received_at: DateTime<Utc>,
) -> Result<Decoded, Reject> {
    let one = |v: &Value| -> Result<RawReading, Refusal> {
        let obj =
            v.as_object().ok_or((RejectKind::BadJson, "expected an object {\"t\":…,\"v\":…}".to_string()))?;
        let t = obj.get("t").ok_or((RejectKind::MissingField, "missing field `t`".to_string()))?;
        let observed_at = parse_time(t).map_err(|e| (RejectKind::BadTime, format!("t: {e}")))?;
        let observed_at = within_span(observed_at, received_at).map_err(|e| (e.0, format!("t: {}", e.1)))?;
        let v = obj.get("v").ok_or((RejectKind::MissingField, "missing field `v`".to_string()))?;
        let value = number(v).map_err(|e| (e.0, format!("v: {}", e.1)))?;
        let value = convert_unit(quantity, obj.get("u"), value).map_err(|e| (RejectKind::WrongUnit, e))?;
        let value = bounded(value).map_err(|e| (e.0, format!("v: {}", e.1)))?;
        Ok(RawReading { quantity, observed_at, value })
    };
    collect(source, json, one)
}

fn decode_observation(
    source: Source,
    quantity: Quantity,
    json: &Value,
    received_at: DateTime<Utc>,
) -> Result<Decoded, Reject> {
    let one = |v: &Value| -> Result<RawReading, Refusal> {
        let obj = v.as_object().ok_or((RejectKind::BadJson, "expected an Observation object".to_string()))?;
        let t = obj
            .get("phenomenonTime")
            .or_else(|| obj.get("resultTime"))
            .ok_or((RejectKind::MissingField, "missing field `phenomenonTime`".to_string()))?;
        // An interval `start/end` is stamped at its end, as a gauge reports the rain of the period that just ended.
        let t = match t.as_str() {
            Some(s) if s.contains('/') => Value::String(s.rsplit('/').next().unwrap_or(s).to_string()),
            _ => t.clone(),
        };
        let observed_at =
            parse_time(&t).map_err(|e| (RejectKind::BadTime, format!("phenomenonTime: {e}")))?;
        let observed_at =
            within_span(observed_at, received_at).map_err(|e| (e.0, format!("phenomenonTime: {}", e.1)))?;
        let v = obj.get("result").ok_or((RejectKind::MissingField, "missing field `result`".to_string()))?;
        let value = number(v).and_then(bounded).map_err(|e| (e.0, format!("result: {}", e.1)))?;
        Ok(RawReading { quantity, observed_at, value })
    };
    collect(source, json, one)
}

/// Applies `one` to an object or to each element of an array.
fn collect(
    source: Source,
    json: &Value,
    one: impl Fn(&Value) -> Result<RawReading, Refusal>,
) -> Result<Decoded, Reject> {
    match json {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(Reject::new(RejectKind::BadJson, "an empty array has no reading"));
            }
            let mut decoded =
                Decoded { source, readings: Vec::with_capacity(items.len()), rejects: Vec::new() };
            for (i, item) in items.iter().enumerate() {
                match one(item) {
                    Ok(r) => decoded.readings.push(r),
                    Err((kind, reason)) => decoded.rejects.push(Reject::element(kind, i, reason, item)),
                }
            }
            Ok(decoded)
        }
        other => match one(other) {
            Ok(r) => Ok(Decoded { source, readings: vec![r], rejects: Vec::new() }),
            Err((kind, reason)) => Err(Reject::new(kind, reason)),
        },
    }
}

/// SenML times below 2^28 are relative to now (RFC 8428 §4.5.3).
const SENML_RELATIVE_LIMIT: f64 = 268_435_456.0;

/// The base fields of a SenML pack, which apply to their record and the following ones.
#[derive(Default)]
struct Base {
    name: String,
    time: f64,
    unit: Option<String>,
    value: f64,
}

impl Base {
    /// Takes the base fields of `obj`; a base field of the wrong JSON type refuses the record.
    fn update(&mut self, obj: &serde_json::Map<String, Value>) -> Result<(), Refusal> {
        let wrong =
            |field: &str, v: &Value, what: &str| (RejectKind::BadJson, format!("{field}: {v} is not {what}"));
        if let Some(v) = obj.get("bn") {
            self.name = v.as_str().ok_or_else(|| wrong("bn", v, "a string"))?.to_string();
        }
        if let Some(v) = obj.get("bt") {
            self.time = finite(v).map_err(|e| (e.0, format!("bt: {}", e.1)))?;
        }
        if let Some(v) = obj.get("bu") {
            self.unit = Some(v.as_str().ok_or_else(|| wrong("bu", v, "a unit string"))?.to_string());
        }
        if let Some(v) = obj.get("bv") {
            self.value = finite(v).map_err(|e| (e.0, format!("bv: {}", e.1)))?;
        }
        Ok(())
    }
}

fn decode_senml(code: &str, json: &Value, received_at: DateTime<Utc>) -> Result<Decoded, Reject> {
    let records =
        json.as_array().ok_or_else(|| Reject::new(RejectKind::BadJson, "a SenML pack is a JSON array"))?;
    if records.is_empty() {
        return Err(Reject::new(RejectKind::BadJson, "an empty SenML pack has no record"));
    }
    let mut decoded = Decoded {
        source: Source::Code(code.to_string()),
        readings: Vec::with_capacity(records.len()),
        rejects: Vec::new(),
    };
    let mut base = Base::default();
    for (i, record) in records.iter().enumerate() {
        let Some(obj) = record.as_object() else {
            decoded.rejects.push(Reject::element(
                RejectKind::BadJson,
                i,
                "a SenML record is an object",
                record,
            ));
            continue;
        };
        let result = base.update(obj).and_then(|()| senml_record(code, &base, obj, received_at));
        match result {
            Ok(r) => decoded.readings.push(r),
            Err((kind, reason)) => decoded.rejects.push(Reject::element(kind, i, reason, record)),
        }
    }
    if decoded.readings.is_empty() && decoded.rejects.len() == 1 {
        let only = decoded.rejects.remove(0);
        return Err(Reject { fragment: None, ..only });
    }
    Ok(decoded)
}

/// One SenML record, with the base fields in force.
fn senml_record(
    code: &str,
    base: &Base,
    obj: &serde_json::Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Result<RawReading, Refusal> {
    let n = match obj.get("n") {
        None => "",
        Some(v) => v.as_str().ok_or_else(|| (RejectKind::BadJson, format!("n: {v} is not a string")))?,
    };
    let quantity = senml_quantity(code, &base.name, n)?;
    let v = obj.get("v").ok_or_else(|| {
        let other = ["vs", "vb", "vd", "s"].into_iter().find(|k| obj.contains_key(*k));
        match other {
            Some(k) => (RejectKind::BadValue, format!("only numeric values (v) are read, not {k}")),
            None => (RejectKind::MissingField, "missing field `v`".to_string()),
        }
    })?;
    let v = number(v).map_err(|e| (e.0, format!("v: {}", e.1)))?;
    let value = base.value + v;
    if !value.is_finite() {
        return Err((RejectKind::NonFinite, format!("bv + v = {} + {v} is not a finite number", base.value)));
    }
    let t = match obj.get("t") {
        None => 0.0,
        Some(t) => finite(t).map_err(|e| match e.0 {
            RejectKind::BadValue => (RejectKind::BadTime, format!("t: {}", e.1)),
            kind => (kind, format!("t: {}", e.1)),
        })?,
    };
    let time = base.time + t;
    if !time.is_finite() {
        return Err((RejectKind::NonFinite, format!("bt + t = {} + {t} is not a finite number", base.time)));
    }
    let observed_at = if time.abs() < SENML_RELATIVE_LIMIT {
        // |time| < 2^28 s: the offset fits a Duration and the sum stays far inside chrono's range.
        received_at
            .checked_add_signed(Duration::milliseconds((time * 1000.0).round() as i64))
            .ok_or((RejectKind::BadTime, format!("t: {time} s from reception is not a time")))?
    } else {
        let millis = time * 1000.0;
        // Beyond ±2^62 ms (146 million years) there is no date; `as` would saturate.
        if millis.abs() >= 4.6e18 {
            return Err((
                RejectKind::TimeOutOfRange,
                format!(
                    "t: {time} s since 1970 is not a time Vedetta accepts (from 1900 to a day after reception)"
                ),
            ));
        }
        Utc.timestamp_millis_opt(millis.round() as i64).single().ok_or((
            RejectKind::TimeOutOfRange,
            format!(
                "t: {time} s since 1970 is not a time Vedetta accepts (from 1900 to a day after reception)"
            ),
        ))?
    };
    let observed_at = within_span(observed_at, received_at).map_err(|e| (e.0, format!("t: {}", e.1)))?;
    let unit = match obj.get("u") {
        Some(u) => Some(u.clone()),
        None => base.unit.clone().map(Value::String),
    };
    let value = convert_unit(quantity, unit.as_ref(), value).map_err(|e| (RejectKind::WrongUnit, e))?;
    let value = bounded(value).map_err(|e| (e.0, format!("v: {}", e.1)))?;
    Ok(RawReading { quantity, observed_at, value })
}

/// The quantity a SenML record speaks of. Devices name it in three ways:
/// - `n` is the quantity itself, and `bn` names the device (`"bn":"GE-BISAG-01","n":"level"`, or
///   `"bn":"urn:dev:vedetta:GE-BISAG-01:","n":"level"`);
/// - the resolved name `bn + n` ends with `:quantity` or `/quantity` (`"n":"urn:dev:vedetta:GE-BISAG-01:level"`);
/// - the resolved name is the station code followed by the quantity (`"bn":"GE-BISAG-01","n":"level"` resolves to
///   `GE-BISAG-01level`, which the first rule already reads).
fn senml_quantity(code: &str, bn: &str, n: &str) -> Result<Quantity, Refusal> {
    let name = format!("{bn}{n}");
    if name.is_empty() {
        return Err((RejectKind::MissingField, "no name (bn or n) says the quantity".to_string()));
    }
    let own = n.trim_start_matches([':', '/']);
    if let Ok(q) = own.parse::<Quantity>() {
        return Ok(q);
    }
    let last = name.rsplit([':', '/']).next().unwrap_or("");
    if let Ok(q) = last.parse::<Quantity>() {
        return Ok(q);
    }
    if let Some(q) = name.strip_prefix(code).and_then(|rest| rest.parse::<Quantity>().ok()) {
        return Ok(q);
    }
    Err((
        RejectKind::UnknownQuantity,
        format!(
            "name `{}` names no quantity Vedetta reads: its last part `{}` is neither rain nor level",
            shorten(&name),
            shorten(if last.is_empty() { &name } else { last })
        ),
    ))
}

/// A JSON number, or why the value is not one.
fn number(v: &Value) -> Result<f64, Refusal> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| (RejectKind::NonFinite, format!("{n} is not a finite number"))),
        Value::Null => Err((RejectKind::BadValue, "null is not a number".into())),
        Value::String(s) => {
            Err((RejectKind::BadValue, format!("the string \"{}\" is not a number", shorten(s))))
        }
        other => Err((RejectKind::BadValue, format!("{} is not a number", shorten(&other.to_string())))),
    }
}

/// A finite number (base fields and SenML times).
fn finite(v: &Value) -> Result<f64, Refusal> {
    number(v)
}

/// A value within ±[`MAX_ABS_VALUE`].
fn bounded(v: f64) -> Result<f64, Refusal> {
    if !v.is_finite() {
        return Err((RejectKind::NonFinite, format!("{v} is not a finite number")));
    }
    if v.abs() > MAX_ABS_VALUE {
        return Err((RejectKind::OutOfBounds, format!("{v} lies beyond ±1e9, which no sensor measures")));
    }
    Ok(v)
}

/// A time within [`EARLIEST`] and [`MAX_AHEAD`] after reception.
fn within_span(t: DateTime<Utc>, received_at: DateTime<Utc>) -> Result<DateTime<Utc>, Refusal> {
    if t < EARLIEST {
        return Err((RejectKind::TimeOutOfRange, format!("{} is before 1900", t.to_rfc3339())));
    }
    if t > received_at + MAX_AHEAD {
        return Err((
            RejectKind::TimeOutOfRange,
            format!(
                "{} is more than a day after reception ({}): is the device's clock set?",
                t.to_rfc3339(),
                received_at.to_rfc3339()
            ),
        ));
    }
    Ok(t)
}

fn parse_time(t: &Value) -> Result<DateTime<Utc>, String> {
    let s =
        t.as_str().ok_or_else(|| format!("{} is not an RFC 3339 time string", shorten(&t.to_string())))?;
    DateTime::parse_from_rfc3339(s)
        .map(|dt| dt.with_timezone(&Utc))
        .map_err(|e| format!("`{}` is not an RFC 3339 time with a UTC offset ({e})", shorten(s)))
}

fn convert_unit(quantity: Quantity, unit: Option<&Value>, value: f64) -> Result<f64, String> {
    let Some(unit) = unit else { return Ok(value) };
    let unit = unit.as_str().ok_or_else(|| format!("unit {} is not a string", shorten(&unit.to_string())))?;
    match (quantity, unit) {
        (Quantity::Rain, "mm") | (Quantity::Level, "m") => Ok(value),
        (Quantity::Level, "cm") => Ok(value / 100.0),
        (Quantity::Level, "mm") => Ok(value / 1000.0),
        (q, u) => Err(format!(
            "unit `{}` does not fit {q} (expected {})",
            shorten(u),
            if q == Quantity::Rain { "mm" } else { "m, cm or mm" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T09:10:00Z".parse().unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_plain_reading_decodes_with_its_offset() {
        let d = decode(
            "vedetta/v1/sensors/GE-BISAG-01/level",
            br#"{"t":"2026-11-22T10:05:00+01:00","v":1.2}"#,
            now(),
        )
        .unwrap();
        assert_eq!(d.source, Source::Code("GE-BISAG-01".into()));
        assert_eq!(
            d.readings,
            vec![RawReading {
                quantity: Quantity::Level,
                observed_at: t("2026-11-22T09:05:00Z"),
                value: 1.2
            }]
        );
    }

    #[test]
    fn a_flushed_buffer_keeps_good_elements_and_rejects_bad_ones() {
        let payload = br#"[{"t":"2026-11-22T10:00:00Z","v":0.2},{"t":"yesterday","v":1},{"t":"2026-11-22T10:10:00Z"},{"t":"2026-11-22T10:15:00Z","v":"3"},{"t":"2026-11-22T10:20:00Z","v":0.4,"u":"mm"}]"#;
        let d = decode("vedetta/v1/sensors/GE-PLUV-01/rain", payload, now()).unwrap();
        assert_eq!(d.readings.len(), 2);
        let kinds: Vec<_> = d.rejects.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [RejectKind::BadTime, RejectKind::MissingField, RejectKind::BadValue]);
        assert!(d.rejects[0].reason.starts_with("element 1: t:"), "{}", d.rejects[0].reason);
        assert_eq!(d.rejects[1].fragment.as_deref(), Some(r#"{"t":"2026-11-22T10:10:00Z"}"#));
    }

    #[test]
    fn every_kind_of_bad_message_is_explained() {
        let cases: [(&str, &[u8], RejectKind, &str); 19] = [
            ("vedetta/v1/sensors/A/temperature", b"{}", RejectKind::UnknownQuantity, "temperature"),
            ("vedetta/v2/whatever", b"{}", RejectKind::BadTopic, "is not vedetta/v1"),
            ("vedetta/v1/sensors/A\0B/rain", b"{}", RejectKind::BadTopic, "is not a station code"),
            ("vedetta/v1/senml/", b"[]", RejectKind::BadTopic, "is not a station code"),
            ("vedetta/v1/sensors/A/rain", b"{not json", RejectKind::BadJson, "not JSON"),
            ("vedetta/v1/sensors/A/rain", b"\0\0", RejectKind::BadJson, "not JSON"),
            ("vedetta/v1/sensors/A/rain", br#"{"v":1}"#, RejectKind::MissingField, "`t`"),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00","v":1}"#,
                RejectKind::BadTime,
                "UTC offset",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":1e999}"#,
                RejectKind::NonFinite,
                "not finite",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":null}"#,
                RejectKind::BadValue,
                "null",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":"3"}"#,
                RejectKind::BadValue,
                "is not a number",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":2e9}"#,
                RejectKind::OutOfBounds,
                "beyond ±1e9",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":1,"u":"m"}"#,
                RejectKind::WrongUnit,
                "does not fit rain",
            ),
            (
                "vedetta/v1/sensors/A/level",
                br#"{"t":"9999-12-31T00:00:00Z","v":1}"#,
                RejectKind::TimeOutOfRange,
                "more than a day after reception",
            ),
            (
                "vedetta/v1/sensors/A/level",
                br#"{"t":"1899-12-31T23:59:59Z","v":1}"#,
                RejectKind::TimeOutOfRange,
                "before 1900",
            ),
            (
                "vedetta/v1/sensors/A/level",
                br#"{"t":"2026-11-22T10:00:00Z","v":1,"u":"km"}"#,
                RejectKind::WrongUnit,
                "m, cm or mm",
            ),
            ("v1.1/Datastreams(abc)/Observations", b"{}", RejectKind::BadTopic, "Datastreams(<id>)"),
            ("v1.1/Datastreams(-12)/Observations", b"{}", RejectKind::UnknownStation, "no Datastream"),
            (
                "v1.1/Datastreams(12)/Observations",
                br#"{"phenomenonTime":"2026-11-22T10:00:00Z","result":true}"#,
                RejectKind::BadValue,
                "result: true is not a number",
            ),
        ];
        for (topic, payload, kind, needle) in cases {
            let r = decode(topic, payload, now()).unwrap_err();
            assert_eq!(r.kind, kind, "{topic} {}", String::from_utf8_lossy(payload));
            assert!(r.reason.contains(needle), "{}: {}", r.reason, needle);
        }
    }

    #[test]
    fn times_are_accepted_from_1900_to_a_day_after_reception() {
        let at = |t: &str| {
            decode("vedetta/v1/sensors/A/level", format!(r#"{{"t":"{t}","v":1}}"#).as_bytes(), now())
                .map(|d| d.readings[0].observed_at)
        };
        assert_eq!(at("1900-01-01T00:00:00Z").unwrap(), EARLIEST);
        assert_eq!(at("2026-11-23T09:10:00Z").unwrap(), now() + MAX_AHEAD, "exactly a day ahead");
        assert_eq!(at("2026-11-23T09:10:01Z").unwrap_err().kind, RejectKind::TimeOutOfRange);
        assert_eq!(at("1899-12-31T23:59:59Z").unwrap_err().kind, RejectKind::TimeOutOfRange);
        // The same bounds for SensorThings and SenML.
        let r = decode(
            "v1.1/Datastreams(12)/Observations",
            br#"{"phenomenonTime":"9999-12-31T00:00:00Z","result":1}"#,
            now(),
        )
        .unwrap_err();
        assert_eq!(r.kind, RejectKind::TimeOutOfRange);
        let r =
            decode("vedetta/v1/senml/A", br#"[{"n":"level","t":253402214400,"v":1}]"#, now()).unwrap_err();
        assert_eq!(r.kind, RejectKind::TimeOutOfRange, "{}", r.reason);
    }

    #[test]
    fn senml_overflows_are_non_finite_dead_letters() {
        let cases: [(&[u8], RejectKind, &str); 6] = [
            (br#"[{"bn":"A:","bv":1.7e308,"n":"level","v":1.7e308}]"#, RejectKind::NonFinite, "bv + v"),
            (br#"[{"bn":"A:","bv":-1.7e308,"n":"level","v":-1.7e308}]"#, RejectKind::NonFinite, "bv + v"),
            (br#"[{"bt":1.7e308,"n":"level","t":1.7e308,"v":1}]"#, RejectKind::NonFinite, "bt + t"),
            (br#"[{"n":"level","t":1e300,"v":1}]"#, RejectKind::TimeOutOfRange, "not a time Vedetta accepts"),
            (br#"[{"n":"level","t":-1e15,"v":1}]"#, RejectKind::TimeOutOfRange, "not a time Vedetta accepts"),
            (br#"[{"bv":6e8,"n":"level","v":6e8,"u":"m"}]"#, RejectKind::OutOfBounds, "beyond ±1e9"),
        ];
        for (pack, kind, needle) in cases {
            let r = decode("vedetta/v1/senml/A", pack, now()).unwrap_err();
            assert_eq!(r.kind, kind, "{}: {}", String::from_utf8_lossy(pack), r.reason);
            assert!(r.reason.contains(needle), "{}: {needle}", r.reason);
        }
        // A large level in millimetres is converted before the bound applies.
        let d = decode("vedetta/v1/senml/A", br#"[{"bv":5e8,"n":"level","v":5e8,"u":"mm"}]"#, now()).unwrap();
        assert_eq!(d.readings[0].value, 1e6);
    }

    #[test]
    fn senml_base_fields_of_the_wrong_type_refuse_the_record() {
        let r =
            decode("vedetta/v1/senml/A", br#"[{"bt":"yesterday","n":"level","v":1}]"#, now()).unwrap_err();
        assert_eq!(
            (r.kind, r.reason.as_str()),
            (RejectKind::BadValue, "element 0: bt: the string \"yesterday\" is not a number")
        );
        let r = decode("vedetta/v1/senml/A", br#"[{"bn":7,"n":"level","v":1}]"#, now()).unwrap_err();
        assert_eq!(r.kind, RejectKind::BadJson);
        let r = decode("vedetta/v1/senml/A", br#"[{"n":"level","t":"now","v":1}]"#, now()).unwrap_err();
        assert_eq!(r.kind, RejectKind::BadTime, "{}", r.reason);
    }

    #[test]
    fn levels_in_centimetres_are_converted() {
        let d =
            decode("vedetta/v1/sensors/A/level", br#"{"t":"2026-11-22T10:00:00Z","v":250,"u":"cm"}"#, now())
                .unwrap();
        assert_eq!(d.readings[0].value, 2.5);
    }

    #[test]
    fn senml_packs_resolve_base_name_time_and_unit() {
        let pack = br#"[
            {"bn":"urn:dev:vedetta:GE-BISAG-01:","bt":1.7638032e9,"bu":"m","n":"level","v":2.1},
            {"n":"level","t":300,"v":2.3},
            {"n":"level","t":600,"v":230,"u":"cm"},
            {"n":"temperature","t":600,"v":12},
            {"n":"level","t":900,"vs":"high"}
        ]"#;
        let d = decode("vedetta/v1/senml/GE-BISAG-01", pack, now()).unwrap();
        let values: Vec<f64> = d.readings.iter().map(|r| r.value).collect();
        assert_eq!(values, [2.1, 2.3, 2.3]);
        assert_eq!(d.readings[0].observed_at, Utc.timestamp_opt(1_763_803_200, 0).unwrap());
        assert_eq!(d.readings[1].observed_at, Utc.timestamp_opt(1_763_803_500, 0).unwrap());
        assert_eq!(d.rejects.len(), 2);
        assert_eq!(d.rejects[0].kind, RejectKind::UnknownQuantity);
        assert_eq!(
            d.rejects[0].reason,
            "element 3: name `urn:dev:vedetta:GE-BISAG-01:temperature` names no quantity Vedetta reads: its last part `temperature` is neither rain nor level"
        );
        assert_eq!(d.rejects[1].kind, RejectKind::BadValue);
        assert!(d.rejects[1].reason.contains("only numeric values"));
    }

    #[test]
    fn a_base_name_that_is_the_station_code_is_understood() {
        // Devices commonly name themselves in `bn` and the quantity in `n`, without a separator.
        for pack in [
            r#"[{"bn":"GE-BISAG-01","n":"level","t":-60,"v":2.1}]"#,
            r#"[{"bn":"GE-BISAG-01:","n":"level","t":-60,"v":2.1}]"#,
            r#"[{"bn":"urn:dev:vedetta:GE-BISAG-01","n":":level","t":-60,"v":2.1}]"#,
            r#"[{"n":"GE-BISAG-01level","t":-60,"v":2.1}]"#,
            r#"[{"n":"urn:dev:vedetta:GE-BISAG-01/level","t":-60,"v":2.1}]"#,
        ] {
            let d = decode("vedetta/v1/senml/GE-BISAG-01", pack.as_bytes(), now()).unwrap();
            assert_eq!(d.readings.len(), 1, "{pack}: {:?}", d.rejects);
            assert_eq!(d.readings[0].quantity, Quantity::Level, "{pack}");
        }
        let d =
            decode("vedetta/v1/senml/BARS-R1", br#"[{"bn":"BARS-R1","n":"rain","v":0.2}]"#, now()).unwrap();
        assert_eq!(d.readings[0].quantity, Quantity::Rain);
    }

    #[test]
    fn senml_reasons_say_what_is_really_wrong() {
        let r = decode("vedetta/v1/senml/BARS-R1", br#"[{"bn":"BARS-R1","n":"humidity","v":80}]"#, now())
            .unwrap_err();
        assert_eq!(r.kind, RejectKind::UnknownQuantity);
        assert_eq!(
            r.reason,
            "element 0: name `BARS-R1humidity` names no quantity Vedetta reads: its last part `BARS-R1humidity` is neither rain nor level"
        );
        let r = decode("vedetta/v1/senml/BARS-R1", br#"[{"v":1}]"#, now()).unwrap_err();
        assert_eq!(
            (r.kind, r.reason.as_str()),
            (RejectKind::MissingField, "element 0: no name (bn or n) says the quantity")
        );
        let r = decode("vedetta/v1/senml/BARS-R1", br#"[{"n":"rain"}]"#, now()).unwrap_err();
        assert_eq!((r.kind, r.reason.as_str()), (RejectKind::MissingField, "element 0: missing field `v`"));
    }

    #[test]
    fn senml_relative_times_count_from_reception() {
        let d = decode("vedetta/v1/senml/X", br#"[{"n":"rain","t":-60,"v":0.2}]"#, now()).unwrap();
        assert_eq!(d.readings[0].observed_at, now() - chrono::Duration::seconds(60));
    }

    #[test]
    fn sensorthings_observations_name_their_datastream() {
        let ds = crate::sta::datastream_id(7, Quantity::Level);
        let topic = format!("v1.1/Datastreams({ds})/Observations");
        let d = decode(&topic, br#"{"phenomenonTime":"2026-11-22T10:00:00Z","result":3.1}"#, now()).unwrap();
        assert_eq!(d.source, Source::Datastream(ds));
        assert_eq!((d.readings[0].quantity, d.readings[0].value), (Quantity::Level, 3.1));
    }
}
