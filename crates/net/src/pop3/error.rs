//! [`Pop3Error`]: how a POP3 session fails.

use std::io;
use std::time::Duration;

use super::AuthMethod;
use crate::error::TransportError;
use crate::sasl::{CredentialsKind, OAuthServerError};

/// A POP3 session failed.
///
/// Server refusals carry the server's text, which may help the user ("mailbox locked",
/// "\[AUTH\] invalid credentials"); it never contains a credential of ours. Mail content is
/// never carried in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pop3Error {
    /// The server answered `-ERR` to a command (or to the greeting).
    #[error(
        "POP3 server refused {command}: {}{text}",
        code.as_ref().map(|c| format!("{c} ")).unwrap_or_default()
    )]
    ServerError {
        /// The command keyword (`RETR`, `DELE`, ...) or `greeting`.
        command: &'static str,
        /// The RFC 2449 response code (`[IN-USE]`, `[SYS/TEMP]`, ...), if any.
        code: Option<inbound_pop3_codec::ResponseCode>,
        /// The server's text.
        text: String,
    },
    /// Login was refused.
    #[error(
        "POP3 login with {method} failed: {}{text}{}",
        code.as_ref().map(|c| format!("{c} ")).unwrap_or_default(),
        oauth.as_ref().map(|e| format!(" (OAuth status {})", e.status)).unwrap_or_default()
    )]
    AuthFailed {
        /// The method that was tried.
        method: AuthMethod,
        /// The RFC 2449/3206 response code (`[AUTH]`, `[SYS/TEMP]`, `[IN-USE]`), if any.
        code: Option<inbound_pop3_codec::ResponseCode>,
        /// The server's text.
        text: String,
        /// For XOAUTH2/OAUTHBEARER: the error the server sent in its challenge.
        oauth: Option<Box<OAuthServerError>>,
    },
    /// The server sent something that is not valid POP3 here.
    #[error("POP3 protocol error during {during}: {source}")]
    Protocol {
        /// The command being answered.
        during: &'static str,
        /// What the decoder found.
        #[source]
        source: inbound_pop3_codec::DecodeError,
    },
    /// The server's answer does not fit the command (should not happen: the decoder is
    /// told what each command expects).
    #[error("unexpected {kind} answer during {during}")]
    UnexpectedResponse {
        /// The command being answered.
        during: &'static str,
        /// What came instead.
        kind: &'static str,
    },
    /// A message (or TOP answer) is larger than the configured limit. The rest of it was
    /// skipped; the session remains usable.
    #[error("message larger than the limit of {limit} octets")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The server sent no answer within the timeout; the connection is dropped.
    #[error("no answer from the POP3 server within {timeout:?} during {during}")]
    Timeout {
        /// What the client was waiting for.
        during: &'static str,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The server kept sending an answer too slowly (see
    /// [`TransportError::TooSlow`]); the connection is dropped.
    #[error(
        "the POP3 server sent only {received} octets in {waited:?} during {during}, \
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
    /// The server closed the connection (a partly received message is discarded).
    #[error("the POP3 server closed the connection during {during}")]
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
    /// An earlier error (timeout, closed connection, failed STLS) left the connection
    /// unusable; connect again.
    #[error("the POP3 connection is unusable after an earlier error ({command} not sent)")]
    Unusable {
        /// The command that was not sent.
        command: &'static str,
    },
    /// STLS was required but the server does not offer it (or refused it). Nothing secret
    /// was sent.
    #[error("the POP3 server does not offer STLS{}", text.as_ref().map(|t| format!(": {t}")).unwrap_or_default())]
    StartTlsNotOffered {
        /// The server's text when it refused `STLS`.
        text: Option<String>,
    },
    /// No login method fits the credentials and what the server offers.
    #[error("no POP3 login method fits {kind} credentials and the server's capabilities")]
    NoAuthMethod {
        /// The kind of credentials.
        kind: CredentialsKind,
    },
    /// APOP was chosen but the greeting has no timestamp.
    #[error("APOP is not possible: the server greeting has no timestamp")]
    ApopUnavailable,
    /// The configured method cannot be used with these credentials.
    #[error("login method {method} cannot be used with {kind} credentials")]
    WrongCredentials {
        /// The method.
        method: AuthMethod,
        /// The kind of credentials at hand.
        kind: CredentialsKind,
    },
    /// A value cannot be sent as a POP3 argument (a user name with a space, a password with
    /// a line break, message number 0, ...).
    #[error("invalid {what}: {source}")]
    InvalidArgument {
        /// What the value is.
        what: &'static str,
        /// Why it is invalid (never the value itself).
        #[source]
        source: inbound_pop3_codec::ValidationError,
    },
    /// The command is not allowed in the session's state (e.g. `RETR` before login).
    #[error("{command} is not allowed {state}")]
    WrongState {
        /// The command.
        command: &'static str,
        /// Where the session is (`"before login"`, `"after login"`).
        state: &'static str,
    },
    /// Sending credentials would go over a connection without TLS that was not explicitly
    /// opened as plaintext. A bug guard: it should never trigger.
    #[error("refusing to send credentials without TLS")]
    InsecureLogin,
}

impl From<TransportError> for Pop3Error {
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
