//! Subscriptions: one task per account that waits for new mail (IMAP IDLE, or polling at an
//! interval chosen explicitly), stores it exactly as a run would, applies the after-receive
//! action, and calls a handler once per new message. Lost connections are re-established
//! with backoff and a fresh OAuth token, and mail that arrived meanwhile is caught up.

use std::collections::HashMap;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{Either, select};
use inbound_net::Credentials;
use inbound_net::backoff::Backoff;
use inbound_net::rt::{self, Task};

use crate::backend::{BackendError, Connector, IdleEvent, ImapSession, StopHandle, StopSignal};
use crate::config::{Account, Protocol};
use crate::error::{Error, Result};
use crate::events::{Events, NewMail, Report};
use crate::imap;
use crate::retriever::{Retriever, refresh_token, retryable};
use crate::run::{Run, RunError};

/// The id of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// What a subscription reports to its state handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Connected for the first time, caught up, and waiting for mail.
    Subscribed,
    /// The connection was lost (or could not be made); reconnecting after a delay.
    ConnectionLost {
        /// What happened.
        error: String,
    },
    /// Connected again and caught up.
    Reconnected,
    /// Reconnecting failed too many times; the subscription ends (followed by `Failed`).
    RetryExhausted {
        /// The last error.
        error: String,
    },
    /// The subscription ended because of an error it cannot recover from.
    Failed {
        /// What happened.
        error: String,
    },
    /// Ended by [`Subscriptions::unsubscribe`].
    Unsubscribed,
}

/// Called once per new message: `(message)`.
pub type MessageHandler = Arc<dyn Fn(&NewMail<'_>) + Send + Sync>;
/// Called on every state change: `(account name, state)`.
pub type StateHandler = Arc<dyn Fn(&str, &SubscriptionState) + Send + Sync>;

struct Entry {
    id: SubscriptionId,
    stop: StopHandle,
    task: Task<()>,
}

/// Many subscriptions in one process: one lightweight task each.
///
/// Must be used within a tokio runtime (tasks are spawned with [`inbound_net::rt::spawn`]).
pub struct Subscriptions<C> {
    retriever: Retriever<C>,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    next_id: AtomicU64,
    state_handler: StateHandler,
}

impl<C> fmt::Debug for Subscriptions<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        f.debug_struct("Subscriptions")
            .field("accounts", &names)
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Subscriptions<C> {
    /// A manager running subscriptions with `retriever`.
    pub fn new(retriever: Retriever<C>) -> Self {
        Self {
            retriever,
            entries: Arc::default(),
            next_id: AtomicU64::new(1),
            state_handler: Arc::new(|_, _| {}),
        }
    }

    /// The retriever the subscriptions use (for its credential cache, say).
    pub fn retriever(&self) -> &Retriever<C> {
        &self.retriever
    }

    /// Sets the state handler for subscriptions started from now on.
    #[must_use]
    pub fn on_state(
        mut self,
        handler: impl Fn(&str, &SubscriptionState) + Send + Sync + 'static,
    ) -> Self {
        self.state_handler = Arc::new(handler);
        self
    }

    /// Subscribes to the account's folder; `handler` is called once per new message, after
    /// it is durably stored. Subscribing to an account that already has a running
    /// subscription keeps that one and returns its id.
    ///
    /// # Errors
    /// [`Error::Credentials`] when the credentials cannot be resolved; [`Error::Unsupported`]
    /// for a POP3 account without a poll interval.
    pub fn subscribe(
        &self,
        account: Account,
        handler: impl Fn(&NewMail<'_>) + Send + Sync + 'static,
    ) -> Result<SubscriptionId> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = entries.get(&account.name) {
            if !e.task.is_finished() {
                return Ok(e.id);
            }
        }
        if account.protocol == Protocol::Pop3 && account.poll_interval.is_none() {
            return Err(Error::Unsupported {
                account: account.name,
                what: "POP3 has no IDLE: set poll_interval_secs to subscribe by polling".into(),
            });
        }
        let credentials = self.retriever.credentials(&account)?;
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (stop, signal) = StopSignal::new();
        let name = account.name.clone();
        let worker = Worker {
            retriever: self.retriever.clone(),
            account,
            credentials,
            events: HandlerEvents(Arc::new(handler)),
            state: self.state_handler.clone(),
            stop: signal,
        };
        let task = rt::spawn(worker.run());
        entries.insert(name, Entry { id, stop, task });
        Ok(id)
    }

    /// Ends the account's subscription cleanly (DONE, LOGOUT) and waits for it. Returns false
    /// when there was none.
    pub async fn unsubscribe(&self, account: &str) -> bool {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
        match entry {
            Some(entry) => {
                entry.stop.stop();
                entry.task.join().await;
                true
            }
            None => false,
        }
    }

    /// Ends every subscription.
    pub async fn unsubscribe_all(&self) {
        let names = self.accounts();
        for name in names {
            self.unsubscribe(&name).await;
        }
    }

    /// The accounts with a subscription (running or ended by an error).
    pub fn accounts(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// True when the account's subscription is running.
    pub fn is_active(&self, account: &str) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .is_some_and(|e| !e.task.is_finished())
    }
}

/// Events that call the message handler.
struct HandlerEvents(MessageHandler);

impl Events for HandlerEvents {
    fn on_message(&mut self, message: &NewMail<'_>) {
        (self.0)(message);
    }
}

/// How one connection of a subscription ended.
enum Outcome {
    Stopped,
    Lost(BackendError),
    Fatal(String),
}

struct Worker<C> {
    retriever: Retriever<C>,
    account: Account,
    credentials: Credentials,
    events: HandlerEvents,
    state: StateHandler,
    stop: StopSignal,
}

impl<C: Connector> Worker<C> {
    fn report(&self, state: &SubscriptionState) {
        tracing::info!(account = %self.account.name, ?state, "subscription state");
        (self.state)(&self.account.name, state);
    }

    async fn run(mut self) {
        let mut backoff = Backoff::new(self.retriever.options.backoff);
        let mut connected_before = false;
        loop {
            if self.stop.is_stopped() {
                break;
            }
            let outcome = match self.account.protocol {
                Protocol::Imap => {
                    self.imap_connection(&mut connected_before, &mut backoff)
                        .await
                }
                Protocol::Pop3 => self.poll_runs(&mut connected_before, &mut backoff).await,
            };
            match outcome {
                Outcome::Stopped => break,
                Outcome::Fatal(error) => {
                    self.report(&SubscriptionState::Failed { error });
                    return;
                }
                Outcome::Lost(error) => {
                    let text = error.to_string();
                    self.report(&SubscriptionState::ConnectionLost {
                        error: text.clone(),
                    });
                    // A reconnect uses a fresh token: the old one may be why we lost it.
                    if let Credentials::OAuth { provider, .. } = &self.credentials {
                        provider.invalidate();
                    }
                    let Some(delay) = backoff.next_delay() else {
                        self.report(&SubscriptionState::RetryExhausted {
                            error: text.clone(),
                        });
                        self.report(&SubscriptionState::Failed { error: text });
                        return;
                    };
                    if self.wait(delay).await {
                        break;
                    }
                }
            }
        }
        self.report(&SubscriptionState::Unsubscribed);
    }

    /// Sleeps for `delay`; true when stopped meanwhile.
    async fn wait(&self, delay: Duration) -> bool {
        let sleep = pin!(rt::sleep(delay));
        let stop = pin!(self.stop.wait());
        matches!(select(sleep, stop).await, Either::Right(_))
    }

    fn classify(&self, error: RunError) -> Outcome {
        match error {
            RunError::Backend(e) if retryable(&e, &self.credentials) => {
                refresh_token(&e, &self.credentials);
                Outcome::Lost(e)
            }
            RunError::Backend(e) => Outcome::Fatal(e.to_string()),
            RunError::Store(e) => Outcome::Fatal(format!("store error: {e}")),
            RunError::Unsupported(what) => Outcome::Fatal(what),
        }
    }

    fn connected(&self, connected_before: &mut bool, backoff: &mut Backoff) {
        backoff.reset();
        self.report(&if *connected_before {
            SubscriptionState::Reconnected
        } else {
            SubscriptionState::Subscribed
        });
        *connected_before = true;
    }

    /// One catch-up sync under the account lock.
    async fn sync_imap(&mut self, session: &mut C::Imap) -> Result<(), RunError> {
        let lock = self.retriever.account_lock(&self.account.name);
        let _guard = lock.lock().await;
        let mut report = Report {
            account: self.account.name.clone(),
            folder: self.account.folder.clone(),
            ..Report::default()
        };
        let mut run = Run::new(
            &self.account,
            &self.retriever.store,
            &mut self.events,
            &mut report,
        );
        imap::sync(session, &mut run).await
    }

    /// One IMAP connection: connect, catch up, then IDLE (or poll) until it breaks.
    async fn imap_connection(
        &mut self,
        connected_before: &mut bool,
        backoff: &mut Backoff,
    ) -> Outcome {
        let connector = self.retriever.connector.clone();
        let mut session = match connector
            .connect_imap(&self.account, &self.credentials)
            .await
        {
            Ok(s) => s,
            Err(e) => return self.classify(RunError::Backend(e)),
        };
        let use_idle = session.capabilities().idle && self.account.poll_interval.is_none();
        if !use_idle && self.account.poll_interval.is_none() {
            let _ = session.logout().await;
            return Outcome::Fatal(
                "the server does not support IDLE: set poll_interval_secs to subscribe by polling"
                    .into(),
            );
        }
        let mut first = true;
        loop {
            if let Err(e) = self.sync_imap(&mut session).await {
                return self.classify(e);
            }
            if first {
                self.connected(connected_before, backoff);
                first = false;
            }
            if self.stop.is_stopped() {
                let _ = session.logout().await;
                return Outcome::Stopped;
            }
            if use_idle {
                loop {
                    let idle_max = self.retriever.options.idle_refresh;
                    match session.idle(idle_max, &self.stop).await {
                        Ok(IdleEvent::NewMail) => break,
                        // Re-issue IDLE before the server's timeout; expunges need nothing.
                        Ok(IdleEvent::Timeout | IdleEvent::Expunge) => {}
                        Ok(IdleEvent::Stopped) => {
                            let _ = session.logout().await;
                            return Outcome::Stopped;
                        }
                        Err(e) => return self.classify(RunError::Backend(e)),
                    }
                }
            } else if let Some(interval) = self.account.poll_interval {
                if self.wait(interval).await {
                    let _ = session.logout().await;
                    return Outcome::Stopped;
                }
            }
        }
    }

    /// Polling with a fresh connection each time (POP3).
    async fn poll_runs(&mut self, connected_before: &mut bool, backoff: &mut Backoff) -> Outcome {
        let Some(interval) = self.account.poll_interval else {
            return Outcome::Fatal("polling needs poll_interval_secs".into());
        };
        let mut first = true;
        loop {
            let result = {
                let lock = self.retriever.account_lock(&self.account.name);
                let _guard = lock.lock().await;
                let mut report = Report {
                    account: self.account.name.clone(),
                    folder: self.account.folder.clone(),
                    ..Report::default()
                };
                self.retriever
                    .attempt(
                        &self.account,
                        &self.credentials,
                        &mut self.events,
                        &mut report,
                    )
                    .await
            };
            if let Err(e) = result {
                return self.classify(e);
            }
            if first {
                self.connected(connected_before, backoff);
                first = false;
            }
            if self.wait(interval).await {
                return Outcome::Stopped;
            }
        }
    }
}
