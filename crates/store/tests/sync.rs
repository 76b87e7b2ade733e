//! Sync state and pending server actions: the exactly-once bookkeeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use inbound_store::{
    Error, ImapFolderState, MessageFilter, NewMessage, PendingAction, ServerRef, Store,
};

fn imap(uidvalidity: u32, uid: u32) -> ServerRef {
    ServerRef::Imap { uidvalidity, uid }
}

#[test]
fn imap_state_advances_with_each_stored_message() {
    let mut store = Store::open_in_memory(None).unwrap();
    assert_eq!(store.imap_state("a", "INBOX").unwrap(), None);
    let email = common::numbered(1);
    for uid in [3, 7, 5] {
        store
            .insert_message(&NewMessage::new("a", "INBOX", &imap(10, uid), &email))
            .unwrap();
    }
    assert_eq!(
        store.imap_state("a", "INBOX").unwrap(),
        Some(ImapFolderState {
            uidvalidity: 10,
            highest_uid: 7
        })
    );
    assert_eq!(store.imap_state("a", "Other").unwrap(), None);
    assert_eq!(store.imap_state("b", "INBOX").unwrap(), None);

    // An explicit state (a first sync that skips old mail).
    store
        .set_imap_state(
            "a",
            "Other",
            ImapFolderState {
                uidvalidity: 3,
                highest_uid: 1000,
            },
        )
        .unwrap();
    assert_eq!(
        store.imap_state("a", "Other").unwrap(),
        Some(ImapFolderState {
            uidvalidity: 3,
            highest_uid: 1000
        })
    );
}

#[test]
fn uidvalidity_change_keeps_messages_and_abandons_stale_actions() {
    let mut store = Store::open_in_memory(None).unwrap();
    let email = common::numbered(2);
    let old = store
        .insert_message(
            &NewMessage::new("a", "INBOX", &imap(10, 4), &email)
                .with_action(Some(&PendingAction::Delete)),
        )
        .unwrap()
        .id;
    let other_folder = store
        .insert_message(
            &NewMessage::new("a", "Work", &imap(10, 4), &email)
                .with_action(Some(&PendingAction::Delete)),
        )
        .unwrap()
        .id;

    assert_eq!(store.reset_imap_state("a", "INBOX", 11).unwrap(), 1);
    assert_eq!(
        store.imap_state("a", "INBOX").unwrap(),
        Some(ImapFolderState {
            uidvalidity: 11,
            highest_uid: 0
        })
    );
    // The message is kept; its delete can no longer be sent by UID.
    assert!(store.get_message(old).unwrap().is_some());
    let pending = store.pending_actions("a").unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message, other_folder);
    let abandoned = store.abandoned_actions("a").unwrap();
    assert_eq!(abandoned.len(), 1);
    assert_eq!(abandoned[0].message, old);
    assert!(
        abandoned[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("UIDVALIDITY")
    );

    // A message stored under a stale UIDVALIDITY does not move the new state.
    store
        .insert_message(&NewMessage::new("a", "INBOX", &imap(10, 99), &email))
        .unwrap();
    assert_eq!(
        store.imap_state("a", "INBOX").unwrap().unwrap().highest_uid,
        0
    );
    store
        .insert_message(&NewMessage::new("a", "INBOX", &imap(11, 1), &email))
        .unwrap();
    assert_eq!(
        store.imap_state("a", "INBOX").unwrap(),
        Some(ImapFolderState {
            uidvalidity: 11,
            highest_uid: 1
        })
    );
    assert_eq!(
        store.count_messages(&MessageFilter::account("a")).unwrap(),
        4
    );
}

#[test]
fn pop3_uidls_seen_marked_and_pruned() {
    let mut store = Store::open_in_memory(None).unwrap();
    let email = common::numbered(3);
    for uidl in ["u1", "u2"] {
        let r = ServerRef::Pop3 { uidl: uidl.into() };
        store
            .insert_message(&NewMessage::new("p", "INBOX", &r, &email))
            .unwrap();
    }
    store.mark_pop3_seen("p", ["u3", "u1"]).unwrap();
    store.mark_pop3_seen("q", ["x"]).unwrap();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(
        store.pop3_seen_uidls("p").unwrap(),
        set(&["u1", "u2", "u3"])
    );
    assert_eq!(store.pop3_seen_uidls("q").unwrap(), set(&["x"]));
    assert!(store.pop3_seen_uidls("nobody").unwrap().is_empty());

    assert_eq!(
        store.retain_pop3_uidls("p", &set(&["u2", "u9"])).unwrap(),
        2
    );
    assert_eq!(store.pop3_seen_uidls("p").unwrap(), set(&["u2"]));
    assert_eq!(store.pop3_seen_uidls("q").unwrap(), set(&["x"]));
    // Forgetting a UIDL does not forget the stored message.
    assert!(
        store
            .is_stored("p", "INBOX", &ServerRef::Pop3 { uidl: "u1".into() })
            .unwrap()
    );
}

#[test]
fn pending_actions_lifecycle() {
    let mut store =
        Store::open_in_memory(Some(inbound_store::EncryptionKey::generate().unwrap())).unwrap();
    let email = common::numbered(4);
    let move_to = PendingAction::MoveTo("Archive/2024".into());
    let r1 = imap(1, 1);
    let r2 = ServerRef::Pop3 { uidl: "abc".into() };
    let m1 = store
        .insert_message(&NewMessage::new("a", "INBOX", &r1, &email).with_action(Some(&move_to)))
        .unwrap()
        .id;
    let m2 = store
        .insert_message(
            &NewMessage::new("a", "INBOX", &r2, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap()
        .id;
    store
        .insert_message(
            &NewMessage::new("b", "INBOX", &r1, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();

    let pending = store.pending_actions("a").unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        (
            pending[0].message,
            &pending[0].server_ref,
            &pending[0].action,
            pending[0].folder.as_str()
        ),
        (m1, &r1, &move_to, "INBOX")
    );
    assert_eq!(
        (
            pending[1].message,
            &pending[1].server_ref,
            &pending[1].action
        ),
        (m2, &r2, &PendingAction::Delete)
    );
    assert_eq!(pending[0].attempts, 0);
    assert_eq!(pending[0].last_error, None);

    store
        .fail_action(pending[0].id, "connection reset")
        .unwrap();
    store.fail_action(pending[0].id, "timeout").unwrap();
    let again = store.pending_actions("a").unwrap();
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("timeout"));

    store.complete_action(pending[1].id).unwrap();
    assert!(matches!(
        store.complete_action(pending[1].id),
        Err(Error::NoSuchAction(id)) if id == pending[1].id
    ));
    assert!(matches!(
        store.fail_action(424242, "x"),
        Err(Error::NoSuchAction(424242))
    ));
    store.abandon_action(pending[0].id, "folder gone").unwrap();
    assert!(store.pending_actions("a").unwrap().is_empty());
    assert_eq!(store.abandoned_actions("a").unwrap().len(), 1);
    assert_eq!(store.pending_actions("b").unwrap().len(), 1);

    // Storing the same message again with its action re-records it only if none is pending.
    store
        .insert_message(
            &NewMessage::new("a", "INBOX", &r2, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();
    assert_eq!(store.pending_actions("a").unwrap().len(), 1);
    store
        .insert_message(
            &NewMessage::new("a", "INBOX", &r2, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();
    assert_eq!(store.pending_actions("a").unwrap().len(), 1);

    // Removing the account drops its sync state and actions but keeps its mail.
    store.save_account("a", "{}", &[]).unwrap();
    assert!(store.remove_account("a").unwrap());
    assert!(store.pending_actions("a").unwrap().is_empty());
    assert!(store.abandoned_actions("a").unwrap().is_empty());
    assert!(store.imap_state("a", "INBOX").unwrap().is_none());
    assert!(store.pop3_seen_uidls("a").unwrap().is_empty());
    assert_eq!(
        store.count_messages(&MessageFilter::account("a")).unwrap(),
        2
    );
    assert_eq!(store.pending_actions("b").unwrap().len(), 1);
    store.integrity_check().unwrap();
}

#[test]
fn failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut store = Store::open(&path, None).unwrap();
    // Make some writes fail halfway, from inside SQLite, the way a full disk would.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER poison_message BEFORE INSERT ON messages WHEN NEW.subject = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned message'); END;
         CREATE TRIGGER poison_raw BEFORE INSERT ON message_raw
         WHEN (SELECT subject FROM messages WHERE id = NEW.message_id) = 'late'
         BEGIN SELECT RAISE(ABORT, 'poisoned raw message'); END;",
    )
    .unwrap();
    drop(raw);

    let good = common::numbered(6);
    let mut poison = common::numbered(7);
    poison.subject = Some("poison".into());
    let (r1, r2) = (imap(1, 1), imap(1, 2));
    // A batch is all or nothing.
    let items = [
        NewMessage::new("a", "INBOX", &r1, &good).with_action(Some(&PendingAction::Delete)),
        NewMessage::new("a", "INBOX", &r2, &poison),
    ];
    assert!(store.insert_messages(&items).is_err());
    // One message whose raw bytes fail after its row was written: the row goes too.
    let late =
        inbound_message::Email::parse(&b"Subject: late\r\nX-Poison: yes\r\n\r\nbody\r\n"[..]);
    assert!(
        store
            .insert_message(
                &NewMessage::new("a", "INBOX", &r1, &late)
                    .with_action(Some(&PendingAction::Delete))
            )
            .is_err()
    );

    assert_eq!(store.count_messages(&MessageFilter::default()).unwrap(), 0);
    assert!(store.imap_state("a", "INBOX").unwrap().is_none());
    assert!(store.pending_actions("a").unwrap().is_empty());
    let raw = rusqlite::Connection::open(&path).unwrap();
    for table in ["messages", "message_raw", "pending_actions"] {
        let n: i64 = raw
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    // The store is still usable.
    let id = store
        .insert_message(&NewMessage::new("a", "INBOX", &r1, &good))
        .unwrap()
        .id;
    assert_eq!(store.get_message(id).unwrap().unwrap().email, good);
}

#[test]
fn complete_actions_removes_a_batch_and_skips_done_ones() {
    let mut store = Store::open_in_memory(None).unwrap();
    for uid in 1..=4 {
        let email = common::numbered(uid);
        store
            .insert_message(
                &NewMessage::new("a", "INBOX", &imap(1, uid), &email)
                    .with_action(Some(&PendingAction::Delete)),
            )
            .unwrap();
    }
    let pending = store.pending_actions("a").unwrap();
    assert_eq!(pending.len(), 4);
    store.complete_action(pending[0].id).unwrap();
    // One already done, two to do, one unknown id: only the two pending ones count.
    let removed = store
        .complete_actions(&[pending[0].id, pending[1].id, pending[2].id, 9_999])
        .unwrap();
    assert_eq!(removed, 2);
    let left: Vec<i64> = store
        .pending_actions("a")
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, [pending[3].id]);
    assert_eq!(store.complete_actions(&[]).unwrap(), 0);
}
