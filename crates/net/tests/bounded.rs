//! Hostile servers cannot hold a client forever or grow its memory without bound: an
//! endless stream of untagged responses to one command ends in a typed error, and an answer
//! dribbled a byte at a time (never silent for a whole timeout) is cut off at the minimum
//! rate, over IMAP and POP3, against the bundled test server's fault knobs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use inbound_net::imap::{ImapClient, ImapConfig, ImapError};
use inbound_net::pop3::{Pop3Client, Pop3Config};
use inbound_net::{Credentials, Error, Pop3Error, Security};
use inbound_test_server::faults::{Dribble, Faults};
use inbound_test_server::server::{ServerConfig, TestServer};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "pass word";

/// Longer than any of these tests takes when the client behaves; a client that lets the
/// server hold it runs into this instead.
const GUARD: Duration = Duration::from_secs(30);

async fn server(faults: Faults) -> TestServer {
    let server = TestServer::start(ServerConfig::default().user(USER, PASSWORD))
        .await
        .unwrap();
    server.faults().set_default(faults);
    server
}

fn imap_config(server: &TestServer, timeout: Duration) -> ImapConfig {
    ImapConfig::new("127.0.0.1", Security::Plaintext)
        .with_port(server.imap_addr().port())
        .with_timeout(timeout)
}

fn pop3_config(server: &TestServer, timeout: Duration) -> Pop3Config {
    Pop3Config::new("127.0.0.1", Security::Plaintext)
        .with_port(server.pop3_addr().port())
        .with_timeout(timeout)
}

fn password() -> Credentials {
    Credentials::password(USER, PASSWORD)
}

#[tokio::test]
async fn an_endless_stream_of_untagged_responses_ends_in_a_typed_error() {
    let server = server(Faults {
        untagged_flood: Some("SELECT".into()),
        ..Faults::default()
    })
    .await;
    let mut client = ImapClient::connect(&imap_config(&server, Duration::from_secs(5)))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    let err = tokio::time::timeout(GUARD, client.select("INBOX"))
        .await
        .expect("the client stopped reading the flood")
        .unwrap_err();
    match err {
        Error::Imap(ImapError::TooManyResponses { command, limit }) => {
            assert_eq!(command, "SELECT");
            assert_eq!(limit, inbound_net::imap::DEFAULT_MAX_COMMAND_RESPONSES);
        }
        other => panic!("expected TooManyResponses, got {other:?}"),
    }
    assert!(!client.is_usable());
    server.shutdown().await;
}

#[tokio::test]
async fn an_imap_fetch_dribbled_a_byte_at_a_time_is_cut_off() {
    // One byte every 300 ms: never silent for the 1 s timeout, yet a message of a few KB
    // would take many minutes.
    let server = server(Faults {
        dribble: Some(Dribble::from_command(
            "UID FETCH",
            Duration::from_millis(300),
        )),
        ..Faults::default()
    })
    .await;
    let mut client = ImapClient::connect(&imap_config(&server, Duration::from_secs(1)))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    client.select("INBOX").await.unwrap();
    let uids = client.uid_search_all().await.unwrap();
    assert!(!uids.is_empty());
    let mut messages = client.uid_fetch_bodies(&uids).unwrap();
    let first = tokio::time::timeout(GUARD, messages.next())
        .await
        .expect("the dribbling server held the fetch")
        .expect("an answer");
    match first {
        Err(Error::Imap(ImapError::TooSlow {
            during, received, ..
        })) => {
            assert_eq!(during, "UID FETCH");
            assert!(received < 100, "{received} octets");
        }
        other => panic!("expected TooSlow, got {other:?}"),
    }
    assert!(messages.next().await.is_none());
    drop(messages);
    assert!(!client.is_usable());
    server.shutdown().await;
}

#[tokio::test]
async fn a_pop3_retr_dribbled_a_byte_at_a_time_is_cut_off() {
    let server = server(Faults {
        dribble: Some(Dribble::from_command("RETR", Duration::from_millis(300))),
        ..Faults::default()
    })
    .await;
    let mut client = Pop3Client::connect(&pop3_config(&server, Duration::from_secs(1)))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    let err = tokio::time::timeout(GUARD, client.retr(1))
        .await
        .expect("the dribbling server held the RETR")
        .unwrap_err();
    assert!(
        matches!(err, Error::Pop3(Pop3Error::TooSlow { during: "RETR", .. })),
        "{err:?}"
    );
    assert!(!client.is_usable());
    server.shutdown().await;
}

/// The minimum rate does not cut off a server that is merely slow to start: an answer
/// held back for most of the timeout and then sent whole still arrives.
#[tokio::test]
async fn a_late_but_whole_answer_still_arrives() {
    use inbound_test_server::faults::{Hold, SlowAnswer};
    let server = server(Faults {
        slow_answers: vec![SlowAnswer::named(
            "UID FETCH",
            Hold::For(Duration::from_millis(700)),
        )],
        ..Faults::default()
    })
    .await;
    let mut client = ImapClient::connect(&imap_config(&server, Duration::from_secs(1)))
        .await
        .unwrap();
    client.login(&password(), None).await.unwrap();
    client.select("INBOX").await.unwrap();
    let uids = client.uid_search_all().await.unwrap();
    let mut messages = client.uid_fetch_bodies(&uids).unwrap();
    let mut got = 0;
    while let Some(m) = messages.next().await {
        m.unwrap();
        got += 1;
    }
    assert_eq!(got, uids.len());
    server.shutdown().await;
}
