//! An in-memory IMAP/POP3 server behind the backend traits, with fault injection at named
//! points. Shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc;
use inbound_net::Credentials;
use inbound_retrieve::{
    Account, AccountConfig, BackendError, BackendResult, Connector, ErrorKind, FolderStatus,
    IdleOutcome, ImapCapabilities, ImapSession, MessageSize, Pop3Session, Pop3Uidl, RemoteMessage,
    StopSignal,
};
use inbound_store::{MessageFilter, Store};

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Point {
    Connect,
    Select,
    Search,
    FetchSizes,
    /// Before delivering a message of a fetch.
    FetchMessage,
    /// After delivering every message of a fetch, before its OK.
    FetchDone,
    Create,
    /// Before a move is applied.
    MoveBefore,
    /// Without MOVE: after COPY, before STORE/EXPUNGE.
    MoveAfterCopy,
    /// After a move is applied, before its OK arrives.
    MoveAfter,
    DeleteBefore,
    /// After the expunge is applied, before its OK arrives.
    DeleteAfter,
    Idle,
    Logout,
    Uidl,
    List,
    Retr,
    Dele,
    /// Before QUIT commits.
    QuitBefore,
    /// After QUIT committed, before +OK arrives.
    QuitAfter,
}

pub const ALL_IMAP_POINTS: &[Point] = &[
    Point::Connect,
    Point::Select,
    Point::Search,
    Point::FetchSizes,
    Point::FetchMessage,
    Point::FetchDone,
    Point::Create,
    Point::MoveBefore,
    Point::MoveAfterCopy,
    Point::MoveAfter,
    Point::DeleteBefore,
    Point::DeleteAfter,
    Point::Logout,
];

pub const ALL_POP3_POINTS: &[Point] = &[
    Point::Connect,
    Point::Uidl,
    Point::List,
    Point::Retr,
    Point::Dele,
    Point::QuitBefore,
    Point::QuitAfter,
];

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The connection drops.
    Drop,
    /// The server says BYE.
    Bye,
    /// The server stops answering (reported as a timeout by the adapter).
    Timeout,
    /// The server answers NO / -ERR; the session stays usable.
    Refuse,
    /// The server never answers and the client is killed (the test drops the future).
    Hang,
}

#[derive(Debug, Clone)]
struct Fault {
    point: Point,
    countdown: u32,
    kind: FaultKind,
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub body: Bytes,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub messages: BTreeMap<u32, Msg>,
}

impl Folder {
    fn new(uidvalidity: u32) -> Self {
        Self {
            uidvalidity,
            uidnext: 1,
            messages: BTreeMap::new(),
        }
    }
}

enum Watch {
    NewMail,
    Drop,
}

pub struct State {
    pub folders: BTreeMap<String, Folder>,
    pub caps: ImapCapabilities,
    /// POP3 maildrop: (uidl, body), in arrival order.
    pub maildrop: Vec<(String, Bytes)>,
    pub pop3_uidl: bool,
    faults: Vec<Fault>,
    pub password: String,
    pub valid_token: Option<String>,
    pub log: Vec<String>,
    /// The most UIDs passed to one fetch/move/delete call.
    pub max_uids_per_call: usize,
    pub connections: u32,
    pub logouts: u32,
    pub auth_failures: u32,
    watchers: Vec<mpsc::UnboundedSender<Watch>>,
    next_uidl: u32,
}

/// The fake server; clones share state.
#[derive(Clone)]
pub struct FakeServer(pub Arc<Mutex<State>>);

pub fn mail(i: u32) -> Bytes {
    Bytes::from(format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: me@example.com\r\nSubject: message {i}\r\n\
         Message-ID: <{i}@test.example>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p onclick=\"x()\">Body {i}</p><script>bad()</script>\r\n"
    ))
}

pub fn big_mail(i: u32, size: usize) -> Bytes {
    let mut s = String::from_utf8(mail(i).to_vec()).unwrap();
    s.push_str(&"x".repeat(size));
    s.push_str("\r\n");
    Bytes::from(s)
}

impl FakeServer {
    pub fn new() -> Self {
        let mut folders = BTreeMap::new();
        folders.insert("INBOX".to_owned(), Folder::new(1000));
        FakeServer(Arc::new(Mutex::new(State {
            folders,
            caps: ImapCapabilities {
                idle: true,
                move_command: true,
                uidplus: true,
            },
            maildrop: Vec::new(),
            pop3_uidl: true,
            faults: Vec::new(),
            password: "secret".to_owned(),
            valid_token: None,
            log: Vec::new(),
            max_uids_per_call: 0,
            connections: 0,
            logouts: 0,
            auth_failures: 0,
            watchers: Vec::new(),
            next_uidl: 1,
        })))
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Delivers a message to an IMAP folder; returns its UID.
    pub fn deliver(&self, folder: &str, body: Bytes) -> u32 {
        let mut st = self.state();
        let f = st.folders.get_mut(folder).unwrap();
        let uid = f.uidnext;
        f.uidnext += 1;
        f.messages.insert(
            uid,
            Msg {
                body,
                flags: Vec::new(),
            },
        );
        st.watchers
            .retain(|w| w.unbounded_send(Watch::NewMail).is_ok());
        uid
    }

    pub fn deliver_many(&self, folder: &str, range: std::ops::Range<u32>) {
        for i in range {
            self.deliver(folder, mail(i));
        }
    }

    /// Delivers to the POP3 maildrop.
    pub fn deliver_pop3(&self, body: Bytes) -> String {
        let mut st = self.state();
        let uidl = format!("U{:05}", st.next_uidl);
        st.next_uidl += 1;
        st.maildrop.push((uidl.clone(), body));
        uidl
    }

    pub fn add_folder(&self, name: &str) {
        self.state()
            .folders
            .insert(name.to_owned(), Folder::new(5000));
    }

    /// Renumbers the folder: new UIDVALIDITY, UIDs from 1 again.
    pub fn renumber(&self, folder: &str, uidvalidity: u32) {
        let mut st = self.state();
        let f = st.folders.get_mut(folder).unwrap();
        let msgs: Vec<Msg> = f.messages.values().cloned().collect();
        f.uidvalidity = uidvalidity;
        f.messages.clear();
        f.uidnext = 1;
        for m in msgs {
            let uid = f.uidnext;
            f.uidnext += 1;
            f.messages.insert(uid, m);
        }
    }

    pub fn fault(&self, point: Point, nth: u32, kind: FaultKind) {
        self.state().faults.push(Fault {
            point,
            countdown: nth.max(1),
            kind,
        });
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Drops every connection in IDLE.
    pub fn drop_idlers(&self) {
        let mut st = self.state();
        for w in st.watchers.drain(..) {
            let _ = w.unbounded_send(Watch::Drop);
        }
    }

    pub fn bodies(&self, folder: &str) -> Vec<Bytes> {
        self.state()
            .folders
            .get(folder)
            .map(|f| f.messages.values().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    pub fn count(&self, folder: &str) -> usize {
        self.state()
            .folders
            .get(folder)
            .map_or(0, |f| f.messages.len())
    }

    fn note_uids(&self, n: usize) {
        let mut st = self.state();
        st.max_uids_per_call = st.max_uids_per_call.max(n);
    }

    /// Checks for a fault at `point`.
    async fn check(&self, point: Point) -> BackendResult<()> {
        let kind = {
            let mut st = self.state();
            let mut hit = None;
            if let Some(i) = st.faults.iter().position(|f| f.point == point) {
                let f = &mut st.faults[i];
                f.countdown -= 1;
                if f.countdown == 0 {
                    hit = Some(st.faults.remove(i).kind);
                }
            }
            hit
        };
        match kind {
            None => Ok(()),
            Some(FaultKind::Hang) => futures::future::pending().await,
            Some(kind) => Err(fault_error(kind, point)),
        }
    }
}

fn fault_error(kind: FaultKind, point: Point) -> BackendError {
    let text = format!("injected at {point:?}");
    match kind {
        FaultKind::Drop => BackendError::new(ErrorKind::Disconnected, text),
        FaultKind::Bye => BackendError::new(ErrorKind::Bye, text),
        FaultKind::Timeout => BackendError::new(ErrorKind::Timeout, text),
        FaultKind::Refuse => BackendError::new(ErrorKind::Refused, text),
        FaultKind::Hang => unreachable!(),
    }
}

pub struct FakeConnector(pub FakeServer);

async fn authenticate(server: &FakeServer, credentials: &Credentials) -> BackendResult<()> {
    let ok = match credentials {
        Credentials::Password { password, .. } => password.expose() == server.state().password,
        Credentials::OAuth { provider, .. } => {
            let token = provider
                .token()
                .await
                .map_err(|e| BackendError::new(ErrorKind::Auth, e.to_string()))?;
            server.state().valid_token.as_deref() == Some(token.secret().expose())
        }
    };
    if ok {
        server.state().connections += 1;
        Ok(())
    } else {
        server.state().auth_failures += 1;
        Err(BackendError::new(ErrorKind::Auth, "invalid credentials"))
    }
}

impl Connector for FakeConnector {
    type Imap = FakeImap;
    type Pop3 = FakePop3;

    async fn connect_imap(
        &self,
        _account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<FakeImap> {
        self.0.check(Point::Connect).await?;
        authenticate(&self.0, credentials).await?;
        let caps = self.0.state().caps;
        Ok(FakeImap {
            server: self.0.clone(),
            selected: None,
            dead: false,
            caps,
        })
    }

    async fn connect_pop3(
        &self,
        _account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<FakePop3> {
        self.0.check(Point::Connect).await?;
        authenticate(&self.0, credentials).await?;
        let snapshot = self.0.state().maildrop.clone();
        Ok(FakePop3 {
            server: self.0.clone(),
            snapshot,
            deleted: BTreeSet::new(),
            dead: false,
        })
    }
}

pub struct FakeImap {
    server: FakeServer,
    selected: Option<String>,
    dead: bool,
    caps: ImapCapabilities,
}

impl FakeImap {
    async fn check(&mut self, point: Point) -> BackendResult<()> {
        if self.dead {
            return Err(BackendError::new(
                ErrorKind::Disconnected,
                "connection is closed",
            ));
        }
        let r = self.server.check(point).await;
        if let Err(e) = &r {
            if e.is_connection_error() {
                self.dead = true;
            }
        }
        r
    }

    fn folder(&self) -> BackendResult<String> {
        self.selected
            .clone()
            .ok_or_else(|| BackendError::new(ErrorKind::Protocol, "no folder selected"))
    }
}

impl ImapSession for FakeImap {
    fn capabilities(&self) -> ImapCapabilities {
        self.caps
    }

    async fn select(&mut self, folder: &str) -> BackendResult<FolderStatus> {
        self.check(Point::Select).await?;
        let st = self.server.state();
        let f = st
            .folders
            .get(folder)
            .ok_or_else(|| BackendError::new(ErrorKind::NoSuchFolder, folder))?;
        let status = FolderStatus {
            uidvalidity: f.uidvalidity,
            uidnext: Some(f.uidnext),
            exists: f.messages.len() as u32,
        };
        drop(st);
        self.selected = Some(folder.to_owned());
        Ok(status)
    }

    async fn uid_search(&mut self, from: u32) -> BackendResult<Vec<u32>> {
        self.check(Point::Search).await?;
        let folder = self.folder()?;
        let st = self.server.state();
        let f = &st.folders[&folder];
        let mut uids: Vec<u32> = f.messages.range(from..).map(|(u, _)| *u).collect();
        // RFC 3501: "n:*" always includes the highest UID.
        if uids.is_empty() {
            if let Some((&last, _)) = f.messages.iter().next_back() {
                uids.push(last);
            }
        }
        uids.reverse();
        Ok(uids)
    }

    async fn fetch_sizes(&mut self, uids: &[u32]) -> BackendResult<Vec<MessageSize>> {
        self.check(Point::FetchSizes).await?;
        let folder = self.folder()?;
        let st = self.server.state();
        let f = &st.folders[&folder];
        Ok(uids
            .iter()
            .filter_map(|u| {
                f.messages.get(u).map(|m| MessageSize {
                    uid: *u,
                    size: m.body.len() as u64,
                })
            })
            .collect())
    }

    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        on_message: &mut (dyn FnMut(RemoteMessage) -> ControlFlow<()> + Send),
    ) -> BackendResult<()> {
        self.server.note_uids(uids.len());
        let folder = self.folder()?;
        let msgs: Vec<(u32, Msg)> = {
            let st = self.server.state();
            let f = &st.folders[&folder];
            let mut sorted = uids.to_vec();
            sorted.sort_unstable();
            sorted
                .iter()
                .filter_map(|u| f.messages.get(u).map(|m| (*u, m.clone())))
                .collect()
        };
        self.server
            .state()
            .log
            .push(format!("FETCH {}", uids.len()));
        for (uid, m) in msgs {
            self.check(Point::FetchMessage).await?;
            let fm = RemoteMessage {
                uid,
                size: m.body.len() as u64,
                internal_date: None,
                flags: m.flags.clone(),
                body: m.body.clone(),
            };
            if on_message(fm).is_break() {
                return Ok(());
            }
        }
        self.check(Point::FetchDone).await
    }

    async fn create_folder(&mut self, folder: &str) -> BackendResult<()> {
        self.check(Point::Create).await?;
        let mut st = self.server.state();
        if st.folders.contains_key(folder) {
            return Err(BackendError::new(ErrorKind::AlreadyExists, folder));
        }
        st.folders.insert(folder.to_owned(), Folder::new(7000));
        st.log.push(format!("CREATE {folder}"));
        Ok(())
    }

    async fn uid_move(&mut self, uids: &[u32], target: &str) -> BackendResult<()> {
        self.server.note_uids(uids.len());
        self.check(Point::MoveBefore).await?;
        let folder = self.folder()?;
        let use_move = self.caps.move_command;
        let copy = |st: &mut State| -> BackendResult<()> {
            if !st.folders.contains_key(target) {
                return Err(BackendError::new(
                    ErrorKind::Refused,
                    "[TRYCREATE] no such folder",
                ));
            }
            let msgs: Vec<Msg> = uids
                .iter()
                .filter_map(|u| st.folders[&folder].messages.get(u).cloned())
                .collect();
            let t = st.folders.get_mut(target).unwrap();
            for m in msgs {
                let uid = t.uidnext;
                t.uidnext += 1;
                t.messages.insert(uid, m);
            }
            Ok(())
        };
        let remove = |st: &mut State| {
            let f = st.folders.get_mut(&folder).unwrap();
            for u in uids {
                f.messages.remove(u);
            }
        };
        if use_move {
            let mut st = self.server.state();
            copy(&mut st)?;
            remove(&mut st);
            st.log.push(format!("MOVE {}", uids.len()));
        } else {
            {
                let mut st = self.server.state();
                copy(&mut st)?;
                st.log.push(format!("COPY {}", uids.len()));
            }
            self.check(Point::MoveAfterCopy).await?;
            let mut st = self.server.state();
            remove(&mut st);
            st.log.push(format!("STORE+EXPUNGE {}", uids.len()));
        }
        self.check(Point::MoveAfter).await
    }

    async fn uid_delete(&mut self, uids: &[u32]) -> BackendResult<()> {
        self.server.note_uids(uids.len());
        self.check(Point::DeleteBefore).await?;
        let folder = self.folder()?;
        {
            let mut st = self.server.state();
            let f = st.folders.get_mut(&folder).unwrap();
            for u in uids {
                f.messages.remove(u);
            }
            st.log.push(format!("DELETE {}", uids.len()));
        }
        self.check(Point::DeleteAfter).await
    }

    async fn idle(&mut self, max: Duration, stop: &StopSignal) -> BackendResult<IdleOutcome> {
        self.check(Point::Idle).await?;
        let (tx, mut rx) = mpsc::unbounded();
        self.server.state().watchers.push(tx);
        let sleep = std::pin::pin!(inbound_net::rt::sleep(max));
        let stopped = std::pin::pin!(stop.wait());
        let next = rx.next();
        let either = futures::future::select(next, futures::future::select(sleep, stopped)).await;
        match either {
            futures::future::Either::Left((Some(Watch::NewMail), _)) => Ok(IdleOutcome::NewMail),
            futures::future::Either::Left((Some(Watch::Drop) | None, _)) => {
                self.dead = true;
                Err(BackendError::new(
                    ErrorKind::Disconnected,
                    "dropped during IDLE",
                ))
            }
            futures::future::Either::Right((futures::future::Either::Left(_), _)) => {
                Ok(IdleOutcome::Timeout)
            }
            futures::future::Either::Right((futures::future::Either::Right(_), _)) => {
                self.server.state().log.push("DONE".into());
                Ok(IdleOutcome::Stopped)
            }
        }
    }

    async fn noop(&mut self) -> BackendResult<()> {
        if self.dead {
            return Err(BackendError::new(
                ErrorKind::Disconnected,
                "connection is closed",
            ));
        }
        Ok(())
    }

    async fn logout(mut self) -> BackendResult<()> {
        self.check(Point::Logout).await?;
        self.server.state().logouts += 1;
        Ok(())
    }
}

pub struct FakePop3 {
    server: FakeServer,
    snapshot: Vec<(String, Bytes)>,
    deleted: BTreeSet<u32>,
    dead: bool,
}

impl FakePop3 {
    async fn check(&mut self, point: Point) -> BackendResult<()> {
        if self.dead {
            return Err(BackendError::new(
                ErrorKind::Disconnected,
                "connection is closed",
            ));
        }
        let r = self.server.check(point).await;
        if let Err(e) = &r {
            if e.is_connection_error() {
                self.dead = true;
            }
        }
        r
    }

    fn get(&self, msgno: u32) -> BackendResult<&(String, Bytes)> {
        if self.deleted.contains(&msgno) {
            return Err(BackendError::new(ErrorKind::Refused, "message is deleted"));
        }
        self.snapshot
            .get(msgno as usize - 1)
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no such message"))
    }
}

impl Pop3Session for FakePop3 {
    async fn uidl(&mut self) -> BackendResult<Vec<Pop3Uidl>> {
        self.check(Point::Uidl).await?;
        if !self.server.state().pop3_uidl {
            return Err(BackendError::new(ErrorKind::Unsupported, "UIDL"));
        }
        Ok(self
            .snapshot
            .iter()
            .enumerate()
            .map(|(i, (u, _))| Pop3Uidl {
                msgno: i as u32 + 1,
                uidl: u.clone(),
            })
            .collect())
    }

    async fn list(&mut self) -> BackendResult<Vec<(u32, u64)>> {
        self.check(Point::List).await?;
        Ok(self
            .snapshot
            .iter()
            .enumerate()
            .map(|(i, (_, b))| (i as u32 + 1, b.len() as u64))
            .collect())
    }

    async fn retr(&mut self, msgno: u32) -> BackendResult<Bytes> {
        self.check(Point::Retr).await?;
        Ok(self.get(msgno)?.1.clone())
    }

    async fn dele(&mut self, msgno: u32) -> BackendResult<()> {
        self.check(Point::Dele).await?;
        self.get(msgno)?;
        self.deleted.insert(msgno);
        Ok(())
    }

    async fn quit(mut self) -> BackendResult<()> {
        self.check(Point::QuitBefore).await?;
        {
            let mut st = self.server.state();
            let gone: Vec<String> = self
                .deleted
                .iter()
                .map(|n| self.snapshot[*n as usize - 1].0.clone())
                .collect();
            st.maildrop.retain(|(u, _)| !gone.contains(u));
            st.log.push(format!("QUIT deleted {}", gone.len()));
        }
        self.check(Point::QuitAfter).await
    }
}

/// A test account: IMAP, password "secret", fetch all.
pub fn account(name: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    let mut c = AccountConfig {
        name: Some(name.to_owned()),
        protocol: Some(inbound_retrieve::MailProtocol::Imap),
        host: Some("mail.test".to_owned()),
        username: Some("me@example.com".to_owned()),
        password: Some("secret".into()),
        ..AccountConfig::default()
    };
    edit(&mut c);
    c.validate().unwrap()
}

pub fn pop3_account(name: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    account(name, |c| {
        c.protocol = Some(inbound_retrieve::MailProtocol::Pop3);
        edit(c);
    })
}

pub fn new_store() -> inbound_retrieve::SharedStore {
    Arc::new(Mutex::new(Store::open_in_memory(None).unwrap()))
}

pub fn options() -> inbound_retrieve::RetrieveConfig {
    inbound_retrieve::RetrieveConfig {
        max_attempts: 3,
        backoff: inbound_net::backoff::BackoffConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            max_attempts: Some(5),
            jitter: inbound_net::backoff::Jitter::None,
        },
        idle_refresh: Duration::from_secs(60),
        token_tls: inbound_net::TlsConfig::new(),
        ..inbound_retrieve::RetrieveConfig::default()
    }
}

pub fn retriever(
    store: &inbound_retrieve::SharedStore,
    server: &FakeServer,
) -> inbound_retrieve::Retriever<FakeConnector> {
    inbound_retrieve::Retriever::new(store.clone(), FakeConnector(server.clone()))
        .with_options(options())
}

/// Subjects of the stored messages of an account ("message N"), sorted by N, with repeats.
pub fn stored_numbers(store: &inbound_retrieve::SharedStore, account: &str) -> Vec<u32> {
    let st = store.lock().unwrap();
    let mut n: Vec<u32> = st
        .list_messages(&MessageFilter::account(account))
        .unwrap()
        .iter()
        .map(|m| {
            m.subject
                .as_deref()
                .unwrap()
                .trim_start_matches("message ")
                .parse()
                .unwrap()
        })
        .collect();
    n.sort_unstable();
    n
}

/// Numbers of the messages in a server folder.
pub fn server_numbers(server: &FakeServer, folder: &str) -> Vec<u32> {
    let mut n: Vec<u32> = server.bodies(folder).iter().map(number_of).collect();
    n.sort_unstable();
    n
}

pub fn pop3_numbers(server: &FakeServer) -> Vec<u32> {
    let mut n: Vec<u32> = server
        .state()
        .maildrop
        .iter()
        .map(|(_, b)| number_of(b))
        .collect();
    n.sort_unstable();
    n
}

pub fn number_of(body: &Bytes) -> u32 {
    let text = std::str::from_utf8(body).unwrap();
    let start = text.find("Subject: message ").unwrap() + "Subject: message ".len();
    let end = text[start..].find('\r').unwrap() + start;
    text[start..end].parse().unwrap()
}

/// Records events.
#[derive(Default)]
pub struct Recorder {
    pub progress: Vec<inbound_retrieve::Progress>,
    pub messages: Vec<String>,
    pub batches: Vec<inbound_retrieve::BatchDone>,
    pub errors: Vec<String>,
    pub skipped: Vec<inbound_retrieve::Skipped>,
    pub completed: u32,
}

impl inbound_retrieve::Events for Recorder {
    fn on_progress(&mut self, p: &inbound_retrieve::Progress) {
        self.progress.push(*p);
    }
    fn on_message(&mut self, m: &inbound_retrieve::NewMail<'_>) {
        self.messages
            .push(m.email.subject.clone().unwrap_or_default());
    }
    fn on_skipped(&mut self, s: &inbound_retrieve::Skipped) {
        self.skipped.push(s.clone());
    }
    fn on_batch(&mut self, b: &inbound_retrieve::BatchDone) {
        self.batches.push(*b);
    }
    fn on_error(&mut self, e: &str) {
        self.errors.push(e.to_owned());
    }
    fn on_complete(&mut self, _r: &inbound_retrieve::Report) {
        self.completed += 1;
    }
}

pub fn pending_count(store: &inbound_retrieve::SharedStore, account: &str) -> usize {
    store
        .lock()
        .unwrap()
        .pending_actions(account)
        .unwrap()
        .len()
}

pub type Counts = HashMap<u32, usize>;
