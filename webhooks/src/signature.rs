//! HMAC-SHA256 signatures of webhook deliveries (the scheme of Stripe and GitHub).
//!
//! The signed content is the decimal Unix timestamp of the attempt, a full stop, and the request body exactly as
//! sent: `"<X-Vedetta-Timestamp>.<body>"`. The `X-Vedetta-Signature` header carries `sha256=` and the lower-case
//! hex HMAC-SHA256 of that content under the receiver's secret (its UTF-8 bytes). The alerts' and the reports'
//! webhooks sign alike.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header with the signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Vedetta-Signature";
/// The header with the Unix time (seconds) of the attempt, part of the signed content.
pub const TIMESTAMP_HEADER: &str = "X-Vedetta-Timestamp";
/// The header with the delivery id: the same on every attempt of one delivery, so a receiver can drop repeats.
pub const DELIVERY_HEADER: &str = "X-Vedetta-Delivery";
/// The header naming the event (`alert.changed`, `report.changed`).
pub const EVENT_HEADER: &str = "X-Vedetta-Event";

fn keyed(secret: &str, timestamp: &str, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes a key of any length, so this never fails; no panic all the same.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The value of the `X-Vedetta-Signature` header for `body` sent at `timestamp` (decimal Unix seconds):
/// `sha256=` followed by the hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = keyed(secret, timestamp, body).map(|mac| mac.finalize().into_bytes()).unwrap_or_default();
    format!("sha256={}", hex::encode(digest))
}

/// Whether `header` (the `X-Vedetta-Signature` value) is a valid signature of `body` sent at `timestamp` (the
/// `X-Vedetta-Timestamp` value, as received) under `secret`. The comparison takes constant time. The header may hold
/// several comma-separated `sha256=` values (for a secret rotation); one match is enough.
///
/// This is the receivers' reference. A receiver should also refuse a timestamp too far from its own clock (say
/// five minutes) so that a captured request cannot be replayed later, and drop a delivery id it has already seen.
pub fn verify_signature(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    header.split(',').any(|candidate| {
        let Some(hex_digest) = candidate.trim().strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_digest) else {
            return false;
        };
        keyed(secret, timestamp, body).is_some_and(|mac| mac.verify_slice(&expected).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = "0123456789abcdef0123";
        let body = br#"{"event":"alert.changed"}"#;
        let header = sign(secret, "1767225600", body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64, "{header}");
        assert!(verify_signature(secret, "1767225600", body, &header));
        assert!(verify_signature(secret, "1767225600", body, &format!("sha256=00, {header}")));
        assert!(!verify_signature(secret, "1767225601", body, &header));
        assert!(!verify_signature("another secret of length", "1767225600", body, &header));
        assert!(!verify_signature(secret, "1767225600", br#"{"event":"alert.changed" }"#, &header));
        assert!(!verify_signature(secret, "1767225600", body, header.trim_start_matches("sha256=")));
        assert!(!verify_signature(secret, "1767225600", body, "sha256=zz"));
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // The primitive is the standard one (RFC 4231, test case 2) ...
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // ... applied to "<timestamp>.<body>".
        let mut framed = HmacSha256::new_from_slice(b"Jefe").unwrap();
        framed.update(b"1767225600.{}");
        assert_eq!(
            sign("Jefe", "1767225600", b"{}"),
            format!("sha256={}", hex::encode(framed.finalize().into_bytes()))
        );
    }
}
