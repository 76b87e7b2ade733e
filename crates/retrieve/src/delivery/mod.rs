//! Delivering new mail to applications: a transactional outbox, signed webhooks, hooks.
//!
//! Every stored message has a `message.received` event in the store's outbox, written in
//! the transaction that stored it ([`inbound_store::outbox`]). A [`Deliverer`] hands the
//! events to its [`Sink`]s: [`WebhookSink`] POSTs them as JSON signed per Standard Webhooks
//! 1.0 ([`sign`]); the command line adds its `--exec` hook. Each delivery is retried with
//! exponential backoff and jitter ([`RetryPolicy`]) until it succeeds or is given up (dead),
//! with the same event id every time, so at least once: a receiver drops duplicates by
//! `webhook-id`.
//!
//! This module builds bodies and signatures and keeps the books; the HTTP goes through
//! [`inbound_net::webhook`].

mod config;
mod deliverer;
pub mod payload;
pub mod sign;

pub use config::{
    DEFAULT_MAX_AGE, DEFAULT_RETRY_DELAY, DEFAULT_TIMEOUT_SECS, MAX_RETRY_DELAY, RetryPolicy,
    Webhook, WebhookConfig, WebhookConfigErrors, parse_duration, valid_target_name,
};
pub use deliverer::{
    Attempt, Deliverer, DelivererConfig, DeliveryItem, DeliveryReport, Sink, Waker, WebhookSink,
};
pub use sign::{SecretError, WebhookSecret};

/// What can go wrong setting up or running delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] inbound_store::Error),
    /// A webhook's HTTP client could not be made.
    #[error("webhook {name}: {source}")]
    Client {
        /// The webhook.
        name: String,
        /// Why.
        #[source]
        source: inbound_net::webhook::WebhookError,
    },
    /// A webhook's secret is missing or malformed.
    #[error("webhook {name}: {reason}")]
    Secret {
        /// The webhook.
        name: String,
        /// What is wrong (never the secret).
        reason: String,
    },
}

impl Webhook {
    /// Reads the secret from the environment variable `secret_env` names.
    ///
    /// # Errors
    /// [`DeliveryError::Secret`] when it is unset or not `whsec_` and base64.
    pub fn secret_from_env(&self) -> Result<WebhookSecret, DeliveryError> {
        let value = std::env::var(&self.secret_env).map_err(|_| DeliveryError::Secret {
            name: self.name.clone(),
            reason: format!(
                "the environment variable {} (secret_env) is not set",
                self.secret_env
            ),
        })?;
        WebhookSecret::parse(&value).map_err(|e| DeliveryError::Secret {
            name: self.name.clone(),
            reason: format!("{}: {e}", self.secret_env),
        })
    }
}
