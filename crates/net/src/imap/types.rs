//! The values the IMAP client hands out.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use inbound_imap_codec::types::{
    Code, Data, DateTime, Flag, FlagFetch, FlagPerm, MessageDataItem, Response, SequenceSet,
    Status, StatusKind,
};
use inbound_imap_codec::{FramerConfig, Quirks};

use crate::sasl::{CredentialsKind, Mechanism};
use crate::tls::{MailProtocol, Security, TlsConfig};
use crate::transport::Timeouts;

/// Default [`ImapConfig::max_line_len`]: 8 KiB per command line, well under every known
/// server limit (Dovecot 64 KB, Exchange less).
pub const DEFAULT_MAX_LINE_LEN: usize = 8 * 1024;
/// Default [`ImapConfig::max_message_size`]: 64 MiB for one server message (a FETCH
/// response with its literals).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Default [`ImapConfig::idle_renewal`]: 5 minutes. Each renewal sends `DONE` and must see
/// IDLE's tagged completion within the response timeout, so a connection that went silent
/// (a middlebox that forgot it without a FIN or RST) is noticed within 5 minutes plus that
/// timeout; well under the 29 minutes after which RFC 2177 lets a server drop an idle
/// client, and under most NAT timeouts.
pub const DEFAULT_IDLE_RENEWAL: Duration = Duration::from_secs(5 * 60);

/// Default [`ImapConfig::max_command_responses`]: 100,000 untagged responses for one
/// command. Far more than any real answer has (a LIST of 100,000 folders); FETCH bodies are
/// streamed one at a time and not counted, and a `UID SEARCH` of a million UIDs is one
/// response. A server streaming `* 1 EXISTS` is stopped after 1.2 MB of them, the client
/// then holding about 15 MB of parsed responses (144 octets each) until the error.
pub const DEFAULT_MAX_COMMAND_RESPONSES: usize = 100_000;

/// Where and how to connect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImapConfig {
    /// Host name or IP address (also the TLS server name).
    pub host: String,
    /// Port; [`ImapConfig::new`] sets the default for the security mode (993 or 143).
    pub port: u16,
    /// Implicit TLS, STARTTLS or plaintext (no default: choose).
    pub security: Security,
    /// Which certificates to trust.
    pub tls: TlsConfig,
    /// Connect, TLS handshake, per-response and logout timeouts. The response timeout also
    /// bounds IDLE's `DONE`.
    pub timeouts: Timeouts,
    /// TCP keepalive on the connection; `None` turns it off. Default
    /// [`Keepalive::default`](crate::Keepalive::default) (60 s idle, 10 s between probes, 3
    /// probes).
    pub keepalive: Option<crate::Keepalive>,
    /// The longest command line the client sends, in octets: long UID sets are split into
    /// several commands under it. Default [`DEFAULT_MAX_LINE_LEN`] (8 KiB).
    pub max_line_len: usize,
    /// The largest server message accepted (a FETCH response with its body), in octets;
    /// larger ones are skipped and reported as
    /// [`ImapError::Protocol`](super::ImapError::Protocol). Default
    /// [`DEFAULT_MAX_MESSAGE_SIZE`] (64 MiB).
    pub max_message_size: usize,
    /// The most untagged responses accepted for one command (those a command collects, and
    /// during a `UID FETCH` those that are not one of its messages); beyond it the command
    /// fails with [`ImapError::TooManyResponses`](super::ImapError::TooManyResponses).
    /// Default [`DEFAULT_MAX_COMMAND_RESPONSES`]; at least 1.
    pub max_command_responses: usize,
    /// How often a running IDLE is ended with `DONE` (whose answer must come within the
    /// response timeout, else the connection is unusable) and issued again. Default
    /// [`DEFAULT_IDLE_RENEWAL`] (5 minutes).
    pub idle_renewal: Duration,
    /// Grammar leniency for servers that break it. Default: strict except for the known
    /// quirks of common servers ([`Quirks::default`]).
    pub quirks: Quirks,
}

crate::server_config::server_config_builders!(ImapConfig);

impl ImapConfig {
    /// A configuration with the default port for `security`, Mozilla roots, default
    /// timeouts and limits.
    pub fn new(host: impl Into<String>, security: Security) -> Self {
        Self {
            host: host.into(),
            port: security.default_port(MailProtocol::Imap),
            security,
            tls: TlsConfig::new(),
            timeouts: Timeouts::default(),
            keepalive: Some(crate::Keepalive::default()),
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_command_responses: DEFAULT_MAX_COMMAND_RESPONSES,
            idle_renewal: DEFAULT_IDLE_RENEWAL,
            quirks: Quirks::default(),
        }
    }

    /// Sets the longest command line (at least 256 octets are always allowed).
    #[must_use]
    pub fn with_max_line_len(mut self, octets: usize) -> Self {
        self.max_line_len = octets.max(256);
        self
    }

    /// Sets the largest server message accepted.
    #[must_use]
    pub fn with_max_message_size(mut self, octets: usize) -> Self {
        self.max_message_size = octets;
        self
    }

    /// Sets the most untagged responses accepted for one command (at least 1).
    #[must_use]
    pub fn with_max_command_responses(mut self, responses: usize) -> Self {
        self.max_command_responses = responses.max(1);
        self
    }

    /// Sets how often IDLE is re-issued.
    #[must_use]
    pub fn with_idle_renewal(mut self, every: Duration) -> Self {
        self.idle_renewal = every;
        self
    }

    /// Sets the grammar leniency.
    #[must_use]
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    pub(crate) fn framer_config(&self) -> FramerConfig {
        FramerConfig {
            max_message_len: self.max_message_size,
            ..FramerConfig::for_responses()
        }
    }
}

/// An IMAP login method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// The `LOGIN user password` command (a literal carries a password that needs one).
    Login,
    /// `AUTHENTICATE` with a SASL mechanism (with SASL-IR when the server offers it).
    Sasl(Mechanism),
}

impl AuthMethod {
    /// The kind of credentials the method needs.
    #[must_use]
    pub fn credentials_kind(self) -> CredentialsKind {
        match self {
            Self::Login => CredentialsKind::Password,
            Self::Sasl(m) => m.credentials_kind(),
        }
    }
}

impl From<Mechanism> for AuthMethod {
    fn from(m: Mechanism) -> Self {
        Self::Sasl(m)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login => f.write_str("LOGIN"),
            Self::Sasl(m) => write!(f, "AUTHENTICATE {m}"),
        }
    }
}

/// What [`ImapClient::login`](super::ImapClient::login) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthInfo {
    /// The method that succeeded.
    pub method: AuthMethod,
}

/// What SELECT or EXAMINE reported about a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MailboxStatus {
    /// `UIDVALIDITY`: UIDs are only comparable while it stays the same.
    pub uidvalidity: Option<u32>,
    /// `UIDNEXT`: the UID the next message will get (at least).
    pub uidnext: Option<u32>,
    /// `EXISTS`: how many messages there are.
    pub exists: u32,
    /// `RECENT` (IMAP4rev1).
    pub recent: u32,
    /// `UNSEEN`: the sequence number of the first unseen message.
    pub first_unseen: Option<u32>,
    /// `FLAGS`: the flags defined in the mailbox.
    pub flags: Vec<Flag>,
    /// `PERMANENTFLAGS`: the flags that can be changed permanently.
    pub permanent_flags: Vec<FlagPerm>,
    /// `HIGHESTMODSEQ` (CONDSTORE).
    pub highest_modseq: Option<u64>,
    /// Whether the mailbox was opened read-only (`[READ-ONLY]`, always for EXAMINE).
    pub read_only: bool,
}

/// One message from [`FetchStream`](super::FetchStream): its UID, metadata and raw
/// RFC 5322 octets. `body` is a slice of the receive buffer, not a copy.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedMessage {
    /// The UID.
    pub uid: u32,
    /// `RFC822.SIZE`.
    pub size: Option<u32>,
    /// `INTERNALDATE`.
    pub internal_date: Option<DateTime>,
    /// The flags (without `\Recent`).
    pub flags: Vec<Flag>,
    /// Whether `\Recent` was set.
    pub recent: bool,
    /// `BODY[]`: the whole message.
    pub body: Bytes,
}

impl fmt::Debug for FetchedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Mail content does not belong in logs.
        f.debug_struct("FetchedMessage")
            .field("uid", &self.uid)
            .field("size", &self.size)
            .field("internal_date", &self.internal_date)
            .field("flags", &self.flags)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Metadata of one message from
/// [`ImapClient::uid_fetch_meta`](super::ImapClient::uid_fetch_meta).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageMeta {
    /// The UID.
    pub uid: u32,
    /// `RFC822.SIZE`.
    pub size: Option<u32>,
    /// `INTERNALDATE`.
    pub internal_date: Option<DateTime>,
    /// The flags (without `\Recent`).
    pub flags: Vec<Flag>,
}

/// The UIDs a COPY or MOVE gave the messages in the destination (RFC 4315 `COPYUID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyUid {
    /// The destination's UIDVALIDITY.
    pub uid_validity: u32,
    /// (source UID, destination UID) pairs.
    pub pairs: Vec<(u32, u32)>,
}

/// What [`ImapClient::uid_move`](super::ImapClient::uid_move) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MoveOutcome {
    /// `true`: `UID MOVE` (RFC 6851). `false`: `UID COPY`, `UID STORE +FLAGS (\Deleted)`,
    /// then `UID EXPUNGE` or `EXPUNGE`.
    pub used_move: bool,
    /// `false` only in the fallback without UIDPLUS: a plain `EXPUNGE`, sent only when no
    /// other message was marked `\Deleted` (see [`withheld`](Self::withheld)).
    pub used_uid_expunge: bool,
    /// The destination UIDs, when the server reported them.
    pub copyuid: Option<CopyUid>,
    /// In the fallback without UIDPLUS: the other messages marked `\Deleted` (by another
    /// client) that stopped the plain `EXPUNGE`. When not empty, the messages were copied
    /// and marked `\Deleted` but are still in the source mailbox; expunging them later (see
    /// [`ImapClient::expunge_only`](super::ImapClient::expunge_only)) completes the move,
    /// copying them again would duplicate them.
    pub withheld: Vec<u32>,
}

/// A response the server sent on its own (RFC 3501 section 5.3 and 7): mailbox size
/// changes, flag changes by other clients, alerts. Queued by the client and handed out by
/// [`ImapClient::take_unsolicited`](super::ImapClient::take_unsolicited) and
/// [`ImapClient::noop`](super::ImapClient::noop), or as IDLE events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsolicited {
    /// `n EXISTS`: the mailbox now holds `n` messages.
    Exists(u32),
    /// `n RECENT`.
    Recent(u32),
    /// `n EXPUNGE`: message number `n` was removed (later numbers shift down by one).
    Expunge(u32),
    /// `VANISHED`: these UIDs were removed (QRESYNC).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
    /// A FETCH the client did not ask for: usually flags changed by another client.
    Fetch {
        /// The message sequence number.
        seq: u32,
        /// The UID, if the server included it.
        uid: Option<u32>,
        /// The new flags, if included (without `\Recent`).
        flags: Option<Vec<Flag>>,
    },
    /// `FLAGS (...)`: the mailbox's defined flags changed.
    Flags(Vec<Flag>),
    /// An `[ALERT]` the user must see.
    Alert(String),
    /// An untagged `NO` or `BAD` (a warning).
    Warning {
        /// NO or BAD.
        kind: StatusKind,
        /// The server's text.
        text: String,
    },
    /// `BYE`: the server is closing the connection.
    Bye(String),
    /// Anything else.
    Other(Response),
}

/// The parts of a FETCH response the client cares about.
#[derive(Debug, Default)]
pub(crate) struct FetchParts {
    pub(crate) uid: Option<u32>,
    pub(crate) size: Option<u32>,
    pub(crate) internal_date: Option<DateTime>,
    pub(crate) flags: Option<Vec<Flag>>,
    pub(crate) recent: bool,
    pub(crate) body: Option<Bytes>,
}

impl FetchParts {
    pub(crate) fn from_items(items: Vec<MessageDataItem>) -> Self {
        let mut p = Self::default();
        for item in items {
            match item {
                MessageDataItem::Uid(u) => p.uid = Some(u.get()),
                MessageDataItem::Rfc822Size(s) => p.size = Some(s),
                MessageDataItem::InternalDate(d) => p.internal_date = Some(d),
                MessageDataItem::Flags(flags) => {
                    let mut out = Vec::with_capacity(flags.len());
                    for f in flags {
                        match f {
                            FlagFetch::Flag(f) => out.push(f),
                            FlagFetch::Recent => p.recent = true,
                        }
                    }
                    p.flags = Some(out);
                }
                MessageDataItem::BodyExt {
                    section: None,
                    origin: None,
                    data,
                }
                | MessageDataItem::Rfc822(data) => {
                    p.body = Some(data.map(|s| s.to_bytes()).unwrap_or_default());
                }
                _ => {}
            }
        }
        p
    }
}

impl Unsolicited {
    /// Classifies an untagged response. Capability data is not here: the client keeps it.
    pub(crate) fn from_response(response: Response) -> Self {
        match response {
            Response::Data(Data::Exists(n)) => Self::Exists(n),
            Response::Data(Data::Recent(n)) => Self::Recent(n),
            Response::Data(Data::Expunge(n)) => Self::Expunge(n.get()),
            Response::Data(Data::Vanished { earlier, uids }) => Self::Vanished { earlier, uids },
            Response::Data(Data::Flags(flags)) => Self::Flags(flags),
            Response::Data(Data::Fetch { seq, items }) => {
                let p = FetchParts::from_items(items);
                Self::Fetch {
                    seq: seq.get(),
                    uid: p.uid,
                    flags: p.flags,
                }
            }
            Response::Status(Status::Bye { code, text }) => {
                Self::Bye(super::error::bye_text(code.as_ref(), &text))
            }
            Response::Status(Status::Untagged(body)) => match (body.kind, &body.code) {
                (StatusKind::Ok, Some(Code::Alert)) => {
                    Self::Alert(body.text.to_string_lossy().into_owned())
                }
                (StatusKind::No | StatusKind::Bad, _) => Self::Warning {
                    kind: body.kind,
                    text: body.text.to_string_lossy().into_owned(),
                },
                _ => Self::Other(Response::Status(Status::Untagged(body))),
            },
            other => Self::Other(other),
        }
    }
}

/// What [`IdleHandle::next_event`](super::IdleHandle::next_event) saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdleEvent {
    /// `n EXISTS`: new mail (or the count after expunges).
    Exists(u32),
    /// `n EXPUNGE`: message number `n` was removed.
    Expunge(u32),
    /// `BYE`: the server is closing the connection; connect again.
    Bye(String),
    /// Nothing happened within the timeout.
    Timeout,
    /// Anything else the server sent.
    Other(Unsolicited),
}

impl From<Unsolicited> for IdleEvent {
    fn from(u: Unsolicited) -> Self {
        match u {
            Unsolicited::Exists(n) => Self::Exists(n),
            Unsolicited::Expunge(n) => Self::Expunge(n),
            Unsolicited::Bye(text) => Self::Bye(text),
            other => Self::Other(other),
        }
    }
}
