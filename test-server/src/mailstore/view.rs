//! A session's view of a selected folder: its own sequence numbers, and the changes other
//! sessions made, queued until the session reports them.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::{
    CopyResult, Flag, FlagOp, FlagSet, Folder, FolderStatus, MailStore, StoreError, StoredMessage,
    UserCell, UserData, lock_user,
};

/// A change to a folder, queued to the views that did not make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Appended(u32),
    Expunged(u32),
    Flags(u32),
    Deleted,
}

/// The part of a view that the folder can reach (weakly) to queue changes.
pub(crate) struct ViewShared {
    pub(crate) id: u64,
    queue: Mutex<Vec<Change>>,
    notify: Notify,
}

impl ViewShared {
    fn queue(&self) -> MutexGuard<'_, Vec<Change>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, change: Change) {
        self.queue().push(change);
        self.notify.notify_one();
    }
}

/// What a session must tell its client, in order, with sequence numbers of its own view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewEvent {
    /// `* n EXISTS`: the folder now has `n` messages in this view.
    Exists(u32),
    /// `* n EXPUNGE`: the message at sequence number `n` is gone; later numbers shift down.
    Expunge(u32),
    /// `* n FETCH (FLAGS (...))`: flags changed elsewhere.
    Flags(FlagUpdate),
    /// The folder was deleted; the session should close it (or say BYE).
    FolderDeleted,
}

/// New flags of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    /// The sequence number in this view.
    pub seq: u32,
    /// The UID.
    pub uid: u32,
    /// The flags now.
    pub flags: FlagSet,
    /// The message's modification sequence now.
    pub modseq: u64,
}

/// What SELECT / EXAMINE reports, as of the moment the view was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectInfo {
    /// The folder name.
    pub name: String,
    /// `* n EXISTS`.
    pub exists: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// The sequence number of the first message without `\Seen`.
    pub first_unseen: Option<u32>,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// UIDNEXT.
    pub uid_next: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// The keywords in use in the folder (for the FLAGS response).
    pub keywords: BTreeSet<String>,
    /// Opened with EXAMINE.
    pub read_only: bool,
}

/// A session's view of one folder (see the [module docs](super)). Dropping it unsubscribes.
pub struct FolderView {
    user: UserCell,
    folder_id: u64,
    shared: Arc<ViewShared>,
    /// The UIDs this session knows, in sequence-number order.
    uids: Vec<u32>,
    /// Expunges held back while the session may not report them.
    deferred: Vec<Change>,
    /// An empty buffer swapped with the shared queue on every poll (no allocation per
    /// delivery).
    spare: Vec<Change>,
    info: SelectInfo,
    deleted: bool,
}

impl std::fmt::Debug for FolderView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderView")
            .field("folder", &self.info.name)
            .field("len", &self.uids.len())
            .field("read_only", &self.info.read_only)
            .finish_non_exhaustive()
    }
}

impl FolderView {
    pub(super) fn open(
        store: &MailStore,
        user: &str,
        folder: &str,
        read_only: bool,
    ) -> Result<Self, StoreError> {
        let cell = store.user(user)?;
        let shared = Arc::new(ViewShared {
            id: store.next_id(),
            queue: Mutex::default(),
            notify: Notify::new(),
        });
        let mut data = lock_user(&cell);
        let folder_id = data.folder_id(folder)?;
        let f = data
            .folders
            .get_mut(&folder_id)
            .ok_or_else(|| StoreError::NoSuchFolder(folder.to_owned()))?;
        f.subscribers.push(Arc::downgrade(&shared));
        let uids: Vec<u32> = f.messages.iter().map(|m| m.uid).collect();
        let status = f.status();
        let unseen = |m: &StoredMessage| !m.flags.contains(&Flag::Seen);
        let info = SelectInfo {
            name: f.name.clone(),
            exists: status.messages,
            unseen: status.unseen,
            first_unseen: f.messages.iter().position(unseen).map(|i| i as u32 + 1),
            uid_validity: status.uid_validity,
            uid_next: status.uid_next,
            highest_modseq: status.highest_modseq,
            keywords: f
                .messages
                .iter()
                .flat_map(|m| m.flags.iter())
                .filter_map(|flag| match flag {
                    Flag::Keyword(k) => Some(k.clone()),
                    _ => None,
                })
                .collect(),
            read_only,
        };
        drop(data);
        Ok(Self {
            user: cell,
            folder_id,
            shared,
            uids,
            deferred: Vec::new(),
            spare: Vec::new(),
            info,
            deleted: false,
        })
    }

    /// What SELECT reports, as of opening.
    pub fn info(&self) -> &SelectInfo {
        &self.info
    }

    /// Whether the view was opened with EXAMINE.
    pub fn is_read_only(&self) -> bool {
        self.info.read_only
    }

    /// The number of messages in this view (the last EXISTS reported plus own changes).
    pub fn len(&self) -> u32 {
        self.uids.len() as u32
    }

    /// Whether the view has no messages.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// The UIDs in sequence-number order (`uids()[0]` is sequence number 1).
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The UID at sequence number `seq` (1-based).
    pub fn uid(&self, seq: u32) -> Option<u32> {
        self.uids.get((seq as usize).checked_sub(1)?).copied()
    }

    /// The sequence number of `uid` in this view.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    fn data(&self) -> Result<MutexGuard<'_, UserData>, StoreError> {
        if self.deleted {
            return Err(StoreError::FolderDeleted);
        }
        Ok(lock_user(&self.user))
    }

    fn folder<'a>(&self, data: &'a mut UserData) -> Result<&'a mut Folder, StoreError> {
        data.folders
            .get_mut(&self.folder_id)
            .ok_or(StoreError::FolderDeleted)
    }

    /// The message at `seq`; `None` when out of range or expunged by another session and
    /// not yet reported (the session decides what to answer for such a message).
    pub fn message(&self, seq: u32) -> Option<StoredMessage> {
        self.message_by_uid(self.uid(seq)?)
    }

    /// The message with `uid`, if it is in this view and still in the folder.
    pub fn message_by_uid(&self, uid: u32) -> Option<StoredMessage> {
        self.seq(uid)?;
        let mut data = self.data().ok()?;
        self.folder(&mut data).ok()?.message(uid).cloned()
    }

    /// The folder's current counts and its current name (after a rename).
    pub fn status(&self) -> Result<(String, FolderStatus), StoreError> {
        let mut data = self.data()?;
        let folder = self.folder(&mut data)?;
        Ok((folder.name.clone(), folder.status()))
    }

    /// STORE: changes flags of the messages with these UIDs (those in this view). Other
    /// views see the change; the result lists each message's flags now, in sequence order.
    pub fn store_flags(
        &mut self,
        uids: &[u32],
        op: FlagOp,
        flags: &FlagSet,
    ) -> Result<Vec<FlagUpdate>, StoreError> {
        if self.info.read_only {
            return Err(StoreError::ReadOnly);
        }
        let targets = self.known(uids);
        let mut data = self.data()?;
        let folder = self.folder(&mut data)?;
        let mut updates = Vec::with_capacity(targets.len());
        for uid in targets {
            if let (Some(seq), Some((flags, modseq, _))) = (
                self.seq(uid),
                folder.set_flags(Some(self.shared.id), uid, op, flags),
            ) {
                updates.push(FlagUpdate {
                    seq,
                    uid,
                    flags,
                    modseq,
                });
            }
        }
        Ok(updates)
    }

    /// The given UIDs that this view knows, sorted and deduplicated.
    fn known(&self, uids: &[u32]) -> BTreeSet<u32> {
        uids.iter()
            .copied()
            .filter(|uid| self.seq(*uid).is_some())
            .collect()
    }

    fn remove_from_view(&mut self, uids: &BTreeSet<u32>) -> Vec<u32> {
        let mut seqs = Vec::with_capacity(uids.len());
        for uid in uids {
            if let Ok(index) = self.uids.binary_search(uid) {
                self.uids.remove(index);
                seqs.push(index as u32 + 1);
            }
        }
        seqs
    }

    /// EXPUNGE (or UID EXPUNGE with `only`): removes this view's `\Deleted` messages. Returns
    /// the sequence numbers to report, in order (each relative to the previous removal).
    pub fn expunge(&mut self, only: Option<&[u32]>) -> Result<Vec<u32>, StoreError> {
        if self.info.read_only {
            return Err(StoreError::ReadOnly);
        }
        let candidates = match only {
            Some(uids) => self.known(uids),
            None => self.uids.iter().copied().collect(),
        };
        let mut data = self.data()?;
        let folder = self.folder(&mut data)?;
        let doomed: BTreeSet<u32> = candidates
            .into_iter()
            .filter(|uid| {
                folder
                    .message(*uid)
                    .is_some_and(|m| m.flags.contains(&Flag::Deleted))
            })
            .collect();
        folder.remove(Some(self.shared.id), &doomed);
        drop(data);
        Ok(self.remove_from_view(&doomed))
    }

    /// COPY: copies the messages with these UIDs (flags and internal date kept) to `dest`.
    pub fn copy(&self, uids: &[u32], dest: &str) -> Result<CopyResult, StoreError> {
        let targets = self.known(uids);
        let mut data = self.data()?;
        let source: Vec<StoredMessage> = {
            let folder = self.folder(&mut data)?;
            targets
                .iter()
                .filter_map(|uid| folder.message(*uid).cloned())
                .collect()
        };
        let dest = data.folder_mut(dest)?;
        let pairs = source
            .into_iter()
            .map(|m| (m.uid, dest.push_message(m.raw, m.flags, m.internal_date)))
            .collect();
        Ok(CopyResult {
            uid_validity: dest.uid_validity,
            uids: pairs,
        })
    }

    /// MOVE: copies to `dest`, then expunges the originals. Returns where they went and the
    /// sequence numbers to report as EXPUNGE.
    pub fn move_to(
        &mut self,
        uids: &[u32],
        dest: &str,
    ) -> Result<(CopyResult, Vec<u32>), StoreError> {
        if self.info.read_only {
            return Err(StoreError::ReadOnly);
        }
        let copied = self.copy(uids, dest)?;
        let moved: BTreeSet<u32> = copied.uids.iter().map(|(src, _)| *src).collect();
        let mut data = self.data()?;
        self.folder(&mut data)?.remove(Some(self.shared.id), &moved);
        drop(data);
        Ok((copied, self.remove_from_view(&moved)))
    }

    /// Whether changes wait to be reported (what [`changed`](Self::changed) waits for).
    pub fn has_pending(&self) -> bool {
        !self.deferred.is_empty() || !self.shared.queue().is_empty()
    }

    /// Waits until another session or a delivery changed the folder (for IDLE). Returns at
    /// once if changes already wait. Cancel-safe.
    pub async fn changed(&self) {
        loop {
            if self.has_pending() {
                return;
            }
            self.shared.notify.notified().await;
        }
    }

    /// Applies the queued changes to this view and returns what to tell the client. With
    /// `allow_expunge` false (during FETCH, STORE, SEARCH), expunges stay queued and the
    /// expunged messages keep their sequence numbers.
    pub fn poll(&mut self, allow_expunge: bool) -> Vec<ViewEvent> {
        let mut changes = std::mem::take(&mut self.spare);
        changes.append(&mut self.deferred);
        {
            let mut queue = self.shared.queue();
            if changes.is_empty() {
                // The common case: take the queue's buffer, leave ours (empty, with its
                // capacity) in its place.
                std::mem::swap(&mut changes, &mut *queue);
            } else {
                changes.append(&mut queue);
            }
        }
        if changes.is_empty() || self.deleted {
            self.spare = changes;
            return Vec::new();
        }
        let events = self.apply(&changes, allow_expunge);
        changes.clear();
        self.spare = changes;
        events
    }

    /// [`poll`](Self::poll)'s work on the taken changes. Appends and expunges carry all
    /// they need: only flag changes read the folder, so new mail does not take the lock
    /// that every view of the user shares (ten thousand IDLE sessions woken by one
    /// delivery would otherwise queue on it one after the other).
    fn apply(&mut self, changes: &[Change], allow_expunge: bool) -> Vec<ViewEvent> {
        let needs_folder = changes.iter().any(|c| matches!(c, Change::Flags(_)));
        let user = Arc::clone(&self.user);
        let data = needs_folder.then(|| lock_user(&user));
        let folder = data.as_ref().and_then(|d| d.folders.get(&self.folder_id));
        let held: HashSet<u32> = if allow_expunge {
            HashSet::new()
        } else {
            changes
                .iter()
                .filter_map(|c| {
                    if let Change::Expunged(u) = c {
                        Some(*u)
                    } else {
                        None
                    }
                })
                .collect()
        };
        let mut events = Vec::new();
        let mut exists_pending = false;
        let mut flags_reported = HashSet::new();
        for change in changes.iter().cloned() {
            let flush = |events: &mut Vec<ViewEvent>, pending: &mut bool, len: usize| {
                if std::mem::take(pending) {
                    events.push(ViewEvent::Exists(len as u32));
                }
            };
            match change {
                Change::Appended(uid) => {
                    if let Err(index) = self.uids.binary_search(&uid) {
                        self.uids.insert(index, uid);
                        exists_pending = true;
                    }
                }
                Change::Expunged(uid) if !allow_expunge => {
                    self.deferred.push(Change::Expunged(uid));
                }
                Change::Expunged(uid) => {
                    if let Ok(index) = self.uids.binary_search(&uid) {
                        flush(&mut events, &mut exists_pending, self.uids.len());
                        self.uids.remove(index);
                        events.push(ViewEvent::Expunge(index as u32 + 1));
                    }
                }
                Change::Flags(uid) => {
                    let current = folder.and_then(|f| f.message(uid));
                    if let (Some(seq), Some(m)) = (self.seq(uid), current) {
                        if !held.contains(&uid) && flags_reported.insert(uid) {
                            flush(&mut events, &mut exists_pending, self.uids.len());
                            let update = FlagUpdate {
                                seq,
                                uid,
                                flags: m.flags.clone(),
                                modseq: m.modseq,
                            };
                            events.push(ViewEvent::Flags(update));
                        }
                    }
                }
                Change::Deleted => {
                    self.deleted = true;
                    events.push(ViewEvent::FolderDeleted);
                    return events;
                }
            }
        }
        if exists_pending {
            events.push(ViewEvent::Exists(self.uids.len() as u32));
        }
        events
    }
}
