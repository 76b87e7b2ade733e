//! `inbound status` and a lone fleet worker on a PostgreSQL store (the multi-process cases
//! are in `fleet.rs`); skipped with a message without PostgreSQL, unless
//! `INBOUND_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Server, Workdir, http, json, stderr};

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
    // A POP3 account is watched by polling, through the same leases.
    let c = s.account(
        "home-pop",
        "pop3",
        "bob",
        "password = \"pw-bob\"\nsubscribe = true\npoll_interval_secs = 1\n",
    );
    let text = format!(
        "[store]\nurl = \"{}\"\n\n[fleet]\nlease_secs = 30\nrenew_secs = 1\nscan_secs = 1\n\n{a}\n{b}\n{c}",
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
    wait_for("every account watched", || {
        let v = status();
        let accounts = v["accounts"].as_array().unwrap().clone();
        accounts.len() == 3 && accounts.iter().all(|a| a["state"] == "watching")
    });
    let v = status();
    let worker = &v["workers"][0];
    assert_eq!(worker["pid"], child.id());
    assert_eq!(worker["accounts_held"], 3);
    assert!(worker["stopped_ms"].is_null());
    for a in v["accounts"].as_array().unwrap() {
        assert_eq!(a["owner"], worker["id"]);
        assert_eq!(a["owner_pid"], child.id());
        assert_eq!(a["epoch"], 1);
        assert!(a["lease_expires_ms"].as_i64().unwrap() > v["now_ms"].as_i64().unwrap());
    }
    // The sample mail of both accounts is stored once.
    let out = w.run(&["messages", "list", "--json"]);
    assert_eq!(json(&out).as_array().unwrap().len(), 24);
    let text = w.run(&["status"]);
    let text = common::stdout(&text);
    assert!(text.contains("watching"), "{text}");
    assert!(text.contains("work") && text.contains("home"), "{text}");

    // The web overview shows the same fleet.
    let mut serve = w
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    let (code, body) = http(&addr, "GET", "/api/v1/fleet", "");
    assert_eq!(code, 200, "{body}");
    let fleet: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fleet["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(fleet["accounts"][0]["owner_pid"], child.id());
    let (code, page) = http(&addr, "GET", "/", "");
    assert_eq!(code, 200);
    assert!(page.contains("<h2>Workers</h2>"), "{page}");
    assert!(
        page.contains(&format!("<td class=\"count\">{}</td>", child.id())),
        "{page}"
    );
    assert!(page.contains("· watching · lease"), "{page}");
    serve.kill().unwrap();
    let _ = serve.wait();

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

#[test]
fn a_throttled_account_keeps_its_hint_in_the_lease_and_a_takeover_waits_it_out() {
    use inbound_test_server::faults::{FaultPlan, Faults, ThrottleAnswer};

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
    let text = format!(
        "[store]\nurl = \"{}\"\n\n[fleet]\nlease_secs = 3\nrenew_secs = 1\nscan_secs = 1\n\n{a}",
        db.url()
    );
    std::fs::write(w.config(), text).unwrap();
    s.server.faults().push_plan(FaultPlan::new(
        Faults {
            login_throttle: Some(ThrottleAnswer::M365Backoff { millis: 6000 }),
            ..Faults::default()
        },
        1,
    ));
    let spawn = || {
        w.cmd()
            .args(["watch", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let status = || json(&w.run(&["status", "--json"]));
    let mut first = spawn();
    wait_for("the account recorded as throttled", || {
        status()["accounts"][0]["state"] == "throttled"
    });
    let v = status();
    let account = &v["accounts"][0];
    let wait = account["not_before_ms"].as_i64().unwrap() - v["now_ms"].as_i64().unwrap();
    assert!((3000..=6000).contains(&wait), "{v}");
    assert!(
        account["last_error"]
            .as_str()
            .unwrap()
            .contains("Request is throttled"),
        "{v}"
    );
    // The worker dies; another takes the account over after the lease, but does not
    // connect before the server's hint has passed.
    first.kill().unwrap();
    let _ = first.wait();
    let mut second = spawn();
    wait_for("the second worker watching", || {
        let v = status();
        v["accounts"][0]["state"] == "watching" && v["accounts"][0]["owner_pid"] == second.id()
    });
    let starts = s.server.faults().session_starts();
    assert_eq!(
        starts.len(),
        2,
        "one throttled login, then one after the hint"
    );
    assert!(
        starts[1] - starts[0] >= Duration::from_millis(5950),
        "reconnected after {:?}",
        starts[1] - starts[0]
    );
    assert_eq!(status()["accounts"][0]["epoch"], 2);
    second.kill().unwrap();
    let _ = second.wait();
}
