//! `inbound fetch` and `inbound messages` against the test server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, Workdir, json, stderr, stdout};

#[test]
fn fetch_stores_per_policy_and_messages_reads_it_back() {
    let s = Server::start();
    let w = Workdir::new();
    let imap = s.account(
        "work",
        "imap",
        "alice",
        "password_env = \"ALICE_PW\"\nafter_receive = \"move\"\nmove_to = \"Done\"\n",
    );
    let pop = s.account(
        "home",
        "pop3",
        "bob",
        "password_env = \"BOB_PW\"\nfetch = \"latest\"\ncount = 3\nsanitize_html = false\n",
    );
    w.write_config(&format!("{imap}\n{pop}"));
    let out = w
        .cmd()
        .args(["fetch", "--json"])
        .env("ALICE_PW", "pw-alice")
        .env("BOB_PW", "pw-bob")
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v = json(&out);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["account"], "work");
    assert_eq!(list[0]["fetched"], 8);
    assert_eq!(list[0]["moved"], 8);
    assert_eq!(list[0]["skipped"], 0);
    assert_eq!(list[0]["errors"], serde_json::json!([]));
    assert_eq!(list[1]["account"], "home");
    assert_eq!(list[1]["fetched"], 3);
    assert_eq!(list[1]["deleted"], 0);
    assert_eq!(s.server.store().messages("alice", "Done").unwrap().len(), 8);
    assert_eq!(s.server.store().messages("bob", "INBOX").unwrap().len(), 8);

    // Plain output when not on a terminal: progress lines on stderr, a table on stdout.
    let out = w
        .cmd()
        .args(["fetch", "--account", "work"])
        .env("ALICE_PW", "pw-alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("account"), "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("work"), "{table}");
    assert!(!table.contains("home"), "{table}");

    // messages list --json: one object per stored message with the promised keys.
    let out = w.run(&["messages", "list", "--json"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let messages = json(&out);
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 11);
    for m in messages {
        for key in [
            "id",
            "account",
            "folder",
            "message_id",
            "subject",
            "from",
            "date",
            "attachments",
        ] {
            assert!(m.get(key).is_some(), "{key} missing in {m}");
        }
    }
    let with_attachment = messages
        .iter()
        .find(|m| m["account"] == "work" && !m["attachments"].as_array().unwrap().is_empty())
        .expect("the sample mailbox has an attachment");
    let a = &with_attachment["attachments"][0];
    for key in ["filename", "content_type", "size", "inline"] {
        assert!(a.get(key).is_some(), "{key} missing in {a}");
    }

    // show --json adds text and html; the IMAP account sanitizes.
    let html_message = messages
        .iter()
        .find(|m| m["account"] == "work" && m["subject"] == "Text and HTML")
        .unwrap();
    let id = html_message["id"].to_string();
    let out = w.run(&["messages", "show", &id, "--json"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let shown = json(&out);
    assert_eq!(shown["text"].as_str().unwrap().trim(), "The plain version.");
    assert!(shown["html"].as_str().unwrap().contains("<i>HTML</i>"));
    assert_eq!(shown["html_sanitized"], true);

    // export: eml files byte for byte, one message to standard output, a Maildir.
    let out = w.run(&["messages", "export", &id]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let raw = out.stdout;
    assert!(String::from_utf8_lossy(&raw).contains("Subject: Text and HTML"));
    let out = w.run(&["messages", "export", "--account", "work", "--output", "eml"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(std::fs::read_dir(w.path().join("eml")).unwrap().count(), 8);
    assert_eq!(
        std::fs::read(w.path().join("eml").join(format!("{id}.eml"))).unwrap(),
        raw
    );
    let out = w.run(&["messages", "export", "--format", "maildir", "-o", "md"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(w.path().join("md/new")).unwrap().count(),
        11
    );
    assert!(w.path().join("md/cur").is_dir() && w.path().join("md/tmp").is_dir());

    let out = w.run(&["messages", "show", "999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no message with id 999999"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failing_account_gives_exit_code_1_and_the_others_are_fetched() {
    let s = Server::start();
    let w = Workdir::new();
    let good = s.account("good", "pop3", "bob", "password = \"pw-bob\"\n");
    let bad = s.account("bad", "imap", "alice", "password = \"wrong\"\n");
    w.write_config(&format!("{bad}\n{good}"));
    let out = w.run(&["fetch", "--json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(v[0]["account"], "bad");
    assert_eq!(v[0]["fetched"], 0);
    assert!(
        v[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{v}"
    );
    assert_eq!(v[1]["account"], "good");
    assert_eq!(v[1]["fetched"], 8);

    let out = w.run(&["fetch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error: bad:"), "{}", stderr(&out));
    assert!(stdout(&out).contains("FAILED"), "{}", stdout(&out));
}

#[test]
fn fetch_refuses_unknown_accounts_and_missing_configuration() {
    let w = Workdir::new();
    let out = w.run(&["fetch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no configuration file found"),
        "{}",
        stderr(&out)
    );
    assert!(!w.store().exists(), "a usage error leaves no store behind");

    w.write_config("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\n");
    let out = w.run(&["fetch", "--account", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no account named \"nope\"; known accounts: a"),
        "{}",
        stderr(&out)
    );
}
