//! Vedetta — territory control and sensor platform for Italian municipalities.
//!
//! This binary only wires the library crates: configuration, the command line, and the lifecycle of the
//! processes it runs (HTTP, MQTT ingest, the embedded broker, the private PostgreSQL cluster).

mod accounts;
mod alerting;
mod cli;
mod config;
mod database;
mod demo;
mod demo_reports;
mod import;
mod reporting;
mod serve;
mod simulate;
mod telemetry;

use clap::Parser;

/// mimalloc: per-thread free lists suit a server that allocates per request on every worker (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};
use crate::config::{Config, OsEnv, Overrides};
use crate::database::{Database, Owner};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides { data_dir: cli.data_dir.clone(), log_format: cli.log_format };
    let config = match Config::load(cli.config.as_deref(), &OsEnv, &overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("vedetta: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init_logs(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vedetta: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Vedetta failed.");
            eprintln!("vedetta: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::serve(config, false).await,
        Command::Demo => serve::serve(config, true).await,
        Command::Ingest => serve::ingest_only(config).await,
        Command::Migrate => {
            let db = Database::open(&config, Owner::Command("vedetta migrate")).await?;
            let migrated = ::database::migrate(&db.pool).await;
            db.close().await?;
            migrated?;
            println!("Migrazioni applicate / migrations applied.");
            Ok(())
        }
        Command::Import(what) => import::run(what, config).await,
        Command::Users(command) => accounts::users(command, config).await,
        Command::Tokens(command) => accounts::tokens(command, config).await,
        Command::Reports(cli::Reports::Anonymize { older_than }) => {
            reporting::anonymize(older_than, config).await
        }
        Command::Simulate(args) => {
            use anyhow::Context;
            let broker_url =
                config.mqtt.url.clone().unwrap_or_else(|| format!("mqtt://{}", config.mqtt.listen));
            let db = Database::open(&config, Owner::Command("vedetta simulate")).await?;
            let result = async {
                ::database::migrate(&db.pool).await.context("while migrating the database")?;
                simulate::run(args, db.pool.clone(), &broker_url).await
            }
            .await;
            db.close().await?;
            result.map(|_| ())
        }
        Command::Config => {
            print!("{}", config.to_masked_toml());
            Ok(())
        }
        Command::Alerts(cli::Alerts::Check { file }) => match alerts::rule::check_file(&file) {
            Ok(summary) => {
                println!("{}: valide / valid — {summary}", file.display());
                Ok(())
            }
            Err(problems) => {
                for p in &problems {
                    println!("  {p}");
                }
                anyhow::bail!("{} problem(s) in {}: the rules are not valid", problems.len(), file.display())
            }
        },
    }
}
