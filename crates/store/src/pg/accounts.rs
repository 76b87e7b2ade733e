//! Stored accounts on PostgreSQL (the statements of `accounts.rs` and `rotated.rs`): sealed
//! settings and secrets, re-encryption under a new key, and secrets a service rotated.

use std::collections::BTreeMap;

use inbound_secret::Secret;

use super::PgStore;
use crate::accounts::{StoredAccount, open_account, open_config, seal_config};
use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN, secret_aad};
use crate::error::{Error, Result};
use crate::rotated;
use crate::signin;
use crate::store::now;

impl PgStore {
    pub(crate) fn save_account(
        &mut self,
        name: &str,
        config_json: &str,
        secrets: &[(&str, Secret)],
    ) -> Result<()> {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(config_json) {
            return Err(Error::InvalidConfig {
                account: name.to_owned(),
                reason: e.to_string(),
            });
        }
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let mut sealed: Vec<(&str, Vec<u8>)> = Vec::with_capacity(secrets.len());
        for (secret_name, secret) in secrets {
            let value = key.seal(secret.expose().as_bytes(), &secret_aad(name, secret_name))?;
            sealed.push((secret_name, value));
        }
        // Byte order, the order `load_account` reads them in.
        sealed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let config = seal_config(&key, name, config_json, &sealed)?;
        let sealed: Vec<(String, Vec<u8>)> =
            sealed.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        let pool = self.pool.clone();
        let name = name.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now();
            let id: i64 = tx
                .query_one(
                    "INSERT INTO accounts (name, config, created_at, updated_at)
                     VALUES ($1, $2, $3, $3)
                     ON CONFLICT (name) DO UPDATE
                        SET config = excluded.config, updated_at = excluded.updated_at
                     RETURNING id",
                    &[&name, &config, &now],
                )
                .await?
                .try_get(0)?;
            tx.execute("DELETE FROM account_secrets WHERE account_id = $1", &[&id])
                .await?;
            for (secret_name, value) in &sealed {
                tx.execute(
                    "INSERT INTO account_secrets (account_id, name, sealed) VALUES ($1, $2, $3)",
                    &[&id, secret_name, value],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub(crate) fn load_account(&self, name: &str) -> Result<Option<StoredAccount>> {
        let pool = self.pool.clone();
        let owned = name.to_owned();
        let found = self.run(async move {
            let mut client = pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let Some(row) = tx
                .query_opt("SELECT id, config FROM accounts WHERE name = $1", &[&owned])
                .await?
            else {
                return Ok(None);
            };
            let (id, config): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
            let sealed = tx
                .query(
                    // Byte order, as the settings were sealed with them.
                    "SELECT name, sealed FROM account_secrets WHERE account_id = $1
                     ORDER BY name COLLATE \"C\"",
                    &[&id],
                )
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<(String, Vec<u8>)>>>()?;
            tx.commit().await?;
            Ok(Some((config, sealed)))
        })?;
        let Some((stored_config, sealed)) = found else {
            return Ok(None);
        };
        let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
        open_account(key, name, &stored_config, sealed).map(Some)
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<String>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query("SELECT name FROM accounts ORDER BY name COLLATE \"C\"", &[])
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    pub(crate) fn remove_account(&mut self, name: &str) -> Result<bool> {
        let pool = self.pool.clone();
        let name = name.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let removed = tx
                .execute("DELETE FROM accounts WHERE name = $1", &[&name])
                .await?;
            tx.execute("DELETE FROM imap_folders WHERE account = $1", &[&name])
                .await?;
            tx.execute("DELETE FROM pop3_uidls WHERE account = $1", &[&name])
                .await?;
            tx.execute(
                "DELETE FROM meta WHERE key = $1",
                &[&signin::meta_key(&name)],
            )
            .await?;
            tx.execute(
                "DELETE FROM pending_actions
                 WHERE message_id IN (SELECT id FROM messages WHERE account = $1)",
                &[&name],
            )
            .await?;
            tx.commit().await?;
            Ok(removed > 0)
        })
    }

    pub(crate) fn rekey(&mut self, old: &EncryptionKey, new: &EncryptionKey) -> Result<usize> {
        let pool = self.pool.clone();
        let (old, new_key) = (old.clone(), new.clone());
        let count = self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // The key check's row lock makes two rekeys wait for each other.
            let check = tx
                .query_opt(
                    "SELECT value FROM meta WHERE key = 'key_check' FOR UPDATE",
                    &[],
                )
                .await?;
            if let Some(row) = check {
                let sealed: Vec<u8> = row.try_get(0)?;
                if old.open(&sealed, KEY_CHECK_AAD).as_deref() != Some(KEY_CHECK_PLAIN) {
                    return Err(Error::WrongKey);
                }
            }
            let rows = tx
                .query(
                    "SELECT s.account_id, a.name, s.name, s.sealed
                     FROM account_secrets s JOIN accounts a ON a.id = s.account_id
                     ORDER BY s.account_id, s.name COLLATE \"C\"
                     FOR UPDATE",
                    &[],
                )
                .await?;
            // Each account's secrets, old and new sealed bytes, in name (byte) order.
            type Resealed = Vec<(String, Vec<u8>, Vec<u8>)>;
            let mut by_account: BTreeMap<i64, Resealed> = BTreeMap::new();
            for row in &rows {
                let (account_id, account, secret, sealed): (i64, String, String, Vec<u8>) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
                let aad = secret_aad(&account, &secret);
                let plain = old.open(&sealed, &aad).ok_or(Error::WrongKey)?;
                let resealed = new_key.seal(&plain, &aad)?;
                tx.execute(
                    "UPDATE account_secrets SET sealed = $3 WHERE account_id = $1 AND name = $2",
                    &[&account_id, &secret, &resealed],
                )
                .await?;
                by_account
                    .entry(account_id)
                    .or_default()
                    .push((secret, sealed, resealed));
            }
            // The settings are bound to the sealed secrets: seal them again beside the new ones.
            let accounts = tx
                .query("SELECT id, name, config FROM accounts FOR UPDATE", &[])
                .await?;
            for row in &accounts {
                let (id, name, stored): (i64, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let secrets = by_account.get(&id).map_or(&[][..], Vec::as_slice);
                let old_sealed: Vec<(String, Vec<u8>)> = secrets
                    .iter()
                    .map(|(n, o, _)| (n.clone(), o.clone()))
                    .collect();
                let Some(json) = open_config(&old, &name, &stored, &old_sealed) else {
                    tracing::warn!(account = %name, "stored account settings failed to authenticate; left as they are");
                    continue;
                };
                let new_sealed: Vec<(&str, Vec<u8>)> = secrets
                    .iter()
                    .map(|(n, _, r)| (n.as_str(), r.clone()))
                    .collect();
                let config = seal_config(&new_key, &name, &json, &new_sealed)?;
                tx.execute("UPDATE accounts SET config = $2 WHERE id = $1", &[&id, &config])
                    .await?;
            }
            let rotated_rows = tx
                .query(
                    "SELECT key, value FROM meta WHERE key LIKE 'rotated:%' FOR UPDATE",
                    &[],
                )
                .await?;
            for row in &rotated_rows {
                let (meta_key, sealed): (String, Vec<u8>) = (row.try_get(0)?, row.try_get(1)?);
                let resealed = rotated::reseal(&old, &new_key, &meta_key, &sealed)?;
                tx.execute(
                    "UPDATE meta SET value = $2 WHERE key = $1",
                    &[&meta_key, &resealed],
                )
                .await?;
            }
            let check = new_key.seal(KEY_CHECK_PLAIN, KEY_CHECK_AAD)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&check],
            )
            .await?;
            tx.commit().await?;
            Ok(rows.len() + rotated_rows.len())
        })?;
        self.key = Some(new.clone());
        tracing::info!(secrets = count, "store re-encrypted under a new key");
        Ok(count)
    }

    pub(crate) fn save_rotated_secret(
        &mut self,
        account: &str,
        slot: &str,
        origin: &Secret,
        current: &Secret,
    ) -> Result<()> {
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let sealed = rotated::seal(&key, account, slot, origin, current)?;
        let meta_key = rotated::meta_key(account, slot);
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&meta_key, &sealed],
                )
                .await?;
            Ok(())
        })
    }

    pub(crate) fn load_rotated_secret(
        &self,
        account: &str,
        slot: &str,
        origin: &Secret,
    ) -> Result<Option<Secret>> {
        let meta_key = rotated::meta_key(account, slot);
        let pool = self.pool.clone();
        let sealed: Option<Vec<u8>> = self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&meta_key])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?)
        })?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
        rotated::open(key, account, slot, origin, &sealed)
    }
}
