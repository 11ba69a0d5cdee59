//! A real Mosquitto broker for tests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Mosquitto settings Vedetta needs, as the README documents them.
pub const VEDETTA_SETTINGS: &str =
    "max_inflight_messages 1000\nmax_queued_messages 1000000\nmax_queued_bytes 0\n";

/// A Mosquitto 2 broker on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto with anonymous access and no persistence.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with("")
    }

    /// Starts Mosquitto with the settings Vedetta needs (see the README): a large in-flight window and a queue for
    /// persistent sessions that holds any backlog.
    pub fn for_vedetta() -> Mosquitto {
        Mosquitto::start_with(VEDETTA_SETTINGS)
    }

    /// Starts Mosquitto with extra configuration lines (`max_queued_messages 0`, …).
    pub fn start_with(extra: &str) -> Mosquitto {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = crate::free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n{extra}\n"),
        )
        .expect("write mosquitto.conf");
        let log = std::fs::File::create(dir.path().join("mosquitto.log")).expect("create mosquitto.log");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto is installed (make deps)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        crate::wait_for("mosquitto to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()
        });
        Mosquitto { child, port, _dir: dir }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
