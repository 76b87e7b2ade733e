//! An in-memory mail server behind the [`backend`](crate::backend) traits, for tests and
//! benchmarks: run a [`Retriever`](crate::Retriever) against it to test your own
//! [`Events`](crate::Events) handlers or storage without a network.
//!
//! It is deliberately simple: it accepts any credentials, has the IMAP capabilities MOVE,
//! UIDPLUS and IDLE, and keeps POP3 deletions until `QUIT` as a real server does. It has no
//! fault injection.
//!
//! ```
//! use inbound_retrieve::backend::memory::MemoryServer;
//! use inbound_retrieve::{AccountConfig, NoEvents, MailProtocol, Retriever};
//! use std::sync::{Arc, Mutex};
//!
//! let server = MemoryServer::new();
//! server.deliver("INBOX", "Subject: hello\r\n\r\nHi!\r\n");
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
//! let report = futures::executor::block_on(retriever.retrieve_with_events(&account, &mut NoEvents)).unwrap();
//! assert_eq!(report.fetched, 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc;
use inbound_net::Credentials;

use crate::account::Account;
use crate::backend::{
    BackendError, BackendResult, Connector, ErrorKind, FolderStatus, IdleOutcome, ImapCapabilities,
    ImapSession, MessageSize, Pop3Session, Pop3Uidl, RemoteMessage, StopSignal,
};

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
}

#[derive(Debug, Default)]
struct State {
    folders: BTreeMap<String, Folder>,
    /// (UIDL, message), in arrival order.
    maildrop: Vec<(String, Bytes)>,
    next_uidl: u64,
    watchers: Vec<mpsc::UnboundedSender<()>>,
}

/// An in-memory IMAP folder set and POP3 maildrop. Clones share the same mail.
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
    /// A server with an empty `INBOX` (UIDVALIDITY 1) and an empty maildrop.
    pub fn new() -> Self {
        let mut state = State::default();
        state.folders.insert("INBOX".to_owned(), Folder::new(1));
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connector opening sessions on this server (any credentials are accepted).
    pub fn connector(&self) -> MemoryConnector {
        MemoryConnector {
            server: self.clone(),
        }
    }

    /// Creates an IMAP folder (with UIDVALIDITY 1) unless it exists.
    pub fn create_folder(&self, folder: &str) {
        self.lock()
            .folders
            .entry(folder.to_owned())
            .or_insert_with(|| Folder::new(1));
    }

    /// Appends a message to an IMAP folder (created if missing) and returns its UID; wakes
    /// the sessions idling on the server.
    pub fn deliver(&self, folder: &str, message: impl Into<Bytes>) -> u32 {
        let mut st = self.lock();
        let f = st
            .folders
            .entry(folder.to_owned())
            .or_insert_with(|| Folder::new(1));
        let uid = f.uidnext;
        f.uidnext += 1;
        f.messages.insert(uid, message.into());
        st.watchers.retain(|w| w.unbounded_send(()).is_ok());
        uid
    }

    /// Appends a message to the POP3 maildrop and returns its UIDL.
    pub fn deliver_pop3(&self, message: impl Into<Bytes>) -> String {
        let mut st = self.lock();
        st.next_uidl += 1;
        let uidl = format!("m{:08}", st.next_uidl);
        st.maildrop.push((uidl.clone(), message.into()));
        uidl
    }

    /// The messages of an IMAP folder by UID (empty when the folder does not exist).
    pub fn messages(&self, folder: &str) -> Vec<(u32, Bytes)> {
        self.lock()
            .folders
            .get(folder)
            .map(|f| f.messages.iter().map(|(u, m)| (*u, m.clone())).collect())
            .unwrap_or_default()
    }

    /// The POP3 maildrop: (UIDL, message), in arrival order.
    pub fn maildrop(&self) -> Vec<(String, Bytes)> {
        self.lock().maildrop.clone()
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
        _credentials: &Credentials,
    ) -> BackendResult<MemoryImap> {
        Ok(MemoryImap {
            server: self.server.clone(),
            selected: None,
        })
    }

    async fn connect_pop3(
        &self,
        _account: &Account,
        _credentials: &Credentials,
    ) -> BackendResult<MemoryPop3> {
        let snapshot = self.server.lock().maildrop.clone();
        Ok(MemoryPop3 {
            server: self.server.clone(),
            snapshot,
            deleted: BTreeSet::new(),
        })
    }
}

/// An IMAP session on a [`MemoryServer`].
#[derive(Debug)]
pub struct MemoryImap {
    server: MemoryServer,
    selected: Option<String>,
}

impl MemoryImap {
    fn selected(&self) -> BackendResult<&str> {
        self.selected
            .as_deref()
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no folder selected"))
    }

    fn remove(&self, uids: &[u32]) -> BackendResult<Vec<Bytes>> {
        let folder = self.selected()?;
        let mut st = self.server.lock();
        let f = st
            .folders
            .get_mut(folder)
            .ok_or_else(|| BackendError::new(ErrorKind::NoSuchFolder, folder.to_owned()))?;
        Ok(uids.iter().filter_map(|u| f.messages.remove(u)).collect())
    }
}

impl ImapSession for MemoryImap {
    fn capabilities(&self) -> ImapCapabilities {
        ImapCapabilities {
            idle: true,
            move_command: true,
            uidplus: true,
        }
    }

    async fn select(&mut self, folder: &str) -> BackendResult<FolderStatus> {
        let st = self.server.lock();
        let f = st
            .folders
            .get(folder)
            .ok_or_else(|| BackendError::new(ErrorKind::NoSuchFolder, folder.to_owned()))?;
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
        let folder = self.selected()?;
        let st = self.server.lock();
        Ok(st
            .folders
            .get(folder)
            .map(|f| f.messages.range(from..).map(|(u, _)| *u).collect())
            .unwrap_or_default())
    }

    async fn fetch_sizes(&mut self, uids: &[u32]) -> BackendResult<Vec<MessageSize>> {
        let folder = self.selected()?;
        let st = self.server.lock();
        let Some(f) = st.folders.get(folder) else {
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
            let st = self.server.lock();
            let Some(f) = st.folders.get(folder) else {
                return Ok(());
            };
            uids.iter()
                .filter_map(|uid| f.messages.get(uid).map(|m| (*uid, m.clone())))
                .collect()
        };
        for (uid, body) in found {
            let message = RemoteMessage {
                uid,
                size: body.len() as u64,
                internal_date: None,
                flags: Vec::new(),
                body,
            };
            if on_message(message).is_break() {
                break;
            }
        }
        Ok(())
    }

    async fn create_folder(&mut self, folder: &str) -> BackendResult<()> {
        let mut st = self.server.lock();
        if st.folders.contains_key(folder) {
            return Err(BackendError::new(
                ErrorKind::AlreadyExists,
                folder.to_owned(),
            ));
        }
        st.folders.insert(folder.to_owned(), Folder::new(1));
        Ok(())
    }

    async fn uid_move(&mut self, uids: &[u32], target: &str) -> BackendResult<()> {
        if !self.server.lock().folders.contains_key(target) {
            return Err(BackendError::new(
                ErrorKind::NoSuchFolder,
                target.to_owned(),
            ));
        }
        for message in self.remove(uids)? {
            self.server.deliver(target, message);
        }
        Ok(())
    }

    async fn uid_delete(&mut self, uids: &[u32]) -> BackendResult<()> {
        self.remove(uids).map(|_| ())
    }

    async fn idle(&mut self, max: Duration, stop: &StopSignal) -> BackendResult<IdleOutcome> {
        self.selected()?;
        let (tx, mut rx) = mpsc::unbounded();
        self.server.lock().watchers.push(tx);
        let new_mail = async move {
            rx.next().await;
        };
        let timeout = inbound_net::rt::sleep(max);
        futures::pin_mut!(new_mail, timeout);
        let stopped = stop.wait();
        futures::pin_mut!(stopped);
        let either = futures::future::select(new_mail, timeout);
        Ok(match futures::future::select(either, stopped).await {
            futures::future::Either::Left((futures::future::Either::Left(_), _)) => {
                IdleOutcome::NewMail
            }
            futures::future::Either::Left((futures::future::Either::Right(_), _)) => {
                IdleOutcome::Timeout
            }
            futures::future::Either::Right(_) => IdleOutcome::Stopped,
        })
    }

    async fn noop(&mut self) -> BackendResult<()> {
        Ok(())
    }

    async fn logout(self) -> BackendResult<()> {
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
}

impl MemoryPop3 {
    fn get(&self, msgno: u32) -> BackendResult<&(String, Bytes)> {
        if self.deleted.contains(&msgno) {
            return Err(BackendError::new(ErrorKind::Refused, "message is deleted"));
        }
        msgno
            .checked_sub(1)
            .and_then(|i| self.snapshot.get(i as usize))
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no such message"))
    }
}

impl Pop3Session for MemoryPop3 {
    async fn uidl(&mut self) -> BackendResult<Vec<Pop3Uidl>> {
        Ok(self
            .snapshot
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted.contains(&(*i as u32 + 1)))
            .map(|(i, (uidl, _))| Pop3Uidl {
                msgno: i as u32 + 1,
                uidl: uidl.clone(),
            })
            .collect())
    }

    async fn list(&mut self) -> BackendResult<Vec<(u32, u64)>> {
        Ok(self
            .snapshot
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted.contains(&(*i as u32 + 1)))
            .map(|(i, (_, m))| (i as u32 + 1, m.len() as u64))
            .collect())
    }

    async fn retr(&mut self, msgno: u32) -> BackendResult<Bytes> {
        Ok(self.get(msgno)?.1.clone())
    }

    async fn dele(&mut self, msgno: u32) -> BackendResult<()> {
        self.get(msgno)?;
        self.deleted.insert(msgno);
        Ok(())
    }

    async fn quit(self) -> BackendResult<()> {
        let gone: BTreeSet<&str> = self
            .deleted
            .iter()
            .filter_map(|n| self.snapshot.get(*n as usize - 1))
            .map(|(uidl, _)| uidl.as_str())
            .collect();
        self.server
            .lock()
            .maildrop
            .retain(|(uidl, _)| !gone.contains(uidl.as_str()));
        Ok(())
    }
}
