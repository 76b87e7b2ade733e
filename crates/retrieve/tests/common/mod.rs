//! Helpers shared by the integration tests that run against the in-memory server
//! ([`MemoryServer`]): test mail, accounts, a store, numbers read back, an event recorder.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub
)]

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
pub use inbound_retrieve::backend::memory::{FaultKind, FaultPoint, MemoryConnector, MemoryServer};
use inbound_retrieve::{Account, AccountConfig};
use inbound_store::{MessageFilter, Store};

/// A server that accepts only the test accounts' password, "secret".
pub fn new_server() -> MemoryServer {
    let server = MemoryServer::new();
    server.require_password(Some("secret"));
    server
}

pub fn mail(i: u32) -> Bytes {
    Bytes::from(format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: me@example.com\r\nSubject: message {i}\r\n\
         Message-ID: <{i}@test.example>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p onclick=\"x()\">Body {i}</p><script>bad()</script>\r\n"
    ))
}

pub fn big_mail(i: u32, size: usize) -> Bytes {
    let mut s = String::from_utf8(mail(i).to_vec()).unwrap();
    s.push_str(&"x".repeat(size));
    s.push_str("\r\n");
    Bytes::from(s)
}

/// Delivers `mail(i)` for each `i` of a range.
pub trait DeliverMany {
    fn deliver_many(&self, folder: &str, range: std::ops::Range<u32>);
}

impl DeliverMany for MemoryServer {
    fn deliver_many(&self, folder: &str, range: std::ops::Range<u32>) {
        for i in range {
            self.deliver(folder, mail(i));
        }
    }
}

/// A test account: IMAP, password "secret", fetch all.
pub fn account(name: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    let mut c = AccountConfig {
        name: Some(name.to_owned()),
        protocol: Some(inbound_retrieve::MailProtocol::Imap),
        host: Some("mail.test".to_owned()),
        username: Some("me@example.com".to_owned()),
        password: Some("secret".into()),
        ..AccountConfig::default()
    };
    edit(&mut c);
    c.validate().unwrap()
}

pub fn pop3_account(name: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    account(name, |c| {
        c.protocol = Some(inbound_retrieve::MailProtocol::Pop3);
        edit(c);
    })
}

pub fn new_store() -> inbound_retrieve::SharedStore {
    inbound_retrieve::share(Store::open_in_memory(None).unwrap())
}

pub fn options() -> inbound_retrieve::RetrieveConfig {
    inbound_retrieve::RetrieveConfig {
        max_attempts: 3,
        backoff: inbound_net::backoff::BackoffConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            max_attempts: Some(5),
            jitter: inbound_net::backoff::Jitter::None,
        },
        idle_refresh: Duration::from_secs(60),
        token_tls: inbound_net::TlsConfig::new(),
        ..inbound_retrieve::RetrieveConfig::default()
    }
}

pub fn retriever(
    store: &inbound_retrieve::SharedStore,
    server: &MemoryServer,
) -> inbound_retrieve::Retriever<MemoryConnector> {
    inbound_retrieve::Retriever::new(store.clone(), server.connector()).with_options(options())
}

/// Subjects of the stored messages of an account ("message N"), sorted by N, with repeats.
pub fn stored_numbers(store: &inbound_retrieve::SharedStore, account: &str) -> Vec<u32> {
    let st = store.lock().unwrap();
    let mut n: Vec<u32> = st
        .list_messages(&MessageFilter::account(account))
        .unwrap()
        .iter()
        .map(|m| {
            m.subject
                .as_deref()
                .unwrap()
                .trim_start_matches("message ")
                .parse()
                .unwrap()
        })
        .collect();
    n.sort_unstable();
    n
}

/// Numbers of the messages in a server folder.
pub fn server_numbers(server: &MemoryServer, folder: &str) -> Vec<u32> {
    let mut n: Vec<u32> = server
        .messages(folder)
        .iter()
        .map(|(_, b)| number_of(b))
        .collect();
    n.sort_unstable();
    n
}

pub fn pop3_numbers(server: &MemoryServer) -> Vec<u32> {
    let mut n: Vec<u32> = server
        .maildrop()
        .iter()
        .map(|(_, b)| number_of(b))
        .collect();
    n.sort_unstable();
    n
}

pub fn number_of(body: &Bytes) -> u32 {
    let text = std::str::from_utf8(body).unwrap();
    let start = text.find("Subject: message ").unwrap() + "Subject: message ".len();
    let end = text[start..].find('\r').unwrap() + start;
    text[start..end].parse().unwrap()
}

/// Records events.
#[derive(Default)]
pub struct Recorder {
    pub progress: Vec<inbound_retrieve::Progress>,
    pub messages: Vec<String>,
    pub batches: Vec<inbound_retrieve::BatchDone>,
    pub errors: Vec<String>,
    pub skipped: Vec<inbound_retrieve::Skipped>,
    pub completed: u32,
}

impl inbound_retrieve::Events for Recorder {
    fn on_progress(&mut self, p: &inbound_retrieve::Progress) {
        self.progress.push(*p);
    }
    fn on_message(&mut self, m: &inbound_retrieve::NewMail<'_>) {
        self.messages
            .push(m.email.subject.clone().unwrap_or_default());
    }
    fn on_skipped(&mut self, s: &inbound_retrieve::Skipped) {
        self.skipped.push(s.clone());
    }
    fn on_batch(&mut self, b: &inbound_retrieve::BatchDone) {
        self.batches.push(*b);
    }
    fn on_error(&mut self, e: &str) {
        self.errors.push(e.to_owned());
    }
    fn on_complete(&mut self, _r: &inbound_retrieve::Report) {
        self.completed += 1;
    }
}

pub fn pending_count(store: &inbound_retrieve::SharedStore, account: &str) -> usize {
    store
        .lock()
        .unwrap()
        .pending_actions(account)
        .unwrap()
        .len()
}

pub type Counts = HashMap<u32, usize>;
