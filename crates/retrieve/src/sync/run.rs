//! What one run of one account carries around, and storing fetched messages.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use inbound_store::{MessageId, PendingAction, StoreBackend};

use crate::account::Account;
use crate::backend::BackendError;
use crate::events::{Events, NotDelivered, Progress, Report, Skipped};

/// The store, shared by runs and subscriptions: either backend (the SQLite
/// [`Store`](inbound_store::Store) or, with the store's `postgres` feature, `PgStore`).
pub type SharedStore = Arc<Mutex<Box<dyn StoreBackend>>>;

/// Shares `store` (either backend) for runs, subscriptions and deliverers.
pub fn share(store: impl StoreBackend + 'static) -> SharedStore {
    share_boxed(Box::new(store))
}

/// Shares a store already boxed, as [`StoreLocation::open`](inbound_store::StoreLocation::open)
/// gives it.
pub fn share_boxed(store: Box<dyn StoreBackend>) -> SharedStore {
    Arc::new(Mutex::new(store))
}

/// Flush buffered messages to the store once they hold this many bytes.
pub(crate) const FLUSH_BYTES: usize = 8 * 1024 * 1024;

/// The largest message retrieved when the account sets no `max_message_size`: 256 MiB.
/// A larger one is skipped from its announced size, before download, like one over the
/// account's maximum (the clients refuse to buffer more anyway).
pub(crate) const HARD_MESSAGE_LIMIT: u64 = crate::backend::net::DEFAULT_MESSAGE_LIMIT;

/// Why a run stopped.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The server failed.
    Backend(BackendError),
    /// The store failed.
    Store(inbound_store::Error),
    /// The server lacks something required.
    Unsupported(String),
}

impl From<BackendError> for RunError {
    fn from(e: BackendError) -> Self {
        RunError::Backend(e)
    }
}

impl From<inbound_store::Error> for RunError {
    fn from(e: inbound_store::Error) -> Self {
        RunError::Store(e)
    }
}

/// One run (one connection attempt) of one account.
pub(crate) struct Run<'a> {
    pub(crate) account: &'a Account,
    pub(crate) store: &'a SharedStore,
    pub(crate) events: &'a mut dyn Events,
    pub(crate) report: &'a mut Report,
    pub(crate) progress: Progress,
    /// Folders this run made sure exist.
    pub(crate) ensured: HashSet<String>,
}

/// A message this run stored (or found stored under the same server ref).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredItem {
    pub(crate) key: u32,
    pub(crate) id: MessageId,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        account: &'a Account,
        store: &'a SharedStore,
        events: &'a mut dyn Events,
        report: &'a mut Report,
    ) -> Self {
        Self {
            account,
            store,
            events,
            report,
            progress: Progress::default(),
            ensured: HashSet::new(),
        }
    }

    /// Runs `f` with the store locked (never across an await).
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn StoreBackend) -> inbound_store::Result<T>,
    ) -> Result<T, RunError> {
        // A panic elsewhere while holding the lock cannot leave a half-written transaction
        // (SQLite rolls it back), so a poisoned lock is still usable.
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut **store).map_err(RunError::Store)
    }

    /// Fails when this process may no longer act on the account's server (a fleet worker
    /// whose lease was lost or taken over); called before every action on the server.
    pub(crate) fn check_fence(&self) -> Result<(), RunError> {
        self.with_store(|st| st.check_fence(&self.account.name))
    }

    /// The pending action ids of these stored messages, by message id.
    pub(crate) fn pending_ids(
        &self,
        ids: &[MessageId],
        action: &PendingAction,
    ) -> Result<HashMap<MessageId, i64>, RunError> {
        let wanted: HashSet<MessageId> = ids.iter().copied().collect();
        let pending = self.with_store(|s| s.pending_actions(&self.account.name))?;
        Ok(pending
            .into_iter()
            .filter(|p| wanted.contains(&p.message) && &p.action == action)
            .map(|p| (p.message, p.id))
            .collect())
    }

    /// Marks pending actions done, in one store transaction. Actions already completed (by
    /// another run) are skipped.
    pub(crate) fn complete(&self, ids: impl IntoIterator<Item = i64>) -> Result<(), RunError> {
        let ids: Vec<i64> = ids.into_iter().collect();
        self.with_store(|s| s.complete_actions(&ids))?;
        Ok(())
    }

    /// Records a refused action: it stays pending for the next run.
    pub(crate) fn fail(&mut self, ids: &[i64], error: &BackendError) -> Result<(), RunError> {
        let text = error.to_string();
        for &id in ids {
            self.with_store(|s| s.fail_action(id, &text))?;
        }
        self.note_error(format!(
            "server action failed for {} message(s), left pending: {text}",
            ids.len()
        ));
        Ok(())
    }

    pub(crate) fn note_error(&mut self, text: String) {
        tracing::warn!(account = %self.account.name, "{text}");
        self.events.on_error(&text);
        self.report.errors.push(text);
    }

    pub(crate) fn skip(&mut self, id: String, size: u64) {
        tracing::info!(account = %self.account.name, %id, size, "message larger than max_message_size skipped");
        let skipped = Skipped { id, size };
        self.events.on_skipped(&skipped);
        self.report.skipped_too_large.push(skipped);
        self.message_done(0);
    }

    pub(crate) fn message_done(&mut self, bytes: u64) {
        self.progress.messages_done += 1;
        self.progress.bytes_done = self.progress.bytes_done.saturating_add(bytes);
        self.events.on_progress(&self.progress);
    }

    /// Records a message asked for and not stored in this run (it stays on the server,
    /// untouched, for the next run).
    pub(crate) fn not_delivered(&mut self, id: String, reason: String) {
        tracing::warn!(account = %self.account.name, %id, %reason, "message not delivered; asked for again next run");
        self.report.not_delivered.push(NotDelivered { id, reason });
        self.message_done(0);
    }

    /// Whether a message of `size` bytes (as announced, or as downloaded) is over the
    /// account's `max_message_size`, or over [`HARD_MESSAGE_LIMIT`] when that is unset.
    pub(crate) fn too_large(&self, size: u64) -> bool {
        size > self.account.max_message_size.unwrap_or(HARD_MESSAGE_LIMIT)
    }
}
