//! `bench-tiles`: vector tiles under a crowd. The same PostGIS data (600,000 generated buildings around Genova,
//! stations, reports) served by Vedetta, by standalone Martin 1.14 and by TiPG, with the same tile list at zoom
//! 14–16, 16 and 64 concurrent clients (`wrk`), with and without each server's cache; then Vedetta's live stations
//! tiles while 1,000 readings/s arrive: how stale a tile gets, and how many tiles/s are still served.
//! See `bench/tiles/README.md`.

#[path = "../../http/src/servers.rs"]
#[allow(dead_code)]
mod servers;

mod data;
mod live;
mod load;
mod martin;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Parser;

use crate::data::Xyz;
use crate::load::PathList;
use crate::report::{Cell, Report};
use crate::servers::{Server, TipgSettings, VedettaSettings};

const DATABASE: &str = "bench_tiles";
const ADMIN_TOKEN: &str = "vdt_bench_tiles_admin_token_0123456789";

#[derive(Debug, Parser)]
#[command(
    about = "Vector tiles: Vedetta beside Martin and TiPG on the same buildings; live stations tiles under readings"
)]
struct Args {
    /// Generated buildings.
    #[arg(long, default_value_t = 600_000)]
    buildings: u64,
    /// Generated hydrometers (plus the probe).
    #[arg(long, default_value_t = 300)]
    stations: u32,
    /// Generated citizen reports.
    #[arg(long, default_value_t = 5_000)]
    reports: u32,
    /// Tiles in the list (zoom 14, 15, then 16).
    #[arg(long, default_value_t = 890)]
    tiles: usize,
    /// Concurrent clients, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 64])]
    clients: Vec<u32>,
    /// Measured seconds per cell.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Unmeasured seconds before each cell.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Connections of each server to PostgreSQL for tiles.
    #[arg(long, default_value_t = 8)]
    pool: u32,
    /// Readings per second of the freshness phase.
    #[arg(long, default_value_t = 1_000)]
    readings: u32,
    /// Seconds of the freshness phase.
    #[arg(long, default_value_t = 30)]
    live_seconds: u64,
    /// Clients of the freshness phase.
    #[arg(long, default_value_t = 64)]
    live_clients: u32,
    /// Loads the data, starts the servers, prints their addresses and the database's, then waits (Ctrl-C ends
    /// it): for looking at plans and profiles by hand.
    #[arg(long)]
    hold: bool,
    #[arg(long)]
    skip_martin: bool,
    #[arg(long)]
    skip_tipg: bool,
    /// The Martin binary (default: `martin` 1.14 on the PATH, else installed under target/bench-tools).
    #[arg(long)]
    martin: Option<PathBuf>,
    /// The Python virtual environment with TiPG (default target/bench-venv, created when missing).
    #[arg(long)]
    venv: Option<PathBuf>,
    /// The Vedetta binary (default target/release/vedetta, built when missing).
    #[arg(long)]
    vedetta: Option<PathBuf>,
}

/// A server under load and the path template of its buildings' tiles.
struct Peer {
    label: String,
    cached: bool,
    server: Server,
    template: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|c| *c > 0),
        "--clients needs whole numbers > 0"
    );
    let machine = testkit::Machine::detect();
    let started = Instant::now();
    let target = testkit::target_dir();
    let binary = testkit::release_vedetta(args.vedetta.clone()).map_err(anyhow::Error::msg)?;
    let wrk = load::ensure_wrk()?;
    let martin = if args.skip_martin {
        None
    } else {
        Some(martin::ensure_martin(args.martin.clone(), &target.join("bench-tools"))?)
    };
    let tipg = if args.skip_tipg {
        None
    } else {
        Some(servers::ensure_tipg(&args.venv.clone().unwrap_or_else(|| target.join("bench-venv")))?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;

    eprintln!("Starting a private PostgreSQL + PostGIS cluster (server defaults) …");
    let cluster = testkit::BenchCluster::start()?;
    let pool = runtime.block_on(cluster.fresh_database(DATABASE, true))?;
    let url = cluster.url(DATABASE);
    let work = tempfile::Builder::new().prefix("vedetta-bench-tiles-").tempdir()?;
    let work = work.path();
    let postgres: String = runtime.block_on(
        sqlx::query_scalar(
            "select split_part(version(), ' on ', 1) || ' + PostGIS ' || postgis_lib_version()",
        )
        .fetch_one(&pool),
    )?;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let comuni = root.join("tests/data/comuni/limits_P_10_municipalities.geojson");
    servers::vedetta_import(&binary, &url, work, &["comuni", &comuni.to_string_lossy()])?;
    let stations_file = work.join("stations.geojson");
    std::fs::write(&stations_file, data::stations(args.stations).to_string())?;
    servers::vedetta_import(&binary, &url, work, &["stations", &stations_file.to_string_lossy()])?;
    eprintln!("Generating {} buildings …", args.buildings);
    let load_s = runtime.block_on(data::buildings(&pool, args.buildings))?;
    runtime.block_on(data::reports(&pool, args.reports))?;
    runtime.block_on(sqlx::query("vacuum analyze").execute(&pool))?;
    eprintln!("  {load_s:.0} s, indexes included");

    let tiles = data::tile_list(args.tiles);
    let vedetta = |name: &'static str, cache_mb: u64| -> Result<(Server, u16)> {
        let config = work.join(format!("{name}.toml"));
        std::fs::write(&config, format!("[tiles]\ncache_mb = {cache_mb}\npool_size = {}\n", args.pool))?;
        let settings =
            VedettaSettings { name, pool: args.pool * 2, admin_token: ADMIN_TOKEN, config: Some(config) };
        servers::start_vedetta(&binary, &url, work, &settings)
    };
    let mut peers = Vec::new();
    let (uncached, _) = vedetta("vedetta-uncached", 0)?;
    let (cached, mqtt_port) = vedetta("vedetta", 1024)?;
    let dbt = "/tiles/dbt/{z}/{x}/{y}.mvt".to_string();
    peers.push(Peer { label: "Vedetta".into(), cached: false, server: uncached, template: dbt.clone() });
    peers.push(Peer { label: "Vedetta".into(), cached: true, server: cached, template: dbt });
    if let Some((bin, _)) = &martin {
        for (name, cache_mb) in [("martin-uncached", None), ("martin", Some(1024))] {
            let settings = martin::MartinSettings { name, cache_mb, pool: args.pool };
            let server = martin::start(bin, &url, work, &settings)?;
            let template = format!("/{}/{{z}}/{{x}}/{{y}}", martin::SOURCE);
            peers.push(Peer { label: "Martin".into(), cached: cache_mb.is_some(), server, template });
        }
    }
    if let Some((venv, _)) = &tipg {
        let settings = TipgSettings {
            workers: u32::try_from(machine.cores).unwrap_or(1).clamp(1, 16),
            pool_per_worker: (args.pool / u32::try_from(machine.cores).unwrap_or(1).max(1)).max(1),
            env: vec![("TIPG_MAX_FEATURES_PER_TILE".into(), "50000".into())],
        };
        let table = format!("{}.{}", data::BUILDINGS_SCHEMA, data::BUILDINGS_TABLE);
        let server = servers::start_tipg(venv, &url, &[table.as_str()], work, &settings)?;
        let template =
            format!("/collections/{table}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}?properties=class,code");
        peers.push(Peer { label: "TiPG".into(), cached: false, server, template });
    }

    if args.hold {
        eprintln!("Database: {url}");
        for peer in &peers {
            let cache = if peer.cached { "cached" } else { "uncached" };
            eprintln!("{} ({cache}): {}{}", peer.label, peer.server.base, peer.template);
        }
        eprintln!("Holding; Ctrl-C ends.");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let mut report = Report::new(machine, postgres, args.buildings, tiles.len(), load_s);
    report.versions.push(wrk);
    report.versions.push(testkit::describe_binary(&binary));
    if let Some((_, v)) = &martin {
        report.versions.push(v.clone());
    }
    if let Some((_, v)) = &tipg {
        report.versions.push(v.clone());
    }
    report.same_content = runtime.block_on(same_content(&peers, &tiles))?;

    for &clients in &args.clients {
        for peer in &mut peers {
            let paths = PathList::write(
                work,
                "list",
                &tiles.iter().map(|t| t.fill(&peer.template)).collect::<Vec<_>>(),
            )?;
            if peer.cached {
                warm(&peer.server.base, &tiles, &peer.template)?;
            }
            eprintln!(
                "{} ({}) with {clients} clients …",
                peer.label,
                if peer.cached { "cached" } else { "uncached" }
            );
            load::run(work, &peer.server.base, &paths, clients, Duration::from_secs(args.warmup))?;
            let measured =
                load::run(work, &peer.server.base, &paths, clients, Duration::from_secs(args.seconds))?;
            peer.server.check_alive()?;
            report.cells.push(Cell { server: peer.label.clone(), cached: peer.cached, clients, measured });
        }
    }

    // Live stations tiles: first from the cache with nothing arriving, then under the readings.
    let vedetta =
        peers.iter().find(|p| p.label == "Vedetta" && p.cached).context("Vedetta with its cache")?;
    let stations_paths: Vec<String> =
        tiles.iter().map(|t| t.fill("/tiles/stations/{z}/{x}/{y}.mvt")).collect();
    let paths = PathList::write(work, "stations", &stations_paths)?;
    warm(&vedetta.server.base, &tiles, "/tiles/stations/{z}/{x}/{y}.mvt")?;
    eprintln!("Stations tiles, cached, no readings …");
    let quiet =
        load::run(work, &vedetta.server.base, &paths, args.live_clients, Duration::from_secs(args.seconds))?;
    eprintln!("Stations tiles under {} readings/s for {} s …", args.readings, args.live_seconds);
    let crowd = {
        let (work, base, paths) = (work.to_path_buf(), vedetta.server.base.clone(), paths.clone());
        let (clients, secs) = (args.live_clients, args.live_seconds);
        std::thread::spawn(move || load::run(&work, &base, &paths, clients, Duration::from_secs(secs)))
    };
    let fresh = runtime.block_on(live::run(
        &vedetta.server.base,
        mqtt_port,
        args.stations,
        args.readings,
        args.live_seconds as f64,
    ))?;
    let busy = crowd.join().map_err(|_| anyhow::anyhow!("the crowd's thread panicked"))??;
    let stored: i64 =
        runtime.block_on(sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool))?;
    report.live = Some(report::Live {
        quiet,
        busy,
        fresh,
        stored,
        readings_rate: args.readings,
        clients: args.live_clients,
    });
    for peer in &mut peers {
        peer.server.check_alive()?;
    }

    report.minutes = started.elapsed().as_secs_f64() / 60.0;
    let text = report.markdown();
    println!("{text}");
    let out = root.join("bench/out");
    std::fs::create_dir_all(&out)?;
    let file = out.join(format!("tiles-{}.md", chrono::Local::now().format("%Y-%m-%d-%H%M")));
    std::fs::write(&file, &text)?;
    eprintln!("Written to {}", file.display());
    Ok(())
}

/// One pass over the list, one tile at a time (fills a cache).
fn warm(base: &str, tiles: &[Xyz], template: &str) -> Result<()> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    for tile in tiles {
        let url = format!("{base}{}", tile.fill(template));
        let resp = agent.get(&url).call().with_context(|| format!("GET {url}"))?;
        std::io::copy(&mut resp.into_reader(), &mut std::io::sink())?;
    }
    Ok(())
}

/// Features per server in a few tiles of the list (zoom 14, 15, 16): the servers show the same buildings.
async fn same_content(peers: &[Peer], tiles: &[Xyz]) -> Result<Vec<(Xyz, Vec<(String, usize)>)>> {
    let picks: Vec<Xyz> = [14u8, 15, 16]
        .iter()
        .filter_map(|z| tiles.iter().filter(|t| t.z == *z).nth(tiles.len() / 20))
        .copied()
        .collect();
    let mut out = Vec::new();
    for tile in picks {
        let mut row = Vec::new();
        for peer in peers.iter().filter(|p| !p.cached) {
            let url = format!("{}{}", peer.server.base, tile.fill(&peer.template));
            let counted = tokio::task::spawn_blocking(move || report::count_features(&url)).await??;
            row.push((peer.label.clone(), counted));
        }
        out.push((tile, row));
    }
    Ok(out)
}
