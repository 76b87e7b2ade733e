//! Hidden capabilities (`ServerConfig::hide_capability`) and answers held back
//! (`Faults::slow_answers`), seen from a raw client: a hidden capability is in no list and
//! its behaviour is off; a held-back answer comes late, or never.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_support;

use std::time::{Duration, Instant};

use imap_support::{Client, Harness, start, start_with};
use inbound_test_server::faults::{FaultPlan, Faults, Hold, SlowAnswer};
use inbound_test_server::mailstore::Flag;

/// `\0demo\0demo`, the PLAIN response of the harness user.
const DEMO_PLAIN: &str = "AGRlbW8AZGVtbw==";

fn caps(line: &str) -> Vec<String> {
    line.split(['[', ']', ' ', '\r', '\n'])
        .map(str::to_ascii_uppercase)
        .collect()
}

async fn hiding(names: &[&str]) -> Harness {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    start_with(move |mut c| {
        for n in &names {
            c = c.hide_capability(n);
        }
        c
    })
    .await
}

#[tokio::test]
async fn hidden_capabilities_are_in_no_list() {
    let h = hiding(&["sasl-ir", "LITERAL+", "AUTH=PLAIN", "STARTTLS", "MOVE"]).await;
    let (mut c, greeting) = Client::connect(h.imap).await;
    let capability = c.cmd("a CAPABILITY").await;
    let login = c.cmd("b LOGIN demo demo").await;
    assert!(login[0].starts_with("b OK [CAPABILITY "), "{login:?}");
    for list in [&greeting, &capability[0], &login[0]] {
        let list = caps(list);
        for hidden in ["SASL-IR", "LITERAL+", "AUTH=PLAIN", "STARTTLS", "MOVE"] {
            assert!(!list.iter().any(|c| c == hidden), "{hidden} in {list:?}");
        }
        assert!(list.iter().any(|c| c == "IMAP4REV1"), "{list:?}");
        assert!(list.iter().any(|c| c == "UIDPLUS"), "{list:?}");
    }
    for shown in ["AUTH=LOGIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"] {
        assert!(caps(&greeting).iter().any(|c| c == shown), "{greeting}");
    }

    // Without hiding, the same lists have them all.
    let h = start().await;
    let (_, greeting) = Client::connect(h.imap).await;
    let list = caps(&greeting);
    for shown in ["SASL-IR", "LITERAL+", "AUTH=PLAIN", "STARTTLS", "MOVE"] {
        assert!(
            list.iter().any(|c| c == shown),
            "{shown} missing: {greeting}"
        );
    }
}

#[tokio::test]
async fn without_sasl_ir_an_initial_response_is_refused() {
    let h = hiding(&["SASL-IR"]).await;
    let (mut c, _) = Client::connect(h.imap).await;
    let r = c.cmd(&format!("a AUTHENTICATE PLAIN {DEMO_PLAIN}")).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("a BAD "), "{r:?}");
    // The same exchange with a continuation works.
    c.send("b AUTHENTICATE PLAIN").await;
    assert_eq!(c.line().await.unwrap(), "+ \r\n");
    c.send(DEMO_PLAIN).await;
    let r = c.until_tag("b").await;
    assert!(r[0].starts_with("b OK [CAPABILITY "), "{r:?}");
}

#[tokio::test]
async fn without_literal_plus_only_synchronizing_literals_work() {
    let h = hiding(&["LITERAL+"]).await;
    let (mut c, _) = Client::connect(h.imap).await;
    c.send_raw(b"a LOGIN demo {4+}\r\ndemo\r\n").await;
    let r = c.until_tag("a").await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("a BAD "), "{r:?}");
    // A synchronizing literal: the server asks for it, then logs in.
    c.send_raw(b"b LOGIN demo {4}\r\n").await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send_raw(b"demo\r\n").await;
    let r = c.until_tag("b").await;
    assert!(r[0].starts_with("b OK "), "{r:?}");

    // With LITERAL+ the non-synchronizing literal is taken without a continuation.
    let h = start().await;
    let (mut c, _) = Client::connect(h.imap).await;
    c.send_raw(b"a LOGIN demo {4+}\r\ndemo\r\n").await;
    let r = c.until_tag("a").await;
    assert!(r[0].starts_with("a OK "), "{r:?}");
}

#[tokio::test]
async fn a_hidden_mechanism_is_refused_and_the_others_work() {
    let h = hiding(&["AUTH=PLAIN", "AUTH=XOAUTH2"]).await;
    let (mut c, _) = Client::connect(h.imap).await;
    let r = c.cmd(&format!("a AUTHENTICATE PLAIN {DEMO_PLAIN}")).await;
    assert_eq!(r, ["a NO Unsupported authentication mechanism.\r\n"]);
    let r = c.cmd("b AUTHENTICATE XOAUTH2 eA==").await;
    assert_eq!(r, ["b NO Unsupported authentication mechanism.\r\n"]);
    // AUTHENTICATE LOGIN still works (user and password in continuations).
    c.send("c AUTHENTICATE LOGIN").await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send("ZGVtbw==").await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send("ZGVtbw==").await;
    let r = c.until_tag("c").await;
    assert!(r[0].starts_with("c OK "), "{r:?}");
}

#[tokio::test]
async fn a_hidden_starttls_is_an_unknown_command() {
    let h = hiding(&["STARTTLS"]).await;
    let (mut c, greeting) = Client::connect(h.imap).await;
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    let r = c.cmd("a STARTTLS").await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("a BAD "), "{r:?}");
    // Still plaintext: the session goes on.
    let r = c.cmd("b LOGIN demo demo").await;
    assert!(r[0].starts_with("b OK "), "{r:?}");
}

#[tokio::test]
async fn without_move_and_uidplus_those_commands_are_unknown_and_codes_absent() {
    let h = hiding(&["MOVE", "UIDPLUS"]).await;
    let mut c = Client::login(h.imap).await;
    c.cmd("a CREATE Archive").await;
    c.cmd("b SELECT INBOX").await;
    for (tag, command) in [
        ("c", "UID MOVE 1 Archive"),
        ("d", "MOVE 1 Archive"),
        ("e", "UID EXPUNGE 1"),
    ] {
        let r = c.cmd(&format!("{tag} {command}")).await;
        assert_eq!(r.len(), 1, "{command}: {r:?}");
        assert!(r[0].starts_with(&format!("{tag} BAD ")), "{command}: {r:?}");
    }
    assert_eq!(h.store.messages("demo", "INBOX").unwrap().len(), 8);
    assert!(h.store.messages("demo", "Archive").unwrap().is_empty());
    // COPY and APPEND work, without COPYUID / APPENDUID.
    let r = c.cmd("f UID COPY 1 Archive").await;
    assert_eq!(r.last().unwrap(), "f OK Copy completed.\r\n");
    let r = c.cmd("g APPEND Archive {14+}\r\nSubject: x\r\n\r\n").await;
    assert_eq!(r.last().unwrap(), "g OK Append completed.\r\n");
    assert_eq!(h.store.messages("demo", "Archive").unwrap().len(), 2);
    // The fallback a client uses instead of MOVE: STORE \Deleted, EXPUNGE.
    c.cmd("h UID STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("i EXPUNGE").await;
    assert_eq!(r, ["* 1 EXPUNGE\r\n", "i OK Expunge completed.\r\n"]);

    // Hiding MOVE alone keeps UIDPLUS: COPYUID comes with COPY.
    let h = hiding(&["MOVE"]).await;
    let mut c = Client::login(h.imap).await;
    c.cmd("a SELECT INBOX").await;
    assert!(c.cmd("b UID MOVE 1 INBOX").await[0].starts_with("b BAD "));
    let r = c.cmd("c UID COPY 1 INBOX").await;
    assert!(r.last().unwrap().starts_with("c OK [COPYUID "), "{r:?}");
    let r = c.cmd("d UID EXPUNGE 1").await;
    assert!(r.last().unwrap().starts_with("d OK"), "{r:?}");
}

#[tokio::test]
async fn other_hidden_extensions_are_unknown_commands() {
    let h = hiding(&["IDLE", "ID", "ENABLE", "UNSELECT", "ESEARCH"]).await;
    let mut c = Client::login(h.imap).await;
    c.cmd("a SELECT INBOX").await;
    for (tag, command) in [
        ("b", "IDLE"),
        ("c", "ID NIL"),
        ("d", "ENABLE CONDSTORE"),
        ("e", "UNSELECT"),
        ("f", "UID SEARCH RETURN (MIN) ALL"),
    ] {
        let r = c.cmd(&format!("{tag} {command}")).await;
        assert_eq!(r.len(), 1, "{command}: {r:?}");
        assert!(r[0].starts_with(&format!("{tag} BAD ")), "{command}: {r:?}");
    }
    let r = c.cmd("g UID SEARCH ALL").await;
    assert_eq!(r[0], "* SEARCH 1 2 3 4 5 6 7 8\r\n");
}

#[tokio::test]
async fn an_answer_held_back_by_command_name() {
    let h = start().await;
    let hold = Duration::from_millis(400);
    h.faults.push_plan(FaultPlan::new(
        Faults {
            slow_answers: vec![SlowAnswer::named("uid fetch", Hold::For(hold))],
            ..Faults::default()
        },
        1,
    ));
    let started = Instant::now();
    let mut c = Client::login(h.imap).await;
    c.cmd("a SELECT INBOX").await;
    c.cmd("b FETCH 1 FLAGS").await;
    assert!(started.elapsed() < hold, "{:?}", started.elapsed());
    let started = Instant::now();
    let r = c.cmd("c UID FETCH 1 FLAGS").await;
    assert!(started.elapsed() >= hold, "{:?}", started.elapsed());
    assert_eq!(r.last().unwrap(), "c OK Fetch completed.\r\n");
    // Only the planned session is slow.
    let started = Instant::now();
    let mut c = Client::login(h.imap).await;
    c.cmd("a SELECT INBOX").await;
    c.cmd("b UID FETCH 1 FLAGS").await;
    assert!(started.elapsed() < hold, "{:?}", started.elapsed());
}

#[tokio::test]
async fn answers_withheld_from_the_nth_command_on() {
    let h = start().await;
    h.faults.push_plan(FaultPlan::new(
        Faults {
            slow_answers: vec![SlowAnswer::from_nth(3, Hold::Forever)],
            ..Faults::default()
        },
        1,
    ));
    let mut c = Client::login(h.imap).await; // command 1
    c.cmd("a SELECT INBOX").await; // command 2
    c.send("b UID STORE 2 +FLAGS (\\Flagged)").await; // command 3: never answered
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut c.reader, &mut byte),
    )
    .await;
    assert!(read.is_err(), "an answer came: {read:?}");
    // The withheld command never ran.
    let messages = h.store.messages("demo", "INBOX").unwrap();
    assert!(!messages[1].flags.contains(&Flag::Flagged));
    drop(c);
    // Shutdown does not wait for the stalled session beyond its BYE.
    let started = Instant::now();
    h.server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
}
