//! A checked set of rules, the problems that keep a set from being one, and `vedetta alerts check`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{Rule, RuleKind, builtin, builtin_level, builtin_rain, decode};
use crate::Level;

/// Something wrong in a rule set: where (file, rule, field, line:column) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: Option<PathBuf>,
    /// Position of the rule in the file or array, from 1.
    pub rule: Option<usize>,
    /// The rule's code, when it has a readable one.
    pub code: Option<String>,
    /// Path of the field inside the rule (`thresholds.orange`), or in the document outside rules.
    pub field: Option<String>,
    /// Line and column from 1 (TOML only).
    pub line_column: Option<(usize, usize)>,
    pub message: String,
}

impl Problem {
    /// A problem with no location.
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            file: None,
            rule: None,
            code: None,
            field: None,
            line_column: None,
            message: message.into(),
        }
    }

    /// Every problem, one after the other.
    pub fn join(problems: &[Problem]) -> String {
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for Problem {
    /// `rules.toml:12:14: rule 2 (`bisagno`), thresholds.orange: orange (2) must be above yellow (2.5)…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line_column) {
            (Some(file), Some((l, c))) => write!(f, "{}:{l}:{c}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some((l, c))) => write!(f, "line {l}, column {c}: ")?,
            (None, None) => {}
        }
        match (self.rule, &self.code) {
            (Some(n), Some(code)) => write!(f, "rule {n} (`{code}`), ")?,
            (Some(n), None) => write!(f, "rule {n}, ")?,
            (None, Some(code)) => write!(f, "rule `{code}`, ")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl From<Vec<Problem>> for crate::Error {
    fn from(problems: Vec<Problem>) -> Self {
        crate::Error::InvalidRules { problems }
    }
}

/// A checked set of rules with unique codes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// How many rules of each kind a set holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub per_kind: BTreeMap<&'static str, usize>,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.per_kind.values().sum()
    }
}

impl fmt::Display for Summary {
    /// `3 rules: 1 level, 2 rain`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "{total} rule{}", if total == 1 { "" } else { "s" })?;
        let parts: Vec<_> = self.per_kind.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

impl RuleSet {
    /// A set of already checked rules; problems when codes repeat.
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet, Vec<Problem>> {
        let mut problems = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            if let Some(first) = rules[..i].iter().position(|r| r.code == rule.code) {
                problems.push(Problem {
                    rule: Some(i + 1),
                    code: Some(rule.code.clone()),
                    field: Some("code".into()),
                    ..Problem::new(format!("duplicate code `{}` (also rule {})", rule.code, first + 1))
                });
            }
        }
        if problems.is_empty() { Ok(RuleSet { rules }) } else { Err(problems) }
    }

    /// Reads and checks the rules of a TOML document: the `[[rules]]` of a rules file, or the `[[alerts.rules]]`
    /// of a configuration file (whose other sections are not looked at).
    pub fn parse_toml(text: &str) -> Result<RuleSet, Vec<Problem>> {
        decode::rule_set_from_toml(text)
    }

    /// Reads and checks rules from JSON: an array of rules, or an object with a `rules` array.
    pub fn from_json(value: &serde_json::Value) -> Result<RuleSet, Vec<Problem>> {
        decode::rule_set_from_json(value)
    }

    /// The rules as a JSON array, in the format [`RuleSet::from_json`] reads.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.rules.iter().map(Rule::to_json).collect())
    }

    /// The built-in rules: `level` (hydrometers, their thresholds), `rain` (rain gauges, their thresholds per
    /// window) and `silent` (any station, 3 × its interval, a technical gialla).
    pub fn builtin() -> RuleSet {
        let silent = builtin(
            "silent",
            "Stazione silente",
            RuleKind::Silent { factor: decode::DEFAULT_SILENT_FACTOR, level: Level::Gialla },
        );
        RuleSet { rules: vec![builtin_level(), builtin_rain(), silent] }
    }

    /// These rules and the built-in ones whose codes they do not use (a rule coded `level` replaces the built-in).
    pub fn with_builtin(mut self) -> RuleSet {
        for rule in RuleSet::builtin().rules {
            if self.get(&rule.code).is_none() {
                self.rules.push(rule);
            }
        }
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    pub fn get(&self, code: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.code == code)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut per_kind = BTreeMap::new();
        for rule in &self.rules {
            *per_kind.entry(rule.kind.name()).or_insert(0) += 1;
        }
        Summary { per_kind }
    }
}

impl<'a> IntoIterator for &'a RuleSet {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;

    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// Validates a rules file (or a configuration file's `[[alerts.rules]]`) without applying it: `vedetta alerts
/// check FILE`. Problems name the file.
pub fn check_file(path: &Path) -> Result<Summary, Vec<Problem>> {
    let in_file = |p: Problem| Problem { file: Some(path.to_path_buf()), ..p };
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![in_file(Problem::new(format!("cannot read the file: {e}")))])?;
    RuleSet::parse_toml(&text).map(|set| set.summary()).map_err(|p| p.into_iter().map(in_file).collect())
}
