//! The threshold state machine every rule runs: a signal (a river level, a rate of rise, a rain total, a count of
//! stations, a silence) climbs a ladder of colours (gialla, arancione, rossa).
//!
//! - **Thresholds.** A colour is reached when the signal is at or above its threshold. Colours may be left out
//!   (a ladder with only a red threshold), the ones given increase.
//! - **Hysteresis.** A colour, once held, is left only when the signal falls below its *clear* level (by default
//!   [`DEFAULT_HYSTERESIS`], 5 %, below the threshold), so a level oscillating between the clear level and the threshold does not flap.
//! - **Duration (`for_s`).** With `for_s > 0` a crossing first *opens* a pending alert; it *fires* on the first sample
//!   at least `for_s` seconds after the opening sample if the signal is still above a threshold, and is *withdrawn*
//!   if the signal falls back before. Escalation while firing is immediate; de-escalation and resolution happen on
//!   the first sample below the clear level of the colour held.
//! - **Quality control.** A sample flagged by quality control is not trusted on its own. Unless `qc_may_raise` is
//!   set, it raises the level to gialla at most (if the ladder has a gialla threshold), never to arancione or rossa;
//!   with or without `qc_may_raise` it never lowers, clears or withdraws anything. A flagged sample that keeps a
//!   pending alert above its threshold does count towards `for_s` (the colour was first reached by a trusted one).
//! - **Order.** Samples at or before the last sample seen are ignored, so replays and duplicates change nothing.
//!   Samples whose value is not finite are ignored as well (they do not move the clock either).
//!
//! [`LadderState`] is what the evaluator persists (as JSON) per (rule, subject) between samples and restarts.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::Level;

/// The three alert colours, in increasing severity.
pub const COLOURS: [Level; 3] = [Level::Gialla, Level::Arancione, Level::Rossa];

/// A value per alert colour; `None` where the colour is not used.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PerLevel {
    pub gialla: Option<f64>,
    pub arancione: Option<f64>,
    pub rossa: Option<f64>,
}

impl PerLevel {
    /// The value of `level` (`None` for verde, which has none).
    pub fn get(&self, level: Level) -> Option<f64> {
        match level {
            Level::Verde => None,
            Level::Gialla => self.gialla,
            Level::Arancione => self.arancione,
            Level::Rossa => self.rossa,
        }
    }

    /// Sets the value of `level` (verde is ignored).
    pub fn set(&mut self, level: Level, value: Option<f64>) {
        match level {
            Level::Verde => {}
            Level::Gialla => self.gialla = value,
            Level::Arancione => self.arancione = value,
            Level::Rossa => self.rossa = value,
        }
    }

    /// The colours that have a value, in increasing severity.
    pub fn iter(&self) -> impl Iterator<Item = (Level, f64)> + '_ {
        COLOURS.into_iter().filter_map(|level| self.get(level).map(|v| (level, v)))
    }

    /// No colour has a value.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// The name of a colour in the thresholds format (`yellow`, `orange`, `red`, as stations store them).
pub fn colour_key(level: Level) -> &'static str {
    match level {
        Level::Verde => "green",
        Level::Gialla => "yellow",
        Level::Arancione => "orange",
        Level::Rossa => "red",
    }
}

/// The thresholds of a ladder and their clear levels, in the unit of the signal.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Thresholds {
    /// Where each colour is reached (at or above).
    pub alert: PerLevel,
    /// Below which each colour is left; unset means [`DEFAULT_HYSTERESIS`] below the threshold.
    pub clear: PerLevel,
}

/// Without a clear level, a colour is left only below its threshold less this share of it (5 %): a signal
/// oscillating by a few centimetres around a threshold does not flap. Set clear levels to choose otherwise
/// (`clear = { yellow = 2.5 }` on a yellow of 2.5 leaves it at the threshold itself).
pub const DEFAULT_HYSTERESIS: f64 = 0.05;

impl Thresholds {
    /// One colour reached at `threshold` and left below `clear` (or below `threshold`).
    pub fn single(level: Level, threshold: f64, clear: Option<f64>) -> Thresholds {
        let mut t = Thresholds::default();
        t.alert.set(level, Some(threshold));
        t.clear.set(level, clear);
        t
    }

    /// Below which `level` is left: its clear level, else [`DEFAULT_HYSTERESIS`] below its threshold.
    pub fn clear_of(&self, level: Level) -> Option<f64> {
        self.clear.get(level).or_else(|| self.alert.get(level).map(|t| t - DEFAULT_HYSTERESIS * t.abs()))
    }

    /// What is wrong with these thresholds, as (field, message) with fields named as in the thresholds format
    /// (`orange`, `clear.yellow`): values not finite, thresholds not increasing, a clear level above its threshold
    /// or given for a colour without one, clear levels not increasing.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (prefix, values, what) in
            [("", &self.alert, "thresholds"), ("clear.", &self.clear, "clear levels")]
        {
            for (level, v) in values.iter() {
                if !v.is_finite() {
                    out.push((
                        format!("{prefix}{}", colour_key(level)),
                        format!("{v} is not a finite number"),
                    ));
                }
            }
            let set: Vec<_> = values.iter().filter(|(_, v)| v.is_finite()).collect();
            for pair in set.windows(2) {
                let ((low, a), (high, b)) = (pair[0], pair[1]);
                if a >= b {
                    out.push((
                        format!("{prefix}{}", colour_key(high)),
                        format!(
                            "{prefix}{} ({b}) must be above {prefix}{} ({a}): {what} increase",
                            colour_key(high),
                            colour_key(low)
                        ),
                    ));
                }
            }
        }
        for (level, clear) in self.clear.iter() {
            let key = colour_key(level);
            match self.alert.get(level) {
                None => out.push((format!("clear.{key}"), format!("clear.{key} is given but {key} is not"))),
                Some(threshold) if clear > threshold => out.push((
                    format!("clear.{key}"),
                    format!("clear.{key} ({clear}) must not be above {key} ({threshold})"),
                )),
                Some(_) => {}
            }
        }
        out
    }
}

/// A ladder: thresholds with hysteresis, a minimum duration before firing, and what flagged samples may do.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Ladder {
    pub thresholds: Thresholds,
    /// Seconds a crossing must last before the alert fires (0: fire on the first sample).
    pub for_s: u32,
    /// Whether a sample flagged by quality control may raise the level above gialla on its own.
    pub qc_may_raise: bool,
}

impl Ladder {
    /// A ladder on `thresholds` that fires at once and does not trust flagged samples.
    pub fn new(thresholds: Thresholds) -> Ladder {
        Ladder { thresholds, for_s: 0, qc_may_raise: false }
    }

    /// The same ladder with a minimum duration.
    pub fn with_for_s(self, for_s: u32) -> Ladder {
        Ladder { for_s, ..self }
    }

    /// The same ladder, trusting flagged samples to raise it (or not).
    pub fn with_qc_may_raise(self, qc_may_raise: bool) -> Ladder {
        Ladder { qc_may_raise, ..self }
    }

    /// The colour `value` stands at when `held` is the colour currently held (firing or pending): the highest colour
    /// whose threshold it reaches, or, for the colours up to `held`, whose clear level it has not fallen below.
    pub fn target(&self, value: f64, held: Option<Level>) -> Option<Level> {
        let mut best = None;
        for level in COLOURS {
            let bar = if held.is_some_and(|h| level <= h) {
                self.thresholds.clear_of(level)
            } else {
                self.thresholds.alert.get(level)
            };
            if bar.is_some_and(|bar| value >= bar) {
                best = Some(level);
            }
        }
        best
    }
}

/// One observation of the signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Observation time (not arrival time).
    pub at: DateTime<Utc>,
    pub value: f64,
    /// Quality control flagged the reading behind this sample.
    pub flagged: bool,
}

/// Where one (rule, subject) stands between samples; persisted as JSON by the evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LadderState {
    /// The colour of the firing alert, `None` when nothing fires.
    pub level: Option<Level>,
    /// The colour of the pending (opened, not yet fired) alert.
    pub pending_level: Option<Level>,
    /// When the pending alert was opened (observation time of the sample that opened it).
    pub pending_since: Option<DateTime<Utc>>,
    /// Observation time of the last sample taken into account.
    pub last_at: Option<DateTime<Utc>>,
}

impl LadderState {
    /// The colour held: firing, else pending.
    pub fn held(&self) -> Option<Level> {
        self.level.or(self.pending_level)
    }

    pub fn is_firing(&self) -> bool {
        self.level.is_some()
    }

    pub fn is_pending(&self) -> bool {
        self.level.is_none() && self.pending_level.is_some()
    }
}

/// What a sample changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// A crossing opened a pending alert (only with `for_s > 0`).
    Opened { level: Level },
    /// The alert fired (at once, or after `for_s`).
    Fired { level: Level },
    /// A firing alert went up a colour (or more).
    Escalated { from: Level, to: Level },
    /// A firing alert went down a colour (or more) but not to verde.
    Deescalated { from: Level, to: Level },
    /// A firing alert ended.
    Resolved { from: Level },
    /// A pending alert ended before firing (a short spike).
    Withdrawn { level: Level },
}

impl Change {
    /// The name of the change as alerts record it (`opened`, `fired`, `escalated`, `deescalated`, `resolved`,
    /// `withdrawn`).
    pub fn name(&self) -> &'static str {
        match self {
            Change::Opened { .. } => "opened",
            Change::Fired { .. } => "fired",
            Change::Escalated { .. } => "escalated",
            Change::Deescalated { .. } => "deescalated",
            Change::Resolved { .. } => "resolved",
            Change::Withdrawn { .. } => "withdrawn",
        }
    }

    /// The colour after the change (`None` once the alert ended).
    pub fn level(&self) -> Option<Level> {
        match *self {
            Change::Opened { level } | Change::Fired { level } => Some(level),
            Change::Escalated { to, .. } | Change::Deescalated { to, .. } => Some(to),
            Change::Resolved { .. } | Change::Withdrawn { .. } => None,
        }
    }

    /// The colour before the change (`None` when nothing was held).
    pub fn previous_level(&self) -> Option<Level> {
        match *self {
            Change::Opened { .. } | Change::Fired { .. } => None,
            Change::Escalated { from, .. } | Change::Deescalated { from, .. } => Some(from),
            Change::Resolved { from } => Some(from),
            Change::Withdrawn { level } => Some(level),
        }
    }
}

/// Takes one sample through the ladder, updating `state`; returns what changed, if anything.
pub fn step(ladder: &Ladder, state: &mut LadderState, sample: Sample) -> Option<Change> {
    step_many(&[(ladder, sample.value)], state, sample.at, sample.flagged)
}

/// Takes one observation of several signals that make one alert (a rain rule's windows: one ladder and one total
/// per window) through their ladders: the alert's colour is the highest any of them stands at, held colours being
/// kept by any signal not below its clear level. The duration is the longest `for_s` of the ladders, and flagged
/// samples may raise above gialla only if every ladder allows it. Signals whose value is not finite are left out;
/// with none left the sample is ignored.
pub fn step_many(
    parts: &[(&Ladder, f64)],
    state: &mut LadderState,
    at: DateTime<Utc>,
    flagged: bool,
) -> Option<Change> {
    if state.last_at.is_some_and(|last| at <= last) {
        return None;
    }
    let parts: Vec<_> = parts.iter().filter(|(_, v)| v.is_finite()).collect();
    if parts.is_empty() {
        return None;
    }
    state.last_at = Some(at);
    let held = state.held();
    let raw = parts.iter().map(|(ladder, v)| ladder.target(*v, held)).max().flatten();
    let target = if flagged {
        let qc_may_raise = parts.iter().all(|(l, _)| l.qc_may_raise);
        let has_gialla = parts.iter().any(|(l, _)| l.thresholds.alert.gialla.is_some());
        trusted_target(raw, held, qc_may_raise, has_gialla)
    } else {
        raw
    };
    let for_s = parts.iter().map(|(l, _)| l.for_s).max().unwrap_or(0);
    advance(state, at, target, for_s)
}

/// What a flagged sample may do: never lower `held`, and without `qc_may_raise` raise it to gialla at most.
fn trusted_target(
    raw: Option<Level>,
    held: Option<Level>,
    qc_may_raise: bool,
    has_gialla: bool,
) -> Option<Level> {
    if raw <= held {
        return held;
    }
    if qc_may_raise {
        return raw;
    }
    if has_gialla && held < Some(Level::Gialla) { Some(Level::Gialla) } else { held }
}

fn advance(state: &mut LadderState, at: DateTime<Utc>, target: Option<Level>, for_s: u32) -> Option<Change> {
    if let Some(from) = state.level {
        state.pending_level = None;
        state.pending_since = None;
        state.level = target;
        return match target {
            Some(to) if to > from => Some(Change::Escalated { from, to }),
            Some(to) if to < from => Some(Change::Deescalated { from, to }),
            Some(_) => None,
            None => Some(Change::Resolved { from }),
        };
    }
    match (state.pending_level, target) {
        (None, None) => None,
        (Some(level), None) => {
            state.pending_level = None;
            state.pending_since = None;
            Some(Change::Withdrawn { level })
        }
        (pending, Some(level)) => {
            let since = state.pending_since.filter(|_| pending.is_some()).unwrap_or(at);
            if at - since >= TimeDelta::seconds(i64::from(for_s)) {
                state.level = Some(level);
                state.pending_level = None;
                state.pending_since = None;
                Some(Change::Fired { level })
            } else {
                state.pending_level = Some(level);
                state.pending_since = Some(since);
                pending.is_none().then_some(Change::Opened { level })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    fn ladder() -> Ladder {
        Ladder::new(Thresholds {
            alert: PerLevel { gialla: Some(2.5), arancione: Some(3.2), rossa: Some(4.0) },
            clear: PerLevel { gialla: Some(2.3), ..PerLevel::default() },
        })
    }

    #[test]
    fn target_uses_thresholds_going_up_and_clear_levels_going_down() {
        let l = ladder();
        assert_eq!(l.target(2.4, None), None);
        assert_eq!(l.target(2.5, None), Some(Level::Gialla));
        assert_eq!(l.target(2.4, Some(Level::Gialla)), Some(Level::Gialla));
        assert_eq!(l.target(2.2, Some(Level::Gialla)), None);
        // No clear level for arancione: 5 % below its threshold, 3.04.
        assert_eq!(l.target(3.1, Some(Level::Arancione)), Some(Level::Arancione));
        assert_eq!(l.target(3.0, Some(Level::Arancione)), Some(Level::Gialla));
        assert_eq!(l.target(5.0, Some(Level::Gialla)), Some(Level::Rossa));
    }

    #[test]
    fn thresholds_problems_name_the_field() {
        let th = Thresholds {
            alert: PerLevel { gialla: Some(3.0), arancione: Some(2.0), rossa: None },
            clear: PerLevel { gialla: Some(3.5), arancione: None, rossa: Some(1.0) },
        };
        let problems = th.problems();
        let fields: Vec<_> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["orange", "clear.red", "clear.yellow", "clear.red"], "{problems:?}");
        assert!(problems[1].1.contains("clear levels increase"));
        assert!(problems[0].1.contains("orange (2) must be above yellow (3)"));
    }

    #[test]
    fn a_ladder_without_gialla_is_not_raised_by_flagged_samples() {
        let l = Ladder::new(Thresholds::single(Level::Rossa, 1.0, None));
        let mut s = LadderState::default();
        assert_eq!(step(&l, &mut s, Sample { at: t(0), value: 9.0, flagged: true }), None);
        assert_eq!(
            step(&l, &mut s, Sample { at: t(1), value: 9.0, flagged: false }),
            Some(Change::Fired { level: Level::Rossa })
        );
    }

    #[test]
    fn non_finite_samples_are_ignored_and_do_not_move_the_clock() {
        let l = ladder();
        let mut s = LadderState::default();
        assert_eq!(step(&l, &mut s, Sample { at: t(5), value: f64::NAN, flagged: false }), None);
        assert_eq!(s.last_at, None);
        assert!(step(&l, &mut s, Sample { at: t(1), value: 3.0, flagged: false }).is_some());
    }

    #[test]
    fn state_round_trips_through_json() {
        let l = ladder().with_for_s(600);
        let mut s = LadderState::default();
        step(&l, &mut s, Sample { at: t(0), value: 3.0, flagged: false });
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["pending_level"], "gialla");
        let back: LadderState = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let empty: LadderState = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, LadderState::default());
        let change =
            serde_json::to_value(Change::Escalated { from: Level::Gialla, to: Level::Rossa }).unwrap();
        assert_eq!(change, serde_json::json!({"change": "escalated", "from": "gialla", "to": "rossa"}));
    }
}
