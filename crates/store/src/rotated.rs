//! Secrets a service replaced after the account was configured: an OAuth refresh token the
//! token endpoint rotated. The endpoint refuses the old token from then on, so the new one
//! must outlive the process, whether the account's token came from the configuration, the
//! environment, a command or the store.
//!
//! Each is kept in the `meta` table under `rotated:<account length>:<account>:<slot>`, sealed
//! with the store's key (AES-256-GCM; the associated data binds it to the account and the
//! slot, length-prefixed), together with the SHA-256 of the *origin*: the configured secret it
//! replaces. It is handed back only while the account is configured with that same origin, so
//! configuring a new token (say, after `accounts add` again) is never shadowed by a saved one.

use rusqlite::{OptionalExtension as _, Transaction, params};
use sha2::{Digest as _, Sha256};

use crate::Secret;
use crate::crypto::EncryptionKey;
use crate::error::{Error, Result};
use crate::store::Store;

const DIGEST_LEN: usize = 32;

/// The `meta` key of one rotated secret.
pub(crate) fn meta_key(account: &str, slot: &str) -> String {
    format!("rotated:{}:{account}:{slot}", account.len())
}

/// The associated data: a label, then the account and the slot, each length-prefixed.
fn aad(account: &str, slot: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + account.len() + slot.len());
    aad.extend_from_slice(b"inbound:rotated\0");
    for part in [account, slot] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn digest(origin: &Secret) -> [u8; DIGEST_LEN] {
    Sha256::digest(origin.expose().as_bytes()).into()
}

impl Store {
    /// Saves `current`, the secret a service issued in place of `origin` (the secret the
    /// account is configured with), for the account's `slot` (e.g. `oauth.refresh_token`),
    /// replacing an earlier one. Needs the key.
    ///
    /// # Errors
    /// [`Error::NoKey`] without a key; database errors.
    pub fn save_rotated_secret(
        &mut self,
        account: &str,
        slot: &str,
        origin: &Secret,
        current: &Secret,
    ) -> Result<()> {
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let sealed = seal(&key, account, slot, origin, current)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![meta_key(account, slot), sealed],
            )?;
            Ok(())
        })
    }

    /// The secret saved by [`Store::save_rotated_secret`] for the account's `slot`, if it
    /// replaced this `origin`; `None` when nothing was saved or the account is now configured
    /// with another secret.
    ///
    /// # Errors
    /// [`Error::NoKey`] when one is saved but there is no key; [`Error::SecretCorrupt`] when
    /// it does not decrypt (the row was altered); database errors.
    pub fn load_rotated_secret(
        &self,
        account: &str,
        slot: &str,
        origin: &Secret,
    ) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [meta_key(account, slot)],
                    |row| row.get(0),
                )
                .optional()?)
        })?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
        open(key, account, slot, origin, &sealed)
    }
}

/// Seals `current` with the digest of `origin` for the account's `slot` (the `meta` value).
pub(crate) fn seal(
    key: &EncryptionKey,
    account: &str,
    slot: &str,
    origin: &Secret,
    current: &Secret,
) -> Result<Vec<u8>> {
    let mut plain = Vec::with_capacity(DIGEST_LEN + current.expose().len());
    plain.extend_from_slice(&digest(origin));
    plain.extend_from_slice(current.expose().as_bytes());
    key.seal(&plain, &aad(account, slot))
}

/// Opens a value written by [`seal`]: the secret if it replaced this `origin`, else `None`.
pub(crate) fn open(
    key: &EncryptionKey,
    account: &str,
    slot: &str,
    origin: &Secret,
    sealed: &[u8],
) -> Result<Option<Secret>> {
    let corrupt = || Error::SecretCorrupt {
        account: account.to_owned(),
        secret: slot.to_owned(),
    };
    let plain = key.open(sealed, &aad(account, slot)).ok_or_else(corrupt)?;
    if plain.len() < DIGEST_LEN {
        return Err(corrupt());
    }
    let (saved_origin, current) = plain.split_at(DIGEST_LEN);
    if saved_origin != digest(origin) {
        return Ok(None);
    }
    let current = String::from_utf8(current.to_vec()).map_err(|_| corrupt())?;
    Ok(Some(Secret::new(current)))
}

/// Re-encrypts every rotated secret from `old` to `new` (part of [`Store::rekey`]); returns
/// how many there were.
pub(crate) fn rekey_rotated(
    tx: &Transaction<'_>,
    old: &EncryptionKey,
    new: &EncryptionKey,
) -> Result<usize> {
    let rows: Vec<(String, Vec<u8>)> = tx
        .prepare("SELECT key, value FROM meta WHERE key LIKE 'rotated:%'")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE meta SET value = ?2 WHERE key = ?1")?;
    for (key, sealed) in &rows {
        update.execute(params![key, reseal(old, new, key, sealed)?])?;
    }
    Ok(rows.len())
}

/// The rotated secret stored under `meta_key`, sealed under `old`, sealed again under `new`
/// ([`Error::WrongKey`] when it does not open under `old`).
pub(crate) fn reseal(
    old: &EncryptionKey,
    new: &EncryptionKey,
    meta_key: &str,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let (account, slot) = parse_meta_key(meta_key).ok_or(Error::WrongKey)?;
    let aad = aad(account, slot);
    let plain = old.open(sealed, &aad).ok_or(Error::WrongKey)?;
    new.seal(&plain, &aad)
}

/// `rotated:<len>:<account>:<slot>` back into account and slot.
fn parse_meta_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("rotated:")?;
    let (len, rest) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let account = rest.get(..len)?;
    let slot = rest.get(len..)?.strip_prefix(':')?;
    Some((account, slot))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::open_in_memory(Some(EncryptionKey::generate().unwrap())).unwrap()
    }

    #[test]
    fn a_rotated_secret_is_returned_for_its_origin_only() {
        let mut s = store();
        let origin = Secret::new("configured");
        assert_eq!(s.load_rotated_secret("a:b", "slot", &origin).unwrap(), None);
        s.save_rotated_secret("a:b", "slot", &origin, &Secret::new("second"))
            .unwrap();
        s.save_rotated_secret("a:b", "slot", &origin, &Secret::new("third"))
            .unwrap();
        let got = s.load_rotated_secret("a:b", "slot", &origin).unwrap();
        assert_eq!(got.unwrap().expose(), "third");
        // A newly configured secret is not shadowed; other accounts see nothing.
        let other = Secret::new("configured again");
        assert_eq!(s.load_rotated_secret("a:b", "slot", &other).unwrap(), None);
        assert_eq!(s.load_rotated_secret("a", "b:slot", &origin).unwrap(), None);
    }

    #[test]
    fn rotated_secrets_follow_a_rekey_and_refuse_tampering() {
        let old = EncryptionKey::generate().unwrap();
        let new = EncryptionKey::generate().unwrap();
        let mut s = Store::open_in_memory(Some(old.clone())).unwrap();
        let origin = Secret::new("configured");
        s.save_rotated_secret("acc", "slot", &origin, &Secret::new("rotated"))
            .unwrap();
        s.rekey(&old, &new).unwrap();
        let got = s.load_rotated_secret("acc", "slot", &origin).unwrap();
        assert_eq!(got.unwrap().expose(), "rotated");
        // A value moved to another account's row does not open there.
        let sealed: Vec<u8> = s
            .read(|c| {
                Ok(c.query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [meta_key("acc", "slot")],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        s.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![meta_key("evil", "slot"), sealed],
            )?;
            Ok(())
        })
        .unwrap();
        assert!(matches!(
            s.load_rotated_secret("evil", "slot", &origin),
            Err(Error::SecretCorrupt { .. })
        ));
        assert_eq!(parse_meta_key("rotated:3:a:b:slot"), Some(("a:b", "slot")));
        assert_eq!(parse_meta_key("rotated:9:a:slot"), None);
    }
}
