//! The embedded message store: one SQLite file holding messages, attachments, per-folder sync
//! state, pending server actions and accounts with encrypted secrets.
//!
//! ```
//! use inbound_message::{Address, Email};
//! use inbound_store::{MessageFilter, NewMessage, PendingAction, ServerRef, Store};
//!
//! # fn main() -> Result<(), inbound_store::Error> {
//! let mut store = Store::open_in_memory(None)?;
//! let email = Email {
//!     subject: Some("Hello".into()),
//!     from: vec![Address { name: None, address: "ann@example.com".into() }],
//!     raw: "Subject: Hello\r\nFrom: ann@example.com\r\n\r\nHi\r\n".into(),
//!     ..Email::default()
//! };
//! let server_ref = ServerRef::Imap { uidvalidity: 7, uid: 42 };
//! // Store the message and record "delete it on the server" in one transaction.
//! let stored = store.insert_message(
//!     &NewMessage::new("work", "INBOX", &server_ref, &email).with_action(Some(&PendingAction::Delete)),
//! )?;
//! assert!(stored.created);
//!
//! let listed = store.list_messages(&MessageFilter::account("work").folder("INBOX"))?;
//! assert_eq!(listed.len(), 1);
//! assert_eq!(listed[0].subject.as_deref(), Some("Hello"));
//! assert_eq!(store.export_eml(stored.id)?.as_deref(), Some(&email.raw[..]));
//!
//! // After the server confirmed the delete:
//! let pending = store.pending_actions("work")?;
//! store.complete_action(pending[0].id)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - **Atomic writes.** Every write is one `BEGIN IMMEDIATE` transaction: a message, its
//!   attachments, its pending server action and the sync-state advance are committed together
//!   or not at all, even if the process is killed in the middle.
//! - **Durable before acting.** The file is in WAL mode with `synchronous=FULL`: a commit is
//!   fsynced before [`Store::insert_message`] returns. `synchronous=NORMAL` would survive a
//!   process crash but could lose the last commits on power loss; since the retrieval layer
//!   deletes or moves a message on the server right after storing it, a lost commit would lose
//!   mail, so FULL it is. The cost is one fsync per transaction; batch with
//!   [`Store::insert_messages`] when that matters. A file store checkpoints its WAL into the
//!   database file on a thread of its own (a second connection, also `synchronous=FULL`)
//!   rather than inside the writer's commits; a write waits for it only when the WAL has
//!   grown past 16 MiB, so the WAL stays bounded.
//! - **Exactly once.** Messages are unique per account, folder and [`ServerRef`]; inserting the
//!   same one again returns the stored id and writes nothing. The pending action recorded with
//!   a message stays in [`Store::pending_actions`] until [`Store::complete_action`].
//! - **Announced with the message.** Each newly stored message gets a `message.received`
//!   event in the [`outbox`], in the same transaction, so a deliverer (webhooks, hooks) sees
//!   every stored message even after a crash right after storing; deliveries are retried per
//!   target and dead ones kept until requeued.
//! - **Several processes.** A second process may open the same file. Readers never block;
//!   writers wait for each other up to the busy timeout (5 s by default, see
//!   [`StoreConfig`]) and then fail with [`Error::Busy`], never corrupting the file.
//! - **Versioned schema.** `PRAGMA user_version` records the schema version; migrations run on
//!   open, and a file from a newer build is refused with [`Error::SchemaTooNew`].
//! - **Encrypted secrets.** Account secrets are sealed with AES-256-GCM under the key from
//!   `INBOUND_ENCRYPTION_KEY` ([`EncryptionKey::from_env`]), a fresh random nonce per value,
//!   bound to their account and name. A wrong key fails at open with [`Error::WrongKey`];
//!   [`Store::rekey`] re-encrypts everything under a new key in one transaction. [`Secret`]
//!   prints `[redacted]`. An account's settings are sealed with its secrets and bound to
//!   them, so a changed host or `password_command` is refused ([`Error::AccountTampered`]).
//! - **Private files.** A new store file is created with mode 0600 (its WAL and shared-memory
//!   files follow it); opening one that other users can read logs a warning.
//!
//! - **Sanitized on read.** A message stored from an account that sanitizes HTML records how
//!   ([`NewMessage::with_sanitize`], [`SanitizeHtml`]); its HTML is sanitized (ammonia, in
//!   `inbound-message`) each time it is read, so [`Store::get_message`] gives
//!   [`StoredMessage::sanitized_html`] for it and [`StoredMessage::display_html`] never gives
//!   its HTML as sent. Storing does not sanitize: the costly step stays off the retrieval path.
//!
//! # Two backends
//!
//! [`Store`] is the SQLite file, the embedded default. With the `postgres` feature,
//! `PgStore` keeps the same data in a PostgreSQL database, so several processes can share
//! accounts. Both implement [`StoreBackend`] with the same guarantees (one transaction for a
//! message, its action and its event; idempotent storing; secrets and settings sealed the same
//! way); [`StoreLocation`] opens either (`[store] path` or `[store] url`).
//!
//! # Layout
//!
//! The raw message is the one copy of its content, in `message_raw`; headers, bodies,
//! attachment contents and parse warnings are parsed from it again when a message is read
//! (parsing a 20 KB message takes tens of microseconds). `messages` holds the listing
//! columns: the envelope, the attachment descriptions (a JSON array), the size, the SHA-256
//! of the raw bytes and the sanitizing mode. Schema version 1 also stored bodies, headers and
//! decoded attachment contents; migration 2 keeps only the raw bytes of such a file. A new
//! file gets 16 KiB pages (a 20 KB message spans two pages rather than six); an existing one
//! keeps the page size it was made with.

mod accounts;
mod backend;
mod checkpoint;
mod codec;
mod crypto;
mod error;
mod files;
mod key;
pub mod lease;
mod messages;
pub mod outbox;
mod page;
#[cfg(feature = "postgres")]
mod pg;
mod query;
mod raw;
mod retry;
mod rotated;
mod schema;
mod signin;
mod store;
mod sync;
mod types;

pub use accounts::StoredAccount;
pub use backend::{StoreBackend, StoreLocation};
pub use crypto::EncryptionKey;
pub use error::{Error, Result};
pub use files::file_is_shared;
pub use inbound_secret::Secret;
pub use key::{KEY_ENV, KeyError};
pub use outbox::{
    Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState, OutboxEvent, RetrySelection,
    TargetSpec,
};
pub use page::{Page, PageCursor, PageQuery};
#[cfg(feature = "postgres")]
pub use pg::{PgConfig, PgLeases, PgStore};
pub use raw::MessageView;
pub use retry::{RETRY_PENDING_REASON, RetryUid, RetryUidl};
pub use schema::SCHEMA_VERSION;
pub use signin::NeedsLogin;
pub use store::{DEFAULT_BUSY_TIMEOUT, Store, StoreConfig};
pub use sync::ImapFolderState;
pub use types::{
    AttachmentInfo, CidImages, Inserted, MessageFilter, MessageId, MessageSummary, NewMessage,
    Pending, PendingAction, SanitizeHtml, ServerRef, StoredMessage, raw_sha256,
};
