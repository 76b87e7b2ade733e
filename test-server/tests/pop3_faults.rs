//! Every fault of `faults.rs` that applies to POP3, seen from a client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pop3_support;

use std::time::{Duration, Instant};

use inbound_test_server::faults::{
    CommandFault, DropPoint, FaultPlan, Faults, Hold, Refusal, SlowAnswer, ThrottleAnswer,
};
use inbound_test_server::server::{ServerConfig, TestServer};
use pop3_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn server_with(faults: Faults) -> TestServer {
    let server = start(ServerConfig::default()).await;
    server.faults().push_plan(FaultPlan::new(faults, 1));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_greeting() {
    let server = server_with(Faults {
        drop_at: Some(DropPoint::AfterGreeting),
        ..Faults::default()
    })
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.send("CAPA").await;
    assert!(c.try_line().await.is_none(), "EOF right after the greeting");
    // The plan covered one session only.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_bytes() {
    let server = server_with(Faults {
        drop_at: Some(DropPoint::AfterBytes(10)),
        ..Faults::default()
    })
    .await;
    let mut c = connect(server.pop3_addr()).await;
    let received = c.rest().await;
    assert_eq!(received, b"+OK POP3 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_in_the_middle_of_a_retr_body() {
    let server = server_with(Faults {
        drop_at: Some(DropPoint::MidFetchLiteral),
        ..Faults::default()
    })
    .await;
    let message = server.store().messages("demo", "INBOX").unwrap()[3].clone();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("RETR 4").await.starts_with("+OK"));
    let partial = c.rest().await;
    assert!(
        !partial.is_empty() && partial.len() < message.size(),
        "{} of {}",
        partial.len(),
        message.size()
    );
    assert!(message.raw.starts_with(&partial), "the first half, as sent");
    assert!(!partial.ends_with(b"\r\n.\r\n"));
    // The drop happened before QUIT: nothing deleted.
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_takes_effect_but_its_ok_is_lost() {
    let server = server_with(Faults {
        drop_at: Some(DropPoint::BeforeMoveOrExpungeOk),
        ..Faults::default()
    })
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    c.send("QUIT").await;
    assert!(c.try_line().await.is_none(), "no +OK for QUIT");
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn err_for_a_chosen_command() {
    let server = server_with(Faults {
        command_faults: vec![
            CommandFault {
                command: "retr".into(),
                refusal: Refusal::No,
                text: Some("[SYS/TEMP] try again later".into()),
                times: Some(1),
            },
            CommandFault {
                command: "UIDL".into(),
                refusal: Refusal::Bad,
                text: None,
                times: None,
            },
        ],
        ..Faults::default()
    })
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert_eq!(c.cmd("RETR 1").await, "-ERR [SYS/TEMP] try again later");
    assert!(
        c.cmd("RETR 1").await.starts_with("+OK"),
        "refused once only"
    );
    c.body().await;
    for _ in 0..3 {
        assert_eq!(c.cmd("UIDL").await, "-ERR Command refused (injected fault)");
    }
    assert!(c.cmd("STAT").await.starts_with("+OK"));
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_answers() {
    let delay = Duration::from_millis(150);
    let server = server_with(Faults {
        delay: Some(delay),
        ..Faults::default()
    })
    .await;
    let started = Instant::now();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert!(started.elapsed() >= delay);
    let started = Instant::now();
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_writes() {
    // With a pause before each write, every byte arrives in its own read.
    let server = server_with(Faults {
        one_byte_writes: true,
        delay: Some(Duration::from_millis(2)),
        ..Faults::default()
    })
    .await;
    let mut tcp = TcpStream::connect(server.pop3_addr()).await.unwrap();
    let mut greeting = Vec::new();
    let mut reads = 0;
    while !greeting.ends_with(b"\r\n") {
        let mut buf = [0u8; 256];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0);
        greeting.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert!(greeting.starts_with(b"+OK POP3 server ready <"));
    assert!(reads >= 5, "{reads} reads for {} bytes", greeting.len());

    // Without the delay, a whole session still works over one-byte writes.
    server.faults().push_plan(FaultPlan::new(
        Faults {
            one_byte_writes: true,
            ..Faults::default()
        },
        1,
    ));
    let message = server.store().messages("demo", "INBOX").unwrap()[0].clone();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert_eq!(c.listing("UIDL").await.len(), 8);
    assert_eq!(c.cmd_multi("RETR 1").await.1, message.raw);
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_lines_over_the_limit_are_refused() {
    let server = server_with(Faults {
        max_command_len: Some(16),
        ..Faults::default()
    })
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.cmd("USER a-rather-long-user-name").await,
        "-ERR Line too long"
    );
    assert!(c.cmd("USER demo").await.starts_with("+OK"));
    assert!(c.cmd("PASS demo").await.starts_with("+OK"));
    c.quit().await;

    // Without the fault: lines up to 1,024 octets pass; a huge line is skipped as it
    // arrives and the session stays in sync.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert!(
        c.cmd(&format!("USER {}", "u".repeat(250)))
            .await
            .starts_with("+OK")
    );
    let mut huge = vec![b'x'; 200_000];
    huge.extend_from_slice(b"\r\nSTAT\r\n");
    c.send_raw(&huge).await;
    assert_eq!(c.line().await, "-ERR Line too long");
    assert_eq!(c.line().await, "-ERR Not logged in");
    c.login_ok("demo", "demo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_injected_after_the_stls_ok() {
    let injected = b"+OK injected before TLS\r\n".to_vec();
    let server = server_with(Faults {
        starttls_injection: Some(injected.clone()),
        ..Faults::default()
    })
    .await;
    let mut tcp = TcpStream::connect(server.pop3_addr()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut greeting = Vec::new();
    while !greeting.ends_with(b"\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0);
        greeting.extend_from_slice(&buf[..n]);
    }
    tcp.write_all(b"STLS\r\n").await.unwrap();
    // One write on the server: the OK and the injected bytes come in one segment.
    let n = tokio::time::timeout(READ_TIMEOUT, tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let mut expected = b"+OK Begin TLS negotiation\r\n".to_vec();
    expected.extend_from_slice(&injected);
    assert_eq!(&buf[..n], &expected[..]);
    // A client that discards them goes on with TLS as usual.
    let tls = tls_handshake(&server, tcp).await.unwrap();
    let mut c = Client {
        io: tokio::io::BufReader::new(tls),
    };
    c.login_ok("demo", "demo").await;
    c.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_faults_apply_to_every_session() {
    let server = start(ServerConfig::default()).await;
    server.faults().set_default(Faults {
        drop_at: Some(DropPoint::AfterGreeting),
        ..Faults::default()
    });
    for _ in 0..3 {
        let (mut c, _) = connect_greeted(server.pop3_addr()).await;
        c.send("NOOP").await;
        assert!(c.try_line().await.is_none());
    }
    server.faults().clear();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(c.cmd("NOOP").await, "+OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_held_back_by_command_name() {
    let hold = Duration::from_millis(400);
    let server = server_with(Faults {
        slow_answers: vec![SlowAnswer::named("retr", Hold::For(hold))],
        ..Faults::default()
    })
    .await;
    let message = server.store().messages("demo", "INBOX").unwrap()[1].clone();
    let started = Instant::now();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("STAT").await.starts_with("+OK 8 "));
    assert!(started.elapsed() < hold, "{:?}", started.elapsed());
    // Pipelined: NOOP's answer goes out before RETR is held, and RETR's comes late, whole.
    c.send_raw(b"NOOP\r\nRETR 2\r\n").await;
    let sent = Instant::now();
    assert!(c.line().await.starts_with("+OK"));
    assert!(sent.elapsed() < hold, "NOOP held too: {:?}", sent.elapsed());
    assert!(c.line().await.starts_with("+OK"));
    assert!(sent.elapsed() >= hold, "{:?}", sent.elapsed());
    assert_eq!(c.body().await, message.raw);
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    // Only the planned session is slow.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    let started = Instant::now();
    assert_eq!(c.cmd_multi("RETR 2").await.1, message.raw);
    assert!(started.elapsed() < hold, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_withheld_from_the_nth_command_on() {
    let server = server_with(Faults {
        slow_answers: vec![SlowAnswer::from_nth(3, Hold::Forever)],
        ..Faults::default()
    })
    .await;
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await; // commands 1 and 2
    c.send("DELE 1").await; // command 3: never answered, never run
    c.send("QUIT").await;
    let line = tokio::time::timeout(Duration::from_millis(500), c.try_line()).await;
    assert!(line.is_err(), "an answer came: {line:?}");
    drop(c);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.store().messages("demo", "INBOX").unwrap().len(), 8);
    // Shutdown does not wait for a stalled session.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_answered_with_a_throttling_answer() {
    let throttled = |answer| Faults {
        login_throttle: Some(answer),
        ..Faults::default()
    };
    let server = server_with(throttled(ThrottleAnswer::InUse)).await;
    let faults = server.faults();
    faults.push_plan(FaultPlan::new(
        throttled(ThrottleAnswer::M365Backoff { millis: 1500 }),
        1,
    ));
    faults.push_plan(FaultPlan::new(throttled(ThrottleAnswer::GmailBye), 1));
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.login("demo", "demo").await,
        "-ERR [IN-USE] Mailbox in use by another session."
    );
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"\0demo\0demo"))).await,
        "-ERR Request is throttled. Suggested Backoff Time: 1500 milliseconds"
    );
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    assert_eq!(
        c.login("demo", "demo").await,
        "-ERR [SYS/TEMP] Too many simultaneous connections. (Failure)"
    );
    assert!(c.try_line().await.is_none(), "closed after Gmail's answer");
    // Then logins work again.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("demo", "demo").await;
    assert_eq!(server.faults().session_starts().len(), 4);
}
