//! Small helpers the PostgreSQL backend's files share: text PostgreSQL can hold, and the
//! integer columns (`bigint`) that hold IMAP numbers.

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
