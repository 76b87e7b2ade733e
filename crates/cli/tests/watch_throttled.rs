//! `inbound watch` against a server that throttles the first login: the state is reported
//! (text and `--json`) and the subscription waits the server's hint before reconnecting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Server, Workdir};
use inbound_test_server::faults::{FaultPlan, Faults, ThrottleAnswer};

#[test]
fn watch_reports_the_throttle_and_waits_the_hint() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account(
        "work",
        "imap",
        "alice",
        "password = \"pw-alice\"\nsubscribe = true\n",
    ));
    s.server.faults().push_plan(FaultPlan::new(
        Faults {
            login_throttle: Some(ThrottleAnswer::M365Backoff { millis: 1500 }),
            ..Faults::default()
        },
        1,
    ));
    let mut child = w
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let err = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || std::io::read_to_string(err).unwrap());
    let mut states = Vec::new();
    while !states
        .iter()
        .any(|s: &serde_json::Value| s["state"] == "subscribed")
    {
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        if value.get("state").is_some() {
            states.push(value);
        }
    }
    let names: Vec<&str> = states
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lost", "throttled", "subscribed"], "{states:?}");
    assert!(
        states[0]["error"]
            .as_str()
            .unwrap()
            .contains("Request is throttled"),
        "{states:?}"
    );
    assert_eq!(states[1]["delay_ms"], 1500);
    assert_eq!(states[1]["hint"], true);
    let starts = s.server.faults().session_starts();
    assert!(starts.len() >= 2);
    assert!(starts[1] - starts[0] >= Duration::from_millis(1500));

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let err = errors.join().unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("work: server is throttling; retrying in 1.5 s (server's hint)"),
        "{err}"
    );
}
