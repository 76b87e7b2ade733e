//! The store's operations as one trait, so the retrieval layer and the CLI can work on either
//! backend: the SQLite file ([`Store`]) or a PostgreSQL database (`PgStore`, with the
//! `postgres` feature).
//!
//! Both give the same guarantees: a message, its pending server action and its outbox event
//! are written in one transaction; storing the same message twice stores it once; account
//! settings and secrets are sealed with AES-256-GCM under the same key and associated data,
//! so a sealed value means the same in both.
//!
//! The methods are the inherent ones of [`Store`] under the same names (slices in place of
//! iterators, so the trait can be used as `dyn StoreBackend`).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use bytes::Bytes;

use crate::accounts::StoredAccount;
use crate::crypto::EncryptionKey;
use crate::error::Result;
#[cfg(feature = "postgres")]
use crate::outbox::DeliveryState;
use crate::outbox::{
    Delivery, DeliveryFilter, DeliveryOutcome, OutboxEvent, RetrySelection, TargetSpec,
};
use crate::page::{Page, PageQuery};
#[cfg(feature = "postgres")]
use crate::pg::PgStore;
use crate::raw::MessageView;
use crate::retry::{RetryUid, RetryUidl};
use crate::signin::NeedsLogin;
use crate::store::Store;
use crate::sync::ImapFolderState;
use crate::types::{
    Inserted, MessageFilter, MessageId, MessageSummary, NewMessage, Pending, PendingAction,
    ServerRef, StoredMessage,
};
use inbound_secret::Secret;

/// What the retrieval layer and the CLI need of a store; see [`Store`] for each method's
/// contract, which every backend keeps.
pub trait StoreBackend: Send {
    /// [`Store::insert_message`].
    fn insert_message(&mut self, message: &NewMessage<'_>) -> Result<Inserted>;
    /// [`Store::insert_messages`].
    fn insert_messages(&mut self, messages: &[NewMessage<'_>]) -> Result<Vec<Inserted>>;
    /// [`Store::message_sha256`].
    fn message_sha256(&self, id: MessageId) -> Result<Option<[u8; 32]>>;
    /// [`Store::list_messages`].
    fn list_messages(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>>;
    /// [`Store::count_messages`].
    fn count_messages(&self, filter: &MessageFilter) -> Result<u64>;
    /// [`Store::get_message`].
    fn get_message(&self, id: MessageId) -> Result<Option<StoredMessage>>;
    /// [`Store::export_eml`].
    fn export_eml(&self, id: MessageId) -> Result<Option<Bytes>>;
    /// [`Store::is_stored`].
    fn is_stored(&self, account: &str, folder: &str, server_ref: &ServerRef) -> Result<bool>;
    /// [`Store::find_duplicate`].
    fn find_duplicate(&self, account: &str, raw: &[u8]) -> Result<Option<MessageId>>;
    /// [`Store::list_events`].
    fn list_events(&self, limit: usize) -> Result<Vec<OutboxEvent>>;
    /// [`Store::get_summary`].
    fn get_summary(&self, id: MessageId) -> Result<Option<MessageSummary>>;
    /// [`Store::get_message_lean`].
    fn get_message_lean(&self, id: MessageId) -> Result<Option<MessageView>>;
    /// [`Store::write_raw_to`].
    fn write_raw_to(&self, id: MessageId, out: &mut dyn Write) -> Result<Option<u64>>;
    /// [`Store::find_by_server_ref`].
    fn find_by_server_ref(
        &self,
        account: &str,
        folder: &str,
        server_ref: &ServerRef,
    ) -> Result<Option<MessageId>>;
    /// [`Store::find_by_message_id`].
    fn find_by_message_id(&self, account: &str, message_id: &str) -> Result<Vec<MessageId>>;
    /// [`Store::has_other_uidvalidity`].
    fn has_other_uidvalidity(&self, account: &str, folder: &str, uidvalidity: u32) -> Result<bool>;
    /// [`Store::list_page`].
    fn list_page(&self, query: &PageQuery) -> Result<Page>;
    /// [`Store::count_by_account`].
    fn count_by_account(&self) -> Result<HashMap<String, u64>>;
    /// Fails with [`Error::Fenced`](crate::Error::Fenced) when this process may no longer act
    /// for `account` (a fleet worker that lost its lease); called before every action on the
    /// server. A store without leases (SQLite) always allows it.
    fn check_fence(&self, account: &str) -> Result<()> {
        let _ = account;
        Ok(())
    }
    /// [`Store::pending_actions_of`].
    fn pending_actions_of(&self, ids: &[MessageId]) -> Result<HashMap<MessageId, PendingAction>>;

    /// [`Store::mark_needs_login`].
    fn mark_needs_login(&mut self, account: &str, reason: &str) -> Result<()>;
    /// [`Store::clear_needs_login`].
    fn clear_needs_login(&mut self, account: &str) -> Result<bool>;
    /// [`Store::needs_login`].
    fn needs_login(&self, account: &str) -> Result<Option<NeedsLogin>>;
    /// [`Store::accounts_needing_login`].
    fn accounts_needing_login(&self) -> Result<Vec<NeedsLogin>>;

    /// [`Store::imap_state`].
    fn imap_state(&self, account: &str, folder: &str) -> Result<Option<ImapFolderState>>;
    /// [`Store::set_imap_state`].
    fn set_imap_state(
        &mut self,
        account: &str,
        folder: &str,
        state: ImapFolderState,
    ) -> Result<usize>;
    /// [`Store::reset_imap_state`].
    fn reset_imap_state(&mut self, account: &str, folder: &str, uidvalidity: u32) -> Result<usize>;
    /// [`Store::pop3_seen_uidls`].
    fn pop3_seen_uidls(&self, account: &str) -> Result<HashSet<String>>;
    /// [`Store::mark_pop3_seen`].
    fn mark_pop3_seen(&mut self, account: &str, uidls: &[&str]) -> Result<()>;
    /// [`Store::retain_pop3_uidls`].
    fn retain_pop3_uidls(&mut self, account: &str, present: &HashSet<String>) -> Result<usize>;
    /// [`Store::forget_pop3_uidls`].
    fn forget_pop3_uidls(&mut self, account: &str, uidls: &[&str]) -> Result<usize>;

    /// [`Store::pending_actions`].
    fn pending_actions(&self, account: &str) -> Result<Vec<Pending>>;
    /// [`Store::abandoned_actions`].
    fn abandoned_actions(&self, account: &str) -> Result<Vec<Pending>>;
    /// [`Store::complete_action`].
    fn complete_action(&mut self, id: i64) -> Result<()>;
    /// [`Store::complete_actions`].
    fn complete_actions(&mut self, ids: &[i64]) -> Result<usize>;
    /// [`Store::fail_action`].
    fn fail_action(&mut self, id: i64, error: &str) -> Result<()>;
    /// [`Store::move_copied`].
    fn move_copied(&mut self, id: i64, error: &str) -> Result<()>;
    /// [`Store::abandon_action`].
    fn abandon_action(&mut self, id: i64, reason: &str) -> Result<()>;

    /// [`Store::expect_imap_uids`].
    fn expect_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()>;
    /// [`Store::fail_imap_uids`].
    fn fail_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        failures: &[(u32, String)],
    ) -> Result<()>;
    /// [`Store::forget_imap_uids`].
    fn forget_imap_uids(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()>;
    /// [`Store::imap_retry`].
    fn imap_retry(&self, account: &str, folder: &str, uidvalidity: u32) -> Result<Vec<RetryUid>>;
    /// [`Store::fail_pop3_uidl`].
    fn fail_pop3_uidl(&mut self, account: &str, uidl: &str, reason: &str) -> Result<()>;
    /// [`Store::pop3_retry`].
    fn pop3_retry(&self, account: &str) -> Result<Vec<RetryUidl>>;

    /// [`Store::save_account`].
    fn save_account(
        &mut self,
        name: &str,
        config_json: &str,
        secrets: &[(&str, Secret)],
    ) -> Result<()>;
    /// [`Store::load_account`].
    fn load_account(&self, name: &str) -> Result<Option<StoredAccount>>;
    /// [`Store::list_accounts`].
    fn list_accounts(&self) -> Result<Vec<String>>;
    /// [`Store::remove_account`].
    fn remove_account(&mut self, name: &str) -> Result<bool>;
    /// [`Store::record_event`].
    fn record_event(&mut self, kind: &str, account: &str, data: Option<&str>) -> Result<String>;
    /// [`Store::fan_out_events`].
    fn fan_out_events(&mut self, targets: &[TargetSpec<'_>], limit: usize) -> Result<usize>;
    /// [`Store::claim_due_deliveries`].
    fn claim_due_deliveries(
        &mut self,
        targets: &[&str],
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    /// [`Store::next_delivery_due`].
    fn next_delivery_due(&self, targets: &[&str]) -> Result<Option<i64>>;
    /// [`Store::has_new_events`].
    fn has_new_events(&self) -> Result<bool>;
    /// [`Store::delivery_done`].
    fn delivery_done(&mut self, id: i64, status: Option<u16>) -> Result<()>;
    /// [`Store::delivery_retry`].
    fn delivery_retry(
        &mut self,
        id: i64,
        status: Option<u16>,
        error: &str,
        next_at_ms: i64,
    ) -> Result<()>;
    /// [`Store::delivery_dead`].
    fn delivery_dead(&mut self, id: i64, status: Option<u16>, error: &str) -> Result<()>;
    /// [`Store::finish_deliveries`].
    fn finish_deliveries(&mut self, outcomes: &[DeliveryOutcome]) -> Result<()>;
    /// [`Store::stop_target`].
    fn stop_target(&mut self, name: &str, reason: &str) -> Result<usize>;
    /// [`Store::target_stopped`].
    fn target_stopped(&self, name: &str) -> Result<Option<String>>;
    /// [`Store::list_deliveries`].
    fn list_deliveries(&self, filter: DeliveryFilter, limit: usize) -> Result<Vec<Delivery>>;
    /// [`Store::retry_deliveries`].
    fn retry_deliveries(&mut self, which: RetrySelection) -> Result<usize>;
    /// [`Store::has_key`].
    fn has_key(&self) -> bool;
    /// [`Store::rekey`].
    fn rekey(&mut self, old: &EncryptionKey, new: &EncryptionKey) -> Result<usize>;
    /// [`Store::save_rotated_secret`].
    fn save_rotated_secret(
        &mut self,
        account: &str,
        slot: &str,
        origin: &Secret,
        current: &Secret,
    ) -> Result<()>;
    /// [`Store::load_rotated_secret`].
    fn load_rotated_secret(
        &self,
        account: &str,
        slot: &str,
        origin: &Secret,
    ) -> Result<Option<Secret>>;
}

/// Writes a backend's trait methods as delegations to its inherent methods of the same
/// names: `forward! { Target; read fn name(arg: Type) -> Ret; ... }`, where `read fn` takes
/// `&self` and `write fn` takes `&mut self`. An inherent method is found before the trait's
/// under `Target::name`; one missing would make the method call itself, which
/// the `unconditional_recursion` lint reports.
macro_rules! forward {
    ($target:ident; $( $kind:ident fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $( forward!(@one $target $kind $name ($($arg: $ty),*) $ret); )*
    };
    (@one $target:ident read $name:ident ($($arg:ident: $ty:ty),*) $ret:ty) => {
        fn $name(&self, $($arg: $ty),*) -> $ret { $target::$name(self, $($arg),*) }
    };
    (@one $target:ident write $name:ident ($($arg:ident: $ty:ty),*) $ret:ty) => {
        fn $name(&mut self, $($arg: $ty),*) -> $ret { $target::$name(self, $($arg),*) }
    };
}

/// The methods both backends forward as they are, in the trait's order; each backend's impl
/// adds the few it writes differently.
macro_rules! forward_shared {
    ($target:ident) => {
        forward! { $target;
            write fn insert_message(message: &NewMessage<'_>) -> Result<Inserted>;
            write fn insert_messages(messages: &[NewMessage<'_>]) -> Result<Vec<Inserted>>;
            read fn message_sha256(id: MessageId) -> Result<Option<[u8; 32]>>;
            read fn list_messages(filter: &MessageFilter) -> Result<Vec<MessageSummary>>;
            read fn count_messages(filter: &MessageFilter) -> Result<u64>;
            read fn get_message(id: MessageId) -> Result<Option<StoredMessage>>;
            read fn export_eml(id: MessageId) -> Result<Option<Bytes>>;
            read fn is_stored(account: &str, folder: &str, server_ref: &ServerRef) -> Result<bool>;
            read fn find_duplicate(account: &str, raw: &[u8]) -> Result<Option<MessageId>>;
            read fn list_events(limit: usize) -> Result<Vec<OutboxEvent>>;
            read fn get_summary(id: MessageId) -> Result<Option<MessageSummary>>;
            read fn get_message_lean(id: MessageId) -> Result<Option<MessageView>>;
            read fn write_raw_to(id: MessageId, out: &mut dyn Write) -> Result<Option<u64>>;
            read fn find_by_server_ref(account: &str, folder: &str, server_ref: &ServerRef) -> Result<Option<MessageId>>;
            read fn find_by_message_id(account: &str, message_id: &str) -> Result<Vec<MessageId>>;
            read fn has_other_uidvalidity(account: &str, folder: &str, uidvalidity: u32) -> Result<bool>;
            read fn list_page(query: &PageQuery) -> Result<Page>;
            read fn count_by_account() -> Result<HashMap<String, u64>>;
            read fn pending_actions_of(ids: &[MessageId]) -> Result<HashMap<MessageId, PendingAction>>;
            write fn mark_needs_login(account: &str, reason: &str) -> Result<()>;
            write fn clear_needs_login(account: &str) -> Result<bool>;
            read fn needs_login(account: &str) -> Result<Option<NeedsLogin>>;
            read fn accounts_needing_login() -> Result<Vec<NeedsLogin>>;
            read fn imap_state(account: &str, folder: &str) -> Result<Option<ImapFolderState>>;
            write fn set_imap_state(account: &str, folder: &str, state: ImapFolderState) -> Result<usize>;
            write fn reset_imap_state(account: &str, folder: &str, uidvalidity: u32) -> Result<usize>;
            read fn pop3_seen_uidls(account: &str) -> Result<HashSet<String>>;
            write fn retain_pop3_uidls(account: &str, present: &HashSet<String>) -> Result<usize>;
            read fn pending_actions(account: &str) -> Result<Vec<Pending>>;
            read fn abandoned_actions(account: &str) -> Result<Vec<Pending>>;
            write fn complete_action(id: i64) -> Result<()>;
            write fn complete_actions(ids: &[i64]) -> Result<usize>;
            write fn fail_action(id: i64, error: &str) -> Result<()>;
            write fn move_copied(id: i64, error: &str) -> Result<()>;
            write fn abandon_action(id: i64, reason: &str) -> Result<()>;
            write fn expect_imap_uids(account: &str, folder: &str, uidvalidity: u32, uids: &[u32]) -> Result<()>;
            write fn fail_imap_uids(account: &str, folder: &str, uidvalidity: u32, failures: &[(u32, String)]) -> Result<()>;
            write fn forget_imap_uids(account: &str, folder: &str, uidvalidity: u32, uids: &[u32]) -> Result<()>;
            read fn imap_retry(account: &str, folder: &str, uidvalidity: u32) -> Result<Vec<RetryUid>>;
            write fn fail_pop3_uidl(account: &str, uidl: &str, reason: &str) -> Result<()>;
            read fn pop3_retry(account: &str) -> Result<Vec<RetryUidl>>;
            write fn save_account(name: &str, config_json: &str, secrets: &[(&str, Secret)]) -> Result<()>;
            read fn load_account(name: &str) -> Result<Option<StoredAccount>>;
            read fn list_accounts() -> Result<Vec<String>>;
            write fn remove_account(name: &str) -> Result<bool>;
            write fn record_event(kind: &str, account: &str, data: Option<&str>) -> Result<String>;
            write fn fan_out_events(targets: &[TargetSpec<'_>], limit: usize) -> Result<usize>;
            write fn claim_due_deliveries(targets: &[&str], now_ms: i64, lease_ms: i64, limit: usize) -> Result<Vec<Delivery>>;
            read fn next_delivery_due(targets: &[&str]) -> Result<Option<i64>>;
            read fn has_new_events() -> Result<bool>;
            write fn finish_deliveries(outcomes: &[DeliveryOutcome]) -> Result<()>;
            write fn stop_target(name: &str, reason: &str) -> Result<usize>;
            read fn target_stopped(name: &str) -> Result<Option<String>>;
            read fn list_deliveries(filter: DeliveryFilter, limit: usize) -> Result<Vec<Delivery>>;
            write fn retry_deliveries(which: RetrySelection) -> Result<usize>;
            read fn has_key() -> bool;
            write fn rekey(old: &EncryptionKey, new: &EncryptionKey) -> Result<usize>;
            write fn save_rotated_secret(account: &str, slot: &str, origin: &Secret, current: &Secret) -> Result<()>;
            read fn load_rotated_secret(account: &str, slot: &str, origin: &Secret) -> Result<Option<Secret>>;
        }
    };
}

impl StoreBackend for Store {
    forward_shared!(Store);
    forward! { Store;
        write fn delivery_done(id: i64, status: Option<u16>) -> Result<()>;
        write fn delivery_retry(id: i64, status: Option<u16>, error: &str, next_at_ms: i64) -> Result<()>;
        write fn delivery_dead(id: i64, status: Option<u16>, error: &str) -> Result<()>;
    }

    // The inherent methods take iterators.
    fn mark_pop3_seen(&mut self, account: &str, uidls: &[&str]) -> Result<()> {
        Store::mark_pop3_seen(self, account, uidls.iter().copied())
    }

    fn forget_pop3_uidls(&mut self, account: &str, uidls: &[&str]) -> Result<usize> {
        Store::forget_pop3_uidls(self, account, uidls.iter().copied())
    }
}

/// The PostgreSQL backend: each method is in the file of `pg/` named after its SQLite
/// counterpart's. `check_fence` overrides the trait's default: it checks the lease.
#[cfg(feature = "postgres")]
impl StoreBackend for PgStore {
    forward_shared!(PgStore);
    forward! { PgStore;
        read fn check_fence(account: &str) -> Result<()>;
        write fn mark_pop3_seen(account: &str, uidls: &[&str]) -> Result<()>;
        write fn forget_pop3_uidls(account: &str, uidls: &[&str]) -> Result<usize>;
    }

    // A delivery's outcome is one statement of `pg/outbox.rs` with the state to set.
    fn delivery_done(&mut self, id: i64, status: Option<u16>) -> Result<()> {
        self.set_delivery(id, DeliveryState::Done, None, status, None)
    }

    fn delivery_retry(
        &mut self,
        id: i64,
        status: Option<u16>,
        error: &str,
        next_at_ms: i64,
    ) -> Result<()> {
        self.set_delivery(
            id,
            DeliveryState::Pending,
            Some(next_at_ms),
            status,
            Some(error),
        )
    }

    fn delivery_dead(&mut self, id: i64, status: Option<u16>, error: &str) -> Result<()> {
        self.set_delivery(id, DeliveryState::Dead, None, status, Some(error))
    }
}

/// Where a store lives: `[store] path` (a SQLite file) or `[store] url` (a PostgreSQL
/// database, with the `postgres` feature).
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// A SQLite file, created if missing.
    File(std::path::PathBuf),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(crate::pg::PgConfig),
}

impl StoreLocation {
    /// Opens the store here with `key`, migrating its schema: [`Store::open`] or
    /// `PgStore::open`.
    pub fn open(&self, key: Option<crate::EncryptionKey>) -> Result<Box<dyn StoreBackend>> {
        match self {
            Self::File(path) => Ok(Box::new(Store::open(path, key)?)),
            #[cfg(feature = "postgres")]
            Self::Postgres(config) => Ok(Box::new(crate::pg::PgStore::open(config, key)?)),
        }
    }
}
