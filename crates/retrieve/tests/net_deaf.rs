//! Subscriptions never go silently deaf: a connection that falls silent without a FIN or
//! RST (the test server's blackhole fault, or a blackholing relay in front of Dovecot) is
//! declared lost at the next IDLE renewal, reconnected, and the mail that arrived
//! meanwhile is reported once; a slow but timely `DONE` is not a loss; TCP keepalive is on
//! every mail socket with the account's settings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::time::{Duration, Instant};

use inbound_net::{Credentials, Security};
use inbound_retrieve::{
    Account, AccountConfig, Connector, MailProtocol, NetConnector, SubscriptionState, Subscriptions,
};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use inbound_test_server::faults::{Blackhole, FaultPlan, Faults, Hold, SlowAnswer};
use inbound_test_server::relay::BlackholeRelay;
use inbound_test_server::server::{ServerConfig, TestServer};
use inbound_test_server::transcript::TranscriptCapture;
use net_support::*;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The test settings: renew IDLE every 2 s, answers within 1 s.
fn quick(c: &mut AccountConfig) {
    c.idle_renew_secs = Some(2);
    c.timeout_secs = Some(1);
}

struct Watch {
    subs: Subscriptions<NetConnector>,
    states: UnboundedReceiver<SubscriptionState>,
    mail: UnboundedReceiver<String>,
}

fn watch(store: &inbound_retrieve::SharedStore, account: Account) -> Watch {
    let (state_tx, states) = unbounded_channel();
    let subs = Subscriptions::new(retriever(store, 1)).on_state(move |_, s| {
        let _ = state_tx.send(s.clone());
    });
    let (tx, mail) = unbounded_channel();
    subs.subscribe(account, move |m| {
        let _ = tx.send(m.email.subject.clone().unwrap_or_default());
    })
    .unwrap();
    Watch { subs, states, mail }
}

impl Watch {
    /// The next state, within `limit`.
    async fn next_state(&mut self, limit: Duration) -> SubscriptionState {
        tokio::time::timeout(limit, self.states.recv())
            .await
            .unwrap_or_else(|_| panic!("no state change within {limit:?}"))
            .unwrap()
    }

    /// The next message's subject, within `limit`.
    async fn next_mail(&mut self, limit: Duration) -> String {
        tokio::time::timeout(limit, self.mail.recv())
            .await
            .unwrap_or_else(|_| panic!("no message within {limit:?}"))
            .unwrap()
    }

    /// Every state reported so far.
    fn states_so_far(&mut self) -> Vec<SubscriptionState> {
        let mut all = Vec::new();
        while let Ok(s) = self.states.try_recv() {
            all.push(s);
        }
        all
    }
}

/// The states after a loss, in order: lost, reconnecting, reconnected, resumed (with the
/// number caught up).
async fn expect_recovery(w: &mut Watch, limit: Duration, caught_up: u64) {
    let lost = w.next_state(limit).await;
    match &lost {
        SubscriptionState::ConnectionLost { error } => {
            assert!(!error.is_empty());
            assert!(
                lost.to_string().starts_with("connection to server lost: "),
                "{lost}"
            );
        }
        other => panic!("expected ConnectionLost, got {other:?}"),
    }
    match w.next_state(Duration::from_secs(1)).await {
        SubscriptionState::Reconnecting { attempt, delay } => {
            assert_eq!(attempt, 1);
            assert!(delay <= Duration::from_millis(50), "{delay:?}");
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    assert_eq!(
        w.next_state(Duration::from_secs(3)).await,
        SubscriptionState::Reconnected
    );
    assert_eq!(
        w.next_state(Duration::from_secs(1)).await,
        SubscriptionState::Resumed { caught_up }
    );
}

#[tokio::test]
async fn a_blackholed_idle_is_lost_and_the_mail_meanwhile_is_reported_once_within_5_s() {
    let server = server(&["deaf"]).await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            blackhole: Some(Blackhole::AfterIdleAccepted),
            ..Faults::default()
        },
        1,
    ));
    let store = new_store();
    let mut w = watch(&store, imap(&server, "deaf", quick));
    assert_eq!(
        w.next_state(Duration::from_secs(5)).await,
        SubscriptionState::Subscribed
    );
    // IDLE is accepted, then the session falls silent; a message arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered = Instant::now();
    server.store().deliver("deaf", "INBOX", mail(1)).unwrap();

    assert_eq!(w.next_mail(Duration::from_secs(5)).await, "message 1");
    let took = delivered.elapsed();
    eprintln!("delivered during the blackhole, reported after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    expect_recovery(&mut w, Duration::from_secs(1), 1).await;

    // IDLE resumed: the next delivery is seen at once, on the same connection.
    server.store().deliver("deaf", "INBOX", mail(2)).unwrap();
    let start = Instant::now();
    assert_eq!(w.next_mail(Duration::from_secs(1)).await, "message 2");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(server.faults().sessions(), 2);
    w.subs.unsubscribe_all().await;
    // Exactly once, and nothing reported twice.
    assert_eq!(stored_numbers(&store, "deaf"), [1, 2]);
    assert!(w.mail.try_recv().is_err());
}

#[tokio::test]
async fn a_blackhole_after_n_bytes_is_lost_and_caught_up_too() {
    let server = server(&["bytes"]).await;
    // The greeting and the login's answers get through; the connection falls silent
    // somewhere in the first sync.
    server.faults().push_plan(FaultPlan::new(
        Faults {
            blackhole: Some(Blackhole::AfterBytes(400)),
            ..Faults::default()
        },
        1,
    ));
    deliver(&server, "bytes", "INBOX", 1..=2);
    let store = new_store();
    let mut w = watch(&store, imap(&server, "bytes", quick));
    // The first connection never gets through its catch-up: the second one does.
    let lost = w.next_state(Duration::from_secs(5)).await;
    assert!(
        matches!(lost, SubscriptionState::ConnectionLost { .. }),
        "{lost:?}"
    );
    assert!(matches!(
        w.next_state(Duration::from_secs(1)).await,
        SubscriptionState::Reconnecting { attempt: 1, .. }
    ));
    assert_eq!(
        w.next_state(Duration::from_secs(5)).await,
        SubscriptionState::Subscribed
    );
    let mut got = vec![
        w.next_mail(Duration::from_secs(1)).await,
        w.next_mail(Duration::from_secs(1)).await,
    ];
    got.sort();
    assert_eq!(got, ["message 1", "message 2"]);
    w.subs.unsubscribe_all().await;
    assert_eq!(stored_numbers(&store, "bytes"), [1, 2]);
}

#[tokio::test]
async fn a_done_answered_slowly_but_within_the_timeout_is_not_a_loss() {
    let transcript = TranscriptCapture::new();
    let server = TestServer::start(
        ServerConfig::default()
            .seed_sample(false)
            .user("slow", PASSWORD)
            .transcript(transcript.clone()),
    )
    .await
    .unwrap();
    server.faults().set_default(Faults {
        slow_answers: vec![SlowAnswer::named(
            "DONE",
            Hold::For(Duration::from_millis(500)),
        )],
        ..Faults::default()
    });
    let store = new_store();
    let mut w = watch(
        &store,
        imap(&server, "slow", |c| {
            c.idle_renew_secs = Some(1);
            c.timeout_secs = Some(1);
        }),
    );
    assert_eq!(
        w.next_state(Duration::from_secs(5)).await,
        SubscriptionState::Subscribed
    );
    // Three renewals, each DONE answered after half the timeout.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    server.store().deliver("slow", "INBOX", mail(1)).unwrap();
    assert_eq!(w.next_mail(Duration::from_secs(3)).await, "message 1");
    assert_eq!(w.states_so_far(), []);
    assert_eq!(server.faults().sessions(), 1, "no reconnect");
    // IDLE was renewed (DONE answered late each time) on the one connection.
    let text = transcript.text();
    let renewals = text.lines().filter(|l| l.trim_end() == "C: DONE").count();
    assert!(renewals >= 3, "{renewals} renewals:\n{text}");
    w.subs.unsubscribe_all().await;
}

#[tokio::test]
async fn a_done_never_answered_is_a_loss_within_the_renewal_plus_the_timeout() {
    let server = server(&["mute"]).await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            slow_answers: vec![SlowAnswer::named("DONE", Hold::Forever)],
            ..Faults::default()
        },
        1,
    ));
    let store = new_store();
    let mut w = watch(&store, imap(&server, "mute", quick));
    assert_eq!(
        w.next_state(Duration::from_secs(5)).await,
        SubscriptionState::Subscribed
    );
    let start = Instant::now();
    // Renewal at 2 s, no answer to DONE within 1 s.
    expect_recovery(&mut w, Duration::from_secs(4), 0).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
    server.store().deliver("mute", "INBOX", mail(1)).unwrap();
    assert_eq!(w.next_mail(Duration::from_secs(1)).await, "message 1");
    w.subs.unsubscribe_all().await;
}

/// Reads TCP keepalive back from a socket: (idle, interval, probes), or `None` when off.
#[cfg(target_os = "linux")]
fn keepalive_of(stream: &inbound_net::MailStream) -> Option<(Duration, Duration, u32)> {
    let sock = socket2::SockRef::from(stream.tcp());
    if !sock.keepalive().unwrap() {
        return None;
    }
    Some((
        sock.tcp_keepalive_time().unwrap(),
        sock.tcp_keepalive_interval().unwrap(),
        sock.tcp_keepalive_retries().unwrap(),
    ))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn every_mail_socket_has_the_accounts_tcp_keepalive() {
    let server = server(&["ka"]).await;
    let creds = Credentials::password("ka", PASSWORD);
    let connector = NetConnector::new();
    let ca = server.ca_file().to_path_buf();
    let settings = |c: &mut AccountConfig| {
        c.tcp_keepalive_secs = Some(30);
        c.tcp_keepalive_interval_secs = Some(5);
        c.tcp_keepalive_probes = Some(4);
    };
    let wanted = Some((Duration::from_secs(30), Duration::from_secs(5), 4));
    let defaults = Some((Duration::from_secs(60), Duration::from_secs(10), 3));

    // IMAP: plain, implicit TLS, STARTTLS; the defaults; turned off.
    for (security, port) in [
        (Security::Plaintext, server.imap_addr().port()),
        (Security::Tls, server.imaps_addr().port()),
        (Security::StartTls, server.imap_addr().port()),
    ] {
        let acc = imap(&server, "ka", |c| {
            tls(c, security, port, &ca);
            if security == Security::Plaintext {
                c.ca_file = None;
            }
            settings(c);
        });
        let mut s = connector.connect_imap(&acc, &creds).await.unwrap();
        assert_eq!(
            keepalive_of(s.client().mail_stream()),
            wanted,
            "{security:?}"
        );
    }
    let acc = imap(&server, "ka", |_| {});
    let mut s = connector.connect_imap(&acc, &creds).await.unwrap();
    assert_eq!(keepalive_of(s.client().mail_stream()), defaults);
    let acc = imap(&server, "ka", |c| c.tcp_keepalive_secs = Some(0));
    let mut s = connector.connect_imap(&acc, &creds).await.unwrap();
    assert_eq!(keepalive_of(s.client().mail_stream()), None);

    // POP3: plain, implicit TLS, STLS.
    for (security, port) in [
        (Security::Plaintext, server.pop3_addr().port()),
        (Security::Tls, server.pop3s_addr().port()),
        (Security::StartTls, server.pop3_addr().port()),
    ] {
        let acc = pop3(&server, "ka", |c| {
            tls(c, security, port, &ca);
            if security == Security::Plaintext {
                c.ca_file = None;
            }
            settings(c);
        });
        let mut s = connector.connect_pop3(&acc, &creds).await.unwrap();
        assert_eq!(
            keepalive_of(s.client().mail_stream()),
            wanted,
            "{security:?}"
        );
    }
}

#[tokio::test]
async fn dovecot_through_a_blackholing_relay_reports_the_mail_within_5_s_once() {
    if !Dovecot::skip_unless_available("net_deaf").unwrap() {
        return;
    }
    let d = Dovecot::start(DovecotConfig::default().with_user("relayed", PASSWORD)).unwrap();
    let relay = BlackholeRelay::start(d.imaps_addr()).await.unwrap();
    let store = new_store();
    let acc = account(MailProtocol::Imap, relay.addr(), "relayed", |c| {
        tls(c, Security::Tls, relay.addr().port(), d.ca_file());
        quick(c);
    });
    let mut w = watch(&store, acc);
    let subscribed = tokio::time::timeout(Duration::from_secs(10), w.states.recv()).await;
    assert_eq!(
        subscribed.ok().flatten(),
        Some(SubscriptionState::Subscribed),
        "log:\n{}",
        d.log()
    );
    // Let IDLE start, then the relay goes silent and a message is delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let silent = Instant::now();
    relay.blackhole();
    d.save("relayed", "INBOX", &mail(1)).unwrap();

    assert_eq!(w.next_mail(Duration::from_secs(5)).await, "message 1");
    let took = silent.elapsed();
    eprintln!(
        "MEASURE relay silent -> message reported: {took:?} \
         (idle_renew_secs = 2, timeout_secs = 1, Dovecot over TLS)"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    expect_recovery(&mut w, Duration::from_secs(1), 1).await;
    assert_eq!(relay.connections(), 2);

    // IDLE resumed through the relay.
    d.save("relayed", "INBOX", &mail(2)).unwrap();
    assert_eq!(w.next_mail(Duration::from_secs(3)).await, "message 2");
    w.subs.unsubscribe_all().await;
    assert_eq!(stored_numbers(&store, "relayed"), [1, 2]);
    assert!(w.mail.try_recv().is_err());
}
