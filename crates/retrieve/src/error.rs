//! The crate's error type.

use crate::account::ConfigErrors;
use crate::backend::BackendError;
use crate::credentials::CredentialError;
use crate::events::Report;

/// Why a retrieval or subscription failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The account configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The credentials could not be resolved.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The store failed; nothing was done on the server for messages not stored.
    #[error("account {account:?}: store error: {source}")]
    Store {
        /// Account name.
        account: String,
        /// The store's error.
        #[source]
        source: inbound_store::Error,
    },
    /// The server failed and retries (if any) were used up. `report` says what the run
    /// achieved before that; everything in it is durably stored.
    #[error("account {account:?}: {source}")]
    Backend {
        /// Account name.
        account: String,
        /// The last server error.
        #[source]
        source: BackendError,
        /// What was done before the failure.
        report: Box<Report>,
    },
    /// The server lacks something this account needs (POP3 without UIDL, IMAP without IDLE
    /// and no poll interval).
    #[error("account {account:?}: {what}")]
    Unsupported {
        /// Account name.
        account: String,
        /// What is missing.
        what: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
