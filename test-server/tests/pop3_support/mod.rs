//! A small line-level POP3 client for the tests: it sends what it is told and reads what the
//! server says, without interpreting anything, so the assertions see the wire.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use inbound_test_server::server::{ServerConfig, TestServer};
use rustls_pki_types::ServerName;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How long any single read may take before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

pub fn unb64(text: &str) -> Vec<u8> {
    STANDARD.decode(text).expect("base64")
}

/// Starts a server with `demo:demo` and the sample mailbox unless `config` says otherwise.
pub async fn start(config: ServerConfig) -> TestServer {
    TestServer::start(config).await.expect("server starts")
}

pub struct Client<S> {
    pub io: BufReader<S>,
}

pub type PlainClient = Client<TcpStream>;
pub type TlsClient = Client<TlsStream<TcpStream>>;

pub async fn connect(addr: SocketAddr) -> PlainClient {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    Client {
        io: BufReader::new(tcp),
    }
}

/// Connects and reads the greeting.
pub async fn connect_greeted(addr: SocketAddr) -> (PlainClient, String) {
    let mut client = connect(addr).await;
    let greeting = client.line().await;
    assert!(greeting.starts_with("+OK"), "{greeting}");
    (client, greeting)
}

pub async fn tls_handshake(
    server: &TestServer,
    tcp: TcpStream,
) -> std::io::Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(server.client_tls_config().unwrap());
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Connects to POP3S and reads the greeting.
pub async fn connect_pop3s(server: &TestServer) -> (TlsClient, String) {
    let tcp = TcpStream::connect(server.pop3s_addr()).await.unwrap();
    let tls = tls_handshake(server, tcp).await.unwrap();
    let mut client = Client {
        io: BufReader::new(tls),
    };
    let greeting = client.line().await;
    (client, greeting)
}

impl PlainClient {
    /// Sends STLS, expects `+OK`, runs the handshake.
    pub async fn stls(mut self, server: &TestServer) -> TlsClient {
        let answer = self.cmd("STLS").await;
        assert!(answer.starts_with("+OK"), "{answer}");
        assert!(self.io.buffer().is_empty(), "bytes after the STLS +OK");
        let tls = tls_handshake(server, self.io.into_inner()).await.unwrap();
        Client {
            io: BufReader::new(tls),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// One line without its CRLF; panics on EOF or timeout.
    pub async fn line(&mut self) -> String {
        self.try_line().await.expect("a line, not EOF")
    }

    /// One line without its CRLF, or `None` at EOF.
    pub async fn try_line(&mut self) -> Option<String> {
        let mut raw = Vec::new();
        let n = tokio::time::timeout(READ_TIMEOUT, self.io.read_until(b'\n', &mut raw))
            .await
            .expect("read timed out")
            .ok()?;
        if n == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&raw);
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Everything until EOF (or an error such as a reset).
    pub async fn rest(&mut self) -> Vec<u8> {
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(READ_TIMEOUT, self.io.read_to_end(&mut raw))
            .await
            .expect("read timed out");
        raw
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).await.unwrap();
        io.flush().await.unwrap();
    }

    /// Sends a command and reads its status line.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(line).await;
        self.line().await
    }

    /// The body of a multi-line answer, dot-stuffing removed, each line ending in CRLF.
    pub async fn body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let mut raw = Vec::new();
            let n = tokio::time::timeout(READ_TIMEOUT, self.io.read_until(b'\n', &mut raw))
                .await
                .expect("read timed out")
                .unwrap();
            assert!(n > 0, "EOF inside a multi-line answer");
            if raw == b".\r\n" {
                return body;
            }
            let line = raw.strip_prefix(b".").unwrap_or(&raw);
            body.extend_from_slice(line);
        }
    }

    /// Sends a multi-line command: its status line and, after `+OK`, the body.
    pub async fn cmd_multi(&mut self, line: &str) -> (String, Vec<u8>) {
        let status = self.cmd(line).await;
        if status.starts_with("+OK") {
            (status, self.body().await)
        } else {
            (status, Vec::new())
        }
    }

    /// The lines of a multi-line answer as text.
    pub async fn listing(&mut self, line: &str) -> Vec<String> {
        let (status, body) = self.cmd_multi(line).await;
        assert!(status.starts_with("+OK"), "{line}: {status}");
        String::from_utf8(body)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// USER/PASS; returns the answer to PASS.
    pub async fn login(&mut self, user: &str, password: &str) -> String {
        let answer = self.cmd(&format!("USER {user}")).await;
        assert!(answer.starts_with("+OK"), "{answer}");
        self.cmd(&format!("PASS {password}")).await
    }

    /// USER/PASS that must succeed.
    pub async fn login_ok(&mut self, user: &str, password: &str) {
        let answer = self.login(user, password).await;
        assert!(answer.starts_with("+OK"), "{answer}");
    }

    /// `QUIT`, expecting `+OK` and then EOF.
    pub async fn quit(&mut self) -> String {
        let answer = self.cmd("QUIT").await;
        assert!(
            self.try_line().await.is_none(),
            "the server closes after QUIT"
        );
        answer
    }
}

/// The UIDL a message of `store` has: `"{uidvalidity}.{uid}"`.
pub fn uidl_of(server: &TestServer, user: &str, uid: u32) -> String {
    let status = server.store().status(user, "INBOX").unwrap();
    format!("{}.{uid}", status.uid_validity)
}

/// A client-credentials token from the server's token endpoint, over plain HTTP/1.1.
pub async fn fetch_token(server: &TestServer, client_id: &str, secret: &str) -> String {
    let authority = server.oauth_authority();
    let host = authority.trim_start_matches("http://");
    let body = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}\
         &scope=https%3A%2F%2Foutlook.office365.com%2F.default"
    );
    let request = format!(
        "POST /contoso/oauth2/v2.0/token HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = TcpStream::connect(host).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(READ_TIMEOUT, tcp.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let (_, json) = response.split_once("\r\n\r\n").unwrap();
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["access_token"].as_str().unwrap().to_owned()
}

/// The XOAUTH2 initial response for `user` and `token`.
pub fn xoauth2(user: &str, token: &str) -> String {
    b64(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes())
}

/// The OAUTHBEARER initial response for `user` and `token`.
pub fn oauthbearer(user: &str, token: &str) -> String {
    b64(
        format!("n,a={user},\x01host=127.0.0.1\x01port=110\x01auth=Bearer {token}\x01\x01")
            .as_bytes(),
    )
}

/// Keeps `Arc` in use for clients that share a server across tasks.
pub type SharedServer = Arc<TestServer>;
