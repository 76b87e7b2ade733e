//! The schema and its versioned migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Migrations are applied in order,
//! all in one immediate transaction, when a store is opened; a file whose version is above
//! [`SCHEMA_VERSION`] was written by a newer build and is refused.
//!
//! Never edit a migration that has shipped: append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Migration 1: the first schema.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    config     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- sealed = nonce (12) || AES-256-GCM ciphertext || tag (16)
CREATE TABLE account_secrets (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

-- Summary fields; address lists and id lists are JSON arrays.
-- An IMAP message has (uidvalidity, uid), a POP3 message has uidl, never both.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER,
    uid         INTEGER,
    uidl        TEXT,
    message_id  TEXT,
    subject     TEXT,
    from_addrs  TEXT NOT NULL,
    sender      TEXT,
    reply_to    TEXT NOT NULL,
    to_addrs    TEXT NOT NULL,
    cc_addrs    TEXT NOT NULL,
    bcc_addrs   TEXT NOT NULL,
    date        INTEGER,
    in_reply_to TEXT NOT NULL,
    refs        TEXT NOT NULL,
    sort_date   INTEGER NOT NULL,
    stored_at   INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    sha256      BLOB NOT NULL,
    CHECK ((uid IS NOT NULL AND uidvalidity IS NOT NULL AND uidl IS NULL)
        OR (uid IS NULL AND uidvalidity IS NULL AND uidl IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX messages_imap_ref ON messages(account, folder, uidvalidity, uid)
    WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX messages_pop3_ref ON messages(account, folder, uidl)
    WHERE uidl IS NOT NULL;
CREATE INDEX messages_by_folder_date ON messages(account, folder, sort_date);
CREATE INDEX messages_by_date ON messages(sort_date);
CREATE INDEX messages_by_hash ON messages(account, sha256);
CREATE INDEX messages_by_message_id ON messages(account, message_id);

-- The large parts, apart so listings never read them.
CREATE TABLE message_bodies (
    message_id     INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    headers        TEXT NOT NULL,
    warnings       TEXT NOT NULL,
    text           TEXT,
    html           TEXT,
    sanitized_html TEXT,
    raw            BLOB NOT NULL
) STRICT;

-- Attachment content, stored once per message however many parts share it.
CREATE TABLE attachment_contents (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    content    BLOB NOT NULL
) STRICT;
CREATE INDEX attachment_contents_by_message ON attachment_contents(message_id);

CREATE TABLE attachments (
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    filename     TEXT,
    content_type TEXT NOT NULL,
    content_id   TEXT,
    inline       INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    content      INTEGER NOT NULL REFERENCES attachment_contents(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX attachments_by_content ON attachments(content);

CREATE TABLE imap_folders (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    highest_uid INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account, folder)
) STRICT, WITHOUT ROWID;

CREATE TABLE pop3_uidls (
    account TEXT NOT NULL,
    uidl    TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (account, uidl)
) STRICT, WITHOUT ROWID;

CREATE TABLE pending_actions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    action     TEXT NOT NULL CHECK (action IN ('delete', 'move')),
    target     TEXT,
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'abandoned')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((action = 'move') = (target IS NOT NULL))
) STRICT;
CREATE INDEX pending_by_message ON pending_actions(message_id);
CREATE INDEX pending_by_state ON pending_actions(state);
"#;

/// Every migration, in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction.
///
/// An up-to-date file is only read, so opening never waits for another process's writes.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tracing::info!(from = index, to = index + 1, "migrating store schema");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
