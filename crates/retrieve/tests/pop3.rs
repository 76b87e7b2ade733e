//! POP3 retrieval against the in-memory fake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use inbound_retrieve::account::{AfterReceiveName, FetchName, SizeValue};
use inbound_retrieve::{FetchPolicy, NoEvents};

#[tokio::test]
async fn strategies_at_the_edges() {
    for n in [0u32, 1, 3, 4, 7] {
        for (fetch, count) in [
            (FetchName::All, None),
            (FetchName::Latest, Some(2)),
            (FetchName::Oldest, Some(2)),
        ] {
            let server = new_server();
            for i in 1..=n {
                server.deliver_pop3(mail(i));
            }
            let store = new_store();
            let acc = pop3_account("p", |c| {
                c.fetch = Some(fetch);
                c.count = count;
                c.batch_size = Some(3);
            });
            let r = retriever(&store, &server);
            let mut rec = Recorder::default();
            let rep = r.retrieve_with_events(&acc, &mut rec).await.unwrap();
            let all: Vec<u32> = (1..=n).collect();
            let expected = match acc.fetch {
                FetchPolicy::All => all.clone(),
                FetchPolicy::Latest(k) => all[all.len().saturating_sub(k as usize)..].to_vec(),
                FetchPolicy::Oldest(k) => all[..all.len().min(k as usize)].to_vec(),
            };
            let ctx = format!("n={n} {fetch:?}");
            assert_eq!(stored_numbers(&store, "p"), expected, "{ctx}");
            assert_eq!(rep.fetched, expected.len() as u64, "{ctx}");
            assert_eq!(rec.batches.len(), expected.len().div_ceil(3), "{ctx}");
            assert_eq!(pop3_numbers(&server), all, "{ctx}: keep leaves the mail");

            // Second run: nothing already stored; `latest` passed over the older ones.
            let again = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
            let next = match acc.fetch {
                FetchPolicy::Oldest(k) => all.len().min(2 * k as usize) - expected.len(),
                _ => 0,
            };
            assert_eq!(again.fetched, next as u64, "{ctx} second run");
        }
    }
}

#[tokio::test]
async fn delete_takes_effect_at_quit_only() {
    let server = new_server();
    for i in 1..6 {
        server.deliver_pop3(mail(i));
    }
    let store = new_store();
    let acc = pop3_account("p", |c| {
        c.after_receive = Some(AfterReceiveName::Delete);
        c.batch_size = Some(2);
    });
    let r = retriever(&store, &server);
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(rep.deleted, 5);
    assert!(pop3_numbers(&server).is_empty());
    assert_eq!(stored_numbers(&store, "p"), [1, 2, 3, 4, 5]);
    assert_eq!(pending_count(&store, "p"), 0);
    assert!(server.log().contains(&"QUIT deleted 5".to_owned()));

    // A connection dropped before QUIT deletes nothing; the next run re-sends the DELEs.
    for i in 6..9 {
        server.deliver_pop3(mail(i));
    }
    for _ in 0..3 {
        server.fault(FaultPoint::QuitBefore, 1, FaultKind::Drop);
    }
    assert!(r.retrieve_with_events(&acc, &mut NoEvents).await.is_err());
    assert_eq!(pop3_numbers(&server), [6, 7, 8]);
    assert_eq!(pending_count(&store, "p"), 3);
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!((rep.fetched, rep.recovered_actions, rep.deleted), (0, 3, 3));
    assert!(pop3_numbers(&server).is_empty());
    assert_eq!(pending_count(&store, "p"), 0);
}

#[tokio::test]
async fn too_large_messages_are_listed_not_retrieved() {
    let server = new_server();
    server.deliver_pop3(mail(1));
    let big = server.deliver_pop3(big_mail(2, 10_000));
    let store = new_store();
    let acc = pop3_account("p", |c| {
        c.max_message_size = Some(SizeValue::Text("4k".into()));
        c.after_receive = Some(AfterReceiveName::Delete);
    });
    let rep = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(rep.skipped_too_large.len(), 1);
    assert_eq!(rep.skipped_too_large[0].id, format!("uidl:{big}"));
    assert_eq!(pop3_numbers(&server), [2]);
    assert_eq!(stored_numbers(&store, "p"), [1]);
}

#[tokio::test]
async fn a_server_without_uidl_is_refused_clearly() {
    let server = new_server();
    server.set_pop3_uidl(false);
    server.deliver_pop3(mail(1));
    let store = new_store();
    let acc = pop3_account("p", |_| {});
    let err = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UIDL"), "{err}");
    assert_eq!(stored_numbers(&store, "p"), Vec::<u32>::new());
}

/// A batch larger than the store's flush size is retrieved and stored in several parts, in
/// order, and reported as one batch; deletions still wait for QUIT.
#[tokio::test]
async fn batch_beyond_the_flush_size_is_stored_in_parts() {
    let server = new_server();
    for i in 1..6 {
        server.deliver_pop3(big_mail(i, 3 * 1024 * 1024));
    }
    let store = new_store();
    let acc = pop3_account("p", |c| {
        c.after_receive = Some(AfterReceiveName::Delete);
        c.sanitize_html = Some(false);
        c.batch_size = Some(10);
    });
    let r = retriever(&store, &server);
    let mut rec = Recorder::default();
    let rep = r.retrieve_with_events(&acc, &mut rec).await.unwrap();
    assert_eq!((rep.fetched, rep.deleted), (5, 5));
    assert_eq!(stored_numbers(&store, "p"), [1, 2, 3, 4, 5]);
    assert_eq!(rec.batches.len(), 1, "{:?}", rec.batches);
    assert_eq!(rec.batches[0].stored, 5);
    assert!(rec.batches[0].bytes > 15 * 1024 * 1024);
    assert!(pop3_numbers(&server).is_empty());
    assert_eq!(pending_count(&store, "p"), 0);
}
