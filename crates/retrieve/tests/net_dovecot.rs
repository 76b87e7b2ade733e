//! `NetConnector` against a real Dovecot: fetch, move, delete, replicate-all over TLS,
//! and a subscription that sees a `doveadm save` delivery. Skipped (with a printed reason)
//! without Dovecot; failing instead when `INBOUND_REQUIRE_DOVECOT=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::time::{Duration, Instant};

use inbound_net::Security;
use inbound_retrieve::{MailProtocol, NoEvents, SubscriptionState, Subscriptions};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use net_support::*;

fn start(users: &[&str]) -> Option<Dovecot> {
    if !Dovecot::skip_unless_available("net_dovecot").unwrap() {
        return None;
    }
    let mut config = DovecotConfig::default();
    for u in users {
        config = config.with_user(u, PASSWORD);
    }
    Some(Dovecot::start(config).unwrap())
}

fn save(d: &Dovecot, user: &str, folder: &str, range: std::ops::RangeInclusive<u32>) {
    for i in range {
        d.save(user, folder, &mail(i)).unwrap();
    }
}

/// How many messages a Dovecot folder holds.
fn count(d: &Dovecot, user: &str, folder: &str) -> usize {
    d.doveadm(&["search", "-u", user, "mailbox", folder, "ALL"], None)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn dovecot_account(
    d: &Dovecot,
    protocol: MailProtocol,
    user: &str,
    edit: impl FnOnce(&mut inbound_retrieve::AccountConfig),
) -> inbound_retrieve::Account {
    let (addr, port) = match protocol {
        MailProtocol::Imap => (d.imap_addr(), d.imaps_addr().port()),
        MailProtocol::Pop3 => (d.pop3_addr(), d.pop3s_addr().port()),
    };
    account(protocol, addr, user, |c| {
        tls(c, Security::Tls, port, d.ca_file());
        edit(c);
    })
}

#[tokio::test]
async fn fetch_move_delete_and_replicate_all() {
    let Some(d) = start(&["keep", "mover", "deleter", "popper"]) else {
        return;
    };
    let store = new_store();
    let r = retriever(&store, 2);

    // Replicate-all in batches, keeping everything on the server; a second run finds
    // nothing new.
    save(&d, "keep", "INBOX", 1..=7);
    let acc = dovecot_account(&d, MailProtocol::Imap, "keep", |c| c.batch_size = Some(3));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(report.fetched, 7);
    assert_eq!(stored_numbers(&store, "keep"), (1..=7).collect::<Vec<_>>());
    assert_eq!(count(&d, "keep", "INBOX"), 7);
    save(&d, "keep", "INBOX", 8..=8);
    let again = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(again.fetched, 1);

    // Move (Dovecot has MOVE), creating the target.
    save(&d, "mover", "INBOX", 1..=4);
    let acc = dovecot_account(&d, MailProtocol::Imap, "mover", |c| {
        move_after(c, "Archive");
    });
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(report.moved, 4);
    assert_eq!(count(&d, "mover", "INBOX"), 0);
    assert_eq!(count(&d, "mover", "Archive"), 4);
    assert_eq!(stored_numbers(&store, "mover"), [1, 2, 3, 4]);

    // Delete over IMAP, then over POP3 (applied at QUIT).
    save(&d, "deleter", "INBOX", 1..=3);
    let acc = dovecot_account(&d, MailProtocol::Imap, "deleter", delete_after);
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(report.deleted, 3);
    assert_eq!(count(&d, "deleter", "INBOX"), 0);

    save(&d, "popper", "INBOX", 1..=5);
    let acc = dovecot_account(&d, MailProtocol::Pop3, "popper", |c| {
        c.batch_size = Some(2);
        delete_after(c);
    });
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(report.deleted, 5);
    assert_eq!(count(&d, "popper", "INBOX"), 0);
    assert_eq!(stored_numbers(&store, "popper"), [1, 2, 3, 4, 5]);
    assert_eq!(pending_count(&store, "popper"), 0);
}

#[tokio::test]
async fn subscription_sees_a_doveadm_save() {
    let Some(d) = start(&["watcher"]) else {
        return;
    };
    let store = new_store();
    let (state_tx, mut states) = tokio::sync::mpsc::unbounded_channel();
    let subs = Subscriptions::new(retriever(&store, 1)).on_state(move |_, s| {
        let _ = state_tx.send(s.clone());
    });
    let (tx, mut mail_rx) = tokio::sync::mpsc::unbounded_channel();
    let acc = dovecot_account(&d, MailProtocol::Imap, "watcher", |_| {});
    subs.subscribe(acc, move |m| {
        let _ = tx.send(m.email.subject.clone().unwrap_or_default());
    })
    .unwrap();
    let subscribed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = states.recv().await {
            if s == SubscriptionState::Subscribed {
                return;
            }
        }
    })
    .await;
    assert!(subscribed.is_ok(), "not subscribed; log:\n{}", d.log());
    // Let IDLE start before the delivery.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    save(&d, "watcher", "INBOX", 1..=1);
    let got = tokio::time::timeout(Duration::from_secs(5), mail_rx.recv())
        .await
        .expect("the delivery was not seen within 5 s")
        .unwrap();
    assert_eq!(got, "message 1");
    eprintln!("doveadm save seen after {:?}", start.elapsed());
    subs.unsubscribe_all().await;
    assert_eq!(stored_numbers(&store, "watcher"), [1]);
}
