//! Keyset paging and search over stored messages, and per-account counts (the web app's
//! listings): a page starts after the last message of the one before, so paging deep costs
//! the same as the first page and a message stored meanwhile never shifts a page.

use std::collections::HashMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value;

use crate::error::Result;
use crate::query::{COLUMNS, MessageRow, summary};
use crate::store::Store;
use crate::types::{MessageId, MessageSummary, PendingAction};

/// Where a page of messages starts: just after this message, in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// The message's date (its Date header, else when it was stored), seconds since the epoch.
    pub sort_date: i64,
    /// The message's id.
    pub id: i64,
}

impl PageCursor {
    /// The cursor as text for a URL: `<sort_date>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.sort_date, self.id)
    }

    /// Reads [`encode`](Self::encode)'s text; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let (date, id) = text.split_once('.')?;
        Some(PageCursor {
            sort_date: date.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// Which page of messages [`Store::list_page`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// Only this account.
    pub account: Option<String>,
    /// Only messages whose subject or From contains this text (case-insensitive for ASCII).
    pub search: Option<String>,
    /// Start after this message; `None`: the newest.
    pub after: Option<PageCursor>,
    /// At most this many messages (1 to 500; 0 means 50).
    pub limit: u32,
}

/// One page of messages, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The messages.
    pub messages: Vec<MessageSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageCursor>,
}

/// `text` with LIKE's wildcards escaped (by `\`), between `%`.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// One page of messages, newest first (by date, then id), as `query` says.
    pub fn list_page(&self, query: &PageQuery) -> Result<Page> {
        let limit = match query.limit {
            0 => 50,
            n => n.min(500),
        };
        self.read(|conn| {
            let mut conditions = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            if let Some(account) = &query.account {
                values.push(Value::Text(account.clone()));
                conditions.push(format!("account = ?{}", values.len()));
            }
            if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
                values.push(Value::Text(like_pattern(search)));
                let n = values.len();
                conditions.push(format!(
                    "(subject LIKE ?{n} ESCAPE '\\' OR from_addrs LIKE ?{n} ESCAPE '\\')"
                ));
            }
            if let Some(after) = query.after {
                values.push(Value::Integer(after.sort_date));
                let d = values.len();
                values.push(Value::Integer(after.id));
                let i = values.len();
                conditions.push(format!(
                    "(sort_date < ?{d} OR (sort_date = ?{d} AND id < ?{i}))"
                ));
            }
            let clause = if conditions.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions.join(" AND "))
            };
            // One more than asked for says whether there is a next page.
            values.push(Value::Integer(i64::from(limit) + 1));
            let sql = format!(
                "SELECT {COLUMNS}, sort_date FROM messages{clause}
                 ORDER BY sort_date DESC, id DESC LIMIT ?{}",
                values.len()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(values), |row| {
                    Ok((MessageRow::from_row(row)?, row.get::<_, i64>(21)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() > limit as usize;
            let mut messages = Vec::with_capacity(rows.len().min(limit as usize));
            let mut last = None;
            for (row, sort_date) in rows.into_iter().take(limit as usize) {
                last = Some(PageCursor {
                    sort_date,
                    id: row.id,
                });
                messages.push(summary(row)?);
            }
            Ok(Page {
                messages,
                next: if more { last } else { None },
            })
        })
    }

    /// The server action still pending for each of `ids` that has one (a listing's column:
    /// delete, or move to a folder); messages without one are absent.
    pub fn pending_actions_of(
        &self,
        ids: &[MessageId],
    ) -> Result<HashMap<MessageId, PendingAction>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(|conn| {
            let marks = vec!["?"; ids.len()].join(", ");
            let sql = format!(
                "SELECT message_id, action, target FROM pending_actions
                 WHERE state = 'pending' AND message_id IN ({marks}) ORDER BY id"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(ids.iter().map(|id| id.0)), |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, action, target)| {
                    let action = match (action.as_str(), target) {
                        ("delete", _) => PendingAction::Delete,
                        ("move", Some(folder)) => PendingAction::MoveTo(folder),
                        _ => return None,
                    };
                    Some((MessageId(id), action))
                })
                .collect())
        })
    }

    /// How many messages each account has stored (accounts with none are absent).
    pub fn count_by_account(&self) -> Result<HashMap<String, u64>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT account, count(*) FROM messages GROUP BY account")?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?.max(0) as u64,
                    ))
                })?
                .collect::<rusqlite::Result<HashMap<_, _>>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use inbound_message::{Address, Email};

    use super::*;
    use crate::{NewMessage, ServerRef};

    fn store_with(n: u32) -> Store {
        let mut store = Store::open_in_memory(None).unwrap();
        for i in 0..n {
            let email = Email {
                subject: Some(format!(
                    "Subject {i}{}",
                    if i % 2 == 0 { " 100%" } else { "" }
                )),
                from: vec![Address {
                    name: None,
                    address: format!("sender{}@example.org", i % 3),
                }],
                date: Some(1_000_000 + i64::from(i / 2)),
                raw: format!("Subject: {i}\r\n\r\nbody\r\n").into(),
                ..Email::default()
            };
            let r = ServerRef::Imap {
                uidvalidity: 1,
                uid: i + 1,
            };
            let account = if i % 4 == 3 { "b" } else { "a" };
            store
                .insert_message(&NewMessage::new(account, "INBOX", &r, &email))
                .unwrap();
        }
        store
    }

    #[test]
    fn pages_walk_every_message_once_newest_first() {
        let store = store_with(25);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_page(&PageQuery {
                    after,
                    limit: 4,
                    ..PageQuery::default()
                })
                .unwrap();
            assert!(page.messages.len() <= 4);
            seen.extend(page.messages.iter().map(|m| (m.date, m.id.0)));
            match page.next {
                Some(next) => after = Some(PageCursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted);
    }

    #[test]
    fn a_listing_reads_each_message_s_pending_action() {
        let mut store = Store::open_in_memory(None).unwrap();
        let mut ids = Vec::new();
        for (uid, action) in [
            (1, None),
            (2, Some(PendingAction::Delete)),
            (3, Some(PendingAction::MoveTo("Archive".to_owned()))),
        ] {
            let email = Email::parse(&b"Subject: x\r\n\r\nbody\r\n"[..]);
            let r = ServerRef::Imap {
                uidvalidity: 1,
                uid,
            };
            ids.push(
                store
                    .insert_message(
                        &NewMessage::new("a", "INBOX", &r, &email).with_action(action.as_ref()),
                    )
                    .unwrap()
                    .id,
            );
        }
        let pending = store.pending_actions_of(&ids).unwrap();
        assert_eq!(pending.get(&ids[0]), None);
        assert_eq!(pending.get(&ids[1]), Some(&PendingAction::Delete));
        assert_eq!(
            pending.get(&ids[2]),
            Some(&PendingAction::MoveTo("Archive".to_owned()))
        );
        let done = store.pending_actions("a").unwrap()[0].id;
        store.complete_action(done).unwrap();
        assert_eq!(store.pending_actions_of(&ids).unwrap().get(&ids[1]), None);
    }

    #[test]
    fn search_matches_subject_or_from_and_escapes_wildcards() {
        let store = store_with(12);
        let q = |account: Option<&str>, s: &str| {
            store
                .list_page(&PageQuery {
                    account: account.map(str::to_owned),
                    search: Some(s.to_owned()),
                    limit: 100,
                    ..PageQuery::default()
                })
                .unwrap()
                .messages
        };
        assert_eq!(q(None, "100%").len(), 6);
        assert_eq!(q(None, "0%").len(), 6);
        assert_eq!(q(None, "_").len(), 0);
        assert_eq!(q(None, "sender1@").len(), 4);
        assert!(q(Some("b"), "subject").iter().all(|m| m.account == "b"));
        let counts = store.count_by_account().unwrap();
        assert_eq!(counts.get("a"), Some(&9));
        assert_eq!(counts.get("b"), Some(&3));
    }
}
