use std::net::SocketAddr;

/// Everything that can go wrong in `ingest`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A broker URL that cannot be used.
    #[error("MQTT URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    /// The embedded broker cannot listen where it was asked to.
    #[error("the embedded MQTT broker cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },

    /// The embedded broker did not come up.
    #[error("the embedded MQTT broker did not start on {addr}: {reason}")]
    BrokerStart { addr: SocketAddr, reason: String },

    /// Simulator options that make no sense.
    #[error("simulation: {reason}")]
    InvalidSimulation { reason: String },

    /// A simulated station could not be created.
    #[error("cannot create the simulated station {code}: {source}")]
    Station { code: String, source: sensors::Error },

    /// The broker did not accept a connection in time.
    #[error("cannot connect to the MQTT broker at {broker} within {within:?}: {reason}")]
    BrokerUnreachable { broker: String, within: std::time::Duration, reason: String },

    /// The broker did not acknowledge everything that was published.
    #[error("the MQTT broker at {broker} acknowledged {acked} of {published} readings: {detail}")]
    Unacknowledged { broker: String, acked: u64, published: u64, detail: String },

    /// The MQTT client was shut down under the loop.
    #[error("MQTT client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
