//! Core string types: atoms, tags, strings, text and literals (RFC 3501 section 4,
//! RFC 9051 section 4).
//!
//! Every type here is validated on construction, so a value that exists can always be
//! encoded. The string types hold their content as [`Bytes`], so decoding slices the input
//! buffer instead of copying it, and cloning a value is a reference-count increment; a
//! decoded [`IString`] or [`AString`] of up to 22 bytes is held inline instead (copying so
//! little is cheaper than taking and releasing a reference, and most strings of ENVELOPE
//! and BODYSTRUCTURE are that short).

use std::fmt;

use bytes::Bytes;

use super::chars::{is_atom_char, is_tag_char, is_text_char};

/// Why a value could not be built (returned by the validating constructors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The value was empty where the grammar needs at least one character.
    #[error("{what} must not be empty")]
    Empty {
        /// The grammar element that was being built.
        what: &'static str,
    },
    /// The value contains a byte that the grammar does not allow there.
    #[error("{what} must not contain byte 0x{byte:02x} (at index {index})")]
    InvalidByte {
        /// The grammar element that was being built.
        what: &'static str,
        /// The offending byte.
        byte: u8,
        /// Its index in the value.
        index: usize,
    },
    /// A number was zero where the grammar needs a non-zero number.
    #[error("{what} must not be zero")]
    Zero {
        /// The grammar element that was being built.
        what: &'static str,
    },
    /// A value was out of its allowed range or shape.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The grammar element that was being built.
        what: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
}

fn check_all(
    what: &'static str,
    data: &[u8],
    ok: impl Fn(u8) -> bool,
) -> Result<(), ValidationError> {
    if data.is_empty() {
        return Err(ValidationError::Empty { what });
    }
    match data.iter().position(|&b| !ok(b)) {
        Some(index) => Err(ValidationError::InvalidByte {
            what,
            byte: data[index],
            index,
        }),
        None => Ok(()),
    }
}

fn ascii_str(b: &Bytes) -> &str {
    // Only called on validated ASCII content, so this never falls back.
    std::str::from_utf8(b).unwrap_or("")
}

macro_rules! bytes_debug {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($t), "(\"{}\")"),
                    self.as_bytes().escape_ascii()
                )
            }
        }
    };
}

/// A command tag: `tag = 1*<any ASTRING-CHAR except "+">`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag(Bytes);
bytes_debug!(Tag);

impl Tag {
    /// Validates and builds a tag.
    pub fn new(tag: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let tag = tag.into();
        check_all("tag", &tag, is_tag_char)?;
        Ok(Self(tag))
    }
    pub(crate) fn new_unchecked(tag: Bytes) -> Self {
        Self(tag)
    }
    /// The tag as text.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for Tag {
    type Error = ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(Bytes::copy_from_slice(value.as_bytes()))
    }
}

/// An atom: `atom = 1*ATOM-CHAR`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Atom(Bytes);
bytes_debug!(Atom);

impl Atom {
    /// Validates and builds an atom.
    pub fn new(atom: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let atom = atom.into();
        check_all("atom", &atom, is_atom_char)?;
        Ok(Self(atom))
    }
    pub(crate) fn new_unchecked(atom: Bytes) -> Self {
        Self(atom)
    }
    /// The atom as text (always ASCII).
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
    /// The atom's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Case-insensitive comparison, as IMAP keywords compare.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }
    pub(crate) fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for Atom {
    type Error = ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(Bytes::copy_from_slice(value.as_bytes()))
    }
}

/// The content of a string value: up to [`Content::INLINE`] bytes held inline (building,
/// cloning and dropping them touch neither the allocator nor a reference count), longer
/// content as a [`Bytes`] handle (a slice of the receive buffer, never copied). Most strings
/// in ENVELOPE and BODYSTRUCTURE (names, mailboxes, hosts, parameter values) are short.
#[derive(Clone)]
pub(crate) enum Content {
    /// Short content: `len` bytes of `buf`.
    Inline { len: u8, buf: [u8; Content::INLINE] },
    /// Longer content (or content that arrived as a [`Bytes`]).
    Shared(Bytes),
}

impl Content {
    /// The most bytes held inline.
    pub(crate) const INLINE: usize = 22;

    /// `data`, copied inline when short, else the handle `slice` gives (a slice of the buffer
    /// `data` lies in, or a copy).
    #[inline]
    pub(crate) fn copy_or_slice(data: &[u8], slice: impl FnOnce() -> Bytes) -> Self {
        if data.len() <= Self::INLINE {
            let mut buf = [0; Self::INLINE];
            buf[..data.len()].copy_from_slice(data);
            Self::Inline {
                len: data.len() as u8,
                buf,
            }
        } else {
            Self::Shared(slice())
        }
    }

    /// The content's bytes.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Shared(b) => b,
        }
    }

    /// The content as a [`Bytes`] handle (a copy only for inline content).
    pub(crate) fn to_bytes(&self) -> Bytes {
        match self {
            Self::Inline { .. } => Bytes::copy_from_slice(self.as_bytes()),
            Self::Shared(b) => b.clone(),
        }
    }
}

impl Default for Content {
    fn default() -> Self {
        Self::Shared(Bytes::new())
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Content {}

impl std::hash::Hash for Content {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl From<Bytes> for Content {
    fn from(value: Bytes) -> Self {
        Self::Shared(value)
    }
}

macro_rules! string_type {
    ($(#[$m:meta])* $t:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, Default)]
        pub struct $t(Content);
        bytes_debug!($t);

        impl $t {
            /// Wraps the content (any bytes; see the type's documentation for NUL).
            pub fn new(data: impl Into<Bytes>) -> Self {
                Self(Content::Shared(data.into()))
            }
            #[allow(dead_code)]
            pub(crate) fn new_unchecked(data: Bytes) -> Self {
                Self(Content::Shared(data))
            }
            #[allow(dead_code)]
            pub(crate) fn from_content(content: Content) -> Self {
                Self(content)
            }
            /// The content's bytes (unquoted, unescaped).
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }
            /// The content as a [`Bytes`] handle: no copy for content longer than 22 bytes
            /// or decoded from a literal (shorter decoded content is held inline and copied
            /// out).
            pub fn to_bytes(&self) -> Bytes {
                self.0.to_bytes()
            }
            /// The content as text, if it is UTF-8.
            pub fn as_str(&self) -> Option<&str> {
                std::str::from_utf8(self.as_bytes()).ok()
            }
            /// The content as text, replacing invalid UTF-8.
            pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
                String::from_utf8_lossy(self.as_bytes())
            }
            /// Case-insensitive comparison with an ASCII keyword.
            pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
                self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
            }
            /// The content's length in bytes.
            pub fn len(&self) -> usize {
                self.as_bytes().len()
            }
            /// Whether the content is empty.
            pub fn is_empty(&self) -> bool {
                self.as_bytes().is_empty()
            }
        }

        impl From<&str> for $t {
            fn from(value: &str) -> Self {
                Self::from(value.as_bytes())
            }
        }

        impl From<&[u8]> for $t {
            fn from(value: &[u8]) -> Self {
                Self(Content::copy_or_slice(value, || Bytes::copy_from_slice(value)))
            }
        }

        impl From<String> for $t {
            fn from(value: String) -> Self {
                Self(Content::Shared(Bytes::from(value)))
            }
        }

        impl From<Bytes> for $t {
            fn from(value: Bytes) -> Self {
                Self(Content::Shared(value))
            }
        }
    };
}

string_type!(
    /// An `astring = 1*ASTRING-CHAR / string`: the content of an atom, quoted string or
    /// literal. The encoder chooses the shortest form that can carry the content (a literal
    /// for anything with CR, LF, 8-bit bytes or more than 1,000 bytes). Any bytes are
    /// allowed; a NUL byte is only valid inside a `literal8` (RFC 3516), so a peer without
    /// BINARY may refuse it.
    AString
);

string_type!(
    /// A `string = quoted / literal`: the content only; the encoder chooses quoted or
    /// literal. Any bytes (see [`AString`] about NUL); message bodies decoded from literals
    /// are slices of the receive buffer.
    IString
);

impl From<Atom> for AString {
    fn from(value: Atom) -> Self {
        Self(Content::Shared(value.0))
    }
}

impl From<IString> for AString {
    fn from(value: IString) -> Self {
        Self(value.0)
    }
}

impl From<AString> for IString {
    fn from(value: AString) -> Self {
        Self(value.0)
    }
}

/// `nstring = string / nil`.
pub type NString = Option<IString>;

/// Human-readable text: `text = 1*TEXT-CHAR` (no CR or LF). It may be empty when a server
/// omits it (see [`Quirks::code_without_text`](crate::Quirks)).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);
bytes_debug!(Text);

impl Text {
    /// Validates (no CR, LF or NUL) and builds a text.
    pub fn new(text: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let text = text.into();
        if let Some(index) = text.iter().position(|&b| !is_text_char(b)) {
            return Err(ValidationError::InvalidByte {
                what: "text",
                byte: text[index],
                index,
            });
        }
        Ok(Self(text))
    }
    pub(crate) fn new_unchecked(text: Bytes) -> Self {
        Self(text)
    }
    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The text, replacing invalid UTF-8.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<&str> for Text {
    type Error = ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(Bytes::copy_from_slice(value.as_bytes()))
    }
}

/// The data of a literal (`literal = "{" number64 ["+"] "}" CRLF *CHAR8`, or `literal8 =
/// "~{" number64 "}" CRLF *OCTET` when it contains NUL). Used where the grammar requires a
/// literal (the APPEND message). Any bytes are allowed; the encoder writes a `literal8` when
/// the data contains NUL.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Literal(Bytes);

impl fmt::Debug for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Literal({} bytes)", self.0.len())
    }
}

impl Literal {
    /// Wraps literal data.
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self(data.into())
    }
    /// The literal's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The literal's bytes as a [`Bytes`] handle (no copy).
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }
}

/// How a literal announces itself (RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: a client must wait for the server's `+` continuation before sending the data.
    Sync,
    /// `{n+}`: the data follows right away (LITERAL+ / LITERAL-).
    NonSync,
}

/// A value that must not appear in logs: its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The secret value. Do not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwraps the secret value. Do not log it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Tag::try_from("a001").is_ok());
        assert!(Tag::try_from("a+1").is_err());
        assert!(Tag::try_from("").is_err());
        assert!(Atom::try_from("FLAGS").is_ok());
        assert!(Atom::try_from("a b").is_err());
        assert!(Text::try_from("line\r\n").is_err());
        assert_eq!(format!("{:?}", Redacted::new("hunter2")), "[redacted]");
        assert_eq!(format!("{:?}", Tag::try_from("a1").unwrap()), "Tag(\"a1\")");
    }

    fn hash_of(s: &IString) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(s)
    }

    #[test]
    fn inline_and_shared_content_are_the_same_value() {
        for len in [
            0,
            1,
            Content::INLINE - 1,
            Content::INLINE,
            Content::INLINE + 1,
            100,
        ] {
            let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let inline = IString::from(&data[..]);
            let shared = IString::new(Bytes::from(data.clone()));
            assert_eq!(
                matches!(inline.0, Content::Inline { .. }),
                len <= Content::INLINE,
                "{len}"
            );
            assert!(matches!(shared.0, Content::Shared(_)));
            assert_eq!(inline.as_bytes(), &data[..]);
            assert_eq!(inline, shared);
            assert_eq!(hash_of(&inline), hash_of(&shared));
            assert_eq!(inline.to_bytes(), shared.to_bytes());
            assert_eq!(inline.len(), len);
            assert_eq!(format!("{inline:?}"), format!("{shared:?}"));
            assert_eq!(AString::from(inline.clone()).as_bytes(), &data[..]);
        }
        assert_ne!(IString::from("abc"), IString::from("abd"));
        assert_eq!(IString::default(), IString::from(""));
    }
}
