//! A fleet worker: many processes share the accounts of one PostgreSQL store, each account
//! watched by exactly one of them at a time.
//!
//! The worker joins the fleet, then loops: it renews all of its leases in one statement
//! every `renew` (10 s by default for a 30 s lease); claims free or expired accounts up to
//! its fair share (accounts / live workers, at most `capacity`) every `scan` (5 s, with
//! jitter), or at once when another worker releases some (`LISTEN`/`NOTIFY`); subscribes
//! each account it claimed, pacing new connections (`connects_per_sec`) and waiting out a
//! throttled account's `not_before`; and, when it holds more than its fair share, releases
//! `rebalance_step` accounts (or a quarter of its excess, when more) every `rebalance` so
//! late joiners get work.
//!
//! Safety comes from the store, not from this loop's timing: every store transaction of a
//! batch checks the account's lease and epoch, and so does every action on the server (see
//! [`inbound_store::lease`]). A worker that could not renew for two thirds of the lease
//! stops its subscriptions; one that finds a lease gone at renewal stops that account's.
//! On shutdown it finishes the batch in flight, then releases everything, so others take
//! over within seconds instead of a lease time.
//!
//! A subscription that fails for good (refused credentials, say) keeps its lease, recorded
//! as `failed` with the error, and is retried after `failed_retry`; a throttled one
//! records `not_before`, so a worker taking it over waits too.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::channel::mpsc;
use futures::future::{Either, select};
use inbound_net::rt;
use inbound_store::lease::{
    Lease, LeaseFuture, LeaseState, LeaseStore, LeaseUpdate, WorkerId, WorkerInfo, local_validity,
};

use crate::account::Account;
use crate::backend::Connector;
use crate::events::NewMail;
use crate::retriever::Retriever;
use crate::subscribe::{MessageHandler, StateHandler, SubscriptionState, Subscriptions};

/// Settings of a fleet worker (`[fleet]` in the CLI's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// How long a lease lasts unless renewed (default 30 s).
    pub lease: Duration,
    /// How often leases are renewed (default 10 s; must be well under two thirds of the
    /// lease, the local validity).
    pub renew: Duration,
    /// How often free or expired accounts are looked for (default 5 s; each wait is
    /// jittered by up to a fifth, and a release by another worker cuts it short).
    pub scan: Duration,
    /// The most accounts this worker holds (default 1,000).
    pub capacity: usize,
    /// How often a worker above its fair share releases some accounts (default 60 s).
    pub rebalance: Duration,
    /// How many it releases each time at least (default 2); a quarter of its excess when
    /// that is more.
    pub rebalance_step: usize,
    /// New subscriptions started per second at most, a staggered start (default 20). The
    /// `inbound` binary also paces every connection of a worker, reconnects included, to
    /// this rate ([`Paced`](crate::backend::paced::Paced)).
    pub connects_per_sec: u32,
    /// How long a failed account waits before it is subscribed again (default 60 s).
    pub failed_retry: Duration,
    /// The most accounts of one mail server host this worker watches at once, so one
    /// process never holds more connections to a provider than it allows from one client
    /// (default 1,000). Each watched account is one connection; a fetch of the same
    /// account in this process waits for the account's lock, so an account never has more
    /// than two (one IDLE, one fetch).
    pub per_host: usize,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            renew: Duration::from_secs(10),
            scan: Duration::from_secs(5),
            capacity: 1000,
            rebalance: Duration::from_secs(60),
            rebalance_step: 2,
            connects_per_sec: 20,
            failed_retry: Duration::from_secs(60),
            per_host: 1000,
        }
    }
}

/// Why a fleet worker stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The worker could not join the fleet (the database refused or is unreachable).
    #[error("could not join the fleet: {0}")]
    Join(#[source] inbound_store::Error),
}

/// What a fleet worker did, when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetSummary {
    /// Its id in the fleet.
    pub worker: Option<WorkerId>,
    /// Leases it claimed over its life.
    pub claimed: u64,
    /// Leases it found lost at renewal (taken over after it could not renew in time).
    pub lost: u64,
    /// Leases it released to rebalance.
    pub rebalanced: u64,
    /// Times it stopped every subscription because it could not renew (self-fencing).
    pub self_fenced: u64,
}

/// A lease this worker holds, and its subscription.
#[derive(Debug)]
struct Held {
    epoch: i64,
    /// When to start (or restart) its subscription; `None` while it runs.
    start_at: Option<Instant>,
}

/// One worker of a fleet.
pub struct Fleet<C> {
    subs: Subscriptions<C>,
    leases: Arc<dyn LeaseStore>,
    accounts: BTreeMap<String, Account>,
    config: FleetConfig,
    info: WorkerInfo,
    on_message: MessageHandler,
    states: mpsc::UnboundedReceiver<(String, SubscriptionState)>,
}

impl<C> std::fmt::Debug for Fleet<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("accounts", &self.accounts.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Fleet<C> {
    /// A worker serving `accounts` (those it may claim) with `retriever`, whose store must
    /// be the one `leases` works on. `on_message` is called once per new message after it
    /// is stored; `on_state` on every subscription state change.
    pub fn new(
        retriever: Retriever<C>,
        leases: Arc<dyn LeaseStore>,
        accounts: Vec<Account>,
        config: FleetConfig,
        on_message: impl Fn(&NewMail<'_>) + Send + Sync + 'static,
        on_state: StateHandler,
    ) -> Self {
        let (send, states) = mpsc::unbounded();
        let subs = Subscriptions::new(retriever).on_state(move |name, state| {
            on_state(name, state);
            let _ = send.unbounded_send((name.to_owned(), state.clone()));
        });
        Self {
            subs,
            leases,
            accounts: accounts.into_iter().map(|a| (a.name.clone(), a)).collect(),
            config,
            info: WorkerInfo {
                host: host_name(),
                pid: std::process::id(),
                capacity: u32::try_from(config.capacity).unwrap_or(u32::MAX),
            },
            on_message: Arc::new(on_message),
            states,
        }
    }

    /// Runs the worker until `shutdown` completes; then stops every subscription (each
    /// finishes the batch in flight) and releases every lease.
    ///
    /// # Errors
    /// [`FleetError::Join`] when the worker cannot join. Later database failures are
    /// logged and retried; leases not renewed in time fence the worker (its subscriptions
    /// stop) until it can claim again.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<FleetSummary, FleetError> {
        let worker = self
            .leases
            .join(&self.info)
            .await
            .map_err(FleetError::Join)?;
        tracing::info!(%worker, host = %self.info.host, "joined the fleet");
        let names: Vec<String> = self.accounts.keys().cloned().collect();
        self.leases
            .ensure_accounts(&names)
            .await
            .map_err(FleetError::Join)?;
        let mut state = LoopState {
            worker,
            held: HashMap::new(),
            last_renewed: Instant::now(),
            next_renew: Instant::now() + self.config.renew,
            // Workers started together see each other before the first claim: one scan
            // interval after joining, every one of them has a heartbeat to count.
            next_scan: Instant::now() + self.config.scan,
            next_rebalance: Instant::now() + self.config.rebalance,
            next_connect: Instant::now(),
            summary: FleetSummary {
                worker: Some(worker),
                ..FleetSummary::default()
            },
        };
        let mut shutdown = pin!(shutdown);
        loop {
            let now = Instant::now();
            if now >= state.next_renew {
                self.renew(&mut state).await;
            }
            if now >= state.next_rebalance {
                self.rebalance(&mut state).await;
            }
            if now >= state.next_scan {
                self.claim(&mut state, &names).await;
            }
            self.start_due(&mut state);
            let wake_at = state.next_wake();
            let wait = wake_at.saturating_duration_since(Instant::now());
            let woke = {
                let change = pin!(self.leases.wait_for_change(wait));
                let next = self.states.next();
                match select(shutdown.as_mut(), select(change, next)).await {
                    Either::Left(_) => Woke::Shutdown,
                    Either::Right((Either::Left((changed, _)), _)) => {
                        Woke::Changed(matches!(changed, Ok(true)))
                    }
                    Either::Right((Either::Right((s, _)), _)) => Woke::State(s),
                }
            };
            match woke {
                Woke::Shutdown => break,
                // Someone released accounts or added some: look now.
                Woke::Changed(true) => state.next_scan = Instant::now(),
                Woke::Changed(false) | Woke::State(None) => {}
                Woke::State(Some((account, s))) => self.observe(&mut state, &account, &s).await,
            }
        }
        tracing::info!(%worker, "leaving the fleet: stopping subscriptions");
        self.subs.unsubscribe_all().await;
        while let Ok((account, s)) = self.states.try_recv() {
            self.observe(&mut state, &account, &s).await;
        }
        match self.timed(self.leases.leave(worker)).await {
            Ok(n) => tracing::info!(%worker, released = n, "left the fleet"),
            Err(e) => tracing::warn!(%worker, error = %e, "could not release leases on leaving"),
        }
        Ok(state.summary)
    }

    /// Runs a lease call for at most one renewal interval: a database that hangs instead of
    /// failing must not keep the loop from its next renewal (and from fencing itself).
    async fn timed<T>(&self, call: LeaseFuture<'_, T>) -> Result<T, CallError> {
        match rt::timeout(self.config.renew, call).await {
            Ok(result) => result.map_err(CallError::Store),
            Err(_) => Err(CallError::TimedOut(self.config.renew)),
        }
    }

    /// Renews every lease; stops the subscriptions of leases found lost, or of all when
    /// renewing has failed for two thirds of the lease.
    async fn renew(&mut self, state: &mut LoopState) {
        let sent = Instant::now();
        state.next_renew = sent + self.config.renew;
        match self
            .timed(self.leases.renew(state.worker, self.config.lease))
            .await
        {
            Ok(kept) => {
                state.last_renewed = sent;
                // Leases still ours that this loop had let go (it fenced itself while the
                // database was out of reach, or a subscription stopped on a fence): resume.
                for lease in &kept {
                    if !state.held.contains_key(&lease.account)
                        && self.accounts.contains_key(&lease.account)
                    {
                        tracing::info!(account = %lease.account, "lease still held: resuming");
                        state.held.insert(
                            lease.account.clone(),
                            Held {
                                epoch: lease.epoch,
                                start_at: Some(Instant::now() + lease.wait),
                            },
                        );
                    }
                }
                let lost: Vec<String> = state
                    .held
                    .iter()
                    .filter(|(name, h)| {
                        !kept
                            .iter()
                            .any(|l| &l.account == *name && l.epoch == h.epoch)
                    })
                    .map(|(name, _)| name.clone())
                    .collect();
                if !lost.is_empty() {
                    tracing::warn!(
                        worker = %state.worker,
                        lost = lost.len(),
                        "leases lost (not renewed in time): stopping those accounts"
                    );
                    state.summary.lost += lost.len() as u64;
                    self.stop_accounts(state, &lost);
                }
            }
            Err(e) => {
                tracing::warn!(worker = %state.worker, error = %e, "could not renew leases");
                if sent.duration_since(state.last_renewed) >= local_validity(self.config.lease)
                    && !state.held.is_empty()
                {
                    tracing::error!(
                        worker = %state.worker,
                        "leases not renewed for two thirds of their time: stopping every \
                         account (self-fenced)"
                    );
                    state.summary.self_fenced += 1;
                    let all: Vec<String> = state.held.keys().cloned().collect();
                    self.stop_accounts(state, &all);
                }
                // Try again sooner than the normal interval.
                state.next_renew = Instant::now() + self.config.renew / 4;
            }
        }
    }

    /// Stops these accounts' subscriptions and forgets their leases (without releasing
    /// them: they are lost, or the database cannot be reached). The subscriptions end in the
    /// background, so a connection slow to close never delays the next renewal; the store
    /// fences whatever they still try.
    fn stop_accounts(&self, state: &mut LoopState, accounts: &[String]) {
        for a in accounts {
            // Dropping the task lets it finish on its own.
            drop(self.subs.stop(a));
            state.held.remove(a);
        }
    }

    /// Claims free or expired accounts up to this worker's fair share.
    async fn claim(&mut self, state: &mut LoopState, names: &[String]) {
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 1.0..=1.2);
        state.next_scan = Instant::now() + self.config.scan.mul_f64(jitter);
        let target = match self.timed(self.leases.census(self.config.lease)).await {
            Ok(census) => usize::try_from(census.fair_share())
                .unwrap_or(usize::MAX)
                .min(self.config.capacity),
            Err(e) => {
                tracing::warn!(error = %e, "could not count the fleet");
                return;
            }
        };
        let wanted = target.saturating_sub(state.held.len());
        if wanted == 0 {
            return;
        }
        // Only accounts of hosts with room in this worker's budget; one claim for all of
        // them, then whatever overshoots a host's budget is handed back at once.
        let held_per_host = self.held_per_host(state);
        let candidates: Vec<String> = names
            .iter()
            .filter(|n| !state.held.contains_key(*n))
            .filter(|n| {
                self.accounts.get(*n).is_some_and(|a| {
                    held_per_host.get(&host_key(a)).copied().unwrap_or(0) < self.config.per_host
                })
            })
            .cloned()
            .collect();
        if candidates.is_empty() {
            return;
        }
        let claimed = self.claim_some(state, &candidates, wanted).await;
        if claimed.is_empty() {
            return;
        }
        let mut per_host = held_per_host;
        let mut over = Vec::new();
        for name in claimed {
            let Some(a) = self.accounts.get(&name) else {
                continue;
            };
            let count = per_host.entry(host_key(a)).or_insert(0);
            if *count >= self.config.per_host {
                over.push(name);
            } else {
                *count += 1;
            }
        }
        if !over.is_empty() {
            tracing::debug!(
                released = over.len(),
                "host budget reached: handing accounts back"
            );
            for name in &over {
                state.held.remove(name);
            }
            state.summary.claimed -= over.len() as u64;
            if let Err(e) = self.timed(self.leases.release(state.worker, &over)).await {
                tracing::warn!(error = %e, "could not release accounts over the host budget");
            }
        }
    }

    /// How many accounts this worker holds per mail server host.
    fn held_per_host(&self, state: &LoopState) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for name in state.held.keys() {
            if let Some(a) = self.accounts.get(name) {
                *counts.entry(host_key(a)).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Claims up to `max` of `candidates`; returns how many it got.
    async fn claim_some(
        &mut self,
        state: &mut LoopState,
        candidates: &[String],
        max: usize,
    ) -> Vec<String> {
        match self
            .timed(
                self.leases
                    .claim(state.worker, candidates, max, self.config.lease),
            )
            .await
        {
            Ok(claimed) => {
                let got: Vec<String> = claimed.iter().map(|l| l.account.clone()).collect();
                if !claimed.is_empty() {
                    tracing::info!(worker = %state.worker, claimed = claimed.len(), "claimed accounts");
                }
                state.summary.claimed += claimed.len() as u64;
                for Lease {
                    account,
                    epoch,
                    wait,
                } in claimed
                {
                    if wait > Duration::ZERO {
                        tracing::info!(%account, wait_ms = wait.as_millis() as u64, "account is throttled: waiting before connecting");
                    }
                    state.held.insert(
                        account,
                        Held {
                            epoch,
                            start_at: Some(Instant::now() + wait),
                        },
                    );
                }
                got
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim accounts");
                Vec::new()
            }
        }
    }

    /// Releases a few accounts when this worker holds more than its fair share.
    async fn rebalance(&mut self, state: &mut LoopState) {
        state.next_rebalance = Instant::now() + self.config.rebalance;
        let Ok(census) = self.timed(self.leases.census(self.config.lease)).await else {
            return;
        };
        let fair = usize::try_from(census.fair_share()).unwrap_or(usize::MAX);
        let over = state.held.len().saturating_sub(fair);
        if over == 0 {
            return;
        }
        let mut names: Vec<String> = state.held.keys().cloned().collect();
        names.sort();
        let give: Vec<String> = names
            .into_iter()
            .rev()
            .take(over.min(release_step(over, self.config.rebalance_step)))
            .collect();
        tracing::info!(worker = %state.worker, releasing = give.len(), fair, held = state.held.len(), "above the fair share: releasing accounts");
        self.stop_accounts(state, &give);
        match self.timed(self.leases.release(state.worker, &give)).await {
            Ok(n) => state.summary.rebalanced += n,
            Err(e) => tracing::warn!(error = %e, "could not release accounts"),
        }
    }

    /// Starts the subscriptions that are due, at most `connects_per_sec`.
    fn start_due(&mut self, state: &mut LoopState) {
        let spacing = Duration::from_secs(1) / self.config.connects_per_sec.max(1);
        let now = Instant::now();
        let mut due: Vec<String> = state
            .held
            .iter()
            .filter(|(_, h)| h.start_at.is_some_and(|t| t <= now))
            .map(|(n, _)| n.clone())
            .collect();
        due.sort();
        for name in due {
            if Instant::now() < state.next_connect {
                break;
            }
            let Some(held) = state.held.get_mut(&name) else {
                continue;
            };
            held.start_at = None;
            let Some(account) = self.accounts.get(&name).cloned() else {
                continue;
            };
            let handler = self.on_message.clone();
            if let Err(e) = self.subs.subscribe(account, move |m| handler(m)) {
                tracing::warn!(account = %name, error = %e, "could not subscribe");
                held.start_at = Some(now + self.config.failed_retry);
                let update = LeaseUpdate {
                    state: LeaseState::Failed,
                    event: "could not subscribe".into(),
                    error: Some(e.to_string()),
                    not_before: None,
                };
                let (leases, worker, epoch) = (self.leases.clone(), state.worker, held.epoch);
                rt::spawn(async move {
                    let _ = leases.update(worker, &name, epoch, &update).await;
                });
            }
            state.next_connect = Instant::now() + spacing;
        }
    }

    /// Records a subscription's state in its lease; schedules a failed one's retry.
    async fn observe(&mut self, state: &mut LoopState, account: &str, s: &SubscriptionState) {
        let Some(held) = state.held.get_mut(account) else {
            return;
        };
        let Some(update) = lease_update(s) else {
            return;
        };
        if update.state == LeaseState::Failed {
            if update.error.as_deref().is_some_and(is_fenced) {
                // The store refused it for the lease: the next renewal tells whether the
                // lease is still ours (then it resumes at once) or lost.
                state.held.remove(account);
                return;
            }
            held.start_at = Some(Instant::now() + self.config.failed_retry);
        }
        let epoch = held.epoch;
        if let Err(e) = self
            .timed(self.leases.update(state.worker, account, epoch, &update))
            .await
        {
            tracing::warn!(%account, error = %e, "could not record the account's state");
        }
    }
}

/// Why a lease call failed.
#[derive(Debug)]
enum CallError {
    Store(inbound_store::Error),
    TimedOut(Duration),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::TimedOut(d) => {
                write!(f, "the database did not answer within {} ms", d.as_millis())
            }
        }
    }
}

/// What woke the fleet loop.
enum Woke {
    Shutdown,
    Changed(bool),
    State(Option<(String, SubscriptionState)>),
}

/// The fleet loop's bookkeeping.
struct LoopState {
    worker: WorkerId,
    held: HashMap<String, Held>,
    /// When the last successful renewal was sent.
    last_renewed: Instant,
    next_renew: Instant,
    next_scan: Instant,
    next_rebalance: Instant,
    next_connect: Instant,
    summary: FleetSummary,
}

impl LoopState {
    /// The next time the loop has something to do.
    fn next_wake(&self) -> Instant {
        let mut at = self.next_renew.min(self.next_scan).min(self.next_rebalance);
        for h in self.held.values() {
            if let Some(t) = h.start_at {
                at = at.min(t.max(self.next_connect));
            }
        }
        at
    }
}

/// What a subscription state means for its lease row (`None`: nothing to record).
fn lease_update(s: &SubscriptionState) -> Option<LeaseUpdate> {
    let (state, error) = match s {
        SubscriptionState::Subscribed | SubscriptionState::Resumed { .. } => {
            (LeaseState::Watching, None)
        }
        SubscriptionState::ConnectionLost { error } => {
            (LeaseState::Reconnecting, Some(error.clone()))
        }
        SubscriptionState::Failed { error } => (LeaseState::Failed, Some(error.clone())),
        // The lease is kept, with the time before which no worker may connect: a worker
        // taking the account over waits it out too.
        SubscriptionState::Throttled { delay, .. } => {
            return Some(LeaseUpdate {
                state: LeaseState::Throttled,
                event: s.to_string(),
                error: None,
                not_before: Some(*delay),
            });
        }
        _ => return None,
    };
    Some(LeaseUpdate {
        state,
        event: s.to_string(),
        error,
        not_before: None,
    })
}

/// How many accounts to release in one rebalancing step when `over` above the fair share:
/// at least `step`, and a quarter of the excess when that is more, so a worker joining a
/// large fleet gets its share within a few intervals instead of hours.
fn release_step(over: usize, step: usize) -> usize {
    step.max(1).max(over.div_ceil(4))
}

/// Whether a subscription's error is the store refusing it for the lease
/// ([`inbound_store::Error::Fenced`], as its text reads).
fn is_fenced(error: &str) -> bool {
    error.contains("lease on account")
}

/// The host an account's connections go to, for the per-host budget.
fn host_key(account: &Account) -> String {
    account.host.to_ascii_lowercase()
}

/// This machine's name, for `inbound status` (`HOSTNAME`, else `/etc/hostname`).
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::release_step;

    #[test]
    fn a_large_excess_is_released_a_quarter_at_a_time_a_small_one_by_the_step() {
        assert_eq!(release_step(1, 2), 2);
        assert_eq!(release_step(8, 2), 2);
        assert_eq!(release_step(66, 2), 17);
        assert_eq!(release_step(3, 0), 1);
    }
}
