//! [`ImapError`]: what can go wrong in an IMAP session.

use std::io;
use std::time::Duration;

use inbound_imap_codec::DecodeError;
use inbound_imap_codec::types::Code;

use super::AuthMethod;
use crate::error::TransportError;
use crate::sasl::{CredentialsKind, OAuthServerError};

/// An IMAP session failed.
///
/// Server refusals carry the server's text and response code, which may help the user
/// (`[AUTHENTICATIONFAILED]`, `[TRYCREATE]`, "mailbox is locked"); they never contain a
/// credential of ours. Mail content is never carried in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The server answered a command with `NO`.
    #[error("IMAP server refused {command}: {}{text}", code_prefix(code.as_ref()))]
    No {
        /// The command (`SELECT`, `UID MOVE`, ...).
        command: &'static str,
        /// The response code, if any.
        code: Option<Code>,
        /// The server's text.
        text: String,
    },
    /// The server answered a command with `BAD` (it did not understand it).
    #[error("IMAP server rejected {command} as invalid: {}{text}", code_prefix(code.as_ref()))]
    Bad {
        /// The command.
        command: &'static str,
        /// The response code, if any.
        code: Option<Code>,
        /// The server's text.
        text: String,
    },
    /// The server said `BYE` (in its greeting, or before closing the connection).
    #[error("IMAP server closed the session: {text}")]
    Bye {
        /// The server's text.
        text: String,
    },
    /// Login was refused.
    #[error(
        "IMAP login with {method} failed: {}{text}{}",
        code_prefix(code.as_ref()),
        oauth.as_ref().map(|e| format!(" (OAuth status {})", e.status)).unwrap_or_default()
    )]
    AuthFailed {
        /// The method that was tried.
        method: AuthMethod,
        /// The response code (`AUTHENTICATIONFAILED`, `UNAVAILABLE`, ...), if any.
        code: Option<Code>,
        /// The server's text.
        text: String,
        /// For XOAUTH2/OAUTHBEARER: the error the server sent in its challenge.
        oauth: Option<Box<OAuthServerError>>,
    },
    /// The server sent something that is not valid IMAP, or a message over the size limit.
    #[error("IMAP protocol error during {during}: {source}")]
    Protocol {
        /// The command being answered (or `greeting`).
        during: &'static str,
        /// What the decoder found.
        #[source]
        source: DecodeError,
    },
    /// The server sent a valid response that makes no sense at this point (an unknown tag,
    /// a continuation request nobody asked for, ...).
    #[error("unexpected IMAP response during {during}: {what}")]
    Unexpected {
        /// The command being answered.
        during: &'static str,
        /// What came.
        what: &'static str,
    },
    /// The server sent nothing for the timeout; the connection is presumed dead.
    #[error("no answer from the IMAP server within {timeout:?} during {during}")]
    Timeout {
        /// What the client was waiting for.
        during: &'static str,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The server kept sending an answer too slowly (see
    /// [`TransportError::TooSlow`]); the connection is unusable.
    #[error(
        "the IMAP server sent only {received} octets in {waited:?} during {during}, \
         slower than the minimum rate"
    )]
    TooSlow {
        /// What the client was waiting for.
        during: &'static str,
        /// Octets of the answer received so far.
        received: u64,
        /// Time spent waiting for the answer.
        waited: Duration,
    },
    /// The server sent more untagged responses for one command than
    /// [`ImapConfig::max_command_responses`](super::ImapConfig::max_command_responses)
    /// (a server streaming `* 1 EXISTS` forever, say); the connection is unusable.
    #[error("the IMAP server sent more than {limit} untagged responses to {command}")]
    TooManyResponses {
        /// The command being answered.
        command: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The server closed the connection (a partly received message is discarded).
    #[error("the IMAP server closed the connection during {during}")]
    ConnectionClosed {
        /// What the client was doing.
        during: &'static str,
    },
    /// Reading or writing the connection failed.
    #[error("I/O error during {during}: {source}")]
    Io {
        /// What the client was doing.
        during: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An earlier error (timeout, closed connection) left the connection unusable; connect
    /// again.
    #[error("the IMAP connection is unusable after an earlier error ({command} not sent)")]
    Unusable {
        /// The command that was not sent.
        command: &'static str,
    },
    /// STARTTLS was required but the server does not offer it or refused it. Nothing
    /// secret was sent.
    #[error("the IMAP server does not offer STARTTLS{}", text.as_ref().map(|t| format!(": {t}")).unwrap_or_default())]
    StartTlsNotOffered {
        /// The server's text when it refused `STARTTLS`.
        text: Option<String>,
    },
    /// The server greeted with `PREAUTH` on a connection that must be upgraded to TLS:
    /// STARTTLS is impossible in the authenticated state, so the session is refused.
    #[error("the IMAP server sent PREAUTH on a plaintext connection that requires TLS")]
    PreauthRefused,
    /// The server advertises `LOGINDISABLED` and no SASL mechanism fits the credentials.
    #[error("the IMAP server disables LOGIN and offers no SASL mechanism for these credentials")]
    LoginDisabled,
    /// No login method fits the credentials and what the server offers.
    #[error("no IMAP login method fits {kind} credentials and the server's capabilities")]
    NoAuthMethod {
        /// The kind of credentials.
        kind: CredentialsKind,
    },
    /// The configured method cannot be used with these credentials.
    #[error("login method {method} cannot be used with {kind} credentials")]
    WrongCredentials {
        /// The method.
        method: AuthMethod,
        /// The kind of credentials at hand.
        kind: CredentialsKind,
    },
    /// The operation needs a capability the server does not announce.
    #[error("the IMAP server does not support {capability}")]
    NotSupported {
        /// The capability (`IDLE`, `UIDPLUS`, `ENABLE`, ...).
        capability: &'static str,
    },
    /// A value cannot be sent (an empty UID set, UID 0, ...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// What the value is.
        what: &'static str,
        /// Why it is invalid (never the value itself).
        reason: String,
    },
    /// The command is not allowed in the session's state (e.g. `SELECT` before login).
    #[error("{command} is not allowed {state}")]
    WrongState {
        /// The command.
        command: &'static str,
        /// Where the session is (`"before login"`, `"without a selected mailbox"`).
        state: &'static str,
    },
    /// Sending credentials would go over a connection without TLS that was not explicitly
    /// opened as plaintext. A bug guard: it should never trigger.
    #[error("refusing to send credentials without TLS")]
    InsecureLogin,
}

/// The text of a `BYE`, with its response code in brackets before it when it has one
/// (`[UNAVAILABLE] Temporary System Error`), as [`ImapError::Bye`] and the IDLE events
/// carry it.
pub(crate) fn bye_text(code: Option<&Code>, text: &inbound_imap_codec::types::Text) -> String {
    format!("{}{}", code_prefix(code), text.to_string_lossy())
}

fn code_prefix(code: Option<&Code>) -> String {
    match code {
        None => String::new(),
        Some(Code::Other { name, .. }) => format!("[{name}] "),
        Some(c) => format!("[{}] ", code_name(c)),
    }
}

/// The name of a response code, for messages.
pub(crate) fn code_name(code: &Code) -> &str {
    match code {
        Code::Alert => "ALERT",
        Code::BadCharset(_) => "BADCHARSET",
        Code::Capability(_) => "CAPABILITY",
        Code::Parse => "PARSE",
        Code::PermanentFlags(_) => "PERMANENTFLAGS",
        Code::ReadOnly => "READ-ONLY",
        Code::ReadWrite => "READ-WRITE",
        Code::TryCreate => "TRYCREATE",
        Code::UidNext(_) => "UIDNEXT",
        Code::UidValidity(_) => "UIDVALIDITY",
        Code::Unseen(_) => "UNSEEN",
        Code::HighestModSeq(_) => "HIGHESTMODSEQ",
        Code::NoModSeq => "NOMODSEQ",
        Code::AppendUid { .. } => "APPENDUID",
        Code::CopyUid { .. } => "COPYUID",
        Code::UidNotSticky => "UIDNOTSTICKY",
        Code::Closed => "CLOSED",
        Code::Other { name, .. } => name.as_str(),
    }
}

impl ImapError {
    /// Whether the connection can no longer be used after this error.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Bye { .. }
                | Self::Timeout { .. }
                | Self::TooSlow { .. }
                | Self::TooManyResponses { .. }
                | Self::ConnectionClosed { .. }
                | Self::Io { .. }
                | Self::Unusable { .. }
                | Self::Unexpected { .. }
                | Self::PreauthRefused
                | Self::StartTlsNotOffered { .. }
        )
    }
}

impl From<TransportError> for ImapError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Timeout { during, timeout } => Self::Timeout { during, timeout },
            TransportError::TooSlow {
                during,
                received,
                waited,
            } => Self::TooSlow {
                during,
                received,
                waited,
            },
            TransportError::Closed { during } => Self::ConnectionClosed { during },
            TransportError::Io { during, source } => Self::Io { during, source },
        }
    }
}
