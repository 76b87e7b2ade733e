//! A webhook receiver for tests and benches: an HTTP/1.1 server on 127.0.0.1 that records
//! every POST (headers and body) and answers as a test's script says: a status, or nothing
//! at all (it hangs, holding the connection). Connections are kept alive.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use inbound_test_server::webhook::{Receiver, Reply};
//!
//! // Fails the first two requests, then accepts.
//! let receiver = Receiver::start(|n, _req| if n < 2 { Reply::Status(500) } else { Reply::Status(204) })
//!     .await
//!     .unwrap();
//! assert!(receiver.url().starts_with("http://127.0.0.1:"));
//! assert!(receiver.requests().is_empty());
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request target (path and query).
    pub path: String,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// The first header of this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// This status, with a short body.
    Status(u16),
    /// Nothing, for an hour: the client's timeout must end it.
    Hang,
}

/// Decides each answer from the request's number (0-based, over the receiver's life) and
/// the request.
pub type Script = Arc<dyn Fn(usize, &Received) -> Reply + Send + Sync>;

/// A running receiver; stops accepting when dropped.
pub struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Receiver {
    /// Starts on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(
        script: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), script).await
    }

    /// Starts on `addr` (a port a test reserved earlier, to come up where a client already
    /// points).
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn start_on(
        addr: SocketAddr,
        script: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(script);
        let recorded = requests.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, recorded.clone(), script.clone()));
            }
        });
        Ok(Self {
            addr,
            requests,
            accept,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }
}

/// Serves one connection: requests one after another until the client closes.
async fn serve(mut stream: TcpStream, recorded: Arc<Mutex<Vec<Received>>>, script: Script) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let n = match recorded.lock() {
            Ok(mut all) => {
                all.push(request.clone());
                all.len() - 1
            }
            Err(_) => return,
        };
        match script(n, &request) {
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Status(status) => {
                let answer = format!(
                    "HTTP/1.1 {status} Status\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
                );
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request (headers and a `content-length` body); `None` at the end of the
/// connection or on a malformed request.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Received> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let path = req.path.unwrap_or("").to_owned();
                let headers: Vec<(String, String)> = req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_len + length {
                    let mut chunk = [0u8; 16 * 1024];
                    let n = stream.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                return Some(Received {
                    path,
                    headers,
                    body,
                });
            }
            Ok(httparse::Status::Partial) => {
                let mut chunk = [0u8; 16 * 1024];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(_) => return None,
        }
    }
}
