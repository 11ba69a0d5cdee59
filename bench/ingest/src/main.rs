//! `bench-ingest` — the ingest benchmark of the "sensor network" issue.
//!
//! ```sh
//! cargo build --release -p vedetta
//! cargo run --release -p bench-ingest -- [--messages 300000] [--stations 1000] [--rate-latency 5000] \
//!     [--latency-seconds 20] [--naive-messages 30000] [--publishers 2] [--vedetta target/release/vedetta]
//! ```
//!
//! In one run on one machine, with Mosquitto 2 as the broker and QoS 1, it measures:
//!
//! 1. **Vedetta**: the real `vedetta ingest` worker against a private PostgreSQL + PostGIS cluster with production
//!    durability (fsync on, synchronous_commit on). `--messages` readings of `--stations` stations are published
//!    as fast as the broker accepts them; the sustained rate is readings / (first publish → Vedetta's
//!    `vedetta_ingest_readings_stored_total` counts them all). Then readings are published at `--rate-latency`
//!    per second for `--latency-seconds`, each observed at its publish time, and the p50/p99 of publish → commit
//!    come from the `vedetta_ingest_commit_lag_seconds` histogram (read before and after). Peak RSS is `VmHWM`.
//! 2. **raw COPY**: the same rows in one `COPY … FROM STDIN` into the same table — the physical reference.
//! 3. **naive consumer**: an in-process subscriber doing SELECT + INSERT + commit per message, for
//!    `--naive-messages` readings.
//! 4. **MQTT only** (a reference, not a target): the burst of 1. through a fresh broker to a subscriber that stores
//!    nothing — the ceiling the broker and the publishers set on this machine.
//!
//! It prints a Markdown table with the ratios, the machine and the date, with PASS/MISSED against each target, and
//! writes the same text to `bench/out/ingest-<date>.md`. A missed target does not fail the process; an error does.
//! Every child (cluster, broker, Vedetta) is stopped on every exit path; a watchdog stops them if the benchmark is
//! killed. See `bench/ingest/README.md`.

mod copy;
mod database;
mod metrics;
mod naive;
mod processes;
mod report;
mod transport;
mod vedetta;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};
use clap::Parser;

/// Ingest benchmark: Vedetta vs raw COPY vs a naive one-INSERT-per-message consumer.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-ingest")]
struct Args {
    /// Readings published in the throughput phase (and written by the raw COPY).
    #[arg(long, default_value_t = 300_000)]
    messages: u64,
    /// Stations (half rain gauges, half hydrometers).
    #[arg(long, default_value_t = 1000)]
    stations: u32,
    /// Readings per second of the latency phase.
    #[arg(long, default_value_t = 5000)]
    rate_latency: u32,
    /// Duration of the latency phase, in seconds.
    #[arg(long, default_value_t = 20)]
    latency_seconds: u32,
    /// Readings for the naive consumer.
    #[arg(long, default_value_t = 30_000)]
    naive_messages: u64,
    /// Publishing MQTT connections.
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// The Vedetta binary [default: target/release/vedetta, built when missing].
    #[arg(long, value_name = "PATH")]
    vedetta: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-ingest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = run(args) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; everything started was stopped")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-ingest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    ensure!(args.messages > 0 && args.naive_messages > 0, "--messages and --naive-messages must be positive");
    ensure!(args.stations >= 2, "--stations must be at least 2 (one rain gauge, one hydrometer)");
    ensure!(
        args.rate_latency > 0 && args.latency_seconds > 0,
        "the latency phase needs a rate and a duration"
    );
    ensure!((1..=16).contains(&args.publishers), "--publishers must be between 1 and 16");
    let machine = report::Machine::detect();
    let binary = tokio::task::spawn_blocking({
        let explicit = args.vedetta.clone();
        move || testkit::release_vedetta(explicit).map_err(anyhow::Error::msg)
    })
    .await??;

    eprintln!("Starting a private PostgreSQL + PostGIS cluster (fsync on, synchronous_commit on) …");
    let mut cluster = tokio::task::spawn_blocking(database::BenchCluster::start).await??;
    let postgres = {
        let pool = database::pool(&cluster.url("postgres"), 1).await?;
        let version = database::server_version(&pool).await?;
        pool.close().await;
        version
    };

    let now = chrono::Utc::now();
    let plan = workload::Plan::new(args.messages, args.stations, now);
    let settings = vedetta::Settings {
        binary: binary.clone(),
        publishers: args.publishers,
        latency_rate: args.rate_latency,
        latency_seconds: args.latency_seconds,
    };
    // A fresh broker per phase: Vedetta's persistent session would otherwise make the broker keep a copy of every
    // later message for it.
    let mut broker = start_broker().await?;
    let vedetta = vedetta::run(&cluster, &mut broker, &plan, &settings).await.context("phase vedetta")?;
    let mosquitto_peak_rss_kb = broker.peak_rss_kb();
    let mosquitto = broker.version().to_string();
    drop(broker);
    let copy = copy::run(&cluster, &plan).await.context("phase raw COPY")?;
    let mut broker = start_broker().await?;
    let transport = transport::run(&mut broker, &plan, args.publishers).await.context("phase MQTT only")?;
    drop(broker);
    let naive_plan = workload::Plan::new(args.naive_messages, args.stations, now);
    let mut broker = start_broker().await?;
    let naive = naive::run(&cluster, &mut broker, &naive_plan, args.publishers)
        .await
        .context("phase naive consumer")?;
    drop(broker);
    tokio::task::block_in_place(|| cluster.stop())?;

    let report = report::Report {
        date: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        machine,
        command: command_line(&args),
        postgres,
        mosquitto,
        vedetta_binary: testkit::describe_binary(&binary),
        stations: args.stations,
        publishers: args.publishers,
        vedetta,
        copy,
        naive,
        transport,
        mosquitto_peak_rss_kb,
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../out");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let out = out_dir.join(format!("ingest-{}.md", now.format("%Y-%m-%d")));
    std::fs::write(&out, &markdown).with_context(|| format!("cannot write {}", out.display()))?;
    let shown = out.canonicalize().unwrap_or(out);
    eprintln!("Written to {}", shown.display());
    Ok(())
}

async fn start_broker() -> Result<processes::Mosquitto> {
    processes::Mosquitto::start().await.context("while starting Mosquitto")
}

/// The command that reproduces this run.
fn command_line(args: &Args) -> String {
    let mut cmd = format!(
        "cargo run --release -p bench-ingest -- --messages {} --stations {} --rate-latency {} \
         --latency-seconds {} --naive-messages {} --publishers {}",
        args.messages,
        args.stations,
        args.rate_latency,
        args.latency_seconds,
        args.naive_messages,
        args.publishers
    );
    if let Some(path) = &args.vedetta {
        cmd.push_str(&format!(" --vedetta {}", path.display()));
    }
    cmd
}
