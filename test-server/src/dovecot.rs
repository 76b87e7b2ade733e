//! A throwaway Dovecot on loopback, for tests that want a real server.
//!
//! [`Dovecot::start`] writes a config into a fresh temp dir (IMAP, IMAPS, POP3, POP3S on free
//! loopback ports, STARTTLS/STLS on the plain ports, users in a passwd-file, Maildir under
//! the temp dir, a certificate from [`TestPki`]), runs `dovecot -F -c FILE` as a child and
//! waits until every port accepts. Dropping the handle stops it (SIGTERM, then SIGKILL).
//!
//! Mail goes in two ways:
//! - [`Dovecot::save`]: `doveadm save`, one process per message, exact and slow (~10 ms each);
//! - [`Dovecot::write_maildir`] / [`Dovecot::seed_generated`]: files written straight into
//!   the Maildir's `new/` (via `tmp/` and a rename, as a delivery agent does), for thousands
//!   of messages; Dovecot indexes them when a session opens the folder.
//!
//! Dovecot refuses to run login processes and mail access as root, so when the harness runs
//! as root (CI), logins run as `dovenull` and mail as `nobody`, with the mail tree chowned to
//! it; otherwise everything runs as the current user. Only Dovecot 2.3 config syntax is
//! written; 2.4 is refused with [`DovecotError::UnsupportedVersion`].
//!
//! Tests call [`Dovecot::skip_unless_available`] first: without a `dovecot` binary it prints
//! why and returns `Ok(false)` (skip), or fails with [`DovecotError::Missing`] when
//! `INBOUND_REQUIRE_DOVECOT=1`.

mod setup;

use std::collections::HashSet;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tls::{PemFiles, TestPki, TlsError};

use setup::Identity;

/// Set to `1` to make a missing Dovecot fail the tests that need it instead of skipping.
pub const REQUIRE_ENV: &str = "INBOUND_REQUIRE_DOVECOT";

/// How long [`Dovecot::start`] waits for the ports to accept.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What went wrong with the Dovecot harness.
#[derive(Debug, thiserror::Error)]
pub enum DovecotError {
    /// No `dovecot` (or `doveadm`) binary was found.
    #[error("dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)")]
    Missing,
    /// The installed Dovecot speaks a config syntax this harness does not write.
    #[error("dovecot {0} is not supported by the harness (2.3 config syntax only)")]
    UnsupportedVersion(String),
    /// A user name or password the passwd-file cannot hold.
    #[error("invalid user or password for the passwd-file: {0:?}")]
    InvalidUser(String),
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The certificate could not be made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Dovecot exited or did not open its ports in time.
    #[error("dovecot did not start: {reason}; log:\n{log}")]
    StartFailed {
        /// Why.
        reason: String,
        /// The end of Dovecot's log.
        log: String,
    },
    /// A doveadm command failed.
    #[error("doveadm {args} failed ({status}): {stderr}")]
    Doveadm {
        /// The arguments.
        args: String,
        /// The exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DovecotError {
    let context = context.into();
    move |source| DovecotError::Io { context, source }
}

/// Users, certificate and extra settings for [`Dovecot::start`].
#[derive(Debug, Clone, Default)]
pub struct DovecotConfig {
    /// (user, password) pairs for the passwd-file.
    pub users: Vec<(String, String)>,
    /// Lines appended to the generated config (e.g. `imap_max_line_length = 8k`).
    pub extra: String,
    /// The certificate to use; a fresh one when `None`.
    pub pki: Option<TestPki>,
}

impl DovecotConfig {
    /// Adds a user.
    #[must_use]
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.users.push((user.to_owned(), password.to_owned()));
        self
    }

    /// Appends config lines.
    #[must_use]
    pub fn with_extra(mut self, lines: &str) -> Self {
        self.extra.push_str(lines);
        self.extra.push('\n');
        self
    }
}

/// The loopback ports of a running Dovecot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DovecotPorts {
    /// IMAP with STARTTLS available.
    pub imap: u16,
    /// IMAP over implicit TLS.
    pub imaps: u16,
    /// POP3 with STLS available.
    pub pop3: u16,
    /// POP3 over implicit TLS.
    pub pop3s: u16,
}

impl DovecotPorts {
    fn all(self) -> [u16; 4] {
        [self.imap, self.imaps, self.pop3, self.pop3s]
    }
}

/// A running Dovecot (see the [module docs](self)). Dropping it stops the server and removes
/// its directory.
#[derive(Debug)]
pub struct Dovecot {
    child: Option<Child>,
    ports: DovecotPorts,
    pki: TestPki,
    pem: PemFiles,
    config_file: PathBuf,
    identity: Identity,
    created: Mutex<HashSet<(String, String)>>,
    // Last: removed after the server stopped.
    dir: tempfile::TempDir,
}

/// Finds an executable in PATH or the sbin directories.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Dovecot {
    /// Whether the `dovecot` and `doveadm` binaries are installed.
    pub fn available() -> bool {
        find_binary("dovecot").is_some() && find_binary("doveadm").is_some()
    }

    /// The installed version (`2.3.19.1 (9b53102964)`), if any.
    pub fn version() -> Option<String> {
        let out = Command::new(find_binary("dovecot")?)
            .arg("--version")
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// For tests: `Ok(true)` when Dovecot is installed; otherwise prints why `test` is
    /// skipped and returns `Ok(false)`, or returns [`DovecotError::Missing`] when
    /// `INBOUND_REQUIRE_DOVECOT=1`.
    pub fn skip_unless_available(test: &str) -> Result<bool, DovecotError> {
        if Self::available() {
            return Ok(true);
        }
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            return Err(DovecotError::Missing);
        }
        eprintln!("skipped {test}: dovecot is not installed (set {REQUIRE_ENV}=1 to fail instead)");
        Ok(false)
    }

    /// Writes the config and starts Dovecot; returns once all four ports accept. Retries with
    /// new ports if one was taken meanwhile.
    pub fn start(config: DovecotConfig) -> Result<Self, DovecotError> {
        let DovecotConfig { users, extra, pki } = config;
        for (user, password) in &users {
            let bad =
                |s: &str| s.is_empty() || s.contains([':', '\n', '\r', '/']) || s.starts_with('.');
            if bad(user) || password.contains([':', '\n', '\r']) {
                return Err(DovecotError::InvalidUser(user.clone()));
            }
        }
        let dovecot = find_binary("dovecot").ok_or(DovecotError::Missing)?;
        find_binary("doveadm").ok_or(DovecotError::Missing)?;
        let version = Self::version().unwrap_or_default();
        if !version.starts_with("2.3.") {
            return Err(DovecotError::UnsupportedVersion(version));
        }
        let pki = match pki {
            Some(pki) => pki,
            None => TestPki::generate()?,
        };
        let dir = tempfile::Builder::new()
            .prefix("inbound-dovecot-")
            .tempdir()
            .map_err(io_err("creating the temp dir"))?;
        let identity = setup::prepare_dir(dir.path())?;
        let pem = pki
            .write_files(dir.path())
            .map_err(io_err("writing the certificate"))?;
        setup::write_passwd(dir.path(), &users)?;
        let mut last_error = None;
        for _attempt in 0..3 {
            let ports = setup::free_ports()?;
            let config_file = setup::write_config(dir.path(), &identity, ports, &pem, &extra)?;
            let mut child = spawn(&dovecot, dir.path(), &config_file)?;
            match wait_ready(&mut child, ports, dir.path()) {
                Ok(()) => {
                    return Ok(Self {
                        child: Some(child),
                        ports,
                        pki,
                        pem,
                        config_file,
                        identity,
                        created: Mutex::default(),
                        dir,
                    });
                }
                Err(e) => {
                    stop_child(&mut child);
                    let retry = read_log(dir.path()).contains("Address already in use");
                    last_error = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| DovecotError::StartFailed {
            reason: "no attempt".into(),
            log: String::new(),
        }))
    }

    /// The four ports.
    pub fn ports(&self) -> DovecotPorts {
        self.ports
    }

    /// `127.0.0.1:imap` (STARTTLS available).
    pub fn imap_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.imap))
    }

    /// `127.0.0.1:imaps`.
    pub fn imaps_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.imaps))
    }

    /// `127.0.0.1:pop3` (STLS available).
    pub fn pop3_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.pop3))
    }

    /// `127.0.0.1:pop3s`.
    pub fn pop3s_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.pop3s))
    }

    /// The certificate the server presents (valid for `localhost` and `127.0.0.1`).
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The CA file clients should trust.
    pub fn ca_file(&self) -> &Path {
        &self.pem.ca
    }

    /// The server's directory (config, log, mail).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The generated config file.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Runs `doveadm -c CONFIG ARGS` with `stdin`; returns its stdout.
    pub fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, DovecotError> {
        let doveadm = find_binary("doveadm").ok_or(DovecotError::Missing)?;
        let mut child = Command::new(doveadm)
            .arg("-c")
            .arg(&self.config_file)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err("running doveadm"))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input)
                .map_err(io_err("writing to doveadm"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(io_err("waiting for doveadm"))?;
        if !out.status.success() {
            return Err(DovecotError::Doveadm {
                args: args.join(" "),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a folder (no error if it exists).
    pub fn create_folder(&self, user: &str, folder: &str) -> Result<(), DovecotError> {
        if folder.eq_ignore_ascii_case("INBOX") {
            return Ok(());
        }
        let key = (user.to_owned(), folder.to_owned());
        if self
            .created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        match self.doveadm(&["mailbox", "create", "-u", user, folder], None) {
            Ok(_) => {}
            Err(DovecotError::Doveadm { stderr, .. }) if stderr.contains("already exists") => {}
            Err(e) => return Err(e),
        }
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
        Ok(())
    }

    /// Saves one message with `doveadm save` (the folder is created when missing).
    pub fn save(&self, user: &str, folder: &str, raw: &[u8]) -> Result<(), DovecotError> {
        self.create_folder(user, folder)?;
        self.doveadm(&["save", "-u", user, "-m", folder], Some(raw))
            .map(drop)
    }

    /// Fast path: writes messages as files into the folder's Maildir `new/` (Maildir++
    /// layout: INBOX is `Maildir/`, `A/B` is `Maildir/.A.B/`). Returns how many were written.
    pub fn write_maildir<I, M>(
        &self,
        user: &str,
        folder: &str,
        messages: I,
    ) -> Result<usize, DovecotError>
    where
        I: IntoIterator<Item = M>,
        M: AsRef<[u8]>,
    {
        setup::write_maildir(self.dir.path(), &self.identity, user, folder, messages)
    }

    /// Fast path: writes `n` generated messages (`Subject: Message i`, a few lines of body)
    /// with [`write_maildir`](Self::write_maildir).
    pub fn seed_generated(
        &self,
        user: &str,
        folder: &str,
        n: usize,
    ) -> Result<usize, DovecotError> {
        self.write_maildir(user, folder, (1..=n).map(crate::sample::generated_message))
    }

    /// Stops the server now (also done on drop).
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
}

/// The last lines of the log and of the master's stderr, for error messages.
fn log_tail(dir: &Path) -> String {
    let log = read_log(dir) + &std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Waits until every port accepts, or fails when the child exits or time runs out.
fn wait_ready(child: &mut Child, ports: DovecotPorts, dir: &Path) -> Result<(), DovecotError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut pending: Vec<u16> = ports.all().to_vec();
    loop {
        pending.retain(|port| {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, *port));
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
        });
        if pending.is_empty() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let reason = format!("dovecot exited: {status}");
            return Err(DovecotError::StartFailed {
                reason,
                log: log_tail(dir),
            });
        }
        if Instant::now() > deadline {
            let reason = format!("ports {pending:?} not open after {START_TIMEOUT:?}");
            return Err(DovecotError::StartFailed {
                reason,
                log: log_tail(dir),
            });
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// SIGTERM to the master (it takes its children down), then SIGKILL if still running.
///
/// Not `doveadm stop`: it waits for the master's pid to vanish, which a child we have not
/// reaped yet never does, so it would hang for seconds.
fn stop_child(child: &mut Child) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", child.id()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `dovecot -F -c FILE` with its output in files (never the harness's pipes).
fn spawn(dovecot: &Path, dir: &Path, config_file: &Path) -> Result<Child, DovecotError> {
    let open = |name: &str| {
        std::fs::File::create(dir.join(name)).map_err(io_err(format!("creating {name}")))
    };
    Command::new(dovecot)
        .arg("-F")
        .arg("-c")
        .arg(config_file)
        .stdin(Stdio::null())
        .stdout(open("stdout.log")?)
        .stderr(open("stderr.log")?)
        .spawn()
        .map_err(io_err("starting dovecot"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
