//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 section 7.4.2, `envelope`, `body`).

use super::core::{IString, NString};

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
/// env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"`.
/// Address lists that are NIL are empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The Date header, raw.
    pub date: NString,
    /// The Subject header, raw (may contain RFC 2047 encoded words).
    pub subject: NString,
    /// From.
    pub from: Vec<Address>,
    /// Sender.
    pub sender: Vec<Address>,
    /// Reply-To.
    pub reply_to: Vec<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc.
    pub bcc: Vec<Address>,
    /// In-Reply-To, raw.
    pub in_reply_to: NString,
    /// Message-ID, raw.
    pub message_id: NString,
}

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`. A NIL host marks
/// the start (mailbox = group name) or end (mailbox NIL) of an RFC 5322 group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name.
    pub name: NString,
    /// Source route (obsolete).
    pub adl: NString,
    /// Local part (or group name).
    pub mailbox: NString,
    /// Domain.
    pub host: NString,
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStructure {
    /// A leaf part.
    Single {
        /// The part's fields.
        body: Body,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<SinglePartExtension>,
    },
    /// A multipart.
    Multi {
        /// The children (at least one).
        bodies: Vec<BodyStructure>,
        /// The multipart subtype, e.g. `MIXED`.
        subtype: IString,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<MultiPartExtension>,
    },
}

/// A leaf part's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// `body-fields`.
    pub basic: BasicFields,
    /// The type-specific fields.
    pub specific: SpecificFields,
}

/// `body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
/// body-fld-octets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicFields {
    /// Content-Type parameters (NIL is empty; a NIL value is empty with
    /// [`Quirks::nil_param_value`](crate::Quirks)).
    pub parameters: Vec<(IString, IString)>,
    /// Content-ID.
    pub id: NString,
    /// Content-Description.
    pub description: NString,
    /// Content-Transfer-Encoding.
    pub content_transfer_encoding: IString,
    /// Size in octets (in the transfer encoding).
    pub size: u32,
}

/// The type-specific part of a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecificFields {
    /// `body-type-basic = media-basic SP body-fields`.
    Basic {
        /// Media type, e.g. `APPLICATION`.
        r#type: IString,
        /// Media subtype.
        subtype: IString,
    },
    /// `body-type-msg`: a `MESSAGE/RFC822` (or `MESSAGE/GLOBAL`) part.
    Message {
        /// Media subtype (`RFC822` or `GLOBAL`).
        subtype: IString,
        /// The inner message's envelope.
        envelope: Box<Envelope>,
        /// The inner message's structure.
        body_structure: Box<BodyStructure>,
        /// Size in text lines.
        number_of_lines: u32,
    },
    /// `body-type-text = media-text SP body-fields SP body-fld-lines`.
    Text {
        /// Media subtype, e.g. `PLAIN`.
        subtype: IString,
        /// Size in text lines (a negative count from a server is 0 with
        /// [`Quirks::negative_body_lines`](crate::Quirks)).
        number_of_lines: u32,
    },
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// `inline`, `attachment`...
    pub kind: IString,
    /// Its parameters, e.g. `filename`.
    pub parameters: Vec<(IString, IString)>,
}

/// `body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
/// *(SP body-extension)]]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SinglePartExtension {
    /// Content-MD5.
    pub md5: NString,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language (empty when NIL or absent).
    pub language: Vec<IString>,
    /// Content-Location.
    pub location: NString,
    /// Future extensions.
    pub extensions: Vec<BodyExtension>,
}

/// `body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
/// *(SP body-extension)]]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiPartExtension {
    /// Content-Type parameters, e.g. `boundary`.
    pub parameters: Vec<(IString, IString)>,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language (empty when NIL or absent).
    pub language: Vec<IString>,
    /// Content-Location.
    pub location: NString,
    /// Future extensions.
    pub extensions: Vec<BodyExtension>,
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyExtension {
    /// A string or NIL.
    NString(NString),
    /// A number.
    Number(u32),
    /// A list (non-empty).
    List(Vec<BodyExtension>),
}

impl BodyStructure {
    /// The media type and subtype, upper-cased, e.g. `("TEXT", "PLAIN")` or
    /// `("MULTIPART", "MIXED")`.
    pub fn media_type(&self) -> (String, String) {
        let up = |s: &IString| s.to_string_lossy().to_ascii_uppercase();
        match self {
            Self::Multi { subtype, .. } => ("MULTIPART".into(), up(subtype)),
            Self::Single { body, .. } => match &body.specific {
                SpecificFields::Basic { r#type, subtype } => (up(r#type), up(subtype)),
                SpecificFields::Message { subtype, .. } => ("MESSAGE".into(), up(subtype)),
                SpecificFields::Text { subtype, .. } => ("TEXT".into(), up(subtype)),
            },
        }
    }
}
