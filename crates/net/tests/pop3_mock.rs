//! The POP3 client against scripted servers on loopback: STLS injection, timeouts, drops in
//! the middle of a message, SASL exchanges, pipelining, limits, trace redaction.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inbound_net::oauth::{AccessToken, TokenFuture, TokenProvider};
use inbound_net::pop3::{AuthMethod, MessageNumber, Pop3Client, Pop3Config, ResponseCode};
use inbound_net::sasl::Mechanism;
use inbound_net::{ConnectError, Credentials, Error, Pop3Error, Security};
use tokio::io::AsyncReadExt as _;

mod pop3_peer;
use pop3_peer::{Peer, plaintext, serve};

/// Greeting, CAPA with `caps`, and USER/PASS login accepted.
async fn logged_in(peer: &mut Peer, caps: &str) {
    peer.send(b"+OK ready\r\n").await;
    peer.expect("CAPA").await;
    peer.send(format!("+OK\r\n{caps}.\r\n").as_bytes()).await;
    peer.expect("USER alice").await;
    peer.send(b"+OK\r\n").await;
    peer.expect("PASS pw").await;
    peer.send(b"+OK logged in\r\n").await;
    peer.expect("CAPA").await;
    peer.send(format!("+OK\r\n{caps}.\r\n").as_bytes()).await;
}

async fn login(port: u16) -> Pop3Client {
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    client
        .login(
            &Credentials::password("alice", "pw"),
            Some(AuthMethod::UserPass),
        )
        .await
        .unwrap();
    client
}

fn pop3_err(result: Result<impl std::fmt::Debug, Error>) -> Pop3Error {
    match result {
        Err(Error::Pop3(e)) => e,
        other => panic!("expected a POP3 error, got {other:?}"),
    }
}

#[tokio::test]
async fn stls_reply_with_injected_bytes_is_refused() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nSTLS\r\nUSER\r\n.\r\n").await;
        peer.expect("STLS").await;
        // The go-ahead and an injected answer in one write, in plaintext.
        peer.send(b"+OK Begin TLS\r\n+OK injected\r\n").await;
        while peer.line().await.is_some() {}
    })
    .await;
    let config = Pop3Config::new("127.0.0.1", Security::StartTls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = Pop3Client::connect(&config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect(ConnectError::StartTlsInjection { buffered: 14 })
        ),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["CAPA", "STLS"]);
}

#[tokio::test]
async fn stls_not_offered_fails_before_any_credential() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready <1.2@host>\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n").await;
        while peer.line().await.is_some() {}
    })
    .await;
    let config = Pop3Config::new("127.0.0.1", Security::StartTls).with_port(port);
    let err = pop3_err(Pop3Client::connect(&config).await);
    assert!(
        matches!(err, Pop3Error::StartTlsNotOffered { text: None }),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["CAPA"]);
}

#[tokio::test]
async fn stls_refused_by_a_server_without_capa() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"-ERR what?\r\n").await;
        peer.expect("STLS").await;
        peer.send(b"-ERR no TLS here\r\n").await;
        while peer.line().await.is_some() {}
    })
    .await;
    let config = Pop3Config::new("127.0.0.1", Security::StartTls).with_port(port);
    let err = pop3_err(Pop3Client::connect(&config).await);
    match err {
        Pop3Error::StartTlsNotOffered { text } => assert_eq!(text.as_deref(), Some("no TLS here")),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["CAPA", "STLS"]);
}

#[tokio::test]
async fn refused_greeting_is_a_server_error() {
    let (port, _) = serve(|mut peer| async move {
        peer.send(b"-ERR [SYS/TEMP] too busy\r\n").await;
    })
    .await;
    let err = pop3_err(Pop3Client::connect(&plaintext(port)).await);
    match err {
        Pop3Error::ServerError {
            command,
            code,
            text,
        } => {
            assert_eq!(command, "greeting");
            assert_eq!(code, Some(ResponseCode::SysTemp));
            assert_eq!(text, "too busy");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn silent_server_greeting_times_out() {
    let (port, _) = serve(|mut peer| async move {
        // Accept, say nothing, keep the connection open.
        let _ = peer.line().await;
    })
    .await;
    let config = plaintext(port).with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = pop3_err(Pop3Client::connect(&config).await);
    assert!(
        matches!(
            err,
            Pop3Error::Timeout {
                during: "greeting",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_dead_connection_is_found_by_the_command_timeout() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        // Never answer again.
        while peer.line().await.is_some() {}
    })
    .await;
    let mut client = login(port).await;
    // Deterministic: the paused clock jumps to the 5 s timeout once everything is idle.
    tokio::time::pause();
    let err = pop3_err(client.noop().await);
    assert!(
        matches!(
            err,
            Pop3Error::Timeout {
                during: "NOOP",
                timeout
            } if timeout == Duration::from_secs(5)
        ),
        "{err:?}"
    );
    assert!(!client.is_usable());
    let err = pop3_err(client.stat().await);
    assert!(
        matches!(err, Pop3Error::Unusable { command: "STAT" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_drop_in_the_middle_of_a_message_gives_no_partial_message() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        peer.expect("RETR 1").await;
        peer.send(b"+OK 400 octets\r\nSubject: cut\r\n\r\nfirst line\r\n")
            .await;
        // Close without the terminator.
    })
    .await;
    let mut client = login(port).await;
    let err = pop3_err(client.retr(1).await);
    assert!(
        matches!(err, Pop3Error::ConnectionClosed { during: "RETR" }),
        "{err:?}"
    );
    assert!(!client.is_usable());
    assert!(matches!(
        pop3_err(client.noop().await),
        Pop3Error::Unusable { .. }
    ));
}

#[tokio::test]
async fn streamed_message_cut_short_is_an_error_after_the_chunks() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        peer.expect("RETR 1").await;
        peer.send(b"+OK\r\nSubject: cut\r\n\r\nfirst line\r\n")
            .await;
    })
    .await;
    let mut client = login(port).await;
    let mut stream = client.retr_stream(1).await.unwrap();
    let mut got = Vec::new();
    let err = loop {
        match stream.next_chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => panic!("the message cannot be complete"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            Error::Pop3(Pop3Error::ConnectionClosed { during: "RETR" })
        ),
        "{err:?}"
    );
    assert!(b"Subject: cut\r\n\r\nfirst line\r\n".starts_with(&got));
}

#[tokio::test]
async fn streamed_retrieval_and_an_abandoned_stream() {
    let body = "Subject: big\r\n\r\n".to_owned() + &"0123456789abcdef\r\n".repeat(10_000);
    let body2 = body.clone();
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        for _ in 0..2 {
            peer.expect("RETR 1").await;
            peer.send(b"+OK\r\n").await;
            peer.send(body2.as_bytes()).await;
            peer.send(b".\r\n").await;
        }
        peer.expect("NOOP").await;
        peer.send(b"+OK\r\n").await;
        peer.expect("RETR 9").await;
        peer.send(b"-ERR no such message\r\n").await;
    })
    .await;
    let mut client = login(port).await;
    let mut stream = client.retr_stream(1).await.unwrap();
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next_chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert_eq!(got, body.as_bytes());
    assert_eq!(stream.received(), body.len() as u64);
    assert!(chunks >= 1);
    // Read one chunk of the second retrieval and drop the stream.
    {
        let mut stream = client.retr_stream(1).await.unwrap();
        assert!(stream.next_chunk().await.unwrap().is_some());
    }
    // The rest is skipped before NOOP.
    client.noop().await.unwrap();
    let err = pop3_err(client.retr_stream(9).await);
    assert!(
        matches!(err, Pop3Error::ServerError { command: "RETR", ref text, .. } if text == "no such message"),
        "{err:?}"
    );
}

#[tokio::test]
async fn commands_before_login_are_refused_locally() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"-ERR\r\n").await;
        while peer.line().await.is_some() {}
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    assert!(!client.capabilities().is_known());
    let err = pop3_err(client.retr(1).await);
    assert!(
        matches!(
            err,
            Pop3Error::WrongState {
                command: "RETR",
                state: "before login"
            }
        ),
        "{err:?}"
    );
    let err = pop3_err(client.dele(0).await);
    assert!(matches!(err, Pop3Error::InvalidArgument { .. }), "{err:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["CAPA"]);
}

#[tokio::test]
async fn listing_deleting_and_quit_commits() {
    let (port, log) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\nUIDL\r\nTOP\r\n").await;
        peer.expect("STAT").await;
        peer.send(b"+OK 2 320\r\n").await;
        peer.expect("LIST").await;
        peer.send(b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")
            .await;
        peer.expect("UIDL").await;
        peer.send(b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n")
            .await;
        peer.expect("LIST 2").await;
        peer.send(b"+OK 2 200\r\n").await;
        peer.expect("UIDL 1").await;
        peer.send(b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n").await;
        peer.expect("TOP 1 0").await;
        peer.send(b"+OK\r\nSubject: a\r\n\r\n.\r\n").await;
        peer.expect("DELE 1").await;
        peer.send(b"+OK marked\r\n").await;
        peer.expect("DELE 3").await;
        peer.send(b"-ERR no such message\r\n").await;
        peer.expect("RSET").await;
        peer.send(b"+OK\r\n").await;
        peer.expect("DELE 2").await;
        peer.send(b"+OK\r\n").await;
        peer.expect("QUIT").await;
        peer.send(b"+OK bye, 1 deleted\r\n").await;
    })
    .await;
    let mut client = login(port).await;
    let stat = client.stat().await.unwrap();
    assert_eq!((stat.count, stat.size), (2, 320));
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[1].msg.get(), list[1].size), (2, 200));
    let uidl = client.uidl().await.unwrap();
    assert_eq!(uidl[1].uid.as_str(), "QhdPYR:00WBw1Ph7x7");
    assert_eq!(client.list_one(2).await.unwrap().size, 200);
    assert_eq!(
        client.uidl_one(1).await.unwrap().uid.as_str(),
        "whqtswO00WBw418f9t5JxYwZ"
    );
    assert_eq!(&client.top(1, 0).await.unwrap()[..], b"Subject: a\r\n\r\n");
    client.dele(1).await.unwrap();
    let err = pop3_err(client.dele(3).await);
    assert!(matches!(
        err,
        Pop3Error::ServerError {
            command: "DELE",
            ..
        }
    ));
    client.rset().await.unwrap();
    client.dele(MessageNumber::new(2).unwrap()).await.unwrap();
    client.quit().await.unwrap();
    assert_eq!(log.lock().unwrap().last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn quit_error_means_deletions_were_not_committed() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        peer.expect("DELE 1").await;
        peer.send(b"+OK\r\n").await;
        peer.expect("QUIT").await;
        peer.send(b"-ERR some deleted messages not removed\r\n")
            .await;
    })
    .await;
    let mut client = login(port).await;
    client.dele(1).await.unwrap();
    let err = pop3_err(client.quit().await);
    assert!(
        matches!(
            err,
            Pop3Error::ServerError {
                command: "QUIT",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn too_large_message_is_skipped_and_the_session_goes_on() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        peer.expect("RETR 1").await;
        peer.send(b"+OK\r\n").await;
        peer.send("x".repeat(5000).as_bytes()).await;
        peer.send(b"\r\n.\r\n").await;
        peer.expect("RETR 2").await;
        peer.send(b"+OK\r\nsmall\r\n.\r\n").await;
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port).with_max_message_size(1000))
        .await
        .unwrap();
    client
        .login(&Credentials::password("alice", "pw"), None)
        .await
        .unwrap();
    let err = pop3_err(client.retr(1).await);
    assert!(
        matches!(err, Pop3Error::TooLarge { limit: 1000 }),
        "{err:?}"
    );
    assert_eq!(&client.retr(2).await.unwrap()[..], b"small\r\n");
}

fn numbers(range: std::ops::RangeInclusive<u32>) -> Vec<MessageNumber> {
    range.map(|n| MessageNumber::new(n).unwrap()).collect()
}

#[tokio::test]
async fn retr_many_pipelines_when_advertised() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\nPIPELINING\r\n").await;
        // Window 4: four commands arrive before any answer.
        for n in 1..=4 {
            peer.expect(&format!("RETR {n}")).await;
        }
        assert_eq!(peer.line_within(Duration::from_millis(100)).await, None);
        // Answer two; at half the window the client sends two more.
        for n in 1..=2 {
            peer.send(format!("+OK\r\nmessage {n}\r\n.\r\n").as_bytes())
                .await;
        }
        for n in 5..=6 {
            peer.expect(&format!("RETR {n}")).await;
        }
        for n in 3..=6 {
            if n == 4 {
                peer.send(b"-ERR [SYS/TEMP] message 4 is locked\r\n").await;
            } else {
                peer.send(format!("+OK\r\nmessage {n}\r\n.\r\n").as_bytes())
                    .await;
            }
        }
        peer.expect("NOOP").await;
        peer.send(b"+OK\r\n").await;
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port).with_pipeline_window(4))
        .await
        .unwrap();
    client
        .login(&Credentials::password("alice", "pw"), None)
        .await
        .unwrap();
    let mut batch = client.retr_many(numbers(1..=6));
    assert_eq!(batch.window(), 4);
    let mut got = Vec::new();
    while let Some((n, result)) = batch.next().await {
        match result {
            Ok(body) => got.push((n.get(), String::from_utf8(body.to_vec()).unwrap())),
            Err(Error::Pop3(Pop3Error::ServerError { code, .. })) => {
                assert_eq!(n.get(), 4);
                assert_eq!(code, Some(ResponseCode::SysTemp));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let expected: Vec<(u32, String)> = [1, 2, 3, 5, 6]
        .into_iter()
        .map(|n| (n, format!("message {n}\r\n")))
        .collect();
    assert_eq!(got, expected);
    client.noop().await.unwrap();
}

#[tokio::test]
async fn retr_many_goes_one_at_a_time_without_pipelining() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\n").await;
        for n in 1..=3 {
            peer.expect(&format!("RETR {n}")).await;
            assert_eq!(peer.line_within(Duration::from_millis(50)).await, None);
            peer.send(format!("+OK\r\nmessage {n}\r\n.\r\n").as_bytes())
                .await;
        }
    })
    .await;
    let mut client = login(port).await;
    let mut batch = client.retr_many(numbers(1..=3));
    assert_eq!(batch.window(), 1);
    let mut count = 0;
    while let Some((n, result)) = batch.next().await {
        assert_eq!(&result.unwrap()[..], format!("message {n}\r\n").as_bytes());
        count += 1;
    }
    assert_eq!(count, 3);
}

#[tokio::test]
async fn retr_many_stops_after_a_connection_drop() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\nPIPELINING\r\n").await;
        for n in 1..=3 {
            peer.expect(&format!("RETR {n}")).await;
        }
        peer.send(b"+OK\r\none\r\n.\r\n+OK\r\ntw").await;
    })
    .await;
    let mut client = login(port).await;
    let mut batch = client.retr_many(numbers(1..=3));
    let (n, first) = batch.next().await.unwrap();
    assert_eq!((n.get(), &first.unwrap()[..]), (1, &b"one\r\n"[..]));
    let (n, second) = batch.next().await.unwrap();
    assert_eq!(n.get(), 2);
    assert!(matches!(
        second,
        Err(Error::Pop3(Pop3Error::ConnectionClosed { during: "RETR" }))
    ));
    assert!(batch.next().await.is_none());
}

#[tokio::test]
async fn an_abandoned_batch_is_drained_before_the_next_command() {
    let (port, _) = serve(|mut peer| async move {
        logged_in(&mut peer, "USER\r\nPIPELINING\r\n").await;
        for n in 1..=3 {
            peer.expect(&format!("RETR {n}")).await;
        }
        for n in 1..=3 {
            peer.send(format!("+OK\r\nmessage {n}\r\n.\r\n").as_bytes())
                .await;
        }
        peer.expect("STAT").await;
        peer.send(b"+OK 3 300\r\n").await;
    })
    .await;
    let mut client = login(port).await;
    {
        let mut batch = client.retr_many(numbers(1..=3));
        let (_, first) = batch.next().await.unwrap();
        assert_eq!(&first.unwrap()[..], b"message 1\r\n");
    }
    assert_eq!(client.stat().await.unwrap().count, 3);
}

/// A token provider that counts invalidations.
#[derive(Debug)]
struct CountingToken {
    token: String,
    invalidated: AtomicUsize,
}

impl TokenProvider for CountingToken {
    fn token(&self) -> TokenFuture<'_> {
        let token = AccessToken::new(self.token.clone(), None);
        Box::pin(async move { Ok(token) })
    }
    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn xoauth2_failure_carries_the_servers_json_and_invalidates_the_token() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL PLAIN XOAUTH2\r\n.\r\n").await;
        let line = peer.line().await.unwrap();
        let ir = line.strip_prefix("AUTH XOAUTH2 ").unwrap();
        assert_eq!(
            B64.decode(ir).unwrap(),
            b"user=alice@example.com\x01auth=Bearer tok3n\x01\x01"
        );
        let json = br#"{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/POP.AccessAsUser.All"}"#;
        peer.send(format!("+ {}\r\n", B64.encode(json)).as_bytes())
            .await;
        peer.expect("").await;
        peer.send(b"-ERR [AUTH] Authentication failed.\r\n").await;
        peer.expect("NOOP").await;
    })
    .await;
    let provider = Arc::new(CountingToken {
        token: "tok3n".into(),
        invalidated: AtomicUsize::new(0),
    });
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let credentials = Credentials::oauth("alice@example.com", provider.clone());
    let err = pop3_err(client.login(&credentials, None).await);
    match err {
        Pop3Error::AuthFailed {
            method,
            code,
            text,
            oauth,
        } => {
            assert_eq!(method, AuthMethod::Sasl(Mechanism::XOAuth2));
            assert_eq!(code, Some(ResponseCode::Auth));
            assert_eq!(text, "Authentication failed.");
            let oauth = oauth.unwrap();
            assert_eq!(oauth.status, "401");
            assert_eq!(
                oauth.scope.as_deref(),
                Some("https://outlook.office.com/POP.AccessAsUser.All")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(provider.invalidated.load(Ordering::SeqCst), 1);
    assert!(!client.is_authenticated());
    assert!(client.is_usable());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let log = log.lock().unwrap();
    assert!(!log.iter().any(|l| l.contains("NOOP")));
}

#[tokio::test]
async fn long_token_is_sent_after_a_continuation_not_on_the_auth_line() {
    let token = "A".repeat(1500);
    let expected = format!(
        "n,a=bob@example.com,\x01host=127.0.0.1\x01port=PORT\x01auth=Bearer {token}\x01\x01"
    );
    let (port, _) = serve(move |mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nSASL OAUTHBEARER\r\n.\r\n").await;
        peer.expect("AUTH OAUTHBEARER").await;
        peer.send(b"+ \r\n").await;
        let line = peer.line().await.unwrap();
        let sent = String::from_utf8(B64.decode(line).unwrap()).unwrap();
        let port = peer.writer.local_addr().unwrap().port();
        assert_eq!(sent, expected.replace("PORT", &port.to_string()));
        peer.send(b"+OK welcome\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nSASL OAUTHBEARER\r\n.\r\n").await;
        peer.expect("NOOP").await;
        peer.send(b"+OK\r\n").await;
    })
    .await;
    let provider = Arc::new(CountingToken {
        token,
        invalidated: AtomicUsize::new(0),
    });
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let info = client
        .login(
            &Credentials::oauth("bob@example.com", provider.clone()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Sasl(Mechanism::OAuthBearer));
    client.noop().await.unwrap();
    assert_eq!(provider.invalidated.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn apop_is_preferred_over_plaintext_and_its_digest_is_right() {
    let (port, _) = serve(|mut peer| async move {
        peer.send(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
            .await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n").await;
        peer.expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
            .await;
        peer.send(b"+OK mrose's maildrop has 2 messages\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\n.\r\n").await;
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let info = client
        .login(&Credentials::password("mrose", "tanstaaf"), None)
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Apop);
    assert!(client.is_authenticated());
}

#[tokio::test]
async fn sasl_plain_with_initial_response_and_login_method() {
    let (port, _) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL LOGIN PLAIN\r\n.\r\n").await;
        peer.expect(&format!("AUTH PLAIN {}", B64.encode(b"\0alice\0pw")))
            .await;
        peer.send(b"-ERR [AUTH] nope\r\n").await;
        peer.expect("AUTH LOGIN").await;
        peer.send(format!("+ {}\r\n", B64.encode("Username:")).as_bytes())
            .await;
        peer.expect(&B64.encode("alice")).await;
        peer.send(format!("+ {}\r\n", B64.encode("Password:")).as_bytes())
            .await;
        peer.expect(&B64.encode("pw")).await;
        peer.send(b"+OK\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\n.\r\n").await;
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let credentials = Credentials::password("alice", "pw");
    let err = pop3_err(client.login(&credentials, None).await);
    assert!(
        matches!(
            err,
            Pop3Error::AuthFailed {
                method: AuthMethod::Sasl(Mechanism::Plain),
                code: Some(ResponseCode::Auth),
                ..
            }
        ),
        "{err:?}"
    );
    let info = client
        .login(&credentials, Some(AuthMethod::Sasl(Mechanism::Login)))
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Sasl(Mechanism::Login));
}

#[tokio::test]
async fn configured_method_must_fit_the_credentials_and_the_server() {
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n").await;
        while peer.line().await.is_some() {}
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let password = Credentials::password("alice", "pw");
    let err = client
        .login(&password, Some(AuthMethod::Sasl(Mechanism::XOAuth2)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::WrongCredentials { .. })),
        "{err:?}"
    );
    let err = client
        .login(&password, Some(AuthMethod::Sasl(Mechanism::Login)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sasl(inbound_net::SaslError::NotAdvertised { .. })
        ),
        "{err:?}"
    );
    let err = client
        .login(&password, Some(AuthMethod::Apop))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::ApopUnavailable)),
        "{err:?}"
    );
    let token = Credentials::oauth("alice", Arc::new(inbound_net::oauth::StaticToken::new("t")));
    let err = client.login(&token, None).await.unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::NoAuthMethod { .. })),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["CAPA"]);
}

#[tokio::test]
async fn plaintext_must_be_chosen_to_skip_tls_and_the_greeting_is_read_first() {
    // Security::Tls against a plaintext server fails in the handshake: no POP3 is spoken.
    let (port, log) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        let mut rest = Vec::new();
        let _ = peer.reader.read_to_end(&mut rest).await;
    })
    .await;
    let config = Pop3Config::new("127.0.0.1", Security::Tls)
        .with_port(port)
        .with_timeout(Duration::from_secs(5));
    let err = Pop3Client::connect(&config).await.unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(log.lock().unwrap().is_empty());
}
