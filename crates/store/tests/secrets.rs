//! Accounts, encrypted secrets, wrong keys and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use inbound_store::{EncryptionKey, Error, KEY_ENV, KeyError, Secret, Store};

const CONFIG: &str = r#"{"protocol":"imaps","host":"mail.example.com","user":"ann"}"#;

fn secrets() -> Vec<(&'static str, Secret)> {
    vec![
        ("password", Secret::new("correct horse battery staple")),
        ("refresh_token", Secret::new("1//0g-ünïcødé-token")),
        ("empty", Secret::new("")),
    ]
}

#[test]
fn secrets_roundtrip_and_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    let mut store = Store::open(&path, Some(key.clone())).unwrap();
    store.save_account("ann", CONFIG, &secrets()).unwrap();
    store.save_account("bob", "{}", &[]).unwrap();
    drop(store);
    let file_text = std::fs::read(&path).unwrap();
    assert!(
        !file_text.windows(16).any(|w| w == b"mail.example.com"),
        "settings are sealed, not stored in clear"
    );

    let file = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
    for haystack in [&file, &wal] {
        assert!(
            !haystack.windows(12).any(|w| w == b"correct hors"),
            "password found in clear"
        );
    }

    let store = Store::open(&path, Some(key)).unwrap();
    let account = store.load_account("ann").unwrap().unwrap();
    assert_eq!(account.name, "ann");
    assert_eq!(account.config_json, CONFIG);
    assert_eq!(account.secrets.len(), 3);
    for (name, secret) in secrets() {
        assert_eq!(account.secrets[name], secret);
    }
    let debug = format!("{account:?}");
    assert!(debug.contains("[redacted]"));
    assert!(!debug.contains("correct horse"), "{debug}");
    assert_eq!(store.list_accounts().unwrap(), vec!["ann", "bob"]);
    assert!(store.load_account("nobody").unwrap().is_none());
}

#[test]
fn saving_replaces_config_and_all_secrets() {
    let mut store = Store::open_in_memory(Some(EncryptionKey::generate().unwrap())).unwrap();
    store.save_account("ann", CONFIG, &secrets()).unwrap();
    store
        .save_account("ann", r#"{"v":2}"#, &[("password", Secret::new("new"))])
        .unwrap();
    let account = store.load_account("ann").unwrap().unwrap();
    assert_eq!(account.config_json, r#"{"v":2}"#);
    assert_eq!(account.secrets.len(), 1);
    assert_eq!(account.secrets["password"].expose(), "new");

    let err = store.save_account("ann", "{not json", &[]).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    assert_eq!(
        store.load_account("ann").unwrap().unwrap().config_json,
        r#"{"v":2}"#
    );

    assert!(store.remove_account("ann").unwrap());
    assert!(!store.remove_account("ann").unwrap());
    assert!(store.load_account("ann").unwrap().is_none());
    assert!(store.list_accounts().unwrap().is_empty());
}

#[test]
fn wrong_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    Store::open(&path, Some(key.clone()))
        .unwrap()
        .save_account("ann", CONFIG, &secrets())
        .unwrap();

    let wrong = EncryptionKey::generate().unwrap();
    let err = Store::open(&path, Some(wrong)).unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    assert!(err.to_string().contains("wrong encryption key"), "{err}");

    // Without a key, messages work but secrets are refused clearly.
    let mut store = Store::open(&path, None).unwrap();
    let err = store.load_account("ann").unwrap_err();
    assert!(matches!(err, Error::NoKey(_)), "{err:?}");
    assert!(err.to_string().contains("INBOUND_ENCRYPTION_KEY"), "{err}");
    let err = store.save_account("x", "{}", &secrets()).unwrap_err();
    assert!(matches!(err, Error::NoKey(_)), "{err:?}");
    // Accounts without secrets need the key too: their settings are sealed with it.
    let err = store.save_account("plain", "{}", &[]).unwrap_err();
    assert!(matches!(err, Error::NoKey(_)), "{err:?}");

    // The right key still works after all that.
    let store = Store::open(&path, Some(key)).unwrap();
    assert_eq!(store.load_account("ann").unwrap().unwrap().secrets.len(), 3);
}

#[test]
fn tampered_secret_is_reported_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let key = EncryptionKey::generate().unwrap();
    let mut store = Store::open(&path, Some(key.clone())).unwrap();
    store.save_account("ann", CONFIG, &secrets()).unwrap();
    store.save_account("bob", CONFIG, &secrets()).unwrap();
    drop(store);
    // Swap ann's password ciphertext for bob's: the associated data no longer matches.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "UPDATE account_secrets SET sealed = (
             SELECT s.sealed FROM account_secrets s JOIN accounts a ON a.id = s.account_id
             WHERE a.name = 'bob' AND s.name = 'password')
         WHERE name = 'password'
           AND account_id = (SELECT id FROM accounts WHERE name = 'ann')",
    )
    .unwrap();
    drop(raw);
    let store = Store::open(&path, Some(key)).unwrap();
    let err = store.load_account("ann").unwrap_err();
    // The settings are bound to the secret rows, so the swap is caught there first.
    assert!(
        matches!(&err, Error::AccountTampered { account } if account == "ann"),
        "{err:?}"
    );
    assert!(store.load_account("bob").is_ok());
}

#[test]
fn rekey_reencrypts_everything_and_old_key_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let old = EncryptionKey::generate().unwrap();
    let new = EncryptionKey::generate().unwrap();
    let mut store = Store::open(&path, Some(old.clone())).unwrap();
    store.save_account("ann", CONFIG, &secrets()).unwrap();
    store
        .save_account("bob", "{}", &[("password", Secret::new("b"))])
        .unwrap();
    let before: Vec<Vec<u8>> = sealed_values(&path);

    // A wrong "old" key changes nothing.
    let err = store.rekey(&new, &old).unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    assert_eq!(sealed_values(&path), before);

    assert_eq!(store.rekey(&old, &new).unwrap(), 4);
    // The open store now uses the new key.
    assert_eq!(
        store.load_account("bob").unwrap().unwrap().secrets["password"].expose(),
        "b"
    );
    let after = sealed_values(&path);
    assert_eq!(after.len(), before.len());
    assert!(after.iter().all(|v| !before.contains(v)));
    drop(store);

    assert!(matches!(
        Store::open(&path, Some(old.clone())),
        Err(Error::WrongKey)
    ));
    let store = Store::open(&path, Some(new.clone())).unwrap();
    let ann = store.load_account("ann").unwrap().unwrap();
    for (name, secret) in secrets() {
        assert_eq!(ann.secrets[name], secret);
    }
    drop(store);

    // A store opened without a key can be rekeyed too (the command-line path).
    let mut store = Store::open(&path, None).unwrap();
    let newer = EncryptionKey::generate().unwrap();
    assert!(matches!(store.rekey(&old, &newer), Err(Error::WrongKey)));
    assert_eq!(store.rekey(&new, &newer).unwrap(), 4);
    drop(store);
    let store = Store::open(&path, Some(newer)).unwrap();
    assert_eq!(store.load_account("ann").unwrap().unwrap().secrets.len(), 3);
}

fn sealed_values(path: &std::path::Path) -> Vec<Vec<u8>> {
    let raw = rusqlite::Connection::open(path).unwrap();
    let mut stmt = raw
        .prepare("SELECT sealed FROM account_secrets ORDER BY account_id, name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Runs the ignored test `name` of this binary in a child with `env` set.
fn run_child(name: &str, env: &[(&str, Option<&str>)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.output().unwrap()
}

#[test]
fn key_from_environment() {
    let key = EncryptionKey::generate().unwrap().to_base64();
    let cases: [(Option<&str>, &str); 4] = [
        (Some(&key), "ok"),
        (None, "missing"),
        (Some("%%%"), "not-base64"),
        (Some("AAAA"), "wrong-length-3"),
    ];
    for (value, expect) in cases {
        let out = run_child(
            "env_child",
            &[
                (KEY_ENV, value),
                ("INBOUND_TEST_EXPECT", Some(expect)),
                ("INBOUND_TEST_KEY", Some(&key)),
            ],
        );
        assert!(
            out.status.success(),
            "{expect}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
}

#[test]
#[ignore = "child process of key_from_environment"]
fn env_child() {
    let expect = std::env::var("INBOUND_TEST_EXPECT").unwrap();
    let result = EncryptionKey::from_env();
    match expect.as_str() {
        "ok" => {
            let want = EncryptionKey::from_base64(&std::env::var("INBOUND_TEST_KEY").unwrap());
            assert_eq!(result.unwrap(), want.unwrap());
        }
        "missing" => {
            let err = result.unwrap_err();
            assert_eq!(err, KeyError::Missing);
            assert!(err.to_string().contains(KEY_ENV));
        }
        "not-base64" => assert_eq!(result.unwrap_err(), KeyError::NotBase64),
        "wrong-length-3" => assert_eq!(result.unwrap_err(), KeyError::WrongLength(3)),
        other => panic!("unknown case {other}"),
    }
}
