//! Reading messages back on PostgreSQL (the statements of `query.rs`): listings, counts,
//! whole messages, summaries, lookups by server ref, content or Message-ID, raw `.eml`
//! export; and the outbox's event listing.

use bytes::Bytes;
use deadpool_postgres::GenericClient as _;
use inbound_message::Email;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::common::int;
use super::messages::find_by_ref;
use crate::codec;
use crate::error::Result;
use crate::outbox::OutboxEvent;
use crate::query::{COLUMNS, MessageRow, stored_message, summary};
use crate::types::{
    MessageFilter, MessageId, MessageSummary, ServerRef, StoredMessage, raw_sha256,
};

pub(super) fn message_row(row: &Row) -> Result<MessageRow> {
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

pub(super) fn params(values: &[Box<dyn ToSql + Send + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl PgStore {
    pub(crate) fn list_messages(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>> {
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

    pub(crate) fn count_messages(&self, filter: &MessageFilter) -> Result<u64> {
        let pool = self.pool.clone();
        let (clause, values) = where_clause(filter);
        let sql = format!("SELECT count(*) FROM messages{clause}");
        self.run(async move {
            let client = pool.get().await?;
            let count: i64 = client.query_one(&sql, &params(&values)).await?.try_get(0)?;
            Ok(count.max(0) as u64)
        })
    }

    pub(crate) fn get_message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.get_parsed_with(id, Email::parse)
    }

    /// A message's row and raw bytes from one snapshot, parsed by `parse` on the caller's
    /// thread (parsing and sanitizing stay off the store's runtime).
    pub(super) fn get_parsed_with(
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

    pub(crate) fn get_summary(&self, id: MessageId) -> Result<Option<MessageSummary>> {
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

    pub(crate) fn export_eml(&self, id: MessageId) -> Result<Option<Bytes>> {
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

    pub(crate) fn is_stored(
        &self,
        account: &str,
        folder: &str,
        server_ref: &ServerRef,
    ) -> Result<bool> {
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

    pub(crate) fn find_by_server_ref(
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

    pub(crate) fn find_duplicate(&self, account: &str, raw: &[u8]) -> Result<Option<MessageId>> {
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

    pub(crate) fn has_other_uidvalidity(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<bool> {
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

    pub(crate) fn find_by_message_id(
        &self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<MessageId>> {
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

    pub(crate) fn list_events(&self, limit: usize) -> Result<Vec<OutboxEvent>> {
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
}
