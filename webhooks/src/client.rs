//! The HTTPS client and one signed POST.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use database::outbox::error_chain;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::signature::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::{Error, Result};

/// How much of a receiver's answer is kept in the error of a failed attempt.
pub const ERROR_BODY_BYTES: usize = 512;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Anything else: another status (a redirect included), no answer within the timeout, a broken connection, a
    /// body that cannot be encoded. `error` says which, with the start of the receiver's answer (control
    /// characters blanked, at most [`ERROR_BODY_BYTES`]).
    Failed { status: Option<u16>, error: String },
}

/// An HTTP/1.1 client for `http` and `https` receivers (rustls with the aws-lc-rs backend and the system's root
/// certificates) that POSTs signed JSON within a timeout. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct WebhookClient {
    client: HttpClient,
    timeout: Duration,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl WebhookClient {
    /// A client whose requests (connection and answer) take at most `timeout`. Without system root certificates
    /// it still starts (a warning is logged) and every `https` request fails; [`Error::Tls`] when no TLS set-up
    /// is possible at all.
    pub fn new(timeout: Duration) -> Result<WebhookClient> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "No system root certificates: webhooks to https URLs will fail.");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Error::Tls { reason: e.to_string() })?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client =
            Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Ok(WebhookClient { client, timeout })
    }

    /// POSTs `body` (encoded as JSON) to `url` as delivery `delivery_id` of `event`, signed with `secret` at the
    /// current Unix time: `Content-Type: application/json`, `X-Vedetta-Event`, `X-Vedetta-Delivery`,
    /// `X-Vedetta-Timestamp`, `X-Vedetta-Signature`. Only a 2xx answer is [`Outcome::Delivered`].
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        event: &'static str,
        delivery_id: i64,
        body: &serde_json::Value,
    ) -> Outcome {
        let body = match serde_json::to_vec(body) {
            Ok(body) => body,
            Err(e) => return Outcome::Failed { status: None, error: format!("cannot encode the body: {e}") },
        };
        let timestamp = Utc::now().timestamp().to_string();
        let signature = sign(secret, &timestamp, &body);
        let request = hyper::Request::post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, concat!("Vedetta-Webhook/", env!("CARGO_PKG_VERSION")))
            .header(EVENT_HEADER, event)
            .header(DELIVERY_HEADER, delivery_id.to_string())
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)));
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                return Outcome::Failed { status: None, error: format!("cannot build the request: {e}") };
            }
        };
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            // Read (a little of) the answer: it lets the connection be reused and explains a refusal.
            let mut body = response.into_body();
            let mut head = Vec::new();
            while head.len() < ERROR_BODY_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            head.extend_from_slice(data);
                        }
                    }
                    Some(Err(e)) if status.is_success() => {
                        tracing::debug!(delivery = delivery_id, error = %e, "Webhook answer body unreadable.");
                        break;
                    }
                    Some(Err(e)) => return Err(format!("HTTP {status}, then the answer broke off: {e}")),
                    None => break,
                }
            }
            Ok::<_, String>((status, head))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Outcome::Failed {
                status: None,
                error: format!("no answer within {} ms", self.timeout.as_millis()),
            },
            Ok(Err(error)) => Outcome::Failed { status: None, error },
            Ok(Ok((status, _))) if status.is_success() => Outcome::Delivered { status: status.as_u16() },
            Ok(Ok((status, head))) => {
                let text = String::from_utf8_lossy(&head[..head.len().min(ERROR_BODY_BYTES)]);
                let text: String = text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .trim()
                    .to_string();
                let error =
                    if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") };
                Outcome::Failed { status: Some(status.as_u16()), error }
            }
        }
    }
}
