//! Child processes of the benchmark (Mosquitto, Vedetta) and the plumbing around them: guards that kill them on
//! every exit path, a watchdog for when the benchmark itself is killed, HTTP probes, peak RSS.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A child process that is killed when the guard is dropped, its output going to a log file.
#[derive(Debug)]
pub struct ChildGuard {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr to `log`, and a watchdog that kills it (and removes `dir`, a
    /// `vedetta-bench-*` temporary directory) if the benchmark dies first.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path, dir: &Path) -> Result<ChildGuard> {
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("cannot reopen {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        testkit::spawn_detached(&format!(
            "while kill -0 {me} 2>/dev/null; do kill -0 {child} 2>/dev/null || exit 0; sleep 0.5; done; \
             kill -TERM {child} 2>/dev/null; sleep 2; kill -KILL {child} 2>/dev/null; \
             case '{dir}' in */vedetta-bench-*) rm -rf '{dir}';; esac",
            me = std::process::id(),
            child = child.id(),
            dir = dir.display(),
        ));
        Ok(ChildGuard { name, child, log: log.to_path_buf() })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the process has exited, with the end of its log.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) =
            self.child.try_wait().with_context(|| format!("cannot wait for {}", self.name))?
        {
            bail!("{} exited ({status}); end of its log:\n{}", self.name, self.log_tail(20));
        }
        Ok(())
    }

    /// The last `lines` lines of the process's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        if tail.is_empty() {
            return "  (empty)".into();
        }
        tail.into_iter().rev().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; kills it after that.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let pid = Pid::from_raw(i32::try_from(self.child.id()).context("a pid that fits in i32")?);
        kill(pid, Signal::SIGTERM).with_context(|| format!("cannot send SIGTERM to {}", self.name))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let status = self.child.wait()?;
                bail!("{} did not exit within {timeout:?} of SIGTERM; killed ({status})", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A Mosquitto 2 broker on a free loopback port with the settings Vedetta's ingest needs at high rates.
#[derive(Debug)]
pub struct Mosquitto {
    child: ChildGuard,
    port: u16,
    version: String,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// The configuration written for the broker.
    pub fn config(port: u16) -> String {
        // max_queued_messages 0 and max_queued_bytes 0 mean "no maximum" in Mosquitto 2.0 (man mosquitto.conf):
        // a consumer that falls behind gets everything later instead of losing messages silently.
        format!(
            "listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             persistence false\n\
             max_inflight_messages 1000\n\
             max_queued_messages 0\n\
             max_queued_bytes 0\n\
             log_dest stderr\n\
             log_type error\n\
             log_type warning\n"
        )
    }

    /// Starts the broker and waits until it listens.
    pub async fn start() -> Result<Mosquitto> {
        let dir = tempfile::Builder::new().prefix("vedetta-bench-mqtt-").tempdir()?;
        let port = ::database::cluster::free_port()?;
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, Mosquitto::config(port)).context("cannot write mosquitto.conf")?;
        let mut cmd = Command::new("mosquitto");
        cmd.arg("-c").arg(&conf);
        let mut child = ChildGuard::spawn("mosquitto", cmd, &dir.path().join("mosquitto.log"), dir.path())
            .context("is Mosquitto installed? (scripts/install-deps.sh)")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            child.check_alive()?;
            if Instant::now() > deadline {
                bail!("Mosquitto does not listen on {addr} after 10 s; its log:\n{}", child.log_tail(20));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let version = Command::new("mosquitto")
            .arg("-h")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_string))
            .map(|l| l.replace("mosquitto version ", ""))
            .unwrap_or_else(|| "?".into());
        Ok(Mosquitto { child, port, version, _dir: dir })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `2.0.11`, say.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Fails when the broker has died.
    pub fn check_alive(&mut self) -> Result<()> {
        self.child.check_alive()
    }

    /// Peak resident set of the broker, in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        peak_rss_kb(self.child.pid())
    }
}

/// `VmHWM` (peak resident set size) of a process, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// GET `url` (blocking HTTP on a blocking thread): the status and the body.
pub async fn http_get(url: &str) -> Result<(u16, String)> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let answer = ureq::get(&url).timeout(Duration::from_secs(5)).call();
        match answer {
            Ok(resp) => {
                let status = resp.status();
                Ok((status, resp.into_string().with_context(|| format!("cannot read the body of {url}"))?))
            }
            Err(ureq::Error::Status(status, resp)) => Ok((status, resp.into_string().unwrap_or_default())),
            Err(e) => Err(anyhow::Error::new(e).context(format!("GET {url}"))),
        }
    })
    .await
    .context("the HTTP thread failed")?
}
