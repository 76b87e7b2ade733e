//! The lease protocol on PostgreSQL ([`LeaseStore`] for [`PgLeases`]): lease rows in
//! `fleet_leases`, workers in `fleet_workers`, every time from the database's clock
//! (`now()`), claims with `FOR UPDATE SKIP LOCKED`, wake-ups with `LISTEN`/`NOTIFY`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{GenericClient as _, Pool, Transaction};
use tokio_postgres::{AsyncMessage, Row};

use super::PgStore;
use crate::error::{Error, Result};
use crate::lease::{
    AccountLease, Census, Fence, Fences, FleetStatus, Lease, LeaseFuture, LeaseState, LeaseStore,
    LeaseUpdate, WorkerId, WorkerInfo, WorkerRow, local_validity,
};

/// The channel workers `LISTEN` on.
pub(crate) const CHANNEL: &str = "inbound_fleet";

/// Inside a transaction of a write for `account`: locks the account's lease row and checks
/// that `fence` still owns it at its epoch, unexpired on the database's clock. The row lock
/// (`FOR SHARE`) holds until commit, so no claim can take the account over in between.
pub(crate) async fn check_lease(
    tx: &Transaction<'_>,
    account: &str,
    fence: Option<Fence>,
) -> Result<()> {
    let Some(fence) = fence else {
        return Ok(());
    };
    let row = tx
        .query_opt(
            "SELECT owner, epoch, expires_at > now() FROM fleet_leases WHERE account = $1
             FOR SHARE",
            &[&account],
        )
        .await?;
    let why = match row {
        None => "the account has no lease row".to_owned(),
        Some(row) => {
            let owner: Option<i64> = row.try_get(0)?;
            let epoch: i64 = row.try_get(1)?;
            let unexpired: Option<bool> = row.try_get(2)?;
            if owner == Some(fence.worker.0) && epoch == fence.epoch && unexpired == Some(true) {
                return Ok(());
            }
            if epoch != fence.epoch {
                format!(
                    "another worker took it over (epoch {epoch}, this worker held {})",
                    fence.epoch
                )
            } else {
                "the lease expired in the database".to_owned()
            }
        }
    };
    Err(Error::Fenced {
        account: account.to_owned(),
        why,
    })
}

/// The lease protocol on a [`PgStore`]'s database, sharing its pool, runtime and fences.
#[derive(Clone)]
pub struct PgLeases {
    handle: tokio::runtime::Handle,
    pool: Pool,
    fences: Arc<Fences>,
    wake: Arc<Wake>,
}

impl std::fmt::Debug for PgLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLeases").finish_non_exhaustive()
    }
}

/// Wakes a waiting fleet loop when another worker releases accounts or adds some.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    notify: tokio::sync::Notify,
}

impl Wake {
    /// Wakes the waiter, or the next one to wait when none waits now.
    fn wake(&self) {
        self.notify.notify_one();
    }

    /// Waits for a wake-up or `timeout`; true when woken.
    async fn wait(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.notify.notified())
            .await
            .is_ok()
    }
}

/// `LISTEN`s on [`CHANNEL`] on a connection of its own (pooled connections drop
/// notifications), reconnecting after a pause when it breaks; polling stays the fallback.
async fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    wake: Arc<Wake>,
) {
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (send, mut receive) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if send.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "fleet LISTEN connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        while receive.recv().await.is_some() {
                            wake.wake();
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "fleet LISTEN failed"),
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error = %e, "fleet LISTEN connection could not be opened"),
        }
        // Wake once: something may have happened while not listening.
        wake.wake();
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

impl PgStore {
    /// Starts listening (once per store) and returns what the listener wakes.
    fn listen(&self, handle: &tokio::runtime::Handle) -> Arc<Wake> {
        self.wake
            .get_or_init(|| {
                let wake = Arc::new(Wake::default());
                handle.spawn(listen(
                    self.listen_config.clone(),
                    self.tls.clone(),
                    wake.clone(),
                ));
                wake
            })
            .clone()
    }

    /// The lease protocol on this store's database. Its claims and renewals fence this
    /// store's writes (see [`crate::lease`]); the first call starts listening for other
    /// workers' releases.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the store is closed.
    pub fn leases(&self) -> Result<PgLeases> {
        let handle = self
            .runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| Error::Runtime("the store is closed".into()))?;
        let wake = self.listen(&handle);
        Ok(PgLeases {
            handle,
            pool: self.pool.clone(),
            fences: self.fences.clone(),
            wake,
        })
    }

    /// The fences this store checks (shared with [`PgStore::leases`]).
    pub fn fences(&self) -> Arc<Fences> {
        self.fences.clone()
    }
}

/// Milliseconds since the Unix epoch of a `timestamptz` expression, as SQL.
macro_rules! ms {
    ($e:literal) => {
        concat!("(EXTRACT(EPOCH FROM ", $e, ") * 1000)::BIGINT")
    };
}

fn lease_row(row: &Row) -> Result<Lease> {
    let wait_ms: Option<i64> = row.try_get(2)?;
    Ok(Lease {
        account: row.try_get(0)?,
        epoch: row.try_get(1)?,
        wait: Duration::from_millis(wait_ms.unwrap_or(0).max(0).unsigned_abs()),
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgLeases {
    /// Runs `work` on the store's runtime and awaits it from any runtime (or none).
    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> LeaseFuture<'_, T> {
        let task = self.handle.spawn(work);
        Box::pin(async move {
            task.await
                .map_err(|e| Error::Runtime(format!("lease task: {e}")))?
        })
    }

    /// The fences this protocol maintains.
    pub fn fences(&self) -> &Arc<Fences> {
        &self.fences
    }
}

impl LeaseStore for PgLeases {
    fn join<'a>(&'a self, info: &'a WorkerInfo) -> LeaseFuture<'a, WorkerId> {
        let pool = self.pool.clone();
        let info = info.clone();
        self.fences.activate();
        self.spawn(async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "INSERT INTO fleet_workers (host, pid, capacity) VALUES ($1, $2, $3)
                     RETURNING id",
                    &[&info.host, &i64::from(info.pid), &i64::from(info.capacity)],
                )
                .await?;
            Ok(WorkerId(row.try_get(0)?))
        })
    }

    fn ensure_accounts<'a>(&'a self, accounts: &'a [String]) -> LeaseFuture<'a, u64> {
        let pool = self.pool.clone();
        let accounts = accounts.to_vec();
        self.spawn(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let added = tx
                .execute(
                    "INSERT INTO fleet_leases (account) SELECT unnest($1::text[])
                     ON CONFLICT (account) DO NOTHING",
                    &[&accounts],
                )
                .await?;
            if added > 0 {
                tx.execute("SELECT pg_notify($1, 'accounts')", &[&CHANNEL])
                    .await?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    fn claim<'a>(
        &'a self,
        worker: WorkerId,
        accounts: &'a [String],
        max: usize,
        lease: Duration,
    ) -> LeaseFuture<'a, Vec<Lease>> {
        let pool = self.pool.clone();
        let accounts = accounts.to_vec();
        let fences = self.fences.clone();
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.spawn(async move {
            if limit == 0 || accounts.is_empty() {
                return Ok(Vec::new());
            }
            let sent = Instant::now();
            let client = pool.get().await?;
            // Free or expired rows, runnable ones first; rows another claim has locked are
            // skipped (that worker is taking them), never waited for.
            let rows = client
                .query(
                    concat!(
                        "WITH candidates AS (
                            SELECT account FROM fleet_leases
                            WHERE account = ANY($2)
                              AND (owner IS NULL OR expires_at IS NULL OR expires_at <= now())
                            ORDER BY (not_before IS NOT NULL AND not_before > now()), account
                            LIMIT $3
                            FOR UPDATE SKIP LOCKED)
                         UPDATE fleet_leases l
                         SET owner = $1, epoch = l.epoch + 1,
                             expires_at = now() + make_interval(secs => $4),
                             state = 'claimed', updated_at = now(),
                             last_event = 'claimed', last_event_at = now()
                         FROM candidates c WHERE l.account = c.account
                         RETURNING l.account, l.epoch, ",
                        ms!("GREATEST(l.not_before - now(), interval '0')")
                    ),
                    &[&worker.0, &accounts, &limit, &secs(lease)],
                )
                .await?;
            let leases = rows.iter().map(lease_row).collect::<Result<Vec<_>>>()?;
            fences.hold(worker, &leases, sent, local_validity(lease));
            Ok(leases)
        })
    }

    fn renew(&self, worker: WorkerId, lease: Duration) -> LeaseFuture<'_, Vec<Lease>> {
        let pool = self.pool.clone();
        let fences = self.fences.clone();
        self.spawn(async move {
            let sent = Instant::now();
            let client = pool.get().await?;
            let rows = client
                .query(
                    concat!(
                        "WITH beat AS (
                            UPDATE fleet_workers SET heartbeat_at = now() WHERE id = $1)
                         UPDATE fleet_leases
                         SET expires_at = now() + make_interval(secs => $2)
                         WHERE owner = $1 AND expires_at > now()
                         RETURNING account, epoch, ",
                        ms!("GREATEST(not_before - now(), interval '0')")
                    ),
                    &[&worker.0, &secs(lease)],
                )
                .await?;
            let leases = rows.iter().map(lease_row).collect::<Result<Vec<_>>>()?;
            fences.retain(&leases);
            fences.hold(worker, &leases, sent, local_validity(lease));
            Ok(leases)
        })
    }

    fn release<'a>(&'a self, worker: WorkerId, accounts: &'a [String]) -> LeaseFuture<'a, u64> {
        let pool = self.pool.clone();
        let accounts = accounts.to_vec();
        // Stop writing for them before the database lets others claim them.
        self.fences.drop_accounts(&accounts);
        self.spawn(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let n = tx
                .execute(
                    "UPDATE fleet_leases
                     SET owner = NULL, expires_at = NULL, state = 'free', updated_at = now(),
                         last_event = 'released', last_event_at = now()
                     WHERE owner = $1 AND account = ANY($2)",
                    &[&worker.0, &accounts],
                )
                .await?;
            if n > 0 {
                tx.execute("SELECT pg_notify($1, 'released')", &[&CHANNEL])
                    .await?;
            }
            tx.commit().await?;
            Ok(n)
        })
    }

    fn leave(&self, worker: WorkerId) -> LeaseFuture<'_, u64> {
        let pool = self.pool.clone();
        self.fences.clear();
        self.spawn(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let n = tx
                .execute(
                    "UPDATE fleet_leases
                     SET owner = NULL, expires_at = NULL, state = 'free', updated_at = now(),
                         last_event = 'released', last_event_at = now()
                     WHERE owner = $1",
                    &[&worker.0],
                )
                .await?;
            tx.execute(
                "UPDATE fleet_workers SET stopped_at = now(), heartbeat_at = now()
                 WHERE id = $1",
                &[&worker.0],
            )
            .await?;
            tx.execute("SELECT pg_notify($1, 'released')", &[&CHANNEL])
                .await?;
            tx.commit().await?;
            Ok(n)
        })
    }

    fn update<'a>(
        &'a self,
        worker: WorkerId,
        account: &'a str,
        epoch: i64,
        update: &'a LeaseUpdate,
    ) -> LeaseFuture<'a, bool> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let update = update.clone();
        self.spawn(async move {
            let client = pool.get().await?;
            let not_before = update.not_before.map(secs);
            let event = super::common::pg_text(&update.event);
            let error = update.error.as_deref().map(super::common::pg_text);
            let n = client
                .execute(
                    "UPDATE fleet_leases
                     SET state = $4, last_event = $5, last_event_at = now(),
                         last_error = COALESCE($6, last_error),
                         not_before = CASE WHEN $7::float8 IS NULL THEN NULL
                                           ELSE now() + make_interval(secs => $7) END,
                         updated_at = now()
                     WHERE account = $1 AND owner = $2 AND epoch = $3",
                    &[
                        &account,
                        &worker.0,
                        &epoch,
                        &update.state.name(),
                        &event,
                        &error,
                        &not_before,
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn census(&self, lease: Duration) -> LeaseFuture<'_, Census> {
        let pool = self.pool.clone();
        self.spawn(async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "SELECT
                        (SELECT count(*) FROM fleet_workers
                         WHERE stopped_at IS NULL
                           AND heartbeat_at > now() - make_interval(secs => $1)),
                        (SELECT count(*) FROM fleet_leases)",
                    &[&secs(lease)],
                )
                .await?;
            let live: i64 = row.try_get(0)?;
            let accounts: i64 = row.try_get(1)?;
            Ok(Census {
                live_workers: live.max(0).unsigned_abs(),
                accounts: accounts.max(0).unsigned_abs(),
            })
        })
    }

    fn status(&self) -> LeaseFuture<'_, FleetStatus> {
        let pool = self.pool.clone();
        self.spawn(async move { read_status(&pool).await })
    }

    fn wait_for_change(&self, timeout: Duration) -> LeaseFuture<'_, bool> {
        let wake = self.wake.clone();
        Box::pin(async move { Ok(wake.wait(timeout).await) })
    }
}

async fn read_status(pool: &Pool) -> Result<FleetStatus> {
    let client = pool.get().await?;
    let now: i64 = client
        .query_one(concat!("SELECT ", ms!("now()")), &[])
        .await?
        .try_get(0)?;
    let rows = client
        .query(
            concat!(
                "SELECT l.account, l.owner, w.host, l.epoch, l.state, ",
                ms!("l.expires_at"),
                ", ",
                ms!("l.not_before"),
                ", l.last_event, ",
                ms!("l.last_event_at"),
                ", l.last_error
                 FROM fleet_leases l LEFT JOIN fleet_workers w ON w.id = l.owner
                 ORDER BY l.account"
            ),
            &[],
        )
        .await?;
    let mut accounts = Vec::with_capacity(rows.len());
    for r in &rows {
        let state: String = r.try_get(4)?;
        accounts.push(AccountLease {
            account: r.try_get(0)?,
            owner: r.try_get::<_, Option<i64>>(1)?.map(WorkerId),
            owner_host: r.try_get(2)?,
            epoch: r.try_get(3)?,
            state: LeaseState::from_name(&state),
            expires_at_ms: r.try_get(5)?,
            not_before_ms: r.try_get(6)?,
            last_event: r.try_get(7)?,
            last_event_at_ms: r.try_get(8)?,
            last_error: r.try_get(9)?,
        });
    }
    let rows = client
        .query(
            concat!(
                "SELECT w.id, w.host, w.pid, w.capacity, ",
                ms!("w.started_at"),
                ", ",
                ms!("w.heartbeat_at"),
                ", ",
                ms!("w.stopped_at"),
                ", (SELECT count(*) FROM fleet_leases l
                    WHERE l.owner = w.id AND l.expires_at > now())
                 FROM fleet_workers w ORDER BY w.id DESC LIMIT 1000"
            ),
            &[],
        )
        .await?;
    let mut workers = Vec::with_capacity(rows.len());
    for r in &rows {
        let pid: i64 = r.try_get(2)?;
        let capacity: i64 = r.try_get(3)?;
        let held: i64 = r.try_get(7)?;
        workers.push(WorkerRow {
            id: WorkerId(r.try_get(0)?),
            host: r.try_get(1)?,
            pid: u32::try_from(pid).unwrap_or(0),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            started_at_ms: r.try_get(4)?,
            heartbeat_at_ms: r.try_get(5)?,
            stopped_at_ms: r.try_get(6)?,
            accounts_held: held.max(0).unsigned_abs(),
        });
    }
    Ok(FleetStatus {
        now_ms: now,
        accounts,
        workers,
    })
}
