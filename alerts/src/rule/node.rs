//! A document tree that remembers where each value was written: TOML values carry their byte span in the text,
//! JSON values carry none. Rules are decoded from it, so both formats get the same checks and messages.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A value and, for TOML, where it was written (byte offsets in the text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub span: Option<Range<usize>>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A TOML date or time, as written.
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Node {
    fn bare(value: Value) -> Node {
        Node { span: None, value }
    }

    /// The tree of a JSON value (no spans).
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        Node::bare(match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Array(items.iter().map(Node::from_json).collect()),
            J::Object(map) => {
                Value::Table(map.iter().map(|(k, v)| (k.clone(), Node::from_json(v))).collect())
            }
        })
    }

    /// Parses a TOML document; on a syntax error, its span and message.
    pub fn parse_toml(text: &str) -> Result<Node, (Option<Range<usize>>, String)> {
        match toml::from_str::<Raw>(text) {
            Ok(Raw(value)) => Ok(Node { span: Some(0..0), value }),
            Err(e) => Err((e.span(), e.message().trim_end().to_string())),
        }
    }

    /// The entry `key` of a table.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, for messages ("a string", "a table" …).
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Line and column (both from 1, the column in characters) of byte offset `at` in `text`.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A value deserialised from TOML whose children are spanned.
struct Raw(Value);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor).map(Raw)
    }
}

/// A TOML value with its span when toml knows it (tables created implicitly by a dotted header have none).
///
/// This is what `toml::Spanned` does, without failing where toml has no span: toml answers a request for the
/// struct named [`SPANNED`] with its three fields by a map of start, end and value.
struct SpannedRaw(Node);

const SPANNED: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_END: &str = "$__serde_spanned_private_end";
const SPANNED_VALUE: &str = "$__serde_spanned_private_value";

/// The key toml uses for a date inside its private map.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for SpannedRaw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, &[SPANNED_START, SPANNED_END, SPANNED_VALUE], SpannedVisitor)
            .map(SpannedRaw)
    }
}

struct SpannedVisitor;

impl<'de> Visitor<'de> for SpannedVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        RawVisitor.visit_bool(v).map(Node::bare)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        RawVisitor.visit_i64(v).map(Node::bare)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        RawVisitor.visit_u64(v).map(Node::bare)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        RawVisitor.visit_f64(v).map(Node::bare)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        RawVisitor.visit_str(v).map(Node::bare)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        RawVisitor.visit_unit().map(Node::bare)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        RawVisitor.visit_seq(seq).map(Node::bare)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(first) = map.next_key::<String>()? else { return Ok(Node::bare(Value::Table(Vec::new()))) };
        if first != SPANNED_START {
            return table_from(first, map).map(Node::bare);
        }
        let start: usize = map.next_value()?;
        let _end_key: Option<String> = map.next_key()?;
        let end: usize = map.next_value()?;
        let _value_key: Option<String> = map.next_key()?;
        let Raw(value) = map.next_value()?;
        Ok(Node { span: Some(start..end), value })
    }
}

/// The rest of a map whose first key was read.
fn table_from<'de, A: MapAccess<'de>>(first: String, mut map: A) -> Result<Value, A::Error> {
    if first == TOML_DATETIME_KEY {
        return Ok(Value::Datetime(map.next_value::<String>()?));
    }
    let SpannedRaw(node) = map.next_value()?;
    let mut entries = vec![(first, node)];
    while let Some(key) = map.next_key::<String>()? {
        let SpannedRaw(node) = map.next_value()?;
        entries.push((key, node));
    }
    Ok(Value::Table(entries))
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(SpannedRaw(node)) = seq.next_element()? {
            items.push(node);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match map.next_key::<String>()? {
            Some(first) => table_from(first, map),
            None => Ok(Value::Table(Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_values_keep_their_place() {
        let text = "[[rules]]\ncode = \"a\"\nthresholds = { yellow = 2.5, red = 4 }\nwhen = 1979-05-27\n";
        let root = Node::parse_toml(text).unwrap();
        let Value::Array(rules) = &root.get("rules").unwrap().value else { panic!("rules is not an array") };
        let rule = &rules[0];
        let yellow = rule.get("thresholds").unwrap().get("yellow").unwrap();
        assert_eq!(yellow.value, Value::Float(2.5));
        assert_eq!(line_column(text, yellow.span.clone().unwrap().start), (3, 25));
        assert_eq!(rule.get("thresholds").unwrap().get("red").unwrap().value, Value::Int(4));
        assert_eq!(rule.get("when").unwrap().value, Value::Datetime("1979-05-27".into()));
        // a table made implicitly by a dotted header has no span of its own; its values do
        let text = "[rules.thresholds.\"1h\"]\nyellow = 30\n";
        let root = Node::parse_toml(text).unwrap();
        let yellow = root.get("rules").and_then(|r| r.get("thresholds")).and_then(|t| t.get("1h")).unwrap();
        assert_eq!(line_column(text, yellow.get("yellow").unwrap().span.clone().unwrap().start), (2, 10));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let (span, message) = Node::parse_toml("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(line_column("a = 1\nb = = 2\n", span.unwrap().start).0, 2);
        assert!(!message.is_empty());
    }
}
