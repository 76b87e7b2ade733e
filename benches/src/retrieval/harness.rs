//! The parent process of the retrieval bench: one Dovecot, a seeded mailbox, every client
//! run several times as a child process, verified, medians, targets.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use serde::{Deserialize, Serialize};

use super::BoxError;
use super::pipeline::{Breakdown, parse_breakdown};
use super::stats::{ClientReport, median, parse_report};

/// The mailbox owner on the bench Dovecot.
pub const USER: &str = "bench";
/// Their password.
pub const PASSWORD: &str = "bench";

/// The servers a case can run against: a throwaway Dovecot, or our own test server
/// ([`inbound_test_server`]) in a process of its own.
pub const DOVECOT: &str = "dovecot";
/// See [`DOVECOT`].
pub const TEST_SERVER: &str = "test-server";

/// How long one client process may run before it is killed and the run counted as failed.
const CHILD_DEADLINE: Duration = Duration::from_secs(600);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Messages in the mailbox.
    pub messages: usize,
    /// Approximate size of each message in octets.
    pub size: usize,
    /// Runs of each client (the median counts).
    pub runs: usize,
    /// The smoke run: targets are not judged.
    pub quick: bool,
    /// Which parts: `imap`, `pop3`, `pipeline`.
    pub parts: Vec<String>,
    /// Which servers: [`DOVECOT`], [`TEST_SERVER`] (the pipeline runs against Dovecot only).
    pub servers: Vec<String>,
    /// Run the Python clients (when `python3` is installed).
    pub python: bool,
    /// Only these clients, when set (names as in the tables).
    pub clients: Option<Vec<String>>,
    /// A command line the Rust clients run under, e.g. `valgrind --tool=callgrind` (for
    /// profiling; the warm-up runs without it).
    pub wrap: Vec<String>,
}

impl Options {
    /// The full bench: 5,000 messages of about 20 KB, 3 runs of each client.
    pub fn full() -> Self {
        Self {
            messages: 5_000,
            size: 20_000,
            runs: 3,
            quick: false,
            parts: vec!["imap".into(), "pop3".into(), "pipeline".into()],
            servers: vec![DOVECOT.into(), TEST_SERVER.into()],
            python: true,
            clients: None,
            wrap: Vec::new(),
        }
    }

    /// The smoke run for CI: 50 messages, one run of each client; results still verified.
    pub fn quick() -> Self {
        Self {
            messages: 50,
            runs: 1,
            quick: true,
            ..Self::full()
        }
    }
}

/// One client in one security mode against one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// [`DOVECOT`] or [`TEST_SERVER`].
    pub server: &'static str,
    /// `IMAP`, `POP3` or `pipeline`.
    pub protocol: &'static str,
    /// The client's name (as in its report).
    pub client: &'static str,
    /// Implicit TLS.
    pub tls: bool,
    /// The Python script running it, if any.
    pub script: Option<&'static str>,
}

fn dovecot_name() -> String {
    DOVECOT.to_owned()
}

/// The medians of one case over its verified runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// [`DOVECOT`] or [`TEST_SERVER`] (results written before the test server was measured
    /// are Dovecot's).
    #[serde(default = "dovecot_name")]
    pub server: String,
    /// `IMAP`, `POP3` or `pipeline`.
    pub protocol: String,
    /// The client.
    pub client: String,
    /// `plain` or `tls`.
    pub security: String,
    /// Verified runs.
    pub runs: usize,
    /// Messages per run.
    pub messages: u64,
    /// Octets per run.
    pub bytes: u64,
    /// Median retrieval time (the fetch itself), ms.
    pub fetch_ms: f64,
    /// Median session time (connect to logout), ms.
    pub session_ms: f64,
    /// Median time of the whole process (spawn to exit, interpreter start-up included), ms.
    pub process_ms: f64,
    /// Median CPU time of the process, ms.
    pub cpu_ms: f64,
    /// Median peak RSS of the process, kB.
    pub peak_rss_kb: f64,
    /// Runs whose result was wrong or that failed, with why.
    pub failures: Vec<String>,
}

impl Row {
    /// Messages per second of the retrieval.
    pub fn messages_per_s(&self) -> f64 {
        if self.fetch_ms > 0.0 {
            self.messages as f64 / (self.fetch_ms / 1000.0)
        } else {
            0.0
        }
    }

    /// Megabytes (10^6) per second of the retrieval.
    pub fn mb_per_s(&self) -> f64 {
        if self.fetch_ms > 0.0 {
            self.bytes as f64 / 1e6 / (self.fetch_ms / 1000.0)
        } else {
            0.0
        }
    }
}

/// One target of the issue, judged on this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// What is compared.
    pub name: String,
    /// The measured figure (a ratio, or messages/s); NaN when it could not be measured
    /// (written as `null` in JSON, read back as NaN).
    #[serde(deserialize_with = "nan_if_null")]
    pub measured: f64,
    /// The goal, as text (`<= 1.05x`).
    pub goal: String,
    /// Whether it was met; `None` when it could not be judged (quick run, missing client).
    pub met: Option<bool>,
}

/// serde_json writes a NaN as `null`: read that back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Everything the bench measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Messages in the mailbox.
    pub messages: u64,
    /// Their total octets (as served, CRLF).
    pub total_bytes: u64,
    /// Runs of each client.
    pub runs: usize,
    /// Smoke run.
    pub quick: bool,
    /// `dovecot --version`.
    pub dovecot: String,
    /// `python3 --version`, when the Python clients ran.
    pub python: Option<String>,
    /// `/proc/loadavg` before and after.
    pub load: Vec<String>,
    /// Wall time of the whole bench, seconds.
    pub elapsed_s: f64,
    /// One row per case.
    pub rows: Vec<Row>,
    /// The pipeline breakdown (from one run).
    pub breakdown: Option<Breakdown>,
    /// The targets.
    pub targets: Vec<TargetCheck>,
}

impl Results {
    /// Whether any run failed or gave a wrong result.
    pub fn has_failures(&self) -> bool {
        self.rows
            .iter()
            .any(|r| !r.failures.is_empty() || r.runs == 0)
    }

    /// The row of `client` in `security` mode against Dovecot.
    pub fn row(&self, client: &str, security: &str) -> Option<&Row> {
        self.row_on(DOVECOT, client, security)
    }

    /// The row of `client` in `security` mode against `server`.
    pub fn row_on(&self, server: &str, client: &str, security: &str) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.server == server && r.client == client && r.security == security && r.runs > 0
        })
    }
}

/// The clients run against the test server: the server's limit (`raw-imap`) and
/// inbound-net's IMAP and POP3 clients.
pub const TEST_SERVER_CLIENTS: &[(&str, &str)] = &[
    ("IMAP", "raw-imap"),
    ("IMAP", "inbound-imap"),
    ("POP3", "inbound-pop3"),
];

/// IMAP clients run against Dovecot only when `--clients` names them (experiments, not
/// part of the published tables): `raw-imap-items-bufread`, TLS over a buffered TCP
/// stream.
pub const ON_REQUEST_IMAP_CLIENTS: &[&str] = &["raw-imap-items-bufread"];

/// The cases for `parts` and `servers`, in the order they run within a round (Dovecot's,
/// then the test server's).
pub fn cases(options: &Options) -> Vec<Case> {
    let mut out = Vec::new();
    let has = |p: &str| options.parts.iter().any(|x| x == p);
    let serves = |s: &str| options.servers.iter().any(|x| x == s);
    let case = |protocol, client, tls, script| Case {
        server: DOVECOT,
        protocol,
        client,
        tls,
        script,
    };
    if serves(DOVECOT) {
        for tls in [false, true] {
            if has("imap") {
                for client in [
                    "raw-imap",
                    "raw-imap-items",
                    "raw-imap-items-keep",
                    "inbound-imap",
                    "inbound-imap-stream",
                    "async-imap",
                ] {
                    out.push(case("IMAP", client, tls, None));
                }
                for &client in ON_REQUEST_IMAP_CLIENTS {
                    if options
                        .clients
                        .as_ref()
                        .is_some_and(|only| only.iter().any(|o| o == client))
                    {
                        out.push(case("IMAP", client, tls, None));
                    }
                }
                if options.python {
                    out.push(case("IMAP", "python-imaplib", tls, Some("imap_fetch.py")));
                }
            }
            if has("pop3") {
                for client in ["inbound-pop3", "inbound-pop3-seq"] {
                    out.push(case("POP3", client, tls, None));
                }
                if options.python {
                    out.push(case("POP3", "python-poplib", tls, Some("pop3_fetch.py")));
                }
            }
            if has("pipeline") {
                out.push(case("pipeline", "inbound-fetch", tls, None));
                if !tls {
                    out.push(case("pipeline", "inbound-fetch-nosanitize", tls, None));
                }
            }
        }
    }
    if serves(TEST_SERVER) {
        for tls in [false, true] {
            for &(protocol, client) in TEST_SERVER_CLIENTS {
                if has(&protocol.to_ascii_lowercase()) {
                    out.push(Case {
                        server: TEST_SERVER,
                        ..case(protocol, client, tls, None)
                    });
                }
            }
        }
    }
    if let Some(only) = &options.clients {
        out.retain(|c| only.iter().any(|o| o == c.client));
    }
    out
}

/// The folder of the Python client scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// `raw` with every bare LF turned into CRLF (as Dovecot serves it).
pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 50);
    let mut previous = 0u8;
    for &b in raw {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// The seeded messages: [`multipart_message`](crate::mail::multipart_message) (text, HTML
/// with a table, an inline PNG), in CRLF.
pub fn messages(count: usize, size: usize) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|i| crlf(&crate::mail::multipart_message(i, size)))
        .collect()
}

fn python_version() -> Option<String> {
    let out = Command::new("python3").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// What one child process gave.
struct ChildRun {
    stdout: String,
    stderr: String,
    wall: Duration,
    ok: bool,
}

/// Runs `program args`, killing it after [`CHILD_DEADLINE`].
fn run_child(program: &Path, args: &[String]) -> Result<ChildRun, BoxError> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        // No __pycache__ next to the scripts.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    let mut out_pipe = child.stdout.take().ok_or("no stdout pipe")?;
    let mut err_pipe = child.stderr.take().ok_or("no stderr pipe")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = started.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let mut stderr = err_reader.join().unwrap_or_default();
    if status.is_none() {
        stderr.push_str("\n(killed: over the deadline)");
    }
    Ok(ChildRun {
        stdout,
        stderr,
        wall,
        ok: status.is_some_and(|s| s.success()),
    })
}

/// Where a server listens and the CA its certificates chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Plaintext IMAP port.
    pub imap: u16,
    /// IMAPS port.
    pub imaps: u16,
    /// Plaintext POP3 port.
    pub pop3: u16,
    /// POP3S port.
    pub pop3s: u16,
    /// The CA certificate file.
    pub ca: PathBuf,
}

impl Endpoints {
    fn of_dovecot(dovecot: &Dovecot) -> Self {
        let ports = dovecot.ports();
        Self {
            imap: ports.imap,
            imaps: ports.imaps,
            pop3: ports.pop3,
            pop3s: ports.pop3s,
            ca: dovecot.ca_file().to_path_buf(),
        }
    }

    /// From the test server's `READY imap=127.0.0.1:P imaps=.. pop3=.. pop3s=.. ca=PATH`
    /// line; `None` when a field is missing or malformed.
    pub fn from_ready_line(line: &str) -> Option<Self> {
        let fields = key_values(line.strip_prefix("READY ")?);
        let port = |key: &str| -> Option<u16> {
            fields
                .get(key)?
                .parse::<std::net::SocketAddr>()
                .ok()
                .map(|a| a.port())
        };
        Some(Self {
            imap: port("imap")?,
            imaps: port("imaps")?,
            pop3: port("pop3")?,
            pop3s: port("pop3s")?,
            ca: PathBuf::from(fields.get("ca")?),
        })
    }
}

/// `key=value` tokens of a line.
fn key_values(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|t| t.split_once('='))
        .collect()
}

/// The shared part of a client's command line.
fn target_args(endpoints: &Endpoints, protocol: &str, tls: bool) -> Vec<String> {
    let port = match (protocol, tls) {
        ("POP3", false) => endpoints.pop3,
        ("POP3", true) => endpoints.pop3s,
        (_, false) => endpoints.imap,
        (_, true) => endpoints.imaps,
    };
    vec![
        "--port".into(),
        port.to_string(),
        "--security".into(),
        if tls { "tls" } else { "plain" }.into(),
        "--ca".into(),
        endpoints.ca.display().to_string(),
        "--user".into(),
        USER.into(),
        "--password".into(),
        PASSWORD.into(),
    ]
}

/// How long the test server process gets to seed its store and say `READY`.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// The test server in a process of its own: this binary re-executed with
/// `--serve-test-server` (see [`serve_test_server`]). It stops when its standard input
/// closes (on [`stop`](Self::stop), or when this value is dropped).
#[derive(Debug)]
pub struct TestServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub endpoints: Endpoints,
    /// (messages, octets) in `bench`'s INBOX, as the server counted them.
    pub seeded: (u64, u64),
}

impl TestServerProcess {
    /// Starts the server process with `count` messages of about `size` octets
    /// ([`messages`]) and waits for its `READY` line.
    ///
    /// # Errors
    /// When the process cannot start, or says nothing usable within two minutes.
    pub fn spawn(count: usize, size: usize) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "--serve-test-server",
                "--messages",
                &count.to_string(),
                "--size",
                &size.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut process = Self {
            child,
            stdin,
            endpoints: Endpoints {
                imap: 0,
                imaps: 0,
                pop3: 0,
                pop3s: 0,
                ca: PathBuf::new(),
            },
            seeded: (0, 0),
        };
        let line = rx
            .recv_timeout(READY_DEADLINE)
            .map_err(|_| "the test server process did not say READY within 120 s")?;
        process.endpoints = Endpoints::from_ready_line(&line)
            .ok_or_else(|| format!("the test server process said {:?}", line.trim_end()))?;
        let fields = key_values(&line);
        let number = |key: &str| fields.get(key).and_then(|v| v.parse::<u64>().ok());
        process.seeded = (
            number("messages").ok_or("no messages= in READY")?,
            number("bytes").ok_or("no bytes= in READY")?,
        );
        Ok(process)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its standard input and waits for it to exit (killing it after 10 s).
    pub fn stop(mut self) {
        self.stop_child();
    }

    fn stop_child(&mut self) {
        drop(self.stdin.take());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServerProcess {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.stop_child();
        }
    }
}

/// The server side of [`TestServerProcess`] (`retrieval --serve-test-server --messages N
/// --size S`): starts [`TestServer`](inbound_test_server::server::TestServer) on a
/// multi-threaded runtime with user `bench` whose INBOX holds [`messages`]`(count, size)`,
/// prints its `READY` line followed by `messages=N bytes=B`, and serves until standard
/// input ends.
///
/// # Errors
/// When the runtime or the server cannot start, or seeding fails.
pub fn serve_test_server(count: usize, size: usize) -> Result<(), BoxError> {
    use inbound_test_server::mailstore::FlagSet;
    use inbound_test_server::server::TestServer;
    use std::io::Write as _;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = crate::bench_server_config(USER, PASSWORD);
        let store = config.store.clone();
        let server = TestServer::start(config).await?;
        let (mut seeded, mut octets) = (0u64, 0u64);
        for raw in messages(count, size) {
            octets += raw.len() as u64;
            store.append(
                USER,
                "INBOX",
                raw,
                FlagSet::new(),
                std::time::SystemTime::now(),
            )?;
            seeded += 1;
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{} messages={seeded} bytes={octets}",
                server.ready_line()
            )?;
            out.flush()?;
        }
        // Until the parent closes our standard input.
        tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        })
        .await?;
        server.shutdown().await;
        Ok::<_, BoxError>(())
    })
}

/// Runs one case once; the verified report and the process wall time, or why not.
fn run_case(
    endpoints: &Endpoints,
    case: &Case,
    expected: (u64, u64),
    wrap: &[String],
) -> Result<(ClientReport, Duration), String> {
    let mut args = Vec::new();
    let program = match case.script {
        Some(script) => {
            args.push(scripts_dir().join(script).display().to_string());
            PathBuf::from("python3")
        }
        None => {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let program = match wrap.split_first() {
                Some((first, rest)) => {
                    args.extend(rest.iter().cloned());
                    args.push(exe.display().to_string());
                    PathBuf::from(first)
                }
                None => exe,
            };
            args.extend(["--client".to_owned(), case.client.to_owned()]);
            program
        }
    };
    args.extend(target_args(endpoints, case.protocol, case.tls));
    let run = run_child(&program, &args).map_err(|e| e.to_string())?;
    if !run.ok {
        return Err(format!("failed: {}", tail(&run.stderr)));
    }
    let report = parse_report(&run.stdout)
        .ok_or_else(|| format!("no JSON summary line; stderr: {}", tail(&run.stderr)))?;
    verify(&report, expected)?;
    Ok((report, run.wall))
}

/// The message count and total octets must be exactly the seeded ones.
pub fn verify(report: &ClientReport, (count, bytes): (u64, u64)) -> Result<(), String> {
    if report.messages != count || report.bytes != bytes {
        return Err(format!(
            "wrong result: {} messages / {} octets, expected {count} / {bytes}",
            report.messages, report.bytes
        ));
    }
    Ok(())
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Runs the bench: starts Dovecot, seeds it, warms it up, runs every Dovecot case `runs`
/// times round-robin, then the pipeline breakdown once; then the same with the test server
/// in a process of its own (seeded with the same messages). Progress goes to standard
/// error.
///
/// # Errors
/// Dovecot missing or failing to start, the test server process failing to start,
/// seeding, or a warm-up run failing. Failures of individual runs are recorded in their
/// [`Row`] instead.
pub fn run(options: &Options) -> Result<Results, BoxError> {
    let started = Instant::now();
    let load_before = loadavg();
    let mut options = options.clone();
    let python = if options.python {
        python_version()
    } else {
        None
    };
    if python.is_none() && options.python {
        eprintln!("retrieval: python3 not found: the Python clients are left out");
        options.python = false;
    }
    let cases = cases(&options);
    let on = |server: &str| -> Vec<usize> {
        (0..cases.len())
            .filter(|&i| cases[i].server == server)
            .collect()
    };
    let mut samples: Vec<Vec<(ClientReport, Duration)>> = vec![Vec::new(); cases.len()];
    let mut failures: Vec<Vec<String>> = vec![Vec::new(); cases.len()];
    let mail = messages(options.messages, options.size);
    let expected = (
        mail.len() as u64,
        mail.iter().map(|m| m.len() as u64).sum::<u64>(),
    );
    let mut rounds = |endpoints: &Endpoints, which: &[usize]| {
        for round in 1..=options.runs {
            eprintln!("retrieval: round {round} of {}", options.runs);
            for &i in which {
                let case = &cases[i];
                match run_case(endpoints, case, expected, &options.wrap) {
                    Ok((report, wall)) => {
                        eprintln!(
                            "  {:<11} {:<9} {:<25} {:<5} fetch {:>9.1} ms  cpu {:>8.1} ms  rss {:>7} kB",
                            case.server,
                            case.protocol,
                            case.client,
                            report.security,
                            report.fetch_ms,
                            report.cpu_ms,
                            report.peak_rss_kb
                        );
                        samples[i].push((report, wall));
                    }
                    Err(e) => {
                        eprintln!(
                            "  {} {} {} run {round}: {e}",
                            case.server,
                            case.client,
                            tls_name(case.tls)
                        );
                        failures[i].push(format!("run {round}: {e}"));
                    }
                }
            }
        }
    };

    let dovecot_cases = on(DOVECOT);
    let mut breakdown = None;
    if !dovecot_cases.is_empty() {
        if !Dovecot::available() {
            return Err(
                "dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)".into(),
            );
        }
        let dovecot = Dovecot::start(DovecotConfig::default().with_user(USER, PASSWORD))?;
        let endpoints = Endpoints::of_dovecot(&dovecot);
        let seeded = dovecot.write_maildir(USER, "INBOX", &mail)?;
        eprintln!(
            "retrieval: Dovecot {} on 127.0.0.1, {seeded} messages, {} octets ({:.1} KB average)",
            Dovecot::version().unwrap_or_default(),
            expected.1,
            expected.1 as f64 / expected.0.max(1) as f64 / 1000.0
        );
        // Dovecot indexes the Maildir on first access (IMAP), and POP3 caches sizes and UIDLs.
        warm_up(&endpoints, DOVECOT, expected)?;
        rounds(&endpoints, &dovecot_cases);
        if options.parts.iter().any(|p| p == "pipeline") {
            breakdown = self::breakdown(&endpoints, expected);
        }
        dovecot.stop();
    }
    drop(mail);

    let test_server_cases = on(TEST_SERVER);
    if !test_server_cases.is_empty() {
        let server = TestServerProcess::spawn(options.messages, options.size)?;
        if server.seeded != expected {
            return Err(format!(
                "the test server seeded {} messages / {} octets, expected {} / {}",
                server.seeded.0, server.seeded.1, expected.0, expected.1
            )
            .into());
        }
        eprintln!(
            "retrieval: test server (process {}) on 127.0.0.1, {} messages, {} octets",
            server.pid(),
            expected.0,
            expected.1
        );
        warm_up(&server.endpoints, TEST_SERVER, expected)?;
        rounds(&server.endpoints, &test_server_cases);
        server.stop();
    }

    let rows: Vec<Row> = cases
        .iter()
        .zip(samples)
        .zip(failures)
        .map(|((case, runs), failures)| row(case, &runs, failures))
        .collect();
    let mut results = Results {
        messages: expected.0,
        total_bytes: expected.1,
        runs: options.runs,
        quick: options.quick,
        dovecot: Dovecot::version().unwrap_or_default(),
        python,
        load: vec![load_before, loadavg()],
        elapsed_s: started.elapsed().as_secs_f64(),
        rows,
        breakdown,
        targets: Vec::new(),
    };
    results.targets = targets(&results);
    Ok(results)
}

/// One unmeasured run of inbound-net's IMAP and POP3 clients (plain), verified.
fn warm_up(
    endpoints: &Endpoints,
    server: &'static str,
    expected: (u64, u64),
) -> Result<(), BoxError> {
    for (protocol, client) in [("IMAP", "inbound-imap"), ("POP3", "inbound-pop3")] {
        let warm = Case {
            server,
            protocol,
            client,
            tls: false,
            script: None,
        };
        run_case(endpoints, &warm, expected, &[])
            .map_err(|e| format!("warm-up {client} on {server}: {e}"))?;
    }
    Ok(())
}

fn tls_name(tls: bool) -> &'static str {
    if tls { "tls" } else { "plain" }
}

fn breakdown(endpoints: &Endpoints, expected: (u64, u64)) -> Option<Breakdown> {
    let case = Case {
        server: DOVECOT,
        protocol: "IMAP",
        client: "pipeline-breakdown",
        tls: false,
        script: None,
    };
    let exe = std::env::current_exe().ok()?;
    let mut args = vec!["--client".to_owned(), case.client.to_owned()];
    args.extend(target_args(endpoints, case.protocol, false));
    eprintln!("retrieval: pipeline breakdown");
    let run = match run_child(&exe, &args) {
        Ok(run) if run.ok => run,
        Ok(run) => {
            eprintln!("  breakdown failed: {}", tail(&run.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("  breakdown failed: {e}");
            return None;
        }
    };
    let b = parse_breakdown(&run.stdout)?;
    if (b.messages, b.bytes) != expected {
        eprintln!(
            "  breakdown: wrong result {} / {}, expected {} / {}",
            b.messages, b.bytes, expected.0, expected.1
        );
        return None;
    }
    Some(b)
}

fn row(case: &Case, runs: &[(ClientReport, Duration)], failures: Vec<String>) -> Row {
    let pick = |f: &dyn Fn(&(ClientReport, Duration)) -> f64| -> f64 {
        median(&runs.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    Row {
        server: case.server.to_owned(),
        protocol: case.protocol.to_owned(),
        client: case.client.to_owned(),
        security: tls_name(case.tls).to_owned(),
        runs: runs.len(),
        messages: runs.first().map_or(0, |r| r.0.messages),
        bytes: runs.first().map_or(0, |r| r.0.bytes),
        fetch_ms: pick(&|r| r.0.fetch_ms),
        session_ms: pick(&|r| r.0.session_ms),
        process_ms: pick(&|r| r.1.as_secs_f64() * 1000.0),
        cpu_ms: pick(&|r| r.0.cpu_ms),
        peak_rss_kb: pick(&|r| r.0.peak_rss_kb as f64),
        failures,
    }
}

/// One target before judging: name, measured figure, goal text, test.
type Check<'a> = (String, Option<f64>, &'a str, &'a dyn Fn(f64) -> bool);

/// The targets, judged on the medians (on `fetch_ms`, the retrieval itself).
pub fn targets(results: &Results) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let judge = |measured: Option<f64>, ok: &dyn Fn(f64) -> bool| -> (f64, Option<bool>) {
        match measured {
            Some(m) if m.is_finite() => (m, (!results.quick).then(|| ok(m))),
            _ => (f64::NAN, None),
        }
    };
    let ratio = |a: Option<&Row>, b: Option<&Row>, f: fn(&Row) -> f64| -> Option<f64> {
        let (a, b) = (a?, b?);
        (f(b) > 0.0).then(|| f(a) / f(b))
    };
    for security in ["plain", "tls"] {
        let inbound = results.row("inbound-imap", security);
        let checks: [Check<'_>; 5] = [
            (
                format!("IMAP {security}: inbound-imap wall / raw read wall"),
                ratio(inbound, results.row("raw-imap", security), |r| r.fetch_ms),
                "<= 1.05x",
                &|m| m <= 1.05,
            ),
            (
                format!(
                    "IMAP {security}: inbound-imap-stream wall / raw read wall (the same \
                     request, no body kept)"
                ),
                ratio(
                    results.row("inbound-imap-stream", security),
                    results.row("raw-imap", security),
                    |r| r.fetch_ms,
                ),
                "<= 1.05x",
                &|m| m <= 1.05,
            ),
            (
                format!("IMAP {security}: inbound-imap CPU / async-imap CPU"),
                ratio(inbound, results.row("async-imap", security), |r| r.cpu_ms),
                "<= 1.00x",
                &|m| m <= 1.0,
            ),
            (
                format!("IMAP {security}: inbound-imap peak RSS / async-imap peak RSS"),
                ratio(inbound, results.row("async-imap", security), |r| {
                    r.peak_rss_kb
                }),
                "<= 1.00x",
                &|m| m <= 1.0,
            ),
            (
                format!("IMAP {security}: python-imaplib wall / inbound-imap wall"),
                ratio(results.row("python-imaplib", security), inbound, |r| {
                    r.fetch_ms
                }),
                ">= 1.4x",
                &|m| m >= 1.4,
            ),
        ];
        for (name, measured, goal, ok) in checks {
            if results
                .rows
                .iter()
                .any(|r| r.server == DOVECOT && r.protocol == "IMAP")
            {
                let (measured, met) = judge(measured, ok);
                out.push(TargetCheck {
                    name,
                    measured,
                    goal: goal.to_owned(),
                    met,
                });
            }
        }
        if results
            .rows
            .iter()
            .any(|r| r.server == DOVECOT && r.protocol == "POP3")
        {
            let (measured, met) = judge(
                ratio(
                    results.row("python-poplib", security),
                    results.row("inbound-pop3", security),
                    |r| r.fetch_ms,
                ),
                &|m| m >= 4.0,
            );
            out.push(TargetCheck {
                name: format!("POP3 {security}: python-poplib wall / inbound-pop3 wall"),
                measured,
                goal: ">= 4x".to_owned(),
                met,
            });
        }
        if results
            .rows
            .iter()
            .any(|r| r.server == DOVECOT && r.protocol == "pipeline")
        {
            let (measured, met) = judge(
                results
                    .row("inbound-fetch", security)
                    .map(Row::messages_per_s),
                &|m| m >= 5000.0,
            );
            out.push(TargetCheck {
                name: format!("pipeline {security}: inbound-fetch messages/s"),
                measured,
                goal: ">= 5,000 msg/s".to_owned(),
                met,
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn crlf_fixes_bare_line_feeds_only() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n".to_vec());
        let m = &messages(2, 20_000)[1];
        assert!(m.len() > 18_000 && m.len() < 24_000, "{}", m.len());
        assert!(!m.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    }

    #[test]
    fn verification_needs_exact_count_and_octets() {
        let r = ClientReport {
            client: "x".into(),
            security: "plain".into(),
            messages: 10,
            bytes: 200,
            session_ms: 1.0,
            fetch_ms: 1.0,
            cpu_ms: 1.0,
            peak_rss_kb: 1,
        };
        assert!(verify(&r, (10, 200)).is_ok());
        assert!(verify(&r, (10, 201)).is_err());
        assert!(verify(&r, (9, 200)).is_err());
    }

    #[test]
    fn cases_cover_both_modes_and_the_quick_run_judges_nothing() {
        let all = cases(&Options::full());
        assert!(all.iter().any(|c| c.client == "inbound-imap" && c.tls));
        assert!(all.iter().any(|c| c.client == "python-poplib" && !c.tls));
        let mut results = Results {
            quick: true,
            ..sample_results(vec![
                sample_row("raw-imap", 100.0),
                sample_row("inbound-imap", 104.0),
            ])
        };
        let quick = targets(&results);
        assert!(quick.iter().all(|t| t.met.is_none()));
        results.quick = false;
        let judged = targets(&results);
        let wall = judged
            .iter()
            .find(|t| t.name == "IMAP plain: inbound-imap wall / raw read wall")
            .unwrap();
        assert_eq!(wall.met, Some(true));
        assert!((wall.measured - 1.04).abs() < 1e-9);
        // No async-imap row: not judged.
        assert!(
            judged
                .iter()
                .find(|t| t.name.contains("plain: inbound-imap CPU"))
                .unwrap()
                .met
                .is_none()
        );
    }

    #[test]
    fn experiments_run_only_when_named() {
        let all = cases(&Options::full());
        assert!(
            all.iter()
                .any(|c| c.client == "inbound-imap-stream" && c.tls)
        );
        assert!(
            all.iter()
                .any(|c| c.client == "raw-imap-items-keep" && !c.tls)
        );
        assert!(!all.iter().any(|c| c.client == "raw-imap-items-bufread"));
        let mut named = Options::full();
        named.clients = Some(vec!["raw-imap-items-bufread".into(), "raw-imap".into()]);
        let picked = cases(&named);
        assert_eq!(
            picked.len(),
            4 + 2,
            "both on Dovecot plain and TLS, raw-imap also on the test server"
        );
        assert_eq!(
            picked
                .iter()
                .filter(|c| c.client == "raw-imap-items-bufread" && c.server == DOVECOT)
                .count(),
            2
        );
    }

    #[test]
    fn test_server_cases_follow_parts_and_servers() {
        let all = cases(&Options::full());
        let on_test_server: Vec<_> = all.iter().filter(|c| c.server == TEST_SERVER).collect();
        // raw-imap, inbound-imap, inbound-pop3; plain and TLS; never Python or the pipeline.
        assert_eq!(on_test_server.len(), 6);
        assert!(on_test_server.iter().all(|c| c.script.is_none()));
        assert!(
            on_test_server
                .iter()
                .any(|c| c.client == "inbound-pop3" && c.tls)
        );
        let mut only_pop3 = Options::full();
        only_pop3.parts = vec!["pop3".into()];
        only_pop3.servers = vec![TEST_SERVER.into()];
        let picked = cases(&only_pop3);
        assert_eq!(picked.len(), 2);
        assert!(
            picked
                .iter()
                .all(|c| c.client == "inbound-pop3" && c.server == TEST_SERVER)
        );
    }

    #[test]
    fn results_with_unmeasured_targets_survive_json() {
        let results = Results {
            targets: vec![TargetCheck {
                name: "x".into(),
                measured: f64::NAN,
                goal: ">= 1".into(),
                met: None,
            }],
            ..sample_results(vec![sample_row("inbound-imap", 10.0)])
        };
        let json = serde_json::to_string(&results).unwrap();
        let back: Results = serde_json::from_str(&json).unwrap();
        assert!(back.targets[0].measured.is_nan());
        assert_eq!(back.rows, results.rows);
        // Rows written before the test server was measured are Dovecot's.
        let old = json.replace("\"server\":\"dovecot\",", "");
        assert_ne!(old, json);
        let back: Results = serde_json::from_str(&old).unwrap();
        assert_eq!(back.rows[0].server, DOVECOT);
    }

    #[test]
    fn ready_line_gives_the_endpoints() {
        let line = "READY imap=127.0.0.1:4001 imaps=127.0.0.1:4002 pop3=127.0.0.1:4003 \
                    pop3s=127.0.0.1:4004 oauth=http://127.0.0.1:4005 ca=/tmp/x/ca.pem \
                    messages=3 bytes=60\n";
        let e = Endpoints::from_ready_line(line).unwrap();
        assert_eq!((e.imap, e.imaps, e.pop3, e.pop3s), (4001, 4002, 4003, 4004));
        assert_eq!(e.ca, PathBuf::from("/tmp/x/ca.pem"));
        assert!(Endpoints::from_ready_line("READY imap=none ca=/x").is_none());
        assert!(Endpoints::from_ready_line("ERROR").is_none());
    }

    #[test]
    fn targets_ignore_test_server_rows() {
        let mut fast = sample_row("inbound-imap", 10.0);
        fast.server = TEST_SERVER.into();
        let results = sample_results(vec![sample_row("raw-imap", 100.0), fast]);
        assert!(results.row("inbound-imap", "plain").is_none());
        assert!(
            results
                .row_on(TEST_SERVER, "inbound-imap", "plain")
                .is_some()
        );
        let wall = targets(&results)
            .into_iter()
            .find(|t| t.name == "IMAP plain: inbound-imap wall / raw read wall")
            .unwrap();
        assert_eq!(wall.met, None);
    }

    /// One run's results holding `rows`, judged (not quick), nothing else measured.
    fn sample_results(rows: Vec<Row>) -> Results {
        Results {
            messages: 1,
            total_bytes: 1,
            runs: 1,
            quick: false,
            dovecot: String::new(),
            python: None,
            load: Vec::new(),
            elapsed_s: 0.0,
            rows,
            breakdown: None,
            targets: Vec::new(),
        }
    }

    fn sample_row(client: &str, fetch_ms: f64) -> Row {
        Row {
            server: DOVECOT.into(),
            protocol: "IMAP".into(),
            client: client.into(),
            security: "plain".into(),
            runs: 1,
            messages: 5000,
            bytes: 100_000_000,
            fetch_ms,
            session_ms: fetch_ms + 5.0,
            process_ms: fetch_ms + 10.0,
            cpu_ms: 50.0,
            peak_rss_kb: 1000.0,
            failures: Vec::new(),
        }
    }
}
