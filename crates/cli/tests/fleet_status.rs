//! `inbound status` and a lone fleet worker on a PostgreSQL store (the multi-process cases
//! are in `fleet.rs`); skipped with a message without PostgreSQL, unless
//! `INBOUND_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Server, Workdir, json, stderr};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

#[test]
fn status_on_a_sqlite_store_says_it_needs_postgresql() {
    let w = Workdir::new();
    w.write_config("");
    let out = w.run(&["status"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("PostgreSQL store ([store] url)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_lone_worker_watches_its_accounts_and_status_shows_it_then_sigterm_releases_them() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let s = Server::start();
    let w = Workdir::new();
    let a = s.account(
        "work",
        "imap",
        "alice",
        "password = \"pw-alice\"\nsubscribe = true\n",
    );
    let b = s.account(
        "home",
        "imap",
        "bob",
        "password = \"pw-bob\"\nsubscribe = true\n",
    );
    let text = format!(
        "[store]\nurl = \"{}\"\n\n[fleet]\nlease_secs = 30\nrenew_secs = 1\nscan_secs = 1\n\n{a}\n{b}",
        db.url()
    );
    std::fs::write(w.config(), text).unwrap();
    let mut child = w
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = || {
        let out = w.run(&["status", "--json"]);
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        json(&out)
    };
    wait_for("both accounts watched", || {
        let v = status();
        let accounts = v["accounts"].as_array().unwrap().clone();
        accounts.len() == 2 && accounts.iter().all(|a| a["state"] == "watching")
    });
    let v = status();
    let worker = &v["workers"][0];
    assert_eq!(worker["pid"], child.id());
    assert_eq!(worker["accounts_held"], 2);
    assert!(worker["stopped_ms"].is_null());
    for a in v["accounts"].as_array().unwrap() {
        assert_eq!(a["owner"], worker["id"]);
        assert_eq!(a["owner_pid"], child.id());
        assert_eq!(a["epoch"], 1);
        assert!(a["lease_expires_ms"].as_i64().unwrap() > v["now_ms"].as_i64().unwrap());
    }
    // The sample mail of both accounts is stored once.
    let out = w.run(&["messages", "list", "--json"]);
    assert_eq!(json(&out).as_array().unwrap().len(), 16);
    let text = w.run(&["status"]);
    let text = common::stdout(&text);
    assert!(text.contains("watching"), "{text}");
    assert!(text.contains("work") && text.contains("home"), "{text}");

    // SIGTERM: the worker releases its leases at once (not after the 30 s lease).
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let v = status();
    for a in v["accounts"].as_array().unwrap() {
        assert!(a["owner"].is_null(), "{a}");
        assert_eq!(a["state"], "free");
    }
    assert!(v["workers"][0]["stopped_ms"].is_i64());
}
