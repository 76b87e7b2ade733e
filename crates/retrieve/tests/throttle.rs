//! Throttling servers against the in-memory fake, on a paused clock: without a hint a
//! subscription waits at least a minute between connections and never gives up; a run
//! fails at once rather than retry sooner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use inbound_retrieve::{Error, ErrorKind, SubscriptionState, Subscriptions};

#[tokio::test(start_paused = true)]
async fn without_a_hint_a_subscription_waits_a_minute_each_time_and_never_gives_up() {
    let server = new_server();
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    // More throttled connections than the ordinary retries (5) allow.
    let throttled = 8;
    for _ in 0..throttled {
        server.fault(FaultPoint::Connect, 1, FaultKind::Throttle(None));
    }
    let states: Arc<Mutex<Vec<SubscriptionState>>> = Arc::default();
    let s2 = states.clone();
    let subs = Subscriptions::new(retriever(&store, &server))
        .on_state(move |_, st| s2.lock().unwrap().push(st.clone()));
    let start = tokio::time::Instant::now();
    subs.subscribe(account("a", |_| {}), |_| {}).unwrap();
    let subscribed = || {
        states
            .lock()
            .unwrap()
            .contains(&SubscriptionState::Subscribed)
    };
    while !subscribed() {
        assert!(
            start.elapsed() < Duration::from_secs(3600),
            "not subscribed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(60) * throttled,
        "subscribed after {elapsed:?}"
    );
    let states = states.lock().unwrap().clone();
    let delays: Vec<Duration> = states
        .iter()
        .filter_map(|s| match s {
            SubscriptionState::Throttled { delay, hint } => {
                assert!(!hint);
                Some(*delay)
            }
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), throttled as usize, "{states:?}");
    for delay in delays {
        assert!(
            (Duration::from_secs(60)..=Duration::from_secs(90)).contains(&delay),
            "{delay:?}"
        );
    }
    assert!(
        !states
            .iter()
            .any(|s| matches!(s, SubscriptionState::RetryExhausted { .. })),
        "{states:?}"
    );
    assert_eq!(stored_numbers(&store, "a"), [1, 2]);
    subs.unsubscribe("a").await;
}

#[tokio::test(start_paused = true)]
async fn a_run_does_not_retry_a_throttled_account_sooner() {
    let server = new_server();
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    server.fault(FaultPoint::Select, 1, FaultKind::Throttle(None));
    let start = tokio::time::Instant::now();
    let error = retriever(&store, &server)
        .retrieve(&account("a", |_| {}))
        .await
        .unwrap_err();
    // Its retries may wait 1 ms + 2 ms: far less than a minute, so no retry at all.
    assert!(start.elapsed() < Duration::from_secs(1));
    let Error::Backend { source, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(source.kind(), ErrorKind::Throttled);
    assert!(error.to_string().contains("at least 60 s"), "{error}");
    assert!(stored_numbers(&store, "a").is_empty());
    // The next run gets in.
    let report = retriever(&store, &server)
        .retrieve(&account("a", |_| {}))
        .await
        .unwrap();
    assert_eq!(report.fetched, 2);
}
