//! IMAP UIDs asked for and not delivered, and POP3 UIDLs that failed, on PostgreSQL (the
//! statements of `retry.rs`).

use super::PgStore;
use super::common::{int, pg_text};
use crate::error::{Error, Result};
use crate::retry::{RETRY_PENDING_REASON, RetryUid, RetryUidl};
use crate::store::now;

impl PgStore {
    pub(crate) fn expect_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uids: Vec<i64> = uids.iter().copied().map(int).collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, first_at,
                         updated_at)
                     SELECT $1, $2, $3, u, $5, $6, $6 FROM unnest($4::bigint[]) AS u
                     ON CONFLICT DO NOTHING",
                    &[
                        &account,
                        &folder,
                        &uidvalidity,
                        &uids,
                        &RETRY_PENDING_REASON,
                        &now(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    pub(crate) fn fail_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        failures: &[(u32, String)],
    ) -> Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let failures: Vec<(i64, String)> = failures
            .iter()
            .map(|(u, r)| (int(*u), pg_text(r)))
            .collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now();
            let statement = tx
                .prepare_cached(
                    "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, attempts,
                         first_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $6)
                     ON CONFLICT (account, folder, uidvalidity, uid) DO UPDATE
                         SET reason = excluded.reason, attempts = imap_retry.attempts + 1,
                             updated_at = excluded.updated_at",
                )
                .await?;
            for (uid, reason) in &failures {
                tx.execute(
                    &statement,
                    &[&account, &folder, &uidvalidity, uid, reason, &now],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub(crate) fn forget_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uids: Vec<i64> = uids.iter().copied().map(int).collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "DELETE FROM imap_retry
                     WHERE account = $1 AND folder = $2 AND uidvalidity = $3 AND uid = ANY($4)",
                    &[&account, &folder, &uidvalidity, &uids],
                )
                .await?;
            Ok(())
        })
    }

    pub(crate) fn imap_retry(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<RetryUid>> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT uid, reason, attempts, first_at FROM imap_retry
                     WHERE account = $1 AND folder = $2 AND uidvalidity = $3 ORDER BY uid",
                    &[&account, &folder, &uidvalidity],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let uid: i64 = r.try_get(0)?;
                    Ok(RetryUid {
                        uid: u32::try_from(uid)
                            .map_err(|_| Error::Corrupt(format!("retry uid {uid} out of range")))?,
                        reason: r.try_get(1)?,
                        attempts: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
                        first_at: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    pub(crate) fn fail_pop3_uidl(&mut self, account: &str, uidl: &str, reason: &str) -> Result<()> {
        let pool = self.pool.clone();
        let (account, uidl, reason) = (account.to_owned(), uidl.to_owned(), pg_text(reason));
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO pop3_retry (account, uidl, reason, first_at, updated_at)
                     VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (account, uidl) DO UPDATE SET reason = excluded.reason,
                         attempts = pop3_retry.attempts + 1, updated_at = excluded.updated_at",
                    &[&account, &uidl, &reason, &now()],
                )
                .await?;
            Ok(())
        })
    }

    pub(crate) fn pop3_retry(&self, account: &str) -> Result<Vec<RetryUidl>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    // Byte order, as SQLite sorts.
                    "SELECT uidl, reason, attempts FROM pop3_retry WHERE account = $1
                     ORDER BY uidl COLLATE \"C\"",
                    &[&account],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(RetryUidl {
                        uidl: r.try_get(0)?,
                        reason: r.try_get(1)?,
                        attempts: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    })
                })
                .collect()
        })
    }
}
