//! Storing messages: one transaction per message (or per batch), idempotent per server ref.

use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::codec;
use crate::error::Result;
use crate::store::{Store, now};
use crate::sync;
use crate::types::{Inserted, MessageId, NewMessage, PendingAction, ServerRef, raw_sha256};

impl Store {
    /// Stores one message, and in the same transaction records its pending server action (if
    /// any), writes its `message.received` event to the outbox ([`crate::outbox`]) and advances the sync state (IMAP highest UID, POP3 UIDL seen).
    ///
    /// Idempotent: if a message with the same account, folder and server ref is already
    /// stored, nothing is written except the pending action when that message has no identical
    /// one pending, and the existing id is returned with `created: false`.
    ///
    /// A POP3 UIDL is not proof of identity: servers reuse UIDLs (a counter restarted after a
    /// rebuild or a migration). A POP3 message counts as stored only when a message with the
    /// same UIDL *and the same SHA-256* is; one with a stored UIDL but other bytes is stored as
    /// a new message, so its pending action (a `DELE`) is only ever recorded for bytes that
    /// are in the store.
    ///
    /// When this returns `Ok`, the message is durably on disk: only then may the caller delete
    /// or move it on the server.
    ///
    /// IMAP's highest UID is advanced to this message's UID when the folder's recorded
    /// UIDVALIDITY matches (or none is recorded yet); store a folder's messages in ascending UID
    /// order so that "every UID up to the highest is stored" holds after a crash.
    pub fn insert_message(&mut self, message: &NewMessage<'_>) -> Result<Inserted> {
        // Hash before taking the write lock, so other writers wait less.
        let hash = digest(message);
        self.write(|tx| insert_in(tx, message, &hash))
    }

    /// Stores many messages in one transaction: all of them or none. Returns one outcome per
    /// message, in order. Faster than one transaction each for many small messages.
    pub fn insert_messages(&mut self, messages: &[NewMessage<'_>]) -> Result<Vec<Inserted>> {
        let hashes: Vec<[u8; 32]> = messages.iter().map(digest).collect();
        self.write(|tx| {
            messages
                .iter()
                .zip(&hashes)
                .map(|(m, hash)| insert_in(tx, m, hash))
                .collect()
        })
    }
}

/// The SHA-256 of the message's raw bytes: the caller's, or computed here.
fn digest(m: &NewMessage<'_>) -> [u8; 32] {
    match m.sha256 {
        Some(given) => {
            debug_assert_eq!(*given, raw_sha256(&m.email.raw), "a wrong SHA-256 given");
            *given
        }
        None => raw_sha256(&m.email.raw),
    }
}

/// The id of the message stored under this server ref, if any.
pub(crate) fn find_by_ref(
    conn: &rusqlite::Connection,
    account: &str,
    folder: &str,
    server_ref: &ServerRef,
) -> Result<Option<MessageId>> {
    let id = match server_ref {
        ServerRef::Imap { uidvalidity, uid } => conn
            .prepare_cached(
                "SELECT id FROM messages
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
            )?
            .query_row(params![account, folder, uidvalidity, uid], |row| row.get(0))
            .optional()?,
        ServerRef::Pop3 { uidl } => conn
            .prepare_cached(
                "SELECT id FROM messages WHERE account = ?1 AND folder = ?2 AND uidl = ?3",
            )?
            .query_row(params![account, folder, uidl], |row| row.get(0))
            .optional()?,
    };
    Ok(id.map(MessageId))
}

/// The id of the message stored under this server ref with exactly these bytes (by
/// SHA-256) for POP3, or under this server ref for IMAP (a UID names one message for the
/// life of a UIDVALIDITY).
fn find_stored(tx: &Transaction<'_>, m: &NewMessage<'_>, hash: &[u8]) -> Result<Option<MessageId>> {
    let ServerRef::Pop3 { uidl } = m.server_ref else {
        return find_by_ref(tx, m.account, m.folder, m.server_ref);
    };
    let id = tx
        .prepare_cached(
            "SELECT id FROM messages
             WHERE account = ?1 AND folder = ?2 AND uidl = ?3 AND sha256 = ?4",
        )?
        .query_row(params![m.account, m.folder, uidl, hash], |row| row.get(0))
        .optional()?;
    if id.is_none() && find_by_ref(tx, m.account, m.folder, m.server_ref)?.is_some() {
        tracing::warn!(
            account = m.account,
            %uidl,
            "the POP3 server reused a UIDL for a different message; storing it as a new one"
        );
    }
    Ok(id.map(MessageId))
}

fn insert_in(tx: &Transaction<'_>, m: &NewMessage<'_>, hash: &[u8]) -> Result<Inserted> {
    let now = now();
    if let Some(id) = find_stored(tx, m, hash)? {
        if let Some(action) = m.action {
            if !has_pending(tx, id, action)? {
                record_action(tx, id, action, now)?;
            }
        }
        sync::note_stored(tx, m.account, m.folder, m.server_ref, now)?;
        tracing::debug!(%id, account = m.account, folder = m.folder, "message already stored");
        return Ok(Inserted { id, created: false });
    }

    let email = m.email;
    let (uidvalidity, uid, uidl) = codec::ref_columns(m.server_ref);
    tx.prepare_cached(
        "INSERT INTO messages (account, folder, uidvalidity, uid, uidl, message_id, subject,
             from_addrs, sender, reply_to, to_addrs, cc_addrs, bcc_addrs, date, in_reply_to, refs,
             sort_date, stored_at, size, sha256, attachments, sanitize)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        m.account,
        m.folder,
        uidvalidity,
        uid,
        uidl,
        email.message_id,
        email.subject,
        codec::encode_addresses(&email.from),
        codec::encode_address(email.sender.as_ref()),
        codec::encode_addresses(&email.reply_to),
        codec::encode_addresses(&email.to),
        codec::encode_addresses(&email.cc),
        codec::encode_addresses(&email.bcc),
        email.date,
        codec::encode_strings(&email.in_reply_to),
        codec::encode_strings(&email.references),
        email.date.unwrap_or(now),
        now,
        email.raw.len() as i64,
        hash,
        codec::encode_attachments_sized(&email.attachments, m.attachment_sizes),
        codec::encode_sanitize(m.sanitize),
    ])?;
    let id = MessageId(tx.last_insert_rowid());

    // The raw bytes are the one copy of the content: bodies, headers and attachment contents
    // are parsed from them again when the message is read.
    crate::raw::insert_raw(tx, id, &email.raw)?;

    if let Some(action) = m.action {
        record_action(tx, id, action, now)?;
    }
    // Announced in the same transaction: a stored message is never left unannounced.
    crate::outbox::insert_event(
        tx,
        crate::outbox::MESSAGE_RECEIVED,
        m.account,
        Some(id),
        None,
    )?;
    sync::note_stored(tx, m.account, m.folder, m.server_ref, now)?;
    tracing::debug!(%id, account = m.account, folder = m.folder, size = email.raw.len(), "message stored");
    Ok(Inserted { id, created: true })
}

impl Store {
    /// The SHA-256 of a stored message's raw bytes (`None`: no such message). Compare it
    /// with [`raw_sha256`](crate::raw_sha256) of bytes downloaded again to prove that a server
    /// ref still names the stored message before acting on it.
    pub fn message_sha256(&self, id: MessageId) -> Result<Option<[u8; 32]>> {
        self.read(|conn| {
            let hash: Option<Vec<u8>> = conn
                .prepare_cached("SELECT sha256 FROM messages WHERE id = ?1")?
                .query_row([id.0], |row| row.get(0))
                .optional()?;
            hash.map(|h| {
                <[u8; 32]>::try_from(h.as_slice()).map_err(|_| {
                    crate::error::Error::Corrupt(format!("message {id} has a malformed SHA-256"))
                })
            })
            .transpose()
        })
    }
}

fn action_columns(action: &PendingAction) -> (&'static str, Option<&str>) {
    match action {
        PendingAction::Delete => ("delete", None),
        PendingAction::MoveTo(folder) => ("move", Some(folder.as_str())),
    }
}

fn has_pending(tx: &Transaction<'_>, id: MessageId, action: &PendingAction) -> Result<bool> {
    let (kind, target) = action_columns(action);
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM pending_actions
             WHERE message_id = ?1 AND action = ?2 AND target IS ?3 AND state = 'pending'",
        )?
        .exists(params![id.0, kind, target])?)
}

fn record_action(
    tx: &Transaction<'_>,
    id: MessageId,
    action: &PendingAction,
    now: i64,
) -> Result<()> {
    let (kind, target) = action_columns(action);
    tx.prepare_cached(
        "INSERT INTO pending_actions (message_id, action, target, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![id.0, kind, target, now])?;
    Ok(())
}
