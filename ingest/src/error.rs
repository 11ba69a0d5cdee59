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

    /// The MQTT client was shut down under the loop.
    #[error("MQTT client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
