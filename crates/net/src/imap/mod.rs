//! The IMAP client: connect (implicit TLS, STARTTLS or explicitly chosen plaintext), log
//! in (LOGIN, SASL PLAIN, LOGIN, XOAUTH2, OAUTHBEARER), list and open mailboxes, search,
//! fetch messages one at a time as they arrive, change flags, move, expunge, IDLE.
//!
//! The wire format lives in the sans-IO [`inbound_imap_codec`]; the protocol flow (tags,
//! `+` continuations for literals and SASL, collecting untagged data up to the tagged
//! completion) is a small state machine without I/O (`machine.rs`), and [`ImapClient`]
//! only moves bytes through a [`Transport`](crate::transport::Transport) with per-wait
//! timeouts.
//!
//! # Connecting
//! [`ImapClient::connect`] runs one clear sequence:
//! 1. TCP, and for [`Security::Tls`](crate::Security::Tls) the TLS handshake (host name
//!    verified);
//! 2. the greeting: `BYE` is [`ImapError::Bye`]; `PREAUTH` on a connection that must be
//!    upgraded with STARTTLS is [`ImapError::PreauthRefused`] (STARTTLS is impossible
//!    after authentication, and going on would mean clear text);
//! 3. for [`Security::StartTls`](crate::Security::StartTls): `STARTTLS` (it must be
//!    offered: otherwise [`ImapError::StartTlsNotOffered`], before any credential is sent),
//!    then the TLS handshake, refusing any octet the server sent after its `OK` in
//!    plaintext ([`ConnectError::StartTlsInjection`](crate::ConnectError::StartTlsInjection));
//!    what the server said in plaintext is forgotten;
//! 4. `CAPABILITY` (unless the greeting carried them).
//!
//! [`ImapClient::login`] refuses to send credentials over a connection without TLS unless
//! [`Security::Plaintext`](crate::Security::Plaintext) was chosen by name, and asks the
//! capabilities again after login.
//!
//! # Timeouts and limits
//! From [`ImapConfig::timeouts`]: connect, TLS handshake, every wait for a response (a
//! large message that keeps arriving is never cut off, a server that falls silent is), IDLE's
//! `DONE`, and logout. Each answer (a command's, or one message of a FETCH) must also keep a
//! minimum rate ([`MIN_ANSWER_RATE`](crate::transport::MIN_ANSWER_RATE) after the timeout's
//! grace, [`ImapError::TooSlow`]), and one command gets at most
//! [`ImapConfig::max_command_responses`] untagged responses
//! ([`ImapError::TooManyResponses`]). After a timeout the connection is unusable
//! ([`ImapError::Unusable`]).
//!
//! # Retrieving
//! [`ImapClient::uid_fetch_bodies`] returns a [`FetchStream`] that hands out each message as
//! soon as its FETCH response is whole, with its metadata and its body as a
//! [`Bytes`](bytes::Bytes) slice of the receive buffer (no copy);
//! [`ImapClient::uid_fetch_bodies_only`] asks for the bodies alone, which spares the server
//! the metadata lookups. Long UID sets are split into several commands under
//! [`ImapConfig::max_line_len`]. A connection that drops in the middle of a message gives
//! [`ImapError::ConnectionClosed`], never a partial message.
//!
//! # Unsolicited responses
//! `EXISTS`, `EXPUNGE`, flag changes by other clients, alerts: whatever a command did not
//! ask for is queued ([`ImapClient::take_unsolicited`], [`ImapClient::noop`]) or, during
//! IDLE, handed out as [`IdleEvent`]s.
//!
//! # Tracing
//! Every command and the first line of every server message are logged at TRACE level on
//! target [`inbound_net::wire`](crate::transport::TRACE_TARGET), with passwords and SASL
//! data replaced by `[redacted]`; message bodies are not logged.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use inbound_net::imap::{AuthMethod, ImapClient, ImapConfig};
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
//!     write.write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n").await?;
//!     while let Some(line) = lines.next_line().await? {
//!         let (tag, command) = line.split_once(' ').unwrap_or((&line, ""));
//!         let answer = match command {
//!             "LOGIN alice secret" => format!("{tag} OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n"),
//!             "SELECT INBOX" => format!(
//!                 "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 5] n\r\n\
//!                  {tag} OK [READ-WRITE] done\r\n"
//!             ),
//!             c if c.starts_with("UID FETCH 4 ") => format!(
//!                 "* 1 FETCH (UID 4 RFC822.SIZE 5 FLAGS (\\Seen) BODY[] {{5}}\r\nhello)\r\n\
//!                  {tag} OK done\r\n"
//!             ),
//!             "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
//!             _ => format!("{tag} BAD unknown\r\n"),
//!         };
//!         write.write_all(answer.as_bytes()).await?;
//!     }
//!     Ok::<_, std::io::Error>(())
//! });
//!
//! let config = ImapConfig::new("127.0.0.1", Security::Plaintext).with_port(port);
//! let mut client = ImapClient::connect(&config).await?;
//! let info = client.login(&Credentials::password("alice", "secret"), None).await?;
//! assert_eq!(info.method, AuthMethod::Login);
//! let status = client.select("INBOX").await?;
//! assert_eq!((status.exists, status.uidvalidity, status.uidnext), (1, Some(7), Some(5)));
//! let mut messages = client.uid_fetch_bodies(&[4])?;
//! let message = messages.next().await.expect("one message")?;
//! assert_eq!((message.uid, &message.body[..]), (4, &b"hello"[..]));
//! assert!(messages.next().await.is_none());
//! client.logout().await?;
//! # Ok(()) }
//! ```

mod auth;
mod client;
mod error;
mod expunge;
mod fetch;
mod idle;
mod machine;
mod ops;
mod types;

pub use inbound_imap_codec::types::{
    Capability, DateTime, Flag, FlagPerm, ListItem, MailboxAttribute, SearchKey, SequenceSet,
    StoreType,
};

pub use client::ImapClient;
pub use error::ImapError;
pub use expunge::ExpungeOutcome;
pub use fetch::FetchStream;
pub use idle::IdleHandle;
pub use ops::UidSet;
pub use types::{
    AuthInfo, AuthMethod, CopyUid, DEFAULT_IDLE_RENEWAL, DEFAULT_MAX_COMMAND_RESPONSES,
    DEFAULT_MAX_LINE_LEN, DEFAULT_MAX_MESSAGE_SIZE, FetchedMessage, IdleEvent, ImapConfig,
    MailboxStatus, MessageMeta, MoveOutcome, Unsolicited,
};
