//! `inbound watch --json` when the connection falls silent (the test server blackholes the
//! first session once IDLE is accepted): the state changes are printed in order, and the
//! message delivered meanwhile is reported once, with the arrival line's usual shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, Workdir};
use inbound_test_server::faults::{Blackhole, FaultPlan, Faults};
use inbound_test_server::server::ServerConfig;
use serde_json::Value;

/// Waits for the first line `wanted` accepts, keeping every line read in `seen`.
fn wait_for(
    rx: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    limit: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("not within {limit:?}; so far: {seen:#?}"));
        let hit = wanted(&line);
        seen.push(line);
        if hit {
            return Instant::now();
        }
    }
}

#[test]
fn watch_json_reports_lost_reconnecting_resumed_and_the_mail_meanwhile_once() {
    let config = ServerConfig::default();
    config.faults.push_plan(FaultPlan::new(
        Faults {
            blackhole: Some(Blackhole::AfterIdleAccepted),
            ..Faults::default()
        },
        1,
    ));
    let s = Server::start_with(config);
    let w = Workdir::new();
    let account = s
        .account(
            "work",
            "imap",
            "alice",
            "password = \"pw-alice\"\nsubscribe = true\nidle_renew_secs = 2\n",
        )
        .replace("timeout_secs = 10", "timeout_secs = 1");
    w.write_config(&account);
    let mut child = w
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let _ = tx.send(value);
        }
    });
    let err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || std::io::read_to_string(err).unwrap());

    let mut lines = Vec::new();
    wait_for(&rx, &mut lines, Duration::from_secs(20), |l| {
        l["state"] == "subscribed"
    });
    // IDLE is accepted, the session falls silent, a message arrives.
    std::thread::sleep(Duration::from_millis(300));
    let delivered = Instant::now();
    let raw = "From: Carol <carol@example.test>\r\nSubject: While deaf\r\nMessage-ID: <deaf-1@example.test>\r\n\r\nHello\r\n";
    s.server
        .store()
        .deliver("alice", "INBOX", raw.as_bytes().to_vec())
        .unwrap();
    let seen = wait_for(&rx, &mut lines, Duration::from_secs(10), |l| {
        l["subject"] == "While deaf"
    });
    eprintln!("reported {:?} after the delivery", seen - delivered);
    wait_for(&rx, &mut lines, Duration::from_secs(5), |l| {
        l["state"] == "resumed"
    });

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(exit.success(), "exit {exit:?}; stderr: {err}");
    lines.extend(rx.try_iter());

    let states: Vec<&Value> = lines.iter().filter(|l| l.get("state").is_some()).collect();
    let names: Vec<&str> = states
        .iter()
        .map(|l| l["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "subscribed",
            "lost",
            "reconnecting",
            "reconnected",
            "resumed",
            "unsubscribed"
        ],
        "{lines:#?}"
    );
    for state in &states {
        assert_eq!(state["account"], "work");
    }
    let lost = states[1];
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .starts_with("connection to server lost: "),
        "{lost}"
    );
    assert!(!lost["error"].as_str().unwrap().is_empty());
    assert_eq!(states[2]["attempt"], 1);
    assert!(states[2]["retry_in_ms"].as_u64().unwrap() <= 1000);
    assert_eq!(states[4]["caught_up"], 1);

    // Arrivals keep their shape; the sample mailbox and the delivery, each once.
    let arrivals: Vec<&Value> = lines.iter().filter(|l| l.get("state").is_none()).collect();
    for a in &arrivals {
        let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account",
                "folder",
                "from",
                "id",
                "message_id",
                "size",
                "subject"
            ]
        );
    }
    assert_eq!(arrivals.len(), 9, "{arrivals:#?}");
    let deaf: Vec<&&Value> = arrivals
        .iter()
        .filter(|a| a["subject"] == "While deaf")
        .collect();
    assert_eq!(deaf.len(), 1);
    assert_eq!(deaf[0]["message_id"], "deaf-1@example.test");

    // People read the same on standard error.
    for text in [
        "work: watching for new mail",
        "work: connection to server lost: ",
        "work: reconnecting in ",
        "work: resumed; 1 message caught up",
        "work: stopped",
    ] {
        assert!(err.contains(text), "{text:?} missing from: {err}");
    }
}
