//! `bench-alerts` — the alerting benchmark of issue 8.
//!
//! ```sh
//! cargo build --release -p vedetta
//! cargo run --release -p bench-alerts -- [--stations 1000] [--rate 10000] [--probes 200] [--messages 300000] \
//!     [--before /tmp/vedetta-before-target/release/vedetta --ingest-rounds 2]
//! ```
//!
//! In one run on one machine, against the real `vedetta serve` (release), a private PostgreSQL + PostGIS cluster
//! with production durability and a fresh Mosquitto per phase:
//!
//! 1. **latency**: publish → alert change on MQTT (`vedetta/v1/alerts/#`) and on SSE (`/api/alerts/stream`) while
//!    `--rate` other readings per second flow, beside the floor: the probe reading's own trip through the broker.
//! 2. **pace**: the evaluator's lag, sampled every second, while the ingest benchmark's full burst flows.
//! 3. **outbox** (with `--before`): `bench-ingest` alternately on a Vedetta built before the event spine and on the
//!    current one; the ratio of their sustained rates.
//!
//! It prints a Markdown section with PASS/MISSED per target and writes it to `bench/out/alerts-<date>.md`. See
//! `bench/alerts/README.md`.

mod latency;
mod mqtt;
mod outbox;
mod pace;
mod report;
mod rig;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use clap::Parser;

/// Alerting benchmark: publish → alert latency (MQTT, SSE) beside the broker's round trip, evaluator pace, outbox
/// cost on ingest.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-alerts")]
struct Args {
    /// Stations: the probe hydrometer (with thresholds) and the others (none).
    #[arg(long, default_value_t = 1000)]
    stations: u32,
    /// Background readings per second during the latency phase.
    #[arg(long, default_value_t = 10_000)]
    rate: u32,
    /// Probe readings (alert changes) timed.
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// Milliseconds between probe readings.
    #[arg(long, default_value_t = 500)]
    probe_interval_ms: u64,
    /// Readings of the pace phase's burst.
    #[arg(long, default_value_t = 300_000)]
    messages: u64,
    /// Publishing MQTT connections (background load and burst).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Skip the latency phase.
    #[arg(long)]
    skip_latency: bool,
    /// Skip the pace phase.
    #[arg(long)]
    skip_pace: bool,
    /// A Vedetta built before the event spine (2c40e10): runs the outbox phase against it.
    #[arg(long, value_name = "PATH")]
    before: Option<PathBuf>,
    /// Pairs of bench-ingest runs (before, after) in the outbox phase.
    #[arg(long, default_value_t = 2)]
    ingest_rounds: usize,
    /// Arguments of each bench-ingest run (besides --vedetta).
    #[arg(
        long,
        default_value = "--messages 1000000 --latency-seconds 10 --naive-messages 10000",
        allow_hyphen_values = true
    )]
    ingest_args: String,
    /// The Vedetta binary [default: target/release/vedetta, built when missing].
    #[arg(long, value_name = "PATH")]
    vedetta: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
        anyhow::bail!("interrupted; everything started is being stopped")
    };
    let outcome: Result<()> = tokio::select! { done = run(args) => done, stop = interrupted => stop };
    if let Err(e) = outcome {
        eprintln!("bench-alerts: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run(args: Args) -> Result<()> {
    ensure!(args.stations >= 3, "--stations must be at least 3 (the probe and two others)");
    ensure!(
        args.rate > 0 && args.probes > 0 && args.probe_interval_ms > 0,
        "rate, probes and interval must be positive"
    );
    ensure!((1..=16).contains(&args.connections), "--connections must be between 1 and 16");
    let now = chrono::Utc::now();
    let binary = {
        let explicit = args.vedetta.clone();
        tokio::task::spawn_blocking(move || testkit::release_vedetta(explicit).map_err(anyhow::Error::msg))
            .await??
    };
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../out");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;

    eprintln!("Starting a private PostgreSQL + PostGIS cluster (fsync on, synchronous_commit on) …");
    let mut cluster = tokio::task::spawn_blocking(testkit::BenchCluster::start).await??;
    let postgres = {
        let pool = cluster.fresh_database("bench_alerts_version", false).await?;
        let full: String = sqlx::query_scalar("select version()").fetch_one(&pool).await?;
        pool.close().await;
        full.split(" on ").next().unwrap_or(&full).to_string()
    };
    let latency_settings = latency::Settings {
        stations: args.stations,
        rate: args.rate,
        connections: args.connections,
        probes: args.probes,
        interval: Duration::from_millis(args.probe_interval_ms),
    };
    let pace_settings =
        pace::Settings { stations: args.stations, messages: args.messages, connections: args.connections };
    let mut latency = None;
    if !args.skip_latency {
        latency = Some(latency::run(&cluster, &binary, &latency_settings).await.context("phase latency")?);
    }
    let mut pace = None;
    if !args.skip_pace {
        pace = Some(pace::run(&cluster, &binary, &pace_settings).await.context("phase pace")?);
    }
    tokio::task::block_in_place(|| cluster.stop())?;
    let date = now.format("%Y-%m-%d").to_string();
    let outbox = match &args.before {
        None => None,
        Some(before) => {
            let settings = outbox::Settings {
                before: before.clone(),
                after: binary.clone(),
                rounds: args.ingest_rounds.max(1),
                args: args.ingest_args.split_whitespace().map(str::to_string).collect(),
                out_dir: out_dir.clone(),
                date: date.clone(),
            };
            Some(outbox::run(&settings).await.context("phase outbox")?)
        }
    };

    let report = report::Report {
        date: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: testkit::Machine::detect(),
        command: command_line(&args),
        postgres,
        mosquitto: rig::mosquitto_version(),
        binary: testkit::describe_binary(&binary),
        connections: args.connections,
        rate: args.rate,
        latency,
        pace,
        outbox,
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    let out = out_dir.join(format!("alerts-{date}.md"));
    std::fs::write(&out, &markdown).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("Written to {}", out.canonicalize().unwrap_or(out).display());
    Ok(())
}

/// The command that reproduces this run.
fn command_line(a: &Args) -> String {
    let mut cmd = format!(
        "cargo run --release -p bench-alerts -- --stations {} --rate {} --probes {} --probe-interval-ms {} \
         --messages {} --connections {}",
        a.stations, a.rate, a.probes, a.probe_interval_ms, a.messages, a.connections
    );
    for (skip, flag) in [(a.skip_latency, " --skip-latency"), (a.skip_pace, " --skip-pace")] {
        if skip {
            cmd.push_str(flag);
        }
    }
    if let Some(before) = &a.before {
        cmd.push_str(&format!(
            " --before {} --ingest-rounds {} --ingest-args '{}'",
            before.display(),
            a.ingest_rounds,
            a.ingest_args
        ));
    }
    if let Some(path) = &a.vedetta {
        cmd.push_str(&format!(" --vedetta {}", path.display()));
    }
    cmd
}
