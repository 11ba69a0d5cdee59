//! `bench-reports` — the citizen-reports benchmark of issue 9.
//!
//! ```sh
//! cargo run --release -p bench-reports -- [--reports 1000000] [--stats-runs 50] [--nearby-points 1000] \
//!     [--creations 60] [--out FILE]
//! ```
//!
//! In one run on one machine, against a private PostgreSQL + PostGIS cluster with production durability
//! (`testkit::BenchCluster`), over the 149 real comuni of the metropolitan cities of Genova and Palermo:
//!
//! 1. loads `--reports` reports with four years of history (`generate.rs`);
//! 2. **stats**: `reports::stats::stats` for Genova over the last year, `--stats-runs` times, beside the same
//!    figures computed by a loop of ~80 statements with `ORDER BY … OFFSET` medians, and by fetching the rows and
//!    computing in Rust; the comune-wide medians of the three are checked equal;
//! 3. **nearby**: `reports::report::nearby` (250 m, same category, 10 at most) at `--nearby-points` points near
//!    existing reports, beside the same lookup with `ST_Distance(geom::geography, …) <= 250` and no index; the
//!    answers are checked equal;
//! 4. **filing with a photo**: `reports::photo::process` of a 12-megapixel phone JPEG, `PhotoStore::save` and
//!    `reports::report::create`, one at a time and two at a time, beside a careless photo pipeline (no limits,
//!    Lanczos3 twice from the full picture).
//!
//! It prints a Markdown section with PASS/MISSED per target (stats p99 ≤ 100 ms, nearby p99 ≤ 10 ms) and writes it
//! to `bench/out/reports-<date>.md`. A missed target is reported, not an error.

mod generate;
mod naive;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use clap::Parser;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reports::photo::{self, PhotoStore};
use reports::report::{self, NewReport, Reporter, ReporterType, Source};
use reports::stats::{self, StatsQuery};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// Citizen-reports benchmark: stats, nearby duplicates and filing with a photo over a million reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-reports")]
struct Args {
    /// Reports generated.
    #[arg(long, default_value_t = 1_000_000)]
    reports: u64,
    /// Seed of the data set and of the workload.
    #[arg(long, default_value_t = 2026)]
    seed: u32,
    /// Timed runs of the stats query (after 3 to warm up).
    #[arg(long, default_value_t = 50)]
    stats_runs: usize,
    /// Timed runs of the statement-loop stats peer.
    #[arg(long, default_value_t = 10)]
    naive_stats_runs: usize,
    /// Points of the nearby lookup.
    #[arg(long, default_value_t = 1000)]
    nearby_points: usize,
    /// Points of the index-less nearby peer (each scans the table).
    #[arg(long, default_value_t = 100)]
    naive_nearby_points: usize,
    /// Reports filed with a photo, in each of the one-at-a-time and two-at-a-time runs.
    #[arg(long, default_value_t = 60)]
    creations: usize,
    /// Reports filed with the careless photo pipeline.
    #[arg(long, default_value_t = 15)]
    naive_creations: usize,
    /// After loading, print the plan of the stats statement (`EXPLAIN ANALYZE`) and stop.
    #[arg(long)]
    explain: bool,
    /// Also write the report to this file [default: bench/out/reports-<date>.md].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

const STATS_TARGET_MS: f64 = 100.0;
const NEARBY_TARGET_MS: f64 = 10.0;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-reports: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-reports: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Nearest-rank percentiles of durations, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Summary {
    n: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Summary {
    fn of(samples: &[Duration]) -> Summary {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if ms.is_empty() {
                return 0.0;
            }
            let rank = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
            ms[rank - 1]
        };
        Summary {
            n: ms.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: ms.last().copied().unwrap_or_default(),
            mean: if ms.is_empty() { 0.0 } else { ms.iter().sum::<f64>() / ms.len() as f64 },
        }
    }

    fn row(&self, name: &str, reference: Option<&Summary>) -> String {
        let ratio = reference.map_or_else(
            || "1×".to_string(),
            |r| {
                let ratio = self.p50 / r.p50.max(1e-9);
                if ratio >= 10.0 { format!("{ratio:.0}×") } else { format!("{ratio:.2}×") }
            },
        );
        format!(
            "| {name} | {} | {} | {} | {} | {} | {ratio} |\n",
            self.n,
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISSED" }
}

const TABLE_HEAD: &str =
    "| what | runs | p50 | p95 | p99 | max | p50 ÷ Vedetta |\n|---|---:|---:|---:|---:|---:|---:|\n";

/// A small deterministic generator (xorshift), for the workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

async fn run(args: &Args) -> Result<()> {
    let machine = testkit::Machine::detect();
    let date = Utc::now();
    eprintln!("starting the private PostgreSQL + PostGIS cluster …");
    let cluster = tokio::task::spawn_blocking(testkit::BenchCluster::start).await??;
    let setup = cluster.fresh_database("bench_reports", true).await?;
    setup.close().await;
    let pool = PgPoolOptions::new().max_connections(4).connect(&cluster.url("bench_reports")).await?;
    let server: String = sqlx::query_scalar("select version()").fetch_one(&pool).await?;
    let server = server.split(" on ").next().unwrap_or(&server).to_string();

    let comuni = generate::comuni(&pool).await?;
    ensure!(comuni == 149, "{comuni} comuni imported, expected 149");
    eprintln!("generating {} reports over {comuni} comuni …", args.reports);
    let started = Instant::now();
    let loaded = generate::reports(&pool, args.reports, args.seed).await?;
    let load_s = started.elapsed().as_secs_f64();
    eprintln!(
        "  {} reports in {load_s:.0} s (points {:.0} s, insert {:.0} s, indexes and analyze {:.0} s)",
        loaded.reports, loaded.points_s, loaded.insert_s, loaded.index_s
    );

    if args.explain {
        let to = Utc::now();
        let mut tx = pool.begin().await?;
        sqlx::query("set local enable_sort = off").execute(&mut *tx).await?;
        let plan: Vec<String> =
            sqlx::query_scalar(&format!("explain (analyze, buffers) {}", stats::statement(true)))
                .bind(to - chrono::Duration::days(365))
                .bind(to)
                .bind(generate::GENOVA)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        println!("{}", plan.join("\n"));
        return Ok(());
    }

    let mut out = String::new();
    writeln!(out, "## Reports — {} (`bench/reports`)\n", date.format("%Y-%m-%d %H:%M UTC"))?;
    writeln!(
        out,
        "Machine: {machine}. {server} (private cluster, server defaults: fsync and synchronous_commit on). \
         Everything shares the cores: PostgreSQL and the benchmark (one process, the library called directly).\n"
    )?;
    writeln!(
        out,
        "Command: `cargo run --release -p bench-reports -- --reports {} --stats-runs {} --naive-stats-runs {} \
         --nearby-points {} --naive-nearby-points {} --creations {} --naive-creations {}`\n",
        args.reports,
        args.stats_runs,
        args.naive_stats_runs,
        args.nearby_points,
        args.naive_nearby_points,
        args.creations,
        args.naive_creations
    )?;
    writeln!(
        out,
        "Data: {} reports over the {comuni} comuni of the metropolitan cities of Genova and Palermo (15 % each in \
         Genova and Palermo, the rest by area), filed over four years, points inside their comune \
         (`ST_GeneratePoints`); generated by the server in {load_s:.0} s (points {:.0} s, insert {:.0} s, indexes \
         and `vacuum analyze` {:.0} s). Genova, last 365 days: {} public reports.\n",
        loaded.reports, loaded.points_s, loaded.insert_s, loaded.index_s, loaded.genova_last_year
    )?;

    let mut loads = vec![load()];
    let stats_pass = bench_stats(&pool, args, &mut out).await?;
    loads.push(load());
    let nearby_pass = bench_nearby(&pool, args, &mut out).await?;
    loads.push(load());
    bench_create(&pool, args, &mut out).await?;
    loads.push(load());
    writeln!(
        out,
        "Load average (1 min) at the start and after each phase: {} (2 cores; above 2, something else ran).\n",
        loads.join(", ")
    )?;
    writeln!(
        out,
        "Targets: stats p99 ≤ {STATS_TARGET_MS:.0} ms **{}**; nearby p99 ≤ {NEARBY_TARGET_MS:.0} ms **{}**.\n",
        verdict(stats_pass),
        verdict(nearby_pass)
    )?;

    println!("{out}");
    let path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../out/reports-{}.md", date.format("%Y-%m-%d")))
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, &out).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("written to {}", path.display());
    pool.close().await;
    drop(cluster);
    Ok(())
}

/// The 1-minute load average, as `/proc/loadavg` gives it.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

async fn timed<T, F: std::future::Future<Output = Result<T>>>(f: F) -> Result<(Duration, T)> {
    let started = Instant::now();
    let value = f.await?;
    Ok((started.elapsed(), value))
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6 * a.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

async fn bench_stats(pool: &PgPool, args: &Args, out: &mut String) -> Result<bool> {
    eprintln!("stats …");
    let to = Utc::now();
    let from = to - chrono::Duration::days(365);
    let query = StatsQuery {
        comune: Some(generate::GENOVA.into()),
        from: Some(from),
        to: Some(to),
        ..StatsQuery::default()
    };
    for _ in 0..3 {
        stats::stats(pool, &query).await?;
    }
    let mut ours = Vec::new();
    let mut answer = None;
    for _ in 0..args.stats_runs {
        let (elapsed, s) = timed(async { Ok(stats::stats(pool, &query).await?) }).await?;
        ours.push(elapsed);
        answer = Some(s);
    }
    let answer = answer.context("no stats run")?;
    let genova = answer.comuni.first().context("no row for Genova")?;

    let mut sql_loop = Vec::new();
    let mut loop_figures = None;
    naive::stats_sql_loop(pool, generate::GENOVA, from, to).await?;
    for _ in 0..args.naive_stats_runs {
        let (elapsed, f) = timed(naive::stats_sql_loop(pool, generate::GENOVA, from, to)).await?;
        sql_loop.push(elapsed);
        loop_figures = Some(f);
    }
    let mut in_rust = Vec::new();
    let mut rust_figures = None;
    naive::stats_in_rust(pool, generate::GENOVA, from, to).await?;
    for _ in 0..args.stats_runs {
        let (elapsed, f) = timed(naive::stats_in_rust(pool, generate::GENOVA, from, to)).await?;
        in_rust.push(elapsed);
        rust_figures = Some(f);
    }
    let mut agree = true;
    for figures in [loop_figures, rust_figures].into_iter().flatten() {
        agree &= figures.reports == genova.reports
            && close(figures.ack_median, genova.hours_to_acknowledge.median)
            && close(figures.ack_p90, genova.hours_to_acknowledge.p90)
            && close(figures.resolve_median, genova.hours_to_resolve.median)
            && close(figures.resolve_p90, genova.hours_to_resolve.p90);
    }
    ensure!(
        agree,
        "the peers' figures differ from reports::stats: {loop_figures:?} {rust_figures:?} vs {genova:?}"
    );

    // The whole federation over a year, for scale (FixMyStreet precomputes its dashboard offline: ~14 s live).
    let everything = StatsQuery { comune: None, from: Some(from), to: Some(to), ..StatsQuery::default() };
    let mut all = Vec::new();
    let mut all_answer = None;
    for _ in 0..5 {
        let (elapsed, s) = timed(async { Ok(stats::stats(pool, &everything).await?) }).await?;
        all.push(elapsed);
        all_answer = Some(s);
    }
    let all_answer = all_answer.context("no stats run")?;

    let ours_s = Summary::of(&ours);
    let pass = ours_s.p99 <= STATS_TARGET_MS;
    writeln!(
        out,
        "### Transparency stats: Genova, the last 365 days ({} public reports)\n\nCounts by category and status, \
         median and 90th percentile hours to acknowledge and to resolve for the comune and each of its categories, \
         the ranking. Milliseconds, nearest-rank percentiles.\n",
        genova.reports
    )?;
    out.push_str(TABLE_HEAD);
    out.push_str(
        &ours_s.row(
            "Vedetta `reports::stats::stats` (index-only scan of a partial covering index, groups hashed, order statistics in Rust)",
            None,
        ),
    );
    out.push_str(&Summary::of(&in_rust).row("rows fetched, figures computed in Rust", Some(&ours_s)));
    out.push_str(&Summary::of(&sql_loop).row(
        "a statement loop: counts per category and status, `ORDER BY … OFFSET` medians (~80 statements)",
        Some(&ours_s),
    ));
    writeln!(
        out,
        "\nThe three agree on Genova's figures: acknowledged in a median {:.1} h (p90 {:.1} h), resolved in a median \
         {:.1} h (p90 {:.1} h). The whole federation ({} comuni, {} reports, {} ranked) over the same year: \
         {} ms p50 of 5 runs. Target p99 ≤ {STATS_TARGET_MS:.0} ms: **{}**.\n",
        genova.hours_to_acknowledge.median.unwrap_or_default(),
        genova.hours_to_acknowledge.p90.unwrap_or_default(),
        genova.hours_to_resolve.median.unwrap_or_default(),
        genova.hours_to_resolve.p90.unwrap_or_default(),
        all_answer.comuni.len(),
        all_answer.total,
        all_answer.ranking.len(),
        ms(Summary::of(&all).p50),
        verdict(pass)
    )?;
    Ok(pass)
}

async fn bench_nearby(pool: &PgPool, args: &Args, out: &mut String) -> Result<bool> {
    eprintln!("nearby …");
    // Points near existing reports (people report where others do), each moved up to ~150 m, with that report's
    // category.
    let seeds: Vec<(f64, f64, String)> = sqlx::query_as(
        "select st_x(geom), st_y(geom), category from reports.report tablesample bernoulli (1) repeatable ($1)
          limit $2",
    )
    .bind(f64::from(args.seed))
    .bind(i64::try_from(args.nearby_points).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    ensure!(seeds.len() == args.nearby_points, "only {} sample points", seeds.len());
    let mut rng = Rng(u64::from(args.seed) | 1);
    let points: Vec<(f64, f64, String)> = seeds
        .into_iter()
        .map(|(lon, lat, category)| (lon + rng.signed() * 0.0018, lat + rng.signed() * 0.00135, category))
        .collect();
    for (lon, lat, category) in points.iter().take(50) {
        report::nearby(pool, *lon, *lat, Some(category), 250.0, 10).await?;
    }
    let mut ours = Vec::new();
    let mut found = 0usize;
    for (lon, lat, category) in &points {
        let (elapsed, hits) =
            timed(async { Ok(report::nearby(pool, *lon, *lat, Some(category), 250.0, 10).await?) }).await?;
        ours.push(elapsed);
        found += hits.len();
    }
    let mut naive_times = Vec::new();
    let mut same = 0usize;
    let checked = args.naive_nearby_points.min(points.len());
    for (lon, lat, category) in points.iter().take(checked) {
        let (elapsed, ids) = timed(naive::nearby(pool, *lon, *lat, category, 250.0, 10)).await?;
        naive_times.push(elapsed);
        let ours: Vec<i64> = report::nearby(pool, *lon, *lat, Some(category), 250.0, 10)
            .await?
            .into_iter()
            .map(|n| n.report.id)
            .collect();
        same += usize::from(ours == ids);
    }
    ensure!(same == checked, "the index-less peer disagrees at {} of {checked} points", checked - same);
    let ours_s = Summary::of(&ours);
    let pass = ours_s.p99 <= NEARBY_TARGET_MS;
    writeln!(
        out,
        "### Nearby duplicates: open reports of the same category within 250 m, nearest 10\n\n{} points, each \
         within ~150 m of an existing report, with its category; {:.1} reports found per point on average. \
         Milliseconds; each lookup returns the reports whole (photos, names).\n",
        points.len(),
        found as f64 / points.len() as f64
    )?;
    out.push_str(TABLE_HEAD);
    out.push_str(
        &ours_s.row(
            "Vedetta `reports::report::nearby` (box on the partial GiST index, then the spheroid)",
            None,
        ),
    );
    out.push_str(&Summary::of(&naive_times).row(
        &format!("`ST_Distance(geom::geography, …) <= 250`, no index (first {checked} points)"),
        Some(&ours_s),
    ));
    writeln!(
        out,
        "\nBoth return the same reports in the same order at all {checked} points compared. Target p99 ≤ \
         {NEARBY_TARGET_MS:.0} ms: **{}**.\n",
        verdict(pass)
    )?;
    Ok(pass)
}

/// A 4032×3024 phone-like picture (a gradient with texture), as a JPEG of quality 90.
fn phone_photo(variant: u32) -> Result<Vec<u8>> {
    let (w, h) = (4032u32, 3024u32);
    let picture = RgbImage::from_fn(w, h, |x, y| {
        // Texture in 3×3-pixel cells: about as compressible as a photo of a street.
        let (cx, cy) = (x / 3, y / 3);
        let noise =
            (cx.wrapping_mul(2_654_435_761) ^ cy.wrapping_mul(40_503) ^ variant.wrapping_mul(97)) % 12;
        Rgb([
            ((x * 255 / w) as u8).wrapping_add(noise as u8),
            ((y * 255 / h) as u8).wrapping_add((noise * 3) as u8),
            (((x + y + variant * 50) / 32 % 256) as u8),
        ])
    });
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    DynamicImage::ImageRgb8(picture).write_with_encoder(encoder)?;
    ensure!(image::guess_format(&bytes)? == ImageFormat::Jpeg);
    Ok(bytes)
}

fn new_report(lon: f64, lat: f64, i: usize, photos: Vec<photo::Processed>) -> NewReport {
    NewReport {
        lon,
        lat,
        category: "buca_stradale".into(),
        description: format!("Buca profonda sulla carreggiata, segnalazione di prova {i}"),
        reporter_type: ReporterType::Citizen,
        people_at_risk: false,
        reporter: Reporter {
            name: Some("Maria Rossi".into()),
            email: Some("maria.rossi@example.org".into()),
            ..Reporter::default()
        },
        anonymous: false,
        attributes: serde_json::Map::new(),
        media_url: None,
        source: Source::Api,
        photos,
        jurisdiction: None,
    }
}

/// What one filing took: photo processing, storing, the database.
#[derive(Debug, Clone, Copy, Default)]
struct Filing {
    total: Duration,
    photo: Duration,
    store: Duration,
    create: Duration,
}

async fn file_one(
    pool: &PgPool,
    geocoder: &geodata::geocoder::Geocoder,
    store: &PhotoStore,
    input: Arc<Vec<u8>>,
    (lon, lat): (f64, f64),
    i: usize,
    careless: bool,
) -> Result<Filing> {
    let started = Instant::now();
    let processed = tokio::task::spawn_blocking(move || -> Result<photo::Processed> {
        if careless {
            let (bytes, thumb) = naive::photo(&input)?;
            let picture = image::load_from_memory(&bytes)?;
            Ok(photo::Processed {
                content_type: "image/jpeg",
                sha256: photo::sha256_hex(&bytes),
                thumb_sha256: photo::sha256_hex(&thumb),
                width: picture.width(),
                height: picture.height(),
                thumb_width: 320,
                thumb_height: 240,
                bytes,
                thumb,
            })
        } else {
            Ok(photo::process(&input, "image/jpeg")?)
        }
    })
    .await??;
    let photo_done = started.elapsed();
    // A store of its own for each filing: the photo is written, not found already there by its hash.
    static FILING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = FILING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PhotoStore::new(store.dir().join(n.to_string())).save(&processed).await?;
    let stored = started.elapsed();
    report::create(pool, geocoder, new_report(lon, lat, i, vec![processed])).await?;
    let total = started.elapsed();
    Ok(Filing { total, photo: photo_done, store: stored - photo_done, create: total - stored })
}

async fn bench_create(pool: &PgPool, args: &Args, out: &mut String) -> Result<()> {
    eprintln!("filing with a photo …");
    let inputs: Vec<Arc<Vec<u8>>> =
        (0..3).map(|v| phone_photo(v).map(Arc::new)).collect::<Result<Vec<_>>>()?;
    let input_mb = inputs[0].len() as f64 / 1e6;
    let points: Vec<(f64, f64)> = sqlx::query_as(
        "select st_x(geom), st_y(geom) from reports.report tablesample bernoulli (1) repeatable ($1)
          where comune in ($2, $3) limit 500",
    )
    .bind(f64::from(args.seed) + 1.0)
    .bind(generate::GENOVA)
    .bind(generate::PALERMO)
    .fetch_all(pool)
    .await?;
    ensure!(!points.is_empty(), "no points in Genova or Palermo");
    let geocoder = geodata::geocoder::Geocoder::new(pool.clone());
    let dir = tempfile::Builder::new().prefix("vedetta-bench-photos-").tempdir()?;
    let store = PhotoStore::new(dir.path());
    let point = |i: usize| points[i % points.len()];

    // The database part alone.
    let mut db_only = Vec::new();
    for i in 0..200 {
        let (lon, lat) = point(i);
        let (elapsed, _) =
            timed(async { Ok(report::create(pool, &geocoder, new_report(lon, lat, i, Vec::new())).await?) })
                .await?;
        db_only.push(elapsed);
    }
    // Warm-up.
    file_one(pool, &geocoder, &store, inputs[0].clone(), point(0), 0, false).await?;

    let mut sequential = Vec::new();
    let started = Instant::now();
    for i in 0..args.creations {
        sequential.push(file_one(pool, &geocoder, &store, inputs[i % 3].clone(), point(i), i, false).await?);
    }
    let sequential_rate = args.creations as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut parallel = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..2usize {
        let (pool, geocoder, store, inputs, points) =
            (pool.clone(), geocoder.clone(), store.clone(), inputs.clone(), points.clone());
        let count = args.creations;
        tasks.spawn(async move {
            let mut filings = Vec::new();
            for i in (worker..count).step_by(2) {
                let at = points[(i + 7) % points.len()];
                filings.push(file_one(&pool, &geocoder, &store, inputs[i % 3].clone(), at, i, false).await?);
            }
            Ok::<_, anyhow::Error>(filings)
        });
    }
    while let Some(done) = tasks.join_next().await {
        parallel.extend(done??);
    }
    let parallel_rate = args.creations as f64 / started.elapsed().as_secs_f64();

    let mut careless = Vec::new();
    let started = Instant::now();
    for i in 0..args.naive_creations {
        careless.push(file_one(pool, &geocoder, &store, inputs[i % 3].clone(), point(i + 3), i, true).await?);
    }
    let careless_rate = args.naive_creations as f64 / started.elapsed().as_secs_f64();

    let total = |f: &[Filing]| Summary::of(&f.iter().map(|f| f.total).collect::<Vec<_>>());
    let part =
        |f: &[Filing], pick: fn(&Filing) -> Duration| Summary::of(&f.iter().map(pick).collect::<Vec<_>>());
    let seq = total(&sequential);
    writeln!(
        out,
        "### Filing a report with a photo\n\nA 4032×3024 JPEG of {input_mb:.1} MB (a 12-megapixel phone photo) \
         checked, decoded, oriented, resized to 2048×1536, re-encoded at quality 85 with a 320 px thumbnail \
         (`reports::photo::process` in `spawn_blocking`), stored (`PhotoStore::save`: temporary file, fsync, \
         rename; photo and thumbnail) and filed (`reports::report::create`: comune by location, category, moderation, the report, its \
         photo, its first step and the `report.changed` event in one transaction; no toponymy loaded, so no \
         address lookup). Milliseconds per report.\n"
    )?;
    out.push_str(
        "| what | reports | reports/s | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let line = |name: &str, s: &Summary, rate: f64| {
        format!(
            "| {name} | {} | {rate:.1} | {} | {} | {} | {} |\n",
            s.n,
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.max)
        )
    };
    out.push_str(&line("Vedetta, one at a time", &seq, sequential_rate));
    out.push_str(&line("Vedetta, two at a time (2 cores)", &total(&parallel), parallel_rate));
    out.push_str(&line(
        "careless photo pipeline (no limits, Lanczos3 twice from the full picture), one at a time",
        &total(&careless),
        careless_rate,
    ));
    let db = Summary::of(&db_only);
    out.push_str(&line("`report::create` alone, no photo", &db, 1000.0 / db.mean.max(1e-9)));
    writeln!(
        out,
        "\nWhere the time of a one-at-a-time filing goes (p50): photo {} ms, store {} ms, database {} ms; with the \
         careless pipeline the photo takes {} ms ({:.1}× ours).\n",
        ms(part(&sequential, |f| f.photo).p50),
        ms(part(&sequential, |f| f.store).p50),
        ms(part(&sequential, |f| f.create).p50),
        ms(part(&careless, |f| f.photo).p50),
        part(&careless, |f| f.photo).p50 / part(&sequential, |f| f.photo).p50.max(1e-9)
    )?;
    Ok(())
}
