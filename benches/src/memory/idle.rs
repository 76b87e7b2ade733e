//! Many IMAP IDLE sessions: the bench process's memory, and how long each session takes to
//! see a delivery.
//!
//! The child (`--idle-child`) starts a server process, opens `sessions` connections to it
//! with the inbound-net client (at most `concurrency` being set up at a time), logs each in
//! as `demo`, selects INBOX and starts IDLE; every session then waits in
//! [`IdleHandle::next_event`](inbound_net::imap::IdleHandle::next_event). Once all are
//! idling the child reads its resident size, then asks the server for `rounds` deliveries
//! one after the other. For each, every session must report `EXISTS` with the new count;
//! its latency is the time from just before the server delivered (its wall clock) to the
//! moment the session's `next_event` returned (this process's wall clock, the same clock).
//! A round counts only when every session reported; otherwise the run fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_net::connect::Dialer;
use inbound_net::imap::{IdleEvent, ImapClient, ImapConfig};
use inbound_net::{Credentials, Security, TlsConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};

use super::server::{Delivery, FOLDER, PASSWORD, ServerProcess, USER, now_ns};
use super::{BoxError, percentile, proc_status};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleOptions {
    /// Concurrent IDLE sessions.
    pub sessions: usize,
    /// Deliveries to measure.
    pub rounds: usize,
    /// Sessions being set up at a time.
    pub concurrency: usize,
    /// Implicit TLS (IMAPS) instead of plaintext.
    pub tls: bool,
    /// How long every session gets to see a delivery before the run fails.
    pub round_timeout: Duration,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleResult {
    /// Sessions idling.
    pub sessions: usize,
    /// Whether they used TLS.
    pub tls: bool,
    /// Deliveries measured.
    pub rounds: usize,
    /// Seconds to set up every session.
    pub setup_secs: f64,
    /// Resident size before the first connection, bytes.
    pub baseline_rss: u64,
    /// Resident size with every session idling, bytes.
    pub idle_rss: u64,
    /// Resident size after the deliveries, bytes.
    pub end_rss: u64,
    /// Peak resident size of the process, bytes.
    pub peak_rss: u64,
    /// Notifications counted (sessions x rounds).
    pub notifications: usize,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest notification, milliseconds.
    pub max_ms: f64,
    /// Per round: the time until the last session saw the delivery, milliseconds.
    pub round_max_ms: Vec<f64>,
    /// CPU time this (client) process used during the deliveries, per round, milliseconds.
    pub client_cpu_ms_per_round: f64,
    /// CPU time the server process used during the deliveries, per round, milliseconds.
    pub server_cpu_ms_per_round: f64,
}

impl IdleResult {
    /// Memory per idling session above the baseline, bytes.
    pub fn per_session(&self) -> u64 {
        self.idle_rss.saturating_sub(self.baseline_rss) / self.sessions.max(1) as u64
    }
}

/// A session's report: `EXISTS n` seen at a wall-clock time.
#[derive(Debug)]
enum Note {
    Ready,
    SetupFailed(String),
    Exists {
        session: usize,
        count: u32,
        at_ns: u64,
    },
    Failed {
        session: usize,
        error: String,
    },
}

/// Where the sessions connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host name (the TLS server name too).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS or plaintext.
    pub security: Security,
    /// Certificates to trust.
    pub tls: TlsConfig,
}

/// What makes deliveries: the server process, or a server in this process (tests).
pub trait Deliverer {
    /// Delivers one small message to `demo`'s INBOX now.
    fn deliver(&mut self) -> impl Future<Output = Result<Delivery, BoxError>>;
    /// The CPU time the server has used so far (ms), if it runs in another process.
    fn server_cpu_ms(&self) -> Option<u64>;
    /// Called before the first delivery (`true`) and after the last (`false`): a
    /// profiler's window.
    fn profile(&mut self, start: bool) -> impl Future<Output = Result<(), BoxError>> {
        let _ = start;
        async { Ok(()) }
    }
}

impl Deliverer for ServerProcess {
    fn deliver(&mut self) -> impl Future<Output = Result<Delivery, BoxError>> {
        ServerProcess::deliver(self)
    }

    fn server_cpu_ms(&self) -> Option<u64> {
        proc_status::cpu_ms(&self.pid()?.to_string()).ok()
    }

    fn profile(&mut self, start: bool) -> impl Future<Output = Result<(), BoxError>> {
        ServerProcess::profile(self, start)
    }
}

/// Runs the sessions against a fresh server process.
///
/// # Errors
/// When the server cannot start, a session cannot be set up, or a delivery is not seen by
/// every session within the round timeout.
pub async fn run_child(options: IdleOptions) -> Result<IdleResult, BoxError> {
    let limit = super::raise_nofile_limit(options.sessions as u64 * 2 + 1024)?;
    if limit < options.sessions as u64 + 64 {
        return Err(format!(
            "the open-file limit is {limit}: too low for {} sessions",
            options.sessions
        )
        .into());
    }
    let mut server = ServerProcess::spawn(None).await?;
    let target = if options.tls {
        Target {
            host: "localhost".to_owned(),
            port: server.imaps.port(),
            security: Security::Tls,
            tls: TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(&server.ca),
        }
    } else {
        Target {
            host: "127.0.0.1".to_owned(),
            port: server.imap.port(),
            security: Security::Plaintext,
            tls: TlsConfig::new(),
        }
    };
    let result = measure(options, &target, &mut server).await;
    server.stop().await;
    result
}

/// Opens the sessions to `target`, waits until all idle, then measures `options.rounds`
/// deliveries made by `deliverer`.
///
/// # Errors
/// When a session cannot be set up or fails, or a delivery is not seen by every session
/// within a minute.
pub async fn measure(
    options: IdleOptions,
    target: &Target,
    deliverer: &mut impl Deliverer,
) -> Result<IdleResult, BoxError> {
    let config = Arc::new(
        ImapConfig::new(target.host.clone(), target.security)
            .with_port(target.port)
            .with_timeout(Duration::from_secs(60)),
    );
    let connector = Arc::new(
        Dialer::new(&target.tls)?
            .with_connect_timeout(Duration::from_secs(60))
            .with_handshake_timeout(Duration::from_secs(60)),
    );
    let baseline = proc_status::read()?;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(options.sessions);
    for session in 0..options.sessions {
        let (config, connector, gate, tx) = (
            Arc::clone(&config),
            Arc::clone(&connector),
            Arc::clone(&gate),
            tx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            one_session(session, &config, &connector, &gate, &tx).await;
        }));
    }
    drop(tx);
    let mut ready = 0;
    while ready < options.sessions {
        match rx.recv().await.ok_or("sessions ended")? {
            Note::Ready => ready += 1,
            Note::SetupFailed(e) => return Err(format!("session setup failed: {e}").into()),
            other => return Err(format!("unexpected before delivery: {other:?}").into()),
        }
    }
    let setup_secs = started.elapsed().as_secs_f64();
    // Let the last IDLE go-aheads and buffers settle before reading the resident size.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = proc_status::read()?;

    deliverer.profile(true).await?;
    let cpu_before = (proc_status::cpu_ms("self")?, deliverer.server_cpu_ms());
    let mut latencies_us = Vec::with_capacity(options.sessions * options.rounds);
    let mut round_max_ms = Vec::with_capacity(options.rounds);
    for round in 1..=options.rounds {
        let delivery = deliverer.deliver().await?;
        let mut seen = vec![false; options.sessions];
        let mut count = 0;
        let mut round_max = 0;
        let mut notes = Vec::with_capacity(1024);
        // One deadline for the whole round (not a timer per note), and the notes taken in
        // batches: this process shares the cores with the server being measured.
        let collect = async {
            while count < options.sessions {
                notes.clear();
                if rx.recv_many(&mut notes, 1024).await == 0 {
                    return Err::<(), BoxError>("sessions ended".into());
                }
                for note in notes.drain(..) {
                    match note {
                        Note::Exists {
                            session,
                            count: n,
                            at_ns,
                        } if n as usize == round => {
                            if std::mem::replace(&mut seen[session], true) {
                                return Err(format!(
                                    "session {session} reported round {round} twice"
                                )
                                .into());
                            }
                            count += 1;
                            let us = at_ns.saturating_sub(delivery.at_ns) / 1000;
                            round_max = round_max.max(us);
                            latencies_us.push(us);
                        }
                        Note::Exists {
                            session, count: n, ..
                        } => {
                            return Err(format!(
                                "session {session} reported EXISTS {n} in round {round}"
                            )
                            .into());
                        }
                        Note::Failed { session, error } => {
                            return Err(format!("session {session} failed: {error}").into());
                        }
                        other => return Err(format!("unexpected note {other:?}").into()),
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(options.round_timeout, collect).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(format!(
                    "round {round}: only {count} of {} sessions saw the delivery within {:?}",
                    options.sessions, options.round_timeout
                )
                .into());
            }
        }
        round_max_ms.push(round_max as f64 / 1000.0);
        // A pause between deliveries, so that rounds do not overlap.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let cpu_after = (proc_status::cpu_ms("self")?, deliverer.server_cpu_ms());
    deliverer.profile(false).await?;
    let rounds = options.rounds.max(1) as f64;
    let end = proc_status::read()?;
    latencies_us.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    let result = IdleResult {
        sessions: options.sessions,
        tls: options.tls,
        rounds: options.rounds,
        setup_secs,
        baseline_rss: baseline.rss,
        idle_rss: idle.rss,
        end_rss: end.rss,
        peak_rss: end.hwm,
        notifications: latencies_us.len(),
        p50_ms: ms(percentile(&latencies_us, 50.0)),
        p99_ms: ms(percentile(&latencies_us, 99.0)),
        max_ms: ms(latencies_us.last().copied().unwrap_or(0)),
        round_max_ms,
        client_cpu_ms_per_round: cpu_after.0.saturating_sub(cpu_before.0) as f64 / rounds,
        server_cpu_ms_per_round: match (cpu_before.1, cpu_after.1) {
            (Some(before), Some(after)) => after.saturating_sub(before) as f64 / rounds,
            _ => 0.0,
        },
    };
    for task in &tasks {
        task.abort();
    }
    Ok(result)
}

/// Sets up one session (within the concurrency gate), then reports every `EXISTS`.
async fn one_session(
    session: usize,
    config: &ImapConfig,
    connector: &Dialer,
    gate: &Semaphore,
    tx: &mpsc::UnboundedSender<Note>,
) {
    let setup = async {
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        let mut client = ImapClient::connect_with(connector, config)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .map_err(|e| format!("login: {e}"))?;
        let status = client
            .select(FOLDER)
            .await
            .map_err(|e| format!("select: {e}"))?;
        if status.exists != 0 {
            return Err(format!(
                "INBOX holds {} messages, expected none",
                status.exists
            ));
        }
        Ok::<_, String>(client)
    };
    let mut client = match setup.await {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Note::SetupFailed(format!("session {session}: {e}")));
            return;
        }
    };
    let mut idle = match client.idle().await {
        Ok(h) => h,
        Err(e) => {
            let _ = tx.send(Note::SetupFailed(format!("session {session}: idle: {e}")));
            return;
        }
    };
    let _ = tx.send(Note::Ready);
    loop {
        match idle.next_event(Duration::from_secs(3600)).await {
            Ok(IdleEvent::Exists(count)) => {
                let at_ns = now_ns();
                let _ = tx.send(Note::Exists {
                    session,
                    count,
                    at_ns,
                });
            }
            Ok(IdleEvent::Bye(text)) => {
                let _ = tx.send(Note::Failed {
                    session,
                    error: format!("BYE {text}"),
                });
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Note::Failed {
                    session,
                    error: e.to_string(),
                });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::memory::server::small_message;
    use inbound_test_server::mailstore::MailStore;
    use inbound_test_server::server::{ServerConfig, TestServer};

    /// Deliveries straight into the store of a server in this process; with `skip`, a
    /// delivery is announced but not made.
    struct InProcess {
        store: MailStore,
        delivered: u64,
        skip: bool,
    }

    impl Deliverer for InProcess {
        async fn deliver(&mut self) -> Result<Delivery, BoxError> {
            let at_ns = now_ns();
            if self.skip {
                return Ok(Delivery { uid: 0, at_ns });
            }
            self.delivered += 1;
            let uid = self
                .store
                .deliver(USER, FOLDER, small_message(self.delivered))?;
            Ok(Delivery { uid, at_ns })
        }

        fn server_cpu_ms(&self) -> Option<u64> {
            None
        }
    }

    async fn server() -> (TestServer, MailStore) {
        let config = ServerConfig::default()
            .seed_sample(false)
            .user(USER, PASSWORD);
        let store = config.store.clone();
        (TestServer::start(config).await.unwrap(), store)
    }

    fn options(sessions: usize, rounds: usize, tls: bool) -> IdleOptions {
        IdleOptions {
            sessions,
            rounds,
            concurrency: 8,
            tls,
            round_timeout: Duration::from_secs(20),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_session_sees_every_delivery() {
        let (server, store) = server().await;
        let target = Target {
            host: "127.0.0.1".to_owned(),
            port: server.imap_addr().port(),
            security: Security::Plaintext,
            tls: TlsConfig::new(),
        };
        let mut deliverer = InProcess {
            store: store.clone(),
            delivered: 0,
            skip: false,
        };
        let r = measure(options(30, 3, false), &target, &mut deliverer)
            .await
            .unwrap();
        assert_eq!(r.notifications, 90);
        assert_eq!(r.round_max_ms.len(), 3);
        assert!(r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
        assert!(r.peak_rss >= r.idle_rss && r.idle_rss > 0);
        assert_eq!(store.status(USER, FOLDER).unwrap().messages, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_sessions_are_measured() {
        let (server, store) = server().await;
        let target = Target {
            host: "localhost".to_owned(),
            port: server.imaps_addr().port(),
            security: Security::Tls,
            tls: TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(server.ca_file()),
        };
        let mut deliverer = InProcess {
            store,
            delivered: 0,
            skip: false,
        };
        let r = measure(options(5, 1, true), &target, &mut deliverer)
            .await
            .unwrap();
        assert_eq!(r.notifications, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_nobody_sees_fails_the_run() {
        let (server, store) = server().await;
        let target = Target {
            host: "127.0.0.1".to_owned(),
            port: server.imap_addr().port(),
            security: Security::Plaintext,
            tls: TlsConfig::new(),
        };
        let mut deliverer = InProcess {
            store,
            delivered: 0,
            skip: true,
        };
        let mut opts = options(3, 1, false);
        opts.round_timeout = Duration::from_millis(500);
        let err = measure(opts, &target, &mut deliverer).await.unwrap_err();
        assert!(err.to_string().contains("only 0 of 3 sessions"), "{err}");
    }
}
