//! `vedetta simulate`: the command line of the storm simulator ([`ingest::simulator`]) and its signals.
//!
//! The first Ctrl-C (or SIGTERM) ends the live phase and waits until the broker has acknowledged what was
//! published; a second one gives up waiting.

use std::time::Duration;

use anyhow::Context;
use ingest::{SimSummary, SimulatorOptions};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Arguments of `vedetta simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Number of demo stations (about 60 % rain gauges, 40 % hydrometers) over the Genova area.
    #[arg(long, default_value_t = 20)]
    pub stations: usize,

    /// Live readings published per second, all stations together.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// Send a convective storm cell across the territory (otherwise light drizzle).
    #[arg(long)]
    pub storm: bool,

    /// Minutes from now until the storm cell is over the territory's centre.
    #[arg(long, value_name = "MINUTES", default_value_t = 10, allow_negative_numbers = true)]
    pub storm_in: i64,

    /// Hours of history published at once before the live readings (one reading per station every 5 minutes).
    #[arg(long, value_name = "HOURS", default_value_t = 3)]
    pub backfill: i64,

    /// Stop the live readings after this many seconds [default: until Ctrl-C].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,

    /// Seed of the stations and of the weather: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl SimulateArgs {
    /// The simulator's options.
    pub fn options(&self) -> SimulatorOptions {
        SimulatorOptions {
            stations: self.stations,
            rate: self.rate,
            storm: self.storm,
            storm_peak_in: chrono::Duration::minutes(self.storm_in.clamp(-100_000, 100_000)),
            backfill: chrono::Duration::hours(self.backfill.clamp(-1_000, 1_000)),
            duration: self.duration.map(Duration::from_secs),
            seed: self.seed,
        }
    }
}

/// Runs `vedetta simulate` until done or interrupted, and says what it published.
pub async fn run(args: SimulateArgs, pool: PgPool, broker_url: &str) -> anyhow::Result<SimSummary> {
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let signals = tokio::spawn(stop_on_signals(stop.clone(), abort.clone()));
    let masked = crate::config::mask_url_password(broker_url);
    let result = ingest::simulator::run(&args.options(), &pool, broker_url, &stop, &abort)
        .await
        .with_context(|| format!("while simulating stations on the broker {masked}"));
    signals.abort();
    let summary = result?;
    println!(
        "Pubblicate {} letture ({} di storico) da {} stazioni / published {} readings ({} backfilled) from {} stations",
        summary.published,
        summary.backfilled,
        summary.stations,
        summary.published,
        summary.backfilled,
        summary.stations
    );
    Ok(summary)
}

/// Fires `stop` at the first Ctrl-C or SIGTERM, `abort` at the second.
async fn stop_on_signals(stop: CancellationToken, abort: CancellationToken) {
    if let Err(e) = signal().await {
        warn!(error = %e, "Cannot listen for Ctrl-C; stop the simulation with --duration.");
        return;
    }
    info!("Stopping: waiting for the broker to acknowledge what was published (Ctrl-C again to give up).");
    stop.cancel();
    if signal().await.is_ok() {
        abort.cancel();
    }
}

/// The next Ctrl-C or SIGTERM.
async fn signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_has_the_documented_defaults() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            args: SimulateArgs,
        }
        let args = Cli::try_parse_from(["simulate"]).unwrap().args;
        assert_eq!((args.stations, args.rate, args.storm, args.duration), (20, 10.0, false, None));
        assert_eq!((args.storm_in, args.backfill, args.seed), (10, 3, 1));
        let args = Cli::try_parse_from([
            "simulate",
            "--storm",
            "--duration",
            "120",
            "--rate",
            "2.5",
            "--backfill",
            "0",
        ])
        .unwrap()
        .args;
        assert_eq!((args.storm, args.duration, args.rate, args.backfill), (true, Some(120), 2.5, 0));
        let opts = args.options();
        assert_eq!(opts.backfill, chrono::Duration::zero());
        assert_eq!(opts.duration, Some(Duration::from_secs(120)));
    }
}
