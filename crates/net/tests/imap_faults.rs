//! The IMAP client against scripted loopback servers: STARTTLS injection and PREAUTH
//! refused, no credential before TLS, timeouts, a drop in the middle of a literal,
//! synchronizing literals, XOAUTH2 failures, unsolicited responses, UID set splitting,
//! abandoned streams and IDLE renewal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_peer;

use imap_peer::{Reply, greeting, logged_in, normal, plain, serve};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use inbound_net::imap::{AuthMethod, IdleEvent, ImapClient, ImapConfig, ImapError, Unsolicited};
use inbound_net::oauth::{AccessToken, TokenFuture, TokenProvider};
use inbound_net::sasl::Mechanism;
use inbound_net::{ConnectError, Credentials, Error, Security};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

#[tokio::test]
async fn starttls_injection_is_refused() {
    let (port, seen) = serve(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
        |tag, command| match command {
            // The go-ahead and an injected line in the same segment.
            "STARTTLS" => Reply::Send(format!(
                "{tag} OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
            )),
            _ => Reply::Send(format!("{tag} BAD no\r\n")),
        },
    )
    .await;
    let config = ImapConfig::new("localhost", Security::StartTls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = ImapClient::connect(&config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect(ConnectError::StartTlsInjection { buffered }) if buffered > 0
        ),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "only STARTTLS was sent");
}

#[tokio::test]
async fn preauth_is_refused_when_tls_is_required() {
    let (port, seen) = serve(
        "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome back\r\n",
        |tag, _| Reply::Send(format!("{tag} OK\r\n")),
    )
    .await;
    let config = ImapConfig::new("localhost", Security::StartTls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = ImapClient::connect(&config).await.unwrap_err();
    assert!(
        matches!(err, Error::Imap(ImapError::PreauthRefused)),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn preauth_is_accepted_over_chosen_plaintext() {
    let (port, _) = serve(
        "* PREAUTH [CAPABILITY IMAP4rev1] welcome back\r\n",
        normal(|tag, _| Reply::Send(format!("{tag} OK\r\n"))),
    )
    .await;
    let mut client = ImapClient::connect(&plain(port)).await.unwrap();
    assert!(client.is_authenticated());
    assert_eq!(client.select("INBOX").await.unwrap().exists, 3);
}

#[tokio::test]
async fn no_credentials_without_starttls() {
    // STARTTLS not offered: the client stops before sending anything secret.
    let (port, seen) = serve(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        |tag, _| Reply::Send(format!("{tag} OK\r\n")),
    )
    .await;
    let config = ImapConfig::new("localhost", Security::StartTls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = ImapClient::connect(&config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::StartTlsNotOffered { text: None })
        ),
        "{err}"
    );
    // STARTTLS refused.
    let (port, seen2) = serve(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
        |tag, _| Reply::Send(format!("{tag} NO [UNAVAILABLE] TLS is broken today\r\n")),
    )
    .await;
    let config = ImapConfig::new("localhost", Security::StartTls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = ImapClient::connect(&config).await.unwrap_err();
    match err {
        Error::Imap(ImapError::StartTlsNotOffered { text: Some(t) }) => {
            assert!(t.contains("broken"));
        }
        other => panic!("{other}"),
    }
    for line in seen
        .lock()
        .unwrap()
        .iter()
        .chain(seen2.lock().unwrap().iter())
    {
        assert!(
            !line.contains("LOGIN") && !line.contains("AUTHENTICATE"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn bye_greeting_is_an_error() {
    let (port, _) = serve("* BYE too many connections\r\n", |_, _| Reply::Silence).await;
    let err = ImapClient::connect(&plain(port)).await.unwrap_err();
    match err {
        Error::Imap(ImapError::Bye { text }) => assert_eq!(text, "too many connections"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_bye_keeps_its_response_code() {
    let (port, _) = serve("* BYE [UNAVAILABLE] Temporary System Error\r\n", |_, _| {
        Reply::Silence
    })
    .await;
    let err = ImapClient::connect(&plain(port)).await.unwrap_err();
    match err {
        Error::Imap(ImapError::Bye { text }) => {
            assert_eq!(text, "[UNAVAILABLE] Temporary System Error");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn greeting_timeout() {
    let (port, _) = serve("", |_, _| Reply::Silence).await;
    let config = plain(port).with_timeout(Duration::from_millis(200));
    let err = ImapClient::connect(&config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::Timeout {
                during: "greeting",
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn silent_server_times_out_and_the_session_is_unusable() {
    let (port, _) = serve(greeting(), normal(|_, _| Reply::Silence)).await;
    let mut client = logged_in(port).await;
    // Virtual time from here: the 5 s response timeout passes at once.
    tokio::time::pause();
    let err = client.uid_search_all().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::Timeout { during: "UID SEARCH", timeout }) if timeout == Duration::from_secs(5)
        ),
        "{err}"
    );
    assert!(!client.is_usable());
    let err = client.noop().await.unwrap_err();
    assert!(
        matches!(err, Error::Imap(ImapError::Unusable { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn idle_done_times_out() {
    let (port, _) = serve(
        greeting(),
        normal(|_, command| match command {
            "IDLE" => Reply::Send("+ idling\r\n".into()),
            _ => Reply::Silence,
        }),
    )
    .await;
    let mut client = logged_in(port).await;
    let mut idle = client.idle().await.unwrap();
    tokio::time::pause();
    assert_eq!(
        idle.next_event(Duration::from_secs(60)).await.unwrap(),
        IdleEvent::Timeout
    );
    // The server ignores DONE.
    let err = idle.done().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::Timeout {
                during: "IDLE DONE",
                ..
            })
        ),
        "{err}"
    );
    assert!(!client.is_usable());
}

#[tokio::test]
async fn drop_in_the_middle_of_a_literal_gives_no_partial_message() {
    let (port, _) = serve(
        greeting(),
        normal(|_, command| {
            if command.starts_with("UID FETCH") {
                Reply::Close(
                    "* 1 FETCH (UID 1 RFC822.SIZE 5 BODY[] {5}\r\nfirst)\r\n\
                     * 2 FETCH (UID 2 RFC822.SIZE 100 BODY[] {100}\r\nonly the start of it"
                        .into(),
                )
            } else {
                Reply::Silence
            }
        }),
    )
    .await;
    let mut client = logged_in(port).await;
    let mut stream = client.uid_fetch_bodies(&[1, 2]).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!((first.uid, &first.body[..]), (1, &b"first"[..]));
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::ConnectionClosed {
                during: "UID FETCH"
            })
        ),
        "{err}"
    );
    assert!(stream.next().await.is_none());
    drop(stream);
    assert!(!client.is_usable());
}

#[tokio::test]
async fn login_sends_a_synchronizing_literal_after_the_continuation() {
    // A server without LITERAL+: the password with 8-bit characters goes as {n} and only
    // after "+".
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        write
            .write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            .await
            .unwrap();
        let mut line = String::new();
        read.read_line(&mut line).await.unwrap();
        assert_eq!(line, "A1 LOGIN alice {9}\r\n");
        // Nothing more may arrive before the continuation.
        let early = tokio::time::timeout(Duration::from_millis(100), read.read_u8()).await;
        assert!(early.is_err(), "literal sent before the continuation");
        write.write_all(b"+ go on\r\n").await.unwrap();
        let mut literal = [0u8; 11];
        read.read_exact(&mut literal).await.unwrap();
        assert_eq!(&literal, "p\u{e4}ss w\"d\r\n".as_bytes());
        write
            .write_all(b"A1 OK [CAPABILITY IMAP4rev1 IDLE] welcome\r\n")
            .await
            .unwrap();
    });
    let mut client = ImapClient::connect(&plain(port)).await.unwrap();
    let info = client
        .login(&Credentials::password("alice", "p\u{e4}ss w\"d"), None)
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Login);
    server.await.unwrap();
    // The capabilities of the tagged OK were taken, not asked again.
    assert!(client.has_capability(&inbound_net::imap::Capability::Idle));
}

#[derive(Debug, Default)]
struct CountingToken {
    invalidated: AtomicUsize,
}

impl TokenProvider for CountingToken {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async { Ok(AccessToken::new("ya29.token", None)) })
    }
    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn xoauth2_failure_is_typed_and_invalidates_the_token() {
    // base64 of {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}
    let challenge = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    let (port, seen) = serve(
        "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=PLAIN] ready\r\n",
        move |tag, command| {
            if command.starts_with("AUTHENTICATE XOAUTH2 ") {
                Reply::Send(format!("+ {challenge}\r\n"))
            } else if tag.is_empty() || command.is_empty() {
                // The client's empty answer to the error challenge.
                Reply::Send("A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n".into())
            } else {
                Reply::Send(format!("{tag} BAD\r\n"))
            }
        },
    )
    .await;
    let provider = Arc::new(CountingToken::default());
    let mut client = ImapClient::connect(&plain(port)).await.unwrap();
    let err = client
        .login(
            &Credentials::oauth("someone@example.com", provider.clone()),
            None,
        )
        .await
        .unwrap_err();
    match err {
        Error::Imap(ImapError::AuthFailed {
            method,
            text,
            oauth: Some(oauth),
            ..
        }) => {
            assert_eq!(method, AuthMethod::Sasl(Mechanism::XOAuth2));
            assert_eq!(text, "Invalid credentials");
            assert_eq!(oauth.status, "401");
            assert_eq!(oauth.scope.as_deref(), Some("https://mail.google.com/"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(provider.invalidated.load(Ordering::SeqCst), 1);
    let lines = seen.lock().unwrap().clone();
    // SASL-IR: the initial response went with the command.
    assert!(lines[0].starts_with("A1 AUTHENTICATE XOAUTH2 dXNlcj1zb21lb25l"));
    assert_eq!(lines[1], "");
}

#[tokio::test]
async fn authenticate_plain_without_sasl_ir_waits_for_the_challenge() {
    let (port, seen) = serve(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] ready\r\n",
        |tag, command| match (tag, command) {
            (_, "AUTHENTICATE PLAIN") => Reply::Send("+ \r\n".into()),
            ("AGFsaWNlAHNlY3JldA==", "") => {
                Reply::Send("A1 OK [CAPABILITY IMAP4rev1 MOVE] ok\r\n".into())
            }
            _ => Reply::Send(format!("{tag} BAD\r\n")),
        },
    )
    .await;
    let mut client = ImapClient::connect(&plain(port)).await.unwrap();
    let info = client
        .login(&Credentials::password("alice", "secret"), None)
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Sasl(Mechanism::Plain));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn unsolicited_responses_are_delivered() {
    let (port, _) = serve(
        greeting(),
        normal(|tag, command| match command {
            "NOOP" => Reply::Send(format!(
                "* 4 EXISTS\r\n* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))\r\n\
                 * OK [ALERT] maintenance at noon\r\n* 1 EXPUNGE\r\n{tag} OK done\r\n"
            )),
            c if c.starts_with("UID SEARCH") => {
                Reply::Send(format!("* SEARCH 3 1\r\n* 5 EXISTS\r\n{tag} OK done\r\n"))
            }
            _ => Reply::Send(format!("{tag} BAD\r\n")),
        }),
    )
    .await;
    let mut client = logged_in(port).await;
    assert_eq!(client.uid_search_all().await.unwrap(), vec![1, 3]);
    let events = client.noop().await.unwrap();
    assert_eq!(
        events,
        vec![
            Unsolicited::Exists(5),
            Unsolicited::Exists(4),
            Unsolicited::Fetch {
                seq: 2,
                uid: Some(2),
                flags: Some(vec![
                    inbound_net::imap::Flag::Seen,
                    inbound_net::imap::Flag::Flagged
                ]),
            },
            Unsolicited::Alert("maintenance at noon".into()),
            Unsolicited::Expunge(1),
        ]
    );
    assert!(client.take_unsolicited().is_empty());
}

#[tokio::test]
async fn long_uid_sets_are_split_under_the_line_limit() {
    let (port, seen) = serve(
        greeting(),
        normal(|tag, command| {
            if let Some(rest) = command.strip_prefix("UID FETCH ") {
                let set = rest.split(' ').next().unwrap();
                let mut out = String::new();
                for (i, uid) in set.split(',').enumerate() {
                    out.push_str(&format!(
                        "* {} FETCH (UID {uid} RFC822.SIZE 2 BODY[] {{2}}\r\nhi)\r\n",
                        i + 1
                    ));
                }
                out.push_str(&format!("{tag} OK done\r\n"));
                Reply::Send(out)
            } else {
                Reply::Send(format!("{tag} BAD\r\n"))
            }
        }),
    )
    .await;
    let mut client = ImapClient::connect(&plain(port).with_max_line_len(256))
        .await
        .unwrap();
    client
        .login(&Credentials::password("alice", "secret"), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    let uids: Vec<u32> = (1..=400).map(|i| i * 2).collect();
    let mut stream = client.uid_fetch_bodies(&uids).unwrap();
    let mut got = Vec::new();
    while let Some(m) = stream.next().await {
        got.push(m.unwrap().uid);
    }
    assert_eq!(got, uids);
    let lines = seen.lock().unwrap().clone();
    let fetches: Vec<&String> = lines.iter().filter(|l| l.contains("UID FETCH")).collect();
    assert!(fetches.len() > 5, "{}", fetches.len());
    for l in fetches {
        assert!(l.len() + 2 <= 256, "{} octets", l.len() + 2);
    }
}

#[tokio::test]
async fn an_abandoned_fetch_is_drained_before_the_next_command() {
    let (port, _) = serve(
        greeting(),
        normal(|tag, command| {
            if command.starts_with("UID FETCH") {
                Reply::Send(format!(
                    "* 1 FETCH (UID 1 BODY[] {{3}}\r\none)\r\n* 2 FETCH (UID 2 BODY[] {{3}}\r\ntwo)\r\n\
                     * 3 FETCH (FLAGS (\\Deleted))\r\n* 3 FETCH (UID 3 BODY[] {{5}}\r\nthree)\r\n{tag} OK done\r\n"
                ))
            } else if command == "NOOP" {
                Reply::Send(format!("{tag} OK noop\r\n"))
            } else {
                Reply::Send(format!("{tag} BAD\r\n"))
            }
        }),
    )
    .await;
    let mut client = logged_in(port).await;
    {
        let mut stream = client.uid_fetch_bodies(&[1, 2, 3]).unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap().uid, 1);
    }
    // The other answers are read and dropped; the flag change is kept.
    let events = client.noop().await.unwrap();
    assert_eq!(
        events,
        vec![Unsolicited::Fetch {
            seq: 3,
            uid: None,
            flags: Some(vec![inbound_net::imap::Flag::Deleted]),
        }]
    );
}

#[tokio::test]
async fn idle_reports_and_is_renewed() {
    let idles = Arc::new(AtomicUsize::new(0));
    let count = idles.clone();
    let (port, seen) = serve(
        greeting(),
        normal(move |tag, command| match (tag, command) {
            (_, "IDLE") => {
                let n = count.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    Reply::Send("+ idling\r\n* 4 EXISTS\r\n".into())
                } else {
                    Reply::Send("+ idling again\r\n* 2 EXPUNGE\r\n".into())
                }
            }
            ("DONE", "") => {
                let n = count.load(Ordering::SeqCst);
                Reply::Send(format!("A{} OK idle done\r\n", n + 2))
            }
            _ => Reply::Send(format!("{tag} BAD\r\n")),
        }),
    )
    .await;
    let config = plain(port).with_idle_renewal(Duration::from_millis(300));
    let mut client = ImapClient::connect(&config).await.unwrap();
    client
        .login(&Credentials::password("alice", "secret"), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    let mut idle = client.idle().await.unwrap();
    assert_eq!(
        idle.next_event(Duration::from_secs(2)).await.unwrap(),
        IdleEvent::Exists(4)
    );
    // Nothing more within 100 ms.
    assert_eq!(
        idle.next_event(Duration::from_millis(100)).await.unwrap(),
        IdleEvent::Timeout
    );
    // Waiting past the renewal: DONE, IDLE again, and the new report.
    assert_eq!(
        idle.next_event(Duration::from_secs(2)).await.unwrap(),
        IdleEvent::Expunge(2)
    );
    idle.done().await.unwrap();
    assert_eq!(idles.load(Ordering::SeqCst), 2);
    let lines = seen.lock().unwrap().clone();
    assert_eq!(lines.iter().filter(|l| *l == "DONE").count(), 2);
}
