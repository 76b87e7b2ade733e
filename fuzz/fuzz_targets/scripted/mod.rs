//! A scripted mail server on loopback for the client fuzz targets (`imap_client`,
//! `pop3_client`), shared by both.
//!
//! # Input format
//! ```text
//! OPS '\n' SEGMENT ( '\0' SEGMENT )*
//! ```
//! `OPS` (at most [`MAX_OPS`] octets, ASCII letters) says which client calls the target
//! makes, in order; each target documents its letters. Without a `'\n'` in the first
//! `MAX_OPS + 1` octets the input has no ops and is all script.
//!
//! The script is what the server sends: `SEGMENT`s separated by NUL. The first segment is
//! sent as soon as the client connects (the greeting); each following one when the client
//! has stopped sending and waits (see [`serve`]). After the last segment the server closes
//! its side. In IMAP scripts, the octet `0x01` stands for the tag of the last tagged
//! command line the client sent (`A1`, `A2`, ...), so a script stays valid when the ops
//! change the command sequence.
//!
//! # What a run checks
//! - no panic in the client (libFuzzer reports it);
//! - no client call hangs until its timeout: the server always either sends or closes, so
//!   a timeout means the client waits for something it can never get ([`check_error`]);
//! - errors are typed values whose `Display` and `Debug` (and their sources) format;
//! - the secrets ([`PASSWORD`], [`PASSWORD_LITERAL`], [`TOKEN`]) never show up in errors, `Debug` output or the TRACE log,
//!   raw or base64-encoded (the log is captured by a subscriber installed once).
//!
//! Memory is bounded by libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb`.

#![allow(dead_code)] // each target uses a part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use base64::Engine as _;
use inbound_net::{Dialer, TlsConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// The most op letters read from the head of an input.
pub const MAX_OPS: usize = 24;
/// Separates script segments.
pub const SEPARATOR: u8 = 0;
/// Stands for the tag of the last tagged IMAP command.
pub const TAG_PLACEHOLDER: u8 = 1;
/// The user name the targets log in with.
pub const USER: &str = "fuzz@example.com";
/// A password: must never be seen in logs, errors or `Debug`.
pub const PASSWORD: &str = "Pw.7Zq4KdTx";
/// A password with an 8-bit character: IMAP sends it as a literal.
pub const PASSWORD_LITERAL: &str = "Pw.7Zq4KdLit\u{e9}";
/// An OAuth access token: the same rule.
pub const TOKEN: &str = "ya29.tok-9XcQv";
/// What is searched for: the secrets, the literal password by its ASCII part (the trace
/// escapes 8-bit octets, `Debug` does not).
const MARKERS: [&str; 3] = [PASSWORD, "Pw.7Zq4KdLit", TOKEN];
/// The response timeout given to the clients: never reached unless the client waits for
/// nothing (the scripted server always sends or closes).
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// One current-thread runtime for all runs.
pub static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// One loopback listener for all runs (each run accepts one connection).
pub static LISTENER: LazyLock<TcpListener> = LazyLock::new(|| {
    init_log_capture();
    let _guard = RUNTIME.enter();
    let std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    std.set_nonblocking(true).expect("non-blocking listener");
    TcpListener::from_std(std).expect("a tokio listener")
});

/// The connector shared by all runs (plaintext is used, so its TLS configuration is only
/// built once, not exercised).
pub static CONNECTOR: LazyLock<Dialer> = LazyLock::new(|| {
    Dialer::new(&TlsConfig::new())
        .expect("default TLS settings")
        .with_connect_timeout(TIMEOUT)
        .with_handshake_timeout(TIMEOUT)
});

/// The port of [`LISTENER`].
pub fn port() -> u16 {
    LISTENER.local_addr().expect("listener address").port()
}

/// Splits an input into its op letters and its script.
pub fn split_input(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().take(MAX_OPS + 1).position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[], data),
    }
}

/// Runs `client` against a server that plays `script`; returns when both are done.
pub fn run<F: std::future::Future<Output = ()>>(script: &[u8], imap_tags: bool, client: F) {
    let listener = &*LISTENER;
    LOG.lock().map(|mut l| l.clear()).ok();
    // What the server sends: the segments joined (a secret may be spread over several).
    let sent: Vec<u8> = script.iter().copied().filter(|&b| b != SEPARATOR).collect();
    SERVER_KNOWS.store(
        find_secret(&String::from_utf8_lossy(&sent)).is_some(),
        Ordering::Relaxed,
    );
    RUNTIME.block_on(async {
        // One task: `join!` polls both sides on every wake-up, so the server's
        // `yield_now` gives the client a turn (see `wait_until_quiet`).
        let server = async {
            let (sock, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => panic!("accept on loopback failed: {e}"),
            };
            // Errors mean the client went away: that is its right.
            let _ = serve(sock, script, imap_tags).await;
        };
        tokio::join!(server, client);
    });
    check_log();
}

/// Plays the script: the first segment at once, each next one when the client is quiet,
/// then closes the sending side and reads until the client hangs up.
async fn serve(mut sock: TcpStream, script: &[u8], imap_tags: bool) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut seen = ClientLines::default();
    let mut out = Vec::new();
    for (i, segment) in script.split(|&b| b == SEPARATOR).enumerate() {
        if i > 0 {
            wait_until_quiet(&mut sock, &mut seen).await?;
        }
        out.clear();
        for &b in segment {
            if b == TAG_PLACEHOLDER && imap_tags {
                out.extend_from_slice(&seen.last_tag);
            } else {
                out.push(b);
            }
        }
        if !out.is_empty() {
            sock.write_all(&out).await?;
        }
    }
    sock.shutdown().await?;
    let mut buf = [0u8; 4096];
    while sock.read(&mut buf).await? > 0 {}
    Ok(())
}

/// What the client sent, as far as the server cares: the tag of its last tagged line.
struct ClientLines {
    partial: Vec<u8>,
    last_tag: Vec<u8>,
}

impl Default for ClientLines {
    fn default() -> Self {
        Self {
            partial: Vec::new(),
            last_tag: b"A0".to_vec(),
        }
    }
}

impl ClientLines {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                let word = self.partial.split(|&c| c == b' ').next().unwrap_or(&[]);
                // The client's tags are `A` and a number.
                if word.len() > 1 && word[0] == b'A' && word[1..].iter().all(u8::is_ascii_digit) {
                    self.last_tag = word.to_vec();
                }
                self.partial.clear();
            } else if self.partial.len() < 64 {
                self.partial.push(b);
            }
        }
    }
}

/// Reads what the client sends until it has been quiet for a few turns of the runtime:
/// then it waits for the server. The client runs in the same task (`join!`), and
/// `yield_now` lets the runtime poll its I/O driver and then both sides again, so three
/// quiet turns in a row mean the client is blocked on reading.
async fn wait_until_quiet(sock: &mut TcpStream, seen: &mut ClientLines) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut quiet = 0;
    while quiet < 3 {
        match sock.try_read(&mut buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                seen.feed(&buf[..n]);
                quiet = 0;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                quiet += 1;
                tokio::task::yield_now().await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Checks an error the client returned: it formats, carries no secret, and is not a
/// timeout (which would mean the client waits for something that never comes).
pub fn check_error(e: &inbound_net::Error) {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" {s}"));
        source = s.source();
    }
    if *SHOW {
        eprintln!("client error: {e}");
    }
    assert_no_secret("an error", &text);
    let timed_out = matches!(
        e,
        inbound_net::Error::Imap(
            inbound_net::ImapError::Timeout { .. } | inbound_net::ImapError::TooSlow { .. }
        ) | inbound_net::Error::Pop3(
            inbound_net::Pop3Error::Timeout { .. } | inbound_net::Pop3Error::TooSlow { .. }
        )
    );
    assert!(
        !timed_out,
        "the client timed out against a server that never stalls: {e}"
    );
}

/// Checks `Debug` output of a value the client handed out.
pub fn check_debug(what: &str, value: &impl std::fmt::Debug) {
    assert_no_secret(what, &format!("{value:?}"));
}

/// Panics when `text` holds a secret, raw or in a base64 word, unless the script itself
/// holds one (libFuzzer learns the secrets from the comparisons here, and a server that
/// echoes what it was given is no leak of the client's).
pub fn assert_no_secret(what: &str, text: &str) {
    if SERVER_KNOWS.load(Ordering::Relaxed) {
        return;
    }
    if let Some(found) = find_secret(text) {
        panic!("{what} shows a secret ({found}): {text}");
    }
}

/// The first secret in `text`, raw or in a base64 word.
fn find_secret(text: &str) -> Option<&'static str> {
    for secret in MARKERS {
        if text.contains(secret) {
            return Some(secret);
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c))) {
        if word.len() < 12 {
            continue;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(word) else {
            continue;
        };
        for secret in MARKERS {
            if decoded
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
            {
                return Some(secret);
            }
        }
    }
    None
}

/// The current script holds a secret: nothing the client shows can be judged.
static SERVER_KNOWS: AtomicBool = AtomicBool::new(false);

/// Whether to print the log and the errors of each run (`INBOUND_FUZZ_TRACE` set).
static SHOW: LazyLock<bool> = LazyLock::new(|| std::env::var_os("INBOUND_FUZZ_TRACE").is_some());

/// The TRACE log of the current run.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut log) = LOG.lock() {
            // Bounded: a run logs a few KB; cap it all the same.
            if log.len() < 1 << 20 {
                log.extend_from_slice(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a subscriber that writes every event at TRACE level into [`LOG`].
fn init_log_capture() {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(|| LogWriter)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Checks the run's log; prints it too when `INBOUND_FUZZ_TRACE` is set (to read what a
/// reproducer does: `INBOUND_FUZZ_TRACE=1 cargo fuzz run imap_client FILE`).
fn check_log() {
    let log = LOG.lock().map(|l| l.clone()).unwrap_or_default();
    let log = String::from_utf8_lossy(&log);
    if *SHOW {
        eprintln!("{log}");
    }
    assert_no_secret("the TRACE log", &log);
}
