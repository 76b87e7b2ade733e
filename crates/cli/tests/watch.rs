//! `inbound watch --exec` against the test server, stopped with SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, Workdir, stderr};

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_runs_the_command_per_new_message_and_stops_cleanly_on_sigterm() {
    let s = Server::start();
    let w = Workdir::new();
    let watched = s.account(
        "work",
        "imap",
        "alice",
        "password = \"pw-alice\"\nsubscribe = true\nafter_receive = \"move\"\nmove_to = \"Seen\"\n",
    );
    let other = s.account("other", "imap", "bob", "password = \"pw-bob\"\n");
    w.write_config(&format!("{watched}\n{other}"));
    let out_dir = w.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let exec = format!(
        "cat > {dir}/$INBOUND_ID.eml && printf '%s|%s|%s|%s|%s\\n' \"$INBOUND_ACCOUNT\" \"$INBOUND_FOLDER\" \"$INBOUND_MESSAGE_ID\" \"$INBOUND_SUBJECT\" \"$INBOUND_FROM\" > {dir}/$INBOUND_ID.env",
        dir = out_dir.display()
    );
    let mut child = w
        .cmd()
        .args(["watch", "--exec", &exec])
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
    assert_eq!(line, "work: watching for new mail");

    // The 8 sample messages were caught up on subscribing; now deliver one more.
    let raw = "From: Carol <carol@example.test>\r\nSubject: Fresh news\r\nMessage-ID: <fresh-1@example.test>\r\n\r\nHello\r\n";
    s.server
        .store()
        .deliver("alice", "INBOX", raw.as_bytes().to_vec())
        .unwrap();
    let count = || {
        std::fs::read_dir(&out_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "env")
            })
            .count()
    };
    wait_until("nine --exec runs", || count() == 9);
    let mut envs: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "env"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    envs.sort();
    assert!(
        envs.iter()
            .any(|e| e.trim()
                == "work|INBOX|fresh-1@example.test|Fresh news|Carol <carol@example.test>"),
        "{envs:#?}"
    );
    let fresh = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .find(|p| std::fs::read(p).unwrap() == raw.as_bytes());
    assert!(
        fresh.is_some(),
        "the raw message is on the command's standard input"
    );
    // Stored and moved on the server like a fetch.
    wait_until("the move", || {
        s.server.store().messages("alice", "Seen").unwrap().len() == 9
    });

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
    assert!(err.contains("stopping: closing subscriptions"), "{err}");
    assert!(err.contains("work: stopped"), "{err}");
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert_eq!(stdout.lines().count(), 9, "{stdout}");
    assert!(stdout.contains("Fresh news"), "{stdout}");
}

#[test]
fn watch_needs_a_subscribed_account() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"x\"\n"));
    let out = w.run(&["watch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no account has subscribe = true"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["watch", "--account", "work"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not have subscribe = true"),
        "{}",
        stderr(&out)
    );
}
