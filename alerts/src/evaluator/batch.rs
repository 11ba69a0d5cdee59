//! The leader's work: rules, stations and zones in memory, one transaction per batch of events.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use database::event::{Event, Spine};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;
use tracing::{debug, warn};

use super::EvaluatorOptions;
use super::series::{LOOKBACK, Series};
use crate::alert::{Alert, Category, SubjectKind};
use crate::ladder::{self, Change, Ladder, LadderState};
use crate::rule::{Rule, RuleSet, Signal, StationKind, signal};
use crate::store::{self, Context, Key, cursor, save_cursor};
use crate::{Error, Level, Result};

/// The consumer name of the evaluator's cursor.
const CONSUMER: &str = "evaluator";

/// What the evaluator reads of a `readings.committed` event.
#[derive(Debug, Deserialize)]
struct Committed {
    station_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct StationInfo {
    code: String,
    name: String,
    kind: StationKind,
    interval_s: i64,
    zone: Option<String>,
    last_observed_at: Option<DateTime<Utc>>,
}

/// The ladders one rule runs for one subject.
#[derive(Debug, Clone)]
struct Plan {
    rule: usize,
    ladders: Vec<(Signal, Ladder)>,
}

impl Plan {
    fn is_silence(&self) -> bool {
        self.ladders.iter().any(|(s, _)| matches!(s, Signal::Silence))
    }
}

/// A change a rule decided, to be written.
#[derive(Debug)]
struct Decided {
    key: Key,
    ctx: Context,
    change: Change,
    at: DateTime<Utc>,
    value: Option<f64>,
}

impl Decided {
    /// A change of a station rule.
    fn station(
        rule: &Rule,
        info: &StationInfo,
        plan: &Plan,
        change: Change,
        at: DateTime<Utc>,
        value: Option<f64>,
    ) -> Decided {
        Decided {
            key: Key {
                rule: rule.code.clone(),
                subject_kind: SubjectKind::Station,
                subject: info.code.clone(),
            },
            ctx: context(rule, info.zone.clone(), &info.name, plan),
            change,
            at,
            value,
        }
    }
}

/// The evaluator while it leads.
#[derive(Debug)]
pub struct Leader {
    pool: PgPool,
    opts: EvaluatorOptions,
    rules: RuleSet,
    stations: HashMap<i64, StationInfo>,
    /// Station ids per zone code.
    zones: BTreeMap<String, Vec<i64>>,
    plans: HashMap<i64, Vec<Plan>>,
    zone_plans: Vec<(String, Plan)>,
    states: HashMap<(String, String), LadderState>,
    dirty: HashSet<(String, String)>,
    series: HashMap<i64, Series>,
    cursor: i64,
}

impl Leader {
    pub fn new(pool: PgPool, opts: EvaluatorOptions) -> Leader {
        Leader {
            pool,
            opts,
            rules: RuleSet::default(),
            stations: HashMap::new(),
            zones: BTreeMap::new(),
            plans: HashMap::new(),
            zone_plans: Vec::new(),
            states: HashMap::new(),
            dirty: HashSet::new(),
            series: HashMap::new(),
            cursor: 0,
        }
    }

    /// Evaluates until an error (the caller starts a new leader, which reloads everything from the database).
    pub async fn run(&mut self, spine: &Spine) -> Result<()> {
        self.reload().await?;
        self.load_states().await?;
        self.cursor = match cursor(&self.pool, CONSUMER).await? {
            Some(id) => id,
            None => {
                // First start: evaluate every event still retained, so that readings committed before any
                // evaluator ran (a backfill at installation) are not skipped.
                save_cursor(&self.pool, CONSUMER, 0).await?;
                0
            }
        };
        let mut sub = spine.subscribe(Some(self.cursor), &[sensors_kind()]);
        let mut tick = tokio::time::interval(self.opts.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                first = sub.next() => {
                    let first = first.map_err(|e| Error::Spine(e.to_string()))?
                        .ok_or_else(|| Error::Spine("the event spine stopped".into()))?;
                    let mut events = vec![first];
                    while events.len() < self.opts.max_batch {
                        match tokio::time::timeout(std::time::Duration::from_millis(2), sub.next()).await {
                            Ok(Ok(Some(e))) => events.push(e),
                            _ => break,
                        }
                    }
                    self.process(&events).await?;
                }
                _ = tick.tick() => {
                    self.reload().await?;
                    self.tick().await?;
                }
            }
        }
    }

    /// Rules (configuration, `alerts.rule`, built-in), stations and zones, and what runs on each.
    async fn reload(&mut self) -> Result<()> {
        let mut rules: Vec<Rule> = self.opts.rules.rules().to_vec();
        let stored: Vec<(String, Value)> =
            sqlx::query_as("select code, definition from alerts.rule order by code")
                .fetch_all(&self.pool)
                .await?;
        for (code, definition) in stored {
            match Rule::from_json(&definition) {
                Ok(rule) if rules.iter().all(|r| r.code != rule.code) => rules.push(rule),
                Ok(_) => {
                    warn!(rule = %code, "A stored rule has the code of a configured one; the configured wins.")
                }
                Err(p) => {
                    warn!(rule = %code, problems = %crate::rule::Problem::join(&p), "A stored rule is invalid.")
                }
            }
        }
        self.rules = RuleSet::new(rules).map_err(Error::from)?.with_builtin();

        let mut conn = self.pool.acquire().await?;
        let zone_of = crate::zone::zones_of_stations(&mut conn).await?;
        type Row = (i64, String, String, String, i32, Value, Option<DateTime<Utc>>);
        let rows: Vec<Row> = sqlx::query_as(
            "select id, code, name, kind, interval_s, thresholds, last_observed_at from sensors.station_alerting",
        )
        .fetch_all(&mut *conn)
        .await?;
        let zone_codes: Vec<String> =
            sqlx::query_scalar("select code from alerts.zone order by code").fetch_all(&mut *conn).await?;
        drop(conn);

        self.stations.clear();
        self.plans.clear();
        self.zones = zone_codes.iter().map(|z| (z.clone(), Vec::new())).collect();
        for (id, code, name, kind, interval_s, thresholds, last_observed_at) in rows {
            let Ok(kind) = kind.parse::<StationKind>() else { continue };
            let zone = zone_of.get(&code).cloned();
            let mut plans = Vec::new();
            for (i, rule) in self.rules.iter().enumerate() {
                if !rule.applies_to_station(&code, kind, zone.as_deref()) {
                    continue;
                }
                match rule.ladders(Some(&thresholds)) {
                    Ok(ladders) if !ladders.is_empty() => plans.push(Plan { rule: i, ladders }),
                    Ok(_) => {}
                    Err(p) => {
                        debug!(station = %code, rule = %rule.code, problems = %crate::rule::Problem::join(&p), "Rule skipped.")
                    }
                }
            }
            if let Some(z) = &zone {
                self.zones.entry(z.clone()).or_default().push(id);
            }
            self.plans.insert(id, plans);
            self.stations.insert(
                id,
                StationInfo { code, name, kind, interval_s: i64::from(interval_s), zone, last_observed_at },
            );
        }
        self.zone_plans.clear();
        for zone in self.zones.keys() {
            for (i, rule) in self.rules.iter().enumerate() {
                if rule.applies_to_zone(zone)
                    && let Ok(ladders) = rule.ladders(None)
                    && !ladders.is_empty()
                {
                    self.zone_plans.push((zone.clone(), Plan { rule: i, ladders }));
                }
            }
        }
        Ok(())
    }

    async fn load_states(&mut self) -> Result<()> {
        let rows: Vec<(String, String, Value)> =
            sqlx::query_as("select rule, subject, state from alerts.evaluation_state")
                .fetch_all(&self.pool)
                .await?;
        self.states = rows
            .into_iter()
            .filter_map(|(rule, subject, state)| Some(((rule, subject), serde_json::from_value(state).ok()?)))
            .collect();
        Ok(())
    }

    /// Evaluates the readings a batch of events announces, then commits.
    async fn process(&mut self, events: &[std::sync::Arc<Event>]) -> Result<()> {
        let started = std::time::Instant::now();
        if let Some(oldest) = events.first() {
            let lag = (Utc::now() - oldest.created_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("vedetta_alert_evaluation_lag_seconds").record(lag);
        }
        let mut ranges: BTreeMap<i64, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        for event in events {
            // One event per ingest batch: an array with an element per station and quantity (or one object).
            let announced: Vec<Committed> = match &event.payload {
                Value::Array(items) => {
                    items.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect()
                }
                other => serde_json::from_value(other.clone()).ok().into_iter().collect(),
            };
            if announced.is_empty() {
                warn!(event = event.id, "A readings event the evaluator cannot read; skipped.");
            }
            for c in announced {
                let r = ranges.entry(c.station_id).or_insert((c.from, c.to));
                r.0 = r.0.min(c.from);
                r.1 = r.1.max(c.to);
            }
        }
        if ranges.keys().any(|id| !self.stations.contains_key(id)) {
            self.reload().await?;
        }
        ranges.retain(|id, _| self.stations.contains_key(id));
        // A station no rule reads readings of (only `silent` watches it) needs its latest time only.
        for (id, (_, to)) in &ranges {
            if let Some(info) = self.stations.get_mut(id) {
                info.last_observed_at = Some(info.last_observed_at.map_or(*to, |t| t.max(*to)));
            }
        }
        ranges.retain(|id, _| self.needs_readings(*id));
        self.fetch(&ranges).await?;

        let mut decided = Vec::new();
        let mut zones = BTreeSet::new();
        for (id, (from, _)) in &ranges {
            self.evaluate_station(*id, *from, &mut decided);
            if let Some(zone) = self.stations.get(id).and_then(|s| s.zone.clone()) {
                zones.insert(zone);
            }
        }
        self.evaluate_zones(&zones, Utc::now(), &mut decided).await?;
        for id in ranges.keys() {
            if let Some(series) = self.series.get_mut(id) {
                series.trim();
            }
        }
        let cursor = events.last().map_or(self.cursor, |e| e.id);
        self.commit(decided, cursor).await?;
        metrics::histogram!("vedetta_alert_evaluation_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("vedetta_alert_events_evaluated_total").increment(events.len() as u64);
        Ok(())
    }

    /// Whether some rule reads the station's readings: one of its own (not `silent`), or a zone rule averaging the
    /// rain of its zone.
    fn needs_readings(&self, id: i64) -> bool {
        let own = self.plans.get(&id).is_some_and(|plans| plans.iter().any(|p| !p.is_silence()));
        let zone_rain = self.stations.get(&id).is_some_and(|s| {
            s.kind == StationKind::RainGauge
                && s.zone.as_ref().is_some_and(|z| {
                    self.zone_plans.iter().any(|(zone, p)| {
                        zone == z
                            && p.ladders.iter().any(|(sig, _)| matches!(sig, Signal::ZoneMeanRain { .. }))
                    })
                })
        });
        own || zone_rain
    }

    /// Loads readings: the announced range of stations already followed, the lookback of the others.
    async fn fetch(&mut self, ranges: &BTreeMap<i64, (DateTime<Utc>, DateTime<Utc>)>) -> Result<()> {
        let (mut ids, mut froms, mut tos) = (Vec::new(), Vec::new(), Vec::new());
        for (id, (from, to)) in ranges {
            ids.push(*id);
            // What a rule may look back to from the earliest new reading must be in memory.
            let need = *from - LOOKBACK;
            let start = match self.series.get(id).and_then(Series::covered_from) {
                Some(covered) if covered <= need => *from,
                _ => need,
            } - chrono::TimeDelta::microseconds(1);
            froms.push(start);
            tos.push(*to);
        }
        if ids.is_empty() {
            return Ok(());
        }
        let rows: Vec<(i64, DateTime<Utc>, f64, i32)> = sqlx::query_as(
            "select station_id, observed_at, value, qc from sensors.readings_between($1, $2, $3)",
        )
        .bind(&ids)
        .bind(&froms)
        .bind(&tos)
        .fetch_all(&self.pool)
        .await?;
        let mut by_station: HashMap<i64, Vec<(DateTime<Utc>, f64, bool)>> = HashMap::new();
        for (id, at, value, qc) in rows {
            by_station.entry(id).or_default().push((at, value, qc != 0));
        }
        for (id, start) in ids.into_iter().zip(froms) {
            let series = self.series.entry(id).or_default();
            series.add(by_station.remove(&id).unwrap_or_default());
            series.cover(start);
            if let (Some(info), Some(newest)) = (self.stations.get_mut(&id), series.newest()) {
                info.last_observed_at = Some(info.last_observed_at.map_or(newest, |t| t.max(newest)));
            }
        }
        Ok(())
    }

    /// Every reading of the station from `from`, in time order, through each of its rules.
    fn evaluate_station(&mut self, id: i64, from: DateTime<Utc>, decided: &mut Vec<Decided>) {
        let (Some(info), Some(plans), Some(series)) =
            (self.stations.get(&id), self.plans.get(&id), self.series.get(&id))
        else {
            return;
        };
        for plan in plans.iter().filter(|p| !p.is_silence()) {
            let rule = &self.rules.rules()[plan.rule];
            let key = (rule.code.clone(), info.code.clone());
            let state = self.states.entry(key.clone()).or_default();
            let before = *state;
            // PostgreSQL keeps microseconds: an announced time in nanoseconds may lie just after its reading.
            for (at, _, flagged) in series.since(from - chrono::TimeDelta::microseconds(1)) {
                let parts: Vec<(&Ladder, f64)> =
                    plan.ladders.iter().map(|(s, l)| (l, series.signal(*s, at))).collect();
                if let Some(change) = ladder::step_many(&parts, state, at, flagged) {
                    let value = leading_value(&parts, change);
                    decided.push(Decided::station(rule, info, plan, change, at, value));
                }
            }
            if *state != before {
                self.dirty.insert(key);
            }
        }
    }

    /// The zone rules of `zones`, at wall-clock time `now`.
    async fn evaluate_zones(
        &mut self,
        zones: &BTreeSet<String>,
        now: DateTime<Utc>,
        decided: &mut Vec<Decided>,
    ) -> Result<()> {
        // Zone means need every rain gauge of the zone in memory.
        let missing: BTreeMap<i64, (DateTime<Utc>, DateTime<Utc>)> = self
            .zone_plans
            .iter()
            .filter(|(z, _)| zones.contains(z))
            .flat_map(|(z, _)| self.zones.get(z).into_iter().flatten())
            .filter(|id| !self.series.contains_key(id))
            .filter_map(|id| {
                let last = self.stations.get(id)?.last_observed_at?;
                Some((*id, (last, last)))
            })
            .collect();
        self.fetch(&missing).await?;
        for (zone, plan) in &self.zone_plans {
            if !zones.contains(zone) {
                continue;
            }
            let rule = &self.rules.rules()[plan.rule];
            let members = self.zones.get(zone).map(Vec::as_slice).unwrap_or_default();
            let parts: Vec<(&Ladder, f64)> =
                plan.ladders.iter().map(|(s, l)| (l, self.zone_signal(*s, members))).collect();
            let key = (rule.code.clone(), zone.clone());
            let state = self.states.entry(key.clone()).or_default();
            let before = *state;
            let change = ladder::step_many(&parts, state, now, false);
            if *state != before {
                self.dirty.insert(key);
            }
            if let Some(change) = change {
                decided.push(Decided {
                    key: Key {
                        rule: rule.code.clone(),
                        subject_kind: SubjectKind::Zone,
                        subject: zone.clone(),
                    },
                    ctx: context(rule, Some(zone.clone()), zone, plan),
                    change,
                    at: now,
                    value: leading_value(&parts, change),
                });
            }
        }
        Ok(())
    }

    fn zone_signal(&self, signal: Signal, members: &[i64]) -> f64 {
        match signal {
            Signal::ZoneCount { station_level } => {
                let levels = members.iter().map(|id| self.station_level(*id));
                signal::count_at_least(levels, station_level) as f64
            }
            Signal::ZoneMeanRain { window } => {
                let totals = members
                    .iter()
                    .filter(|id| self.stations.get(id).is_some_and(|s| s.kind == StationKind::RainGauge))
                    .filter_map(|id| {
                        let series = self.series.get(id)?;
                        let newest = series.newest()?;
                        Some(series.signal(Signal::Rain { window }, newest))
                    });
                signal::zone_mean(totals).unwrap_or(f64::NAN)
            }
            _ => f64::NAN,
        }
    }

    /// The colour a station stands at: the highest firing colour of its hydrological rules.
    fn station_level(&self, id: i64) -> Option<Level> {
        let info = self.stations.get(&id)?;
        self.plans
            .get(&id)?
            .iter()
            .filter(|p| !p.is_silence())
            .filter_map(|p| {
                self.states.get(&(self.rules.rules()[p.rule].code.clone(), info.code.clone()))?.level
            })
            .max()
    }

    /// Silent stations (wall-clock time) and zone rules, then commit.
    async fn tick(&mut self) -> Result<()> {
        let now = Utc::now();
        let mut decided = Vec::new();
        for (id, plans) in &self.plans {
            let Some(info) = self.stations.get(id) else { continue };
            for plan in plans.iter().filter(|p| p.is_silence()) {
                // A station that never reported is not silent: it is not installed yet.
                let Some(last) = info.last_observed_at else { continue };
                let ratio = signal::silence_ratio(last, now, info.interval_s).unwrap_or(f64::NAN);
                let rule = &self.rules.rules()[plan.rule];
                let key = (rule.code.clone(), info.code.clone());
                let state = self.states.entry(key.clone()).or_default();
                let parts: Vec<(&Ladder, f64)> = plan.ladders.iter().map(|(_, l)| (l, ratio)).collect();
                if let Some(change) = ladder::step_many(&parts, state, now, false) {
                    decided.push(Decided::station(rule, info, plan, change, now, Some(ratio)));
                    self.dirty.insert(key);
                }
            }
        }
        let zones: BTreeSet<String> = self.zones.keys().cloned().collect();
        self.evaluate_zones(&zones, now, &mut decided).await?;
        self.retire_orphans(now, &mut decided).await?;
        self.commit(decided, self.cursor).await
    }

    /// Open alerts that no rule watches any more (the rule was deleted or changed its selector, the station was
    /// deleted, lost its thresholds or left the zone): they end now — resolved, or withdrawn when pending — and
    /// their ladder state is forgotten, so that nothing stays firing for ever.
    async fn retire_orphans(&mut self, now: DateTime<Utc>, decided: &mut Vec<Decided>) -> Result<()> {
        let open: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "select rule, subject_kind, subject, state, level, zone from alerts.alert
             where state <> 'resolved' and category <> 'manual'",
        )
        .fetch_all(&self.pool)
        .await?;
        let by_code: HashMap<&str, i64> =
            self.stations.iter().map(|(id, s)| (s.code.as_str(), *id)).collect();
        for (rule, subject_kind, subject, state, level, zone) in open {
            let watched = if subject_kind == "zone" {
                self.zone_plans.iter().any(|(z, p)| *z == subject && self.rules.rules()[p.rule].code == rule)
            } else {
                by_code
                    .get(subject.as_str())
                    .and_then(|id| self.plans.get(id))
                    .is_some_and(|plans| plans.iter().any(|p| self.rules.rules()[p.rule].code == rule))
            };
            if watched {
                continue;
            }
            let Ok(level) = level.parse::<Level>() else { continue };
            let change = if state == "pending" {
                Change::Withdrawn { level }
            } else {
                Change::Resolved { from: level }
            };
            let subject_kind = if subject_kind == "zone" { SubjectKind::Zone } else { SubjectKind::Station };
            let key = (rule.clone(), subject.clone());
            self.states.remove(&key);
            self.dirty.insert(key);
            decided.push(Decided {
                key: Key { rule, subject_kind, subject },
                ctx: Context {
                    zone,
                    category: Category::Hydro,
                    hazard: String::new(),
                    unit: None,
                    message: None,
                },
                change,
                at: now,
                value: None,
            });
        }
        Ok(())
    }

    /// Writes the decided changes, the ladder states and the cursor, and announces the changes, in one transaction.
    async fn commit(&mut self, decided: Vec<Decided>, cursor: i64) -> Result<()> {
        if decided.is_empty() && self.dirty.is_empty() && cursor == self.cursor {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut alerts: Vec<Alert> = Vec::new();
        for d in &decided {
            if let Some(alert) = store::apply(&mut tx, &d.key, &d.ctx, d.change, d.at, d.value, None).await? {
                alerts.push(alert);
            }
        }
        let (mut rules, mut subjects, mut states) = (Vec::new(), Vec::new(), Vec::new());
        let (mut gone_rules, mut gone_subjects) = (Vec::new(), Vec::new());
        for key in self.dirty.drain() {
            match self.states.get(&key) {
                Some(state) => {
                    rules.push(key.0.clone());
                    subjects.push(key.1.clone());
                    states.push(serde_json::to_value(state).unwrap_or_default());
                }
                None => {
                    gone_rules.push(key.0);
                    gone_subjects.push(key.1);
                }
            }
        }
        sqlx::query(
            "delete from alerts.evaluation_state e using unnest($1::text[], $2::text[]) as g(r, s)
             where e.rule = g.r and e.subject = g.s",
        )
        .bind(&gone_rules)
        .bind(&gone_subjects)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into alerts.evaluation_state (rule, subject, state, evaluated_until, updated_at)
             select r, s, st, (st->>'last_at')::timestamptz, now() from unnest($1::text[], $2::text[], $3::jsonb[]) as t(r, s, st)
             on conflict (rule, subject) do update set state = excluded.state,
                 evaluated_until = excluded.evaluated_until, updated_at = now()",
        )
        .bind(&rules)
        .bind(&subjects)
        .bind(&states)
        .execute(&mut *tx)
        .await?;
        save_cursor(&mut *tx, CONSUMER, cursor).await?;
        store::announce(&mut tx, &alerts).await?;
        tx.commit().await?;
        self.cursor = cursor;
        for alert in &alerts {
            debug!(alert = alert.id, change = %alert.change, level = ?alert.level, subject = %alert.subject, "Alert changed.");
        }
        metrics::counter!("vedetta_alert_changes_total").increment(alerts.len() as u64);
        Ok(())
    }
}

fn sensors_kind() -> &'static str {
    "readings.committed"
}

/// The value behind a change: the signal of the ladder that stands highest.
fn leading_value(parts: &[(&Ladder, f64)], change: Change) -> Option<f64> {
    let target = change.level().or(change.previous_level());
    parts
        .iter()
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| {
            let la = a.0.target(a.1, target);
            let lb = b.0.target(b.1, target);
            la.cmp(&lb).then(a.1.total_cmp(&b.1))
        })
        .map(|(_, v)| (*v * 1000.0).round() / 1000.0)
}

fn context(rule: &Rule, zone: Option<String>, subject_name: &str, plan: &Plan) -> Context {
    let category = match rule.category() {
        crate::rule::Category::Technical => Category::Technical,
        crate::rule::Category::Hydro => Category::Hydro,
    };
    let window = plan.ladders.iter().find_map(|(s, _)| match s {
        Signal::Rain { window } | Signal::ZoneMeanRain { window } => Some(window.as_str()),
        _ => None,
    });
    let what = match window {
        Some(w) if plan.ladders.len() == 1 => format!("{} ({w})", rule.name),
        _ => rule.name.clone(),
    };
    Context {
        zone,
        category,
        hazard: rule.hazard.as_str().into(),
        unit: Some(rule.kind.unit().into()),
        message: Some(format!("{what} — {subject_name}")),
    }
}
