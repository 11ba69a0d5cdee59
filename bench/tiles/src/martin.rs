//! Standalone Martin 1.14 (`cargo install martin --version 1.14.0 --locked --no-default-features --features
//! postgres,metrics`: its default features fetch a C++ renderer and fail offline), publishing the buildings'
//! partition as a table source, with its tile cache or without.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::data::{BUILDINGS_SCHEMA, BUILDINGS_TABLE};
use crate::servers::{Server, free_addr};

pub const VERSION: &str = "1.14.0";
/// The buildings' source id in Martin.
pub const SOURCE: &str = "buildings";

/// The Martin binary: `explicit`, else `martin` on the `PATH` if it is 1.14, else the one under `root`
/// (`target/bench-tools`), installed there with cargo when missing (several minutes on 2 cores).
pub fn ensure_martin(explicit: Option<PathBuf>, root: &Path) -> Result<(PathBuf, String)> {
    let version = |bin: &Path| -> Option<String> {
        let out = Command::new(bin).arg("--version").output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if let Some(bin) = explicit {
        let v = version(&bin).with_context(|| format!("{} does not run", bin.display()))?;
        return Ok((bin, v));
    }
    for bin in [PathBuf::from("martin"), root.join("bin/martin")] {
        if let Some(v) = version(&bin).filter(|v| v.contains(VERSION)) {
            return Ok((bin, v));
        }
    }
    eprintln!("Installing Martin {VERSION} into {} (cargo install; several minutes) …", root.display());
    let status = Command::new("cargo")
        .args(["install", "martin", "--version", VERSION, "--locked", "--no-default-features"])
        .args(["--features", "postgres,metrics", "--root"])
        .arg(root)
        .status()
        .context("cannot run cargo install martin")?;
    ensure!(status.success(), "cargo install martin failed ({status})");
    let bin = root.join("bin/martin");
    let v = version(&bin).context("Martin does not run after its installation")?;
    Ok((bin, v))
}

/// How Martin runs.
#[derive(Debug, Clone)]
pub struct MartinSettings {
    pub name: &'static str,
    /// Its tile cache (MB); `None`: disabled.
    pub cache_mb: Option<u64>,
    pub pool: u32,
}

/// Martin on `database_url`, the buildings' table as source [`SOURCE`] with the members Vedetta's `dbt` layer
/// has (class, code; the version as the feature id), nothing published automatically.
pub fn start(binary: &Path, database_url: &str, work: &Path, settings: &MartinSettings) -> Result<Server> {
    let http = free_addr()?;
    let cache = match settings.cache_mb {
        Some(mb) => format!("cache:\n  size_mb: {mb}\n  tile_size_mb: {mb}\n"),
        None => "cache: disable\n".to_string(),
    };
    let config = format!(
        "listen_addresses: \"{http}\"\n{cache}\
         postgres:\n  connection_string: \"{database_url}\"\n  pool_size: {pool}\n  auto_publish: false\n\
         \x20 tables:\n    {SOURCE}:\n      schema: {BUILDINGS_SCHEMA}\n      table: {BUILDINGS_TABLE}\n\
         \x20     srid: 4326\n      geometry_column: geom\n      geometry_type: GEOMETRY\n\
         \x20     id_column: version\n      properties:\n        class: text\n        code: text\n",
        pool = settings.pool,
    );
    let file = work.join(format!("{}.yaml", settings.name));
    std::fs::write(&file, config).with_context(|| format!("cannot write {}", file.display()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("--config").arg(&file).current_dir(work).env("RUST_LOG", "warn");
    let mut server =
        Server::spawn(settings.name, cmd, format!("http://{http}"), work, &format!("{}.log", settings.name))?;
    server.wait_ready(&format!("/{SOURCE}"), Duration::from_secs(60))?;
    Ok(server)
}
