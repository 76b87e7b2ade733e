//! Reading messages back: listings, whole messages, raw `.eml` export.

use bytes::Bytes;
use inbound_message::Email;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension as _, Row, params, params_from_iter};

use crate::codec;
use crate::error::Result;
use crate::messages::find_by_ref;
use crate::raw::read_raw_bytes;
use crate::store::Store;
use crate::types::{
    MessageFilter, MessageId, MessageSummary, ServerRef, StoredMessage, raw_sha256,
};

/// The `messages` columns every read takes, in [`MessageRow::from_row`] order.
pub(crate) const COLUMNS: &str = "id, account, folder, uidvalidity, uid, uidl, message_id, subject, \
     from_addrs, sender, reply_to, to_addrs, cc_addrs, bcc_addrs, date, in_reply_to, refs, \
     stored_at, size, attachments, sanitize";

/// One `messages` row, columns still encoded.
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    pub(crate) account: String,
    pub(crate) folder: String,
    pub(crate) uidvalidity: Option<i64>,
    pub(crate) uid: Option<i64>,
    pub(crate) uidl: Option<String>,
    pub(crate) message_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) from: String,
    pub(crate) sender: Option<String>,
    pub(crate) reply_to: String,
    pub(crate) to: String,
    pub(crate) cc: String,
    pub(crate) bcc: String,
    pub(crate) date: Option<i64>,
    pub(crate) in_reply_to: String,
    pub(crate) refs: String,
    pub(crate) stored_at: i64,
    pub(crate) size: i64,
    pub(crate) attachments: String,
    pub(crate) sanitize: Option<String>,
}

impl MessageRow {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            account: row.get(1)?,
            folder: row.get(2)?,
            uidvalidity: row.get(3)?,
            uid: row.get(4)?,
            uidl: row.get(5)?,
            message_id: row.get(6)?,
            subject: row.get(7)?,
            from: row.get(8)?,
            sender: row.get(9)?,
            reply_to: row.get(10)?,
            to: row.get(11)?,
            cc: row.get(12)?,
            bcc: row.get(13)?,
            date: row.get(14)?,
            in_reply_to: row.get(15)?,
            refs: row.get(16)?,
            stored_at: row.get(17)?,
            size: row.get(18)?,
            attachments: row.get(19)?,
            sanitize: row.get(20)?,
        })
    }
}

/// A stored message from its row and its parsed raw bytes (the envelope as stored), its HTML
/// sanitized as recorded. Shared by both backends.
pub(crate) fn stored_message(
    id: MessageId,
    row: MessageRow,
    parsed: Email,
) -> Result<StoredMessage> {
    let email = Email {
        message_id: row.message_id,
        subject: row.subject,
        from: codec::decode_addresses(&row.from)?,
        sender: codec::decode_address(row.sender.as_deref())?,
        reply_to: codec::decode_addresses(&row.reply_to)?,
        to: codec::decode_addresses(&row.to)?,
        cc: codec::decode_addresses(&row.cc)?,
        bcc: codec::decode_addresses(&row.bcc)?,
        date: row.date,
        in_reply_to: codec::decode_strings(&row.in_reply_to)?,
        references: codec::decode_strings(&row.refs)?,
        ..parsed
    };
    let sanitize = codec::decode_sanitize(row.sanitize.as_deref())?;
    let sanitized_html = sanitize.as_ref().and_then(|s| s.apply(&email));
    Ok(StoredMessage {
        id,
        server_ref: codec::ref_from_columns(row.uidvalidity, row.uid, row.uidl)?,
        account: row.account,
        folder: row.folder,
        email,
        sanitized_html,
        sanitize,
        stored_at: row.stored_at,
    })
}

/// The WHERE clause and its parameters for a filter.
fn where_clause(filter: &MessageFilter) -> (String, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(account) = &filter.account {
        values.push(Value::Text(account.clone()));
        conditions.push(format!("account = ?{}", values.len()));
    }
    if let Some(folder) = &filter.folder {
        values.push(Value::Text(folder.clone()));
        conditions.push(format!("folder = ?{}", values.len()));
    }
    if let Some(since) = filter.since {
        values.push(Value::Integer(since));
        conditions.push(format!("sort_date >= ?{}", values.len()));
    }
    if let Some(until) = filter.until {
        values.push(Value::Integer(until));
        conditions.push(format!("sort_date < ?{}", values.len()));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, values)
}

impl Store {
    /// Lists messages matching `filter`, newest first (by Date, or the time stored when the
    /// message has no Date), with their attachments described but not loaded.
    pub fn list_messages(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>> {
        self.read(|conn| {
            let (clause, mut values) = where_clause(filter);
            let order = if filter.oldest_first { "ASC" } else { "DESC" };
            values.push(Value::Integer(filter.limit.map_or(-1, i64::from)));
            values.push(Value::Integer(i64::from(filter.offset)));
            let sql = format!(
                "SELECT {COLUMNS} FROM messages{clause}
                 ORDER BY sort_date {order}, id {order} LIMIT ?{} OFFSET ?{}",
                values.len() - 1,
                values.len()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(values), MessageRow::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(summary).collect()
        })
    }

    /// How many messages match `filter` (its limit and offset are ignored).
    pub fn count_messages(&self, filter: &MessageFilter) -> Result<u64> {
        self.read(|conn| {
            let (clause, values) = where_clause(filter);
            let sql = format!("SELECT count(*) FROM messages{clause}");
            let count: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(values), |row| row.get(0))?;
            Ok(count.max(0) as u64)
        })
    }

    /// One message with everything stored about it, or `None` if there is no such id.
    ///
    /// The envelope fields (Message-ID, subject, addresses, date, In-Reply-To, References) are
    /// the ones stored; headers, bodies, attachments and warnings are parsed from the raw
    /// message. When the message was stored with [`SanitizeHtml`](crate::SanitizeHtml) set,
    /// its HTML body is sanitized here, into [`StoredMessage::sanitized_html`].
    pub fn get_message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.get_message_parsed_with(id, Email::parse)
    }

    /// [`get_message`](Self::get_message) with the raw bytes parsed by `parse`.
    pub(crate) fn get_message_parsed_with(
        &self,
        id: MessageId,
        parse: impl FnOnce(Bytes) -> Email,
    ) -> Result<Option<StoredMessage>> {
        let found = self.read(|conn| {
            let row = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"))?
                .query_row([id.0], MessageRow::from_row)
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let raw = read_raw_bytes(conn, id)?.unwrap_or_default();
            Ok(Some((row, raw)))
        })?;
        let Some((row, raw)) = found else {
            return Ok(None);
        };
        // Parsing and sanitizing happen outside the read transaction.
        stored_message(id, row, parse(raw)).map(Some)
    }

    /// One message's listing line (no body is read or parsed), or `None` if there is no such
    /// id.
    pub fn get_summary(&self, id: MessageId) -> Result<Option<MessageSummary>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"))?
                .query_row([id.0], MessageRow::from_row)
                .optional()?
                .map(summary)
                .transpose()
        })
    }

    /// The raw message exactly as received, ready to write as a `.eml` file; `None` if there
    /// is no such id.
    pub fn export_eml(&self, id: MessageId) -> Result<Option<Bytes>> {
        self.read(|conn| read_raw_bytes(conn, id))
    }

    /// True when a message with this server ref is stored for the account and folder.
    pub fn is_stored(&self, account: &str, folder: &str, server_ref: &ServerRef) -> Result<bool> {
        self.read(|conn| Ok(find_by_ref(conn, account, folder, server_ref)?.is_some()))
    }

    /// The id of the message stored under this server ref, if any.
    pub fn find_by_server_ref(
        &self,
        account: &str,
        folder: &str,
        server_ref: &ServerRef,
    ) -> Result<Option<MessageId>> {
        self.read(|conn| find_by_ref(conn, account, folder, server_ref))
    }

    /// A message of `account` (any folder) whose raw bytes are exactly `raw`, found by SHA-256.
    /// Use it to avoid storing a message twice when its server ref changed (a new UIDVALIDITY,
    /// a message moved by another client).
    pub fn find_duplicate(&self, account: &str, raw: &[u8]) -> Result<Option<MessageId>> {
        let hash = raw_sha256(raw);
        self.read(|conn| {
            let id = conn
                .prepare_cached(
                    "SELECT id FROM messages WHERE account = ?1 AND sha256 = ?2 AND size = ?3
                     ORDER BY id LIMIT 1",
                )?
                .query_row(params![account, hash, raw.len() as i64], |row| row.get(0))
                .optional()?;
            Ok(id.map(MessageId))
        })
    }

    /// True when `account`'s `folder` holds IMAP messages stored under another UIDVALIDITY
    /// than `uidvalidity` (the only ones [`find_duplicate`](Self::find_duplicate) can find
    /// again when the folder is fetched under `uidvalidity`).
    pub fn has_other_uidvalidity(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE account = ?1 AND folder = ?2
                     AND uid IS NOT NULL AND uidvalidity != ?3 LIMIT 1",
                )?
                .exists(params![account, folder, uidvalidity])?)
        })
    }

    /// The messages of `account` with this Message-ID (without angle brackets), oldest first.
    pub fn find_by_message_id(&self, account: &str, message_id: &str) -> Result<Vec<MessageId>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM messages WHERE account = ?1 AND message_id = ?2 ORDER BY id",
            )?;
            let ids = stmt
                .query_map(params![account, message_id], |row| {
                    row.get(0).map(MessageId)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(ids)
        })
    }
}

pub(crate) fn summary(row: MessageRow) -> Result<MessageSummary> {
    Ok(MessageSummary {
        id: MessageId(row.id),
        server_ref: codec::ref_from_columns(row.uidvalidity, row.uid, row.uidl)?,
        account: row.account,
        folder: row.folder,
        message_id: row.message_id,
        subject: row.subject,
        from: codec::decode_addresses(&row.from)?,
        date: row.date,
        stored_at: row.stored_at,
        size: row.size.max(0) as u64,
        attachments: codec::decode_attachments(&row.attachments)?,
    })
}
