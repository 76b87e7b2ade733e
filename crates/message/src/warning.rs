//! The kinds of [`Warning`] the parser records.

use crate::model::Warning;

impl Warning {
    /// mail-parser found no header section it could read; `raw` is kept, the rest is empty.
    pub const UNPARSABLE: &'static str = "unparsable";
    /// The message is empty (zero bytes).
    pub const EMPTY: &'static str = "empty";
    /// The message has a body but no header fields.
    pub const NO_HEADERS: &'static str = "no-headers";
    /// There is no Date header.
    pub const MISSING_DATE: &'static str = "missing-date";
    /// The Date header could not be read as an RFC 5322 date.
    pub const BAD_DATE: &'static str = "bad-date";
    /// There is no Message-ID header.
    pub const MISSING_MESSAGE_ID: &'static str = "missing-message-id";
    /// The Message-ID header is present but holds no id.
    pub const BAD_MESSAGE_ID: &'static str = "bad-message-id";
    /// There is no From header (required by RFC 5322).
    pub const MISSING_FROM: &'static str = "missing-from";
    /// A header holds 8-bit bytes that are not UTF-8; they were read as Latin-1.
    pub const BAD_HEADER_ENCODING: &'static str = "bad-header-encoding";
    /// A text part names a charset that is not known; it was read as UTF-8 (lossy).
    pub const BAD_CHARSET: &'static str = "bad-charset";
    /// A MIME part could not be decoded as declared (bad base64, missing boundary, ...);
    /// its raw content was kept as text.
    pub const BROKEN_MIME: &'static str = "broken-mime";
    /// The message has more MIME parts than [`Email::MAX_PARTS`](crate::Email::MAX_PARTS);
    /// only the first ones were read, the rest is kept in the raw message.
    pub const TOO_MANY_PARTS: &'static str = "too-many-parts";

    /// A warning of `kind` (one of the constants above) with a human-readable `detail`.
    pub fn new(kind: &str, detail: impl Into<String>) -> Self {
        Warning {
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }
}
