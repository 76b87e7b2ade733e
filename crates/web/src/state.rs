//! What every request shares: the store, the accounts, their live status, the runner of
//! retrievals, the access rules and the event channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use inbound_retrieve::{Account, Events, Progress, Report, SharedStore};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::access::{Access, Sessions};
use crate::error::ApiError;
use crate::live::Live;

/// The state handlers see.
pub(crate) type Shared = Arc<AppState>;

/// The counts of an account's last retrieval.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunCounts {
    /// The run's id.
    pub run: u64,
    /// When it ended (seconds since the Unix epoch).
    pub finished_at: i64,
    /// Messages newly stored.
    pub fetched: u64,
    /// Messages skipped as too large.
    pub skipped: u64,
    /// Messages not delivered (asked for again next time).
    pub not_delivered: u64,
    /// Messages deleted on the server.
    pub deleted: u64,
    /// Messages moved on the server.
    pub moved: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// True when the run succeeded.
    pub ok: bool,
}

/// An account's live status, as the overview and `GET /api/v1/accounts` show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AccountStatus {
    /// `off` (no subscription, nothing running), `retrieving`, or a subscription's state.
    pub state: String,
    /// The last thing that happened, for people.
    pub last_event: Option<String>,
    /// The current run's progress: messages done and total.
    pub progress: Option<(u64, u64)>,
    /// The last retrieval.
    pub last_run: Option<RunCounts>,
    /// The last error.
    pub last_error: Option<String>,
}

/// The state an account shows: `needs_login` when the token endpoint refused its refresh
/// token (and no run is going on), else its live state.
pub(crate) fn shown_state(
    s: &AccountStatus,
    refused: Option<&inbound_store::NeedsLogin>,
) -> String {
    match refused {
        Some(_) if s.state != "retrieving" => NEEDS_LOGIN.to_owned(),
        // Signed in again since (`inbound accounts login` in another process).
        None if s.state == NEEDS_LOGIN => "off".to_owned(),
        _ => s.state.clone(),
    }
}

/// The state of an account whose refresh token was refused.
const NEEDS_LOGIN: &str = "needs_login";

/// One event of `GET /api/v1/events`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveEvent {
    /// `state` (an account's status changed) or `message` (a message arrived).
    pub kind: &'static str,
    /// The account.
    pub account: String,
    /// The account's state after the event.
    pub state: String,
    /// What happened, for people.
    pub detail: String,
    /// The account's last error, if any.
    pub last_error: Option<String>,
    /// The running retrieval's progress, if one is running.
    pub progress: Option<RunProgress>,
    /// The last retrieval's counts, if there was one.
    pub last_run: Option<RunCounts>,
    /// The last retrieval as the overview's cell shows it (empty before the first).
    pub last_run_text: String,
}

/// A running retrieval's progress in a [`LiveEvent`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RunProgress {
    /// Messages done.
    pub done: u64,
    /// Messages the run will fetch (0 until known).
    pub total: u64,
}

/// A retrieval's counts for people: `2026-12-07 10:00: 2 new, 0 skipped, 0 not delivered`.
pub(crate) fn last_run_text(r: &RunCounts) -> String {
    format!(
        "{}: {} new, {} skipped, {} not delivered{}",
        crate::json::short_date(r.finished_at),
        r.fetched,
        r.skipped,
        r.not_delivered,
        if r.ok { "" } else { " (failed)" }
    )
}

/// Everything the app holds.
pub(crate) struct AppState {
    pub(crate) store: SharedStore,
    pub(crate) accounts: RwLock<Vec<Account>>,
    pub(crate) status: Mutex<HashMap<String, AccountStatus>>,
    pub(crate) access: Access,
    pub(crate) sessions: Sessions,
    pub(crate) live: Option<Arc<dyn Live>>,
    pub(crate) events: broadcast::Sender<LiveEvent>,
    pub(crate) next_run: AtomicU64,
    pub(crate) secure_cookies: bool,
    /// The fleet's leases, when the store is shared by `inbound watch` workers.
    pub(crate) fleet: Option<Arc<dyn inbound_store::lease::LeaseStore>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("access_configured", &self.access.is_configured())
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl AppState {
    /// The accounts, in configuration order.
    pub(crate) fn accounts(&self) -> Vec<Account> {
        self.accounts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The account named `name`.
    pub(crate) fn account(&self, name: &str) -> Option<Account> {
        self.accounts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|a| a.name == name)
            .cloned()
    }

    /// The status of `name` (`off` when nothing happened yet).
    pub(crate) fn status_of(&self, name: &str) -> AccountStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .unwrap_or_else(|| AccountStatus {
                state: "off".to_owned(),
                ..AccountStatus::default()
            })
    }

    /// The mail side, or 503 when this app does not talk to servers.
    pub(crate) fn live(&self) -> Result<Arc<dyn Live>, ApiError> {
        self.live
            .clone()
            .ok_or_else(|| ApiError::unavailable("this server does not talk to mail servers"))
    }

    /// Changes the status of `name` and tells the event stream.
    pub(crate) fn update(
        &self,
        name: &str,
        kind: &'static str,
        f: impl FnOnce(&mut AccountStatus),
    ) {
        let event = {
            let mut all = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            let status = all.entry(name.to_owned()).or_insert_with(|| AccountStatus {
                state: "off".to_owned(),
                ..AccountStatus::default()
            });
            f(status);
            LiveEvent {
                kind,
                account: name.to_owned(),
                state: status.state.clone(),
                detail: status.last_event.clone().unwrap_or_default(),
                last_error: status.last_error.clone(),
                progress: status
                    .progress
                    .map(|(done, total)| RunProgress { done, total }),
                last_run: status.last_run.clone(),
                last_run_text: status
                    .last_run
                    .as_ref()
                    .map(last_run_text)
                    .unwrap_or_default(),
            }
        };
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    /// Runs `f` with the store on a blocking thread.
    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn inbound_store::StoreBackend) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let store = store.lock().unwrap_or_else(PoisonError::into_inner);
            f(&**store)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` with the store, writable, on a blocking thread.
    pub(crate) async fn with_store_mut<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn inbound_store::StoreBackend) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut **store)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Replaces the account named `old` with `new` (either may be `None`: add, remove).
    pub(crate) fn replace_account(&self, old: Option<&str>, new: impl Into<Option<Account>>) {
        let new = new.into();
        let mut all = self
            .accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let at = old.and_then(|o| all.iter().position(|a| a.name == o));
        match (at, new) {
            (Some(i), Some(a)) => all[i] = a,
            (Some(i), None) => {
                all.remove(i);
            }
            (None, Some(a)) => all.push(a),
            (None, None) => {}
        }
    }

    /// Starts a retrieval of `account` in the background: its run id.
    pub(crate) fn start_run(self: &Arc<Self>, account: Account) -> Result<u64, ApiError> {
        let Some(live) = self.live.clone() else {
            return Err(ApiError::unavailable("this server does not retrieve mail"));
        };
        let run = self.next_run.fetch_add(1, Ordering::Relaxed) + 1;
        let name = account.name.clone();
        let mut busy = false;
        self.update(&name, "state", |s| {
            if s.state == "retrieving" {
                busy = true;
                return;
            }
            s.state = "retrieving".to_owned();
            s.progress = Some((0, 0));
            s.last_event = Some(format!("retrieval {run} started"));
        });
        if busy {
            return Err(ApiError::conflict(format!(
                "{name} is being retrieved already"
            )));
        }
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let events = Box::new(RunEvents {
                app: Arc::clone(&app),
                account: name.clone(),
            });
            let sign_in = account.sign_in_command();
            let result = live.run(account, events).await;
            // A run that found the refresh token refused marked the account in the store.
            let refused = if result.is_err() {
                let account = name.clone();
                app.with_store(move |s| Ok(s.needs_login(&account)?.is_some()))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(account = %name, error = ?e, "reading the sign-in mark");
                        false
                    })
            } else {
                false
            };
            app.update(&name, "state", |s| {
                s.state = if refused { NEEDS_LOGIN } else { "off" }.to_owned();
                s.progress = None;
                let (report, error) = match result {
                    Ok(report) => (report, None),
                    Err(inbound_retrieve::Error::Backend { report, source, .. }) => {
                        (*report, Some(source.to_string()))
                    }
                    Err(e) => (Report::default(), Some(e.to_string())),
                };
                s.last_run = Some(RunCounts {
                    run,
                    finished_at: now(),
                    fetched: report.fetched,
                    skipped: report.skipped_too_large.len() as u64,
                    not_delivered: report.not_delivered.len() as u64,
                    deleted: report.deleted,
                    moved: report.moved,
                    bytes: report.bytes,
                    ok: error.is_none(),
                });
                s.last_event = Some(match &error {
                    None => format!("retrieval {run} done: {} new", report.fetched),
                    Some(_) if refused => {
                        format!("retrieval {run} failed: needs sign-in: run `{sign_in}`")
                    }
                    Some(_) => format!("retrieval {run} failed"),
                });
                if error.is_some() {
                    s.last_error = error;
                }
            });
        });
        Ok(run)
    }
}

/// Progress of a background run, into the account's status.
struct RunEvents {
    app: Shared,
    account: String,
}

impl Events for RunEvents {
    fn on_progress(&mut self, p: &Progress) {
        self.app.update(&self.account, "state", |s| {
            s.progress = Some((p.messages_done, p.messages_total));
        });
    }

    fn on_message(&mut self, m: &inbound_retrieve::NewMail<'_>) {
        let subject = m.email.subject.clone().unwrap_or_default();
        self.app.update(&self.account, "message", |s| {
            s.last_event = Some(format!("new message: {subject}"));
        });
    }

    fn on_error(&mut self, error: &str) {
        let error = error.to_owned();
        self.app.update(&self.account, "state", |s| {
            s.last_error = Some(error);
        });
    }
}
