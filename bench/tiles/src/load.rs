//! The crowd: `wrk` (Debian's, C, epoll) with a Lua script that walks the tile list, each thread from its own
//! place in it, every connection keep-alive, no `Accept-Encoding` (raw MVT from every server). The script's
//! `done` prints the totals and the latency percentiles as one JSON line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

const SCRIPT: &str = r#"
local paths = {}
local i = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = (id * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// What one run of the crowd measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub requests: u64,
    pub seconds: f64,
    pub bytes: u64,
    /// Answers other than 2xx/3xx, and transport errors (connect, read, write, timeouts).
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.requests as f64 / self.seconds } else { 0.0 }
    }

    pub fn mean_kb(&self) -> f64 {
        if self.requests > 0 { self.bytes as f64 / self.requests as f64 / 1024.0 } else { 0.0 }
    }
}

/// A tile list written for `wrk`, one path per line.
#[derive(Debug, Clone)]
pub struct PathList {
    file: PathBuf,
}

impl PathList {
    pub fn write(work: &Path, name: &str, paths: &[String]) -> Result<PathList> {
        let file = work.join(format!("{name}.paths"));
        std::fs::write(&file, paths.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(PathList { file })
    }
}

/// `wrk`, installed by `apt-get install wrk` when missing (as root), and its version line.
pub fn ensure_wrk() -> Result<String> {
    let version = || -> Option<String> {
        let out = Command::new("wrk").arg("-v").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        text.lines().next().filter(|l| l.starts_with("wrk")).map(str::to_string)
    };
    if let Some(v) = version() {
        return Ok(v);
    }
    eprintln!("Installing wrk (apt-get install wrk) …");
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("wrk is missing and apt-get cannot run: apt-get install wrk")?;
    ensure!(status.success(), "apt-get install wrk failed ({status})");
    version().context("wrk does not run after its installation")
}

/// `clients` connections on `threads` threads for `duration` against `base` walking `paths`.
pub fn run(work: &Path, base: &str, paths: &PathList, clients: u32, duration: Duration) -> Result<Measured> {
    let script = work.join("tiles.lua");
    if !script.exists() {
        std::fs::write(&script, SCRIPT).with_context(|| format!("cannot write {}", script.display()))?;
    }
    let threads =
        clients.min(u32::try_from(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))?);
    let out = Command::new("wrk")
        .arg("-t")
        .arg(threads.max(1).to_string())
        .arg("-c")
        .arg(clients.to_string())
        .arg("-d")
        .arg(format!("{}s", duration.as_secs().max(1)))
        .args(["--timeout", "30s", "-s"])
        .arg(&script)
        .arg(base)
        .arg("--")
        .arg(&paths.file)
        .output()
        .context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .with_context(|| format!("wrk printed no result:\n{stdout}"))?;
    let v: Value = serde_json::from_str(line).with_context(|| format!("wrk's result is not JSON: {line}"))?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok(Measured {
        requests: n("requests"),
        seconds: n("duration_us") as f64 / 1e6,
        bytes: n("bytes"),
        errors: n("status") + n("connect") + n("read") + n("write") + n("timeout"),
        p50_ms: n("p50_us") as f64 / 1e3,
        p99_ms: n("p99_us") as f64 / 1e3,
        max_ms: n("max_us") as f64 / 1e3,
    })
}
