//! The fleet worker's loop on an in-memory lease table and the in-memory mail server: it
//! claims within its fair share and each host's budget, stops accounts whose lease was
//! taken over, fences itself when it cannot renew, rebalances, and releases on shutdown.
//! (The PostgreSQL protocol itself is tested in the store; whole processes in the CLI.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DeliverMany as _, MemoryServer, account, new_server, new_store, retriever};
use inbound_retrieve::fleet::{Fleet, FleetConfig, FleetSummary};
use inbound_store::lease::{
    Census, FleetStatus, Lease, LeaseFuture, LeaseStore, LeaseUpdate, WorkerId, WorkerInfo,
};

#[derive(Debug, Clone)]
struct Row {
    owner: Option<WorkerId>,
    epoch: i64,
    expires: Option<Instant>,
    state: String,
}

/// Leases in memory, with switches to make renewals fail and to fake other live workers.
#[derive(Default)]
struct MemLeases {
    rows: Mutex<BTreeMap<String, Row>>,
    fail_renew: AtomicBool,
    hang_renew: AtomicBool,
    other_workers: AtomicU64,
    left: AtomicBool,
}

impl MemLeases {
    fn held_by(&self, worker: WorkerId) -> Vec<String> {
        let now = Instant::now();
        self.rows
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| r.owner == Some(worker) && r.expires.is_some_and(|e| e > now))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Another worker takes `account` over (as after this one's lease ran out).
    fn steal(&self, account: &str) {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.get_mut(account).unwrap();
        row.owner = Some(WorkerId(999));
        row.epoch += 1;
        row.expires = Some(Instant::now() + Duration::from_secs(60));
    }

    fn states(&self) -> Vec<String> {
        self.rows
            .lock()
            .unwrap()
            .values()
            .map(|r| r.state.clone())
            .collect()
    }
}

fn ready<T: Send + 'static>(v: T) -> LeaseFuture<'static, T> {
    Box::pin(async move { Ok(v) })
}

impl LeaseStore for MemLeases {
    fn join<'a>(&'a self, _info: &'a WorkerInfo) -> LeaseFuture<'a, WorkerId> {
        ready(WorkerId(1))
    }

    fn ensure_accounts<'a>(&'a self, accounts: &'a [String]) -> LeaseFuture<'a, u64> {
        let mut rows = self.rows.lock().unwrap();
        let mut added = 0;
        for a in accounts {
            rows.entry(a.clone()).or_insert_with(|| {
                added += 1;
                Row {
                    owner: None,
                    epoch: 0,
                    expires: None,
                    state: "free".into(),
                }
            });
        }
        ready(added)
    }

    fn claim<'a>(
        &'a self,
        worker: WorkerId,
        accounts: &'a [String],
        max: usize,
        lease: Duration,
    ) -> LeaseFuture<'a, Vec<Lease>> {
        let now = Instant::now();
        let mut rows = self.rows.lock().unwrap();
        let mut out = Vec::new();
        for a in accounts {
            if out.len() >= max {
                break;
            }
            let row = rows.get_mut(a).unwrap();
            if row.owner.is_none() || row.expires.is_none_or(|e| e <= now) {
                row.owner = Some(worker);
                row.epoch += 1;
                row.expires = Some(now + lease);
                row.state = "claimed".into();
                out.push(Lease {
                    account: a.clone(),
                    epoch: row.epoch,
                    wait: Duration::ZERO,
                });
            }
        }
        ready(out)
    }

    fn renew(&self, worker: WorkerId, lease: Duration) -> LeaseFuture<'_, Vec<Lease>> {
        if self.hang_renew.load(Ordering::SeqCst) {
            return Box::pin(futures::future::pending());
        }
        if self.fail_renew.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(inbound_store::Error::PgPool("database unreachable".into()))
            });
        }
        let now = Instant::now();
        let mut out = Vec::new();
        for (a, row) in self.rows.lock().unwrap().iter_mut() {
            if row.owner == Some(worker) && row.expires.is_some_and(|e| e > now) {
                row.expires = Some(now + lease);
                out.push(Lease {
                    account: a.clone(),
                    epoch: row.epoch,
                    wait: Duration::ZERO,
                });
            }
        }
        ready(out)
    }

    fn release<'a>(&'a self, worker: WorkerId, accounts: &'a [String]) -> LeaseFuture<'a, u64> {
        let mut n = 0;
        for (a, row) in self.rows.lock().unwrap().iter_mut() {
            if row.owner == Some(worker) && accounts.contains(a) {
                row.owner = None;
                row.expires = None;
                row.state = "free".into();
                n += 1;
            }
        }
        ready(n)
    }

    fn leave(&self, worker: WorkerId) -> LeaseFuture<'_, u64> {
        self.left.store(true, Ordering::SeqCst);
        let held = self.held_by(worker);
        let n = held.len() as u64;
        for row in self.rows.lock().unwrap().values_mut() {
            if row.owner == Some(worker) {
                row.owner = None;
                row.expires = None;
                row.state = "free".into();
            }
        }
        ready(n)
    }

    fn update<'a>(
        &'a self,
        worker: WorkerId,
        account: &'a str,
        epoch: i64,
        update: &'a LeaseUpdate,
    ) -> LeaseFuture<'a, bool> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.get_mut(account).unwrap();
        let ok = row.owner == Some(worker) && row.epoch == epoch;
        if ok {
            row.state = update.state.name().into();
        }
        ready(ok)
    }

    fn census(&self, _lease: Duration) -> LeaseFuture<'_, Census> {
        let accounts = self.rows.lock().unwrap().len() as u64;
        ready(Census {
            live_workers: 1 + self.other_workers.load(Ordering::SeqCst),
            accounts,
        })
    }

    fn status(&self) -> LeaseFuture<'_, FleetStatus> {
        ready(FleetStatus::default())
    }

    fn wait_for_change(&self, timeout: Duration) -> LeaseFuture<'_, bool> {
        Box::pin(async move {
            tokio::time::sleep(timeout).await;
            Ok(false)
        })
    }
}

fn quick() -> FleetConfig {
    FleetConfig {
        lease: Duration::from_millis(900),
        renew: Duration::from_millis(150),
        scan: Duration::from_millis(100),
        rebalance: Duration::from_millis(200),
        rebalance_step: 1,
        connects_per_sec: 1000,
        failed_retry: Duration::from_secs(60),
        ..FleetConfig::default()
    }
}

/// Open sessions on the server (accepted minus logged out).
fn open_sessions(server: &MemoryServer) -> u32 {
    let c = server.counters();
    c.connections - c.logouts
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Running {
    leases: Arc<MemLeases>,
    server: MemoryServer,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<FleetSummary>,
}

fn start(hosts: &[&str], config: FleetConfig) -> Running {
    let server = new_server();
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    let accounts = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            account(&format!("a{i}"), |c| {
                c.host = Some((*host).to_owned());
                c.subscribe = Some(true);
            })
        })
        .collect();
    let leases = Arc::new(MemLeases::default());
    let fleet = Fleet::new(
        retriever(&store, &server),
        leases.clone(),
        accounts,
        config,
        |_| {},
        Arc::new(|_, _| {}),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        fleet
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    Running {
        leases,
        server,
        stop,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_claims_within_each_hosts_budget_and_releases_all_on_shutdown() {
    let config = FleetConfig {
        per_host: 2,
        ..quick()
    };
    let r = start(
        &["a.test", "a.test", "a.test", "b.test", "b.test", "b.test"],
        config,
    );
    let me = WorkerId(1);
    wait_for("two accounts per host watched", || {
        r.leases.held_by(me).len() == 4 && open_sessions(&r.server) == 4
    })
    .await;
    // It stays within the budget on later scans.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let held = r.leases.held_by(me);
    assert_eq!(held.len(), 4, "{held:?}");
    assert_eq!(
        held.iter()
            .filter(|a| ["a0", "a1", "a2"].contains(&a.as_str()))
            .count(),
        2
    );
    assert!(
        r.leases
            .states()
            .iter()
            .filter(|s| *s == "watching")
            .count()
            == 4
    );

    r.stop.send(()).unwrap();
    let summary = r.task.await.unwrap();
    assert_eq!(summary.claimed, 4);
    assert!(r.leases.left.load(Ordering::SeqCst));
    assert!(r.leases.held_by(me).is_empty());
    assert_eq!(open_sessions(&r.server), 0, "every session logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_taken_over_is_stopped_at_the_next_renewal() {
    let r = start(&["h", "h", "h"], quick());
    wait_for("three watched", || open_sessions(&r.server) == 3).await;
    r.leases.steal("a1");
    wait_for("the stolen account stopped", || {
        open_sessions(&r.server) == 2
    })
    .await;
    r.stop.send(()).unwrap();
    let summary = r.task.await.unwrap();
    assert_eq!(summary.lost, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_renew_stops_every_account_then_resumes_when_it_can() {
    let r = start(&["h", "h"], quick());
    wait_for("two watched", || open_sessions(&r.server) == 2).await;
    r.leases.fail_renew.store(true, Ordering::SeqCst);
    let failed_at = Instant::now();
    wait_for("every account stopped", || open_sessions(&r.server) == 0).await;
    // Two thirds of 900 ms after the last good renewal, plus slack for a loaded machine;
    // without self-fencing the sessions would never stop (the lease table never expires
    // them here).
    assert!(failed_at.elapsed() < Duration::from_secs(5));
    // The database comes back: the worker takes its accounts up again.
    r.leases.fail_renew.store(false, Ordering::SeqCst);
    wait_for("both watched again", || open_sessions(&r.server) == 2).await;
    r.stop.send(()).unwrap();
    let summary = r.task.await.unwrap();
    assert!(summary.self_fenced >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_above_its_fair_share_releases_accounts_step_by_step() {
    let r = start(&["h", "h", "h", "h", "h", "h"], quick());
    let me = WorkerId(1);
    wait_for("all six held", || r.leases.held_by(me).len() == 6).await;
    // A second worker joins: the fair share drops to three.
    r.leases.other_workers.store(1, Ordering::SeqCst);
    wait_for("down to the fair share", || r.leases.held_by(me).len() == 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        r.leases.held_by(me).len(),
        3,
        "it does not go below its share"
    );
    r.stop.send(()).unwrap();
    let summary = r.task.await.unwrap();
    assert_eq!(summary.rebalanced, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_hangs_instead_of_failing_still_fences_the_worker() {
    let r = start(&["h", "h"], quick());
    wait_for("two watched", || open_sessions(&r.server) == 2).await;
    r.leases.hang_renew.store(true, Ordering::SeqCst);
    wait_for("every account stopped", || open_sessions(&r.server) == 0).await;
    r.leases.hang_renew.store(false, Ordering::SeqCst);
    wait_for("both watched again", || open_sessions(&r.server) == 2).await;
    r.stop.send(()).unwrap();
    let summary = r.task.await.unwrap();
    assert!(summary.self_fenced >= 1);
}
