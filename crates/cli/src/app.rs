//! What every command shares: the global options, the configuration, the store and the
//! account list.

use std::future::Future;
use std::path::{Path, PathBuf};

use inbound_retrieve::Account;
use inbound_store::{EncryptionKey, KEY_ENV, KeyError, PgConfig, StoreBackend, StoreLocation};

use crate::config::{self, ConfigFile};
use crate::error::{CliError, CliResult};

/// The global options.
#[derive(Debug, Clone, Default)]
pub(crate) struct App {
    /// `--config`.
    pub(crate) config: Option<PathBuf>,
    /// `--store`.
    pub(crate) store: Option<PathBuf>,
    /// `-q`: only errors and requested output.
    pub(crate) quiet: bool,
}

impl App {
    /// The configuration: the file `--config` names, `inbound.toml`, the platform one, or
    /// none.
    pub(crate) fn config(&self) -> CliResult<ConfigFile> {
        config::load_or_default(self.config.as_deref())
    }

    /// The store file: `--store`, else `[store] path`, else `inbound.sqlite` beside the
    /// configuration file (or in the current directory).
    pub(crate) fn store_path(&self, config: &ConfigFile) -> PathBuf {
        if let Some(p) = &self.store {
            return p.clone();
        }
        if let Some(p) = &config.store {
            return p.clone();
        }
        match config.path.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join(config::DEFAULT_STORE),
            None => PathBuf::from(config::DEFAULT_STORE),
        }
    }

    /// Where the store is: `--store` (a file), else `[store] url` (a PostgreSQL database),
    /// else [`App::store_path`].
    pub(crate) fn store_location(&self, config: &ConfigFile) -> StoreLocation {
        match (&self.store, &config.store_url) {
            (None, Some(url)) => StoreLocation::Postgres(PgConfig::new(url.clone())),
            _ => StoreLocation::File(self.store_path(config)),
        }
    }

    /// The store as named to people: its file, or `the PostgreSQL store of [store] url`
    /// (never the URL, which may hold a password).
    pub(crate) fn store_name(&self, config: &ConfigFile) -> String {
        match self.store_location(config) {
            StoreLocation::File(path) => path.display().to_string(),
            _ => "the PostgreSQL store of [store] url".to_owned(),
        }
    }

    /// Opens the store with the key from `INBOUND_ENCRYPTION_KEY` when it is set.
    /// `need_key` says why the key is required, when it is. An existing store file must be
    /// the user's and not writable by others ([`crate::trust`]); one others can read is
    /// warned about. A PostgreSQL store is opened (and migrated) as it is.
    pub(crate) fn open_store(
        &self,
        config: &ConfigFile,
        need_key: Option<&str>,
    ) -> CliResult<Box<dyn StoreBackend>> {
        let key = encryption_key(need_key)?;
        let location = self.store_location(config);
        let path = match &location {
            StoreLocation::File(path) => path.clone(),
            other => {
                // The URL may hold a password: the message names the store, not the URL.
                return other.open(key).map_err(|e| with_place(e, "[store] url"));
            }
        };
        crate::trust::check_owned(&path, "store")?;
        if let Some(mode) = crate::trust::readable_by_others(&path) {
            if !self.quiet {
                eprintln!(
                    "warning: store {file} can be read by other users (mode {mode:04o}): it \
                     holds your mail. Fix: `chmod 600 {file}`",
                    file = crate::trust::shown(&path)
                );
            }
        }
        location.open(key).map_err(|e| with_path(e, &path))
    }

    /// The store and its lease protocol when the store is PostgreSQL (a fleet can form on
    /// it); `None` for a SQLite file.
    pub(crate) fn open_fleet_store(
        &self,
        config: &ConfigFile,
    ) -> CliResult<Option<(Box<dyn StoreBackend>, inbound_store::PgLeases)>> {
        let StoreLocation::Postgres(pg) = self.store_location(config) else {
            return Ok(None);
        };
        let key = encryption_key(None)?;
        let store =
            inbound_store::PgStore::open(&pg, key).map_err(|e| with_place(e, "[store] url"))?;
        let leases = store.leases().map_err(|e| with_place(e, "[store] url"))?;
        Ok(Some((Box::new(store), leases)))
    }

    /// Opens the store only if its file exists (for read-only commands), else `None`; a
    /// PostgreSQL store always exists.
    pub(crate) fn open_existing_store(
        &self,
        config: &ConfigFile,
    ) -> CliResult<Option<Box<dyn StoreBackend>>> {
        if let StoreLocation::File(path) = self.store_location(config) {
            if !path.exists() {
                return Ok(None);
            }
        }
        self.open_store(config, None).map(Some)
    }
}

fn with_path(e: inbound_store::Error, path: &Path) -> CliError {
    with_place(e, &path.display().to_string())
}

/// `e` with the store named by `place` (a file, or `[store] url`); a URL that does not parse
/// is a usage error.
fn with_place(e: inbound_store::Error, place: &str) -> CliError {
    let invalid_url = matches!(e, inbound_store::Error::InvalidUrl(_));
    let base = CliError::from(e);
    let message = format!("store {place}: {}", base.message());
    if invalid_url || base.exit_code() == CliError::usage("").exit_code() {
        CliError::usage(message)
    } else {
        CliError::failed(message)
    }
}

/// The key from `INBOUND_ENCRYPTION_KEY`: `None` when unset and not needed.
///
/// # Errors
/// A usage error when the variable is malformed, or unset while `need` says it is needed.
pub(crate) fn encryption_key(need: Option<&str>) -> CliResult<Option<EncryptionKey>> {
    match EncryptionKey::from_env() {
        Ok(key) => Ok(Some(key)),
        Err(KeyError::Missing) => match need {
            None => Ok(None),
            Some(why) => Err(CliError::usage(format!(
                "{KEY_ENV} is not set: it is needed to {why}. \
                 Create a key with `inbound key generate`, keep it safe, and export it as {KEY_ENV}"
            ))),
        },
        Err(e) => Err(CliError::usage(format!("{KEY_ENV}: {e}"))),
    }
}

/// The accounts: those of the configuration file, then those saved in the store with
/// `inbound accounts add` (a stored account of the same name as a configured one only holds
/// that account's secrets).
pub(crate) fn all_accounts(
    config: &ConfigFile,
    store: Option<&dyn StoreBackend>,
) -> CliResult<Vec<Account>> {
    let mut accounts = config.accounts.clone();
    let Some(store) = store else {
        return Ok(accounts);
    };
    for name in store.list_accounts()? {
        if accounts.iter().any(|a| a.name == name) {
            continue;
        }
        let stored = store
            .load_account(&name)
            .map_err(|e| CliError::usage(format!("stored account {name:?}: {e}")))?;
        let Some(stored) = stored else { continue };
        match serde_json::from_str::<Account>(&stored.config_json) {
            Ok(account) => accounts.push(account),
            Err(e) => {
                return Err(CliError::usage(format!(
                    "stored account {name:?} has an invalid configuration: {e}; \
                     remove it with `inbound accounts remove {name}` and add it again"
                )));
            }
        }
    }
    Ok(accounts)
}

/// Keeps the accounts named in `wanted` (all when empty), in configuration order.
///
/// # Errors
/// A usage error naming an unknown account and listing the known ones.
pub(crate) fn select(accounts: Vec<Account>, wanted: &[String]) -> CliResult<Vec<Account>> {
    if wanted.is_empty() {
        return Ok(accounts);
    }
    for name in wanted {
        if !accounts.iter().any(|a| &a.name == name) {
            let known: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
            return Err(CliError::usage(if known.is_empty() {
                format!("no account named {name:?}: no accounts are configured")
            } else {
                format!(
                    "no account named {name:?}; known accounts: {}",
                    known.join(", ")
                )
            }));
        }
    }
    Ok(accounts
        .into_iter()
        .filter(|a| wanted.contains(&a.name))
        .collect())
}

/// A usage error for a command that needs accounts when none are configured.
pub(crate) fn no_accounts(config: &ConfigFile) -> CliError {
    match &config.path {
        Some(p) => CliError::usage(format!(
            "{} configures no accounts; add [[account]] tables (see inbound.example.toml) \
             or use `inbound accounts add`",
            p.display()
        )),
        None => {
            let looked: Vec<String> = config::candidates()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            CliError::usage(format!(
                "no configuration file found (looked for {}); pass --config FILE, \
                 copy inbound.example.toml to inbound.toml, or use `inbound accounts add`",
                looked.join(", ")
            ))
        }
    }
}

/// Runs `future` on a small multi-threaded runtime (subscriptions and the demo server run
/// tasks).
pub(crate) fn block_on<F: Future>(future: F) -> CliResult<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}
