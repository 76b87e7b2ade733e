//! An in-memory mail server behind the [`backend`](crate::backend) traits, for tests and
//! benchmarks: run a [`Retriever`](crate::Retriever) against it to test your own
//! [`Events`](crate::Events) handlers or storage without a network, including what they do
//! when the server fails at a chosen moment.
//!
//! ```
//! use inbound_retrieve::backend::memory::{FaultKind, FaultPoint, MemoryServer};
//! use inbound_retrieve::{AccountConfig, MailProtocol, NoEvents, Retriever};
//! use std::sync::{Arc, Mutex};
//!
//! let server = MemoryServer::new();
//! for i in 1..=3 {
//!     server.deliver("INBOX", format!("Subject: hello {i}\r\n\r\nHi!\r\n"));
//! }
//! // The server refuses to hand out the second message of the first fetch.
//! server.fault(FaultPoint::FetchMessage, 2, FaultKind::Refuse);
//!
//! let account = AccountConfig {
//!     name: Some("test".into()),
//!     protocol: Some(MailProtocol::Imap),
//!     host: Some("mail.test".into()),
//!     username: Some("me".into()),
//!     password: Some("any".into()),
//!     ..AccountConfig::default()
//! }
//! .validate()
//! .unwrap();
//! let store = inbound_retrieve::share(inbound_store::Store::open_in_memory(None).unwrap());
//! let retriever = Retriever::new(store, server.connector());
//! let run = || futures::executor::block_on(retriever.retrieve_with_events(&account, &mut NoEvents));
//!
//! let first = run().unwrap();
//! assert_eq!((first.fetched, first.not_delivered.len()), (1, 2));
//! // The fault fired once; the next run asks again for what it did not get.
//! let second = run().unwrap();
//! assert_eq!(second.fetched, 2);
//! assert_eq!(server.counters().connections, 2);
//! ```
//!
//! By default the server accepts any credentials ([`MemoryServer::require_password`] and
//! [`MemoryServer::require_token`] make it strict), has the IMAP capabilities MOVE, UIDPLUS
//! and IDLE ([`MemoryServer::set_capabilities`]), and keeps POP3 deletions until `QUIT` as a
//! real server does. Like a real server, `UID SEARCH` answers in descending UID order and
//! includes the highest UID even when it is below the one asked from (RFC 3501's `n:*`
//! rule), and an IDLE wakes only for new mail in its own folder.
//!
//! Faults ([`MemoryServer::fault`]) fire at named points ([`FaultPoint`]) of the sessions:
//! the connection drops, the server says BYE, stops answering, refuses the command, or hangs
//! for good. After a connection fault (every [`FaultKind`] but `Refuse` and `Hang`) the
//! session answers every later command with [`ErrorKind::Disconnected`], as a closed socket
//! would.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc;
use futures::future::{self, Either};
use inbound_net::Credentials;

use crate::account::Account;
use crate::backend::{
    BackendError, BackendResult, Connector, ErrorKind, FolderStatus, IdleOutcome, ImapCapabilities,
    ImapSession, MessageSize, Pop3Session, Pop3Uidl, RemoteMessage, StopSignal,
};

mod faults;
mod imap;
mod pop3;

use faults::Fault;
pub use faults::{FaultKind, FaultPoint};
pub use imap::MemoryImap;
pub use pop3::MemoryPop3;

/// What the sessions of a [`MemoryServer`] did, counted since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Sessions opened with accepted credentials (IMAP and POP3).
    pub connections: u32,
    /// IMAP sessions ended with a successful `LOGOUT`.
    pub logouts: u32,
    /// Connection attempts refused for their credentials.
    pub auth_failures: u32,
    /// The most UIDs passed to one IMAP fetch, move or delete call (0 before the first).
    pub max_uids_per_call: usize,
}

#[derive(Debug)]
struct Folder {
    uidvalidity: u32,
    uidnext: u32,
    messages: BTreeMap<u32, Bytes>,
}

impl Folder {
    fn new(uidvalidity: u32) -> Self {
        Self {
            uidvalidity,
            uidnext: 1,
            messages: BTreeMap::new(),
        }
    }

    fn append(&mut self, message: Bytes) -> u32 {
        let uid = self.uidnext;
        self.uidnext = self.uidnext.saturating_add(1);
        self.messages.insert(uid, message);
        uid
    }
}

/// What wakes an IDLE.
#[derive(Debug)]
enum Wake {
    NewMail,
    Drop,
}

#[derive(Debug)]
struct Watcher {
    folder: String,
    tx: mpsc::UnboundedSender<Wake>,
}

#[derive(Debug)]
struct State {
    folders: BTreeMap<String, Folder>,
    /// (UIDL, message), in arrival order.
    maildrop: Vec<(String, Bytes)>,
    next_uidl: u64,
    watchers: Vec<Watcher>,
    capabilities: ImapCapabilities,
    pop3_uidl: bool,
    password: Option<String>,
    token: Option<String>,
    faults: Vec<Fault>,
    log: Vec<String>,
    counters: Counters,
}

impl State {
    fn folder_mut(&mut self, folder: &str) -> &mut Folder {
        self.folders
            .entry(folder.to_owned())
            .or_insert_with(|| Folder::new(1))
    }

    fn log(&mut self, line: String) {
        self.log.push(line);
    }

    fn note_uids(&mut self, n: usize) {
        self.counters.max_uids_per_call = self.counters.max_uids_per_call.max(n);
    }

    /// Wakes the sessions idling on `folder`, forgetting those that are gone.
    fn wake(&mut self, folder: &str) {
        self.watchers.retain(|w| {
            if w.folder == folder {
                w.tx.unbounded_send(Wake::NewMail).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
    }
}

/// An in-memory IMAP folder set and POP3 maildrop, with fault injection. Clones share the
/// same mail, settings, faults and counters.
#[derive(Debug, Clone)]
pub struct MemoryServer {
    state: Arc<Mutex<State>>,
}

impl Default for MemoryServer {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryServer {
    /// A server with an empty `INBOX` (UIDVALIDITY 1) and an empty maildrop, accepting any
    /// credentials, with MOVE, UIDPLUS, IDLE and POP3 UIDL, and no faults.
    pub fn new() -> Self {
        let mut folders = BTreeMap::new();
        folders.insert("INBOX".to_owned(), Folder::new(1));
        Self {
            state: Arc::new(Mutex::new(State {
                folders,
                maildrop: Vec::new(),
                next_uidl: 0,
                watchers: Vec::new(),
                capabilities: ImapCapabilities {
                    idle: true,
                    move_command: true,
                    uidplus: true,
                },
                pop3_uidl: true,
                password: None,
                token: None,
                faults: Vec::new(),
                log: Vec::new(),
                counters: Counters::default(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connector opening sessions on this server.
    pub fn connector(&self) -> MemoryConnector {
        MemoryConnector {
            server: self.clone(),
        }
    }

    /// Accept only this password from now on (`None`, the default: any password). A wrong
    /// one fails the connection with [`ErrorKind::Auth`] and counts in
    /// [`Counters::auth_failures`]; sessions already open stay open.
    pub fn require_password(&self, password: Option<&str>) {
        self.lock().password = password.map(str::to_owned);
    }

    /// Accept only this OAuth access token from now on (`None`, the default: any token the
    /// account's provider hands out). Sessions already open stay open: call
    /// [`MemoryServer::drop_idlers`] to end them as a server does when a token expires.
    pub fn require_token(&self, token: Option<&str>) {
        self.lock().token = token.map(str::to_owned);
    }

    /// The IMAP capabilities sessions opened from now on announce (default: all).
    pub fn set_capabilities(&self, capabilities: ImapCapabilities) {
        self.lock().capabilities = capabilities;
    }

    /// The IMAP capabilities new sessions announce.
    pub fn capabilities(&self) -> ImapCapabilities {
        self.lock().capabilities
    }

    /// Whether POP3 `UIDL` is supported (default `true`); without it, `UIDL` fails with
    /// [`ErrorKind::Unsupported`].
    pub fn set_pop3_uidl(&self, supported: bool) {
        self.lock().pop3_uidl = supported;
    }

    /// Creates an IMAP folder (with UIDVALIDITY 1) unless it exists.
    pub fn create_folder(&self, folder: &str) {
        self.lock().folder_mut(folder);
    }

    /// Appends a message to an IMAP folder (created if missing) and returns its UID; wakes
    /// the sessions idling on that folder.
    pub fn deliver(&self, folder: &str, message: impl Into<Bytes>) -> u32 {
        let mut st = self.lock();
        let uid = st.folder_mut(folder).append(message.into());
        st.wake(folder);
        uid
    }

    /// Appends a message to the POP3 maildrop and returns its UIDL (`m` and 8 digits,
    /// counting from `m00000001`).
    pub fn deliver_pop3(&self, message: impl Into<Bytes>) -> String {
        let mut st = self.lock();
        st.next_uidl += 1;
        let uidl = format!("m{:08}", st.next_uidl);
        st.maildrop.push((uidl.clone(), message.into()));
        uidl
    }

    /// Renumbers an IMAP folder as a server that lost its index does: the new UIDVALIDITY,
    /// and the messages (in their order) get UIDs from 1 again. Returns `false` (and changes
    /// nothing) when the folder does not exist.
    pub fn renumber(&self, folder: &str, uidvalidity: u32) -> bool {
        let mut st = self.lock();
        let Some(f) = st.folders.get_mut(folder) else {
            return false;
        };
        let messages = std::mem::take(&mut f.messages);
        f.uidvalidity = uidvalidity;
        f.uidnext = 1;
        for message in messages.into_values() {
            f.append(message);
        }
        true
    }

    /// Removes every message of an IMAP folder (as another client's expunge would); UIDNEXT
    /// and UIDVALIDITY stay.
    pub fn remove_all(&self, folder: &str) {
        if let Some(f) = self.lock().folders.get_mut(folder) {
            f.messages.clear();
        }
    }

    /// Sets a fault: the `nth` time (1 = the next; 0 counts as 1) a session reaches `point`,
    /// it fails as `kind` says, once. Faults at the same point queue: the second one starts
    /// counting after the first fired, so setting the same fault three times fails three
    /// attempts in a row.
    pub fn fault(&self, point: FaultPoint, nth: u32, kind: FaultKind) {
        self.lock().faults.push(Fault {
            point,
            countdown: nth.max(1),
            kind,
        });
    }

    /// Removes the faults that have not fired yet.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Drops the connection of every session in IDLE now: their `idle` fails with
    /// [`ErrorKind::Disconnected`] and the sessions are dead.
    pub fn drop_idlers(&self) {
        for w in self.lock().watchers.drain(..) {
            let _ = w.tx.unbounded_send(Wake::Drop);
        }
    }

    /// The messages of an IMAP folder by UID (empty when the folder does not exist).
    pub fn messages(&self, folder: &str) -> Vec<(u32, Bytes)> {
        self.lock()
            .folders
            .get(folder)
            .map(|f| f.messages.iter().map(|(u, m)| (*u, m.clone())).collect())
            .unwrap_or_default()
    }

    /// The number of messages in an IMAP folder (0 when it does not exist).
    pub fn count(&self, folder: &str) -> usize {
        self.lock()
            .folders
            .get(folder)
            .map_or(0, |f| f.messages.len())
    }

    /// The POP3 maildrop: (UIDL, message), in arrival order.
    pub fn maildrop(&self) -> Vec<(String, Bytes)> {
        self.lock().maildrop.clone()
    }

    /// The commands that changed something or ended a wait, in order, one line each:
    /// `FETCH n` (a fetch asked for n UIDs), `CREATE folder`, `MOVE n`, without MOVE
    /// `COPY n` then `STORE+EXPUNGE n`, `DELETE n`, `DONE` (an IDLE ended by its stop
    /// signal), and `QUIT deleted n` (a POP3 `QUIT` committed n deletions).
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// Counts an arrival at `point`; fails when a fault fires there.
    async fn check(&self, point: FaultPoint) -> BackendResult<()> {
        let fired = {
            let mut st = self.lock();
            match st.faults.iter().position(|f| f.point == point) {
                Some(i) => {
                    let due = st.faults.get_mut(i).is_some_and(|f| {
                        f.countdown = f.countdown.saturating_sub(1);
                        f.countdown == 0
                    });
                    due.then(|| st.faults.remove(i).kind)
                }
                None => None,
            }
        };
        match fired {
            None => Ok(()),
            Some(kind) => {
                tracing::debug!(?point, ?kind, "memory server: injected fault");
                if kind == FaultKind::Hang {
                    future::pending::<()>().await;
                }
                Err(kind.error(point))
            }
        }
    }

    async fn authenticate(&self, credentials: &Credentials) -> BackendResult<()> {
        let accepted = match credentials {
            Credentials::Password { password, .. } => self
                .lock()
                .password
                .as_deref()
                .is_none_or(|p| p == password.expose()),
            Credentials::OAuth { provider, .. } => {
                let token = provider
                    .token()
                    .await
                    .map_err(|e| BackendError::new(ErrorKind::Auth, e.to_string()))?;
                self.lock()
                    .token
                    .as_deref()
                    .is_none_or(|t| t == token.secret().expose())
            }
        };
        let mut st = self.lock();
        if accepted {
            st.counters.connections += 1;
            Ok(())
        } else {
            st.counters.auth_failures += 1;
            Err(BackendError::new(ErrorKind::Auth, "invalid credentials"))
        }
    }
}

/// Opens [`MemoryImap`] and [`MemoryPop3`] sessions on a [`MemoryServer`].
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    server: MemoryServer,
}

impl Connector for MemoryConnector {
    type Imap = MemoryImap;
    type Pop3 = MemoryPop3;

    async fn connect_imap(
        &self,
        _account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<MemoryImap> {
        self.server.check(FaultPoint::Connect).await?;
        self.server.authenticate(credentials).await?;
        let capabilities = self.server.lock().capabilities;
        Ok(MemoryImap {
            server: self.server.clone(),
            selected: None,
            dead: false,
            capabilities,
        })
    }

    async fn connect_pop3(
        &self,
        _account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<MemoryPop3> {
        self.server.check(FaultPoint::Connect).await?;
        self.server.authenticate(credentials).await?;
        let snapshot = self.server.lock().maildrop.clone();
        Ok(MemoryPop3 {
            server: self.server.clone(),
            snapshot,
            deleted: BTreeSet::new(),
            dead: false,
        })
    }
}

fn closed() -> BackendError {
    BackendError::new(ErrorKind::Disconnected, "connection is closed")
}

/// Passes `point` on `server` for a session: fails when the session is dead or a fault
/// fires, and marks the session dead after a connection fault.
async fn session_check(
    server: &MemoryServer,
    dead: &mut bool,
    point: FaultPoint,
) -> BackendResult<()> {
    if *dead {
        return Err(closed());
    }
    let result = server.check(point).await;
    if let Err(e) = &result {
        *dead |= e.is_connection_error();
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::{AccountConfig, MailProtocol};

    fn account() -> Account {
        AccountConfig {
            name: Some("t".into()),
            protocol: Some(MailProtocol::Imap),
            host: Some("mail.test".into()),
            username: Some("me".into()),
            password: Some("pw".into()),
            ..AccountConfig::default()
        }
        .validate()
        .unwrap()
    }

    fn imap(server: &MemoryServer, password: &str) -> BackendResult<MemoryImap> {
        let credentials = Credentials::password("me", password);
        block_on(server.connector().connect_imap(&account(), &credentials))
    }

    #[test]
    fn faults_fire_at_their_nth_occurrence_and_queue() {
        let server = MemoryServer::new();
        server.fault(FaultPoint::Select, 2, FaultKind::Refuse);
        server.fault(FaultPoint::Select, 1, FaultKind::Refuse);
        let mut s = imap(&server, "x").unwrap();
        let kinds: Vec<Option<ErrorKind>> = (0..4)
            .map(|_| block_on(s.select("INBOX")).err().map(|e| e.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                None,
                Some(ErrorKind::Refused),
                Some(ErrorKind::Refused),
                None
            ]
        );
    }

    #[test]
    fn a_connection_fault_kills_the_session_a_refusal_does_not() {
        let server = MemoryServer::new();
        server.fault(FaultPoint::Select, 1, FaultKind::Refuse);
        let mut s = imap(&server, "x").unwrap();
        assert!(block_on(s.select("INBOX")).is_err());
        assert!(block_on(s.select("INBOX")).is_ok());
        server.fault(FaultPoint::Search, 1, FaultKind::Bye);
        assert_eq!(
            block_on(s.uid_search(1)).unwrap_err().kind(),
            ErrorKind::Bye
        );
        let after = block_on(s.select("INBOX")).unwrap_err();
        assert_eq!(after.kind(), ErrorKind::Disconnected);
        server.clear_faults();
        assert!(imap(&server, "x").is_ok());
    }

    #[test]
    fn renumbering_and_credentials() {
        let server = MemoryServer::new();
        server.deliver("INBOX", "a");
        server.deliver("INBOX", "b");
        server.remove_all("INBOX");
        server.deliver("INBOX", "c");
        assert_eq!(server.messages("INBOX")[0].0, 3);
        assert!(server.renumber("INBOX", 7));
        assert!(!server.renumber("Nowhere", 7));
        assert_eq!(server.messages("INBOX"), [(1, Bytes::from("c"))]);

        server.require_password(Some("secret"));
        let refused = imap(&server, "wrong").unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Auth);
        let mut s = imap(&server, "secret").unwrap();
        let status = block_on(s.select("INBOX")).unwrap();
        assert_eq!((status.uidvalidity, status.uidnext), (7, Some(2)));
        let counters = server.counters();
        assert_eq!((counters.connections, counters.auth_failures), (1, 1));
    }
}
