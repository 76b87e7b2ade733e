//! The POP3 client against a real Dovecot: every security mode, every password method,
//! certificate checks, deletion semantics, pipelined retrieval. Skipped (with a message)
//! when Dovecot is not installed, unless `INBOUND_REQUIRE_DOVECOT=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use inbound_net::pop3::{AuthMethod, MessageNumber, Pop3Client, Pop3Config};
use inbound_net::sasl::Mechanism;
use inbound_net::{ConnectError, Credentials, Error, Pop3Error, Security, TlsConfig};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

fn start(extra: &str) -> Option<Dovecot> {
    if !Dovecot::skip_unless_available("pop3_dovecot").unwrap() {
        return None;
    }
    let mut config = DovecotConfig::default().with_user(USER, PASSWORD);
    if !extra.is_empty() {
        config = config.with_extra(extra);
    }
    Some(Dovecot::start(config).unwrap())
}

/// Messages with dot-stuffing cases and one large one.
fn messages() -> Vec<Vec<u8>> {
    let mut big = b"Subject: big\r\nMessage-ID: <big@example.test>\r\n\r\n".to_vec();
    for i in 0..4000 {
        big.extend_from_slice(
            format!(".line {i} starts with a dot and is padded out a bit\r\n").as_bytes(),
        );
    }
    vec![
        b"Subject: one\r\nMessage-ID: <one@example.test>\r\n\r\nHello.\r\n".to_vec(),
        b"Subject: dots\r\nMessage-ID: <dots@example.test>\r\n\r\n.\r\n..\r\n.hidden\r\nend\r\n"
            .to_vec(),
        big,
        b"Subject: four\r\nMessage-ID: <four@example.test>\r\n\r\nfour\r\n".to_vec(),
    ]
}

fn config(dovecot: &Dovecot, security: Security) -> Pop3Config {
    let port = match security {
        Security::Tls => dovecot.ports().pop3s,
        Security::StartTls | Security::Plaintext => dovecot.ports().pop3,
    };
    Pop3Config::new("localhost", security)
        .with_port(port)
        .with_tls(
            TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(dovecot.ca_file()),
        )
        .with_timeout(Duration::from_secs(10))
}

fn credentials() -> Credentials {
    Credentials::password(USER, PASSWORD)
}

#[tokio::test]
async fn every_security_mode_lists_and_retrieves() {
    let Some(dovecot) = start("") else { return };
    let seeded = messages();
    dovecot.write_maildir(USER, "INBOX", &seeded).unwrap();
    let expected: BTreeSet<Vec<u8>> = seeded.iter().cloned().collect();

    for security in [Security::Tls, Security::StartTls, Security::Plaintext] {
        let mut client = Pop3Client::connect(&config(&dovecot, security))
            .await
            .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        assert_eq!(client.is_tls(), security != Security::Plaintext);
        let caps = client.capabilities().clone();
        assert!(caps.is_known() && caps.uidl() && caps.top() && caps.pipelining());
        // After STLS (or with implicit TLS) no STLS is offered any more.
        if security != Security::Plaintext {
            assert!(!caps.stls(), "{security:?}: {caps:?}");
        } else {
            assert!(caps.stls());
        }
        let info = client.login(&credentials(), None).await.unwrap();
        assert_eq!(info.method, AuthMethod::Sasl(Mechanism::Plain));
        assert!(client.is_authenticated());

        let stat = client.stat().await.unwrap();
        assert_eq!(stat.count, 4);
        let list = client.list().await.unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list.iter().map(|l| l.size).sum::<u64>(), stat.size);
        let uidl = client.uidl().await.unwrap();
        assert_eq!(uidl.len(), 4);
        let ids: BTreeSet<&str> = uidl.iter().map(|u| u.uid.as_str()).collect();
        assert_eq!(ids.len(), 4, "unique ids are unique");

        let mut got = BTreeSet::new();
        for entry in &list {
            let body = client.retr(entry.msg).await.unwrap();
            assert_eq!(
                body.len() as u64,
                entry.size,
                "LIST size is exact for CRLF mail"
            );
            got.insert(body.to_vec());
        }
        assert_eq!(got, expected, "{security:?}");

        // TOP 0 is the header and the blank line.
        let top = client.top(1, 0).await.unwrap();
        assert!(top.ends_with(b"\r\n\r\n"));
        assert!(top.starts_with(b"Subject: "));

        // The same messages streamed and pipelined.
        let mut streamed = BTreeSet::new();
        for entry in &list {
            let mut stream = client.retr_stream(entry.msg).await.unwrap();
            let mut body = Vec::new();
            while let Some(chunk) = stream.next_chunk().await.unwrap() {
                body.extend_from_slice(&chunk);
            }
            streamed.insert(body);
        }
        assert_eq!(streamed, expected);
        let mut batch = client.retr_many(list.iter().map(|l| l.msg));
        let mut pipelined = BTreeSet::new();
        while let Some((_, body)) = batch.next().await {
            pipelined.insert(body.unwrap().to_vec());
        }
        assert_eq!(pipelined, expected);

        let err = client.retr(99).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Pop3(Pop3Error::ServerError {
                    command: "RETR",
                    ..
                })
            ),
            "{err:?}"
        );
        client.noop().await.unwrap();
        client.quit().await.unwrap();
    }
}

#[tokio::test]
async fn deletions_take_effect_only_after_quit() {
    let Some(dovecot) = start("") else { return };
    dovecot.write_maildir(USER, "INBOX", messages()).unwrap();
    let cfg = config(&dovecot, Security::Tls);

    // Deleted, then the connection dropped without QUIT: nothing is removed.
    let mut client = Pop3Client::connect(&cfg).await.unwrap();
    client.login(&credentials(), None).await.unwrap();
    client.dele(1).await.unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // RSET undoes a deletion.
    let mut client = Pop3Client::connect(&cfg).await.unwrap();
    client.login(&credentials(), None).await.unwrap();
    assert_eq!(client.stat().await.unwrap().count, 4);
    let uidl = client.uidl().await.unwrap();
    client.dele(1).await.unwrap();
    let err = client.retr(1).await.unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::ServerError { .. })),
        "{err:?}"
    );
    client.rset().await.unwrap();
    client.retr(1).await.unwrap();
    client.dele(1).await.unwrap();
    client.dele(2).await.unwrap();
    client.quit().await.unwrap();

    let mut client = Pop3Client::connect(&cfg).await.unwrap();
    client.login(&credentials(), None).await.unwrap();
    assert_eq!(client.stat().await.unwrap().count, 2);
    let left: Vec<String> = client
        .uidl()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.uid.to_string())
        .collect();
    let expected: Vec<String> = uidl[2..].iter().map(|u| u.uid.to_string()).collect();
    assert_eq!(left, expected);
    client.quit().await.unwrap();
}

#[tokio::test]
async fn every_password_method_and_a_wrong_password() {
    // APOP needs the mechanism enabled (the harness stores plain-text passwords).
    let Some(dovecot) = start("auth_mechanisms = plain login apop") else {
        return;
    };
    dovecot.write_maildir(USER, "INBOX", messages()).unwrap();
    for security in [Security::Tls, Security::Plaintext] {
        for method in [
            AuthMethod::UserPass,
            AuthMethod::Apop,
            AuthMethod::Sasl(Mechanism::Plain),
            AuthMethod::Sasl(Mechanism::Login),
        ] {
            let mut client = Pop3Client::connect(&config(&dovecot, security))
                .await
                .unwrap();
            let info = client
                .login(&credentials(), Some(method))
                .await
                .unwrap_or_else(|e| panic!("{security:?} {method}: {e}"));
            assert_eq!(info.method, method);
            assert_eq!(client.stat().await.unwrap().count, 4);
            client.quit().await.unwrap();

            if security == Security::Plaintext {
                continue;
            }
            let mut client = Pop3Client::connect(&config(&dovecot, security))
                .await
                .unwrap();
            let wrong = Credentials::password(USER, "wrong password");
            let err = client.login(&wrong, Some(method)).await.unwrap_err();
            match err {
                Error::Pop3(Pop3Error::AuthFailed {
                    method: failed,
                    text,
                    ..
                }) => {
                    assert_eq!(failed, method);
                    assert!(!text.is_empty());
                }
                other => panic!("{security:?} {method}: {other:?}"),
            }
            if method == AuthMethod::UserPass {
                // The session is still usable for another attempt (Dovecot delays logins
                // after a failure by seconds, so this is checked once).
                client.login(&credentials(), None).await.unwrap();
                assert!(client.is_authenticated());
            }
        }
    }
    // Over plaintext, with a timestamp in the greeting, APOP is chosen.
    let mut client = Pop3Client::connect(&config(&dovecot, Security::Plaintext))
        .await
        .unwrap();
    assert!(client.greeting().unwrap().timestamp().is_some());
    let info = client.login(&credentials(), None).await.unwrap();
    assert_eq!(info.method, AuthMethod::Apop);
}

#[tokio::test]
async fn untrusted_certificates_are_refused_in_both_tls_modes() {
    let Some(dovecot) = start("") else { return };
    for security in [Security::Tls, Security::StartTls] {
        // The Mozilla roots do not include the test CA.
        let cfg = config(&dovecot, security).with_tls(TlsConfig::new());
        let err = Pop3Client::connect(&cfg).await.unwrap_err();
        assert!(
            matches!(err, Error::Connect(ConnectError::CertificateInvalid { .. })),
            "{security:?}: {err:?}"
        );
    }
    // The certificate is for localhost and 127.0.0.1; another name fails.
    let mut cfg = config(&dovecot, Security::Tls);
    cfg.host = "127.0.0.2".into();
    cfg.port = dovecot.ports().pop3s;
    let err = Pop3Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
}

#[tokio::test]
async fn pipelined_retrieval_of_many_messages() {
    let Some(dovecot) = start("") else { return };
    let n = 400;
    dovecot.seed_generated(USER, "INBOX", n).unwrap();
    let mut client = Pop3Client::connect(&config(&dovecot, Security::Tls))
        .await
        .unwrap();
    client.login(&credentials(), None).await.unwrap();
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), n);

    let started = std::time::Instant::now();
    let mut batch = client.retr_many(list.iter().map(|l| l.msg));
    assert!(batch.window() > 1);
    let mut subjects = BTreeSet::new();
    let mut count = 0;
    while let Some((msg, body)) = batch.next().await {
        let body = body.unwrap();
        assert_eq!(body.len() as u64, list[msg.get() as usize - 1].size);
        let subject = body
            .split(|&b| b == b'\n')
            .find(|l| l.starts_with(b"Subject: "))
            .unwrap()
            .to_vec();
        subjects.insert(subject);
        count += 1;
    }
    let pipelined = started.elapsed();
    assert_eq!(count, n);
    assert_eq!(subjects.len(), n, "every message once");

    let started = std::time::Instant::now();
    for entry in list.iter().take(50) {
        client.retr(entry.msg).await.unwrap();
    }
    eprintln!(
        "{n} messages pipelined in {pipelined:?}; 50 one by one in {:?}",
        started.elapsed()
    );
    // An empty batch yields nothing.
    assert!(
        client
            .retr_many(Vec::<MessageNumber>::new())
            .next()
            .await
            .is_none()
    );
    client.quit().await.unwrap();
}
