//! `bench-geocode` — the geocoder benchmark of the "territorial data" issue, with Nominatim beside it.
//!
//! ```sh
//! cargo run --release -p bench-geocode -- [--civici 20000] [--addresses 1500] [--seed N] [--no-knn] \
//!     [--no-nominatim] [--nominatim-queries N] [--nominatim-filter viewbox|text] [--out FILE]
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
//! 5. writes the same civici as OpenStreetMap address nodes with their streets and comuni (OSM XML), imports them
//!    with Nominatim 5.3 (`nominatim import`, osm2pgsql) into a database of the same cluster (timed), and replays
//!    the same log through Nominatim's Python library, in-process (`nominatim/replay.py`);
//!
//! and prints a Markdown table: p50/p95/p99/max latency per query, queries per second (one client), and how often
//! the address sought is first / in the top 10 once it is fully typed, then Nominatim ÷ Vedetta ratios. A missed
//! target does not fail the process.

mod baseline;
mod generate;
mod names;
mod nominatim;
mod osm;
mod report;
mod rng;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::{Parser, ValueEnum};
use geodata::geocoder::{GeocodeQuery, Geocoder, MatchKind};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use report::{Outcome, Peer, Setup};
use workload::Query;

/// Geocoder benchmark: Vedetta's autocomplete against PostgreSQL ILIKE and trigram similarity.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-geocode")]
struct Args {
    /// Civici generated and imported (Vedetta's target is stated over 1,000,000: `--civici 1000000`, about
    /// 35 minutes on 2 cores, 20 of them Nominatim's import).
    #[arg(long, default_value_t = 20_000)]
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
    /// Skip Nominatim (its installation, import and replay).
    #[arg(long)]
    no_nominatim: bool,
    /// Queries of the log replayed against Nominatim (and, for the ratios, against Vedetta again), evenly spread
    /// over the log; 0 for the whole log.
    #[arg(long, default_value_t = 0)]
    nominatim_queries: usize,
    /// How a query's comune filter reaches Nominatim, which has no comune parameter: as a bounded viewbox of the
    /// comune's box (`viewbox=…&bounded=1`), or as `, Comune` appended to the text.
    #[arg(long, value_enum, default_value_t = Filter::Viewbox)]
    nominatim_filter: Filter,
    /// Also keep the OSM XML given to Nominatim, and its import log (FILE.log).
    #[arg(long, value_name = "FILE")]
    osm: Option<PathBuf>,
    /// Threads of `nominatim import`.
    #[arg(long, default_value_t = 2)]
    nominatim_threads: usize,
    /// Print this many complete queries whose civico Vedetta (and Nominatim) did not put first (to study the misses).
    #[arg(long, default_value_t = 0)]
    show_misses: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// How the comune filter of a query is given to Nominatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Filter {
    Viewbox,
    Text,
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
    let vedetta_db_bytes = nominatim::schema_bytes(&pool, "toponymy").await?;

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

    let peer = if args.no_nominatim {
        None
    } else {
        let vedetta_full = outcomes.first().cloned().context("no Vedetta outcome")?;
        let work = PeerWork { db: &db, data: &data, log: &log, dir: dir.path() };
        let peer =
            nominatim_peer(args, &work, &geocoder, vedetta_full, import_s + load_s, vedetta_db_bytes).await?;
        outcomes.push(peer.nominatim.clone());
        Some(peer)
    };

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
    let text = report::markdown(&setup, &outcomes, peer.as_ref());
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
             values ($1, $2, $3, st_multi(st_expand(st_setsrid(st_makepoint($4, $5), 4326), $6)))",
        )
        .bind(istat)
        .bind(belfiore)
        .bind(name)
        .bind(lon)
        .bind(lat)
        .bind(osm::COMUNE_HALF_SIDE)
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
        let latency = t.elapsed();
        tally(&mut outcome, q, found.iter().position(|(id, _)| *id == q.expected as i64), latency);
    }
    outcome.total = started.elapsed();
    eprintln!("  {}", report::summary(&outcome));
    Ok(outcome)
}

/// Counts a query's result: `position` is where the civico sought came among the results (the same rule for
/// every engine: that civico, identified by its row, its exact position or its OSM node).
fn tally(outcome: &mut Outcome, q: &Query, position: Option<usize>, latency: std::time::Duration) {
    outcome.latencies.push(latency);
    if !q.complete {
        return;
    }
    outcome.complete_latencies.push(latency);
    let rows = workload::typed::ROWS;
    outcome.by_typing.resize(rows.len(), (0, 0));
    for (k, &(_, mask, all)) in rows.iter().enumerate() {
        let counted = if all { q.features & mask == mask } else { q.features & mask == 0 };
        if counted {
            outcome.by_typing[k].0 += 1;
            if position == Some(0) {
                outcome.by_typing[k].1 += 1;
            }
        }
    }
    outcome.complete += 1;
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

/// What the Nominatim run works on.
struct PeerWork<'a> {
    db: &'a testkit::TestDb,
    data: &'a generate::Dataset,
    log: &'a [Query],
    dir: &'a std::path::Path,
}

/// Installs Nominatim, imports the same civici as OSM data, replays the same log (or an even sample of it, then
/// Vedetta's figures for the ratios are measured again on the same sample).
async fn nominatim_peer(
    args: &Args,
    work: &PeerWork<'_>,
    geocoder: &Geocoder,
    vedetta_full: Outcome,
    vedetta_import_s: f64,
    vedetta_db_bytes: i64,
) -> Result<Peer> {
    eprintln!("Nominatim: installing (bench/geocode/nominatim/setup.sh) …");
    let install = nominatim::install()?;
    eprintln!("  Nominatim {}, osm2pgsql {}", install.nominatim, install.osm2pgsql);

    let osm_path = work.dir.join("civici.osm");
    let started = Instant::now();
    let written = osm::write(work.data, &osm_path)?;
    eprintln!(
        "  OSM XML: {} address nodes, {} streets, {:.0} MB in {:.1} s",
        written.addresses,
        written.streets,
        written.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let database = "nominatim_bench";
    let project = work.dir.join("nominatim");
    eprintln!("Nominatim: nominatim import (osm2pgsql, indexing) …");
    let imported =
        nominatim::import(&install, &project, &work.db.url, database, &osm_path, args.nominatim_threads)?;
    eprintln!("  {:.1} s", imported.total.as_secs_f64());
    if let Some(keep) = &args.osm {
        std::fs::copy(&osm_path, keep).with_context(|| format!("cannot write {}", keep.display()))?;
        let mut log = keep.clone().into_os_string();
        log.push(".log");
        std::fs::copy(&imported.log, &log)?;
    }
    let db_bytes = {
        let (base, _) = work.db.url.rsplit_once('/').context("a database URL")?;
        let nominatim_pool =
            PgPoolOptions::new().max_connections(1).connect(&format!("{base}/{database}")).await?;
        let bytes = nominatim::schema_bytes(&nominatim_pool, "public").await?;
        nominatim_pool.close().await;
        bytes
    };

    let sample: Vec<Query> = if args.nominatim_queries == 0 || args.nominatim_queries >= work.log.len() {
        work.log.to_vec()
    } else {
        let stride = work.log.len().div_ceil(args.nominatim_queries);
        work.log.iter().step_by(stride).cloned().collect()
    };
    let whole_log = sample.len() == work.log.len();
    let queries: Vec<(String, Option<[f64; 4]>)> = sample
        .iter()
        .map(|q| {
            let comune = q.istat.and_then(|istat| names::COMUNI.iter().find(|c| c.0 == istat));
            match (comune, args.nominatim_filter) {
                (None, _) => (q.text.clone(), None),
                (Some(&(_, _, _, lon, lat)), Filter::Viewbox) => {
                    let h = osm::COMUNE_HALF_SIDE;
                    (q.text.clone(), Some([lon - h, lat - h, lon + h, lat + h]))
                }
                (Some(&(_, _, name, ..)), Filter::Text) => (format!("{}, {name}", q.text), None),
            }
        })
        .collect();
    eprintln!(
        "Nominatim: replaying {} queries in-process (nominatim_api.NominatimAPIAsync.search) …",
        queries.len()
    );
    let (replies, total) =
        nominatim::replay(&install, &project, &queries, LIMIT, WARM_UP.min(sample.len() / 5))?;
    let mut outcome = Outcome {
        engine: format!("Nominatim {} (`NominatimAPIAsync.search`, in-process)", install.nominatim),
        total,
        ..Outcome::default()
    };
    let civici = work.data.civici.len();
    for (q, reply) in sample.iter().zip(&replies) {
        let position = reply
            .results
            .iter()
            .position(|&(kind, id)| kind == 'N' && osm::civico_of_node(id, civici) == Some(q.expected));
        tally(&mut outcome, q, position, reply.latency);
    }
    eprintln!("  {}", report::summary(&outcome));
    if args.show_misses > 0 {
        let misses = sample.iter().zip(&queries).zip(&replies).filter(|((q, _), r)| {
            q.complete
                && r.results.first().and_then(|&(k, id)| (k == 'N').then_some(id))
                    != Some(osm::civico_node(q.expected))
        });
        for (((q, (text, viewbox)), r), _) in misses.zip(0..args.show_misses) {
            eprintln!(
                "NOMINATIM MISS `{text}` [{}] wanted `{}` got `{}`",
                if viewbox.is_some() { "viewbox" } else { "-" },
                baseline::label(work.data, q.expected),
                r.first_label
            );
        }
    }

    let vedetta = if whole_log {
        vedetta_full
    } else {
        eprintln!("Vedetta again on Nominatim's sample …");
        let mut o = vedetta(geocoder, work.data, &sample).await?;
        o.engine = format!("{} (Nominatim's sample)", o.engine);
        o
    };
    Ok(Peer {
        nominatim_version: install.nominatim,
        osm2pgsql_version: install.osm2pgsql,
        osm_mb: written.bytes as f64 / 1e6,
        addresses: written.addresses,
        import_s: imported.total.as_secs_f64(),
        stages: imported.stages,
        db_mb: db_bytes as f64 / 1e6,
        vedetta_db_mb: vedetta_db_bytes as f64 / 1e6,
        vedetta_import_s,
        filter: match args.nominatim_filter {
            Filter::Viewbox => "a bounded viewbox of the comune's box (`viewbox`, `bounded_viewbox=True`)",
            Filter::Text => "`, Comune` appended to the text",
        },
        whole_log,
        threads: args.nominatim_threads,
        timeouts: replies.iter().filter(|r| r.timed_out).count(),
        vedetta,
        nominatim: outcome,
    })
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
