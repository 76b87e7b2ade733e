//! [`Secret`]: a string that never shows itself in `Debug` output or logs.
//!
//! One type for every secret string in the workspace (passwords, OAuth client secrets, access
//! and refresh tokens), shared by the network clients, the store and the retrieval layer so a
//! secret moves between them without being copied into another wrapper. The protocol codecs keep
//! their own validated wire types (a POP3 `Password`, IMAP's generic redacting wrapper).
//!
//! ```
//! use inbound_secret::Secret;
//!
//! let password = Secret::new("hunter2");
//! assert_eq!(format!("{password:?}"), "[redacted]");
//! assert_eq!(password.expose(), "hunter2");
//! ```

use std::fmt;

/// A secret string: a password, a client secret, an access or refresh token.
///
/// `Debug` prints `[redacted]` and there is deliberately no `Display`, so a secret cannot end up
/// in a log line or an error message by accident. Read it with [`Secret::expose`] at the one
/// place that must send it or store it encrypted.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call it only where the value is sent or stored encrypted.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("top-secret-value");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            password: Secret,
        }
        let h = Holder {
            password: s.clone(),
        };
        assert!(!format!("{h:?}").contains("top-secret"));
        assert_eq!(s.expose(), "top-secret-value");
    }

    #[test]
    fn conversions_keep_the_value() {
        assert_eq!(Secret::from("a"), Secret::new("a".to_owned()));
        assert!(Secret::default().is_empty());
        assert!(!Secret::from(String::from("x")).is_empty());
    }
}
