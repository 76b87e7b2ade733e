//! The test server in a process of its own: the bench binary re-executed with `--serve`.
//!
//! The server process starts [`TestServer`] (user `demo`, an empty INBOX, or one large
//! message in it with `--large-bytes N`) and prints one line:
//! `READY imap=.. imaps=.. pop3=.. pop3s=.. oauth=.. ca=PATH message_bytes=N message_fnv=H`.
//! It then reads commands on standard input: `deliver` puts a small message into `demo`'s
//! INBOX at once (no polling of a mail directory; on a runtime worker, as an APPEND from
//! another session would) and answers
//! `DELIVERED uid=U at_ns=T`, where `T` is the wall-clock time (nanoseconds since the Unix
//! epoch) taken just before the delivery, so that the client process can measure how long
//! the notification took. End of input stops the server.
//!
//! Profiling: with `INBOUND_BENCH_SERVER_WRAP` set (for instance to `valgrind
//! --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p`), the server
//! process runs under that command line. Under callgrind with `--instr-atstart=no`, the
//! IDLE bench switches instrumentation on for the deliveries only and dumps the counts
//! after them ([`ServerProcess::profile`]), so the dump holds the server's instructions of
//! the deliveries alone.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use inbound_test_server::server::TestServer;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

use super::{BoxError, Fnv};

/// The user every session logs in as.
pub const USER: &str = "demo";
/// Its password.
pub const PASSWORD: &str = "demo";
/// The folder.
pub const FOLDER: &str = "INBOX";

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A message of exactly `size` bytes (at least its headers): headers, then a base64
/// attachment of pseudo-random data in 76-column lines, the way a large attachment looks.
pub fn large_message(size: usize) -> Vec<u8> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let head = "From: Ann Example <ann@example.org>\r\nTo: demo@example.org\r\n\
                Subject: A large attachment\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
                Message-ID: <large.bench@example.org>\r\nMIME-Version: 1.0\r\n\
                Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
                Content-Disposition: attachment; filename=\"data.bin\"\r\n\
                Content-Transfer-Encoding: base64\r\n\r\n";
    let mut out = Vec::with_capacity(size.max(head.len()));
    out.extend_from_slice(head.as_bytes());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < size {
        let rem = size - out.len();
        if rem <= 2 {
            out.extend_from_slice(&b"\r\n"[2 - rem..]);
            break;
        }
        // 76 characters and CRLF; the last line takes what is left (up to 78 characters).
        let chars = if rem >= 78 + 3 || rem == 78 {
            76
        } else {
            rem - 2
        };
        for _ in 0..chars {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.push(B64[(state >> 58) as usize]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A small new message, number `n`.
pub fn small_message(n: u64) -> Bytes {
    Bytes::from(format!(
        "From: ann@example.org\r\nTo: demo@example.org\r\nSubject: ping {n}\r\n\
         Message-ID: <ping{n}.bench@example.org>\r\n\r\nHello {n}.\r\n"
    ))
}

/// Runs the server process (`--serve`) until standard input ends.
///
/// # Errors
/// When the server cannot start or standard output cannot be written.
pub async fn serve(large_bytes: Option<usize>) -> Result<(), BoxError> {
    raise_limit();
    let config = crate::bench_server_config(USER, PASSWORD);
    let store = config.store.clone();
    let server = TestServer::start(config).await?;
    let (bytes, fnv) = match large_bytes {
        Some(size) => {
            let raw = large_message(size);
            let fnv = Fnv::of(&raw);
            let len = raw.len();
            store.deliver(USER, FOLDER, raw)?;
            (len, fnv)
        }
        None => (0, Fnv::default().finish()),
    };
    say(&format!(
        "{} message_bytes={bytes} message_fnv={fnv}",
        server.ready_line()
    ))?;
    let mut commands = stdin_lines();
    let mut delivered = 0u64;
    while let Some(line) = commands.recv().await {
        match line.trim() {
            "deliver" => {
                delivered += 1;
                let raw = small_message(delivered);
                let store = store.clone();
                let at_ns = now_ns();
                // On a runtime worker, as an APPEND from another session would: the woken
                // sessions go to that worker's own queue (the other workers steal from
                // it) rather than one by one into the shared queue from outside.
                let uid = tokio::spawn(async move { store.deliver(USER, FOLDER, raw) }).await??;
                say(&format!("DELIVERED uid={uid} at_ns={at_ns}"))?;
            }
            "quit" => break,
            other => say(&format!("ERROR unknown command {other:?}"))?,
        }
    }
    server.shutdown().await;
    Ok(())
}

/// Writes one line to standard output and flushes it.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Standard input's lines, read on a thread of their own; the channel closes at its end.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn raise_limit() {
    if let Err(e) = super::raise_nofile_limit(65_536) {
        eprintln!("memory bench: cannot raise the open-file limit: {e}");
    }
}

/// A delivery made by the server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The new message's UID.
    pub uid: u32,
    /// Wall-clock nanoseconds just before it was delivered.
    pub at_ns: u64,
}

/// The server process, seen from the bench.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The plaintext IMAP address.
    pub imap: SocketAddr,
    /// The IMAPS address.
    pub imaps: SocketAddr,
    /// The plaintext POP3 address.
    pub pop3: SocketAddr,
    /// The CA certificate to trust for IMAPS.
    pub ca: PathBuf,
    /// The size of the large message in INBOX (0 if none).
    pub message_bytes: usize,
    /// Its checksum ([`Fnv`]).
    pub message_fnv: u64,
    /// It runs under callgrind.
    callgrind: bool,
}

/// The environment variable holding a command line to run the server process under.
pub const WRAP_VAR: &str = "INBOUND_BENCH_SERVER_WRAP";

impl ServerProcess {
    /// Starts `current_exe --serve` (with one message of `large_bytes` in INBOX) and waits
    /// for its READY line.
    ///
    /// # Errors
    /// When the process cannot start or its READY line does not come or cannot be read.
    pub async fn spawn(large_bytes: Option<usize>) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let wrap = std::env::var(WRAP_VAR).unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let (mut cmd, callgrind) = match words.next() {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(words).arg(&exe);
                (cmd, wrap.contains("--tool=callgrind"))
            }
            None => (Command::new(&exe), false),
        };
        cmd.arg("--serve");
        if let Some(n) = large_bytes {
            cmd.arg("--large-bytes").arg(n.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("server stdin")?;
        let stdout = child.stdout.take().ok_or("server stdout")?;
        let mut stdout = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
            .await
            .map_err(|_| "the server process did not say READY within 120 s")??
            .ok_or("the server process ended before READY")?;
        let fields = key_values(&line);
        let addr = |key: &str| -> Result<SocketAddr, BoxError> {
            Ok(fields
                .get(key)
                .ok_or_else(|| format!("no {key}= in {line:?}"))?
                .parse()?)
        };
        Ok(Self {
            imap: addr("imap")?,
            imaps: addr("imaps")?,
            pop3: addr("pop3")?,
            ca: PathBuf::from(fields.get("ca").ok_or("no ca= in READY")?),
            message_bytes: fields.get("message_bytes").ok_or("no size")?.parse()?,
            message_fnv: fields.get("message_fnv").ok_or("no checksum")?.parse()?,
            child,
            stdin,
            stdout,
            callgrind,
        })
    }

    /// Under callgrind (see the module docs): `start` switches instrumentation on, and the
    /// end dumps the counts so far (`callgrind_control -d`) and switches it off. Does
    /// nothing otherwise.
    ///
    /// # Errors
    /// When `callgrind_control` fails.
    pub async fn profile(&self, start: bool) -> Result<(), BoxError> {
        let (true, Some(pid)) = (self.callgrind, self.pid()) else {
            return Ok(());
        };
        let pid = pid.to_string();
        let steps: &[&[&str]] = if start {
            &[&["-i", "on"]]
        } else {
            &[&["-d", "deliveries"], &["-i", "off"]]
        };
        for args in steps {
            let status = Command::new("callgrind_control")
                .args(*args)
                .arg(&pid)
                .stdout(Stdio::null())
                .status()
                .await?;
            if !status.success() {
                return Err(format!("callgrind_control {args:?} {pid}: {status}").into());
            }
        }
        Ok(())
    }

    /// Asks for one delivery and returns when it was made.
    ///
    /// # Errors
    /// When the server process does not answer as expected.
    pub async fn deliver(&mut self) -> Result<Delivery, BoxError> {
        self.stdin.write_all(b"deliver\n").await?;
        self.stdin.flush().await?;
        let line = self
            .stdout
            .next_line()
            .await?
            .ok_or("the server process ended")?;
        let fields = key_values(&line);
        if !line.starts_with("DELIVERED ") {
            return Err(format!("unexpected server answer {line:?}").into());
        }
        Ok(Delivery {
            uid: fields.get("uid").ok_or("no uid")?.parse()?,
            at_ns: fields.get("at_ns").ok_or("no at_ns")?.parse()?,
        })
    }

    /// The server process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server process (end of input) and waits for it, killing it after 10 s.
    pub async fn stop(mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// `key=value` tokens of a line.
fn key_values(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|t| t.split_once('='))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_message_has_the_exact_size_and_crlf_lines() {
        for size in [400, 1000, 1001, 1002, 1003, 1 << 16] {
            let m = large_message(size);
            assert_eq!(m.len(), size);
            assert!(m.ends_with(b"\r\n"));
            let body = &m[m.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4..];
            for line in body.split(|&b| b == b'\n') {
                assert!(line.len() <= 79, "line of {}", line.len());
            }
        }
    }

    #[test]
    fn ready_line_fields() {
        let f = key_values("READY imap=127.0.0.1:5 ca=/tmp/x message_bytes=3");
        assert_eq!(f.get("imap"), Some(&"127.0.0.1:5"));
        assert_eq!(f.get("message_bytes"), Some(&"3"));
        assert_eq!(f.get("READY"), None);
    }
}
