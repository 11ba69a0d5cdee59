//! Vedetta's test harness.
//!
//! - [`TestDb::new`] hands each test a database of its own, created from a migrated template in one private
//!   PostgreSQL + PostGIS cluster per test process (started on first use with Vedetta's own cluster code, tuned for
//!   speed with fsync off, and stopped by a watchdog when the process ends, however it ends).
//! - [`TestCluster::start`] gives a test a cluster of its own when it must stop and start the database.
//! - [`BenchCluster::start`] is the benchmarks' cluster: the server defaults (durable), a fresh database per run.
//! - [`Mosquitto::start`] runs a real Mosquitto broker on a free loopback port for the test's lifetime.
//! - [`WebhookReceiver::start`] is an HTTP receiver on a free loopback port that records the webhooks it gets and
//!   fails, or answers late, as its [`WebhookBehaviour`] says.
//!
//! Nothing is left running: clusters and brokers die with the test process.

mod bench;
mod binary;
mod machine;
mod mosquitto;
mod postgres;
mod webhook_receiver;

pub use bench::BenchCluster;
pub use binary::{describe_binary, release_vedetta, target_dir};
pub use machine::Machine;
pub use mosquitto::Mosquitto;
pub use postgres::{Stop, TestCluster, TestDb, spawn_detached, watch_cluster};
pub use webhook_receiver::{Behaviour as WebhookBehaviour, Hit as WebhookHit, WebhookReceiver};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    database::cluster::free_port().expect("a free loopback port")
}

/// Polls `probe` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: std::time::Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Path of a file of the real open data the tests use, carried in the repository (`tests/data/`, each file with
/// its source and licence in `tests/data/README.md`), so that a fresh clone passes with nothing beside it.
pub fn test_data(relative: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data").join(relative);
    assert!(path.exists(), "test data {} is missing (tests/data/README.md lists the files)", path.display());
    path
}
