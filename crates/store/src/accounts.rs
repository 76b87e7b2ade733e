//! Accounts: a JSON configuration plus named secrets encrypted under the store's key.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN, Secret, secret_aad};
use crate::error::{Error, Result};
use crate::store::{Store, now, set_key_check};

/// A stored account with its secrets decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's unique name.
    pub name: String,
    /// The configuration as saved (JSON text; its shape belongs to the caller).
    pub config_json: String,
    /// The secrets by name (for example `password`, `client_secret`, `refresh_token`).
    pub secrets: BTreeMap<String, Secret>,
}

impl Store {
    /// Saves an account, replacing any account of the same name: its configuration and the
    /// whole set of its secrets. `config_json` must be valid JSON. Secrets need the key.
    pub fn save_account(
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
        let key = match (&self.key, secrets.is_empty()) {
            (Some(key), _) => Some(key.clone()),
            (None, true) => None,
            (None, false) => return Err(Error::NoKey("saved")),
        };
        self.write(|tx| {
            let now = now();
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO accounts (name, config, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (name) DO UPDATE
                        SET config = excluded.config, updated_at = excluded.updated_at
                     RETURNING id",
                )?
                .query_row(params![name, config_json, now], |row| row.get(0))?;
            tx.prepare_cached("DELETE FROM account_secrets WHERE account_id = ?1")?
                .execute([id])?;
            if let Some(key) = &key {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO account_secrets (account_id, name, sealed) VALUES (?1, ?2, ?3)",
                )?;
                for (secret_name, secret) in secrets {
                    let sealed =
                        key.seal(secret.expose().as_bytes(), &secret_aad(name, secret_name))?;
                    insert.execute(params![id, secret_name, sealed])?;
                }
            }
            Ok(())
        })
    }

    /// Loads an account and decrypts its secrets; `None` if there is no such account.
    pub fn load_account(&self, name: &str) -> Result<Option<Account>> {
        self.read(|conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("SELECT id, config FROM accounts WHERE name = ?1")?
                .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let Some((id, config_json)) = row else {
                return Ok(None);
            };
            let sealed: Vec<(String, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT name, sealed FROM account_secrets WHERE account_id = ?1 ORDER BY name",
                )?
                .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut secrets = BTreeMap::new();
            if !sealed.is_empty() {
                let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
                for (secret_name, value) in sealed {
                    let plain = key
                        .open(&value, &secret_aad(name, &secret_name))
                        .and_then(|p| String::from_utf8(p).ok())
                        .ok_or_else(|| Error::SecretCorrupt {
                            account: name.to_owned(),
                            secret: secret_name.clone(),
                        })?;
                    secrets.insert(secret_name, Secret::new(plain));
                }
            }
            Ok(Some(Account {
                name: name.to_owned(),
                config_json,
                secrets,
            }))
        })
    }

    /// The names of all accounts, sorted.
    pub fn list_accounts(&self) -> Result<Vec<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name FROM accounts ORDER BY name")?;
            let names = stmt
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })
    }

    /// Removes an account: its configuration, secrets, sync state and pending actions. Its
    /// stored messages are kept. Returns false if there was no such account.
    pub fn remove_account(&mut self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let removed = tx.execute("DELETE FROM accounts WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM imap_folders WHERE account = ?1", [name])?;
            tx.execute("DELETE FROM pop3_uidls WHERE account = ?1", [name])?;
            tx.execute(
                "DELETE FROM pending_actions
                 WHERE message_id IN (SELECT id FROM messages WHERE account = ?1)",
                [name],
            )?;
            Ok(removed > 0)
        })
    }

    /// Re-encrypts every account secret from `old` to `new` in one transaction, and from then
    /// on uses `new`. Fails with [`Error::WrongKey`] (changing nothing) if `old` is not the key
    /// the secrets were written with. Returns how many secrets were re-encrypted.
    pub fn rekey(&mut self, old: &EncryptionKey, new: &EncryptionKey) -> Result<usize> {
        let count = self.write(|tx| rekey_in(tx, old, new))?;
        self.key = Some(new.clone());
        tracing::info!(secrets = count, "store re-encrypted under a new key");
        Ok(count)
    }
}

fn rekey_in(tx: &Transaction<'_>, old: &EncryptionKey, new: &EncryptionKey) -> Result<usize> {
    let check: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'key_check'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(sealed) = check {
        if old.open(&sealed, KEY_CHECK_AAD).as_deref() != Some(KEY_CHECK_PLAIN) {
            return Err(Error::WrongKey);
        }
    }
    let rows: Vec<(i64, String, String, Vec<u8>)> = tx
        .prepare(
            "SELECT s.account_id, a.name, s.name, s.sealed
             FROM account_secrets s JOIN accounts a ON a.id = s.account_id",
        )?
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        tx.prepare("UPDATE account_secrets SET sealed = ?3 WHERE account_id = ?1 AND name = ?2")?;
    for (account_id, account, secret, sealed) in &rows {
        let aad = secret_aad(account, secret);
        let plain = old.open(sealed, &aad).ok_or(Error::WrongKey)?;
        update.execute(params![account_id, secret, new.seal(&plain, &aad)?])?;
    }
    let rotated = crate::rotated::rekey_rotated(tx, old, new)?;
    set_key_check(tx, new)?;
    Ok(rows.len() + rotated)
}
