//! Account-secret encryption: AES-256-GCM under a 32-byte key, a fresh random nonce per value.
//!
//! Each stored value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`. The associated data
//! binds a ciphertext to the place it is stored (account and secret name), so rows cannot be
//! swapped between accounts without the decryption failing.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore as _;

use crate::error::{Error, Result};
use crate::key::{KEY_ENV, KeyError};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// A 256-bit key for the account secrets. Its `Debug` output is `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; KEY_LEN]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

impl EncryptionKey {
    /// Reads a key from base64 text (standard or URL-safe alphabet, padding optional,
    /// surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(KeyError::NotBase64)?;
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self(key))
    }

    /// Reads the key from `INBOUND_ENCRYPTION_KEY`.
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(KEY_ENV) {
            Ok(text) => Self::from_base64(&text),
            Err(std::env::VarError::NotPresent) => Err(KeyError::Missing),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::NotUnicode),
        }
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; KEY_LEN];
        fill_random(&mut key)?;
        Ok(Self(key))
    }

    /// Builds a key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key as standard base64 (with padding), the form `from_base64` and
    /// `INBOUND_ENCRYPTION_KEY` take. Handle the result as a secret.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// Encrypts `plain` with a fresh nonce; `aad` names where the value is stored.
    pub(crate) fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            // AES-GCM encryption fails only for messages over 64 GiB.
            .map_err(|_| Error::Corrupt("secret too large to encrypt".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a value written by [`seal`](Self::seal); `None` when the key is wrong or the
    /// value was altered (GCM cannot tell the two apart).
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
    }
}

fn fill_random(buf: &mut [u8]) -> Result<()> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| Error::Random(e.to_string()))
}

/// The plaintext of the key check stored beside the secrets.
pub(crate) const KEY_CHECK_PLAIN: &[u8] = b"inbound key check v1";
/// Its associated data.
pub(crate) const KEY_CHECK_AAD: &[u8] = b"inbound:key-check";

/// The associated data for one account secret.
pub(crate) fn secret_aad(account: &str, secret: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + account.len() + secret.len());
    aad.extend_from_slice(b"inbound:secret\0");
    aad.extend_from_slice(account.as_bytes());
    aad.push(0);
    aad.extend_from_slice(secret.as_bytes());
    aad
}

/// Appends `field` with its length (8 bytes, big-endian) in front, so no two different field
/// lists give the same bytes.
fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
}

/// The associated data for an account's sealed settings: the account name and every secret
/// stored with it (name and sealed bytes, in name order), each length-prefixed. A settings
/// value therefore opens only for its own account and only beside the very secret rows it was
/// saved with: renaming, swapping, adding or removing a secret row breaks it.
pub(crate) fn config_aad<'a>(
    account: &str,
    secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + account.len());
    push_field(&mut aad, b"inbound:account-config:v1");
    push_field(&mut aad, account.as_bytes());
    for (name, sealed) in secrets {
        push_field(&mut aad, name.as_bytes());
        push_field(&mut aad, sealed);
    }
    aad
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn base64_forms_and_errors() {
        let key = EncryptionKey::generate().unwrap();
        let text = key.to_base64();
        assert_eq!(EncryptionKey::from_base64(&text).unwrap(), key);
        assert_eq!(
            EncryptionKey::from_base64(&format!("  {}\n", text.trim_end_matches('='))).unwrap(),
            key
        );
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.0);
        assert_eq!(EncryptionKey::from_base64(&url).unwrap(), key);
        assert_eq!(
            EncryptionKey::from_base64("not base64 !!"),
            Err(KeyError::NotBase64)
        );
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert_eq!(
            EncryptionKey::from_base64(&short),
            Err(KeyError::WrongLength(16))
        );
        assert_eq!(
            EncryptionKey::from_base64(""),
            Err(KeyError::WrongLength(0))
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = EncryptionKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn seal_open_roundtrip_fresh_nonce_and_binding() {
        let key = EncryptionKey::generate().unwrap();
        let aad = secret_aad("acct", "password");
        let a = key.seal(b"s3cret", &aad).unwrap();
        let b = key.seal(b"s3cret", &aad).unwrap();
        assert_ne!(a, b, "each value gets its own nonce");
        assert_eq!(a.len(), NONCE_LEN + 6 + 16);
        assert_eq!(key.open(&a, &aad).unwrap(), b"s3cret");
        assert!(key.open(&a, &secret_aad("other", "password")).is_none());
        let other = EncryptionKey::generate().unwrap();
        assert!(other.open(&a, &aad).is_none());
        let mut flipped = a.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(&flipped, &aad).is_none());
        assert!(key.open(&a[..5], &aad).is_none());
    }

    #[test]
    fn config_aad_is_length_prefixed() {
        // Moving bytes between the name and a secret gives different associated data.
        let a = config_aad("ab", [("c", &b"d"[..])]);
        let b = config_aad("a", [("bc", &b"d"[..])]);
        assert_ne!(a, b);
        assert_ne!(config_aad("a", []), config_aad("a", [("", &b""[..])]));
    }
}
