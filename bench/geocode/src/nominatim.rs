//! The geocoder users would pick instead of Vedetta's: Nominatim 5.3 (`nominatim-db` + `nominatim-api` from PyPI,
//! `osm2pgsql` from Debian), installed by `nominatim/setup.sh` into a private virtualenv, imported into a database
//! of the benchmark's own PostgreSQL cluster, and queried in-process through its Python library by
//! `nominatim/replay.py` (one client, one event loop, each query timed around `NominatimAPIAsync.search`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// Where the installed peer lives and which versions it is.
#[derive(Debug, Clone)]
pub struct Install {
    pub venv: PathBuf,
    pub nominatim: String,
    pub osm2pgsql: String,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nominatim").join(name)
}

fn first_line_with(out: &std::process::Output, needle: &str) -> Option<String> {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines().find(|l| l.contains(needle)).map(|l| l.trim().to_string())
}

/// Runs `nominatim/setup.sh` (installs what is missing, quickly does nothing otherwise).
pub fn install() -> Result<Install> {
    let setup = script("setup.sh");
    let out = Command::new("bash")
        .arg(&setup)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", setup.display()))?;
    ensure!(out.status.success(), "{} failed ({})", setup.display(), out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let venv = PathBuf::from(stdout.lines().last().context("setup.sh printed no virtualenv")?.trim());
    let version = Command::new(venv.join("bin/nominatim")).arg("--version").output()?;
    let nominatim =
        first_line_with(&version, "version").unwrap_or_else(|| "Nominatim (unknown version)".into());
    let version =
        Command::new("osm2pgsql").arg("--version").output().context("osm2pgsql is not installed")?;
    let osm2pgsql = first_line_with(&version, "osm2pgsql version")
        .and_then(|l| l.split("osm2pgsql version").nth(1).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    Ok(Install { venv, nominatim: nominatim.replace("Nominatim version ", ""), osm2pgsql })
}

/// `postgres://user:password@host:port/db` → (user, password, host, port).
fn parse_url(url: &str) -> Result<(String, String, String, String)> {
    let rest = url.strip_prefix("postgres://").context("not a postgres:// URL")?;
    let (auth, rest) = rest.split_once('@').context("no credentials in the URL")?;
    let (user, password) = auth.split_once(':').context("no password in the URL")?;
    let (hostport, _) = rest.split_once('/').context("no database in the URL")?;
    let (host, port) = hostport.split_once(':').context("no port in the URL")?;
    Ok((user.into(), password.into(), host.into(), port.into()))
}

/// What `nominatim import` took.
#[derive(Debug, Clone)]
pub struct Imported {
    pub total: Duration,
    /// `nominatim import`'s own stages as its log reports them (name, seconds).
    pub stages: Vec<(String, f64)>,
    pub log: PathBuf,
}

/// Creates the project directory and imports `osm` into a new database `database` of the cluster of `url`
/// (a superuser URL: Nominatim creates the database and its extensions).
pub fn import(
    install: &Install,
    project: &Path,
    url: &str,
    database: &str,
    osm: &Path,
    threads: usize,
) -> Result<Imported> {
    let (user, password, host, port) = parse_url(url)?;
    std::fs::create_dir_all(project)?;
    let osm2pgsql = Command::new("sh").args(["-c", "command -v osm2pgsql"]).output()?;
    let osm2pgsql = String::from_utf8_lossy(&osm2pgsql.stdout).trim().to_string();
    let mut env = String::new();
    let _ = writeln!(
        env,
        "NOMINATIM_DATABASE_DSN=\"pgsql:host={host};port={port};user={user};password={password};dbname={database}\""
    );
    // The API connects as the same (only) user.
    let _ = writeln!(env, "NOMINATIM_DATABASE_WEBUSER=\"{user}\"");
    let _ = writeln!(env, "NOMINATIM_OSM2PGSQL_BINARY=\"{osm2pgsql}\"");
    std::fs::write(project.join(".env"), env)?;

    let log = project.join("import.log");
    let log_file = std::fs::File::create(&log)?;
    let started = Instant::now();
    let status = Command::new(install.venv.join("bin/nominatim"))
        .arg("import")
        .arg("--osm-file")
        .arg(osm)
        .args(["--threads", &threads.to_string(), "--offline", "--no-updates", "--no-partitions"])
        .arg("--project-dir")
        .arg(project)
        .current_dir(project)
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .context("cannot run nominatim import")?;
    let total = started.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("nominatim import failed ({status}); its log ({}) ends:\n{}", log.display(), tail.join("\n"));
    }
    Ok(Imported { total, stages: stages(&text), log })
}

/// The stages of `nominatim import`, from its log (its own lines are `YYYY-MM-DD HH:MM:SS: message`), in five
/// buckets: set-up (database, country tables, functions, tables), osm2pgsql, loading `placex` and the tokenizer,
/// indexing (the address hierarchy, rank by rank), post-processing (search indexes, word counts).
fn stages(log: &str) -> Vec<(String, f64)> {
    const BUCKETS: [&str; 5] = [
        "set-up",
        "osm2pgsql",
        "loading placex, tokenizer",
        "indexing",
        "post-processing and search indexes",
    ];
    let bucket = |message: &str| match message {
        m if m.starts_with("Importing OSM data file") => Some(1),
        m if m.starts_with("Importing wikipedia") => Some(0),
        m if m.starts_with("Load data into placex") => Some(2),
        m if m.starts_with("Indexing places") => Some(3),
        m if m.starts_with("Post-process tables") => Some(4),
        _ => None,
    };
    let mut seconds = [0.0f64; 5];
    let mut current: Option<(usize, i64)> = None;
    let mut last = None;
    for line in log.lines() {
        let Some((stamp, message)) = line.split_once(": ") else { continue };
        let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp.trim(), "%Y-%m-%d %H:%M:%S") else {
            continue;
        };
        let at = at.and_utc().timestamp();
        last = Some(at);
        let next = bucket(message.trim()).or(current.is_none().then_some(0));
        if let Some(next) = next {
            if let Some((b, since)) = current {
                seconds[b] += (at - since) as f64;
            }
            current = Some((next, at));
        }
    }
    if let (Some((b, since)), Some(end)) = (current, last) {
        seconds[b] += (end - since) as f64;
    }
    BUCKETS.iter().zip(seconds).map(|(b, s)| (b.to_string(), s)).collect()
}

/// One answer of the replay.
#[derive(Debug, Clone)]
pub struct Reply {
    pub latency: Duration,
    /// Results in order: OSM type (`N`, `W`, `R`) and id.
    pub results: Vec<(char, i64)>,
    pub first_label: String,
    /// Nominatim gave up (its query timeout).
    pub timed_out: bool,
}

/// Replays `queries` (text, bounded viewbox) through `replay.py`; `warm_up` first queries run once unmeasured.
pub fn replay(
    install: &Install,
    project: &Path,
    queries: &[(String, Option<[f64; 4]>)],
    limit: usize,
    warm_up: usize,
) -> Result<(Vec<Reply>, Duration)> {
    let input = project.join("queries.tsv");
    let output = project.join("replies.tsv");
    let mut text = String::new();
    for (q, viewbox) in queries {
        ensure!(!q.contains(['\t', '\n']), "a query with a tab or a line break");
        text.push_str(q);
        text.push('\t');
        if let Some([a, b, c, d]) = viewbox {
            let _ = write!(text, "{a},{b},{c},{d}");
        }
        text.push('\n');
    }
    std::fs::write(&input, text)?;
    let status = Command::new(install.venv.join("bin/python"))
        .arg(script("replay.py"))
        .arg(project)
        .arg(&input)
        .arg(&output)
        .arg(limit.to_string())
        .arg(warm_up.to_string())
        .current_dir(project)
        .status()
        .context("cannot run replay.py")?;
    ensure!(status.success(), "replay.py failed ({status})");
    let text = std::fs::read_to_string(&output)?;
    let mut replies = Vec::with_capacity(queries.len());
    let mut total = Duration::ZERO;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let first = fields.next().unwrap_or_default();
        if first == "total" {
            total = Duration::from_secs_f64(fields.next().unwrap_or("0").parse()?);
            continue;
        }
        let ms: f64 = first.parse().with_context(|| format!("bad reply line `{line}`"))?;
        let results = fields
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|r| {
                let mut chars = r.chars();
                let kind = chars.next()?;
                Some((kind, chars.as_str().parse().ok()?))
            })
            .collect();
        let first_label = fields.next().unwrap_or_default().to_string();
        let timed_out = fields.next() == Some("1");
        replies.push(Reply {
            latency: Duration::from_secs_f64(ms / 1000.0),
            results,
            first_label,
            timed_out,
        });
    }
    ensure!(
        replies.len() == queries.len(),
        "replay.py answered {} of {} queries",
        replies.len(),
        queries.len()
    );
    Ok((replies, total))
}

/// Tables and their indexes in `schema`, bytes (PostGIS's `spatial_ref_sys` left out).
pub async fn schema_bytes(pool: &sqlx::PgPool, schema: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relkind in ('r', 'm', 'p') and c.relname <> 'spatial_ref_sys'",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?)
}
