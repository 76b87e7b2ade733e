//! Servers that throttle (Gmail's "Too many simultaneous connections", Microsoft 365's
//! "Request is throttled. Suggested Backoff Time", POP3 `[IN-USE]`), against the test
//! server: the answers are recognised, subscriptions and runs wait as told before the next
//! connection (seen in the server's own record of when each connection started), and a
//! throttled mailbox is not given up on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::time::Duration;

use inbound_net::Credentials;
use inbound_net::backoff::{BackoffConfig, Jitter};
use inbound_retrieve::{
    Connector, Error, ErrorKind, MailProtocol, NetConnector, Retriever, SubscriptionState,
    Subscriptions,
};
use inbound_test_server::faults::{FaultPlan, Faults, ThrottleAnswer};
use inbound_test_server::server::TestServer;
use net_support::*;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The next `sessions` logins get `answer`.
fn throttle(server: &TestServer, answer: ThrottleAnswer, sessions: u32) {
    server.faults().push_plan(FaultPlan::new(
        Faults {
            login_throttle: Some(answer),
            ..Faults::default()
        },
        sessions,
    ));
}

/// The gaps between the starts of the server's connections.
fn gaps(server: &TestServer) -> Vec<Duration> {
    server
        .faults()
        .session_starts()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect()
}

/// The next state that is not `ConnectionLost`.
async fn next_state(rx: &mut UnboundedReceiver<SubscriptionState>) -> SubscriptionState {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await.expect("state channel closed") {
                SubscriptionState::ConnectionLost { .. } => {}
                other => return other,
            }
        }
    })
    .await
    .expect("no state within 10 s")
}

fn password(user: &str) -> Credentials {
    Credentials::password(user, PASSWORD)
}

#[tokio::test]
async fn every_throttling_answer_is_recognised_at_login() {
    let server = server(&["t"]).await;
    let connector = NetConnector::new();
    let creds = password("t");
    let imap = imap(&server, "t", |_| {});
    let pop3 = pop3(&server, "t", |_| {});
    let cases = [
        (MailProtocol::Imap, ThrottleAnswer::GmailBye, None),
        (MailProtocol::Imap, ThrottleAnswer::GmailNo, None),
        (
            MailProtocol::Imap,
            ThrottleAnswer::M365Backoff { millis: 12345 },
            Some(Duration::from_millis(12345)),
        ),
        (MailProtocol::Imap, ThrottleAnswer::M365NotConnected, None),
        (MailProtocol::Imap, ThrottleAnswer::InUse, None),
        (MailProtocol::Pop3, ThrottleAnswer::GmailBye, None),
        (MailProtocol::Pop3, ThrottleAnswer::GmailNo, None),
        (
            MailProtocol::Pop3,
            ThrottleAnswer::M365Backoff { millis: u64::MAX },
            Some(Duration::from_secs(3600)),
        ),
        (MailProtocol::Pop3, ThrottleAnswer::M365NotConnected, None),
        (MailProtocol::Pop3, ThrottleAnswer::InUse, None),
    ];
    for (protocol, answer, hint) in cases {
        throttle(&server, answer, 1);
        let error = match protocol {
            MailProtocol::Imap => connector.connect_imap(&imap, &creds).await.map(drop),
            MailProtocol::Pop3 => connector.connect_pop3(&pop3, &creds).await.map(drop),
        }
        .unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::Throttled,
            "{protocol} {answer:?}: {error}"
        );
        assert_eq!(error.retry_after(), hint, "{protocol} {answer:?}: {error}");
        assert!(error.is_connection_error());
        assert!(
            error.to_string().starts_with("server is throttling: "),
            "{error}"
        );
    }
    // Then the server lets us in again.
    connector.connect_imap(&imap, &creds).await.unwrap();
}

#[tokio::test]
async fn a_subscription_waits_for_the_server_s_hint_and_is_not_given_up() {
    let server = server(&["sub"]).await;
    // Two throttled connections, each hinting 1.5 s.
    throttle(&server, ThrottleAnswer::M365Backoff { millis: 1500 }, 2);
    let store = new_store();
    // One ordinary retry at most: throttling must not count towards it.
    let mut options = options(1);
    options.backoff.max_attempts = Some(1);
    let retriever = Retriever::new(store.clone(), NetConnector::new()).with_options(options);
    let (tx, mut states) = unbounded_channel();
    let subs = Subscriptions::new(retriever).on_state(move |_, s| {
        let _ = tx.send(s.clone());
    });
    let (mail_tx, mut mail_rx) = unbounded_channel();
    subs.subscribe(imap(&server, "sub", |_| {}), move |m| {
        let _ = mail_tx.send(m.email.subject.clone().unwrap_or_default());
    })
    .unwrap();

    let throttled = SubscriptionState::Throttled {
        delay: Duration::from_millis(1500),
        hint: true,
    };
    assert_eq!(next_state(&mut states).await, throttled);
    assert_eq!(next_state(&mut states).await, throttled);
    assert_eq!(next_state(&mut states).await, SubscriptionState::Subscribed);
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 2, "three connections: {gaps:?}");
    for gap in gaps {
        assert!(
            gap >= Duration::from_millis(1500),
            "reconnected after {gap:?}"
        );
    }
    // And the subscription works.
    deliver(&server, "sub", "INBOX", 1..=1);
    let got = tokio::time::timeout(Duration::from_secs(5), mail_rx.recv())
        .await
        .expect("no mail within 5 s")
        .unwrap();
    assert_eq!(got, "message 1");
    subs.unsubscribe_all().await;
}

#[tokio::test]
async fn a_pop3_poll_answered_in_use_waits_at_least_a_minute() {
    let server = server(&["pop"]).await;
    throttle(&server, ThrottleAnswer::InUse, 1);
    let store = new_store();
    let (tx, mut states) = unbounded_channel();
    let subs = Subscriptions::new(retriever(&store, 1)).on_state(move |_, s| {
        let _ = tx.send(s.clone());
    });
    let account = pop3(&server, "pop", |c| c.poll_interval_secs = Some(1));
    subs.subscribe(account, |_| {}).unwrap();
    let lost = tokio::time::timeout(Duration::from_secs(10), states.recv())
        .await
        .unwrap()
        .unwrap();
    match lost {
        SubscriptionState::ConnectionLost { error } => {
            assert!(error.contains("[IN-USE]"), "{error}");
        }
        other => panic!("expected ConnectionLost, got {other:?}"),
    }
    match next_state(&mut states).await {
        SubscriptionState::Throttled { delay, hint } => {
            assert!(!hint);
            assert!(
                (Duration::from_secs(60)..=Duration::from_secs(90)).contains(&delay),
                "{delay:?}"
            );
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    // Not the ordinary 5 ms backoff: no new connection for now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.faults().sessions(), 1);
    // The wait ends at once when the subscription is stopped.
    tokio::time::timeout(Duration::from_secs(5), subs.unsubscribe_all())
        .await
        .expect("unsubscribing took more than 5 s");
}

/// A retriever whose runs may wait 1 s + 2 s between their three attempts.
fn patient_retriever(store: &inbound_retrieve::SharedStore) -> Retriever<NetConnector> {
    let mut options = options(3);
    options.backoff = BackoffConfig {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(300),
        max_attempts: Some(10),
        jitter: Jitter::Full,
    };
    Retriever::new(store.clone(), NetConnector::new()).with_options(options)
}

#[tokio::test]
async fn a_run_waits_a_short_hint_and_succeeds() {
    let server = server(&["run"]).await;
    deliver(&server, "run", "INBOX", 1..=2);
    throttle(&server, ThrottleAnswer::M365Backoff { millis: 1500 }, 1);
    let store = new_store();
    let report = patient_retriever(&store)
        .retrieve(&imap(&server, "run", |_| {}))
        .await
        .unwrap();
    assert_eq!(report.fetched, 2);
    assert!(
        report.errors[0].contains("server is throttling"),
        "{:?}",
        report.errors
    );
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(
        gaps[0] >= Duration::from_millis(1500),
        "retried after {:?}",
        gaps[0]
    );
}

#[tokio::test]
async fn a_run_gives_up_at_once_when_the_wait_is_longer_than_its_retries() {
    let server = server(&["run"]).await;
    deliver(&server, "run", "INBOX", 1..=2);
    let store = new_store();
    for answer in [
        ThrottleAnswer::M365Backoff { millis: 600_000 },
        ThrottleAnswer::GmailNo,
    ] {
        let before = server.faults().sessions();
        throttle(&server, answer, 1);
        let started = std::time::Instant::now();
        let error = patient_retriever(&store)
            .retrieve(&imap(&server, "run", |_| {}))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1), "{answer:?}");
        let Error::Backend { source, report, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(source.kind(), ErrorKind::Throttled, "{source}");
        let text = error.to_string();
        assert!(text.contains("server is throttling"), "{text}");
        assert!(text.contains("try again later"), "{text}");
        assert_eq!(report.fetched, 0);
        // One connection, no retry.
        assert_eq!(server.faults().sessions(), before + 1, "{answer:?}");
    }
    assert!(stored_numbers(&store, "run").is_empty());
}
