//! Retrieval speed against a local Dovecot: `retr_many` (pipelined) and `retr` one by one,
//! and, when `python3` is installed, Python's `poplib` on the same maildrop.
//!
//! ```text
//! cargo run --release -p inbound-net --example pop3_fetch -- [MESSAGES] [SIZE_BYTES]
//! ```
//! Defaults: 5,000 messages of about 20 KB. Needs Dovecot (`apt-get install
//! dovecot-pop3d`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use inbound_net::pop3::{Pop3Client, Pop3Config};
use inbound_net::{Credentials, Security, TlsSettings};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};

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
        if raw.len() % 7 == 0 {
            raw.extend_from_slice(b".a line that starts with a dot\r\n");
        }
    }
    raw
}

fn config(dovecot: &Dovecot, security: Security) -> Pop3Config {
    let port = match security {
        Security::Tls => dovecot.ports().pop3s,
        _ => dovecot.ports().pop3,
    };
    Pop3Config::new("localhost", security)
        .with_port(port)
        .with_tls(
            TlsSettings::new()
                .with_builtin_roots(false)
                .with_ca_file(dovecot.ca_file()),
        )
        .with_timeout(Duration::from_secs(60))
}

async fn rust_pipelined(dovecot: &Dovecot, security: Security) -> (Duration, u64) {
    let mut client = Pop3Client::connect(&config(dovecot, security))
        .await
        .unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    let list = client.list().await.unwrap();
    let started = Instant::now();
    let mut batch = client.retr_many(list.iter().map(|l| l.msg));
    let mut octets = 0;
    while let Some((_, body)) = batch.next().await {
        octets += body.unwrap().len() as u64;
    }
    let elapsed = started.elapsed();
    client.quit().await.unwrap();
    (elapsed, octets)
}

async fn rust_one_by_one(dovecot: &Dovecot, security: Security) -> Duration {
    let mut client = Pop3Client::connect(&config(dovecot, security))
        .await
        .unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    let list = client.list().await.unwrap();
    let started = Instant::now();
    for entry in &list {
        client.retr(entry.msg).await.unwrap();
    }
    let elapsed = started.elapsed();
    client.quit().await.unwrap();
    elapsed
}

fn python(dovecot: &Dovecot, tls: bool) -> Option<Duration> {
    let script = r#"
import poplib, ssl, sys, time
host, port, tls, ca, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5], sys.argv[6]
if tls:
    p = poplib.POP3_SSL(host, port, context=ssl.create_default_context(cafile=ca))
else:
    p = poplib.POP3(host, port)
p.user(user); p.pass_(password)
n = len(p.list()[1])
t = time.perf_counter()
for i in range(1, n + 1):
    p.retr(i)
print(time.perf_counter() - t)
p.quit()
"#;
    let port = if tls {
        dovecot.ports().pop3s
    } else {
        dovecot.ports().pop3
    };
    let out = std::process::Command::new("python3")
        .args(["-c", script, "localhost", &port.to_string()])
        .arg(if tls { "1" } else { "0" })
        .arg(dovecot.ca_file())
        .args([USER, PASSWORD])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs))
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
    dovecot
        .write_maildir(USER, "INBOX", (1..=n).map(|i| message(i, size)))
        .unwrap();
    // Let Dovecot index the maildrop once.
    let _ = rust_pipelined(&dovecot, Security::Plaintext).await;

    for (security, tls) in [(Security::Plaintext, false), (Security::Tls, true)] {
        let (pipelined, octets) = rust_pipelined(&dovecot, security).await;
        let sequential = rust_one_by_one(&dovecot, security).await;
        let mb = octets as f64 / 1e6;
        eprintln!(
            "{security:?}: {n} messages, {mb:.1} MB: retr_many {pipelined:.2?} ({:.0} MB/s), \
             retr one by one {sequential:.2?}",
            mb / pipelined.as_secs_f64()
        );
        if let Some(py) = python(&dovecot, tls) {
            eprintln!(
                "{security:?}: python poplib {py:.2?}: retr_many is {:.1}x faster",
                py.as_secs_f64() / pipelined.as_secs_f64()
            );
        }
    }
}
