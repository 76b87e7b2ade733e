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

/// Migration 2: the raw message is the one copy of a message's content.
///
/// Bodies, headers, warnings and attachment contents are derived from the raw bytes when a
/// message is read, so they are no longer stored beside them (they were about 1.5 times the
/// raw size again). Attachment descriptions move into a JSON column of `messages`, so listings
/// read them without a query per message. HTML is sanitized when read: `sanitize` records the
/// inline-image handling of an account that sanitizes (`NULL`: not sanitized). Rows that had
/// sanitized HTML stored are marked `keep` (`cid:` URLs left as they are).
const V2: &str = r#"
CREATE TABLE message_raw (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    raw        BLOB NOT NULL
) STRICT;
INSERT INTO message_raw (message_id, raw) SELECT message_id, raw FROM message_bodies;

-- [[filename-or-null, content_type, size, inline (0 or 1)], ...] in message order.
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE messages ADD COLUMN sanitize TEXT;
UPDATE messages SET attachments = (
    SELECT json_group_array(json_array(a.filename, a.content_type, a.size, a.inline)
                            ORDER BY a.position)
    FROM attachments a WHERE a.message_id = messages.id)
WHERE id IN (SELECT message_id FROM attachments);
UPDATE messages SET sanitize = 'keep'
WHERE id IN (SELECT message_id FROM message_bodies WHERE sanitized_html IS NOT NULL);

DROP TABLE attachments;
DROP TABLE attachment_contents;
DROP TABLE message_bodies;
"#;

/// Migration 3: a POP3 UIDL names a message only together with its content, and IMAP UIDs
/// asked for but not delivered are kept for the next run.
///
/// Servers reuse UIDLs (a counter restarted after a rebuild or migration), so the same UIDL
/// may name two different messages over time: both are stored, told apart by SHA-256.
/// `imap_retry` holds the UIDs of a folder that a run asked for and did not get whole (the
/// server answered NO, left them out, sent `BODY[] NIL`, a partial body or one whose length
/// is not its RFC822.SIZE): they lie below the folder's highest UID, so only this table
/// makes the next run ask for them again. `pop3_retry` does the same for POP3 messages, so
/// a `latest N` selection never passes over one that was asked for.
const V3: &str = r#"
DROP INDEX messages_pop3_ref;
CREATE UNIQUE INDEX messages_pop3_ref ON messages(account, folder, uidl, sha256)
    WHERE uidl IS NOT NULL;

CREATE TABLE imap_retry (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    first_at    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account, folder, uidvalidity, uid)
) STRICT, WITHOUT ROWID;

-- POP3 messages a run asked for and did not get (RETR refused, an empty or unusable
-- answer): asked for again whatever the fetch policy selects.
CREATE TABLE pop3_retry (
    account    TEXT NOT NULL,
    uidl       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    first_at   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account, uidl)
) STRICT, WITHOUT ROWID;
"#;

/// Migration 4: the outbox. A `message.received` event is written in the transaction that
/// stores its message, so a crash right after storing never loses it; a deliverer fans each
/// event out into one delivery row per configured target (a webhook, a hook command) and works
/// through the due rows, retrying with backoff until done or dead. Times are in milliseconds.
const V4: &str = r#"
CREATE TABLE outbox_events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    account    TEXT NOT NULL,
    message    INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    data       TEXT,
    created_at INTEGER NOT NULL,
    fanned_out INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_events_new ON outbox_events(seq) WHERE fanned_out = 0;

-- A target gets the events from the first one after it was first seen.
CREATE TABLE outbox_targets (
    name        TEXT PRIMARY KEY,
    since_seq   INTEGER NOT NULL,
    stopped_at  INTEGER,
    stop_reason TEXT
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq   INTEGER NOT NULL REFERENCES outbox_events(seq) ON DELETE CASCADE,
    target      TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    last_status INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (event_seq, target)
) STRICT;
CREATE INDEX outbox_deliveries_due ON outbox_deliveries(state, next_at);
"#;

/// Migration 5: nothing here. PostgreSQL's migration 5 adds the fleet's leases; one process
/// owns a SQLite store, so it has nothing to lease. Kept so both count versions alike.
const V5: &str = "-- the fleet's leases live in PostgreSQL only";

/// Every migration, in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{MessageFilter, MessageId, SanitizeHtml, Store};

    const RAW: &[u8] = b"From: Ann <ann@example.org>\r\nSubject: Old\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
        --B\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">Hi</p><script>1</script>\r\n\
        --B\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\nabc\r\n\
        --B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"b.pdf\"\r\n\r\n%PDF\r\n\
        --B--\r\n";

    /// A file as version 1 wrote it: one message with sanitized HTML, two attachments (their
    /// positions inserted out of order) and a pending action; one without.
    fn version_1_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO messages (id, account, folder, uidvalidity, uid, subject, from_addrs,
                 reply_to, to_addrs, cc_addrs, bcc_addrs, in_reply_to, refs, sort_date,
                 stored_at, size, sha256)
             VALUES (1, 'a', 'INBOX', 7, 1, 'Old', '[[\"Ann\",\"ann@example.org\"]]', '[]',
                 '[]', '[]', '[]', '[]', '[]', 5, 5, 0, x'00'),
                    (2, 'a', 'INBOX', 7, 2, 'Plain', '[]', '[]',
                 '[]', '[]', '[]', '[]', '[]', 6, 6, 0, x'00');
             INSERT INTO attachment_contents (id, message_id, content)
                 VALUES (10, 1, x'616263'), (11, 1, x'25504446');
             INSERT INTO attachments (message_id, position, filename, content_type, content_id,
                 inline, size, content)
                 VALUES (1, 1, 'b.pdf', 'application/pdf', NULL, 0, 4, 11),
                        (1, 0, 'a.txt', 'text/plain', NULL, 1, 3, 10);
             INSERT INTO pending_actions (message_id, action, created_at, updated_at)
                 VALUES (1, 'delete', 5, 5);",
        )
        .unwrap();
        for (id, raw, sanitized) in [
            (1, RAW, Some("<p>Hi</p>")),
            (2, &b"Subject: Plain\r\n\r\nx"[..], None),
        ] {
            conn.execute(
                "UPDATE messages SET size = ?2, sha256 = ?3 WHERE id = ?1",
                rusqlite::params![id, raw.len() as i64, sha2::Sha256::digest(raw).as_slice()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO message_bodies (message_id, headers, warnings, text, html,
                     sanitized_html, raw) VALUES (?1, '[]', '[]', NULL, NULL, ?2, ?3)",
                rusqlite::params![id, sanitized, raw],
            )
            .unwrap();
        }
    }

    use sha2::Digest as _;

    #[test]
    fn a_new_file_gets_16_kib_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |path: &std::path::Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        let new = dir.path().join("new.sqlite");
        drop(Store::open(&new, None).unwrap());
        assert_eq!(page_size(&new), 16 * 1024);
        let old = dir.path().join("old.sqlite");
        version_1_file(&old);
        assert_eq!(page_size(&old), 4096);
        drop(Store::open(&old, None).unwrap());
        assert_eq!(page_size(&old), 4096);
    }

    #[test]
    fn a_version_1_file_is_migrated_keeping_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        version_1_file(&path);

        let mut store = Store::open(&path, None).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store.integrity_check().unwrap();

        let listed = store
            .list_messages(&MessageFilter {
                oldest_first: true,
                ..MessageFilter::account("a")
            })
            .unwrap();
        assert_eq!(listed.len(), 2);
        let names: Vec<_> = listed[0]
            .attachments
            .iter()
            .map(|a| (a.filename.as_deref(), a.size, a.inline))
            .collect();
        assert_eq!(names, [(Some("a.txt"), 3, true), (Some("b.pdf"), 4, false)]);
        assert!(listed[1].attachments.is_empty());

        // The stored sanitized HTML is gone; the HTML is sanitized on read instead.
        let m = store.get_message(MessageId(1)).unwrap().unwrap();
        assert_eq!(m.sanitize, Some(SanitizeHtml::keep_cid()));
        assert_eq!(
            m.sanitized_html.as_deref().map(str::trim),
            Some("<p>Hi</p>")
        );
        assert_eq!(m.email.attachments.len(), 2);
        assert_eq!(&m.email.attachments[1].content[..], b"%PDF");
        assert_eq!(m.email.subject.as_deref(), Some("Old"));
        let plain = store.get_message(MessageId(2)).unwrap().unwrap();
        assert_eq!((plain.sanitize, plain.sanitized_html), (None, None));
        assert_eq!(
            store.export_eml(MessageId(1)).unwrap().as_deref(),
            Some(RAW)
        );
        assert_eq!(store.find_duplicate("a", RAW).unwrap(), Some(MessageId(1)));
        assert_eq!(store.pending_actions("a").unwrap().len(), 1);

        // New messages go in next to the migrated ones; reopening migrates nothing again.
        let email = inbound_message::Email::parse(&b"Subject: New\r\n\r\nx"[..]);
        let r = crate::ServerRef::Imap {
            uidvalidity: 7,
            uid: 3,
        };
        store
            .insert_message(&crate::NewMessage::new("a", "INBOX", &r, &email))
            .unwrap();
        drop(store);
        let store = Store::open(&path, None).unwrap();
        assert_eq!(
            store.count_messages(&MessageFilter::account("a")).unwrap(),
            3
        );
        let conn = Connection::open(&path).unwrap();
        let old_tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name IN
                 ('message_bodies', 'attachments', 'attachment_contents')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_tables, 0);
    }
}
