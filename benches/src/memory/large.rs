//! Peak RSS while one large message is retrieved.
//!
//! The parent starts a server process holding one large message, then runs one child
//! process per client method (`--fetch-child METHOD --port P`). The child measures its own
//! resident size before connecting and its peak (`VmHWM`) after the message was retrieved
//! whole (and, for the collecting methods, while it is still held), checks the bytes
//! against the server's checksum, and prints `RESULT {json}`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use inbound_net::imap::{ImapClient, ImapConfig};
use inbound_net::pop3::{Pop3Client, Pop3Config};
use inbound_net::{Credentials, Security};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use super::server::{FOLDER, PASSWORD, ServerProcess, USER};
use super::{BoxError, Fnv, RESULT_PREFIX, proc_status};

/// A way to retrieve the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// IMAP `UID FETCH` through [`ImapClient::uid_fetch_bodies`]: the body is held whole.
    ImapFetch,
    /// POP3 `RETR` through [`Pop3Client::retr`]: the body is held whole.
    Pop3Retr,
    /// POP3 `RETR` through [`Pop3Client::retr_stream`]: chunks are checked and dropped.
    Pop3Stream,
}

impl Method {
    /// All methods, in report order.
    pub const ALL: [Self; 3] = [Self::ImapFetch, Self::Pop3Retr, Self::Pop3Stream];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ImapFetch => "imap-fetch",
            Self::Pop3Retr => "pop3-retr",
            Self::Pop3Stream => "pop3-stream",
        }
    }

    /// The label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Self::ImapFetch => "IMAP uid_fetch_bodies",
            Self::Pop3Retr => "POP3 retr",
            Self::Pop3Stream => "POP3 retr_stream",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What one retrieval cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchResult {
    /// The method.
    pub method: Method,
    /// Bytes retrieved.
    pub bytes: usize,
    /// Their checksum.
    pub fnv: u64,
    /// Resident size before connecting, in bytes.
    pub baseline_rss: u64,
    /// Peak resident size of the process, in bytes.
    pub peak_rss: u64,
    /// Wall time of the retrieval (connect to last byte), in seconds.
    pub secs: f64,
}

impl FetchResult {
    /// Peak RSS over the message size.
    pub fn ratio(&self) -> f64 {
        self.peak_rss as f64 / self.bytes.max(1) as f64
    }

    /// Peak RSS above the baseline over the message size.
    pub fn growth_ratio(&self) -> f64 {
        self.peak_rss.saturating_sub(self.baseline_rss) as f64 / self.bytes.max(1) as f64
    }
}

fn limit(size: usize) -> usize {
    size + size / 4 + (1 << 20)
}

/// The child (`--fetch-child`): retrieves the message from the server at `port` of
/// 127.0.0.1 with `method` and measures this process. `size` is the message size the server
/// announced (the client limits are set just above it).
///
/// # Errors
/// Any failure to connect, log in or retrieve.
pub async fn fetch_child(method: Method, port: u16, size: usize) -> Result<FetchResult, BoxError> {
    let baseline = proc_status::read()?;
    let started = Instant::now();
    let credentials = Credentials::password(USER, PASSWORD);
    let timeout = Duration::from_secs(120);
    let (bytes, fnv, peak) = match method {
        Method::ImapFetch => {
            let config = ImapConfig::new("127.0.0.1", Security::Plaintext)
                .with_port(port)
                .with_timeout(timeout)
                .with_max_message_size(limit(size));
            let mut client = ImapClient::connect(&config).await?;
            client.login(&credentials, None).await?;
            let status = client.select(FOLDER).await?;
            let uid = status.uidnext.unwrap_or(2).saturating_sub(1).max(1);
            let mut stream = client.uid_fetch_bodies(&[uid])?;
            let message = stream.next().await.ok_or("no message fetched")??;
            if stream.next().await.is_some() {
                return Err("more than one message fetched".into());
            }
            drop(stream);
            let peak = proc_status::read()?.hwm;
            let out = (message.body.len(), Fnv::of(&message.body), peak);
            drop(message);
            client.logout().await?;
            out
        }
        Method::Pop3Retr | Method::Pop3Stream => {
            let config = Pop3Config::new("127.0.0.1", Security::Plaintext)
                .with_port(port)
                .with_timeout(timeout)
                .with_max_message_size(limit(size) as u64);
            let mut client = Pop3Client::connect(&config).await?;
            client.login(&credentials, None).await?;
            let out = if method == Method::Pop3Retr {
                let body = client.retr(1u32).await?;
                let peak = proc_status::read()?.hwm;
                (body.len(), Fnv::of(&body), peak)
            } else {
                let mut stream = client.retr_stream(1u32).await?;
                let mut fnv = Fnv::default();
                let mut len = 0;
                while let Some(chunk) = stream.next_chunk().await? {
                    fnv.update(&chunk);
                    len += chunk.len();
                }
                (len, fnv.finish(), proc_status::read()?.hwm)
            };
            client.quit().await?;
            out
        }
    };
    Ok(FetchResult {
        method,
        bytes,
        fnv,
        baseline_rss: baseline.rss,
        peak_rss: peak,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Runs one child process per method against a server holding one message of `size` bytes,
/// and checks every child got the message whole.
///
/// # Errors
/// When the server or a child fails, or a child got other bytes than the server holds.
pub async fn run(size: usize) -> Result<Vec<FetchResult>, BoxError> {
    let server = ServerProcess::spawn(Some(size)).await?;
    let mut results = Vec::new();
    for method in Method::ALL {
        let port = match method {
            Method::ImapFetch => server.imap.port(),
            Method::Pop3Retr | Method::Pop3Stream => server.pop3.port(),
        };
        let args = [
            "--fetch-child".to_owned(),
            method.name().to_owned(),
            "--port".to_owned(),
            port.to_string(),
            "--size".to_owned(),
            server.message_bytes.to_string(),
        ];
        let result: FetchResult = run_child(&args).await?;
        if result.bytes != server.message_bytes || result.fnv != server.message_fnv {
            return Err(format!(
                "{}: got {} bytes (checksum {:x}), the server holds {} (checksum {:x})",
                method.label(),
                result.bytes,
                result.fnv,
                server.message_bytes,
                server.message_fnv
            )
            .into());
        }
        results.push(result);
    }
    server.stop().await;
    Ok(results)
}

/// Runs `current_exe ARGS` and parses its `RESULT {json}` line.
///
/// # Errors
/// When the child cannot run, fails, or prints no result.
pub async fn run_child<T: serde::de::DeserializeOwned>(args: &[String]) -> Result<T, BoxError> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut result = None;
    while let Some(line) = lines.next_line().await? {
        match line.strip_prefix(RESULT_PREFIX) {
            Some(json) => result = Some(serde_json::from_str(json)?),
            None => eprintln!("  [{}] {line}", args.first().map_or("", String::as_str)),
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        return Err(format!("child {args:?} failed: {status}").into());
    }
    result.ok_or_else(|| format!("child {args:?} printed no result").into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::memory::server::large_message;
    use inbound_test_server::server::{ServerConfig, TestServer};

    #[tokio::test]
    async fn every_method_gets_the_stored_bytes() {
        let config = ServerConfig::default()
            .seed_sample(false)
            .user(USER, PASSWORD);
        let raw = large_message(300_000);
        let fnv = Fnv::of(&raw);
        let server = TestServer::start(config).await.unwrap();
        server.store().deliver(USER, FOLDER, raw).unwrap();
        for method in Method::ALL {
            let port = match method {
                Method::ImapFetch => server.imap_addr().port(),
                _ => server.pop3_addr().port(),
            };
            let r = fetch_child(method, port, 300_000).await.unwrap();
            assert_eq!((r.bytes, r.fnv), (300_000, fnv), "{method:?}");
            assert!(r.peak_rss >= r.baseline_rss && r.secs > 0.0);
            assert_eq!(Method::parse(method.name()), Some(method));
        }
    }
}
