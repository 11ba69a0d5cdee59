//! `bench-dbt` — the DB Topografico import benchmark of the "territorial data" issue.
//!
//! ```sh
//! cargo run --release -p bench-dbt -- [--features 1000000] [--runs 1] [--skip-large]
//! ```
//!
//! The same files go into fresh databases of one private PostgreSQL + PostGIS cluster (`database::cluster`,
//! server defaults: fsync and synchronous_commit on), once through Vedetta's import (`geodata::dbt::import`, in
//! process, as `vedetta import dbt` runs it) and once through `ogr2ogr -f PostgreSQL … -t_srs EPSG:4326
//! --config PG_USE_COPY YES` (GDAL from Debian). Datasets: the real Venezia extract (`TP_CAN` + `TP_IDRO`,
//! EPSG:3004) and a generated layer of `--features` polygons in EPSG:3004 (`bench/out/dbt/`, written once).
//! The clock runs from the start of the import to its end (commit, indexes built); the database is created
//! and checkpointed before. Prints a Markdown section and writes it to `bench/out/dbt-<date>.md`.

mod generate;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Parser;

/// DB Topografico import: Vedetta vs ogr2ogr.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-dbt")]
struct Args {
    /// Polygons of the generated layer.
    #[arg(long, default_value_t = 1_000_000)]
    features: u64,
    /// Runs of each system on each dataset (the best is reported).
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Only the real extract.
    #[arg(long)]
    skip_large: bool,
}

const TARGET: f64 = 1.5;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-dbt: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-dbt: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Dataset {
    name: String,
    files: Vec<PathBuf>,
    features: u64,
}

struct Row {
    dataset: String,
    features: u64,
    vedetta: f64,
    ogr2ogr: f64,
}

async fn run(args: Args) -> Result<()> {
    ensure!(args.runs >= 1, "--runs must be at least 1");
    let gdal = version(&["ogr2ogr", "--version"]).context("ogr2ogr is needed (apt-get install gdal-bin)")?;
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = here.join("../../../shared/data/dbt/venezia");
    let mut datasets = vec![Dataset {
        name: "Venezia TP_CAN + TP_IDRO (real, EPSG:3004)".into(),
        files: vec![shared.join("TP_CAN.shp"), shared.join("TP_IDRO.shp")],
        features: 586,
    }];
    if !args.skip_large {
        eprintln!("Generating (once) a layer of {} polygons …", args.features);
        let n = args.features;
        let file =
            tokio::task::spawn_blocking(move || generate::layer(&here.join("../out/dbt"), n)).await??;
        datasets.push(Dataset {
            name: "generated polygons (EPSG:3004)".to_string(),
            files: vec![file],
            features: n,
        });
    }
    for d in &datasets {
        for f in &d.files {
            // Both systems read from the page cache.
            std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            std::fs::read(f.with_extension("dbf"))?;
        }
    }

    eprintln!("Starting a private PostgreSQL + PostGIS cluster (fsync on) …");
    let mut cluster = tokio::task::spawn_blocking(testkit::BenchCluster::start).await??;
    let postgres = {
        let pool = cluster.fresh_database("probe", false).await?;
        let v: String = sqlx::query_scalar("select version()").fetch_one(&pool).await?;
        let postgis: String = sqlx::query_scalar("select postgis_full_version()").fetch_one(&pool).await?;
        pool.close().await;
        let proj =
            postgis.split("PROJ=\"").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("?").to_string();
        (v.split(" on ").next().unwrap_or(&v).to_string(), proj)
    };
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for d in &datasets {
        let mut best = (f64::MAX, f64::MAX);
        for run in 0..args.runs {
            eprintln!("{} — run {}: Vedetta …", d.name, run + 1);
            let v = vedetta(&cluster, d).await.with_context(|| format!("Vedetta on {}", d.name))?;
            eprintln!("  {v:.2} s; ogr2ogr …");
            let o = ogr2ogr(&cluster, d).await.with_context(|| format!("ogr2ogr on {}", d.name))?;
            eprintln!("  {o:.2} s");
            best = (best.0.min(v), best.1.min(o));
        }
        rows.push(Row { dataset: d.name.clone(), features: d.features, vedetta: best.0, ogr2ogr: best.1 });
    }
    tokio::task::block_in_place(|| cluster.stop())?;

    let md = markdown(&args, &rows, &now, &postgres.0, &gdal, &postgres.1);
    println!("\n{md}");
    let out = here.join("../out");
    std::fs::create_dir_all(&out)?;
    let path = out.join(format!("dbt-{}.md", now.format("%Y-%m-%d")));
    std::fs::write(&path, &md)?;
    eprintln!("Written to {}", path.canonicalize().unwrap_or(path).display());
    Ok(())
}

/// Seconds for Vedetta to import the dataset into a fresh database.
async fn vedetta(cluster: &testkit::BenchCluster, d: &Dataset) -> Result<f64> {
    let pool = cluster.fresh_database("bench_vedetta", true).await?;
    let start = Instant::now();
    let report =
        geodata::dbt::import(&pool, &d.files, &geodata::dbt::DbtOptions::default(), &|_, _| {}).await?;
    let seconds = start.elapsed().as_secs_f64();
    let stored: u64 = report.classes.iter().map(|c| c.added).sum();
    let read: u64 = report.classes.iter().map(|c| c.features).sum();
    ensure!(read == d.features, "Vedetta read {read} features, expected {}", d.features);
    let rows: i64 = sqlx::query_scalar("select count(*) from topo.object").fetch_one(&pool).await?;
    ensure!(rows as u64 == stored, "{rows} rows stored, report says {stored}");
    pool.close().await;
    Ok(seconds)
}

/// Seconds for ogr2ogr to load the dataset (one process per file, as one would script it).
async fn ogr2ogr(cluster: &testkit::BenchCluster, d: &Dataset) -> Result<f64> {
    let pool = cluster.fresh_database("bench_ogr2ogr", false).await?;
    let (port, user, password) = cluster.libpq();
    let conn = format!("PG:host=127.0.0.1 port={port} dbname=bench_ogr2ogr user={user}");
    let start = Instant::now();
    for file in &d.files {
        let files = file.clone();
        let conn = conn.clone();
        let password = password.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("ogr2ogr")
                .env("PGPASSWORD", password)
                .args(["-f", "PostgreSQL", &conn])
                .arg(&files)
                .args([
                    "-t_srs",
                    "EPSG:4326",
                    "-lco",
                    "GEOMETRY_NAME=geom",
                    "-nlt",
                    "PROMOTE_TO_MULTI",
                    "--config",
                    "PG_USE_COPY",
                    "YES",
                ])
                .output()
        })
        .await??;
        ensure!(out.status.success(), "ogr2ogr failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut rows = 0i64;
    for file in &d.files {
        let table = file.file_stem().unwrap_or_default().to_string_lossy().to_lowercase();
        rows += sqlx::query_scalar::<_, i64>(&format!("select count(*) from \"{table}\""))
            .fetch_one(&pool)
            .await?;
    }
    ensure!(rows as u64 == d.features, "ogr2ogr stored {rows} rows, expected {}", d.features);
    pool.close().await;
    Ok(seconds)
}

fn version(cmd: &[&str]) -> Result<String> {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> String {
    testkit::Machine::detect().to_string()
}

fn markdown(
    args: &Args,
    rows: &[Row],
    now: &chrono::DateTime<chrono::Utc>,
    pg: &str,
    gdal: &str,
    proj: &str,
) -> String {
    let mut s = format!("### DB Topografico import — {}\n\n", now.format("%Y-%m-%d %H:%M UTC"));
    s.push_str(&format!("- machine: {}\n", machine()));
    s.push_str(&format!("- {pg}; {gdal}; PROJ {proj}\n"));
    s.push_str(&format!(
        "- command: `cargo run --release -p bench-dbt -- --features {} --runs {}{}`\n",
        args.features,
        args.runs,
        if args.skip_large { " --skip-large" } else { "" }
    ));
    s.push_str(
        "- one private cluster (`database::cluster`, fsync on), a fresh database per run; Vedetta = \
         `geodata::dbt::import` (registry with history, digests, validity repair, GiST); ogr2ogr = \
         `ogr2ogr -f PostgreSQL PG:… FILE -t_srs EPSG:4326 -lco GEOMETRY_NAME=geom -nlt PROMOTE_TO_MULTI --config PG_USE_COPY YES` \
         (GiST too); best of the runs\n\n",
    );
    s.push_str("| dataset | features | Vedetta s | Vedetta features/s | ogr2ogr s | ogr2ogr features/s | ratio | target ≥ 1.5× |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let ratio = r.ogr2ogr / r.vedetta;
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2}× | {} |\n",
            r.dataset,
            r.features,
            r.vedetta,
            r.features as f64 / r.vedetta,
            r.ogr2ogr,
            r.features as f64 / r.ogr2ogr,
            ratio,
            if ratio >= TARGET { "PASS" } else { "MISSED" }
        ));
    }
    s
}
