//! Opening a store, transactions, checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior};

use crate::checkpoint::Checkpointer;
use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN};
use crate::error::{Error, Result, is_busy, is_not_a_database};
use crate::schema;

/// The page size of a new store file.
const PAGE_SIZE: i64 = 16 * 1024;

/// How long a connection waits for another one's write lock by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings for [`Store::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long to wait for a lock held by another connection before failing with
    /// [`Error::Busy`]. Default [`DEFAULT_BUSY_TIMEOUT`] (5 s).
    pub busy_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// A message store: one SQLite file (or memory).
///
/// Every write runs in one `BEGIN IMMEDIATE` transaction, so it is applied whole or not at all,
/// even if the process is killed halfway. Reads take `&self`, writes `&mut self`; share a
/// `Store` between threads behind a mutex, or open one per thread (each is its own connection).
pub struct Store {
    /// Checkpoints the WAL of a file store on its own thread; dropped (stopped) before the
    /// connection closes.
    checkpointer: Option<Checkpointer>,
    pub(crate) conn: Connection,
    pub(crate) key: Option<EncryptionKey>,
    path: PathBuf,
    busy_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("has_key", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` with default options.
    ///
    /// `key` encrypts and decrypts account secrets; without one, messages and sync state work
    /// but secrets cannot be saved or loaded. If the store already has secrets under another key,
    /// this fails with [`Error::WrongKey`].
    pub fn open(path: impl AsRef<Path>, key: Option<EncryptionKey>) -> Result<Self> {
        Self::open_with(path, key, StoreConfig::default())
    }

    /// Opens (creating if needed) the store at `path`.
    ///
    /// A new file is created readable and writable by its owner only (mode 0600 on Unix);
    /// SQLite gives its `-wal` and `-shm` files the same mode. Opening a file that other users
    /// can read logs a warning ([`crate::file_is_shared`]).
    ///
    /// The file is put in WAL mode with `synchronous=FULL`, foreign keys on, and the schema
    /// migrated to this build's version. A second process may open the same file: its writes
    /// wait for the first one's transaction to end, up to `options.busy_timeout`, then fail
    /// with [`Error::Busy`].
    pub fn open_with(
        path: impl AsRef<Path>,
        key: Option<EncryptionKey>,
        options: StoreConfig,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        crate::files::create_private(&path);
        crate::files::warn_if_shared(&path);
        let conn = Connection::open(&path)?;
        Self::setup(conn, path, key, options)
    }

    /// A fresh store in memory, gone when dropped. For tests and tools.
    pub fn open_in_memory(key: Option<EncryptionKey>) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, PathBuf::from(":memory:"), key, StoreConfig::default())
    }

    fn setup(
        conn: Connection,
        path: PathBuf,
        key: Option<EncryptionKey>,
        options: StoreConfig,
    ) -> Result<Self> {
        let mut store = Self {
            checkpointer: None,
            conn,
            key,
            path,
            busy_timeout: options.busy_timeout,
        };
        store.configure().map_err(|e| store.classify(e))?;
        store.check_or_set_key()?;
        store.start_checkpointer().map_err(|e| store.classify(e))?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<()> {
        let conn = &mut self.conn;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        // 16 KiB pages for a new file (an existing one keeps its size): a 20 KB message spans
        // two pages instead of six, which cuts SQLite's CPU per stored message by about a
        // quarter. Only takes effect before the first table is created.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        // A file that is not SQLite fails here, at the first read.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            tracing::warn!(%mode, "store could not switch to WAL journal mode");
        }
        // FULL: each commit is synced to disk before it returns, so a message is durable
        // (across power loss too) before the caller deletes it on the server.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // After a checkpoint, shrink a WAL that a large message grew beyond 64 MiB.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        schema::migrate(conn)
    }

    /// For a file in WAL mode: moves checkpoints off the writing connection onto a thread of
    /// their own ([`crate::checkpoint`]).
    fn start_checkpointer(&mut self) -> Result<()> {
        let mode: String = self
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let page_size: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |row| row.get(0))?;
        // SQLite's own (absolute) name for the file the connection opened.
        let path = self.conn.path().map_or(self.path.clone(), PathBuf::from);
        if let Some(checkpointer) = Checkpointer::start(&path, page_size) {
            self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            self.checkpointer = Some(checkpointer);
        }
        Ok(())
    }

    /// Verifies the key against the stored key check, writing the check on first use.
    fn check_or_set_key(&mut self) -> Result<()> {
        let Some(key) = self.key.clone() else {
            return Ok(());
        };
        let check: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'key_check'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.classify(e.into()))?;
        match check {
            Some(sealed) => match key.open(&sealed, KEY_CHECK_AAD) {
                Some(plain) if plain == KEY_CHECK_PLAIN => Ok(()),
                _ => Err(Error::WrongKey),
            },
            None => self.write(|tx| {
                // Another process may have written the check meanwhile: look again inside.
                let existing: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT value FROM meta WHERE key = 'key_check'",
                        [],
                        |row| row.get(0),
                    )
                    .optional()?;
                match existing {
                    Some(sealed) if key.open(&sealed, KEY_CHECK_AAD).is_some() => Ok(()),
                    Some(_) => Err(Error::WrongKey),
                    None => set_key_check(tx, &key),
                }
            }),
        }
    }

    /// The file this store was opened from (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the store was opened with an encryption key.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Runs `f` in one immediate transaction, committing if it returns `Ok`.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.before_write();
        }
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        result.map_err(|e| self.classify(e))
    }

    /// Runs a read in one deferred transaction, so it sees one consistent snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            let value = f(&tx)?;
            tx.finish()?;
            Ok(value)
        })();
        result.map_err(|e| self.classify(e))
    }

    /// Turns SQLite's busy/locked into [`Error::Busy`].
    pub(crate) fn classify(&self, e: Error) -> Error {
        match e {
            Error::Sqlite(inner) if is_busy(&inner) => Error::Busy {
                path: self.path.clone(),
                waited_ms: self.busy_timeout.as_millis() as u64,
            },
            Error::Sqlite(inner) if is_not_a_database(&inner) => Error::NotAStore {
                path: self.path.clone(),
            },
            other => other,
        }
    }

    /// Runs SQLite's `integrity_check` and `foreign_key_check`; `Ok` when both find nothing.
    pub fn integrity_check(&self) -> Result<()> {
        self.read(|conn| {
            let mut problems = Vec::new();
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            for row in rows {
                let line = row?;
                if line != "ok" {
                    problems.push(line);
                }
            }
            let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
            let rows = stmt.query_map([], |row| {
                Ok(format!(
                    "foreign key violation in {} row {:?}",
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<i64>>(1)?
                ))
            })?;
            for row in rows {
                problems.push(row?);
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(Error::Integrity(problems.join("; ")))
            }
        })
    }

    /// The schema version of the open file (always [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)
    /// after a successful open).
    pub fn schema_version(&self) -> Result<i64> {
        self.read(|conn| Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?))
    }
}

/// Stores the key check for `key`, replacing any previous one.
pub(crate) fn set_key_check(tx: &Transaction<'_>, key: &EncryptionKey) -> Result<()> {
    let sealed = key.seal(KEY_CHECK_PLAIN, KEY_CHECK_AAD)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('key_check', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [sealed],
    )?;
    Ok(())
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
