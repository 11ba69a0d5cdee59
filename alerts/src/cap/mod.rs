//! CAP 1.2 (OASIS Common Alerting Protocol) messages of the alerts, their Atom feed, and XML-DSig signatures.
//!
//! Pure functions over a [`CapInput`] (one version of one alert, built by the caller from the alert row and its
//! history) and a [`CapConfig`] (the publisher): no database, no HTTP.
//!
//! - [`message`] writes the `alert` document: `sent` as `YYYY-MM-DDThh:mm:ss+hh:mm` in Italian time, status from the
//!   configuration (`Actual` by default), `msgType` `Alert` / `Update` / `Cancel` with `references` to the earlier
//!   messages, scope `Public`, an `it-IT` and an `en-US` `info`, the hazard as `eventCode` `IT-PC-hazard`, the colour
//!   as `parameter`s, the zone polygons and the comuni ISTAT codes as the `area`. See [`mapping`] for how the
//!   colour becomes `severity`, `urgency`, `certainty`, and the identifier scheme on [`CapConfig`].
//! - [`atom_feed`] writes the Atom index of the current alerts.
//! - A [`Signer`] (RSA key + X.509 certificate) adds an enveloped XML-DSig signature (RSA-SHA256, exclusive C14N,
//!   the certificate in `KeyInfo`), verifiable with `xmlsec1 --verify`.
//!
//! [`Cap`] bundles a validated configuration with its signer, for callers that serve messages.

mod atom;
mod config;
mod input;
pub mod mapping;
mod message;
mod sign;
mod text;
mod xml;

use chrono::{DateTime, Utc};

pub use atom::atom_feed;
pub use config::{CapConfig, CapStatus, SigningConfig};
pub use input::{
    CapChange, CapInput, CapZone, Hazard, Measurement, Origin, PreviousMessage, Subject, SubjectKind,
    rings_from_geojson,
};
pub use mapping::MsgType;
pub use message::{
    CAP_NS, HAZARD_CODE, ISTAT_GEOCODE, LEVEL_PARAMETER, ZONE_GEOCODE, cap_time, identifier, message,
    msg_type,
};
pub use sign::Signer;

use crate::Result;

/// A validated CAP configuration and, when it asks for signatures, its loaded signer.
#[derive(Debug)]
pub struct Cap {
    config: CapConfig,
    signer: Option<Signer>,
}

impl Cap {
    /// Validates the configuration and loads the signing key and certificate if configured.
    pub fn new(config: CapConfig) -> Result<Cap> {
        config.validate()?;
        let signer = config.signing.as_ref().map(Signer::load).transpose()?;
        Ok(Cap { config, signer })
    }

    /// The configuration.
    pub fn config(&self) -> &CapConfig {
        &self.config
    }

    /// The signer, when messages are signed.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    /// The (signed, if configured) CAP message of one alert version; see [`message`].
    pub fn message(&self, input: &CapInput) -> Result<String> {
        message(input, &self.config, self.signer.as_ref())
    }

    /// The Atom feed of the current alerts; see [`atom_feed`].
    pub fn atom_feed(&self, entries: &[CapInput], updated: DateTime<Utc>) -> String {
        atom_feed(entries, &self.config, updated)
    }
}
