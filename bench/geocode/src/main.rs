//! `bench-geocode` — the geocoder benchmark of the "territorial data" issue.
//!
//! ```sh
//! cargo run --release -p bench-geocode -- [--civici 1000000] [--addresses 1500] [--seed N] [--no-knn] [--out FILE]
//! ```
//!
//! In one run on one machine, against one private PostgreSQL + PostGIS cluster (the test harness's):
//!
//! 1. generates `--civici` civici on streets with realistic Italian names in 40 comuni, written in the official
//!    ANNCSU bulk format (BOM, `;`, decimal comma), and imports them with `geodata::anncsu::import` (timed);
//! 2. builds the geocoder's street index (timed, with its size);
//! 3. replays a query log: `--addresses` real addresses typed keystroke by keystroke, sloppily (abbreviations,
//!    missing first names, Roman numerals as digits, apostrophes and accents of every kind, typos, house numbers
//!    as `12/a`, `12 bis`, `n. 12`, `12r`), 70% with a comune filter, against `Geocoder::search` (limit 10);
//! 4. replays the same log against a plain PostgreSQL table of address labels: `ILIKE '%q%'` with a pg_trgm GIN
//!    index, and trigram similarity (`%`, ordered by `<->` through a pg_trgm GiST index);
//!
//! and prints a Markdown table: p50/p95/p99/max latency per query, queries per second (one client), and how often
//! the address sought is first / in the top 10 once it is fully typed. A missed target does not fail the process.

mod baseline;
mod generate;
mod names;
mod report;
mod rng;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Parser;
use geodata::geocoder::{GeocodeQuery, Geocoder, MatchKind};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use report::{Outcome, Setup};
use workload::Query;

/// Geocoder benchmark: Vedetta's autocomplete against PostgreSQL ILIKE and trigram similarity.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-geocode")]
struct Args {
    /// Civici generated and imported.
    #[arg(long, default_value_t = 1_000_000)]
    civici: usize,
    /// Addresses of the query log (each typed keystroke by keystroke: about 7 queries per address).
    #[arg(long, default_value_t = 1500)]
    addresses: usize,
    /// Seed of the data set and of the query log.
    #[arg(long, default_value_t = 20_261_122)]
    seed: u64,
    /// Skip the trigram-similarity baseline.
    #[arg(long)]
    no_knn: bool,
    /// Queries of the log replayed against the trigram-similarity baseline, evenly spread over the log (it takes
    /// tens to hundreds of milliseconds a query over a million rows).
    #[arg(long, default_value_t = 1500)]
    knn_queries: usize,
    /// Print this many complete queries whose civico Vedetta did not put first (to study the misses).
    #[arg(long, default_value_t = 0)]
    show_misses: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Results asked of each engine, as the API's default.
const LIMIT: usize = 10;
/// Queries replayed before measuring.
const WARM_UP: usize = 300;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-geocode: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-geocode: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<()> {
    eprintln!("starting the private PostgreSQL + PostGIS cluster …");
    let db = testkit::TestDb::new().await;
    let pool = PgPoolOptions::new().max_connections(4).connect(&db.url).await?;
    let server: (String, String) =
        sqlx::query_as("select current_setting('server_version'), postgis_lib_version()")
            .fetch_one(&pool)
            .await?;

    eprintln!("generating {} civici …", args.civici);
    let started = Instant::now();
    let data = generate::dataset(args.civici, args.seed);
    let dir = tempfile::Builder::new().prefix("vedetta-bench-geocode-").tempdir()?;
    let (indirizzi, strade) = (dir.path().join("indirizzi.csv"), dir.path().join("strade.csv"));
    generate::write_files(&data, &indirizzi, &strade)?;
    let file_mb = std::fs::metadata(&indirizzi)?.len() as f64 / 1e6;
    eprintln!("  {} streets, {file_mb:.0} MB, {:.1} s", data.streets.len(), started.elapsed().as_secs_f64());
    insert_comuni(&pool).await?;

    eprintln!("importing with geodata::anncsu::import …");
    let started = Instant::now();
    let progress = |rows: u64| {
        if rows % 200_000 < 12_000 {
            eprint!("\r  {rows} rows");
        }
    };
    let imported = geodata::anncsu::import(&pool, &indirizzi, Some(&strade), &progress).await?;
    let import_s = started.elapsed().as_secs_f64();
    eprintln!("\r  {} civici, {} streets in {import_s:.1} s", imported.civici_added, imported.streets_added);
    ensure!(imported.civici_added == args.civici as u64, "imported {} civici", imported.civici_added);
    ensure!(
        imported.rejected.is_empty(),
        "rejected rows: {:?}",
        &imported.rejected[..3.min(imported.rejected.len())]
    );
    sqlx::query("vacuum analyze").execute(&pool).await?;

    let rss_before = rss_kb();
    let geocoder = Geocoder::new(pool.clone());
    let started = Instant::now();
    let stats = geocoder.refresh().await?;
    let load_s = started.elapsed().as_secs_f64();
    let rss_growth_mb = rss_kb().saturating_sub(rss_before) as f64 / 1024.0;

    let log = workload::query_log(&data, args.addresses, args.seed ^ 0x5EED);
    eprintln!("query log: {} queries from {} addresses", log.len(), args.addresses);
    let mut outcomes = Vec::new();

    eprintln!("Vedetta geocoder …");
    outcomes.push(vedetta(&geocoder, &data, &log).await?);
    if args.show_misses > 0 {
        show_misses(&geocoder, &data, &log, args.show_misses).await?;
    }

    eprintln!("baseline: building the pg_trgm indexes …");
    let index_time = baseline::prepare(&pool, &data, !args.no_knn).await?;
    eprintln!("  {:.1} s", index_time.as_secs_f64());
    eprintln!("baseline: ILIKE …");
    outcomes.push(
        replay("PostgreSQL `ILIKE '%q%'` (pg_trgm GIN)", &log, |q| {
            let (pool, text, istat) = (pool.clone(), q.text.clone(), q.istat);
            async move { baseline::ilike(&pool, &text, istat, LIMIT as i64).await }
        })
        .await?,
    );
    if !args.no_knn {
        eprintln!("baseline: trigram similarity …");
        let stride = log.len().div_ceil(args.knn_queries.max(1));
        let sample: Vec<Query> = log.iter().step_by(stride).cloned().collect();
        outcomes.push(
            replay("PostgreSQL trigram `%` + `<->` (pg_trgm GiST)", &sample, |q| {
                let (pool, text, istat) = (pool.clone(), q.text.clone(), q.istat);
                async move { baseline::trigram(&pool, &text, istat, LIMIT as i64).await }
            })
            .await?,
        );
    }

    let setup = Setup {
        civici: args.civici,
        streets: data.streets.len(),
        comuni: names::COMUNI.len(),
        file_mb,
        import_s,
        index: stats,
        load_s,
        rss_growth_mb,
        queries: log.len(),
        complete: log.iter().filter(|q| q.complete).count(),
        addresses: args.addresses,
        server,
        baseline_index_s: index_time.as_secs_f64(),
        examples: log.iter().filter(|q| q.complete).take(8).map(|q| q.text.clone()).collect(),
    };
    let text = report::markdown(&setup, &outcomes);
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    }
    pool.close().await;
    Ok(())
}

/// The comuni in `core.comune` (a box around each centre), so that they have their names.
async fn insert_comuni(pool: &PgPool) -> Result<()> {
    for (istat, belfiore, name, lon, lat) in names::COMUNI {
        sqlx::query(
            "insert into core.comune (istat, belfiore, name, geom)
             values ($1, $2, $3, st_multi(st_expand(st_setsrid(st_makepoint($4, $5), 4326), 0.1)))",
        )
        .bind(istat)
        .bind(belfiore)
        .bind(name)
        .bind(lon)
        .bind(lat)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Replays the log against the geocoder.
async fn vedetta(geocoder: &Geocoder, data: &generate::Dataset, log: &[Query]) -> Result<Outcome> {
    replay("Vedetta `Geocoder::search`", log, |q| {
        let geocoder = geocoder.clone();
        let query = GeocodeQuery { q: q.text.clone(), comune: q.comune.clone(), limit: Some(LIMIT) };
        let expected = data.civici[q.expected].point;
        let expected_id = q.expected as i64;
        async move {
            let found = geocoder.search(&query).await?;
            // Report the expected civico's id where it was found, so that recall is counted as for the baseline.
            Ok::<_, anyhow::Error>(
                found
                    .into_iter()
                    .map(|c| {
                        let hit = c.kind == MatchKind::Civico
                            && expected
                                .is_some_and(|(x, y)| (c.lon - x).abs() < 1e-9 && (c.lat - y).abs() < 1e-9);
                        (if hit { expected_id } else { -1 }, c.label)
                    })
                    .collect(),
            )
        }
    })
    .await
}

/// Prints complete queries whose civico is not first, with what came first.
async fn show_misses(geocoder: &Geocoder, data: &generate::Dataset, log: &[Query], n: usize) -> Result<()> {
    let mut shown = 0;
    for q in log.iter().filter(|q| q.complete) {
        let query = GeocodeQuery { q: q.text.clone(), comune: q.comune.clone(), limit: Some(LIMIT) };
        let found = geocoder.search(&query).await?;
        let expected = baseline::label(data, q.expected);
        if found.first().map(|c| c.label.as_str()) != Some(expected.as_str()) {
            eprintln!("MISS `{}` [{:?}] wanted `{expected}`", q.text, q.comune);
            for c in found.iter().take(3) {
                eprintln!("     {:.3} {:?} {} {:?}", c.score, c.kind, c.label, c.note);
            }
            shown += 1;
            if shown == n {
                break;
            }
        }
    }
    Ok(())
}

/// Replays `log` through `run`, which returns (id, label) of each result; measures each call.
async fn replay<F, Fut>(engine: &str, log: &[Query], run: F) -> Result<Outcome>
where
    F: Fn(&Query) -> Fut,
    Fut: Future<Output = Result<Vec<(i64, String)>>>,
{
    for q in log.iter().take(WARM_UP.min(log.len() / 5)) {
        run(q).await?;
    }
    let mut outcome = Outcome { engine: engine.to_string(), ..Outcome::default() };
    let started = Instant::now();
    for q in log {
        let t = Instant::now();
        let found = run(q).await?;
        outcome.latencies.push(t.elapsed());
        if q.complete {
            outcome.complete += 1;
            let position = found.iter().position(|(id, _)| *id == q.expected as i64);
            if position == Some(0) {
                outcome.top1 += 1;
            }
            if q.comune.is_some() || q.text.contains(',') {
                outcome.with_comune += 1;
                if position == Some(0) {
                    outcome.with_comune_top1 += 1;
                }
            }
            if position.is_some() {
                outcome.top10 += 1;
            }
        }
    }
    outcome.total = started.elapsed();
    eprintln!("  {}", report::summary(&outcome));
    Ok(outcome)
}

/// Resident set size of this process, KiB.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
