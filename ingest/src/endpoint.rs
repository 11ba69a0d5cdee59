//! Broker addresses.

use crate::{Error, Result};

/// Where a broker listens and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Endpoint {
    /// Parses `mqtt://[user[:password]@]host[:port]` (port 1883 by default; `tcp://` is accepted too).
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl { url: url.to_string(), reason: reason.to_string() };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "mqtt" | "tcp") {
            return Err(bad("the scheme must be mqtt:// (TLS brokers are not supported yet)"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?.trim_matches(['[', ']']).to_string();
        let username = (!parsed.username().is_empty()).then(|| parsed.username().to_string());
        Ok(Endpoint {
            host,
            port: parsed.port().unwrap_or(1883),
            username,
            password: parsed.password().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_with_defaults_and_credentials() {
        let e = Endpoint::parse("mqtt://127.0.0.1").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.username), ("127.0.0.1", 1883, None));
        let e = Endpoint::parse("mqtt://ingest:s3cret@broker.example:8883").unwrap();
        assert_eq!(
            (e.username.as_deref(), e.password.as_deref(), e.port),
            (Some("ingest"), Some("s3cret"), 8883)
        );
        let err = Endpoint::parse("http://x").unwrap_err().to_string();
        assert!(err.contains("mqtt://"), "{err}");
    }
}
