//! Configuration: defaults, then the TOML file, then `VEDETTA_*` environment variables, then command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration. Unknown keys are refused, naming the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where Vedetta keeps its state: the private PostgreSQL cluster, the lock.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub mqtt: MqttConfig,
    pub auth: AuthConfig,
    pub ingest: IngestConfig,
    pub sensors: SensorsConfig,
    pub events: EventsConfig,
    pub alerts: AlertsConfig,
    pub reports: ReportsConfig,
    pub tiles: TilesConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// An existing PostgreSQL with PostGIS; when unset Vedetta runs a private cluster under `data_dir`.
    pub url: Option<String>,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// `serve` and `ingest` ask PostgreSQL to cancel any statement running longer than this many seconds
    /// (kept below the 30 s HTTP request limit); imports are not bounded.
    pub statement_timeout_s: u64,
    /// The database created in the private cluster.
    pub name: String,
    /// The system user that runs the private cluster when Vedetta runs as root.
    pub cluster_user: String,
    /// Where `initdb`/`pg_ctl` live; found under /usr/lib/postgresql when unset.
    pub pg_bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
    /// The URL clients reach Vedetta at (behind a proxy: `https://vedetta.comune.genova.it`); links in STA, OGC
    /// and HTML pages are built on it, never on request headers. Default: `http://` + `addr`.
    pub public_url: Option<String>,
}

impl HttpConfig {
    /// The public URL, or `http://addr` when none is configured.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.addr))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// An external broker (`mqtt://user:pass@host:port`); when unset `serve` runs the embedded broker.
    pub url: Option<String>,
    /// Where the embedded broker listens.
    pub listen: SocketAddr,
    /// The ingest client id: keep it fixed so the broker keeps Vedetta's session across restarts.
    pub client_id: String,
    /// Topic filters ingest subscribes to.
    pub topics: Vec<String>,
    /// When set, every topic is subscribed as the MQTT shared subscription `$share/<group>/<topic>`, so that
    /// several `vedetta ingest` workers split the messages (each with its own `client_id`).
    pub shared_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Most messages stored in one transaction.
    pub max_batch: usize,
    /// Longest wait, in milliseconds, for more messages after the first of a batch.
    pub max_delay_ms: u64,
    /// Payloads larger than this many bytes become dead letters.
    pub max_payload_bytes: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsConfig {
    /// Readings older than this many months are dropped (whole monthly partitions); 0 keeps everything.
    pub retention_months: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Live events (the spine behind SSE, alerts and tile invalidation) are kept this many days, so that a client
    /// can resume after an outage (`Last-Event-ID`).
    pub retention_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { retention_days: 7 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TilesConfig {
    /// About how many MiB of compressed tiles `serve` keeps in memory; 0 keeps none (every tile from PostGIS).
    pub cache_mb: u64,
    /// Connections of the tile pool; 0 takes half of `database.max_connections` (2 to 16).
    pub pool_size: u32,
    /// Longest a tile of a live layer (stations, reports, alert zones) is kept without an event dropping it, s:
    /// a safety net, the events drop a changed tile at once.
    pub live_ttl_s: u64,
    /// Longest a request for a live layer waits for the invalidator to apply the events already seen, ms.
    pub freshness_wait_ms: u64,
}

impl Default for TilesConfig {
    fn default() -> Self {
        TilesConfig { cache_mb: 256, pool_size: 0, live_ttl_s: 30, freshness_wait_ms: 500 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Whether this `serve` takes part in evaluating alerts (one process evaluates at a time, whichever holds the
    /// lock; the others wait to take over). `vedetta ingest` workers never evaluate.
    pub evaluate: bool,
    /// How often (s) rules, stations and zones are reloaded and silent stations checked.
    pub tick_s: u64,
    /// Alert changes are published to `{mqtt_prefix}/{zone}/{station or zone}` (retained, QoS 1); empty: not at all.
    pub mqtt_prefix: String,
    /// Rules besides the built-in ones (level and rain on the stations' thresholds, silent stations): a list of
    /// `[[alerts.rules]]` tables, as `vedetta alerts check` reads them.
    pub rules: Vec<serde_json::Value>,
    pub cap: CapSection,
    pub webhooks: WebhooksSection,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            evaluate: true,
            tick_s: 10,
            mqtt_prefix: "vedetta/v1/alerts".into(),
            rules: Vec::new(),
            cap: CapSection::default(),
            webhooks: WebhooksSection::default(),
        }
    }
}

/// The publisher of CAP 1.2 messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapSection {
    /// CAP `sender`, e.g. protezionecivile@comune.genova.it.
    pub sender: String,
    /// CAP `senderName`.
    pub sender_name: String,
    /// Message identifiers are `{identifier_prefix}.{alert id}.{version}`; a reversed domain you control.
    pub identifier_prefix: String,
    /// PEM private key (RSA) and certificate to sign messages with XML-DSig; unsigned when unset.
    pub signing_key: Option<PathBuf>,
    pub signing_certificate: Option<PathBuf>,
}

impl Default for CapSection {
    fn default() -> Self {
        CapSection {
            sender: "vedetta@localhost".into(),
            sender_name: "Vedetta – Protezione civile".into(),
            identifier_prefix: "localhost.vedetta".into(),
            signing_key: None,
            signing_certificate: None,
        }
    }
}

/// Outgoing webhooks of alert changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// First retry after this many ms, doubling each time.
    pub backoff_base_ms: u64,
    /// Longest wait between retries (s).
    pub backoff_max_s: u64,
    /// Time limit of one request (s).
    pub timeout_s: u64,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        WebhooksSection { max_attempts: 8, backoff_base_ms: 1000, backoff_max_s: 600, timeout_s: 10 }
    }
}

/// Citizen reports: photos, abuse limits, the reporters' emails and the comuni's webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Where photos are kept (by content hash); `<data_dir>/photos` when unset.
    pub photos_dir: Option<PathBuf>,
    /// Largest photo accepted (MB); at most 5 photos per report.
    pub max_photo_mb: u32,
    /// Reports one client IP address may file per hour; 0: no limit.
    pub per_hour_per_ip: u32,
    /// Reports one account may file per hour; 0: no limit (offices that may handle reports are never limited).
    pub per_hour_per_account: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (the client is the address they saw).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// SMTP relay for the reporters' status-change emails; `smtp_host` empty: mail stays queued.
    pub mail: reports::mail::MailConfig,
    /// Deliveries to the comuni's webhooks (maintenance systems).
    pub webhooks: WebhooksSection,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            photos_dir: None,
            max_photo_mb: 10,
            per_hour_per_ip: 10,
            per_hour_per_account: 10,
            trusted_proxies: Vec::new(),
            mail: reports::mail::MailConfig::default(),
            webhooks: WebhooksSection::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// An admin bearer token to register; when unset one is generated and printed at the first start.
    pub admin_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `vedetta=debug,info`, …).
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./.vedetta"),
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            mqtt: MqttConfig::default(),
            auth: AuthConfig::default(),
            ingest: IngestConfig::default(),
            sensors: SensorsConfig::default(),
            events: EventsConfig::default(),
            alerts: AlertsConfig::default(),
            reports: ReportsConfig::default(),
            tiles: TilesConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 16,
            statement_timeout_s: 20,
            name: "vedetta".into(),
            cluster_user: "postgres".into(),
            pg_bin_dir: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { addr: SocketAddr::from(([127, 0, 0, 1], 8080)), public_url: None }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            client_id: "vedetta-ingest".into(),
            topics: vec!["vedetta/v1/#".into(), "v1.1/+/Observations".into()],
            shared_group: None,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig { max_batch: 5000, max_delay_ms: 5, max_payload_bytes: 256 * 1024 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Human, level: "info,rumqttd=off,sqlx=warn".into() }
    }
}

/// The environment, read through one place so tests can substitute it.
pub trait Env {
    /// The value of a variable, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy)]
pub struct OsEnv;

impl Env for OsEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string()).filter(|v| !v.is_empty())
    }
}

/// The environment variables Vedetta reads, and the key each one sets.
pub const ENV_VARS: [(&str, &str); 13] = [
    ("VEDETTA_DATA_DIR", "data_dir"),
    ("VEDETTA_DATABASE_URL", "database.url"),
    ("VEDETTA_DATABASE_MAX_CONNECTIONS", "database.max_connections"),
    ("VEDETTA_HTTP_ADDR", "http.addr"),
    ("VEDETTA_HTTP_PUBLIC_URL", "http.public_url"),
    ("VEDETTA_MQTT_URL", "mqtt.url"),
    ("VEDETTA_MQTT_LISTEN", "mqtt.listen"),
    ("VEDETTA_MQTT_CLIENT_ID", "mqtt.client_id"),
    ("VEDETTA_MQTT_TOPICS", "mqtt.topics"),
    ("VEDETTA_MQTT_SHARED_GROUP", "mqtt.shared_group"),
    ("VEDETTA_ADMIN_TOKEN", "auth.admin_token"),
    ("VEDETTA_LOG_FORMAT", "log.format"),
    ("VEDETTA_LOG_LEVEL", "log.level"),
];

/// Overrides given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Loads the configuration: defaults, the file (which must exist when named), the environment, the flags.
    pub fn load(file: Option<&Path>, env: &dyn Env, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                bail!("the configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        for (var, key) in ENV_VARS {
            let Some(value) = env.var(var) else { continue };
            figment = match key {
                "mqtt.topics" => {
                    let topics: Vec<String> = value.split(',').map(|t| t.trim().to_string()).collect();
                    figment.merge(Serialized::default(key, topics))
                }
                "database.max_connections" => {
                    let n: u32 =
                        value.parse().with_context(|| format!("{var}={value} is not a whole number"))?;
                    figment.merge(Serialized::default(key, n))
                }
                _ => figment.merge(Serialized::default(key, value)),
            };
        }
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(format) = overrides.log_format {
            figment = figment.merge(Serialized::default("log.format", format));
        }
        let config: Config = figment.extract().map_err(|e| {
            // figment's own wording already names the key and the source; keep every error of the file.
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", messages.join("; "))
        })?;
        Ok(config)
    }

    /// The configuration as TOML with passwords and tokens masked.
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        masked.database.url = masked.database.url.as_deref().map(mask_url_password);
        masked.mqtt.url = masked.mqtt.url.as_deref().map(mask_url_password);
        masked.auth.admin_token = masked.auth.admin_token.as_ref().map(|_| "****".to_string());
        masked.reports.mail.password = masked.reports.mail.password.as_ref().map(|_| "****".to_string());
        toml::to_string_pretty(&masked).unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
    }
}

/// Replaces the password of a URL with `****`.
pub fn mask_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "****".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vedetta.toml");
        if let Some(text) = toml {
            std::fs::write(&path, text).unwrap();
        }
        let env: BTreeMap<&str, &str> = env.iter().copied().collect();
        Config::load(toml.map(|_| path.as_path()), &env, &Overrides::default())
    }

    #[test]
    fn defaults_need_no_file() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.http.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.mqtt.listen.to_string(), "127.0.0.1:1883");
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let err = load(Some("[http]\nadress = \"127.0.0.1:9000\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("adress"), "{err}");
        assert!(err.contains("http"), "{err}");
    }

    #[test]
    fn unknown_section_is_named_in_the_error() {
        let err = load(Some("[brokers]\nurl = \"x\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("brokers"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let config = load(
            Some("[http]\naddr = \"127.0.0.1:9000\"\n[mqtt]\nclient_id = \"from-file\"\n"),
            &[
                ("VEDETTA_HTTP_ADDR", "127.0.0.1:9100"),
                ("VEDETTA_DATABASE_URL", "postgres://u:p@h/db"),
                ("VEDETTA_MQTT_TOPICS", "a/#, b/#"),
            ],
        )
        .unwrap();
        assert_eq!(config.http.addr.to_string(), "127.0.0.1:9100");
        assert_eq!(config.mqtt.client_id, "from-file");
        assert_eq!(config.database.url.as_deref(), Some("postgres://u:p@h/db"));
        assert_eq!(config.mqtt.topics, vec!["a/#", "b/#"]);
    }

    #[test]
    fn bad_value_in_environment_is_explained() {
        let err = load(None, &[("VEDETTA_HTTP_ADDR", "not-an-address")]).unwrap_err().to_string();
        assert!(err.contains("http.addr") || err.contains("addr"), "{err}");
    }

    #[test]
    fn missing_named_file_is_an_error() {
        let env = BTreeMap::new();
        let err = Config::load(Some(Path::new("/nonexistent/vedetta.toml")), &env, &Overrides::default())
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/vedetta.toml"));
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let config = load(
            None,
            &[
                ("VEDETTA_DATABASE_URL", "postgres://vedetta:hunter2@db.example/vedetta"),
                ("VEDETTA_MQTT_URL", "mqtt://ingest:sekret@broker:1883"),
                ("VEDETTA_ADMIN_TOKEN", "vdt_abcdef"),
            ],
        )
        .unwrap();
        let printed = config.to_masked_toml();
        for secret in ["hunter2", "sekret", "vdt_abcdef"] {
            assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
        }
        assert!(printed.contains("postgres://vedetta:****@db.example/vedetta"), "{printed}");
    }

    /// The example file parses, and documents every key Vedetta knows.
    #[test]
    fn example_file_is_in_sync() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vedetta.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let env = BTreeMap::new();
        Config::load(Some(&path), &env, &Overrides::default()).unwrap();

        // Every key, including those whose default is unset, must appear (commented out or not).
        let uncommented: String =
            text.lines().map(|l| l.trim_start_matches("# ")).collect::<Vec<_>>().join("\n");
        let mut full = Config::default();
        full.database.url = Some(String::new());
        full.database.pg_bin_dir = Some(PathBuf::new());
        full.mqtt.url = Some(String::new());
        full.mqtt.shared_group = Some(String::new());
        full.auth.admin_token = Some(String::new());
        full.alerts.cap.signing_key = Some(PathBuf::new());
        full.alerts.cap.signing_certificate = Some(PathBuf::new());
        full.reports.photos_dir = Some(PathBuf::new());
        full.reports.mail.username = Some(String::new());
        full.reports.mail.password = Some(String::new());
        let table = toml::Value::try_from(&full).unwrap();
        let mut missing = Vec::new();
        collect_missing(&table, "", &uncommented, &mut missing);
        assert!(missing.is_empty(), "vedetta.example.toml does not document: {missing:?}");
        for (var, _) in ENV_VARS {
            assert!(text.contains(var), "vedetta.example.toml does not mention {var}");
        }
    }

    fn collect_missing(value: &toml::Value, section: &str, text: &str, missing: &mut Vec<String>) {
        let toml::Value::Table(table) = value else { return };
        for (key, value) in table {
            if let toml::Value::Table(_) = value {
                let path = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
                if !text.contains(&format!("[{path}]")) {
                    missing.push(format!("[{path}]"));
                }
                collect_missing(value, &path, text, missing);
            } else if !text.lines().any(|l| l.trim_start().starts_with(&format!("{key} ="))) {
                missing.push(if section.is_empty() { key.clone() } else { format!("{section}.{key}") });
            }
        }
    }
}
