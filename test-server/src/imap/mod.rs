//! The IMAP4rev1 session of the fake server, over Inbound's own IMAP codec.
//!
//! One session per connection: [`serve_imap`] runs it over any stream (TLS already on or
//! never wanted), [`serve_imap_tcp`] over a plain TCP connection that may upgrade with
//! STARTTLS. Every session shares an [`ImapContext`]: the mail store, the OAuth token
//! registry, the fault settings, the TLS acceptor and the transcript capture.
//!
//! What it speaks: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (PLAIN, LOGIN,
//! XOAUTH2, OAUTHBEARER, with SASL-IR), ENABLE, ID, SELECT, EXAMINE, CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND, CHECK, CLOSE, UNSELECT,
//! EXPUNGE, UID EXPUNGE, \[UID\] SEARCH (with ESEARCH return options), \[UID\] FETCH,
//! \[UID\] STORE, \[UID\] COPY, \[UID\] MOVE and IDLE. Each session has its own sequence
//! numbers ([`FolderView`](crate::mailstore::FolderView)); changes by other sessions are
//! reported as EXISTS / EXPUNGE / FETCH FLAGS at the next command, and at once to an idling
//! session.
//!
//! Capabilities can be hidden ([`ImapContext::hidden_capabilities`]): a hidden one is left
//! out of every capability list and its behaviour is off, like on a server that lacks it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use inbound_test_server::imap::{ImapContext, serve_imap};
//! use inbound_test_server::mailstore::MailStore;
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! let store = MailStore::new();
//! store.add_user("alice", "pw");
//! let ctx = ImapContext::new(store);
//! let (mut client, server) = tokio::io::duplex(4096);
//! tokio::spawn(serve_imap(server, ctx, 1));
//! client.write_all(b"a LOGIN alice pw\r\nb SELECT INBOX\r\nc LOGOUT\r\n").await?;
//! let mut answer = String::new();
//! client.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("* OK [CAPABILITY IMAP4rev1"));
//! assert!(answer.contains("\r\n* 0 EXISTS\r\n"));
//! assert!(answer.ends_with("c OK Logout completed.\r\n"));
//! # Ok(()) }
//! ```

mod commands;
mod conn;
mod fetch;
mod mime;
mod quirks;
mod search;
mod session;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::conn::Conn;
use crate::faults::FaultControl;
use crate::mailstore::MailStore;
use crate::oauth::TokenRegistry;
use crate::transcript::TranscriptCapture;

/// How long a session may wait for a command before it is logged out (RFC 3501 asks for at
/// least 30 minutes; tests shorten it).
pub const DEFAULT_AUTO_LOGOUT: Duration = Duration::from_secs(30 * 60);

/// What every IMAP session of a server shares. Cheap to clone.
#[derive(Clone)]
pub struct ImapContext {
    /// The mail.
    pub store: MailStore,
    /// The token registry XOAUTH2 and OAUTHBEARER check bearer tokens against.
    pub registry: TokenRegistry,
    /// The faults each new session takes its settings from.
    pub faults: FaultControl,
    /// For STARTTLS; `None`: STARTTLS is not offered.
    pub acceptor: Option<TlsAcceptor>,
    /// Refuse LOGIN and AUTHENTICATE before TLS (and advertise `LOGINDISABLED`).
    pub login_disabled_before_tls: bool,
    /// Close sessions waiting this long for a command.
    pub auto_logout: Duration,
    /// The host name in the greeting.
    pub hostname: String,
    /// Also keep transcripts here (they always go to `tracing`).
    pub transcript: Option<TranscriptCapture>,
    /// Becomes `true` when the server shuts down; sessions then say BYE and close.
    pub shutdown: Option<watch::Receiver<bool>>,
    /// Capabilities not advertised and not honoured, by name (`SASL-IR`, `AUTH=PLAIN`,
    /// `MOVE`, ...; compared case-insensitively). See
    /// [`ServerConfig::hide_capability`](crate::server::ServerConfig::hide_capability).
    pub hidden_capabilities: BTreeSet<String>,
}

impl fmt::Debug for ImapContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapContext")
            .field("store", &self.store)
            .field("starttls", &self.acceptor.is_some())
            .field("login_disabled_before_tls", &self.login_disabled_before_tls)
            .field("hidden_capabilities", &self.hidden_capabilities)
            .finish_non_exhaustive()
    }
}

impl ImapContext {
    /// A context over `store` with a fresh token registry, no faults, no STARTTLS.
    pub fn new(store: MailStore) -> Self {
        Self {
            store,
            registry: TokenRegistry::new(),
            faults: FaultControl::new(),
            acceptor: None,
            login_disabled_before_tls: false,
            auto_logout: DEFAULT_AUTO_LOGOUT,
            hostname: "localhost".to_owned(),
            transcript: None,
            shutdown: None,
            hidden_capabilities: BTreeSet::new(),
        }
    }

    /// Hides a capability (see
    /// [`ServerConfig::hide_capability`](crate::server::ServerConfig::hide_capability)).
    #[must_use]
    pub fn with_hidden_capability(mut self, name: &str) -> Self {
        self.hidden_capabilities.insert(name.to_ascii_uppercase());
        self
    }

    /// Whether the capability `name` is hidden (case-insensitive).
    pub fn hides(&self, name: &str) -> bool {
        self.hidden_capabilities
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Offers STARTTLS with this acceptor.
    #[must_use]
    pub fn with_acceptor(mut self, acceptor: TlsAcceptor) -> Self {
        self.acceptor = Some(acceptor);
        self
    }

    /// Uses this token registry.
    #[must_use]
    pub fn with_registry(mut self, registry: TokenRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Uses these fault settings.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultControl) -> Self {
        self.faults = faults;
        self
    }

    /// Captures transcripts.
    #[must_use]
    pub fn with_transcript(mut self, capture: TranscriptCapture) -> Self {
        self.transcript = Some(capture);
        self
    }

    /// Refuses logins before TLS.
    #[must_use]
    pub fn with_login_disabled_before_tls(mut self, disabled: bool) -> Self {
        self.login_disabled_before_tls = disabled;
        self
    }

    /// Closes sessions idle this long.
    #[must_use]
    pub fn with_auto_logout(mut self, after: Duration) -> Self {
        self.auto_logout = after;
        self
    }
}

/// Runs one session over a stream on which TLS is on already, or never wanted (no
/// STARTTLS offered). `session_id` numbers the transcript.
pub async fn serve_imap<S>(stream: S, ctx: ImapContext, session_id: u64)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    session::run(Conn::Other(Box::new(stream)), Arc::new(ctx), session_id).await;
}

/// Runs one session over a plain TCP connection; STARTTLS is offered when the context has
/// an acceptor.
pub async fn serve_imap_tcp(stream: TcpStream, ctx: ImapContext, session_id: u64) {
    session::run(Conn::Plain(stream), Arc::new(ctx), session_id).await;
}

/// Runs one session over a connection of any kind (implicit TLS: [`Conn::Tls`]).
pub async fn serve_imap_conn(conn: Conn, ctx: ImapContext, session_id: u64) {
    session::run(conn, Arc::new(ctx), session_id).await;
}

/// The session function of [`TestServer`](crate::server::TestServer)'s IMAP and IMAPS
/// listeners.
pub(crate) async fn serve(session: crate::session::Session) {
    let crate::session::Session {
        id,
        shared,
        conn,
        shutdown,
        ..
    } = session;
    let ctx = ImapContext {
        store: shared.store.clone(),
        registry: shared.registry.clone(),
        faults: shared.faults.clone(),
        acceptor: Some(shared.acceptor.clone()),
        login_disabled_before_tls: shared.login_disabled_before_tls,
        auto_logout: shared.auto_logout,
        hostname: shared.hostname.clone(),
        transcript: shared.transcript.clone(),
        shutdown: Some(shutdown),
        hidden_capabilities: shared.hidden_capabilities.clone(),
    };
    session::run(conn, Arc::new(ctx), id).await;
}
