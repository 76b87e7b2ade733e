//! The PostgreSQL schema and its versioned migrations, step for step those of the SQLite
//! schema (`crate::schema`): migration `i` here brings what SQLite's migration `i` brings.
//!
//! SQLite's version 1 kept bodies and attachment contents, which its version 2 drops; no
//! PostgreSQL store ever had them, so version 1 here has only what version 2 keeps, and
//! version 2 adds the raw-message table and the columns. Integers are `BIGINT` (SQLite's
//! `INTEGER`), blobs `BYTEA`; times are seconds (milliseconds in the outbox), as there.
//!
//! `inbound_schema` holds the number of migrations applied. Migrations run in one
//! transaction under an advisory lock, so several processes opening one database at once
//! migrate it once; a database from a newer build is refused with
//! [`Error::SchemaTooNew`]. Never edit a migration that has shipped: append a new one.

use crate::error::{Error, Result};

/// Migration 1: accounts, messages (listing columns), sync state, pending actions.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE accounts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    config     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- sealed = nonce (12) || AES-256-GCM ciphertext || tag (16)
CREATE TABLE account_secrets (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- An IMAP message has (uidvalidity, uid), a POP3 message has uidl, never both.
CREATE TABLE messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity BIGINT,
    uid         BIGINT,
    uidl        TEXT,
    message_id  TEXT,
    subject     TEXT,
    from_addrs  TEXT NOT NULL,
    sender      TEXT,
    reply_to    TEXT NOT NULL,
    to_addrs    TEXT NOT NULL,
    cc_addrs    TEXT NOT NULL,
    bcc_addrs   TEXT NOT NULL,
    date        BIGINT,
    in_reply_to TEXT NOT NULL,
    refs        TEXT NOT NULL,
    sort_date   BIGINT NOT NULL,
    stored_at   BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      BYTEA NOT NULL,
    CHECK ((uid IS NOT NULL AND uidvalidity IS NOT NULL AND uidl IS NULL)
        OR (uid IS NULL AND uidvalidity IS NULL AND uidl IS NOT NULL))
);
CREATE UNIQUE INDEX messages_imap_ref ON messages(account, folder, uidvalidity, uid)
    WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX messages_pop3_ref ON messages(account, folder, uidl)
    WHERE uidl IS NOT NULL;
CREATE INDEX messages_by_folder_date ON messages(account, folder, sort_date);
CREATE INDEX messages_by_date ON messages(sort_date);
CREATE INDEX messages_by_hash ON messages(account, sha256);
CREATE INDEX messages_by_message_id ON messages(account, message_id);

CREATE TABLE imap_folders (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    highest_uid BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account, folder)
);

CREATE TABLE pop3_uidls (
    account TEXT NOT NULL,
    uidl    TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (account, uidl)
);

CREATE TABLE pending_actions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    action     TEXT NOT NULL CHECK (action IN ('delete', 'move')),
    target     TEXT,
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'abandoned')),
    attempts   BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((action = 'move') = (target IS NOT NULL))
);
CREATE INDEX pending_by_message ON pending_actions(message_id);
CREATE INDEX pending_by_state ON pending_actions(state);
"#;

/// Migration 2: the raw message is the one copy of a message's content; attachment
/// descriptions (a JSON array) and the sanitizing mode are listing columns.
const V2: &str = r#"
CREATE TABLE message_raw (
    message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    raw        BYTEA NOT NULL
);
-- [[filename-or-null, content_type, size, inline (0 or 1)], ...] in message order.
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE messages ADD COLUMN sanitize TEXT;
"#;

/// Migration 3: a POP3 UIDL names a message only together with its content; UIDs and UIDLs
/// asked for but not delivered are kept for the next run.
const V3: &str = r#"
DROP INDEX messages_pop3_ref;
CREATE UNIQUE INDEX messages_pop3_ref ON messages(account, folder, uidl, sha256)
    WHERE uidl IS NOT NULL;

CREATE TABLE imap_retry (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    first_at    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account, folder, uidvalidity, uid)
);

CREATE TABLE pop3_retry (
    account    TEXT NOT NULL,
    uidl       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 1,
    first_at   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, uidl)
);
"#;

/// Migration 4: the outbox (times in milliseconds).
const V4: &str = r#"
CREATE TABLE outbox_events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    account    TEXT NOT NULL,
    message    BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    data       TEXT,
    created_at BIGINT NOT NULL,
    fanned_out BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_events_new ON outbox_events(seq) WHERE fanned_out = 0;

CREATE TABLE outbox_targets (
    name        TEXT PRIMARY KEY,
    since_seq   BIGINT NOT NULL,
    stopped_at  BIGINT,
    stop_reason TEXT
);

CREATE TABLE outbox_deliveries (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq   BIGINT NOT NULL REFERENCES outbox_events(seq) ON DELETE CASCADE,
    target      TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    last_status BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (event_seq, target)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries(state, next_at);
"#;

/// Migration 5: the fleet's workers and leases (times from the database clock). SQLite's
/// migration 5 has nothing to add: one process owns a SQLite store.
const V5: &str = r#"
CREATE TABLE fleet_workers (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    capacity     BIGINT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    stopped_at   TIMESTAMPTZ
);

CREATE TABLE fleet_leases (
    account       TEXT PRIMARY KEY,
    owner         BIGINT REFERENCES fleet_workers(id) ON DELETE SET NULL,
    epoch         BIGINT NOT NULL DEFAULT 0,
    expires_at    TIMESTAMPTZ,
    state         TEXT NOT NULL DEFAULT 'free',
    not_before    TIMESTAMPTZ,
    last_event    TEXT,
    last_event_at TIMESTAMPTZ,
    last_error    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX fleet_leases_owner ON fleet_leases(owner);
"#;

/// Every migration, in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// The schema version this build writes (the same number as SQLite's).
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock taken while migrating (any constant the application owns).
const MIGRATION_LOCK: i64 = 0x696e_626f_756e_6401;

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS inbound_schema (version BIGINT NOT NULL)")
        .await?;
    let found: i64 = match tx
        .query_opt("SELECT version FROM inbound_schema", &[])
        .await?
    {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO inbound_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        tx.commit().await?;
        return Ok(());
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tracing::info!(
            from = index,
            to = index + 1,
            "migrating PostgreSQL store schema"
        );
        tx.batch_execute(sql).await?;
    }
    tx.execute("UPDATE inbound_schema SET version = $1", &[&SCHEMA_VERSION])
        .await?;
    tx.commit().await?;
    Ok(())
}
