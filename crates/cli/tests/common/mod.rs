//! Helpers for the CLI's end-to-end tests: a test server on its own runtime, the binary,
//! configuration files.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use inbound_test_server::server::{ServerConfig, TestServer};

/// A test server running on a runtime of its own while the test drives the binary.
pub struct Server {
    pub server: TestServer,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    /// Users alice (password pw-alice) and bob (pw-bob), the sample mailbox in each INBOX.
    pub fn start() -> Self {
        Self::start_with(ServerConfig::default())
    }

    /// As [`start`](Self::start), from `config` (users alice and bob added).
    pub fn start_with(config: ServerConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(TestServer::start(
                config.user("alice", "pw-alice").user("bob", "pw-bob"),
            ))
            .unwrap();
        Self { server, _rt: rt }
    }

    /// An `[[account]]` table for `user` over `protocol` with implicit TLS.
    pub fn account(&self, name: &str, protocol: &str, user: &str, extra: &str) -> String {
        let port = match protocol {
            "imap" => self.server.imaps_addr().port(),
            _ => self.server.pop3s_addr().port(),
        };
        format!(
            "[[account]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nsecurity = \"tls\"\nusername = \"{user}\"\nca_file = {ca:?}\n\
             timeout_secs = 10\n{extra}\n",
            ca = self.server.ca_file().display().to_string(),
        )
    }
}

/// A scratch directory with a configuration file.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("inbound.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("inbound.sqlite")
    }

    /// Writes `inbound.toml` (its `[store]` is the workdir's store).
    pub fn write_config(&self, accounts: &str) {
        let text = format!("[store]\npath = \"inbound.sqlite\"\n\n{accounts}");
        std::fs::write(self.config(), text).unwrap();
    }

    /// The binary, in this directory, with this configuration, no inherited settings.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_inbound"));
        c.current_dir(self.path())
            .env_remove("INBOUND_CONFIG")
            .env_remove("INBOUND_STORE")
            .env_remove("INBOUND_ENCRYPTION_KEY")
            .env_remove("INBOUND_LOG")
            .env("XDG_CONFIG_HOME", self.path().join("xdg"))
            .stdin(Stdio::null());
        c
    }

    /// Runs with `args` and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs with `args`, `env` set and `input` on standard input.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A command that exits early closes the pipe: not an error here.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        child.wait_with_output().unwrap()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// A fresh key in base64.
pub fn new_key() -> String {
    inbound_store::EncryptionKey::generate()
        .unwrap()
        .to_base64()
}

/// The value of a `key: value` line (as `accounts test` prints them).
pub fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {key}: line in {text}"))
}

/// One HTTP/1.1 request to `addr`; the status and the body.
pub fn http(addr: &str, method: &str, path: &str, headers: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}
