//! Per-folder sync state and pending server actions.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use crate::codec;
use crate::error::{Error, Result};
use crate::store::{Store, now};
use crate::types::{MessageId, Pending, PendingAction, ServerRef};

/// What is known about an IMAP folder between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapFolderState {
    /// The folder's UIDVALIDITY when last synced.
    pub uidvalidity: u32,
    /// The highest UID handled under that UIDVALIDITY (0 for none).
    pub highest_uid: u32,
}

/// Records in `tx` that a message with `server_ref` is stored (sync-state side).
pub(crate) fn note_stored(
    tx: &Transaction<'_>,
    account: &str,
    folder: &str,
    server_ref: &ServerRef,
    now: i64,
) -> Result<()> {
    match server_ref {
        ServerRef::Imap { uidvalidity, uid } => {
            let changed = tx
                .prepare_cached(
                    "INSERT INTO imap_folders (account, folder, uidvalidity, highest_uid, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (account, folder) DO UPDATE
                        SET highest_uid = max(highest_uid, excluded.highest_uid),
                            updated_at = excluded.updated_at
                        WHERE uidvalidity = excluded.uidvalidity",
                )?
                .execute(params![account, folder, uidvalidity, uid, now])?;
            crate::retry::note_stored(tx, account, folder, *uidvalidity, *uid)?;
            if changed == 0 {
                tracing::warn!(
                    account,
                    folder,
                    uidvalidity,
                    uid,
                    "stored a message whose UIDVALIDITY is not the folder's recorded one; \
                     sync state left unchanged"
                );
            }
        }
        ServerRef::Pop3 { uidl } => {
            tx.prepare_cached(
                "INSERT INTO pop3_uidls (account, uidl, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account, uidl) DO NOTHING",
            )?
            .execute(params![account, uidl, now])?;
            crate::retry::forget_pop3(tx, account, uidl)?;
        }
    }
    Ok(())
}

fn read_imap_state(
    conn: &Connection,
    account: &str,
    folder: &str,
) -> Result<Option<ImapFolderState>> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT uidvalidity, highest_uid FROM imap_folders WHERE account = ?1 AND folder = ?2",
        )?
        .query_row(params![account, folder], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    row.map(|(v, h)| {
        Ok(ImapFolderState {
            uidvalidity: u32::try_from(v)
                .map_err(|_| Error::Corrupt(format!("uidvalidity {v} out of range")))?,
            highest_uid: u32::try_from(h)
                .map_err(|_| Error::Corrupt(format!("highest uid {h} out of range")))?,
        })
    })
    .transpose()
}

impl Store {
    /// The recorded state of an IMAP folder, if it was ever synced.
    pub fn imap_state(&self, account: &str, folder: &str) -> Result<Option<ImapFolderState>> {
        self.read(|conn| read_imap_state(conn, account, folder))
    }

    /// Records an IMAP folder's state (for example after skipping old messages on a first
    /// sync). If the UIDVALIDITY differs from the recorded one, this is a reset: see
    /// [`reset_imap_state`](Self::reset_imap_state).
    ///
    /// Returns how many pending actions were abandoned because their UIDs are no longer valid.
    pub fn set_imap_state(
        &mut self,
        account: &str,
        folder: &str,
        state: ImapFolderState,
    ) -> Result<usize> {
        self.write(|tx| {
            let now = now();
            let abandoned = abandon_stale_actions(tx, account, folder, state.uidvalidity, now)?;
            crate::retry::forget_other_uidvalidity(tx, account, folder, state.uidvalidity)?;
            tx.prepare_cached(
                "INSERT INTO imap_folders (account, folder, uidvalidity, highest_uid, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account, folder) DO UPDATE
                    SET uidvalidity = excluded.uidvalidity,
                        highest_uid = excluded.highest_uid,
                        updated_at = excluded.updated_at",
            )?
            .execute(params![
                account,
                folder,
                state.uidvalidity,
                state.highest_uid,
                now
            ])?;
            Ok(abandoned)
        })
    }

    /// Handles a UIDVALIDITY change: records the new UIDVALIDITY with highest UID 0. Stored
    /// messages are kept. Pending actions on messages of this folder under another UIDVALIDITY
    /// are abandoned (their UIDs may now name other messages, so acting on them could delete
    /// the wrong mail); they are listed by [`abandoned_actions`](Self::abandoned_actions).
    ///
    /// Returns how many pending actions were abandoned.
    pub fn reset_imap_state(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<usize> {
        tracing::info!(
            account,
            folder,
            uidvalidity,
            "UIDVALIDITY changed; resetting folder state"
        );
        self.set_imap_state(
            account,
            folder,
            ImapFolderState {
                uidvalidity,
                highest_uid: 0,
            },
        )
    }

    /// Every POP3 UIDL of `account` seen so far (stored, or marked seen).
    pub fn pop3_seen_uidls(&self, account: &str) -> Result<HashSet<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT uidl FROM pop3_uidls WHERE account = ?1")?;
            let set = stmt
                .query_map([account], |row| row.get(0))?
                .collect::<rusqlite::Result<HashSet<String>>>()?;
            Ok(set)
        })
    }

    /// Marks POP3 UIDLs as seen without storing their messages (for example when a policy
    /// skips them), in one transaction. They need no retry any more.
    pub fn mark_pop3_seen<'a>(
        &mut self,
        account: &str,
        uidls: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        self.write(|tx| {
            let now = now();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO pop3_uidls (account, uidl, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account, uidl) DO NOTHING",
            )?;
            for uidl in uidls {
                stmt.execute(params![account, uidl, now])?;
                crate::retry::forget_pop3(tx, account, uidl)?;
            }
            Ok(())
        })
    }

    /// Forgets the seen UIDLs of `account` that are not in `present` (the server's current
    /// listing), so the set does not grow forever, and the messages to retry that are gone.
    /// Returns how many seen UIDLs were forgotten.
    pub fn retain_pop3_uidls(&mut self, account: &str, present: &HashSet<String>) -> Result<usize> {
        self.write(|tx| {
            let seen: Vec<String> = tx
                .prepare_cached("SELECT uidl FROM pop3_uidls WHERE account = ?1")?
                .query_map([account], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut delete =
                tx.prepare_cached("DELETE FROM pop3_uidls WHERE account = ?1 AND uidl = ?2")?;
            let mut forgotten = 0;
            for uidl in seen.iter().filter(|u| !present.contains(*u)) {
                forgotten += delete.execute(params![account, uidl])?;
            }
            // Messages to retry that are gone from the server.
            let retry: Vec<String> = tx
                .prepare_cached("SELECT uidl FROM pop3_retry WHERE account = ?1")?
                .query_map([account], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for uidl in retry.iter().filter(|u| !present.contains(*u)) {
                crate::retry::forget_pop3(tx, account, uidl)?;
            }
            Ok(forgotten)
        })
    }

    /// Forgets POP3 UIDLs of `account` as seen: for messages this run deleted on the server
    /// (after `QUIT` committed it), so a server that reuses such a UIDL for a new message
    /// gets that message fetched (and told apart by content) instead of passed over.
    pub fn forget_pop3_uidls<'a>(
        &mut self,
        account: &str,
        uidls: impl IntoIterator<Item = &'a str>,
    ) -> Result<usize> {
        self.write(|tx| {
            let mut delete =
                tx.prepare_cached("DELETE FROM pop3_uidls WHERE account = ?1 AND uidl = ?2")?;
            let mut forgotten = 0;
            for uidl in uidls {
                forgotten += delete.execute(params![account, uidl])?;
            }
            Ok(forgotten)
        })
    }

    /// The server actions of `account` still to be carried out, oldest first.
    pub fn pending_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.read(|conn| actions(conn, account, "pending"))
    }

    /// The actions of `account` given up on (see [`abandon_action`](Self::abandon_action) and
    /// [`reset_imap_state`](Self::reset_imap_state)), oldest first.
    pub fn abandoned_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.read(|conn| actions(conn, account, "abandoned"))
    }

    /// Records that an action was carried out on the server; it is removed.
    pub fn complete_action(&mut self, id: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM pending_actions WHERE id = ?1")?
                .execute([id])?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }

    /// Records that several actions were carried out on the server, in one transaction (one
    /// fsync for a whole batch). Ids that are not pending (already completed) are skipped;
    /// returns how many were removed.
    pub fn complete_actions(&mut self, ids: &[i64]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            let mut statement = tx.prepare_cached("DELETE FROM pending_actions WHERE id = ?1")?;
            let mut removed = 0;
            for id in ids {
                removed += statement.execute([id])?;
            }
            Ok(removed)
        })
    }

    /// Records a failed attempt; the action stays pending and is tried again on the next run.
    /// `error` is stored as given: it must not contain secrets.
    pub fn fail_action(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET attempts = attempts + 1, last_error = ?2, updated_at = ?3
             WHERE id = ?1",
            error,
        )
    }

    /// Records that a move's copy is done (the message is in the target folder) and only
    /// its removal from the source folder is left: the action becomes a delete, so a retry
    /// never copies it again (a second copy in the target). Counts as a failed attempt with
    /// `error` (no secrets).
    pub fn move_copied(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET action = 'delete', target = NULL,
                 attempts = attempts + 1, last_error = ?2, updated_at = ?3
             WHERE id = ?1 AND action = 'move'",
            error,
        )
    }

    /// Gives up on an action: it is no longer returned by
    /// [`pending_actions`](Self::pending_actions) but kept for
    /// [`abandoned_actions`](Self::abandoned_actions).
    pub fn abandon_action(&mut self, id: i64, reason: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET state = 'abandoned', last_error = ?2, updated_at = ?3
             WHERE id = ?1",
            reason,
        )
    }

    fn update_action(&mut self, id: i64, sql: &str, text: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.prepare_cached(sql)?.execute(params![id, text, now()])?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }
}

fn abandon_stale_actions(
    tx: &Transaction<'_>,
    account: &str,
    folder: &str,
    uidvalidity: u32,
    now: i64,
) -> Result<usize> {
    let n = tx
        .prepare_cached(
            "UPDATE pending_actions
             SET state = 'abandoned', updated_at = ?4,
                 last_error = 'UIDVALIDITY changed to ' || ?3 || '; the UID no longer names this message'
             WHERE state = 'pending' AND message_id IN (
                 SELECT id FROM messages
                 WHERE account = ?1 AND folder = ?2 AND uid IS NOT NULL AND uidvalidity != ?3)",
        )?
        .execute(params![account, folder, uidvalidity, now])?;
    if n > 0 {
        tracing::warn!(
            account,
            folder,
            uidvalidity,
            abandoned = n,
            "abandoned pending actions after UIDVALIDITY change"
        );
    }
    Ok(n)
}

fn actions(conn: &Connection, account: &str, state: &str) -> Result<Vec<Pending>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.message_id, m.account, m.folder, m.uidvalidity, m.uid, m.uidl,
                p.action, p.target, p.attempts, p.last_error, p.created_at
         FROM pending_actions p JOIN messages m ON m.id = p.message_id
         WHERE m.account = ?1 AND p.state = ?2
         ORDER BY p.id",
    )?;
    type RawAction = (
        i64,
        i64,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        Option<String>,
        i64,
        Option<String>,
        i64,
    );
    let rows = stmt
        .query_map(params![account, state], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<RawAction>>>()?;
    rows.into_iter()
        .map(
            |(
                id,
                message,
                account,
                folder,
                v,
                u,
                l,
                kind,
                target,
                attempts,
                last_error,
                created_at,
            )| {
                let action = match (kind.as_str(), target) {
                    ("delete", None) => PendingAction::Delete,
                    ("move", Some(folder)) => PendingAction::MoveTo(folder),
                    _ => return Err(Error::Corrupt(format!("pending action {id} is malformed"))),
                };
                Ok(Pending {
                    id,
                    message: MessageId(message),
                    account,
                    folder,
                    server_ref: codec::ref_from_columns(v, u, l)?,
                    action,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    last_error,
                    created_at,
                })
            },
        )
        .collect()
}
