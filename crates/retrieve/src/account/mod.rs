//! Account configuration: the TOML/serde form ([`AccountConfig`]) and the validated form
//! ([`Account`]) that retrieval works with.
//!
//! [`AccountConfig::validate`] reports every problem at once, each with its field name, so a
//! user fixes a configuration in one pass. [`Account`] deserializes through that validation
//! (`#[serde(try_from = "AccountConfig")]`), so reading `[[account]]` tables straight into
//! `Account` values either yields valid accounts or an error listing every problem.
//!
//! The parts: `model` holds the validated [`Account`] and its policies; `file` the file form
//! ([`AccountConfig`], [`OAuthConfig`]) and `names` the words written in it ([`FetchName`],
//! [`AfterReceiveName`], ...; the protocol and security are net's [`MailProtocol`] and
//! [`Security`]); `validate` the entry point with its problem list ([`ConfigErrors`])
//! and `checks` the checks of each group of settings; `size` the parser of sizes such as
//! `"50MB"` ([`parse_size`]).

use std::time::Duration;

mod build;
mod checks;
mod file;
mod login;
mod model;
mod names;
mod size;
mod validate;

pub use build::AccountBuilder;
pub use file::{AccountConfig, OAuthConfig};
pub use inbound_net::{MailProtocol, Security};
pub use login::{DEFAULT_MICROSOFT_TENANT, LoginEndpoints, LoginSettings};
pub use model::{
    Account, AfterReceive, AuthConfig, FetchPolicy, InlineImageMode, OAuthSettings, SecretSource,
};
pub use names::{AfterReceiveName, FetchName, InlineImagesName, OAuthProviderName, RemoteImages};
pub use size::{SizeValue, parse_size};
pub use validate::{ConfigErrors, ConfigProblem};

/// The default folder of an IMAP account.
pub const DEFAULT_FOLDER: &str = "INBOX";
/// The default number of messages fetched (and stored) per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
/// The largest batch size accepted (bounds memory and command sizes).
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// The default network timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest accepted timeout, in seconds.
pub const MAX_TIMEOUT_SECS: i64 = 3600;
/// The default interval between IDLE renewals (`idle_renew_secs`): 5 minutes.
pub const DEFAULT_IDLE_RENEW: Duration = Duration::from_secs(300);
/// The largest accepted `idle_renew_secs`: RFC 2177's 29 minutes.
pub const MAX_IDLE_RENEW_SECS: i64 = 29 * 60;
