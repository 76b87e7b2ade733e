//! Keyset paging and search, the pending actions of listed messages, and per-account counts
//! on PostgreSQL (the statements of `page.rs`).

use std::collections::HashMap;

use tokio_postgres::types::ToSql;

use super::PgStore;
use super::query::{message_row, params};
use crate::error::Result;
use crate::page::{Page, PageCursor, PageQuery, like_pattern};
use crate::query::{COLUMNS, summary};
use crate::types::{MessageId, PendingAction};

impl PgStore {
    pub(crate) fn list_page(&self, query: &PageQuery) -> Result<Page> {
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

    pub(crate) fn pending_actions_of(
        &self,
        ids: &[MessageId],
    ) -> Result<HashMap<MessageId, PendingAction>> {
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

    pub(crate) fn count_by_account(&self) -> Result<HashMap<String, u64>> {
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
}
