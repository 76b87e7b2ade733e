//! Local files and terminals: configuration files and stores are used only when they are the
//! user's, files Inbound writes are private, stored account settings are authenticated, and
//! text from servers and messages cannot drive the terminal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::{Server, Workdir, new_key, stderr, stdout};
use inbound_message::Email;
use inbound_store::{NewMessage, ServerRef, Store};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const ACCOUNT: &str = "[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"imap.example.test\"\nusername = \"u\"\npassword_env = \"PW\"\n";

#[test]
fn a_config_file_others_can_write_is_refused() {
    let w = Workdir::new();
    w.write_config(ACCOUNT);
    let file = w.config().display().to_string();
    for (mode, who) in [(0o664, "its group"), (0o646, "all other users")] {
        chmod(&w.config(), mode);
        for args in [
            &["check-config"][..],
            &["fetch"][..],
            &["accounts", "list"][..],
        ] {
            let out = w.run(args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} {mode:o}: {err}");
            assert!(err.contains(&file), "{err}");
            assert!(err.contains(who), "{err}");
            assert!(err.contains(&format!("chmod go-w {file}")), "{err}");
        }
    }
    chmod(&w.config(), 0o644);
    let out = w.run(&["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_config_file_of_another_user_is_refused() {
    if rustix_uid() != 0 {
        eprintln!("skipped: only root can give a file to another user");
        return;
    }
    let w = Workdir::new();
    w.write_config(ACCOUNT);
    std::os::unix::fs::chown(w.config(), Some(4242), Some(4242)).unwrap();
    let out = w.run(&["check-config"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&w.config().display().to_string()), "{err}");
    assert!(err.contains("owned by another user (uid 4242"), "{err}");
    assert!(err.contains("chown"), "{err}");

    // The same for a store.
    let w = Workdir::new();
    w.write_config(ACCOUNT);
    drop(Store::open(w.store(), None).unwrap());
    std::os::unix::fs::chown(w.store(), Some(4242), Some(4242)).unwrap();
    let out = w.run(&["messages", "list"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&w.store().display().to_string()), "{err}");
    assert!(err.contains("owned by another user"), "{err}");
}

/// The effective uid, from a file this process creates.
fn rustix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    std::fs::metadata(&probe).unwrap().uid()
}

#[test]
fn a_store_others_can_write_is_refused_and_one_they_can_read_warned_about() {
    let w = Workdir::new();
    w.write_config(ACCOUNT);
    drop(Store::open(w.store(), None).unwrap());
    let file = w.store().display().to_string();

    chmod(&w.store(), 0o666);
    let out = w.run(&["messages", "list"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("store {file} can be written by")),
        "{err}"
    );
    assert!(err.contains(&format!("chmod go-w {file}")), "{err}");

    chmod(&w.store(), 0o644);
    let out = w.run(&["messages", "list"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("warning: store {file} can be read by other users")),
        "{err}"
    );
    assert!(err.contains(&format!("chmod 600 {file}")), "{err}");

    chmod(&w.store(), 0o600);
    let out = w.run(&["messages", "list"]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn verbose_output_names_the_configuration_file_loaded() {
    let w = Workdir::new();
    w.write_config(ACCOUNT);
    let out = w.run(&["-v", "accounts", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "using the configuration file {}",
            w.config().display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_config_warns_about_inline_secrets_others_can_read_and_plain_connections() {
    let w = Workdir::new();
    w.write_config(
        "[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"imap.example.test\"\n\
         username = \"u\"\npassword = \"hunter2\"\nsecurity = \"plain\"\n",
    );
    chmod(&w.config(), 0o644);
    let out = w.run(&["check-config"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let file = w.config().display().to_string();
    assert!(
        err.contains(&format!(
            "warning: account \"a\": password is written in {file}, which other users can read (mode 0644)"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("chmod 600 {file}")), "{err}");
    assert!(
        err.contains("warning: account \"a\": security = \"plain\""),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    chmod(&w.config(), 0o600);
    let err = stderr(&w.run(&["check-config"]));
    assert!(!err.contains("other users can read"), "{err}");
    assert!(err.contains("security = \"plain\""), "{err}");
}

#[test]
fn the_store_and_exports_are_private() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"pw-alice\"\n"));
    chmod(&w.config(), 0o600);
    let out = w.run(&["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&w.store()), 0o600);

    let eml = w.path().join("out/eml");
    let out = w.run(&["messages", "export", "--output", eml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&w.path().join("out")), 0o700);
    assert_eq!(mode(&eml), 0o700);
    let files: Vec<_> = std::fs::read_dir(&eml)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 8);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    let maildir = w.path().join("maildir");
    let out = w.run(&[
        "messages",
        "export",
        "--format",
        "maildir",
        "--output",
        maildir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for sub in ["", "cur", "new", "tmp"] {
        assert_eq!(mode(&maildir.join(sub)), 0o700, "{sub}");
    }
    for f in std::fs::read_dir(maildir.join("new")).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[test]
fn a_stored_account_whose_host_was_changed_is_refused() {
    let w = Workdir::new();
    w.write_config("");
    let key = new_key();
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let add = [
        "accounts",
        "add",
        "stored",
        "--protocol",
        "imap",
        "--host",
        "imap.example.test",
        "--username",
        "alice",
    ];
    let out = w.run_with(&add, &with_key, "the-password\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run_with(&["accounts", "list", "--json"], &with_key, "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("imap.example.test"));

    // Someone who can write the store, but has no key, points it at their own host.
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let changed = conn
        .execute(
            r#"UPDATE accounts SET config = '{"name":"stored","protocol":"imap","host":"attacker.example","username":"alice"}' WHERE name = 'stored'"#,
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    for args in [&["accounts", "list"][..], &["fetch"][..]] {
        let out = w.run_with(args, &with_key, "");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("\"stored\""), "{err}");
        assert!(err.contains("not authenticated"), "{err}");
        assert!(
            !stdout(&out).contains("attacker.example"),
            "{}",
            stdout(&out)
        );
    }

    // Removing and adding it again is the way back.
    let out = w.run_with(&["accounts", "remove", "stored"], &with_key, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run_with(&add, &with_key, "the-password\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run_with(&["accounts", "list"], &with_key, "");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn accounts_add_needs_the_key_even_without_a_stored_secret() {
    let w = Workdir::new();
    w.write_config("");
    let add = [
        "accounts",
        "add",
        "envpw",
        "--protocol",
        "imap",
        "--host",
        "imap.example.test",
        "--username",
        "alice",
        "--password-env",
        "ALICE_PW",
    ];
    let out = w.run(&add);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("INBOUND_ENCRYPTION_KEY is not set"),
        "{}",
        stderr(&out)
    );
    let key = new_key();
    let out = w.run_with(&add, &[("INBOUND_ENCRYPTION_KEY", key.as_str())], "");
    assert!(out.status.success(), "{}", stderr(&out));
}

const HOSTILE: &[u8] = b"From: \xe2\x80\xaeevil <e@example.test>\r\n\
Subject: Invoice \x1b]0;pwned\x07 \xe2\x80\xaefdp.exe\r\n\
Message-ID: <hostile@example.test>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
line one\r\n\x1b[2J\x1b[31mcleared\r\nover\rwritten \xc2\x9b31m \xe2\x81\xa6isolate\r\n";

#[test]
fn control_and_bidi_characters_from_messages_are_escaped_when_printed() {
    let w = Workdir::new();
    w.write_config("");
    let mut store = Store::open(w.store(), None).unwrap();
    let email = Email::parse(HOSTILE);
    let r = ServerRef::Imap {
        uidvalidity: 1,
        uid: 1,
    };
    let id = store
        .insert_message(&NewMessage::new("a", "INBOX", &r, &email))
        .unwrap()
        .id;
    drop(store);
    let id = id.0.to_string();
    for args in [&["messages", "show", &id][..], &["messages", "list"][..]] {
        let out = w.run(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}', '\u{2066}', '\r'] {
            assert!(!text.contains(bad), "{args:?} printed {bad:?}: {text:?}");
        }
        assert!(text.contains("\\u{202e}"), "{text}");
        assert!(text.contains("Invoice \\u{1b}]0;pwned\\u{7}"), "{text}");
    }
    let shown = stdout(&w.run(&["messages", "show", &id]));
    // The body keeps its lines; its controls are visible escapes.
    assert!(
        shown.contains("line one\n\\u{1b}[2J\\u{1b}[31mcleared\nover\\u{d}written"),
        "{shown}"
    );
    // JSON keeps the text exactly (serde escapes it).
    let json = stdout(&w.run(&["messages", "show", &id, "--json"]));
    assert!(json.contains("\\u001b"), "{json}");
}
