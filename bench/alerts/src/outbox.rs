//! Phase "outbox": what the live-event spine's outbox costs ingest. `bench-ingest` (the ingest benchmark, run as it
//! is) measures a Vedetta built before the spine and the current one, alternately, with the same arguments; its
//! Markdown report gives each run's sustained rate, and the raw `COPY` of the same run as a yardstick of how busy the
//! machine was.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone)]
pub struct Settings {
    pub before: PathBuf,
    pub after: PathBuf,
    pub rounds: usize,
    /// Arguments given to `bench-ingest` besides `--vedetta`.
    pub args: Vec<String>,
    /// Where each run's report is kept.
    pub out_dir: PathBuf,
    pub date: String,
}

/// One `bench-ingest` run.
#[derive(Debug, Clone)]
pub struct Run {
    pub after: bool,
    /// Vedetta's sustained rate, readings/s.
    pub rate: f64,
    /// The raw COPY of the same run, rows/s.
    pub copy: f64,
    /// The p99 publish → commit of the paced sub-phase, as bench-ingest prints it.
    pub p99: String,
    /// `/proc/loadavg` (1 min) when the run started.
    pub load: f64,
    /// The writer's milliseconds per batch during the burst (decode to commit), and readings per batch.
    pub batch: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub runs: Vec<Run>,
    pub command: String,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / f64::from(n) }
}

impl Outcome {
    fn mean_of(&self, after: bool, f: impl Fn(&Run) -> f64) -> f64 {
        mean(self.runs.iter().filter(|r| r.after == after).map(f))
    }

    /// Mean rate after ÷ mean rate before.
    pub fn ratio(&self) -> f64 {
        let before = self.mean_of(false, |r| r.rate);
        if before > 0.0 { self.mean_of(true, |r| r.rate) / before } else { 0.0 }
    }

    /// Mean writer time per reading after ÷ before (from ms per batch ÷ readings per batch).
    pub fn writer_ratio(&self) -> Option<f64> {
        let per = |r: &Run| r.batch.map(|(ms, n)| ms / n.max(1.0));
        let mean_of = |after: bool| {
            let xs: Vec<f64> = self.runs.iter().filter(|r| r.after == after).filter_map(per).collect();
            (!xs.is_empty()).then(|| mean(xs.into_iter()))
        };
        Some(mean_of(true)? / mean_of(false)?)
    }

    /// The same with each run's rate taken as a share of its own raw COPY.
    pub fn ratio_to_copy(&self) -> f64 {
        let share = |r: &Run| if r.copy > 0.0 { r.rate / r.copy } else { 0.0 };
        let before = self.mean_of(false, share);
        if before > 0.0 { self.mean_of(true, share) / before } else { 0.0 }
    }
}

/// "(4926 readings per batch, 190.3 ms per batch from decoding to commit)" → (190.3, 4926).
fn batch_of(report: &str) -> Option<(f64, f64)> {
    let line = report.lines().find(|l| l.contains(" readings per batch, "))?;
    let (before, after) = line.split_once(" readings per batch, ")?;
    let readings = number(before.rsplit('(').next()?)?;
    let ms = number(after.split(" ms per batch").next()?)?;
    Some((ms, readings))
}

/// A number as bench-ingest prints it (`25,960`).
fn number(cell: &str) -> Option<f64> {
    cell.trim().replace(',', "").parse().ok()
}

/// The readings/s column of the table row whose first cell starts with `system`.
fn rate_of(report: &str, system: &str) -> Option<f64> {
    report.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').collect();
        (cells.len() > 4 && cells[1].trim().starts_with(system)).then(|| number(cells[4])).flatten()
    })
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0)
}

/// Builds `bench-ingest` (release) and returns its path.
fn bench_ingest() -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "bench-ingest"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build --release -p bench-ingest failed ({status})");
    }
    let bin = testkit::target_dir().join("release/bench-ingest");
    Ok(bin.canonicalize().unwrap_or(bin))
}

/// Runs `bench-ingest` before, after, before, after … (`rounds` pairs).
pub async fn run(s: &Settings) -> Result<Outcome> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || {
        let bin = bench_ingest()?;
        let mut out = Outcome {
            command: format!("{} --vedetta <binary> {}", bin.display(), s.args.join(" ")),
            ..Outcome::default()
        };
        for k in 0..s.rounds * 2 {
            let after = k % 2 == 1;
            let (which, vedetta) = if after { ("after", &s.after) } else { ("before", &s.before) };
            eprintln!("outbox: run {} of {} ({which}: {}) …", k + 1, s.rounds * 2, vedetta.display());
            let load = load_average();
            let output = Command::new(&bin)
                .arg("--vedetta")
                .arg(vedetta)
                .args(&s.args)
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("cannot run bench-ingest")?;
            let report = String::from_utf8_lossy(&output.stdout).to_string();
            let kept = s.out_dir.join(format!("alerts-{}-ingest-{}-{which}.md", s.date, k + 1));
            std::fs::write(&kept, &report).with_context(|| format!("cannot write {}", kept.display()))?;
            if !output.status.success() {
                bail!("bench-ingest failed ({}); its report so far is in {}", output.status, kept.display());
            }
            let rate = rate_of(&report, "Vedetta").context("no Vedetta row in bench-ingest's report")?;
            let copy = rate_of(&report, "raw `COPY`").unwrap_or(0.0);
            let p99 = report
                .lines()
                .find_map(|l| l.split("p99 ≈ ").nth(1).and_then(|r| r.split([',', ';']).next()))
                .unwrap_or("?")
                .to_string();
            eprintln!("outbox: {which}: {rate:.0} readings/s (raw COPY {copy:.0} rows/s), load {load:.2}");
            let batch = batch_of(&report);
            out.runs.push(Run { after, rate, copy, p99, load, batch });
        }
        Ok(out)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_from_the_ingest_report() {
        let report = "| system | readings | seconds | readings/s | Vedetta ÷ system |\n|---|---:|---:|---:|---:|\n\
            | Vedetta (`vedetta ingest`: Mosquitto → PostGIS, ack after commit) | 300,000 | 11.56 | 25,960 | 1.00× |\n\
            | raw `COPY` of the same rows (physical reference) | 300,000 | 3.85 | 77,967 | 0.33× |\n";
        assert_eq!(rate_of(report, "Vedetta"), Some(25_960.0));
        assert_eq!(rate_of(report, "raw `COPY`"), Some(77_967.0));
        assert_eq!(rate_of(report, "naive"), None);
        let line = "- Vedetta's writer committed 203 batches during the burst (4926 readings per batch, 190.3 ms per \
                    batch from decoding to commit); it was busy 93 % of the burst's time.";
        assert_eq!(batch_of(line), Some((190.3, 4926.0)));
    }

    #[test]
    fn the_ratio_compares_means() {
        let run =
            |after, rate| Run { after, rate, copy: 100_000.0, p99: String::new(), load: 0.0, batch: None };
        let out = Outcome {
            runs: vec![run(false, 30.0), run(true, 27.0), run(false, 30.0), run(true, 33.0)],
            ..Outcome::default()
        };
        assert!((out.ratio() - 1.0).abs() < 1e-9);
        assert!((out.ratio_to_copy() - 1.0).abs() < 1e-9);
    }
}
