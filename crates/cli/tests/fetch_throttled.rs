//! `inbound fetch` against a server that throttles: a short wait the server asks for is
//! waited, a long one (or none named, which means at least a minute) ends the run at once
//! with an error that says the server is throttling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Server, Workdir, json, stderr};
use inbound_test_server::faults::{FaultPlan, Faults, ThrottleAnswer};

fn throttle(s: &Server, answer: ThrottleAnswer, sessions: u32) {
    s.server.faults().push_plan(FaultPlan::new(
        Faults {
            login_throttle: Some(answer),
            ..Faults::default()
        },
        sessions,
    ));
}

#[test]
fn fetch_waits_for_a_short_hint_and_succeeds() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"pw-alice\"\n"));
    throttle(&s, ThrottleAnswer::M365Backoff { millis: 1500 }, 1);
    let out = w.run(&["fetch", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(v[0]["fetched"], 8, "{v}");
    let starts = s.server.faults().session_starts();
    assert_eq!(starts.len(), 2);
    assert!(
        starts[1] - starts[0] >= Duration::from_millis(1500),
        "retried after {:?}",
        starts[1] - starts[0]
    );
}

#[test]
fn fetch_gives_up_on_a_long_throttle_naming_it() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"pw-alice\"\n"));
    for answer in [
        ThrottleAnswer::GmailNo,
        ThrottleAnswer::M365Backoff { millis: 600_000 },
    ] {
        let before = s.server.faults().sessions();
        throttle(&s, answer, 5);
        let out = w.run(&["fetch"]);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("error: work:"), "{err}");
        assert!(err.contains("server is throttling"), "{err}");
        assert!(err.contains("try again later"), "{err}");
        // Not hammered: one connection only.
        assert_eq!(
            s.server.faults().sessions(),
            before + 1,
            "{answer:?}: {err}"
        );
        s.server.faults().clear();
    }
    let out = w.run(&["fetch"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}
