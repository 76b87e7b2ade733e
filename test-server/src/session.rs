//! What the server hands its protocol sessions: the [`Service`] a connection came in on, the
//! [`Shared`] settings and handles, and one accepted connection as a [`Session`]. The
//! protocol modules (`imap`, `pop3`) depend on this module, not on `server`, which starts
//! them.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::conn::Conn;
use crate::faults::FaultControl;
use crate::mailstore::MailStore;
use crate::oauth::TokenRegistry;
use crate::transcript::{self, TranscriptCapture};

/// A listening service of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// IMAP on a plain port (STARTTLS available).
    Imap,
    /// IMAP over implicit TLS.
    Imaps,
    /// POP3 on a plain port (STLS available).
    Pop3,
    /// POP3 over implicit TLS.
    Pop3s,
}

impl Service {
    /// Every service, in the order of the `READY` line.
    pub const ALL: [Self; 4] = [Self::Imap, Self::Imaps, Self::Pop3, Self::Pop3s];

    /// The lower-case name used in the `READY` line (`imap`, `imaps`, `pop3`, `pop3s`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::Imaps => "imaps",
            Self::Pop3 => "pop3",
            Self::Pop3s => "pop3s",
        }
    }

    /// Whether TLS starts as soon as the connection is accepted.
    pub fn implicit_tls(self) -> bool {
        matches!(self, Self::Imaps | Self::Pop3s)
    }

    /// The protocol spoken, for transcripts.
    pub fn protocol(self) -> transcript::Protocol {
        match self {
            Self::Imap | Self::Imaps => transcript::Protocol::Imap,
            Self::Pop3 | Self::Pop3s => transcript::Protocol::Pop3,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What sessions share: settings and handles of the server.
pub(crate) struct Shared {
    pub(crate) store: MailStore,
    pub(crate) faults: FaultControl,
    pub(crate) registry: TokenRegistry,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) login_disabled_before_tls: bool,
    pub(crate) auto_logout: Duration,
    pub(crate) hostname: String,
    pub(crate) transcript: Option<TranscriptCapture>,
    pub(crate) hidden_capabilities: BTreeSet<String>,
    /// The next session number.
    pub(crate) session_ids: AtomicU64,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("login_disabled_before_tls", &self.login_disabled_before_tls)
            .field("auto_logout", &self.auto_logout)
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

/// One accepted connection, handed to a session function.
pub(crate) struct Session {
    /// The session number (for transcripts), unique in the server.
    pub(crate) id: u64,
    pub(crate) service: Service,
    pub(crate) shared: Arc<Shared>,
    pub(crate) conn: Conn,
    /// Becomes `true` when the server shuts down: close the session.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Returns once the server is stopping (or gone).
pub(crate) async fn wait_for_stop(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
