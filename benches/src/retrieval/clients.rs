//! The Rust clients of the retrieval bench, each run in its own process
//! (`retrieval --client NAME ...`): they connect, log in, retrieve every message of INBOX,
//! log out, and return a [`ClientReport`] measured in-process.
//!
//! - `inbound-imap`: [`ImapClient::uid_fetch_bodies`] over all UIDs, keeping every body.
//! - `inbound-imap-stream`: [`ImapClient::uid_fetch_bodies_only`], the raw read's request
//!   (`UID BODY.PEEK[]`, what retrieval asks for), each body counted and dropped as it
//!   arrives: the raw read's like for like (no metadata, nothing held), which separates the
//!   cost of keeping 100 MB from the cost of the client.
//! - `async-imap`: async-imap's `uid_fetch` with the same items, keeping every `Fetch`.
//! - `raw-imap`: `UID FETCH 1:* BODY.PEEK[]` over a bare (TLS) stream that only frames the
//!   answer (finds each literal's `{n}` and skips its octets, never looks inside): the most
//!   a client can get out of the server.
//! - `raw-imap-items`: the same with the items the clients ask for
//!   (`UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[]`).
//! - `raw-imap-items-keep`: `raw-imap-items` that copies each literal into a `Vec` and keeps
//!   them all, as the clients do (the raw read's price for holding every body).
//! - `inbound-pop3`: [`Pop3Client::retr_many`] (pipelined when the server announces
//!   PIPELINING), keeping every message; `inbound-pop3-seq`: one `RETR` at a time.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use inbound_net::imap::{ImapClient, ImapConfig, SequenceSet};
use inbound_net::pop3::{Pop3Client, Pop3Config};
use inbound_net::{Credentials, Security, TlsConfig};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::BoxError;
use super::stats::{self, ClientReport};

/// The items every IMAP client asks for (what a mail client needs besides the body).
pub const IMAP_ITEMS: &str = "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])";

/// The Rust clients, by the name given to `--client`.
pub const RUST_CLIENTS: &[&str] = &[
    "inbound-imap",
    "inbound-imap-stream",
    "async-imap",
    "raw-imap",
    "raw-imap-items",
    "raw-imap-items-keep",
    "raw-imap-items-bufread",
    "inbound-pop3",
    "inbound-pop3-seq",
];

/// Where a client connects and how it logs in.
#[derive(Debug, Clone)]
pub struct Target {
    /// Loopback port.
    pub port: u16,
    /// Implicit TLS (else plaintext).
    pub tls: bool,
    /// The CA the server's certificate chains to.
    pub ca_file: PathBuf,
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl Target {
    fn security_name(&self) -> &'static str {
        if self.tls { "tls" } else { "plain" }
    }

    fn security(&self) -> Security {
        if self.tls {
            Security::Tls
        } else {
            Security::Plaintext
        }
    }

    fn tls_settings(&self) -> TlsConfig {
        TlsConfig::new()
            .with_builtin_roots(false)
            .with_ca_file(&self.ca_file)
    }
}

/// Runs the client `name` against `target` (on a current-thread runtime: one core, as the
/// Python clients).
///
/// # Errors
/// An unknown name, or whatever failed in the client.
pub fn run_client(name: &str, target: &Target) -> Result<ClientReport, BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (messages, bytes, fetch) = runtime.block_on(async {
        match name {
            "inbound-imap" => inbound_imap(target, true).await,
            "inbound-imap-stream" => inbound_imap(target, false).await,
            "async-imap" => async_imap(target).await,
            "raw-imap" => raw_imap(target, "BODY.PEEK[]", false).await,
            "raw-imap-items" => raw_imap(target, IMAP_ITEMS, false).await,
            "raw-imap-items-keep" => raw_imap(target, IMAP_ITEMS, true).await,
            "raw-imap-items-bufread" => raw_imap_bufread(target).await,
            "inbound-pop3" => inbound_pop3(target, true).await,
            "inbound-pop3-seq" => inbound_pop3(target, false).await,
            other => Err(format!("unknown client `{other}`").into()),
        }
    })?;
    let session = started.elapsed();
    Ok(ClientReport {
        client: name.to_owned(),
        security: target.security_name().to_owned(),
        messages,
        bytes,
        session_ms: ms(session),
        fetch_ms: ms(fetch),
        cpu_ms: stats::cpu_ms(),
        peak_rss_kb: stats::peak_rss_kb(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (messages, octets, time of the retrieval).
type Fetched = (u64, u64, Duration);

/// inbound-net's fetch stream; `keep`: the clients' items, every body held until the end;
/// else the bodies only, each counted and dropped.
async fn inbound_imap(t: &Target, keep: bool) -> Result<Fetched, BoxError> {
    let config = ImapConfig::new("127.0.0.1", t.security())
        .with_port(t.port)
        .with_tls(t.tls_settings())
        .with_timeout(Duration::from_secs(120));
    let mut client = ImapClient::connect(&config).await?;
    client
        .login(&Credentials::password(&t.user, t.password.as_str()), None)
        .await?;
    client.select("INBOX").await?;
    let started = Instant::now();
    let mut bodies = Vec::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut stream = if keep {
        client.uid_fetch_bodies(&SequenceSet::all())?
    } else {
        client.uid_fetch_bodies_only(&SequenceSet::all())?
    };
    while let Some(message) = stream.next().await {
        let body = message?.body;
        messages += 1;
        bytes += body.len() as u64;
        if keep {
            bodies.push(body);
        }
    }
    drop(stream);
    let elapsed = started.elapsed();
    client.logout().await?;
    drop(bodies);
    Ok((messages, bytes, elapsed))
}

async fn connect_tcp(port: u16) -> Result<TcpStream, BoxError> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    // As inbound-net does; only matters for the short commands.
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

async fn connect_tls(t: &Target) -> Result<tokio_rustls::client::TlsStream<TcpStream>, BoxError> {
    let tcp = connect_tcp(t.port).await?;
    // A rustls config with the ring provider and the test CA (no process-wide provider).
    let config: Arc<rustls::ClientConfig> = t.tls_settings().client_config()?;
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    Ok(tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?)
}

async fn async_imap(t: &Target) -> Result<Fetched, BoxError> {
    if t.tls {
        async_imap_on(connect_tls(t).await?, t).await
    } else {
        async_imap_on(connect_tcp(t.port).await?, t).await
    }
}

async fn async_imap_on<S>(stream: S, t: &Target) -> Result<Fetched, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await?
        .ok_or("async-imap: no greeting")?;
    let mut session = client
        .login(&t.user, &t.password)
        .await
        .map_err(|(e, _)| e)?;
    session.select("INBOX").await?;
    let started = Instant::now();
    let mut fetches = Vec::new();
    {
        let mut stream = session.uid_fetch("1:*", IMAP_ITEMS).await?;
        while let Some(fetch) = stream.next().await {
            fetches.push(fetch?);
        }
    }
    let elapsed = started.elapsed();
    session.logout().await?;
    let mut bytes = 0u64;
    for f in &fetches {
        bytes += f.body().ok_or("async-imap: a FETCH without BODY[]")?.len() as u64;
    }
    Ok((fetches.len() as u64, bytes, elapsed))
}

async fn raw_imap(t: &Target, items: &str, keep: bool) -> Result<Fetched, BoxError> {
    if t.tls {
        raw_imap_on(connect_tls(t).await?, t, items, keep).await
    } else {
        raw_imap_on(connect_tcp(t.port).await?, t, items, keep).await
    }
}

/// `raw-imap-items` with TLS over a 64 KiB `BufReader` on the TCP stream: rustls reads
/// the socket 4 KiB at a time, the `BufReader` turns that into one `recvfrom` per 64 KiB.
async fn raw_imap_bufread(t: &Target) -> Result<Fetched, BoxError> {
    let tcp = tokio::io::BufReader::with_capacity(64 * 1024, connect_tcp(t.port).await?);
    if !t.tls {
        return raw_imap_on(tcp, t, IMAP_ITEMS, false).await;
    }
    let config: Arc<rustls::ClientConfig> = t.tls_settings().client_config()?;
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    raw_imap_on(tls, t, IMAP_ITEMS, false).await
}

/// Read buffer of the raw client.
const RAW_BUFFER: usize = 256 * 1024;

async fn raw_imap_on<S>(mut s: S, t: &Target, items: &str, keep: bool) -> Result<Fetched, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framer = RawFramer::default();
    let mut buf = vec![0u8; RAW_BUFFER];
    framer.tag = b"a0".to_vec();
    raw_until_tagged(&mut s, &mut buf, &mut framer, None).await?; // the greeting
    let login = format!("a1 LOGIN \"{}\" \"{}\"\r\n", t.user, t.password);
    raw_until_tagged(
        &mut s,
        &mut buf,
        &mut framer,
        Some(("a1", login.as_bytes())),
    )
    .await?;
    raw_until_tagged(
        &mut s,
        &mut buf,
        &mut framer,
        Some(("a2", b"a2 SELECT INBOX\r\n")),
    )
    .await?;
    framer.literals = 0;
    framer.literal_octets = 0;
    framer.kept = keep.then(Vec::new);
    let started = Instant::now();
    let fetch = format!("a3 UID FETCH 1:* {items}\r\n");
    raw_until_tagged(
        &mut s,
        &mut buf,
        &mut framer,
        Some(("a3", fetch.as_bytes())),
    )
    .await?;
    let elapsed = started.elapsed();
    let fetched = (framer.literals, framer.literal_octets, elapsed);
    if let Some(kept) = framer.kept.take() {
        let octets: u64 = kept.iter().map(|b| b.len() as u64).sum();
        if (kept.len() as u64, octets) != (fetched.0, fetched.1) {
            return Err("raw-imap: kept literals do not add up".into());
        }
    }
    raw_until_tagged(
        &mut s,
        &mut buf,
        &mut framer,
        Some(("a4", b"a4 LOGOUT\r\n")),
    )
    .await?;
    Ok(fetched)
}

/// Sends `command` (tag, line) and reads until its tagged answer, which must be `OK`; with
/// no command, reads the greeting (the first untagged line).
async fn raw_until_tagged<S>(
    s: &mut S,
    buf: &mut [u8],
    framer: &mut RawFramer,
    command: Option<(&str, &[u8])>,
) -> Result<(), BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    framer.greeting = command.is_none();
    if let Some((tag, line)) = command {
        framer.tag = tag.as_bytes().to_vec();
        s.write_all(line).await?;
        s.flush().await?;
    }
    framer.done = None;
    loop {
        let n = s.read(buf).await?;
        if n == 0 {
            return Err("raw-imap: the server closed the connection".into());
        }
        framer.feed(&buf[..n])?;
        if let Some(ok) = framer.done.take() {
            return if ok {
                Ok(())
            } else {
                Err(format!(
                    "raw-imap: command {:?} refused",
                    String::from_utf8_lossy(&framer.tag)
                )
                .into())
            };
        }
    }
}

/// IMAP framing and nothing else: lines, and literals skipped by their announced length.
/// Counts the literals (one `BODY[]` per FETCH response here) and their octets.
#[derive(Debug, Default)]
pub struct RawFramer {
    line: Vec<u8>,
    skip: u64,
    /// The tag whose completion is awaited.
    pub tag: Vec<u8>,
    /// Whether the first untagged line completes (the greeting).
    pub greeting: bool,
    /// Set when the awaited line arrived: whether it was `OK`.
    pub done: Option<bool>,
    /// Literals seen.
    pub literals: u64,
    /// Their octets.
    pub literal_octets: u64,
    /// When set, every literal is copied here (one `Vec` each, allocated at its announced
    /// length: the bench trusts its own server).
    pub kept: Option<Vec<Vec<u8>>>,
}

/// Longest line outside literals the raw client accepts.
const RAW_MAX_LINE: usize = 64 * 1024;

impl RawFramer {
    /// Feeds received octets. Bytes after the awaited line are not expected (the client
    /// sends one command at a time) and are kept as the start of the next line.
    ///
    /// # Errors
    /// A line over 64 KiB outside literals.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), BoxError> {
        while !data.is_empty() {
            if self.skip > 0 {
                let k = (self.skip as usize).min(data.len());
                if let Some(last) = self.kept.as_mut().and_then(|kept| kept.last_mut()) {
                    last.extend_from_slice(&data[..k]);
                }
                self.skip -= k as u64;
                data = &data[k..];
                continue;
            }
            let Some(end) = data.iter().position(|&b| b == b'\n') else {
                self.line.extend_from_slice(data);
                if self.line.len() > RAW_MAX_LINE {
                    return Err("raw-imap: line too long".into());
                }
                return Ok(());
            };
            self.line.extend_from_slice(&data[..=end]);
            data = &data[end + 1..];
            if let Some(len) = literal_len(&self.line) {
                self.literals += 1;
                self.literal_octets += len;
                self.skip = len;
                if let Some(kept) = self.kept.as_mut() {
                    kept.push(Vec::with_capacity(len as usize));
                }
            } else {
                self.complete_line();
            }
            self.line.clear();
        }
        Ok(())
    }

    fn complete_line(&mut self) {
        let line = self.line.as_slice();
        if self.greeting && line.starts_with(b"* ") {
            self.done = Some(line.starts_with(b"* OK") || line.starts_with(b"* PREAUTH"));
            return;
        }
        if line.len() > self.tag.len()
            && line.starts_with(&self.tag)
            && line[self.tag.len()] == b' '
        {
            self.done = Some(line[self.tag.len() + 1..].starts_with(b"OK"));
        }
    }
}

/// `n` of a line ending in `{n}\r\n` (or `{n+}`).
fn literal_len(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

async fn inbound_pop3(t: &Target, pipelined: bool) -> Result<Fetched, BoxError> {
    let config = Pop3Config::new("127.0.0.1", t.security())
        .with_port(t.port)
        .with_tls(t.tls_settings())
        .with_timeout(Duration::from_secs(120));
    let mut client = Pop3Client::connect(&config).await?;
    client
        .login(&Credentials::password(&t.user, t.password.as_str()), None)
        .await?;
    let list = client.list().await?;
    let started = Instant::now();
    let mut bodies = Vec::with_capacity(list.len());
    if pipelined {
        let mut batch = client.retr_many(list.iter().map(|l| l.msg));
        while let Some((_, body)) = batch.next().await {
            bodies.push(body?);
        }
    } else {
        for entry in &list {
            bodies.push(client.retr(entry.msg).await?);
        }
    }
    let elapsed = started.elapsed();
    client.quit().await?;
    let bytes = bodies.iter().map(|b| b.len() as u64).sum();
    Ok((bodies.len() as u64, bytes, elapsed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn framer_counts_literals_split_anywhere() {
        let answer: &[u8] = b"* 1 FETCH (UID 1 BODY[] {5}\r\nab}\r\n)\r\n\
            * 2 FETCH (UID 2 BODY[] {3}\r\n{9}\r\n)\r\na3 OK done\r\n";
        for split in 1..answer.len() {
            let mut f = RawFramer {
                tag: b"a3".to_vec(),
                ..RawFramer::default()
            };
            for chunk in answer.chunks(split) {
                f.feed(chunk).unwrap();
            }
            assert_eq!(f.done, Some(true), "split {split}");
            assert_eq!((f.literals, f.literal_octets), (2, 8), "split {split}");
        }
    }

    #[test]
    fn framer_keeps_literals_whole_when_asked() {
        let answer: &[u8] = b"* 1 FETCH (UID 1 BODY[] {5}\r\nab}\r\n)\r\n\
            * 2 FETCH (UID 2 BODY[] {3}\r\n{9}\r\n)\r\na3 OK done\r\n";
        for split in 1..answer.len() {
            let mut f = RawFramer {
                tag: b"a3".to_vec(),
                kept: Some(Vec::new()),
                ..RawFramer::default()
            };
            for chunk in answer.chunks(split) {
                f.feed(chunk).unwrap();
            }
            assert_eq!(f.done, Some(true), "split {split}");
            assert_eq!(
                f.kept.unwrap(),
                vec![b"ab}\r\n".to_vec(), b"{9}".to_vec()],
                "split {split}"
            );
        }
    }

    #[test]
    fn framer_sees_refusals_and_greetings() {
        let mut f = RawFramer {
            tag: b"a1".to_vec(),
            ..RawFramer::default()
        };
        f.feed(b"* CAPABILITY IMAP4rev1\r\na10 OK other\r\na1 NO [AUTHENTICATIONFAILED] no\r\n")
            .unwrap();
        assert_eq!(f.done, Some(false));
        let mut g = RawFramer {
            greeting: true,
            ..RawFramer::default()
        };
        g.feed(b"* OK [CAPABILITY IMAP4rev1] ready\r\n").unwrap();
        assert_eq!(g.done, Some(true));
    }

    #[test]
    fn literal_lengths() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {20000}\r\n"), Some(20000));
        assert_eq!(literal_len(b"a1 LOGIN {3+}\r\n"), Some(3));
        assert_eq!(literal_len(b"* OK {x}\r\n"), None);
        assert_eq!(literal_len(b"* OK done\r\n"), None);
    }
}
