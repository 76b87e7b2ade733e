//! Shared helpers of the IMAP integration tests: a server on loopback ports (IMAP with
//! STARTTLS, and IMAPS) around the IMAP session, and a raw line client.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use inbound_test_server::faults::FaultControl;
use inbound_test_server::mailstore::MailStore;
use inbound_test_server::oauth::TokenRegistry;
use inbound_test_server::server::{ServerConfig, TestServer};
use inbound_test_server::transcript::TranscriptCapture;
use rustls_pki_types::ServerName;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A running server for one test (user `demo:demo` with the sample mailbox).
pub struct Harness {
    pub server: TestServer,
    pub store: MailStore,
    pub registry: TokenRegistry,
    pub faults: FaultControl,
    pub transcript: TranscriptCapture,
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    pub ca_file: PathBuf,
}

/// Starts a server with user `demo:demo` holding the sample mailbox.
pub async fn start() -> Harness {
    start_with(|c| c).await
}

/// Starts a server, letting the test adjust the configuration.
pub async fn start_with(adjust: impl FnOnce(ServerConfig) -> ServerConfig) -> Harness {
    let transcript = TranscriptCapture::new();
    let config = adjust(
        ServerConfig::default()
            .store(MailStore::with_uid_validity_base(1000))
            .transcript(transcript.clone()),
    );
    let server = TestServer::start(config).await.expect("server starts");
    Harness {
        store: server.store().clone(),
        registry: server.registry().clone(),
        faults: server.faults().clone(),
        transcript,
        imap: server.imap_addr(),
        imaps: server.imaps_addr(),
        ca_file: server.ca_file().to_owned(),
        server,
    }
}

/// A raw IMAP client reading lines (literals included in the line text).
pub struct Client<S = TcpStream> {
    pub reader: BufReader<S>,
}

pub type TlsClient = Client<TlsStream<TcpStream>>;

/// Upgrades a plain client after the STARTTLS OK (trusting the server's CA).
pub async fn tls_client(h: &Harness, c: Client) -> TlsClient {
    assert!(c.reader.buffer().is_empty(), "bytes after STARTTLS OK");
    tls_over(h, c.reader.into_inner()).await
}

pub async fn tls_over(h: &Harness, tcp: TcpStream) -> TlsClient {
    let connector = TlsConnector::from(h.server.client_tls_config().unwrap());
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    Client {
        reader: BufReader::new(tls),
    }
}

/// Connects to the IMAPS port and reads the greeting.
pub async fn connect_imaps(h: &Harness) -> (TlsClient, String) {
    let tcp = TcpStream::connect(h.imaps).await.unwrap();
    let mut c = tls_over(h, tcp).await;
    let greeting = c.line().await.expect("greeting");
    (c, greeting)
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// Connects and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> (Self, String) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut c = Self {
            reader: BufReader::new(tcp),
        };
        let greeting = c.line().await.expect("greeting");
        (c, greeting)
    }

    /// Connects and logs in as demo.
    pub async fn login(addr: SocketAddr) -> Self {
        let (mut c, _) = Self::connect(addr).await;
        let r = c.cmd("l LOGIN demo demo").await;
        assert!(
            r.last().unwrap().to_ascii_uppercase().starts_with("L OK"),
            "{r:?}"
        );
        c
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub async fn send(&mut self, line: &str) {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.unwrap();
    }

    /// One response line; a literal `{n}` at its end is read and appended with the rest of
    /// the line. `None` at end of stream.
    pub async fn line(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = tokio::time::timeout(TIMEOUT, self.reader.read_until(b'\n', &mut buf))
                .await
                .expect("timed out reading a line")
                .ok()?;
            if n == 0 {
                return if out.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(&out).into_owned())
                };
            }
            out.extend_from_slice(&buf);
            let trimmed = buf.strip_suffix(b"\r\n").unwrap_or(&buf);
            let literal = trimmed
                .strip_suffix(b"}")
                .and_then(|t| t.iter().rposition(|&b| b == b'{').map(|i| &t[i + 1..]))
                .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok());
            match literal {
                Some(len) => {
                    let mut data = vec![0; len];
                    tokio::time::timeout(TIMEOUT, self.reader.read_exact(&mut data))
                        .await
                        .expect("timed out reading a literal")
                        .ok()?;
                    out.extend_from_slice(&data);
                }
                None => return Some(String::from_utf8_lossy(&out).into_owned()),
            }
        }
    }

    /// Sends a command and returns every line up to and including its tagged answer.
    pub async fn cmd(&mut self, line: &str) -> Vec<String> {
        let tag = line.split(' ').next().unwrap().to_owned();
        self.send(line).await;
        self.until_tag(&tag).await
    }

    pub async fn until_tag(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .line()
                .await
                .unwrap_or_else(|| panic!("EOF before {tag}: {lines:?}"));
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Reads everything until the server closes (bounded by the timeout).
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(TIMEOUT, self.reader.read_to_end(&mut out)).await;
        out
    }
}

/// The text of all lines.
pub fn joined(lines: &[String]) -> String {
    lines.concat()
}
