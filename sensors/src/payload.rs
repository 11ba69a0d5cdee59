//! Decoding MQTT messages into readings.
//!
//! | topic | payload |
//! |---|---|
//! | `vedetta/v1/sensors/{station_code}/{quantity}` | `{"t":"2026-11-22T10:05:00+01:00","v":1.2}` or an array of such objects; optional `"u"` (`mm` for rain, `m` or `cm` for level) |
//! | `vedetta/v1/senml/{station_code}` | a SenML JSON pack (RFC 8428): `bn`, `bt`, `bu`, `bv`, `n`, `t`, `u`, `v`; the quantity is the last segment of the resolved name (`…:rain`, `…/level`) |
//! | `v1.1/Datastreams({id})/Observations` | a SensorThings Observation: `{"phenomenonTime":"…","result":1.2}` |
//!
//! A message whose every part is wrong is rejected whole; in an array or pack, good elements are kept and each bad
//! one is rejected with its index, so that nothing is lost silently.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::Quantity;

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
pub enum RejectKind {
    /// The topic is not one Vedetta reads.
    BadTopic,
    /// The payload is not JSON, or not of the expected shape.
    BadJson,
    /// A required field is missing.
    MissingField,
    /// A time that cannot be read.
    BadTime,
    /// A value that is not a finite number.
    NonFinite,
    /// A unit that does not fit the quantity.
    WrongUnit,
    /// The payload exceeds the size cap.
    TooLarge,
    /// No station has this code (or Datastream id).
    UnknownStation,
    /// The station does not measure this quantity.
    WrongQuantity,
}

impl RejectKind {
    /// The name stored in `sensors.dead_letter.kind` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::BadTopic => "bad_topic",
            RejectKind::BadJson => "bad_json",
            RejectKind::MissingField => "missing_field",
            RejectKind::BadTime => "bad_time",
            RejectKind::NonFinite => "non_finite",
            RejectKind::WrongUnit => "wrong_unit",
            RejectKind::TooLarge => "too_large",
            RejectKind::UnknownStation => "unknown_station",
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
    fn new(kind: RejectKind, reason: impl Into<String>) -> Reject {
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

/// Decodes one message. `received_at` resolves SenML relative times.
pub fn decode(topic: &str, payload: &[u8], received_at: DateTime<Utc>) -> Result<Decoded, Reject> {
    let segments: Vec<&str> = topic.split('/').collect();
    match segments.as_slice() {
        ["vedetta", "v1", "sensors", code, quantity] => {
            let quantity: Quantity = quantity
                .parse()
                .map_err(|e: crate::Error| Reject::new(RejectKind::BadTopic, e.to_string()))?;
            let source = Source::Code(station_code(code)?);
            let json = parse_json(payload)?;
            decode_plain(source, quantity, &json)
        }
        ["vedetta", "v1", "senml", code] => {
            let source = Source::Code(station_code(code)?);
            let json = parse_json(payload)?;
            decode_senml(source, &json, received_at)
        }
        ["v1.1", datastream, "Observations"] => {
            let id = datastream
                .strip_prefix("Datastreams(")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    Reject::new(RejectKind::BadTopic, format!("`{datastream}` is not Datastreams(<id>)"))
                })?;
            let quantity = crate::sta::datastream_quantity(id).ok_or_else(|| {
                Reject::new(RejectKind::UnknownStation, format!("no Datastream has the id {id}"))
            })?;
            let json = parse_json(payload)?;
            decode_observation(Source::Datastream(id), quantity, &json)
        }
        _ => Err(Reject::new(
            RejectKind::BadTopic,
            format!(
                "topic `{topic}` is not vedetta/v1/sensors/{{station}}/{{rain|level}}, vedetta/v1/senml/{{station}} or v1.1/Datastreams({{id}})/Observations"
            ),
        )),
    }
}

fn station_code(code: &str) -> Result<String, Reject> {
    if code.is_empty() || code.contains(['+', '#']) {
        return Err(Reject::new(RejectKind::BadTopic, format!("`{code}` is not a station code")));
    }
    Ok(code.to_string())
}

fn parse_json(payload: &[u8]) -> Result<Value, Reject> {
    serde_json::from_slice(payload).map_err(|e| Reject::new(RejectKind::BadJson, format!("not JSON: {e}")))
}

fn decode_plain(source: Source, quantity: Quantity, json: &Value) -> Result<Decoded, Reject> {
    let one = |v: &Value| -> Result<RawReading, (RejectKind, String)> {
        let obj =
            v.as_object().ok_or((RejectKind::BadJson, "expected an object {\"t\":…,\"v\":…}".to_string()))?;
        let t = obj.get("t").ok_or((RejectKind::MissingField, "missing field `t`".to_string()))?;
        let observed_at = parse_time(t).map_err(|e| (RejectKind::BadTime, format!("t: {e}")))?;
        let v = obj.get("v").ok_or((RejectKind::MissingField, "missing field `v`".to_string()))?;
        let value = finite(v).map_err(|e| (RejectKind::NonFinite, format!("v: {e}")))?;
        let value = convert_unit(quantity, obj.get("u"), value).map_err(|e| (RejectKind::WrongUnit, e))?;
        Ok(RawReading { quantity, observed_at, value })
    };
    collect(source, json, one)
}

fn decode_observation(source: Source, quantity: Quantity, json: &Value) -> Result<Decoded, Reject> {
    let one = |v: &Value| -> Result<RawReading, (RejectKind, String)> {
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
        let v = obj.get("result").ok_or((RejectKind::MissingField, "missing field `result`".to_string()))?;
        let value = finite(v).map_err(|e| (RejectKind::NonFinite, format!("result: {e}")))?;
        Ok(RawReading { quantity, observed_at, value })
    };
    collect(source, json, one)
}

/// Applies `one` to an object or to each element of an array.
fn collect(
    source: Source,
    json: &Value,
    one: impl Fn(&Value) -> Result<RawReading, (RejectKind, String)>,
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

fn decode_senml(source: Source, json: &Value, received_at: DateTime<Utc>) -> Result<Decoded, Reject> {
    let records =
        json.as_array().ok_or_else(|| Reject::new(RejectKind::BadJson, "a SenML pack is a JSON array"))?;
    if records.is_empty() {
        return Err(Reject::new(RejectKind::BadJson, "an empty SenML pack has no record"));
    }
    let mut decoded = Decoded { source, readings: Vec::with_capacity(records.len()), rejects: Vec::new() };
    let (mut bn, mut bt, mut bu, mut bv) = (String::new(), 0.0_f64, None::<String>, 0.0_f64);
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
        // Base fields apply to this record and the following ones.
        if let Some(v) = obj.get("bn").and_then(Value::as_str) {
            bn = v.to_string();
        }
        if let Some(v) = obj.get("bt").and_then(Value::as_f64) {
            bt = v;
        }
        if let Some(v) = obj.get("bu").and_then(Value::as_str) {
            bu = Some(v.to_string());
        }
        if let Some(v) = obj.get("bv").and_then(Value::as_f64) {
            bv = v;
        }
        let result = (|| -> Result<RawReading, (RejectKind, String)> {
            let name = format!("{bn}{}", obj.get("n").and_then(Value::as_str).unwrap_or(""));
            let last = name.rsplit([':', '/']).next().unwrap_or("");
            let quantity: Quantity = last.parse().map_err(|_| {
                (RejectKind::MissingField, format!("name `{name}` does not end with rain or level"))
            })?;
            let v = obj.get("v").ok_or_else(|| {
                let other = ["vs", "vb", "vd", "s"].into_iter().find(|k| obj.contains_key(*k));
                match other {
                    Some(k) => (RejectKind::BadJson, format!("only numeric values (v) are read, not {k}")),
                    None => (RejectKind::MissingField, "missing field `v`".to_string()),
                }
            })?;
            let value = bv + finite(v).map_err(|e| (RejectKind::NonFinite, format!("v: {e}")))?;
            let t = bt
                + obj
                    .get("t")
                    .map(finite)
                    .transpose()
                    .map_err(|e| (RejectKind::BadTime, format!("t: {e}")))?
                    .unwrap_or(0.0);
            let observed_at = if t.abs() < SENML_RELATIVE_LIMIT {
                received_at + chrono::Duration::milliseconds((t * 1000.0).round() as i64)
            } else {
                Utc.timestamp_millis_opt((t * 1000.0).round() as i64)
                    .single()
                    .ok_or((RejectKind::BadTime, format!("t: {t} is not a time")))?
            };
            let unit = obj.get("u").and_then(Value::as_str).map(str::to_string).or_else(|| bu.clone());
            let value = convert_unit(quantity, unit.map(Value::String).as_ref(), value)
                .map_err(|e| (RejectKind::WrongUnit, e))?;
            Ok(RawReading { quantity, observed_at, value })
        })();
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

fn finite(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => {
            n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| format!("{n} is not a finite number"))
        }
        Value::Null => Err("null is not a number".into()),
        other => Err(format!("{other} is not a number")),
    }
}

fn parse_time(t: &Value) -> Result<DateTime<Utc>, String> {
    let s = t.as_str().ok_or_else(|| format!("{t} is not an RFC 3339 time string"))?;
    DateTime::parse_from_rfc3339(s)
        .map(|dt| dt.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time with a UTC offset ({e})"))
}

fn convert_unit(quantity: Quantity, unit: Option<&Value>, value: f64) -> Result<f64, String> {
    let Some(unit) = unit else { return Ok(value) };
    let unit = unit.as_str().ok_or_else(|| format!("unit {unit} is not a string"))?;
    match (quantity, unit) {
        (Quantity::Rain, "mm") | (Quantity::Level, "m") => Ok(value),
        (Quantity::Level, "cm") => Ok(value / 100.0),
        (Quantity::Level, "mm") => Ok(value / 1000.0),
        (q, u) => Err(format!(
            "unit `{u}` does not fit {q} (expected {})",
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
        assert_eq!(kinds, [RejectKind::BadTime, RejectKind::MissingField, RejectKind::NonFinite]);
        assert!(d.rejects[0].reason.starts_with("element 1: t:"), "{}", d.rejects[0].reason);
        assert_eq!(d.rejects[1].fragment.as_deref(), Some(r#"{"t":"2026-11-22T10:10:00Z"}"#));
    }

    #[test]
    fn every_kind_of_bad_message_is_explained() {
        let cases: [(&str, &[u8], RejectKind, &str); 9] = [
            ("vedetta/v1/sensors/A/temperature", b"{}", RejectKind::BadTopic, "temperature"),
            ("vedetta/v2/whatever", b"{}", RejectKind::BadTopic, "is not vedetta/v1"),
            ("vedetta/v1/sensors/A/rain", b"{not json", RejectKind::BadJson, "not JSON"),
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
                RejectKind::BadJson,
                "not JSON",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":null}"#,
                RejectKind::NonFinite,
                "null",
            ),
            (
                "vedetta/v1/sensors/A/rain",
                br#"{"t":"2026-11-22T10:00:00Z","v":1,"u":"m"}"#,
                RejectKind::WrongUnit,
                "does not fit rain",
            ),
            ("v1.1/Datastreams(abc)/Observations", b"{}", RejectKind::BadTopic, "Datastreams(<id>)"),
        ];
        for (topic, payload, kind, needle) in cases {
            let r = decode(topic, payload, now()).unwrap_err();
            assert_eq!(r.kind, kind, "{topic} {}", String::from_utf8_lossy(payload));
            assert!(r.reason.contains(needle), "{}: {}", r.reason, needle);
        }
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
        assert!(d.rejects[0].reason.contains("does not end with rain or level"));
        assert!(d.rejects[1].reason.contains("only numeric values"));
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
