//! A scripted one-connection POP3 peer shared by the POP3 client's test binaries.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_net::Security;
use inbound_net::pop3::Pop3Config;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The server side of one scripted connection.
pub(crate) struct Peer {
    pub(crate) reader: BufReader<OwnedReadHalf>,
    pub(crate) writer: OwnedWriteHalf,
    /// Every line the client sent.
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    pub(crate) async fn send(&mut self, data: &[u8]) {
        self.writer.write_all(data).await.unwrap();
    }

    /// The next client line (without CRLF); `None` at end of stream.
    pub(crate) async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        self.log.lock().unwrap().push(line.clone());
        Some(line)
    }

    /// The next line, which must be `expected`.
    pub(crate) async fn expect(&mut self, expected: &str) {
        let got = self.line().await;
        assert_eq!(got.as_deref(), Some(expected));
    }

    /// Whether another line arrives within `wait` (real time).
    pub(crate) async fn line_within(&mut self, wait: Duration) -> Option<String> {
        tokio::time::timeout(wait, self.line()).await.ok().flatten()
    }
}

/// Starts a one-connection server running `script`; returns its port and the client-line log.
pub(crate) async fn serve<F, Fut>(script: F) -> (u16, Arc<Mutex<Vec<String>>>)
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let peer_log = log.clone();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, writer) = socket.into_split();
        script(Peer {
            reader: BufReader::new(read),
            writer,
            log: peer_log,
        })
        .await;
    });
    (port, log)
}

pub(crate) fn plaintext(port: u16) -> Pop3Config {
    Pop3Config::new("127.0.0.1", Security::Plaintext)
        .with_port(port)
        .with_timeout(Duration::from_secs(5))
}
