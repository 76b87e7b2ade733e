//! The subscription watchdog, against the in-memory fake (time paused): an IDLE that never
//! ends, whatever the backend does, is a lost connection after the renewal interval plus
//! twice the timeout; the mail that arrived meanwhile is caught up once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use inbound_retrieve::{SubscriptionState, Subscriptions};
use tokio::time::Instant;

type States = Arc<Mutex<Vec<(Instant, SubscriptionState)>>>;

async fn until(what: &str, cond: impl Fn() -> bool) {
    let limit = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_that_never_ends_is_lost_after_the_renewal_plus_twice_the_timeout() {
    let server = new_server();
    server.deliver("INBOX", mail(1));
    // The first IDLE hangs: no answer, no end, deaf to the time limit and to new mail.
    server.fault(FaultPoint::Idle, 1, FaultKind::Hang);
    let store = new_store();
    let states: States = Arc::default();
    let recorded = states.clone();
    let subs = Subscriptions::new(retriever(&store, &server)).on_state(move |_, s| {
        recorded.lock().unwrap().push((Instant::now(), s.clone()));
    });
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    subs.subscribe(
        account("w", |c| {
            c.idle_renew_secs = Some(10);
            c.timeout_secs = Some(5);
        }),
        move |m| {
            seen2
                .lock()
                .unwrap()
                .push(m.email.subject.clone().unwrap_or_default());
        },
    )
    .unwrap();
    until("subscribed", || !states.lock().unwrap().is_empty()).await;
    let subscribed = states.lock().unwrap()[0].0;
    server.deliver("INBOX", mail(2));
    until("resumed", || {
        states
            .lock()
            .unwrap()
            .iter()
            .any(|(_, s)| matches!(s, SubscriptionState::Resumed { .. }))
    })
    .await;
    let got: Vec<(Instant, SubscriptionState)> = states.lock().unwrap().clone();
    let names: Vec<&str> = got.iter().map(|(_, s)| s.name()).collect();
    assert_eq!(
        names,
        [
            "subscribed",
            "lost",
            "reconnecting",
            "reconnected",
            "resumed"
        ]
    );
    // Declared lost by the watchdog at 10 s + 2 x 5 s, not before.
    let lost_after = got[1].0 - subscribed;
    assert!(
        lost_after >= Duration::from_secs(20) && lost_after < Duration::from_secs(21),
        "{lost_after:?}"
    );
    match &got[1].1 {
        SubscriptionState::ConnectionLost { error } => {
            assert!(error.contains("IDLE did not end within 20 s"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[4].1, SubscriptionState::Resumed { caught_up: 1 });
    subs.unsubscribe_all().await;
    assert_eq!(*seen.lock().unwrap(), ["message 1", "message 2"]);
    assert_eq!(stored_numbers(&store, "w"), [1, 2]);
}
