//! Accounts that need a new sign-in: the token endpoint refused their refresh token
//! (`invalid_grant`: expired, revoked, consent withdrawn, or a reused rotated token). Until the
//! person signs in again, every run would fail the same way, so the mark is kept in the store
//! for the CLI's `accounts list` and the web overview to show, and removed by a new sign-in or
//! a run that logs in.
//!
//! Each mark is a row of the `meta` table under `needs_login:<account>`; its value is the
//! time it was set (milliseconds since the Unix epoch, 8 octets big-endian) followed by the
//! reason as UTF-8 (the endpoint's error, for people).

use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::error::Result;
use crate::store::Store;

pub(crate) const PREFIX: &str = "needs_login:";
/// The first key after every `needs_login:` key (`;` follows `:`).
pub(crate) const PREFIX_END: &str = "needs_login;";

/// Why and since when an account needs a new sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsLogin {
    /// The account.
    pub account: String,
    /// When the refusal was recorded (milliseconds since the Unix epoch).
    pub since_ms: i64,
    /// The refusal as the token endpoint gave it (text from a peer: escape it for display).
    pub reason: String,
}

pub(crate) fn meta_key(account: &str) -> String {
    format!("{PREFIX}{account}")
}

pub(crate) fn decode(account: String, value: &[u8]) -> NeedsLogin {
    let (since, reason) = value.split_at(value.len().min(8));
    let since_ms = <[u8; 8]>::try_from(since).map_or(0, i64::from_be_bytes);
    NeedsLogin {
        account,
        since_ms,
        reason: String::from_utf8_lossy(reason).into_owned(),
    }
}

/// Removes `account`'s mark inside `tx` (part of removing the account); true when there was
/// one.
pub(crate) fn remove_mark(tx: &Transaction<'_>, account: &str) -> Result<bool> {
    Ok(tx.execute("DELETE FROM meta WHERE key = ?1", [meta_key(account)])? > 0)
}

impl Store {
    /// Records that `account` needs a new sign-in because its refresh token was refused with
    /// `reason`; replaces an earlier mark.
    ///
    /// # Errors
    /// Database errors.
    pub fn mark_needs_login(&mut self, account: &str, reason: &str) -> Result<()> {
        let mut value = crate::outbox::now_ms().to_be_bytes().to_vec();
        value.extend_from_slice(reason.as_bytes());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![meta_key(account), value],
            )?;
            Ok(())
        })
    }

    /// Removes the mark of [`Store::mark_needs_login`] (after a new sign-in, or a run that
    /// logged in); true when there was one. Writes nothing when there was none.
    ///
    /// # Errors
    /// Database errors.
    pub fn clear_needs_login(&mut self, account: &str) -> Result<bool> {
        if self.needs_login(account)?.is_none() {
            return Ok(false);
        }
        self.write(|tx| remove_mark(tx, account))
    }

    /// The mark of `account`, if it needs a new sign-in.
    ///
    /// # Errors
    /// Database errors.
    pub fn needs_login(&self, account: &str) -> Result<Option<NeedsLogin>> {
        let value: Option<Vec<u8>> = self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [meta_key(account)],
                    |row| row.get(0),
                )
                .optional()?)
        })?;
        Ok(value.map(|v| decode(account.to_owned(), &v)))
    }

    /// Every account that needs a new sign-in, by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn accounts_needing_login(&self) -> Result<Vec<NeedsLogin>> {
        let rows: Vec<(String, Vec<u8>)> = self.read(|conn| {
            Ok(conn
                .prepare("SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2 ORDER BY key")?
                .query_map(params![PREFIX, PREFIX_END], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect::<rusqlite::Result<_>>()?)
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, value)| {
                let account = key.strip_prefix(PREFIX)?.to_owned();
                Some(decode(account, &value))
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_kept_listed_and_cleared_per_account() {
        let mut store = Store::open_in_memory(None).unwrap();
        assert_eq!(store.needs_login("work").unwrap(), None);
        store
            .mark_needs_login("work", "invalid_grant: token revoked")
            .unwrap();
        store.mark_needs_login("home", "invalid_grant").unwrap();
        let work = store.needs_login("work").unwrap().unwrap();
        assert_eq!(work.reason, "invalid_grant: token revoked");
        assert!(work.since_ms > 0);
        let names: Vec<String> = store
            .accounts_needing_login()
            .unwrap()
            .into_iter()
            .map(|n| n.account)
            .collect();
        assert_eq!(names, ["home", "work"]);
        assert!(store.clear_needs_login("work").unwrap());
        assert!(!store.clear_needs_login("work").unwrap());
        assert_eq!(store.needs_login("work").unwrap(), None);
        assert!(store.needs_login("home").unwrap().is_some());
        // Removing the account removes its mark.
        store.remove_account("home").unwrap();
        assert_eq!(store.needs_login("home").unwrap(), None);
    }
}
