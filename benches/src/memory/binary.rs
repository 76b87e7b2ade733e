//! Peak RSS of the real `inbound` binary handling one large message end to end.
//!
//! One Dovecot on loopback holds one message per size (a multipart message with a text body
//! and a base64 attachment, as a scanner sends) for its own user. For each size the binary
//! (release build, next to this bench binary in the target directory, or `--inbound PATH`)
//! runs as a child, with a fresh store each time: `inbound fetch` over IMAP and POP3, plain
//! and implicit TLS; then `messages show --json` and `messages export` (eml and maildir) of
//! the stored message. One more case: four accounts, each with a 50 MB message of its own,
//! retrieved by one `inbound fetch` (four at a time, the default).
//!
//! A child's peak RSS is the kernel's `ru_maxrss` from `wait4`, as GNU time
//! (`/usr/bin/time -f %M`) reports it: the whole process, runtime, TLS and SQLite included.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use serde::{Deserialize, Serialize};

use super::BoxError;

/// GNU time: runs a command and reports its `wait4` rusage.
const TIME: &str = "/usr/bin/time";

/// The password of every bench user.
const PASSWORD: &str = "bench-pw";

/// The message size of the concurrent case, and how many accounts take part.
const CONCURRENT_MB: usize = 50;
/// See [`CONCURRENT_MB`].
const CONCURRENT_ACCOUNTS: usize = 4;
/// How often the concurrent case runs.
const CONCURRENT_RUNS: usize = 3;

/// The goal: peak RSS at most this many times the message size, plus [`BASE_BYTES`].
pub const TARGET_RATIO: f64 = 1.5;
/// The fixed base of the goal (runtime, TLS, SQLite): 30 MB.
pub const BASE_BYTES: u64 = 30_000_000;

/// One measured run of the binary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryResult {
    /// What ran: `fetch`, `show --json`, `export eml`, `export maildir`, `fetch x4`.
    pub command: String,
    /// `IMAP`, `POP3` (fetch), or empty.
    pub protocol: String,
    /// `plain`, `tls` (fetch), or empty.
    pub security: String,
    /// The size of one message, in bytes.
    pub message_bytes: u64,
    /// Messages handled at once.
    pub messages: u64,
    /// The child's peak RSS (`ru_maxrss`), in bytes.
    pub peak_rss: u64,
    /// Wall time, in seconds.
    pub secs: f64,
}

impl BinaryResult {
    /// Peak RSS over the bytes of the messages in flight.
    pub fn ratio(&self) -> f64 {
        self.peak_rss as f64 / (self.message_bytes * self.messages).max(1) as f64
    }

    /// Whether the peak is within [`TARGET_RATIO`] x the messages in flight plus
    /// [`BASE_BYTES`].
    pub fn met(&self) -> bool {
        let bound = TARGET_RATIO * (self.message_bytes * self.messages) as f64;
        self.peak_rss as f64 <= bound + BASE_BYTES as f64
    }
}

/// A message of about `size` bytes: a text body and a base64 attachment.
pub fn big_message(size: usize, tag: &str) -> Vec<u8> {
    let mut raw = Vec::with_capacity(size + 4096);
    raw.extend_from_slice(
        format!(
            "From: Scanner <scan@example.org>\r\nTo: bench@example.org\r\n\
             Subject: big scan {tag}\r\nMessage-ID: <big-{tag}@example.org>\r\n\
             Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nThe scan is attached.\r\n\
             --B\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let line = b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n";
    while raw.len() + line.len() + 7 <= size {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--B--\r\n");
    raw
}

/// Where the `inbound` binary is: `explicit`, else next to this executable (both are in
/// the same target directory when built with `cargo build --release -p inbound`).
fn inbound_binary(explicit: Option<&Path>) -> Result<PathBuf, BoxError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .ok_or("no directory of the bench binary")?
            .join("inbound"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build --release -p inbound) or pass --inbound PATH",
            path.display()
        )
        .into())
    }
}

/// A scratch directory with a configuration file and a store of its own.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new(accounts: &str) -> Result<Self, BoxError> {
        let dir = tempfile::Builder::new().prefix("inbound-big-").tempdir()?;
        std::fs::write(
            dir.path().join("inbound.toml"),
            format!("[store]\npath = \"inbound.sqlite\"\n\n{accounts}"),
        )?;
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What one run of the binary gave.
struct Measured {
    /// Peak RSS in bytes.
    peak_rss: u64,
    /// Wall time in seconds.
    secs: f64,
    /// Standard output.
    stdout: Vec<u8>,
}

/// Runs `inbound ARGS` in `w` under GNU time.
fn measured(inbound: &Path, w: &Workdir, args: &[&str]) -> Result<Measured, BoxError> {
    let started = Instant::now();
    let out = Command::new(TIME)
        .args(["-f", "INBOUND_PEAK_KIB=%M"])
        .arg(inbound)
        .args(args)
        .current_dir(w.path())
        .env_remove("INBOUND_CONFIG")
        .env_remove("INBOUND_STORE")
        .env_remove("INBOUND_ENCRYPTION_KEY")
        .env_remove("INBOUND_LOG")
        .env("XDG_CONFIG_HOME", w.path().join("xdg"))
        .env("BENCH_PW", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("inbound {args:?} failed ({}): {err}", out.status).into());
    }
    let kib: u64 = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("INBOUND_PEAK_KIB="))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no peak RSS from {TIME}: {err}"))?;
    Ok(Measured {
        peak_rss: kib * 1024,
        secs,
        stdout: out.stdout,
    })
}

/// Runs `inbound fetch --json ARGS` in `w` and checks that every account fetched
/// `expected` messages.
fn fetch(inbound: &Path, w: &Workdir, args: &[&str], expected: u64) -> Result<Measured, BoxError> {
    let mut all = vec!["fetch", "--json"];
    all.extend_from_slice(args);
    let m = measured(inbound, w, &all)?;
    let report: serde_json::Value = serde_json::from_slice(&m.stdout)?;
    let accounts = report.as_array().ok_or("fetch --json printed no list")?;
    if accounts.is_empty() || accounts.iter().any(|a| a["fetched"] != expected) {
        return Err(format!("expected {expected} message(s) fetched per account: {report}").into());
    }
    Ok(m)
}

/// An `[[account]]` table for `user` on `dovecot`.
fn account(dovecot: &Dovecot, name: &str, protocol: &str, tls: bool, user: &str) -> String {
    let ports = dovecot.ports();
    let (port, security) = match (protocol, tls) {
        ("IMAP", false) => (ports.imap, "plain"),
        ("IMAP", true) => (ports.imaps, "tls"),
        (_, false) => (ports.pop3, "plain"),
        (_, true) => (ports.pop3s, "tls"),
    };
    format!(
        "[[account]]\nname = \"{name}\"\nprotocol = \"{}\"\nhost = \"127.0.0.1\"\n\
         port = {port}\nsecurity = \"{security}\"\nusername = \"{user}\"\n\
         password_env = \"BENCH_PW\"\nca_file = {ca:?}\ntimeout_secs = 120\n\
         fetch = \"all\"\nafter_receive = \"keep\"\nmax_message_size = \"1GB\"\n",
        protocol.to_ascii_lowercase(),
        ca = dovecot.ca_file().display().to_string(),
    )
}

/// Runs every case for messages of `sizes_mb` megabytes (10^6 bytes); the concurrent case
/// too when `concurrent`.
///
/// # Errors
/// When Dovecot, GNU time or the binary is missing, or a run fails.
pub fn run(
    sizes_mb: &[usize],
    concurrent: bool,
    inbound: Option<&Path>,
) -> Result<Vec<BinaryResult>, BoxError> {
    if !Path::new(TIME).is_file() {
        return Err(format!("{TIME} (GNU time) is not installed").into());
    }
    let inbound = inbound_binary(inbound)?;
    let mut config = DovecotConfig::default();
    for &mb in sizes_mb {
        config = config.with_user(&format!("big{mb}"), PASSWORD);
    }
    for i in 0..CONCURRENT_ACCOUNTS {
        config = config.with_user(&format!("many{i}"), PASSWORD);
    }
    config = config.with_user("empty", PASSWORD);
    let dovecot = Dovecot::start(config)?;
    let mut results = Vec::new();
    // The fixed base: fetching from an empty mailbox over TLS.
    dovecot.write_maildir("empty", "INBOX", std::iter::empty::<&[u8]>())?;
    let w = Workdir::new(&account(&dovecot, "empty", "IMAP", true, "empty"))?;
    eprintln!("memory bench: inbound fetch, empty mailbox over IMAP TLS (the fixed base)");
    let m = fetch(&inbound, &w, &[], 0)?;
    results.push(BinaryResult {
        command: "fetch (empty)".into(),
        protocol: "IMAP".into(),
        security: "tls".into(),
        message_bytes: 0,
        messages: 0,
        peak_rss: m.peak_rss,
        secs: m.secs,
    });
    for &mb in sizes_mb {
        let size = mb * 1_000_000;
        let user = format!("big{mb}");
        let raw = big_message(size, &user);
        dovecot.write_maildir(&user, "INBOX", [&raw])?;
        let message_bytes = raw.len() as u64;
        drop(raw);
        let mut last = None;
        for (protocol, tls) in [
            ("IMAP", false),
            ("IMAP", true),
            ("POP3", false),
            ("POP3", true),
        ] {
            let w = Workdir::new(&account(&dovecot, "big", protocol, tls, &user))?;
            eprintln!(
                "memory bench: inbound fetch, {mb} MB over {protocol} {}",
                if tls { "TLS" } else { "plain" }
            );
            let m = fetch(&inbound, &w, &[], 1)?;
            results.push(BinaryResult {
                command: "fetch".into(),
                protocol: protocol.into(),
                security: if tls { "tls" } else { "plain" }.into(),
                message_bytes,
                messages: 1,
                peak_rss: m.peak_rss,
                secs: m.secs,
            });
            last = Some(w);
        }
        let w = last.ok_or("no store")?;
        let out = w.path().join("out");
        let out = out.to_str().ok_or("temp dir not UTF-8")?;
        for (command, args) in [
            ("show --json", vec!["messages", "show", "1", "--json"]),
            (
                "export eml",
                vec![
                    "messages", "export", "1", "--format", "eml", "--output", out,
                ],
            ),
            (
                "export maildir",
                vec![
                    "messages", "export", "1", "--format", "maildir", "--output", out,
                ],
            ),
        ] {
            eprintln!("memory bench: inbound {command}, {mb} MB");
            let m = measured(&inbound, &w, &args)?;
            results.push(BinaryResult {
                command: command.into(),
                protocol: String::new(),
                security: String::new(),
                message_bytes,
                messages: 1,
                peak_rss: m.peak_rss,
                secs: m.secs,
            });
        }
        let exported = std::fs::metadata(w.path().join("out").join("1.eml"))?.len();
        if exported != message_bytes {
            return Err(
                format!("exported {exported} bytes, the message has {message_bytes}").into(),
            );
        }
    }
    if concurrent {
        let size = CONCURRENT_MB * 1_000_000;
        let mut accounts = String::new();
        let mut message_bytes = 0;
        for i in 0..CONCURRENT_ACCOUNTS {
            let user = format!("many{i}");
            let raw = big_message(size, &user);
            message_bytes = raw.len() as u64;
            dovecot.write_maildir(&user, "INBOX", [&raw])?;
            let (protocol, tls) = [
                ("IMAP", true),
                ("POP3", true),
                ("IMAP", false),
                ("POP3", false),
            ][i % 4];
            accounts.push_str(&account(&dovecot, &user, protocol, tls, &user));
            accounts.push('\n');
        }
        // Each run starts from a fresh store; how many accounts overlap at the peak varies
        // from run to run, so the case runs a few times.
        for run in 1..=CONCURRENT_RUNS {
            let w = Workdir::new(&accounts)?;
            eprintln!(
                "memory bench: inbound fetch, {CONCURRENT_ACCOUNTS} accounts with a {CONCURRENT_MB} MB \
                 message each (run {run} of {CONCURRENT_RUNS})"
            );
            let m = fetch(
                &inbound,
                &w,
                &["--concurrency", &CONCURRENT_ACCOUNTS.to_string()],
                1,
            )?;
            results.push(BinaryResult {
                command: format!("fetch x{CONCURRENT_ACCOUNTS}"),
                protocol: "IMAP+POP3".into(),
                security: "plain+tls".into(),
                message_bytes,
                messages: CONCURRENT_ACCOUNTS as u64,
                peak_rss: m.peak_rss,
                secs: m.secs,
            });
        }
    }
    dovecot.stop();
    Ok(results)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_message_has_the_size_asked_for_and_one_attachment() {
        let raw = big_message(2_000_000, "t");
        assert!(
            raw.len() <= 2_000_000 && raw.len() > 2_000_000 - 100,
            "{}",
            raw.len()
        );
        let email = inbound_message::Email::parse(raw);
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].filename.as_deref(), Some("scan.pdf"));
        assert_eq!(
            email.text.as_deref().map(str::trim),
            Some("The scan is attached.")
        );
    }

    #[test]
    fn the_target_counts_every_message_in_flight() {
        let r = BinaryResult {
            command: "fetch x4".into(),
            protocol: String::new(),
            security: String::new(),
            message_bytes: 50_000_000,
            messages: 4,
            peak_rss: 320_000_000,
            secs: 1.0,
        };
        assert!(r.met());
        assert!((r.ratio() - 1.6).abs() < 1e-9);
        assert!(
            !BinaryResult {
                peak_rss: 331_000_000,
                ..r
            }
            .met()
        );
    }
}
