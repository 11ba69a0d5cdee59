//! XML-DSig enveloped signatures of CAP messages (W3C XML Signature 1.1, as CAP 1.2 §3.3.2.1 prescribes).
//!
//! The signature is the last child of `alert`:
//! ```text
//! <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
//!   <SignedInfo>
//!     <CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
//!     <SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
//!     <Reference URI="">
//!       <Transforms>enveloped-signature, exc-c14n</Transforms>
//!       <DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue>…</DigestValue>
//!     </Reference>
//!   </SignedInfo>
//!   <SignatureValue>…</SignatureValue>
//!   <KeyInfo><X509Data><X509Certificate>…</X509Certificate></X509Data></KeyInfo>
//! </Signature>
//! ```
//! (written without whitespace and without empty-element tags). The `alert` element is emitted already in canonical
//! form (see `xml.rs`), so the digest is SHA-256 over exactly the bytes written for it, the signature removed.
//! `SignedInfo` is signed in its exclusive-canonical form, which is the bytes written plus the `xmlns` it inherits
//! from `Signature`.
//!
//! Cryptography: RustCrypto's pure-Rust `rsa` (PKCS#1 v1.5 with SHA-256, blinded private-key operation) and
//! `x509-cert`; no system OpenSSL is linked.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::rand_core::OsRng;
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use rsa::{RsaPrivateKey, RsaPublicKey};
use x509_cert::Certificate;
use x509_cert::der::Encode as _;

use crate::cap::config::{SigningConfig, is_inline_pem};
use crate::cap::xml::Xml;
use crate::{Error, Result};

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// An RSA key and its X.509 certificate (chain), ready to sign CAP messages.
pub struct Signer {
    key: SigningKey<Sha256>,
    /// Base64 DER of the certificates, the signing one first.
    certificates: Vec<String>,
    subject: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("certificate_subject", &self.subject)
            .field("certificates", &self.certificates.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads the key and certificate named by the configuration (PEM text or file paths).
    pub fn load(config: &SigningConfig) -> Result<Signer> {
        let key = read_pem("key", &config.key)?;
        let certificate = read_pem("certificate", &config.certificate)?;
        Signer::from_pem(&key, &certificate)
    }

    /// A signer from PEM texts: an unencrypted RSA private key (PKCS#8 or PKCS#1) and the certificate chain, the
    /// signing certificate first. The certificate's public key must be the key's.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Signer> {
        if key_pem.contains("ENCRYPTED") {
            return Err(material_error(
                "key",
                "the private key is encrypted; give it unencrypted (PKCS#8 or PKCS#1)",
            ));
        }
        let private = RsaPrivateKey::from_pkcs8_pem(key_pem).or_else(|pkcs8| {
            RsaPrivateKey::from_pkcs1_pem(key_pem).map_err(|pkcs1| {
                material_error(
                    "key",
                    format!("not an RSA private key in PEM (PKCS#8: {pkcs8}; PKCS#1: {pkcs1})"),
                )
            })
        })?;
        let chain = Certificate::load_pem_chain(certificate_pem.as_bytes())
            .map_err(|e| material_error("certificate", format!("not a PEM X.509 certificate: {e}")))?;
        let leaf =
            chain.first().ok_or_else(|| material_error("certificate", "no certificate in the PEM text"))?;
        let spki = leaf
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| material_error("certificate", format!("unreadable public key: {e}")))?;
        let public = RsaPublicKey::from_public_key_der(&spki)
            .map_err(|e| material_error("certificate", format!("the certificate's key is not RSA: {e}")))?;
        if public != RsaPublicKey::from(&private) {
            return Err(material_error(
                "certificate",
                "the certificate is not the private key's (public keys differ)",
            ));
        }
        let certificates = chain
            .iter()
            .map(|c| c.to_der().map(|der| BASE64.encode(der)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| material_error("certificate", format!("cannot encode the certificate: {e}")))?;
        Ok(Signer {
            key: SigningKey::<Sha256>::new(private),
            certificates,
            subject: leaf.tbs_certificate.subject.to_string(),
        })
    }

    /// The subject of the signing certificate (RFC 4514 form).
    pub fn certificate_subject(&self) -> &str {
        &self.subject
    }

    /// Writes the `Signature` element for an `alert` element whose canonical form is `canonical_alert`.
    pub(crate) fn write_signature(&self, xml: &mut Xml, canonical_alert: &[u8]) -> Result<()> {
        let digest = BASE64.encode(Sha256::digest(canonical_alert));
        // SignedInfo as exclusive C14N renders it on its own: with the default namespace it inherits.
        let mut canonical = Xml::compact();
        signed_info(&mut canonical, &digest, true);
        let signed_info_bytes = canonical.finish();
        let signature = self
            .key
            .try_sign_with_rng(&mut OsRng, signed_info_bytes.as_bytes())
            .map_err(|e| Error::CapSign(e.to_string()))?;

        xml.start("Signature", Some(("xmlns", DSIG_NS)));
        signed_info(xml, &digest, false);
        xml.element("SignatureValue", &BASE64.encode(signature.to_bytes()));
        xml.start("KeyInfo", None);
        xml.start("X509Data", None);
        for certificate in &self.certificates {
            xml.element("X509Certificate", certificate);
        }
        xml.end("X509Data");
        xml.end("KeyInfo");
        xml.end("Signature");
        Ok(())
    }
}

fn signed_info(xml: &mut Xml, digest: &str, with_namespace: bool) {
    xml.start("SignedInfo", with_namespace.then_some(("xmlns", DSIG_NS)));
    xml.empty("CanonicalizationMethod", ("Algorithm", EXC_C14N));
    xml.empty("SignatureMethod", ("Algorithm", RSA_SHA256));
    xml.start("Reference", Some(("URI", "")));
    xml.start("Transforms", None);
    xml.empty("Transform", ("Algorithm", ENVELOPED));
    xml.empty("Transform", ("Algorithm", EXC_C14N));
    xml.end("Transforms");
    xml.empty("DigestMethod", ("Algorithm", SHA256));
    xml.element("DigestValue", digest);
    xml.end("Reference");
    xml.end("SignedInfo");
}

fn material_error(what: &'static str, reason: impl Into<String>) -> Error {
    Error::CapSigningMaterial { what, reason: reason.into() }
}

/// The PEM text of a configuration value: the value itself, or the file it names.
fn read_pem(what: &'static str, value: &str) -> Result<String> {
    if is_inline_pem(value) {
        return Ok(value.to_string());
    }
    let path = PathBuf::from(value);
    std::fs::read_to_string(&path).map_err(|source| Error::CapPemFile { what, path, source })
}
