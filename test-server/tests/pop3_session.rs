//! POP3 semantics of the test server, checked on the wire: RFC 1939 states, deletion only at
//! QUIT, the maildrop lock, UIDL stability, every login method, STLS and PIPELINING.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pop3_support;

use std::time::Duration;

use inbound_pop3_codec::{ApopDigest, Timestamp};
use inbound_test_server::server::ServerConfig;
use inbound_test_server::transcript::TranscriptCapture;
use pop3_support::*;

const BEARER_ERROR: &str =
    r#"{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/.default"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_and_capabilities() {
    let server = start(ServerConfig::default()).await;
    let (mut c, greeting) = connect_greeted(server.pop3_addr()).await;
    let timestamp = Timestamp::find_in(&greeting).expect("APOP timestamp");
    let pid = std::process::id();
    assert!(
        timestamp.as_str().starts_with(&format!("<{pid}."))
            && timestamp.as_str().ends_with("@localhost>"),
        "{greeting}"
    );
    let capa = c.listing("CAPA").await;
    for expected in [
        "TOP",
        "UIDL",
        "USER",
        "RESP-CODES",
        "PIPELINING",
        "STLS",
        "SASL PLAIN XOAUTH2 OAUTHBEARER",
        "AUTH-RESP-CODE",
        "IMPLEMENTATION inbound-test-server",
    ] {
        assert!(
            capa.iter().any(|l| l == expected),
            "{expected} missing: {capa:?}"
        );
    }
    c.login_ok("demo", "demo").await;
    assert!(
        !c.listing("CAPA").await.contains(&"STLS".to_owned()),
        "no STLS after login"
    );
    c.quit().await;

    // Two greetings never share a timestamp.
    let (_, second) = connect_greeted(server.pop3_addr()).await;
    assert_ne!(Timestamp::find_in(&second), Some(timestamp));

    // POP3S: TLS from the start, so no STLS.
    let (mut tls, greeting) = connect_pop3s(&server).await;
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let capa = tls.listing("CAPA").await;
    assert!(
        capa.contains(&"USER".to_owned()) && !capa.contains(&"STLS".to_owned()),
        "{capa:?}"
    );
    assert!(tls.cmd("STLS").await.starts_with("-ERR"));
    tls.login_ok("demo", "demo").await;
    assert_eq!(tls.cmd("STAT").await, "+OK 8 3947");
    tls.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_commands_and_deleted_messages_vanish() {
    let server = start(ServerConfig::default()).await;
    let messages = server.store().messages("demo", "INBOX").unwrap();
    let total: usize = messages.iter().map(|m| m.size()).sum();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert!(c.cmd("STAT").await.starts_with("-ERR"), "STAT before login");
    c.login_ok("demo", "demo").await;
    assert_eq!(c.cmd("STAT").await, format!("+OK 8 {total}"));
    let list = c.listing("LIST").await;
    let expected: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, m.size()))
        .collect();
    assert_eq!(list, expected);
    assert_eq!(
        c.cmd("LIST 2").await,
        format!("+OK 2 {}", messages[1].size())
    );
    assert!(c.cmd("LIST 9").await.starts_with("-ERR"));

    let (status, body) = c.cmd_multi("RETR 3").await;
    assert_eq!(status, format!("+OK {} octets", messages[2].size()));
    assert_eq!(body, messages[2].raw);

    assert_eq!(c.cmd("DELE 1").await, "+OK Message 1 deleted");
    assert_eq!(c.cmd("DELE 1").await, "-ERR Message 1 already deleted");
    assert_eq!(
        c.cmd("STAT").await,
        format!("+OK 7 {}", total - messages[0].size())
    );
    assert!(c.cmd("LIST 1").await.starts_with("-ERR"));
    assert!(c.cmd("UIDL 1").await.starts_with("-ERR"));
    assert!(c.cmd("RETR 1").await.starts_with("-ERR"));
    assert!(c.cmd("TOP 1 0").await.starts_with("-ERR"));
    let list = c.listing("LIST").await;
    assert_eq!(list.len(), 7);
    assert!(list[0].starts_with("2 "), "{list:?}");
    assert_eq!(c.listing("UIDL").await.len(), 7);

    // RSET undoes the deletion.
    assert!(
        c.cmd("RSET")
            .await
            .starts_with("+OK Maildrop has 8 messages")
    );
    assert!(c.cmd("LIST 1").await.starts_with("+OK 1 "));
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert!(c.cmd("DELE 99").await.starts_with("-ERR No such message"));
    assert!(c.cmd("RETR 0").await.starts_with("-ERR"));
    assert!(c.cmd("XYZZY").await.starts_with("-ERR Unknown command"));
    assert!(
        c.cmd("USER demo").await.starts_with("-ERR"),
        "USER in TRANSACTION"
    );
    c.quit().await;
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dele_then_drop_deletes_nothing_and_dele_then_quit_deletes() {
    let server = start(ServerConfig::default()).await;
    let before = server.store().messages("demo", "INBOX").unwrap();

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    drop(c); // connection lost before QUIT
    // The maildrop is released and nothing was removed.
    let mut c = loop {
        let (mut c, _) = connect_greeted(server.pop3_addr()).await;
        let answer = c.login("demo", "demo").await;
        if answer.starts_with("+OK") {
            break c;
        }
        assert!(answer.starts_with("-ERR [IN-USE]"), "{answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(server.store().messages("demo", "INBOX").unwrap(), before);

    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("DELE 3").await.starts_with("+OK"));
    assert_eq!(c.quit().await, "+OK Logging out, 2 messages deleted");
    let after: Vec<u32> = server
        .store()
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let expected: Vec<u32> = before
        .iter()
        .map(|m| m.uid)
        .filter(|u| ![before[0].uid, before[2].uid].contains(u))
        .collect();
    assert_eq!(after, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_session_gets_in_use_until_the_first_quits() {
    let server = start(ServerConfig::default()).await;
    let (mut first, _) = connect_greeted(server.pop3_addr()).await;
    first.login_ok("demo", "demo").await;
    let (mut second, _) = connect_greeted(server.pop3_addr()).await;
    let answer = second.login("demo", "demo").await;
    assert!(answer.starts_with("-ERR [IN-USE]"), "{answer}");
    // Still in AUTHORIZATION: APOP or USER may be tried again.
    assert!(second.cmd("STAT").await.starts_with("-ERR"));
    first.quit().await;
    second.login_ok("demo", "demo").await;
    assert!(second.cmd("STAT").await.starts_with("+OK 8 "));
    second.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidls_are_stable_across_sessions() {
    let server = start(ServerConfig::default()).await;
    let uids: Vec<u32> = server
        .store()
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    let first = c.listing("UIDL").await;
    let expected: Vec<String> = uids
        .iter()
        .enumerate()
        .map(|(i, uid)| format!("{} {}", i + 1, uidl_of(&server, "demo", *uid)))
        .collect();
    assert_eq!(first, expected);
    assert_eq!(c.cmd("UIDL 4").await, format!("+OK {}", expected[3]));
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    c.quit().await;

    let new_uid = server
        .store()
        .deliver("demo", "INBOX", &b"Subject: new\r\n\r\nhi\r\n"[..])
        .unwrap();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    let second = c.listing("UIDL").await;
    let ids = |listing: &[String]| -> Vec<String> {
        listing
            .iter()
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect()
    };
    let mut survivors = ids(&first);
    survivors.remove(1);
    survivors.push(uidl_of(&server, "demo", new_uid));
    assert_eq!(
        ids(&second),
        survivors,
        "same ids for the same messages, renumbered"
    );
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apop_with_right_and_wrong_digest() {
    let server = start(ServerConfig::default().user("mrose", "tanstaaf")).await;
    let (mut c, greeting) = connect_greeted(server.pop3_addr()).await;
    let timestamp = Timestamp::find_in(&greeting).unwrap();
    let wrong = ApopDigest::compute(&timestamp, b"tanstaafl");
    assert_eq!(
        c.cmd(&format!("APOP mrose {wrong}")).await,
        "-ERR [AUTH] Authentication failed"
    );
    let other = Timestamp::new("<1.2@elsewhere>").unwrap();
    let replayed = ApopDigest::compute(&other, b"tanstaaf");
    assert!(
        c.cmd(&format!("APOP mrose {replayed}"))
            .await
            .starts_with("-ERR [AUTH]")
    );
    let right = ApopDigest::compute(&timestamp, b"tanstaaf");
    assert!(
        c.cmd(&format!("APOP nobody {right}"))
            .await
            .starts_with("-ERR [AUTH]")
    );
    let answer = c.cmd(&format!("APOP mrose {right}")).await;
    assert_eq!(answer, "+OK Logged in, 8 messages (3947 octets)");
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_pass_failures() {
    let server = start(ServerConfig::default()).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert!(
        c.cmd("PASS demo").await.starts_with("-ERR"),
        "PASS without USER"
    );
    assert_eq!(
        c.login("demo", "wrong").await,
        "-ERR [AUTH] Authentication failed"
    );
    assert_eq!(
        c.login("nobody", "demo").await,
        "-ERR [AUTH] Authentication failed"
    );
    // PASS may contain spaces (RFC 1939 section 7).
    let server = start(ServerConfig::default().user("spacey", "pass with spaces")).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("spacey", "pass with spaces").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_plain_with_and_without_initial_response() {
    let server = start(ServerConfig::default()).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    let answer = c.cmd(&format!("AUTH PLAIN {}", b64(b"\0demo\0demo"))).await;
    assert_eq!(answer, "+OK Logged in, 8 messages (3947 octets)");
    c.quit().await;

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(
        c.cmd(&b64(b"demo\0demo\0demo"))
            .await
            .starts_with("+OK Logged in")
    );
    c.quit().await;

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"\0demo\0nope"))).await,
        "-ERR [AUTH] Authentication failed"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"root\0demo\0demo")))
            .await,
        "-ERR [AUTH] Authentication failed"
    );
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert_eq!(c.cmd("*").await, "-ERR Authentication cancelled");
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(c.cmd("not base64!").await.starts_with("-ERR"));
    assert!(c.cmd("AUTH CRAM-MD5").await.starts_with("-ERR Unsupported"));
    // After all that the session still works.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(c.cmd(&b64(b"\0demo\0demo")).await.starts_with("+OK"));
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_and_oauthbearer_with_tokens_from_the_endpoint() {
    let server = start(ServerConfig::default().oauth_client("app-id", "app-secret")).await;
    let token = fetch_token(&server, "app-id", "app-secret").await;

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    let answer = c
        .cmd(&format!("AUTH XOAUTH2 {}", xoauth2("demo", &token)))
        .await;
    assert!(answer.starts_with("+OK Logged in"), "{answer}");
    c.quit().await;

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(c.cmd("AUTH OAUTHBEARER").await, "+ ");
    assert!(
        c.cmd(&oauthbearer("demo", &token))
            .await
            .starts_with("+OK Logged in")
    );
    c.quit().await;

    // A token of a user opens that user's mailbox only.
    let own = server
        .registry()
        .issue_token("demo", Duration::from_secs(60));
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert!(
        c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("demo", &own)))
            .await
            .starts_with("+OK")
    );
    c.quit().await;
    server.store().add_user("other", "pw");
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("other", &own)))
            .await,
        "-ERR [AUTH] Authentication failed",
        "a valid token without access to the mailbox fails at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_unknown_token_gets_the_error_continuation_then_err() {
    let server = start(ServerConfig::default()).await;
    let token = server
        .registry()
        .issue_token("demo", Duration::from_secs(60));
    assert!(server.registry().expire_now(&token));

    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    let answer = c
        .cmd(&format!("AUTH XOAUTH2 {}", xoauth2("demo", &token)))
        .await;
    let challenge = answer.strip_prefix("+ ").expect("error continuation");
    assert_eq!(unb64(challenge), BEARER_ERROR.as_bytes());
    assert_eq!(c.cmd("").await, "-ERR [AUTH] Authentication failed");

    // OAUTHBEARER, after a continuation, acknowledged with ^A (RFC 7628 section 3.2.3).
    assert_eq!(c.cmd("AUTH OAUTHBEARER").await, "+ ");
    let answer = c.cmd(&oauthbearer("demo", "never-issued")).await;
    assert_eq!(
        unb64(answer.strip_prefix("+ ").unwrap()),
        BEARER_ERROR.as_bytes()
    );
    assert_eq!(
        c.cmd(&b64(b"\x01")).await,
        "-ERR [AUTH] Authentication failed"
    );

    // The session is still in AUTHORIZATION and a good login works.
    c.login_ok("demo", "demo").await;
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stls_upgrades_and_login_disabled_before_tls() {
    let server = start(ServerConfig::default().login_disabled_before_tls(true)).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    let capa = c.listing("CAPA").await;
    assert!(capa.contains(&"STLS".to_owned()), "{capa:?}");
    assert!(
        !capa.iter().any(|l| l == "USER" || l.starts_with("SASL")),
        "{capa:?}"
    );
    assert!(c.cmd("USER demo").await.starts_with("-ERR [AUTH]"));
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"\0demo\0demo")))
            .await
            .starts_with("-ERR [AUTH]")
    );
    let mut tls = c.stls(&server).await;
    let capa = tls.listing("CAPA").await;
    assert!(
        capa.contains(&"USER".to_owned()) && !capa.contains(&"STLS".to_owned()),
        "{capa:?}"
    );
    assert!(tls.cmd("STLS").await.starts_with("-ERR"));
    tls.login_ok("demo", "demo").await;
    assert!(tls.cmd("STAT").await.starts_with("+OK 8 "));
    tls.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_are_answered_in_order() {
    let server = start(ServerConfig::default()).await;
    let first = server.store().messages("demo", "INBOX").unwrap()[0].clone();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.send_raw(b"USER demo\r\nPASS demo\r\nSTAT\r\nLIST 1\r\nUIDL 1\r\nRETR 1\r\nDELE 1\r\nNOOP\r\nQUIT\r\n")
        .await;
    assert!(c.line().await.starts_with("+OK"));
    assert!(c.line().await.starts_with("+OK Logged in"));
    assert!(c.line().await.starts_with("+OK 8 "));
    assert_eq!(c.line().await, format!("+OK 1 {}", first.size()));
    assert_eq!(
        c.line().await,
        format!("+OK 1 {}", uidl_of(&server, "demo", first.uid))
    );
    assert!(c.line().await.starts_with("+OK"));
    assert_eq!(c.body().await, first.raw);
    assert_eq!(c.line().await, "+OK Message 1 deleted");
    assert_eq!(c.line().await, "+OK");
    assert_eq!(c.line().await, "+OK Logging out, 1 messages deleted");
    assert!(c.try_line().await.is_none());
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_and_dot_stuffing() {
    let server = start(ServerConfig::default().seed_sample(false)).await;
    let raw = b"Subject: dots\r\nFrom: a@example.test\r\n\r\n.leading dot\r\nline 2\r\n..two dots\r\n.\r\nlast\r\n";
    server.store().deliver("demo", "INBOX", &raw[..]).unwrap();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    // On the wire every line-initial dot is doubled.
    c.send("RETR 1").await;
    assert!(c.line().await.starts_with("+OK"));
    let mut wire = Vec::new();
    loop {
        let line = c.line().await;
        if line == "." {
            break;
        }
        wire.push(line);
    }
    assert_eq!(wire[3], "..leading dot");
    assert_eq!(wire[5], "...two dots");
    assert_eq!(wire[6], "..");
    let (_, body) = c.cmd_multi("RETR 1").await;
    assert_eq!(body, raw);
    let (status, head) = c.cmd_multi("TOP 1 0").await;
    assert!(status.starts_with("+OK"));
    assert_eq!(head, b"Subject: dots\r\nFrom: a@example.test\r\n\r\n");
    let (_, two) = c.cmd_multi("TOP 1 2").await;
    assert_eq!(
        two,
        b"Subject: dots\r\nFrom: a@example.test\r\n\r\n.leading dot\r\nline 2\r\n"
    );
    let (_, all) = c.cmd_multi("TOP 1 100").await;
    assert_eq!(all, raw);
    assert!(c.cmd("TOP 2 0").await.starts_with("-ERR"));
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcripts_are_captured_without_secrets() {
    let capture = TranscriptCapture::new();
    let server = start(
        ServerConfig::default()
            .user("alice", "hunter2")
            .transcript(capture.clone()),
    )
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("alice", "hunter2").await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    c.cmd_multi("RETR 2").await;
    c.send("AUTH PLAIN").await; // refused: already logged in
    c.line().await;
    c.quit().await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"\0alice\0hunter2")))
            .await
            .get(..3),
        Some("+OK")
    );
    c.quit().await;
    let text = capture.text();
    assert!(
        !text.contains("hunter2") && !text.contains(&b64(b"\0alice\0hunter2")),
        "{text}"
    );
    assert!(
        text.contains("C: USER alice\nS: +OK Send your password\nC: PASS [redacted]\n"),
        "{text}"
    );
    assert!(
        text.contains("C: DELE 1\nS: +OK Message 1 deleted\n"),
        "{text}"
    );
    assert!(
        text.contains("C: RETR 2\nS: +OK 361 octets\nS: <361 bytes>\n"),
        "{text}"
    );
    assert!(text.contains("C: AUTH PLAIN [redacted]\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_logged_out_without_deleting() {
    let server = start(ServerConfig::default().auto_logout(Duration::from_millis(300))).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    let started = std::time::Instant::now();
    assert_eq!(c.line().await, "-ERR Disconnected for inactivity");
    assert!(c.try_line().await.is_none());
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 8);
    // The maildrop was released.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_sasl_mechanism_is_neither_offered_nor_accepted() {
    let server = start(ServerConfig::default().hide_capability("auth=xoauth2")).await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    let capa = c.listing("CAPA").await;
    assert!(
        capa.iter().any(|l| l == "SASL PLAIN OAUTHBEARER"),
        "{capa:?}"
    );
    assert!(
        c.cmd(&format!(
            "AUTH XOAUTH2 {}",
            b64(b"user=demo\x01auth=Bearer x\x01\x01")
        ))
        .await
        .starts_with("-ERR"),
    );
    // The others still work.
    let answer = c.cmd(&format!("AUTH PLAIN {}", b64(b"\0demo\0demo"))).await;
    assert!(answer.starts_with("+OK"), "{answer}");
    c.quit().await;
}
