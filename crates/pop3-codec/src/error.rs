//! Errors: validation of values, and decoding of byte streams.
//!
//! "Need more bytes" is never an error: decoders return `Ok(None)` for it. A [`DecodeError`]
//! means the peer sent something we cannot accept; the decoder has already skipped the bad
//! message (or is skipping it), so the caller may report the error and keep decoding.

/// Why a value could not be built: returned by the validating constructors of the types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value must not be empty.
    #[error("{what} is empty")]
    Empty {
        /// The kind of value being built (`"user name"`, `"message number"`, ...).
        what: &'static str,
    },
    /// The value is longer than the protocol allows.
    #[error("{what} is {len} octets long, more than the limit of {max}")]
    TooLong {
        /// The kind of value being built.
        what: &'static str,
        /// Its length in octets.
        len: usize,
        /// The limit in octets.
        max: usize,
    },
    /// The value contains an octet that is not allowed there (CR, LF, NUL, a space, ...).
    #[error("{what} contains the forbidden octet {byte:#04x} at position {position}")]
    ForbiddenOctet {
        /// The kind of value being built.
        what: &'static str,
        /// The offending octet (never a secret: only forbidden octets are reported).
        byte: u8,
        /// Its position in the value.
        position: usize,
    },
    /// The value does not follow its syntax (a number, hex digest, base64 ...).
    #[error("{what} is not valid: {reason}")]
    Invalid {
        /// The kind of value being built.
        what: &'static str,
        /// What rule was broken.
        reason: &'static str,
    },
}

/// A decoding failure: where it happened, what was wrong and a short excerpt of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset} (near {excerpt})")]
pub struct DecodeError {
    offset: u64,
    kind: DecodeErrorKind,
    excerpt: Excerpt,
}

impl DecodeError {
    pub(crate) fn new(offset: u64, kind: DecodeErrorKind, excerpt: Excerpt) -> Self {
        tracing::debug!(offset, %kind, "POP3 decode error");
        Self {
            offset,
            kind,
            excerpt,
        }
    }

    /// Position of the problem, counted in octets from the start of the stream this decoder
    /// has seen (all octets consumed so far plus the position inside the current buffer).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// A short, escaped excerpt of the input at the problem (never the whole buffer; lines
    /// that may carry credentials are redacted).
    pub fn excerpt(&self) -> &Excerpt {
        &self.excerpt
    }
}

/// What was wrong with the input. Every kind leaves the decoder in sync with the stream: the
/// offending line, listing or body is (or is being) skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// A line (command, status line or listing entry) is longer than the configured limit.
    /// The rest of the line is discarded as it arrives.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The configured limit in octets.
        limit: usize,
    },
    /// A multi-line body (RETR, TOP) is larger than the configured limit. The rest of the
    /// body is discarded as it arrives, up to its terminating `CRLF.CRLF`.
    #[error("multi-line body larger than {limit} octets")]
    BodyTooLarge {
        /// The configured limit in octets.
        limit: u64,
    },
    /// A multi-line listing (LIST, UIDL, CAPA) has more entries than the configured limit.
    /// The rest of the listing is discarded.
    #[error("multi-line listing with more than {limit} entries")]
    TooManyEntries {
        /// The configured limit.
        limit: usize,
    },
    /// A NUL octet in a line: never valid in POP3 commands or response lines.
    #[error("NUL octet in a line")]
    NulOctet,
    /// A line that does not follow the grammar of what was expected (`what` names it, e.g.
    /// `"status line"`, `"STAT reply"`, `"scan listing"`).
    #[error("malformed {what}")]
    Malformed {
        /// The grammar element that was expected.
        what: &'static str,
    },
    /// A command keyword this codec does not know. A server should answer `-ERR`.
    #[error("unknown command")]
    UnknownCommand,
    /// A known command with a missing, extra or invalid argument.
    #[error("bad argument: {0}")]
    BadArgument(ValidationError),
    /// A response arrived while no command was outstanding (see
    /// [`ResponseDecoder::expect`](crate::ResponseDecoder::expect)).
    #[error("response with no command outstanding")]
    Unexpected,
}

pub use inbound_wire::Excerpt;
