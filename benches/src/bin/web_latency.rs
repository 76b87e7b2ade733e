//! Page and API latency of the web app (`inbound serve`) with 100 accounts and 100,000
//! stored messages: p50, p99 and the maximum of the accounts overview, a message page, a
//! messages page, and the API's accounts list and message, over loopback HTTP.
//!
//! `cargo run --release -p inbound-benches --bin web_latency [-- --accounts N --per-account M --requests R]`

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_message::{Address, Email};
use inbound_retrieve::{Account, SecretSource};
use inbound_store::{NewMessage, ServerRef, Store};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn message(account: usize, i: usize) -> Email {
    let raw = format!(
        "From: Sender {i} <sender{}@example.org>\r\nTo: user{account}@example.org\r\n\
         Subject: Message {i} of account {account}\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <m{account}.{i}@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nHello {i}, this is a short note.\r\n\
         --B\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>{i}</b>, this is a <a href=\"https://example.org/\">short</a> note.</p>\r\n--B--\r\n",
        i % 97
    );
    let mut email = Email::parse(raw.into_bytes());
    email.date = Some(1_790_000_000 + i as i64);
    if email.from.is_empty() {
        email.from = vec![Address {
            name: None,
            address: "sender@example.org".into(),
        }];
    }
    email
}

type BoxError = Box<dyn std::error::Error>;

/// One GET over a fresh loopback connection; the time to the whole response.
fn get(addr: &str, path: &str) -> Result<Duration, BoxError> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let elapsed = start.elapsed();
    if !out.starts_with(b"HTTP/1.1 200") {
        let head = String::from_utf8_lossy(&out[..out.len().min(200)]).into_owned();
        return Err(format!("{path}: {head}").into());
    }
    Ok(elapsed)
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name:<28} n={:<5} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let accounts_n = arg("--accounts", 100);
    let per_account = arg("--per-account", 1000);
    let requests = arg("--requests", 300);
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("web.sqlite"), None)?;
    let start = Instant::now();
    let mut accounts = Vec::new();
    let mut ids = Vec::new();
    for a in 0..accounts_n {
        let name = format!("account{a:03}");
        let emails: Vec<Email> = (0..per_account).map(|i| message(a, i)).collect();
        let refs: Vec<ServerRef> = (0..per_account)
            .map(|i| ServerRef::Imap {
                uidvalidity: 1,
                uid: i as u32 + 1,
            })
            .collect();
        let batch: Vec<NewMessage<'_>> = emails
            .iter()
            .zip(&refs)
            .map(|(e, r)| NewMessage::new(&name, "INBOX", r, e))
            .collect();
        for inserted in store.insert_messages(&batch)? {
            ids.push(inserted.id.0);
        }
        accounts.push(
            Account::imap(
                format!("imap{a}.example.org"),
                "me",
                SecretSource::env("NOPE"),
            )
            .named(name)
            .fetch_latest(50)
            .build()?,
        );
    }
    println!(
        "stored {} messages in {} accounts in {:.1} s",
        ids.len(),
        accounts_n,
        start.elapsed().as_secs_f64()
    );
    let app = inbound_web::WebApp::new(Arc::new(Mutex::new(Box::new(store))), accounts);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?.to_string();
    rt.spawn(app.serve(listener, std::future::pending()));

    let pick = |k: usize| ids[(k * 7919) % ids.len()];
    // Warm up.
    for k in 0..20 {
        get(&addr, "/")?;
        get(&addr, &format!("/messages/{}", pick(k)))?;
    }
    let run = |f: &dyn Fn(usize) -> String| -> Result<Vec<Duration>, BoxError> {
        (0..requests).map(|k| get(&addr, &f(k))).collect()
    };
    report("GET / (overview)", run(&|_| "/".to_owned())?);
    report(
        "GET /messages/{id}",
        run(&|k| format!("/messages/{}", pick(k)))?,
    );
    report(
        "GET /messages/{id}/body",
        run(&|k| format!("/messages/{}/body", pick(k)))?,
    );
    report(
        "GET /accounts/{a}/messages",
        run(&|k| format!("/accounts/account{:03}/messages", k % accounts_n))?,
    );
    report(
        "GET /api/v1/accounts",
        run(&|_| "/api/v1/accounts".to_owned())?,
    );
    report(
        "GET /api/v1/messages/{id}",
        run(&|k| format!("/api/v1/messages/{}", pick(k)))?,
    );
    Ok(())
}
