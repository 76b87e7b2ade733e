//! Small helpers the PostgreSQL backend's files share: text PostgreSQL can hold, and the
//! integer columns (`bigint`) that hold IMAP numbers, and statements prepared once per
//! pooled connection.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::Result;

/// `text` as PostgreSQL can hold it: a `text` value cannot contain NUL, which a decoded
/// header can (`=?utf-8?q?=00?=`) and an error quoting a server might, so NUL becomes U+FFFD.
/// Without this such a message could never be stored.
pub(super) fn pg_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// An IMAP number (UIDVALIDITY, UID) as the `bigint` column holds it.
pub(super) fn int(value: u32) -> i64 {
    i64::from(value)
}

/// Runs `sql` as a prepared statement cached on the pooled connection: parsed and planned
/// once per connection instead of on every call (the hot path stores a message with half a
/// dozen statements).
pub(super) async fn cached_execute(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// As [`cached_execute`], for a statement that returns at most one row.
pub(super) async fn cached_query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

/// As [`cached_execute`], for a statement that returns rows.
pub(super) async fn cached_query(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}
