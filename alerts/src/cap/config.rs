//! Who publishes the CAP messages, how they are named, where they live and how they are signed.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The publisher of the CAP messages.
///
/// # Identifier scheme
/// Each version of an alert is one CAP message, identified as `{identifier_prefix}.{alert_id}.{version}`,
/// e.g. `it.comune.genova.vedetta.12.3` for version 3 of alert 12. The prefix should be a reversed domain the sender
/// controls, so that identifiers are unique among senders; an alert's versions share `{identifier_prefix}.{alert_id}`,
/// which is also written as the message's `incidents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    /// CAP `sender`: a globally unique identifier of the publisher, conventionally an e-mail address or a domain,
    /// e.g. `protezionecivile@comune.genova.it`. No spaces, commas, `<` or `&`.
    pub sender: String,
    /// CAP `senderName`, human-readable, e.g. `Comune di Genova – Protezione Civile`.
    pub sender_name: String,
    /// Prefix of the message identifiers (see the type's documentation), e.g. `it.comune.genova.vedetta`.
    /// No spaces, commas, `<` or `&`.
    pub identifier_prefix: String,
    /// Public absolute URL of this Vedetta (`http` or `https`), under which `/cap/alerts.atom` and
    /// `/cap/alerts/{id}.xml` are served, e.g. `https://allerta.comune.genova.it`.
    pub base_url: String,
    /// CAP `web`: a page with more information for the public. Defaults to `base_url`.
    #[serde(default)]
    pub web_url: Option<String>,
    /// CAP `status`; `Actual` unless messages are exercises or tests.
    #[serde(default)]
    pub status: CapStatus,
    /// Sign every message with XML-DSig when set.
    #[serde(default)]
    pub signing: Option<SigningConfig>,
}

/// The RSA key and X.509 certificate messages are signed with.
///
/// Each field holds either the PEM text itself (when it starts with `-----BEGIN`) or the path of a PEM file.
/// The key is PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), unencrypted; the certificate file
/// may hold a chain, the signing certificate first.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// The private key: PEM text or path.
    pub key: String,
    /// The certificate (chain): PEM text or path.
    pub certificate: String,
}

impl std::fmt::Debug for SigningConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if is_inline_pem(&self.key) { "<inline PEM>" } else { self.key.as_str() };
        f.debug_struct("SigningConfig").field("key", &key).field("certificate", &self.certificate).finish()
    }
}

/// CAP `status` of the messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapStatus {
    /// Actionable by all targeted recipients.
    #[default]
    Actual,
    /// Actionable only by designated exercise participants.
    Exercise,
    /// For messages that support alert network internal functions.
    System,
    /// Technical testing only; all recipients disregard.
    Test,
    /// A preliminary template or draft, not actionable in its current form.
    Draft,
}

impl CapStatus {
    /// The CAP value.
    pub fn as_str(self) -> &'static str {
        match self {
            CapStatus::Actual => "Actual",
            CapStatus::Exercise => "Exercise",
            CapStatus::System => "System",
            CapStatus::Test => "Test",
            CapStatus::Draft => "Draft",
        }
    }
}

impl CapConfig {
    /// Checks what the messages will carry: `sender` and `identifier_prefix` free of the characters CAP forbids in
    /// them, `sender_name` not empty, `base_url` and `web_url` absolute `http(s)` URLs.
    pub fn validate(&self) -> Result<()> {
        check_cap_token("sender", &self.sender)?;
        check_cap_token("identifier_prefix", &self.identifier_prefix)?;
        if self.sender_name.trim().is_empty() {
            return Err(config_error("sender_name", "is empty"));
        }
        check_http_url("base_url", &self.base_url)?;
        if let Some(web) = &self.web_url {
            check_http_url("web_url", web)?;
        }
        Ok(())
    }

    /// `base_url` without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// The CAP `web` of every message.
    pub(crate) fn web(&self) -> &str {
        self.web_url.as_deref().unwrap_or(&self.base_url)
    }

    /// Absolute URL of the latest message of an alert: `{base_url}/cap/alerts/{alert_id}.xml`.
    pub fn message_url(&self, alert_id: i64) -> String {
        format!("{}/cap/alerts/{alert_id}.xml", self.base())
    }

    /// Absolute URL of the Atom feed: `{base_url}/cap/alerts.atom`.
    pub fn feed_url(&self) -> String {
        format!("{}/cap/alerts.atom", self.base())
    }
}

pub(crate) fn is_inline_pem(value: &str) -> bool {
    value.trim_start().starts_with("-----BEGIN")
}

fn config_error(field: &'static str, reason: impl Into<String>) -> Error {
    Error::CapConfig { field, reason: reason.into() }
}

/// CAP 1.2 §3.2.1: `identifier` and `sender` "MUST NOT include spaces, commas or restricted characters (< and &)".
fn check_cap_token(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(config_error(field, "is empty"));
    }
    if let Some(bad) =
        value.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '&'))
    {
        return Err(config_error(
            field,
            format!("contains {bad:?}; CAP forbids spaces, commas, `<` and `&` in it"),
        ));
    }
    Ok(())
}

fn check_http_url(field: &'static str, value: &str) -> Result<()> {
    let url =
        url::Url::parse(value).map_err(|e| config_error(field, format!("`{value}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config_error(field, format!("`{value}` is not an absolute http(s) URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error(field, format!("`{value}` has a query or fragment")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CapConfig {
        CapConfig {
            sender: "protezionecivile@comune.genova.it".into(),
            sender_name: "Comune di Genova".into(),
            identifier_prefix: "it.comune.genova.vedetta".into(),
            base_url: "https://allerta.example.org/".into(),
            web_url: None,
            status: CapStatus::Actual,
            signing: None,
        }
    }

    #[test]
    fn a_sender_with_a_space_or_comma_is_refused() {
        config().validate().unwrap();
        let mut c = config();
        c.sender = "protezione civile".into();
        assert!(c.validate().unwrap_err().to_string().contains("sender"));
        let mut c = config();
        c.identifier_prefix = "a,b".into();
        assert!(c.validate().unwrap_err().to_string().contains("identifier_prefix"));
        let mut c = config();
        c.base_url = "ftp://x.org".into();
        assert!(c.validate().unwrap_err().to_string().contains("base_url"));
    }

    #[test]
    fn urls_are_built_under_the_base_url() {
        assert_eq!(config().message_url(12), "https://allerta.example.org/cap/alerts/12.xml");
        assert_eq!(config().feed_url(), "https://allerta.example.org/cap/alerts.atom");
    }
}
