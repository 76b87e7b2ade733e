//! The IMAP session over the wire: commands, sequence numbers across sessions, IDLE, SASL
//! and transcripts, checked with a raw line client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imap_support::{Client, joined, start, start_with};
use inbound_test_server::mailstore::Flag;

#[tokio::test]
async fn greeting_login_select_and_capabilities() {
    let h = start().await;
    let (mut c, greeting) = Client::connect(h.imap).await;
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{greeting}"
    );
    for cap in [
        "STARTTLS",
        "AUTH=PLAIN",
        "AUTH=LOGIN",
        "AUTH=XOAUTH2",
        "AUTH=OAUTHBEARER",
        "SASL-IR",
        "IDLE",
        "MOVE",
        "UIDPLUS",
        "LITERAL+",
        "ENABLE",
        "ID",
    ] {
        assert!(greeting.contains(&format!(" {cap}")), "{cap} in {greeting}");
    }
    assert!(!greeting.contains("LOGINDISABLED"));
    let r = c.cmd("a1 LOGIN demo wrong").await;
    assert_eq!(
        r,
        ["a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"]
    );
    let r = c.cmd("a2 LOGIN demo demo").await;
    assert!(r[0].starts_with("a2 OK [CAPABILITY IMAP4rev1"), "{r:?}");
    assert!(
        !r[0].contains("STARTTLS") && !r[0].contains("AUTH="),
        "{r:?}"
    );
    let r = joined(&c.cmd("a3 SELECT inbox").await);
    assert!(r.contains("* 8 EXISTS\r\n"), "{r}");
    assert!(r.contains("* OK [UIDVALIDITY 1000]"), "{r}");
    assert!(r.contains("* OK [UIDNEXT 9]"), "{r}");
    assert!(r.contains("* OK [UNSEEN 2]"), "{r}");
    assert!(
        r.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)"),
        "{r}"
    );
    assert!(r.contains("a3 OK [READ-WRITE] Select completed."), "{r}");
    let r = joined(&c.cmd("a4 LIST \"\" *").await);
    assert!(
        r.contains("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"),
        "{r}"
    );
    let r = joined(&c.cmd("a5 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)").await);
    assert!(
        r.contains("* STATUS INBOX (MESSAGES 8 UNSEEN 7 UIDNEXT 9)\r\n"),
        "{r}"
    );
    let r = joined(&c.cmd("a6 ID NIL").await);
    assert!(r.contains("* ID (\"name\" \"inbound-test-server\""), "{r}");
    let r = c.cmd("a7 FETCH 9 FLAGS").await;
    assert!(r[0].starts_with("a7 BAD"), "{r:?}");
    let r = joined(&c.cmd("a8 LOGOUT").await);
    assert!(r.starts_with("* BYE"), "{r}");
}

#[tokio::test]
async fn body_sets_seen_and_peek_does_not() {
    let h = start().await;
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    let r = c.cmd("f1 UID FETCH 2 (BODY.PEEK[] FLAGS)").await;
    assert!(r[0].starts_with("* 2 FETCH (UID 2 BODY[] {"), "{r:?}");
    assert!(r[0].contains("FLAGS ())"), "{r:?}");
    let seen = |h: &imap_support::Harness| {
        h.store.messages("demo", "INBOX").unwrap()[1]
            .flags
            .contains(&Flag::Seen)
    };
    assert!(!seen(&h));
    let r = c.cmd("f2 FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]").await;
    assert!(
        r[0].contains("BODY[HEADER.FIELDS (SUBJECT)] {31}\r\nSubject: An HTML newsletter\r\n\r\n"),
        "{r:?}"
    );
    assert!(r[0].contains("FLAGS (\\Seen)"), "{r:?}");
    assert!(seen(&h));
    // RFC822.SIZE, INTERNALDATE and partial fetches.
    let r = c
        .cmd("f3 FETCH 1 (RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.6>)")
        .await;
    let size = h.store.messages("demo", "INBOX").unwrap()[0].raw.len();
    assert!(r[0].contains(&format!("RFC822.SIZE {size}")), "{r:?}");
    assert!(
        r[0].contains("INTERNALDATE \"01-Mar-2024 09:00:00 +0000\""),
        "{r:?}"
    );
    assert!(r[0].contains("BODY[]<0> {6}\r\nDate: "), "{r:?}");
}

#[tokio::test]
async fn bodystructure_and_envelope_of_the_sample_mailbox() {
    let h = start().await;
    let mut c = Client::login(h.imap).await;
    c.cmd("s EXAMINE INBOX").await;
    let r = c.cmd("f FETCH 1:8 (BODYSTRUCTURE ENVELOPE)").await;
    assert_eq!(r.len(), 9, "{r:?}");
    assert!(
        r[2].contains(
            "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 18 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\""
        ),
        "{}",
        r[2]
    );
    assert!(
        r[2].contains("\"ALTERNATIVE\" (\"boundary\" \"alt-3\") NIL NIL NIL)"),
        "{}",
        r[2]
    );
    assert!(r[3].contains("(\"APPLICATION\" \"PDF\" (\"name\" \"report.pdf\") NIL NIL \"BASE64\""));
    assert!(r[3].contains("(\"attachment\" (\"filename\" \"report.pdf\"))"));
    assert!(r[4].contains("\"RELATED\" (\"boundary\" \"related-5\" \"type\" \"text/html\")"));
    assert!(r[4].contains(
        "(\"IMAGE\" \"PNG\" (\"name\" \"logo.png\") \"<logo@example.test>\" NIL \"BASE64\""
    ));
    assert!(
        r[0].contains("ENVELOPE (\"Fri, 01 Mar 2024 09:00:00 +0000\" \"Welcome to Inbound\" ((\"Alice Example\" NIL \"alice\" \"example.test\"))"),
        "{}",
        r[0]
    );
    assert!(r[8].starts_with("f OK"));
    // A part of a multipart, its MIME header, and BINARY decoding of base64.
    let r = c
        .cmd("g FETCH 4 (BODY.PEEK[3] BODY.PEEK[2.MIME] BINARY.PEEK[2])")
        .await;
    assert!(
        r[0].contains("BODY[3] {30}\r\n1. Read the report.\r\n2. Reply."),
        "{r:?}"
    );
    assert!(r[0].contains("BODY[2.MIME] {"), "{r:?}");
    assert!(
        r[0].contains("BINARY[2] {") && r[0].contains("%PDF-1.4"),
        "{r:?}"
    );
}

#[tokio::test]
async fn search_and_esearch() {
    let h = start().await;
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    let one = |r: Vec<String>| r[0].clone();
    assert_eq!(one(c.cmd("a SEARCH SEEN").await), "* SEARCH 1\r\n");
    assert_eq!(
        one(c.cmd("b UID SEARCH UNSEEN").await),
        "* SEARCH 2 3 4 5 6 7 8\r\n"
    );
    assert_eq!(one(c.cmd("c SEARCH FLAGGED").await), "* SEARCH 3\r\n");
    assert_eq!(one(c.cmd("d SEARCH FROM bob").await), "* SEARCH 4 5\r\n");
    assert_eq!(
        one(c.cmd("e SEARCH SUBJECT \"welcome\"").await),
        "* SEARCH 1 8\r\n"
    );
    assert_eq!(
        one(c.cmd("f SEARCH SINCE 7-Mar-2024").await),
        "* SEARCH 7 8\r\n"
    );
    assert_eq!(
        one(c.cmd("g SEARCH BEFORE 2-Mar-2024").await),
        "* SEARCH 1\r\n"
    );
    assert_eq!(one(c.cmd("h SEARCH ON 4-Mar-2024").await), "* SEARCH 4\r\n");
    assert_eq!(
        one(c.cmd("i SEARCH OR FLAGGED SEEN NOT DELETED").await),
        "* SEARCH 1 3\r\n"
    );
    assert_eq!(
        one(c.cmd("j SEARCH BODY \"plain version\"").await),
        "* SEARCH 3\r\n"
    );
    assert_eq!(
        one(c.cmd("k SEARCH HEADER In-Reply-To sample-1").await),
        "* SEARCH 8\r\n"
    );
    let sizes: Vec<usize> = h
        .store
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.raw.len())
        .collect();
    let want: String = (1..=8)
        .filter(|&n| sizes[n - 1] > 600 && sizes[n - 1] < 1000)
        .map(|n| format!(" {n}"))
        .collect();
    assert_eq!(
        one(c.cmd("l SEARCH LARGER 600 SMALLER 1000").await),
        format!("* SEARCH{want}\r\n")
    );
    assert_eq!(
        one(c.cmd("m SEARCH TEXT \"report.pdf\" UID 1:4").await),
        "* SEARCH 4\r\n"
    );
    assert_eq!(
        one(c.cmd("n SEARCH KEYWORD $Forwarded").await),
        "* SEARCH 8\r\n"
    );
    assert_eq!(one(c.cmd("o SEARCH DELETED").await), "* SEARCH\r\n");
    assert_eq!(
        one(c
            .cmd("p UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
            .await),
        "* ESEARCH (TAG \"p\") UID MIN 2 MAX 8 ALL 2:8 COUNT 7\r\n"
    );
    assert_eq!(
        one(c.cmd("q SEARCH RETURN () DELETED").await),
        "* ESEARCH (TAG \"q\")\r\n"
    );
    let r = c.cmd("r SEARCH CHARSET KOI8-R ALL").await;
    assert!(r[0].starts_with("r NO [BADCHARSET"), "{r:?}");
}

#[tokio::test]
async fn append_copy_move_expunge_with_uidplus() {
    let h = start().await;
    let mut c = Client::login(h.imap).await;
    assert!(c.cmd("a CREATE Archive/2024").await[0].starts_with("a OK"));
    let r = joined(&c.cmd("b LIST \"\" Archive*").await);
    assert!(
        r.contains("* LIST (\\HasChildren \\Archive) \"/\" Archive\r\n"),
        "{r}"
    );
    assert!(
        r.contains("* LIST (\\HasNoChildren) \"/\" Archive/2024\r\n"),
        "{r}"
    );
    c.cmd("s SELECT INBOX").await;
    // APPEND with a synchronizing literal: the server must send "+" first.
    let msg = "Subject: appended\r\n\r\nhello\r\n";
    c.send(&format!("c APPEND INBOX (\\Seen) {{{}}}", msg.len()))
        .await;
    let cont = c.line().await.unwrap();
    assert!(cont.starts_with("+ "), "{cont}");
    c.send(msg).await;
    let r = c.until_tag("c").await;
    assert_eq!(
        r,
        [
            "* 9 EXISTS\r\n",
            "c OK [APPENDUID 1000 9] Append completed.\r\n"
        ]
    );
    // LITERAL+ needs no continuation.
    c.send(&format!("d APPEND Archive {{{}+}}\r\n{msg}", msg.len()))
        .await;
    let r = c.until_tag("d").await;
    assert!(r[0].starts_with("d OK [APPENDUID 1001 1]"), "{r:?}");
    let r = c.cmd("e UID COPY 1:2 Archive").await;
    assert_eq!(r, ["e OK [COPYUID 1001 1,2 2,3] Copy completed.\r\n"]);
    let r = c.cmd("f UID MOVE 3,5 Archive/2024").await;
    assert_eq!(
        r,
        [
            "* OK [COPYUID 1002 3,5 1,2] Moved UIDs.\r\n",
            "* 3 EXPUNGE\r\n",
            "* 4 EXPUNGE\r\n",
            "f OK Move completed.\r\n"
        ]
    );
    let r = c.cmd("g COPY 1 Nowhere").await;
    assert_eq!(r, ["g NO [TRYCREATE] Mailbox doesn't exist.\r\n"]);
    c.cmd("h UID STORE 1,2,9 +FLAGS.SILENT (\\Deleted)").await;
    // UID EXPUNGE removes only the given UIDs.
    let r = c.cmd("i UID EXPUNGE 2:9").await;
    assert_eq!(
        r,
        [
            "* 2 EXPUNGE\r\n",
            "* 6 EXPUNGE\r\n",
            "i OK Expunge completed.\r\n"
        ]
    );
    let uids: Vec<u32> = h
        .store
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, [1, 4, 6, 7, 8]);
    let r = c.cmd("j EXPUNGE").await;
    assert_eq!(r, ["* 1 EXPUNGE\r\n", "j OK Expunge completed.\r\n"]);
    let r = c.cmd("k STORE 1 FLAGS (\\Flagged)").await;
    assert_eq!(r[0], "* 1 FETCH (FLAGS (\\Flagged))\r\n");
    assert!(c.cmd("l CLOSE").await[0].starts_with("l OK"));
    assert!(c.cmd("m FETCH 1 UID").await[0].starts_with("m BAD"));
}

#[tokio::test]
async fn other_sessions_see_expunge_exists_and_flags_with_their_own_numbers() {
    let h = start().await;
    let mut a = Client::login(h.imap).await;
    let mut b = Client::login(h.imap).await;
    a.cmd("s SELECT INBOX").await;
    b.cmd("s SELECT INBOX").await;
    a.cmd("a1 STORE 2,4 +FLAGS (\\Deleted)").await;
    let r = a.cmd("a2 EXPUNGE").await;
    assert_eq!(
        r,
        [
            "* 2 EXPUNGE\r\n",
            "* 3 EXPUNGE\r\n",
            "a2 OK Expunge completed.\r\n"
        ]
    );
    h.store
        .deliver("demo", "INBOX", &b"Subject: new\r\n\r\nx\r\n"[..])
        .unwrap();
    // FETCH must not report expunges: b keeps its numbers (sequence 4 is still UID 4's slot).
    let r = b.cmd("b1 FETCH 5 UID").await;
    assert!(r.contains(&"* 5 FETCH (UID 5)\r\n".to_owned()), "{r:?}");
    // The new message is announced at once; the expunged ones keep their numbers.
    assert!(r.contains(&"* 9 EXISTS\r\n".to_owned()), "{r:?}");
    assert!(!joined(&r).contains("EXPUNGE"), "{r:?}");
    // NOOP reports the expunges, in b's numbering.
    let r = b.cmd("b2 NOOP").await;
    assert_eq!(
        r,
        [
            "* 2 EXPUNGE\r\n",
            "* 3 EXPUNGE\r\n",
            "b2 OK NOOP completed.\r\n"
        ]
    );
    // A flag change by a is reported to b as an unsolicited FETCH.
    a.cmd("a3 STORE 1 -FLAGS (\\Seen)").await;
    let r = b.cmd("b4 NOOP").await;
    assert_eq!(r[0], "* 1 FETCH (FLAGS () UID 1)\r\n");
    let r = b.cmd("b3 FETCH 7 UID").await;
    assert_eq!(r[0], "* 7 FETCH (UID 9)\r\n");
}

#[tokio::test]
async fn idle_hears_a_delivery_within_100ms() {
    let h = start().await;
    let mut c = Client::login(h.imap).await;
    c.cmd("s SELECT INBOX").await;
    c.send("i IDLE").await;
    assert_eq!(c.line().await.unwrap(), "+ idling\r\n");
    for n in 9..12 {
        let start = Instant::now();
        h.store
            .deliver("demo", "INBOX", &b"Subject: ping\r\n\r\nx\r\n"[..])
            .unwrap();
        let line = c.line().await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(line, format!("* {n} EXISTS\r\n"));
        assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    }
    // Another session's expunge and flag change reach the idler too.
    let mut other = Client::login(h.imap).await;
    other.cmd("s SELECT INBOX").await;
    other.cmd("t STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(
        c.line().await.unwrap(),
        "* 1 FETCH (FLAGS (\\Seen \\Deleted) UID 1)\r\n"
    );
    other.cmd("u EXPUNGE").await;
    assert_eq!(c.line().await.unwrap(), "* 1 EXPUNGE\r\n");
    c.send("DONE").await;
    assert_eq!(c.until_tag("i").await, ["i OK Idle completed.\r\n"]);
}

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

#[tokio::test]
async fn xoauth2_and_oauthbearer_accept_issued_tokens_and_refuse_others_like_exchange() {
    let h = start().await;
    let token = h.registry.issue_token("demo", Duration::from_secs(60));
    let (mut c, _) = Client::connect(h.imap).await;
    let r = c
        .cmd(&format!(
            "a AUTHENTICATE XOAUTH2 {}",
            xoauth2("demo", &token)
        ))
        .await;
    assert!(r[0].starts_with("a OK [CAPABILITY"), "{r:?}");

    let error = STANDARD.encode(
        r#"{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/.default"}"#,
    );
    let expired = h.registry.issue_token("demo", Duration::from_secs(60));
    h.registry.expire_now(&expired);
    for bad in [expired.as_str(), "never-issued"] {
        let (mut c, _) = Client::connect(h.imap).await;
        c.send(&format!("b AUTHENTICATE XOAUTH2 {}", xoauth2("demo", bad)))
            .await;
        assert_eq!(c.line().await.unwrap(), format!("+ {error}\r\n"));
        c.send("").await;
        assert_eq!(
            c.until_tag("b").await,
            ["b NO [AUTHENTICATIONFAILED] AUTHENTICATE failed.\r\n"]
        );
    }
    // OAUTHBEARER without SASL-IR: empty challenge first; the failure answer is ^A.
    let (mut c, _) = Client::connect(h.imap).await;
    c.send("c AUTHENTICATE OAUTHBEARER").await;
    assert_eq!(c.line().await.unwrap(), "+ \r\n");
    let gs2 = |t: &str| {
        STANDARD.encode(format!(
            "n,a=demo,\x01host=127.0.0.1\x01port=143\x01auth=Bearer {t}\x01\x01"
        ))
    };
    c.send(&gs2("nope")).await;
    assert_eq!(c.line().await.unwrap(), format!("+ {error}\r\n"));
    c.send(&STANDARD.encode("\x01")).await;
    assert_eq!(
        c.until_tag("c").await,
        ["c NO [AUTHENTICATIONFAILED] AUTHENTICATE failed.\r\n"]
    );
    let r = c
        .cmd(&format!("d AUTHENTICATE OAUTHBEARER {}", gs2(&token)))
        .await;
    assert!(r[0].starts_with("d OK"), "{r:?}");
    // A token of someone else without a grant is refused.
    let alien = h.registry.issue_token("mallory", Duration::from_secs(60));
    let (mut c, _) = Client::connect(h.imap).await;
    c.send(&format!(
        "e AUTHENTICATE XOAUTH2 {}",
        xoauth2("demo", &alien)
    ))
    .await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send("").await;
    assert!(c.until_tag("e").await[0].starts_with("e NO"));
}

#[tokio::test]
async fn plain_and_login_mechanisms_and_transcript_redaction() {
    let h = start().await;
    let (mut c, _) = Client::connect(h.imap).await;
    let r = c
        .cmd(&format!(
            "a AUTHENTICATE PLAIN {}",
            STANDARD.encode("\0demo\0demo")
        ))
        .await;
    assert!(r[0].starts_with("a OK"), "{r:?}");
    let (mut c, _) = Client::connect(h.imap).await;
    c.send("b AUTHENTICATE LOGIN").await;
    assert_eq!(
        c.line().await.unwrap(),
        format!("+ {}\r\n", STANDARD.encode("Username:"))
    );
    c.send(&STANDARD.encode("demo")).await;
    assert_eq!(
        c.line().await.unwrap(),
        format!("+ {}\r\n", STANDARD.encode("Password:"))
    );
    c.send(&STANDARD.encode("demo")).await;
    assert!(c.until_tag("b").await[0].starts_with("b OK"));
    let (mut c, _) = Client::connect(h.imap).await;
    c.send("c LOGIN demo {4}").await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send("demo").await;
    assert!(c.until_tag("c").await[0].starts_with("c OK"));
    let text = h.transcript.text();
    assert!(
        text.contains("C: a AUTHENTICATE PLAIN [redacted]\n"),
        "{text}"
    );
    assert!(text.contains("C: c LOGIN demo [redacted]\n"), "{text}");
    assert!(!text.contains("ZGVtbw"), "{text}");
    assert!(!text.contains("AGRlbW8AZGVtbw"), "{text}");
    assert!(text.contains("S: c OK [CAPABILITY"), "{text}");
}

#[tokio::test]
async fn login_disabled_before_tls_and_starttls_then_login() {
    let h = start_with(|c| c.login_disabled_before_tls(true)).await;
    let (mut c, greeting) = Client::connect(h.imap).await;
    assert!(
        greeting.contains(" STARTTLS") && greeting.contains(" LOGINDISABLED"),
        "{greeting}"
    );
    assert!(!greeting.contains("AUTH=PLAIN"), "{greeting}");
    let r = c.cmd("a LOGIN demo demo").await;
    assert!(r[0].starts_with("a NO [PRIVACYREQUIRED]"), "{r:?}");
    let r = c.cmd("b AUTHENTICATE PLAIN AGRlbW8AZGVtbw==").await;
    assert!(r[0].starts_with("b NO [PRIVACYREQUIRED]"), "{r:?}");
    let r = c.cmd("c STARTTLS").await;
    assert_eq!(r, ["c OK Begin TLS negotiation now.\r\n"]);
    let mut tls = imap_support::tls_client(&h, c).await;
    let r = tls.cmd("d CAPABILITY").await;
    assert!(
        !r[0].contains("STARTTLS") && !r[0].contains("LOGINDISABLED"),
        "{r:?}"
    );
    assert!(r[0].contains("AUTH=PLAIN"), "{r:?}");
    assert!(tls.cmd("e LOGIN demo demo").await[0].starts_with("e OK"));
    let r = tls.cmd("f STARTTLS").await;
    assert!(r[0].starts_with("f BAD"), "{r:?}");
}
