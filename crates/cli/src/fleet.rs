//! `inbound watch` on a PostgreSQL store: the process joins the fleet of workers sharing the
//! store's accounts (see [`inbound_retrieve::fleet`]) and reports new mail as a lone
//! `watch` does.

use std::future::Future;
use std::sync::Arc;

use inbound_retrieve::delivery::Deliverer;
use inbound_retrieve::fleet::{Fleet, FleetConfig};
use inbound_retrieve::{Account, Connector, Retriever, SubscriptionState};
use inbound_store::lease::{Fences, LeaseStore};

use crate::error::{CliError, CliResult, EXIT_OK};
use crate::watch::{Arrival, EventSender, QUEUE_LIMIT, WatchEvent, WatchOptions, handle};

/// The fleet a worker joins.
pub(crate) struct FleetRun {
    /// The lease protocol on the store's database.
    pub(crate) leases: Arc<dyn LeaseStore>,
    /// The leases this process holds, as the store checks them.
    pub(crate) fences: Arc<Fences>,
    /// `[fleet]`.
    pub(crate) config: FleetConfig,
}

/// Runs this process as a fleet worker for `accounts` until `shutdown`: then it finishes
/// the batches in flight and releases its leases. Returns the exit code.
pub(crate) async fn run_fleet<C: Connector>(
    retriever: Retriever<C>,
    accounts: Vec<Account>,
    fleet: FleetRun,
    options: &WatchOptions,
    deliverer: Option<Arc<Deliverer>>,
    shutdown: impl Future<Output = ()>,
) -> CliResult<u8> {
    let (stop_delivery, delivery_stopped) = tokio::sync::oneshot::channel::<()>();
    let waker = deliverer.as_ref().map(|d| d.waker());
    let mut health = crate::webhooks::AccountHealth::new(deliverer.clone());
    let delivery = deliverer.map(|d| {
        tokio::spawn(async move {
            d.run_until(async {
                let _ = delivery_stopped.await;
            })
            .await;
        })
    });
    let (tx, mut rx) = EventSender::new(QUEUE_LIMIT);
    let state_tx = tx.tx.clone();
    let mail_tx = tx.clone();
    drop(tx);
    let worker = Fleet::new(
        retriever,
        fleet.leases,
        accounts,
        fleet.config,
        move |m| mail_tx.send_mail(Arrival::from_new_mail(m)),
        Arc::new(move |name, state| {
            let _ = state_tx.send(WatchEvent::State(name.to_owned(), state.clone()));
        }),
    );
    let (stop_fleet, fleet_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut stop_fleet = Some(stop_fleet);
    let mut task = tokio::spawn(worker.run(async {
        let _ = fleet_stopped.await;
    }));
    let fences = fleet.fences;
    let mut on_event = |event: WatchEvent| {
        let event = match event {
            // A subscription that failed because this worker no longer holds the account's
            // lease (another worker took it over, or it was not renewed in time) is not the
            // account failing: this worker stopped watching it. No `error:` line, no
            // account.failed event (which nobody would follow with account.recovered).
            WatchEvent::State(name, SubscriptionState::Failed { error })
                if fences.check(&name).is_err() =>
            {
                tracing::info!(account = %name, %error, "stopped: the lease is not this worker's");
                WatchEvent::State(name, SubscriptionState::Unsubscribed)
            }
            other => other,
        };
        if let WatchEvent::State(name, state) = &event {
            health.observe(name, state);
        }
        handle(event, options, waker.as_ref());
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let outcome = loop {
        tokio::select! {
            () = &mut shutdown, if stop_fleet.is_some() => {
                if !options.quiet {
                    eprintln!("stopping: finishing the batches in flight and releasing leases");
                }
                if let Some(stop) = stop_fleet.take() {
                    let _ = stop.send(());
                }
            }
            done = &mut task => break done,
            event = rx.recv() => {
                if let Some(event) = event {
                    on_event(event);
                }
            }
        }
    };
    drop(stop_fleet);
    while let Ok(event) = rx.try_recv() {
        on_event(event);
    }
    let _ = stop_delivery.send(());
    if let Some(task) = delivery {
        let _ = task.await;
    }
    match outcome {
        Ok(Ok(summary)) => {
            tracing::info!(?summary, "fleet worker stopped");
            Ok(EXIT_OK)
        }
        Ok(Err(e)) => Err(CliError::failed(format!("store [store] url: {e}"))),
        Err(e) => Err(CliError::failed(format!("the fleet worker stopped: {e}"))),
    }
}
