//! Leases: which worker of a fleet watches which account, fenced so that a worker that lost
//! an account can neither store for it nor act on its server.
//!
//! Several `inbound watch` processes sharing a PostgreSQL store split its accounts between
//! them. Each account has a lease row: its owner, a fencing `epoch` raised on every claim,
//! and an expiry taken from the database clock only (workers' clocks are never compared). A
//! worker claims free or expired accounts, renews all of its leases in one statement, and
//! releases them when it stops. [`LeaseStore`] is that protocol; `PgLeases` (feature
//! `postgres`) implements it.
//!
//! Fencing works twice over:
//! - locally: a lease is valid in this process only until two thirds of its duration after
//!   the renewal that last succeeded was *sent* (a monotonic clock, so a process paused by
//!   SIGSTOP or a long GC sees its leases expired the moment it resumes);
//! - in the database: every store transaction of a batch for a leased account locks the
//!   account's lease row and checks owner and epoch, so even a worker whose local check
//!   passed cannot commit once another worker holds a newer epoch.
//!
//! Either failure is [`Error::Fenced`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A future returned by [`LeaseStore`]'s methods.
pub type LeaseFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A worker's id in the fleet (the database assigns it when the worker joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(pub i64);

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

/// What a worker says about itself when it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The most accounts it will hold.
    pub capacity: u32,
}

/// A lease a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The account.
    pub account: String,
    /// The fencing epoch: raised on every claim, so a newer owner always has a higher one.
    pub epoch: i64,
    /// How long to wait before connecting, when the account is throttled (a server's hint
    /// recorded by the previous owner); zero when it may connect at once.
    pub wait: Duration,
}

/// The state of a leased account, as `inbound status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseState {
    /// Nobody holds it.
    Free,
    /// Claimed; the owner is connecting or catching up.
    Claimed,
    /// Connected and waiting for mail.
    Watching,
    /// Connection lost; the owner is reconnecting.
    Reconnecting,
    /// The server is throttling; the owner waits until `not_before`.
    Throttled,
    /// The owner gave up on the account (an error no retry helps); it retries later.
    Failed,
}

impl LeaseState {
    /// The name stored in the database and shown by `inbound status`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Claimed => "claimed",
            Self::Watching => "watching",
            Self::Reconnecting => "reconnecting",
            Self::Throttled => "throttled",
            Self::Failed => "failed",
        }
    }

    /// The state named `name` (unknown names read as [`Claimed`](Self::Claimed)).
    pub fn from_name(name: &str) -> Self {
        match name {
            "free" => Self::Free,
            "watching" => Self::Watching,
            "reconnecting" => Self::Reconnecting,
            "throttled" => Self::Throttled,
            "failed" => Self::Failed,
            _ => Self::Claimed,
        }
    }
}

impl fmt::Display for LeaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the owner records about an account it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseUpdate {
    /// The new state.
    pub state: LeaseState,
    /// What just happened, in words (the last event).
    pub event: String,
    /// The error, when there was one (kept as the last error until another replaces it).
    pub error: Option<String>,
    /// Do not connect before this much time from now (throttling); `None` clears it.
    pub not_before: Option<Duration>,
}

/// One account's row in [`FleetStatus`]; times are milliseconds since the Unix epoch on the
/// database's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLease {
    /// The account.
    pub account: String,
    /// Its owner, when held.
    pub owner: Option<WorkerId>,
    /// The owner's host, when held.
    pub owner_host: Option<String>,
    /// The fencing epoch (claims so far).
    pub epoch: i64,
    /// The state.
    pub state: LeaseState,
    /// When the lease expires unless renewed.
    pub expires_at_ms: Option<i64>,
    /// Not before this time (throttling).
    pub not_before_ms: Option<i64>,
    /// The last event.
    pub last_event: Option<String>,
    /// When it happened.
    pub last_event_at_ms: Option<i64>,
    /// The last error.
    pub last_error: Option<String>,
}

impl AccountLease {
    /// The owner for people: `w3 (host)`, or `None` when nobody holds it.
    pub fn owner_text(&self) -> Option<String> {
        match (self.owner, &self.owner_host) {
            (Some(o), Some(h)) => Some(format!("{o} ({h})")),
            (Some(o), None) => Some(o.to_string()),
            _ => None,
        }
    }
}

/// A span of milliseconds for people, as `inbound status` and the web overview show lease
/// times: `12 s`, `3 min`, `2 h`.
pub fn span_text(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// One worker's row in [`FleetStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// Its id.
    pub id: WorkerId,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The most accounts it holds.
    pub capacity: u32,
    /// When it joined.
    pub started_at_ms: i64,
    /// Its last renewal.
    pub heartbeat_at_ms: i64,
    /// When it left cleanly, if it did.
    pub stopped_at_ms: Option<i64>,
    /// How many accounts it holds now.
    pub accounts_held: u64,
}

/// The whole fleet, as `inbound status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetStatus {
    /// The database's clock when the status was read (milliseconds since the Unix epoch).
    pub now_ms: i64,
    /// Every account with a lease row, by name.
    pub accounts: Vec<AccountLease>,
    /// Every worker that joined and has not been forgotten, newest first.
    pub workers: Vec<WorkerRow>,
}

/// How many workers are alive and how many accounts there are: a fair share is
/// `ceil(accounts / workers)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    /// Workers that renewed within one lease duration and have not left.
    pub live_workers: u64,
    /// Accounts with a lease row.
    pub accounts: u64,
}

impl Census {
    /// The fair share of accounts per live worker (at least 1).
    pub fn fair_share(&self) -> u64 {
        self.accounts.div_ceil(self.live_workers.max(1)).max(1)
    }
}

/// The lease protocol of a fleet of workers sharing one store.
///
/// Every method is one short transaction on the database's clock. Claims and renewals
/// register the leases with the store's [`Fences`], so the store's own writes for an
/// account are fenced by them.
pub trait LeaseStore: Send + Sync {
    /// Registers this process as a worker.
    fn join<'a>(&'a self, info: &'a WorkerInfo) -> LeaseFuture<'a, WorkerId>;
    /// Creates lease rows for accounts that have none; returns how many were new (and, when
    /// any were, wakes the other workers).
    fn ensure_accounts<'a>(&'a self, accounts: &'a [String]) -> LeaseFuture<'a, u64>;
    /// Claims up to `max` of `accounts` that are free or whose lease expired, raising each
    /// one's epoch; rows locked by another worker's claim are skipped, never waited for.
    fn claim<'a>(
        &'a self,
        worker: WorkerId,
        accounts: &'a [String],
        max: usize,
        lease: Duration,
    ) -> LeaseFuture<'a, Vec<Lease>>;
    /// Renews every lease `worker` still holds (one statement) and its heartbeat; returns
    /// the leases renewed. A lease that had expired is not renewed: it is lost.
    fn renew(&self, worker: WorkerId, lease: Duration) -> LeaseFuture<'_, Vec<Lease>>;
    /// Releases these accounts (others may claim them at once) and wakes the other workers.
    fn release<'a>(&'a self, worker: WorkerId, accounts: &'a [String]) -> LeaseFuture<'a, u64>;
    /// Releases everything `worker` holds and marks it stopped.
    fn leave(&self, worker: WorkerId) -> LeaseFuture<'_, u64>;
    /// Records state, last event, last error and `not_before` of a lease `worker` holds at
    /// `epoch`; false (nothing written) when it no longer does.
    fn update<'a>(
        &'a self,
        worker: WorkerId,
        account: &'a str,
        epoch: i64,
        update: &'a LeaseUpdate,
    ) -> LeaseFuture<'a, bool>;
    /// Live workers and accounts, for rebalancing.
    fn census(&self, lease: Duration) -> LeaseFuture<'_, Census>;
    /// The whole fleet.
    fn status(&self) -> LeaseFuture<'_, FleetStatus>;
    /// Waits until another worker released an account or accounts were added (when the
    /// backend can be told), or `timeout` passed; true when woken.
    fn wait_for_change(&self, timeout: Duration) -> LeaseFuture<'_, bool>;
}

/// A lease stays valid locally for this share of its duration after the renewal that last
/// succeeded was sent (two thirds): a worker that could not renew in that time stops
/// touching its accounts while the database still counts them as its own.
pub fn local_validity(lease: Duration) -> Duration {
    lease * 2 / 3
}

/// One lease as this process's fence knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    /// The owner (this worker).
    pub worker: WorkerId,
    /// The epoch of the claim.
    pub epoch: i64,
    /// Until when the lease is valid locally (monotonic).
    pub valid_until: Instant,
}

/// The leases this process holds, shared between the lease protocol and the store, which
/// checks them on every write for a leased account.
///
/// Before the process joins a fleet ([`Fences::activate`]) nothing is fenced: a plain
/// `inbound fetch` on a shared store works as on SQLite.
#[derive(Debug, Default)]
pub struct Fences {
    inner: Mutex<FenceTable>,
}

#[derive(Debug, Default)]
struct FenceTable {
    active: bool,
    leases: HashMap<String, Fence>,
}

impl Fences {
    /// A new, inactive fence table.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, FenceTable> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every write for an account needs a valid lease.
    pub fn activate(&self) {
        self.table().active = true;
    }

    /// True once [`activate`](Self::activate)d.
    pub fn is_active(&self) -> bool {
        self.table().active
    }

    /// Records (or refreshes) leases renewed or claimed by a request sent at `sent`, valid
    /// locally for `valid_for` after it.
    pub fn hold(&self, worker: WorkerId, leases: &[Lease], sent: Instant, valid_for: Duration) {
        let mut table = self.table();
        for lease in leases {
            table.leases.insert(
                lease.account.clone(),
                Fence {
                    worker,
                    epoch: lease.epoch,
                    valid_until: sent + valid_for,
                },
            );
        }
    }

    /// Keeps only the leases in `kept` (the others were lost or released).
    pub fn retain(&self, kept: &[Lease]) {
        let mut table = self.table();
        table.leases.retain(|account, fence| {
            kept.iter()
                .any(|l| &l.account == account && l.epoch == fence.epoch)
        });
    }

    /// Forgets these accounts' leases.
    pub fn drop_accounts(&self, accounts: &[String]) {
        let mut table = self.table();
        for account in accounts {
            table.leases.remove(account);
        }
    }

    /// Forgets every lease.
    pub fn clear(&self) {
        self.table().leases.clear();
    }

    /// The fence to check in the database for a write to `account`: `None` when fencing is
    /// inactive.
    ///
    /// # Errors
    /// [`Error::Fenced`] when active and the account is not held, or its lease has expired
    /// locally.
    pub fn check(&self, account: &str) -> Result<Option<Fence>> {
        let table = self.table();
        if !table.active {
            return Ok(None);
        }
        let Some(fence) = table.leases.get(account) else {
            return Err(Error::Fenced {
                account: account.to_owned(),
                why: "this worker does not hold its lease".into(),
            });
        };
        if Instant::now() >= fence.valid_until {
            return Err(Error::Fenced {
                account: account.to_owned(),
                why: "the lease was not renewed in time (self-fenced)".into(),
            });
        }
        Ok(Some(*fence))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn lease(account: &str, epoch: i64) -> Lease {
        Lease {
            account: account.into(),
            epoch,
            wait: Duration::ZERO,
        }
    }

    #[test]
    fn inactive_fences_let_everything_through() {
        let fences = Fences::new();
        assert_eq!(fences.check("any").unwrap(), None);
    }

    #[test]
    fn an_active_fence_needs_a_lease_valid_now() {
        let fences = Fences::new();
        fences.activate();
        assert!(matches!(fences.check("a"), Err(Error::Fenced { .. })));
        let w = WorkerId(7);
        fences.hold(w, &[lease("a", 3)], Instant::now(), Duration::from_secs(20));
        let fence = fences.check("a").unwrap().unwrap();
        assert_eq!((fence.worker, fence.epoch), (w, 3));
        // Renewed by a request sent long ago: expired locally.
        let long_ago = Instant::now().checked_sub(Duration::from_secs(60));
        if let Some(sent) = long_ago {
            fences.hold(w, &[lease("a", 3)], sent, Duration::from_secs(20));
            let err = fences.check("a").unwrap_err().to_string();
            assert!(err.contains("self-fenced"), "{err}");
        }
    }

    #[test]
    fn retain_drops_lost_leases_and_older_epochs() {
        let fences = Fences::new();
        fences.activate();
        let w = WorkerId(1);
        let now = Instant::now();
        fences.hold(
            w,
            &[lease("a", 1), lease("b", 1)],
            now,
            Duration::from_secs(20),
        );
        fences.retain(&[lease("a", 1), lease("b", 2)]);
        assert!(fences.check("a").is_ok());
        assert!(fences.check("b").is_err());
    }

    #[test]
    fn spans_read_in_seconds_minutes_or_hours() {
        assert_eq!(span_text(12_400), "12 s");
        assert_eq!(span_text(-180_000), "3 min");
        assert_eq!(span_text(7_200_000), "2 h");
    }

    #[test]
    fn fair_share_rounds_up_and_survives_no_workers() {
        let c = Census {
            live_workers: 3,
            accounts: 50,
        };
        assert_eq!(c.fair_share(), 17);
        let none = Census {
            live_workers: 0,
            accounts: 5,
        };
        assert_eq!(none.fair_share(), 5);
    }
}
