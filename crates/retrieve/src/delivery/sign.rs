//! Standard Webhooks 1.0 signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the bytes
//! of a `whsec_<base64>` secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use inbound_store::Secret;
use sha2::Sha256;

/// The header that carries the event id.
pub const ID_HEADER: &str = "webhook-id";
/// The header that carries the time of the attempt (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header that carries the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// A webhook signing secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a webhook secret must be \"whsec_\" followed by base64 (at least 16 bytes), \
     e.g. from `openssl rand -base64 32`: {0}"
)]
pub struct SecretError(pub(crate) &'static str);

/// A signing secret: the key bytes of `whsec_<base64>`.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Secret,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is required; the key must be 16 to 64 bytes).
    ///
    /// # Errors
    /// [`SecretError`] saying what is wrong (never quoting the secret).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let Some(encoded) = text.trim().strip_prefix("whsec_") else {
            return Err(SecretError("it does not start with \"whsec_\""));
        };
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError("the part after \"whsec_\" is not base64"))?;
        if !(16..=64).contains(&key.len()) {
            return Err(SecretError("the key is not 16 to 64 bytes long"));
        }
        // The key bytes, kept as base64 text inside a `Secret` (redacted, zeroed on drop).
        Ok(Self {
            key: Secret::new(STANDARD.encode(key)),
        })
    }

    fn key_bytes(&self) -> Vec<u8> {
        STANDARD.decode(self.key.expose()).unwrap_or_default()
    }

    /// The `webhook-signature` value for this id, timestamp and body: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key_bytes()) {
            Ok(mac) => mac,
            Err(_) => return Vec::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Verifies a `webhook-signature` header (space-separated `v1,<base64>` entries; one
    /// must match) in constant time, as a receiver does. Checking that `timestamp` is
    /// recent is the receiver's business.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key_bytes()) {
            Ok(mac) => mac,
            Err(_) => return false,
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        header.split(' ').any(|entry| {
            let Some(sig) = entry.strip_prefix("v1,") else {
                return false;
            };
            let Ok(sig) = STANDARD.decode(sig) else {
                return false;
            };
            mac.clone().verify_slice(&sig).is_ok()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let sig = secret.sign(id, 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(secret.verify(id, 1614265330, body, &format!("v1,bm90IGl0 {sig}")));
        assert!(!secret.verify(id, 1614265331, body, &sig));
        assert!(!secret.verify(id, 1614265330, b"{}", &sig));
    }

    #[test]
    fn malformed_secrets_are_refused_without_being_quoted() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***",
            "whsec_c2hvcnQ=",
        ] {
            let e = WebhookSecret::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("MfKQ9r8"), "{e}");
        }
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret([redacted])");
    }
}
