//! IMAP retrieval against the in-memory fake: strategies, batches, actions, UIDVALIDITY.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use inbound_retrieve::account::{AfterReceiveName, FetchName, SizeValue};
use inbound_retrieve::{FetchPolicy, ImapCapabilities, NoEvents};
use inbound_store::MessageFilter;

fn policy(
    fetch: FetchName,
    count: Option<i64>,
    batch: i64,
) -> impl FnOnce(&mut inbound_retrieve::AccountConfig) {
    move |c| {
        c.fetch = Some(fetch);
        c.count = count;
        c.batch_size = Some(batch);
    }
}

#[tokio::test]
async fn every_strategy_at_the_edges() {
    const BATCH: u32 = 4;
    for n in [0u32, 1, BATCH, BATCH + 1, 3 * BATCH + 1] {
        for (fetch, count) in [
            (FetchName::All, None),
            (FetchName::Latest, Some(3)),
            (FetchName::Oldest, Some(3)),
            (FetchName::Latest, Some(i64::from(BATCH) + 1)),
            (FetchName::Oldest, Some(1)),
        ] {
            let server = new_server();
            server.deliver_many("INBOX", 1..n + 1);
            let store = new_store();
            let acc = account("a", policy(fetch, count, i64::from(BATCH)));
            let r = retriever(&store, &server);
            let mut rec = Recorder::default();
            let report = r.retrieve_with_events(&acc, &mut rec).await.unwrap();

            let all: Vec<u32> = (1..n + 1).collect();
            let expected: Vec<u32> = match acc.fetch {
                FetchPolicy::All => all.clone(),
                FetchPolicy::Latest(k) => all[all.len().saturating_sub(k as usize)..].to_vec(),
                FetchPolicy::Oldest(k) => all[..all.len().min(k as usize)].to_vec(),
            };
            let ctx = format!("n={n} fetch={fetch:?} count={count:?}");
            assert_eq!(stored_numbers(&store, "a"), expected, "{ctx}");
            assert_eq!(report.fetched, expected.len() as u64, "{ctx}");
            assert_eq!(rec.messages.len(), expected.len(), "{ctx}");
            assert_eq!(
                rec.batches.len(),
                expected.len().div_ceil(BATCH as usize),
                "{ctx}"
            );
            assert!(
                server.counters().max_uids_per_call <= BATCH as usize,
                "{ctx}"
            );
            assert_eq!(rec.completed, 1);
            let last = rec.progress.last().copied().unwrap_or_default();
            assert_eq!(last.messages_done, last.messages_total, "{ctx}");
            assert_eq!(last.bytes_done, last.bytes_total, "{ctx}");
            assert_eq!(last.messages_total, expected.len() as u64, "{ctx}");
            // Keep: nothing removed from the server.
            assert_eq!(server.count("INBOX"), n as usize, "{ctx}");

            // A second run fetches nothing already stored.
            let again = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
            let ctx2 = format!("{ctx} (second run)");
            match acc.fetch {
                FetchPolicy::Oldest(k) => {
                    // The next oldest slice.
                    let next = all.len().min(2 * k as usize) - expected.len();
                    assert_eq!(again.fetched, next as u64, "{ctx2}");
                }
                _ => assert_eq!(again.fetched, 0, "{ctx2}"),
            }
            assert_eq!(again.already_stored, 0, "{ctx2}");
            let stored = stored_numbers(&store, "a");
            let mut dedup = stored.clone();
            dedup.dedup();
            assert_eq!(stored, dedup, "{ctx2}: stored twice");
        }
    }
}

#[tokio::test]
async fn new_mail_only_after_first_run_and_latest_passes_over_older() {
    let server = new_server();
    server.deliver_many("INBOX", 1..11);
    let store = new_store();
    let acc = account("a", policy(FetchName::Latest, Some(2), 100));
    let r = retriever(&store, &server);
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "a"), [9, 10]);
    server.deliver_many("INBOX", 11..16);
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(rep.fetched, 2);
    assert_eq!(stored_numbers(&store, "a"), [9, 10, 14, 15]);
}

#[tokio::test]
async fn messages_over_the_maximum_are_skipped_recorded_and_never_deleted() {
    let server = new_server();
    server.deliver("INBOX", mail(1));
    server.deliver("INBOX", big_mail(2, 5000));
    server.deliver("INBOX", mail(3));
    let store = new_store();
    let acc = account("a", |c| {
        c.max_message_size = Some(SizeValue::Text("2KB".into()));
        c.after_receive = Some(AfterReceiveName::Delete);
    });
    let r = retriever(&store, &server);
    let mut rec = Recorder::default();
    let rep = r.retrieve_with_events(&acc, &mut rec).await.unwrap();
    assert_eq!(stored_numbers(&store, "a"), [1, 3]);
    assert_eq!(rep.skipped_too_large.len(), 1);
    assert_eq!(rep.skipped_too_large[0].id, "uid:2");
    assert!(rep.skipped_too_large[0].size > 5000);
    assert_eq!(rec.skipped.len(), 1);
    // The big one was never downloaded and is still on the server.
    assert!(rep.bytes < 2000);
    assert_eq!(server_numbers(&server, "INBOX"), [2]);
    assert_eq!(rep.deleted, 2);
    // Not re-examined on the next run.
    let again = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(again.skipped_too_large.is_empty());
}

#[tokio::test]
async fn delete_after_store() {
    let server = new_server();
    server.deliver_many("INBOX", 1..8);
    let store = new_store();
    let acc = account("a", |c| {
        c.after_receive = Some(AfterReceiveName::Delete);
        c.batch_size = Some(3);
    });
    let r = retriever(&store, &server);
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(rep.deleted, 7);
    assert_eq!(server.count("INBOX"), 0);
    assert_eq!(stored_numbers(&store, "a"), (1..8).collect::<Vec<_>>());
    assert_eq!(pending_count(&store, "a"), 0);
    let log = server.log();
    assert_eq!(log.iter().filter(|l| l.starts_with("DELETE")).count(), 3);
}

#[tokio::test]
async fn move_with_and_without_the_move_capability() {
    for has_move in [true, false] {
        let server = new_server();
        server.set_capabilities(ImapCapabilities {
            move_command: has_move,
            ..server.capabilities()
        });
        server.deliver_many("INBOX", 1..6);
        let store = new_store();
        let acc = account("a", |c| {
            c.after_receive = Some(AfterReceiveName::Move);
            c.move_to = Some("Archive".into());
            c.batch_size = Some(2);
        });
        let r = retriever(&store, &server);
        let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
        assert_eq!(rep.moved, 5, "move={has_move}");
        assert_eq!(server.count("INBOX"), 0);
        // Created when missing, once.
        assert_eq!(server_numbers(&server, "Archive"), [1, 2, 3, 4, 5]);
        let log = server.log();
        assert_eq!(log.iter().filter(|l| l.starts_with("CREATE")).count(), 1);
        if has_move {
            assert!(log.iter().any(|l| l.starts_with("MOVE")));
            assert!(!log.iter().any(|l| l.starts_with("COPY")));
        } else {
            assert!(!log.iter().any(|l| l.starts_with("MOVE")));
            assert!(log.iter().any(|l| l.starts_with("COPY")));
            assert!(log.iter().any(|l| l.starts_with("STORE+EXPUNGE")));
        }
        assert_eq!(pending_count(&store, "a"), 0);
    }
}

#[tokio::test]
async fn move_to_an_existing_folder_does_not_fail() {
    let server = new_server();
    server.create_folder("Archive");
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    let acc = account("a", |c| {
        c.after_receive = Some(AfterReceiveName::Move);
        c.move_to = Some("Archive".into());
    });
    let rep = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(rep.moved, 2);
    assert_eq!(server_numbers(&server, "Archive"), [1, 2]);
}

#[tokio::test]
async fn uidvalidity_change_rescans_without_duplicates_or_gaps() {
    let server = new_server();
    server.deliver_many("INBOX", 1..6);
    let store = new_store();
    let acc = account("a", |c| c.batch_size = Some(2));
    let r = retriever(&store, &server);
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    // The server renumbers (new UIDVALIDITY) and a new message arrives.
    server.renumber("INBOX", 2000);
    server.deliver("INBOX", mail(6));
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(rep.uidvalidity_changed);
    assert_eq!(rep.uidvalidity, Some(2000));
    assert_eq!(rep.fetched, 1);
    assert_eq!(rep.already_stored, 5);
    assert_eq!(stored_numbers(&store, "a"), [1, 2, 3, 4, 5, 6]);
    // And the run after that is incremental again.
    server.deliver("INBOX", mail(7));
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(!rep.uidvalidity_changed);
    assert_eq!((rep.fetched, rep.already_stored), (1, 0));
    assert_eq!(stored_numbers(&store, "a"), (1..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn uidvalidity_change_with_pending_delete_never_deletes_the_wrong_message() {
    let server = new_server();
    server.deliver_many("INBOX", 1..4);
    let store = new_store();
    let acc = account("a", |c| c.after_receive = Some(AfterReceiveName::Delete));
    // The delete never happens: the connection drops every time before it.
    for _ in 0..3 {
        server.fault(FaultPoint::DeleteBefore, 1, FaultKind::Drop);
    }
    let r = retriever(&store, &server);
    assert!(r.retrieve_with_events(&acc, &mut NoEvents).await.is_err());
    assert_eq!(pending_count(&store, "a"), 3);
    // Renumber so that UID 1..3 now name other messages.
    server.remove_all("INBOX");
    server.renumber("INBOX", 3000);
    server.deliver_many("INBOX", 10..13);
    server.deliver_many("INBOX", 1..4);
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(rep.uidvalidity_changed);
    // 10..12 are new; 1..3 found already stored by content; all are now deleted, and the
    // old pending actions were abandoned rather than applied to UIDs 1..3.
    assert_eq!(rep.fetched, 3);
    assert_eq!(rep.already_stored, 3);
    assert_eq!(server.count("INBOX"), 0);
    assert_eq!(stored_numbers(&store, "a"), [1, 2, 3, 10, 11, 12]);
    assert_eq!(
        store.lock().unwrap().abandoned_actions("a").unwrap().len(),
        3
    );
}

#[tokio::test]
async fn html_is_sanitized_on_read_when_asked() {
    for sanitize in [true, false] {
        let server = new_server();
        server.deliver("INBOX", mail(1));
        let store = new_store();
        let acc = account("a", |c| c.sanitize_html = Some(sanitize));
        retriever(&store, &server)
            .retrieve_with_events(&acc, &mut NoEvents)
            .await
            .unwrap();
        let st = store.lock().unwrap();
        let id = st.list_messages(&MessageFilter::account("a")).unwrap()[0].id;
        let m = st.get_message(id).unwrap().unwrap();
        if sanitize {
            assert_eq!(m.sanitize, acc.sanitize_mode());
            let html = m.sanitized_html.as_deref().unwrap();
            assert!(html.contains("Body 1"));
            assert!(!html.contains("script") && !html.contains("onclick"));
            assert_eq!(m.display_html(), Some(html));
        } else {
            assert_eq!((&m.sanitize, &m.sanitized_html), (&None, &None));
            assert_eq!(m.display_html(), m.email.html.as_deref());
        }
    }
}

#[tokio::test]
async fn replicate_all_of_a_large_folder_in_batches() {
    // 100,000 in release builds; fewer in debug builds to keep the suite quick.
    let n: u32 = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let server = new_server();
    server.deliver_many("INBOX", 1..n + 1);
    let store = new_store();
    let acc = account("a", |c| {
        c.batch_size = Some(500);
        c.sanitize_html = Some(false);
    });
    let mut rec = Recorder::default();
    let rep = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut rec)
        .await
        .unwrap();
    assert_eq!(rep.fetched, u64::from(n));
    assert_eq!(rec.batches.len(), n.div_ceil(500) as usize);
    assert!(server.counters().max_uids_per_call <= 500);
    let count = store
        .lock()
        .unwrap()
        .count_messages(&MessageFilter::account("a"))
        .unwrap();
    assert_eq!(count, u64::from(n));
}

#[tokio::test]
async fn wrong_password_fails_without_retrying() {
    let server = new_server();
    let store = new_store();
    let acc = account("a", |c| c.password = Some("nope".into()));
    let err = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert_eq!(server.counters().auth_failures, 1);
}

#[tokio::test]
async fn several_accounts_concurrently() {
    let server = new_server();
    for f in ["A", "B", "C"] {
        server.create_folder(f);
    }
    server.deliver_many("A", 1..4);
    server.deliver_many("B", 4..9);
    server.deliver_many("C", 9..10);
    let store = new_store();
    let accounts: Vec<_> = ["A", "B", "C"]
        .iter()
        .map(|f| account(&f.to_lowercase(), |c| c.folder = Some((*f).to_owned())))
        .collect();
    let results = retriever(&store, &server)
        .retrieve_all(&accounts, 2, |_| NoEvents)
        .await;
    let fetched: Vec<(String, u64)> = results
        .into_iter()
        .map(|(n, r)| (n, r.unwrap().fetched))
        .collect();
    assert_eq!(fetched, [("a".into(), 3), ("b".into(), 5), ("c".into(), 1)]);
    assert_eq!(stored_numbers(&store, "b"), [4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn report_serializes_for_json_output() {
    let server = new_server();
    server.deliver_many("INBOX", 1..3);
    let store = new_store();
    let acc = account("work", |_| {});
    let rep = retriever(&store, &server)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["account"], "work");
    assert_eq!(json["fetched"], 2);
    assert_eq!(json["deleted"], 0);
    assert!(json["errors"].as_array().unwrap().is_empty());
}
