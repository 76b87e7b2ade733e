//! Accounts: a JSON configuration plus named secrets, all sealed under the store's key.
//!
//! The settings are sealed too (AES-256-GCM, stored as [`SEALED_PREFIX`] + base64 in the
//! `config` column), with associated data binding them to the account's name and to the
//! sealed bytes of each of its secrets ([`config_aad`]). Someone who can write the store file
//! but has no key can therefore neither change an account's host, security,
//! `password_command` or token URLs, nor move settings or secrets between accounts: the row
//! is refused with [`Error::AccountTampered`]. Settings saved in plain text by earlier
//! versions are refused the same way (they cannot be told apart from forged ones); such an
//! account is removed and added again.

use std::collections::BTreeMap;

use base64::Engine as _;
use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::Secret;
use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN, config_aad, secret_aad};
use crate::error::{Error, Result};
use crate::store::{Store, now, set_key_check};

/// A stored account with its secrets decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    /// The account's unique name.
    pub name: String,
    /// The configuration as saved (JSON text; its shape belongs to the caller).
    pub config_json: String,
    /// The secrets by name (for example `password`, `client_secret`, `refresh_token`).
    pub secrets: BTreeMap<String, Secret>,
}

impl Store {
    /// Saves an account, replacing any account of the same name: its configuration and the
    /// whole set of its secrets. `config_json` must be valid JSON. Needs the key: the
    /// settings are sealed with the secrets, so that no one without the key can alter them.
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
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let mut sealed: Vec<(&str, Vec<u8>)> = Vec::with_capacity(secrets.len());
        for (secret_name, secret) in secrets {
            let value = key.seal(secret.expose().as_bytes(), &secret_aad(name, secret_name))?;
            sealed.push((secret_name, value));
        }
        // The order `load_account` reads them in (SQLite's BINARY collation is byte order).
        sealed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let config = seal_config(&key, name, config_json, &sealed)?;
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
                .query_row(params![name, config, now], |row| row.get(0))?;
            tx.prepare_cached("DELETE FROM account_secrets WHERE account_id = ?1")?
                .execute([id])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO account_secrets (account_id, name, sealed) VALUES (?1, ?2, ?3)",
            )?;
            for (secret_name, value) in &sealed {
                insert.execute(params![id, secret_name, value])?;
            }
            Ok(())
        })
    }

    /// Loads an account, checks that its settings were sealed under the store's key together
    /// with exactly the secrets stored beside them, and decrypts its secrets; `None` if there
    /// is no such account.
    ///
    /// # Errors
    /// [`Error::NoKey`] without a key; [`Error::AccountTampered`] when the settings do not
    /// open (altered, moved from another account, a secret row added, removed or swapped, or
    /// saved in plain text by an older version); [`Error::SecretCorrupt`] when a secret does
    /// not decrypt.
    pub fn load_account(&self, name: &str) -> Result<Option<StoredAccount>> {
        self.read(|conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("SELECT id, config FROM accounts WHERE name = ?1")?
                .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let Some((id, stored_config)) = row else {
                return Ok(None);
            };
            let sealed: Vec<(String, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT name, sealed FROM account_secrets WHERE account_id = ?1 ORDER BY name",
                )?
                .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
            open_account(key, name, &stored_config, sealed).map(Some)
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
            crate::signin::remove_mark(tx, name)?;
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
             FROM account_secrets s JOIN accounts a ON a.id = s.account_id
             ORDER BY s.account_id, s.name",
        )?
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // Each account's secrets, old and new sealed bytes, in name order.
    type Resealed = Vec<(String, Vec<u8>, Vec<u8>)>;
    let mut by_account: BTreeMap<i64, Resealed> = BTreeMap::new();
    let mut update =
        tx.prepare("UPDATE account_secrets SET sealed = ?3 WHERE account_id = ?1 AND name = ?2")?;
    for (account_id, account, secret, sealed) in &rows {
        let aad = secret_aad(account, secret);
        let plain = old.open(sealed, &aad).ok_or(Error::WrongKey)?;
        let resealed = new.seal(&plain, &aad)?;
        update.execute(params![account_id, secret, resealed])?;
        by_account
            .entry(*account_id)
            .or_default()
            .push((secret.clone(), sealed.clone(), resealed));
    }
    // The settings are bound to the sealed secrets: seal them again beside the new ones.
    let accounts: Vec<(i64, String, String)> = tx
        .prepare("SELECT id, name, config FROM accounts")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update_config = tx.prepare("UPDATE accounts SET config = ?2 WHERE id = ?1")?;
    for (id, name, stored) in &accounts {
        let secrets = by_account.get(id).map_or(&[][..], Vec::as_slice);
        let old_sealed: Vec<(String, Vec<u8>)> = secrets
            .iter()
            .map(|(n, o, _)| (n.clone(), o.clone()))
            .collect();
        let Some(json) = open_config(old, name, stored, &old_sealed) else {
            // Not authenticated under the old key either: it stays refused.
            tracing::warn!(account = %name, "stored account settings failed to authenticate; left as they are");
            continue;
        };
        let new_sealed: Vec<(&str, Vec<u8>)> = secrets
            .iter()
            .map(|(n, _, r)| (n.as_str(), r.clone()))
            .collect();
        update_config.execute(params![id, seal_config(new, name, &json, &new_sealed)?])?;
    }
    let rotated = crate::rotated::rekey_rotated(tx, old, new)?;
    set_key_check(tx, new)?;
    Ok(rows.len() + rotated)
}

/// How sealed settings start in the `config` column (then base64 of nonce, ciphertext, tag).
pub(crate) const SEALED_PREFIX: &str = "inbound-sealed:v1:";

/// Seals an account's settings, bound to its name and its sealed secrets (in name order).
pub(crate) fn seal_config(
    key: &EncryptionKey,
    account: &str,
    config_json: &str,
    secrets: &[(&str, Vec<u8>)],
) -> Result<String> {
    let aad = config_aad(account, secrets.iter().map(|(n, v)| (*n, v.as_slice())));
    let sealed = key.seal(config_json.as_bytes(), &aad)?;
    Ok(format!(
        "{SEALED_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    ))
}

/// Opens settings written by [`seal_config`]; `None` when they are not sealed (plain text
/// from an older version, or forged), or do not open under `key` with these secrets.
/// A stored account as read back, with either backend: its sealed settings and each sealed
/// secret opened with `key` and checked against the account's name, or a typed error naming
/// what failed to authenticate.
pub(crate) fn open_account(
    key: &EncryptionKey,
    name: &str,
    stored_config: &str,
    sealed: Vec<(String, Vec<u8>)>,
) -> Result<StoredAccount> {
    let config_json = open_config(key, name, stored_config, &sealed).ok_or_else(|| {
        tracing::warn!(
            account = name,
            "stored account settings failed to authenticate"
        );
        Error::AccountTampered {
            account: name.to_owned(),
        }
    })?;
    let mut secrets = BTreeMap::new();
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
    Ok(StoredAccount {
        name: name.to_owned(),
        config_json,
        secrets,
    })
}

pub(crate) fn open_config(
    key: &EncryptionKey,
    account: &str,
    stored: &str,
    secrets: &[(String, Vec<u8>)],
) -> Option<String> {
    let encoded = stored.strip_prefix(SEALED_PREFIX)?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let aad = config_aad(
        account,
        secrets.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
    );
    String::from_utf8(key.open(&sealed, &aad)?).ok()
}
