//! The fleet's lease protocol on PostgreSQL (a throwaway cluster: see `pg_cluster`): claims
//! never overlap, expiry and epochs come from the database, and a worker that lost an
//! account can neither store for it nor be allowed to act on its server.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_cluster;

use std::collections::HashSet;
use std::time::Duration;

use inbound_message::Email;
use inbound_store::lease::{LeaseState, LeaseStore, LeaseUpdate, WorkerInfo};
use inbound_store::{
    Error, MessageFilter, NewMessage, PgConfig, PgLeases, PgStore, Secret, ServerRef, StoreBackend,
};

fn open(db: &pg_cluster::TestDb) -> (PgStore, PgLeases) {
    let store = PgStore::open(&PgConfig::new(Secret::new(db.url())), None).unwrap();
    let leases = store.leases().unwrap();
    (store, leases)
}

fn info(pid: u32) -> WorkerInfo {
    WorkerInfo {
        host: "test-host".into(),
        pid,
        capacity: 100,
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("acct{i:02}")).collect()
}

fn store_one(store: &mut PgStore, account: &str, uid: u32) -> Result<(), Error> {
    let email = Email::parse(format!("Subject: m{uid}\r\n\r\nbody {uid}\r\n"));
    let r = ServerRef::Imap {
        uidvalidity: 1,
        uid,
    };
    store
        .insert_message(&NewMessage::new(account, "INBOX", &r, &email))
        .map(|_| ())
}

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn two_workers_claim_disjoint_accounts_and_each_account_once() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let (_s1, l1) = open(&db);
    let (_s2, l2) = open(&db);
    let accounts = names(20);
    assert_eq!(l1.ensure_accounts(&accounts).await.unwrap(), 20);
    assert_eq!(l2.ensure_accounts(&accounts).await.unwrap(), 0);
    let w1 = l1.join(&info(1)).await.unwrap();
    let w2 = l2.join(&info(2)).await.unwrap();
    let (a, b) = tokio::join!(
        l1.claim(w1, &accounts, 12, LONG),
        l2.claim(w2, &accounts, 12, LONG)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let a_names: HashSet<_> = a.iter().map(|l| l.account.clone()).collect();
    let b_names: HashSet<_> = b.iter().map(|l| l.account.clone()).collect();
    assert!(a_names.is_disjoint(&b_names), "{a_names:?} and {b_names:?}");
    assert!(a.len() <= 12 && b.len() <= 12);
    // Whatever one claim skipped (locked by the other), a second round takes.
    let more = l1.claim(w1, &accounts, 20, LONG).await.unwrap();
    let more2 = l2.claim(w2, &accounts, 20, LONG).await.unwrap();
    assert_eq!(a.len() + b.len() + more.len() + more2.len(), 20);
    assert!(a.iter().chain(&b).all(|l| l.epoch == 1));
    // Held accounts are not claimed again.
    assert!(l2.claim(w2, &accounts, 20, LONG).await.unwrap().is_empty());
    let census = l1.census(LONG).await.unwrap();
    assert_eq!((census.live_workers, census.accounts), (2, 20));
    assert_eq!(census.fair_share(), 10);
}

#[tokio::test]
async fn an_expired_lease_moves_with_a_higher_epoch_and_fences_the_old_owner() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let (mut s1, l1) = open(&db);
    let (mut s2, l2) = open(&db);
    let accounts = names(1);
    l1.ensure_accounts(&accounts).await.unwrap();
    let w1 = l1.join(&info(1)).await.unwrap();
    let w2 = l2.join(&info(2)).await.unwrap();
    let got = l1.claim(w1, &accounts, 1, LONG).await.unwrap();
    assert_eq!(got[0].epoch, 1);
    store_one(&mut s1, "acct00", 1).unwrap();
    assert!(l2.claim(w2, &accounts, 1, LONG).await.unwrap().is_empty());

    // The lease runs out on the database's clock (as if worker 1 was paused): worker 1's
    // local validity is still fine, yet the database refuses its writes once worker 2 took
    // over with epoch 2.
    db.psql("UPDATE fleet_leases SET expires_at = now() - interval '1 second'");
    let taken = l2.claim(w2, &accounts, 1, LONG).await.unwrap();
    assert_eq!(taken[0].epoch, 2);
    let err = store_one(&mut s1, "acct00", 2).unwrap_err();
    assert!(
        matches!(&err, Error::Fenced { why, .. } if why.contains("epoch 2")),
        "{err}"
    );
    assert!(matches!(
        s1.check_fence("acct00"),
        Err(Error::Fenced { .. })
    ));
    // The old owner's renewal gives it nothing back and drops the fence.
    assert!(l1.renew(w1, LONG).await.unwrap().is_empty());
    assert!(matches!(
        s1.check_fence("acct00"),
        Err(Error::Fenced { .. })
    ));
    // The new owner stores; the account holds exactly what both stored in their turn.
    store_one(&mut s2, "acct00", 2).unwrap();
    s2.check_fence("acct00").unwrap();
    assert_eq!(
        s2.count_messages(&MessageFilter::account("acct00"))
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_lease_not_renewed_in_two_thirds_of_its_time_fences_its_own_worker() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let (mut s1, l1) = open(&db);
    let accounts = names(1);
    l1.ensure_accounts(&accounts).await.unwrap();
    let w1 = l1.join(&info(1)).await.unwrap();
    let lease = Duration::from_millis(900);
    l1.claim(w1, &accounts, 1, lease).await.unwrap();
    store_one(&mut s1, "acct00", 1).unwrap();
    tokio::time::sleep(Duration::from_millis(650)).await;
    let err = store_one(&mut s1, "acct00", 2).unwrap_err();
    assert!(err.to_string().contains("self-fenced"), "{err}");
    // An account it never held is fenced too, once the process is a fleet worker.
    assert!(matches!(
        store_one(&mut s1, "someone-else", 1),
        Err(Error::Fenced { .. })
    ));
    // A store that never joined a fleet is not fenced at all.
    let mut plain = PgStore::open(&PgConfig::new(Secret::new(db.url())), None).unwrap();
    store_one(&mut plain, "someone-else", 1).unwrap();
}

#[tokio::test]
async fn release_wakes_other_workers_and_status_shows_the_fleet() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let (_s1, l1) = open(&db);
    let (_s2, l2) = open(&db);
    let accounts = names(3);
    l1.ensure_accounts(&accounts).await.unwrap();
    let w1 = l1.join(&info(11)).await.unwrap();
    let w2 = l2.join(&info(22)).await.unwrap();
    let held = l1.claim(w1, &accounts, 3, LONG).await.unwrap();
    assert_eq!(held.len(), 3);
    let update = LeaseUpdate {
        state: LeaseState::Throttled,
        event: "server is throttling".into(),
        error: Some("Too many simultaneous connections".into()),
        not_before: Some(Duration::from_secs(120)),
    };
    assert!(
        l1.update(w1, "acct01", held[1].epoch, &update)
            .await
            .unwrap()
    );
    // A stale epoch writes nothing.
    assert!(
        !l1.update(w1, "acct01", held[1].epoch - 1, &update)
            .await
            .unwrap()
    );
    let status = l2.status().await.unwrap();
    assert_eq!(status.accounts.len(), 3);
    let a1 = &status.accounts[1];
    assert_eq!(a1.owner, Some(w1));
    assert_eq!(a1.owner_host.as_deref(), Some("test-host"));
    assert_eq!(a1.state, LeaseState::Throttled);
    assert_eq!(
        a1.last_error.as_deref(),
        Some("Too many simultaneous connections")
    );
    let wait_ms = a1.not_before_ms.unwrap() - status.now_ms;
    assert!((110_000..=121_000).contains(&wait_ms), "{wait_ms}");
    let me = status.workers.iter().find(|w| w.id == w1).unwrap();
    assert_eq!((me.pid, me.accounts_held), (11, 3));

    // Worker 2 waits; worker 1 releases; worker 2 wakes well before its timeout and takes
    // the accounts, the throttled one last and with the remaining wait.
    let waiter = tokio::spawn({
        let l2 = l2.clone();
        async move { l2.wait_for_change(Duration::from_secs(20)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(l1.leave(w1).await.unwrap(), 3);
    assert!(
        waiter.await.unwrap().unwrap(),
        "the release woke the waiter"
    );
    let taken = l2.claim(w2, &accounts, 3, LONG).await.unwrap();
    assert_eq!(taken.len(), 3);
    assert_eq!(taken[2].account, "acct01");
    assert!(taken[2].wait > Duration::from_secs(100));
    assert!(taken[..2].iter().all(|l| l.wait.is_zero()));
    let status = l2.status().await.unwrap();
    let gone = status.workers.iter().find(|w| w.id == w1).unwrap();
    assert!(gone.stopped_at_ms.is_some());
    assert_eq!(gone.accounts_held, 0);
}
