//! The network implementation of the [`backend`](crate::backend) traits: [`NetConnector`]
//! opens sessions with the IMAP and POP3 clients of `inbound-net`.
//!
//! The adapters only call typed client methods and translate errors into
//! [`ErrorKind`]s (keeping the client's error as the source); the wire format stays in
//! `inbound-net`. From the [`Account`] they take:
//! - the host, port (already defaulted from the protocol and security mode) and security
//!   mode (implicit TLS, STARTTLS/STLS, or plaintext chosen by name);
//! - the TLS trust: Mozilla roots plus the account's `ca_file`, or no verification at all
//!   with `danger_accept_invalid_certs`;
//! - the timeout, applied to connecting, the TLS handshake and every wait for a response
//!   (and to the answer to IDLE's `DONE` at each renewal, every `idle_renew_secs`);
//! - TCP keepalive (`tcp_keepalive_*`) on every connection;
//! - the maximum message size, to size the clients' per-message memory bound.
//!
//! Every connect logs in afresh; with OAuth credentials the client asks the token provider
//! for a token on each login (the provider hands out its cached token while it is valid,
//! and a new one after retrieval invalidated it).
//!
//! IMAP: messages are fetched with `BODY.PEEK[]` (nothing is marked `\Seen`), long UID lists
//! are split by the client into commands under [`NetConnector::with_max_line_len`] octets,
//! moves use `UID MOVE` or fall back to COPY/STORE/EXPUNGE, and
//! [`ImapSession::idle`](crate::ImapSession::idle) ends on mail, on its time limit, or as
//! soon as the [`StopSignal`](crate::StopSignal) fires (then `DONE` is sent).
//!
//! ```
//! use inbound_retrieve::{Connector, NetConnector};
//!
//! fn assert_connector<C: Connector>(_: &C) {}
//! let connector = NetConnector::new().with_max_line_len(4000);
//! assert_connector(&connector);
//! ```

mod imap;
mod pop3;

use std::time::Duration;

use inbound_net::{ImapConfig, ImapError, Pop3Config, Pop3Error, SaslError};

use crate::account::Account;
use crate::backend::{BackendError, BackendResult, Connector, ErrorKind, throttle};

pub use imap::NetImapSession;
pub use pop3::NetPop3Session;

/// Extra room above an account's maximum message size for the protocol around a message
/// (the FETCH response's other items, dot-stuffing).
const SIZE_SLACK: u64 = 256 * 1024;

/// The per-message memory bound when the account sets no maximum message size.
pub const DEFAULT_MESSAGE_LIMIT: u64 = 256 * 1024 * 1024;

/// Opens IMAP and POP3 sessions over the network with `inbound-net`'s clients.
#[derive(Debug, Clone)]
pub struct NetConnector {
    max_line_len: usize,
}

impl Default for NetConnector {
    fn default() -> Self {
        Self::new()
    }
}

impl NetConnector {
    /// A connector with the client defaults (IMAP command lines up to
    /// [`inbound_net::imap::DEFAULT_MAX_LINE_LEN`] octets).
    pub fn new() -> Self {
        Self {
            max_line_len: inbound_net::imap::DEFAULT_MAX_LINE_LEN,
        }
    }

    /// Sets the longest IMAP command line sent: UID lists are split into several commands
    /// under it (servers refuse long lines; 8 KiB is safe everywhere).
    #[must_use]
    pub fn with_max_line_len(mut self, octets: usize) -> Self {
        self.max_line_len = octets;
        self
    }

    /// The IMAP client configuration for `account`.
    pub fn imap_config(&self, account: &Account) -> ImapConfig {
        ImapConfig::new(account.host.clone(), account.security)
            .with_port(account.port)
            .with_tls(account.tls_settings())
            .with_timeout(account.timeout)
            .with_keepalive(account.keepalive)
            .with_idle_renewal(account.idle_renew)
            .with_max_line_len(self.max_line_len)
            .with_max_message_size(usize::try_from(message_limit(account)).unwrap_or(usize::MAX))
    }

    /// The POP3 client configuration for `account`.
    pub fn pop3_config(&self, account: &Account) -> Pop3Config {
        Pop3Config::new(account.host.clone(), account.security)
            .with_port(account.port)
            .with_tls(account.tls_settings())
            .with_timeout(account.timeout)
            .with_keepalive(account.keepalive)
            .with_max_message_size(message_limit(account))
    }
}

/// The largest server message the clients accept for `account`.
fn message_limit(account: &Account) -> u64 {
    match account.max_message_size {
        Some(max) => max.saturating_add(SIZE_SLACK),
        None => DEFAULT_MESSAGE_LIMIT,
    }
}

impl Connector for NetConnector {
    type Imap = NetImapSession;
    type Pop3 = NetPop3Session;

    async fn connect_imap(
        &self,
        account: &Account,
        credentials: &inbound_net::Credentials,
    ) -> BackendResult<NetImapSession> {
        NetImapSession::connect(&self.imap_config(account), credentials, account.timeout).await
    }

    async fn connect_pop3(
        &self,
        account: &Account,
        credentials: &inbound_net::Credentials,
    ) -> BackendResult<NetPop3Session> {
        NetPop3Session::connect(&self.pop3_config(account), credentials).await
    }
}

/// Translates any `inbound-net` error.
pub(crate) fn from_net(error: inbound_net::Error) -> BackendError {
    use inbound_net::Error as E;
    match error {
        E::Imap(e) => from_imap(e),
        E::Pop3(e) => from_pop3(e),
        E::Connect(e) => BackendError::new(ErrorKind::Connect, e.to_string()).with_source(e),
        E::TlsConfig(e) => BackendError::new(ErrorKind::Connect, e.to_string()).with_source(e),
        E::OAuth(e) => BackendError::new(
            ErrorKind::Auth,
            format!("no OAuth access token could be had: {e}"),
        )
        .with_source(e),
        E::Sasl(e) => {
            let kind = match &e {
                SaslError::NotAdvertised { .. } | SaslError::WrongCredentials { .. } => {
                    ErrorKind::Unsupported
                }
                SaslError::UnexpectedChallenge { .. }
                | SaslError::MalformedErrorChallenge { .. } => ErrorKind::Protocol,
                _ => ErrorKind::Auth,
            };
            BackendError::new(kind, e.to_string()).with_source(e)
        }
        E::Transport(e) => {
            let kind = match &e {
                inbound_net::TransportError::Timeout { .. }
                | inbound_net::TransportError::TooSlow { .. } => ErrorKind::Timeout,
                _ => ErrorKind::Disconnected,
            };
            BackendError::new(kind, e.to_string()).with_source(e)
        }
        other => BackendError::new(ErrorKind::Protocol, other.to_string()).with_source(other),
    }
}

/// [`ErrorKind::Throttled`] when `error`, a server's refusal (`NO`, `BAD`, `BYE`, `-ERR`),
/// says in its text that the server is throttling this client; else `error` back.
fn throttled<E: std::error::Error + Send + Sync + 'static>(error: E) -> Result<BackendError, E> {
    let text = error.to_string();
    match throttle::recognise(&text) {
        Some(t) => Ok(BackendError::throttled(text, t.retry_after).with_source(error)),
        None => Err(error),
    }
}

/// Translates an IMAP client error. Callers that know better (a refused SELECT or CREATE)
/// decide themselves, unless it is [`ErrorKind::Throttled`].
pub(crate) fn from_imap(error: ImapError) -> BackendError {
    use ImapError as E;
    let error = match error {
        E::No { .. } | E::Bad { .. } | E::Bye { .. } | E::AuthFailed { .. } => {
            match throttled(error) {
                Ok(throttled) => return throttled,
                Err(error) => error,
            }
        }
        other => other,
    };
    let kind = match &error {
        E::No { .. } | E::Bad { .. } | E::InvalidArgument { .. } => ErrorKind::Refused,
        E::Bye { .. } => ErrorKind::Bye,
        E::AuthFailed { .. } => ErrorKind::Auth,
        E::Protocol { .. } | E::Unexpected { .. } | E::WrongState { .. } => ErrorKind::Protocol,
        E::Timeout { .. } | E::TooSlow { .. } => ErrorKind::Timeout,
        E::ConnectionClosed { .. } | E::Io { .. } | E::Unusable { .. } => ErrorKind::Disconnected,
        E::StartTlsNotOffered { .. } | E::PreauthRefused | E::InsecureLogin => ErrorKind::Connect,
        E::LoginDisabled
        | E::NoAuthMethod { .. }
        | E::WrongCredentials { .. }
        | E::NotSupported { .. } => ErrorKind::Unsupported,
        _ => ErrorKind::Protocol,
    };
    BackendError::new(kind, error.to_string()).with_source(error)
}

/// Translates a POP3 client error.
pub(crate) fn from_pop3(error: Pop3Error) -> BackendError {
    use Pop3Error as E;
    use inbound_net::pop3::ResponseCode;
    let error = match error {
        E::ServerError { .. } | E::AuthFailed { .. } => match throttled(error) {
            Ok(throttled) => return throttled,
            Err(error) => error,
        },
        other => other,
    };
    let kind = match &error {
        // A login too soon is not a wrong password: retry later. (A locked maildrop or a
        // temporary failure, `[IN-USE]` and `[SYS/TEMP]`, is throttling, above.)
        E::AuthFailed {
            code: Some(ResponseCode::InUse | ResponseCode::SysTemp | ResponseCode::LoginDelay),
            ..
        } => ErrorKind::Connect,
        E::AuthFailed { .. } => ErrorKind::Auth,
        E::ServerError { .. } | E::TooLarge { .. } | E::InvalidArgument { .. } => {
            ErrorKind::Refused
        }
        E::Protocol { .. } | E::UnexpectedResponse { .. } | E::WrongState { .. } => {
            ErrorKind::Protocol
        }
        E::Timeout { .. } | E::TooSlow { .. } => ErrorKind::Timeout,
        E::ConnectionClosed { .. } | E::Io { .. } | E::Unusable { .. } => ErrorKind::Disconnected,
        E::StartTlsNotOffered { .. } | E::InsecureLogin => ErrorKind::Connect,
        E::NoAuthMethod { .. } | E::ApopUnavailable | E::WrongCredentials { .. } => {
            ErrorKind::Unsupported
        }
        _ => ErrorKind::Protocol,
    };
    BackendError::new(kind, error.to_string()).with_source(error)
}

/// A timeout of our own (around a client call that has none).
pub(crate) fn timed_out(during: &str, after: Duration) -> BackendError {
    BackendError::new(
        ErrorKind::Timeout,
        format!("no answer within {after:?} during {during}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use inbound_net::error::TransportError;

    #[test]
    fn bare_transport_errors_are_timeouts_or_disconnects() {
        let timeout = from_net(inbound_net::Error::Transport(TransportError::Timeout {
            during: "NOOP",
            timeout: std::time::Duration::from_secs(5),
        }));
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        let closed = from_net(inbound_net::Error::Transport(TransportError::Closed {
            during: "NOOP",
        }));
        assert_eq!(closed.kind(), ErrorKind::Disconnected);
    }

    #[test]
    fn imap_errors_map_to_kinds() {
        let cases = [
            (
                ImapError::Bye {
                    text: "shutting down".into(),
                },
                ErrorKind::Bye,
            ),
            (
                ImapError::Timeout {
                    during: "UID FETCH",
                    timeout: Duration::from_secs(1),
                },
                ErrorKind::Timeout,
            ),
            (
                ImapError::ConnectionClosed { during: "SELECT" },
                ErrorKind::Disconnected,
            ),
            (
                ImapError::Unusable { command: "NOOP" },
                ErrorKind::Disconnected,
            ),
            (
                ImapError::No {
                    command: "UID MOVE",
                    code: None,
                    text: "no".into(),
                },
                ErrorKind::Refused,
            ),
            (
                ImapError::NotSupported { capability: "IDLE" },
                ErrorKind::Unsupported,
            ),
            (ImapError::PreauthRefused, ErrorKind::Connect),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            let mapped = from_imap(error);
            assert_eq!(mapped.kind(), kind, "{text}");
            assert!(mapped.to_string().contains(&text), "{mapped}");
            assert!(std::error::Error::source(&mapped).is_some());
        }
    }

    #[test]
    fn pop3_errors_map_to_kinds() {
        use inbound_net::pop3::AuthMethod;
        use inbound_net::pop3::ResponseCode;
        let in_use = Pop3Error::AuthFailed {
            method: AuthMethod::UserPass,
            code: Some(ResponseCode::InUse),
            text: "maildrop locked".into(),
            oauth: None,
        };
        assert_eq!(from_pop3(in_use).kind(), ErrorKind::Throttled);
        let wrong = Pop3Error::AuthFailed {
            method: AuthMethod::UserPass,
            code: Some(ResponseCode::Auth),
            text: "bad password".into(),
            oauth: None,
        };
        assert_eq!(from_pop3(wrong).kind(), ErrorKind::Auth);
        let closed: Pop3Error = TransportError::Closed { during: "RETR" }.into();
        assert_eq!(from_pop3(closed).kind(), ErrorKind::Disconnected);
        let refused = Pop3Error::ServerError {
            command: "DELE",
            code: None,
            text: "no such message".into(),
        };
        assert_eq!(from_pop3(refused).kind(), ErrorKind::Refused);
    }

    #[test]
    fn throttling_answers_are_throttled_with_the_server_s_hint() {
        use inbound_net::pop3::ResponseCode;
        let m365 = from_imap(ImapError::No {
            command: "SELECT",
            code: None,
            text: "Request is throttled. Suggested Backoff Time: 1500 milliseconds".into(),
        });
        assert_eq!(m365.kind(), ErrorKind::Throttled, "{m365}");
        assert_eq!(m365.retry_after(), Some(Duration::from_millis(1500)));
        assert!(m365.is_connection_error());
        assert!(m365.to_string().contains("Request is throttled"), "{m365}");
        let gmail = from_imap(ImapError::Bye {
            text: "[ALERT] Too many simultaneous connections. (Failure)".into(),
        });
        assert_eq!(gmail.kind(), ErrorKind::Throttled, "{gmail}");
        assert_eq!(gmail.retry_after(), None);
        let busy = from_imap(ImapError::Bad {
            command: "UID FETCH",
            code: None,
            text: "User is authenticated but not connected.".into(),
        });
        assert_eq!(busy.kind(), ErrorKind::Throttled, "{busy}");
        let sys_temp = from_pop3(Pop3Error::ServerError {
            command: "UIDL",
            code: Some(ResponseCode::SysTemp),
            text: "try later".into(),
        });
        assert_eq!(sys_temp.kind(), ErrorKind::Throttled, "{sys_temp}");
        // Other refusals keep their kinds.
        let plain = from_imap(ImapError::Bye {
            text: "Logging out".into(),
        });
        assert_eq!(plain.kind(), ErrorKind::Bye);
        assert_eq!(plain.retry_after(), None);
    }

    #[test]
    fn account_settings_reach_the_client_configs() {
        let account = crate::AccountConfig {
            name: Some("a".into()),
            protocol: Some(crate::MailProtocol::Imap),
            host: Some("mail.example.com".into()),
            username: Some("me".into()),
            password: Some("pw".into()),
            security: Some(crate::account::Security::StartTls),
            timeout_secs: Some(7),
            max_message_size: Some(crate::account::SizeValue::Bytes(1000)),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let connector = NetConnector::new().with_max_line_len(1000);
        let imap = connector.imap_config(&account);
        assert_eq!(imap.host, "mail.example.com");
        assert_eq!(imap.port, 143);
        assert_eq!(imap.security, inbound_net::Security::StartTls);
        assert_eq!(imap.timeouts.command, Duration::from_secs(7));
        assert_eq!(imap.timeouts.connect, Duration::from_secs(7));
        assert_eq!(imap.max_line_len, 1000);
        assert_eq!(imap.max_message_size as u64, 1000 + SIZE_SLACK);
        let pop3 = connector.pop3_config(&account);
        assert_eq!(pop3.timeouts.command, Duration::from_secs(7));
        assert_eq!(pop3.max_message_size, 1000 + SIZE_SLACK);
    }
}
