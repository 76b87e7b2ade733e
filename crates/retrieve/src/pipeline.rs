//! Parsing and storing fetched messages, overlapped: while one unit of messages is written
//! to the store (one transaction, ending in an fsync) on a writer thread, the next unit is
//! fetched and then parsed on all cores.
//!
//! HTML is not sanitized here: the store records how an account that sanitizes wants it
//! done ([`SanitizeHtml`]) and sanitizes each time the message is read, so the costly step
//! (ammonia takes about ten times as long as parsing) is off the retrieval path.
//!
//! Each message's SHA-256 (which the store keeps) is computed with its parse, on the parse
//! threads, so the writer thread does not hash.
//!
//! A *unit* is what one store transaction holds: a batch, or part of one when the batch's
//! bytes pass [`FLUSH_BYTES`](crate::sync::run::FLUSH_BYTES). Units are stored strictly in the
//! order they were fetched (IMAP bookkeeping relies on ascending UIDs), and the caller acts
//! on the server only on units [`Pipeline::step`] or [`Pipeline::finish`] returned as stored.
//! So the exactly-once order is unchanged: fetch, store, then delete or move.
//!
//! Parsing runs on scoped threads and blocks until it is done; a step waits for the previous
//! unit's writer before it hands over the next one, so at most one transaction is open and
//! units are committed in order. Nothing here awaits: the waits are blocking joins, run
//! through [`inbound_net::rt::run_blocking`] so a multi-threaded runtime moves its other
//! tasks off the waiting worker.

use std::num::NonZeroUsize;
use std::sync::PoisonError;

use bytes::Bytes;
use inbound_message::Email;
use inbound_store::{Inserted, NewMessage, PendingAction, SanitizeHtml, ServerRef, raw_sha256};

use crate::events::{BatchDone, NewMail};
use crate::sync::run::{Run, RunError, SharedStore, StoredItem};

/// Parsing more bytes than this is worth a second thread.
const PARALLEL_BYTES: usize = 64 * 1024;

/// A unit of this many bytes or more is stored before the next message is fetched
/// ([`Pipeline::step`]), so that a large message is not held while the next one arrives.
const LARGE_UNIT: usize = crate::sync::run::FLUSH_BYTES;

/// Most threads used for parsing.
const MAX_PARSE_THREADS: usize = 4;

/// A downloaded message waiting to be parsed and stored.
pub(crate) struct Fetched {
    /// UID (IMAP) or message number (POP3).
    pub(crate) key: u32,
    pub(crate) server_ref: ServerRef,
    pub(crate) body: Bytes,
}

/// A message parsed and ready to store.
pub(crate) struct Prepared {
    key: u32,
    server_ref: ServerRef,
    email: Email,
    /// The SHA-256 of the raw message, computed with the parse so the writer thread does
    /// not hash.
    sha256: [u8; 32],
    /// The decoded size of each attachment of `email` ([`Email::parse_lean`] leaves large
    /// ones undecoded, without content).
    attachment_sizes: Vec<u64>,
}

/// Messages for one store transaction.
#[derive(Default)]
pub(crate) struct Unit {
    fetched: Vec<Fetched>,
    bytes: usize,
    /// Messages (IMAP UIDs) of this unit found stored already by content; they are acted on
    /// with the unit but not stored.
    duplicates: Vec<u32>,
    /// Bytes downloaded for this unit (duplicates included).
    downloaded: u64,
}

impl Unit {
    pub(crate) fn push(&mut self, item: Fetched) {
        self.bytes += item.body.len();
        self.downloaded += item.body.len() as u64;
        self.fetched.push(item);
    }

    pub(crate) fn push_duplicate(&mut self, key: u32, len: u64) {
        self.duplicates.push(key);
        self.downloaded += len;
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A parsed unit waiting for its transaction.
struct Parsed {
    items: Vec<Prepared>,
    duplicates: Vec<u32>,
    downloaded: u64,
    last_of_batch: bool,
}

/// A unit that is in the store: the caller may now act on it on the server.
pub(crate) struct Stored {
    pub(crate) items: Vec<StoredItem>,
    pub(crate) duplicates: Vec<u32>,
    /// The unit ends a batch: report the batch after acting on it
    /// ([`Pipeline::acted`]).
    pub(crate) last_of_batch: bool,
    stored: u64,
    already_stored: u64,
    downloaded: u64,
}

/// Stores unit `n` on a writer thread while unit `n + 1` is fetched and parsed.
#[derive(Default)]
pub(crate) struct Pipeline {
    /// The unit being stored, on its own thread.
    writer: Option<Writer>,
    /// The batch being reported: summed over its units as they are acted on.
    batch: Option<BatchDone>,
}

/// A writer thread: gives the unit back with the outcome of its transaction.
type Writer = std::thread::JoinHandle<(Parsed, Result<Vec<Inserted>, RunError>)>;

impl Pipeline {
    /// Parses `unit` (on all cores), waits for the unit handed over before (if any) to be
    /// stored, and hands `unit` to a writer thread: it is stored while the caller goes on
    /// fetching, and returned by the next step or by [`finish`](Self::finish). Returns the
    /// units that were stored, so the caller may act on them on the server.
    ///
    /// A unit of [`LARGE_UNIT`] bytes or more is stored before this returns (and returned
    /// with the one before it): the next message is not fetched while a large one is held
    /// for its transaction, so one account holds one large message at a time.
    pub(crate) fn step(
        &mut self,
        run: &mut Run<'_>,
        unit: Unit,
        last_of_batch: bool,
        action: Option<&PendingAction>,
    ) -> Result<Vec<Stored>, RunError> {
        let large = unit.bytes >= LARGE_UNIT;
        let parsed = Parsed {
            // CPU work: the runtime's other tasks (other accounts, subscriptions) move to
            // another worker meanwhile.
            items: inbound_net::rt::run_blocking(|| prepare_all(unit.fetched)),
            duplicates: unit.duplicates,
            downloaded: unit.downloaded,
            last_of_batch,
        };
        let mut stored = Vec::with_capacity(2);
        match self.wait() {
            // A unit whose transaction failed stops the run before anything after it is
            // stored: IMAP's highest stored UID must never pass a message not stored.
            Some((_, Err(e))) => return Err(e),
            Some((p, inserted)) => stored.push(report(run, p, inserted)?),
            None => {}
        }
        self.writer = Some(spawn_writer(run, parsed, action));
        if large {
            stored.extend(self.finish(run)?);
        }
        Ok(stored)
    }

    /// Waits for the last unit to be stored and returns it.
    pub(crate) fn finish(&mut self, run: &mut Run<'_>) -> Result<Option<Stored>, RunError> {
        self.wait()
            .map(|(p, inserted)| report(run, p, inserted))
            .transpose()
    }

    /// Waits for the writer thread, if one is running.
    fn wait(&mut self) -> Option<(Parsed, Result<Vec<Inserted>, RunError>)> {
        let writer = self.writer.take()?;
        Some(inbound_net::rt::run_blocking(|| {
            writer
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        }))
    }

    /// Records that `unit` was acted on (`actions_done` messages deleted or moved); reports
    /// the batch through [`Events::on_batch`](crate::Events::on_batch) when the unit ends it.
    pub(crate) fn acted(&mut self, run: &mut Run<'_>, unit: &Stored, actions_done: u64) {
        let batch = self.batch.get_or_insert(BatchDone {
            stored: 0,
            already_stored: 0,
            actions_done: 0,
            bytes: 0,
        });
        batch.stored += unit.stored;
        batch.already_stored += unit.already_stored;
        batch.actions_done += actions_done;
        batch.bytes += unit.downloaded;
        if unit.last_of_batch {
            if let Some(done) = self.batch.take() {
                run.events.on_batch(&done);
            }
        }
    }
}

impl Drop for Pipeline {
    /// A run that stops early still lets its last transaction end before it returns, so no
    /// thread writes to the store after the run is over. (What it stored is acted on by the
    /// next run, which completes pending actions first.)
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Starts storing `parsed` in one transaction on its own thread.
fn spawn_writer(run: &Run<'_>, parsed: Parsed, action: Option<&PendingAction>) -> Writer {
    let store = run.store.clone();
    let account = run.account.name.clone();
    let folder = run.account.folder.clone();
    let sanitize = run.account.sanitize_mode();
    let action = action.cloned();
    std::thread::spawn(move || {
        let inserted = if parsed.items.is_empty() {
            Ok(Vec::new())
        } else {
            let target = Target {
                account: &account,
                folder: &folder,
                sanitize: sanitize.as_ref(),
                action: action.as_ref(),
            };
            insert(&store, &target, &parsed.items)
        };
        (parsed, inserted)
    })
}

/// Where and how a unit's messages are stored.
struct Target<'a> {
    account: &'a str,
    folder: &'a str,
    sanitize: Option<&'a SanitizeHtml>,
    action: Option<&'a PendingAction>,
}

/// Stores parsed messages in one transaction, with the target's action pending for each.
fn insert(
    store: &SharedStore,
    target: &Target<'_>,
    items: &[Prepared],
) -> Result<Vec<Inserted>, RunError> {
    let new: Vec<NewMessage<'_>> = items
        .iter()
        .map(|p| {
            NewMessage::new(target.account, target.folder, &p.server_ref, &p.email)
                .with_sanitize(target.sanitize)
                .with_action(target.action)
                .with_sha256(Some(&p.sha256))
                .with_attachment_sizes(Some(&p.attachment_sizes))
        })
        .collect();
    // A panic elsewhere while holding the lock cannot leave a half-written transaction
    // (SQLite rolls it back), so a poisoned lock is still usable.
    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
    store.insert_messages(&new).map_err(RunError::Store)
}

/// Counts a stored unit in the report and tells the events about new messages.
fn report(
    run: &mut Run<'_>,
    parsed: Parsed,
    inserted: Result<Vec<Inserted>, RunError>,
) -> Result<Stored, RunError> {
    let inserted = inserted?;
    let name = run.account.name.as_str();
    let folder = run.account.folder.as_str();
    let mut stored = Stored {
        items: Vec::with_capacity(parsed.items.len()),
        duplicates: parsed.duplicates,
        last_of_batch: parsed.last_of_batch,
        stored: 0,
        already_stored: 0,
        downloaded: parsed.downloaded,
    };
    stored.already_stored = stored.duplicates.len() as u64;
    for (item, ins) in parsed.items.iter().zip(&inserted) {
        if ins.created {
            run.report.fetched += 1;
            stored.stored += 1;
            run.events.on_message(&NewMail {
                account: name,
                folder,
                id: ins.id,
                server_ref: &item.server_ref,
                email: &item.email,
            });
        } else {
            run.report.already_stored += 1;
            stored.already_stored += 1;
        }
        stored.items.push(StoredItem {
            key: item.key,
            id: ins.id,
        });
    }
    Ok(stored)
}

/// Parses messages, on several threads when there is enough work. The result is in the order
/// of `fetched`.
fn prepare_all(fetched: Vec<Fetched>) -> Vec<Prepared> {
    let bytes: usize = fetched.iter().map(|f| f.body.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_PARSE_THREADS)
        .min(fetched.len())
        .min(bytes / PARALLEL_BYTES + 1);
    if threads <= 1 {
        return fetched.into_iter().map(prepare).collect();
    }
    // Contiguous chunks of about equal bytes, so the threads finish together.
    let share = bytes.div_ceil(threads);
    let mut chunks: Vec<Vec<Fetched>> = Vec::with_capacity(threads);
    let mut current = Vec::new();
    let mut current_bytes = 0;
    for f in fetched {
        current_bytes += f.body.len();
        current.push(f);
        if current_bytes >= share && chunks.len() + 1 < threads {
            chunks.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
    }
    chunks.push(current);
    let mut chunks = chunks.into_iter();
    let first = chunks.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let others: Vec<_> = chunks
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(prepare).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<Prepared> = first.into_iter().map(prepare).collect();
        for other in others {
            all.extend(
                other
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        all
    })
}

/// Hashes and parses one message. A large message is parsed for the store's index only
/// ([`Email::parse_lean`]): its large attachments are not decoded, so parsing it takes little
/// memory beyond its raw bytes.
fn prepare(f: Fetched) -> Prepared {
    let sha256 = raw_sha256(&f.body);
    let lean = Email::parse_lean(f.body);
    Prepared {
        key: f.key,
        server_ref: f.server_ref,
        sha256,
        email: lean.email,
        attachment_sizes: lean.attachment_sizes,
    }
}
