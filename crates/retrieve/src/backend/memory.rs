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
//! let store = Arc::new(Mutex::new(inbound_store::Store::open_in_memory(None).unwrap()));
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

/// Where a fault set with [`MemoryServer::fault`] fires: a step of an IMAP or POP3 session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultPoint {
    /// Opening a session (IMAP or POP3), before the credentials are checked.
    Connect,
    /// IMAP `SELECT`, before it is answered.
    Select,
    /// IMAP `UID SEARCH`, before it is answered.
    Search,
    /// IMAP `UID FETCH (RFC822.SIZE)`, before it is answered.
    FetchSizes,
    /// IMAP `UID FETCH BODY.PEEK[]`: before each message is handed over (the messages before
    /// it were delivered).
    FetchMessage,
    /// IMAP `UID FETCH BODY.PEEK[]`: after every message was handed over, before the OK.
    FetchDone,
    /// IMAP `CREATE`, before the folder is created.
    Create,
    /// IMAP move, before anything is moved.
    MoveBefore,
    /// IMAP move without the MOVE capability: after `UID COPY`, before the originals are
    /// removed (so the messages are in both folders).
    MoveAfterCopy,
    /// IMAP move, after the messages were moved, before the OK (the answer is lost).
    MoveAfter,
    /// IMAP delete, before anything is deleted.
    DeleteBefore,
    /// IMAP delete, after the messages were expunged, before the OK (the answer is lost).
    DeleteAfter,
    /// IMAP `IDLE`, before it is accepted.
    Idle,
    /// IMAP `LOGOUT`, before it is answered.
    Logout,
    /// POP3 `UIDL`, before it is answered.
    Uidl,
    /// POP3 `LIST`, before it is answered.
    List,
    /// POP3 `RETR`, before the message is sent.
    Retr,
    /// POP3 `DELE`, before the message is marked.
    Dele,
    /// POP3 `QUIT`, before the deletions are committed.
    QuitBefore,
    /// POP3 `QUIT`, after the deletions were committed, before the +OK (the answer is lost).
    QuitAfter,
}

impl FaultPoint {
    /// Every IMAP point a retrieval run passes (all but [`FaultPoint::Idle`], which only a
    /// subscription reaches).
    pub const IMAP_RETRIEVAL: &'static [FaultPoint] = &[
        FaultPoint::Connect,
        FaultPoint::Select,
        FaultPoint::Search,
        FaultPoint::FetchSizes,
        FaultPoint::FetchMessage,
        FaultPoint::FetchDone,
        FaultPoint::Create,
        FaultPoint::MoveBefore,
        FaultPoint::MoveAfterCopy,
        FaultPoint::MoveAfter,
        FaultPoint::DeleteBefore,
        FaultPoint::DeleteAfter,
        FaultPoint::Logout,
    ];

    /// Every POP3 point (all of them a retrieval run passes).
    pub const POP3_RETRIEVAL: &'static [FaultPoint] = &[
        FaultPoint::Connect,
        FaultPoint::Uidl,
        FaultPoint::List,
        FaultPoint::Retr,
        FaultPoint::Dele,
        FaultPoint::QuitBefore,
        FaultPoint::QuitAfter,
    ];
}

/// What a fault set with [`MemoryServer::fault`] does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// The connection drops: [`ErrorKind::Disconnected`], and the session is dead.
    Drop,
    /// The server says BYE: [`ErrorKind::Bye`], and the session is dead.
    Bye,
    /// The server stops answering, as the network adapter reports after the account's
    /// timeout: [`ErrorKind::Timeout`] at once, and the session is dead.
    Timeout,
    /// The server answers NO / -ERR: [`ErrorKind::Refused`]; the session stays usable.
    Refuse,
    /// The server never answers: the operation's future never completes (a test drops it,
    /// as a killed client would, or a watchdog gives up on it).
    Hang,
}

impl FaultKind {
    fn error(self, point: FaultPoint) -> BackendError {
        let kind = match self {
            FaultKind::Drop => ErrorKind::Disconnected,
            FaultKind::Bye => ErrorKind::Bye,
            FaultKind::Timeout => ErrorKind::Timeout,
            FaultKind::Refuse | FaultKind::Hang => ErrorKind::Refused,
        };
        BackendError::new(kind, format!("injected at {point:?}"))
    }
}

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
struct Fault {
    point: FaultPoint,
    countdown: u32,
    kind: FaultKind,
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

/// An IMAP session on a [`MemoryServer`].
#[derive(Debug)]
pub struct MemoryImap {
    server: MemoryServer,
    selected: Option<String>,
    dead: bool,
    capabilities: ImapCapabilities,
}

impl MemoryImap {
    async fn check(&mut self, point: FaultPoint) -> BackendResult<()> {
        session_check(&self.server, &mut self.dead, point).await
    }

    fn selected(&self) -> BackendResult<String> {
        self.selected
            .clone()
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no folder selected"))
    }

    /// Removes `uids` from the selected folder.
    fn remove(st: &mut State, folder: &str, uids: &[u32]) {
        if let Some(f) = st.folders.get_mut(folder) {
            for uid in uids {
                f.messages.remove(uid);
            }
        }
    }

    /// Appends copies of `uids` of `folder` to `target`: `[TRYCREATE]` refusal when the
    /// target does not exist.
    fn copy(st: &mut State, folder: &str, uids: &[u32], target: &str) -> BackendResult<()> {
        if !st.folders.contains_key(target) {
            return Err(BackendError::new(
                ErrorKind::Refused,
                "[TRYCREATE] no such folder",
            ));
        }
        let messages: Vec<Bytes> = st
            .folders
            .get(folder)
            .map(|f| {
                uids.iter()
                    .filter_map(|u| f.messages.get(u).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let t = st.folder_mut(target);
        for message in messages {
            t.append(message);
        }
        st.wake(target);
        Ok(())
    }
}

impl ImapSession for MemoryImap {
    fn capabilities(&self) -> ImapCapabilities {
        self.capabilities
    }

    async fn select(&mut self, folder: &str) -> BackendResult<FolderStatus> {
        self.check(FaultPoint::Select).await?;
        let st = self.server.lock();
        let f = st
            .folders
            .get(folder)
            .ok_or_else(|| BackendError::new(ErrorKind::NoSuchFolder, folder.to_owned()))?;
        let status = FolderStatus {
            uidvalidity: f.uidvalidity,
            uidnext: Some(f.uidnext),
            exists: u32::try_from(f.messages.len()).unwrap_or(u32::MAX),
        };
        drop(st);
        self.selected = Some(folder.to_owned());
        Ok(status)
    }

    async fn uid_search(&mut self, from: u32) -> BackendResult<Vec<u32>> {
        self.check(FaultPoint::Search).await?;
        let folder = self.selected()?;
        let st = self.server.lock();
        let Some(f) = st.folders.get(&folder) else {
            return Ok(Vec::new());
        };
        let mut uids: Vec<u32> = f.messages.range(from..).map(|(u, _)| *u).collect();
        // RFC 3501: "n:*" always includes the highest UID.
        if uids.is_empty() {
            uids.extend(f.messages.keys().next_back());
        }
        uids.reverse();
        Ok(uids)
    }

    async fn fetch_sizes(&mut self, uids: &[u32]) -> BackendResult<Vec<MessageSize>> {
        self.check(FaultPoint::FetchSizes).await?;
        let folder = self.selected()?;
        let st = self.server.lock();
        let Some(f) = st.folders.get(&folder) else {
            return Ok(Vec::new());
        };
        Ok(uids
            .iter()
            .filter_map(|uid| {
                f.messages.get(uid).map(|m| MessageSize {
                    uid: *uid,
                    size: m.len() as u64,
                })
            })
            .collect())
    }

    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        on_message: &mut (dyn FnMut(RemoteMessage) -> ControlFlow<()> + Send),
    ) -> BackendResult<()> {
        let folder = self.selected()?;
        let found: Vec<(u32, Bytes)> = {
            let mut st = self.server.lock();
            st.note_uids(uids.len());
            st.log(format!("FETCH {}", uids.len()));
            let mut sorted = uids.to_vec();
            sorted.sort_unstable();
            match st.folders.get(&folder) {
                Some(f) => sorted
                    .iter()
                    .filter_map(|uid| f.messages.get(uid).map(|m| (*uid, m.clone())))
                    .collect(),
                None => Vec::new(),
            }
        };
        for (uid, body) in found {
            self.check(FaultPoint::FetchMessage).await?;
            let message = RemoteMessage {
                uid,
                size: body.len() as u64,
                internal_date: None,
                flags: Vec::new(),
                body,
            };
            if on_message(message).is_break() {
                return Ok(());
            }
        }
        self.check(FaultPoint::FetchDone).await
    }

    async fn create_folder(&mut self, folder: &str) -> BackendResult<()> {
        self.check(FaultPoint::Create).await?;
        let mut st = self.server.lock();
        if st.folders.contains_key(folder) {
            return Err(BackendError::new(
                ErrorKind::AlreadyExists,
                folder.to_owned(),
            ));
        }
        st.folder_mut(folder);
        st.log(format!("CREATE {folder}"));
        Ok(())
    }

    async fn uid_move(&mut self, uids: &[u32], target: &str) -> BackendResult<()> {
        self.server.lock().note_uids(uids.len());
        self.check(FaultPoint::MoveBefore).await?;
        let folder = self.selected()?;
        if self.capabilities.move_command {
            let mut st = self.server.lock();
            Self::copy(&mut st, &folder, uids, target)?;
            Self::remove(&mut st, &folder, uids);
            st.log(format!("MOVE {}", uids.len()));
        } else {
            {
                let mut st = self.server.lock();
                Self::copy(&mut st, &folder, uids, target)?;
                st.log(format!("COPY {}", uids.len()));
            }
            self.check(FaultPoint::MoveAfterCopy).await?;
            let mut st = self.server.lock();
            Self::remove(&mut st, &folder, uids);
            st.log(format!("STORE+EXPUNGE {}", uids.len()));
        }
        self.check(FaultPoint::MoveAfter).await
    }

    async fn uid_delete(&mut self, uids: &[u32]) -> BackendResult<()> {
        self.server.lock().note_uids(uids.len());
        self.check(FaultPoint::DeleteBefore).await?;
        let folder = self.selected()?;
        {
            let mut st = self.server.lock();
            Self::remove(&mut st, &folder, uids);
            st.log(format!("DELETE {}", uids.len()));
        }
        self.check(FaultPoint::DeleteAfter).await
    }

    async fn idle(&mut self, max: Duration, stop: &StopSignal) -> BackendResult<IdleOutcome> {
        self.check(FaultPoint::Idle).await?;
        let folder = self.selected()?;
        let (tx, mut rx) = mpsc::unbounded();
        self.server.lock().watchers.push(Watcher { folder, tx });
        let woken = rx.next();
        let timeout = std::pin::pin!(inbound_net::rt::sleep(max));
        let stopped = std::pin::pin!(stop.wait());
        match future::select(woken, future::select(timeout, stopped)).await {
            Either::Left((Some(Wake::NewMail), _)) => Ok(IdleOutcome::NewMail),
            Either::Left((Some(Wake::Drop) | None, _)) => {
                self.dead = true;
                Err(BackendError::new(
                    ErrorKind::Disconnected,
                    "dropped during IDLE",
                ))
            }
            Either::Right((Either::Left(_), _)) => Ok(IdleOutcome::Timeout),
            Either::Right((Either::Right(_), _)) => {
                self.server.lock().log("DONE".to_owned());
                Ok(IdleOutcome::Stopped)
            }
        }
    }

    async fn noop(&mut self) -> BackendResult<()> {
        if self.dead {
            return Err(closed());
        }
        Ok(())
    }

    async fn logout(mut self) -> BackendResult<()> {
        self.check(FaultPoint::Logout).await?;
        self.server.lock().counters.logouts += 1;
        Ok(())
    }
}

/// A POP3 session on a [`MemoryServer`]: it sees the maildrop as it was at login, and
/// applies its deletions at `QUIT`.
#[derive(Debug)]
pub struct MemoryPop3 {
    server: MemoryServer,
    snapshot: Vec<(String, Bytes)>,
    deleted: BTreeSet<u32>,
    dead: bool,
}

impl MemoryPop3 {
    async fn check(&mut self, point: FaultPoint) -> BackendResult<()> {
        session_check(&self.server, &mut self.dead, point).await
    }

    fn get(&self, msgno: u32) -> BackendResult<&(String, Bytes)> {
        if self.deleted.contains(&msgno) {
            return Err(BackendError::new(ErrorKind::Refused, "message is deleted"));
        }
        msgno
            .checked_sub(1)
            .and_then(|i| self.snapshot.get(i as usize))
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no such message"))
    }

    /// The messages not marked deleted, with their numbers.
    fn listed(&self) -> impl Iterator<Item = (u32, &(String, Bytes))> {
        (1u32..)
            .zip(&self.snapshot)
            .filter(|(n, _)| !self.deleted.contains(n))
    }

    /// The messages marked deleted.
    fn listed_deleted(&self) -> impl Iterator<Item = &(String, Bytes)> {
        (1u32..)
            .zip(&self.snapshot)
            .filter(|(n, _)| self.deleted.contains(n))
            .map(|(_, m)| m)
    }
}

impl Pop3Session for MemoryPop3 {
    async fn uidl(&mut self) -> BackendResult<Vec<Pop3Uidl>> {
        self.check(FaultPoint::Uidl).await?;
        if !self.server.lock().pop3_uidl {
            return Err(BackendError::new(ErrorKind::Unsupported, "UIDL"));
        }
        Ok(self
            .listed()
            .map(|(msgno, (uidl, _))| Pop3Uidl {
                msgno,
                uidl: uidl.clone(),
            })
            .collect())
    }

    async fn list(&mut self) -> BackendResult<Vec<(u32, u64)>> {
        self.check(FaultPoint::List).await?;
        Ok(self
            .listed()
            .map(|(msgno, (_, m))| (msgno, m.len() as u64))
            .collect())
    }

    async fn retr(&mut self, msgno: u32) -> BackendResult<Bytes> {
        self.check(FaultPoint::Retr).await?;
        Ok(self.get(msgno)?.1.clone())
    }

    async fn dele(&mut self, msgno: u32) -> BackendResult<()> {
        self.check(FaultPoint::Dele).await?;
        self.get(msgno)?;
        self.deleted.insert(msgno);
        Ok(())
    }

    async fn quit(mut self) -> BackendResult<()> {
        self.check(FaultPoint::QuitBefore).await?;
        {
            let gone: BTreeSet<&str> = self
                .listed_deleted()
                .map(|(uidl, _)| uidl.as_str())
                .collect();
            let mut st = self.server.lock();
            st.maildrop
                .retain(|(uidl, _)| !gone.contains(uidl.as_str()));
            st.log(format!("QUIT deleted {}", gone.len()));
        }
        self.check(FaultPoint::QuitAfter).await
    }
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
