//! Storing messages on PostgreSQL (the statements of `messages.rs`): one transaction per
//! message or batch, its pending action, its outbox event and the sync-state advance
//! included; storing the same message twice stores it once.

use bytes::Bytes;
use deadpool_postgres::Transaction;

use super::PgStore;
use super::common::pg_text;
use super::lease::check_lease;
use super::sync::mark_seen;
use crate::codec;
use crate::error::{Error, Result};
use crate::lease::Fence;
use crate::outbox::{MESSAGE_RECEIVED, new_event_id, now_ms};
use crate::store::now;
use crate::types::{Inserted, MessageId, NewMessage, PendingAction, raw_sha256};

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

/// The id of the message stored under this server ref (any content), if any.
pub(super) async fn find_by_ref(
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

impl PgStore {
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

    pub(crate) fn insert_message(&mut self, message: &NewMessage<'_>) -> Result<Inserted> {
        self.insert_all(vec![MessageInsert::new(message)])?
            .pop()
            .ok_or_else(|| Error::Corrupt("no outcome for a stored message".into()))
    }

    pub(crate) fn insert_messages(&mut self, messages: &[NewMessage<'_>]) -> Result<Vec<Inserted>> {
        self.insert_all(messages.iter().map(MessageInsert::new).collect())
    }

    pub(crate) fn message_sha256(&self, id: MessageId) -> Result<Option<[u8; 32]>> {
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
}
