//! The PostgreSQL backend: the store's operations on a PostgreSQL database, for several
//! processes sharing accounts.
//!
//! ```no_run
//! use inbound_store::{PgConfig, PgStore, Secret, StoreBackend as _, MessageFilter};
//!
//! # fn main() -> Result<(), inbound_store::Error> {
//! let config = PgConfig::new(Secret::new("postgresql://inbound@db.example/inbound?sslmode=require"));
//! let store = PgStore::open(&config, None)?;
//! let listed = store.list_messages(&MessageFilter::account("work"))?;
//! # Ok(())
//! # }
//! ```
//!
//! # Why a runtime thread of its own
//!
//! The store's API is synchronous (rusqlite), and the retrieval pipeline calls it from inside
//! its async tasks, holding the store's lock for one short call. tokio-postgres is async and
//! its connections are futures that must be driven by a runtime. `PgStore` therefore owns a
//! small tokio runtime (one worker thread) that runs the connection pool and every query;
//! each method hands its work to that runtime and waits for the answer on a plain channel.
//! That never nests one runtime's `block_on` inside another's task (which panics), works the
//! same from a plain thread, a blocking-pool thread or an async task, and blocks the caller
//! exactly as long as a SQLite call would: until the transaction has committed. A slow
//! database therefore slows the caller as a slow disk would, never stalls other accounts'
//! connections in the pool.
//!
//! # Guarantees
//!
//! The same as the SQLite store's: a message, its pending action, its outbox event and the
//! sync-state advance are one transaction; storing a message twice stores it once (unique
//! indexes decide, so two processes storing the same message at once store it once too);
//! account settings and secrets are sealed exactly as in SQLite, under the same key. A commit
//! is durable when PostgreSQL says so (`synchronous_commit` as the server is set; the default
//! `on` waits for the WAL flush).
//!
//! TLS is rustls on the ring provider, built with `builder_with_provider` (no process-wide
//! provider), trusting the Mozilla roots (webpki-roots) and the certificates of
//! [`PgConfig::ca_file`]. `sslmode=disable`, `prefer` and `require` are read from the URL.
//!
//! # The operations
//!
//! Statement for statement those of the SQLite store, as inherent methods of `PgStore` in
//! files named after the SQLite store's (`messages.rs`, `query.rs`, `page.rs`, `raw.rs`,
//! `sync.rs` and `actions.rs`, `retry.rs`, `accounts.rs`, `signin.rs`, `outbox.rs`);
//! [`StoreBackend`](crate::StoreBackend) forwards to them.
//!
//! Every method copies what it needs out of its arguments (the runtime's tasks outlive no
//! borrow) and runs one transaction on a pooled connection; a write commits before the
//! method returns.

mod accounts;
mod actions;
mod common;
mod lease;
mod messages;
mod outbox;
mod page;
mod query;
mod raw;
mod retry;
mod schema;
mod signin;
mod sync;

pub use lease::PgLeases;

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use inbound_secret::Secret;

use crate::crypto::{EncryptionKey, KEY_CHECK_AAD, KEY_CHECK_PLAIN};
use crate::error::{Error, Result};

/// How long a call waits for a free pooled connection before failing with
/// [`Error::PgPool`].
const POOL_WAIT: Duration = Duration::from_secs(30);

/// Settings for [`PgStore::open`].
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgresql://USER:PASS@HOST:PORT/DB?sslmode=...`; a secret, since it may hold the
    /// password (it prints `[redacted]`).
    pub url: Secret,
    /// The most connections the pool opens (default 4).
    pub max_connections: usize,
    /// A PEM file of certificates to trust for the server besides the Mozilla roots (a
    /// private CA).
    pub ca_file: Option<PathBuf>,
    /// How long connecting may take (default 10 s).
    pub connect_timeout: Duration,
}

impl PgConfig {
    /// Default settings for the database at `url`.
    pub fn new(url: Secret) -> Self {
        Self {
            url,
            max_connections: 4,
            ca_file: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A message store in a PostgreSQL database; the same operations as [`Store`](crate::Store)
/// through [`StoreBackend`](crate::StoreBackend).
///
/// Cheap to share: every call takes a connection from the pool, so several threads (or
/// processes) may use one database at once.
pub struct PgStore {
    /// Runs the pool's connections and every query; shut down in the background on drop,
    /// which is allowed in any context (dropping a runtime inside another's task is not).
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) pool: Pool,
    pub(crate) key: Option<EncryptionKey>,
    /// The leases this process holds; writes for a leased account check them.
    pub(crate) fences: Arc<crate::lease::Fences>,
    /// For the `LISTEN` connection of [`PgStore::leases`].
    listen_config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    wake: std::sync::OnceLock<Arc<lease::Wake>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("has_key", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to the database, migrates its schema to this build's version and checks the
    /// key against the stored key check (writing it on first use), as
    /// [`Store::open`](crate::Store::open) does.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a URL that does not parse; [`Error::Postgres`] when the
    /// server cannot be reached or refuses; [`Error::SchemaTooNew`]; [`Error::WrongKey`].
    pub fn open(config: &PgConfig, key: Option<EncryptionKey>) -> Result<Self> {
        let mut pg = tokio_postgres::Config::from_str(config.url.expose())
            // The parser's message names the offending part, never the password.
            .map_err(|e| Error::InvalidUrl(e.to_string()))?;
        pg.connect_timeout(config.connect_timeout);
        pg.application_name("inbound");
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(config)?);
        let listen_config = pg.clone();
        let manager = Manager::from_config(
            pg,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("inbound-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(e.to_string()))?;
        // The pool spawns nothing at build time; connections open on first use, in `run`.
        let pool = Pool::builder(manager)
            .max_size(config.max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            // A call waits this long for a free connection, then fails rather than hangs.
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| Error::PgPool(e.to_string()))?;
        let store = Self {
            runtime: Some(runtime),
            pool,
            key,
            fences: crate::lease::Fences::new(),
            listen_config,
            tls,
            wake: std::sync::OnceLock::new(),
        };
        let pool = store.pool.clone();
        store.run(async move {
            let mut client = pool.get().await?;
            schema::migrate(&mut client).await
        })?;
        store.check_or_set_key()?;
        Ok(store)
    }

    /// True when the store was opened with an encryption key.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The schema version of the database (always [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)
    /// after a successful open).
    pub fn schema_version(&self) -> Result<i64> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let row = client
                .query_one("SELECT version FROM inbound_schema", &[])
                .await?;
            Ok(row.try_get(0)?)
        })
    }

    /// Runs `work` on the store's runtime and waits for its result.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::Runtime("the store is closed".into()))?;
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The caller may have gone (its thread unwound): nothing to tell then.
            let _ = send.send(work.await);
        });
        receive
            .recv()
            .map_err(|_| Error::Runtime("the store's runtime stopped".into()))?
    }

    fn check_or_set_key(&self) -> Result<()> {
        let Some(key) = self.key.clone() else {
            return Ok(());
        };
        let pool = self.pool.clone();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let sealed = key.seal(KEY_CHECK_PLAIN, KEY_CHECK_AAD)?;
            // Another process may write the check at the same time: the first one wins.
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', $1)
                 ON CONFLICT (key) DO NOTHING",
                &[&sealed],
            )
            .await?;
            let stored: Vec<u8> = tx
                .query_one("SELECT value FROM meta WHERE key = 'key_check'", &[])
                .await?
                .try_get(0)?;
            match key.open(&stored, KEY_CHECK_AAD) {
                Some(plain) if plain == KEY_CHECK_PLAIN => {
                    tx.commit().await?;
                    Ok(())
                }
                _ => Err(Error::WrongKey),
            }
        })
    }
}

/// The rustls client config: ring only, the Mozilla roots plus the configured CA file.
fn tls_config(config: &PgConfig) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &config.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::Tls(format!("reading {}: {e}", path.display())))?;
        for cert in certs {
            let cert = cert.map_err(|e| Error::Tls(format!("reading {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Error::Postgres(e),
            other => Error::PgPool(other.to_string()),
        }
    }
}
