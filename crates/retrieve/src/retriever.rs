//! [`Retriever`]: runs retrievals, retrying over fresh connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use inbound_net::Credentials;
use inbound_net::backoff::{Backoff, BackoffConfig, Jitter};
use inbound_net::rt;

use crate::account::{Account, MailProtocol};
use crate::backend::net::NetConnector;
use crate::backend::{BackendError, Connector, ErrorKind};
use crate::credentials::{CredentialError, DEFAULT_COMMAND_TIMEOUT, Resolver};
use crate::error::{Error, Result};
use crate::events::{Events, NoEvents, Report};
use crate::sync::run::{Run, RunError, SharedStore};
use crate::sync::{imap, pop3};

/// How runs and subscriptions retry and wait.
#[derive(Debug, Clone)]
pub struct RetrieveConfig {
    /// Connection attempts per run (the first one included) before a run fails. Default 3;
    /// 0 counts as 1.
    pub max_attempts: u32,
    /// Delays between attempts, and between a subscription's reconnects. Default: from 1 s
    /// doubling up to 300 s, full jitter, at most 10 delays per run.
    pub backoff: BackoffConfig,
    /// The longest a subscription stays in one IDLE before renewing it, for every account
    /// (servers may drop an IDLE after 30 minutes, RFC 2177). Each account renews after its
    /// own `idle_renew_secs` (5 minutes by default) when that is shorter, which it is
    /// unless this is lowered below it. Default 25 minutes.
    pub idle_refresh: Duration,
    /// TLS settings for OAuth token endpoints. Default: the Mozilla root certificates.
    pub token_tls: inbound_net::TlsConfig,
    /// How long a secret command (`password_command`, ...) may run before it is killed.
    /// Default [`DEFAULT_COMMAND_TIMEOUT`] (30 s).
    pub secret_command_timeout: Duration,
}

impl Default for RetrieveConfig {
    /// 3 attempts; 1 s to 5 min backoff with full jitter, 10 attempts for subscriptions;
    /// IDLE re-issued every 25 minutes; secret commands killed after 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: BackoffConfig {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(300),
                max_attempts: Some(10),
                jitter: Jitter::Full,
            },
            idle_refresh: Duration::from_secs(25 * 60),
            token_tls: inbound_net::TlsConfig::new(),
            secret_command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

/// Retrieves mail for accounts into a store. Cheap to clone; clones share the store, the
/// connector, the credential cache and the per-account locks.
///
/// Two runs of the same account never overlap within one process: the second waits.
pub struct Retriever<C> {
    pub(crate) store: SharedStore,
    pub(crate) connector: Arc<C>,
    pub(crate) options: RetrieveConfig,
    credentials: Arc<Mutex<HashMap<String, Credentials>>>,
    locks: Arc<Mutex<HashMap<String, Arc<futures::lock::Mutex<()>>>>>,
}

impl<C> Clone for Retriever<C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            connector: self.connector.clone(),
            options: self.options.clone(),
            credentials: self.credentials.clone(),
            locks: self.locks.clone(),
        }
    }
}

impl<C> std::fmt::Debug for Retriever<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Retriever<NetConnector> {
    /// A retriever storing into `store` and connecting to mail servers over the network
    /// ([`NetConnector`]). To share the store with other code, or to connect otherwise, use
    /// [`Retriever::new`].
    pub fn from_store(store: impl inbound_store::StoreBackend + 'static) -> Self {
        Self::new(crate::sync::run::share(store), NetConnector::new())
    }
}

impl<C: Connector> Retriever<C> {
    /// A retriever storing into `store` and connecting with `connector`.
    pub fn new(store: SharedStore, connector: C) -> Self {
        Self {
            store,
            connector: Arc::new(connector),
            options: RetrieveConfig::default(),
            credentials: Arc::default(),
            locks: Arc::default(),
        }
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: RetrieveConfig) -> Self {
        self.options = options;
        self
    }

    /// The store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The options.
    pub fn options(&self) -> &RetrieveConfig {
        &self.options
    }

    /// The account's credentials: resolved once (environment, command, store) and cached, so
    /// an OAuth provider keeps its token between runs. A secret command runs on the calling
    /// thread (killed after [`RetrieveConfig::secret_command_timeout`]); from async code
    /// prefer [`load_credentials`](Self::load_credentials). A refresh token the endpoint
    /// rotates is saved in the store and preferred from then on.
    ///
    /// # Errors
    /// [`Error::Credentials`].
    pub fn credentials(&self, account: &Account) -> Result<Credentials> {
        let mut cache = self
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cache.get(&account.name) {
            return Ok(c.clone());
        }
        let creds = resolve_in_store(
            &self.store,
            account,
            &self.options.token_tls,
            self.options.secret_command_timeout,
        )
        .map_err(Error::Credentials)?;
        cache.insert(account.name.clone(), creds.clone());
        Ok(creds)
    }

    /// [`credentials`](Self::credentials) resolved on a blocking thread, off the async
    /// runtime's workers: a `password_command` that takes its time (up to
    /// [`RetrieveConfig::secret_command_timeout`], then it is killed) holds no other task.
    ///
    /// # Errors
    /// [`Error::Credentials`].
    pub async fn load_credentials(&self, account: &Account) -> Result<Credentials> {
        if let Some(c) = self.cached_credentials(&account.name) {
            return Ok(c);
        }
        let store = self.store.clone();
        let owned = account.clone();
        let tls = self.options.token_tls.clone();
        let timeout = self.options.secret_command_timeout;
        let creds = rt::spawn_blocking(move || resolve_in_store(&store, &owned, &tls, timeout))
            .await
            .unwrap_or_else(|| {
                Err(CredentialError::Interrupted {
                    account: account.name.clone(),
                })
            })
            .map_err(Error::Credentials)?;
        // Another caller may have resolved them meanwhile: the first one stays.
        Ok(self
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account.name.clone())
            .or_insert(creds)
            .clone())
    }

    fn cached_credentials(&self, account: &str) -> Option<Credentials> {
        self.credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .cloned()
    }

    /// Uses these credentials for the account from now on (instead of resolving them).
    pub fn set_credentials(&self, account: &str, credentials: Credentials) {
        self.credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.to_owned(), credentials);
    }

    /// Forgets the cached credentials of an account (after its configuration changed).
    pub fn forget_credentials(&self, account: &str) {
        self.credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
    }

    pub(crate) fn account_lock(&self, account: &str) -> Arc<futures::lock::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account.to_owned())
            .or_default()
            .clone()
    }

    /// Retrieves the account's new mail: finishes leftover server actions, fetches what the
    /// fetch policy selects, stores it, and applies the after-receive action to stored
    /// messages only. A lost connection is retried up to
    /// [`RetrieveConfig::max_attempts`] times; each attempt resumes where the last stopped.
    ///
    /// # Errors
    /// [`Error::Credentials`], [`Error::Store`], [`Error::Unsupported`], or
    /// [`Error::Backend`] (with the partial report) when the server kept failing.
    pub async fn retrieve(&self, account: &Account) -> Result<Report> {
        self.retrieve_with_events(account, &mut NoEvents).await
    }

    /// [`retrieve`](Self::retrieve), telling `events` of the progress: each message stored,
    /// each batch, what was skipped or not delivered.
    ///
    /// # Errors
    /// As [`retrieve`](Self::retrieve).
    pub async fn retrieve_with_events<E: Events>(
        &self,
        account: &Account,
        events: &mut E,
    ) -> Result<Report> {
        let credentials = self.load_credentials(account).await?;
        self.retrieve_with(account, &credentials, events).await
    }

    /// [`retrieve`](Self::retrieve) with the given credentials.
    ///
    /// # Errors
    /// As [`retrieve`](Self::retrieve).
    pub async fn retrieve_with<E: Events>(
        &self,
        account: &Account,
        credentials: &Credentials,
        events: &mut E,
    ) -> Result<Report> {
        let lock = self.account_lock(&account.name);
        let _guard = lock.lock().await;
        let mut report = Report {
            account: account.name.clone(),
            folder: account.folder.clone(),
            ..Report::default()
        };
        let mut backoff = Backoff::new(BackoffConfig {
            max_attempts: None,
            ..self.options.backoff
        });
        let budget = retry_budget(&self.options);
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .attempt(account, credentials, events, &mut report)
                .await;
            let error = match result {
                Ok(()) => {
                    note_signed_in(&self.store, &account.name);
                    events.on_complete(&report);
                    return Ok(report);
                }
                Err(RunError::Store(source)) => {
                    return Err(Error::Store {
                        account: account.name.clone(),
                        source,
                    });
                }
                Err(RunError::Unsupported(what)) => {
                    return Err(Error::Unsupported {
                        account: account.name.clone(),
                        what,
                    });
                }
                Err(RunError::Backend(e)) => e,
            };
            let mut retry = retryable(&error, credentials) && attempt < self.options.max_attempts;
            // A server that is throttling is not asked again sooner than it said (or than a
            // subscription would wait without a hint); when that is longer than this run
            // may still wait, the run gives up now.
            let mut error = error;
            let mut throttled = None;
            if retry && error.kind() == ErrorKind::Throttled {
                let wait =
                    crate::subscribe::throttle_delay(error.retry_after(), rand::random::<f64>());
                let left = budget.saturating_sub(waited);
                if wait > left {
                    error = give_up_throttled(error, wait, left);
                    retry = false;
                } else {
                    throttled = Some(wait);
                }
            }
            if !retry {
                note_refused_grant(&self.store, &account.name, &error);
                return Err(Error::Backend {
                    account: account.name.clone(),
                    source: error,
                    report: Box::new(report),
                });
            }
            let text = format!("attempt {attempt} failed ({error}); reconnecting");
            tracing::warn!(account = %account.name, "{text}");
            events.on_error(&text);
            report.errors.push(text);
            refresh_token(&error, credentials);
            let delay = throttled.or_else(|| backoff.next_delay());
            if let Some(delay) = delay {
                waited += delay;
                rt::sleep(delay).await;
            }
        }
    }

    /// One connection: connect, sync, log out.
    pub(crate) async fn attempt(
        &self,
        account: &Account,
        credentials: &Credentials,
        events: &mut dyn Events,
        report: &mut Report,
    ) -> Result<(), RunError> {
        let mut run = Run::new(account, &self.store, events, report);
        match account.protocol {
            MailProtocol::Imap => {
                let mut session = self.connector.connect_imap(account, credentials).await?;
                imap::sync(&mut session, &mut run).await?;
                if let Err(e) = crate::backend::ImapSession::logout(session).await {
                    tracing::debug!(account = %account.name, error = %e, "LOGOUT failed");
                }
                Ok(())
            }
            MailProtocol::Pop3 => {
                let session = self.connector.connect_pop3(account, credentials).await?;
                pop3::sync(session, &mut run).await
            }
        }
    }

    /// Retrieves several accounts, at most `concurrency` at a time (at least one), each with
    /// its own events from `make_events`. Results are in the order of `accounts`.
    ///
    /// Memory: each account being retrieved holds at most one large message at a time (its
    /// raw bytes, while it is parsed and stored; large attachments are not decoded), so the
    /// memory this takes beyond a fixed base is about `concurrency` x the largest message
    /// (at most 1.5x that; each account's
    /// [`max_message_size`](crate::Account::max_message_size) bounds it).
    pub async fn retrieve_all<E, F>(
        &self,
        accounts: &[Account],
        concurrency: usize,
        mut make_events: F,
    ) -> Vec<(String, Result<Report>)>
    where
        E: Events,
        F: FnMut(&Account) -> E,
    {
        let jobs: Vec<(usize, &Account, E)> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (i, a, make_events(a)))
            .collect();
        let mut results: Vec<(usize, String, Result<Report>)> = futures::stream::iter(jobs)
            .map(|(i, account, mut events)| async move {
                let result = self.retrieve_with_events(account, &mut events).await;
                (i, account.name.clone(), result)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        results.sort_by_key(|r| r.0);
        results.into_iter().map(|(_, n, r)| (n, r)).collect()
    }
}

/// The longest a run waits between its attempts in total: the backoff's delays without
/// jitter for each retry (3 s with the defaults: 1 s, then 2 s).
fn retry_budget(options: &RetrieveConfig) -> Duration {
    let mut plain = Backoff::new(BackoffConfig {
        max_attempts: None,
        jitter: Jitter::None,
        ..options.backoff
    });
    (1..options.max_attempts.max(1))
        .filter_map(|_| plain.next_delay())
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// The error a run ends with when the throttling server asks for a longer wait than the run
/// has left: still [`ErrorKind::Throttled`], saying so.
fn give_up_throttled(error: BackendError, wait: Duration, left: Duration) -> BackendError {
    let asked = match error.retry_after() {
        Some(_) => format!("the server asked to wait {:.1} s", wait.as_secs_f64()),
        None => format!(
            "the server named no wait, so at least {} s",
            crate::subscribe::THROTTLE_WAIT.as_secs()
        ),
    };
    let message = format!(
        "{asked}, more than this run may still wait ({:.1} s); not retrying now, try again \
         later ({})",
        left.as_secs_f64(),
        error.message(),
    );
    BackendError::throttled(message, error.retry_after()).with_source(error)
}

/// Whether a run may reconnect after `error`. An OAuth login failure is retried with a new
/// token, unless the token endpoint refused the grant or the client itself: asking again with
/// the same refresh token cannot succeed (and a provider that detects reuse counts each try).
pub(crate) fn retryable(error: &BackendError, credentials: &Credentials) -> bool {
    error.is_connection_error()
        || (error.kind() == ErrorKind::Auth
            && matches!(credentials, Credentials::OAuth { .. })
            && !oauth_refused(error))
}

/// Whether `error` is the token endpoint refusing the refresh token or the client
/// (`invalid_grant`, `invalid_client`, `unauthorized_client`): only a new sign-in or new
/// settings help.
fn oauth_refused(error: &BackendError) -> bool {
    endpoint_error(error).is_some_and(|e| {
        matches!(
            e,
            "invalid_grant" | "invalid_client" | "unauthorized_client"
        )
    })
}

/// The OAuth error code the token endpoint answered with, when that is what `error` is.
fn endpoint_error(error: &BackendError) -> Option<&str> {
    std::error::Error::source(error)
        .and_then(|s| s.downcast_ref::<inbound_net::OAuthError>())
        .and_then(|e| match e {
            inbound_net::OAuthError::Endpoint { error, .. } => Some(error.as_str()),
            _ => None,
        })
}

/// After a failed run: when the token endpoint refused the refresh token (`invalid_grant`),
/// records in the store that `account` needs a new sign-in (kept across processes, shown by
/// `accounts list` and the web overview, removed by a sign-in or a run that logs in).
pub(crate) fn note_refused_grant(store: &SharedStore, account: &str, error: &BackendError) {
    if endpoint_error(error) != Some("invalid_grant") {
        return;
    }
    // The endpoint's own words (its error and description), not only the login failure.
    let reason = std::error::Error::source(error)
        .map_or_else(|| error.to_string(), |source| source.to_string());
    let result = store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .mark_needs_login(account, &reason);
    if let Err(e) = result {
        tracing::warn!(account, error = %e, "recording that the account needs a new sign-in");
    } else {
        tracing::warn!(
            account,
            "the refresh token was refused: the account needs a new sign-in"
        );
    }
}

/// After a run or connection that logged in: `account` no longer needs a new sign-in.
pub(crate) fn note_signed_in(store: &SharedStore, account: &str) {
    let result = store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear_needs_login(account);
    if let Err(e) = result {
        tracing::warn!(account, error = %e, "clearing the account's needs-sign-in mark");
    }
}

/// Resolves `account`'s credentials, reading stored secrets from `store` and saving rotated
/// refresh tokens there.
pub(crate) fn resolve_in_store(
    store: &SharedStore,
    account: &Account,
    token_tls: &inbound_net::TlsConfig,
    command_timeout: Duration,
) -> std::result::Result<Credentials, CredentialError> {
    let name = account.name.clone();
    let mut lookup = |secret: &str| {
        let store = store.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(store
            .load_account(&name)?
            .and_then(|mut a| a.secrets.remove(secret)))
    };
    Resolver {
        account: &account.name,
        stored: &mut lookup,
        command_timeout,
        rotation: Some(store),
    }
    .credentials(account, token_tls)
}

/// After an authentication failure with OAuth, the next connection must use a new token.
pub(crate) fn refresh_token(error: &BackendError, credentials: &Credentials) {
    if let (ErrorKind::Auth, Credentials::OAuth { provider, .. }) = (error.kind(), credentials) {
        provider.invalidate();
    }
}
