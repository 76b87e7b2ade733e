//! Client commands (RFC 3501 section 6, RFC 9051 section 6, and the extensions named on
//! each variant).

use super::core::{AString, IString, Literal, NString, Redacted, Tag};
use super::datetime::DateTime;
use super::fetch::MacroOrItems;
use super::flag::{Flag, StoreResponse, StoreType};
use super::mailbox::{ListMailbox, Mailbox};
use super::response::{AuthMechanism, Capability};
use super::search::{SearchKey, SearchReturnOption};
use super::sequence::SequenceSet;
use super::status::StatusAttribute;

/// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag the server will answer with.
    pub tag: Tag,
    /// The command.
    pub body: CommandBody,
}

impl Command {
    /// Pairs a tag with a command.
    pub fn new(tag: Tag, body: CommandBody) -> Self {
        Self { tag, body }
    }
}

/// The command proper. Secrets (LOGIN password, SASL initial response) print as
/// `[redacted]` in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `STARTTLS`
    StartTls,
    /// `LOGIN userid password`
    Login {
        /// The user name.
        username: AString,
        /// The password.
        password: Redacted<AString>,
    },
    /// `AUTHENTICATE mechanism [SP initial-response]` (SASL-IR, RFC 4959). The initial
    /// response is the decoded data; an empty one is sent as `=`.
    Authenticate {
        /// The SASL mechanism.
        mechanism: AuthMechanism,
        /// The initial client response, if sent with the command.
        initial_response: Option<Redacted<Vec<u8>>>,
    },
    /// `ENABLE capability...` (RFC 5161)
    Enable {
        /// The capabilities to enable (at least one).
        capabilities: Vec<Capability>,
    },
    /// `ID (field value ...)` or `ID NIL` (RFC 2971)
    Id {
        /// Field/value pairs; `None` is NIL.
        parameters: Option<Vec<(IString, NString)>>,
    },
    /// `SELECT mailbox [(CONDSTORE)]`
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// The `(CONDSTORE)` select parameter (RFC 7162).
        condstore: bool,
    },
    /// `EXAMINE mailbox [(CONDSTORE)]`
    Examine {
        /// The mailbox.
        mailbox: Mailbox,
        /// The `(CONDSTORE)` select parameter (RFC 7162).
        condstore: bool,
    },
    /// `CREATE mailbox`
    Create {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `DELETE mailbox`
    Delete {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `RENAME from to`
    Rename {
        /// The existing mailbox.
        from: Mailbox,
        /// The new name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `LIST reference pattern`
    List {
        /// The reference name (often empty).
        reference: Mailbox,
        /// The pattern with `*`/`%` wildcards.
        pattern: ListMailbox,
    },
    /// `LSUB reference pattern`
    Lsub {
        /// The reference name.
        reference: Mailbox,
        /// The pattern.
        pattern: ListMailbox,
    },
    /// `STATUS mailbox (attributes)`
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// What to report (at least one).
        attributes: Vec<StatusAttribute>,
    },
    /// `APPEND mailbox [flags] [date-time] literal`
    Append {
        /// The destination.
        mailbox: Mailbox,
        /// Flags to set.
        flags: Vec<Flag>,
        /// INTERNALDATE to set.
        date: Option<DateTime>,
        /// The message.
        message: Literal,
    },
    /// `CHECK` (IMAP4rev1)
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT` (RFC 3691, IMAP4rev2)
    Unselect,
    /// `EXPUNGE`
    Expunge,
    /// `UID EXPUNGE sequence-set` (RFC 4315)
    UidExpunge {
        /// The UIDs to expunge (only those with `\Deleted`).
        uids: SequenceSet,
    },
    /// `[UID] SEARCH [RETURN (...)] [CHARSET charset] criteria`
    Search {
        /// ESEARCH return options (RFC 4731); `None` for a classic SEARCH.
        return_options: Option<Vec<SearchReturnOption>>,
        /// The charset of string criteria.
        charset: Option<AString>,
        /// The criteria, ANDed (at least one).
        criteria: Vec<SearchKey>,
        /// `UID SEARCH`.
        uid: bool,
    },
    /// `[UID] FETCH sequence-set items [(CHANGEDSINCE n)]`
    Fetch {
        /// The messages.
        sequence_set: SequenceSet,
        /// What to fetch.
        items: MacroOrItems,
        /// `(CHANGEDSINCE n)` (RFC 7162).
        changed_since: Option<u64>,
        /// `UID FETCH`.
        uid: bool,
    },
    /// `[UID] STORE sequence-set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (flags)`
    Store {
        /// The messages.
        sequence_set: SequenceSet,
        /// Replace, add or remove.
        kind: StoreType,
        /// Whether to answer with FETCH responses.
        response: StoreResponse,
        /// The flags.
        flags: Vec<Flag>,
        /// `(UNCHANGEDSINCE n)` (RFC 7162).
        unchanged_since: Option<u64>,
        /// `UID STORE`.
        uid: bool,
    },
    /// `[UID] COPY sequence-set mailbox`
    Copy {
        /// The messages.
        sequence_set: SequenceSet,
        /// The destination.
        mailbox: Mailbox,
        /// `UID COPY`.
        uid: bool,
    },
    /// `[UID] MOVE sequence-set mailbox` (RFC 6851)
    Move {
        /// The messages.
        sequence_set: SequenceSet,
        /// The destination.
        mailbox: Mailbox,
        /// `UID MOVE`.
        uid: bool,
    },
    /// `IDLE` (RFC 2177); ended by [`IdleDone`].
    Idle,
}

impl CommandBody {
    /// The command's name as sent (e.g. `UID FETCH`), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::StartTls => "STARTTLS",
            Self::Login { .. } => "LOGIN",
            Self::Authenticate { .. } => "AUTHENTICATE",
            Self::Enable { .. } => "ENABLE",
            Self::Id { .. } => "ID",
            Self::Select { .. } => "SELECT",
            Self::Examine { .. } => "EXAMINE",
            Self::Create { .. } => "CREATE",
            Self::Delete { .. } => "DELETE",
            Self::Rename { .. } => "RENAME",
            Self::Subscribe { .. } => "SUBSCRIBE",
            Self::Unsubscribe { .. } => "UNSUBSCRIBE",
            Self::List { .. } => "LIST",
            Self::Lsub { .. } => "LSUB",
            Self::Status { .. } => "STATUS",
            Self::Append { .. } => "APPEND",
            Self::Check => "CHECK",
            Self::Close => "CLOSE",
            Self::Unselect => "UNSELECT",
            Self::Expunge => "EXPUNGE",
            Self::UidExpunge { .. } => "UID EXPUNGE",
            Self::Search { uid: false, .. } => "SEARCH",
            Self::Search { uid: true, .. } => "UID SEARCH",
            Self::Fetch { uid: false, .. } => "FETCH",
            Self::Fetch { uid: true, .. } => "UID FETCH",
            Self::Store { uid: false, .. } => "STORE",
            Self::Store { uid: true, .. } => "UID STORE",
            Self::Copy { uid: false, .. } => "COPY",
            Self::Copy { uid: true, .. } => "UID COPY",
            Self::Move { uid: false, .. } => "MOVE",
            Self::Move { uid: true, .. } => "UID MOVE",
            Self::Idle => "IDLE",
        }
    }
}

/// A client line during AUTHENTICATE: `authenticate = ... *(CRLF base64)`; the client
/// answers each `+` challenge with base64 data or `*` to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticateData {
    /// The decoded response data (an empty line is empty data).
    Continue(Redacted<Vec<u8>>),
    /// `*`: the client cancels the exchange.
    Cancel,
}

/// `idle = "IDLE" CRLF *(response) "DONE"`: the line that ends IDLE (RFC 2177).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdleDone;
