//! The private PostgreSQL + PostGIS cluster that Vedetta runs under its data dir.
//!
//! Layout of a data dir (`root`):
//!
//! | path | what |
//! |---|---|
//! | `root/postgres/` | PGDATA, owned by the cluster user |
//! | `root/postgres.json` | port, superuser and password of the cluster (mode 0600) |
//! | `root/vedetta.lock` | held (flock) by the Vedetta process that owns the data dir |
//!
//! PostgreSQL refuses to run as root: when Vedetta runs as root the server runs as a non-root system user
//! (`postgres` by default). When that user cannot reach `root` (a data dir under `/root`, say), PGDATA goes to
//! `/var/tmp/vedetta-clusters/<hash>` instead and the state file says where.
//!
//! The server listens on a loopback TCP port only (unix sockets are disabled) and accepts password
//! (SCRAM) logins; the password is generated at `initdb` time.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::unistd::{Gid, Uid, User};
use serde::{Deserialize, Serialize};
use sha2_free_hash::short_hash;
use tracing::{debug, info, warn};

use crate::{Error, Result};

/// The superuser Vedetta creates in its private clusters.
pub const SUPERUSER: &str = "vedetta";

/// How to find or create a private cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The data dir; PGDATA is `root/postgres` unless the cluster user cannot reach it.
    pub root: PathBuf,
    /// Directory holding `initdb`, `pg_ctl` and `postgres`; searched for when `None`.
    pub bin_dir: Option<PathBuf>,
    /// The system user that runs the server when Vedetta runs as root.
    pub os_user: String,
    /// Extra server settings written to `postgresql.conf` when the cluster is created.
    pub settings: Vec<(String, String)>,
}

impl ClusterOptions {
    /// Options with defaults for the data dir `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ClusterOptions { root: root.into(), bin_dir: None, os_user: "postgres".into(), settings: Vec::new() }
    }
}

/// What `root/postgres.json` records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    pgdata: PathBuf,
    port: u16,
    user: String,
    password: String,
}

/// A private cluster: created on first use, started and stopped by its owner.
#[derive(Debug)]
pub struct Cluster {
    pgdata: PathBuf,
    state_path: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(Uid, Gid)>,
    state: State,
}

impl Cluster {
    /// Opens the cluster of `opts.root`, creating it with `initdb` when it does not exist yet.
    /// Does not start it.
    pub fn open(opts: &ClusterOptions) -> Result<Self> {
        fs::create_dir_all(&opts.root).map_err(Error::io("cannot create the data dir", &opts.root))?;
        let root = opts.root.canonicalize().map_err(Error::io("cannot resolve the data dir", &opts.root))?;
        let bin_dir = match &opts.bin_dir {
            Some(dir) => dir.clone(),
            None => find_bin_dir()?,
        };
        let run_as = cluster_user(&opts.os_user)?;
        let state_path = root.join("postgres.json");
        if let Some(state) = read_state(&state_path)? {
            if state.pgdata.join("PG_VERSION").exists() {
                return Ok(Cluster { pgdata: state.pgdata.clone(), state_path, bin_dir, run_as, state });
            }
            warn!(pgdata = %state.pgdata.display(), "The cluster recorded in the state file is gone; creating a new one.");
        }

        let pgdata = pgdata_location(&root, run_as)?;
        let state =
            State { pgdata: pgdata.clone(), port: 0, user: SUPERUSER.into(), password: random_secret() };
        let cluster = Cluster { pgdata, state_path, bin_dir, run_as, state };
        cluster.initdb(&opts.settings)?;
        cluster.write_state()?;
        Ok(cluster)
    }

    /// The directory that holds PGDATA.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// The loopback port the server listens on (0 before the first start).
    pub fn port(&self) -> u16 {
        self.state.port
    }

    /// A connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            self.state.user, self.state.password, self.state.port, database
        )
    }

    /// Whether a postmaster is running on this PGDATA.
    pub fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).map(|out| out.status.success()).unwrap_or(false)
    }

    /// Starts the server unless it already runs (it may have outlived a Vedetta that was killed);
    /// in both cases the recorded port is the one it listens on when this returns.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            if let Some(port) = self.running_port() {
                self.state.port = port;
                self.write_state()?;
            }
            info!(port = self.state.port, "Reusing the private PostgreSQL cluster that is already running.");
            return Ok(());
        }
        if self.state.port == 0 || TcpListener::bind(("127.0.0.1", self.state.port)).is_err() {
            self.state.port = free_port()?;
        }
        self.write_state()?;
        let port_opt = format!("-p {}", self.state.port);
        let log = self.pgdata.join("server.log");
        let log = log.to_string_lossy();
        let out = self.pg_ctl(&["start", "-w", "-t", "120", "-l", &log, "-o", &port_opt])?;
        if !out.status.success() {
            return Err(self.command_error("pg_ctl start", &out));
        }
        info!(port = self.state.port, pgdata = %self.pgdata.display(), "Private PostgreSQL cluster started.");
        Ok(())
    }

    /// Stops the server (fast shutdown: running transactions are rolled back, committed data is safe).
    pub fn stop(&self) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let out = self.pg_ctl(&["stop", "-w", "-t", "120", "-m", "fast"])?;
        if !out.status.success() {
            return Err(self.command_error("pg_ctl stop", &out));
        }
        info!(pgdata = %self.pgdata.display(), "Private PostgreSQL cluster stopped.");
        Ok(())
    }

    /// Stops the server at once, as a crash would (for tests that need a database outage).
    pub fn kill(&self) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let out = self.pg_ctl(&["stop", "-w", "-m", "immediate"])?;
        if !out.status.success() {
            return Err(self.command_error("pg_ctl stop", &out));
        }
        Ok(())
    }

    fn initdb(&self, settings: &[(String, String)]) -> Result<()> {
        fs::create_dir_all(&self.pgdata).map_err(Error::io("cannot create", &self.pgdata))?;
        fs::set_permissions(&self.pgdata, fs::Permissions::from_mode(0o700))
            .map_err(Error::io("cannot set permissions of", &self.pgdata))?;
        self.chown(&self.pgdata)?;

        // The password file must be readable by the cluster user; it lives inside PGDATA's parent
        // only for the duration of initdb.
        let pwfile = self.pgdata.with_extension("pw");
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&pwfile)
                .map_err(Error::io("cannot write", &pwfile))?;
            file.write_all(self.state.password.as_bytes()).map_err(Error::io("cannot write", &pwfile))?;
        }
        self.chown(&pwfile)?;
        let pgdata = self.pgdata.to_string_lossy().into_owned();
        let pwarg = format!("--pwfile={}", pwfile.display());
        let out = self
            .command("initdb")
            .args(["-D", &pgdata, "-U", SUPERUSER, &pwarg, "-E", "UTF8", "--locale=C.UTF-8"])
            .args(["--auth-local=peer", "--auth-host=scram-sha-256"])
            .output()
            .map_err(Error::io("cannot run initdb from", &self.bin_dir));
        let _ = fs::remove_file(&pwfile);
        let out = out?;
        if !out.status.success() {
            return Err(self.command_error("initdb", &out));
        }

        let conf = self.pgdata.join("postgresql.conf");
        let mut lines = String::from(
            "\n# Written by Vedetta for its private cluster.\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\n\
             logging_collector = off\n",
        );
        for (key, value) in settings {
            lines.push_str(&format!("{key} = '{}'\n", value.replace('\'', "''")));
        }
        let mut file =
            OpenOptions::new().append(true).open(&conf).map_err(Error::io("cannot append to", &conf))?;
        file.write_all(lines.as_bytes()).map_err(Error::io("cannot append to", &conf))?;
        info!(pgdata = %self.pgdata.display(), "Private PostgreSQL cluster created.");
        Ok(())
    }

    fn running_port(&self) -> Option<u16> {
        let pid_file = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn write_state(&self) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.state).expect("the state serialises");
        let tmp = self.state_path.with_extension("json.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(Error::io("cannot write", &tmp))?;
        file.write_all(&json).map_err(Error::io("cannot write", &tmp))?;
        fs::rename(&tmp, &self.state_path).map_err(Error::io("cannot write", &self.state_path))
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(tool));
        // The cluster user may not be able to read Vedetta's working directory.
        cmd.current_dir("/").env("LC_ALL", "C.UTF-8").env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output> {
        let pgdata = self.pgdata.to_string_lossy().into_owned();
        debug!(?args, "pg_ctl");
        self.command("pg_ctl")
            .args(["-D", &pgdata])
            .args(args)
            .output()
            .map_err(Error::io("cannot run pg_ctl from", &self.bin_dir))
    }

    fn chown(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
                .map_err(Error::io("cannot hand over to the cluster user", path))?;
        }
        Ok(())
    }

    fn command_error(&self, tool: &'static str, out: &Output) -> Error {
        let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        if let Ok(log) = fs::read_to_string(self.pgdata.join("server.log")) {
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            if !tail.is_empty() {
                detail.push_str("\nserver log:\n");
                detail.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
        Error::ClusterCommand { tool, dir: self.pgdata.clone(), detail }
    }
}

/// Reads the state of a cluster whose data dir is owned by another process (a running `serve`),
/// so that a command can connect to it. Returns `None` when no cluster was ever created there.
pub fn attach_url(root: &Path, database: &str) -> Result<Option<String>> {
    let Some(state) = read_state(&root.join("postgres.json"))? else {
        return Ok(None);
    };
    if state.port == 0 {
        return Ok(None);
    }
    Ok(Some(format!("postgres://{}:{}@127.0.0.1:{}/{}", state.user, state.password, state.port, database)))
}

fn read_state(path: &Path) -> Result<Option<State>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::State { path: path.to_path_buf(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { action: "cannot read", path: path.to_path_buf(), source: e }),
    }
}

/// Finds the newest PostgreSQL server binaries whose installation has PostGIS.
pub fn find_bin_dir() -> Result<PathBuf> {
    let mut looked = Vec::new();
    let mut versions: Vec<u32> = fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    for v in versions {
        let bin = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        let postgis = PathBuf::from(format!("/usr/share/postgresql/{v}/extension/postgis.control"));
        looked.push(bin.display().to_string());
        if bin.join("pg_ctl").exists() && postgis.exists() {
            return Ok(bin);
        }
    }
    Err(Error::NoPostgres {
        looked_in: if looked.is_empty() { "/usr/lib/postgresql".into() } else { looked.join(", ") },
    })
}

fn cluster_user(name: &str) -> Result<Option<(Uid, Gid)>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name(name) {
        Ok(Some(user)) => Ok(Some((user.uid, user.gid))),
        _ => Err(Error::NoClusterUser { user: name.into() }),
    }
}

/// `root/postgres`, or a directory the cluster user can reach when it cannot reach `root`.
fn pgdata_location(root: &Path, run_as: Option<(Uid, Gid)>) -> Result<PathBuf> {
    let preferred = root.join("postgres");
    let Some((uid, gid)) = run_as else {
        return Ok(preferred);
    };
    let reachable = Command::new("test")
        .arg("-x")
        .arg(root)
        .current_dir("/")
        .uid(uid.as_raw())
        .gid(gid.as_raw())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reachable {
        return Ok(preferred);
    }
    let base = PathBuf::from("/var/tmp/vedetta-clusters");
    fs::create_dir_all(&base).map_err(Error::io("cannot create", &base))?;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o711))
        .map_err(Error::io("cannot set permissions of", &base))?;
    let dir = base.join(short_hash(root.as_os_str().as_encoded_bytes()));
    warn!(
        root = %root.display(),
        pgdata = %dir.display(),
        "The cluster user cannot reach the data dir; PGDATA goes elsewhere."
    );
    Ok(dir)
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(Error::io("cannot find a free port on", "127.0.0.1"))?;
    let port = listener.local_addr().map_err(Error::io("cannot find a free port on", "127.0.0.1"))?.port();
    Ok(port)
}

fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 20]>())
}

/// The lock that makes one Vedetta process the owner of a data dir.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the data dir for `purpose` (e.g. `vedetta serve`), or says who holds it.
    pub fn acquire(root: &Path, purpose: &str) -> Result<Self> {
        fs::create_dir_all(root).map_err(Error::io("cannot create the data dir", root))?;
        let path = root.join("vedetta.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("cannot open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::DataDirBusy {
                    dir: root.to_path_buf(),
                    holder: if holder.is_empty() { "unknown".into() } else { holder.to_string() },
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Error::Io { action: "cannot lock", path, source: e });
            }
        }
        file.set_len(0).map_err(Error::io("cannot write", &path))?;
        file.rewind().map_err(Error::io("cannot write", &path))?;
        write!(file, "{purpose}, pid {}", std::process::id()).map_err(Error::io("cannot write", &path))?;
        file.flush().map_err(Error::io("cannot write", &path))?;
        Ok(DataDirLock { _file: file })
    }

    /// Whether another process holds the data dir right now.
    pub fn is_held(root: &Path) -> bool {
        let Ok(file) = File::open(root.join("vedetta.lock")) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(_) => true,
        }
    }
}

mod sha2_free_hash {
    /// A short, stable hex name for a path (FNV-1a, 64 bits): only used to name a directory.
    pub fn short_hash(bytes: &[u8]) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_a_data_dir_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDirLock::acquire(dir.path(), "vedetta serve").unwrap();
        assert!(DataDirLock::is_held(dir.path()));
        let err = DataDirLock::acquire(dir.path(), "vedetta serve").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("in use"), "{msg}");
        assert!(msg.contains("vedetta serve, pid"), "{msg}");
    }

    #[test]
    fn lock_is_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDirLock::acquire(dir.path(), "a").unwrap());
        assert!(!DataDirLock::is_held(dir.path()));
        DataDirLock::acquire(dir.path(), "b").unwrap();
    }

    #[test]
    fn short_hash_is_stable() {
        assert_eq!(sha2_free_hash::short_hash(b"/root/x"), sha2_free_hash::short_hash(b"/root/x"));
        assert_ne!(sha2_free_hash::short_hash(b"/root/x"), sha2_free_hash::short_hash(b"/root/y"));
    }
}
