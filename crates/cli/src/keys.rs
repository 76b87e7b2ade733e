//! `inbound key generate|rotate`.

use clap::Subcommand;
use inbound_store::{EncryptionKey, KEY_ENV};

use crate::app::{App, encryption_key};
use crate::error::{CliError, CliResult, EXIT_OK};

/// `inbound key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Print a new random encryption key (base64) for INBOUND_ENCRYPTION_KEY.
    Generate,
    /// Re-encrypt every stored secret from the key in INBOUND_ENCRYPTION_KEY to the key in
    /// another variable, in one transaction.
    Rotate {
        /// The environment variable holding the new key.
        #[arg(long, value_name = "VAR")]
        new_key_env: String,
    },
}

/// Runs `inbound key ...`.
pub(crate) fn command(app: &App, cmd: KeyCommand) -> CliResult<u8> {
    match cmd {
        KeyCommand::Generate => {
            let key = EncryptionKey::generate()
                .map_err(|e| CliError::failed(format!("generating a key: {e}")))?;
            println!("{}", key.to_base64());
            if !app.quiet {
                eprintln!(
                    "Keep this key secret and safe: without it the stored passwords cannot be read. \
                     Use it with: export {KEY_ENV}=<the key>"
                );
            }
            Ok(EXIT_OK)
        }
        KeyCommand::Rotate { new_key_env } => {
            let old = encryption_key(Some("decrypt the secrets being re-encrypted"))?
                .ok_or_else(|| CliError::usage(format!("{KEY_ENV} is not set")))?;
            let text = std::env::var(&new_key_env).map_err(|_| {
                CliError::usage(format!(
                    "{new_key_env} is not set (or not UTF-8): it must hold the new key \
                     (make one with `inbound key generate`)"
                ))
            })?;
            let new = EncryptionKey::from_base64(&text)
                .map_err(|e| CliError::usage(format!("{new_key_env}: {e}")))?;
            if new == old {
                return Err(CliError::usage(format!(
                    "{new_key_env} holds the same key as {KEY_ENV}; nothing to do"
                )));
            }
            let config = app.config()?;
            let Some(mut store) = app.open_existing_store(&config)? else {
                return Err(CliError::usage(format!(
                    "no store at {}",
                    app.store_name(&config)
                )));
            };
            let count = store.rekey(&old, &new)?;
            if !app.quiet {
                eprintln!(
                    "re-encrypted {count} secret(s) in {}; from now on set {KEY_ENV} to the value of {new_key_env}",
                    app.store_name(&config)
                );
            }
            Ok(EXIT_OK)
        }
    }
}
