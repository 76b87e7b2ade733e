//! Turning an account's secret sources (inline, environment variable, command, store) into
//! [`inbound_net::Credentials`]. Errors name the variable, command or stored secret, never
//! the secret itself.
//!
//! A secret command (`password_command`, `*_command`) runs under `sh -c` in a process group
//! of its own and is killed, with everything it started, when it runs longer than
//! [`DEFAULT_COMMAND_TIMEOUT`] (or the [`RetrieveConfig`](crate::RetrieveConfig) setting).
//!
//! An OAuth refresh token the endpoint rotates is saved in the store (sealed with its key,
//! bound to the account) the moment it arrives, and used instead of the configured one as long
//! as the account is configured with the same token: see
//! [`Store::save_rotated_secret`](inbound_store::Store::save_rotated_secret).

use std::io::{self, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, PoisonError, mpsc};
use std::time::{Duration, Instant};

use inbound_net::oauth::{
    ClientCredentialsProvider, EntraClientCredentials, RefreshTokenConfig, RefreshTokenProvider,
    StaticToken, TokenProvider,
};
use inbound_net::{Credentials, Secret, TlsConfig};
use inbound_store::StoreBackend;

use crate::account::{Account, AuthConfig, MailProtocol, OAuthSettings, SecretSource};
use crate::sync::run::SharedStore;

/// How long a secret command may run before it is killed: 30 seconds.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a secret command may print: 64 KiB (more is no secret, and is not kept).
const MAX_COMMAND_OUTPUT: usize = 64 * 1024;

/// The slot under which a rotated OAuth refresh token is saved in the store.
pub const ROTATED_REFRESH_TOKEN: &str = "oauth.refresh_token";

/// A secret could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The environment variable is not set.
    #[error("account {account:?}: environment variable {var} is not set")]
    EnvMissing {
        /// Account name.
        account: String,
        /// Variable name.
        var: String,
    },
    /// The environment variable is set but empty or not UTF-8.
    #[error("account {account:?}: environment variable {var} is empty or not valid UTF-8")]
    EnvInvalid {
        /// Account name.
        account: String,
        /// Variable name.
        var: String,
    },
    /// The command could not be started.
    #[error("account {account:?}: secret command {command:?} could not be run: {source}")]
    CommandSpawn {
        /// Account name.
        account: String,
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The command exited unsuccessfully (its output is not shown: it may hold the secret).
    #[error("account {account:?}: secret command {command:?} failed ({status})")]
    CommandFailed {
        /// Account name.
        account: String,
        /// The command line.
        command: String,
        /// The exit status.
        status: String,
    },
    /// The command printed nothing usable (empty, not UTF-8, or over 64 KiB).
    #[error("account {account:?}: secret command {command:?} printed no usable secret")]
    CommandEmpty {
        /// Account name.
        account: String,
        /// The command line.
        command: String,
    },
    /// The command ran longer than the timeout and was killed (with the processes it
    /// started).
    #[error(
        "account {account:?}: secret command {command:?} did not finish within {timeout:?} \
         and was killed"
    )]
    CommandTimeout {
        /// Account name.
        account: String,
        /// The command line.
        command: String,
        /// The timeout.
        timeout: Duration,
    },
    /// Resolving the credentials stopped unexpectedly (the worker thread panicked).
    #[error("account {account:?}: resolving the credentials was interrupted")]
    Interrupted {
        /// Account name.
        account: String,
    },
    /// The secret is not in the store.
    #[error(
        "account {account:?}: no secret {secret:?} is stored for this account \
         (save it in the store, or configure an environment variable or command)"
    )]
    NotStored {
        /// Account name.
        account: String,
        /// Secret name.
        secret: String,
    },
    /// The store could not be read.
    #[error("account {account:?}: could not read stored secrets: {source}")]
    Store {
        /// Account name.
        account: String,
        /// The store's error.
        #[source]
        source: inbound_store::Error,
    },
    /// The OAuth provider could not be built (bad token URL, TLS settings).
    #[error("account {account:?}: OAuth provider: {source}")]
    OAuth {
        /// Account name.
        account: String,
        /// inbound-net's error.
        #[source]
        source: inbound_net::OAuthError,
    },
}

/// Looks up a stored secret by name: `Ok(None)` when there is none.
pub type StoredLookup<'a> = dyn FnMut(&str) -> Result<Option<Secret>, inbound_store::Error> + 'a;

/// Resolves the account's credentials, reading stored secrets from `store` when the account
/// keeps them there. OAuth token endpoints are reached with the default TLS settings plus the
/// account's `ca_file`.
///
/// # Errors
/// [`CredentialError`] naming the variable, command or stored secret that failed.
pub fn resolve_credentials(
    account: &Account,
    store: Option<&dyn StoreBackend>,
) -> Result<Credentials, CredentialError> {
    let mut lookup = |name: &str| -> Result<Option<Secret>, inbound_store::Error> {
        let Some(store) = store else {
            return Ok(None);
        };
        Ok(store
            .load_account(&account.name)?
            .and_then(|mut a| a.secrets.remove(name)))
    };
    resolve_credentials_with(account, &mut lookup, &TlsConfig::new())
}

/// As [`resolve_credentials`], for a store shared with retrieval: a refresh token the endpoint
/// rotates is saved in `store` the moment it arrives, and the one saved last is used. A
/// one-off connection (a login test) must do this too, or the store is left holding a refresh
/// token the endpoint has replaced (and a provider with reuse detection revokes them all when
/// it comes back).
///
/// # Errors
/// As [`resolve_credentials`].
pub fn resolve_credentials_saving_rotated(
    account: &Account,
    store: &SharedStore,
) -> Result<Credentials, CredentialError> {
    crate::retriever::resolve_in_store(store, account, &TlsConfig::new(), DEFAULT_COMMAND_TIMEOUT)
}

/// Resolves the account's credentials with a custom stored-secret lookup and TLS settings for
/// the OAuth token endpoint (the account's `ca_file` is added to them).
///
/// # Errors
/// As [`resolve_credentials`].
pub fn resolve_credentials_with(
    account: &Account,
    stored: &mut StoredLookup<'_>,
    token_tls: &TlsConfig,
) -> Result<Credentials, CredentialError> {
    let mut resolver = Resolver {
        account: &account.name,
        stored,
        command_timeout: DEFAULT_COMMAND_TIMEOUT,
        rotation: None,
    };
    resolver.credentials(account, token_tls)
}

/// How the credentials of one account are resolved.
pub(crate) struct Resolver<'a, 'b> {
    /// The account's name.
    pub(crate) account: &'a str,
    /// Reads stored secrets.
    pub(crate) stored: &'a mut StoredLookup<'b>,
    /// How long a secret command may run.
    pub(crate) command_timeout: Duration,
    /// Where rotated refresh tokens are read and saved; `None` to neither.
    pub(crate) rotation: Option<&'a SharedStore>,
}

impl Resolver<'_, '_> {
    /// The account's credentials.
    pub(crate) fn credentials(
        &mut self,
        account: &Account,
        token_tls: &TlsConfig,
    ) -> Result<Credentials, CredentialError> {
        match &account.auth {
            AuthConfig::Password(source) => {
                let password = self.secret(source)?;
                Ok(Credentials::password(account.username.clone(), password))
            }
            AuthConfig::OAuth(settings) => {
                let provider = self.provider(
                    settings,
                    account.protocol,
                    &token_tls_for(account, token_tls),
                )?;
                Ok(Credentials::oauth(account.username.clone(), provider))
            }
        }
    }

    fn secret(&mut self, source: &SecretSource) -> Result<Secret, CredentialError> {
        resolve_secret_within(self.account, source, self.stored, self.command_timeout)
    }
}

/// The TLS settings for an account's token endpoint: `base` plus the account's `ca_file` (an
/// account whose mail server has a private CA often has its token service under the same one).
/// Only the extra root is carried over: an account's `danger_accept_invalid_certs` is for its
/// mail server, never for the service that hands out its tokens.
fn token_tls_for(account: &Account, base: &TlsConfig) -> TlsConfig {
    match &account.ca_file {
        Some(ca) => base.clone().with_ca_file(ca),
        None => base.clone(),
    }
}

impl Resolver<'_, '_> {
    fn provider(
        &mut self,
        settings: &OAuthSettings,
        protocol: MailProtocol,
        tls: &TlsConfig,
    ) -> Result<Arc<dyn TokenProvider>, CredentialError> {
        let name = self.account;
        let oauth_err = |source| CredentialError::OAuth {
            account: name.to_owned(),
            source,
        };
        Ok(match settings {
            OAuthSettings::Entra {
                tenant_id,
                client_id,
                client_secret,
                scope,
                authority,
            } => {
                let secret = self.secret(client_secret)?;
                let mut s =
                    EntraClientCredentials::new(tenant_id, client_id, secret).with_tls(tls.clone());
                if let Some(scope) = scope {
                    s = s.with_scope(scope);
                }
                if let Some(authority) = authority {
                    s = s.with_authority(authority);
                }
                Arc::new(ClientCredentialsProvider::new(s).map_err(oauth_err)?)
            }
            OAuthSettings::RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
            } => self.refresh_provider(
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
                tls,
            )?,
            OAuthSettings::Login(login) => {
                let endpoints = login.endpoints(protocol);
                self.refresh_provider(
                    &endpoints.token_url,
                    &login.client_id,
                    &login.client_secret,
                    &login.refresh_token,
                    &endpoints.scopes,
                    tls,
                )?
            }
            OAuthSettings::Static { token } => Arc::new(StaticToken::new(self.secret(token)?)),
        })
    }

    /// A refresh-token provider; rotated tokens are saved when the resolver has a store.
    fn refresh_provider(
        &mut self,
        token_url: &str,
        client_id: &str,
        client_secret: &SecretSource,
        refresh_token: &SecretSource,
        scopes: &[String],
        tls: &TlsConfig,
    ) -> Result<Arc<dyn TokenProvider>, CredentialError> {
        let name = self.account;
        let configured = self.secret(refresh_token)?;
        let refresh = self.rotated_refresh_token(&configured)?;
        let mut c = RefreshTokenConfig::new(token_url, client_id, refresh)
            .with_scopes(scopes.iter().cloned())
            .with_tls(tls.clone());
        // A client secret is optional here (public clients): a missing stored one is fine.
        match self.secret(client_secret) {
            Ok(secret) => c = c.with_client_secret(secret),
            Err(CredentialError::NotStored { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut provider =
            RefreshTokenProvider::new(c).map_err(|source| CredentialError::OAuth {
                account: name.to_owned(),
                source,
            })?;
        if let Some(store) = self.rotation {
            provider = provider.on_rotate(save_rotated(store.clone(), name, &configured));
        }
        Ok(Arc::new(provider))
    }

    /// The refresh token to use: the one the endpoint rotated last, saved in the store, while
    /// the account is still configured with `configured`; else `configured`.
    fn rotated_refresh_token(&self, configured: &Secret) -> Result<Secret, CredentialError> {
        let Some(store) = self.rotation else {
            return Ok(configured.clone());
        };
        let saved = store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .load_rotated_secret(self.account, ROTATED_REFRESH_TOKEN, configured)
            .map_err(|source| CredentialError::Store {
                account: self.account.to_owned(),
                source,
            })?;
        Ok(match saved {
            Some(rotated) => {
                tracing::debug!(account = %self.account, "using the refresh token the endpoint rotated last");
                rotated
            }
            None => configured.clone(),
        })
    }
}

/// The hook that saves a rotated refresh token of `account` (configured with `configured`).
fn save_rotated(
    store: SharedStore,
    account: &str,
    configured: &Secret,
) -> impl Fn(&Secret) + Send + Sync + 'static {
    let account = account.to_owned();
    let origin = configured.clone();
    move |rotated: &Secret| {
        let saved = store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .save_rotated_secret(&account, ROTATED_REFRESH_TOKEN, &origin, rotated);
        match saved {
            Ok(()) => tracing::info!(%account, "saved the refresh token the endpoint rotated"),
            Err(error) => tracing::warn!(
                %account,
                %error,
                "could not save the refresh token the endpoint rotated: after a restart the \
                 account needs a new one (set INBOUND_ENCRYPTION_KEY so it can be saved)"
            ),
        }
    }
}

/// Resolves one secret source.
///
/// # Errors
/// As [`resolve_credentials`].
pub fn resolve_secret(
    account: &str,
    source: &SecretSource,
    stored: &mut StoredLookup<'_>,
) -> Result<Secret, CredentialError> {
    resolve_secret_within(account, source, stored, DEFAULT_COMMAND_TIMEOUT)
}

/// [`resolve_secret`] with a command killed after `command_timeout`.
///
/// # Errors
/// As [`resolve_credentials`]; [`CredentialError::CommandTimeout`].
pub fn resolve_secret_within(
    account: &str,
    source: &SecretSource,
    stored: &mut StoredLookup<'_>,
    command_timeout: Duration,
) -> Result<Secret, CredentialError> {
    match source {
        SecretSource::Inline(s) => Ok(s.clone()),
        SecretSource::Env(var) => match std::env::var_os(var) {
            None => Err(CredentialError::EnvMissing {
                account: account.to_owned(),
                var: var.clone(),
            }),
            Some(v) => match v.into_string() {
                Ok(s) if !s.is_empty() => Ok(Secret::new(s)),
                _ => Err(CredentialError::EnvInvalid {
                    account: account.to_owned(),
                    var: var.clone(),
                }),
            },
        },
        SecretSource::Command(command) => run_command(account, command, command_timeout),
        SecretSource::Stored(secret) => match stored(secret) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(CredentialError::NotStored {
                account: account.to_owned(),
                secret: secret.clone(),
            }),
            Err(source) => Err(CredentialError::Store {
                account: account.to_owned(),
                source,
            }),
        },
    }
}

/// Runs `command` under the shell in a process group of its own, reading at most
/// [`MAX_COMMAND_OUTPUT`] octets of its output; after `timeout` the whole group is killed.
fn run_command(account: &str, command: &str, timeout: Duration) -> Result<Secret, CredentialError> {
    let failed = |source| CredentialError::CommandSpawn {
        account: account.to_owned(),
        command: command.to_owned(),
        source,
    };
    let empty = || CredentialError::CommandEmpty {
        account: account.to_owned(),
        command: command.to_owned(),
    };
    let timed_out = || CredentialError::CommandTimeout {
        account: account.to_owned(),
        command: command.to_owned(),
        timeout,
    };
    let deadline = Instant::now() + timeout;
    let mut cmd = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    cmd.arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // Its own group, so that a timeout kills what the shell started too.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(failed)?;
    // The output is read on a thread of its own: the pipe may stay open after the shell
    // exits (a background process), and a full pipe would block the command.
    let (tx, rx) = mpsc::channel();
    if let Some(mut stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = (&mut stdout)
                .take(MAX_COMMAND_OUTPUT as u64 + 1)
                .read_to_end(&mut out);
            let _ = tx.send(read.map(|_| out));
            // Whatever else comes is discarded, so the command is never blocked on it.
            let _ = io::copy(&mut stdout, &mut io::sink());
        });
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                tracing::warn!(account, ?timeout, "secret command timed out; killed");
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => {
                kill_group(&mut child);
                return Err(failed(source));
            }
        }
    };
    let output = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(read) => read.map_err(failed)?,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // The shell is done but something it started still holds the output open.
            kill_group(&mut child);
            return Err(timed_out());
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Vec::new(),
    };
    if !status.success() {
        return Err(CredentialError::CommandFailed {
            account: account.to_owned(),
            command: command.to_owned(),
            status: status.to_string(),
        });
    }
    if output.len() > MAX_COMMAND_OUTPUT {
        return Err(empty());
    }
    match String::from_utf8(output) {
        Ok(mut s) => {
            let trimmed = s.trim_end_matches(['\r', '\n']).len();
            s.truncate(trimmed);
            if s.is_empty() {
                Err(empty())
            } else {
                Ok(Secret::new(s))
            }
        }
        Err(_) => Err(empty()),
    }
}

/// Kills `child` and, on Unix, every process of its group (what the shell started), then
/// reaps it.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // No signal API without `unsafe` in std: the standard `kill` utility signals the
        // group (the child leads it: its pid is the group id).
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}
