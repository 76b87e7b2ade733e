//! Every IMAP fault and server quirk of `faults.rs`, seen from a raw client; quirky answers
//! are also fed to our own codec, which must accept them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_support;

use std::time::{Duration, Instant};

use imap_support::{Client, Harness, start};
use inbound_imap_codec::types::Response;
use inbound_imap_codec::{Quirks as CodecQuirks, ResponseDecoder};
use inbound_test_server::faults::{
    CommandFault, DropPoint, FaultPlan, Faults, Quirks, Refusal, ThrottleAnswer,
};
use inbound_test_server::mailstore::Flag;
use tokio::io::AsyncReadExt as _;

fn plan(h: &Harness, faults: Faults) {
    h.faults.push_plan(FaultPlan::new(faults, 1));
}

fn drop_at(point: DropPoint) -> Faults {
    Faults {
        drop_at: Some(point),
        ..Faults::default()
    }
}

/// Decodes server bytes (after the greeting) with our codec; panics on any error.
fn decode_all(bytes: &[u8]) -> Vec<Response> {
    let mut d = ResponseDecoder::new(CodecQuirks::default());
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(r) = d
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    {
        out.push(r);
    }
    out
}

#[tokio::test]
async fn drop_after_greeting_with_and_without_bye() {
    let h = start().await;
    plan(&h, drop_at(DropPoint::AfterGreeting));
    let (mut c, greeting) = Client::connect(h.imap).await;
    assert!(greeting.starts_with("* OK"));
    assert!(c.read_to_end().await.is_empty());
    plan(
        &h,
        Faults {
            bye_before_drop: Some("Server going down".into()),
            ..drop_at(DropPoint::AfterGreeting)
        },
    );
    let (mut c, _) = Client::connect(h.imap).await;
    assert_eq!(c.read_to_end().await, b"* BYE Server going down\r\n");
}

#[tokio::test]
async fn drop_after_n_bytes() {
    let h = start().await;
    plan(&h, drop_at(DropPoint::AfterBytes(10)));
    let mut tcp = tokio::net::TcpStream::connect(h.imap).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(imap_support::TIMEOUT, tcp.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"* OK [CAPA");
}

#[tokio::test]
async fn drop_in_the_middle_of_a_fetch_literal() {
    let h = start().await;
    plan(&h, drop_at(DropPoint::MidFetchLiteral));
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    c.send("f FETCH 1 BODY.PEEK[]").await;
    let rest = String::from_utf8(c.read_to_end().await).unwrap();
    let size = h.store.messages("demo", "INBOX").unwrap()[0].raw.len();
    let header = format!("* 1 FETCH (BODY[] {{{size}}}\r\n");
    assert!(rest.starts_with(&header), "{rest}");
    assert_eq!(rest.len(), header.len() + size / 2);
}

#[tokio::test]
async fn drop_between_fetch_and_store_leaves_flags_alone() {
    let h = start().await;
    plan(&h, drop_at(DropPoint::BetweenFetchAndStore));
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    // STORE before any FETCH is fine.
    assert!(
        c.cmd("a STORE 3 +FLAGS (\\Answered)")
            .await
            .last()
            .unwrap()
            .starts_with("a OK")
    );
    assert!(
        c.cmd("b UID FETCH 1:* (UID FLAGS)")
            .await
            .last()
            .unwrap()
            .starts_with("b OK")
    );
    c.send("c UID STORE 2 +FLAGS (\\Deleted)").await;
    assert!(c.read_to_end().await.is_empty());
    let flags = &h.store.messages("demo", "INBOX").unwrap()[1].flags;
    assert!(!flags.contains(&Flag::Deleted));
}

#[tokio::test]
async fn drop_during_idle() {
    let h = start().await;
    plan(
        &h,
        Faults {
            bye_before_drop: Some("Idle too long".into()),
            ..drop_at(DropPoint::DuringIdle)
        },
    );
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    c.send("i IDLE").await;
    assert_eq!(c.line().await.unwrap(), "+ idling\r\n");
    assert_eq!(c.read_to_end().await, b"* BYE Idle too long\r\n");
}

#[tokio::test]
async fn drop_before_the_ok_of_move_and_expunge_after_they_took_effect() {
    let h = start().await;
    plan(&h, drop_at(DropPoint::BeforeMoveOrExpungeOk));
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    c.cmd("a CREATE Done").await;
    c.send("m UID MOVE 2 Done").await;
    let rest = String::from_utf8(c.read_to_end().await).unwrap();
    assert_eq!(
        rest,
        "* OK [COPYUID 1001 2 1] Moved UIDs.\r\n* 2 EXPUNGE\r\n"
    );
    assert_eq!(h.store.messages("demo", "Done").unwrap().len(), 1);
    assert_eq!(h.store.messages("demo", "INBOX").unwrap().len(), 7);

    plan(&h, drop_at(DropPoint::BeforeMoveOrExpungeOk));
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    c.cmd("d STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.send("e EXPUNGE").await;
    assert_eq!(c.read_to_end().await, b"* 1 EXPUNGE\r\n");
    assert_eq!(h.store.messages("demo", "INBOX").unwrap().len(), 6);
}

#[tokio::test]
async fn refusals_delay_and_one_byte_writes() {
    let h = start().await;
    plan(
        &h,
        Faults {
            command_faults: vec![
                CommandFault {
                    command: "select".into(),
                    refusal: Refusal::No,
                    text: Some("[UNAVAILABLE] Try later".into()),
                    times: Some(1),
                },
                CommandFault {
                    command: "UID FETCH".into(),
                    refusal: Refusal::Bad,
                    text: None,
                    times: None,
                },
            ],
            one_byte_writes: true,
            ..Faults::default()
        },
    );
    let (mut c, _) = Client::connect(h.imap).await;
    c.cmd("l LOGIN demo demo").await;
    assert_eq!(
        c.cmd("a SELECT INBOX").await,
        ["a NO [UNAVAILABLE] Try later\r\n"]
    );
    assert!(
        c.cmd("b SELECT INBOX")
            .await
            .last()
            .unwrap()
            .starts_with("b OK")
    );
    for _ in 0..2 {
        let r = c.cmd("c UID FETCH 1 FLAGS").await;
        assert_eq!(r, ["c BAD UID FETCH refused (fault injected).\r\n"]);
    }
    // One byte per write: still the same answer.
    let r = c
        .cmd("d FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert_eq!(
        r[0],
        "* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {31}\r\nSubject: Welcome to Inbound\r\n\r\n)\r\n"
    );

    plan(
        &h,
        Faults {
            delay: Some(Duration::from_millis(150)),
            ..Faults::default()
        },
    );
    let mut c = Client::login(h.imap).await;
    let start = Instant::now();
    let r = c.cmd("e NOOP").await;
    assert_eq!(r, ["e OK NOOP completed.\r\n"]);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn long_command_lines_are_refused_like_dovecot() {
    let h = start().await;
    plan(
        &h,
        Faults {
            max_command_len: Some(100),
            ..Faults::default()
        },
    );
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    let set: Vec<String> = (1..40).map(|n| n.to_string()).collect();
    let r = c.cmd(&format!("a UID FETCH {} FLAGS", set.join(","))).await;
    assert_eq!(r, ["a BAD Error in IMAP command: line too long.\r\n"]);
    assert!(
        c.cmd("b UID FETCH 1:8 FLAGS")
            .await
            .last()
            .unwrap()
            .starts_with("b OK")
    );
}

#[tokio::test]
async fn plaintext_injected_after_starttls_ok_arrives_in_the_same_read() {
    let h = start().await;
    plan(
        &h,
        Faults {
            starttls_injection: Some(
                b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n".to_vec(),
            ),
            ..Faults::default()
        },
    );
    let (mut c, _) = Client::connect(h.imap).await;
    c.send("t STARTTLS").await;
    assert_eq!(
        c.line().await.unwrap(),
        "t OK Begin TLS negotiation now.\r\n"
    );
    // The injected bytes sit in the client's buffer: a safe client must discard them
    // (ours would see them here) before the handshake.
    let injected = String::from_utf8_lossy(c.reader.buffer()).into_owned();
    assert_eq!(
        injected,
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
    );
    let mut tls = imap_support::tls_over(&h, c.reader.into_inner()).await;
    assert!(tls.cmd("l LOGIN demo demo").await[0].starts_with("l OK"));
}

#[tokio::test]
async fn preauth_greeting() {
    let h = start().await;
    plan(
        &h,
        Faults {
            preauth: true,
            ..Faults::default()
        },
    );
    let (mut c, greeting) = Client::connect(h.imap).await;
    assert!(
        greeting.starts_with("* PREAUTH [CAPABILITY IMAP4rev1"),
        "{greeting}"
    );
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    assert!(
        c.cmd("a SELECT INBOX")
            .await
            .last()
            .unwrap()
            .starts_with("a OK")
    );
    assert!(c.cmd("b LOGIN demo demo").await[0].starts_with("b BAD"));
}

async fn quirky_session(quirks: Quirks, commands: &[&str]) -> String {
    let h = start().await;
    plan(
        &h,
        Faults {
            quirks,
            ..Faults::default()
        },
    );
    let mut c = Client::login(h.imap).await;
    let mut all = Vec::new();
    for cmd in commands {
        all.extend(c.cmd(cmd).await);
    }
    let text = all.concat();
    // Our own codec, with its default quirks, understands every answer.
    let decoded = decode_all(text.as_bytes());
    assert!(!decoded.is_empty());
    text
}

#[tokio::test]
async fn exchange_trailing_space_in_status_and_flags() {
    let text = quirky_session(
        Quirks {
            exchange_trailing_space: true,
            ..Quirks::default()
        },
        &["a STATUS INBOX (MESSAGES)", "b SELECT INBOX"],
    )
    .await;
    assert!(text.contains("* STATUS INBOX (MESSAGES 8) \r\n"), "{text}");
    assert!(text.contains("\\Draft $Forwarded) \r\n"), "{text}");
}

#[tokio::test]
async fn dovecot_negative_lines_and_mailru_nil_boundary() {
    let text = quirky_session(
        Quirks {
            negative_body_lines: true,
            nil_boundary_param: true,
            ..Quirks::default()
        },
        &["s SELECT INBOX", "f FETCH 3 BODYSTRUCTURE"],
    )
    .await;
    assert!(text.contains("\"7BIT\" 18 -1 NIL NIL NIL NIL)"), "{text}");
    assert!(
        text.contains("\"ALTERNATIVE\" (\"boundary\" NIL) NIL NIL NIL)"),
        "{text}"
    );
}

#[tokio::test]
async fn gmail_highestmodseq_without_text() {
    let text = quirky_session(
        Quirks {
            gmail_modseq_no_text: true,
            ..Quirks::default()
        },
        &["s SELECT INBOX"],
    )
    .await;
    let line = text
        .lines()
        .find(|l| l.contains("HIGHESTMODSEQ"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.starts_with("* OK [HIGHESTMODSEQ ") && line.ends_with(']'),
        "{line}"
    );
}

#[tokio::test]
async fn lowercase_keywords_and_icloud_space_before_paren() {
    let text = quirky_session(
        Quirks {
            lowercase_keywords: true,
            icloud_space_before_paren: true,
            ..Quirks::default()
        },
        &["s SELECT INBOX", "F1 UID FETCH 1 (FLAGS)"],
    )
    .await;
    assert!(
        text.contains("* 1 fetch (uid 1 flags (\\seen ))\r\n"),
        "{text}"
    );
    assert!(text.contains("F1 ok Fetch completed."), "{text}");
    assert!(text.contains("* 8 exists\r\n"), "{text}");
}

fn throttled(answer: ThrottleAnswer) -> Faults {
    Faults {
        login_throttle: Some(answer),
        ..Faults::default()
    }
}

#[tokio::test]
async fn logins_answered_with_a_throttling_answer() {
    let h = start().await;
    h.faults.push_plan(FaultPlan::new(
        throttled(ThrottleAnswer::M365Backoff { millis: 1500 }),
        2,
    ));
    h.faults
        .push_plan(FaultPlan::new(throttled(ThrottleAnswer::GmailNo), 1));
    h.faults.push_plan(FaultPlan::new(
        throttled(ThrottleAnswer::M365NotConnected),
        1,
    ));
    h.faults
        .push_plan(FaultPlan::new(throttled(ThrottleAnswer::InUse), 1));
    h.faults
        .push_plan(FaultPlan::new(throttled(ThrottleAnswer::GmailBye), 1));
    // The next N connections: LOGIN and AUTHENTICATE alike.
    let (mut c, _) = Client::connect(h.imap).await;
    assert_eq!(
        c.cmd("a LOGIN demo demo").await,
        ["a NO Request is throttled. Suggested Backoff Time: 1500 milliseconds\r\n"]
    );
    // The session is still not logged in.
    assert!(c.cmd("b SELECT INBOX").await[0].starts_with("b BAD"));
    let (mut c, _) = Client::connect(h.imap).await;
    let plain = base64_plain("demo", "demo");
    assert_eq!(
        c.cmd(&format!("a AUTHENTICATE PLAIN {plain}")).await,
        ["a NO Request is throttled. Suggested Backoff Time: 1500 milliseconds\r\n"]
    );
    let (mut c, _) = Client::connect(h.imap).await;
    assert_eq!(
        c.cmd("a LOGIN demo demo").await,
        ["a NO [ALERT] Too many simultaneous connections. (Failure)\r\n"]
    );
    let (mut c, _) = Client::connect(h.imap).await;
    assert_eq!(
        c.cmd("a LOGIN demo demo").await,
        ["a NO User is authenticated but not connected.\r\n"]
    );
    let (mut c, _) = Client::connect(h.imap).await;
    assert_eq!(
        c.cmd("a LOGIN demo demo").await,
        ["a NO [UNAVAILABLE] Mailbox in use by another session.\r\n"]
    );
    // Gmail's BYE closes the connection.
    let (mut c, _) = Client::connect(h.imap).await;
    c.send("a LOGIN demo demo").await;
    assert_eq!(
        c.read_to_end().await,
        b"* BYE [ALERT] Too many simultaneous connections. (Failure)\r\n"
    );
    // Then logins work again; every connection's start was recorded.
    let _ = Client::login(h.imap).await;
    let starts = h.faults.session_starts();
    assert_eq!(starts.len(), 7);
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
}

fn base64_plain(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}
