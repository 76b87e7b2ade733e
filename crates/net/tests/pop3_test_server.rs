//! The POP3 client against Inbound's own test server: every login mechanism, OAuth with
//! tokens from the server's token endpoint (refused tokens are invalidated and replaced),
//! and injected faults (STLS injection, byte-by-byte answers, drops, slow answers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use inbound_net::oauth::{ClientCredentialsProvider, EntraClientCredentials, TokenProvider};
use inbound_net::pop3::{AuthMethod, Pop3Client, Pop3Config};
use inbound_net::sasl::Mechanism;
use inbound_net::{ConnectError, Credentials, Error, Pop3Error, Security, TlsConfig};
use inbound_test_server::faults::{DropPoint, FaultPlan, Faults, Hold, SlowAnswer};
use inbound_test_server::server::{ServerConfig, TestServer};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "pass word";

async fn server() -> TestServer {
    TestServer::start(
        ServerConfig::default()
            .user(USER, PASSWORD)
            .oauth_client("app-id", "app-secret"),
    )
    .await
    .unwrap()
}

fn config(server: &TestServer, security: Security) -> Pop3Config {
    let addr = match security {
        Security::Tls => server.pop3s_addr(),
        Security::StartTls | Security::Plaintext => server.pop3_addr(),
    };
    Pop3Config::new("localhost", security)
        .with_port(addr.port())
        .with_tls(
            TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(server.ca_file()),
        )
        .with_timeout(Duration::from_secs(10))
}

fn password() -> Credentials {
    Credentials::password(USER, PASSWORD)
}

fn expected_messages(server: &TestServer) -> BTreeSet<Vec<u8>> {
    server
        .store()
        .messages(USER, "INBOX")
        .unwrap()
        .into_iter()
        .map(|m| m.raw.to_vec())
        .collect()
}

async fn retrieve_all(client: &mut Pop3Client) -> BTreeSet<Vec<u8>> {
    let list = client.list().await.unwrap();
    let mut batch = client.retr_many(list.iter().map(|l| l.msg));
    let mut got = BTreeSet::new();
    while let Some((_, body)) = batch.next().await {
        got.insert(body.unwrap().to_vec());
    }
    got
}

#[tokio::test]
async fn every_password_mechanism_in_every_security_mode() {
    let server = server().await;
    let expected = expected_messages(&server);
    assert!(!expected.is_empty());
    for security in [Security::Tls, Security::StartTls, Security::Plaintext] {
        for method in [
            None,
            Some(AuthMethod::UserPass),
            Some(AuthMethod::Apop),
            Some(AuthMethod::Sasl(Mechanism::Plain)),
        ] {
            let mut client = Pop3Client::connect(&config(&server, security))
                .await
                .unwrap_or_else(|e| panic!("{security:?}: {e}"));
            let info = client
                .login(&password(), method)
                .await
                .unwrap_or_else(|e| panic!("{security:?} {method:?}: {e}"));
            if let Some(method) = method {
                assert_eq!(info.method, method);
            }
            assert_eq!(retrieve_all(&mut client).await, expected);
            client.quit().await.unwrap();
        }
        // A wrong password is refused with the server's text.
        let mut client = Pop3Client::connect(&config(&server, security))
            .await
            .unwrap();
        let err = client
            .login(
                &Credentials::password(USER, "nope"),
                Some(AuthMethod::UserPass),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Pop3(Pop3Error::AuthFailed { ref text, .. }) if !text.is_empty()),
            "{err:?}"
        );
    }
    server.shutdown().await;
}

fn entra(server: &TestServer) -> Arc<ClientCredentialsProvider> {
    Arc::new(
        ClientCredentialsProvider::new(
            EntraClientCredentials::new("contoso", "app-id", "app-secret")
                .with_authority(server.oauth_authority()),
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn oauth_mechanisms_with_tokens_from_the_endpoint() {
    let server = server().await;
    let provider = entra(&server);
    let credentials = Credentials::oauth(USER, provider.clone());
    for method in [
        None,
        Some(AuthMethod::Sasl(Mechanism::XOAuth2)),
        Some(AuthMethod::Sasl(Mechanism::OAuthBearer)),
    ] {
        let mut client = Pop3Client::connect(&config(&server, Security::Tls))
            .await
            .unwrap();
        let info = client
            .login(&credentials, method)
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(
            info.method,
            method.unwrap_or(AuthMethod::Sasl(Mechanism::XOAuth2))
        );
        assert!(client.stat().await.unwrap().count > 0);
        client.quit().await.unwrap();
    }
    // One token served all three logins.
    assert_eq!(server.registry().issued_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_token_is_invalidated_and_the_next_login_fetches_a_new_one() {
    let server = server().await;
    let provider = entra(&server);
    let credentials = Credentials::oauth(USER, provider.clone());
    for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        let token = provider.token().await.unwrap();
        assert!(server.registry().revoke(token.secret().expose()));
        let issued = server.registry().issued_count();

        let mut client = Pop3Client::connect(&config(&server, Security::Tls))
            .await
            .unwrap();
        let err = client
            .login(&credentials, Some(AuthMethod::Sasl(mechanism)))
            .await
            .unwrap_err();
        match err {
            Error::Pop3(Pop3Error::AuthFailed { method, oauth, .. }) => {
                assert_eq!(method, AuthMethod::Sasl(mechanism));
                let oauth = oauth.expect("the server's JSON error");
                assert!(!oauth.status.is_empty());
            }
            other => panic!("{mechanism}: {other:?}"),
        }
        // The same session retries with a fresh token.
        client
            .login(&credentials, Some(AuthMethod::Sasl(mechanism)))
            .await
            .unwrap();
        assert_eq!(server.registry().issued_count(), issued + 1);
        client.quit().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn stls_injection_from_the_server_is_refused() {
    let server = server().await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            starttls_injection: Some(b"+OK injected\r\n".to_vec()),
            ..Faults::default()
        },
        1,
    ));
    let err = Pop3Client::connect(&config(&server, Security::StartTls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect(ConnectError::StartTlsInjection { buffered: 14 })
        ),
        "{err:?}"
    );
    // The next session has no fault and works.
    let mut client = Pop3Client::connect(&config(&server, Security::StartTls))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn answers_written_one_byte_at_a_time() {
    let server = server().await;
    let expected = expected_messages(&server);
    server.faults().set_default(Faults {
        one_byte_writes: true,
        ..Faults::default()
    });
    for security in [Security::Plaintext, Security::Tls] {
        let mut client = Pop3Client::connect(&config(&server, security))
            .await
            .unwrap();
        client.login(&password(), None).await.unwrap();
        assert_eq!(retrieve_all(&mut client).await, expected);
        let list = client.list().await.unwrap();
        let mut stream = client.retr_stream(list[0].msg).await.unwrap();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next_chunk().await.unwrap() {
            body.extend_from_slice(&chunk);
        }
        assert!(expected.contains(&body));
        client.quit().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_drop_in_the_middle_of_a_message_is_a_typed_error() {
    let server = server().await;
    let expected = expected_messages(&server);
    // The session dies after 1,200 bytes: past greeting, CAPA, login and LIST, inside the
    // messages.
    server.faults().push_plan(FaultPlan::new(
        Faults {
            drop_at: Some(DropPoint::AfterBytes(1200)),
            ..Faults::default()
        },
        1,
    ));
    let mut client = Pop3Client::connect(&config(&server, Security::Plaintext))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    let list = client.list().await.unwrap();
    let mut cut_off = None;
    let mut complete = 0;
    for entry in &list {
        match client.retr(entry.msg).await {
            // Whatever is returned is a whole message.
            Ok(body) => {
                assert!(expected.contains(&body.to_vec()));
                complete += 1;
            }
            Err(e) => {
                cut_off = Some(e);
                break;
            }
        }
    }
    let err = cut_off.expect("the connection is cut after 1200 bytes");
    assert!(
        matches!(
            err,
            Error::Pop3(Pop3Error::ConnectionClosed { during: "RETR" })
        ),
        "{err:?}"
    );
    assert!(complete < list.len());
    assert!(!client.is_usable());
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_server_runs_into_the_command_timeout() {
    let server = server().await;
    let mut client = Pop3Client::connect(
        &config(&server, Security::Plaintext).with_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    client.login(&password(), None).await.unwrap();
    server.faults().set_default(Faults {
        delay: Some(Duration::from_secs(2)),
        ..Faults::default()
    });
    // The fault applies to sessions started from now on: each answer, the greeting
    // first, comes late.
    let err = Pop3Client::connect(
        &config(&server, Security::Plaintext).with_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pop3(Pop3Error::Timeout {
                during: "greeting",
                ..
            })
        ),
        "{err:?}"
    );
    // The session started before is unaffected.
    client.noop().await.unwrap();
    server.faults().clear();
    server.shutdown().await;
}

#[tokio::test]
async fn a_withheld_retr_answer_is_a_timeout_with_nothing_partial() {
    let server = server().await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            slow_answers: vec![SlowAnswer::named("RETR", Hold::Forever)],
            ..Faults::default()
        },
        1,
    ));
    let mut client = Pop3Client::connect(
        &config(&server, Security::Plaintext).with_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    client.login(&password(), None).await.unwrap();
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), expected_messages(&server).len());
    let err = client.retr(list[0].msg).await.unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::Timeout { .. })),
        "{err:?}"
    );
    // The connection is given up, not reused with an answer still owed.
    assert!(!client.is_usable());
    assert!(client.noop().await.is_err());
    drop(client);
    // The next session (not planned) retrieves everything, once the server has seen the
    // first one go and unlocked the maildrop.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut client = loop {
        let mut client = Pop3Client::connect(&config(&server, Security::Plaintext))
            .await
            .unwrap();
        match client.login(&password(), None).await {
            Ok(_) => break client,
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(
                    matches!(&e, Error::Pop3(Pop3Error::AuthFailed { .. })),
                    "{e:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the maildrop stayed locked: {e:?}"),
        }
    };
    assert_eq!(retrieve_all(&mut client).await, expected_messages(&server));
    server.shutdown().await;
}
