//! Subscriptions over the network adapters (IMAP IDLE) against the test server: deliveries
//! are seen within a second, and the subscription survives a cut connection and an expired
//! OAuth token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_net::oauth::{AccessToken, TokenFuture, TokenProvider};
use inbound_net::{Credentials, Secret};
use inbound_retrieve::{
    Connector, IdleOutcome, ImapSession, MailProtocol, NetConnector, StopSignal, SubscriptionState,
    Subscriptions,
};
use inbound_test_server::oauth::TokenRegistry;
use net_support::*;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

fn subscriptions(
    store: &inbound_retrieve::SharedStore,
) -> (
    Subscriptions<NetConnector>,
    UnboundedReceiver<SubscriptionState>,
) {
    let (tx, rx) = unbounded_channel();
    let subs = Subscriptions::new(retriever(store, 1)).on_state(move |_, s| {
        let _ = tx.send(s.clone());
    });
    (subs, rx)
}

async fn wait_state(rx: &mut UnboundedReceiver<SubscriptionState>, want: &SubscriptionState) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = rx.recv().await {
            if std::mem::discriminant(&s) == std::mem::discriminant(want) {
                return;
            }
        }
        panic!("state channel closed");
    })
    .await;
    assert!(found.is_ok(), "no {want:?} within 10 s");
}

/// Waits for the handler to report `subject`; returns how long it took.
async fn seen(rx: &mut UnboundedReceiver<String>, subject: &str) -> Duration {
    let start = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{subject} not seen within 5 s"))
        .unwrap();
    assert_eq!(got, subject);
    start.elapsed()
}

fn subscribe(
    subs: &Subscriptions<NetConnector>,
    account: inbound_retrieve::Account,
) -> UnboundedReceiver<String> {
    let (tx, rx) = unbounded_channel();
    subs.subscribe(account, move |m| {
        let _ = tx.send(m.email.subject.clone().unwrap_or_default());
    })
    .unwrap();
    rx
}

#[tokio::test]
async fn idle_sees_deliveries_within_a_second_and_stops_promptly() {
    let server = server(&["sub"]).await;
    deliver(&server, "sub", "INBOX", 1..=2);
    let store = new_store();
    let (subs, mut states) = subscriptions(&store);
    let acc = imap(&server, "sub", delete_after);
    let mut mail_rx = subscribe(&subs, acc);
    wait_state(&mut states, &SubscriptionState::Subscribed).await;
    // The catch-up run handled what was there.
    seen(&mut mail_rx, "message 1").await;
    seen(&mut mail_rx, "message 2").await;

    for i in 3..=5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.store().deliver("sub", "INBOX", mail(i)).unwrap();
        let took = seen(&mut mail_rx, &format!("message {i}")).await;
        assert!(
            took < Duration::from_secs(1),
            "message {i} seen after {took:?}"
        );
    }
    let start = Instant::now();
    assert!(subs.unsubscribe("sub").await);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "unsubscribe took {:?}",
        start.elapsed()
    );
    wait_state(&mut states, &SubscriptionState::Unsubscribed).await;
    assert_eq!(stored_numbers(&store, "sub"), [1, 2, 3, 4, 5]);
    // Delete after receive applied to every one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server_numbers(&server, "sub", "INBOX").is_empty());
}

#[tokio::test]
async fn idle_session_reports_events_and_stop() {
    let server = server(&["idle"]).await;
    let acc = imap(&server, "idle", |_| {});
    let creds = Credentials::password("idle", PASSWORD);
    let mut s = NetConnector::new()
        .connect_imap(&acc, &creds)
        .await
        .unwrap();
    assert!(s.capabilities().idle);
    s.select("INBOX").await.unwrap();

    // Nothing happens: the time limit ends it.
    let e = s
        .idle(Duration::from_millis(200), &StopSignal::never())
        .await
        .unwrap();
    assert_eq!(e, IdleOutcome::Timeout);

    // A delivery ends it.
    let store = server.store().clone();
    let deliverer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.deliver("idle", "INBOX", mail(1)).unwrap();
    });
    let e = s
        .idle(Duration::from_secs(5), &StopSignal::never())
        .await
        .unwrap();
    assert_eq!(e, IdleOutcome::NewMail);
    deliverer.await.unwrap();

    // The stop signal ends it at once, and the session is usable afterwards.
    let (handle, signal) = StopSignal::new();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle.stop();
    });
    let start = Instant::now();
    let e = s.idle(Duration::from_secs(30), &signal).await.unwrap();
    assert_eq!(e, IdleOutcome::Stopped);
    assert!(start.elapsed() < Duration::from_secs(1));
    stopper.await.unwrap();
    s.noop().await.unwrap();
    assert_eq!(s.uid_search(1).await.unwrap(), [1]);
    s.logout().await.unwrap();
}

#[tokio::test]
async fn survives_a_cut_connection() {
    let server = server(&["cut"]).await;
    let proxy = Proxy::start(server.imap_addr(), false).await;
    let store = new_store();
    let (subs, mut states) = subscriptions(&store);
    let acc = account(MailProtocol::Imap, proxy.addr, "cut", |_| {});
    let mut mail_rx = subscribe(&subs, acc);
    wait_state(&mut states, &SubscriptionState::Subscribed).await;

    proxy.cut();
    wait_state(
        &mut states,
        &SubscriptionState::ConnectionLost {
            error: String::new(),
        },
    )
    .await;
    // Mail that arrives while disconnected is caught up on reconnect.
    server.store().deliver("cut", "INBOX", mail(1)).unwrap();
    wait_state(&mut states, &SubscriptionState::Reconnected).await;
    seen(&mut mail_rx, "message 1").await;
    // And IDLE works again.
    server.store().deliver("cut", "INBOX", mail(2)).unwrap();
    let took = seen(&mut mail_rx, "message 2").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(*proxy.connections.lock().unwrap() >= 2);
    subs.unsubscribe_all().await;
    assert_eq!(stored_numbers(&store, "cut"), [1, 2]);
}

/// Hands out tokens issued by the test server's registry; a new one only after
/// `invalidate`.
#[derive(Debug)]
struct RegistryTokens {
    registry: TokenRegistry,
    user: String,
    current: Mutex<Option<String>>,
    issued: AtomicU32,
}

impl TokenProvider for RegistryTokens {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            let mut current = self.current.lock().unwrap();
            let token = current
                .get_or_insert_with(|| {
                    self.issued.fetch_add(1, Ordering::SeqCst);
                    self.registry
                        .issue_token(&self.user, Duration::from_secs(3600))
                })
                .clone();
            Ok(AccessToken::new(Secret::new(token), None))
        })
    }

    fn invalidate(&self) {
        *self.current.lock().unwrap() = None;
    }
}

#[tokio::test]
async fn survives_a_token_expiry() {
    let server = server(&["oauth@example.test"]).await;
    let proxy = Proxy::start(server.imap_addr(), false).await;
    let provider = Arc::new(RegistryTokens {
        registry: server.registry().clone(),
        user: "oauth@example.test".into(),
        current: Mutex::new(None),
        issued: AtomicU32::new(0),
    });
    let store = new_store();
    let (subs, mut states) = subscriptions(&store);
    subs.retriever().set_credentials(
        "oauth@example.test",
        Credentials::oauth("oauth@example.test", provider.clone()),
    );
    let acc = account(MailProtocol::Imap, proxy.addr, "oauth@example.test", |_| {});
    let mut mail_rx = subscribe(&subs, acc);
    wait_state(&mut states, &SubscriptionState::Subscribed).await;
    assert_eq!(provider.issued.load(Ordering::SeqCst), 1);

    // The token expires, then the connection is lost: the reconnect must log in with a
    // new token.
    let old = provider.current.lock().unwrap().clone().unwrap();
    assert!(server.registry().expire_now(&old));
    proxy.cut();
    wait_state(&mut states, &SubscriptionState::Reconnected).await;
    assert!(provider.issued.load(Ordering::SeqCst) >= 2);
    assert_ne!(provider.current.lock().unwrap().clone().unwrap(), old);

    server
        .store()
        .deliver("oauth@example.test", "INBOX", mail(7))
        .unwrap();
    let took = seen(&mut mail_rx, "message 7").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    subs.unsubscribe_all().await;
}
