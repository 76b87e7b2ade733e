//! `inbound watch --exec`: what the hook gets in its environment, and that it cannot run
//! forever.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, Workdir, new_key};

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `inbound watch` with `args` and `env`; returns the child and its stderr lines.
fn watch(w: &Workdir, args: &[&str], env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    let mut child = w
        .cmd()
        .arg("watch")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    (child, rx)
}

fn stop(mut child: Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect()
}

#[test]
fn the_hook_gets_no_secrets_and_no_control_characters() {
    let s = Server::start();
    let w = Workdir::new();
    let watched = s.account(
        "work",
        "imap",
        "alice",
        "password_env = \"ALICE_PW\"\nsubscribe = true\nfetch = \"latest\"\ncount = 1\n",
    );
    let other = s.account(
        "other",
        "imap",
        "bob",
        "[account.oauth]\nprovider = \"entra\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"BOB_SECRET\"\n",
    );
    w.write_config(&format!("{watched}\n{other}"));
    let out_dir = w.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let exec = format!("env > {}/$INBOUND_ID.env", out_dir.display());
    let key = new_key();
    let (child, rx) = watch(
        &w,
        &["--account", "work", "--exec", &exec],
        &[
            ("ALICE_PW", "pw-alice"),
            ("BOB_SECRET", "bob-client-secret"),
            ("INBOUND_ENCRYPTION_KEY", key.as_str()),
            ("UNRELATED", "kept"),
        ],
    );
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(line, "work: watching for new mail");
    let raw = "From: Mallory <m@example.test>\r\nSubject: =?utf-8?q?Hi=0Aevil=3D1_=1B[31mred_=E2=80=AEtxt?=\r\nMessage-ID: <ctl@example.test>\r\n\r\nbody\r\n";
    s.server
        .store()
        .deliver("alice", "INBOX", raw.as_bytes().to_vec())
        .unwrap();
    let count = || files(&out_dir, "env").len();
    wait_until("the hook for the new message", || count() >= 2);
    std::thread::sleep(Duration::from_millis(300));
    stop(child);
    let envs: Vec<String> = files(&out_dir, "env")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let env = envs
        .iter()
        .find(|e| e.contains("INBOUND_MESSAGE_ID=ctl@example.test"))
        .unwrap_or_else(|| panic!("{envs:#?}"));
    for secret in ["pw-alice", "bob-client-secret", key.as_str()] {
        assert!(!env.contains(secret), "the hook saw a secret: {env}");
    }
    assert!(!env.contains("INBOUND_ENCRYPTION_KEY"), "{env}");
    assert!(env.contains("UNRELATED=kept"), "{env}");
    // The subject's newline, escape and bidi override are gone: one line, no `evil=1` line.
    let subject = env
        .lines()
        .find(|l| l.starts_with("INBOUND_SUBJECT="))
        .unwrap();
    assert_eq!(subject, "INBOUND_SUBJECT=Hievil=1 [31mred txt");
    assert!(!env.lines().any(|l| l.starts_with("evil=")), "{env}");
}

#[test]
fn a_hook_that_runs_too_long_is_killed_with_what_it_started() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account(
        "work",
        "imap",
        "alice",
        "password = \"pw-alice\"\nsubscribe = true\nfetch = \"latest\"\ncount = 2\n",
    ));
    let dir = w.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    // Starts a grandchild that would leave a mark later, then hangs.
    let exec = format!(
        "touch {d}/$INBOUND_ID.started; (sleep 3; touch {d}/$INBOUND_ID.late) & sleep 60",
        d = dir.display()
    );
    let (child, rx) = watch(&w, &["--exec", &exec, "--exec-timeout", "1"], &[]);
    // The two latest messages are caught up on subscribing. Both run: the first one's timeout freed the way for the second.
    wait_until("two hooks started", || files(&dir, "started").len() == 2);
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while killed < 2 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("--exec-timeout") && line.contains("killed it") {
                killed += 1;
            }
        }
    }
    assert_eq!(killed, 2, "two timeouts reported");
    // The grandchildren were killed with their group: no late marks.
    std::thread::sleep(Duration::from_secs(3));
    stop(child);
    assert!(
        files(&dir, "late").is_empty(),
        "a hook's child outlived the timeout"
    );
}
