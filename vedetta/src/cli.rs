//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

/// Vedetta — territory control and sensor platform for Italian municipalities.
#[derive(Debug, Parser)]
#[command(name = "vedetta", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML); see vedetta.example.toml.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data directory (private PostgreSQL cluster, lock) [default: ./.vedetta].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: HTTP server, MQTT ingest and, without an external broker, the embedded one.
    Serve,
    /// `serve` on generated demo data.
    Demo,
    /// Run the MQTT ingest loop alone (scale-out worker).
    Ingest,
    /// Run the database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets masked.
    Config,
    /// Publish readings of simulated stations (a storm over Genova with --storm) to the MQTT broker.
    Simulate(crate::simulate::SimulateArgs),
    /// Import data.
    #[command(subcommand)]
    Import(Import),
}

#[derive(Debug, Subcommand)]
pub enum Import {
    /// Stations from a GeoJSON FeatureCollection of points, upserted by code; invalid features are reported one by
    /// one (exit status 1 when any is invalid).
    Stations {
        /// The GeoJSON file.
        file: PathBuf,
    },
}
