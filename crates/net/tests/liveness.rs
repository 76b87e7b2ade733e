//! Dead connections are noticed: TCP keepalive is set on every connection a `Dialer`
//! or client makes (plain, implicit TLS, STARTTLS/STLS), and an IDLE whose server fell
//! silent (the test server's blackhole) fails at the next renewal, when `DONE` is not
//! answered within the response timeout; a slow but timely answer is fine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use inbound_net::imap::{IdleEvent, ImapClient, ImapConfig};
use inbound_net::{
    Credentials, Dialer, Keepalive, MailStream, Pop3Client, Pop3Config, Security, TlsConfig,
};
use inbound_test_server::faults::{Blackhole, FaultPlan, Faults, Hold, SlowAnswer};
use inbound_test_server::server::{ServerConfig, TestServer};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "secret";

async fn server() -> TestServer {
    TestServer::start(ServerConfig::default().user(USER, PASSWORD))
        .await
        .unwrap()
}

fn tls(server: &TestServer) -> TlsConfig {
    TlsConfig::new()
        .with_builtin_roots(false)
        .with_ca_file(server.ca_file())
}

/// (idle, interval, probes) as the socket has them, or `None` when keepalive is off.
#[cfg(target_os = "linux")]
fn keepalive_of(stream: &MailStream) -> Option<(Duration, Duration, u32)> {
    let sock = socket2::SockRef::from(stream.tcp());
    if !sock.keepalive().unwrap() {
        return None;
    }
    Some((
        sock.tcp_keepalive_time().unwrap(),
        sock.tcp_keepalive_interval().unwrap(),
        sock.tcp_keepalive_retries().unwrap(),
    ))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn every_connection_gets_tcp_keepalive() {
    let server = server().await;
    let defaults = Some((Duration::from_secs(60), Duration::from_secs(10), 3));
    let custom = Keepalive {
        idle: Duration::from_secs(20),
        interval: Duration::from_secs(4),
        probes: 5,
    };
    let wanted = Some((custom.idle, custom.interval, custom.probes));

    // A connector: on by default, settable, and off.
    let connector = Dialer::new(&tls(&server)).unwrap();
    let plain = connector
        .connect("127.0.0.1", server.imap_addr().port(), Security::Plaintext)
        .await
        .unwrap();
    assert_eq!(keepalive_of(&plain), defaults);
    let tls_stream = connector
        .clone()
        .with_keepalive(Some(custom))
        .connect("localhost", server.imaps_addr().port(), Security::Tls)
        .await
        .unwrap();
    assert_eq!(keepalive_of(&tls_stream), wanted);
    let off = connector
        .with_keepalive(None)
        .connect("127.0.0.1", server.imap_addr().port(), Security::Plaintext)
        .await
        .unwrap();
    assert_eq!(keepalive_of(&off), None);

    // The clients, in every security mode: the setting survives STARTTLS/STLS.
    for security in [Security::Plaintext, Security::Tls, Security::StartTls] {
        let port = match security {
            Security::Tls => server.imaps_addr().port(),
            _ => server.imap_addr().port(),
        };
        let config = ImapConfig::new("localhost", security)
            .with_port(port)
            .with_tls(tls(&server))
            .with_keepalive(Some(custom));
        let client = ImapClient::connect(&config).await.unwrap();
        assert_eq!(
            keepalive_of(client.mail_stream()),
            wanted,
            "IMAP {security:?}"
        );

        let port = match security {
            Security::Tls => server.pop3s_addr().port(),
            _ => server.pop3_addr().port(),
        };
        let config = Pop3Config::new("localhost", security)
            .with_port(port)
            .with_tls(tls(&server));
        let client = Pop3Client::connect(&config).await.unwrap();
        assert_eq!(
            keepalive_of(client.mail_stream()),
            defaults,
            "POP3 {security:?}"
        );
    }
}

async fn idling(server: &TestServer, renewal: Duration) -> ImapClient {
    let config = ImapConfig::new("127.0.0.1", Security::Plaintext)
        .with_port(server.imap_addr().port())
        .with_timeout(Duration::from_secs(1))
        .with_idle_renewal(renewal);
    let mut client = ImapClient::connect(&config).await.unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    client
}

#[tokio::test]
async fn a_silent_server_fails_the_idle_at_the_next_renewal() {
    let server = server().await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            blackhole: Some(Blackhole::AfterIdleAccepted),
            ..Faults::default()
        },
        1,
    ));
    let mut client = idling(&server, Duration::from_millis(500)).await;
    let mut idle = client.idle().await.unwrap();
    let start = Instant::now();
    // Waiting far longer than the renewal: DONE goes unanswered for the 1 s timeout.
    let error = idle.next_event(Duration::from_secs(30)).await.unwrap_err();
    let took = start.elapsed();
    assert!(error.to_string().contains("IDLE DONE"), "{error}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(idle);
    assert!(!client.is_usable());
}

#[tokio::test]
async fn a_slow_but_timely_done_answer_keeps_the_idle() {
    let server = server().await;
    server.faults().set_default(Faults {
        slow_answers: vec![SlowAnswer::named(
            "DONE",
            Hold::For(Duration::from_millis(400)),
        )],
        ..Faults::default()
    });
    let mut client = idling(&server, Duration::from_millis(300)).await;
    let mut idle = client.idle().await.unwrap();
    // Several renewals pass quietly.
    assert_eq!(
        idle.next_event(Duration::from_millis(2500)).await.unwrap(),
        IdleEvent::Timeout
    );
    server
        .store()
        .deliver(USER, "INBOX", &b"Subject: hi\r\n\r\nhi\r\n"[..])
        .unwrap();
    let event = idle.next_event(Duration::from_secs(3)).await.unwrap();
    assert!(matches!(event, IdleEvent::Exists(_)), "{event:?}");
    idle.done().await.unwrap();
    assert!(client.is_usable());
    assert_eq!(server.faults().sessions(), 1);
}
