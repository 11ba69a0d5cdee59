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
    /// Alert rules.
    #[command(subcommand)]
    Alerts(Alerts),
    /// Accounts: add, list, disable.
    #[command(subcommand)]
    Users(crate::accounts::Users),
    /// API tokens: create (printed once), revoke.
    #[command(subcommand)]
    Tokens(crate::accounts::Tokens),
    /// Citizen reports.
    #[command(subcommand)]
    Reports(Reports),
}

#[derive(Debug, Subcommand)]
pub enum Reports {
    /// Removes the reporter's name, email, phone and account from reports that ended (closed, rejected, duplicate)
    /// more than the given time ago (`365d`, `52w`, `12h`).
    Anonymize {
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: chrono::Duration,
    },
}

/// `365d`, `52w`, `12h`, `30m` → a duration.
fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| format!("`{text}` is not an age such as 365d, 52w or 12h"))?;
    let age = match unit {
        "w" => chrono::Duration::try_weeks(n),
        "d" | "" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        _ => None,
    };
    age.ok_or_else(|| format!("`{text}`: the unit is w, d, h or m (365d, 52w, 12h, 30m)"))
}

#[derive(Debug, Subcommand)]
pub enum Alerts {
    /// Validates a rules file (`[[rules]]` tables, or a configuration file's `[[alerts.rules]]`) without applying
    /// it: prints what it holds, or every problem with its line, column, rule and field (exit status 1).
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Import {
    /// Stations from a GeoJSON FeatureCollection of points, upserted by code; invalid features are reported one by
    /// one (exit status 1 when any is invalid).
    Stations {
        /// The GeoJSON file.
        file: PathBuf,
    },
    /// Comuni: municipal boundaries (ISTAT GeoJSON, EPSG:4326) and/or ISTAT's list of comuni
    /// (Elenco-comuni-italiani.csv), in any order, told apart by content.
    Comuni {
        /// The boundary GeoJSON file(s) and/or ISTAT's list (CSV).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// DB Topografico layers (Shapefile, GeoPackage, GeoJSON): objects keep their identity (class + ID) across
    /// releases; a newer release is applied as a difference and the history is kept.
    Dbt {
        /// The files (each Shapefile, GeoPackage layer or GeoJSON is one class).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// ISTAT code of the comune the extract covers (objects of that comune missing from it are removed).
        #[arg(long)]
        comune: Option<String>,
        /// Source CRS when the files do not say (e.g. EPSG:3004).
        #[arg(long)]
        crs: Option<String>,
        /// Release label (default: the file's date).
        #[arg(long)]
        release: Option<String>,
    },
    /// ANNCSU house numbers (INDIRIZZI) and streets (STRADE) in the official bulk format; re-import updates by
    /// PROGRESSIVO_ACCESSO / PROGRESSIVO_NAZIONALE and reports what was added, changed and removed.
    Anncsu {
        /// The house-number file (indirizzario).
        indirizzi: PathBuf,
        /// The street file (stradario).
        strade: Option<PathBuf>,
    },
    /// Alert zones from a GeoJSON FeatureCollection (EPSG:4326): polygons with `code` and `name`, or features with no
    /// geometry and `comuni` (ISTAT codes) whose union is the zone; upserted by code, all or nothing (exit status 1
    /// listing every problem).
    Zones {
        /// The GeoJSON file.
        file: PathBuf,
    },
    /// One version of a zoning plan (PUC/PRG) from a GeoJSON FeatureCollection (EPSG:4326).
    Zoning {
        /// The GeoJSON file.
        file: PathBuf,
        /// The plan, e.g. "PUC Genova".
        #[arg(long)]
        plan: String,
        /// This version's label, e.g. "2015" or "Variante 3".
        #[arg(long)]
        version: String,
        /// Approval date (YYYY-MM-DD): the version is in force from then.
        #[arg(long)]
        approved: chrono::NaiveDate,
        /// The version this one varies: it then replaces only the zones inside its perimeter.
        #[arg(long, value_name = "VERSION")]
        variant_of: Option<String>,
    },
}
