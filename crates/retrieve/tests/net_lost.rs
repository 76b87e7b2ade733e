//! No mail lost or deleted without being stored, against the in-process test server: reused
//! POP3 UIDLs, IMAP UIDs asked for and not delivered (refused, left out, `BODY[] NIL`,
//! partial, short), per-message failures that do not stop a batch, the hard size limit, and
//! `EXPUNGE` without UIDPLUS next to another client's `\Deleted` messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use inbound_retrieve::account::FetchName;
use inbound_retrieve::{NoEvents, Report};
use inbound_test_server::faults::{
    CommandFault, FaultPlan, Faults, MessageFault, MessageFaultKind, Refusal,
};
use inbound_test_server::mailstore::{Flag, FlagOp, FlagSet};
use inbound_test_server::server::{ServerConfig, TestServer};
use net_support::*;

fn faults(message_faults: &[(u32, MessageFaultKind)]) -> Faults {
    Faults {
        message_faults: message_faults
            .iter()
            .map(|&(uid, kind)| MessageFault::new(uid, kind))
            .collect(),
        ..Faults::default()
    }
}

fn not_delivered_ids(report: &Report) -> Vec<&str> {
    report.not_delivered.iter().map(|n| n.id.as_str()).collect()
}

/// Marks (or unmarks) messages `\Deleted` as another client would.
fn other_client_flags(server: &TestServer, user: &str, uids: &[u32], op: FlagOp) {
    let mut view = server.store().select(user, "INBOX").unwrap();
    let deleted: FlagSet = [Flag::Deleted].into_iter().collect();
    view.store_flags(uids, op, &deleted).unwrap();
}

/// The UIDs in a server folder marked `\Deleted`.
fn flagged_deleted(server: &TestServer, user: &str) -> Vec<u32> {
    server
        .store()
        .messages(user, "INBOX")
        .unwrap()
        .iter()
        .filter(|m| m.flags.contains(&Flag::Deleted))
        .map(|m| m.uid)
        .collect()
}

// Item 1: a POP3 server that reuses a UIDL for a new message.

#[tokio::test]
async fn pop3_a_reused_uidl_is_fetched_and_stored_before_its_dele() {
    let server = server(&["reuse"]).await;
    server.faults().set_default(Faults {
        pop3_uidl_by_number: true,
        ..Faults::default()
    });
    let store = new_store();
    let acc = pop3(&server, "reuse", delete_after);
    let r = retriever(&store, 1);

    deliver(&server, "reuse", "INBOX", 1..=1);
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "reuse"), [1]);
    assert!(server_numbers(&server, "reuse", "INBOX").is_empty());

    // The next message gets UIDL "1" again.
    deliver(&server, "reuse", "INBOX", 2..=2);
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "reuse"), [1, 2], "{report:?}");
    assert_eq!(report.fetched, 1);
    assert_eq!(report.deleted, 1);
    assert!(server_numbers(&server, "reuse", "INBOX").is_empty());
}

#[tokio::test]
async fn pop3_a_leftover_dele_is_not_sent_when_the_uidl_names_another_message() {
    let server = server(&["leftover"]).await;
    server.faults().set_default(Faults {
        pop3_uidl_by_number: true,
        ..Faults::default()
    });
    let store = new_store();
    let acc = pop3(&server, "leftover", delete_after);
    let r = retriever(&store, 1);

    // The first run stores message 1 but its QUIT fails: the DELE is left pending.
    deliver(&server, "leftover", "INBOX", 1..=1);
    server.faults().push_plan(FaultPlan::new(
        Faults {
            pop3_uidl_by_number: true,
            command_faults: vec![CommandFault {
                command: "QUIT".to_owned(),
                refusal: Refusal::No,
                text: None,
                times: None,
            }],
            ..Faults::default()
        },
        1,
    ));
    assert!(r.retrieve_with_events(&acc, &mut NoEvents).await.is_err());
    assert_eq!(stored_numbers(&store, "leftover"), [1]);
    assert_eq!(pending_count(&store, "leftover"), 1);

    // Meanwhile message 1 goes (another client) and message 2 takes its UIDL.
    other_client_flags(&server, "leftover", &[1], FlagOp::Add);
    server
        .store()
        .select("leftover", "INBOX")
        .unwrap()
        .expunge(None)
        .unwrap();
    deliver(&server, "leftover", "INBOX", 2..=2);

    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    // Message 2 was not deleted in place of message 1: it was stored, then deleted.
    assert_eq!(stored_numbers(&store, "leftover"), [1, 2], "{report:?}");
    assert!(server_numbers(&server, "leftover", "INBOX").is_empty());
    let st = store.lock().unwrap();
    assert!(st.pending_actions("leftover").unwrap().is_empty());
    let abandoned = st.abandoned_actions("leftover").unwrap();
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    assert!(
        abandoned[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("names another message"),
        "{abandoned:?}"
    );
}

// Items 2 and 3: IMAP UIDs asked for and not delivered whole.

#[tokio::test]
async fn imap_uids_refused_or_left_out_are_retried_next_run_and_never_deleted() {
    let server = server(&["refused"]).await;
    deliver(&server, "refused", "INBOX", 1..=5);
    let store = new_store();
    let acc = imap(&server, "refused", delete_after);
    let r = retriever(&store, 1);

    server.faults().set_default(faults(&[
        (2, MessageFaultKind::Refused),
        (4, MessageFaultKind::LeftOut),
    ]));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "refused"), [1, 3, 5]);
    assert_eq!(not_delivered_ids(&report), ["uid:2", "uid:4"]);
    assert!(
        report.not_delivered[0]
            .reason
            .contains("could not be FETCHed"),
        "{report:?}"
    );
    assert_eq!(report.deleted, 3);
    // Asked for and not stored: still on the server.
    assert_eq!(server_numbers(&server, "refused", "INBOX"), [2, 4]);

    // Still refused: asked for again, still kept.
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(not_delivered_ids(&report), ["uid:2", "uid:4"]);
    assert_eq!(server_numbers(&server, "refused", "INBOX"), [2, 4]);

    // The server delivers them now: below the highest UID, they are fetched all the same.
    server.faults().clear();
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "refused"), [1, 2, 3, 4, 5]);
    assert!(report.not_delivered.is_empty(), "{report:?}");
    assert_eq!(report.fetched, 2);
    assert!(server_numbers(&server, "refused", "INBOX").is_empty());
    let st = store.lock().unwrap();
    assert!(
        st.imap_retry("refused", "INBOX", report.uidvalidity.unwrap())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn imap_nil_partial_or_short_bodies_are_not_stored_or_acted_on() {
    let server = server(&["short"]).await;
    deliver(&server, "short", "INBOX", 1..=4);
    let store = new_store();
    let acc = imap(&server, "short", |c| move_after(c, "Archive"));
    let r = retriever(&store, 1);

    server.faults().set_default(faults(&[
        (1, MessageFaultKind::NilBody),
        (2, MessageFaultKind::PartialBody),
        (3, MessageFaultKind::Truncated(20)),
    ]));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "short"), [4]);
    assert_eq!(not_delivered_ids(&report), ["uid:1", "uid:2", "uid:3"]);
    assert!(
        report.not_delivered[0].reason.contains("empty body"),
        "{report:?}"
    );
    assert!(
        report.not_delivered[2].reason.contains("RFC822.SIZE"),
        "{report:?}"
    );
    assert_eq!(server_numbers(&server, "short", "INBOX"), [1, 2, 3]);
    assert_eq!(server_numbers(&server, "short", "Archive"), [4]);

    server.faults().clear();
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(report.not_delivered.is_empty(), "{report:?}");
    assert_eq!(stored_numbers(&store, "short"), [1, 2, 3, 4]);
    assert_eq!(server_numbers(&server, "short", "Archive"), [1, 2, 3, 4]);
}

// Item 4: one message's failure is that message's.

#[tokio::test]
async fn over_the_hard_limit_is_skipped_from_the_announced_size() {
    let server = server(&["huge-imap", "huge-pop3"]).await;
    server.faults().set_default(faults(&[(
        2,
        MessageFaultKind::ClaimedSize(300 * 1024 * 1024),
    )]));
    let store = new_store();
    let r = retriever(&store, 1);
    for (user, acc) in [
        ("huge-imap", imap(&server, "huge-imap", |_| {})),
        ("huge-pop3", pop3(&server, "huge-pop3", |_| {})),
    ] {
        deliver(&server, user, "INBOX", 1..=3);
        // No max_message_size: the 256 MiB hard limit applies.
        assert_eq!(acc.max_message_size, None);
        let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
        assert_eq!(stored_numbers(&store, user), [1, 3], "{user}");
        assert_eq!(report.skipped_too_large.len(), 1, "{user}: {report:?}");
        assert_eq!(report.skipped_too_large[0].size, 300 * 1024 * 1024);
    }
}

#[tokio::test]
async fn pop3_a_refused_or_empty_message_does_not_stop_the_batch_or_its_deletes() {
    let server = server(&["retr"]).await;
    deliver(&server, "retr", "INBOX", 1..=4);
    let store = new_store();
    let acc = pop3(&server, "retr", delete_after);
    let r = retriever(&store, 1);

    server.faults().set_default(faults(&[
        (2, MessageFaultKind::Refused),
        (3, MessageFaultKind::NilBody),
    ]));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "retr"), [1, 4]);
    assert_eq!(report.not_delivered.len(), 2, "{report:?}");
    assert!(report.not_delivered[0].reason.contains("could not be read"));
    // The session ended with QUIT: the deletes of 1 and 4 are done.
    assert_eq!(report.deleted, 2);
    assert_eq!(server_numbers(&server, "retr", "INBOX"), [2, 3]);
    assert_eq!(pending_count(&store, "retr"), 0);

    server.faults().clear();
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(report.not_delivered.is_empty(), "{report:?}");
    assert_eq!(stored_numbers(&store, "retr"), [1, 2, 3, 4]);
    assert!(server_numbers(&server, "retr", "INBOX").is_empty());
}

#[tokio::test]
async fn imap_an_unparsable_answer_for_one_message_does_not_stop_the_batch() {
    let server = server(&["garbled"]).await;
    deliver(&server, "garbled", "INBOX", 1..=3);
    let store = new_store();
    let acc = imap(&server, "garbled", delete_after);
    let r = retriever(&store, 1);

    server
        .faults()
        .set_default(faults(&[(2, MessageFaultKind::Garbled)]));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "garbled"), [1, 3]);
    assert_eq!(not_delivered_ids(&report), ["uid:2"], "{report:?}");
    assert!(
        report.not_delivered[0]
            .reason
            .contains("could not be parsed"),
        "{report:?}"
    );
    // The reason quotes nothing the server sent.
    assert!(
        !report.not_delivered[0].reason.contains("GARBLED"),
        "{report:?}"
    );
    assert_eq!(report.deleted, 2);
    assert_eq!(server_numbers(&server, "garbled", "INBOX"), [2]);

    server.faults().clear();
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "garbled"), [1, 2, 3]);
    assert!(server_numbers(&server, "garbled", "INBOX").is_empty());
}

#[tokio::test]
async fn pop3_a_message_not_delivered_is_asked_for_again_whatever_the_policy() {
    let server = server(&["latest"]).await;
    deliver(&server, "latest", "INBOX", 1..=3);
    let store = new_store();
    let acc = pop3(&server, "latest", |c| {
        set_fetch(c, FetchName::Latest, Some(2));
    });
    let r = retriever(&store, 1);

    server
        .faults()
        .set_default(faults(&[(3, MessageFaultKind::Refused)]));
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "latest"), [2]);
    assert_eq!(report.not_delivered.len(), 1, "{report:?}");

    // Two newer messages arrive: `latest 2` selects them, and message 3, asked for before,
    // is asked for again rather than passed over.
    deliver(&server, "latest", "INBOX", 4..=5);
    server.faults().clear();
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "latest"), [2, 3, 4, 5], "{report:?}");
    assert!(report.not_delivered.is_empty());
    assert!(
        store
            .lock()
            .unwrap()
            .pop3_retry("latest")
            .unwrap()
            .is_empty()
    );
}

// Item 5: EXPUNGE without UIDPLUS.

async fn server_without(user: &str, hidden: &[&str]) -> TestServer {
    let mut config = ServerConfig::default()
        .seed_sample(false)
        .user(user, PASSWORD);
    for capability in hidden {
        config = config.hide_capability(capability);
    }
    TestServer::start(config).await.unwrap()
}

#[tokio::test]
async fn imap_delete_without_uidplus_never_expunges_another_clients_deleted_mail() {
    let server = server_without("expunge", &["UIDPLUS"]).await;
    deliver(&server, "expunge", "INBOX", 1..=3);
    // Another client marked message 1 \Deleted; Inbound is asked for the latest two only.
    other_client_flags(&server, "expunge", &[1], FlagOp::Add);
    let store = new_store();
    let acc = imap(&server, "expunge", |c| {
        delete_after(c);
        set_fetch(c, FetchName::Latest, Some(2));
    });
    let r = retriever(&store, 1);

    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "expunge"), [2, 3]);
    assert_eq!(server_numbers(&server, "expunge", "INBOX"), [1, 2, 3]);
    assert_eq!(flagged_deleted(&server, "expunge"), [1, 2, 3]);
    assert_eq!(report.deleted, 0);
    assert!(
        report.errors.iter().any(|e| e.contains("not expunged")),
        "{report:?}"
    );
    assert_eq!(pending_count(&store, "expunge"), 2);

    // The other client changes its mind: the next run expunges ours, and only ours.
    other_client_flags(&server, "expunge", &[1], FlagOp::Remove);
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(server_numbers(&server, "expunge", "INBOX"), [1]);
    assert_eq!(report.recovered_actions, 2, "{report:?}");
    assert_eq!(pending_count(&store, "expunge"), 0);
}

#[tokio::test]
async fn imap_move_without_move_or_uidplus_keeps_others_and_never_copies_twice() {
    let server = server_without("copy", &["UIDPLUS", "MOVE"]).await;
    deliver(&server, "copy", "INBOX", 1..=3);
    other_client_flags(&server, "copy", &[1], FlagOp::Add);
    let store = new_store();
    let acc = imap(&server, "copy", |c| {
        move_after(c, "Archive");
        set_fetch(c, FetchName::Latest, Some(2));
    });
    let r = retriever(&store, 1);

    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(server_numbers(&server, "copy", "INBOX"), [1, 2, 3]);
    assert_eq!(server_numbers(&server, "copy", "Archive"), [2, 3]);
    assert!(
        report.errors.iter().any(|e| e.contains("not expunged")),
        "{report:?}"
    );
    assert_eq!(pending_count(&store, "copy"), 2);

    // A run while message 1 is still marked: nothing is expunged, nothing copied again.
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(server_numbers(&server, "copy", "Archive"), [2, 3]);
    assert_eq!(server_numbers(&server, "copy", "INBOX"), [1, 2, 3]);

    other_client_flags(&server, "copy", &[1], FlagOp::Remove);
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(server_numbers(&server, "copy", "INBOX"), [1]);
    assert_eq!(server_numbers(&server, "copy", "Archive"), [2, 3]);
    assert_eq!(pending_count(&store, "copy"), 0);
}
