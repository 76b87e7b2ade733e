//! Subscriptions: one task per account that waits for new mail (IMAP IDLE, or polling at an
//! interval chosen explicitly), stores it exactly as a run would, applies the after-receive
//! action, and calls a handler once per new message. Lost connections are re-established
//! with backoff and a fresh OAuth token, and mail that arrived meanwhile is caught up.
//!
//! A subscription never goes silently deaf: IDLE is renewed every `idle_renew_secs` (5
//! minutes by default) with `DONE`, whose answer must come within `timeout_secs`, so a
//! connection a middlebox dropped without a FIN or RST is declared lost within the
//! renewal interval plus the timeout. A watchdog that does not depend on the server
//! speaking backs this up: one IDLE (start, wait, `DONE`) that has not ended after the
//! interval plus twice the timeout is a lost connection too. TCP keepalive (see
//! [`inbound_net::Keepalive`]) lets the kernel notice dead paths as well. Each loss is
//! reported ([`SubscriptionState::ConnectionLost`], then
//! [`SubscriptionState::Reconnecting`] with the delay), and after the reconnect every
//! message that arrived meanwhile is fetched from the last stored UID, exactly once,
//! before IDLE resumes ([`SubscriptionState::Reconnected`], then
//! [`SubscriptionState::Resumed`] with the count).
//!
//! A server that is throttling (see [`throttle`](crate::backend::throttle): too many
//! connections, `Request is throttled`, `[IN-USE]`, ...) is not hammered: the next
//! connection waits for the server's suggested time (kept within 1 s to 1 hour), or for a
//! random 60 to 90 s when it named none, instead of the ordinary backoff, and such waits do
//! not count towards giving up ([`SubscriptionState::Throttled`]).

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

use crate::account::{Account, MailProtocol};
use crate::backend::{
    BackendError, Connector, ErrorKind, IdleOutcome, ImapSession, StopHandle, StopSignal,
};
use crate::error::{Error, Result};
use crate::events::{Events, NewMail, Report};
use crate::retriever::{Retriever, refresh_token, retryable};
use crate::sync::imap;
use crate::sync::run::{Run, RunError};

/// The id of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// What a subscription reports to its state handler.
///
/// After a loss the states come in this order: [`ConnectionLost`](Self::ConnectionLost),
/// [`Reconnecting`](Self::Reconnecting) (both again for each failed attempt), then
/// [`Reconnected`](Self::Reconnected) and [`Resumed`](Self::Resumed). Its `Display` is the
/// text `inbound watch` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionState {
    /// Connected for the first time, caught up, and waiting for mail.
    Subscribed,
    /// The connection to the server was lost (or could not be made): a read or write
    /// failed, the server closed it, `DONE` was not answered within the timeout at an IDLE
    /// renewal, or the watchdog saw the connection silent for too long.
    ConnectionLost {
        /// What happened.
        error: String,
    },
    /// The server is throttling this client (after
    /// [`ConnectionLost`](Self::ConnectionLost)): waiting before the next connection
    /// attempt, longer than an ordinary reconnect. Such waits never exhaust the retries.
    Throttled {
        /// How long until the attempt: the server's suggested wait (within 1 s and 1 hour),
        /// or a random 60 to 90 s when it named none.
        delay: Duration,
        /// Whether the delay is the server's suggestion.
        hint: bool,
    },
    /// Waiting before the next connection attempt.
    Reconnecting {
        /// The attempt about to be made, counted from 1 since the connection was last up.
        attempt: u32,
        /// How long until it is made (the backoff delay).
        delay: Duration,
    },
    /// Connected again and caught up (followed by [`Resumed`](Self::Resumed)).
    Reconnected,
    /// Waiting for mail again after a reconnect.
    Resumed {
        /// Messages the catch-up stored and handed to the handler: what arrived while the
        /// connection was lost.
        caught_up: u64,
    },
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

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subscribed => f.write_str("watching for new mail"),
            Self::ConnectionLost { error } => write!(f, "connection to server lost: {error}"),
            Self::Reconnecting { attempt, delay } => write!(
                f,
                "reconnecting in {:.1} s (attempt {attempt})",
                delay.as_secs_f64()
            ),
            Self::Throttled { delay, hint } => write!(
                f,
                "server is throttling; retrying in {:.1} s{}",
                delay.as_secs_f64(),
                if *hint { " (server's hint)" } else { "" }
            ),
            Self::Reconnected => f.write_str("reconnected"),
            Self::Resumed { caught_up } => write!(
                f,
                "resumed; {caught_up} message{} caught up",
                if *caught_up == 1 { "" } else { "s" }
            ),
            Self::RetryExhausted { error } => {
                write!(f, "giving up after repeated failures: {error}")
            }
            Self::Failed { error } => write!(f, "failed: {error}"),
            Self::Unsubscribed => f.write_str("stopped"),
        }
    }
}

impl SubscriptionState {
    /// A short name for the state, as `inbound watch --json` writes it in its `state` key:
    /// `subscribed`, `lost`, `throttled`, `reconnecting`, `reconnected`, `resumed`,
    /// `retry_exhausted`, `failed`, `unsubscribed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::ConnectionLost { .. } => "lost",
            Self::Throttled { .. } => "throttled",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Reconnected => "reconnected",
            Self::Resumed { .. } => "resumed",
            Self::RetryExhausted { .. } => "retry_exhausted",
            Self::Failed { .. } => "failed",
            Self::Unsubscribed => "unsubscribed",
        }
    }
}

/// The shortest wait for a server that is throttling, whatever its hint says.
const MIN_THROTTLE_WAIT: Duration = Duration::from_secs(1);
/// The wait for a server that is throttling without saying how long: from this ...
pub(crate) const THROTTLE_WAIT: Duration = Duration::from_secs(60);
/// ... plus up to this much at random, so throttled clients do not return together.
const THROTTLE_JITTER: Duration = Duration::from_secs(30);

/// How long to wait before connecting again to a server that is throttling: its `hint`
/// kept within 1 s and 1 hour, or without one 60 s plus `jitter` (a fraction from 0 to 1,
/// clamped) of 30 s.
pub(crate) fn throttle_delay(hint: Option<Duration>, jitter: f64) -> Duration {
    match hint {
        Some(hint) => hint.clamp(MIN_THROTTLE_WAIT, crate::backend::throttle::MAX_HINT),
        None => {
            let jitter = if jitter.is_finite() {
                jitter.clamp(0.0, 1.0)
            } else {
                0.0
            };
            THROTTLE_WAIT + THROTTLE_JITTER.mul_f64(jitter)
        }
    }
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
        if account.protocol == MailProtocol::Pop3 && account.poll_interval.is_none() {
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

    /// Tells the account's subscription to stop (it ends cleanly, in the background) and
    /// forgets it at once, so the account can be subscribed again right away. Returns its
    /// task to wait for, or `None` when there was none.
    pub fn stop(&self, account: &str) -> Option<Task<()>> {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account)?;
        entry.stop.stop();
        Some(entry.task)
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
        if matches!(
            state,
            SubscriptionState::ConnectionLost { .. } | SubscriptionState::Throttled { .. }
        ) {
            tracing::warn!(account = %self.account.name, %state, "subscription state");
        } else {
            tracing::info!(account = %self.account.name, %state, "subscription state");
        }
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
                MailProtocol::Imap => {
                    self.imap_connection(&mut connected_before, &mut backoff)
                        .await
                }
                MailProtocol::Pop3 => self.poll_runs(&mut connected_before, &mut backoff).await,
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
                    if error.kind() == ErrorKind::Throttled {
                        // Not a broken mailbox: wait as told, without using up the retries
                        // (and without a new token: the old one was not refused).
                        let hint = error.retry_after();
                        let delay = throttle_delay(hint, rand::random::<f64>());
                        self.report(&SubscriptionState::Throttled {
                            delay,
                            hint: hint.is_some(),
                        });
                        if self.wait(delay).await {
                            break;
                        }
                        continue;
                    }
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
                    self.report(&SubscriptionState::Reconnecting {
                        attempt: backoff.attempts(),
                        delay,
                    });
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
            RunError::Backend(e) => {
                crate::retriever::note_refused_grant(
                    self.retriever.store(),
                    &self.account.name,
                    &e,
                );
                Outcome::Fatal(e.to_string())
            }
            RunError::Store(e) => Outcome::Fatal(format!("store error: {e}")),
            RunError::Unsupported(what) => Outcome::Fatal(what),
        }
    }

    /// The first sync of a connection succeeded, storing `caught_up` messages.
    fn connected(&self, connected_before: &mut bool, backoff: &mut Backoff, caught_up: u64) {
        backoff.reset();
        if !*connected_before {
            crate::retriever::note_signed_in(self.retriever.store(), &self.account.name);
        }
        if *connected_before {
            self.report(&SubscriptionState::Reconnected);
            self.report(&SubscriptionState::Resumed { caught_up });
        } else {
            self.report(&SubscriptionState::Subscribed);
        }
        *connected_before = true;
    }

    /// One IDLE, ended by mail, by the renewal interval (`DONE` answered within the
    /// timeout), or by the stop signal; under a watchdog that declares the connection lost
    /// when it has not ended after the interval plus twice the timeout (IDLE's `+` and
    /// `DONE`'s answer may each take up to the timeout), whatever the server does.
    async fn idle_once(&self, session: &mut C::Imap) -> Result<IdleOutcome, BackendError> {
        let renew = self
            .account
            .idle_renew
            .min(self.retriever.options.idle_refresh);
        let watchdog = renew + self.account.timeout * 2;
        match rt::timeout(watchdog, session.idle(renew, &self.stop)).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::new(
                ErrorKind::Timeout,
                format!(
                    "IDLE did not end within {} s (renewal every {} s, timeout {} s): \
                     the connection is silent",
                    watchdog.as_secs(),
                    renew.as_secs(),
                    self.account.timeout.as_secs()
                ),
            )),
        }
    }

    /// One catch-up sync under the account lock; returns how many messages it stored.
    async fn sync_imap(&mut self, session: &mut C::Imap) -> Result<u64, RunError> {
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
        imap::sync(session, &mut run).await?;
        Ok(report.fetched)
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
            let fetched = match self.sync_imap(&mut session).await {
                Ok(fetched) => fetched,
                Err(e) => return self.classify(e),
            };
            if first {
                self.connected(connected_before, backoff, fetched);
                first = false;
            }
            if self.stop.is_stopped() {
                let _ = session.logout().await;
                return Outcome::Stopped;
            }
            if use_idle {
                loop {
                    match self.idle_once(&mut session).await {
                        Ok(IdleOutcome::NewMail) => break,
                        // Re-issue IDLE before the server's timeout; expunges need nothing.
                        Ok(IdleOutcome::Timeout | IdleOutcome::Expunge) => {}
                        Ok(IdleOutcome::Stopped) => {
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
            let (result, fetched) = {
                let lock = self.retriever.account_lock(&self.account.name);
                let _guard = lock.lock().await;
                let mut report = Report {
                    account: self.account.name.clone(),
                    folder: self.account.folder.clone(),
                    ..Report::default()
                };
                let result = self
                    .retriever
                    .attempt(
                        &self.account,
                        &self.credentials,
                        &mut self.events,
                        &mut report,
                    )
                    .await;
                (result, report.fetched)
            };
            if let Err(e) = result {
                return self.classify(e);
            }
            if first {
                self.connected(connected_before, backoff, fetched);
                first = false;
            }
            if self.wait(interval).await {
                return Outcome::Stopped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttling_server_s_hint_is_kept_within_a_second_and_an_hour() {
        let ms = Duration::from_millis;
        assert_eq!(throttle_delay(Some(ms(1500)), 0.5), ms(1500));
        assert_eq!(throttle_delay(Some(ms(0)), 0.5), Duration::from_secs(1));
        assert_eq!(throttle_delay(Some(ms(200)), 0.0), Duration::from_secs(1));
        assert_eq!(
            throttle_delay(Some(Duration::from_secs(86_400)), 0.0),
            Duration::from_secs(3600)
        );
        assert_eq!(
            throttle_delay(Some(Duration::MAX), 1.0),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn without_a_hint_the_wait_is_60_to_90_seconds() {
        let s = Duration::from_secs;
        assert_eq!(throttle_delay(None, 0.0), s(60));
        assert_eq!(throttle_delay(None, 1.0), s(90));
        assert_eq!(throttle_delay(None, 0.5), s(75));
        for jitter in [-1.0, 2.0, f64::NAN, f64::INFINITY] {
            let delay = throttle_delay(None, jitter);
            assert!((s(60)..=s(90)).contains(&delay), "{jitter}: {delay:?}");
        }
        for _ in 0..100 {
            let delay = throttle_delay(None, rand::random::<f64>());
            assert!((s(60)..=s(90)).contains(&delay), "{delay:?}");
        }
    }

    #[test]
    fn the_throttled_state_reads_well() {
        let hinted = SubscriptionState::Throttled {
            delay: Duration::from_millis(12_300),
            hint: true,
        };
        assert_eq!(
            hinted.to_string(),
            "server is throttling; retrying in 12.3 s (server's hint)"
        );
        assert_eq!(hinted.name(), "throttled");
        let guessed = SubscriptionState::Throttled {
            delay: Duration::from_secs(75),
            hint: false,
        };
        assert_eq!(
            guessed.to_string(),
            "server is throttling; retrying in 75.0 s"
        );
    }
}
