//! PostgreSQL for tests: one cluster per test process, one database per test.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use database::cluster::{Cluster, ClusterOptions};
use sqlx::PgPool;
use tokio::sync::{Mutex, OnceCell};

const TEMPLATE: &str = "vedetta_template";

/// A private cluster that lives as long as the test process (or the value, for [`TestCluster::start`]).
#[derive(Debug)]
pub struct TestCluster {
    cluster: Cluster,
    root: PathBuf,
    owned_dir: Option<tempfile::TempDir>,
}

impl TestCluster {
    /// A cluster of the test's own, for tests that stop and restart the database. Stopped on drop.
    /// Commits are durable (`synchronous_commit` on), as in production, so that stopping the server abruptly
    /// loses nothing that was acknowledged.
    pub fn start() -> TestCluster {
        let dir = tempfile::Builder::new().prefix("vedetta-pg-").tempdir().expect("a temporary directory");
        let root = dir.path().to_path_buf();
        let mut cluster = TestCluster::create(&root, true);
        cluster.owned_dir = Some(dir);
        cluster
    }

    fn create(root: &Path, durable_commits: bool) -> TestCluster {
        // The cluster user (postgres, when tests run as root) must reach the directory.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the cluster root");
        let mut opts = ClusterOptions::new(root);
        let synchronous_commit = if durable_commits { "on" } else { "off" };
        opts.settings = [
            // Without fsync a server crash loses nothing (the OS keeps the pages); only an OS crash would.
            ("fsync", "off"),
            ("synchronous_commit", synchronous_commit),
            ("full_page_writes", "off"),
            ("max_connections", "300"),
            ("shared_buffers", "128MB"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut cluster = Cluster::open(&opts).expect("initdb of the test cluster");
        cluster.start().expect("start of the test cluster");
        spawn_watchdog(cluster.pgdata(), root);
        TestCluster { cluster, root: root.to_path_buf(), owned_dir: None }
    }

    /// A superuser URL for `database`.
    pub fn url(&self, database: &str) -> String {
        self.cluster.url(database)
    }

    /// Stops the server at once, as a crash or an outage would.
    pub fn kill(&self) {
        self.cluster.kill().expect("stop the test cluster");
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.cluster.start().expect("restart the test cluster");
    }

    /// The directory that holds the cluster.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.owned_dir.is_some() {
            let _ = self.cluster.kill();
        }
    }
}

/// When the test process ends, however it ends, stop its cluster at once and remove its files.
fn spawn_watchdog(pgdata: &Path, root: &Path) {
    watch_cluster(pgdata, root, Stop::Immediate);
}

/// How a watched cluster is stopped when its owner process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGQUIT: no checkpoint (test clusters, thrown away).
    Immediate,
    /// SIGINT: a clean fast shutdown (benchmark clusters).
    Fast,
}

/// Stops the cluster of `pgdata` and removes `root` (only a `vedetta-…pg-…` temporary directory) once this process
/// has ended, however it ended.
pub fn watch_cluster(pgdata: &Path, root: &Path, stop: Stop) {
    let (signal, grace) = match stop {
        Stop::Immediate => ("QUIT", 1),
        Stop::Fast => ("INT", 3),
    };
    spawn_detached(&format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         pid=$(head -n 1 '{pgdata}/postmaster.pid' 2>/dev/null) && kill -{signal} \"$pid\" 2>/dev/null; \
         sleep {grace}; case '{root}' in */vedetta-*pg-*) rm -rf '{root}';; esac",
        pid = std::process::id(),
        pgdata = pgdata.display(),
        root = root.display(),
    ));
}

/// Runs `script` in `sh` in a process group of its own, so that a Ctrl-C to the terminal does not stop it: the
/// clean-up that outlives a killed test or benchmark.
pub fn spawn_detached(script: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

static SHARED: OnceCell<TestCluster> = OnceCell::const_new();
static CREATE_LOCK: Mutex<()> = Mutex::const_new(());
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

async fn shared() -> &'static TestCluster {
    SHARED
        .get_or_init(|| async {
            let cluster = tokio::task::spawn_blocking(|| {
                let dir =
                    tempfile::Builder::new().prefix("vedetta-pg-").tempdir().expect("a temporary directory");
                // Kept until the process ends; the watchdog removes it.
                TestCluster::create(&dir.keep(), false)
            })
            .await
            .expect("the test cluster starts");
            let admin = PgPool::connect(&cluster.url("postgres")).await.expect("connect to the test cluster");
            sqlx::query(&format!("create database {TEMPLATE}"))
                .execute(&admin)
                .await
                .expect("create the template");
            admin.close().await;
            let template = PgPool::connect(&cluster.url(TEMPLATE)).await.expect("connect to the template");
            database::migrate(&template).await.expect("migrate the template");
            template.close().await;
            cluster
        })
        .await
}

/// A fresh, migrated database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates the database from the migrated template.
    pub async fn new() -> TestDb {
        let cluster = shared().await;
        let name = format!("test_{}_{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed));
        {
            let _guard = CREATE_LOCK.lock().await;
            let admin = PgPool::connect(&cluster.url("postgres")).await.expect("connect to the test cluster");
            sqlx::query(&format!("create database {name} template {TEMPLATE}"))
                .execute(&admin)
                .await
                .expect("create the test database");
            admin.close().await;
        }
        TestDb { url: cluster.url(&name), name }
    }

    /// Same as [`TestDb::new`], for synchronous tests.
    pub fn new_blocking() -> TestDb {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(TestDb::new())
    }

    /// A pool on the database.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.expect("connect to the test database")
    }
}
