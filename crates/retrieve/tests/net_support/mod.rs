//! Shared by the `net_*` tests: accounts pointing at the in-process test server, a store,
//! a retriever with [`NetConnector`], and a TCP proxy that can cut every connection or hide
//! the MOVE capability.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use inbound_net::Security;
use inbound_retrieve::account::{AfterReceiveName, FetchName};
use inbound_retrieve::{
    Account, AccountConfig, MailProtocol, NetConnector, Retriever, SharedStore,
};
use inbound_store::{MessageFilter, Store};
use inbound_test_server::server::{ServerConfig, TestServer};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub const PASSWORD: &str = "pw";

/// A small message whose subject is `message {i}`.
pub fn mail(i: u32) -> Bytes {
    Bytes::from(format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: me@example.com\r\nSubject: message {i}\r\n\
         Message-ID: <{i}@net.example>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBody of message {i}.\r\n.\r\n..dots\r\n"
    ))
}

pub fn number_of(raw: &[u8]) -> u32 {
    let text = std::str::from_utf8(raw).unwrap();
    let start = text.find("Subject: message ").unwrap() + "Subject: message ".len();
    let end = text[start..].find('\r').unwrap() + start;
    text[start..end].parse().unwrap()
}

/// A test server with no sample mail and these users (password [`PASSWORD`]).
pub async fn server(users: &[&str]) -> TestServer {
    let mut config = ServerConfig::default().seed_sample(false);
    for u in users {
        config = config.user(u, PASSWORD);
    }
    TestServer::start(config).await.unwrap()
}

pub fn deliver(
    server: &TestServer,
    user: &str,
    folder: &str,
    range: std::ops::RangeInclusive<u32>,
) {
    for i in range {
        server.store().deliver(user, folder, mail(i)).unwrap();
    }
}

/// The message numbers in a server folder, sorted.
pub fn server_numbers(server: &TestServer, user: &str, folder: &str) -> Vec<u32> {
    let mut n: Vec<u32> = server
        .store()
        .messages(user, folder)
        .map(|m| m.iter().map(|m| number_of(&m.raw)).collect())
        .unwrap_or_default();
    n.sort_unstable();
    n
}

/// A POP3 or IMAP account (name = user) on plaintext, edited by `edit`.
pub fn account(
    protocol: MailProtocol,
    addr: SocketAddr,
    user: &str,
    edit: impl FnOnce(&mut AccountConfig),
) -> Account {
    let mut c = AccountConfig {
        name: Some(user.to_owned()),
        protocol: Some(protocol),
        host: Some("localhost".to_owned()),
        port: Some(i64::from(addr.port())),
        security: Some(Security::Plaintext),
        username: Some(user.to_owned()),
        password: Some(PASSWORD.into()),
        timeout_secs: Some(5),
        sanitize_html: Some(false),
        ..AccountConfig::default()
    };
    edit(&mut c);
    c.validate().unwrap()
}

pub fn imap(server: &TestServer, user: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    account(MailProtocol::Imap, server.imap_addr(), user, edit)
}

pub fn pop3(server: &TestServer, user: &str, edit: impl FnOnce(&mut AccountConfig)) -> Account {
    account(MailProtocol::Pop3, server.pop3_addr(), user, edit)
}

pub fn set_fetch(c: &mut AccountConfig, fetch: FetchName, count: Option<i64>) {
    c.fetch = Some(fetch);
    c.count = count;
}

pub fn delete_after(c: &mut AccountConfig) {
    c.after_receive = Some(AfterReceiveName::Delete);
}

pub fn move_after(c: &mut AccountConfig, to: &str) {
    c.after_receive = Some(AfterReceiveName::Move);
    c.move_to = Some(to.to_owned());
}

pub fn tls(c: &mut AccountConfig, security: Security, port: u16, ca: &std::path::Path) {
    c.security = Some(security);
    c.port = Some(i64::from(port));
    c.ca_file = Some(ca.to_path_buf());
}

pub fn new_store() -> SharedStore {
    inbound_retrieve::share(Store::open_in_memory(None).unwrap())
}

pub fn options(max_attempts: u32) -> inbound_retrieve::RetrieveConfig {
    inbound_retrieve::RetrieveConfig {
        max_attempts,
        backoff: inbound_net::backoff::BackoffConfig {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(50),
            max_attempts: Some(20),
            jitter: inbound_net::backoff::Jitter::None,
        },
        idle_refresh: Duration::from_secs(60),
        token_tls: inbound_net::TlsConfig::new(),
        ..inbound_retrieve::RetrieveConfig::default()
    }
}

pub fn retriever(store: &SharedStore, max_attempts: u32) -> Retriever<NetConnector> {
    Retriever::new(store.clone(), NetConnector::new()).with_options(options(max_attempts))
}

/// The message numbers stored for an account, sorted, with repeats.
pub fn stored_numbers(store: &SharedStore, account: &str) -> Vec<u32> {
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

pub fn pending_count(store: &SharedStore, account: &str) -> usize {
    store
        .lock()
        .unwrap()
        .pending_actions(account)
        .unwrap()
        .len()
}

pub fn set(v: &[u32]) -> HashSet<u32> {
    v.iter().copied().collect()
}

/// A TCP proxy in front of a server: [`Proxy::cut`] closes every open connection (a lost
/// network), and with `hide_move` the word `MOVE` in capability lines from the server is
/// replaced (so the client sees a server without RFC 6851).
pub struct Proxy {
    pub addr: SocketAddr,
    cut: watch::Sender<u64>,
    pub connections: Arc<Mutex<u32>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, hide_move: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(0u64);
        let connections = Arc::new(Mutex::new(0));
        let cut_tx = cut.clone();
        let count = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let cut_rx = cut_tx.subscribe();
                tokio::spawn(pipe(client, upstream, hide_move, cut_rx));
            }
        });
        Proxy {
            addr,
            cut,
            connections,
        }
    }

    /// Closes every connection open now.
    pub fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }
}

async fn pipe(
    client: TcpStream,
    upstream: SocketAddr,
    hide_move: bool,
    mut cut: watch::Receiver<u64>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    let down = async {
        let mut reader = BufReader::new(server_read);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if hide_move {
                let text = String::from_utf8_lossy(&line);
                if text.contains("CAPABILITY") && !text.contains('{') {
                    let fixed = text.replace(" MOVE", " X-NO-MOVE");
                    line = fixed.into_bytes();
                }
            }
            if client_write.write_all(&line).await.is_err() {
                return;
            }
            // Pass literal bytes through unchanged.
            if let Some(len) = literal_len(&line) {
                let mut rest = vec![0u8; len];
                if reader.read_exact(&mut rest).await.is_err()
                    || client_write.write_all(&rest).await.is_err()
                {
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = cut.changed() => {}
    }
}

/// `{n}` or `{n+}` at the end of a line.
fn literal_len(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let text = text.trim_end_matches(['\r', '\n']);
    let inner = text.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}
