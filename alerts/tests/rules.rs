//! The rule engine on crafted series: every rule kind fires and clears, hysteresis, `for`, escalation, quality
//! control, replays, and the validation messages of rule files.

use alerts::Level;
use alerts::ladder::{Change, Ladder, LadderState, Sample, step, step_many};
use alerts::rule::{
    self, Category, Hazard, Rule, RuleKind, RuleSet, Signal, StationKind, SubjectKind, signal,
};
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
    increments.resize(27, 0.0);
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
            // 49 mm in 3 h at 210, still above 47.5 (5 % under 50, no clear level given); 41 mm at 260
            (260, Change::Resolved { from: Rossa }),
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

    // with the clear level at the threshold itself the same signal flaps: what the clear level is for
    let at_threshold =
        rule::hydrometer_thresholds(&json!({"yellow": 2.5, "clear": {"yellow": 2.5}})).unwrap().unwrap();
    assert_eq!(changes(&Ladder::new(at_threshold), &series).len(), 40);
    // without one, the default hysteresis (5 % under the threshold) holds it too
    let no_clear = rule::hydrometer_thresholds(&json!({"yellow": 2.5})).unwrap().unwrap();
    assert_eq!(changes(&Ladder::new(no_clear), &series).len(), 2);
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
            // rossa is left below 3.8 (5 % under 4.0, no clear level given), arancione below 3.04
            (60, Change::Deescalated { from: Rossa, to: Arancione }),
            (80, Change::Deescalated { from: Arancione, to: Gialla }),
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

/// The problems of a TOML rule set, as text.
fn problems(toml: &str) -> Vec<String> {
    match RuleSet::parse_toml(toml) {
        Ok(set) => panic!("accepted: {set:?}"),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn toml_validation_says_what_is_wrong_and_where() {
    let toml = r#"[[rules]]
code = "ok"
name = "Fine"
kind = "level"

[[rules]]
code = "bisagno"
name = "Bisagno"
kind = "level"
thresholds = { yellow = 2.5, orange = 2.0, clear = { yellow = 2.6 } }
colour = "red"

[[rules]]
code = "pioggia"
name = "Pioggia"
kind = "rain"
thresholds = { "2h" = { yellow = 30 } }

[[rules]]
code = "ok"
name = "Again"
kind = "zone_count"
min_stations = 0
station_level = "orange"

[[rules]]
code = "x"
name = "X"
kind = "flood"

[[rules]]
code = "Salita Rapida"
name = "Salita"
kind = "rate_of_rise"
rate_m_per_h = -0.5
for = "ten minutes"
"#;
    let got = problems(toml);
    let expected = [
        "line 10, column 39: rule 2 (`bisagno`), thresholds.orange: orange (2) must be above yellow (2.5): \
         thresholds increase",
        "line 10, column 63: rule 2 (`bisagno`), thresholds.clear.yellow: clear.yellow (2.6) must not be above \
         yellow (2.5)",
        "line 11, column 10: rule 2 (`bisagno`), colour: unknown field `colour` for a level rule (expected code, \
         name, kind, hazard, stations, station_kind, zones, for, qc_may_raise, thresholds)",
        "line 17, column 23: rule 3 (`pioggia`), thresholds.2h: unknown window `2h` (expected one of 5m, 15m, 30m, \
         1h, 3h, 6h, 12h, 24h)",
        "line 23, column 16: rule 4 (`ok`), min_stations: min_stations must be at least 1 and at most 10000, not 0",
        "line 20, column 8: rule 4 (`ok`), code: duplicate code `ok` (also rule 1)",
        "line 29, column 8: rule 5 (`x`), kind: unknown kind `flood` (expected one of level, rate_of_rise, rain, \
         zone_count, zone_mean_rain, silent)",
        "line 32, column 8: rule 6, code: `Salita Rapida` is not a code: 1 to 64 characters among a-z, 0-9, _ and -",
        "line 36, column 7: rule 6, for: expected a duration such as \"90s\", \"10m\" or \"1h\", or a number of \
         seconds",
        "line 35, column 16: rule 6, rate_m_per_h: must be a positive rise in m/h, not -0.5",
    ];
    assert_eq!(got, expected);
}

#[test]
fn missing_fields_mistyped_values_and_misplaced_selectors_are_named() {
    let got = problems(
        r#"[[rules]]
name = 3
kind = "zone_mean_rain"
stations = ["GE-01"]
window = "1h"
thresholds = { yellow = "lots" }

[[rules]]
code = "muta"
name = "Muta"
kind = "silent"
hazard = "idraulico"
factor = 0.5

[[rules]]
code = "livello-pluvio"
name = "Livello"
kind = "level"
station_kind = "rain_gauge"
thresholds = { clear = { yellow = 1 } }
"#,
    );
    let expected = [
        "line 1, column 1: rule 1, missing field `code`",
        "line 2, column 8: rule 1, name: expected a string, found an integer",
        "line 6, column 25: rule 1, thresholds.yellow: expected a number, found a string",
        "line 4, column 12: rule 1, stations: a zone_mean_rain rule applies to zones: select them with `zones`",
        "line 13, column 10: rule 2 (`muta`), factor: 0.5 must lie between 1 and 1000 intervals",
        "line 12, column 10: rule 2 (`muta`), hazard: a silent rule is technical: its hazard is tecnico",
        "line 20, column 14: rule 3 (`livello-pluvio`), thresholds: no threshold given (expected yellow, orange \
         and/or red)",
        "line 20, column 35: rule 3 (`livello-pluvio`), thresholds.clear.yellow: clear.yellow is given but yellow \
         is not",
        "line 19, column 16: rule 3 (`livello-pluvio`), station_kind: a level rule watches hydrometer stations, not \
         rain_gauge",
    ];
    assert_eq!(got, expected);
    let syntax = problems("[[rules]]\ncode = \"a\"\nname = \n");
    assert_eq!(syntax.len(), 1);
    assert!(syntax[0].starts_with("line 3, column 8: not valid TOML: "), "{syntax:?}");
    let stray = problems("[[rule]]\ncode = \"a\"\n");
    assert_eq!(
        stray,
        ["line 1, column 1: rule: unknown field `rule` in a rules file (expected rules ([[rules]] tables))"]
    );
}

#[test]
fn check_file_names_the_file_and_sums_up_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("rules.toml");
    std::fs::write(
        &good,
        r#"[[rules]]
code = "bisagno"
name = "Bisagno"
kind = "level"
stations = ["GE-BISAGNO-01"]

[[rules]]
code = "pioggia-b"
name = "Pioggia zona B"
kind = "zone_mean_rain"
zones = ["B"]
window = "3h"
thresholds = { yellow = 40, orange = 80, red = 120 }

[[rules]]
code = "muta-lenta"
name = "Stazione muta"
kind = "silent"
factor = 6
"#,
    )
    .unwrap();
    let summary = rule::check_file(&good).unwrap();
    assert_eq!(summary.to_string(), "3 rules: 1 level, 1 silent, 1 zone_mean_rain");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rules]]\ncode = \"a\"\nname = \"A\"\nkind = \"level\"\nfor = \"2d\"\n").unwrap();
    let problems = rule::check_file(&bad).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        format!(
            "{}:5:7: rule 1 (`a`), for: expected a duration such as \"90s\", \"10m\" or \"1h\", or a number of seconds",
            bad.display()
        )
    );
    let missing = rule::check_file(&dir.path().join("nope.toml")).unwrap_err();
    assert!(missing[0].to_string().contains("nope.toml: cannot read the file"), "{}", missing[0]);
}

#[test]
fn a_configuration_file_gives_its_alerts_rules_and_nothing_else() {
    let config = r#"
data_dir = "/var/lib/vedetta"
[http]
listen = "0.0.0.0:8080"

[alerts]
something_of_the_evaluator = true

[[alerts.rules]]
code = "bisagno"
name = "Bisagno"
kind = "level"
for = 300
"#;
    let set = RuleSet::parse_toml(config).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.get("bisagno").unwrap().for_s, 300);
    let err = RuleSet::parse_toml("[[alerts.rules]]\ncode = \"a\"\nkind = \"level\"\n").unwrap_err();
    assert_eq!(err[0].to_string(), "line 1, column 1: rule 1 (`a`), missing field `name`");
    // the built-in rules complete a set; a configured rule of the same code replaces one
    let with = set.with_builtin();
    assert_eq!(
        with.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        ["bisagno", "level", "rain", "silent"]
    );
    let replaced =
        RuleSet::parse_toml("[[rules]]\ncode = \"silent\"\nname = \"Muta\"\nkind = \"silent\"\nfactor = 5\n")
            .unwrap()
            .with_builtin();
    assert_eq!(replaced.len(), 3);
    assert!(matches!(replaced.get("silent").unwrap().kind, RuleKind::Silent { factor: 5.0, .. }));
}

#[test]
fn json_rules_of_the_admin_api_get_the_same_checks() {
    let rule = Rule::from_json(&json!({
        "code": "salita-bisagno", "name": "Salita Bisagno", "kind": "rate_of_rise", "stations": ["GE-BISAGNO-01"],
        "rate_m_per_h": 0.5, "window": "30m", "level": "arancione", "hazard": "idraulico"
    }))
    .unwrap();
    assert_eq!(
        rule.kind,
        RuleKind::RateOfRise { rate_m_per_h: 0.5, clear_m_per_h: None, window_s: 1800, level: Arancione }
    );
    // stored as JSON and read back (serde goes through the same checks)
    let stored = serde_json::to_string(&rule).unwrap();
    assert_eq!(serde_json::from_str::<Rule>(&stored).unwrap(), rule);

    let err = Rule::from_json(&json!({"code": "x", "name": "X", "kind": "silent", "factr": 3})).unwrap_err();
    assert_eq!(
        rule::Problem::join(&err),
        "rule `x`, factr: unknown field `factr` for a silent rule (expected code, name, kind, hazard, stations, \
         station_kind, zones, for, qc_may_raise, factor, level)"
    );
    let err = serde_json::from_value::<Rule>(
        json!({"code": "x", "name": "X", "kind": "level", "hazard": "tecnico"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("hazard `tecnico` is for silent rules"), "{err}");
    let dup =
        json!([{"code": "a", "name": "A", "kind": "level"}, {"code": "a", "name": "B", "kind": "rain"}]);
    assert_eq!(
        rule::Problem::join(&RuleSet::from_json(&dup).unwrap_err()),
        "rule 2 (`a`), code: duplicate code `a` (also rule 1)"
    );
    let err: alerts::Error = RuleSet::from_json(&json!({"rulez": []})).unwrap_err().into();
    assert_eq!(err.to_string(), "invalid alert rules: rulez: unknown field `rulez` (expected rules)");
}

#[test]
fn station_thresholds_build_ladders_and_bad_ones_are_reported() {
    let gauge = json!({"1h": {"yellow": 30, "orange": 50, "red": 70}, "24h": {"red": 250}, "3h": {}});
    let ladders = rule::station_ladders(StationKind::RainGauge, &gauge).unwrap();
    let windows: Vec<_> = ladders.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        windows,
        [Signal::Rain { window: rule::RainWindow::H1 }, Signal::Rain { window: rule::RainWindow::H24 }]
    );
    assert_eq!(ladders[0].1.thresholds.alert.arancione, Some(50.0));
    assert!(rule::station_ladders(StationKind::RainGauge, &serde_json::Value::Null).unwrap().is_empty());

    let bad = rule::hydrometer_thresholds(&json!({"yellow": 3.0, "orange": 2.0, "purple": 1})).unwrap_err();
    assert_eq!(
        rule::Problem::join(&bad),
        "thresholds.purple: unknown field `purple` (expected yellow, orange, red, clear); thresholds.orange: orange \
         (2) must be above yellow (3): thresholds increase"
    );
    let bad = rule::rain_gauge_thresholds(&json!({"2h": {"red": 10}})).unwrap_err();
    assert!(bad[0].to_string().starts_with("thresholds.2h: unknown window `2h`"), "{}", bad[0]);
}

#[test]
fn a_duration_ending_in_a_multibyte_character_is_a_problem_not_a_panic() {
    for bad in ["1é", "€", "5é", "10 m", ""] {
        let json = serde_json::json!([{"code": "a", "name": "a", "kind": "level", "for": bad}]);
        let problems = RuleSet::from_json(&json).unwrap_err();
        assert!(
            alerts::rule::Problem::join(&problems).contains("expected a duration"),
            "{bad}: {problems:?}"
        );
    }
    let json = serde_json::json!([{"code": "b", "name": "b", "kind": "rate_of_rise", "rate_m_per_h": 1, "window": "€"}]);
    assert!(RuleSet::from_json(&json).is_err());
}
