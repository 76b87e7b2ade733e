//! The outbox: events written in the same transaction as what they announce, and their
//! delivery to each configured target with retries.
//!
//! An event (`message.received`) is inserted by [`Store::insert_message`] in the transaction
//! that stores the message, so a message that is stored is always announced, even when the
//! process dies right after storing it. A deliverer then
//! 1. fans new events out into one delivery row per configured target
//!    ([`Store::fan_out_events`]); a target receives the events stored after it was first
//!    seen, not the store's whole history;
//! 2. claims the due rows ([`Store::claim_due_deliveries`]): a claim pushes the row's next
//!    attempt past a lease and counts the attempt, in one write transaction, so a row is
//!    worked on by one deliverer at a time even across processes, and an attempt cut short by
//!    a crash still counts;
//! 3. records the outcome: done, another attempt at a later time, or dead (given up).
//!
//! Dead rows stay until [`Store::retry_deliveries`] requeues them. Times are milliseconds
//! since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng as _;
use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::MessageId;

/// The type of the event written for each newly stored message.
pub const MESSAGE_RECEIVED: &str = "message.received";

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its position in the outbox (increasing).
    pub seq: i64,
    /// Its stable id, the same for every attempt and every target: `evt_` and 26 characters
    /// of Crockford base32 (a millisecond timestamp, then 80 random bits).
    pub id: String,
    /// Its type, e.g. [`MESSAGE_RECEIVED`].
    pub kind: String,
    /// The account it concerns.
    pub account: String,
    /// The stored message it announces (`None` for other events, or when the message has
    /// been removed since).
    pub message: Option<MessageId>,
    /// Extra data of the event as a JSON text (for events about accounts).
    pub data: Option<String>,
    /// When it was written (ms since the epoch).
    pub created_at_ms: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_at_ms`.
    Pending,
    /// Delivered.
    Done,
    /// Given up (too many attempts, too old, or its target stopped it): requeue with
    /// [`Store::retry_deliveries`].
    Dead,
}

impl DeliveryState {
    /// `pending`, `done` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(Error::Corrupt(format!("unknown delivery state {other:?}"))),
        }
    }
}

/// One event's delivery to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The row's id (what `webhooks retry ID` takes).
    pub id: i64,
    /// The event.
    pub event: OutboxEvent,
    /// The target's name (a webhook's name, or the hook command's).
    pub target: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts so far (a claimed row counts its attempt in progress).
    pub attempts: u32,
    /// When it is due (ms since the epoch).
    pub next_at_ms: i64,
    /// The HTTP status of the last attempt, when it got one.
    pub last_status: Option<u16>,
    /// What went wrong on the last attempt.
    pub last_error: Option<String>,
    /// When the row was made or last requeued (ms); its age is counted from here.
    pub created_at_ms: i64,
    /// When it last changed (ms).
    pub updated_at_ms: i64,
}

/// The outcome of one attempt, for [`Store::finish_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// The delivery row.
    pub id: i64,
    /// Done, pending (to retry at `next_at_ms`) or dead.
    pub state: DeliveryState,
    /// When to try again (pending only).
    pub next_at_ms: Option<i64>,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// What went wrong (`None` when done).
    pub error: Option<String>,
}

/// A target the deliverer delivers to now.
#[derive(Debug, Clone, Copy)]
pub struct TargetSpec<'a> {
    /// Its name, unique among targets.
    pub name: &'a str,
    /// Only events of these accounts; `None`: every account.
    pub accounts: Option<&'a [String]>,
}

/// Which deliveries [`Store::list_deliveries`] gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeliveryFilter {
    /// Every row.
    #[default]
    All,
    /// Pending rows that have failed at least once, and dead rows.
    Failed,
    /// Dead rows only.
    Dead,
}

/// Which deliveries [`Store::retry_deliveries`] requeues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySelection {
    /// This row, whatever its state.
    One(i64),
    /// Every dead row.
    AllDead,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new event id: `evt_`, 10 characters of millisecond time, 16 of randomness.
pub fn new_event_id(now_ms: i64) -> String {
    let mut id = String::with_capacity(30);
    id.push_str("evt_");
    let time = u64::try_from(now_ms).unwrap_or(0);
    for i in (0..10).rev() {
        id.push(char::from(CROCKFORD[((time >> (i * 5)) & 31) as usize]));
    }
    let mut rng = rand::thread_rng();
    for _ in 0..16 {
        id.push(char::from(CROCKFORD[rng.gen_range(0..32)]));
    }
    id
}

/// Writes an event inside `tx`; returns its id.
pub(crate) fn insert_event(
    tx: &Transaction<'_>,
    kind: &str,
    account: &str,
    message: Option<MessageId>,
    data: Option<&str>,
) -> Result<String> {
    let now = now_ms();
    let id = new_event_id(now);
    tx.prepare_cached(
        "INSERT INTO outbox_events (id, type, account, message, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, kind, account, message.map(|m| m.0), data, now])?;
    Ok(id)
}

const DELIVERY_COLUMNS: &str = "d.id, d.target, d.state, d.attempts, d.next_at, d.last_status,
    d.last_error, d.created_at, d.updated_at, e.seq, e.id, e.type, e.account, e.message, e.data,
    e.created_at FROM outbox_deliveries d JOIN outbox_events e ON e.seq = d.event_seq";

fn delivery_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    let state: String = row.get(2)?;
    Ok((
        Delivery {
            id: row.get(0)?,
            target: row.get(1)?,
            state: DeliveryState::Pending,
            attempts: row.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
            next_at_ms: row.get(4)?,
            last_status: row
                .get::<_, Option<i64>>(5)?
                .and_then(|s| u16::try_from(s).ok()),
            last_error: row.get(6)?,
            created_at_ms: row.get(7)?,
            updated_at_ms: row.get(8)?,
            event: OutboxEvent {
                seq: row.get(9)?,
                id: row.get(10)?,
                kind: row.get(11)?,
                account: row.get(12)?,
                message: row.get::<_, Option<i64>>(13)?.map(MessageId),
                data: row.get(14)?,
                created_at_ms: row.get(15)?,
            },
        },
        state,
    ))
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<(Delivery, String)>>,
) -> Result<Vec<Delivery>> {
    rows.map(|r| {
        let (mut d, state) = r?;
        d.state = DeliveryState::parse(&state)?;
        Ok(d)
    })
    .collect()
}

impl Store {
    /// Writes an event that announces no message (`account.failed`, ...) with `data` (a
    /// JSON text); returns its id.
    pub fn record_event(
        &mut self,
        kind: &str,
        account: &str,
        data: Option<&str>,
    ) -> Result<String> {
        self.write(|tx| insert_event(tx, kind, account, None, data))
    }

    /// Fans the events not yet fanned out (at most `limit`) into one pending delivery row per
    /// target of `targets` that wants them, in one transaction; returns how many rows were
    /// made.
    ///
    /// A target not seen before is recorded first: it gets the events written from now on.
    /// A target stopped by [`Store::stop_target`] gets its rows dead at once (so they show
    /// among the failed ones and can be requeued).
    pub fn fan_out_events(&mut self, targets: &[TargetSpec<'_>], limit: usize) -> Result<usize> {
        self.write(|tx| {
            let now = now_ms();
            let next_seq: i64 = tx.query_row(
                "SELECT coalesce(max(seq), 0) + 1 FROM outbox_events",
                [],
                |r| r.get(0),
            )?;
            let mut known = Vec::with_capacity(targets.len());
            for t in targets {
                tx.prepare_cached(
                    "INSERT INTO outbox_targets (name, since_seq) VALUES (?1, ?2)
                     ON CONFLICT (name) DO NOTHING",
                )?
                .execute(params![t.name, next_seq])?;
                let (since, stopped): (i64, Option<String>) = tx
                    .prepare_cached(
                        "SELECT since_seq, stop_reason FROM outbox_targets WHERE name = ?1",
                    )?
                    .query_row([t.name], |r| Ok((r.get(0)?, r.get(1)?)))?;
                known.push((t, since, stopped));
            }
            let events: Vec<(i64, String)> = tx
                .prepare_cached(
                    "SELECT seq, account FROM outbox_events WHERE fanned_out = 0
                     ORDER BY seq LIMIT ?1",
                )?
                .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut made = 0;
            for (seq, account) in &events {
                for (t, since, stopped) in &known {
                    if seq < since || t.accounts.is_some_and(|a| !a.contains(account)) {
                        continue;
                    }
                    let (state, error) = match stopped {
                        Some(reason) => ("dead", Some(format!("target stopped: {reason}"))),
                        None => ("pending", None),
                    };
                    made += tx
                        .prepare_cached(
                            "INSERT INTO outbox_deliveries (event_seq, target, state, next_at,
                                 last_error, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?4)
                             ON CONFLICT (event_seq, target) DO NOTHING",
                        )?
                        .execute(params![seq, t.name, state, now, error])?;
                }
                tx.prepare_cached("UPDATE outbox_events SET fanned_out = 1 WHERE seq = ?1")?
                    .execute([seq])?;
            }
            Ok(made)
        })
    }

    /// Claims up to `limit` pending rows of `targets` due at `now_ms`, oldest first: each
    /// counts one more attempt and is not due again until `now_ms + lease_ms`, so no other
    /// deliverer takes it meanwhile. Record the outcome with [`Store::delivery_done`],
    /// [`Store::delivery_retry`] or [`Store::delivery_dead`].
    pub fn claim_due_deliveries(
        &mut self,
        targets: &[&str],
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        if targets.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let names = serde_json::to_string(targets).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.write(|tx| {
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS}
                 WHERE d.state = 'pending' AND d.next_at <= ?1
                   AND d.target IN (SELECT value FROM json_each(?2))
                 ORDER BY d.next_at, d.id LIMIT ?3"
            );
            let mut claimed = collect(
                tx.prepare_cached(&sql)?
                    .query_map(params![now_ms, names, limit as i64], delivery_row)?,
            )?;
            for d in &mut claimed {
                d.attempts += 1;
                d.next_at_ms = now_ms + lease_ms;
                d.updated_at_ms = now_ms;
                tx.prepare_cached(
                    "UPDATE outbox_deliveries SET attempts = ?2, next_at = ?3, updated_at = ?4
                     WHERE id = ?1",
                )?
                .execute(params![d.id, d.attempts, d.next_at_ms, now_ms])?;
            }
            Ok(claimed)
        })
    }

    /// When the next pending row of `targets` is due (ms), if any.
    pub fn next_delivery_due(&self, targets: &[&str]) -> Result<Option<i64>> {
        let names = serde_json::to_string(targets).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT min(next_at) FROM outbox_deliveries
                     WHERE state = 'pending' AND target IN (SELECT value FROM json_each(?1))",
                )?
                .query_row([names], |r| r.get::<_, Option<i64>>(0))?)
        })
    }

    /// True when events wait to be fanned out.
    pub fn has_new_events(&self) -> Result<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM outbox_events WHERE fanned_out = 0 LIMIT 1")?
                .exists([])?)
        })
    }

    /// Records a delivery as done.
    pub fn delivery_done(&mut self, id: i64, status: Option<u16>) -> Result<()> {
        self.set_delivery(id, "done", None, status, None)
    }

    /// Records a failed attempt to be tried again at `next_at_ms`.
    pub fn delivery_retry(
        &mut self,
        id: i64,
        status: Option<u16>,
        error: &str,
        next_at_ms: i64,
    ) -> Result<()> {
        self.set_delivery(id, "pending", Some(next_at_ms), status, Some(error))
    }

    /// Records a delivery as given up.
    pub fn delivery_dead(&mut self, id: i64, status: Option<u16>, error: &str) -> Result<()> {
        self.set_delivery(id, "dead", None, status, Some(error))
    }

    fn set_delivery(
        &mut self,
        id: i64,
        state: &str,
        next_at: Option<i64>,
        status: Option<u16>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE outbox_deliveries SET state = ?2, next_at = coalesce(?3, next_at),
                     last_status = ?4, last_error = ?5, updated_at = ?6
                 WHERE id = ?1",
            )?
            .execute(params![id, state, next_at, status, error, now_ms()])?;
            Ok(())
        })
    }

    /// Records the outcomes of many attempts in one transaction (one sync to disk rather
    /// than one per delivery).
    pub fn finish_deliveries(&mut self, outcomes: &[DeliveryOutcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let now = now_ms();
            for o in outcomes {
                tx.prepare_cached(
                    "UPDATE outbox_deliveries SET state = ?2, next_at = coalesce(?3, next_at),
                         last_status = ?4, last_error = ?5, updated_at = ?6
                     WHERE id = ?1",
                )?
                .execute(params![
                    o.id,
                    o.state.as_str(),
                    o.next_at_ms,
                    o.status,
                    o.error,
                    now
                ])?;
            }
            Ok(())
        })
    }

    /// Stops a target for good (its endpoint said it is gone): its pending rows become dead
    /// and the rows of later events are made dead, until [`Store::retry_deliveries`]
    /// requeues some of its rows. Returns how many pending rows died.
    pub fn stop_target(&mut self, name: &str, reason: &str) -> Result<usize> {
        self.write(|tx| {
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO outbox_targets (name, since_seq, stopped_at, stop_reason)
                 VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM outbox_events), ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET stopped_at = ?2, stop_reason = ?3",
            )?
            .execute(params![name, now, reason])?;
            Ok(tx
                .prepare_cached(
                    "UPDATE outbox_deliveries SET state = 'dead', updated_at = ?2,
                         last_error = 'target stopped: ' || ?3
                     WHERE target = ?1 AND state = 'pending'",
                )?
                .execute(params![name, now, reason])?)
        })
    }

    /// Why a target was stopped, if it is.
    pub fn target_stopped(&self, name: &str) -> Result<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT stop_reason FROM outbox_targets WHERE name = ?1")?
                .query_row([name], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    /// Deliveries, oldest first, at most `limit`.
    pub fn list_deliveries(&self, filter: DeliveryFilter, limit: usize) -> Result<Vec<Delivery>> {
        let condition = match filter {
            DeliveryFilter::All => "1",
            DeliveryFilter::Failed => {
                "(d.state = 'dead' OR (d.state = 'pending' AND d.last_error IS NOT NULL))"
            }
            DeliveryFilter::Dead => "d.state = 'dead'",
        };
        self.read(|conn| {
            let sql = format!("SELECT {DELIVERY_COLUMNS} WHERE {condition} ORDER BY d.id LIMIT ?1");
            collect(
                conn.prepare(&sql)?
                    .query_map([limit as i64], delivery_row)?,
            )
        })
    }

    /// Requeues deliveries: pending, due now, attempts and age counted afresh. The targets of
    /// the rows requeued are no longer stopped. Returns how many rows were requeued.
    pub fn retry_deliveries(&mut self, which: RetrySelection) -> Result<usize> {
        self.write(|tx| {
            let now = now_ms();
            let (condition, id) = match which {
                RetrySelection::One(id) => ("id = ?2", id),
                RetrySelection::AllDead => ("state = 'dead' AND ?2 = ?2", 0),
            };
            tx.execute(
                &format!(
                    "UPDATE outbox_targets SET stopped_at = NULL, stop_reason = NULL
                     WHERE name IN (SELECT target FROM outbox_deliveries WHERE {condition}
                                    AND ?1 = ?1)"
                ),
                params![now, id],
            )?;
            Ok(tx.execute(
                &format!(
                    "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_at = ?1,
                         created_at = ?1, updated_at = ?1
                     WHERE {condition}"
                ),
                params![now, id],
            )?)
        })
    }

    /// The events, oldest first, at most `limit` (for tools and tests).
    pub fn list_events(&self, limit: usize) -> Result<Vec<OutboxEvent>> {
        self.read(|conn| {
            conn.prepare(
                "SELECT seq, id, type, account, message, data, created_at FROM outbox_events
                 ORDER BY seq LIMIT ?1",
            )?
            .query_map([limit as i64], |r| {
                Ok(OutboxEvent {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    kind: r.get(2)?,
                    account: r.get(3)?,
                    message: r.get::<_, Option<i64>>(4)?.map(MessageId),
                    data: r.get(5)?,
                    created_at_ms: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()
            .map_err(Into::into)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{NewMessage, ServerRef};

    fn store_one(store: &mut Store, account: &str, uid: u32) -> MessageId {
        let email = inbound_message::Email::parse(&b"Subject: Hi\r\n\r\nx"[..]);
        let r = ServerRef::Imap {
            uidvalidity: 1,
            uid,
        };
        store
            .insert_message(&NewMessage::new(account, "INBOX", &r, &email))
            .unwrap()
            .id
    }

    #[test]
    fn event_ids_are_stable_shaped_and_distinct() {
        let a = new_event_id(1_700_000_000_000);
        let b = new_event_id(1_700_000_000_000);
        assert_eq!(a.len(), 30);
        assert!(a.starts_with("evt_"));
        assert_ne!(a, b);
        assert_eq!(a[..14], b[..14], "the time part sorts");
    }

    #[test]
    fn a_stored_message_is_announced_once_and_fanned_out_to_targets_known_before_it() {
        let mut store = Store::open_in_memory(None).unwrap();
        // Stored before any target existed: nobody gets it.
        store_one(&mut store, "a", 1);
        let hook = TargetSpec {
            name: "hook",
            accounts: None,
        };
        let only_b = ["b".to_owned()];
        let b = TargetSpec {
            name: "b-only",
            accounts: Some(&only_b),
        };
        assert_eq!(store.fan_out_events(&[hook, b], 100).unwrap(), 0);
        let id = store_one(&mut store, "a", 2);
        // The same message again writes no second event.
        store_one(&mut store, "a", 2);
        store_one(&mut store, "b", 3);
        assert_eq!(store.list_events(10).unwrap().len(), 3);
        assert_eq!(store.fan_out_events(&[hook, b], 100).unwrap(), 3);
        assert_eq!(store.fan_out_events(&[hook, b], 100).unwrap(), 0);

        let now = now_ms();
        let claimed = store
            .claim_due_deliveries(&["hook", "b-only"], now, 60_000, 10)
            .unwrap();
        assert_eq!(claimed.len(), 3);
        assert_eq!(claimed[0].event.message, Some(id));
        assert_eq!(claimed[0].event.kind, MESSAGE_RECEIVED);
        assert_eq!(claimed[0].attempts, 1);
        // Claimed rows are leased: nobody else takes them now.
        assert!(
            store
                .claim_due_deliveries(&["hook", "b-only"], now, 60_000, 10)
                .unwrap()
                .is_empty()
        );
        store.delivery_done(claimed[0].id, Some(200)).unwrap();
        store
            .delivery_retry(claimed[1].id, Some(500), "HTTP 500", now + 10)
            .unwrap();
        store.delivery_dead(claimed[2].id, None, "gone").unwrap();
        let again = store
            .claim_due_deliveries(&["hook", "b-only"], now + 10, 60_000, 10)
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].event.id, claimed[1].event.id, "the same event id");
        assert_eq!(again[0].attempts, 2);

        let failed = store.list_deliveries(DeliveryFilter::Failed, 10).unwrap();
        assert_eq!(failed.len(), 2);
        assert_eq!(store.retry_deliveries(RetrySelection::AllDead).unwrap(), 1);
        let dead = store.list_deliveries(DeliveryFilter::Dead, 10).unwrap();
        assert!(dead.is_empty());
    }

    #[test]
    fn a_stopped_target_loses_its_pending_rows_until_requeued() {
        let mut store = Store::open_in_memory(None).unwrap();
        let hook = TargetSpec {
            name: "hook",
            accounts: None,
        };
        store.fan_out_events(&[hook], 100).unwrap();
        store_one(&mut store, "a", 1);
        store.fan_out_events(&[hook], 100).unwrap();
        assert_eq!(store.stop_target("hook", "HTTP 410 Gone").unwrap(), 1);
        store_one(&mut store, "a", 2);
        store.fan_out_events(&[hook], 100).unwrap();
        let dead = store.list_deliveries(DeliveryFilter::Dead, 10).unwrap();
        assert_eq!(dead.len(), 2);
        assert!(store.target_stopped("hook").unwrap().is_some());
        assert_eq!(
            store
                .retry_deliveries(RetrySelection::One(dead[0].id))
                .unwrap(),
            1
        );
        assert_eq!(store.target_stopped("hook").unwrap(), None);
    }
}
