//! Callbacks during a run, and the run's [`Report`].

use inbound_message::Email;
use inbound_store::{MessageId, ServerRef};
use serde::Serialize;

/// Progress of a run, for progress bars. Totals are known once the run has listed the folder
/// and fetched the sizes; they may grow when the run reconnects and finds more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Messages handled so far (stored, found already stored, or skipped).
    pub messages_done: u64,
    /// Messages this run is going to handle.
    pub messages_total: u64,
    /// Bytes downloaded so far.
    pub bytes_done: u64,
    /// Bytes this run is going to download (by the server's sizes).
    pub bytes_total: u64,
}

/// A message newly stored by a run.
#[derive(Debug)]
pub struct NewMail<'a> {
    /// The account.
    pub account: &'a str,
    /// The folder.
    pub folder: &'a str,
    /// The store's id.
    pub id: MessageId,
    /// The message's identity on the server.
    pub server_ref: &'a ServerRef,
    /// The parsed message. Its [`Email::html`] is the HTML body as sent: for an account that
    /// sanitizes, show the sanitized one instead, from
    /// [`Store::get_message`](inbound_store::Store::get_message) or
    /// [`Account::sanitize_mode`](crate::Account::sanitize_mode)`.apply(email)`.
    ///
    /// A message of [`LEAN_MIN_MESSAGE`](inbound_message::LEAN_MIN_MESSAGE) bytes or more is
    /// parsed for the index only ([`Email::parse_lean`]): its attachments of
    /// [`LEAN_MIN_PART`](inbound_message::LEAN_MIN_PART) bytes or more have empty
    /// [`content`](inbound_message::Attachment::content) here; read them from the store
    /// ([`Store::get_message`](inbound_store::Store::get_message)). Its raw bytes are whole.
    pub email: &'a Email,
}

/// A message passed over because it is larger than the account's maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `uid:<n>` (IMAP, with the UIDVALIDITY in [`Report::uidvalidity`]) or `uidl:<id>` (POP3).
    pub id: String,
    /// The size the server reported.
    pub size: u64,
}

/// A message asked for and not stored in this run, and why. Nothing is done to it on the
/// server; the next run asks for it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotDelivered {
    /// `uid:<n>` (IMAP, with the UIDVALIDITY in [`Report::uidvalidity`]) or `uidl:<id>` (POP3).
    pub id: String,
    /// Why: the server refused it (its text), left it out of its answer, sent no or a partial
    /// body, a body whose length is not the announced size, or an answer that could not be
    /// parsed.
    pub reason: String,
}

/// A batch committed (and its server action done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchDone {
    /// Messages newly stored in this batch.
    pub stored: u64,
    /// Messages of this batch that were already stored.
    pub already_stored: u64,
    /// Messages whose server action (delete or move) completed in this batch.
    pub actions_done: u64,
    /// Bytes downloaded in this batch.
    pub bytes: u64,
}

/// What happened in one run of one account. Serializable for `--json` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The account name.
    pub account: String,
    /// The folder.
    pub folder: String,
    /// Messages newly stored.
    pub fetched: u64,
    /// Messages downloaded but found already stored (after a UIDVALIDITY change, or a
    /// repeated run after a crash).
    pub already_stored: u64,
    /// Messages skipped because they are larger than the maximum size (not downloaded).
    pub skipped_too_large: Vec<Skipped>,
    /// Messages asked for and not stored (refused, left out, incomplete): kept on the server
    /// untouched and asked for again by the next run.
    pub not_delivered: Vec<NotDelivered>,
    /// Messages moved on the server.
    pub moved: u64,
    /// Messages deleted on the server.
    pub deleted: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// The folder's UIDVALIDITY (IMAP).
    pub uidvalidity: Option<u32>,
    /// True when the UIDVALIDITY changed since the last run (the folder was re-scanned).
    pub uidvalidity_changed: bool,
    /// Pending actions left over from an earlier run that this run completed.
    pub recovered_actions: u64,
    /// Errors the run recovered from (a reconnect, a refused action left for the next run).
    pub errors: Vec<String>,
}

/// Callbacks during a run. Every method has a no-op default.
pub trait Events: Send {
    /// Progress changed (after every message).
    fn on_progress(&mut self, _progress: &Progress) {}

    /// A message was newly stored (durably; before its server action). Called once per
    /// message over the whole life of the store: a message already stored is not reported
    /// again.
    fn on_message(&mut self, _message: &NewMail<'_>) {}

    /// A message was skipped as too large.
    fn on_skipped(&mut self, _skipped: &Skipped) {}

    /// A batch was committed and its server actions done.
    fn on_batch(&mut self, _batch: &BatchDone) {}

    /// An error the run recovers from (it reconnects, or leaves an action for later).
    fn on_error(&mut self, _error: &str) {}

    /// The run finished successfully.
    fn on_complete(&mut self, _report: &Report) {}
}

/// No callbacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl Events for NoEvents {}

impl<E: Events + ?Sized> Events for &mut E {
    fn on_progress(&mut self, progress: &Progress) {
        (**self).on_progress(progress);
    }
    fn on_message(&mut self, message: &NewMail<'_>) {
        (**self).on_message(message);
    }
    fn on_skipped(&mut self, skipped: &Skipped) {
        (**self).on_skipped(skipped);
    }
    fn on_batch(&mut self, batch: &BatchDone) {
        (**self).on_batch(batch);
    }
    fn on_error(&mut self, error: &str) {
        (**self).on_error(error);
    }
    fn on_complete(&mut self, report: &Report) {
        (**self).on_complete(report);
    }
}
