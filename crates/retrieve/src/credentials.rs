//! Turning an account's secret sources (inline, environment variable, command, store) into
//! [`inbound_net::Credentials`]. Errors name the variable, command or stored secret, never
//! the secret itself.

use std::io;
use std::process::{Command, Stdio};
use std::sync::Arc;

use inbound_net::oauth::{
    ClientCredentialsProvider, EntraClientCredentials, RefreshTokenConfig, RefreshTokenProvider,
    StaticToken, TokenProvider,
};
use inbound_net::{Credentials, Secret, TlsSettings};
use inbound_store::Store;

use crate::config::{Account, AuthConfig, OAuthSettings, SecretSource};

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
    /// The command printed nothing usable (empty, or not UTF-8).
    #[error("account {account:?}: secret command {command:?} printed no usable secret")]
    CommandEmpty {
        /// Account name.
        account: String,
        /// The command line.
        command: String,
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
    store: Option<&Store>,
) -> Result<Credentials, CredentialError> {
    let mut lookup = |name: &str| -> Result<Option<Secret>, inbound_store::Error> {
        let Some(store) = store else {
            return Ok(None);
        };
        Ok(store
            .load_account(&account.name)?
            .and_then(|a| a.secrets.get(name).map(|s| Secret::new(s.expose()))))
    };
    resolve_credentials_with(account, &mut lookup, &TlsSettings::new())
}

/// Resolves the account's credentials with a custom stored-secret lookup and TLS settings for
/// the OAuth token endpoint (the account's `ca_file` is added to them).
///
/// # Errors
/// As [`resolve_credentials`].
pub fn resolve_credentials_with(
    account: &Account,
    stored: &mut StoredLookup<'_>,
    token_tls: &TlsSettings,
) -> Result<Credentials, CredentialError> {
    let name = &account.name;
    match &account.auth {
        AuthConfig::Password(source) => {
            let password = resolve_secret(name, source, stored)?;
            Ok(Credentials::password(account.username.clone(), password))
        }
        AuthConfig::OAuth(settings) => {
            let provider =
                build_provider(name, settings, stored, &token_tls_for(account, token_tls))?;
            Ok(Credentials::oauth(account.username.clone(), provider))
        }
    }
}

/// The TLS settings for an account's token endpoint: `base` plus the account's `ca_file` (an
/// account whose mail server has a private CA often has its token service under the same one).
/// Only the extra root is carried over: an account's `danger_accept_invalid_certs` is for its
/// mail server, never for the service that hands out its tokens.
fn token_tls_for(account: &Account, base: &TlsSettings) -> TlsSettings {
    match &account.ca_file {
        Some(ca) => base.clone().with_ca_file(ca),
        None => base.clone(),
    }
}

fn build_provider(
    name: &str,
    settings: &OAuthSettings,
    stored: &mut StoredLookup<'_>,
    tls: &TlsSettings,
) -> Result<Arc<dyn TokenProvider>, CredentialError> {
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
            let secret = resolve_secret(name, client_secret, stored)?;
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
        } => {
            let refresh = resolve_secret(name, refresh_token, stored)?;
            let mut c = RefreshTokenConfig::new(token_url, client_id, refresh)
                .with_scopes(scopes.iter().cloned())
                .with_tls(tls.clone());
            // A client secret is optional here (public clients): a missing stored one is fine.
            match resolve_secret(name, client_secret, stored) {
                Ok(secret) => c = c.with_client_secret(secret),
                Err(CredentialError::NotStored { .. }) => {}
                Err(e) => return Err(e),
            }
            Arc::new(RefreshTokenProvider::new(c).map_err(oauth_err)?)
        }
        OAuthSettings::Static { token } => {
            Arc::new(StaticToken::new(resolve_secret(name, token, stored)?))
        }
    })
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
        SecretSource::Command(command) => run_command(account, command),
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

fn run_command(account: &str, command: &str) -> Result<Secret, CredentialError> {
    let mut cmd = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    let output = cmd
        .arg(command)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| CredentialError::CommandSpawn {
            account: account.to_owned(),
            command: command.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(CredentialError::CommandFailed {
            account: account.to_owned(),
            command: command.to_owned(),
            status: output.status.to_string(),
        });
    }
    match String::from_utf8(output.stdout) {
        Ok(mut s) => {
            let trimmed = s.trim_end_matches(['\r', '\n']).len();
            s.truncate(trimmed);
            if s.is_empty() {
                Err(CredentialError::CommandEmpty {
                    account: account.to_owned(),
                    command: command.to_owned(),
                })
            } else {
                Ok(Secret::new(s))
            }
        }
        Err(_) => Err(CredentialError::CommandEmpty {
            account: account.to_owned(),
            command: command.to_owned(),
        }),
    }
}
