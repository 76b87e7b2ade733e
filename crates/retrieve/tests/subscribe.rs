//! Subscriptions against the in-memory fake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use inbound_net::Credentials;
use inbound_net::oauth::{AccessToken, TokenFuture, TokenProvider};
use inbound_retrieve::account::AfterReceiveName;
use inbound_retrieve::{ImapCapabilities, SubscriptionState, Subscriptions};

type States = Arc<Mutex<Vec<SubscriptionState>>>;
type Seen = Arc<Mutex<Vec<String>>>;

fn manager(
    server: &MemoryServer,
    store: &inbound_retrieve::SharedStore,
) -> (Subscriptions<MemoryConnector>, States) {
    let states: States = Arc::default();
    let s2 = states.clone();
    let subs = Subscriptions::new(retriever(store, server))
        .on_state(move |_, st| s2.lock().unwrap().push(st.clone()));
    (subs, states)
}

fn collector() -> (
    Seen,
    impl Fn(&inbound_retrieve::NewMail<'_>) + Send + Sync + 'static,
) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    (seen, move |m: &inbound_retrieve::NewMail<'_>| {
        s2.lock()
            .unwrap()
            .push(m.email.subject.clone().unwrap_or_default());
    })
}

/// Waits (real or paused time) until `cond` holds; panics after `limit`.
async fn until(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let step = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    while !cond() {
        assert!(waited < limit, "timed out waiting for {what}");
        inbound_net::rt::sleep(step).await;
        waited += step;
    }
}

fn has(states: &States, want: &SubscriptionState) -> bool {
    states.lock().unwrap().contains(want)
}

#[tokio::test]
async fn deliveries_are_seen_within_a_second_and_stored_and_acted_on() {
    let server = new_server();
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (seen, handler) = collector();
    let acc = account("a", |c| c.after_receive = Some(AfterReceiveName::Delete));
    subs.subscribe(acc, handler).unwrap();
    until(Duration::from_secs(2), "subscribed", || {
        has(&states, &SubscriptionState::Subscribed)
    })
    .await;
    // Caught up on what was there before.
    assert_eq!(*seen.lock().unwrap(), ["message 1", "message 2"]);

    let start = Instant::now();
    server.deliver("INBOX", mail(3));
    until(Duration::from_secs(1), "delivery", || {
        seen.lock().unwrap().len() == 3
    })
    .await;
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(stored_numbers(&store, "a"), [1, 2, 3]);
    until(Duration::from_secs(1), "delete", || {
        server.count("INBOX") == 0
    })
    .await;
    assert_eq!(pending_count(&store, "a"), 0);

    assert!(subs.unsubscribe("a").await);
    assert!(has(&states, &SubscriptionState::Unsubscribed));
    assert!(server.log().contains(&"DONE".to_owned()));
    assert_eq!(server.counters().logouts, 1);
    assert!(!subs.unsubscribe("a").await);
}

#[tokio::test]
async fn subscribing_twice_keeps_one_subscription() {
    let server = new_server();
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (seen, handler) = collector();
    let (_, handler2) = collector();
    let id1 = subs.subscribe(account("a", |_| {}), handler).unwrap();
    let id2 = subs.subscribe(account("a", |_| {}), handler2).unwrap();
    assert_eq!(id1, id2);
    until(Duration::from_secs(2), "subscribed", || {
        has(&states, &SubscriptionState::Subscribed)
    })
    .await;
    server.deliver("INBOX", mail(1));
    until(Duration::from_secs(1), "delivery", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    assert_eq!(server.counters().connections, 1);
    assert_eq!(subs.accounts(), ["a"]);
    subs.unsubscribe_all().await;
    assert!(!subs.is_active("a"));
}

#[tokio::test]
async fn survives_a_dropped_connection_and_catches_up() {
    let server = new_server();
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (seen, handler) = collector();
    subs.subscribe(account("a", |_| {}), handler).unwrap();
    until(Duration::from_secs(2), "subscribed", || {
        has(&states, &SubscriptionState::Subscribed)
    })
    .await;
    // The connection drops, and the next connect attempt fails too; mail arrives meanwhile.
    server.fault(FaultPoint::Connect, 1, FaultKind::Drop);
    server.drop_idlers();
    server.deliver("INBOX", mail(1));
    until(Duration::from_secs(2), "reconnected", || {
        has(&states, &SubscriptionState::Reconnected)
    })
    .await;
    until(Duration::from_secs(1), "catch-up", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    let lost = states
        .lock()
        .unwrap()
        .iter()
        .filter(|s| matches!(s, SubscriptionState::ConnectionLost { .. }))
        .count();
    assert_eq!(lost, 2);
    server.deliver("INBOX", mail(2));
    until(Duration::from_secs(1), "delivery", || {
        seen.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(stored_numbers(&store, "a"), [1, 2]);
    subs.unsubscribe("a").await;
}

/// Hands out `t1`, `t2`, ...: a new one after each invalidate.
#[derive(Debug, Default)]
struct RotatingToken(AtomicU32);

impl TokenProvider for RotatingToken {
    fn token(&self) -> TokenFuture<'_> {
        let n = self.0.load(Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(AccessToken::new(format!("t{n}"), None)) })
    }
    fn invalidate(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn survives_a_token_expiry_with_a_fresh_token() {
    let server = new_server();
    server.require_token(Some("t1"));
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let provider = Arc::new(RotatingToken::default());
    let acc = account("a", |_| {});
    subs.retriever()
        .set_credentials("a", Credentials::oauth("me@example.com", provider.clone()));
    let (seen, handler) = collector();
    subs.subscribe(acc, handler).unwrap();
    until(Duration::from_secs(2), "subscribed", || {
        has(&states, &SubscriptionState::Subscribed)
    })
    .await;
    // The token expires: the server now only accepts the next one and drops the session.
    server.require_token(Some("t2"));
    server.drop_idlers();
    until(Duration::from_secs(2), "reconnected", || {
        has(&states, &SubscriptionState::Reconnected)
    })
    .await;
    server.deliver("INBOX", mail(1));
    until(Duration::from_secs(1), "delivery", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    assert!(provider.0.load(Ordering::SeqCst) >= 1);
    subs.unsubscribe("a").await;
}

#[tokio::test(start_paused = true)]
async fn retry_exhausted_then_failed() {
    let server = new_server();
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (_, handler) = collector();
    for _ in 0..10 {
        server.fault(FaultPoint::Connect, 1, FaultKind::Drop);
    }
    subs.subscribe(account("a", |_| {}), handler).unwrap();
    until(Duration::from_secs(60), "failed", || {
        states
            .lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, SubscriptionState::Failed { .. }))
    })
    .await;
    let st = states.lock().unwrap().clone();
    assert!(matches!(
        st[st.len() - 2],
        SubscriptionState::RetryExhausted { .. }
    ));
    assert!(!subs.is_active("a"));
}

#[tokio::test(start_paused = true)]
async fn polling_for_pop3_and_servers_without_idle() {
    // POP3, polled every 5 s.
    let server = new_server();
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (seen, handler) = collector();
    let acc = pop3_account("p", |c| {
        c.poll_interval_secs = Some(5);
        c.after_receive = Some(AfterReceiveName::Delete);
    });
    subs.subscribe(acc, handler).unwrap();
    until(Duration::from_secs(2), "subscribed", || {
        has(&states, &SubscriptionState::Subscribed)
    })
    .await;
    server.deliver_pop3(mail(1));
    until(Duration::from_secs(6), "poll", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    until(Duration::from_secs(6), "deleted", || {
        pop3_numbers(&server).is_empty()
    })
    .await;
    subs.unsubscribe("p").await;

    // IMAP without IDLE: refused unless a poll interval is set.
    let server = new_server();
    server.set_capabilities(ImapCapabilities {
        idle: false,
        ..server.capabilities()
    });
    let (subs, states) = manager(&server, &store);
    let (_, handler) = collector();
    subs.subscribe(account("a", |_| {}), handler).unwrap();
    until(Duration::from_secs(2), "failed", || {
        states
            .lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, SubscriptionState::Failed { error } if error.contains("poll_interval_secs")))
    })
    .await;
    let (seen, handler) = collector();
    let (subs, _) = manager(&server, &store);
    subs.subscribe(account("b", |c| c.poll_interval_secs = Some(3)), handler)
        .unwrap();
    server.deliver("INBOX", mail(7));
    until(Duration::from_secs(5), "poll", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    subs.unsubscribe("b").await;
}

#[tokio::test]
async fn many_subscriptions_in_one_process() {
    let server = new_server();
    let names: Vec<String> = (0..50).map(|i| format!("F{i}")).collect();
    for n in &names {
        server.create_folder(n);
    }
    let store = new_store();
    let (subs, states) = manager(&server, &store);
    let (seen, handler) = collector();
    let handler = Arc::new(handler);
    for n in &names {
        let h = handler.clone();
        subs.subscribe(
            account(&n.to_lowercase(), |c| c.folder = Some(n.clone())),
            move |m| h(m),
        )
        .unwrap();
    }
    until(Duration::from_secs(5), "all subscribed", || {
        states
            .lock()
            .unwrap()
            .iter()
            .filter(|s| **s == SubscriptionState::Subscribed)
            .count()
            == 50
    })
    .await;
    for (i, n) in names.iter().enumerate() {
        server.deliver(n, mail(i as u32));
    }
    until(Duration::from_secs(2), "50 deliveries", || {
        seen.lock().unwrap().len() == 50
    })
    .await;
    subs.unsubscribe_all().await;
    assert_eq!(server.counters().logouts, 50);
}
