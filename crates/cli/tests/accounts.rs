//! `inbound accounts` and `inbound key` against the test server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::{Server, Workdir, json, new_key, stderr, stdout};

/// The value of a `key: value` line of `accounts test`.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {key}: line in {text}"))
}

fn add_with_password(
    w: &Workdir,
    args: &[&str],
    key: Option<&str>,
    password: &str,
) -> std::process::Output {
    let mut cmd = w.cmd();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        cmd.env("INBOUND_ENCRYPTION_KEY", key);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn add_stores_the_password_encrypted_and_fetch_and_test_use_it() {
    let s = Server::start();
    let w = Workdir::new();
    let key = new_key();
    let port = s.server.imaps_addr().port().to_string();
    let ca = s.server.ca_file().display().to_string();
    let args = [
        "accounts",
        "add",
        "stored",
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        "alice",
        "--ca-file",
        &ca,
        "--after-receive",
        "delete",
    ];

    // Without the key: refused, saying why.
    let out = add_with_password(&w, &args, None, "pw-alice");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("INBOUND_ENCRYPTION_KEY is not set"),
        "{}",
        stderr(&out)
    );

    let out = add_with_password(&w, &args, Some(&key), "pw-alice");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    // The password is not in the file in the clear.
    let bytes = std::fs::read(w.store()).unwrap();
    assert!(!bytes.windows(8).any(|win| win == b"pw-alice"));

    let out = w
        .cmd()
        .args(["accounts", "list", "--json"])
        .output()
        .unwrap();
    // Listing needs the key too once secrets are stored.
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let out = w
        .cmd()
        .args(["accounts", "list", "--json"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let list = json(&out);
    assert_eq!(list[0]["name"], "stored");
    assert_eq!(list[0]["source"], "store");
    assert_eq!(list[0]["secret"], "password: stored password");

    // accounts test: connects, authenticates, prints security, mechanism, capabilities.
    let out = w
        .cmd()
        .args(["accounts", "test", "stored"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert_eq!(field(&text, "security"), "implicit TLS");
    assert_eq!(field(&text, "tls"), "yes");
    assert_eq!(field(&text, "mechanism"), "AUTHENTICATE PLAIN");
    assert!(field(&text, "capabilities").contains("IDLE"), "{text}");
    assert!(
        field(&text, "folder").starts_with("INBOX: 8 message(s)"),
        "{text}"
    );
    assert_eq!(field(&text, "result"), "ok");

    let out = w
        .cmd()
        .args(["fetch", "--json"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(v[0]["account"], "stored");
    assert_eq!(v[0]["fetched"], 8);
    assert_eq!(v[0]["deleted"], 8);

    // Rotating the key: the old one no longer opens the store, the new one does.
    let new = new_key();
    let out = w
        .cmd()
        .args(["key", "rotate", "--new-key-env", "NEW_KEY"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .env("NEW_KEY", &new)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("re-encrypted 1 secret(s)"),
        "{}",
        stderr(&out)
    );
    let out = w
        .cmd()
        .args(["accounts", "list"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("wrong encryption key"),
        "{}",
        stderr(&out)
    );
    let out = w
        .cmd()
        .args(["accounts", "test", "stored"])
        .env("INBOUND_ENCRYPTION_KEY", &new)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    let out = w
        .cmd()
        .args(["accounts", "remove", "stored"])
        .env("INBOUND_ENCRYPTION_KEY", &new)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = w.run(&["accounts", "remove", "stored"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn test_reports_a_wrong_password_and_pop3_details() {
    let s = Server::start();
    let w = Workdir::new();
    let bad = s.account("bad", "imap", "alice", "password = \"nope\"\n");
    let pop = s.account("pop", "pop3", "bob", "password_env = \"BOB_PW\"\n");
    w.write_config(&format!("{bad}\n{pop}"));
    let out = w.run(&["accounts", "test", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        field(&stdout(&out), "result").starts_with("FAILED: login:"),
        "{}",
        stdout(&out)
    );

    let out = w
        .cmd()
        .args(["accounts", "test", "pop"])
        .env("BOB_PW", "pw-bob")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(field(&text, "capabilities").contains("UIDL"), "{text}");
    assert!(
        field(&text, "maildrop").starts_with("8 message(s)"),
        "{text}"
    );
    assert!(!field(&text, "mechanism").is_empty(), "{text}");

    let out = w.run(&["accounts", "test", "pop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("environment variable BOB_PW is not set"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn key_generate_prints_a_usable_key() {
    let w = Workdir::new();
    let out = w.run(&["key", "generate"]);
    assert!(out.status.success());
    let key = stdout(&out).trim().to_owned();
    assert!(
        inbound_store::EncryptionKey::from_base64(&key).is_ok(),
        "{key}"
    );
    let again = stdout(&w.run(&["key", "generate"])).trim().to_owned();
    assert_ne!(key, again);
}
