//! The typed server operations retrieval needs, as traits. The IMAP and POP3 clients of
//! `inbound-net` implement them through small adapters; tests implement them in memory.
//!
//! **Boundary:** nothing here is wire syntax. UID lists are plain `u32` slices of any length:
//! splitting them into commands under the server's line limit (and compressing them to
//! ranges) is the adapter's job. Retrieval passes at most one batch of UIDs to
//! [`ImapSession::fetch_messages`], [`ImapSession::uid_move`] and
//! [`ImapSession::uid_delete`], and at most [`SIZE_CHUNK`] to
//! [`ImapSession::fetch_sizes`].
//!
//! Futures returned by the traits must be `Send`, so sessions can live in spawned tasks.

pub mod memory;
pub mod net;
pub mod paced;
pub mod throttle;

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use inbound_net::Credentials;

use crate::account::Account;

/// The most UIDs retrieval passes to one [`ImapSession::fetch_sizes`] call.
pub const SIZE_CHUNK: usize = 5000;

/// What kind of failure a [`BackendError`] is; it decides whether retrieval reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Could not connect (DNS, TCP, TLS, STARTTLS).
    Connect,
    /// The server refused the credentials (for OAuth: perhaps an expired token).
    Auth,
    /// The connection was lost (EOF, reset, I/O error).
    Disconnected,
    /// The server sent BYE (shutting down, or logging us out).
    Bye,
    /// The server did not answer within the account's timeout.
    Timeout,
    /// The server answered NO/BAD/-ERR to a command; the session is still usable.
    Refused,
    /// The folder does not exist.
    NoSuchFolder,
    /// The folder to create already exists.
    AlreadyExists,
    /// The server broke the protocol (unparsable or unexpected response); the session is
    /// not usable any more.
    Protocol,
    /// The server lacks something required (for example POP3 UIDL).
    Unsupported,
    /// Some of the server's answers to one command could not be used (unparsable, or over
    /// the size limit) and were skipped; the session is still usable.
    Unreadable,
    /// Not expunged: the server has no UIDPLUS and other messages of the folder are marked
    /// `\Deleted` (by another client), which a plain `EXPUNGE` would remove too. The
    /// messages stay marked `\Deleted`; for a move, they were copied to the target already.
    ExpungeWithheld,
    /// The server is throttling this client (too many connections or commands, a busy back
    /// end; see [`throttle`]): the session is not used further, and the next connection
    /// must wait, for [`BackendError::retry_after`] when the server said how long.
    Throttled,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Connect => "could not connect",
            ErrorKind::Auth => "authentication failed",
            ErrorKind::Disconnected => "connection lost",
            ErrorKind::Bye => "server closed the session",
            ErrorKind::Timeout => "server timed out",
            ErrorKind::Refused => "server refused the command",
            ErrorKind::NoSuchFolder => "no such folder",
            ErrorKind::AlreadyExists => "folder already exists",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Unsupported => "not supported by the server",
            ErrorKind::Unreadable => "unusable answer skipped",
            ErrorKind::ExpungeWithheld => "not expunged",
            ErrorKind::Throttled => "server is throttling",
        }
    }
}

/// A failed server operation. The message must not contain secrets or message content.
#[derive(Debug, thiserror::Error)]
pub struct BackendError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind.describe())
        } else {
            write!(f, "{}: {}", self.kind.describe(), self.message)
        }
    }
}

impl BackendError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// A [`ErrorKind::Throttled`] error: the server is throttling this client and asked to
    /// wait `retry_after` (capped at [`throttle::MAX_HINT`]), when it said.
    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            retry_after: retry_after.map(|d| d.min(throttle::MAX_HINT)),
            ..Self::new(ErrorKind::Throttled, message)
        }
    }

    /// How long the server asked to wait before connecting again: set only for
    /// [`ErrorKind::Throttled`] errors whose answer gave a wait (at most
    /// [`throttle::MAX_HINT`]).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the session cannot be used any more and a reconnect may help.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connect
                | ErrorKind::Disconnected
                | ErrorKind::Bye
                | ErrorKind::Timeout
                | ErrorKind::Protocol
                | ErrorKind::Throttled
        )
    }
}

/// Result of a backend operation.
pub type BackendResult<T> = Result<T, BackendError>;

/// What the IMAP server can do, from its CAPABILITY response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImapCapabilities {
    /// IDLE (RFC 2177).
    pub idle: bool,
    /// MOVE (RFC 6851). Without it, [`ImapSession::uid_move`] falls back to COPY, STORE
    /// `\Deleted` and expunge.
    pub move_command: bool,
    /// UIDPLUS (RFC 4315): `UID EXPUNGE` removes only the given UIDs.
    pub uidplus: bool,
}

/// A selected folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT, if the server sent it.
    pub uidnext: Option<u32>,
    /// EXISTS: the number of messages.
    pub exists: u32,
}

/// One message's size, from `UID FETCH ... (RFC822.SIZE)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSize {
    /// UID.
    pub uid: u32,
    /// Size in bytes.
    pub size: u64,
}

/// One message as fetched from the server, before it is stored (the store hands it back as a
/// [`StoredMessage`](inbound_store::StoredMessage)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMessage {
    /// UID.
    pub uid: u32,
    /// RFC822.SIZE as the server reported it (may differ from `body.len()`), else
    /// `body.len()`.
    pub size: u64,
    /// INTERNALDATE, seconds since the Unix epoch, if asked for and sent.
    pub internal_date: Option<i64>,
    /// Flags, as sent (`\Seen`, `$Forwarded`, ...), if asked for.
    pub flags: Vec<String>,
    /// The whole message, `BODY.PEEK[]`.
    pub body: Bytes,
}

/// What ended an IDLE (the network client's own `inbound_net::imap::IdleEvent` is each
/// untagged response seen during it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// New messages arrived (EXISTS grew, or RECENT).
    NewMail,
    /// A message was expunged.
    Expunge,
    /// The maximum IDLE time passed with nothing happening (re-issue IDLE).
    Timeout,
    /// The [`StopSignal`] fired; DONE was sent and the session is idle-free again.
    Stopped,
}

/// An IMAP session, logged in, in the authenticated state.
///
/// Every method is a typed operation; adapters must:
/// - fetch with `BODY.PEEK[]`, never `BODY[]`/`RFC822`, so retrieval marks nothing `\Seen`;
/// - use UID commands only, never sequence numbers;
/// - split long UID lists into commands under the server's line limit;
/// - apply the account's timeout to every read.
pub trait ImapSession: Send {
    /// The capabilities after login.
    fn capabilities(&self) -> ImapCapabilities;

    /// `SELECT folder` (read-write). [`ErrorKind::NoSuchFolder`] if it does not exist.
    fn select(&mut self, folder: &str) -> impl Future<Output = BackendResult<FolderStatus>> + Send;

    /// `UID SEARCH UID from:*` (or `ALL` when `from` is 1): the UIDs `>= from`, in any order.
    /// The server may include the highest UID even when it is below `from` (RFC 3501's `n:*`
    /// rule); callers filter.
    fn uid_search(&mut self, from: u32) -> impl Future<Output = BackendResult<Vec<u32>>> + Send;

    /// `UID FETCH uids (RFC822.SIZE)`. UIDs that no longer exist are absent from the result.
    fn fetch_sizes(
        &mut self,
        uids: &[u32],
    ) -> impl Future<Output = BackendResult<Vec<MessageSize>>> + Send;

    /// `UID FETCH uids (UID BODY.PEEK[])` (retrieval needs nothing else; an adapter may ask
    /// for more and fill [`RemoteMessage`]'s other fields), handing each message to
    /// `on_message` as it completes, so one message at a time is held. When `on_message`
    /// returns `Break`, the adapter stops delivering (reading and discarding the rest of the
    /// response, or dropping the connection) and returns `Ok`. UIDs that no longer exist are
    /// simply not delivered.
    ///
    /// A refusal (`NO`/`BAD`, [`ErrorKind::Refused`]) or an answer that could not be used
    /// ([`ErrorKind::Unreadable`]) for some of the messages is returned after the others
    /// were delivered; retrieval records the undelivered ones and asks again next run.
    fn fetch_messages(
        &mut self,
        uids: &[u32],
        on_message: &mut (dyn FnMut(RemoteMessage) -> ControlFlow<()> + Send),
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// `CREATE folder`. [`ErrorKind::AlreadyExists`] when it exists.
    fn create_folder(&mut self, folder: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// Moves the messages of the selected folder to `target`: `UID MOVE` when the server has
    /// MOVE, else `UID COPY`, `UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` (or
    /// `EXPUNGE` without UIDPLUS). UIDs that no longer exist are ignored.
    ///
    /// Without UIDPLUS, a plain `EXPUNGE` is sent only when no other message of the folder
    /// is marked `\Deleted`; else [`ErrorKind::ExpungeWithheld`] (the messages are copied and
    /// marked `\Deleted`, still in the folder).
    fn uid_move(
        &mut self,
        uids: &[u32],
        target: &str,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// Deletes messages of the selected folder: `UID STORE +FLAGS.SILENT (\Deleted)` then
    /// `UID EXPUNGE` (or `EXPUNGE` without UIDPLUS). UIDs that no longer exist are ignored.
    ///
    /// Without UIDPLUS, a plain `EXPUNGE` is sent only when no other message of the folder
    /// is marked `\Deleted`; else [`ErrorKind::ExpungeWithheld`] (the messages stay marked
    /// `\Deleted`).
    fn uid_delete(&mut self, uids: &[u32]) -> impl Future<Output = BackendResult<()>> + Send;

    /// `IDLE` on the selected folder until something happens, `max` passes
    /// ([`IdleOutcome::Timeout`]) or `stop` fires ([`IdleOutcome::Stopped`]); then `DONE`.
    fn idle(
        &mut self,
        max: Duration,
        stop: &StopSignal,
    ) -> impl Future<Output = BackendResult<IdleOutcome>> + Send;

    /// `NOOP`.
    fn noop(&mut self) -> impl Future<Output = BackendResult<()>> + Send;

    /// `LOGOUT`, then close.
    fn logout(self) -> impl Future<Output = BackendResult<()>> + Send
    where
        Self: Sized;
}

/// One line of the POP3 `UIDL` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Uidl {
    /// Message number in this session.
    pub msgno: u32,
    /// Unique id.
    pub uidl: String,
}

/// A POP3 session, logged in (TRANSACTION state).
///
/// Deletions take effect only at [`Pop3Session::quit`]; dropping the session without
/// `quit` (closing the connection) deletes nothing.
pub trait Pop3Session: Send {
    /// `UIDL`: every message's number and unique id. [`ErrorKind::Unsupported`] when the
    /// server has no UIDL (retrieval refuses to work without it).
    fn uidl(&mut self) -> impl Future<Output = BackendResult<Vec<Pop3Uidl>>> + Send;

    /// `LIST`: every message's number and size.
    fn list(&mut self) -> impl Future<Output = BackendResult<Vec<(u32, u64)>>> + Send;

    /// `RETR msgno`: the message, dot-unstuffed.
    fn retr(&mut self, msgno: u32) -> impl Future<Output = BackendResult<Bytes>> + Send;

    /// `RETR` for each of `msgnos`, handing the messages (dot-unstuffed) to `on_message` in
    /// the order given. When `on_message` returns `Break`, no more messages are delivered
    /// and the call returns `Ok` (answers already in flight are discarded before the next
    /// command). Stops at the first error, after delivering the messages before it.
    ///
    /// The default sends one `RETR` at a time; the network adapter keeps several in flight
    /// when the server announces `PIPELINING` (RFC 2449), saving a round trip per message.
    fn retr_batch(
        &mut self,
        msgnos: &[u32],
        on_message: &mut (dyn FnMut(u32, Bytes) -> ControlFlow<()> + Send),
    ) -> impl Future<Output = BackendResult<()>> + Send {
        async move {
            for &msgno in msgnos {
                let body = self.retr(msgno).await?;
                if on_message(msgno, body).is_break() {
                    break;
                }
            }
            Ok(())
        }
    }

    /// `DELE msgno` (marks it; applied at `QUIT`).
    fn dele(&mut self, msgno: u32) -> impl Future<Output = BackendResult<()>> + Send;

    /// `QUIT`: commits the deletions. `Ok` only when the server answered `+OK`.
    fn quit(self) -> impl Future<Output = BackendResult<()>> + Send
    where
        Self: Sized;
}

/// Opens sessions for an account. Called again for every reconnect, so an OAuth adapter
/// asks the token provider for a token on each call (retrieval invalidates the provider's
/// cached token before reconnecting after an authentication failure or a lost session).
pub trait Connector: Send + Sync + 'static {
    /// The IMAP session type.
    type Imap: ImapSession + 'static;
    /// The POP3 session type.
    type Pop3: Pop3Session + 'static;

    /// Connects, secures and logs in to the account's IMAP server.
    fn connect_imap(
        &self,
        account: &Account,
        credentials: &Credentials,
    ) -> impl Future<Output = BackendResult<Self::Imap>> + Send;

    /// Connects, secures and logs in to the account's POP3 server.
    fn connect_pop3(
        &self,
        account: &Account,
        credentials: &Credentials,
    ) -> impl Future<Output = BackendResult<Self::Pop3>> + Send;
}

/// A signal that ends an IDLE (or a polling wait) early: fires once, seen by every clone.
#[derive(Clone)]
pub struct StopSignal {
    fired: Arc<AtomicBool>,
    wait: Shared<BoxFuture<'static, ()>>,
}

impl fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignal")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Fires a [`StopSignal`]; dropping it fires the signal too.
#[derive(Debug)]
pub struct StopHandle {
    fired: Arc<AtomicBool>,
    tx: Option<futures::channel::oneshot::Sender<()>>,
}

impl StopHandle {
    /// Fires the signal.
    pub fn stop(mut self) {
        self.fire();
    }

    fn fire(&mut self) {
        self.fired.store(true, Ordering::SeqCst);
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for StopHandle {
    fn drop(&mut self) {
        self.fire();
    }
}

impl StopSignal {
    /// A signal and the handle that fires it.
    pub fn new() -> (StopHandle, StopSignal) {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let wait = async move {
            let _ = rx.await;
        }
        .boxed()
        .shared();
        (
            StopHandle {
                fired: fired.clone(),
                tx: Some(tx),
            },
            StopSignal { fired, wait },
        )
    }

    /// A signal that never fires.
    pub fn never() -> StopSignal {
        StopSignal {
            fired: Arc::new(AtomicBool::new(false)),
            wait: futures::future::pending::<()>().boxed().shared(),
        }
    }

    /// True once fired.
    pub fn is_stopped(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Completes when the signal fires.
    pub async fn wait(&self) {
        if self.is_stopped() {
            return;
        }
        self.wait.clone().await;
    }
}
