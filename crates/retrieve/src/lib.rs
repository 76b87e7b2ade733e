//! Accounts, retrieval policies, after-receive actions, subscriptions and exactly-once
//! bookkeeping: the heart of Inbound.
//!
//! ```
//! use inbound_retrieve::{Account, AfterReceive, FetchPolicy};
//!
//! #[derive(serde::Deserialize)]
//! struct File {
//!     account: Vec<Account>,
//! }
//!
//! let file: File = toml::from_str(r#"
//!     [[account]]
//!     name = "work"
//!     protocol = "imap"
//!     host = "imap.example.com"
//!     username = "me@example.com"
//!     password_env = "WORK_PW"
//!     fetch = "latest"
//!     count = 50
//!     after_receive = "move"
//!     move_to = "Archive"
//!     max_message_size = "50MB"
//! "#).unwrap();
//! let work = &file.account[0];
//! assert_eq!(work.port, 993);
//! assert_eq!(work.fetch, FetchPolicy::Latest(50));
//! assert_eq!(work.after_receive, AfterReceive::MoveTo("Archive".into()));
//! assert_eq!(work.max_message_size, Some(50_000_000));
//!
//! // Every problem is reported at once, by field name.
//! let bad: Result<File, _> = toml::from_str(r#"
//!     [[account]]
//!     name = "home"
//!     protocol = "pop3"
//!     host = "pop.example.com"
//!     username = "me"
//!     after_receive = "move"
//!     fetch = "oldest"
//! "#);
//! let message = bad.err().unwrap().to_string();
//! assert!(message.contains("after_receive: \"move\" is not possible with POP3"));
//! assert!(message.contains("move_to: is required"));
//! assert!(message.contains("count: is required"));
//! ```
//!
//! # How a run works
//! [`Retriever::retrieve`] connects through a [`Connector`] (the network clients of
//! `inbound-net`, or a fake in tests), then:
//! 1. completes the server actions left pending by an earlier run that died between storing
//!    a message and deleting or moving it;
//! 2. lists the new messages (IMAP: UIDs above the highest handled under the folder's
//!    UIDVALIDITY; POP3: UIDLs never seen), applies the fetch policy, and skips (records,
//!    never downloads) messages over the maximum size;
//! 3. fetches them in batches, oldest first, storing each batch in one transaction together
//!    with its pending server action;
//! 4. only then deletes or moves the batch on the server, and marks the actions done.
//!
//! A message is therefore never deleted or moved on the server unless it is durably stored,
//! and a crash at any point leaves a state the next run completes.
//!
//! # UIDVALIDITY
//! When a folder's UIDVALIDITY changes, pending actions on the old UIDs are abandoned (never
//! applied to whatever message now has that UID), the folder is re-scanned from UID 1, and
//! each downloaded message whose exact bytes are already stored from this folder under an
//! older UIDVALIDITY is not stored again (it counts as `already_stored`; the after-receive
//! action still applies to it, since it is stored).
//!
//! # Architecture invariant
//! This crate never sees wire syntax: it calls the typed operations of [`backend`]. It does
//! not depend on tokio; it spawns and sleeps through [`inbound_net::rt`].

pub mod account;
pub mod backend;
pub mod credentials;
pub mod delivery;
mod error;
mod events;
pub mod fleet;
pub mod json;
mod pipeline;
mod retriever;
mod subscribe;
mod sync;

pub use account::{
    Account, AccountBuilder, AccountConfig, AfterReceive, AuthConfig, ConfigErrors, ConfigProblem,
    FetchPolicy, InlineImageMode, LoginEndpoints, LoginSettings, MailProtocol, OAuthConfig,
    OAuthProviderName, OAuthSettings, RemoteImages, SecretSource,
};
pub use backend::net::NetConnector;
pub use backend::{
    BackendError, BackendResult, Connector, ErrorKind, FolderStatus, IdleOutcome, ImapCapabilities,
    ImapSession, MessageSize, Pop3Session, Pop3Uidl, RemoteMessage, StopHandle, StopSignal,
};
pub use credentials::{CredentialError, resolve_credentials, resolve_credentials_saving_rotated};
pub use error::{Error, Result};
pub use events::{BatchDone, Events, NewMail, NoEvents, NotDelivered, Progress, Report, Skipped};
pub use retriever::{RetrieveConfig, Retriever};
pub use subscribe::{
    MessageHandler, StateHandler, SubscriptionId, SubscriptionState, Subscriptions,
};
pub use sync::run::{SharedStore, share, share_boxed};
