//! The Markdown report: machine, date, the three measurements with their peers and the targets of issue 8.

use std::fmt::Write;

use crate::{latency, outbox, pace};

/// p99 publish → alert, ms.
pub const TARGET_P99_MS: f64 = 500.0;
/// Ingest after the outbox ÷ before, at least.
pub const TARGET_OUTBOX: f64 = 0.90;

#[derive(Debug, Clone)]
pub struct Report {
    pub date: String,
    pub machine: testkit::Machine,
    pub command: String,
    pub postgres: String,
    pub mosquitto: String,
    pub binary: String,
    pub connections: usize,
    pub rate: u32,
    pub latency: Option<latency::Outcome>,
    pub pace: Option<pace::Outcome>,
    pub outbox: Option<outbox::Outcome>,
}

/// The `q`-quantile by nearest rank (`None` when empty).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

fn ms(x: Option<f64>) -> String {
    x.map(|v| if v < 10.0 { format!("{v:.1}") } else { format!("{v:.0}") }).unwrap_or_else(|| "n/a".into())
}

fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let n = digits.len();
    digits.chars().enumerate().fold(String::new(), |mut s, (i, c)| {
        if i > 0 && (n - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(c);
        s
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISSED" }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Alerts — {} (`bench/alerts`)\n", self.date);
        let _ = writeln!(
            md,
            "Machine: {}. {} (private cluster, fsync on, synchronous_commit on), Mosquitto {} (fresh per phase), QoS 1, \
             {} publisher connections. Everything shares the two cores: broker, publishers, subscribers, PostgreSQL \
             and Vedetta (`vedetta serve`: ingest, evaluator, MQTT publisher of alerts, HTTP). Binary: {}.\n",
            self.machine, self.postgres, self.mosquitto, self.connections, self.binary
        );
        let _ = writeln!(md, "Command: `{}`\n", self.command);
        let mut targets: Vec<(String, String, bool)> = Vec::new();
        if let Some(l) = &self.latency {
            self.latency_section(&mut md, l, &mut targets);
        }
        if let Some(p) = &self.pace {
            pace_section(&mut md, p, &mut targets);
        }
        if let Some(o) = &self.outbox {
            outbox_section(&mut md, o, &mut targets);
        }
        let _ = writeln!(md, "| target | measured | result |\n|---|---:|---|");
        for (target, measured, ok) in targets {
            let _ = writeln!(md, "| {target} | {measured} | {} |", verdict(ok));
        }
        md
    }

    fn latency_section(
        &self,
        md: &mut String,
        l: &latency::Outcome,
        targets: &mut Vec<(String, String, bool)>,
    ) {
        let achieved = l.background_sent as f64 / l.background_seconds.max(1e-9);
        let _ = writeln!(
            md,
            "### Publish → alert, {} probes, with {} other readings/s\n\n\
             A probe hydrometer (thresholds 2.0 / 3.0 / 4.0 m) among {} stations walks its colours, one reading every \
             probe interval: fired, escalated, escalated, deescalated, deescalated, resolved, and again. Each latency \
             runs from handing the probe reading to the MQTT client to its arrival; the floor is the same reading \
             reaching a plain subscriber of the same broker. Nearest-rank percentiles, ms.\n",
            l.probes,
            grouped(f64::from(self.rate)),
            grouped(f64::from(l.stations)),
        );
        let _ = writeln!(md, "| path | arrived | p50 | p95 | p99 | max | p50 ÷ floor | p99 ÷ floor |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let floor = (quantile(&l.floor, 0.5), quantile(&l.floor, 0.99));
        let sse = format!("SSE `GET {}` (admin token)", l.sse_route);
        let rows = [
            ("MQTT `vedetta/v1/alerts/-/A-0001` (retained, QoS 1)", &l.mqtt),
            (sse.as_str(), &l.sse),
            ("*floor:* the probe reading itself, publisher → broker → subscriber", &l.floor),
        ];
        for (name, values) in rows {
            let ratio = |q: f64, f: Option<f64>| match (quantile(values, q), f) {
                (Some(v), Some(f)) if f > 0.0 => format!("{:.0}×", v / f),
                _ => "n/a".into(),
            };
            let _ = writeln!(
                md,
                "| {name} | {} of {} | {} | {} | {} | {} | {} | {} |",
                values.len(),
                l.probes,
                ms(quantile(values, 0.5)),
                ms(quantile(values, 0.95)),
                ms(quantile(values, 0.99)),
                ms(quantile(values, 1.0)),
                ratio(0.5, floor.0),
                ratio(0.99, floor.1),
            );
        }
        let _ = writeln!(
            md,
            "\n- Where the time goes (transaction starts in `core.event.created_at`, same wall clock): publish → the \
             ingest transaction that stored the probe began p50 {} / p99 {} ms; → the evaluator's transaction that \
             wrote the alert change began p50 {} / p99 {} ms.",
            ms(quantile(&l.to_ingest_tx, 0.5)),
            ms(quantile(&l.to_ingest_tx, 0.99)),
            ms(quantile(&l.to_evaluator_tx, 0.5)),
            ms(quantile(&l.to_evaluator_tx, 0.99)),
        );
        let _ = writeln!(
            md,
            "- Background: {} readings in {:.1} s ({} /s) over {} connections, observed at publish time; Vedetta \
             stored {} of the {} readings published during the phase (background PUBACKs: {}). Technical (silent-station) alerts: {}. \
             Vedetta: {}.\n",
            grouped(l.background_sent as f64),
            l.background_seconds,
            grouped(achieved),
            self.connections,
            grouped(l.stored),
            grouped(l.published as f64),
            grouped(l.background_acked as f64),
            l.ending.technical_alerts,
            if l.ending.exit_ok { "exit 0 on SIGTERM" } else { "no clean exit on SIGTERM" },
        );
        if let Some(work) = &l.work {
            let _ = writeln!(md, "While the probes ran ({:.0} s), {}.\n", work.seconds, work.describe());
        }
        for (path, values) in [("MQTT", &l.mqtt), ("SSE", &l.sse)] {
            let p99 = quantile(values, 0.99);
            let all = values.len() == l.probes && l.probes >= 100;
            targets.push((
                format!("p99 publish → alert on {path} ≤ {TARGET_P99_MS:.0} ms (≥ 100 probes, none lost)"),
                format!("{} ms ({} of {})", ms(p99), values.len(), l.probes),
                all && p99.is_some_and(|p| p <= TARGET_P99_MS),
            ));
        }
        targets.push((
            "clean stop on SIGTERM (latency phase)".into(),
            verdict(l.ending.exit_ok).into(),
            l.ending.exit_ok,
        ));
    }
}

fn pace_section(md: &mut String, p: &pace::Outcome, targets: &mut Vec<(String, String, bool)>) {
    let rate = p.messages as f64 / p.stored_seconds.max(1e-9);
    let _ = writeln!(
        md,
        "### Evaluator pace under the full ingest burst\n\n\
         {} readings of {} stations published as fast as the publishers go into `vedetta serve`; stored in {:.1} s \
         ({} readings/s; {} PUBACKs), announced by {} `readings.committed` events. Every second: the events after the evaluator's \
         cursor and the age of the oldest of them.\n",
        grouped(p.messages as f64),
        grouped(f64::from(p.stations)),
        p.stored_seconds,
        grouped(rate),
        grouped(p.acked as f64),
        grouped(p.events as f64),
    );
    let _ = writeln!(md, "| s | readings stored | events behind | oldest behind, s |\n|---:|---:|---:|---:|");
    for s in &p.samples {
        let _ = writeln!(
            md,
            "| {:.1} | {} | {} | {:.2} |",
            s.at,
            grouped(s.stored),
            grouped(s.events as f64),
            s.age
        );
    }
    let caught = p.caught_up_after.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "not within 60 s".into());
    let _ = writeln!(
        md,
        "\nMost behind: {} events, {:.2} s. Back to no lag {caught} after the last reading was stored. Technical alerts: {}. \
         Vedetta: {}.\n",
        grouped(p.max_events() as f64),
        p.max_age(),
        p.ending.technical_alerts,
        if p.ending.exit_ok { "exit 0 on SIGTERM" } else { "no clean exit on SIGTERM" },
    );
    if let Some(work) = &p.work {
        let _ =
            writeln!(md, "From the first publish to no lag ({:.1} s), {}.\n", work.seconds, work.describe());
    }
    targets.push((
        format!("evaluator lag back to 0 within {} s of the burst's end", pace::CATCH_UP.as_secs()),
        caught,
        p.pass(),
    ));
    let clean = p.ending.exit_ok;
    targets.push(("clean stop on SIGTERM (pace phase)".into(), verdict(clean).into(), clean));
}

fn outbox_section(md: &mut String, o: &outbox::Outcome, targets: &mut Vec<(String, String, bool)>) {
    let _ = writeln!(
        md,
        "### Outbox cost on ingest: `bench-ingest` before and after the spine\n\n\
         Before: `vedetta` built at 2c40e10 (the last commit before the event spine); after: the binary above. \
         Alternating runs of `{}`, each with its own cluster, brokers and databases.\n",
        o.command
    );
    let _ = writeln!(
        md,
        "| run | Vedetta | readings/s | raw COPY rows/s | Vedetta ÷ COPY | writer ms per batch (readings) | \
         p99 commit | load 1 min |"
    );
    let _ = writeln!(md, "|---:|---|---:|---:|---:|---:|---:|---:|");
    for (k, r) in o.runs.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            k + 1,
            if r.after { "after" } else { "before" },
            grouped(r.rate),
            grouped(r.copy),
            if r.copy > 0.0 { r.rate / r.copy } else { 0.0 },
            r.batch.map(|(ms, n)| format!("{ms:.1} ({n:.0})")).unwrap_or_else(|| "n/a".into()),
            r.p99,
            r.load
        );
    }
    let _ = writeln!(
        md,
        "\nMean after ÷ mean before: {:.3} (as shares of each run's raw COPY: {:.3}). The writer's time per reading \
         during the burst, after ÷ before: {}.\n",
        o.ratio(),
        o.ratio_to_copy(),
        o.writer_ratio().map(|r| format!("{r:.3}")).unwrap_or_else(|| "n/a".into()),
    );
    targets.push((
        format!("ingest with the outbox ≥ {:.0} % of before (mean of the runs)", TARGET_OUTBOX * 100.0),
        format!("{:.1} %", o.ratio() * 100.0),
        o.ratio() >= TARGET_OUTBOX,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(grouped(1_234_567.0), "1,234,567");
    }

    #[test]
    fn every_table_row_has_its_header_s_columns() {
        let run = |after| outbox::Run {
            after,
            rate: 30_000.0,
            copy: 100_000.0,
            p99: "40 ms".into(),
            load: 1.0,
            batch: Some((120.0, 4950.0)),
        };
        let outbox = outbox::Outcome { runs: vec![run(false), run(true)], command: "bench-ingest".into() };
        let pace = pace::Outcome { samples: vec![pace::Sample::default()], ..pace::Outcome::default() };
        let latency =
            latency::Outcome { probes: 2, mqtt: vec![80.0, 90.0], floor: vec![0.2], ..Default::default() };
        let report = Report {
            date: "2026-11-29".into(),
            machine: testkit::Machine { cpu: "cpu".into(), cores: 2, ram_gib: 24.0 },
            command: "bench-alerts".into(),
            postgres: "PostgreSQL 15".into(),
            mosquitto: "2.0.11".into(),
            binary: "vedetta".into(),
            connections: 2,
            rate: 10_000,
            latency: Some(latency),
            pace: Some(pace),
            outbox: Some(outbox),
        };
        let md = report.markdown();
        let mut columns = None;
        for line in md.lines() {
            if !line.starts_with('|') {
                columns = None;
                continue;
            }
            let n = line.matches('|').count();
            assert_eq!(*columns.get_or_insert(n), n, "{line}");
        }
    }
}
