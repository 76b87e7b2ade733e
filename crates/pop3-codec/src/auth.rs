//! Credentials: passwords, APOP digests (RFC 1939 section 7) and SASL data (RFC 5034).
//! Secret values print `[redacted]` in `Debug` output.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};

use crate::core::{MAX_ARGUMENT_LEN, Timestamp, check, check_octets, is_ctl, is_line_breaking};
use crate::error::ValidationError;

/// The argument of `PASS`: 1 to 255 octets of UTF-8 without control characters. Spaces are
/// allowed (RFC 1939 section 7: the argument may contain spaces).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Validates a password.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check("password", value.as_bytes(), MAX_ARGUMENT_LEN, is_ctl)?;
        Ok(Self(value))
    }

    /// The password itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The digest argument of `APOP`: MD5 of the greeting timestamp followed by the shared
/// secret, sent as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApopDigest([u8; 16]);

impl ApopDigest {
    /// Computes the digest a client sends (RFC 1939 section 7).
    pub fn compute(timestamp: &Timestamp, secret: &[u8]) -> Self {
        let mut md5 = Md5::new();
        md5.update(timestamp.as_str().as_bytes());
        md5.update(secret);
        Self(md5.finalize().into())
    }

    /// Checks a digest a client sent against the expected secret, in constant time with
    /// respect to the digest contents.
    pub fn verify(&self, timestamp: &Timestamp, secret: &[u8]) -> bool {
        let expected = Self::compute(timestamp, secret);
        let diff = self
            .0
            .iter()
            .zip(expected.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }

    /// Parses 32 hex digits (either case).
    pub fn from_hex(hex: &str) -> Result<Self, ValidationError> {
        let bytes = hex.as_bytes();
        if bytes.len() != 32 {
            return Err(ValidationError::Invalid {
                what: "APOP digest",
                reason: "not 32 hex digits",
            });
        }
        let mut out = [0u8; 16];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]);
            let lo = hex_value(pair[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
                _ => {
                    return Err(ValidationError::Invalid {
                        what: "APOP digest",
                        reason: "not 32 hex digits",
                    });
                }
            }
        }
        Ok(Self(out))
    }

    /// The 16 digest octets.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is replay-protected but still credential material.
        f.write_str("ApopDigest([redacted])")
    }
}

/// Client SASL data (RFC 5034): an initial response of `AUTH` or a line answering a
/// continuation. Holds the decoded octets; the wire form is base64.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslData(Vec<u8>);

impl SaslData {
    /// Wraps decoded octets (any content, possibly empty).
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        Self(data.into())
    }

    /// Decodes base64 text. An empty string or `=` gives empty data (RFC 5034 section 4).
    pub fn from_base64(text: &[u8]) -> Result<Self, ValidationError> {
        if text.is_empty() || text == b"=" {
            return Ok(Self(Vec::new()));
        }
        BASE64
            .decode(text)
            .map(Self)
            .map_err(|_| ValidationError::Invalid {
                what: "SASL data",
                reason: "not base64",
            })
    }

    /// The decoded octets. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// True when there are no octets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The base64 form (empty for empty data).
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.0)
    }
}

impl fmt::Debug for SaslData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslData([redacted; {} octets])", self.0.len())
    }
}

/// The text of a server continuation `+ ...` (RFC 5034 section 4), normally base64. Kept as
/// text because servers in the wild send non-base64 text there; use
/// [`Continuation::decode_base64`] to get the challenge octets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Continuation(String);

impl Continuation {
    /// A continuation carrying `challenge`, base64-encoded.
    pub fn from_challenge(challenge: &[u8]) -> Self {
        Self(BASE64.encode(challenge))
    }

    /// A continuation with raw text (no CR, LF or NUL).
    pub fn from_text(text: impl Into<String>) -> Result<Self, ValidationError> {
        let text = text.into();
        check_octets("continuation", text.as_bytes(), is_line_breaking)?;
        Ok(Self(text))
    }

    /// The text after `+ `.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge octets, if the text is base64 (empty text gives empty octets).
    pub fn decode_base64(&self) -> Result<Vec<u8>, ValidationError> {
        SaslData::from_base64(self.0.as_bytes()).map(|d| d.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_apop_example() {
        let ts = Timestamp::new("<1896.697170952@dbc.mtview.ca.us>").unwrap();
        let digest = ApopDigest::compute(&ts, b"tanstaaf");
        assert_eq!(digest.to_string(), "c4c9334bac560ecc979e58001b3e22fb");
        assert!(digest.verify(&ts, b"tanstaaf"));
        assert!(!digest.verify(&ts, b"tanstaafl"));
        let parsed = ApopDigest::from_hex("C4C9334BAC560ECC979E58001B3E22FB").unwrap();
        assert_eq!(parsed, digest);
        assert!(ApopDigest::from_hex("c4c9").is_err());
        assert!(ApopDigest::from_hex(&"g".repeat(32)).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let p = Password::new("hunter2 with space").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        let d = SaslData::new(b"\0user\0hunter2".to_vec());
        assert!(!format!("{d:?}").contains("hunter2"));
        assert!(Password::new("a\r\nb").is_err());
    }

    #[test]
    fn sasl_base64() {
        assert_eq!(SaslData::from_base64(b"=").unwrap().expose(), b"");
        assert_eq!(
            SaslData::from_base64(b"dGVzdAB0ZXN0AHRlc3Q=")
                .unwrap()
                .expose(),
            b"test\0test\0test"
        );
        assert!(SaslData::from_base64(b"not base64!").is_err());
        let c = Continuation::from_text("Rubbish").unwrap();
        assert!(c.decode_base64().is_err());
    }
}
