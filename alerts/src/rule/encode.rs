//! Rules back to JSON, in the format they are read from (no nulls, so a rule also converts to TOML).

use serde_json::{Map, json};

use super::read::format_duration;
use super::{Rule, RuleKind, Thresholds};
use crate::Level;
use crate::ladder::colour_key;

fn thresholds_json(t: &Thresholds) -> serde_json::Value {
    let mut out = Map::new();
    for (level, v) in t.alert.iter() {
        out.insert(colour_key(level).into(), json!(v));
    }
    if !t.clear.is_empty() {
        let clear: Map<_, _> =
            t.clear.iter().map(|(level, v)| (colour_key(level).to_string(), json!(v))).collect();
        out.insert("clear".into(), clear.into());
    }
    out.into()
}

fn level_json(level: Level) -> serde_json::Value {
    serde_json::to_value(level).unwrap_or_default()
}

pub(super) fn rule_to_json(rule: &Rule) -> serde_json::Value {
    let mut out = Map::new();
    out.insert("code".into(), json!(rule.code));
    out.insert("name".into(), json!(rule.name));
    out.insert("kind".into(), json!(rule.kind.name()));
    out.insert("hazard".into(), json!(rule.hazard.as_str()));
    if let Some(stations) = &rule.selector.stations {
        out.insert("stations".into(), json!(stations));
    }
    if let Some(kind) = rule.selector.station_kind {
        out.insert("station_kind".into(), json!(kind.as_str()));
    }
    if let Some(zones) = &rule.selector.zones {
        out.insert("zones".into(), json!(zones));
    }
    out.insert("for".into(), json!(format_duration(rule.for_s)));
    out.insert("qc_may_raise".into(), json!(rule.qc_may_raise));
    match &rule.kind {
        RuleKind::Level { thresholds } => {
            if let Some(t) = thresholds {
                out.insert("thresholds".into(), thresholds_json(t));
            }
        }
        RuleKind::Rain { thresholds } => {
            if let Some(windows) = thresholds {
                let map: Map<_, _> =
                    windows.iter().map(|(w, t)| (w.as_str().to_string(), thresholds_json(t))).collect();
                out.insert("thresholds".into(), map.into());
            }
        }
        RuleKind::RateOfRise { rate_m_per_h, clear_m_per_h, window_s, level } => {
            out.insert("rate_m_per_h".into(), json!(rate_m_per_h));
            if let Some(clear) = clear_m_per_h {
                out.insert("clear_m_per_h".into(), json!(clear));
            }
            out.insert("window".into(), json!(format_duration(*window_s)));
            out.insert("level".into(), level_json(*level));
        }
        RuleKind::ZoneCount { min_stations, station_level, level } => {
            out.insert("min_stations".into(), json!(min_stations));
            out.insert("station_level".into(), level_json(*station_level));
            out.insert("level".into(), level_json(*level));
        }
        RuleKind::ZoneMeanRain { window, thresholds } => {
            out.insert("window".into(), json!(window.as_str()));
            out.insert("thresholds".into(), thresholds_json(thresholds));
        }
        RuleKind::Silent { factor, level } => {
            out.insert("factor".into(), json!(factor));
            out.insert("level".into(), level_json(*level));
        }
    }
    out.into()
}
