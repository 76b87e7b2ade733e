//! `inbound demo`: runs in CI; its summary is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Workdir, json, stderr, stdout};

#[test]
fn demo_retrieves_watches_and_summarizes() {
    let w = Workdir::new();
    let started = Instant::now();
    let out = w.run(&["demo", "--json"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "demo took {:?}",
        started.elapsed()
    );
    let v = json(&out);
    let accounts = v["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let imap = &accounts[0];
    assert_eq!(imap["account"], "demo-imap");
    // The 8 sample messages, then the 3 delivered while subscribed; all moved to Archive.
    assert_eq!(imap["fetched"], 11);
    assert_eq!(imap["moved"], 11);
    assert_eq!(imap["deleted"], 0);
    let pop = &accounts[1];
    assert_eq!(pop["account"], "demo-pop3");
    assert_eq!(pop["fetched"], 8);
    assert_eq!(pop["moved"], 0);
    assert_eq!(pop["deleted"], 8);
    assert!(imap["attachments"].as_u64().unwrap() > 0);
    assert!(pop["bytes"].as_u64().unwrap() > 1000);
    assert_eq!(v["server"]["imap_inbox"], 0);
    assert_eq!(v["server"]["imap_archive"], 11);
    assert_eq!(v["server"]["pop_inbox"], 0);
    assert!(w.path().join("inbound-demo.sqlite").is_file());

    // The stored mail is there for the other commands.
    let out = w.run(&[
        "--store",
        "inbound-demo.sqlite",
        "messages",
        "list",
        "--json",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 19);
}

#[test]
fn demo_prints_a_summary_table_and_runs_again() {
    let w = Workdir::new();
    for _ in 0..2 {
        let out = w.run(&["demo"]);
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            [
                "account",
                "fetched",
                "moved",
                "deleted",
                "attachments",
                "bytes"
            ]
        );
        let imap: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(imap[..4], ["demo-imap", "11", "11", "0"]);
        let pop: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(pop[..4], ["demo-pop3", "8", "0", "8"]);
        let err = stderr(&out);
        assert_eq!(err.matches("arrived:").count(), 3, "{err}");
    }
}
