//! The deliverer: fans events out, claims due deliveries, delivers them through their
//! targets ([`Sink`]s) with bounded concurrency, and records each outcome.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use inbound_net::TlsConfig;
use inbound_net::rt;
use inbound_net::webhook::{WebhookClient, WebhookRequest, WebhookResponse};
use inbound_store::outbox::{MESSAGE_RECEIVED, new_event_id, now_ms};
use inbound_store::{
    Delivery, DeliveryOutcome, DeliveryState, OutboxEvent, StoredMessage, TargetSpec,
};

use super::config::{RetryPolicy, Webhook};
use super::sign::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecret};
use super::{DeliveryError, payload};
use crate::sync::run::SharedStore;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered (`status`: the HTTP status, for a webhook).
    Delivered {
        /// The HTTP status, if any.
        status: Option<u16>,
    },
    /// Not delivered: try again per the target's [`RetryPolicy`].
    Failed {
        /// The HTTP status, if an answer came.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
    /// The target is gone for good (HTTP 410): stop delivering to it.
    Gone {
        /// What it said.
        error: String,
    },
}

/// An event with what a target needs to deliver it.
#[derive(Debug, Clone)]
pub struct DeliveryItem {
    /// The delivery row (its event, target, attempt count).
    pub delivery: Delivery,
    /// The stored message of a `message.received` event (`None` for other events).
    pub message: Option<StoredMessage>,
}

/// Somewhere events are delivered: a webhook, a hook command.
pub trait Sink: Send + Sync {
    /// The target's name, unique among targets (the delivery rows carry it).
    fn name(&self) -> &str;
    /// Only the events of these accounts (`None`: all).
    fn accounts(&self) -> Option<&[String]> {
        None
    }
    /// Which event types it takes (default: `message.received` only).
    fn wants(&self, kind: &str) -> bool {
        kind == MESSAGE_RECEIVED
    }
    /// When to retry and give up.
    fn retry(&self) -> RetryPolicy;
    /// The longest one attempt can take: a claimed row is not taken again before then.
    fn max_attempt_time(&self) -> Duration;
    /// Whether its deliveries go one at a time, oldest first (a hook command that expects
    /// messages in order), rather than [`DelivererConfig::concurrency`] at once.
    fn in_order(&self) -> bool {
        false
    }
    /// Makes one attempt. Must end within [`Sink::max_attempt_time`].
    fn deliver<'a>(&'a self, item: &'a DeliveryItem) -> BoxFuture<'a, Attempt>;
}

/// Deliverer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelivererConfig {
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Rows claimed per round.
    pub batch: usize,
    /// How often to look for new events when nothing wakes the deliverer.
    pub idle_poll: Duration,
}

impl Default for DelivererConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch: 64,
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// What a round of [`Deliverer::deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub delivered: u64,
    /// Failed, to be retried.
    pub retrying: u64,
    /// Given up (dead), including those of a target that went away.
    pub dead: u64,
}

/// Delivers the outbox's events to a set of [`Sink`]s.
pub struct Deliverer {
    store: SharedStore,
    sinks: Vec<Arc<dyn Sink>>,
    config: DelivererConfig,
    wake_tx: futures::channel::mpsc::Sender<()>,
    wake_rx: Mutex<Option<futures::channel::mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        f.debug_struct("Deliverer")
            .field("sinks", &names)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Wakes a running [`Deliverer`] (new mail was stored). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Waker(futures::channel::mpsc::Sender<()>);

impl Waker {
    /// Makes the deliverer look for new events now.
    pub fn wake(&self) {
        let _ = self.0.clone().try_send(());
    }
}

fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Box<dyn inbound_store::StoreBackend>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Deliverer {
    /// A deliverer of `store`'s outbox to `sinks` (names must be unique).
    pub fn new(store: SharedStore, sinks: Vec<Arc<dyn Sink>>, config: DelivererConfig) -> Self {
        let (wake_tx, wake_rx) = futures::channel::mpsc::channel(1);
        Self {
            store,
            sinks,
            config,
            wake_tx,
            wake_rx: Mutex::new(Some(wake_rx)),
        }
    }

    /// A handle that wakes [`Deliverer::run_until`].
    pub fn waker(&self) -> Waker {
        Waker(self.wake_tx.clone())
    }

    /// Writes an event that announces no message (`account.failed`, `account.recovered`)
    /// with `data` (a JSON object; `account` is added when delivered) and wakes the
    /// deliverer; returns the event's id.
    ///
    /// # Errors
    /// A store error.
    pub fn record_event(
        &self,
        kind: &str,
        account: &str,
        data: &serde_json::Value,
    ) -> Result<String, DeliveryError> {
        let id = lock(&self.store).record_event(kind, account, Some(&data.to_string()))?;
        self.waker().wake();
        Ok(id)
    }

    fn names(&self) -> Vec<&str> {
        self.sinks.iter().map(|s| s.name()).collect()
    }

    /// Fans new events out to the sinks (recording sinks not seen before, which get the
    /// events from now on). Call once before storing mail, so nothing stored after is
    /// missed by a new sink.
    ///
    /// # Errors
    /// A store error.
    pub fn fan_out(&self) -> Result<usize, DeliveryError> {
        let specs: Vec<TargetSpec<'_>> = self
            .sinks
            .iter()
            .map(|s| TargetSpec {
                name: s.name(),
                accounts: s.accounts(),
            })
            .collect();
        let mut total = 0;
        let mut store = lock(&self.store);
        loop {
            total += store.fan_out_events(&specs, 1000)?;
            if !store.has_new_events()? {
                return Ok(total);
            }
        }
    }

    /// Fans out, then delivers every row due now (retries that fall due meanwhile
    /// included), until none is due.
    ///
    /// # Errors
    /// A store error.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, DeliveryError> {
        let mut report = DeliveryReport::default();
        if self.sinks.is_empty() {
            return Ok(report);
        }
        self.fan_out()?;
        let names = self.names();
        let lease = self
            .sinks
            .iter()
            .map(|s| s.max_attempt_time())
            .max()
            .unwrap_or_default()
            + Duration::from_secs(30);
        loop {
            let claimed = lock(&self.store).claim_due_deliveries(
                &names,
                now_ms(),
                lease.as_millis() as i64,
                self.config.batch,
            )?;
            if claimed.is_empty() {
                return Ok(report);
            }
            // Targets stopped (HTTP 410) so far: their rows in this batch die unsent.
            let stopped: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
            {
                let store = lock(&self.store);
                for name in &names {
                    if let Some(reason) = store.target_stopped(name)? {
                        stopped
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .insert((*name).to_owned(), reason);
                    }
                }
            }
            let (in_order, parallel): (Vec<Delivery>, Vec<Delivery>) =
                claimed.into_iter().partition(|d| {
                    self.sinks
                        .iter()
                        .any(|s| s.name() == d.target && s.in_order())
                });
            let parallel = futures::stream::iter(parallel)
                .map(|d| self.attempt(d, &stopped))
                .buffer_unordered(self.config.concurrency.max(1))
                .collect::<Vec<_>>();
            let stopped_ref = &stopped;
            let in_order = async move {
                let mut out = Vec::with_capacity(in_order.len());
                for d in in_order {
                    out.push(self.attempt(d, stopped_ref).await);
                }
                out
            };
            let (mut outcomes, serial) = futures::future::join(parallel, in_order).await;
            outcomes.extend(serial);
            let outcomes: Vec<DeliveryOutcome> = outcomes.into_iter().collect::<Result<_, _>>()?;
            // One transaction for the batch's outcomes; a crash before it only means these
            // are delivered again (at least once).
            let mut store = lock(&self.store);
            store.finish_deliveries(&outcomes)?;
            for (name, reason) in stopped.into_inner().unwrap_or_else(PoisonError::into_inner) {
                if store.target_stopped(&name)?.is_none() {
                    store.stop_target(&name, &reason)?;
                }
            }
            for o in &outcomes {
                match o.state {
                    DeliveryState::Done => report.delivered += 1,
                    DeliveryState::Pending => report.retrying += 1,
                    DeliveryState::Dead => report.dead += 1,
                }
            }
        }
    }

    /// Delivers until `shutdown` completes: each time mail is stored ([`Deliverer::waker`]),
    /// when a retry falls due, and at least every `idle_poll`. A store error is logged and
    /// tried again after `idle_poll`.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) {
        let mut wake = self
            .wake_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut shutdown = std::pin::pin!(shutdown);
        let names = self.names();
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(error = %e, "delivering events");
            }
            let next = lock(&self.store).next_delivery_due(&names).ok().flatten();
            let idle = self.config.idle_poll;
            let wait = next.map_or(idle, |at| {
                Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(idle)
            });
            let woken = async {
                match wake.as_mut() {
                    Some(rx) => {
                        let _ = futures::future::select(rx.next(), Box::pin(rt::sleep(wait))).await;
                    }
                    None => rt::sleep(wait).await,
                }
            };
            match futures::future::select(shutdown.as_mut(), Box::pin(woken)).await {
                futures::future::Either::Left(_) => return,
                futures::future::Either::Right(_) => {}
            }
        }
    }

    /// One attempt of one claimed row; its outcome, to be recorded.
    async fn attempt(
        &self,
        delivery: Delivery,
        stopped: &Mutex<HashMap<String, String>>,
    ) -> Result<DeliveryOutcome, DeliveryError> {
        let id = delivery.id;
        let outcome = |state, next_at_ms, status, error: Option<String>| DeliveryOutcome {
            id,
            state,
            next_at_ms,
            status,
            error,
        };
        let Some(sink) = self.sinks.iter().find(|s| s.name() == delivery.target) else {
            return Ok(outcome(DeliveryState::Pending, Some(now_ms()), None, None));
        };
        let stopped_by = stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&delivery.target)
            .cloned();
        if let Some(reason) = stopped_by {
            let error = format!("target stopped: {reason}");
            return Ok(outcome(DeliveryState::Dead, None, None, Some(error)));
        }
        if !sink.wants(&delivery.event.kind) {
            return Ok(outcome(DeliveryState::Done, None, None, None));
        }
        let message = if delivery.event.kind == MESSAGE_RECEIVED {
            let found = match delivery.event.message {
                Some(m) => lock(&self.store).get_message(m)?,
                None => None,
            };
            if found.is_none() {
                let error = "the message is no longer stored".to_owned();
                return Ok(outcome(DeliveryState::Dead, None, None, Some(error)));
            }
            found
        } else {
            None
        };
        let item = DeliveryItem { delivery, message };
        let result = sink.deliver(&item).await;
        let d = &item.delivery;
        Ok(match result {
            Attempt::Delivered { status } => {
                tracing::debug!(event = %d.event.id, target = %d.target, attempts = d.attempts, "delivered");
                outcome(DeliveryState::Done, None, status, None)
            }
            Attempt::Gone { error } => {
                tracing::warn!(target = %d.target, %error, "the target is gone: not delivering to it any more (requeue with `webhooks retry`)");
                stopped
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(d.target.clone(), error.clone());
                outcome(DeliveryState::Dead, None, Some(410), Some(error))
            }
            Attempt::Failed { status, error } => {
                let age =
                    Duration::from_millis(u64::try_from(now_ms() - d.created_at_ms).unwrap_or(0));
                match sink.retry().next_delay(d.attempts, age) {
                    Some(delay) => {
                        tracing::info!(event = %d.event.id, target = %d.target, attempts = d.attempts, %error, retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
                        let at = now_ms() + delay.as_millis() as i64;
                        outcome(DeliveryState::Pending, Some(at), status, Some(error))
                    }
                    None => {
                        tracing::warn!(event = %d.event.id, target = %d.target, attempts = d.attempts, %error, "delivery failed; giving up");
                        outcome(DeliveryState::Dead, None, status, Some(error))
                    }
                }
            }
        })
    }
}

/// A webhook: signed JSON POSTs.
#[derive(Debug)]
pub struct WebhookSink {
    webhook: Webhook,
    secret: WebhookSecret,
    client: WebhookClient,
}

impl WebhookSink {
    /// A sink for `webhook`, signing with `secret`.
    ///
    /// # Errors
    /// [`DeliveryError::Client`] when the URL or the CA file cannot be used.
    pub fn new(webhook: Webhook, secret: WebhookSecret) -> Result<Self, DeliveryError> {
        let mut tls = TlsConfig::new();
        if let Some(ca) = &webhook.ca_file {
            tls = tls.with_ca_file(ca);
        }
        let client =
            WebhookClient::new(&webhook.url, &tls).map_err(|source| DeliveryError::Client {
                name: webhook.name.clone(),
                source,
            })?;
        Ok(Self {
            webhook,
            secret,
            client,
        })
    }

    /// Its settings.
    pub fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    /// Signs and POSTs `body` as event `event_id`; returns the answer.
    ///
    /// # Errors
    /// When no answer came ([`inbound_net::webhook::WebhookError`]).
    pub async fn post(
        &self,
        event_id: &str,
        body: Vec<u8>,
    ) -> Result<WebhookResponse, inbound_net::webhook::WebhookError> {
        let timestamp = now_ms() / 1000;
        let signature = self.secret.sign(event_id, timestamp, &body);
        let headers = [
            (ID_HEADER, event_id.to_owned()),
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, signature),
        ];
        self.client
            .post(WebhookRequest {
                headers: &headers,
                body,
                timeout: self.webhook.timeout,
            })
            .await
    }

    /// Sends a signed sample `message.received` event (a fresh event id, made-up message)
    /// and returns the answer, for `webhooks test`.
    ///
    /// # Errors
    /// When no answer came.
    pub async fn send_test(
        &self,
    ) -> Result<(String, WebhookResponse), inbound_net::webhook::WebhookError> {
        let now = now_ms();
        let id = new_event_id(now);
        let body = serde_json::json!({
            "type": MESSAGE_RECEIVED,
            "timestamp": payload::rfc3339_ms(now),
            "data": {
                "account": "test",
                "folder": "INBOX",
                "id": 0,
                "message_id": "test@inbound.invalid",
                "subject": "Inbound webhook test",
                "from": [{"name": "Inbound", "address": "test@inbound.invalid"}],
                "to": [], "cc": [], "reply_to": [],
                "date": payload::rfc3339(now / 1000),
                "text": "A test event from `inbound webhooks test`.",
                "html": null,
                "attachments": [],
                "test": true,
            },
        });
        let answer = self.post(&id, body.to_string().into_bytes()).await?;
        Ok((id, answer))
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.webhook.name
    }

    fn accounts(&self) -> Option<&[String]> {
        self.webhook.accounts.as_deref()
    }

    fn wants(&self, _kind: &str) -> bool {
        true
    }

    fn retry(&self) -> RetryPolicy {
        self.webhook.retry
    }

    fn max_attempt_time(&self) -> Duration {
        self.webhook.timeout
    }

    fn deliver<'a>(&'a self, item: &'a DeliveryItem) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let event: &OutboxEvent = &item.delivery.event;
            let body = match &item.message {
                Some(m) => payload::message_received(event, m, self.webhook.include_raw),
                None => payload::account_event(event),
            };
            match self.post(&event.id, body.to_string().into_bytes()).await {
                Ok(answer) if (200..300).contains(&answer.status) => Attempt::Delivered {
                    status: Some(answer.status),
                },
                Ok(answer) if answer.status == 410 => Attempt::Gone {
                    error: format!("HTTP 410 Gone from {}", self.client.url()),
                },
                Ok(answer) => Attempt::Failed {
                    status: Some(answer.status),
                    error: format!("HTTP {}: {}", answer.status, answer.body.trim()),
                },
                Err(e) => Attempt::Failed {
                    status: None,
                    error: e.to_string(),
                },
            }
        })
    }
}
