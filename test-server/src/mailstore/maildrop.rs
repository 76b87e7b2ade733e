//! The POP3 view of a user's INBOX: an exclusive lock, a numbered snapshot, deletions
//! marked during the session and expunged at QUIT.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::{StoreError, UserCell, lock_user};

struct Entry {
    uid: u32,
    size: usize,
    deleted: bool,
}

/// A POP3 session's maildrop (see [`MailStore::lock_maildrop`](super::MailStore::lock_maildrop)).
///
/// Message numbers are 1-based and fixed for the session. UIDLs are
/// `"{uidvalidity}.{uid}"`, stable across sessions. Dropping the maildrop without
/// [`commit`](Self::commit) (a connection lost before QUIT) releases the lock and deletes
/// nothing.
pub struct Maildrop {
    user: UserCell,
    uid_validity: u32,
    entries: Vec<Entry>,
    released: bool,
}

impl std::fmt::Debug for Maildrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maildrop")
            .field("messages", &self.entries.len())
            .field("uid_validity", &self.uid_validity)
            .finish_non_exhaustive()
    }
}

impl Maildrop {
    pub(super) fn lock(user: UserCell, name: &str) -> Result<Self, StoreError> {
        let mut data = lock_user(&user);
        if data.maildrop_locked {
            return Err(StoreError::MaildropInUse(name.to_owned()));
        }
        let inbox = data.folder("INBOX")?;
        let uid_validity = inbox.uid_validity;
        let entries = inbox
            .messages
            .iter()
            .map(|m| Entry {
                uid: m.uid,
                size: m.raw.len(),
                deleted: false,
            })
            .collect();
        data.maildrop_locked = true;
        drop(data);
        Ok(Self {
            user,
            uid_validity,
            entries,
            released: false,
        })
    }

    fn entry(&self, n: usize) -> Result<&Entry, StoreError> {
        match n.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) if !e.deleted => Ok(e),
            _ => Err(StoreError::NoSuchMessage),
        }
    }

    /// The highest message number (deleted ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the maildrop had no message when locked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// STAT: the number and total size of messages not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.entries
            .iter()
            .filter(|e| !e.deleted)
            .fold((0, 0), |(n, size), e| (n + 1, size + e.size as u64))
    }

    /// LIST: (message number, size) of messages not marked deleted.
    pub fn list(&self) -> Vec<(usize, usize)> {
        self.numbered().map(|(n, e)| (n, e.size)).collect()
    }

    /// UIDL: (message number, unique id) of messages not marked deleted.
    pub fn uidls(&self) -> Vec<(usize, String)> {
        self.numbered().map(|(n, e)| (n, self.uidl_of(e))).collect()
    }

    fn numbered(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted)
            .map(|(i, e)| (i + 1, e))
    }

    fn uidl_of(&self, entry: &Entry) -> String {
        format!("{}.{}", self.uid_validity, entry.uid)
    }

    /// LIST n: the size of message `n`.
    pub fn size(&self, n: usize) -> Result<usize, StoreError> {
        self.entry(n).map(|e| e.size)
    }

    /// UIDL n: the unique id of message `n`.
    pub fn uidl(&self, n: usize) -> Result<String, StoreError> {
        self.entry(n).map(|e| self.uidl_of(e))
    }

    /// The IMAP UID of message `n`.
    pub fn uid(&self, n: usize) -> Result<u32, StoreError> {
        self.entry(n).map(|e| e.uid)
    }

    /// RETR / TOP: the raw bytes of message `n` (an error if marked deleted, or if the message
    /// left INBOX meanwhile, e.g. moved by an IMAP session).
    pub fn retrieve(&self, n: usize) -> Result<Bytes, StoreError> {
        let uid = self.entry(n)?.uid;
        let data = lock_user(&self.user);
        let inbox = data.folder("INBOX")?;
        inbox
            .message(uid)
            .map(|m| m.raw.clone())
            .ok_or(StoreError::NoSuchMessage)
    }

    /// DELE: marks message `n` deleted (an error if it already is).
    pub fn delete(&mut self, n: usize) -> Result<(), StoreError> {
        self.entry(n)?;
        if let Some(e) = self.entries.get_mut(n - 1) {
            e.deleted = true;
        }
        Ok(())
    }

    /// RSET: unmarks every deletion.
    pub fn reset(&mut self) {
        self.entries.iter_mut().for_each(|e| e.deleted = false);
    }

    /// QUIT in the UPDATE state: expunges the marked messages from INBOX (IMAP sessions see
    /// EXPUNGE) and releases the lock. Returns how many messages were removed.
    pub fn commit(mut self) -> Result<usize, StoreError> {
        let doomed: BTreeSet<u32> = self
            .entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.uid)
            .collect();
        let mut data = lock_user(&self.user);
        data.maildrop_locked = false;
        self.released = true;
        let inbox = data.folder_mut("INBOX")?;
        let present: BTreeSet<u32> = doomed
            .into_iter()
            .filter(|u| inbox.message(*u).is_some())
            .collect();
        inbox.remove(None, &present);
        Ok(present.len())
    }
}

impl Drop for Maildrop {
    fn drop(&mut self) {
        if !self.released {
            lock_user(&self.user).maildrop_locked = false;
        }
    }
}
