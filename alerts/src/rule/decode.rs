//! Rules from the document tree, with every problem and its place; rules back to JSON.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde_json::{Map, json};

use super::node::{Node, Value, line_column};
use super::{Hazard, Problem, RainWindow, Rule, RuleKind, RuleSet, Selector, StationKind, Thresholds};
use crate::Level;
use crate::ladder::{COLOURS, colour_key};

pub(super) const DEFAULT_SILENT_FACTOR: f64 = 3.0;
const DEFAULT_RATE_WINDOW_S: u32 = 1_800;
const MAX_CODE_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;

/// A closed interval a number must lie in, with its unit.
#[derive(Clone, Copy)]
struct Bounds(f64, f64, &'static str);

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

/// Collects problems with what is known of their place.
struct Ctx<'t> {
    text: Option<&'t str>,
    rule: Option<usize>,
    code: Option<String>,
    problems: Vec<Problem>,
}

impl<'t> Ctx<'t> {
    fn new(text: Option<&'t str>) -> Ctx<'t> {
        Ctx { text, rule: None, code: None, problems: Vec::new() }
    }

    fn report(&mut self, node: &Node, field: &str, message: impl Into<String>) {
        let line_column = match (self.text, &node.span) {
            (Some(text), Some(span)) => Some(line_column(text, span.start)),
            _ => None,
        };
        self.problems.push(Problem {
            rule: self.rule,
            code: self.code.clone(),
            field: (!field.is_empty()).then(|| field.to_string()),
            line_column,
            ..Problem::new(message)
        });
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() { Ok(value) } else { Err(self.problems) }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The entries of a table, remembering which were read so the rest can be reported as unknown.
struct Table<'n> {
    node: &'n Node,
    entries: &'n [(String, Node)],
    taken: Vec<bool>,
}

impl<'n> Table<'n> {
    fn open(ctx: &mut Ctx, node: &'n Node, path: &str) -> Option<Table<'n>> {
        match &node.value {
            Value::Table(entries) => Some(Table { node, entries, taken: vec![false; entries.len()] }),
            _ => {
                ctx.report(node, path, format!("expected a table, found {}", node.type_name()));
                None
            }
        }
    }

    fn take(&mut self, key: &str) -> Option<&'n Node> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        self.taken[i] = true;
        Some(&self.entries[i].1)
    }

    fn required(&mut self, ctx: &mut Ctx, key: &str, path: &str) -> Option<&'n Node> {
        let found = self.take(key);
        if found.is_none() {
            ctx.report(self.node, path, format!("missing field `{key}`"));
        }
        found
    }

    /// Reports every entry not read, naming what was expected.
    fn finish(self, ctx: &mut Ctx, path: &str, what: &str, expected: &[&str]) {
        for ((key, node), taken) in self.entries.iter().zip(self.taken) {
            if !taken {
                let message = format!("unknown field `{key}`{what} (expected {})", expected.join(", "));
                ctx.report(node, &join(path, key), message);
            }
        }
    }
}

fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        _ => {
            ctx.report(node, path, format!("expected a string, found {}", node.type_name()));
            None
        }
    }
}

fn parsed<T: FromStr<Err = String>>(ctx: &mut Ctx, node: &Node, path: &str) -> Option<T> {
    let s = string(ctx, node, path)?;
    s.parse().map_err(|e| ctx.report(node, path, e)).ok()
}

fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => {
            ctx.report(node, path, format!("expected true or false, found {}", node.type_name()));
            None
        }
    }
}

fn number(ctx: &mut Ctx, node: &Node, path: &str, Bounds(lo, hi, unit): Bounds) -> Option<f64> {
    let v = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => {
            ctx.report(node, path, format!("expected a number, found {}", node.type_name()));
            return None;
        }
    };
    if v.is_finite() && (lo..=hi).contains(&v) {
        Some(v)
    } else {
        ctx.report(node, path, format!("{v} must lie between {lo} and {hi} {unit}"));
        None
    }
}

fn integer(ctx: &mut Ctx, node: &Node, path: &str, lo: i64, hi: i64) -> Option<i64> {
    match node.value {
        Value::Int(i) if (lo..=hi).contains(&i) => Some(i),
        Value::Int(i) => {
            ctx.report(node, path, format!("{path} must be at least {lo} and at most {hi}, not {i}"));
            None
        }
        _ => {
            ctx.report(node, path, format!("expected an integer, found {}", node.type_name()));
            None
        }
    }
}

/// An alert colour (gialla, arancione, rossa, or yellow, orange, red).
fn colour(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Level> {
    let s = string(ctx, node, path)?;
    match s.parse::<Level>() {
        Ok(Level::Verde) | Err(_) => {
            ctx.report(node, path, format!("unknown colour `{s}` (expected gialla, arancione or rossa)"));
            None
        }
        Ok(level) => Some(level),
    }
}

/// A duration: `"90s"`, `"10m"`, `"1h"`, or a number of seconds; within `lo..=hi` seconds.
fn duration_s(ctx: &mut Ctx, node: &Node, path: &str, lo: u32, hi: u32) -> Option<u32> {
    let seconds = match &node.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => {
            let (digits, unit) = s.split_at(s.len().saturating_sub(1));
            let factor = match unit {
                "s" => Some(1),
                "m" => Some(60),
                "h" => Some(3_600),
                _ => None,
            };
            match (digits.parse::<i64>(), factor) {
                (Ok(n), Some(f)) if !digits.starts_with(['+', '-']) => n.checked_mul(f),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(seconds) = seconds else {
        let message = "expected a duration such as \"90s\", \"10m\" or \"1h\", or a number of seconds";
        ctx.report(node, path, message);
        return None;
    };
    match u32::try_from(seconds) {
        Ok(s) if (lo..=hi).contains(&s) => Some(s),
        _ => {
            let (lo, hi) = (format_duration(lo), format_duration(hi));
            ctx.report(node, path, format!("{path} must be between {lo} and {hi}, not {seconds} s"));
            None
        }
    }
}

/// A non-empty list of non-empty codes.
fn codes(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    let Value::Array(items) = &node.value else {
        ctx.report(node, path, format!("expected an array of codes, found {}", node.type_name()));
        return None;
    };
    if items.is_empty() {
        ctx.report(node, path, format!("{path} is empty (leave it out to select all)"));
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        match string(ctx, item, &path) {
            Some(s) if s.trim().is_empty() => ctx.report(item, &path, "empty code"),
            Some(s) => out.push(s),
            None => {}
        }
    }
    (out.len() == items.len()).then_some(out)
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

    let kind = kind?;
    let name_of = kind.name();
    if let (Some(h), Some(n)) = (hazard, hazard_node) {
        if matches!(kind, RuleKind::Silent { .. }) && h != Hazard::Tecnico {
            ctx.report(n, "hazard", "a silent rule is technical: its hazard is tecnico");
        } else if !matches!(kind, RuleKind::Silent { .. }) && h == Hazard::Tecnico {
            ctx.report(n, "hazard", "hazard `tecnico` is for silent rules (technical alerts are kept apart)");
        }
    }
    if kind.subject_kind() == super::SubjectKind::Zone {
        for (field, n) in [("stations", stations_node), ("station_kind", station_kind_node)] {
            if let Some(n) = n {
                ctx.report(n, field, format!("a {name_of} rule applies to zones: select them with `zones`"));
            }
        }
    }
    if let (Some(given), Some(needed), Some(n)) = (station_kind, kind.station_kind(), station_kind_node)
        && given != needed
    {
        let message =
            format!("a {name_of} rule watches {} stations, not {}", needed.as_str(), given.as_str());
        ctx.report(n, "station_kind", message);
    }
    if ctx.problems.len() > before {
        return None;
    }
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

/// `90s`, `10m`, `1h`.
fn format_duration(s: u32) -> String {
    match s {
        0 => "0s".into(),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_alike() {
        let mut ctx = Ctx::new(None);
        for (text, seconds) in [("90s", 90), ("10m", 600), ("1h", 3_600), ("0s", 0)] {
            let node = Node::from_json(&json!(text));
            assert_eq!(duration_s(&mut ctx, &node, "for", 0, 86_400), Some(seconds));
            assert_eq!(format_duration(seconds), text);
        }
        for bad in [json!("ten"), json!("-5m"), json!("5"), json!(true), json!("25h")] {
            assert_eq!(duration_s(&mut ctx, &Node::from_json(&bad), "for", 0, 86_400), None, "{bad}");
        }
        assert_eq!(ctx.problems.len(), 5);
        assert!(ctx.problems[4].message.contains("between 0s and 24h"), "{}", ctx.problems[4]);
    }

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
