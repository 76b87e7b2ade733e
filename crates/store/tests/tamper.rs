//! Stored account settings are sealed with the key: someone who can write the file but has no
//! key cannot redirect an account (its host, `password_command`, token URLs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use inbound_store::{EncryptionKey, Error, Secret, Store};

const ANN: &str = r#"{"host":"imap.example.com","password_command":"pass show mail"}"#;
const BOB: &str = r#"{"host":"pop.example.org"}"#;

fn saved(path: &Path, key: &EncryptionKey) {
    let mut store = Store::open(path, Some(key.clone())).unwrap();
    store
        .save_account("ann", ANN, &[("password", Secret::new("ann-pw"))])
        .unwrap();
    store
        .save_account("bob", BOB, &[("password", Secret::new("bob-pw"))])
        .unwrap();
}

fn sql(path: &Path, statement: &str) {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.execute_batch(statement).unwrap();
}

fn refused(path: &Path, key: &EncryptionKey, account: &str) -> Error {
    let store = Store::open(path, Some(key.clone())).unwrap();
    let err = store.load_account(account).unwrap_err();
    assert!(
        matches!(&err, Error::AccountTampered { account: a } if a == account),
        "{err:?}"
    );
    err
}

#[test]
fn a_host_written_into_the_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    saved(&path, &key);
    // Someone with write access but no key points ann at their own host.
    sql(
        &path,
        r#"UPDATE accounts SET config = '{"host":"attacker.example","password_command":"pass show mail"}'
           WHERE name = 'ann'"#,
    );
    let err = refused(&path, &key, "ann");
    let text = err.to_string();
    assert!(text.contains("\"ann\""), "{text}");
    assert!(text.contains("inbound accounts remove ann"), "{text}");
    assert!(!text.contains("ann-pw"), "{text}");
    // The other account is untouched and still loads.
    let store = Store::open(&path, Some(key)).unwrap();
    let bob = store.load_account("bob").unwrap().unwrap();
    assert_eq!(bob.config_json, BOB);
    assert_eq!(bob.secrets["password"].expose(), "bob-pw");
}

#[test]
fn settings_moved_from_another_account_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    saved(&path, &key);
    sql(
        &path,
        "UPDATE accounts SET config = (SELECT config FROM accounts WHERE name = 'bob')
         WHERE name = 'ann'",
    );
    refused(&path, &key, "ann");
}

#[test]
fn a_removed_or_added_secret_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    saved(&path, &key);
    sql(
        &path,
        "DELETE FROM account_secrets
         WHERE account_id = (SELECT id FROM accounts WHERE name = 'ann')",
    );
    refused(&path, &key, "ann");

    saved(&path, &key);
    // Bob's sealed password copied to ann under another name.
    sql(
        &path,
        "INSERT INTO account_secrets (account_id, name, sealed)
         SELECT (SELECT id FROM accounts WHERE name = 'ann'), 'client_secret', s.sealed
         FROM account_secrets s JOIN accounts a ON a.id = s.account_id WHERE a.name = 'bob'",
    );
    refused(&path, &key, "ann");
}

#[test]
fn settings_in_plain_text_are_refused() {
    // What an older version wrote, or a row inserted by hand: nothing proves who wrote it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    saved(&path, &key);
    sql(
        &path,
        r#"INSERT INTO accounts (name, config, created_at, updated_at)
           VALUES ('eve', '{"host":"attacker.example","password_command":"curl evil"}', 0, 0)"#,
    );
    refused(&path, &key, "eve");
    let store = Store::open(&path, Some(key)).unwrap();
    assert_eq!(store.list_accounts().unwrap(), ["ann", "bob", "eve"]);
}

#[test]
fn settings_survive_a_rekey_and_stay_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let old = EncryptionKey::generate().unwrap();
    let new = EncryptionKey::generate().unwrap();
    saved(&path, &old);
    let mut store = Store::open(&path, Some(old.clone())).unwrap();
    store.save_account("plain", "{}", &[]).unwrap();
    store.rekey(&old, &new).unwrap();
    drop(store);
    let store = Store::open(&path, Some(new.clone())).unwrap();
    assert_eq!(store.load_account("ann").unwrap().unwrap().config_json, ANN);
    assert_eq!(
        store.load_account("plain").unwrap().unwrap().config_json,
        "{}"
    );
    drop(store);
    sql(
        &path,
        "UPDATE accounts SET config = (SELECT config FROM accounts WHERE name = 'bob')
         WHERE name = 'ann'",
    );
    refused(&path, &new, "ann");
}
