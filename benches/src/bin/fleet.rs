//! The fleet bench: several `inbound watch` processes sharing the accounts of one
//! PostgreSQL store, as a user runs them. The real `inbound` binary runs as child processes
//! (`inbound --config FILE --quiet watch --json`) against the bundled test server (in this
//! process, one user per account, IMAP over TLS by default) and a throwaway PostgreSQL
//! cluster (`initdb` + `pg_ctl` into a temp dir, on 127.0.0.1, as `nobody` when run as
//! root; `fsync` on unless `--pg-fsync off`).
//!
//! ```text
//! fleet [drain|failover|idle|all]... [--accounts N] [--messages N] [--workers 1,2,4]
//!       [--connects-per-sec N] [--scan-secs N] [--kills N] [--default-lease-kills N]
//!       [--samples N] [--security tls|plain] [--pg-fsync on|off] [--pg-stats]
//!       [--no-sqlite] [--inbound PATH]
//! ```
//!
//! - `drain`: `--accounts` (1,000) × `--messages` (20, about 2 KB each) waiting in the
//!   test server, drained by each count of `--workers` (1, 2, 4) into a fresh database:
//!   the time from spawning the workers until `SELECT count(*) FROM messages` (polled every
//!   100 ms) reaches the total; each worker's peak RSS (VmHWM) and CPU; the PostgreSQL
//!   cluster's CPU (the postmaster's and its backends' user + system time, the exited
//!   backends' included through the postmaster's children times). Then the same with one
//!   `inbound watch` on a SQLite store (`[store] path`) unless `--no-sqlite`.
//! - `failover`: `--accounts` (200) over `--workers` (3) with `lease_secs = 6`,
//!   `renew_secs = 2`, `scan_secs = 1`; `--kills` (10) times a worker is SIGKILLed and the
//!   time until every account is owned by a survivor, `watching`, with an unexpired lease
//!   (polled every 50 ms on `fleet_leases`) is measured; a fresh worker then takes its
//!   place and the time until it holds its share is measured too. Then
//!   `--default-lease-kills` (1) kills with the default lease (30 s, renew 10, scan 5).
//! - `idle`: `--accounts` (4,000) in IDLE over `--workers` (4): time until all watch, RSS
//!   per worker, PostgreSQL CPU per second while nothing arrives (renewals only); then
//!   `--samples` (200) random accounts get one message each (25 ms apart) and the time from
//!   `deliver()` in the test server to the worker's `--json` line for it is taken.
//!
//! `--pg-stats` loads `pg_stat_statements` and prints, after each drain run, the statements
//! that took the most database time (to see where PostgreSQL's CPU goes).
//!
//! Needs PostgreSQL 15 (`apt-get install postgresql`; or `INBOUND_PG_BIN`) and the
//! `inbound` binary, looked for next to this one: `cargo build --release -p inbound -p
//! inbound-benches --bin fleet`, then `target/release/fleet drain`. Prints Markdown tables,
//! then one line `JSON {...}` per scenario.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_benches::memory::{percentile, raise_nofile_limit};
use inbound_test_server::server::{ServerConfig, TestServer};
use serde_json::{Value, json};

type BoxError = Box<dyn Error + Send + Sync>;

const PASSWORD: &str = "fleet-bench-pw";

/// Where Debian's PostgreSQL 15 puts its programs.
const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    scenarios: Vec<String>,
    accounts: Option<usize>,
    messages: usize,
    workers: Option<Vec<usize>>,
    connects_per_sec: u32,
    scan_secs: u64,
    kills: usize,
    default_lease_kills: usize,
    samples: usize,
    security: String,
    fsync: bool,
    pg_stats: bool,
    sqlite: bool,
    inbound: PathBuf,
}

fn parse_options() -> Result<Options, BoxError> {
    let mut o = Options {
        scenarios: Vec::new(),
        accounts: None,
        messages: 20,
        workers: None,
        connects_per_sec: 200,
        scan_secs: 1,
        kills: 10,
        default_lease_kills: 1,
        samples: 200,
        security: "tls".into(),
        fsync: true,
        pg_stats: false,
        sqlite: true,
        inbound: std::env::current_exe()?.with_file_name("inbound"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--accounts" => o.accounts = Some(value()?.parse()?),
            "--messages" => o.messages = value()?.parse()?,
            "--workers" => {
                o.workers = Some(
                    value()?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?,
                );
            }
            "--connects-per-sec" => o.connects_per_sec = value()?.parse()?,
            "--scan-secs" => o.scan_secs = value()?.parse()?,
            "--kills" => o.kills = value()?.parse()?,
            "--default-lease-kills" => o.default_lease_kills = value()?.parse()?,
            "--samples" => o.samples = value()?.parse()?,
            "--security" => o.security = value()?,
            "--pg-fsync" => o.fsync = value()? != "off",
            "--no-sqlite" => o.sqlite = false,
            "--pg-stats" => o.pg_stats = true,
            "--inbound" => o.inbound = value()?.into(),
            "drain" | "failover" | "idle" => o.scenarios.push(arg),
            "all" => o
                .scenarios
                .extend(["drain", "failover", "idle"].map(String::from)),
            "-h" | "--help" => {
                println!(
                    "fleet [drain|failover|idle|all]... [--accounts N] [--messages N] \
                     [--workers 1,2,4] [--connects-per-sec N] [--scan-secs N] [--kills N] \
                     [--default-lease-kills N] [--samples N] [--security tls|plain] \
                     [--pg-fsync on|off] [--pg-stats] [--no-sqlite] [--inbound PATH]"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {arg}").into()),
        }
    }
    if o.scenarios.is_empty() {
        o.scenarios.push("drain".into());
    }
    if !matches!(o.security.as_str(), "tls" | "plain") {
        return Err("--security is tls or plain".into());
    }
    if !o.inbound.exists() {
        return Err(format!(
            "no inbound binary at {} (cargo build --release -p inbound, or --inbound PATH)",
            o.inbound.display()
        )
        .into());
    }
    Ok(o)
}

fn run() -> Result<(), BoxError> {
    let o = parse_options()?;
    let limit = raise_nofile_limit(20_000)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let users = o.accounts.unwrap_or(0).max(match o.scenarios.as_slice() {
        s if s.iter().any(|s| s == "idle") => 4000,
        s if s.iter().any(|s| s == "drain") => 1000,
        _ => 200,
    });
    let started = Instant::now();
    let server = start_server(&rt, users)?;
    eprintln!(
        "test server: {users} users in {:.1} s; open-file limit {limit}",
        started.elapsed().as_secs_f64()
    );
    let mut pg = Pg::start(o.fsync, o.pg_stats)?;
    eprintln!(
        "PostgreSQL on 127.0.0.1:{} (fsync {})",
        pg.port,
        if o.fsync { "on" } else { "off" }
    );
    println!(
        "machine: {} cores, {}; load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model(),
        load_average()
    );
    for s in o.scenarios.clone() {
        match s.as_str() {
            "drain" => drain(&o, &rt, &server, &mut pg)?,
            "failover" => failover(&o, &rt, &server, &mut pg)?,
            _ => idle(&o, &rt, &server, &mut pg)?,
        }
    }
    println!("load average after: {}", load_average());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The test server and the configuration.

fn user(i: usize) -> String {
    format!("u{i:05}")
}

fn start_server(rt: &tokio::runtime::Runtime, users: usize) -> Result<TestServer, BoxError> {
    let mut config = ServerConfig::default()
        .seed_sample(false)
        .auto_logout(Duration::from_secs(3600));
    config.oauth_clients.clear();
    for i in 0..users {
        config = config.user(&user(i), PASSWORD);
    }
    Ok(rt.block_on(TestServer::start(config))?)
}

/// A small message (about `size` bytes): headers and a plain-text body.
fn message(user: &str, n: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Fleet Bench <bench@example.test>\r\nTo: {user}@example.test\r\n\
         Subject: fleet bench {user} #{n}\r\nMessage-ID: <{user}.{n}.{}@fleet.bench>\r\n\
         Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
        std::process::id()
    );
    let mut line = 0;
    while m.len() < size {
        line += 1;
        m.push_str(&format!(
            "Line {line} of message {n} for {user}: the quick brown fox jumps over the lazy dog.\r\n"
        ));
    }
    m.into_bytes()
}

/// Delivers `per_user` messages into each of the first `users` INBOXes.
fn fill(server: &TestServer, users: usize, per_user: usize) -> Result<(), BoxError> {
    for i in 0..users {
        let u = user(i);
        for n in 0..per_user {
            server.store().deliver(&u, "INBOX", message(&u, n, 2048))?;
        }
    }
    Ok(())
}

/// `[fleet]` settings.
#[derive(Debug, Clone, Copy)]
struct FleetSettings {
    lease: u64,
    renew: u64,
    scan: u64,
    rebalance: u64,
    step: usize,
    connects_per_sec: u32,
}

impl FleetSettings {
    fn toml(&self) -> String {
        format!(
            "[fleet]\nlease_secs = {}\nrenew_secs = {}\nscan_secs = {}\nrebalance_secs = {}\n\
             rebalance_step = {}\nconnects_per_sec = {}\ncapacity = 100000\n",
            self.lease, self.renew, self.scan, self.rebalance, self.step, self.connects_per_sec
        )
    }

    fn describe(&self) -> String {
        format!(
            "lease_secs {}, renew_secs {}, scan_secs {}, rebalance_secs {}, rebalance_step {}, \
             connects_per_sec {}, capacity 100000",
            self.lease, self.renew, self.scan, self.rebalance, self.step, self.connects_per_sec
        )
    }
}

/// A scratch directory holding `inbound.toml` for `accounts` accounts on `store` (a
/// `[store]` body).
fn workdir(
    server: &TestServer,
    security: &str,
    store: &str,
    fleet: Option<&FleetSettings>,
    accounts: usize,
) -> Result<tempfile::TempDir, BoxError> {
    let dir = tempfile::Builder::new().prefix("fleet-bench-").tempdir()?;
    let port = if security == "tls" {
        server.imaps_addr().port()
    } else {
        server.imap_addr().port()
    };
    let ca = server.ca_file().display().to_string();
    let mut text = format!("[store]\n{store}\n\n");
    if let Some(f) = fleet {
        text.push_str(&f.toml());
        text.push('\n');
    }
    for i in 0..accounts {
        let u = user(i);
        text.push_str(&format!(
            "[[account]]\nname = \"{u}\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nsecurity = \"{security}\"\nusername = \"{u}\"\n\
             password = \"{PASSWORD}\"\nca_file = {ca:?}\ntimeout_secs = 30\nsubscribe = true\n\n"
        ));
    }
    std::fs::write(dir.path().join("inbound.toml"), text)?;
    Ok(dir)
}

// ---------------------------------------------------------------------------------------
// Worker processes.

/// One `inbound watch` child; its `--json` mail lines are read by a thread.
struct Worker {
    child: Child,
    pid: u32,
    /// (when read, account) per new-message line.
    mail: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: PathBuf,
}

/// What a worker used, read before it is killed.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    peak_rss_kb: u64,
    rss_kb: u64,
    cpu_ms: u64,
    threads: u64,
}

impl Worker {
    fn spawn(inbound: &Path, dir: &Path, tag: &str) -> Result<Self, BoxError> {
        let stderr = dir.join(format!("worker-{tag}.stderr"));
        let mut child = Command::new(inbound)
            .current_dir(dir)
            .args(["--config", "inbound.toml", "--quiet", "watch", "--json"])
            .env_remove("INBOUND_CONFIG")
            .env_remove("INBOUND_STORE")
            .env_remove("INBOUND_LOG")
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mail = Arc::new(Mutex::new(Vec::new()));
        let sink = mail.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v.get("state").is_some() {
                    continue;
                }
                if let Some(a) = v.get("account").and_then(Value::as_str) {
                    sink.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((at, a.to_owned()));
                }
            }
        });
        let pid = child.id();
        Ok(Self {
            child,
            pid,
            mail,
            reader: Some(reader),
            stderr,
        })
    }

    fn mail(&self) -> Vec<(Instant, String)> {
        self.mail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn usage(&self) -> Usage {
        Usage {
            peak_rss_kb: status_kb(self.pid, "VmHWM").unwrap_or(0),
            rss_kb: status_kb(self.pid, "VmRSS").unwrap_or(0),
            cpu_ms: proc_stat(self.pid).map_or(0, |s| ticks_ms(s.own)),
            threads: status_kb(self.pid, "Threads").unwrap_or(0),
        }
    }

    /// SIGKILL, reaped.
    fn kill(mut self) -> Result<(), BoxError> {
        self.child.kill()?;
        self.child.wait()?;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        Ok(())
    }

    /// Whether it exited already (with its stderr's tail), which no scenario expects.
    fn check_alive(&mut self) -> Result<(), BoxError> {
        if let Some(status) = self.child.try_wait()? {
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            let tail: String = err.lines().rev().take(10).collect::<Vec<_>>().join("\n");
            return Err(format!("worker {} exited ({status}): {tail}", self.pid).into());
        }
        Ok(())
    }
}

fn kill_all(workers: Vec<Worker>) -> Result<(), BoxError> {
    for w in workers {
        w.kill()?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// /proc.

/// Times from `/proc/PID/stat`, in clock ticks.
#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: u32,
    own: u64,
    children: u64,
}

fn proc_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: u32::try_from(n(4)?).ok()?,
        own: n(14)? + n(15)?,
        children: n(16)? + n(17)?,
    })
}

fn ticks_ms(ticks: u64) -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let hz = *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    });
    ticks * 1000 / hz.max(1)
}

/// A `Key:  value kB` (or plain number) line of `/proc/PID/status`.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn self_cpu_ms() -> u64 {
    proc_stat(std::process::id()).map_or(0, |s| ticks_ms(s.own))
}

// ---------------------------------------------------------------------------------------
// PostgreSQL.

/// A throwaway cluster: stopped and removed on drop.
struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    next_db: u32,
}

impl Pg {
    fn start(fsync: bool, stats: bool) -> Result<Self, BoxError> {
        let bin = std::env::var_os("INBOUND_PG_BIN")
            .map_or_else(|| PathBuf::from(DEFAULT_PG_BIN), PathBuf::from);
        if !bin.join("initdb").exists() {
            return Err(format!(
                "PostgreSQL is not installed at {} (apt-get install postgresql, or set \
                 INBOUND_PG_BIN)",
                bin.display()
            )
            .into());
        }
        let dir = tempfile::Builder::new()
            .prefix("fleet-bench-pg-")
            .tempdir()?;
        let run_as = if rustix::process::geteuid().is_root() {
            let out = Command::new("chown")
                .arg("nobody:")
                .arg(dir.path())
                .output()?;
            if !out.status.success() {
                return Err("chown nobody: failed".into());
            }
            Some("nobody")
        } else {
            None
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pg = Self {
            dir,
            bin,
            port,
            run_as,
            next_db: 0,
        };
        let data = pg.dir.path().join("data");
        pg.run_ok(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        )?;
        let mut options = format!(
            "-p {port} -h 127.0.0.1 -k {} -c max_connections=200 -c fsync={}",
            pg.dir.path().display(),
            if fsync { "on" } else { "off" }
        );
        if stats {
            options.push_str(" -c shared_preload_libraries=pg_stat_statements");
        }
        pg.run_ok(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &pg.dir.path().join("server.log").to_string_lossy(),
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )?;
        Ok(pg)
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, BoxError> {
        let path = self.bin.join(program);
        let mut c = match self.run_as {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        Ok(c.args(args).current_dir(self.dir.path()).output()?)
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> Result<(), BoxError> {
        let out = self.run(program, args)?;
        if !out.status.success() {
            return Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }

    /// A fresh database's URL.
    fn create_db(&mut self) -> Result<String, BoxError> {
        self.next_db += 1;
        let name = format!("fleet_bench_{}", self.next_db);
        self.run_ok(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                &name,
            ],
        )?;
        Ok(format!(
            "postgresql://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        ))
    }

    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The cluster's CPU so far: the postmaster's own and reaped children's time, and the
    /// time of every live child (backends, background writer, WAL writer, ...).
    fn cpu_ms(&self) -> u64 {
        let Some(pm) = self.postmaster_pid() else {
            return 0;
        };
        let Some(root) = proc_stat(pm) else {
            return 0;
        };
        let mut ticks = root.own + root.children;
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                if let Some(s) = proc_stat(pid).filter(|s| s.ppid == pm) {
                    ticks += s.own + s.children;
                }
            }
        }
        ticks_ms(ticks)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

/// A client of the bench's own on the database, for polling.
struct Db<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl<'a> Db<'a> {
    fn connect(rt: &'a tokio::runtime::Runtime, url: &str) -> Result<Self, BoxError> {
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            Ok::<_, tokio_postgres::Error>(client)
        })?;
        Ok(Self { rt, client })
    }

    /// One `bigint` (0 when the query fails, as before the schema exists).
    fn count(&self, sql: &str) -> i64 {
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .ok()
            .and_then(|r| r.try_get::<_, i64>(0).ok())
            .unwrap_or(0)
    }

    fn execute(&self, sql: &str) -> Result<(), BoxError> {
        self.rt.block_on(self.client.batch_execute(sql))?;
        Ok(())
    }

    /// The statements of this database that took the most time, to standard error.
    fn print_top_statements(&self, label: &str) -> Result<(), BoxError> {
        let rows = self.rt.block_on(self.client.query(
            "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160)
             FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY total_exec_time DESC LIMIT 12",
            &[],
        ))?;
        eprintln!("top statements by execution time, {label}:");
        for r in rows {
            let calls: i64 = r.try_get(0)?;
            let total: f64 = r.try_get(1)?;
            let n: i64 = r.try_get(2)?;
            let q: String = r.try_get(3)?;
            eprintln!("  {calls:>7} calls {total:>9.0} ms {n:>7} rows  {q}");
        }
        Ok(())
    }

    /// Unexpired leases per worker pid.
    fn held_by_pid(&self) -> HashMap<u32, i64> {
        let rows = self
            .rt
            .block_on(self.client.query(
                "SELECT w.pid, count(*) FROM fleet_leases l JOIN fleet_workers w ON w.id = l.owner
                 WHERE l.expires_at > now() GROUP BY w.pid",
                &[],
            ))
            .unwrap_or_default();
        rows.iter()
            .filter_map(|r| {
                let pid: i64 = r.try_get(0).ok()?;
                Some((u32::try_from(pid).ok()?, r.try_get::<_, i64>(1).ok()?))
            })
            .collect()
    }
}

const WATCHING: &str = "SELECT count(*) FROM fleet_leases WHERE owner IS NOT NULL \
                        AND state = 'watching' AND expires_at > now()";

/// Polls `done` every `every` until it is true or `limit` passes; the time it took.
fn wait_until(
    what: &str,
    every: Duration,
    limit: Duration,
    workers: &mut [Worker],
    mut done: impl FnMut(&[Worker]) -> bool,
) -> Result<Duration, BoxError> {
    let start = Instant::now();
    let mut checked = Instant::now();
    loop {
        if done(workers) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {} s waiting for {what}", limit.as_secs()).into());
        }
        if checked.elapsed() > Duration::from_secs(1) {
            for w in workers.iter_mut() {
                w.check_alive()?;
            }
            checked = Instant::now();
        }
        std::thread::sleep(every);
    }
}

// ---------------------------------------------------------------------------------------
// Scenario 1: drain.

#[derive(Debug)]
struct DrainRun {
    label: String,
    workers: usize,
    secs: f64,
    first_secs: f64,
    msg_per_s: f64,
    peak_rss_mb: Vec<f64>,
    worker_cpu_ms: u64,
    pg_cpu_ms: Option<u64>,
    accounts_per_worker: Vec<usize>,
}

fn drain(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    server: &TestServer,
    pg: &mut Pg,
) -> Result<(), BoxError> {
    let accounts = o.accounts.unwrap_or(1000);
    let counts = o.workers.clone().unwrap_or_else(|| vec![1, 2, 4]);
    let fill_start = Instant::now();
    fill(server, accounts, o.messages)?;
    let total = (accounts * o.messages) as i64;
    eprintln!(
        "drain: {total} messages delivered to {accounts} INBOXes in {:.1} s",
        fill_start.elapsed().as_secs_f64()
    );
    let fleet = FleetSettings {
        lease: 30,
        renew: 10,
        scan: o.scan_secs,
        rebalance: 60,
        step: 2,
        connects_per_sec: o.connects_per_sec,
    };
    let mut runs = Vec::new();
    for &n in &counts {
        let url = pg.create_db()?;
        let dir = workdir(
            server,
            &o.security,
            &format!("url = \"{url}\""),
            Some(&fleet),
            accounts,
        )?;
        let db = Db::connect(rt, &url)?;
        if o.pg_stats {
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")?;
            db.execute("SELECT pg_stat_statements_reset()")?;
        }
        runs.push(drain_run(
            o,
            &format!("PostgreSQL, {n} worker(s)"),
            n,
            dir.path(),
            total,
            || db.count("SELECT count(*) FROM messages"),
            Some(&*pg),
        )?);
        if o.pg_stats {
            db.print_top_statements(&format!("PostgreSQL, {n} worker(s)"))?;
        }
    }
    if o.sqlite {
        let dir = workdir(
            server,
            &o.security,
            "path = \"inbound.sqlite\"",
            None,
            accounts,
        )?;
        let file = dir.path().join("inbound.sqlite");
        runs.push(drain_run(
            o,
            "SQLite, 1 process",
            1,
            dir.path(),
            total,
            || sqlite_count(&file),
            None,
        )?);
    }
    println!(
        "\n### Drain: {accounts} accounts × {} messages (about 2 KB each), IMAP IDLE \
         (`subscribe = true`), IMAP over {}\n",
        o.messages,
        if o.security == "tls" {
            "TLS"
        } else {
            "plain TCP"
        }
    );
    println!("[fleet]: {}\n", fleet.describe());
    println!(
        "| store, workers | drain s | first message s | msg/s | peak RSS MB per worker | \
         workers' CPU ms | PostgreSQL CPU ms | accounts per worker |"
    );
    println!("|---|---:|---:|---:|---|---:|---:|---|");
    for r in &runs {
        println!(
            "| {} | {:.2} | {:.2} | {:.0} | {} | {} | {} | {} |",
            r.label,
            r.secs,
            r.first_secs,
            r.msg_per_s,
            r.peak_rss_mb
                .iter()
                .map(|m| format!("{m:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            r.worker_cpu_ms,
            r.pg_cpu_ms.map_or("-".into(), |v| v.to_string()),
            r.accounts_per_worker
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let j: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({"label": r.label, "workers": r.workers, "secs": r.secs,
                   "first_secs": r.first_secs, "msg_per_s": r.msg_per_s,
                   "peak_rss_mb": r.peak_rss_mb, "worker_cpu_ms": r.worker_cpu_ms,
                   "pg_cpu_ms": r.pg_cpu_ms, "accounts_per_worker": r.accounts_per_worker})
        })
        .collect();
    println!(
        "\nJSON {}",
        json!({"scenario": "drain", "accounts": accounts, "messages": o.messages,
               "security": o.security, "pg_fsync": o.fsync, "runs": j})
    );
    Ok(())
}

fn sqlite_count(file: &Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    let _ = conn.busy_timeout(Duration::from_millis(50));
    conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap_or(0)
}

fn drain_run(
    o: &Options,
    label: &str,
    n: usize,
    dir: &Path,
    total: i64,
    count: impl Fn() -> i64,
    pg: Option<&Pg>,
) -> Result<DrainRun, BoxError> {
    let pg_before = pg.map(Pg::cpu_ms);
    let start = Instant::now();
    let mut workers = (0..n)
        .map(|i| Worker::spawn(&o.inbound, dir, &i.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut first = None;
    let took = wait_until(
        "every message stored",
        Duration::from_millis(100),
        Duration::from_secs(300),
        &mut workers,
        |_| {
            let c = count();
            if c > 0 && first.is_none() {
                first = Some(start.elapsed());
            }
            c >= total
        },
    )?;
    let usage: Vec<Usage> = workers.iter().map(Worker::usage).collect();
    let pg_cpu = pg.map(Pg::cpu_ms);
    // The last lines may still be on their way through the pipes.
    std::thread::sleep(Duration::from_millis(300));
    let accounts_per_worker: Vec<usize> = workers
        .iter()
        .map(|w| {
            w.mail()
                .into_iter()
                .map(|(_, a)| a)
                .collect::<HashSet<_>>()
                .len()
        })
        .collect();
    kill_all(workers)?;
    let r = DrainRun {
        label: label.to_owned(),
        workers: n,
        secs: took.as_secs_f64(),
        first_secs: first.unwrap_or(took).as_secs_f64(),
        msg_per_s: total as f64 / took.as_secs_f64(),
        peak_rss_mb: usage
            .iter()
            .map(|u| u.peak_rss_kb as f64 / 1024.0)
            .collect(),
        worker_cpu_ms: usage.iter().map(|u| u.cpu_ms).sum(),
        pg_cpu_ms: pg_before.zip(pg_cpu).map(|(b, a)| a.saturating_sub(b)),
        accounts_per_worker,
    };
    eprintln!("drain: {r:?}");
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Scenario 2: failover.

fn failover(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    server: &TestServer,
    pg: &mut Pg,
) -> Result<(), BoxError> {
    let accounts = o.accounts.unwrap_or(200);
    let n = o
        .workers
        .as_ref()
        .and_then(|w| w.first().copied())
        .unwrap_or(3)
        .max(2);
    let short = FleetSettings {
        lease: 6,
        renew: 2,
        scan: 1,
        rebalance: 1,
        step: 10,
        connects_per_sec: o.connects_per_sec,
    };
    let defaults = FleetSettings {
        lease: 30,
        renew: 10,
        scan: 5,
        rebalance: 1,
        step: 10,
        connects_per_sec: o.connects_per_sec,
    };
    let mut out = Vec::new();
    for (settings, kills) in [(short, o.kills), (defaults, o.default_lease_kills)] {
        if kills == 0 {
            continue;
        }
        out.push(failover_run(
            o, rt, server, pg, accounts, n, &settings, kills,
        )?);
    }
    println!("\n### Failover: {accounts} accounts over {n} workers, one SIGKILLed at a time\n");
    println!(
        "*failover*: from the SIGKILL until every account is owned by a survivor, `watching`, \
         lease unexpired (polled every 50 ms). *rebalance*: from starting a replacement \
         worker until it holds its share (⌊accounts / workers⌋) and all watch.\n"
    );
    println!(
        "| [fleet] | kills | accounts moved per kill | failover p50 s | failover max s | \
         rebalance p50 s | rebalance max s | start: all watching s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &out {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.2} |",
            r.settings.describe(),
            r.failover_ms.len(),
            r.moved.iter().sum::<i64>() as f64 / r.moved.len().max(1) as f64,
            pct(&r.failover_ms, 50.0),
            pct(&r.failover_ms, 100.0),
            opt_pct(&r.rebalance_ms, 50.0),
            opt_pct(&r.rebalance_ms, 100.0),
            r.start_secs,
        );
    }
    let j: Vec<Value> = out
        .iter()
        .map(|r| {
            json!({"settings": r.settings.describe(), "failover_ms": r.failover_ms,
                   "moved": r.moved, "rebalance_ms": r.rebalance_ms,
                   "start_secs": r.start_secs})
        })
        .collect();
    println!(
        "\nJSON {}",
        json!({"scenario": "failover", "accounts": accounts, "workers": n, "runs": j})
    );
    Ok(())
}

fn pct(values_ms: &[u64], p: f64) -> f64 {
    let mut v = values_ms.to_vec();
    v.sort_unstable();
    percentile(&v, p) as f64 / 1000.0
}

fn opt_pct(values_ms: &[Option<u64>], p: f64) -> String {
    let v: Vec<u64> = values_ms.iter().flatten().copied().collect();
    if v.is_empty() {
        return "-".into();
    }
    let missed = values_ms.len() - v.len();
    let s = format!("{:.2}", pct(&v, p));
    if missed > 0 {
        format!("{s} ({missed} not within 60 s)")
    } else {
        s
    }
}

struct FailoverRun {
    settings: FleetSettings,
    failover_ms: Vec<u64>,
    moved: Vec<i64>,
    rebalance_ms: Vec<Option<u64>>,
    start_secs: f64,
}

#[allow(clippy::too_many_arguments)]
fn failover_run(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    server: &TestServer,
    pg: &mut Pg,
    accounts: usize,
    n: usize,
    settings: &FleetSettings,
    kills: usize,
) -> Result<FailoverRun, BoxError> {
    let url = pg.create_db()?;
    let dir = workdir(
        server,
        &o.security,
        &format!("url = \"{url}\""),
        Some(settings),
        accounts,
    )?;
    let db = Db::connect(rt, &url)?;
    let total = accounts as i64;
    let mut spawned = 0usize;
    let mut spawn = || {
        spawned += 1;
        Worker::spawn(&o.inbound, dir.path(), &spawned.to_string())
    };
    let mut workers = (0..n).map(|_| spawn()).collect::<Result<Vec<_>, _>>()?;
    let start = wait_until(
        "every account watched",
        Duration::from_millis(50),
        Duration::from_secs(120),
        &mut workers,
        |_| db.count(WATCHING) >= total,
    )?;
    eprintln!("failover: all {accounts} watching after {start:?}");
    let share = (accounts / n) as i64;
    // Even the fleet out first (the first worker up may take more than its share).
    let balanced = |db: &Db<'_>, workers: &[Worker]| {
        let held = db.held_by_pid();
        workers
            .iter()
            .all(|w| held.get(&w.pid).copied().unwrap_or(0) >= share)
            && db.count(WATCHING) >= total
    };
    let _ = wait_until(
        "a balanced fleet",
        Duration::from_millis(100),
        Duration::from_secs(60),
        &mut workers,
        |ws| balanced(&db, ws),
    );
    let mut failover_ms = Vec::new();
    let mut moved = Vec::new();
    let mut rebalance_ms = Vec::new();
    for k in 0..kills {
        let victim = workers.remove(k % workers.len().max(1));
        let held = db.held_by_pid().get(&victim.pid).copied().unwrap_or(0);
        let dead = victim.pid;
        victim.kill()?;
        let survivors_watch = format!(
            "SELECT count(*) FROM fleet_leases l JOIN fleet_workers w ON w.id = l.owner \
             WHERE w.pid <> {dead} AND l.state = 'watching' AND l.expires_at > now()"
        );
        let took = wait_until(
            "survivors watching every account",
            Duration::from_millis(50),
            Duration::from_secs(180),
            &mut workers,
            |_| db.count(&survivors_watch) >= total,
        )?;
        eprintln!("failover: kill {k}: {held} accounts moved in {took:?}");
        failover_ms.push(took.as_millis() as u64);
        moved.push(held);
        workers.push(spawn()?);
        let rebalanced = wait_until(
            "a balanced fleet",
            Duration::from_millis(100),
            Duration::from_secs(60),
            &mut workers,
            |ws| balanced(&db, ws),
        );
        match rebalanced {
            Ok(d) => rebalance_ms.push(Some(d.as_millis() as u64)),
            Err(e) => {
                eprintln!("failover: {e}");
                rebalance_ms.push(None);
            }
        }
    }
    kill_all(workers)?;
    Ok(FailoverRun {
        settings: *settings,
        failover_ms,
        moved,
        rebalance_ms,
        start_secs: start.as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------
// Scenario 3: idle.

fn idle(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    server: &TestServer,
    pg: &mut Pg,
) -> Result<(), BoxError> {
    let accounts = o.accounts.unwrap_or(4000);
    let n = o
        .workers
        .as_ref()
        .and_then(|w| w.first().copied())
        .unwrap_or(4);
    let fleet = FleetSettings {
        lease: 30,
        renew: 10,
        scan: o.scan_secs,
        rebalance: 5,
        step: 100,
        connects_per_sec: o.connects_per_sec,
    };
    // The drain scenario leaves mail in the first INBOXes: count it out of the way by
    // starting from what is there (the workers store it first).
    let existing: usize = (0..accounts)
        .map(|i| {
            server
                .store()
                .status(&user(i), "INBOX")
                .map_or(0, |s| s.messages as usize)
        })
        .sum();
    let url = pg.create_db()?;
    let dir = workdir(
        server,
        &o.security,
        &format!("url = \"{url}\""),
        Some(&fleet),
        accounts,
    )?;
    let db = Db::connect(rt, &url)?;
    let server_rss_before = status_kb(std::process::id(), "VmRSS").unwrap_or(0);
    let start = Instant::now();
    let mut workers = (0..n)
        .map(|i| Worker::spawn(&o.inbound, dir.path(), &i.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let total = accounts as i64;
    let all = wait_until(
        "every account watching",
        Duration::from_millis(200),
        Duration::from_secs(300),
        &mut workers,
        |_| db.count(WATCHING) >= total,
    )?;
    let _ = wait_until(
        "the mail already there stored",
        Duration::from_millis(100),
        Duration::from_secs(120),
        &mut workers,
        |_| db.count("SELECT count(*) FROM messages") >= existing as i64,
    )?;
    let first_held = held_in_order(&db.held_by_pid(), &workers);
    eprintln!(
        "idle: {accounts} watching after {all:?} ({:?} since spawn), held {first_held}",
        start.elapsed()
    );
    let share = (accounts / n) as i64;
    let balance = wait_until(
        "a balanced fleet",
        Duration::from_millis(200),
        Duration::from_secs(180),
        &mut workers,
        |ws| {
            let held = db.held_by_pid();
            ws.iter()
                .all(|w| held.get(&w.pid).copied().unwrap_or(0) >= share)
                && db.count(WATCHING) >= total
        },
    );
    let balance = match balance {
        Ok(d) => format!("{:.1} s", d.as_secs_f64()),
        Err(e) => {
            eprintln!("idle: {e}");
            "not within 180 s".into()
        }
    };
    // Quiet period: renewals only.
    let settle = Duration::from_secs(15);
    let (pg0, w0, s0) = (
        pg.cpu_ms(),
        workers.iter().map(|w| w.usage().cpu_ms).sum::<u64>(),
        self_cpu_ms(),
    );
    std::thread::sleep(settle);
    let (pg1, w1, s1) = (
        pg.cpu_ms(),
        workers.iter().map(|w| w.usage().cpu_ms).sum::<u64>(),
        self_cpu_ms(),
    );
    let usage: Vec<Usage> = workers.iter().map(Worker::usage).collect();
    let held = db.held_by_pid();
    let workers_pids: Vec<u32> = workers.iter().map(|w| w.pid).collect();
    let server_rss = status_kb(std::process::id(), "VmRSS").unwrap_or(0);
    // Latency: one message each to random accounts.
    let mut rng = rand::thread_rng();
    let picks = rand::seq::index::sample(&mut rng, accounts, o.samples.min(accounts));
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let before: usize = workers.iter().map(|w| w.mail().len()).sum();
    for i in picks.iter() {
        let u = user(i);
        let at = Instant::now();
        server
            .store()
            .deliver(&u, "INBOX", message(&u, 1_000_000, 2048))?;
        sent.insert(u, at);
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = wait_until(
        "every notice",
        Duration::from_millis(100),
        Duration::from_secs(60),
        &mut workers,
        |ws| ws.iter().map(|w| w.mail().len()).sum::<usize>() >= before + sent.len(),
    );
    let mut lat: Vec<u64> = Vec::new();
    for w in &workers {
        for (at, account) in w.mail() {
            if let Some(t) = sent.get(&account)
                && at > *t
            {
                lat.push(at.duration_since(*t).as_micros() as u64);
            }
        }
    }
    lat.sort_unstable();
    let missing = sent.len().saturating_sub(lat.len());
    kill_all(workers)?;
    let q = |p: f64| percentile(&lat, p) as f64 / 1000.0;
    let rss_mb: Vec<f64> = usage.iter().map(|u| u.rss_kb as f64 / 1024.0).collect();
    let per_account_kb =
        usage.iter().map(|u| u.rss_kb).sum::<u64>() as f64 / accounts.max(1) as f64;
    println!(
        "\n### Idle: {accounts} accounts in IMAP IDLE over {n} workers (IMAP over {})\n",
        if o.security == "tls" {
            "TLS"
        } else {
            "plain TCP"
        }
    );
    println!(
        "[fleet]: {} (rebalancing faster than the default 60 s / 2, so that workers that \
         joined after the first claims get their share within the run)\n",
        fleet.describe()
    );
    println!("| figure | value |\n|---|---:|");
    println!(
        "| time from spawning the workers until all {accounts} watch | {:.1} s |",
        all.as_secs_f64()
    );
    println!("| accounts held per worker when all first watched | {first_held} |");
    println!("| then until each holds ⌊accounts / workers⌋ (rebalancing) | {balance} |");
    println!(
        "| accounts held per worker when measured | {} |",
        held_in_order(&held, &workers_pids)
    );
    println!(
        "| RSS per worker once all watch (MB) | {} |",
        rss_mb
            .iter()
            .map(|m| format!("{m:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| peak RSS per worker (MB) | {} |",
        usage
            .iter()
            .map(|u| format!("{:.1}", u.peak_rss_kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("| worker RSS per watched account | {per_account_kb:.1} KB |");
    println!(
        "| threads per worker | {} |",
        usage
            .iter()
            .map(|u| u.threads.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| test server (this process) RSS growth for the sessions | {:.1} MB |",
        server_rss.saturating_sub(server_rss_before) as f64 / 1024.0
    );
    let per_s = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / settle.as_secs_f64();
    println!(
        "| CPU while idle, ms per second: workers (all) / PostgreSQL / test server + bench | \
         {:.1} / {:.1} / {:.1} |",
        per_s(w0, w1),
        per_s(pg0, pg1),
        per_s(s0, s1)
    );
    println!(
        "| new-mail notice latency, deliver() to the `--json` line: p50 / p99 / max | \
         {:.1} / {:.1} / {:.1} ms ({} samples{}) |",
        q(50.0),
        q(99.0),
        q(100.0),
        lat.len(),
        if missing > 0 {
            format!(", {missing} missing")
        } else {
            String::new()
        }
    );
    println!(
        "\nJSON {}",
        json!({"scenario": "idle", "accounts": accounts, "workers": n,
               "all_watching_secs": all.as_secs_f64(), "rss_mb": rss_mb,
               "peak_rss_mb": usage.iter().map(|u| u.peak_rss_kb as f64 / 1024.0).collect::<Vec<_>>(),
               "per_account_kb": per_account_kb,
               "idle_cpu_ms_per_s": {"workers": per_s(w0, w1), "postgres": per_s(pg0, pg1)},
               "latency_ms": {"p50": q(50.0), "p99": q(99.0), "max": q(100.0),
                              "samples": lat.len(), "missing": missing}})
    );
    Ok(())
}

/// Leases held by each worker, in the workers' order.
fn held_in_order(held: &HashMap<u32, i64>, pids: &[impl Pid]) -> String {
    pids.iter()
        .map(|p| held.get(&p.pid()).copied().unwrap_or(0).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A worker, or its pid.
trait Pid {
    fn pid(&self) -> u32;
}

impl Pid for u32 {
    fn pid(&self) -> u32 {
        *self
    }
}

impl Pid for Worker {
    fn pid(&self) -> u32 {
        self.pid
    }
}
