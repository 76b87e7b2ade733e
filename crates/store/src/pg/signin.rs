//! Accounts that need a new sign-in, on PostgreSQL (the statements of `signin.rs`): marks in
//! the `meta` table under `needs_login:<account>`.

use super::PgStore;
use crate::error::Result;
use crate::outbox::now_ms;
use crate::signin;

impl PgStore {
    pub(crate) fn mark_needs_login(&mut self, account: &str, reason: &str) -> Result<()> {
        let pool = self.pool.clone();
        let key = signin::meta_key(account);
        let mut value = now_ms().to_be_bytes().to_vec();
        value.extend_from_slice(reason.as_bytes());
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &value],
                )
                .await?;
            Ok(())
        })
    }

    pub(crate) fn clear_needs_login(&mut self, account: &str) -> Result<bool> {
        let pool = self.pool.clone();
        let key = signin::meta_key(account);
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .execute("DELETE FROM meta WHERE key = $1", &[&key])
                .await?
                > 0)
        })
    }

    pub(crate) fn needs_login(&self, account: &str) -> Result<Option<signin::NeedsLogin>> {
        let pool = self.pool.clone();
        let name = account.to_owned();
        let key = signin::meta_key(account);
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .await?;
            match row {
                Some(row) => Ok(Some(signin::decode(name, &row.try_get::<_, Vec<u8>>(0)?))),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn accounts_needing_login(&self) -> Result<Vec<signin::NeedsLogin>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            // COLLATE "C": byte order, as SQLite compares the keys.
            let rows = client
                .query(
                    r#"SELECT key, value FROM meta
                       WHERE key COLLATE "C" >= $1 AND key COLLATE "C" < $2
                       ORDER BY key COLLATE "C""#,
                    &[&signin::PREFIX, &signin::PREFIX_END],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let key: String = row.try_get(0)?;
                let value: Vec<u8> = row.try_get(1)?;
                if let Some(account) = key.strip_prefix(signin::PREFIX) {
                    out.push(signin::decode(account.to_owned(), &value));
                }
            }
            Ok(out)
        })
    }
}
