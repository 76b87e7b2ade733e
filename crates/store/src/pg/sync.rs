//! Per-folder IMAP sync state and seen POP3 UIDLs on PostgreSQL (the sync-state half of
//! `sync.rs`). Every write for an account first checks this process's lease on it
//! ([`check_lease`]), in the same transaction.

use std::collections::HashSet;

use deadpool_postgres::Transaction;

use super::PgStore;
use super::common::int;
use super::lease::check_lease;
use crate::error::{Error, Result};
use crate::store::now;
use crate::sync::ImapFolderState;

/// In `tx`: a POP3 UIDL is seen and needs no retry.
pub(super) async fn mark_seen(
    tx: &Transaction<'_>,
    account: &str,
    uidl: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO pop3_uidls (account, uidl, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (account, uidl) DO NOTHING",
        &[&account, &uidl, &now],
    )
    .await?;
    tx.execute(
        "DELETE FROM pop3_retry WHERE account = $1 AND uidl = $2",
        &[&account, &uidl],
    )
    .await?;
    Ok(())
}

impl PgStore {
    pub(crate) fn imap_state(
        &self,
        account: &str,
        folder: &str,
    ) -> Result<Option<ImapFolderState>> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT uidvalidity, highest_uid FROM imap_folders
                     WHERE account = $1 AND folder = $2",
                    &[&account, &folder],
                )
                .await?;
            row.map(|r| {
                let (v, h): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                Ok(ImapFolderState {
                    uidvalidity: u32::try_from(v)
                        .map_err(|_| Error::Corrupt(format!("uidvalidity {v} out of range")))?,
                    highest_uid: u32::try_from(h)
                        .map_err(|_| Error::Corrupt(format!("highest uid {h} out of range")))?,
                })
            })
            .transpose()
        })
    }

    pub(crate) fn set_imap_state(
        &mut self,
        account: &str,
        folder: &str,
        state: ImapFolderState,
    ) -> Result<usize> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let (uidvalidity, highest) = (int(state.uidvalidity), int(state.highest_uid));
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let now = now();
            let abandoned = tx
                .execute(
                    "UPDATE pending_actions
                     SET state = 'abandoned', updated_at = $4,
                         last_error = 'UIDVALIDITY changed to ' || $3::bigint::text
                             || '; the UID no longer names this message'
                     WHERE state = 'pending' AND message_id IN (
                         SELECT id FROM messages
                         WHERE account = $1 AND folder = $2 AND uid IS NOT NULL
                             AND uidvalidity != $3)",
                    &[&account, &folder, &uidvalidity, &now],
                )
                .await?;
            if abandoned > 0 {
                tracing::warn!(
                    account,
                    folder,
                    uidvalidity,
                    abandoned,
                    "abandoned pending actions after UIDVALIDITY change"
                );
            }
            tx.execute(
                "DELETE FROM imap_retry WHERE account = $1 AND folder = $2 AND uidvalidity != $3",
                &[&account, &folder, &uidvalidity],
            )
            .await?;
            tx.execute(
                "INSERT INTO imap_folders (account, folder, uidvalidity, highest_uid, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account, folder) DO UPDATE
                    SET uidvalidity = excluded.uidvalidity,
                        highest_uid = excluded.highest_uid,
                        updated_at = excluded.updated_at",
                &[&account, &folder, &uidvalidity, &highest, &now],
            )
            .await?;
            tx.commit().await?;
            Ok(abandoned as usize)
        })
    }

    pub(crate) fn reset_imap_state(
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

    pub(crate) fn pop3_seen_uidls(&self, account: &str) -> Result<HashSet<String>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT uidl FROM pop3_uidls WHERE account = $1",
                    &[&account],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    pub(crate) fn mark_pop3_seen(&mut self, account: &str, uidls: &[&str]) -> Result<()> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let uidls: Vec<String> = uidls.iter().map(|u| (*u).to_owned()).collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let now = now();
            for uidl in &uidls {
                mark_seen(&tx, &account, uidl, now).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub(crate) fn retain_pop3_uidls(
        &mut self,
        account: &str,
        present: &HashSet<String>,
    ) -> Result<usize> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let present: Vec<String> = present.iter().cloned().collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let forgotten = tx
                .execute(
                    "DELETE FROM pop3_uidls WHERE account = $1 AND NOT (uidl = ANY($2))",
                    &[&account, &present],
                )
                .await?;
            // Messages to retry that are gone from the server.
            tx.execute(
                "DELETE FROM pop3_retry WHERE account = $1 AND NOT (uidl = ANY($2))",
                &[&account, &present],
            )
            .await?;
            tx.commit().await?;
            Ok(forgotten as usize)
        })
    }

    pub(crate) fn forget_pop3_uidls(&mut self, account: &str, uidls: &[&str]) -> Result<usize> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let uidls: Vec<String> = uidls.iter().map(|u| (*u).to_owned()).collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let n = tx
                .execute(
                    "DELETE FROM pop3_uidls WHERE account = $1 AND uidl = ANY($2)",
                    &[&account, &uidls],
                )
                .await?;
            tx.commit().await?;
            Ok(n as usize)
        })
    }
}
