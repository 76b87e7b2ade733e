//! The in-memory mail store behind the fake servers.
//!
//! Users own folders (`INBOX` plus any created; Unicode names, `/` as the hierarchy
//! delimiter); folders hold messages with UID, flags, internal date and raw bytes, and keep
//! UIDVALIDITY, UIDNEXT and a HIGHESTMODSEQ.
//!
//! - IMAP sessions work through a [`FolderView`] ([`MailStore::select`]): each view keeps its
//!   own sequence numbers, and every change made elsewhere (a delivery, another session's
//!   STORE or EXPUNGE) is queued to the other views of that folder as a [`ViewEvent`]; an
//!   IDLE session awaits [`FolderView::changed`] and is woken at once.
//! - POP3 sessions take the user's exclusive [`Maildrop`] ([`MailStore::lock_maildrop`]),
//!   which marks deletions and expunges them only on [`Maildrop::commit`] (QUIT).
//! - Tests and the binary put mail in with [`MailStore::deliver`] / [`MailStore::append`], or
//!   from a directory with [`seed::DirSeeder`].
//!
//! ```
//! use inbound_test_server::mailstore::MailStore;
//!
//! let store = MailStore::new();
//! store.add_user("alice", "pw");
//! let mut view = store.select("alice", "INBOX").unwrap();
//! store.deliver("alice", "INBOX", &b"Subject: hi\r\n\r\nhello\r\n"[..]).unwrap();
//! let events = view.poll(true);
//! assert_eq!(events, vec![inbound_test_server::mailstore::ViewEvent::Exists(1)]);
//! assert_eq!(&view.message(1).unwrap().raw[..9], b"Subject: ");
//! ```

mod flags;
mod maildrop;
pub mod seed;
mod view;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use flags::{Flag, FlagOp, FlagSet};
pub use maildrop::Maildrop;
pub use view::{FlagUpdate, FolderView, SelectInfo, ViewEvent};

use view::{Change, ViewShared};

/// The hierarchy delimiter of folder names.
pub const DELIMITER: char = '/';

/// What went wrong in a store operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No user of that name.
    #[error("no such user {0:?}")]
    NoSuchUser(String),
    /// The user has no folder of that name.
    #[error("no such folder {0:?}")]
    NoSuchFolder(String),
    /// A folder of that name exists already.
    #[error("folder {0:?} already exists")]
    FolderExists(String),
    /// The folder name is empty, has an empty level, or holds control characters.
    #[error("invalid folder name {0:?}")]
    InvalidFolderName(String),
    /// INBOX cannot be deleted.
    #[error("INBOX cannot be deleted")]
    CannotDeleteInbox,
    /// Another POP3 session holds the user's maildrop.
    #[error("the maildrop of {0:?} is in use by another session")]
    MaildropInUse(String),
    /// The message is not (or no longer) there, or was marked deleted in this POP3 session.
    #[error("no such message")]
    NoSuchMessage,
    /// The folder was opened read-only (EXAMINE).
    #[error("the folder is open read-only")]
    ReadOnly,
    /// The selected folder was deleted by another session.
    #[error("the selected folder was deleted")]
    FolderDeleted,
}

/// A message as stored. Cloning is cheap (the bytes are shared).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The UID, unique in its folder for one UIDVALIDITY.
    pub uid: u32,
    /// The current flags.
    pub flags: FlagSet,
    /// The IMAP INTERNALDATE.
    pub internal_date: SystemTime,
    /// The modification sequence of the last change (CONDSTORE).
    pub modseq: u64,
    /// The raw RFC 5322 bytes.
    pub raw: Bytes,
}

impl StoredMessage {
    /// The RFC822.SIZE: the raw length.
    pub fn size(&self) -> usize {
        self.raw.len()
    }
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("uid", &self.uid)
            .field("flags", &self.flags)
            .field("modseq", &self.modseq)
            .field("size", &self.raw.len())
            .finish_non_exhaustive()
    }
}

/// Counts of a folder, as IMAP STATUS reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    /// Messages in the folder.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// The folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// The highest modification sequence.
    pub highest_modseq: u64,
    /// Total size of the messages in bytes.
    pub size: u64,
}

/// Where appended or copied messages landed (for APPENDUID / COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResult {
    /// The destination folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// (source UID, destination UID) pairs, in source UID order.
    pub uids: Vec<(u32, u32)>,
}

pub(crate) struct Folder {
    name: String,
    uid_validity: u32,
    uid_next: u32,
    highest_modseq: u64,
    /// Sorted by UID.
    messages: Vec<StoredMessage>,
    subscribers: Vec<Weak<ViewShared>>,
}

impl Folder {
    fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    fn status(&self) -> FolderStatus {
        FolderStatus {
            messages: self.messages.len() as u32,
            unseen: self
                .messages
                .iter()
                .filter(|m| !m.flags.contains(&Flag::Seen))
                .count() as u32,
            uid_validity: self.uid_validity,
            uid_next: self.uid_next,
            highest_modseq: self.highest_modseq,
            size: self.messages.iter().map(|m| m.raw.len() as u64).sum(),
        }
    }

    /// Queues `change` to every live view except `origin`.
    fn broadcast(&mut self, origin: Option<u64>, change: &Change) {
        self.subscribers.retain(|weak| match weak.upgrade() {
            Some(view) => {
                if Some(view.id) != origin {
                    view.push(change.clone());
                }
                true
            }
            None => false,
        });
    }

    fn push_message(&mut self, raw: Bytes, flags: FlagSet, internal_date: SystemTime) -> u32 {
        let uid = self.uid_next;
        self.uid_next += 1;
        self.highest_modseq += 1;
        self.messages.push(StoredMessage {
            uid,
            flags,
            internal_date,
            modseq: self.highest_modseq,
            raw,
        });
        self.broadcast(None, &Change::Appended(uid));
        uid
    }

    /// Removes the messages with these UIDs, telling views other than `origin`.
    fn remove(&mut self, origin: Option<u64>, uids: &BTreeSet<u32>) {
        if uids.is_empty() {
            return;
        }
        self.messages.retain(|m| !uids.contains(&m.uid));
        self.highest_modseq += 1;
        for &uid in uids {
            self.broadcast(origin, &Change::Expunged(uid));
        }
    }

    /// Changes the flags of a message and tells views other than `origin` if they changed.
    /// Returns the message's flags, modseq, and whether they changed; `None` if not there.
    fn set_flags(
        &mut self,
        origin: Option<u64>,
        uid: u32,
        op: FlagOp,
        flags: &FlagSet,
    ) -> Option<(FlagSet, u64, bool)> {
        let index = self.index_of(uid)?;
        let modseq = self.highest_modseq + 1;
        let message = &mut self.messages[index];
        if !op.apply(&mut message.flags, flags) {
            return Some((message.flags.clone(), message.modseq, false));
        }
        message.modseq = modseq;
        let new = message.flags.clone();
        self.highest_modseq = modseq;
        self.broadcast(origin, &Change::Flags(uid));
        Some((new, modseq, true))
    }

    fn message(&self, uid: u32) -> Option<&StoredMessage> {
        self.index_of(uid).map(|i| &self.messages[i])
    }
}

pub(crate) struct UserData {
    password: String,
    folders: HashMap<u64, Folder>,
    names: BTreeMap<String, u64>,
    subscriptions: BTreeSet<String>,
    maildrop_locked: bool,
}

/// One user's mailboxes behind a lock shared by the store, views and maildrops.
pub(crate) type UserCell = Arc<Mutex<UserData>>;

pub(crate) fn lock_user(cell: &UserCell) -> MutexGuard<'_, UserData> {
    // The maps stay consistent across a panic in a holder: keep going.
    cell.lock().unwrap_or_else(|e| e.into_inner())
}

impl UserData {
    fn folder_id(&self, name: &str) -> Result<u64, StoreError> {
        let name = normalize(name);
        self.names
            .get(&name)
            .copied()
            .ok_or(StoreError::NoSuchFolder(name))
    }

    fn folder_mut(&mut self, name: &str) -> Result<&mut Folder, StoreError> {
        let id = self.folder_id(name)?;
        self.folders
            .get_mut(&id)
            .ok_or_else(|| StoreError::NoSuchFolder(name.to_owned()))
    }

    fn folder(&self, name: &str) -> Result<&Folder, StoreError> {
        let id = self.folder_id(name)?;
        self.folders
            .get(&id)
            .ok_or_else(|| StoreError::NoSuchFolder(name.to_owned()))
    }
}

struct StoreInner {
    users: Mutex<HashMap<String, UserCell>>,
    next_uid_validity: AtomicU32,
    next_id: AtomicU64,
}

/// The mail of every user. Cheap to clone: clones share one store.
#[derive(Clone)]
pub struct MailStore {
    inner: Arc<StoreInner>,
}

impl Default for MailStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MailStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailStore")
            .field("users", &self.users())
            .finish_non_exhaustive()
    }
}

/// `INBOX` in any case (also as the first level) becomes `INBOX`.
fn normalize(name: &str) -> String {
    let (first, rest) = match name.split_once(DELIMITER) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        match rest {
            Some(rest) => format!("INBOX{DELIMITER}{rest}"),
            None => "INBOX".to_owned(),
        }
    } else {
        name.to_owned()
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = name.is_empty()
        || name.split(DELIMITER).any(str::is_empty)
        || name.chars().any(char::is_control);
    if bad {
        Err(StoreError::InvalidFolderName(name.to_owned()))
    } else {
        Ok(())
    }
}

impl MailStore {
    /// An empty store; UIDVALIDITY values start at the current Unix time (like Dovecot).
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        Self::with_uid_validity_base(now as u32)
    }

    /// An empty store whose folders get UIDVALIDITY `base`, `base + 1`, ... in creation order
    /// (for deterministic tests).
    pub fn with_uid_validity_base(base: u32) -> Self {
        Self {
            inner: Arc::new(StoreInner {
                users: Mutex::new(HashMap::new()),
                next_uid_validity: AtomicU32::new(base.max(1)),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    fn users_lock(&self) -> MutexGuard<'_, HashMap<String, UserCell>> {
        self.inner.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn new_folder(&self, name: String) -> Folder {
        Folder {
            name,
            uid_validity: self.inner.next_uid_validity.fetch_add(1, Ordering::Relaxed),
            uid_next: 1,
            highest_modseq: 1,
            messages: Vec::new(),
            subscribers: Vec::new(),
        }
    }

    /// Adds a user with an empty INBOX, or sets the password of an existing one.
    pub fn add_user(&self, name: &str, password: &str) {
        let mut users = self.users_lock();
        if let Some(cell) = users.get(name) {
            lock_user(cell).password = password.to_owned();
            return;
        }
        let inbox = self.new_folder("INBOX".to_owned());
        let id = self.next_id();
        let data = UserData {
            password: password.to_owned(),
            folders: HashMap::from([(id, inbox)]),
            names: BTreeMap::from([("INBOX".to_owned(), id)]),
            subscriptions: BTreeSet::from(["INBOX".to_owned()]),
            maildrop_locked: false,
        };
        users.insert(name.to_owned(), Arc::new(Mutex::new(data)));
    }

    /// The user names, sorted.
    pub fn users(&self) -> Vec<String> {
        let mut names: Vec<String> = self.users_lock().keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn user(&self, name: &str) -> Result<UserCell, StoreError> {
        self.users_lock()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchUser(name.to_owned()))
    }

    /// Whether `user` exists and `password` is theirs.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        self.user(user)
            .is_ok_and(|cell| lock_user(&cell).password == password)
    }

    /// The password of `user`, for APOP and CRAM-style checks that need the clear text.
    pub fn password(&self, user: &str) -> Option<String> {
        self.user(user)
            .ok()
            .map(|cell| lock_user(&cell).password.clone())
    }

    /// The user's folder names, sorted.
    pub fn folders(&self, user: &str) -> Result<Vec<String>, StoreError> {
        Ok(lock_user(&self.user(user)?).names.keys().cloned().collect())
    }

    /// Creates a folder and any missing superior levels (`A/B/C` creates `A` and `A/B`).
    pub fn create_folder(&self, user: &str, name: &str) -> Result<(), StoreError> {
        let name = normalize(name);
        validate_name(&name)?;
        let cell = self.user(user)?;
        let mut data = lock_user(&cell);
        if data.names.contains_key(&name) {
            return Err(StoreError::FolderExists(name));
        }
        let mut prefix = String::new();
        for level in name.split(DELIMITER) {
            if !prefix.is_empty() {
                prefix.push(DELIMITER);
            }
            prefix.push_str(level);
            if !data.names.contains_key(&prefix) {
                let id = self.next_id();
                data.folders.insert(id, self.new_folder(prefix.clone()));
                data.names.insert(prefix.clone(), id);
            }
        }
        Ok(())
    }

    /// Deletes a folder and its messages (not its inferiors); open views see
    /// [`ViewEvent::FolderDeleted`].
    pub fn delete_folder(&self, user: &str, name: &str) -> Result<(), StoreError> {
        let name = normalize(name);
        if name == "INBOX" {
            return Err(StoreError::CannotDeleteInbox);
        }
        let cell = self.user(user)?;
        let mut data = lock_user(&cell);
        let id = data.folder_id(&name)?;
        data.names.remove(&name);
        if let Some(mut folder) = data.folders.remove(&id) {
            folder.broadcast(None, &Change::Deleted);
        }
        Ok(())
    }

    /// Renames a folder and its inferiors (`A` to `B` also moves `A/x` to `B/x`). Renaming
    /// INBOX moves its messages to a new folder and leaves INBOX empty (RFC 3501 6.3.5).
    pub fn rename_folder(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        let (from, to) = (normalize(from), normalize(to));
        validate_name(&to)?;
        let cell = self.user(user)?;
        let mut data = lock_user(&cell);
        let id = data.folder_id(&from)?;
        if data.names.contains_key(&to) {
            return Err(StoreError::FolderExists(to));
        }
        if from == "INBOX" {
            let new_id = self.next_id();
            let mut target = self.new_folder(to.clone());
            if let Some(inbox) = data.folders.get_mut(&id) {
                let moved = std::mem::take(&mut inbox.messages);
                inbox.highest_modseq += 1;
                // Views of INBOX see the messages go.
                for m in &moved {
                    inbox.broadcast(None, &Change::Expunged(m.uid));
                }
                for m in moved {
                    target.push_message(m.raw, m.flags, m.internal_date);
                }
            }
            data.folders.insert(new_id, target);
            data.names.insert(to, new_id);
            return Ok(());
        }
        let prefix = format!("{from}{DELIMITER}");
        let moving: Vec<(String, u64)> = data
            .names
            .iter()
            .filter(|(n, _)| **n == from || n.starts_with(&prefix))
            .map(|(n, id)| (n.clone(), *id))
            .collect();
        for (old, fid) in moving {
            let new = format!("{to}{}", &old[from.len()..]);
            data.names.remove(&old);
            data.names.insert(new.clone(), fid);
            if let Some(folder) = data.folders.get_mut(&fid) {
                folder.name = new;
            }
        }
        Ok(())
    }

    /// Subscribes to (or unsubscribes from) a folder name (LSUB / LIST (SUBSCRIBED)).
    pub fn set_subscribed(
        &self,
        user: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let cell = self.user(user)?;
        let mut data = lock_user(&cell);
        let name = normalize(name);
        if subscribed {
            data.subscriptions.insert(name);
        } else {
            data.subscriptions.remove(&name);
        }
        Ok(())
    }

    /// The subscribed folder names, sorted.
    pub fn subscriptions(&self, user: &str) -> Result<Vec<String>, StoreError> {
        Ok(lock_user(&self.user(user)?)
            .subscriptions
            .iter()
            .cloned()
            .collect())
    }

    /// The counts of a folder (IMAP STATUS).
    pub fn status(&self, user: &str, folder: &str) -> Result<FolderStatus, StoreError> {
        Ok(lock_user(&self.user(user)?).folder(folder)?.status())
    }

    /// Appends a message (IMAP APPEND); open views of the folder see it as EXISTS. Returns
    /// the folder's UIDVALIDITY and the new UID.
    pub fn append(
        &self,
        user: &str,
        folder: &str,
        raw: impl Into<Bytes>,
        flags: FlagSet,
        internal_date: SystemTime,
    ) -> Result<(u32, u32), StoreError> {
        let cell = self.user(user)?;
        let mut data = lock_user(&cell);
        let folder = data.folder_mut(folder)?;
        let uid = folder.push_message(raw.into(), flags, internal_date);
        tracing::debug!(target: "inbound_test_server::store", user, folder = %folder.name, uid, "message added");
        Ok((folder.uid_validity, uid))
    }

    /// Delivers a new message now, without flags (mail arriving); returns its UID.
    pub fn deliver(
        &self,
        user: &str,
        folder: &str,
        raw: impl Into<Bytes>,
    ) -> Result<u32, StoreError> {
        self.append(user, folder, raw, FlagSet::new(), SystemTime::now())
            .map(|(_, uid)| uid)
    }

    /// A copy of the folder's messages, in UID order.
    pub fn messages(&self, user: &str, folder: &str) -> Result<Vec<StoredMessage>, StoreError> {
        Ok(lock_user(&self.user(user)?)
            .folder(folder)?
            .messages
            .clone())
    }

    /// Opens a folder read-write for an IMAP session (SELECT).
    pub fn select(&self, user: &str, folder: &str) -> Result<FolderView, StoreError> {
        FolderView::open(self, user, folder, false)
    }

    /// Opens a folder read-only for an IMAP session (EXAMINE).
    pub fn examine(&self, user: &str, folder: &str) -> Result<FolderView, StoreError> {
        FolderView::open(self, user, folder, true)
    }

    /// Takes the user's POP3 maildrop (a snapshot of INBOX) exclusively; a second taker gets
    /// [`StoreError::MaildropInUse`] until the first is committed or dropped.
    pub fn lock_maildrop(&self, user: &str) -> Result<Maildrop, StoreError> {
        Maildrop::lock(self.user(user)?, user)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
