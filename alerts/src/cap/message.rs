//! The CAP 1.2 `alert` message of one alert version.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Rome;

use crate::cap::config::CapConfig;
use crate::cap::input::{CapInput, CapZone, SubjectKind};
use crate::cap::mapping::{self, MsgType};
use crate::cap::sign::Signer;
use crate::cap::text::{self, Lang};
use crate::cap::xml::Xml;
use crate::{Error, Level, Result};

/// The CAP 1.2 namespace.
pub const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// `eventCode` `valueName` of the hazard (`idraulico`, `idrogeologico`, `temporali`, `tecnico`).
pub const HAZARD_CODE: &str = "IT-PC-hazard";
/// `parameter` `valueName` of the colour (`verde`, `gialla`, `arancione`, `rossa`).
pub const LEVEL_PARAMETER: &str = "IT-PC-level";
/// `geocode` `valueName` of the comuni's ISTAT codes.
pub const ISTAT_GEOCODE: &str = "ISTAT";
/// `geocode` `valueName` of the alert zone's code.
pub const ZONE_GEOCODE: &str = "IT-PC-zone";

/// The identifier of version `version` of alert `alert_id`: `{identifier_prefix}.{alert_id}.{version}`.
pub fn identifier(config: &CapConfig, alert_id: i64, version: i64) -> String {
    format!("{}.{alert_id}.{version}", config.identifier_prefix)
}

/// A time as CAP writes it: `YYYY-MM-DDThh:mm:ss+hh:mm`, in Italian local time (Europe/Rome, `+01:00` or `+02:00`),
/// truncated to the second. Never `Z`, never a fraction.
pub fn cap_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&Rome).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// The CAP `msgType` the message of this input will have, or an error when an escalation, de-escalation or
/// resolution comes without the earlier messages to refer to.
pub fn msg_type(input: &CapInput) -> Result<MsgType> {
    input.change.msg_type(!input.previous.is_empty()).ok_or_else(|| {
        input_error(
            input,
            format!(
                "a {:?} message updates or cancels earlier ones, and `previous` lists none",
                input.change
            ),
        )
    })
}

/// The CAP 1.2 message of one alert version, as an XML document (UTF-8, with its XML declaration).
///
/// Two `info` blocks, `it-IT` then `en-US`; `references` lists every message of `input.previous`; the `area` is
/// the zone's polygons and geocodes (or, without a zone, just a description of the subject). Signed with an
/// enveloped XML-DSig signature when `signer` is given. Fails when the input cannot make a valid message (see
/// [`msg_type`], polygons with fewer than three distinct points or coordinates outside WGS84, identifiers with
/// spaces or commas).
pub fn message(input: &CapInput, config: &CapConfig, signer: Option<&Signer>) -> Result<String> {
    let msg_type = msg_type(input)?;
    let references = references(input, config)?;
    let polygons = match &input.zone {
        Some(zone) => polygons(input, zone)?,
        None => Vec::new(),
    };
    if let Some(zone) = &input.zone {
        for code in zone.comuni.iter().chain(std::iter::once(&zone.code)) {
            if code.is_empty() || code.chars().any(char::is_whitespace) {
                return Err(input_error(
                    input,
                    format!("zone {} has an empty or spaced code `{code}`", zone.code),
                ));
            }
        }
    }

    let mut xml = Xml::compact();
    xml.declaration();
    xml.text("\n");
    let alert_start = xml.bytes().len();
    xml.start("alert", Some(("xmlns", CAP_NS)));
    xml.element("identifier", &identifier(config, input.alert_id, input.version));
    xml.element("sender", &config.sender);
    xml.element("sent", &cap_time(input.sent));
    xml.element("status", config.status.as_str());
    xml.element("msgType", msg_type.as_str());
    xml.element("scope", "Public");
    if msg_type != MsgType::Alert {
        xml.element("references", &references);
    }
    xml.element("incidents", &format!("{}.{}", config.identifier_prefix, input.alert_id));
    for lang in Lang::ALL {
        write_info(&mut xml, input, config, lang, &polygons);
    }
    if let Some(signer) = signer {
        let mut canonical = xml.bytes()[alert_start..].to_vec();
        canonical.extend_from_slice(b"</alert>");
        signer.write_signature(&mut xml, &canonical)?;
    }
    xml.end("alert");
    xml.text("\n");
    Ok(xml.finish())
}

fn input_error(input: &CapInput, reason: impl Into<String>) -> Error {
    Error::CapInput { alert_id: input.alert_id, version: input.version, reason: reason.into() }
}

/// `sender,identifier,sent` of each earlier message, space-separated (CAP 1.2 §3.2.1).
fn references(input: &CapInput, config: &CapConfig) -> Result<String> {
    let mut out = Vec::with_capacity(input.previous.len());
    for previous in &input.previous {
        let id = &previous.identifier;
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&')) {
            return Err(input_error(
                input,
                format!("earlier identifier `{id}` is empty or has spaces, commas, < or &"),
            ));
        }
        out.push(format!("{},{id},{}", config.sender, cap_time(previous.sent)));
    }
    Ok(out.join(" "))
}

/// CAP polygons of a zone: `lat,lon` pairs separated by spaces, closed, at least four pairs.
fn polygons(input: &CapInput, zone: &CapZone) -> Result<Vec<String>> {
    zone.rings
        .iter()
        .enumerate()
        .map(|(i, ring)| {
            cap_polygon(ring)
                .map_err(|reason| input_error(input, format!("zone {} ring {i}: {reason}", zone.code)))
        })
        .collect()
}

/// Coordinates are rounded to 1e-6 degree (about 0.1 m).
fn cap_polygon(ring: &[(f64, f64)]) -> std::result::Result<String, String> {
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(ring.len() + 1);
    for &(lon, lat) in ring {
        if !(lon.is_finite()
            && lat.is_finite()
            && (-180.0..=180.0).contains(&lon)
            && (-90.0..=90.0).contains(&lat))
        {
            return Err(format!("({lon}, {lat}) is not a WGS84 longitude and latitude"));
        }
        let point = (round(lon), round(lat));
        if points.last() != Some(&point) {
            points.push(point);
        }
    }
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if points.len() < 3 {
        return Err(format!("{} distinct points, a polygon needs at least three", points.len()));
    }
    if let Some(&first) = points.first() {
        points.push(first);
    }
    Ok(points.iter().map(|(lon, lat)| format!("{lat},{lon}")).collect::<Vec<_>>().join(" "))
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Verde => "verde",
        Level::Gialla => "gialla",
        Level::Arancione => "arancione",
        Level::Rossa => "rossa",
    }
}

fn write_info(xml: &mut Xml, input: &CapInput, config: &CapConfig, lang: Lang, polygons: &[String]) {
    let codes = mapping::codes(input);
    let texts = text::texts(input, &config.sender_name, lang);
    xml.start("info", None);
    xml.element("language", lang.tag());
    for category in codes.categories {
        xml.element("category", category);
    }
    xml.element("event", &texts.event);
    for response in codes.response_types {
        xml.element("responseType", response);
    }
    xml.element("urgency", codes.urgency);
    xml.element("severity", codes.severity);
    xml.element("certainty", codes.certainty);
    value_pair(xml, "eventCode", HAZARD_CODE, input.hazard.as_str());
    if let Some(onset) = input.onset {
        xml.element("onset", &cap_time(onset));
    }
    if let Some(expires) = input.expires {
        xml.element("expires", &cap_time(expires));
    }
    xml.element("senderName", &config.sender_name);
    xml.element("headline", &texts.headline);
    xml.element("description", &texts.description);
    if let Some(instruction) = texts.instruction {
        xml.element("instruction", instruction);
    }
    xml.element("web", config.web());
    value_pair(xml, "parameter", LEVEL_PARAMETER, level_name(input.level));
    value_pair(xml, "parameter", "awareness_level", mapping::awareness_level(input.level));
    if let Some(kind) = mapping::awareness_type(input.hazard) {
        value_pair(xml, "parameter", "awareness_type", kind);
    }
    if input.subject.kind == SubjectKind::Station {
        value_pair(xml, "parameter", "IT-PC-station", &input.subject.code);
    }
    if let Some(m) = input.measurement.as_ref().filter(|m| m.value.is_finite()) {
        value_pair(xml, "parameter", "IT-PC-value", &m.value.to_string());
        value_pair(xml, "parameter", "IT-PC-unit", m.unit.trim());
    }
    xml.start("area", None);
    xml.element("areaDesc", &texts.area_desc);
    for polygon in polygons {
        xml.element("polygon", polygon);
    }
    if let Some(zone) = &input.zone {
        for comune in &zone.comuni {
            value_pair(xml, "geocode", ISTAT_GEOCODE, comune);
        }
        value_pair(xml, "geocode", ZONE_GEOCODE, &zone.code);
    }
    xml.end("area");
    xml.end("info");
}

/// `<name><valueName>…</valueName><value>…</value></name>` (eventCode, parameter, geocode).
fn value_pair(xml: &mut Xml, name: &str, value_name: &str, value: &str) {
    xml.start(name, None);
    xml.element("valueName", value_name);
    xml.element("value", value);
    xml.end(name);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sent_is_written_in_italian_time_without_z_or_fraction() {
        let winter =
            Utc.with_ymd_and_hms(2020, 3, 15, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(250);
        assert_eq!(cap_time(winter), "2020-03-15T11:00:00+01:00");
        let summer = Utc.with_ymd_and_hms(2020, 7, 1, 23, 30, 5).unwrap();
        assert_eq!(cap_time(summer), "2020-07-02T01:30:05+02:00");
    }

    #[test]
    fn polygons_are_closed_lat_lon_pairs() {
        let open = [(8.9, 44.4), (9.0, 44.4), (9.0, 44.5)];
        assert_eq!(cap_polygon(&open).unwrap(), "44.4,8.9 44.4,9 44.5,9 44.4,8.9");
        let closed = [(8.9, 44.4), (9.0, 44.4), (9.0, 44.5), (8.9, 44.4)];
        assert_eq!(cap_polygon(&closed).unwrap(), "44.4,8.9 44.4,9 44.5,9 44.4,8.9");
        assert!(cap_polygon(&[(8.9, 44.4), (9.0, 44.4), (8.9, 44.4)]).is_err());
        assert!(cap_polygon(&[(8.9, 144.4), (9.0, 44.4), (9.0, 44.5)]).is_err());
        assert!(cap_polygon(&[(f64::NAN, 44.4), (9.0, 44.4), (9.0, 44.5)]).is_err());
    }
}
