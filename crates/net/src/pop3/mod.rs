//! The POP3 client: connect (implicit TLS, STLS or explicitly chosen plaintext), log in
//! (USER/PASS, APOP, SASL PLAIN, LOGIN, XOAUTH2, OAUTHBEARER), list, retrieve (whole, in
//! chunks, or pipelined), delete, quit.
//!
//! The wire format and all protocol bookkeeping live in the sans-IO
//! [`inbound_pop3_codec`]; [`Pop3Client`] only moves bytes through a
//! [`Transport`](crate::transport::Transport) with per-wait timeouts.
//!
//! # Connecting
//! [`Pop3Client::connect`] runs one clear sequence:
//! 1. TCP, and for [`Security::Tls`] the TLS handshake (host name verified);
//! 2. the greeting (`-ERR` is [`Pop3Error::ServerError`]);
//! 3. `CAPA`;
//! 4. for [`Security::StartTls`]: `STLS` (it must be offered: otherwise
//!    [`Pop3Error::StartTlsNotOffered`], before any credential is sent), then the TLS
//!    handshake, refusing any octet the server sent after its `+OK` in plaintext
//!    ([`ConnectError::StartTlsInjection`](crate::ConnectError::StartTlsInjection)), then
//!    `CAPA` again, forgetting what was said in plaintext.
//!
//! [`Pop3Client::login`] refuses to send credentials over a connection without TLS unless
//! [`Security::Plaintext`] was chosen by name.
//!
//! # Choosing the login method
//! With `None`, [`Pop3Client::login`] picks:
//! - OAuth credentials: XOAUTH2, else OAUTHBEARER, among the advertised `SASL`
//!   mechanisms (XOAUTH2 when the server does not answer `CAPA`).
//! - A password over plaintext (opted in): APOP when the greeting has a timestamp, since
//!   it does not send the password.
//! - A password over TLS: SASL PLAIN, else LOGIN, if advertised; else USER/PASS; APOP only
//!   when USER is not offered but the greeting has a timestamp.
//!
//! A failed XOAUTH2/OAUTHBEARER login invalidates the token at its
//! [`TokenProvider`](crate::oauth::TokenProvider), so the next attempt fetches a new one,
//! and the error carries the server's decoded JSON.
//!
//! # Retrieving
//! [`Pop3Client::retr`] returns the message as [`Bytes`](bytes::Bytes) (usually a slice of
//! the receive buffer, no copy), up to [`Pop3Config::max_message_size`];
//! [`Pop3Client::retr_stream`] hands out a huge message in chunks;
//! [`Pop3Client::retr_many`] keeps a window of `RETR` commands in flight when the server
//! announces `PIPELINING` and yields the messages in order. A connection that drops in the
//! middle of a message gives [`Pop3Error::ConnectionClosed`] and never a partial message
//! (a stream's consumer must discard what it got).
//!
//! Deletions (`DELE`) take effect only when [`Pop3Client::quit`] succeeds; dropping the
//! client without `quit` leaves every message on the server.
//!
//! # Tracing
//! Every command and status line is logged at TRACE level on target
//! [`inbound_net::wire`](crate::transport::TRACE_TARGET), with passwords, APOP digests and
//! SASL data replaced by `[redacted]`; message bodies are not logged.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use inbound_net::pop3::{AuthMethod, Pop3Client, Pop3Config};
//! use inbound_net::{Credentials, Security};
//! use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
//!
//! // A scripted server on loopback, speaking plaintext (explicitly chosen below).
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     let (socket, _) = listener.accept().await?;
//!     let (read, mut write) = socket.into_split();
//!     let mut lines = BufReader::new(read).lines();
//!     write.write_all(b"+OK ready\r\n").await?;
//!     while let Some(line) = lines.next_line().await? {
//!         let answer: &[u8] = match line.as_str() {
//!             "CAPA" => b"+OK\r\nUSER\r\nUIDL\r\n.\r\n",
//!             "USER alice" | "PASS secret" => b"+OK\r\n",
//!             "STAT" => b"+OK 1 22\r\n",
//!             "RETR 1" => b"+OK\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n",
//!             "QUIT" => b"+OK bye\r\n",
//!             _ => b"-ERR unknown\r\n",
//!         };
//!         write.write_all(answer).await?;
//!     }
//!     Ok::<_, std::io::Error>(())
//! });
//!
//! let config = Pop3Config::new("127.0.0.1", Security::Plaintext).with_port(port);
//! let mut client = Pop3Client::connect(&config).await?;
//! assert!(client.capabilities().uidl());
//! let info = client.login(&Credentials::password("alice", "secret"), None).await?;
//! assert_eq!(info.method, AuthMethod::UserPass);
//! assert_eq!(client.stat().await?.count, 1);
//! let message = client.retr(1).await?;
//! assert_eq!(&message[..], b"Subject: hi\r\n\r\n.dot\r\n");
//! client.quit().await?;
//! # Ok(()) }
//! ```

mod auth;
mod capabilities;
mod client;
mod error;
mod retr;

use std::fmt;

pub use inbound_pop3_codec::{
    Capability, ExpirePolicy, Greeting, MessageNumber, ResponseCode, ScanListing, Stat, UidListing,
    UniqueId, ValidationError,
};

pub use capabilities::Capabilities;
pub use client::{MessageNumberArg, Pop3Client};
pub use error::Pop3Error;
pub use retr::{RetrMany, RetrStream};

use crate::sasl::{CredentialsKind, Mechanism};
use crate::tls::{MailProtocol, Security, TlsConfig};
use crate::transport::Timeouts;

/// Default [`Pop3Config::max_message_size`]: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 * 1024 * 1024;
/// Default [`Pop3Config::pipeline_window`]: RETR commands in flight with PIPELINING.
pub const DEFAULT_PIPELINE_WINDOW: usize = 32;

/// Where and how to connect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pop3Config {
    /// Host name or IP address (also the TLS server name).
    pub host: String,
    /// Port; [`Pop3Config::new`] sets the default for the security mode (995 or 110).
    pub port: u16,
    /// Implicit TLS, STLS or plaintext (no default: choose).
    pub security: Security,
    /// Which certificates to trust.
    pub tls: TlsConfig,
    /// Connect, TLS handshake, per-response and logout timeouts.
    pub timeouts: Timeouts,
    /// TCP keepalive on the connection; `None` turns it off. Default
    /// [`Keepalive::default`](crate::Keepalive::default) (60 s idle, 10 s between probes, 3
    /// probes).
    pub keepalive: Option<crate::Keepalive>,
    /// Largest message, in octets, [`Pop3Client::retr`], [`Pop3Client::top`] and
    /// [`Pop3Client::retr_many`] accept ([`Pop3Error::TooLarge`] beyond it). Default
    /// [`DEFAULT_MAX_MESSAGE_SIZE`] (64 MiB).
    ///
    /// [`Pop3Error::TooLarge`]: crate::Pop3Error::TooLarge
    pub max_message_size: u64,
    /// How many RETR commands [`Pop3Client::retr_many`] keeps in flight when the server
    /// announces PIPELINING: at least 1, default [`DEFAULT_PIPELINE_WINDOW`] (32).
    pub pipeline_window: usize,
}

crate::server_config::server_config_builders!(Pop3Config);

impl Pop3Config {
    /// A configuration with the default port for `security`, Mozilla roots, default
    /// timeouts and limits.
    pub fn new(host: impl Into<String>, security: Security) -> Self {
        Self {
            host: host.into(),
            port: security.default_port(MailProtocol::Pop3),
            security,
            tls: TlsConfig::new(),
            timeouts: Timeouts::default(),
            keepalive: Some(crate::Keepalive::default()),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            pipeline_window: DEFAULT_PIPELINE_WINDOW,
        }
    }

    /// Sets the largest message accepted whole.
    #[must_use]
    pub fn with_max_message_size(mut self, octets: u64) -> Self {
        self.max_message_size = octets;
        self
    }

    /// Sets how many RETR commands are kept in flight with PIPELINING.
    #[must_use]
    pub fn with_pipeline_window(mut self, window: usize) -> Self {
        self.pipeline_window = window.max(1);
        self
    }
}

/// A POP3 login method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `USER` then `PASS` (RFC 1939).
    UserPass,
    /// `APOP` with an MD5 digest of the greeting timestamp and the password (RFC 1939).
    Apop,
    /// `AUTH` with a SASL mechanism (RFC 5034).
    Sasl(Mechanism),
}

impl AuthMethod {
    /// The kind of credentials the method needs.
    #[must_use]
    pub fn credentials_kind(self) -> CredentialsKind {
        match self {
            Self::UserPass | Self::Apop => CredentialsKind::Password,
            Self::Sasl(m) => m.credentials_kind(),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserPass => f.write_str("USER/PASS"),
            Self::Apop => f.write_str("APOP"),
            Self::Sasl(m) => write!(f, "AUTH {m}"),
        }
    }
}

/// What [`Pop3Client::login`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthInfo {
    /// The method that succeeded.
    pub method: AuthMethod,
}
