//! Basic values of the protocol. Every constructor validates: a value that exists can be
//! encoded without producing a malformed or injected line.

use std::fmt;
use std::num::NonZeroU32;

use crate::error::ValidationError;

/// RFC 2449 section 4: a command argument is at most 255 octets (`param = 1*VCHAR`).
pub const MAX_ARGUMENT_LEN: usize = 255;

/// Checks that `value` has `1..=max` octets and none for which `forbidden` holds.
pub(crate) fn check(
    what: &'static str,
    value: &[u8],
    max: usize,
    forbidden: impl Fn(u8) -> bool,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty { what });
    }
    if value.len() > max {
        return Err(ValidationError::TooLong {
            what,
            len: value.len(),
            max,
        });
    }
    check_octets(what, value, forbidden)
}

/// Checks that no octet of `value` is forbidden.
pub(crate) fn check_octets(
    what: &'static str,
    value: &[u8],
    forbidden: impl Fn(u8) -> bool,
) -> Result<(), ValidationError> {
    match value.iter().position(|&b| forbidden(b)) {
        Some(position) => Err(ValidationError::ForbiddenOctet {
            what,
            byte: value[position],
            position,
        }),
        None => Ok(()),
    }
}

/// A control character (including NUL, CR, LF and DEL).
pub(crate) fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Not a visible character: a control character or a space.
pub(crate) fn is_not_vchar(b: u8) -> bool {
    is_ctl(b) || b == b' '
}

/// CR, LF or NUL: octets no line may carry inside.
pub(crate) fn is_line_breaking(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0)
}

fn utf8(what: &'static str, value: &[u8]) -> Result<String, ValidationError> {
    String::from_utf8(value.to_vec()).map_err(|_| ValidationError::Invalid {
        what,
        reason: "not UTF-8",
    })
}

/// A message number: `1..` within the maildrop (RFC 1939 section 5). Zero is not a message
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageNumber(NonZeroU32);

impl MessageNumber {
    /// Checks that `n` is not zero.
    pub fn new(n: u32) -> Result<Self, ValidationError> {
        NonZeroU32::new(n)
            .map(Self)
            .ok_or(ValidationError::Invalid {
                what: "message number",
                reason: "zero is not a message number",
            })
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u32> for MessageNumber {
    type Error = ValidationError;
    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! string_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValidationError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
    };
}

string_type!(
    /// A mailbox name for `USER` and `APOP`: 1 to 255 octets of UTF-8 without spaces or
    /// control characters (RFC 2449 `param = 1*VCHAR`; UTF-8 as allowed by RFC 6856).
    Username
);

impl Username {
    /// Validates a user name.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check(
            "user name",
            value.as_bytes(),
            MAX_ARGUMENT_LEN,
            is_not_vchar,
        )?;
        Ok(Self(value))
    }

    pub(crate) fn from_bytes(value: &[u8]) -> Result<Self, ValidationError> {
        Self::new(utf8("user name", value)?)
    }
}

string_type!(
    /// A unique-id from `UIDL` (RFC 1939 section 7): visible ASCII (0x21 to 0x7E).
    ///
    /// RFC 1939 allows at most 70 characters; servers are seen to exceed it, so up to 255
    /// are accepted. Treat the value as opaque: some servers reuse ids.
    UniqueId
);

impl UniqueId {
    /// Validates a unique-id.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check("unique-id", value.as_bytes(), MAX_ARGUMENT_LEN, |b| {
            !(0x21..=0x7e).contains(&b)
        })?;
        Ok(Self(value))
    }
}

string_type!(
    /// A SASL mechanism name (RFC 4422 section 3.1): 1 to 20 of `A-Z 0-9 - _` (lower case
    /// letters are accepted too, as servers send them).
    Mechanism
);

impl Mechanism {
    /// Validates a mechanism name.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check("SASL mechanism", value.as_bytes(), 20, |b| {
            !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })?;
        Ok(Self(value))
    }

    /// True when this is the mechanism `name`, compared case-insensitively.
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

string_type!(
    /// Human-readable text after a status indicator, a capability or a continuation: any
    /// octets but CR, LF and NUL. Input that is not UTF-8 is decoded lossily.
    Text
);

impl Default for Text {
    fn default() -> Self {
        Self::empty()
    }
}

impl Text {
    /// Validates text.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check_octets("text", value.as_bytes(), is_line_breaking)?;
        Ok(Self(value))
    }

    /// Empty text.
    pub fn empty() -> Self {
        Self(String::new())
    }

    /// True when there is no text.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn from_bytes(value: &[u8]) -> Result<Self, ValidationError> {
        Self::new(String::from_utf8_lossy(value).into_owned())
    }
}

string_type!(
    /// A capability parameter (RFC 2449 `param = 1*VCHAR`).
    Param
);

impl Param {
    /// Validates a parameter.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check(
            "parameter",
            value.as_bytes(),
            MAX_ARGUMENT_LEN,
            is_not_vchar,
        )?;
        Ok(Self(value))
    }
}

string_type!(
    /// A capability tag (RFC 2449 `capa-tag = 1*cchar`, visible ASCII but `.`).
    CapabilityTag
);

impl CapabilityTag {
    /// Validates a capability tag.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check("capability tag", value.as_bytes(), MAX_ARGUMENT_LEN, |b| {
            !(0x21..=0x7e).contains(&b) || b == b'.'
        })?;
        Ok(Self(value))
    }
}

string_type!(
    /// The APOP timestamp of a greeting (RFC 1939 section 7): `<...>` in msg-id syntax,
    /// for example `<1896.697170952@dbc.mtview.ca.us>`; visible ASCII, at most 255 octets.
    Timestamp
);

impl Timestamp {
    /// Validates a timestamp, angle brackets included.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let bytes = value.as_bytes();
        check("APOP timestamp", bytes, MAX_ARGUMENT_LEN, |b| {
            !(0x21..=0x7e).contains(&b)
        })?;
        let inner_ok = bytes.len() >= 3
            && bytes[0] == b'<'
            && bytes[bytes.len() - 1] == b'>'
            && !bytes[1..bytes.len() - 1]
                .iter()
                .any(|&b| b == b'<' || b == b'>');
        if !inner_ok {
            return Err(ValidationError::Invalid {
                what: "APOP timestamp",
                reason: "not of the form <...>",
            });
        }
        Ok(Self(value))
    }

    /// Finds the first `<...>` in greeting text that is a valid timestamp.
    pub fn find_in(text: &str) -> Option<Self> {
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let candidate = &rest[start..];
            let end = candidate.find('>')?;
            if let Ok(ts) = Self::new(&candidate[..=end]) {
                return Some(ts);
            }
            rest = &candidate[1..];
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn message_number_rejects_zero() {
        assert!(MessageNumber::new(0).is_err());
        assert_eq!(MessageNumber::new(7).unwrap().get(), 7);
    }

    #[test]
    fn user_name_rejects_injection_and_length() {
        assert!(Username::new("mrose").is_ok());
        assert!(matches!(
            Username::new("a\r\nDELE 1"),
            Err(ValidationError::ForbiddenOctet { byte: b'\r', .. })
        ));
        assert!(Username::new("a b").is_err());
        assert!(Username::new("").is_err());
        assert!(Username::new("x".repeat(255)).is_ok());
        assert!(matches!(
            Username::new("x".repeat(256)),
            Err(ValidationError::TooLong { len: 256, .. })
        ));
    }

    #[test]
    fn timestamp_is_found_in_greeting() {
        let ts = Timestamp::find_in("POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
        assert_eq!(ts.unwrap().as_str(), "<1896.697170952@dbc.mtview.ca.us>");
        assert!(Timestamp::find_in("no timestamp here <").is_none());
        assert!(Timestamp::find_in("a < b > c").is_none());
        assert_eq!(Timestamp::find_in("x <a> <b@c>").unwrap().as_str(), "<a>");
    }

    #[test]
    fn text_rejects_line_breaks() {
        assert!(Text::new("fine [text]").is_ok());
        assert!(Text::new("a\nb").is_err());
        assert!(Text::new("a\0b").is_err());
    }
}
