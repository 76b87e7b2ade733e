//! Server responses (RFC 3501 section 7, RFC 9051 section 7).

use std::num::NonZeroU32;

use bytes::Bytes;

use super::core::{Atom, IString, NString, Tag, Text};
use super::fetch::MessageDataItem;
use super::flag::{Flag, FlagPerm};
use super::mailbox::{ListItem, Mailbox};
use super::sequence::SequenceSet;
use super::status::StatusItem;

/// The server's first message: `greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// OK, PREAUTH or BYE.
    pub kind: GreetingKind,
    /// The optional response code, e.g. `[CAPABILITY ...]`.
    pub code: Option<Code>,
    /// Human-readable text.
    pub text: Text,
}

/// The kind of greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingKind {
    /// Not authenticated yet.
    Ok,
    /// Already authenticated (e.g. by the transport).
    PreAuth,
    /// The server refuses the connection.
    Bye,
}

/// Any message a server sends after the greeting: `response-data / response-tagged /
/// response-fatal / continue-req`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A status response (tagged or untagged OK/NO/BAD, or BYE).
    Status(Status),
    /// Untagged data.
    Data(Data),
    /// `continue-req = "+" SP (resp-text / base64) CRLF`.
    Continue(Continue),
}

/// Status responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `response-tagged = tag SP resp-cond-state CRLF`: completes a command.
    Tagged {
        /// The command's tag.
        tag: Tag,
        /// OK, NO or BAD with code and text.
        body: StatusBody,
    },
    /// `"*" SP resp-cond-state CRLF`: untagged OK/NO/BAD.
    Untagged(StatusBody),
    /// `resp-cond-bye = "BYE" SP resp-text`: the server closes the connection.
    Bye {
        /// The optional response code.
        code: Option<Code>,
        /// Human-readable text.
        text: Text,
    },
}

/// `resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBody {
    /// OK, NO or BAD.
    pub kind: StatusKind,
    /// The optional response code.
    pub code: Option<Code>,
    /// Human-readable text (may be empty with [`Quirks::code_without_text`](crate::Quirks)).
    pub text: Text,
}

/// The three status conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// Success.
    Ok,
    /// Operational failure.
    No,
    /// Protocol error.
    Bad,
}

/// A response code: `resp-text-code` (RFC 3501, 4315, 7162, 9051). Codes that fail to parse
/// as their known form, and unknown codes, are kept as [`Code::Other`], never rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `ALERT`: show the text to the user.
    Alert,
    /// `BADCHARSET [(charsets)]`.
    BadCharset(Vec<IString>),
    /// `CAPABILITY ...`.
    Capability(Vec<Capability>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<FlagPerm>),
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `HIGHESTMODSEQ n` (RFC 7162).
    HighestModSeq(u64),
    /// `NOMODSEQ` (RFC 7162).
    NoModSeq,
    /// `APPENDUID uidvalidity uid-set` (RFC 4315).
    AppendUid {
        /// The destination's UIDVALIDITY.
        uid_validity: u32,
        /// The UIDs given to the appended messages.
        uids: SequenceSet,
    },
    /// `COPYUID uidvalidity source-set dest-set` (RFC 4315, also sent by MOVE).
    CopyUid {
        /// The destination's UIDVALIDITY.
        uid_validity: u32,
        /// The source UIDs.
        source: SequenceSet,
        /// The destination UIDs, in the same order.
        destination: SequenceSet,
    },
    /// `UIDNOTSTICKY` (RFC 4315).
    UidNotSticky,
    /// `CLOSED` (RFC 7162): the previous mailbox is closed.
    Closed,
    /// Any other code: `atom [SP 1*<any TEXT-CHAR except "]">]`.
    Other {
        /// The code's name.
        name: Atom,
        /// The rest, raw, if any.
        value: Option<Bytes>,
    },
}

/// A capability name (`capability = ("AUTH=" auth-type) / atom`). Well-known ones are
/// variants; compare with `==`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `IMAP4rev1`
    Imap4Rev1,
    /// `IMAP4rev2`
    Imap4Rev2,
    /// `AUTH=<mechanism>`
    Auth(AuthMechanism),
    /// `LOGINDISABLED`
    LoginDisabled,
    /// `STARTTLS`
    StartTls,
    /// `IDLE` (RFC 2177)
    Idle,
    /// `LITERAL+` (RFC 7888)
    LiteralPlus,
    /// `LITERAL-` (RFC 7888)
    LiteralMinus,
    /// `MOVE` (RFC 6851)
    Move,
    /// `UIDPLUS` (RFC 4315)
    UidPlus,
    /// `ENABLE` (RFC 5161)
    Enable,
    /// `ID` (RFC 2971)
    Id,
    /// `SASL-IR` (RFC 4959)
    SaslIr,
    /// `CONDSTORE` (RFC 7162)
    CondStore,
    /// `QRESYNC` (RFC 7162)
    QResync,
    /// `ESEARCH` (RFC 4731)
    ESearch,
    /// `BINARY` (RFC 3516)
    Binary,
    /// `UTF8=ACCEPT` (RFC 6855)
    Utf8Accept,
    /// Anything else.
    Other(Atom),
}

impl Capability {
    /// Classifies an atom (case-insensitive).
    pub fn from_atom(atom: Atom) -> Self {
        let b = atom.as_bytes();
        if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"AUTH=") {
            let mech = Atom::new_unchecked(atom.clone().into_bytes().slice(5..));
            return Self::Auth(AuthMechanism::from_atom(mech));
        }
        const KNOWN: [(&str, Capability); 17] = [
            ("IMAP4rev1", Capability::Imap4Rev1),
            ("IMAP4rev2", Capability::Imap4Rev2),
            ("LOGINDISABLED", Capability::LoginDisabled),
            ("STARTTLS", Capability::StartTls),
            ("IDLE", Capability::Idle),
            ("LITERAL+", Capability::LiteralPlus),
            ("LITERAL-", Capability::LiteralMinus),
            ("MOVE", Capability::Move),
            ("UIDPLUS", Capability::UidPlus),
            ("ENABLE", Capability::Enable),
            ("ID", Capability::Id),
            ("SASL-IR", Capability::SaslIr),
            ("CONDSTORE", Capability::CondStore),
            ("QRESYNC", Capability::QResync),
            ("ESEARCH", Capability::ESearch),
            ("BINARY", Capability::Binary),
            ("UTF8=ACCEPT", Capability::Utf8Accept),
        ];
        for (name, cap) in KNOWN {
            if b.eq_ignore_ascii_case(name.as_bytes()) {
                return cap;
            }
        }
        Self::Other(atom)
    }

    /// The capability's name as sent on the wire.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        Cow::Borrowed(match self {
            Self::Imap4Rev1 => "IMAP4rev1",
            Self::Imap4Rev2 => "IMAP4rev2",
            Self::Auth(m) => return Cow::Owned(format!("AUTH={}", m.name())),
            Self::LoginDisabled => "LOGINDISABLED",
            Self::StartTls => "STARTTLS",
            Self::Idle => "IDLE",
            Self::LiteralPlus => "LITERAL+",
            Self::LiteralMinus => "LITERAL-",
            Self::Move => "MOVE",
            Self::UidPlus => "UIDPLUS",
            Self::Enable => "ENABLE",
            Self::Id => "ID",
            Self::SaslIr => "SASL-IR",
            Self::CondStore => "CONDSTORE",
            Self::QResync => "QRESYNC",
            Self::ESearch => "ESEARCH",
            Self::Binary => "BINARY",
            Self::Utf8Accept => "UTF8=ACCEPT",
            Self::Other(a) => a.as_str(),
        })
    }
}

impl TryFrom<&str> for Capability {
    type Error = super::core::ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Ok(Self::from_atom(Atom::try_from(value)?))
    }
}

/// A SASL mechanism name (`auth-type = atom`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// `PLAIN` (RFC 4616)
    Plain,
    /// `LOGIN`
    Login,
    /// `XOAUTH2` (Google, Microsoft)
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628)
    OAuthBearer,
    /// Anything else.
    Other(Atom),
}

impl AuthMechanism {
    /// Classifies an atom (case-insensitive).
    pub fn from_atom(atom: Atom) -> Self {
        let b = atom.as_bytes();
        if b.eq_ignore_ascii_case(b"PLAIN") {
            Self::Plain
        } else if b.eq_ignore_ascii_case(b"LOGIN") {
            Self::Login
        } else if b.eq_ignore_ascii_case(b"XOAUTH2") {
            Self::XOAuth2
        } else if b.eq_ignore_ascii_case(b"OAUTHBEARER") {
            Self::OAuthBearer
        } else {
            Self::Other(atom)
        }
    }

    /// The mechanism's name as sent on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
            Self::Other(a) => a.as_str(),
        }
    }
}

impl TryFrom<&str> for AuthMechanism {
    type Error = super::core::ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Ok(Self::from_atom(Atom::try_from(value)?))
    }
}

/// Untagged data (`response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data /
/// message-data / capability-data / enable-data / id-response) CRLF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `CAPABILITY ...`
    Capability(Vec<Capability>),
    /// `ENABLED ...` (RFC 5161)
    Enabled(Vec<Capability>),
    /// `ID (...)` or `ID NIL` (RFC 2971): field/value pairs.
    Id(Option<Vec<(IString, NString)>>),
    /// `LIST ...`
    List(ListItem),
    /// `LSUB ...`
    Lsub(ListItem),
    /// `STATUS mailbox (items)`
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Its status items.
        items: Vec<StatusItem>,
    },
    /// `FLAGS (...)`: flags defined in the mailbox.
    Flags(Vec<Flag>),
    /// `n EXISTS`
    Exists(u32),
    /// `n RECENT`
    Recent(u32),
    /// `n EXPUNGE`
    Expunge(NonZeroU32),
    /// `SEARCH n...` with the CONDSTORE `(MODSEQ n)` suffix if present.
    Search {
        /// Matching sequence numbers or UIDs.
        ids: Vec<NonZeroU32>,
        /// The highest mod-sequence of the matches (RFC 7162).
        modseq: Option<u64>,
    },
    /// `ESEARCH` (RFC 4731).
    ESearch(ESearch),
    /// `VANISHED [(EARLIER)] uids` (RFC 7162 QRESYNC): these UIDs were expunged.
    Vanished {
        /// `(EARLIER)`: an answer to a FETCH or SELECT, not a new expunge.
        earlier: bool,
        /// The expunged UIDs.
        uids: SequenceSet,
    },
    /// `n FETCH (...)`
    Fetch {
        /// The message sequence number.
        seq: NonZeroU32,
        /// The returned items.
        items: Vec<MessageDataItem>,
    },
}

/// `esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ESearch {
    /// The tag of the SEARCH command (`(TAG "a1")`), if given.
    pub tag: Option<Tag>,
    /// Whether the numbers are UIDs.
    pub uid: bool,
    /// The returned data.
    pub items: Vec<ESearchItem>,
}

/// `search-return-data` (RFC 4731, RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ESearchItem {
    /// `MIN n`
    Min(u32),
    /// `MAX n`
    Max(u32),
    /// `COUNT n`
    Count(u32),
    /// `ALL sequence-set`
    All(SequenceSet),
    /// `MODSEQ n`
    ModSeq(u64),
}

/// A continuation request, `"+" SP (resp-text / base64)`: the server waits for a literal or
/// for SASL data. The text is kept as sent; during AUTHENTICATE use [`Continue::base64_data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    /// The optional response code.
    pub code: Option<Code>,
    /// The text (base64 during AUTHENTICATE).
    pub text: Text,
}

impl Continue {
    /// A `+ <text>` continuation.
    pub fn text(text: Text) -> Self {
        Self { code: None, text }
    }

    /// A `+ <base64>` SASL challenge carrying `data`.
    pub fn base64(data: &[u8]) -> Self {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(data);
        Self {
            code: None,
            text: Text::new_unchecked(Bytes::from(enc)),
        }
    }

    /// Decodes the text as a base64 SASL challenge; `None` if it is not base64. An empty
    /// text is an empty challenge.
    pub fn base64_data(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        if self.code.is_some() {
            return None;
        }
        base64::engine::general_purpose::STANDARD
            .decode(self.text.as_bytes().trim_ascii())
            .ok()
    }
}
