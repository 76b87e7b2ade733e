//! `inbound webhooks`: the outbox's deliveries (list, requeue) and a signed test event;
//! and the deliverer `watch` and `fetch` run beside retrieval.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use inbound_retrieve::SubscriptionState;
use inbound_retrieve::delivery::{
    Deliverer, DelivererConfig, DeliveryReport, RetryPolicy, Sink, WebhookSink, parse_duration,
};
use inbound_store::{Delivery, DeliveryFilter, RetrySelection};
use serde_json::{Value, json};

use crate::app::{self, App};
use crate::config::ConfigFile;
use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_OK};
use crate::output::{Align, Table, clip, print_json, rfc3339};

/// `inbound webhooks ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// List deliveries of events to webhooks and the --exec hook, oldest first.
    List {
        /// Only those that failed: dead ones and pending ones that failed at least once.
        #[arg(long)]
        failed: bool,
        /// JSON: an array of {id, event_id, type, account, message, target, state,
        /// attempts, next_attempt, last_status, last_error, created, updated}.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Requeue a delivery (by the ID `list` shows), or with --all every dead one: tried
    /// again by the next `watch` or `fetch`, attempts counted afresh. Requeuing a delivery
    /// of a webhook stopped by HTTP 410 starts that webhook again.
    Retry {
        /// The delivery's ID.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead delivery.
        #[arg(long)]
        all: bool,
    },
    /// Send a signed sample message.received event to a webhook and print its answer.
    Test {
        /// The webhook's name.
        name: String,
    },
}

/// Runs a `webhooks` command.
pub(crate) fn command(app: &App, cmd: WebhooksCommand) -> CliResult<u8> {
    let config = app.config()?;
    match cmd {
        WebhooksCommand::List {
            failed,
            json,
            limit,
        } => {
            let filter = if failed {
                DeliveryFilter::Failed
            } else {
                DeliveryFilter::All
            };
            let rows = match app.open_existing_store(&config)? {
                Some(store) => store.list_deliveries(filter, limit)?,
                None => Vec::new(),
            };
            if json {
                let list: Vec<Value> = rows.iter().map(delivery_json).collect();
                print_json(&list)?;
            } else if rows.is_empty() {
                if !app.quiet {
                    eprintln!("no deliveries{}", if failed { " failed" } else { "" });
                }
            } else {
                print!("{}", table(&rows));
            }
            Ok(EXIT_OK)
        }
        WebhooksCommand::Retry { id, all } => {
            let mut store = app
                .open_existing_store(&config)?
                .ok_or_else(|| CliError::usage("there is no store yet: nothing to retry"))?;
            let which = match (id, all) {
                (Some(id), _) => RetrySelection::One(id),
                (None, _) => RetrySelection::AllDead,
            };
            let n = store.retry_deliveries(which)?;
            if let (Some(id), 0) = (id, n) {
                return Err(CliError::usage(format!("no delivery with ID {id}")));
            }
            if !app.quiet {
                eprintln!(
                    "requeued {n} deliver{}; the next `inbound watch` or `inbound fetch` sends {}",
                    if n == 1 { "y" } else { "ies" },
                    if n == 1 { "it" } else { "them" }
                );
            }
            Ok(EXIT_OK)
        }
        WebhooksCommand::Test { name } => {
            let Some(webhook) = config.webhooks.iter().find(|w| w.name == name) else {
                let known: Vec<&str> = config.webhooks.iter().map(|w| w.name.as_str()).collect();
                return Err(CliError::usage(if known.is_empty() {
                    format!("no webhook named {name:?}: no [[webhook]] is configured")
                } else {
                    format!("no webhook named {name:?}; known: {}", known.join(", "))
                }));
            };
            let secret = webhook
                .secret_from_env()
                .map_err(|e| CliError::usage(e.to_string()))?;
            let sink = WebhookSink::new(webhook.clone(), secret)
                .map_err(|e| CliError::usage(e.to_string()))?;
            match app::block_on(sink.send_test())? {
                Ok((id, answer)) => {
                    println!("webhook-id: {id}");
                    println!("status: {}", answer.status);
                    if !answer.body.trim().is_empty() {
                        println!(
                            "body: {}",
                            crate::output::escape_terminal(&clip(answer.body.trim(), 200))
                        );
                    }
                    Ok(if (200..300).contains(&answer.status) {
                        EXIT_OK
                    } else {
                        EXIT_FAILED
                    })
                }
                Err(e) => Err(CliError::failed(format!("webhook {name}: {e}"))),
            }
        }
    }
}

fn ms_to_rfc3339(ms: i64) -> String {
    rfc3339(ms.div_euclid(1000))
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event.id,
        "type": d.event.kind,
        "account": d.event.account,
        "message": d.event.message.map(|m| m.0),
        "target": d.target,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_attempt": (d.state == inbound_store::DeliveryState::Pending)
            .then(|| ms_to_rfc3339(d.next_at_ms)),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created": ms_to_rfc3339(d.created_at_ms),
        "updated": ms_to_rfc3339(d.updated_at_ms),
    })
}

fn table(rows: &[Delivery]) -> String {
    let mut t = Table::new(&[
        ("ID", Align::Right),
        ("EVENT", Align::Left),
        ("TYPE", Align::Left),
        ("ACCOUNT", Align::Left),
        ("TARGET", Align::Left),
        ("STATE", Align::Left),
        ("ATTEMPTS", Align::Right),
        ("LAST ERROR", Align::Left),
    ]);
    for d in rows {
        t.row(vec![
            d.id.to_string(),
            d.event.id.clone(),
            d.event.kind.clone(),
            d.event.account.clone(),
            d.target.clone(),
            d.state.as_str().to_owned(),
            d.attempts.to_string(),
            clip(d.last_error.as_deref().unwrap_or(""), 60),
        ]);
    }
    t.render()
}

/// The webhook sinks of the configuration (their secrets read now).
///
/// # Errors
/// A usage error for a secret that is unset or malformed, or a URL or CA file that cannot
/// be used.
pub(crate) fn webhook_sinks(config: &ConfigFile) -> CliResult<Vec<Arc<dyn Sink>>> {
    config
        .webhooks
        .iter()
        .map(|w| {
            let secret = w
                .secret_from_env()
                .map_err(|e| CliError::usage(e.to_string()))?;
            let sink =
                WebhookSink::new(w.clone(), secret).map_err(|e| CliError::usage(e.to_string()))?;
            Ok(Arc::new(sink) as Arc<dyn Sink>)
        })
        .collect()
}

/// The variables the webhooks read secrets from: hidden from `--exec` like the accounts'.
pub(crate) fn secret_env_vars(config: &ConfigFile) -> Vec<String> {
    config
        .webhooks
        .iter()
        .map(|w| w.secret_env.clone())
        .collect()
}

/// A deliverer of `store`'s outbox to `sinks`, its new targets recorded now (before any
/// mail is stored), or `None` without sinks.
///
/// # Errors
/// A store error.
pub(crate) fn deliverer(
    store: &inbound_retrieve::SharedStore,
    sinks: Vec<Arc<dyn Sink>>,
) -> CliResult<Option<Arc<Deliverer>>> {
    if sinks.is_empty() {
        return Ok(None);
    }
    let d = Deliverer::new(store.clone(), sinks, DelivererConfig::default());
    d.fan_out()
        .map_err(|e| CliError::failed(format!("delivering events: {e}")))?;
    Ok(Some(Arc::new(d)))
}

/// A line about what a round of deliveries did, for `fetch`.
pub(crate) fn report_line(r: &DeliveryReport) -> String {
    let mut line = format!(
        "delivered {} event{}",
        r.delivered,
        if r.delivered == 1 { "" } else { "s" }
    );
    if r.retrying > 0 {
        line.push_str(&format!(
            "; {} failed and will be retried by the next `watch` or `fetch`",
            r.retrying
        ));
    }
    if r.dead > 0 {
        line.push_str(&format!(
            "; {} given up (see `inbound webhooks list --failed`)",
            r.dead
        ));
    }
    line
}

/// A `--exec-retry-delay` / `--exec-max-age` value.
pub(crate) fn duration_arg(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err("expected a duration such as 500ms, 30s, 15m, 24h or 7d".to_owned()),
    }
}

/// The retry policy of the `--exec` hook.
pub(crate) fn exec_retry(
    first_delay: Duration,
    max_age: Duration,
    max_attempts: Option<u32>,
) -> RetryPolicy {
    RetryPolicy {
        first_delay,
        max_age,
        max_attempts,
    }
}

/// Turns subscription states into `account.failed` and `account.recovered` events, so an
/// operator's system learns that a mailbox stopped (and started again) working: failed when
/// the subscription ends in error or its third reconnection attempt is due, recovered when
/// it is waiting for mail again after that.
pub(crate) struct AccountHealth {
    deliverer: Option<Arc<Deliverer>>,
    failing: HashSet<String>,
    last_error: HashMap<String, String>,
}

/// The reconnection attempt at which an account counts as failed.
const FAILED_AFTER_ATTEMPTS: u32 = 3;

impl AccountHealth {
    /// Events go to `deliverer`'s outbox (none without one).
    pub(crate) fn new(deliverer: Option<Arc<Deliverer>>) -> Self {
        Self {
            deliverer,
            failing: HashSet::new(),
            last_error: HashMap::new(),
        }
    }

    /// Notes a subscription's new state, writing an event when the account's health
    /// changed.
    pub(crate) fn observe(&mut self, account: &str, state: &SubscriptionState) {
        let Some(deliverer) = &self.deliverer else {
            return;
        };
        let failed = match state {
            SubscriptionState::ConnectionLost { error } => {
                self.last_error.insert(account.to_owned(), error.clone());
                None
            }
            SubscriptionState::Reconnecting { attempt, .. }
                if *attempt >= FAILED_AFTER_ATTEMPTS =>
            {
                Some(self.last_error.get(account).cloned().unwrap_or_default())
            }
            SubscriptionState::Failed { error } => Some(error.clone()),
            SubscriptionState::Subscribed | SubscriptionState::Resumed { .. } => {
                if self.failing.remove(account) {
                    let data = json!({ "state": state.name() });
                    if let Err(e) = deliverer.record_event("account.recovered", account, &data) {
                        tracing::warn!(error = %e, account, "recording account.recovered");
                    }
                }
                None
            }
            _ => None,
        };
        if let Some(error) = failed {
            if self.failing.insert(account.to_owned()) {
                let data = json!({ "state": state.name(), "error": error });
                if let Err(e) = deliverer.record_event("account.failed", account, &data) {
                    tracing::warn!(error = %e, account, "recording account.failed");
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_account_fails_once_and_recovers_once() {
        let store = inbound_retrieve::share(inbound_store::Store::open_in_memory(None).unwrap());
        let d = Arc::new(Deliverer::new(
            store.clone(),
            Vec::new(),
            DelivererConfig::default(),
        ));
        let mut health = AccountHealth::new(Some(d));
        let lost = SubscriptionState::ConnectionLost {
            error: "connection reset".into(),
        };
        let retry = |attempt| SubscriptionState::Reconnecting {
            attempt,
            delay: Duration::from_secs(1),
        };
        for s in [
            &lost,
            &retry(1),
            &retry(2),
            &SubscriptionState::Resumed { caught_up: 0 },
        ] {
            health.observe("work", s);
        }
        assert!(
            store.lock().unwrap().list_events(10).unwrap().is_empty(),
            "a blip is no failure"
        );
        for s in [&lost, &retry(1), &retry(2), &retry(3), &retry(4)] {
            health.observe("work", s);
        }
        health.observe("work", &SubscriptionState::Resumed { caught_up: 2 });
        let events = store.lock().unwrap().list_events(10).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["account.failed", "account.recovered"]);
        assert!(
            events[0]
                .data
                .as_deref()
                .unwrap()
                .contains("connection reset")
        );
        assert_eq!(events[0].account, "work");
    }
}
