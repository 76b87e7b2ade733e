//! IMAP UIDs asked for and not delivered: kept until a run stores them, so nothing asked for
//! is ever silently passed over.
//!
//! A folder's sync state is its highest UID handled; a UID below it is never searched for
//! again. A run therefore records every UID of a batch here *before* fetching it; storing a
//! message removes its UID in the same transaction ([`note_stored`](crate::sync)), and a
//! UID the server did not deliver whole stays, with the reason, for the next run to ask for
//! again. Nothing is deleted or moved on the server for a UID here: it is not stored.

use rusqlite::{Transaction, params};

use crate::error::{Error, Result};
use crate::store::{Store, now};

/// A UID a run asked for and did not get whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryUid {
    /// The UID (under the UIDVALIDITY it was recorded with).
    pub uid: u32,
    /// Why it was not stored, as the last run saw it.
    pub reason: String,
    /// Runs that asked for it and did not get it (0: recorded before a fetch that has not
    /// ended yet, e.g. a run that crashed).
    pub attempts: u32,
    /// When it was first recorded, seconds since the Unix epoch.
    pub first_at: i64,
}

/// Reason recorded for a UID before its fetch ends.
pub const RETRY_PENDING_REASON: &str = "asked for; the fetch did not end";

impl Store {
    /// Records `uids` of a folder as asked for and not yet stored, before fetching them. A
    /// UID already recorded keeps its reason and attempts.
    pub fn expect_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let now = now();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, first_at,
                     updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT DO NOTHING",
            )?;
            for uid in uids {
                stmt.execute(params![
                    account,
                    folder,
                    uidvalidity,
                    uid,
                    RETRY_PENDING_REASON,
                    now
                ])?;
            }
            Ok(())
        })
    }

    /// Records why each of these UIDs was not delivered (one more attempt each); they stay
    /// to be asked for again. `reason` must not contain secrets or message content.
    pub fn fail_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        failures: &[(u32, String)],
    ) -> Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let now = now();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, attempts,
                     first_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)
                 ON CONFLICT DO UPDATE SET reason = excluded.reason,
                     attempts = attempts + 1, updated_at = excluded.updated_at",
            )?;
            for (uid, reason) in failures {
                stmt.execute(params![account, folder, uidvalidity, uid, reason, now])?;
            }
            Ok(())
        })
    }

    /// Forgets UIDs that need no retry any more: gone from the server, or deliberately
    /// passed over (larger than the maximum size).
    pub fn forget_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM imap_retry
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
            )?;
            for uid in uids {
                stmt.execute(params![account, folder, uidvalidity, uid])?;
            }
            Ok(())
        })
    }

    /// The UIDs of a folder still to be asked for again under `uidvalidity`, ascending.
    pub fn imap_retry(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<RetryUid>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT uid, reason, attempts, first_at FROM imap_retry
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 ORDER BY uid",
            )?;
            let rows = stmt
                .query_map(params![account, folder, uidvalidity], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(uid, reason, attempts, first_at)| {
                    Ok(RetryUid {
                        uid: u32::try_from(uid)
                            .map_err(|_| Error::Corrupt(format!("retry uid {uid} out of range")))?,
                        reason,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        first_at,
                    })
                })
                .collect()
        })
    }
}

/// A POP3 message a run asked for and did not get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryUidl {
    /// The UIDL.
    pub uidl: String,
    /// Why it was not stored, as the last run saw it.
    pub reason: String,
    /// Runs that asked for it and did not get it.
    pub attempts: u32,
}

impl Store {
    /// Records that a POP3 message was asked for and not stored, and why (one more
    /// attempt); the next run asks for it again. `reason` must not contain secrets or
    /// message content.
    pub fn fail_pop3_uidl(&mut self, account: &str, uidl: &str, reason: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO pop3_retry (account, uidl, reason, first_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT DO UPDATE SET reason = excluded.reason,
                     attempts = attempts + 1, updated_at = excluded.updated_at",
            )?
            .execute(params![account, uidl, reason, now()])?;
            Ok(())
        })
    }

    /// The POP3 messages of `account` still to be asked for again, by UIDL.
    pub fn pop3_retry(&self, account: &str) -> Result<Vec<RetryUidl>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT uidl, reason, attempts FROM pop3_retry WHERE account = ?1 ORDER BY uidl",
            )?;
            let rows = stmt
                .query_map([account], |r| {
                    Ok(RetryUidl {
                        uidl: r.get(0)?,
                        reason: r.get(1)?,
                        attempts: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// In `tx`: a POP3 message stored or passed over needs no retry.
pub(crate) fn forget_pop3(tx: &Transaction<'_>, account: &str, uidl: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM pop3_retry WHERE account = ?1 AND uidl = ?2")?
        .execute(params![account, uidl])?;
    Ok(())
}

/// In `tx`: a stored message's UID needs no retry.
pub(crate) fn note_stored(
    tx: &Transaction<'_>,
    account: &str,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM imap_retry
         WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
    )?
    .execute(params![account, folder, uidvalidity, uid])?;
    Ok(())
}

/// In `tx`: UIDs recorded under another UIDVALIDITY name nothing any more.
pub(crate) fn forget_other_uidvalidity(
    tx: &Transaction<'_>,
    account: &str,
    folder: &str,
    uidvalidity: u32,
) -> Result<usize> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM imap_retry WHERE account = ?1 AND folder = ?2 AND uidvalidity != ?3",
        )?
        .execute(params![account, folder, uidvalidity])?)
}
