//! The rule engine on crafted series: every rule kind fires and clears, hysteresis, `for`, escalation, quality
//! control, replays, and the validation messages of rule files.

use alerts::Level;
use alerts::ladder::{Change, Ladder, LadderState, Sample, step, step_many};
use alerts::rule::{self, Category, Hazard, Rule, RuleSet, Signal, StationKind, SubjectKind, signal};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use Level::{Arancione, Gialla, Rossa};

/// `min` minutes after a fixed instant.
fn t(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap() + TimeDelta::minutes(min)
}

fn one_rule(toml: &str) -> Rule {
    let set = RuleSet::parse_toml(toml).unwrap_or_else(|p| panic!("{}", rule::Problem::join(&p)));
    assert_eq!(set.len(), 1);
    set.rules()[0].clone()
}

fn only_ladder(rule: &Rule, station: Option<&serde_json::Value>) -> (Signal, Ladder) {
    let mut ladders = rule.ladders(station).unwrap();
    assert_eq!(ladders.len(), 1, "{ladders:?}");
    ladders.remove(0)
}

/// Feeds `(minute, value)` samples (not flagged); returns the changes with their minute.
fn run(ladder: &Ladder, state: &mut LadderState, series: &[(i64, f64)]) -> Vec<(i64, Change)> {
    series
        .iter()
        .filter_map(|&(m, value)| {
            step(ladder, state, Sample { at: t(m), value, flagged: false }).map(|c| (m, c))
        })
        .collect()
}

fn changes(ladder: &Ladder, series: &[(i64, f64)]) -> Vec<(i64, Change)> {
    run(ladder, &mut LadderState::default(), series)
}

fn every_10_min(values: &[f64]) -> Vec<(i64, f64)> {
    values.iter().enumerate().map(|(i, v)| (i as i64 * 10, *v)).collect()
}

const STATION: &str = r#"{"yellow": 2.5, "orange": 3.2, "red": 4.0, "clear": {"yellow": 2.3}}"#;

#[test]
fn level_rule_fires_and_clears_on_the_station_thresholds() {
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (signal, ladder) = only_ladder(RuleSet::builtin().get("level").unwrap(), Some(&station));
    assert_eq!(signal, Signal::Level);
    let got = changes(&ladder, &every_10_min(&[2.0, 2.4, 2.6, 2.4, 2.35, 2.2, 2.1]));
    assert_eq!(got, [(20, Change::Fired { level: Gialla }), (50, Change::Resolved { from: Gialla })]);
    // the same through station_ladders, the built-in rules' entry point
    assert_eq!(rule::station_ladders(StationKind::Hydrometer, &station).unwrap(), [(signal, ladder)]);
    // a station without thresholds has no ladder
    assert!(RuleSet::builtin().get("level").unwrap().ladders(Some(&json!({}))).unwrap().is_empty());
}

#[test]
fn level_rule_thresholds_of_its_own_win_over_the_station() {
    let rule = one_rule(
        r#"[[rules]]
           code = "bisagno"
           name = "Bisagno a Sant'Agata"
           kind = "level"
           stations = ["GE-BISAGNO-01"]
           thresholds = { yellow = 1.0, red = 2.0 }"#,
    );
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (_, ladder) = only_ladder(&rule, Some(&station));
    let got = changes(&ladder, &every_10_min(&[0.5, 1.5, 2.5, 0.9]));
    assert_eq!(
        got,
        [
            (10, Change::Fired { level: Gialla }),
            (20, Change::Escalated { from: Gialla, to: Rossa }),
            (30, Change::Resolved { from: Rossa })
        ]
    );
    assert_eq!(rule.hazard, Hazard::Idraulico);
    assert!(rule.applies_to_station("GE-BISAGNO-01", StationKind::Hydrometer, Some("B")));
    assert!(!rule.applies_to_station("GE-FERECCHIA-01", StationKind::Hydrometer, Some("B")));
}

#[test]
fn rate_of_rise_fires_while_the_river_rises_fast_and_clears_when_it_slows() {
    let rule = one_rule(
        r#"[[rules]]
           code = "salita"
           name = "Salita rapida"
           kind = "rate_of_rise"
           rate_m_per_h = 0.5
           clear_m_per_h = 0.2
           window = "30m""#,
    );
    let (signal, ladder) = only_ladder(&rule, None);
    let Signal::RateOfRise { window_s } = signal else { panic!("{signal:?}") };
    // level every 10 minutes: steady, rising 0.1 m per 10 minutes (0.6 m/h), then slowing and flat
    let levels = [1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.4, 1.45, 1.48, 1.5, 1.5, 1.5];
    let series = every_10_min(&levels);
    let mut state = LadderState::default();
    let mut got = Vec::new();
    for (i, &(m, _)) in series.iter().enumerate() {
        let seen: Vec<_> = series[..=i].iter().map(|&(m, v)| (t(m), v)).collect();
        let Some(rate) = signal::rate_of_rise(&seen, t(m), TimeDelta::seconds(window_s.into())) else {
            continue;
        };
        if let Some(change) = step(&ladder, &mut state, Sample { at: t(m), value: rate, flagged: false }) {
            got.push((m, change));
        }
    }
    // 0.3 m in 30 min at minute 50 (0.6 m/h); held at 0.2 m/h (minute 90), below it at minute 100 (0.05 m)
    assert_eq!(got, [(50, Change::Fired { level: Gialla }), (100, Change::Resolved { from: Gialla })]);
}

#[test]
fn rain_rule_uses_every_window_and_clears_when_the_rain_stops() {
    let rule = one_rule(
        r#"[[rules]]
           code = "pioggia"
           name = "Pioggia forte"
           kind = "rain"
           [rules.thresholds."30m"]
           yellow = 10
           orange = 20
           clear = { yellow = 5 }
           [rules.thresholds."3h"]
           red = 50"#,
    );
    assert_eq!(rule.hazard, Hazard::Idrogeologico);
    let ladders = rule.ladders(None).unwrap();
    assert_eq!(ladders.len(), 2);
    // mm every 10 minutes: a shower, a pause, a long downpour, then dry
    let mut increments = vec![0.0, 4.0, 4.0, 4.0, 1.0, 0.0, 0.0, 0.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0];
    increments.resize(22, 0.0);
    let series: Vec<_> = every_10_min(&increments).into_iter().map(|(m, v)| (t(m), v)).collect();
    let mut state = LadderState::default();
    let mut got = Vec::new();
    for &(at, _) in &series {
        let totals: Vec<_> = ladders
            .iter()
            .map(|(signal, ladder)| {
                let Signal::Rain { window } = signal else { panic!("{signal:?}") };
                (ladder, signal::rain_total(&series, at, window.duration()))
            })
            .collect();
        if let Some(change) = step_many(&totals, &mut state, at, false) {
            got.push(((at - t(0)).num_minutes(), change));
        }
    }
    assert_eq!(
        got,
        [
            (30, Change::Fired { level: Gialla }),   // 12 mm in 30 min
            (60, Change::Resolved { from: Gialla }), // 1 mm, below the clear level 5 (not at 40: 9 mm)
            (90, Change::Fired { level: Gialla }),   // 16 mm
            (100, Change::Escalated { from: Gialla, to: Arancione }), // 24 mm
            (120, Change::Escalated { from: Arancione, to: Rossa }), // 53 mm in 3 h
            (210, Change::Resolved { from: Rossa }), // 49 mm in 3 h, dry for an hour
        ]
    );
}

#[test]
fn zone_count_fires_when_enough_stations_of_the_zone_are_orange() {
    let rule = one_rule(
        r#"[[rules]]
           code = "zona-b-piene"
           name = "Più corsi d'acqua in piena"
           kind = "zone_count"
           zones = ["B"]
           min_stations = 2
           station_level = "arancione"
           level = "rossa""#,
    );
    assert_eq!(rule.subject_kind(), SubjectKind::Zone);
    assert!(rule.applies_to_zone("B") && !rule.applies_to_zone("A"));
    assert!(!rule.applies_to_station("X", StationKind::Hydrometer, Some("B")));
    let (signal, ladder) = only_ladder(&rule, None);
    let Signal::ZoneCount { station_level } = signal else { panic!("{signal:?}") };
    let over_time = [
        [None, Some(Gialla), None],
        [Some(Arancione), Some(Gialla), None],
        [Some(Arancione), Some(Rossa), None],
        [Some(Arancione), Some(Arancione), Some(Gialla)],
        [Some(Gialla), Some(Arancione), None],
    ];
    let counts: Vec<_> = over_time
        .iter()
        .enumerate()
        .map(|(i, levels)| (i as i64 * 10, signal::count_at_least(*levels, station_level) as f64))
        .collect();
    let got = changes(&ladder, &counts);
    assert_eq!(got, [(20, Change::Fired { level: Rossa }), (40, Change::Resolved { from: Rossa })]);
}

#[test]
fn zone_mean_rain_fires_and_clears_on_the_mean_of_the_gauges() {
    let rule = one_rule(
        r#"[[rules]]
           code = "zona-b-pioggia"
           name = "Pioggia media zona B"
           kind = "zone_mean_rain"
           window = "1h"
           thresholds = { yellow = 20, orange = 40 }"#,
    );
    let (signal, ladder) = only_ladder(&rule, None);
    assert_eq!(signal, Signal::ZoneMeanRain { window: rule::RainWindow::H1 });
    let totals = [[5.0, 10.0, 15.0], [10.0, 20.0, 30.0], [50.0, 40.0, f64::NAN], [5.0, 5.0, 5.0]];
    let means: Vec<_> =
        totals.iter().enumerate().map(|(i, t)| (i as i64 * 10, signal::zone_mean(*t).unwrap())).collect();
    let got = changes(&ladder, &means);
    assert_eq!(
        got,
        [
            (10, Change::Fired { level: Gialla }),
            (20, Change::Escalated { from: Gialla, to: Arancione }),
            (30, Change::Resolved { from: Arancione })
        ]
    );
}

#[test]
fn a_silent_station_raises_a_technical_alert_that_clears_when_it_reports_again() {
    let silent = RuleSet::builtin().get("silent").unwrap().clone();
    assert_eq!((silent.category(), silent.hazard), (Category::Technical, Hazard::Tecnico));
    assert!(silent.applies_to_station("P1", StationKind::RainGauge, None));
    assert!(silent.applies_to_station("H1", StationKind::Hydrometer, None));
    let (signal, ladder) = only_ladder(&silent, None);
    assert_eq!(signal, Signal::Silence);
    // interval 10 minutes, last reading at 0, checked every 10 minutes; a reading again at 45
    let mut state = LadderState::default();
    let mut got = Vec::new();
    for (now, last) in [(10, 0), (20, 0), (30, 0), (40, 0), (45, 45), (50, 45)] {
        let ratio = signal::silence_ratio(t(last), t(now), 600).unwrap();
        if let Some(change) = step(&ladder, &mut state, Sample { at: t(now), value: ratio, flagged: false }) {
            got.push((now, change));
        }
    }
    assert_eq!(got, [(30, Change::Fired { level: Gialla }), (45, Change::Resolved { from: Gialla })]);
}

#[test]
fn hysteresis_stops_a_level_oscillating_around_its_threshold_from_flapping() {
    let oscillating: Vec<_> = (0..40).map(|i| (i, if i % 2 == 0 { 2.45 } else { 2.55 })).collect();
    let mut series = vec![(-1, 2.0)];
    series.extend(&oscillating);
    series.push((40, 2.2));
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (_, ladder) = only_ladder(RuleSet::builtin().get("level").unwrap(), Some(&station));
    let got = changes(&ladder, &series);
    assert_eq!(got, [(1, Change::Fired { level: Gialla }), (40, Change::Resolved { from: Gialla })]);

    // without a clear level the same signal flaps: what the clear level is for
    let no_clear = rule::hydrometer_thresholds(&json!({"yellow": 2.5})).unwrap().unwrap();
    assert_eq!(changes(&Ladder::new(no_clear), &series).len(), 40);
}

#[test]
fn for_delays_firing_and_a_short_spike_is_withdrawn() {
    let rule = one_rule(
        r#"[[rules]]
           code = "livello-persistente"
           name = "Livello persistente"
           kind = "level"
           for = "10m"
           thresholds = { yellow = 2.5, orange = 3.2 }"#,
    );
    let (_, ladder) = only_ladder(&rule, None);
    assert_eq!(ladder.for_s, 600);
    let series = [(0, 2.0), (5, 3.0), (10, 2.0), (20, 2.6), (25, 3.5), (30, 3.4), (35, 2.0)];
    let got = changes(&ladder, &series);
    assert_eq!(
        got,
        [
            (5, Change::Opened { level: Gialla }),
            (10, Change::Withdrawn { level: Gialla }),
            (20, Change::Opened { level: Gialla }),
            // ten minutes after the opening and still above: fires at the colour it stands at now
            (30, Change::Fired { level: Arancione }),
            (35, Change::Resolved { from: Arancione })
        ]
    );
}

#[test]
fn escalation_and_deescalation_stay_in_one_episode() {
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (_, ladder) = only_ladder(RuleSet::builtin().get("level").unwrap(), Some(&station));
    let got = changes(&ladder, &every_10_min(&[2.0, 2.6, 3.3, 4.1, 4.5, 3.9, 3.3, 3.1, 2.4, 2.2]));
    assert_eq!(
        got,
        [
            (10, Change::Fired { level: Gialla }),
            (20, Change::Escalated { from: Gialla, to: Arancione }),
            (30, Change::Escalated { from: Arancione, to: Rossa }),
            (50, Change::Deescalated { from: Rossa, to: Arancione }),
            (70, Change::Deescalated { from: Arancione, to: Gialla }),
            (90, Change::Resolved { from: Gialla })
        ]
    );
    // a jump over a colour is one change
    assert_eq!(
        changes(&ladder, &[(0, 4.5), (1, 2.4), (2, 1.0)]),
        [
            (0, Change::Fired { level: Rossa }),
            (1, Change::Deescalated { from: Rossa, to: Gialla }),
            (2, Change::Resolved { from: Gialla })
        ]
    );
}

#[test]
fn flagged_samples_never_raise_orange_or_red_on_their_own() {
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (_, ladder) = only_ladder(RuleSet::builtin().get("level").unwrap(), Some(&station));
    let mut state = LadderState::default();
    let feed = |state: &mut LadderState, m, value, flagged| {
        step(&ladder, state, Sample { at: t(m), value, flagged })
    };
    assert_eq!(feed(&mut state, 0, 4.5, true), Some(Change::Fired { level: Gialla }));
    assert_eq!(feed(&mut state, 1, 4.5, true), None);
    assert_eq!(feed(&mut state, 2, 1.0, true), None, "a flagged sample does not clear");
    assert_eq!(feed(&mut state, 3, 4.5, false), Some(Change::Escalated { from: Gialla, to: Rossa }));
    assert_eq!(feed(&mut state, 4, 0.0, true), None, "a flagged sample does not lower");
    assert_eq!(feed(&mut state, 5, 0.0, false), Some(Change::Resolved { from: Rossa }));

    // configurable: a rule may trust flagged readings to raise
    let trusting = ladder.with_qc_may_raise(true);
    let mut state = LadderState::default();
    let got = step(&trusting, &mut state, Sample { at: t(0), value: 4.5, flagged: true });
    assert_eq!(got, Some(Change::Fired { level: Rossa }));
    let toml = "[[rules]]\ncode = \"q\"\nname = \"Q\"\nkind = \"level\"\nqc_may_raise = true\n";
    assert!(only_ladder(&one_rule(toml), Some(&station)).1.qc_may_raise);
}

#[test]
fn replayed_and_duplicated_samples_change_nothing() {
    let station: serde_json::Value = serde_json::from_str(STATION).unwrap();
    let (_, ladder) = only_ladder(RuleSet::builtin().get("level").unwrap(), Some(&station));
    let series = every_10_min(&[2.0, 2.6, 3.3, 2.0, 2.7]);
    let mut state = LadderState::default();
    assert_eq!(run(&ladder, &mut state, &series).len(), 4);
    // the evaluator persists the state as JSON and reloads it after a restart
    let mut state: LadderState = serde_json::from_value(serde_json::to_value(state).unwrap()).unwrap();
    assert_eq!(run(&ladder, &mut state, &series), []);
    assert_eq!(run(&ladder, &mut state, &[(40, 0.0)]), [], "a duplicate of the last sample");
    assert_eq!(run(&ladder, &mut state, &[(35, 0.0)]), [], "a late sample older than the last one");
    assert_eq!(run(&ladder, &mut state, &[(41, 0.0)]), [(41, Change::Resolved { from: Gialla })]);
}
