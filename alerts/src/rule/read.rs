//! Typed readers of the document tree that report what is wrong and where, and the context they report to.

use std::str::FromStr;

use super::Problem;
use super::node::{Node, Value, line_column};
use crate::Level;

/// A closed interval a number must lie in, with its unit.
#[derive(Clone, Copy)]
pub(super) struct Bounds(pub f64, pub f64, pub &'static str);

/// Collects problems with what is known of their place.
pub(super) struct Ctx<'t> {
    text: Option<&'t str>,
    pub(super) rule: Option<usize>,
    pub(super) code: Option<String>,
    pub(super) problems: Vec<Problem>,
}

impl<'t> Ctx<'t> {
    pub(super) fn new(text: Option<&'t str>) -> Ctx<'t> {
        Ctx { text, rule: None, code: None, problems: Vec::new() }
    }

    pub(super) fn report(&mut self, node: &Node, field: &str, message: impl Into<String>) {
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

    pub(super) fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() { Ok(value) } else { Err(self.problems) }
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The entries of a table, remembering which were read so the rest can be reported as unknown.
pub(super) struct Table<'n> {
    node: &'n Node,
    entries: &'n [(String, Node)],
    taken: Vec<bool>,
}

impl<'n> Table<'n> {
    pub(super) fn open(ctx: &mut Ctx, node: &'n Node, path: &str) -> Option<Table<'n>> {
        match &node.value {
            Value::Table(entries) => Some(Table { node, entries, taken: vec![false; entries.len()] }),
            _ => {
                ctx.report(node, path, format!("expected a table, found {}", node.type_name()));
                None
            }
        }
    }

    pub(super) fn take(&mut self, key: &str) -> Option<&'n Node> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        self.taken[i] = true;
        Some(&self.entries[i].1)
    }

    pub(super) fn required(&mut self, ctx: &mut Ctx, key: &str, path: &str) -> Option<&'n Node> {
        let found = self.take(key);
        if found.is_none() {
            ctx.report(self.node, path, format!("missing field `{key}`"));
        }
        found
    }

    /// Reports every entry not read, naming what was expected.
    pub(super) fn finish(self, ctx: &mut Ctx, path: &str, what: &str, expected: &[&str]) {
        for ((key, node), taken) in self.entries.iter().zip(self.taken) {
            if !taken {
                let message = format!("unknown field `{key}`{what} (expected {})", expected.join(", "));
                ctx.report(node, &join(path, key), message);
            }
        }
    }
}

pub(super) fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        _ => {
            ctx.report(node, path, format!("expected a string, found {}", node.type_name()));
            None
        }
    }
}

pub(super) fn parsed<T: FromStr<Err = String>>(ctx: &mut Ctx, node: &Node, path: &str) -> Option<T> {
    let s = string(ctx, node, path)?;
    s.parse().map_err(|e| ctx.report(node, path, e)).ok()
}

pub(super) fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => {
            ctx.report(node, path, format!("expected true or false, found {}", node.type_name()));
            None
        }
    }
}

pub(super) fn number(ctx: &mut Ctx, node: &Node, path: &str, Bounds(lo, hi, unit): Bounds) -> Option<f64> {
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

pub(super) fn integer(ctx: &mut Ctx, node: &Node, path: &str, lo: i64, hi: i64) -> Option<i64> {
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
pub(super) fn colour(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Level> {
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
pub(super) fn duration_s(ctx: &mut Ctx, node: &Node, path: &str, lo: u32, hi: u32) -> Option<u32> {
    let seconds = match &node.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => {
            // The unit is the last character, which may be any character (not always one byte).
            let split = s.char_indices().last().map_or(0, |(i, _)| i);
            let (digits, unit) = s.split_at(split);
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
pub(super) fn codes(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
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

/// `90s`, `10m`, `1h`.
pub(super) fn format_duration(s: u32) -> String {
    match s {
        0 => "0s".into(),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
