//! A fleet of `inbound watch` processes sharing 50 IMAP accounts through a PostgreSQL store
//! (`[store] url` and a `[fleet]` table), against the bundled test server:
//! - the accounts are split between the workers and every message is stored once;
//! - a worker killed (SIGKILL) while mail flows loses its accounts to the others within
//!   lease + scan time, and nothing is lost or stored twice;
//! - a worker paused (SIGSTOP) past its lease cannot store or report anything once its
//!   accounts were taken over, even after it resumes with its IDLE sessions still open;
//! - a worker stopped with SIGTERM releases its leases, so another takes its accounts over
//!   long before the leases would expire;
//! - a worker cut off from the database long enough to fence itself, but not long enough for
//!   its leases to expire, watches its accounts again once the database is back, whether the
//!   database went away (connections refused) or hung (nothing answered).
//!
//! Skipped with a message without PostgreSQL, unless `INBOUND_REQUIRE_POSTGRES=1`. The tests
//! of this file run one at a time (each starts up to three workers with 50 IMAP sessions).
//! `FLEET_TEST_LOG=debug` passes `INBOUND_LOG` to the workers; a failing test (or any, with
//! `FLEET_TEST_DUMP=1`) prints the end of each worker's standard error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use inbound_test_server::mailstore::MailStore;
use inbound_test_server::server::ServerConfig;
use serde_json::Value;

use common::{Server, Workdir};

/// Accounts (and server users) `u00` to `u49`.
const ACCOUNTS: usize = 50;

/// How often a wait polls `status --json` or the database.
const POLL: Duration = Duration::from_millis(150);

/// The variable holding the secret of [`dead_webhook`]'s webhook.
const WEBHOOK_SECRET_ENV: &str = "FLEET_WHSEC";

/// A `[[webhook]]` table whose endpoint refuses connections: the workers record their
/// events (`message.received`, `account.failed`, ...) in the store's outbox, and retry
/// delivering them now and then.
fn dead_webhook() -> String {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    format!(
        "[[webhook]]\nname = \"app\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         secret_env = \"{WEBHOOK_SECRET_ENV}\"\nretry_delay = \"10s\"\ntimeout_secs = 2\n"
    )
}

/// One test at a time: each runs up to three workers with 50 IMAP sessions each, and the
/// lease timings (3 s) should not depend on how loaded the machine is.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

fn account_name(i: usize) -> String {
    format!("u{i:02}")
}

fn account_names() -> Vec<String> {
    (0..ACCOUNTS).map(account_name).collect()
}

/// The `[fleet]` table of a worker's configuration.
#[derive(Debug, Clone, Copy)]
struct Settings {
    lease_secs: u64,
    renew_secs: u64,
    scan_secs: u64,
    capacity: u64,
    rebalance_secs: u64,
    rebalance_step: u64,
    connects_per_sec: u64,
}

impl Settings {
    /// Short leases for tests: 3 s leases renewed every second, a claim scan every second,
    /// rebalancing every 2 s by up to 10 accounts.
    fn fast() -> Self {
        Self {
            lease_secs: 3,
            renew_secs: 1,
            scan_secs: 1,
            capacity: 1000,
            rebalance_secs: 2,
            rebalance_step: 10,
            connects_per_sec: 50,
        }
    }

    fn toml(&self) -> String {
        format!(
            "[fleet]\nlease_secs = {}\nrenew_secs = {}\nscan_secs = {}\ncapacity = {}\n\
             rebalance_secs = {}\nrebalance_step = {}\nconnects_per_sec = {}\n",
            self.lease_secs,
            self.renew_secs,
            self.scan_secs,
            self.capacity,
            self.rebalance_secs,
            self.rebalance_step,
            self.connects_per_sec,
        )
    }
}

/// The server's mail: delivers numbered messages and remembers how many each account got
/// (the test server gives a folder's messages UIDs 1, 2, ... in delivery order).
struct Mail {
    store: MailStore,
    delivered: Mutex<BTreeMap<String, u32>>,
}

impl Mail {
    /// Delivers message number n+1 to `account`'s INBOX (IDLE sessions are told).
    fn deliver(&self, account: &str) {
        let mut delivered = self.delivered.lock().unwrap();
        let n = delivered.entry(account.to_owned()).or_insert(0);
        *n += 1;
        let uid = self
            .store
            .deliver(account, "INBOX", raw(account, *n).into_bytes())
            .unwrap();
        assert_eq!(uid, *n, "UIDs follow delivery order");
    }

    /// One message to each account.
    fn deliver_round(&self) {
        for account in account_names() {
            self.deliver(&account);
        }
    }

    fn delivered(&self) -> BTreeMap<String, u32> {
        self.delivered.lock().unwrap().clone()
    }

    fn total(&self) -> u32 {
        self.delivered.lock().unwrap().values().sum()
    }

    /// Every delivered message as (account, subject).
    fn all(&self) -> BTreeSet<(String, String)> {
        self.delivered()
            .into_iter()
            .flat_map(|(account, n)| (1..=n).map(move |i| (account.clone(), subject(&account, i))))
            .collect()
    }
}

fn subject(account: &str, n: u32) -> String {
    format!("{account} #{n}")
}

fn raw(account: &str, n: u32) -> String {
    format!(
        "From: Fleet <fleet@example.test>\r\nTo: {account}@example.test\r\n\
         Subject: {subject}\r\nMessage-ID: <{account}-{n}@fleet.test>\r\n\
         Date: Mon, 7 Dec 2026 12:00:00 +0000\r\n\r\nMessage {n} for {account}.\r\n",
        subject = subject(account, n)
    )
}

/// A database, a test server with users `u00`..`u49`, and a directory for configurations.
/// Declare workers after it: they are killed (on drop) before the server and database go.
struct Fleet {
    db: pg_cluster::TestDb,
    _server: Server,
    dir: Workdir,
    mail: Mail,
    accounts: String,
    configs: AtomicU32,
}

impl Fleet {
    /// `None` (skip) without PostgreSQL; account i starts with `initial(i)` messages.
    fn start(initial: impl Fn(usize) -> u32) -> Option<Self> {
        Self::start_with(initial, "")
    }

    /// As [`start`](Self::start), with `extra` keys in every `[[account]]` table.
    fn start_with(initial: impl Fn(usize) -> u32, extra: &str) -> Option<Self> {
        let db = pg_cluster::database()?;
        let mut config = ServerConfig::default().seed_sample(false);
        for name in account_names() {
            config = config.user(&name, &format!("pw-{name}"));
        }
        let server = Server::start_with(config);
        let accounts = account_names()
            .iter()
            .map(|name| {
                server.account(
                    name,
                    "imap",
                    name,
                    &format!("password = \"pw-{name}\"\nsubscribe = true\n{extra}"),
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mail = Mail {
            store: server.server.store().clone(),
            delivered: Mutex::new(BTreeMap::new()),
        };
        for (i, name) in account_names().iter().enumerate() {
            for _ in 0..initial(i) {
                mail.deliver(name);
            }
        }
        Some(Self {
            db,
            _server: server,
            dir: Workdir::new(),
            mail,
            accounts,
            configs: AtomicU32::new(0),
        })
    }

    /// Writes a configuration for workers: this store, these fleet settings, every account.
    fn config(&self, settings: Settings) -> PathBuf {
        self.config_with_url(settings, &self.db.url())
    }

    /// As [`config`](Self::config), reaching the database at `url`.
    fn config_with_url(&self, settings: Settings, url: &str) -> PathBuf {
        self.config_full(settings, url, "")
    }

    /// As [`config_with_url`](Self::config_with_url), with `extra` tables (webhooks).
    fn config_full(&self, settings: Settings, url: &str, extra: &str) -> PathBuf {
        let n = self.configs.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("fleet-{n}.toml"));
        let text = format!(
            "[store]\nurl = \"{url}\"\n\n{}\n{}\n{extra}",
            settings.toml(),
            self.accounts
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `inbound --config CONFIG watch --json`.
    fn spawn(&self, config: &Path) -> Worker {
        let mut cmd = self.dir.cmd();
        cmd.arg("--config")
            .arg(config)
            .args(["watch", "--json"])
            .env(WEBHOOK_SECRET_ENV, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(filter) = std::env::var("FLEET_TEST_LOG") {
            cmd.env("INBOUND_LOG", filter);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(value);
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Worker {
            child,
            pid,
            lines,
            stderr,
            exited: None,
        }
    }

    /// `inbound status --json`.
    fn status(&self, config: &Path) -> Status {
        let out = self
            .dir
            .cmd()
            .arg("--config")
            .arg(config)
            .args(["status", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "status failed: {}",
            common::stderr(&out)
        );
        Status(common::json(&out))
    }

    /// The stored UIDs per account, from the database.
    fn stored(&self) -> BTreeMap<String, Vec<u32>> {
        let mut stored: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        // Until a worker has opened the store, there is no schema.
        if self.db.psql("SELECT to_regclass('messages') IS NOT NULL") != "t" {
            return stored;
        }
        let rows = self
            .db
            .psql("SELECT account, uid FROM messages ORDER BY account, uid");
        for row in rows.lines().filter(|l| !l.is_empty()) {
            let (account, uid) = row.split_once('|').unwrap();
            stored
                .entry(account.to_owned())
                .or_default()
                .push(uid.parse().unwrap());
        }
        stored
    }

    /// Waits until as many messages are stored as were delivered, then checks that every
    /// account has exactly UIDs 1..=delivered (no gap, nothing twice) and that no
    /// (account, folder, uidvalidity, uid) has two rows.
    fn assert_stored_exactly_once(&self, limit: Duration) {
        let total = self.mail.total() as usize;
        wait_until("every delivered message stored", limit, || {
            let n: usize = self.stored().values().map(Vec::len).sum();
            if n >= total {
                Ok(())
            } else {
                Err(format!("{n} of {total} stored"))
            }
        });
        let stored = self.stored();
        for (account, n) in self.mail.delivered() {
            let expected: Vec<u32> = (1..=n).collect();
            let got = stored.get(&account).cloned().unwrap_or_default();
            assert_eq!(got, expected, "stored UIDs of {account}");
        }
        let unknown: Vec<&String> = stored
            .keys()
            .filter(|a| !self.mail.delivered().contains_key(*a))
            .collect();
        assert!(unknown.is_empty(), "rows for unknown accounts: {unknown:?}");
        let twice = self.db.psql(
            "SELECT account, folder, uidvalidity, uid, count(*) FROM messages \
             GROUP BY 1, 2, 3, 4 HAVING count(*) > 1",
        );
        assert!(twice.is_empty(), "stored twice: {twice}");
    }
}

/// A TCP relay on loopback between workers and the database that the test can cut: while
/// down, it closes every relayed connection and refuses new ones (a database restarting);
/// while stalled, it holds every byte back (a database or network that hangs).
struct DbRelay {
    port: u16,
    up: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl DbRelay {
    /// Relays to the database of `url` (`postgresql://...@127.0.0.1:PORT/...`).
    fn start(url: &str) -> Self {
        let upstream: u16 = url
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .expect("a loopback database URL");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, stalled2, open2) = (up.clone(), stalled.clone(), open.clone());
        // Lives as long as the test binary, blocked in accept when idle.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    let stalled = stalled2.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read as _, Write as _};
                        let mut buf = vec![0; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            while stalled.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                };
                let mut open = open2.lock().unwrap();
                for s in [&client, &server] {
                    if let Ok(s) = s.try_clone() {
                        open.push(s);
                    }
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Self {
            port,
            up,
            stalled,
            open,
        }
    }

    /// `url` with the relay's port.
    fn url(&self, url: &str) -> String {
        let (head, rest) = url.split_once("127.0.0.1:").unwrap();
        let (_, tail) = rest.split_once('/').unwrap();
        format!("{head}127.0.0.1:{}/{tail}", self.port)
    }

    /// Closes every relayed connection and refuses new ones until [`up`](Self::up).
    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Holds every byte back (both ways) until called with `false`.
    fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

/// One `inbound watch --json` process; killed on drop if still running.
struct Worker {
    child: Child,
    pid: u32,
    /// Its standard output, one JSON value a line (a string when a line is not JSON).
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
    exited: Option<ExitStatus>,
}

impl Worker {
    /// Sends a signal by name (`STOP`, `CONT`, `TERM`) with kill(1).
    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {}", self.pid);
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.exited = Some(self.child.wait().unwrap());
    }

    /// Waits at most `limit` for it to exit.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exited = Some(status);
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "worker {} did not exit within {limit:?}; stderr:\n{}",
                self.pid,
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The new-message lines (those with an `id`, not a `state`) from line `from` on.
    fn mails_since(&self, from: usize) -> Vec<Value> {
        self.lines.lock().unwrap()[from..]
            .iter()
            .filter(|v| v.get("id").is_some() && v.get("state").is_none())
            .cloned()
            .collect()
    }

    fn mails(&self) -> Vec<Value> {
        self.mails_since(0)
    }

    /// How many state lines (`{"state": ..}`) named `state` it printed from line `from` on.
    fn states_since(&self, from: usize, state: &str) -> usize {
        self.lines.lock().unwrap()[from..]
            .iter()
            .filter(|v| v["state"] == state)
            .count()
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() || std::env::var_os("FLEET_TEST_DUMP").is_some() {
            let text = self.stderr_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "--- worker {} (last {} lines of stderr) ---\n{}",
                self.pid,
                tail.len(),
                tail.join("\n")
            );
        }
    }
}

/// How many times each message (account, subject) was reported as new, by all `workers`.
fn reports(workers: &[&Worker]) -> BTreeMap<(String, String), usize> {
    let mut seen = BTreeMap::new();
    for worker in workers {
        for m in worker.mails() {
            let key = (
                m["account"].as_str().unwrap_or_default().to_owned(),
                m["subject"].as_str().unwrap_or_default().to_owned(),
            );
            *seen.entry(key).or_insert(0) += 1;
        }
    }
    seen
}

/// No message was reported as new twice (by one worker or by two).
fn assert_reported_at_most_once(workers: &[&Worker]) {
    let twice: Vec<_> = reports(workers)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "reported more than once: {twice:?}");
}

/// Every delivered message was reported as new exactly once, by one of `workers`.
fn assert_reported_exactly_once(workers: &[&Worker], mail: &Mail, limit: Duration) {
    let all = mail.all();
    wait_until("every message reported", limit, || {
        let reported = reports(workers);
        let missing = all.iter().filter(|m| !reported.contains_key(*m)).count();
        if missing == 0 {
            Ok(())
        } else {
            Err(format!("{missing} of {} not reported yet", all.len()))
        }
    });
    assert_reported_at_most_once(workers);
    let extra: Vec<_> = reports(workers)
        .into_keys()
        .filter(|m| !all.contains(m))
        .collect();
    assert!(extra.is_empty(), "reported but never delivered: {extra:?}");
}

/// Polls `probe` every [`POLL`] until it succeeds (returning its value and how long it
/// took) or `limit` passed (panicking with the probe's last explanation).
fn wait_until<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(value) => return (value, start.elapsed()),
            Err(why) => assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}: {why}"
            ),
        }
        std::thread::sleep(POLL);
    }
}

/// The output of `inbound status --json`.
struct Status(Value);

impl Status {
    fn accounts(&self) -> Vec<&Value> {
        let names = account_names();
        let all = self.0["accounts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        all.iter()
            .filter(|a| names.iter().any(|n| a["account"] == n.as_str()))
            .collect()
    }

    /// The newest worker row of process `pid`.
    fn worker(&self, pid: u32) -> Option<&Value> {
        self.0["workers"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["pid"] == pid))
    }

    /// The process owning `account`'s lease row (by `owner`, looked up in `workers`).
    fn owner_pid(&self, account: &Value) -> Option<u64> {
        if account["owner"].is_null() {
            return None;
        }
        self.0["workers"]
            .as_array()?
            .iter()
            .find(|w| w["id"] == account["owner"])
            .and_then(|w| w["pid"].as_u64())
    }

    /// The accounts whose lease process `pid` holds.
    fn held_by(&self, pid: u32) -> BTreeSet<String> {
        self.accounts()
            .into_iter()
            .filter(|a| self.owner_pid(a) == Some(u64::from(pid)))
            .map(|a| a["account"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Epoch per account.
    fn epochs(&self) -> BTreeMap<String, i64> {
        self.accounts()
            .into_iter()
            .map(|a| {
                (
                    a["account"].as_str().unwrap_or_default().to_owned(),
                    a["epoch"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    }

    /// Ok when all 50 accounts are `watching`, each by one of `pids`, and each of `pids`
    /// holds between `min` and `max` of them.
    fn all_watched_by(&self, pids: &[u32], min: usize, max: usize) -> Result<(), String> {
        let accounts = self.accounts();
        if accounts.len() != ACCOUNTS {
            return Err(format!(
                "{} of {ACCOUNTS} accounts have a lease row; {}",
                accounts.len(),
                self.summary(pids)
            ));
        }
        let not_ok = accounts
            .iter()
            .filter(|a| {
                a["state"] != "watching"
                    || !self
                        .owner_pid(a)
                        .is_some_and(|p| pids.iter().any(|&q| u64::from(q) == p))
            })
            .count();
        if not_ok > 0 {
            return Err(format!(
                "{not_ok} accounts not watched by {pids:?}; {}",
                self.summary(pids)
            ));
        }
        for &pid in pids {
            let held = self.held_by(pid).len();
            if held < min || held > max {
                return Err(format!(
                    "worker {pid} holds {held}, not {min}..={max}; {}",
                    self.summary(pids)
                ));
            }
        }
        Ok(())
    }

    /// Accounts per (owner pid, state), for messages.
    fn summary(&self, pids: &[u32]) -> String {
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for a in self.accounts() {
            let owner = match self.owner_pid(a) {
                Some(pid) if pids.iter().any(|&p| u64::from(p) == pid) => format!("pid {pid}"),
                Some(pid) => format!("other pid {pid}"),
                None => "nobody".to_owned(),
            };
            let state = a["state"].as_str().unwrap_or("?").to_owned();
            *counts.entry((owner, state)).or_insert(0) += 1;
        }
        let errors: BTreeSet<&str> = self
            .accounts()
            .iter()
            .filter_map(|a| a["last_error"].as_str())
            .collect();
        format!("{counts:?}; errors {errors:?}")
    }
}

#[test]
fn three_workers_share_fifty_accounts() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|i| 1 + (i % 3) as u32) else {
        return;
    };
    let config = fleet.config(Settings::fast());
    let workers: Vec<Worker> = (0..3).map(|_| fleet.spawn(&config)).collect();
    let pids: Vec<u32> = workers.iter().map(|w| w.pid).collect();

    // Every account watched, each worker with a fair share (ceil(50 / 3) = 17) once the
    // first to scan has released what it took above it.
    let (_, took) = wait_until(
        "50 accounts split between 3 workers",
        Duration::from_secs(40),
        || fleet.status(&config).all_watched_by(&pids, 1, 17),
    );
    eprintln!("split between 3 workers after {took:?}");
    let status = fleet.status(&config);
    for &pid in &pids {
        let worker = status.worker(pid).expect("each worker is listed");
        assert_eq!(
            worker["accounts_held"].as_u64(),
            Some(status.held_by(pid).len() as u64),
            "{worker}"
        );
        assert!(worker["stopped_ms"].is_null(), "{worker}");
    }

    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    let refs: Vec<&Worker> = workers.iter().collect();
    assert_reported_exactly_once(&refs, &fleet.mail, Duration::from_secs(10));

    // New mail reaches whoever holds the account now, once.
    fleet.mail.deliver_round();
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    assert_reported_exactly_once(&refs, &fleet.mail, Duration::from_secs(10));
}

#[test]
fn sigkill_mid_batch_moves_accounts_without_loss_or_duplicates() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    let config = fleet.config(Settings::fast());
    let mut workers: Vec<Worker> = (0..3).map(|_| fleet.spawn(&config)).collect();
    let pids: Vec<u32> = workers.iter().map(|w| w.pid).collect();
    wait_until(
        "50 accounts split between 3 workers",
        Duration::from_secs(40),
        || fleet.status(&config).all_watched_by(&pids, 1, ACCOUNTS),
    );
    fleet.assert_stored_exactly_once(Duration::from_secs(20));

    // The victim holds the most accounts.
    let status = fleet.status(&config);
    let victim = (0..3)
        .max_by_key(|&i| status.held_by(pids[i]).len())
        .unwrap();
    let victim_accounts = status.held_by(pids[victim]);
    let survivors: Vec<u32> = (0..3).filter(|&i| i != victim).map(|i| pids[i]).collect();
    let epochs = status.epochs();
    let seen_before = workers[victim].line_count();

    // Mail flows to every account from another thread (a message every 5 ms, 4 rounds);
    // the victim is killed as soon as it reported one of the new messages: mid-batch.
    let killed_at = std::thread::scope(|scope| {
        let mail = &fleet.mail;
        let sender = scope.spawn(move || {
            for i in 0..(4 * ACCOUNTS) {
                mail.deliver(&account_name(i % ACCOUNTS));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        wait_until(
            "the victim reporting new mail",
            Duration::from_secs(20),
            || {
                if workers[victim].mails_since(seen_before).is_empty() {
                    Err("nothing yet".to_owned())
                } else {
                    Ok(())
                }
            },
        );
        workers[victim].kill();
        let killed_at = Instant::now();
        sender.join().unwrap();
        killed_at
    });
    // More mail after the kill.
    fleet.mail.deliver_round();

    // Lease 3 s + scan 1 s + connecting: within 15 s every account is watched by a survivor,
    // the victim's under a new epoch.
    wait_until(
        "the victim's accounts watched by the survivors",
        Duration::from_secs(15),
        || {
            let status = fleet.status(&config);
            status.all_watched_by(&survivors, 1, ACCOUNTS)?;
            let now = status.epochs();
            match victim_accounts.iter().find(|a| now[*a] <= epochs[*a]) {
                Some(a) => Err(format!("{a} kept epoch {}", now[a])),
                None => Ok(()),
            }
        },
    );
    eprintln!(
        "{} accounts taken over {:?} after SIGKILL",
        victim_accounts.len(),
        killed_at.elapsed()
    );

    fleet.assert_stored_exactly_once(Duration::from_secs(30));
    // The victim may have died between storing and printing; nobody reports twice.
    let refs: Vec<&Worker> = workers.iter().collect();
    assert_reported_at_most_once(&refs);
}

#[test]
fn sigkill_mid_move_loses_nothing_and_moves_each_message_once() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start_with(|_| 1, "after_receive = \"move\"\nmove_to = \"Archive\"\n")
    else {
        return;
    };
    let config = fleet.config(Settings::fast());
    let mut workers: Vec<Worker> = (0..3).map(|_| fleet.spawn(&config)).collect();
    let pids: Vec<u32> = workers.iter().map(|w| w.pid).collect();
    wait_until(
        "50 accounts split between 3 workers",
        Duration::from_secs(40),
        || fleet.status(&config).all_watched_by(&pids, 1, ACCOUNTS),
    );
    let status = fleet.status(&config);
    let victim = (0..3)
        .max_by_key(|&i| status.held_by(pids[i]).len())
        .unwrap();
    let survivors: Vec<u32> = (0..3).filter(|&i| i != victim).map(|i| pids[i]).collect();
    let seen_before = workers[victim].line_count();

    // Mail flows while the victim stores and moves it; it is killed as soon as it reported
    // one of the new messages: between storing, moving and marking moves done.
    std::thread::scope(|scope| {
        let mail = &fleet.mail;
        let sender = scope.spawn(move || {
            for i in 0..(4 * ACCOUNTS) {
                mail.deliver(&account_name(i % ACCOUNTS));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        wait_until(
            "the victim reporting new mail",
            Duration::from_secs(20),
            || {
                if workers[victim].mails_since(seen_before).is_empty() {
                    Err("nothing yet".to_owned())
                } else {
                    Ok(())
                }
            },
        );
        workers[victim].kill();
        sender.join().unwrap();
    });
    fleet.mail.deliver_round();
    wait_until(
        "the victim's accounts watched by the survivors",
        Duration::from_secs(15),
        || {
            fleet
                .status(&config)
                .all_watched_by(&survivors, 1, ACCOUNTS)
        },
    );
    fleet.assert_stored_exactly_once(Duration::from_secs(30));

    // On the server every message ends in Archive exactly once, none left in INBOX: the
    // moves the victim left pending were finished by the account's new owner, and none
    // was made twice.
    let store = fleet.mail.store.clone();
    wait_until(
        "every INBOX moved to Archive",
        Duration::from_secs(30),
        || {
            for (account, n) in fleet.mail.delivered() {
                let inbox = store.messages(&account, "INBOX").unwrap().len();
                let archived = store
                    .messages(&account, "Archive")
                    .map(|m| m.len())
                    .unwrap_or(0);
                if inbox != 0 || archived != n as usize {
                    return Err(format!(
                        "{account}: INBOX {inbox}, Archive {archived} of {n}"
                    ));
                }
            }
            Ok(())
        },
    );
    let refs: Vec<&Worker> = workers.iter().collect();
    assert_reported_at_most_once(&refs);
}

#[test]
fn sigstop_past_lease_cannot_commit_after_takeover() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    // No rebalancing during the test: B gets accounts only by taking over expired leases.
    // With a webhook, the workers record account.failed events when an account fails.
    let config = fleet.config_full(
        Settings {
            capacity: ACCOUNTS as u64,
            rebalance_secs: 600,
            ..Settings::fast()
        },
        &fleet.db.url(),
        &dead_webhook(),
    );
    let a = fleet.spawn(&config);
    wait_until("A watching every account", Duration::from_secs(30), || {
        fleet
            .status(&config)
            .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
    });
    let b = fleet.spawn(&config);
    wait_until("B joining", Duration::from_secs(15), || {
        match fleet.status(&config).worker(b.pid) {
            Some(_) => Ok(()),
            None => Err("not listed".to_owned()),
        }
    });
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    let epochs = fleet.status(&config).epochs();

    a.signal("STOP");
    let stopped = Instant::now();
    let (_, took) = wait_until(
        "B taking every account over",
        Duration::from_secs(15),
        || {
            let status = fleet.status(&config);
            status.all_watched_by(&[b.pid], ACCOUNTS, ACCOUNTS)?;
            let now = status.epochs();
            match now.iter().find(|(a, e)| **e <= epochs[*a]) {
                Some((a, e)) => Err(format!("{a} kept epoch {e}")),
                None => Ok(()),
            }
        },
    );
    eprintln!("B took over {took:?} after SIGSTOP");
    // Mail while A is stopped: A's IDLE sessions are told too, and it reads that on resuming.
    fleet.mail.deliver_round();
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    assert!(stopped.elapsed() > Duration::from_secs(3), "past A's lease");

    let a_seen = a.line_count();
    a.signal("CONT");
    // More mail right after A resumes: a worker that did not fence itself would race B for
    // it on the sessions it still has open.
    fleet.mail.deliver_round();
    let watch_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < watch_until {
        // Everything stays B's and watching: A writes nothing over B's leases.
        let status = fleet.status(&config);
        if let Err(why) = status.all_watched_by(&[b.pid], ACCOUNTS, ACCOUNTS) {
            panic!("after A resumed: {why}");
        }
        std::thread::sleep(POLL);
    }
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    assert_reported_exactly_once(&[&a, &b], &fleet.mail, Duration::from_secs(10));
    let after = a.mails_since(a_seen);
    assert!(
        after.is_empty(),
        "A reported mail after losing its leases: {after:?}"
    );
    // Losing a lease is not an account failing: A says it stopped watching those accounts,
    // not that they failed (a `failed` line or an `error:` is for a person to act on).
    assert_eq!(
        a.states_since(a_seen, "failed"),
        0,
        "A said accounts failed"
    );
    assert!(
        !a.stderr_text().contains("error:"),
        "A printed errors: {}",
        a.stderr_text()
    );
    // Nor an account.failed for a webhook (which
    // nobody would follow with account.recovered: B never saw the account fail).
    let failed = fleet
        .db
        .psql("SELECT account, data FROM outbox_events WHERE type = 'account.failed'");
    assert!(failed.is_empty(), "account.failed recorded: {failed}");
}

#[test]
fn sigterm_releases_leases_for_fast_takeover() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    // 30 s leases: a takeover within 10 s shows the leases were released, not expired.
    let slow = Settings {
        lease_secs: 30,
        rebalance_secs: 600,
        ..Settings::fast()
    };
    let a_config = fleet.config(Settings {
        capacity: 25,
        ..slow
    });
    let b_config = fleet.config(Settings {
        capacity: ACCOUNTS as u64,
        ..slow
    });
    let mut a = fleet.spawn(&a_config);
    wait_until("A watching 25 accounts", Duration::from_secs(30), || {
        let status = fleet.status(&a_config);
        let held = status.held_by(a.pid).len();
        let watching = status
            .accounts()
            .iter()
            .filter(|x| x["state"] == "watching")
            .count();
        if held == 25 && watching == 25 {
            Ok(())
        } else {
            Err(status.summary(&[a.pid]))
        }
    });
    let b = fleet.spawn(&b_config);
    wait_until("A and B watching 25 each", Duration::from_secs(30), || {
        fleet
            .status(&a_config)
            .all_watched_by(&[a.pid, b.pid], 25, 25)
    });
    let a_accounts = fleet.status(&a_config).held_by(a.pid);
    fleet.assert_stored_exactly_once(Duration::from_secs(20));

    // Mail in flight when A is told to stop: what it took it finishes.
    fleet.mail.deliver_round();
    a.signal("TERM");
    let termed = Instant::now();
    let exit = a.wait_exit(Duration::from_secs(10));
    assert!(
        exit.success(),
        "exit {exit:?}; stderr:\n{}",
        a.stderr_text()
    );
    eprintln!("A exited {:?} after SIGTERM", termed.elapsed());

    wait_until("B watching every account", Duration::from_secs(10), || {
        fleet
            .status(&b_config)
            .all_watched_by(&[b.pid], ACCOUNTS, ACCOUNTS)
    });
    eprintln!(
        "B watches A's {} accounts {:?} after SIGTERM (leases: 30 s)",
        a_accounts.len(),
        termed.elapsed()
    );
    let status = fleet.status(&b_config);
    let a_row = status.worker(a.pid).expect("A is still listed");
    assert!(!a_row["stopped_ms"].is_null(), "A left cleanly: {a_row}");
    assert_eq!(a_row["accounts_held"], 0, "{a_row}");

    fleet.mail.deliver_round();
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    assert_reported_exactly_once(&[&a, &b], &fleet.mail, Duration::from_secs(10));
}

#[test]
fn a_database_outage_shorter_than_the_lease_leaves_no_account_unwatched() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    // 12 s leases renewed every second: valid locally for 8 s after the last renewal.
    let settings = Settings {
        lease_secs: 12,
        capacity: ACCOUNTS as u64,
        rebalance_secs: 600,
        ..Settings::fast()
    };
    let relay = DbRelay::start(&fleet.db.url());
    let relayed = fleet.config_with_url(settings, &relay.url(&fleet.db.url()));
    let direct = fleet.config(settings);
    let a = fleet.spawn(&relayed);
    wait_until("A watching every account", Duration::from_secs(30), || {
        fleet
            .status(&direct)
            .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
    });
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    let epochs = fleet.status(&direct).epochs();

    // The database goes away until A has fenced itself (it stops every subscription after
    // 8 s without renewing), and comes back before the leases expire (12 s).
    let seen = a.line_count();
    relay.down();
    let down_at = Instant::now();
    wait_until("A fencing itself", Duration::from_secs(11), || {
        match a.states_since(seen, "unsubscribed") {
            n if n >= ACCOUNTS => Ok(()),
            n => Err(format!("{n} subscriptions stopped")),
        }
    });
    relay.up();
    eprintln!("A fenced itself {:?} into the outage", down_at.elapsed());

    // The leases were still A's: it renews them and must watch those accounts again (not
    // hold them without watching, where nobody else may claim them).
    fleet.mail.deliver_round();
    wait_until(
        "A watching every account again",
        Duration::from_secs(15),
        || {
            fleet
                .status(&direct)
                .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
        },
    );
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    assert_reported_exactly_once(&[&a], &fleet.mail, Duration::from_secs(10));
    let status = fleet.status(&direct);
    for account in status.accounts() {
        let name = account["account"].as_str().unwrap();
        assert!(account["epoch"].as_i64() >= Some(epochs[name]), "{account}");
    }
}

#[test]
fn a_database_stall_past_the_local_validity_delays_mail_only_until_it_ends() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    // 15 s leases renewed every second: valid locally for 10 s after the last renewal.
    // Accounts that failed wait 60 s before they are retried (the default).
    let settings = Settings {
        lease_secs: 15,
        capacity: ACCOUNTS as u64,
        rebalance_secs: 600,
        ..Settings::fast()
    };
    let relay = DbRelay::start(&fleet.db.url());
    let relayed = fleet.config_with_url(settings, &relay.url(&fleet.db.url()));
    let direct = fleet.config(settings);
    let a = fleet.spawn(&relayed);
    wait_until("A watching every account", Duration::from_secs(30), || {
        fleet
            .status(&direct)
            .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
    });
    fleet.assert_stored_exactly_once(Duration::from_secs(20));

    // The database hangs. Once A's leases are past their local validity (10 s after the
    // last renewal, at most 10 s from now), new mail arrives: A may not store it, and must
    // not give up on the accounts either, as they are still its own (15 s).
    let seen = a.line_count();
    relay.stall(true);
    let stalled_at = Instant::now();
    std::thread::sleep(Duration::from_millis(10_300));
    fleet.mail.deliver_round();
    // A reads the mail from the server meanwhile, and cannot store it.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        a.mails_since(seen).is_empty(),
        "A stored while the database hung"
    );
    relay.stall(false);
    let resumed_at = Instant::now();
    eprintln!("the database hung for {:?}", stalled_at.elapsed());

    fleet.assert_stored_exactly_once(Duration::from_secs(15));
    eprintln!(
        "the mail was stored {:?} after the database came back",
        resumed_at.elapsed()
    );
    assert_reported_exactly_once(&[&a], &fleet.mail, Duration::from_secs(10));
    wait_until(
        "A watching every account again",
        Duration::from_secs(10),
        || {
            fleet
                .status(&direct)
                .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
        },
    );
}

#[test]
fn a_pause_past_the_local_validity_but_within_the_lease_delays_mail_only_until_it_ends() {
    let _serial = one_at_a_time();
    let Some(fleet) = Fleet::start(|_| 1) else {
        return;
    };
    // 15 s leases renewed every second: valid locally for 10 s after the last renewal.
    let settings = Settings {
        lease_secs: 15,
        capacity: ACCOUNTS as u64,
        rebalance_secs: 600,
        ..Settings::fast()
    };
    let config = fleet.config(settings);
    let a = fleet.spawn(&config);
    wait_until("A watching every account", Duration::from_secs(30), || {
        fleet
            .status(&config)
            .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
    });
    fleet.assert_stored_exactly_once(Duration::from_secs(20));
    let epochs = fleet.status(&config).epochs();

    // Paused for 12 s: past the local validity, within the lease. Mail arrives meanwhile;
    // A's IDLE sessions read it on resuming, before A has renewed.
    a.signal("STOP");
    std::thread::sleep(Duration::from_secs(11));
    fleet.mail.deliver_round();
    std::thread::sleep(Duration::from_secs(1));
    a.signal("CONT");
    let resumed_at = Instant::now();
    fleet.assert_stored_exactly_once(Duration::from_secs(15));
    eprintln!(
        "the mail was stored {:?} after A resumed",
        resumed_at.elapsed()
    );
    assert_reported_exactly_once(&[&a], &fleet.mail, Duration::from_secs(10));
    wait_until("A watching every account", Duration::from_secs(10), || {
        fleet
            .status(&config)
            .all_watched_by(&[a.pid], ACCOUNTS, ACCOUNTS)
    });
    // The leases were never lost: same epochs.
    assert_eq!(fleet.status(&config).epochs(), epochs);
}
