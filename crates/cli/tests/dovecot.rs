//! The CLI against a real Dovecot: `fetch` over IMAPS (move to Archive) and POP3S (delete),
//! `messages list` and `export`, `accounts add` then `accounts test`, and `watch --exec`
//! seeing a `doveadm save` delivery.
//!
//! Skipped with a printed reason when Dovecot is not installed; failing instead when
//! `INBOUND_REQUIRE_DOVECOT=1`. The tests share one Dovecot (separate users).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::{Duration, Instant};

use common::{Workdir, field, json, new_key, stderr, stdout};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};

const USERS: [(&str, &str); 4] = [
    ("alice", "pw-alice"),
    ("bob", "pw-bob"),
    ("carol", "pw-carol"),
    ("dave", "pw-dave"),
];

/// The Dovecot the tests of this file share; stopped when the last test using it ends.
/// `None` when Dovecot is not installed (the test is skipped).
fn dovecot(test: &str) -> Option<Arc<Dovecot>> {
    if !Dovecot::skip_unless_available(test).unwrap() {
        return None;
    }
    static SHARED: Mutex<Weak<Dovecot>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = shared.upgrade() {
        return Some(d);
    }
    let config = USERS
        .iter()
        .fold(DovecotConfig::default(), |c, (u, p)| c.with_user(u, p));
    let d = Arc::new(Dovecot::start(config).unwrap());
    *shared = Arc::downgrade(&d);
    Some(d)
}

/// An `[[account]]` table for `user` on Dovecot over implicit TLS.
fn account(d: &Dovecot, name: &str, protocol: &str, user: &str, extra: &str) -> String {
    let port = match protocol {
        "imap" => d.ports().imaps,
        _ => d.ports().pop3s,
    };
    let password = USERS.iter().find(|(u, _)| *u == user).unwrap().1;
    format!(
        "[[account]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\nhost = \"127.0.0.1\"\n\
         port = {port}\nsecurity = \"tls\"\nusername = \"{user}\"\npassword = \"{password}\"\n\
         ca_file = {ca:?}\ntimeout_secs = 10\n{extra}\n",
        ca = d.ca_file().display().to_string(),
    )
}

/// A distinct message with CRLF line endings, as a server hands it out.
fn message(user: &str, i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.test>\r\nTo: {user}@example.test\r\n\
         Subject: {user} message {i}\r\nMessage-ID: <{user}-{i}@example.test>\r\n\
         Date: Mon, 3 Mar 2025 10:0{i}:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBody {i} for {user}.\r\nSecond line.\r\n"
    )
    .into_bytes()
}

/// `doveadm mailbox status messages` of one folder.
fn count(d: &Dovecot, user: &str, folder: &str) -> usize {
    let out = d
        .doveadm(&["mailbox", "status", "-u", user, "messages", folder], None)
        .unwrap();
    out.split_whitespace()
        .find_map(|t| t.strip_prefix("messages="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("doveadm printed {out:?}"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn fetch_list_export_and_accounts_against_dovecot() {
    let Some(d) = dovecot("fetch_list_export_and_accounts_against_dovecot") else {
        return;
    };
    let alice: Vec<Vec<u8>> = (1..=5).map(|i| message("alice", i)).collect();
    let bob: Vec<Vec<u8>> = (1..=3).map(|i| message("bob", i)).collect();
    assert_eq!(d.write_maildir("alice", "INBOX", &alice).unwrap(), 5);
    assert_eq!(d.write_maildir("bob", "INBOX", &bob).unwrap(), 3);
    d.create_folder("alice", "Archive").unwrap();
    d.save("carol", "INBOX", &message("carol", 1)).unwrap();

    let w = Workdir::new();
    let imaps = account(
        &d,
        "imaps",
        "imap",
        "alice",
        "after_receive = \"move\"\nmove_to = \"Archive\"\n",
    );
    let pop3s = account(&d, "pop3s", "pop3", "bob", "after_receive = \"delete\"\n");
    w.write_config(&format!("{imaps}\n{pop3s}"));

    // accounts test on the POP3S account before anything is taken.
    let out = w.run(&["accounts", "test", "pop3s"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\nstderr: {}", stderr(&out));
    assert_eq!(field(&text, "security"), "implicit TLS");
    assert!(field(&text, "capabilities").contains("UIDL"), "{text}");
    assert!(
        field(&text, "maildrop").starts_with("3 message(s)"),
        "{text}"
    );

    let out = w.run(&["fetch", "--json"]);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}\ndovecot log:\n{}",
        stdout(&out),
        stderr(&out),
        d.log()
    );
    let v = json(&out);
    assert_eq!(v[0]["account"], "imaps");
    assert_eq!(v[0]["fetched"], 5);
    assert_eq!(v[0]["moved"], 5);
    assert_eq!(v[0]["deleted"], 0);
    assert_eq!(v[0]["errors"], serde_json::json!([]));
    assert_eq!(v[1]["account"], "pop3s");
    assert_eq!(v[1]["fetched"], 3);
    assert_eq!(v[1]["deleted"], 3);
    assert_eq!(v[1]["moved"], 0);
    assert_eq!(count(&d, "alice", "INBOX"), 0);
    assert_eq!(count(&d, "alice", "Archive"), 5);
    assert_eq!(count(&d, "bob", "INBOX"), 0);

    // A second run finds nothing new.
    let v = json(&w.run(&["fetch", "--json"]));
    assert_eq!(v[0]["fetched"], 0);
    assert_eq!(v[1]["fetched"], 0);

    let out = w.run(&["messages", "list", "--json"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let list = json(&out);
    let subjects: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}: {}", m["account"], m["subject"].as_str().unwrap()))
        .collect();
    let expected: BTreeSet<String> = (1..=5)
        .map(|i| format!("\"imaps\": alice message {i}"))
        .chain((1..=3).map(|i| format!("\"pop3s\": bob message {i}")))
        .collect();
    assert_eq!(subjects, expected);

    // Exported bytes are exactly what was delivered.
    let out = w.run(&["messages", "export", "--format", "eml", "--output", "eml"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let exported: BTreeSet<Vec<u8>> = std::fs::read_dir(w.path().join("eml"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let seeded: BTreeSet<Vec<u8>> = alice.iter().chain(&bob).cloned().collect();
    assert_eq!(exported.len(), 8);
    assert!(
        exported == seeded,
        "exported messages differ from the seeded ones"
    );

    // accounts add (password on standard input, encrypted) then accounts test over STARTTLS.
    let key = new_key();
    let port = d.ports().imap.to_string();
    let ca = d.ca_file().display().to_string();
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let out = w.run_with(
        &[
            "accounts",
            "add",
            "added",
            "--protocol",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "starttls",
            "--username",
            "carol",
            "--ca-file",
            &ca,
        ],
        &with_key,
        "pw-carol\n",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = w.run_with(&["accounts", "test", "added"], &with_key, "");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\nstderr: {}", stderr(&out));
    assert_eq!(field(&text, "security"), "STARTTLS (required)");
    assert_eq!(field(&text, "tls"), "yes");
    assert!(field(&text, "mechanism").contains("PLAIN"), "{text}");
    assert!(field(&text, "capabilities").contains("IDLE"), "{text}");
    assert!(
        field(&text, "folder").starts_with("INBOX: 1 message(s)"),
        "{text}"
    );
    assert_eq!(field(&text, "result"), "ok");

    // A wrong stored password: the test fails at login, exit code 1.
    let out = w.run_with(
        &["accounts", "add", "added", "--secret", "password"],
        &with_key,
        "wrong\n",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = w.run_with(&["accounts", "test", "added"], &with_key, "");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        field(&stdout(&out), "result").starts_with("FAILED: login:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn watch_exec_sees_a_doveadm_delivery() {
    let Some(d) = dovecot("watch_exec_sees_a_doveadm_delivery") else {
        return;
    };
    let waiting = message("dave", 1);
    assert_eq!(d.write_maildir("dave", "INBOX", [&waiting]).unwrap(), 1);
    let w = Workdir::new();
    w.write_config(&account(&d, "dave", "imap", "dave", "subscribe = true\n"));
    let out_dir = w.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let exec = format!(
        "cat > {dir}/$INBOUND_ID.eml && printf '%s|%s|%s\\n' \"$INBOUND_ACCOUNT\" \"$INBOUND_FOLDER\" \"$INBOUND_SUBJECT\" > {dir}/$INBOUND_ID.env",
        dir = out_dir.display()
    );
    let mut child = w
        .cmd()
        .args(["watch", "--json", "--exec", &exec])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines() {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(line, "dave: watching for new mail");

    let files = |ext: &str| -> Vec<Vec<u8>> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, b)| b).collect()
    };
    // The message waiting before the subscription is caught up first.
    wait_until("the catch-up --exec run", || files("env").len() == 1);

    let fresh = message("dave", 2);
    d.save("dave", "INBOX", &fresh).unwrap();
    wait_until("the --exec run for the delivery", || {
        files("env").len() == 2
    });
    let envs: Vec<String> = files("env")
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert!(
        envs.iter().any(|e| e.trim() == "dave|INBOX|dave message 2"),
        "{envs:#?}"
    );
    let emls = files("eml");
    assert!(
        emls.contains(&fresh),
        "the raw delivery is on --exec's stdin"
    );
    assert!(emls.contains(&waiting));

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = reader.join().unwrap();
    assert!(exit.success(), "exit {exit:?}; stderr: {err}");
    assert!(err.contains("dave: stopped"), "{err}");
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let all: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // State lines carry a `state` key; arrival lines do not.
    let states: Vec<&str> = all.iter().filter_map(|l| l["state"].as_str()).collect();
    assert_eq!(states, ["subscribed", "unsubscribed"], "{out}");
    let lines: Vec<&serde_json::Value> = all.iter().filter(|l| l.get("state").is_none()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[1]["subject"], "dave message 2");
    assert_eq!(lines[1]["size"], fresh.len());
}
