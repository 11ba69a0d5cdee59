//! Rules from the document tree, every problem reported with its place.

use std::collections::{BTreeMap, HashMap};

use super::node::{Node, Value, line_column};
use super::read::{
    Bounds, Ctx, Table, boolean, codes, colour, duration_s, integer, join, number, parsed, string,
};
use super::{Hazard, Problem, RainWindow, Rule, RuleKind, RuleSet, Selector, StationKind, Thresholds};
use crate::Level;
use crate::ladder::{COLOURS, colour_key};

pub(super) const DEFAULT_SILENT_FACTOR: f64 = 3.0;
const DEFAULT_RATE_WINDOW_S: u32 = 1_800;
const MAX_CODE_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;

/// River levels (m above the hydrometric zero), as sensors bounds them.
const LEVEL: Bounds = Bounds(-10_000.0, 10_000.0, "m");
/// Rain over any window, mm.
const RAIN: Bounds = Bounds(0.0, 10_000.0, "mm");
const RATE: Bounds = Bounds(-100.0, 100.0, "m/h");

const COMMON_FIELDS: [&str; 9] =
    ["code", "name", "kind", "hazard", "stations", "station_kind", "zones", "for", "qc_may_raise"];

fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "level" | "rain" => &["thresholds"],
        "rate_of_rise" => &["rate_m_per_h", "clear_m_per_h", "window", "level"],
        "zone_count" => &["min_stations", "station_level", "level"],
        "zone_mean_rain" => &["window", "thresholds"],
        "silent" => &["factor", "level"],
        _ => &[],
    }
}

/// Thresholds in the stations' format: `yellow`, `orange`, `red` and `clear` with the same keys. With
/// `required`, at least one threshold must be given.
fn thresholds(ctx: &mut Ctx, node: &Node, path: &str, bounds: Bounds, required: bool) -> Option<Thresholds> {
    let mut table = Table::open(ctx, node, path)?;
    let before = ctx.problems.len();
    let mut out = Thresholds::default();
    for level in COLOURS {
        let key = colour_key(level);
        let value = table.take(key).and_then(|n| number(ctx, n, &join(path, key), bounds));
        out.alert.set(level, value);
    }
    if let Some(clear_node) = table.take("clear") {
        let clear_path = join(path, "clear");
        if let Some(mut clear) = Table::open(ctx, clear_node, &clear_path) {
            for level in COLOURS {
                let key = colour_key(level);
                let value = clear.take(key).and_then(|n| number(ctx, n, &join(&clear_path, key), bounds));
                out.clear.set(level, value);
            }
            clear.finish(ctx, &clear_path, "", &["yellow", "orange", "red"]);
        }
    }
    table.finish(ctx, path, "", &["yellow", "orange", "red", "clear"]);
    if required && out.alert.is_empty() && ctx.problems.len() == before {
        ctx.report(node, path, "no threshold given (expected yellow, orange and/or red)");
    }
    for (field, message) in out.problems() {
        let at = field.split('.').try_fold(node, |n, key| n.get(key)).unwrap_or(node);
        ctx.report(at, &join(path, &field), message);
    }
    (ctx.problems.len() == before).then_some(out)
}

/// Rain thresholds per window: `{"1h": {yellow = 30, …}, "24h": {…}}`. Windows without thresholds are left out
/// unless `required`.
fn rain_windows(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    required: bool,
) -> Option<BTreeMap<RainWindow, Thresholds>> {
    let Value::Table(entries) = &node.value else {
        ctx.report(node, path, format!("expected a table of windows, found {}", node.type_name()));
        return None;
    };
    let before = ctx.problems.len();
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let field = join(path, key);
        let window = key.parse::<RainWindow>().map_err(|e| ctx.report(value, &field, e)).ok();
        let t = thresholds(ctx, value, &field, RAIN, required);
        if let (Some(window), Some(t)) = (window, t)
            && !t.alert.is_empty()
        {
            out.insert(window, t);
        }
    }
    if required && entries.is_empty() {
        ctx.report(node, path, "no window given (expected windows such as \"1h\" with their thresholds)");
    }
    (ctx.problems.len() == before).then_some(out)
}

/// The kind-specific part of a rule.
fn kind_params(ctx: &mut Ctx, t: &mut Table, kind: &str) -> Option<RuleKind> {
    Some(match kind {
        "level" => RuleKind::Level {
            thresholds: t.take("thresholds").and_then(|n| thresholds(ctx, n, "thresholds", LEVEL, true)),
        },
        "rain" => RuleKind::Rain {
            thresholds: t.take("thresholds").and_then(|n| rain_windows(ctx, n, "thresholds", true)),
        },
        "rate_of_rise" => {
            let rate_node = t.required(ctx, "rate_m_per_h", "");
            let (clear_node, window_node, level_node) =
                (t.take("clear_m_per_h"), t.take("window"), t.take("level"));
            let rate = rate_node.and_then(|n| number(ctx, n, "rate_m_per_h", RATE));
            if let (Some(rate), Some(n)) = (rate, rate_node)
                && rate <= 0.0
            {
                ctx.report(n, "rate_m_per_h", format!("must be a positive rise in m/h, not {rate}"));
            }
            let clear = clear_node.and_then(|n| number(ctx, n, "clear_m_per_h", RATE));
            if let (Some(clear), Some(rate), Some(n)) = (clear, rate, clear_node)
                && clear > rate
            {
                ctx.report(n, "clear_m_per_h", format!("{clear} must not be above rate_m_per_h ({rate})"));
            }
            let window_s =
                window_node.map_or(Some(DEFAULT_RATE_WINDOW_S), |n| duration_s(ctx, n, "window", 60, 86_400));
            let level = level_node.map_or(Some(Level::Gialla), |n| colour(ctx, n, "level"));
            RuleKind::RateOfRise {
                rate_m_per_h: rate?,
                clear_m_per_h: clear,
                window_s: window_s?,
                level: level?,
            }
        }
        "zone_count" => {
            let n = t.required(ctx, "min_stations", "");
            let min_stations = n.and_then(|n| integer(ctx, n, "min_stations", 1, 10_000));
            let station_level =
                t.required(ctx, "station_level", "").and_then(|n| colour(ctx, n, "station_level"));
            let level = t.take("level").map(|n| colour(ctx, n, "level"));
            let (min_stations, station_level) = (u32::try_from(min_stations?).ok()?, station_level?);
            RuleKind::ZoneCount { min_stations, station_level, level: level.unwrap_or(Some(station_level))? }
        }
        "zone_mean_rain" => {
            let window = t.required(ctx, "window", "").and_then(|n| parsed::<RainWindow>(ctx, n, "window"));
            let th =
                t.required(ctx, "thresholds", "").and_then(|n| thresholds(ctx, n, "thresholds", RAIN, true));
            RuleKind::ZoneMeanRain { window: window?, thresholds: th? }
        }
        "silent" => {
            let factor =
                t.take("factor").map(|n| number(ctx, n, "factor", Bounds(1.0, 1_000.0, "intervals")));
            let level = t.take("level").map(|n| colour(ctx, n, "level"));
            RuleKind::Silent {
                factor: factor.unwrap_or(Some(DEFAULT_SILENT_FACTOR))?,
                level: level.unwrap_or(Some(Level::Gialla))?,
            }
        }
        _ => return None,
    })
}

/// One rule; `None` (with problems) when anything is wrong.
fn rule(ctx: &mut Ctx, node: &Node) -> Option<Rule> {
    let before = ctx.problems.len();
    let mut t = Table::open(ctx, node, "")?;
    let code = t.required(ctx, "code", "").and_then(|n| {
        let code = string(ctx, n, "code")?;
        let ok = (1..=MAX_CODE_CHARS).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            ctx.report(
                n,
                "code",
                format!("`{code}` is not a code: 1 to 64 characters among a-z, 0-9, _ and -"),
            );
            return None;
        }
        ctx.code = Some(code.clone());
        Some(code)
    });
    let name = t.required(ctx, "name", "").and_then(|n| {
        let name = string(ctx, n, "name")?;
        let ok = !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS;
        if !ok {
            ctx.report(n, "name", format!("must not be empty nor longer than {MAX_NAME_CHARS} characters"));
        }
        ok.then_some(name)
    });
    let kind_node = t.required(ctx, "kind", "");
    let kind_name = kind_node.and_then(|n| string(ctx, n, "kind")).filter(|k| {
        let known = RuleKind::NAMES.contains(&k.as_str());
        if let (false, Some(n)) = (known, kind_node) {
            let message = format!("unknown kind `{k}` (expected one of {})", RuleKind::NAMES.join(", "));
            ctx.report(n, "kind", message);
        }
        known
    });
    let hazard_node = t.take("hazard");
    let hazard = hazard_node.and_then(|n| parsed::<Hazard>(ctx, n, "hazard"));
    let qc_may_raise = t.take("qc_may_raise").and_then(|n| boolean(ctx, n, "qc_may_raise")).unwrap_or(false);
    let for_s = t.take("for").and_then(|n| duration_s(ctx, n, "for", 0, 86_400)).unwrap_or(0);
    let stations_node = t.take("stations");
    let stations = stations_node.and_then(|n| codes(ctx, n, "stations"));
    let station_kind_node = t.take("station_kind");
    let station_kind = station_kind_node.and_then(|n| parsed::<StationKind>(ctx, n, "station_kind"));
    let zones = t.take("zones").and_then(|n| codes(ctx, n, "zones"));
    let kind = kind_name.as_deref().and_then(|k| kind_params(ctx, &mut t, k));

    let mut expected: Vec<&str> = COMMON_FIELDS.to_vec();
    match kind_name.as_deref() {
        Some(k) => {
            expected.extend(kind_fields(k));
            t.finish(ctx, "", &format!(" for a {k} rule"), &expected);
        }
        None => {
            for field in RuleKind::NAMES.iter().flat_map(|k| kind_fields(k)) {
                if !expected.contains(field) {
                    expected.push(field);
                }
            }
            t.finish(ctx, "", "", &expected);
        }
    }

    if let Some(k) = kind_name.as_deref() {
        cross_checks(ctx, k, hazard.zip(hazard_node), station_kind.zip(station_kind_node), stations_node);
    }
    if ctx.problems.len() > before {
        return None;
    }
    let kind = kind?;
    Some(Rule {
        code: code?,
        name: name?,
        hazard: hazard.unwrap_or(kind.default_hazard()),
        kind,
        selector: Selector { stations, station_kind, zones },
        for_s,
        qc_may_raise,
    })
}

/// What the fields of a rule of kind `kind` must agree on: the hazard of technical rules, zone rules selecting
/// zones only, the kind of station watched.
fn cross_checks(
    ctx: &mut Ctx,
    kind: &str,
    hazard: Option<(Hazard, &Node)>,
    station_kind: Option<(StationKind, &Node)>,
    stations: Option<&Node>,
) {
    let silent = kind == "silent";
    match hazard {
        Some((h, n)) if silent && h != Hazard::Tecnico => {
            ctx.report(n, "hazard", "a silent rule is technical: its hazard is tecnico")
        }
        Some((Hazard::Tecnico, n)) if !silent => {
            ctx.report(n, "hazard", "hazard `tecnico` is for silent rules (technical alerts are kept apart)")
        }
        _ => {}
    }
    if kind.starts_with("zone_") {
        for (field, n) in [("stations", stations), ("station_kind", station_kind.map(|(_, n)| n))] {
            if let Some(n) = n {
                ctx.report(n, field, format!("a {kind} rule applies to zones: select them with `zones`"));
            }
        }
        return;
    }
    let needed = match kind {
        "level" | "rate_of_rise" => Some(StationKind::Hydrometer),
        "rain" => Some(StationKind::RainGauge),
        _ => None,
    };
    if let (Some(needed), Some((given, n))) = (needed, station_kind)
        && given != needed
    {
        let message = format!("a {kind} rule watches {} stations, not {}", needed.as_str(), given.as_str());
        ctx.report(n, "station_kind", message);
    }
}

/// The rules of an array node, each checked, codes unique.
fn rule_list(ctx: &mut Ctx, node: Option<&Node>, path: &str) -> Vec<Rule> {
    let Some(node) = node else { return Vec::new() };
    let Value::Array(items) = &node.value else {
        ctx.report(
            node,
            path,
            format!("expected an array of rules ([[{path}]]), found {}", node.type_name()),
        );
        return Vec::new();
    };
    let mut rules = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        ctx.rule = Some(i + 1);
        ctx.code = None;
        if let Some(rule) = rule(ctx, item) {
            rules.push(rule);
        }
        if let Some(code_node) = item.get("code")
            && let Value::Str(code) = &code_node.value
        {
            match seen.get(code.as_str()) {
                Some(first) => {
                    ctx.report(code_node, "code", format!("duplicate code `{code}` (also rule {first})"))
                }
                None => {
                    seen.insert(code, i + 1);
                }
            }
        }
    }
    ctx.rule = None;
    ctx.code = None;
    rules
}

pub(super) fn rule_set_from_toml(text: &str) -> Result<RuleSet, Vec<Problem>> {
    let root = Node::parse_toml(text).map_err(|(span, message)| {
        vec![Problem {
            line_column: span.map(|s| line_column(text, s.start)),
            ..Problem::new(format!("not valid TOML: {message}"))
        }]
    })?;
    let mut ctx = Ctx::new(Some(text));
    let rules = match root.get("alerts") {
        // A configuration file: only its rules are ours.
        Some(alerts) => match Table::open(&mut ctx, alerts, "alerts") {
            Some(_) => rule_list(&mut ctx, alerts.get("rules"), "alerts.rules"),
            None => Vec::new(),
        },
        None => match Table::open(&mut ctx, &root, "") {
            Some(mut t) => {
                let rules = rule_list(&mut ctx, t.take("rules"), "rules");
                t.finish(&mut ctx, "", " in a rules file", &["rules ([[rules]] tables)"]);
                rules
            }
            None => Vec::new(),
        },
    };
    ctx.finish(rules).and_then(RuleSet::new)
}

pub(super) fn rule_set_from_json(value: &serde_json::Value) -> Result<RuleSet, Vec<Problem>> {
    let root = Node::from_json(value);
    let mut ctx = Ctx::new(None);
    let rules = match &root.value {
        Value::Array(_) => rule_list(&mut ctx, Some(&root), "rules"),
        _ => match Table::open(&mut ctx, &root, "") {
            Some(mut t) => {
                let rules = rule_list(&mut ctx, t.take("rules"), "rules");
                t.finish(&mut ctx, "", "", &["rules"]);
                rules
            }
            None => Vec::new(),
        },
    };
    ctx.finish(rules).and_then(RuleSet::new)
}

pub(super) fn rule_from_json(value: &serde_json::Value) -> Result<Rule, Vec<Problem>> {
    let mut ctx = Ctx::new(None);
    let rule = rule(&mut ctx, &Node::from_json(value));
    match (ctx.finish(()), rule) {
        (Ok(()), Some(rule)) => Ok(rule),
        (Err(problems), _) => Err(problems),
        (Ok(()), None) => Err(vec![Problem::new("not a rule")]),
    }
}

pub(super) fn station_level(value: &serde_json::Value) -> Result<Option<Thresholds>, Vec<Problem>> {
    let node = Node::from_json(value);
    if node.value == Value::Null {
        return Ok(None);
    }
    let mut ctx = Ctx::new(None);
    let t = thresholds(&mut ctx, &node, "thresholds", LEVEL, false);
    ctx.finish(t.filter(|t| !t.alert.is_empty()))
}

pub(super) fn station_rain(
    value: &serde_json::Value,
) -> Result<BTreeMap<RainWindow, Thresholds>, Vec<Problem>> {
    let node = Node::from_json(value);
    if node.value == Value::Null {
        return Ok(BTreeMap::new());
    }
    let mut ctx = Ctx::new(None);
    let windows = rain_windows(&mut ctx, &node, "thresholds", false);
    ctx.finish(windows.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_round_trips_through_json() {
        let rules = json!([
            {"code": "l", "name": "L", "kind": "level", "thresholds": {"yellow": 1, "clear": {"yellow": 0.5}}},
            {"code": "r", "name": "R", "kind": "rain", "thresholds": {"3h": {"red": 80}}, "for": "5m"},
            {"code": "d", "name": "D", "kind": "rate_of_rise", "rate_m_per_h": 0.5, "clear_m_per_h": 0.1},
            {"code": "z", "name": "Z", "kind": "zone_count", "min_stations": 2, "station_level": "orange",
             "zones": ["B"]},
            {"code": "m", "name": "M", "kind": "zone_mean_rain", "window": "6h", "thresholds": {"yellow": 40}},
            {"code": "s", "name": "S", "kind": "silent", "factor": 4, "station_kind": "rain_gauge"},
        ]);
        let set = RuleSet::from_json(&rules).unwrap();
        assert_eq!(RuleSet::from_json(&set.to_json()).unwrap(), set);
        assert!(set.to_json().to_string().find("null").is_none());
    }
}
