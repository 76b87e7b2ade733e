//! The store's error type.

use std::path::PathBuf;

use crate::key::KeyError;

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another connection (usually another process) holds the write lock and did not release it
    /// within the busy timeout.
    #[error(
        "store is busy: another process holds the lock on {path} (waited {waited_ms} ms); \
         try again when it has finished"
    )]
    Busy {
        /// The store file (`:memory:` for an in-memory store).
        path: PathBuf,
        /// How long this connection waited before giving up.
        waited_ms: u64,
    },
    /// The file exists but is not a SQLite database (or is encrypted by something else).
    #[error("{path} is not an Inbound store (not a SQLite database)")]
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer version of Inbound whose schema this build cannot read.
    #[error(
        "store schema version {found} is newer than this build supports ({supported}); \
         upgrade Inbound to open this store"
    )]
    SchemaTooNew {
        /// The version recorded in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The encryption key does not match the key the store's secrets were written with.
    #[error(
        "wrong encryption key: the store's secrets were encrypted under a different key \
         (check INBOUND_ENCRYPTION_KEY)"
    )]
    WrongKey,
    /// An operation needed the encryption key but the store was opened without one (stored
    /// accounts are sealed under it, settings and secrets alike).
    #[error(
        "no encryption key given: stored accounts and their secrets cannot be {0} without INBOUND_ENCRYPTION_KEY"
    )]
    NoKey(&'static str),
    /// A stored account's settings did not authenticate under the key: they were changed
    /// outside Inbound, moved from another account, its secret rows were altered, or they
    /// were saved in plain text by a version before settings were sealed. They are not used.
    #[error(
        "stored account {account:?}: its settings are not authenticated by the encryption key \
         (changed outside Inbound, or saved by an older version) and are not used; check who \
         can write the store, then remove the account with `inbound accounts remove {account}` \
         and add it again"
    )]
    AccountTampered {
        /// The account name.
        account: String,
    },
    /// A stored secret failed to decrypt although the key check passed: the row was altered.
    #[error(
        "secret {secret:?} of account {account:?} failed to decrypt: the store was tampered with or is damaged"
    )]
    SecretCorrupt {
        /// The account name.
        account: String,
        /// The secret's name.
        secret: String,
    },
    /// The encryption key could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An account's configuration is not valid JSON.
    #[error("account {account:?}: configuration is not valid JSON: {reason}")]
    InvalidConfig {
        /// The account name.
        account: String,
        /// The JSON parser's message.
        reason: String,
    },
    /// A pending action with this id does not exist (already completed or never recorded).
    #[error("no pending action with id {0}")]
    NoSuchAction(i64),
    /// `PRAGMA integrity_check` (or `foreign_key_check`) reported problems.
    #[error("store integrity check failed: {0}")]
    Integrity(String),
    /// A stored row holds data this build cannot decode (the file was edited or damaged).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// Writing a stored message out ([`Store::write_raw_to`](crate::Store::write_raw_to))
    /// failed on the writer's side.
    #[error("writing the stored message out failed: {0}")]
    Output(#[source] std::io::Error),
    /// A PostgreSQL store URL (`[store] url`) that does not parse.
    #[error("invalid PostgreSQL store URL: {0}")]
    InvalidUrl(String),
    /// The PostgreSQL server could not be reached, refused, or a statement failed.
    #[cfg(feature = "postgres")]
    #[error("postgresql error: {0}")]
    Postgres(#[source] tokio_postgres::Error),
    /// No connection could be had from the PostgreSQL pool (timed out or closed).
    #[error("postgresql connection pool: {0}")]
    PgPool(String),
    /// The TLS settings for PostgreSQL could not be built (an unreadable CA file).
    #[error("postgresql TLS: {0}")]
    Tls(String),
    /// The PostgreSQL store's runtime could not start or has stopped.
    #[error("postgresql store runtime: {0}")]
    Runtime(String),
    /// This worker no longer holds the account's lease (it expired, or another worker took
    /// the account over with a newer epoch): nothing more may be stored or done on the
    /// server for the account by this worker.
    #[error("lease on account {account:?} lost: {why}")]
    Fenced {
        /// The account.
        account: String,
        /// Why: expired locally (not renewed in time) or taken over in the database.
        why: String,
    },
    /// Any other SQLite error.
    #[error("sqlite error: {0}")]
    Sqlite(#[source] rusqlite::Error),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

/// True when `e` is SQLite's "database is busy/locked".
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// True when `e` is SQLite's "file is not a database".
pub(crate) fn is_not_a_database(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase)
}
