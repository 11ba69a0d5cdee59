//! The servers under load, as child processes: `vedetta serve` (release) and TiPG on uvicorn, on the same
//! database. Each runs in a process group of its own (uvicorn's workers included), killed as a group on every exit
//! path: by [`Server`]'s `Drop`, and by a watchdog shell when the benchmark itself is killed.
//!
//! Shared by `bench/http` and `bench/tiles` (included there with `#[path]`): the benchmarks are binaries, and what
//! they share is how to run the peers, not a library.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The TiPG and uvicorn versions installed in the benchmark's virtual environment.
pub const TIPG_REQUIREMENTS: [&str; 2] = ["tipg==1.6.1", "uvicorn[standard]==0.54.0"];

/// A server process (and its process group) that dies with the benchmark.
#[derive(Debug)]
pub struct Server {
    pub name: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Spawns `cmd` as the leader of a new process group, output to `log` (in `work`, the benchmark's temporary
    /// directory), with a watchdog that stops the group and removes `work` if this process dies first.
    pub fn spawn(
        name: &'static str,
        mut cmd: Command,
        base: String,
        work: &Path,
        log: &str,
    ) -> Result<Server> {
        let log = work.join(log);
        let log = log.as_path();
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("cannot reopen {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        testkit::spawn_detached(&format!(
            "while kill -0 {me} 2>/dev/null; do kill -0 {child} 2>/dev/null || exit 0; sleep 0.5; done; \
             kill -TERM -{child} 2>/dev/null; sleep 3; kill -KILL -{child} 2>/dev/null; \
             case '{work}' in */vedetta-bench-*) rm -rf '{work}';; esac",
            me = std::process::id(),
            child = child.id(),
            work = work.display(),
        ));
        Ok(Server { name, base, child, log: log.to_path_buf() })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until GET `path` answers 200, failing early when the process exits.
    pub fn wait_ready(&mut self, path: &str, timeout: Duration) -> Result<()> {
        let url = self.url(path);
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if let Ok((200, _)) = get(&url) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} does not answer 200 at {url} after {timeout:?}; its log:\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fails when the process has exited, with the end of its log.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) =
            self.child.try_wait().with_context(|| format!("cannot wait for {}", self.name))?
        {
            bail!("{} exited ({status}); end of its log:\n{}", self.name, self.log_tail(30));
        }
        Ok(())
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        if tail.is_empty() {
            return "  (empty)".into();
        }
        tail.into_iter().rev().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM to the group; SIGKILL after `timeout`. The leader's exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let group = self.group()?;
        killpg(group, Signal::SIGTERM).with_context(|| format!("cannot send SIGTERM to {}", self.name))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Workers that outlived their master go too.
                let _ = killpg(group, Signal::SIGKILL);
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = killpg(group, Signal::SIGKILL);
                let status = self.child.wait()?;
                bail!("{} did not exit within {timeout:?} of SIGTERM; killed ({status})", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id, which is also the process group of the server and its workers.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(0)
    }

    fn group(&self) -> Result<Pid> {
        Ok(Pid::from_raw(i32::try_from(self.child.id()).context("a pid that fits in i32")?))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(group) = self.group() {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A free loopback address `127.0.0.1:PORT`.
pub fn free_addr() -> Result<String> {
    Ok(format!("127.0.0.1:{}", database::cluster::free_port()?))
}

/// A `Command` for the Vedetta binary that reads no `VEDETTA_*` variable of the caller's environment.
pub fn vedetta_command(binary: &Path, data_dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VEDETTA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--data-dir").arg(data_dir);
    cmd
}

/// How one `vedetta serve` of a benchmark runs.
#[derive(Debug, Clone)]
pub struct VedettaSettings<'a> {
    /// Names its log (`<name>.log`) and data directory in the benchmark's directory.
    pub name: &'static str,
    pub pool: u32,
    pub admin_token: &'a str,
    /// A configuration file (`--config`), for what has no environment variable.
    pub config: Option<PathBuf>,
}

/// `vedetta serve` on `database_url`, HTTP and the embedded MQTT broker on free ports, logging warnings only.
pub fn start_vedetta(
    binary: &Path,
    database_url: &str,
    work: &Path,
    settings: &VedettaSettings<'_>,
) -> Result<(Server, u16)> {
    let http = free_addr()?;
    let mqtt_port = database::cluster::free_port()?;
    let name = settings.name;
    let mut cmd = vedetta_command(binary, &work.join(format!("{name}-data")));
    if let Some(config) = &settings.config {
        cmd.arg("--config").arg(config);
    }
    cmd.arg("serve")
        .current_dir(work)
        .env("VEDETTA_DATABASE_URL", database_url)
        .env("VEDETTA_DATABASE_MAX_CONNECTIONS", settings.pool.to_string())
        .env("VEDETTA_HTTP_ADDR", &http)
        .env("VEDETTA_MQTT_LISTEN", format!("127.0.0.1:{mqtt_port}"))
        .env("VEDETTA_ADMIN_TOKEN", settings.admin_token)
        .env("VEDETTA_LOG_LEVEL", "warn,rumqttd=off");
    let mut server = Server::spawn(name, cmd, format!("http://{http}"), work, &format!("{name}.log"))?;
    server.wait_ready("/healthz", Duration::from_secs(90))?;
    Ok((server, mqtt_port))
}

/// How TiPG runs.
#[derive(Debug, Clone)]
pub struct TipgSettings {
    /// uvicorn worker processes.
    pub workers: u32,
    /// Connections of each worker's asyncpg pool.
    pub pool_per_worker: u32,
    /// More of TiPG's settings, as environment variables (`TIPG_MAX_FEATURES_PER_TILE`…).
    pub env: Vec<(String, String)>,
}

/// TiPG (`tipg.main:app`) on uvicorn, serving `tables` (`schema.table`, or a table of `public`) of
/// `database_url`.
pub fn start_tipg(
    venv: &Path,
    database_url: &str,
    tables: &[&str],
    work: &Path,
    settings: &TipgSettings,
) -> Result<Server> {
    let http = free_addr()?;
    let (host, port) = http.split_once(':').context("an address with a port")?;
    let dir = work.join("tipg");
    // TiPG reads a `.env` of its working directory: an empty directory of its own.
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let qualified: Vec<String> =
        tables.iter().map(|t| if t.contains('.') { t.to_string() } else { format!("public.{t}") }).collect();
    let mut schemas: Vec<&str> = qualified.iter().filter_map(|t| t.split_once('.').map(|(s, _)| s)).collect();
    schemas.dedup();
    let quoted = |items: &[&str]| {
        format!("[{}]", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(","))
    };
    let table_list = quoted(&qualified.iter().map(String::as_str).collect::<Vec<_>>());
    let mut cmd = Command::new(venv.join("bin/uvicorn"));
    cmd.args(["tipg.main:app", "--host", host, "--port", port, "--log-level", "warning", "--no-access-log"])
        .args(["--loop", "uvloop", "--http", "httptools"])
        .arg("--workers")
        .arg(settings.workers.to_string())
        .current_dir(&dir)
        .env("DATABASE_URL", database_url.replacen("postgres://", "postgresql://", 1))
        .env("DB_MIN_CONN_SIZE", "1")
        .env("DB_MAX_CONN_SIZE", settings.pool_per_worker.to_string())
        .env("TIPG_DB_SCHEMAS", quoted(&schemas))
        .env("TIPG_DB_TABLES", table_list)
        // PostGIS's own functions live in `public` too: TiPG publishes no function as a collection.
        .env("TIPG_DB_FUNCTIONS", "[]")
        .envs(settings.env.iter().map(|(k, v)| (k, v)));
    let mut server = Server::spawn("TiPG (uvicorn)", cmd, format!("http://{http}"), work, "tipg.log")?;
    let first = qualified.first().context("a table for TiPG")?;
    server.wait_ready(&format!("/collections/{first}"), Duration::from_secs(90))?;
    Ok(server)
}

/// The benchmark's Python virtual environment (`target/bench-venv`) with TiPG and uvicorn, created with pip when
/// missing. Returns its directory and TiPG's version.
pub fn ensure_tipg(venv: &Path) -> Result<(PathBuf, String)> {
    let python = venv.join("bin/python");
    let version = |python: &Path| -> Option<String> {
        let out = Command::new(python)
            .args([
                "-c",
                "import tipg, uvicorn, uvloop, httptools; print(tipg.__version__, uvicorn.__version__)",
            ])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let installed =
        venv.join("bin/uvicorn").is_file() && version(&python).is_some_and(|v| v.starts_with("1.6.1 "));
    if !installed {
        eprintln!("Installing {} into {} …", TIPG_REQUIREMENTS.join(" "), venv.display());
        if !python.is_file() {
            let status = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(venv)
                .status()
                .context("cannot run python3 -m venv (is python3-venv installed?)")?;
            ensure!(status.success(), "python3 -m venv {} failed ({status})", venv.display());
        }
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(TIPG_REQUIREMENTS)
            .status()
            .context("cannot run pip")?;
        ensure!(status.success(), "pip install {} failed ({status})", TIPG_REQUIREMENTS.join(" "));
    }
    let versions = version(&python).context("TiPG does not import in the virtual environment")?;
    let (tipg, uvicorn) = versions.split_once(' ').unwrap_or((&versions, "?"));
    Ok((venv.to_path_buf(), format!("TiPG {tipg} on uvicorn {uvicorn}")))
}

/// Runs `vedetta import ARGS…` on `database_url` and returns what it printed.
pub fn vedetta_import(binary: &Path, database_url: &str, work: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = vedetta_command(binary, &work.join("vedetta-data"));
    cmd.arg("import").args(args).current_dir(work).env("VEDETTA_DATABASE_URL", database_url);
    let out = cmd.output().with_context(|| format!("cannot run vedetta import {args:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "vedetta import {} failed ({}):\n{stdout}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// GET `url` once (for probes and checks, not for the load): status and body.
pub fn get(url: &str) -> Result<(u16, String)> {
    match ureq::get(url).timeout(Duration::from_secs(30)).call() {
        Ok(resp) => {
            let status = resp.status();
            Ok((status, resp.into_string().with_context(|| format!("cannot read the body of {url}"))?))
        }
        Err(ureq::Error::Status(status, resp)) => Ok((status, resp.into_string().unwrap_or_default())),
        Err(e) => Err(anyhow::Error::new(e).context(format!("GET {url}"))),
    }
}
