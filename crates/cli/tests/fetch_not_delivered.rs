//! `inbound fetch --json` lists the messages asked for and not delivered, with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, Workdir, json, stderr, stdout};
use inbound_test_server::faults::{Faults, MessageFault, MessageFaultKind};

#[test]
fn fetch_json_lists_messages_not_delivered_and_keeps_them_on_the_server() {
    let s = Server::start();
    let uids: Vec<u32> = s
        .server
        .store()
        .messages("alice", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let refused = uids[1];
    s.server.faults().set_default(Faults {
        message_faults: vec![MessageFault::new(refused, MessageFaultKind::Refused)],
        ..Faults::default()
    });
    let w = Workdir::new();
    w.write_config(&s.account(
        "work",
        "imap",
        "alice",
        "password_env = \"ALICE_PW\"\nafter_receive = \"delete\"\n",
    ));
    let out = w
        .cmd()
        .args(["fetch", "--json"])
        .env("ALICE_PW", "pw-alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v = json(&out);
    let account = &v.as_array().unwrap()[0];
    assert_eq!(account["fetched"], uids.len() - 1);
    let not_delivered = account["not_delivered"].as_array().unwrap();
    assert_eq!(not_delivered.len(), 1, "{account}");
    assert_eq!(not_delivered[0]["id"], format!("uid:{refused}"));
    assert!(
        not_delivered[0]["reason"]
            .as_str()
            .unwrap()
            .contains("could not be FETCHed"),
        "{account}"
    );
    // Not stored, so not deleted.
    let left: Vec<u32> = s
        .server
        .store()
        .messages("alice", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, [refused]);

    // The table says so too; the next run gets it.
    s.server.faults().clear();
    let out = w
        .cmd()
        .args(["fetch"])
        .env("ALICE_PW", "pw-alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(!stdout(&out).contains("not delivered"), "{}", stdout(&out));
    assert!(
        s.server
            .store()
            .messages("alice", "INBOX")
            .unwrap()
            .is_empty()
    );
}
