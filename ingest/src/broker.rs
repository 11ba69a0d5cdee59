//! The embedded MQTT broker (rumqttd).
//!
//! `vedetta serve` starts it when no external broker is configured. It speaks MQTT 3.1.1 on one TCP address,
//! keeps the state of persistent sessions (clean session off) for clients that reconnect, and accepts payloads
//! larger than Vedetta's own ingest cap so that oversized messages reach ingest and are recorded as dead letters
//! rather than dropped by the broker. rumqttd has no shutdown: the broker lives as long as the process.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
use tracing::{error, info};

use crate::{Error, Result};

/// Settings of the embedded broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Largest payload accepted, in bytes.
    pub max_payload_size: usize,
    /// Most QoS 1/2 messages in flight per connection.
    pub max_inflight_count: usize,
    /// Most simultaneous client connections.
    pub max_connections: usize,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions { max_payload_size: 1024 * 1024, max_inflight_count: 100, max_connections: 10_000 }
    }
}

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts the broker on `listen` and waits until it accepts connections.
    pub fn start(listen: SocketAddr, opts: &BrokerOptions) -> Result<Self> {
        // rumqttd reports a failed bind only in its log: find out first.
        drop(TcpListener::bind(listen).map_err(|source| Error::Listen { addr: listen, source })?);

        let server = ServerSettings {
            name: "vedetta".into(),
            listen,
            tls: None,
            next_connection_delay_ms: 1,
            connections: ConnectionSettings {
                connection_timeout_ms: 60_000,
                max_payload_size: opts.max_payload_size,
                max_inflight_count: opts.max_inflight_count,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: opts.max_connections,
                max_outgoing_packet_count: 200,
                max_segment_size: 100 * 1024 * 1024,
                max_segment_count: 10,
                ..RouterConfig::default()
            },
            v4: Some(HashMap::from([("vedetta".to_string(), server)])),
            ..Config::default()
        };
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    error!(error = %e, "The embedded MQTT broker stopped.");
                }
            })
            .map_err(|e| Error::BrokerStart { addr: listen, reason: e.to_string() })?;

        if !wait_for_port(listen, Duration::from_secs(10)) {
            return Err(Error::BrokerStart {
                addr: listen,
                reason: "it accepts no connection after 10 s".into(),
            });
        }
        info!(%listen, "Embedded MQTT broker listening.");
        Ok(EmbeddedBroker { addr: listen })
    }

    /// Where the broker listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients use to reach it.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
