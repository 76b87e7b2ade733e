//! FETCH: what a command asks for (`fetch-att`) and what the server returns (`msg-att`).

use std::num::NonZeroU32;

use bytes::Bytes;

use super::body::{BodyStructure, Envelope};
use super::core::{AString, NString, ValidationError};
use super::datetime::DateTime;
use super::flag::FlagFetch;

/// The FETCH macros `ALL`, `FAST` and `FULL`, or a list of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroOrItems {
    /// A macro.
    Macro(Macro),
    /// A single item or a parenthesized list (one item is encoded without parentheses).
    Items(Vec<FetchAttribute>),
}

/// FETCH macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Macro {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`
    Full,
}

/// `fetch-att`: one item a FETCH command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// `UID`
    Uid,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `ENVELOPE`
    Envelope,
    /// `BODY` (structure without extension data)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `BODY[section]<partial>` or `BODY.PEEK[section]<partial>`.
    BodyExt {
        /// The section; `None` is the whole message (`BODY[]`).
        section: Option<Section>,
        /// `<offset.length>`.
        partial: Option<(u32, NonZeroU32)>,
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
    },
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// The part numbers (empty: whole message).
        section: Vec<NonZeroU32>,
        /// `<offset.length>`.
        partial: Option<(u32, NonZeroU32)>,
        /// `.PEEK`.
        peek: bool,
    },
    /// `BINARY.SIZE[part]` (RFC 3516).
    BinarySize {
        /// The part numbers.
        section: Vec<NonZeroU32>,
    },
    /// `RFC822`
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.TEXT`
    Rfc822Text,
    /// `MODSEQ` (RFC 7162)
    ModSeq,
}

/// `section-spec = section-msgtext / (section-part ["." section-text])`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Section {
    part: Vec<NonZeroU32>,
    text: Option<SectionText>,
}

impl Section {
    /// Builds a section; `MIME` needs a part number, and a section needs a part or a text.
    pub fn new(part: Vec<NonZeroU32>, text: Option<SectionText>) -> Result<Self, ValidationError> {
        if matches!(text, Some(SectionText::Mime)) && part.is_empty() {
            return Err(ValidationError::Invalid {
                what: "section",
                reason: "MIME needs a part",
            });
        }
        if part.is_empty() && text.is_none() {
            return Err(ValidationError::Empty { what: "section" });
        }
        Ok(Self { part, text })
    }
    /// The part numbers, e.g. `[1, 2]` for `1.2` (empty: the whole message).
    pub fn part(&self) -> &[NonZeroU32] {
        &self.part
    }
    /// The text specifier (HEADER, TEXT, MIME, HEADER.FIELDS ...).
    pub fn text(&self) -> Option<&SectionText> {
        self.text.as_ref()
    }
    /// `HEADER`.
    pub fn header() -> Self {
        Self {
            part: Vec::new(),
            text: Some(SectionText::Header),
        }
    }
    /// `TEXT`.
    pub fn text_only() -> Self {
        Self {
            part: Vec::new(),
            text: Some(SectionText::Text),
        }
    }
}

/// `section-text = section-msgtext / "MIME"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (names)`
    HeaderFields(Vec<AString>),
    /// `HEADER.FIELDS.NOT (names)`
    HeaderFieldsNot(Vec<AString>),
    /// `TEXT`
    Text,
    /// `MIME`
    Mime,
}

/// `msg-att`: one item of a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageDataItem {
    /// `UID n`
    Uid(NonZeroU32),
    /// `FLAGS (...)`
    Flags(Vec<FlagFetch>),
    /// `INTERNALDATE "..."`
    InternalDate(DateTime),
    /// `RFC822.SIZE n`
    Rfc822Size(u32),
    /// `ENVELOPE (...)`
    Envelope(Box<Envelope>),
    /// `BODY (...)`: structure without extension data.
    Body(Box<BodyStructure>),
    /// `BODYSTRUCTURE (...)`
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin> nstring`. The data is a slice of the input buffer.
    BodyExt {
        /// The section; `None` is `BODY[]`.
        section: Option<Section>,
        /// The `<origin>` octet of a partial fetch.
        origin: Option<u32>,
        /// The data (NIL is `None`).
        data: NString,
    },
    /// `BINARY[part]<origin> (nstring / literal8)` (RFC 3516).
    Binary {
        /// The part numbers.
        section: Vec<NonZeroU32>,
        /// The `<origin>` octet, if partial.
        origin: Option<u32>,
        /// The decoded data (NIL is `None`); may contain NUL.
        data: Option<Bytes>,
    },
    /// `BINARY.SIZE[part] n` (RFC 3516).
    BinarySize {
        /// The part numbers.
        section: Vec<NonZeroU32>,
        /// The decoded size.
        size: u32,
    },
    /// `RFC822 nstring`
    Rfc822(NString),
    /// `RFC822.HEADER nstring`
    Rfc822Header(NString),
    /// `RFC822.TEXT nstring`
    Rfc822Text(NString),
    /// `MODSEQ (n)` (RFC 7162)
    ModSeq(u64),
}
