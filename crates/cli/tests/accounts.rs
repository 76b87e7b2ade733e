//! `inbound accounts` and `inbound key` against the test server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::{Server, Workdir, field, json, new_key, stderr, stdout};
use inbound_test_server::server::ServerConfig;

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

#[test]
fn oauth_secrets_are_stored_encrypted_and_used_for_xoauth2() {
    let s = Server::start_with(ServerConfig::default().oauth_client("app-id", "app-secret"));
    let w = Workdir::new();
    let key = new_key();
    let authority = s.server.oauth_authority();
    let oauth = format!(
        "after_receive = \"move\"\nmove_to = \"Done\"\n\n[account.oauth]\nprovider = \"entra\"\n\
         tenant_id = \"contoso\"\nclient_id = \"app-id\"\nauthority = \"{authority}\"\n"
    );
    w.write_config(&s.account("m365", "imap", "alice", &oauth));
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];

    // Nothing stored yet: the account fails, naming the secret it looked for.
    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert!(
        v[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("no client_secret is stored for it; store it with `inbound accounts add m365 --secret client_secret`"),
        "{v}"
    );

    // A secret the account does not use, or settings for a configured account: refused.
    let out = w.run_with(
        &["accounts", "add", "m365", "--secret", "refresh_token"],
        &with_key,
        "x\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("uses no refresh_token; its secrets: client_secret"),
        "{}",
        stderr(&out)
    );
    let out = w.run_with(
        &["accounts", "add", "m365", "--port", "1"],
        &with_key,
        "x\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("change its settings there, not with --port"),
        "{}",
        stderr(&out)
    );

    // Given only the name, the configured entra account's client secret is stored.
    let out = w.run_with(&["accounts", "add", "m365"], &with_key, "app-secret\n");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("stored the client_secret of account \"m365\""),
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(w.store()).unwrap();
    assert!(!bytes.windows(10).any(|win| win == b"app-secret"));
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["secret"], "oauth entra: stored client_secret");
    assert_eq!(list[0]["source"], "file+store");

    let out = w.run_with(&["accounts", "test", "m365"], &with_key, "");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\nstderr: {}", stderr(&out));
    assert_eq!(field(&text, "login"), "alice (OAuth 2.0 bearer token)");
    assert!(field(&text, "mechanism").contains("XOAUTH2"), "{text}");

    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(v[0]["fetched"], 8);
    assert_eq!(v[0]["moved"], 8);
    assert_eq!(s.server.store().messages("alice", "Done").unwrap().len(), 8);

    // A stored-only OAuth account from options; a wrong secret fails at the token endpoint,
    // and giving the name again replaces just the secret.
    let port = s.server.pop3s_addr().port().to_string();
    let ca = s.server.ca_file().display().to_string();
    let add = [
        "accounts",
        "add",
        "app",
        "--protocol",
        "pop3",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        "bob",
        "--ca-file",
        &ca,
        "--oauth",
        "entra",
        "--tenant-id",
        "contoso",
        "--client-id",
        "app-id",
        "--authority",
        &authority,
    ];
    let out = w.run_with(&add, &with_key, "not-the-secret\n");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = w.run_with(&["accounts", "test", "app"], &with_key, "");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        field(&stdout(&out), "result").starts_with("FAILED: login:"),
        "{}",
        stdout(&out)
    );
    let out = w.run_with(&add, &with_key, "app-secret\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pass --replace"), "{}", stderr(&out));
    let out = w.run_with(
        &["accounts", "add", "app", "--secret", "client_secret"],
        &with_key,
        "app-secret\n",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("updated the client_secret of stored account \"app\""),
        "{}",
        stderr(&out)
    );
    let out = w.run_with(&["fetch", "--json", "--account", "app"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 8);
    assert_eq!(json(&out)[0]["account"], "app");
}

#[test]
fn add_explains_missing_settings_and_empty_input() {
    let w = Workdir::new();
    let key = new_key();
    let out = w.run_with(
        &["accounts", "add", "new", "--host", "h"],
        &[("INBOUND_ENCRYPTION_KEY", &key)],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("account \"new\" is invalid:"), "{err}");
    assert!(err.contains("--protocol: "), "{err}");
    assert!(err.contains("--username: "), "{err}");
    assert!(!w.store().exists(), "nothing is created on a usage error");

    let out = w.run_with(
        &[
            "accounts",
            "add",
            "new",
            "--protocol",
            "imap",
            "--host",
            "h",
            "--username",
            "u",
        ],
        &[("INBOUND_ENCRYPTION_KEY", &key)],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("standard input ended before the password"),
        "{}",
        stderr(&out)
    );

    let out = w.run(&["accounts", "add", "new", "--protocol", "imap4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("possible values: imap, pop3"),
        "{}",
        stderr(&out)
    );
}
