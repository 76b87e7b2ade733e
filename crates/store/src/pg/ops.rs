//! The store's operations on PostgreSQL, statement for statement those of the SQLite store
//! (`messages.rs`, `sync.rs`, `retry.rs`, `accounts.rs`, `query.rs`), as
//! [`StoreBackend`] methods.
//!
//! Every method copies what it needs out of its arguments (the runtime's tasks outlive no
//! borrow) and runs one transaction on a pooled connection; a write commits before the
//! method returns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use bytes::Bytes;
use deadpool_postgres::{GenericClient as _, Transaction};
use inbound_message::Email;
use inbound_secret::Secret;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::lease::check_lease;
use crate::accounts::{StoredAccount, open_account, open_config, seal_config};
use crate::backend::StoreBackend;
use crate::codec;
use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN, secret_aad};
use crate::error::{Error, Result};
use crate::lease::Fence;
use crate::outbox::{
    Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState, MESSAGE_RECEIVED, OutboxEvent,
    RetrySelection, TargetSpec, new_event_id, now_ms,
};
use crate::page::{Page, PageCursor, PageQuery, like_pattern};
use crate::query::{COLUMNS, MessageRow, stored_message, summary};
use crate::raw::MessageView;
use crate::retry::{RETRY_PENDING_REASON, RetryUid, RetryUidl};
use crate::rotated;
use crate::signin;
use crate::store::now;
use crate::sync::ImapFolderState;
use crate::types::{
    CidImages, Inserted, MessageFilter, MessageId, MessageSummary, NewMessage, Pending,
    PendingAction, ServerRef, StoredMessage, raw_sha256,
};

/// One message to insert, its columns encoded and owned.
struct MessageInsert {
    account: String,
    folder: String,
    uidvalidity: Option<i64>,
    uid: Option<i64>,
    uidl: Option<String>,
    message_id: Option<String>,
    subject: Option<String>,
    from: String,
    sender: Option<String>,
    reply_to: String,
    to: String,
    cc: String,
    bcc: String,
    date: Option<i64>,
    in_reply_to: String,
    refs: String,
    sha256: Vec<u8>,
    attachments: String,
    sanitize: Option<String>,
    raw: Bytes,
    action: Option<(&'static str, Option<String>)>,
}

impl MessageInsert {
    fn new(m: &NewMessage<'_>) -> Self {
        let email = m.email;
        let sha256 = match m.sha256 {
            Some(given) => given.to_vec(),
            None => raw_sha256(&email.raw).to_vec(),
        };
        let (uidvalidity, uid, uidl) = codec::ref_columns(m.server_ref);
        Self {
            account: m.account.to_owned(),
            folder: m.folder.to_owned(),
            uidvalidity: uidvalidity.map(i64::from),
            uid: uid.map(i64::from),
            uidl: uidl.map(str::to_owned),
            message_id: email.message_id.as_deref().map(pg_text),
            subject: email.subject.as_deref().map(pg_text),
            from: codec::encode_addresses(&email.from),
            sender: codec::encode_address(email.sender.as_ref()),
            reply_to: codec::encode_addresses(&email.reply_to),
            to: codec::encode_addresses(&email.to),
            cc: codec::encode_addresses(&email.cc),
            bcc: codec::encode_addresses(&email.bcc),
            date: email.date,
            in_reply_to: codec::encode_strings(&email.in_reply_to),
            refs: codec::encode_strings(&email.references),
            sha256,
            attachments: codec::encode_attachments_sized(&email.attachments, m.attachment_sizes),
            sanitize: codec::encode_sanitize(m.sanitize),
            raw: email.raw.clone(),
            action: m.action.map(action_columns),
        }
    }
}

fn action_columns(action: &PendingAction) -> (&'static str, Option<String>) {
    match action {
        PendingAction::Delete => ("delete", None),
        PendingAction::MoveTo(folder) => ("move", Some(folder.clone())),
    }
}

/// `text` as PostgreSQL can hold it: a `text` value cannot contain NUL, which a decoded
/// header can (`=?utf-8?q?=00?=`) and an error quoting a server might, so NUL becomes U+FFFD.
/// Without this such a message could never be stored.
pub(super) fn pg_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

fn int(value: u32) -> i64 {
    i64::from(value)
}

/// The id of the message stored under this server ref (any content), if any.
async fn find_by_ref(
    c: &impl deadpool_postgres::GenericClient,
    account: &str,
    folder: &str,
    uidvalidity: Option<i64>,
    uid: Option<i64>,
    uidl: Option<&str>,
) -> Result<Option<MessageId>> {
    let row = match uidl {
        Some(uidl) => {
            c.query_opt(
                "SELECT id FROM messages WHERE account = $1 AND folder = $2 AND uidl = $3
                 ORDER BY id LIMIT 1",
                &[&account, &folder, &uidl],
            )
            .await?
        }
        None => {
            c.query_opt(
                "SELECT id FROM messages
                 WHERE account = $1 AND folder = $2 AND uidvalidity = $3 AND uid = $4",
                &[&account, &folder, &uidvalidity, &uid],
            )
            .await?
        }
    };
    Ok(row.map(|r| r.try_get(0)).transpose()?.map(MessageId))
}

/// The stored message this one is: same IMAP ref, or same POP3 UIDL *and* SHA-256.
async fn find_stored(tx: &Transaction<'_>, m: &MessageInsert) -> Result<Option<MessageId>> {
    let Some(uidl) = &m.uidl else {
        return find_by_ref(tx, &m.account, &m.folder, m.uidvalidity, m.uid, None).await;
    };
    let row = tx
        .query_opt(
            "SELECT id FROM messages
             WHERE account = $1 AND folder = $2 AND uidl = $3 AND sha256 = $4",
            &[&m.account, &m.folder, uidl, &m.sha256],
        )
        .await?;
    let id = row.map(|r| r.try_get(0)).transpose()?.map(MessageId);
    if id.is_none()
        && find_by_ref(tx, &m.account, &m.folder, None, None, Some(uidl))
            .await?
            .is_some()
    {
        tracing::warn!(
            account = %m.account,
            %uidl,
            "the POP3 server reused a UIDL for a different message; storing it as a new one"
        );
    }
    Ok(id)
}

async fn has_pending(
    tx: &Transaction<'_>,
    id: MessageId,
    action: &(&'static str, Option<String>),
) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM pending_actions WHERE message_id = $1 AND action = $2
                 AND target IS NOT DISTINCT FROM $3 AND state = 'pending'",
            &[&id.0, &action.0, &action.1],
        )
        .await?
        .is_some())
}

async fn record_action(
    tx: &Transaction<'_>,
    id: MessageId,
    action: &(&'static str, Option<String>),
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO pending_actions (message_id, action, target, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)",
        &[&id.0, &action.0, &action.1, &now],
    )
    .await?;
    Ok(())
}

/// Records in `tx` that a message with this ref is stored (sync-state side).
async fn note_stored(tx: &Transaction<'_>, m: &MessageInsert, now: i64) -> Result<()> {
    match (&m.uidl, m.uidvalidity, m.uid) {
        (None, Some(uidvalidity), Some(uid)) => {
            let changed = tx
                .execute(
                    "INSERT INTO imap_folders (account, folder, uidvalidity, highest_uid, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (account, folder) DO UPDATE
                        SET highest_uid = GREATEST(imap_folders.highest_uid, excluded.highest_uid),
                            updated_at = excluded.updated_at
                        WHERE imap_folders.uidvalidity = excluded.uidvalidity",
                    &[&m.account, &m.folder, &uidvalidity, &uid, &now],
                )
                .await?;
            tx.execute(
                "DELETE FROM imap_retry
                 WHERE account = $1 AND folder = $2 AND uidvalidity = $3 AND uid = $4",
                &[&m.account, &m.folder, &uidvalidity, &uid],
            )
            .await?;
            if changed == 0 {
                tracing::warn!(
                    account = %m.account,
                    folder = %m.folder,
                    uidvalidity,
                    uid,
                    "stored a message whose UIDVALIDITY is not the folder's recorded one; \
                     sync state left unchanged"
                );
            }
        }
        (Some(uidl), _, _) => {
            mark_seen(tx, &m.account, uidl, now).await?;
        }
        _ => return Err(Error::Corrupt("a message without a server ref".into())),
    }
    Ok(())
}

/// In `tx`: a POP3 UIDL is seen and needs no retry.
async fn mark_seen(tx: &Transaction<'_>, account: &str, uidl: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO pop3_uidls (account, uidl, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (account, uidl) DO NOTHING",
        &[&account, &uidl, &now],
    )
    .await?;
    tx.execute(
        "DELETE FROM pop3_retry WHERE account = $1 AND uidl = $2",
        &[&account, &uidl],
    )
    .await?;
    Ok(())
}

async fn insert_in(tx: &Transaction<'_>, m: &MessageInsert) -> Result<Inserted> {
    let now = now();
    if let Some(id) = find_stored(tx, m).await? {
        return already_stored(tx, m, id, now).await;
    }
    let sort_date = m.date.unwrap_or(now);
    let size = m.raw.len() as i64;
    // A unique index decides between two processes storing the same message at once: the
    // second one's insert waits for the first's commit, then inserts nothing.
    let inserted = tx
        .query_opt(
            "INSERT INTO messages (account, folder, uidvalidity, uid, uidl, message_id, subject,
                 from_addrs, sender, reply_to, to_addrs, cc_addrs, bcc_addrs, date, in_reply_to,
                 refs, sort_date, stored_at, size, sha256, attachments, sanitize)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22)
             ON CONFLICT DO NOTHING
             RETURNING id",
            &[
                &m.account,
                &m.folder,
                &m.uidvalidity,
                &m.uid,
                &m.uidl,
                &m.message_id,
                &m.subject,
                &m.from,
                &m.sender,
                &m.reply_to,
                &m.to,
                &m.cc,
                &m.bcc,
                &m.date,
                &m.in_reply_to,
                &m.refs,
                &sort_date,
                &now,
                &size,
                &m.sha256,
                &m.attachments,
                &m.sanitize,
            ],
        )
        .await?;
    let Some(row) = inserted else {
        let id = find_stored(tx, m).await?.ok_or_else(|| {
            Error::Corrupt("a message conflicted on insert but is not stored".into())
        })?;
        return already_stored(tx, m, id, now).await;
    };
    let id = MessageId(row.try_get(0)?);
    tx.execute(
        "INSERT INTO message_raw (message_id, raw) VALUES ($1, $2)",
        &[&id.0, &&m.raw[..]],
    )
    .await?;
    if let Some(action) = &m.action {
        record_action(tx, id, action, now).await?;
    }
    // Announced in the same transaction: a stored message is never left unannounced.
    let created_ms = now_ms();
    tx.execute(
        "INSERT INTO outbox_events (id, type, account, message, data, created_at)
         VALUES ($1, $2, $3, $4, NULL, $5)",
        &[
            &new_event_id(created_ms),
            &MESSAGE_RECEIVED,
            &m.account,
            &id.0,
            &created_ms,
        ],
    )
    .await?;
    note_stored(tx, m, now).await?;
    tracing::debug!(%id, account = %m.account, folder = %m.folder, size, "message stored");
    Ok(Inserted { id, created: true })
}

async fn already_stored(
    tx: &Transaction<'_>,
    m: &MessageInsert,
    id: MessageId,
    now: i64,
) -> Result<Inserted> {
    if let Some(action) = &m.action {
        if !has_pending(tx, id, action).await? {
            record_action(tx, id, action, now).await?;
        }
    }
    note_stored(tx, m, now).await?;
    tracing::debug!(%id, account = %m.account, folder = %m.folder, "message already stored");
    Ok(Inserted { id, created: false })
}

fn message_row(row: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: row.try_get(0)?,
        account: row.try_get(1)?,
        folder: row.try_get(2)?,
        uidvalidity: row.try_get(3)?,
        uid: row.try_get(4)?,
        uidl: row.try_get(5)?,
        message_id: row.try_get(6)?,
        subject: row.try_get(7)?,
        from: row.try_get(8)?,
        sender: row.try_get(9)?,
        reply_to: row.try_get(10)?,
        to: row.try_get(11)?,
        cc: row.try_get(12)?,
        bcc: row.try_get(13)?,
        date: row.try_get(14)?,
        in_reply_to: row.try_get(15)?,
        refs: row.try_get(16)?,
        stored_at: row.try_get(17)?,
        size: row.try_get(18)?,
        attachments: row.try_get(19)?,
        sanitize: row.try_get(20)?,
    })
}

/// A filter's WHERE clause with `$n` placeholders, and its values.
fn where_clause(filter: &MessageFilter) -> (String, Vec<Box<dyn ToSql + Send + Sync>>) {
    let mut conditions = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Send + Sync>> = Vec::new();
    if let Some(account) = &filter.account {
        values.push(Box::new(account.clone()));
        conditions.push(format!("account = ${}", values.len()));
    }
    if let Some(folder) = &filter.folder {
        values.push(Box::new(folder.clone()));
        conditions.push(format!("folder = ${}", values.len()));
    }
    if let Some(since) = filter.since {
        values.push(Box::new(since));
        conditions.push(format!("sort_date >= ${}", values.len()));
    }
    if let Some(until) = filter.until {
        values.push(Box::new(until));
        conditions.push(format!("sort_date < ${}", values.len()));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, values)
}

fn params(values: &[Box<dyn ToSql + Send + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn pending_row(row: &Row) -> Result<Pending> {
    let id: i64 = row.try_get(0)?;
    let kind: String = row.try_get(7)?;
    let target: Option<String> = row.try_get(8)?;
    let action = match (kind.as_str(), target) {
        ("delete", None) => PendingAction::Delete,
        ("move", Some(folder)) => PendingAction::MoveTo(folder),
        _ => return Err(Error::Corrupt(format!("pending action {id} is malformed"))),
    };
    Ok(Pending {
        id,
        message: MessageId(row.try_get(1)?),
        account: row.try_get(2)?,
        folder: row.try_get(3)?,
        server_ref: codec::ref_from_columns(row.try_get(4)?, row.try_get(5)?, row.try_get(6)?)?,
        action,
        attempts: u32::try_from(row.try_get::<_, i64>(9)?).unwrap_or(u32::MAX),
        last_error: row.try_get(10)?,
        created_at: row.try_get(11)?,
    })
}

impl PgStore {
    fn actions(&self, account: &str, state: &'static str) -> Result<Vec<Pending>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT p.id, p.message_id, m.account, m.folder, m.uidvalidity, m.uid, m.uidl,
                            p.action, p.target, p.attempts, p.last_error, p.created_at
                     FROM pending_actions p JOIN messages m ON m.id = p.message_id
                     WHERE m.account = $1 AND p.state = $2
                     ORDER BY p.id",
                    &[&account, &state],
                )
                .await?;
            rows.iter().map(pending_row).collect()
        })
    }

    /// Runs one statement updating a pending action (`$1` id, `$2` text, `$3` now); fails
    /// with [`Error::NoSuchAction`] when it matched no row.
    fn update_action(&self, id: i64, sql: &'static str, text: &str) -> Result<()> {
        let pool = self.pool.clone();
        let text = pg_text(text);
        self.run(async move {
            let client = pool.get().await?;
            let n = client.execute(sql, &[&id, &text, &now()]).await?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }

    /// A message's row and raw bytes from one snapshot, parsed by `parse` on the caller's
    /// thread (parsing and sanitizing stay off the store's runtime).
    fn get_parsed_with(
        &self,
        id: MessageId,
        parse: impl FnOnce(Bytes) -> Email,
    ) -> Result<Option<StoredMessage>> {
        let pool = self.pool.clone();
        let found = self.run(async move {
            let mut client = pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
            let Some(row) = tx.query_opt(&sql, &[&id.0]).await? else {
                return Ok(None);
            };
            let row = message_row(&row)?;
            let raw: Option<Vec<u8>> = tx
                .query_opt(
                    "SELECT raw FROM message_raw WHERE message_id = $1",
                    &[&id.0],
                )
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            tx.commit().await?;
            Ok(Some((row, raw.unwrap_or_default())))
        })?;
        let Some((row, raw)) = found else {
            return Ok(None);
        };
        stored_message(id, row, parse(Bytes::from(raw))).map(Some)
    }

    fn insert_all(&self, messages: Vec<MessageInsert>) -> Result<Vec<Inserted>> {
        let pool = self.pool.clone();
        let mut fences: Vec<(String, Option<Fence>)> = Vec::new();
        for m in &messages {
            if !fences.iter().any(|(a, _)| a == &m.account) {
                fences.push((m.account.clone(), self.fences.check(&m.account)?));
            }
        }
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            for (account, fence) in &fences {
                check_lease(&tx, account, *fence).await?;
            }
            let mut out = Vec::with_capacity(messages.len());
            for m in &messages {
                out.push(insert_in(&tx, m).await?);
            }
            tx.commit().await?;
            Ok(out)
        })
    }
}

impl StoreBackend for PgStore {
    fn insert_message(&mut self, message: &NewMessage<'_>) -> Result<Inserted> {
        self.insert_all(vec![MessageInsert::new(message)])?
            .pop()
            .ok_or_else(|| Error::Corrupt("no outcome for a stored message".into()))
    }

    fn insert_messages(&mut self, messages: &[NewMessage<'_>]) -> Result<Vec<Inserted>> {
        self.insert_all(messages.iter().map(MessageInsert::new).collect())
    }

    fn message_sha256(&self, id: MessageId) -> Result<Option<[u8; 32]>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt("SELECT sha256 FROM messages WHERE id = $1", &[&id.0])
                .await?;
            row.map(|r| {
                let h: Vec<u8> = r.try_get(0)?;
                <[u8; 32]>::try_from(h.as_slice())
                    .map_err(|_| Error::Corrupt(format!("message {id} has a malformed SHA-256")))
            })
            .transpose()
        })
    }

    fn list_messages(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>> {
        let pool = self.pool.clone();
        let (clause, mut values) = where_clause(filter);
        let order = if filter.oldest_first { "ASC" } else { "DESC" };
        // LIMIT NULL is no limit.
        values.push(Box::new(filter.limit.map(i64::from)));
        values.push(Box::new(i64::from(filter.offset)));
        let sql = format!(
            "SELECT {COLUMNS} FROM messages{clause}
             ORDER BY sort_date {order}, id {order} LIMIT ${} OFFSET ${}",
            values.len() - 1,
            values.len()
        );
        self.run(async move {
            let client = pool.get().await?;
            let rows = client.query(&sql, &params(&values)).await?;
            rows.iter().map(|r| summary(message_row(r)?)).collect()
        })
    }

    fn count_messages(&self, filter: &MessageFilter) -> Result<u64> {
        let pool = self.pool.clone();
        let (clause, values) = where_clause(filter);
        let sql = format!("SELECT count(*) FROM messages{clause}");
        self.run(async move {
            let client = pool.get().await?;
            let count: i64 = client.query_one(&sql, &params(&values)).await?.try_get(0)?;
            Ok(count.max(0) as u64)
        })
    }

    fn get_message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.get_parsed_with(id, Email::parse)
    }

    fn export_eml(&self, id: MessageId) -> Result<Option<Bytes>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT raw FROM message_raw WHERE message_id = $1",
                    &[&id.0],
                )
                .await?;
            Ok(row
                .map(|r| r.try_get::<_, Vec<u8>>(0))
                .transpose()?
                .map(Bytes::from))
        })
    }

    fn is_stored(&self, account: &str, folder: &str, server_ref: &ServerRef) -> Result<bool> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let (v, u, l) = codec::ref_columns(server_ref);
        let (v, u, l) = (v.map(int), u.map(int), l.map(str::to_owned));
        self.run(async move {
            let client = pool.get().await?;
            Ok(find_by_ref(&client, &account, &folder, v, u, l.as_deref())
                .await?
                .is_some())
        })
    }

    fn find_duplicate(&self, account: &str, raw: &[u8]) -> Result<Option<MessageId>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let hash = raw_sha256(raw).to_vec();
        let size = raw.len() as i64;
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT id FROM messages WHERE account = $1 AND sha256 = $2 AND size = $3
                     ORDER BY id LIMIT 1",
                    &[&account, &hash, &size],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?.map(MessageId))
        })
    }

    fn list_events(&self, limit: usize) -> Result<Vec<OutboxEvent>> {
        let pool = self.pool.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT seq, id, type, account, message, data, created_at FROM outbox_events
                     ORDER BY seq LIMIT $1",
                    &[&limit],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(OutboxEvent {
                        seq: r.try_get(0)?,
                        id: r.try_get(1)?,
                        kind: r.try_get(2)?,
                        account: r.try_get(3)?,
                        message: r.try_get::<_, Option<i64>>(4)?.map(MessageId),
                        data: r.try_get(5)?,
                        created_at_ms: r.try_get(6)?,
                    })
                })
                .collect()
        })
    }

    fn get_summary(&self, id: MessageId) -> Result<Option<MessageSummary>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
            client
                .query_opt(&sql, &[&id.0])
                .await?
                .map(|r| summary(message_row(&r)?))
                .transpose()
        })
    }

    fn get_message_lean(&self, id: MessageId) -> Result<Option<MessageView>> {
        let Some(summary) = self.get_summary(id)? else {
            return Ok(None);
        };
        // Inline images embedded as data URLs need the whole message parsed.
        let message = if summary_sanitize_is_data_url(self, id)? {
            self.get_message(id)?
        } else {
            self.get_parsed_with(id, |raw| Email::parse_lean(raw).email)?
        };
        Ok(message.map(|message| MessageView {
            message,
            attachments: summary.attachments,
        }))
    }

    fn write_raw_to(&self, id: MessageId, out: &mut dyn Write) -> Result<Option<u64>> {
        // A piece at a time, so the whole message is never in memory twice. Stored raw bytes
        // never change, so reading the pieces in separate statements reads one message.
        let pool = self.pool.clone();
        let len: Option<i64> = self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT octet_length(raw)::bigint FROM message_raw WHERE message_id = $1",
                    &[&id.0],
                )
                .await?
                .map(|r| r.try_get(0))
                .transpose()?)
        })?;
        let Some(len) = len else {
            return Ok(None);
        };
        let mut at: i64 = 0;
        while at < len {
            let n = RAW_CHUNK.min(len - at);
            let pool = self.pool.clone();
            let piece: Vec<u8> = self.run(async move {
                let client = pool.get().await?;
                // substring counts from 1.
                let row = client
                    .query_opt(
                        "SELECT substring(raw FROM $2::integer FOR $3::integer)
                         FROM message_raw WHERE message_id = $1",
                        &[&id.0, &((at + 1) as i32), &(n as i32)],
                    )
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("message {id} vanished while read")))?;
                Ok(row.try_get(0)?)
            })?;
            if piece.is_empty() {
                return Err(Error::Corrupt(format!(
                    "message {id} is shorter than recorded"
                )));
            }
            out.write_all(&piece).map_err(Error::Output)?;
            at += piece.len() as i64;
        }
        Ok(Some(len as u64))
    }

    fn find_by_server_ref(
        &self,
        account: &str,
        folder: &str,
        server_ref: &ServerRef,
    ) -> Result<Option<MessageId>> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let (v, u, l) = codec::ref_columns(server_ref);
        let (v, u, l) = (v.map(int), u.map(int), l.map(str::to_owned));
        self.run(async move {
            let client = pool.get().await?;
            find_by_ref(&client, &account, &folder, v, u, l.as_deref()).await
        })
    }

    fn find_by_message_id(&self, account: &str, message_id: &str) -> Result<Vec<MessageId>> {
        let pool = self.pool.clone();
        let (account, message_id) = (account.to_owned(), message_id.to_owned());
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT id FROM messages WHERE account = $1 AND message_id = $2 ORDER BY id",
                    &[&account, &message_id],
                )
                .await?;
            rows.iter().map(|r| Ok(MessageId(r.try_get(0)?))).collect()
        })
    }

    fn has_other_uidvalidity(&self, account: &str, folder: &str, uidvalidity: u32) -> Result<bool> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT 1 FROM messages WHERE account = $1 AND folder = $2
                     AND uid IS NOT NULL AND uidvalidity != $3 LIMIT 1",
                    &[&account, &folder, &uidvalidity],
                )
                .await?
                .is_some())
        })
    }

    fn list_page(&self, query: &PageQuery) -> Result<Page> {
        let limit = match query.limit {
            0 => 50,
            n => n.min(500),
        };
        let mut conditions = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Send + Sync>> = Vec::new();
        if let Some(account) = &query.account {
            values.push(Box::new(account.clone()));
            conditions.push(format!("account = ${}", values.len()));
        }
        if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
            values.push(Box::new(like_pattern(search)));
            let n = values.len();
            // ILIKE: case-insensitive like SQLite's LIKE (which folds ASCII only).
            conditions.push(format!(
                "(subject ILIKE ${n} ESCAPE '\\' OR from_addrs ILIKE ${n} ESCAPE '\\')"
            ));
        }
        if let Some(after) = query.after {
            values.push(Box::new(after.sort_date));
            let d = values.len();
            values.push(Box::new(after.id));
            let i = values.len();
            conditions.push(format!(
                "(sort_date < ${d} OR (sort_date = ${d} AND id < ${i}))"
            ));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        // One more than asked for says whether there is a next page.
        values.push(Box::new(i64::from(limit) + 1));
        let sql = format!(
            "SELECT {COLUMNS}, sort_date FROM messages{clause}
             ORDER BY sort_date DESC, id DESC LIMIT ${}",
            values.len()
        );
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client.query(&sql, &params(&values)).await?;
            let more = rows.len() > limit as usize;
            let mut messages = Vec::with_capacity(rows.len().min(limit as usize));
            let mut last = None;
            for row in rows.iter().take(limit as usize) {
                let message = message_row(row)?;
                last = Some(PageCursor {
                    sort_date: row.try_get(21)?,
                    id: message.id,
                });
                messages.push(summary(message)?);
            }
            Ok(Page {
                messages,
                next: if more { last } else { None },
            })
        })
    }

    fn count_by_account(&self) -> Result<HashMap<String, u64>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT account, count(*) FROM messages GROUP BY account",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)?.max(0) as u64)))
                .collect()
        })
    }

    fn pending_actions_of(&self, ids: &[MessageId]) -> Result<HashMap<MessageId, PendingAction>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let pool = self.pool.clone();
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT message_id, action, target FROM pending_actions
                     WHERE state = 'pending' AND message_id = ANY($1) ORDER BY id",
                    &[&ids],
                )
                .await?;
            let mut out = HashMap::new();
            for row in &rows {
                let id: i64 = row.try_get(0)?;
                let action: String = row.try_get(1)?;
                let target: Option<String> = row.try_get(2)?;
                let action = match (action.as_str(), target) {
                    ("delete", _) => PendingAction::Delete,
                    ("move", Some(folder)) => PendingAction::MoveTo(folder),
                    _ => continue,
                };
                // The first pending action of a message wins, as in SQLite's listing.
                out.entry(MessageId(id)).or_insert(action);
            }
            Ok(out)
        })
    }

    fn check_fence(&self, account: &str) -> Result<()> {
        let Some(fence) = self.fences.check(account)? else {
            return Ok(());
        };
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, Some(fence)).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn mark_needs_login(&mut self, account: &str, reason: &str) -> Result<()> {
        let pool = self.pool.clone();
        let key = signin::meta_key(account);
        let mut value = now_ms().to_be_bytes().to_vec();
        value.extend_from_slice(reason.as_bytes());
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &value],
                )
                .await?;
            Ok(())
        })
    }

    fn clear_needs_login(&mut self, account: &str) -> Result<bool> {
        let pool = self.pool.clone();
        let key = signin::meta_key(account);
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .execute("DELETE FROM meta WHERE key = $1", &[&key])
                .await?
                > 0)
        })
    }

    fn needs_login(&self, account: &str) -> Result<Option<signin::NeedsLogin>> {
        let pool = self.pool.clone();
        let name = account.to_owned();
        let key = signin::meta_key(account);
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .await?;
            match row {
                Some(row) => Ok(Some(signin::decode(name, &row.try_get::<_, Vec<u8>>(0)?))),
                None => Ok(None),
            }
        })
    }

    fn accounts_needing_login(&self) -> Result<Vec<signin::NeedsLogin>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            // COLLATE "C": byte order, as SQLite compares the keys.
            let rows = client
                .query(
                    r#"SELECT key, value FROM meta
                       WHERE key COLLATE "C" >= $1 AND key COLLATE "C" < $2
                       ORDER BY key COLLATE "C""#,
                    &[&signin::PREFIX, &signin::PREFIX_END],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let key: String = row.try_get(0)?;
                let value: Vec<u8> = row.try_get(1)?;
                if let Some(account) = key.strip_prefix(signin::PREFIX) {
                    out.push(signin::decode(account.to_owned(), &value));
                }
            }
            Ok(out)
        })
    }

    fn imap_state(&self, account: &str, folder: &str) -> Result<Option<ImapFolderState>> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT uidvalidity, highest_uid FROM imap_folders
                     WHERE account = $1 AND folder = $2",
                    &[&account, &folder],
                )
                .await?;
            row.map(|r| {
                let (v, h): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                Ok(ImapFolderState {
                    uidvalidity: u32::try_from(v)
                        .map_err(|_| Error::Corrupt(format!("uidvalidity {v} out of range")))?,
                    highest_uid: u32::try_from(h)
                        .map_err(|_| Error::Corrupt(format!("highest uid {h} out of range")))?,
                })
            })
            .transpose()
        })
    }

    fn set_imap_state(
        &mut self,
        account: &str,
        folder: &str,
        state: ImapFolderState,
    ) -> Result<usize> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let (uidvalidity, highest) = (int(state.uidvalidity), int(state.highest_uid));
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let now = now();
            let abandoned = tx
                .execute(
                    "UPDATE pending_actions
                     SET state = 'abandoned', updated_at = $4,
                         last_error = 'UIDVALIDITY changed to ' || $3::bigint::text
                             || '; the UID no longer names this message'
                     WHERE state = 'pending' AND message_id IN (
                         SELECT id FROM messages
                         WHERE account = $1 AND folder = $2 AND uid IS NOT NULL
                             AND uidvalidity != $3)",
                    &[&account, &folder, &uidvalidity, &now],
                )
                .await?;
            if abandoned > 0 {
                tracing::warn!(
                    account,
                    folder,
                    uidvalidity,
                    abandoned,
                    "abandoned pending actions after UIDVALIDITY change"
                );
            }
            tx.execute(
                "DELETE FROM imap_retry WHERE account = $1 AND folder = $2 AND uidvalidity != $3",
                &[&account, &folder, &uidvalidity],
            )
            .await?;
            tx.execute(
                "INSERT INTO imap_folders (account, folder, uidvalidity, highest_uid, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account, folder) DO UPDATE
                    SET uidvalidity = excluded.uidvalidity,
                        highest_uid = excluded.highest_uid,
                        updated_at = excluded.updated_at",
                &[&account, &folder, &uidvalidity, &highest, &now],
            )
            .await?;
            tx.commit().await?;
            Ok(abandoned as usize)
        })
    }

    fn reset_imap_state(&mut self, account: &str, folder: &str, uidvalidity: u32) -> Result<usize> {
        tracing::info!(
            account,
            folder,
            uidvalidity,
            "UIDVALIDITY changed; resetting folder state"
        );
        self.set_imap_state(
            account,
            folder,
            ImapFolderState {
                uidvalidity,
                highest_uid: 0,
            },
        )
    }

    fn pop3_seen_uidls(&self, account: &str) -> Result<HashSet<String>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT uidl FROM pop3_uidls WHERE account = $1",
                    &[&account],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn mark_pop3_seen(&mut self, account: &str, uidls: &[&str]) -> Result<()> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let uidls: Vec<String> = uidls.iter().map(|u| (*u).to_owned()).collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let now = now();
            for uidl in &uidls {
                mark_seen(&tx, &account, uidl, now).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn retain_pop3_uidls(&mut self, account: &str, present: &HashSet<String>) -> Result<usize> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let present: Vec<String> = present.iter().cloned().collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let forgotten = tx
                .execute(
                    "DELETE FROM pop3_uidls WHERE account = $1 AND NOT (uidl = ANY($2))",
                    &[&account, &present],
                )
                .await?;
            // Messages to retry that are gone from the server.
            tx.execute(
                "DELETE FROM pop3_retry WHERE account = $1 AND NOT (uidl = ANY($2))",
                &[&account, &present],
            )
            .await?;
            tx.commit().await?;
            Ok(forgotten as usize)
        })
    }

    fn forget_pop3_uidls(&mut self, account: &str, uidls: &[&str]) -> Result<usize> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        let uidls: Vec<String> = uidls.iter().map(|u| (*u).to_owned()).collect();
        let fence = self.fences.check(&account)?;
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, fence).await?;
            let n = tx
                .execute(
                    "DELETE FROM pop3_uidls WHERE account = $1 AND uidl = ANY($2)",
                    &[&account, &uidls],
                )
                .await?;
            tx.commit().await?;
            Ok(n as usize)
        })
    }

    fn pending_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.actions(account, "pending")
    }

    fn abandoned_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.actions(account, "abandoned")
    }

    fn complete_action(&mut self, id: i64) -> Result<()> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let n = client
                .execute("DELETE FROM pending_actions WHERE id = $1", &[&id])
                .await?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }

    fn complete_actions(&mut self, ids: &[i64]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let pool = self.pool.clone();
        let ids = ids.to_vec();
        self.run(async move {
            let client = pool.get().await?;
            let n = client
                .execute("DELETE FROM pending_actions WHERE id = ANY($1)", &[&ids])
                .await?;
            Ok(n as usize)
        })
    }

    fn fail_action(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET attempts = attempts + 1, last_error = $2, updated_at = $3
             WHERE id = $1",
            error,
        )
    }

    fn move_copied(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET action = 'delete', target = NULL,
                 attempts = attempts + 1, last_error = $2, updated_at = $3
             WHERE id = $1 AND action = 'move'",
            error,
        )
    }

    fn abandon_action(&mut self, id: i64, reason: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET state = 'abandoned', last_error = $2, updated_at = $3
             WHERE id = $1",
            reason,
        )
    }

    fn expect_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uids: Vec<i64> = uids.iter().copied().map(int).collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, first_at,
                         updated_at)
                     SELECT $1, $2, $3, u, $5, $6, $6 FROM unnest($4::bigint[]) AS u
                     ON CONFLICT DO NOTHING",
                    &[
                        &account,
                        &folder,
                        &uidvalidity,
                        &uids,
                        &RETRY_PENDING_REASON,
                        &now(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn fail_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        failures: &[(u32, String)],
    ) -> Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let failures: Vec<(i64, String)> = failures
            .iter()
            .map(|(u, r)| (int(*u), pg_text(r)))
            .collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now();
            let statement = tx
                .prepare_cached(
                    "INSERT INTO imap_retry (account, folder, uidvalidity, uid, reason, attempts,
                         first_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $6)
                     ON CONFLICT (account, folder, uidvalidity, uid) DO UPDATE
                         SET reason = excluded.reason, attempts = imap_retry.attempts + 1,
                             updated_at = excluded.updated_at",
                )
                .await?;
            for (uid, reason) in &failures {
                tx.execute(
                    &statement,
                    &[&account, &folder, &uidvalidity, uid, reason, &now],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn forget_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uids: Vec<i64> = uids.iter().copied().map(int).collect();
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "DELETE FROM imap_retry
                     WHERE account = $1 AND folder = $2 AND uidvalidity = $3 AND uid = ANY($4)",
                    &[&account, &folder, &uidvalidity, &uids],
                )
                .await?;
            Ok(())
        })
    }

    fn imap_retry(&self, account: &str, folder: &str, uidvalidity: u32) -> Result<Vec<RetryUid>> {
        let pool = self.pool.clone();
        let (account, folder) = (account.to_owned(), folder.to_owned());
        let uidvalidity = int(uidvalidity);
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT uid, reason, attempts, first_at FROM imap_retry
                     WHERE account = $1 AND folder = $2 AND uidvalidity = $3 ORDER BY uid",
                    &[&account, &folder, &uidvalidity],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let uid: i64 = r.try_get(0)?;
                    Ok(RetryUid {
                        uid: u32::try_from(uid)
                            .map_err(|_| Error::Corrupt(format!("retry uid {uid} out of range")))?,
                        reason: r.try_get(1)?,
                        attempts: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
                        first_at: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn fail_pop3_uidl(&mut self, account: &str, uidl: &str, reason: &str) -> Result<()> {
        let pool = self.pool.clone();
        let (account, uidl, reason) = (account.to_owned(), uidl.to_owned(), pg_text(reason));
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO pop3_retry (account, uidl, reason, first_at, updated_at)
                     VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (account, uidl) DO UPDATE SET reason = excluded.reason,
                         attempts = pop3_retry.attempts + 1, updated_at = excluded.updated_at",
                    &[&account, &uidl, &reason, &now()],
                )
                .await?;
            Ok(())
        })
    }

    fn pop3_retry(&self, account: &str) -> Result<Vec<RetryUidl>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    // Byte order, as SQLite sorts.
                    "SELECT uidl, reason, attempts FROM pop3_retry WHERE account = $1
                     ORDER BY uidl COLLATE \"C\"",
                    &[&account],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(RetryUidl {
                        uidl: r.try_get(0)?,
                        reason: r.try_get(1)?,
                        attempts: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    })
                })
                .collect()
        })
    }

    fn save_account(
        &mut self,
        name: &str,
        config_json: &str,
        secrets: &[(&str, Secret)],
    ) -> Result<()> {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(config_json) {
            return Err(Error::InvalidConfig {
                account: name.to_owned(),
                reason: e.to_string(),
            });
        }
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let mut sealed: Vec<(&str, Vec<u8>)> = Vec::with_capacity(secrets.len());
        for (secret_name, secret) in secrets {
            let value = key.seal(secret.expose().as_bytes(), &secret_aad(name, secret_name))?;
            sealed.push((secret_name, value));
        }
        // Byte order, the order `load_account` reads them in.
        sealed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let config = seal_config(&key, name, config_json, &sealed)?;
        let sealed: Vec<(String, Vec<u8>)> =
            sealed.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        let pool = self.pool.clone();
        let name = name.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now();
            let id: i64 = tx
                .query_one(
                    "INSERT INTO accounts (name, config, created_at, updated_at)
                     VALUES ($1, $2, $3, $3)
                     ON CONFLICT (name) DO UPDATE
                        SET config = excluded.config, updated_at = excluded.updated_at
                     RETURNING id",
                    &[&name, &config, &now],
                )
                .await?
                .try_get(0)?;
            tx.execute("DELETE FROM account_secrets WHERE account_id = $1", &[&id])
                .await?;
            for (secret_name, value) in &sealed {
                tx.execute(
                    "INSERT INTO account_secrets (account_id, name, sealed) VALUES ($1, $2, $3)",
                    &[&id, secret_name, value],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn load_account(&self, name: &str) -> Result<Option<StoredAccount>> {
        let pool = self.pool.clone();
        let owned = name.to_owned();
        let found = self.run(async move {
            let mut client = pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let Some(row) = tx
                .query_opt("SELECT id, config FROM accounts WHERE name = $1", &[&owned])
                .await?
            else {
                return Ok(None);
            };
            let (id, config): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
            let sealed = tx
                .query(
                    // Byte order, as the settings were sealed with them.
                    "SELECT name, sealed FROM account_secrets WHERE account_id = $1
                     ORDER BY name COLLATE \"C\"",
                    &[&id],
                )
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<(String, Vec<u8>)>>>()?;
            tx.commit().await?;
            Ok(Some((config, sealed)))
        })?;
        let Some((stored_config, sealed)) = found else {
            return Ok(None);
        };
        let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
        open_account(key, name, &stored_config, sealed).map(Some)
    }

    fn list_accounts(&self) -> Result<Vec<String>> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query("SELECT name FROM accounts ORDER BY name COLLATE \"C\"", &[])
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn remove_account(&mut self, name: &str) -> Result<bool> {
        let pool = self.pool.clone();
        let name = name.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let removed = tx
                .execute("DELETE FROM accounts WHERE name = $1", &[&name])
                .await?;
            tx.execute("DELETE FROM imap_folders WHERE account = $1", &[&name])
                .await?;
            tx.execute("DELETE FROM pop3_uidls WHERE account = $1", &[&name])
                .await?;
            tx.execute(
                "DELETE FROM meta WHERE key = $1",
                &[&signin::meta_key(&name)],
            )
            .await?;
            tx.execute(
                "DELETE FROM pending_actions
                 WHERE message_id IN (SELECT id FROM messages WHERE account = $1)",
                &[&name],
            )
            .await?;
            tx.commit().await?;
            Ok(removed > 0)
        })
    }

    fn has_key(&self) -> bool {
        self.key.is_some()
    }

    fn record_event(&mut self, kind: &str, account: &str, data: Option<&str>) -> Result<String> {
        PgStore::record_event(self, kind, account, data)
    }

    fn fan_out_events(&mut self, targets: &[TargetSpec<'_>], limit: usize) -> Result<usize> {
        PgStore::fan_out_events(self, targets, limit)
    }

    fn claim_due_deliveries(
        &mut self,
        targets: &[&str],
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        PgStore::claim_due_deliveries(self, targets, now_ms, lease_ms, limit)
    }

    fn next_delivery_due(&self, targets: &[&str]) -> Result<Option<i64>> {
        PgStore::next_delivery_due(self, targets)
    }

    fn has_new_events(&self) -> Result<bool> {
        PgStore::has_new_events(self)
    }

    fn delivery_done(&mut self, id: i64, status: Option<u16>) -> Result<()> {
        self.set_delivery(id, DeliveryState::Done, None, status, None)
    }

    fn delivery_retry(
        &mut self,
        id: i64,
        status: Option<u16>,
        error: &str,
        next_at_ms: i64,
    ) -> Result<()> {
        self.set_delivery(
            id,
            DeliveryState::Pending,
            Some(next_at_ms),
            status,
            Some(error),
        )
    }

    fn delivery_dead(&mut self, id: i64, status: Option<u16>, error: &str) -> Result<()> {
        self.set_delivery(id, DeliveryState::Dead, None, status, Some(error))
    }

    fn finish_deliveries(&mut self, outcomes: &[DeliveryOutcome]) -> Result<()> {
        PgStore::finish_deliveries(self, outcomes)
    }

    fn stop_target(&mut self, name: &str, reason: &str) -> Result<usize> {
        PgStore::stop_target(self, name, reason)
    }

    fn target_stopped(&self, name: &str) -> Result<Option<String>> {
        PgStore::target_stopped(self, name)
    }

    fn list_deliveries(&self, filter: DeliveryFilter, limit: usize) -> Result<Vec<Delivery>> {
        PgStore::list_deliveries(self, filter, limit)
    }

    fn retry_deliveries(&mut self, which: RetrySelection) -> Result<usize> {
        PgStore::retry_deliveries(self, which)
    }

    fn rekey(&mut self, old: &EncryptionKey, new: &EncryptionKey) -> Result<usize> {
        let pool = self.pool.clone();
        let (old, new_key) = (old.clone(), new.clone());
        let count = self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // The key check's row lock makes two rekeys wait for each other.
            let check = tx
                .query_opt(
                    "SELECT value FROM meta WHERE key = 'key_check' FOR UPDATE",
                    &[],
                )
                .await?;
            if let Some(row) = check {
                let sealed: Vec<u8> = row.try_get(0)?;
                if old.open(&sealed, KEY_CHECK_AAD).as_deref() != Some(KEY_CHECK_PLAIN) {
                    return Err(Error::WrongKey);
                }
            }
            let rows = tx
                .query(
                    "SELECT s.account_id, a.name, s.name, s.sealed
                     FROM account_secrets s JOIN accounts a ON a.id = s.account_id
                     ORDER BY s.account_id, s.name COLLATE \"C\"
                     FOR UPDATE",
                    &[],
                )
                .await?;
            // Each account's secrets, old and new sealed bytes, in name (byte) order.
            type Resealed = Vec<(String, Vec<u8>, Vec<u8>)>;
            let mut by_account: BTreeMap<i64, Resealed> = BTreeMap::new();
            for row in &rows {
                let (account_id, account, secret, sealed): (i64, String, String, Vec<u8>) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
                let aad = secret_aad(&account, &secret);
                let plain = old.open(&sealed, &aad).ok_or(Error::WrongKey)?;
                let resealed = new_key.seal(&plain, &aad)?;
                tx.execute(
                    "UPDATE account_secrets SET sealed = $3 WHERE account_id = $1 AND name = $2",
                    &[&account_id, &secret, &resealed],
                )
                .await?;
                by_account
                    .entry(account_id)
                    .or_default()
                    .push((secret, sealed, resealed));
            }
            // The settings are bound to the sealed secrets: seal them again beside the new ones.
            let accounts = tx
                .query("SELECT id, name, config FROM accounts FOR UPDATE", &[])
                .await?;
            for row in &accounts {
                let (id, name, stored): (i64, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let secrets = by_account.get(&id).map_or(&[][..], Vec::as_slice);
                let old_sealed: Vec<(String, Vec<u8>)> = secrets
                    .iter()
                    .map(|(n, o, _)| (n.clone(), o.clone()))
                    .collect();
                let Some(json) = open_config(&old, &name, &stored, &old_sealed) else {
                    tracing::warn!(account = %name, "stored account settings failed to authenticate; left as they are");
                    continue;
                };
                let new_sealed: Vec<(&str, Vec<u8>)> = secrets
                    .iter()
                    .map(|(n, _, r)| (n.as_str(), r.clone()))
                    .collect();
                let config = seal_config(&new_key, &name, &json, &new_sealed)?;
                tx.execute("UPDATE accounts SET config = $2 WHERE id = $1", &[&id, &config])
                    .await?;
            }
            let rotated_rows = tx
                .query(
                    "SELECT key, value FROM meta WHERE key LIKE 'rotated:%' FOR UPDATE",
                    &[],
                )
                .await?;
            for row in &rotated_rows {
                let (meta_key, sealed): (String, Vec<u8>) = (row.try_get(0)?, row.try_get(1)?);
                let resealed = rotated::reseal(&old, &new_key, &meta_key, &sealed)?;
                tx.execute(
                    "UPDATE meta SET value = $2 WHERE key = $1",
                    &[&meta_key, &resealed],
                )
                .await?;
            }
            let check = new_key.seal(KEY_CHECK_PLAIN, KEY_CHECK_AAD)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&check],
            )
            .await?;
            tx.commit().await?;
            Ok(rows.len() + rotated_rows.len())
        })?;
        self.key = Some(new.clone());
        tracing::info!(secrets = count, "store re-encrypted under a new key");
        Ok(count)
    }

    fn save_rotated_secret(
        &mut self,
        account: &str,
        slot: &str,
        origin: &Secret,
        current: &Secret,
    ) -> Result<()> {
        let key = self.key.clone().ok_or(Error::NoKey("saved"))?;
        let sealed = rotated::seal(&key, account, slot, origin, current)?;
        let meta_key = rotated::meta_key(account, slot);
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&meta_key, &sealed],
                )
                .await?;
            Ok(())
        })
    }

    fn load_rotated_secret(
        &self,
        account: &str,
        slot: &str,
        origin: &Secret,
    ) -> Result<Option<Secret>> {
        let meta_key = rotated::meta_key(account, slot);
        let pool = self.pool.clone();
        let sealed: Option<Vec<u8>> = self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&meta_key])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?)
        })?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.key.as_ref().ok_or(Error::NoKey("read"))?;
        rotated::open(key, account, slot, origin, &sealed)
    }
}

/// How much of a raw message [`StoreBackend::write_raw_to`] reads at a time.
const RAW_CHUNK: i64 = 256 * 1024;

/// True when message `id` was stored with inline images embedded as data URLs.
fn summary_sanitize_is_data_url(store: &PgStore, id: MessageId) -> Result<bool> {
    let pool = store.pool.clone();
    let sanitize: Option<String> = store.run(async move {
        let client = pool.get().await?;
        Ok(client
            .query_opt("SELECT sanitize FROM messages WHERE id = $1", &[&id.0])
            .await?
            .map(|r| r.try_get::<_, Option<String>>(0))
            .transpose()?
            .flatten())
    })?;
    Ok(codec::decode_sanitize(sanitize.as_deref())?.is_some_and(|s| s.cid == CidImages::DataUrl))
}
