//! A connection rate limit: [`Paced`] wraps a [`Connector`] so that its connections start at
//! most `per_sec` a second, first ones and reconnects alike. When a provider restarts and a
//! worker's thousand subscriptions all reconnect, they reach it spread out instead of at
//! once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use inbound_net::Credentials;
use inbound_net::rt;

use crate::account::Account;
use crate::backend::{BackendResult, Connector};

/// A [`Connector`] whose connections start at most `per_sec` a second (a queue of start
/// slots: each connection takes the next free slot and waits for it).
#[derive(Debug, Clone)]
pub struct Paced<C> {
    inner: C,
    spacing: Duration,
    next: Arc<Mutex<Option<Instant>>>,
}

impl<C> Paced<C> {
    /// Paces `inner` to `per_sec` connections a second (at least 1).
    pub fn new(inner: C, per_sec: u32) -> Self {
        Self {
            inner,
            spacing: Duration::from_secs(1) / per_sec.max(1),
            next: Arc::default(),
        }
    }

    /// Waits for this connection's start slot.
    async fn slot(&self) {
        let now = Instant::now();
        let at = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.spacing);
            at
        };
        let wait = at.saturating_duration_since(now);
        if !wait.is_zero() {
            rt::sleep(wait).await;
        }
    }
}

impl<C: Connector> Connector for Paced<C> {
    type Imap = C::Imap;
    type Pop3 = C::Pop3;

    async fn connect_imap(
        &self,
        account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<Self::Imap> {
        self.slot().await;
        self.inner.connect_imap(account, credentials).await
    }

    async fn connect_pop3(
        &self,
        account: &Account,
        credentials: &Credentials,
    ) -> BackendResult<Self::Pop3> {
        self.slot().await;
        self.inner.connect_pop3(account, credentials).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::backend::memory::MemoryServer;

    #[tokio::test]
    async fn connections_start_no_faster_than_the_rate() {
        let server = MemoryServer::new();
        let paced = Paced::new(server.connector(), 20);
        let account = Account::imap(
            "mail.test",
            "me@example.com",
            crate::SecretSource::env("UNUSED_IN_THIS_TEST"),
        )
        .build()
        .unwrap();
        let credentials = Credentials::password("me@example.com", "secret");
        let started = Instant::now();
        let connects = (0..6).map(|_| paced.connect_imap(&account, &credentials));
        let sessions = futures::future::join_all(connects).await;
        assert!(sessions.iter().all(Result::is_ok));
        // Six slots 50 ms apart: the last starts 250 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(server.counters().connections, 6);
    }
}
