//! The Markdown report: machine, date, the three systems side by side, latency, memory and the targets of the
//! "sensor network" issue.

use std::fmt::Write;

use crate::{copy, naive, vedetta};

/// Targets of the issue.
pub const TARGET_RATE: f64 = 50_000.0;
pub const TARGET_SHARE_OF_COPY: f64 = 0.25;
pub const TARGET_TIMES_NAIVE: f64 = 10.0;
pub const TARGET_P99_S: f64 = 0.25;
pub const TARGET_RSS_MB: f64 = 150.0;

pub use testkit::Machine;

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub date: String,
    pub machine: Machine,
    pub command: String,
    pub postgres: String,
    pub mosquitto: String,
    pub vedetta_binary: String,
    pub stations: u32,
    pub publishers: usize,
    pub vedetta: vedetta::Outcome,
    pub copy: copy::Outcome,
    pub naive: naive::Outcome,
    /// The MQTT-only reference (same burst, nothing stored).
    pub transport: naive::Outcome,
    pub mosquitto_peak_rss_kb: Option<u64>,
}

fn rate(readings: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { readings as f64 / seconds } else { 0.0 }
}

/// `12345.6` → `12,346`.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISSED" }
}

impl Report {
    /// The report as Markdown, ready for `bench/RESULTS.md`.
    pub fn markdown(&self) -> String {
        let v = &self.vedetta;
        let v_rate = rate(v.readings, v.seconds);
        let c_rate = rate(self.copy.readings, self.copy.seconds);
        let n_rate = rate(self.naive.readings, self.naive.seconds);
        let t_rate = rate(self.transport.readings, self.transport.seconds);
        let share = if c_rate > 0.0 { v_rate / c_rate } else { 0.0 };
        let times_naive = if n_rate > 0.0 { v_rate / n_rate } else { 0.0 };
        let rss_mb = v.peak_rss_kb.map(|kb| kb as f64 * 1024.0 / 1e6);
        let l = &v.latency;

        let mut md = String::new();
        let _ = writeln!(md, "## Ingest — {} (`bench/ingest`)\n", self.date);
        let _ = writeln!(
            md,
            "Machine: {}, {} cores, {:.1} GiB RAM. {} (private cluster, fsync on, synchronous_commit on), \
             Mosquitto {}, QoS 1, {} stations, {} publisher connections; everything on this one machine.\n",
            self.machine.cpu,
            self.machine.cores,
            self.machine.ram_gib,
            self.postgres,
            self.mosquitto,
            self.stations,
            self.publishers,
        );
        let _ = writeln!(md, "Command: `{}`\n", self.command);
        let _ = writeln!(md, "| system | readings | seconds | readings/s | Vedetta ÷ system |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|");
        let rows = [
            (
                "Vedetta (`vedetta ingest`: Mosquitto → PostGIS, ack after commit)",
                v.readings,
                v.seconds,
                v_rate,
            ),
            (
                "raw `COPY` of the same rows (physical reference)",
                self.copy.readings,
                self.copy.seconds,
                c_rate,
            ),
            (
                "naive consumer (SELECT + INSERT + commit per message)",
                self.naive.readings,
                self.naive.seconds,
                n_rate,
            ),
            (
                "*reference:* MQTT only (same burst, the subscriber stores nothing)",
                self.transport.readings,
                self.transport.seconds,
                t_rate,
            ),
        ];
        for (name, readings, seconds, r) in rows {
            let ratio = if r > 0.0 { v_rate / r } else { 0.0 };
            let _ = writeln!(
                md,
                "| {name} | {} | {seconds:.2} | {} | {ratio:.2}× |",
                thousands(readings as f64),
                thousands(r)
            );
        }
        let _ = writeln!(md);
        let within = l.within_target.map(|f| format!("{:.2} %", f * 100.0)).unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            md,
            "- Vedetta's rate runs from the first publish until `vedetta_ingest_readings_stored_total` counts every \
             reading (polled every 50 ms); the publishers had every PUBACK after {:.2} s ({} msg/s into the broker).",
            v.publish_seconds,
            thousands(rate(v.readings, v.publish_seconds)),
        );
        if v.batches > 0.0 {
            let _ = writeln!(
                md,
                "- Vedetta's writer committed {} batches during the burst ({:.0} readings per batch, {:.1} ms per \
                 batch from decoding to commit); it was busy {:.0} % of the burst's time.",
                thousands(v.batches),
                v.readings as f64 / v.batches,
                v.batch_seconds / v.batches * 1000.0,
                v.batch_seconds / v.seconds * 100.0,
            );
        }
        let _ = writeln!(
            md,
            "- Latency publish → committed at {} readings/s ({} readings in {:.1} s, {} observed; \
             `vedetta_ingest_commit_lag_seconds`, interpolated within buckets): p50 ≈ {}, p99 ≈ {}; {within} ≤ 250 ms.",
            thousands(f64::from(l.rate)),
            thousands(l.published as f64),
            l.publish_seconds,
            thousands(l.observed),
            l.p50,
            l.p99,
        );
        let _ = writeln!(
            md,
            "- Peak RSS (VmHWM): Vedetta {}; Mosquitto {}.",
            rss_mb.map(|mb| format!("{mb:.1} MB")).unwrap_or_else(|| "n/a".into()),
            self.mosquitto_peak_rss_kb
                .map(|kb| format!("{:.1} MB", kb as f64 * 1024.0 / 1e6))
                .unwrap_or_else(|| "n/a".into()),
        );
        let _ = writeln!(
            md,
            "- Checks: {} rows in Vedetta's table (expected {}), {} dead letters, {} duplicates; Vedetta: {}. \
             Binary: {}{}.\n",
            thousands(v.rows_in_database as f64),
            thousands(v.rows_expected as f64),
            v.dead_letters,
            v.duplicates,
            v.exit.lines().next().unwrap_or_default(),
            self.vedetta_binary,
            if v.migrations.0 == v.migrations.1 {
                String::new()
            } else {
                format!(
                    " (its newest migration is {}, the benchmark's {}: built from different sources)",
                    v.migrations.0, v.migrations.1
                )
            },
        );

        let p99_ok = l.within_target.is_some_and(|f| f >= 0.99) && l.observed >= l.published as f64;
        let rss_ok = rss_mb.is_some_and(|mb| mb <= TARGET_RSS_MB);
        let _ = writeln!(md, "| target | measured | result |");
        let _ = writeln!(md, "|---|---:|---|");
        let targets = [
            (
                format!("≥ {} readings/s sustained", thousands(TARGET_RATE)),
                format!("{} /s", thousands(v_rate)),
                v_rate >= TARGET_RATE,
            ),
            (
                format!("≥ {:.0} % of raw COPY", TARGET_SHARE_OF_COPY * 100.0),
                format!("{:.1} %", share * 100.0),
                share >= TARGET_SHARE_OF_COPY,
            ),
            (
                format!("≥ {TARGET_TIMES_NAIVE:.0}× the naive consumer"),
                format!("{times_naive:.1}×"),
                times_naive >= TARGET_TIMES_NAIVE,
            ),
            (
                format!("p99 publish → commit ≤ 250 ms at {} readings/s", thousands(f64::from(l.rate))),
                format!("{} ({within} ≤ 250 ms)", l.p99),
                p99_ok,
            ),
            (
                format!("peak RSS ≤ {TARGET_RSS_MB:.0} MB"),
                rss_mb.map(|mb| format!("{mb:.1} MB")).unwrap_or_else(|| "n/a".into()),
                rss_ok,
            ),
            (
                "clean stop on SIGTERM (exit 0)".to_string(),
                if v.exit_ok { "0" } else { "no" }.to_string(),
                v.exit_ok,
            ),
        ];
        for (target, measured, ok) in targets {
            let _ = writeln!(md, "| {target} | {measured} | {} |", verdict(ok));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
