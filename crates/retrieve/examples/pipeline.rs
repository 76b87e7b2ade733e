//! Throughput of the whole retrieval pipeline (fetch, parse with mail-parser, sanitize, store
//! in SQLite with `synchronous=FULL`, delete on the server) over the in-memory backend.
//!
//! ```text
//! cargo run --release -p inbound-retrieve --example pipeline -- \
//!     [--count 5000] [--size 20000] [--batch 100] [--pop3] [--no-sanitize] [--keep]
//! ```
//!
//! Prints messages per second for one run into a fresh store file in a temporary folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use inbound_retrieve::account::AfterReceiveName;
use inbound_retrieve::backend::memory::MemoryServer;
use inbound_retrieve::{AccountConfig, MailProtocol, NoEvents, Retriever};

struct Args {
    count: u32,
    size: usize,
    batch: i64,
    pop3: bool,
    sanitize: bool,
    delete: bool,
}

fn args() -> Args {
    let mut a = Args {
        count: 5000,
        size: 20_000,
        batch: 100,
        pop3: false,
        sanitize: true,
        delete: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--count" => a.count = it.next().and_then(|v| v.parse().ok()).expect("--count N"),
            "--size" => a.size = it.next().and_then(|v| v.parse().ok()).expect("--size N"),
            "--batch" => a.batch = it.next().and_then(|v| v.parse().ok()).expect("--batch N"),
            "--pop3" => a.pop3 = true,
            "--no-sanitize" => a.sanitize = false,
            "--keep" => a.delete = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// A multipart/alternative message of about `size` bytes: a text part and an HTML part with
/// paragraphs, links, a style attribute and a script the sanitizer removes.
fn message(i: u32, size: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut html = String::from("<html><body><div style=\"color:#333\">");
    let mut n = 0;
    while text.len() + html.len() < size.saturating_sub(900) {
        n += 1;
        let line = format!(
            "Paragraph {n} of message {i}: the quick brown fox jumps over the lazy dog, \
             and the report for week {n} is attached below."
        );
        text.push_str(&line);
        text.push_str("\r\n");
        html.push_str(&format!(
            "<p class=\"p{n}\" onclick=\"track({n})\">{line} <a href=\"https://example.com/{i}/{n}\">\
             link</a> <b>bold</b></p>\r\n"
        ));
        if n % 10 == 0 {
            html.push_str("<script>steal()</script>\r\n");
        }
    }
    html.push_str("</div></body></html>\r\n");
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\n\
         To: Me <me@example.com>\r\n\
         Subject: Benchmark message {i}\r\n\
         Message-ID: <{i}.bench@example.org>\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b{i}\"\r\n\r\n\
         --b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n\
         --b{i}--\r\n"
    )
    .into_bytes()
}

fn main() {
    let a = args();
    let server = MemoryServer::new();
    let mut bytes = 0usize;
    for i in 0..a.count {
        let m = message(i, a.size);
        bytes += m.len();
        if a.pop3 {
            server.deliver_pop3(m);
        } else {
            server.deliver("INBOX", m);
        }
    }
    let account = AccountConfig {
        name: Some("bench".into()),
        protocol: Some(if a.pop3 {
            MailProtocol::Pop3
        } else {
            MailProtocol::Imap
        }),
        host: Some("mail.test".into()),
        username: Some("me".into()),
        password: Some("pw".into()),
        batch_size: Some(a.batch),
        sanitize_html: Some(a.sanitize),
        after_receive: a.delete.then_some(AfterReceiveName::Delete),
        ..AccountConfig::default()
    }
    .validate()
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = inbound_store::Store::open(dir.path().join("bench.sqlite"), None).unwrap();
    let retriever = Retriever::new(inbound_retrieve::share(store), server.connector());
    let start = Instant::now();
    let report =
        futures::executor::block_on(retriever.retrieve_with_events(&account, &mut NoEvents))
            .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(report.fetched, u64::from(a.count), "{report:?}");
    let left = if a.pop3 {
        server.maildrop().len()
    } else {
        server.messages("INBOX").len()
    };
    assert_eq!(left, if a.delete { 0 } else { a.count as usize });
    println!(
        "{} {} messages, {:.1} KB average, sanitize {}, batch {}: {:.3} s, {:.0} messages/s, \
         {:.1} MB/s",
        if a.pop3 { "POP3" } else { "IMAP" },
        a.count,
        bytes as f64 / f64::from(a.count) / 1000.0,
        a.sanitize,
        a.batch,
        elapsed.as_secs_f64(),
        f64::from(a.count) / elapsed.as_secs_f64(),
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
    );
}
