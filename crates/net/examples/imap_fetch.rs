//! Retrieval speed against a local Dovecot: `ImapClient::uid_fetch_bodies` over implicit
//! TLS and plaintext, a raw `UID FETCH 1:* BODY.PEEK[]` read over a bare socket (the floor),
//! and, when `python3` is installed, Python's `imaplib` on the same mailbox.
//!
//! ```text
//! cargo run --release -p inbound-net --example imap_fetch -- [MESSAGES] [SIZE_BYTES]
//! ```
//! Defaults: 5,000 messages of about 20 KB. Needs Dovecot (`apt-get install
//! dovecot-imapd`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use inbound_net::imap::{ImapClient, ImapConfig, SequenceSet};
use inbound_net::{Credentials, Security, TlsSettings};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const USER: &str = "bench";
const PASSWORD: &str = "bench";

fn message(i: usize, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: sender@example.test\r\nTo: bench@example.test\r\nSubject: Message {i}\r\n\
         Message-ID: <bench-{i}@example.test>\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghij.\r\n";
    while raw.len() < size {
        raw.extend_from_slice(line);
    }
    raw
}

fn config(dovecot: &Dovecot, security: Security) -> ImapConfig {
    let port = match security {
        Security::Tls => dovecot.ports().imaps,
        _ => dovecot.ports().imap,
    };
    ImapConfig::new("localhost", security)
        .with_port(port)
        .with_tls(
            TlsSettings::new()
                .with_builtin_roots(false)
                .with_ca_file(dovecot.ca_file()),
        )
        .with_timeout(Duration::from_secs(60))
}

/// Fetches every message; returns the time of the FETCH and the octets received.
async fn rust_fetch(dovecot: &Dovecot, security: Security) -> (Duration, u64, usize) {
    let mut client = ImapClient::connect(&config(dovecot, security))
        .await
        .unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    let started = Instant::now();
    let mut stream = client.uid_fetch_bodies(&SequenceSet::all()).unwrap();
    let (mut octets, mut count) = (0u64, 0usize);
    while let Some(m) = stream.next().await {
        let m = m.unwrap();
        octets += m.body.len() as u64;
        count += 1;
    }
    let elapsed = started.elapsed();
    client.logout().await.unwrap();
    (elapsed, octets, count)
}

/// The floor: a bare socket that sends the FETCH and reads until the tagged OK.
async fn raw_fetch(dovecot: &Dovecot, items: &str) -> (Duration, u64) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.ports().imap))
        .await
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let _ = s.read(&mut buf).await.unwrap();
    for (tag, cmd) in [
        (&b"a1 OK"[..], format!("a1 LOGIN {USER} {PASSWORD}\r\n")),
        (&b"a2 OK"[..], "a2 SELECT INBOX\r\n".to_string()),
    ] {
        s.write_all(cmd.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            if got.windows(tag.len()).any(|w| w == tag) && got.ends_with(b"\r\n") {
                break;
            }
        }
    }
    let started = Instant::now();
    s.write_all(format!("a3 UID FETCH 1:* {items}\r\n").as_bytes())
        .await
        .unwrap();
    let mut total = 0u64;
    let mut tail = Vec::with_capacity(64);
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed");
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
        if tail.windows(7).any(|w| w == b"\na3 OK ") && tail.ends_with(b"\r\n") {
            break;
        }
    }
    (started.elapsed(), total)
}

fn python(dovecot: &Dovecot) -> Option<Duration> {
    let script = format!(
        r#"
import imaplib, time
c = imaplib.IMAP4("127.0.0.1", {port})
c.login("{USER}", "{PASSWORD}")
c.select("INBOX")
t = time.perf_counter()
typ, data = c.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
n = sum(1 for d in data if isinstance(d, tuple))
print(time.perf_counter() - t, n)
c.logout()
"#,
        port = dovecot.ports().imap
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

fn rate(label: &str, elapsed: Duration, count: usize, octets: u64) {
    let s = elapsed.as_secs_f64();
    eprintln!(
        "{label:<44} {:>8.1} ms  {:>9.0} msg/s  {:>7.1} MB/s",
        s * 1000.0,
        count as f64 / s,
        octets as f64 / s / 1e6
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    if !Dovecot::available() {
        eprintln!("dovecot is not installed");
        return;
    }
    let dovecot = Dovecot::start(DovecotConfig::default().with_user(USER, PASSWORD)).unwrap();
    let seeded = dovecot
        .write_maildir(USER, "INBOX", (1..=n).map(|i| message(i, size)))
        .unwrap();
    eprintln!("seeded {seeded} messages of about {size} octets");
    // Warm up: Dovecot indexes the maildir on first access.
    let (_, octets, count) = rust_fetch(&dovecot, Security::Plaintext).await;
    assert_eq!(count, n);
    for round in 1..=3 {
        eprintln!("round {round}:");
        let (t, _) = raw_fetch(&dovecot, "BODY.PEEK[]").await;
        rate("raw socket, UID FETCH 1:* BODY.PEEK[]", t, n, octets);
        let (t, _) = raw_fetch(&dovecot, "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])").await;
        rate("raw socket, same items as the client", t, n, octets);
        let (t, o, c) = rust_fetch(&dovecot, Security::Plaintext).await;
        rate("ImapClient plaintext", t, c, o);
        let (t, o, c) = rust_fetch(&dovecot, Security::Tls).await;
        rate("ImapClient implicit TLS", t, c, o);
        if let Some(t) = python(&dovecot) {
            rate("python3 imaplib plaintext", t, n, octets);
        }
    }
}
