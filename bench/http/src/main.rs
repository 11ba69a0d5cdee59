//! `bench-http` — Vedetta's read APIs under a crowd, beside TiPG on the same PostGIS (issue #7: "p95 under 500 ms
//! at 200 concurrent clients" for OGC API items and SensorThings expansions).
//!
//! ```sh
//! cargo build --release -p vedetta
//! cargo run --release -p bench-http -- [--seconds 15] [--warmup 2] [--clients 16,64,200] [--stations 100] \
//!     [--tipg-workers 2] [--pool 16] [--skip-tipg] [--vedetta target/release/vedetta]
//! ```
//!
//! 1. A private PostgreSQL + PostGIS cluster (server defaults) and a fresh migrated database; the real `vedetta
//!    import` loads the Venezia DB Topografico extract (TP_CAN, TP_IDRO), the comuni of the province of Genova and
//!    `--stations` generated stations; `vedetta serve` starts on it and a day of readings per station goes to its
//!    embedded broker with `mosquitto_pub`.
//! 2. TiPG (PyPI `tipg`, on uvicorn with uvloop and httptools) starts on the same database, publishing a view of the
//!    same DB Topografico class with the same members; both servers are asked every OGC URL once and must answer
//!    the same pages.
//! 3. For each workload and number of clients, Vedetta and then TiPG (back to back, so that both see the same
//!    machine) take `--warmup` + `--seconds` of closed-loop load; the table gives requests/s, p50/p95/p99/max,
//!    errors, the ratios Vedetta ÷ TiPG and PASS/FAIL against the target.
//!
//! The Markdown report is printed and written to `bench/out/http-<date>.md`. A missed target does not fail the
//! process; an error does. Every child (cluster, servers) is stopped on every exit path; watchdogs stop them if the
//! benchmark is killed. See `bench/http/README.md`.

mod cpu;
mod data;
mod load;
mod report;
mod servers;
mod workload;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use clap::Parser;

use crate::report::{Report, Row, Side};
use crate::servers::{Server, TipgSettings, VedettaSettings};

const ADMIN_TOKEN: &str = "vdt_bench_http_admin_token";
const DATABASE: &str = "bench_http";

/// Read APIs under load: Vedetta's OGC API items and SensorThings expansions, beside TiPG on the same PostGIS.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench-http")]
struct Args {
    /// Measured seconds per cell (workload × clients × server).
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Unmeasured seconds before each cell's window (connections open, caches warm).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Concurrent clients, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 64, 200])]
    clients: Vec<usize>,
    /// Stations (half rain gauges, half hydrometers), each with a day of readings every five minutes.
    #[arg(long, default_value_t = 100)]
    stations: u32,
    /// Longest a request may take before it counts as an error, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Database connections of each server (TiPG's are split between its workers).
    #[arg(long, default_value_t = 16)]
    pool: u32,
    /// uvicorn worker processes for TiPG [default: the number of cores].
    #[arg(long)]
    tipg_workers: Option<u32>,
    /// Run Vedetta alone.
    #[arg(long)]
    skip_tipg: bool,
    /// The Vedetta binary [default: target/release/vedetta, built when missing].
    #[arg(long, value_name = "PATH")]
    vedetta: Option<PathBuf>,
    /// The Python virtual environment for TiPG [default: target/bench-venv, created when missing].
    #[arg(long, value_name = "DIR")]
    venv: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-http: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    ensure!(args.seconds > 0 && args.timeout > 0, "--seconds and --timeout must be positive");
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|&c| (1..=1000).contains(&c)),
        "--clients: 1 to 1000 each"
    );
    ensure!((1..=1000).contains(&args.stations), "--stations must be between 1 and 1000");
    ensure!((2..=200).contains(&args.pool), "--pool must be between 2 and 200");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let tipg = TipgSettings {
        workers: args.tipg_workers.unwrap_or(u32::try_from(cores).unwrap_or(1)).clamp(1, 16),
        pool_per_worker: 0,
        env: Vec::new(),
    };
    let tipg = TipgSettings { pool_per_worker: (args.pool / tipg.workers).max(1), ..tipg };
    let now = chrono::Local::now();
    let machine = testkit::Machine::detect();
    let uptime_before = uptime();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = testkit::target_dir();
    let binary = testkit::release_vedetta(args.vedetta.clone()).map_err(anyhow::Error::msg)?;
    let head = git_head(&root);
    let peer_env = if args.skip_tipg {
        Err("--skip-tipg".to_string())
    } else {
        Ok(servers::ensure_tipg(&args.venv.clone().unwrap_or_else(|| target.join("bench-venv")))?)
    };
    let cells = args.clients.len() * if args.skip_tipg { 4 } else { 6 };
    eprintln!(
        "bench-http: {cells} cells of {} s each (≈ {} min of load); machine: {machine}; uptime: {uptime_before}",
        args.warmup + args.seconds,
        (cells as u64 * (args.warmup + args.seconds)).div_ceil(60)
    );

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    eprintln!("Starting a private PostgreSQL + PostGIS cluster (server defaults) …");
    let mut cluster = testkit::BenchCluster::start()?;
    let pool = runtime.block_on(cluster.fresh_database(DATABASE, true))?;
    let postgres: String = runtime.block_on(
        sqlx::query_scalar(
            "select split_part(version(), ' on ', 1) || ' + PostGIS ' || postgis_lib_version()",
        )
        .fetch_one(&pool),
    )?;
    let backend: i32 = runtime.block_on(sqlx::query_scalar("select pg_backend_pid()").fetch_one(&pool))?;
    let postmaster = cpu::parent(backend).context("cannot find the postmaster of the cluster in /proc")?;
    let url = cluster.url(DATABASE);
    let work = tempfile::Builder::new().prefix("vedetta-bench-http-").tempdir()?;

    eprintln!("Loading with `vedetta import`: DB Topografico, comuni, {} stations …", args.stations);
    let dbt = [data::test_data("dbt/venezia/TP_CAN.shp")?, data::test_data("dbt/venezia/TP_IDRO.shp")?];
    let comuni = data::test_data("comuni/limits_P_10_municipalities.geojson")?;
    let stations_file = work.path().join("stations.geojson");
    std::fs::write(&stations_file, data::stations(args.stations).to_string())?;
    for import in [
        vec!["dbt".to_string(), path_arg(&dbt[0]), path_arg(&dbt[1])],
        vec!["comuni".to_string(), path_arg(&comuni)],
        vec!["stations".to_string(), path_arg(&stations_file)],
    ] {
        let args: Vec<&str> = import.iter().map(String::as_str).collect();
        servers::vedetta_import(&binary, &url, work.path(), &args)?;
    }
    runtime.block_on(data::create_peer_view(&pool))?;

    eprintln!("Starting vedetta serve and publishing a day of readings per station over MQTT …");
    let (mut vedetta, mqtt_port) = servers::start_vedetta(
        &binary,
        &url,
        work.path(),
        &VedettaSettings { name: "vedetta", pool: args.pool, admin_token: ADMIN_TOKEN, config: None },
    )?;
    data::publish_readings(mqtt_port, args.stations, chrono::Utc::now())?;
    let expected = i64::from(args.stations) * i64::from(data::READINGS_PER_STATION);
    runtime.block_on(data::wait_for_readings(&pool, expected, Duration::from_secs(120)))?;
    runtime.block_on(sqlx::query("vacuum analyze").execute(&pool))?;
    let loaded = runtime.block_on(data::loaded(&pool))?;
    runtime.block_on(pool.close());

    let (mut peer, peer_text) = match peer_env {
        Ok((venv, versions)) => {
            eprintln!(
                "Starting {versions} ({} workers × {} connections) …",
                tipg.workers, tipg.pool_per_worker
            );
            let server = servers::start_tipg(&venv, &url, &[data::PEER_VIEW], work.path(), &tipg)?;
            let text = format!(
                "{versions} with uvloop and httptools, {} worker processes × {} connections, access log off, on \
                 the view `public.{}` (the current {} objects with the same members Vedetta serves)",
                tipg.workers,
                tipg.pool_per_worker,
                data::PEER_VIEW,
                data::CLASS
            );
            (Some(server), Ok(text))
        }
        Err(why) => (None, Err(why)),
    };

    let workloads = workload::all(&loaded);
    let mut equivalence = Vec::new();
    if let Some(peer) = &peer {
        for w in &workloads {
            if w.peer.is_some() {
                equivalence.push(workload::compare(w, &vedetta, peer)?);
            }
        }
    }
    equivalence.push(workload::check_sta(&vedetta, loaded.stations)?);
    for line in &equivalence {
        eprintln!("{line}");
    }

    let plan = |clients| load::Plan {
        clients,
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
        timeout: Duration::from_secs(args.timeout),
    };
    let mut rows = Vec::new();
    for (w, workload) in workloads.iter().enumerate() {
        for &clients in &args.clients {
            let mut sides = vec![(Side::Vedetta, &mut vedetta, &workload.vedetta)];
            if let (Some(server), Some(paths)) = (peer.as_mut(), &workload.peer) {
                sides.push((Side::Peer, server, paths));
            }
            for (side, server, paths) in sides {
                server.check_alive()?;
                let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
                let parties = cpu::Parties { server_group: server.pid(), postmaster };
                let (cell, opened, closed) = load::run(&urls, plan(clients), || parties.sample())?;
                server.check_alive()?;
                let row =
                    Row { workload: w, clients, side, cell, cpu: closed - opened, load: load_average() };
                eprintln!("{}", progress(&workload.name, server, &row));
                rows.push(row);
            }
        }
    }
    let uptime_after = uptime();

    let stop = Duration::from_secs(20);
    let vedetta_exit = vedetta.terminate(stop)?;
    if let Some(peer) = peer.as_mut() {
        peer.terminate(stop)?;
    }
    drop(peer);
    cluster.stop()?;

    let report = Report {
        date: now.format("%Y-%m-%d %H:%M %:z").to_string(),
        machine: machine.to_string(),
        uptime_before,
        uptime_after,
        postgres,
        vedetta: format!("{} (working tree at {})", testkit::describe_binary(&binary), head),
        vedetta_pool: args.pool,
        peer: peer_text,
        data: format!(
            "{} current `{}` objects of the Venezia DB Topografico extract (Vedetta's collection `{}`), imported with \
             TP_IDRO by `vedetta import dbt`; {} comuni; {} stations (`vedetta import stations`) with {} readings \
             published over MQTT to `vedetta serve` (a day every five minutes each).",
            loaded.features,
            data::CLASS,
            data::VEDETTA_COLLECTION,
            loaded.comuni,
            loaded.stations,
            loaded.readings
        ),
        equivalence,
        load: format!(
            "per cell, N closed-loop clients (OS threads, one keep-alive HTTP/1.1 connection each, no compression), \
             {} s warm-up then {} s measured; every request started in the window counts, errors are answers other \
             than 200 and failures (timeout {} s). Vedetta and TiPG run back to back for each workload and N. The \
             client threads share the {cores} cores with both servers and PostgreSQL. CPU per request is the \
             measured server's process group, the cluster's postmaster and backends, and the load generator over \
             the window (/proc); \"other processes\" is the CPU the rest of the machine used meanwhile, in cores of \
             {cores} (other builds, the idle server); the load average counts the benchmark's own runnable threads \
             too. `vedetta serve` exited with {vedetta_exit} on SIGTERM.",
            args.warmup, args.seconds, args.timeout
        ),
        workloads,
        rows,
        command: command_line(args),
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    let out_dir = root.join("bench/out");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let out = out_dir.join(format!("http-{}.md", now.format("%Y-%m-%d-%H%M")));
    std::fs::write(&out, &markdown).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("Written to {}", out.canonicalize().unwrap_or(out).display());
    Ok(())
}

/// One line per cell while the benchmark runs.
fn progress(workload: &str, server: &Server, row: &Row) -> String {
    let c = &row.cell;
    let per = |seconds: f64| seconds * 1000.0 / c.requests.max(1) as f64;
    format!(
        "  {workload:<48} {:>4} clients  {:<15} {:>8.1} req/s  p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms  \
         errors {}  CPU ms/req {:.2} server {:.2} pg {:.2} client  others {:.2} cores  load {:.1}",
        row.clients,
        server.name,
        c.rate(),
        c.quantile_ms(0.5),
        c.quantile_ms(0.95),
        c.quantile_ms(0.99),
        c.errors,
        per(row.cpu.server),
        per(row.cpu.postgres),
        per(row.cpu.client),
        row.cpu.others() / c.seconds,
        row.load
    )
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `2dfe200`, and whether sources outside `bench/` had uncommitted changes.
fn git_head(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else { return "an unknown commit".into() };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"])
        .is_some_and(|s| !s.is_empty());
    if dirty { format!("`{head}` with uncommitted changes") } else { format!("`{head}`") }
}

/// `uptime`'s line, trimmed.
fn uptime() -> String {
    Command::new("uptime")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string())
}

/// The 1-minute load average.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The command that reproduces this run.
fn command_line(args: &Args) -> String {
    let clients: Vec<String> = args.clients.iter().map(ToString::to_string).collect();
    let mut cmd = format!(
        "cargo run --release -p bench-http -- --seconds {} --warmup {} --clients {} --stations {} --pool {}",
        args.seconds,
        args.warmup,
        clients.join(","),
        args.stations,
        args.pool
    );
    if let Some(workers) = args.tipg_workers {
        cmd.push_str(&format!(" --tipg-workers {workers}"));
    }
    if args.skip_tipg {
        cmd.push_str(" --skip-tipg");
    }
    cmd
}
