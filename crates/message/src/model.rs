//! The parsed email model shared by the parser, the store and the CLI.
//!
//! These types are plain data: every field is owned, so an [`Email`] outlives the buffer it was
//! parsed from and can be stored, sent across tasks or serialized.

use bytes::Bytes;

/// One mailbox address: `"Display Name" <local@domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// The display name, decoded (RFC 2047), if any.
    pub name: Option<String>,
    /// The address itself (`local@domain`); empty when a group or malformed entry had none.
    pub address: String,
}

/// One header field as it appeared, name and value (value decoded to text where possible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name as written (case preserved).
    pub name: String,
    /// The field value with encoded words decoded and folding removed.
    pub value: String,
}

/// An attachment or inline part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name (Content-Disposition `filename` or Content-Type `name`), decoded, whole.
    pub filename: Option<String>,
    /// The media type, e.g. `image/png`, whole as sent (parameters dropped).
    pub content_type: String,
    /// The Content-ID without angle brackets, if any (used by `cid:` references).
    pub content_id: Option<String>,
    /// True when the part is meant to be shown inline (Content-Disposition inline or referenced
    /// by a `cid:` URL in the HTML body).
    pub inline: bool,
    /// The decoded content (transfer encoding removed).
    pub content: Bytes,
}

impl Attachment {
    /// The decoded size in bytes.
    pub fn size(&self) -> usize {
        self.content.len()
    }
}

/// Something wrong with a message that did not stop it from being kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// A short machine-readable kind, e.g. `unparsable`, `missing-date`, `bad-charset`.
    pub kind: String,
    /// A human-readable description.
    pub detail: String,
}

/// A parsed email. The raw bytes are always kept, even when parsing failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Email {
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The subject, decoded.
    pub subject: Option<String>,
    /// From addresses.
    pub from: Vec<Address>,
    /// The Sender address.
    pub sender: Option<Address>,
    /// Reply-To addresses.
    pub reply_to: Vec<Address>,
    /// To addresses.
    pub to: Vec<Address>,
    /// Cc addresses.
    pub cc: Vec<Address>,
    /// Bcc addresses.
    pub bcc: Vec<Address>,
    /// The Date header as seconds since the Unix epoch (UTC), if present and valid.
    pub date: Option<i64>,
    /// In-Reply-To message ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References message ids, without angle brackets.
    pub references: Vec<String>,
    /// Every header field in order.
    pub headers: Vec<Header>,
    /// The plain-text body, if the message has one.
    pub text: Option<String>,
    /// The HTML body as sent (unsanitized), if the message has one.
    pub html: Option<String>,
    /// Attachments and inline parts, in message order.
    pub attachments: Vec<Attachment>,
    /// Problems met while parsing; the message is kept regardless.
    pub warnings: Vec<Warning>,
    /// The raw message exactly as received.
    pub raw: Bytes,
}
