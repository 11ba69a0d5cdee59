//! Driving the real `vedetta` binary.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use testkit::{free_port, wait_for};

pub const BIN: &str = env!("CARGO_BIN_EXE_vedetta");

/// How to start Vedetta.
#[derive(Debug)]
pub struct Launch {
    pub data_dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub args: Vec<String>,
    pub command: String,
    pub after: Vec<String>,
}

impl Launch {
    /// `vedetta serve` on a data dir under `root`, on free ports, with a known admin token.
    pub fn serve(root: &Path) -> Launch {
        let mut env = BTreeMap::new();
        env.insert("VEDETTA_HTTP_ADDR".into(), format!("127.0.0.1:{}", free_port()));
        env.insert("VEDETTA_MQTT_LISTEN".into(), format!("127.0.0.1:{}", free_port()));
        env.insert(
            "VEDETTA_LOG_LEVEL".into(),
            "info,rumqttd=off,vedetta=debug,ingest=debug,alerts=debug".into(),
        );
        Launch {
            data_dir: root.join("data"),
            env,
            args: Vec::new(),
            command: "serve".into(),
            after: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Launch {
        self.env.insert(key.into(), value.into());
        self
    }

    /// On an external broker with a persistent session `client_id`, in the shared subscription group `vedetta`
    /// (how scale-out workers and serves share the readings).
    pub fn on_broker(self, broker_url: String, client_id: &str) -> Launch {
        self.env("VEDETTA_MQTT_URL", broker_url)
            .env("VEDETTA_MQTT_CLIENT_ID", client_id)
            .env("VEDETTA_MQTT_SHARED_GROUP", "vedetta")
    }

    /// Another subcommand than `serve` (`ingest`, …).
    pub fn subcommand(mut self, command: &str) -> Launch {
        self.command = command.into();
        self
    }

    /// Starts the process and waits until it is healthy.
    pub fn start(self) -> Vedetta {
        let mut v = self.spawn();
        v.wait_healthy();
        v
    }

    /// An argument after the subcommand.
    pub fn arg_after(mut self, arg: &str) -> Launch {
        self.after.push(arg.into());
        self
    }

    pub fn arg(mut self, arg: &str) -> Launch {
        self.args.push(arg.into());
        self
    }

    /// Starts the process; its output goes to files next to the data dir.
    pub fn spawn(self) -> Vedetta {
        let parent = self.data_dir.parent().expect("the data dir has a parent").to_path_buf();
        let n = std::fs::read_dir(&parent).map(|d| d.count()).unwrap_or(0);
        let stdout_path = parent.join(format!("stdout-{n}.log"));
        let stderr_path = parent.join(format!("stderr-{n}.log"));
        let child = self
            .command()
            .stdout(std::fs::File::create(&stdout_path).expect("create stdout log"))
            .stderr(std::fs::File::create(&stderr_path).expect("create stderr log"))
            .spawn()
            .expect("start vedetta");
        let http = self.env["VEDETTA_HTTP_ADDR"].parse().expect("an HTTP address");
        Vedetta { child, http, data_dir: self.data_dir, stdout_path, stderr_path }
    }

    /// Runs the command to completion.
    pub fn run(self) -> Output {
        self.command().stdin(Stdio::null()).output().expect("run vedetta")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        // The tests decide every variable Vedetta reads.
        for (key, _) in std::env::vars() {
            if key.starts_with("VEDETTA_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .arg(&self.command)
            .args(&self.after)
            .envs(&self.env);
        cmd
    }
}

/// A running Vedetta.
#[derive(Debug)]
pub struct Vedetta {
    child: Child,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Vedetta {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// Waits until `/healthz` answers 200 and returns its body.
    pub fn wait_healthy(&mut self) -> Value {
        let url = self.url("/healthz");
        wait_for("vedetta to be healthy", Duration::from_secs(90), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("vedetta exited with {status}:\n{}", self.stderr());
            }
            let (status, body) = get(&url, None);
            (status == 200).then_some(body)
        })
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// What it logged on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        wait_for("vedetta to exit", Duration::from_secs(60), || self.child.try_wait().ok().flatten())
    }
}

impl Drop for Vedetta {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // A private cluster a killed Vedetta left behind is stopped too: the tests leave nothing running.
        let pid_file = self.data_dir.join("postgres/postmaster.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|s| s.lines().next()?.parse().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
        }
    }
}

/// GET `url` with an optional bearer token: status and JSON body (`Value::String` when not JSON).
pub fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    // Generous for a loaded machine; callers that poll retry a failed GET anyway.
    let mut request = ureq::get(url).timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return (0, Value::Null),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The value of a Prometheus counter or gauge without labels, 0 when absent.
pub fn metric(vedetta: &Vedetta, name: &str) -> f64 {
    let (_, body) = get(&vedetta.url("/metrics"), None);
    let text = body.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| v.trim().parse().unwrap_or(0.0))
        })
        .unwrap_or(0.0)
}

/// Publishes one message with QoS 1 through `mosquitto_pub` (an independent client).
pub fn mosquitto_pub(port: u16, topic: &str, payload: &str) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", topic, "-m", payload])
        .status()
        .expect("mosquitto_pub is installed (make deps)");
    assert!(status.success(), "mosquitto_pub failed");
}

/// Whether a postmaster is running on the private cluster of `data_dir`.
pub fn cluster_running(data_dir: &Path) -> bool {
    let pid_file = data_dir.join("postgres/postmaster.pid");
    let Some(pid) =
        std::fs::read_to_string(pid_file).ok().and_then(|s| s.lines().next()?.parse::<i32>().ok())
    else {
        return false;
    };
    kill(Pid::from_raw(pid), None).is_ok()
}

/// Publishes every `(topic, payload)` at QoS 1 with rumqttc and waits for all the broker's acknowledgements.
pub fn publish_all(port: u16, messages: &[(String, String)]) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let id = format!("test-publisher-{}-{}", std::process::id(), testkit::free_port());
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30)).set_inflight(500).set_max_packet_size(2 << 20, 2 << 20);
    let (client, mut connection) = Client::new(opts, 1024);
    let expected = messages.len();
    let acks = std::thread::spawn(move || {
        let mut acked = 0;
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    acked += 1;
                    if acked == expected {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("publisher connection failed: {e}"),
            }
        }
        acked
    });
    for (topic, payload) in messages {
        client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload.as_bytes()).expect("publish");
    }
    assert_eq!(acks.join().expect("the publisher thread"), expected);
    let _ = client.disconnect();
}

/// Runs an async block on a fresh runtime (for database checks from synchronous tests).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}

/// A scalar query on the database at `url`.
pub fn query_i64(url: &str, sql: &str) -> i64 {
    block_on(async {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
        pool.close().await;
        n
    })
}

/// Sends a JSON body with a bearer token; returns status and JSON body.
pub fn send_json(method: &str, url: &str, token: &str, body: &Value) -> (u16, Value) {
    request(method, url, Some(token), Some(body))
}

/// Any request, with an optional bearer token and JSON body; returns status and JSON body (or the text as a JSON
/// string when it is not JSON).
pub fn request(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let mut request = ureq::request(method, url).timeout(Duration::from_secs(20));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match body {
        Some(body) => request.send_json(body.clone()),
        None => request.call(),
    };
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Runs schemathesis (from `tests/.venv`) on `vedetta`'s OpenAPI document with the gate's checks, one worker,
/// no example database and `token`, plus `extra` arguments; returns its output.
pub fn schemathesis(vedetta: &Vedetta, token: &str, max_examples: u32, seed: &str, extra: &[&str]) -> Output {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/schemathesis");
    assert!(venv.exists(), "{} is missing: run `make test-deps`", venv.display());
    Command::new(&venv)
        .args(["run", &vedetta.url("/api/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            &max_examples.to_string(),
            "--seed",
            seed,
            // One worker: hypothesis' lambda descriptions call ast.parse, which CPython 3.11 does not make
            // thread-safe ("AST constructor recursion depth mismatch" with several workers).
            "--workers",
            "1",
            "--request-timeout",
            "40",
            "--no-color",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
        ])
        .args(extra)
        // The SSE streams never end by design: they are tested with deadlines elsewhere.
        .args(["--exclude-path", "/api/readings/stream"])
        .args(["--exclude-path", "/api/alerts/stream"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("run schemathesis")
}

/// A station Feature as the API and `import stations` take it.
pub fn station_feature(code: &str, kind: &str, extra: Value) -> Value {
    let mut props = serde_json::json!({ "code": code, "name": format!("Stazione {code}"), "kind": kind });
    if let (Some(p), Value::Object(e)) = (props.as_object_mut(), extra) {
        p.extend(e);
    }
    serde_json::json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [8.95, 44.42] }, "properties": props })
}

/// Runs one of the Python clients of `tests/clients` (installed by `make deps` into `tests/.venv`) and parses the
/// JSON it prints.
pub fn python_client(script: &str, args: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test-deps` (scripts/python-clients.sh)",
        python.display()
    );
    let out =
        Command::new(&python).arg(root.join("clients").join(script)).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e})"))
}

/// Runs `vedetta import ARGS…` on the database of `db` (data dir under `root`), asserts it succeeded and returns
/// what it printed.
pub fn import(root: &Path, db: &testkit::TestDb, args: &[&str]) -> String {
    let mut launch = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url);
    launch.command = "import".into();
    for a in args {
        launch = launch.arg_after(a);
    }
    let out = launch.run();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "import {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A file of the repository's `tests/data/`, as an argument.
pub fn data(path: &str) -> String {
    testkit::test_data(path).to_string_lossy().into_owned()
}

/// ISTAT code of Lamezia Terme, the comune of the real ANNCSU extract.
pub const LAMEZIA: &str = "079160";

/// Lamezia Terme as a comune (a box around its ANNCSU addresses) and its real house numbers and streets.
pub fn import_lamezia(root: &Path, db: &testkit::TestDb) {
    let lamezia = root.join("lamezia.geojson");
    let square = serde_json::json!({"type": "Polygon", "coordinates": [[[16.10, 38.85], [16.45, 38.85], [16.45, 39.05], [16.10, 39.05], [16.10, 38.85]]]});
    let boundary = serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": square,
        "properties": {"com_istat_code": LAMEZIA, "com_catasto_code": "M208", "name": "Lamezia Terme"}}]});
    std::fs::write(&lamezia, boundary.to_string()).unwrap();
    import(root, db, &["comuni", lamezia.to_str().unwrap()]);
    import(
        root,
        db,
        &[
            "anncsu",
            &data("anncsu/anncsu_lamezia_indirizzario_20260602.csv"),
            &data("anncsu/anncsu_lamezia_stradario_20260602.csv"),
        ],
    );
}
