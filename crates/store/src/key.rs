//! Where the encryption key comes from and why it could not be read: shared by the key
//! itself (`crypto`) and the store's error type, so neither depends on the other.

/// The environment variable holding the key: 32 bytes, base64.
pub const KEY_ENV: &str = "INBOUND_ENCRYPTION_KEY";

/// Why an encryption key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `INBOUND_ENCRYPTION_KEY` is not set.
    #[error(
        "{KEY_ENV} is not set; generate a key with `inbound key generate` (32 random bytes, base64)"
    )]
    Missing,
    /// The variable is set but is not valid UTF-8.
    #[error("{KEY_ENV} is not valid UTF-8")]
    NotUnicode,
    /// The value is not base64.
    #[error("encryption key is not valid base64 (expected 32 bytes, base64 encoded)")]
    NotBase64,
    /// The value decodes to the wrong number of bytes.
    #[error("encryption key is {0} bytes long; it must be exactly 32 bytes (base64 encoded)")]
    WrongLength(usize),
}
