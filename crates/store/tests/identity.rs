//! A server ref is not proof of identity: a reused POP3 UIDL names another message, and IMAP
//! UIDs asked for but not delivered stay recorded until stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use inbound_store::{
    ImapFolderState, MessageFilter, NewMessage, PendingAction, RETRY_PENDING_REASON, ServerRef,
    Store, raw_sha256,
};

fn pop3(uidl: &str) -> ServerRef {
    ServerRef::Pop3 {
        uidl: uidl.to_owned(),
    }
}

#[test]
fn a_reused_uidl_with_other_bytes_is_stored_as_a_new_message() {
    let mut store = Store::open_in_memory(None).unwrap();
    let first = common::numbered(1);
    let second = common::numbered(2);
    let r = pop3("1");
    let delete = PendingAction::Delete;

    let a = store
        .insert_message(&NewMessage::new("a", "INBOX", &r, &first).with_action(Some(&delete)))
        .unwrap();
    assert!(a.created);
    // The server deleted the first message at QUIT; the action is done.
    let pending = store.pending_actions("a").unwrap();
    store.complete_action(pending[0].id).unwrap();

    // A rebuilt server hands out UIDL "1" again, for another message.
    let b = store
        .insert_message(&NewMessage::new("a", "INBOX", &r, &second).with_action(Some(&delete)))
        .unwrap();
    assert!(b.created, "the second message was taken for the first one");
    assert_ne!(a.id, b.id);
    assert_eq!(
        store.count_messages(&MessageFilter::account("a")).unwrap(),
        2
    );
    // The pending DELE is for the bytes just stored.
    let pending = store.pending_actions("a").unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message, b.id);
    assert_eq!(
        store.message_sha256(b.id).unwrap(),
        Some(raw_sha256(&second.raw))
    );

    // The same bytes again under the same UIDL: already stored, nothing added.
    let again = store
        .insert_message(&NewMessage::new("a", "INBOX", &r, &second))
        .unwrap();
    assert_eq!((again.id, again.created), (b.id, false));
}

#[test]
fn imap_uids_expected_stay_until_stored_and_go_with_the_uidvalidity() {
    let mut store = Store::open_in_memory(None).unwrap();
    store.expect_imap_uids("a", "INBOX", 7, &[4, 5, 6]).unwrap();
    let email = common::numbered(4);
    for uid in [4, 6] {
        store
            .insert_message(&NewMessage::new(
                "a",
                "INBOX",
                &ServerRef::Imap {
                    uidvalidity: 7,
                    uid,
                },
                &email,
            ))
            .unwrap();
    }
    // The highest UID passed 5, which was not stored: it is still to be asked for.
    assert_eq!(
        store.imap_state("a", "INBOX").unwrap().unwrap().highest_uid,
        6
    );
    let left = store.imap_retry("a", "INBOX", 7).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].uid, left[0].attempts), (5, 0));
    assert_eq!(left[0].reason, RETRY_PENDING_REASON);

    store
        .fail_imap_uids("a", "INBOX", 7, &[(5, "the server answered NO".to_owned())])
        .unwrap();
    store.expect_imap_uids("a", "INBOX", 7, &[5]).unwrap();
    let left = store.imap_retry("a", "INBOX", 7).unwrap();
    assert_eq!(
        (left[0].attempts, left[0].reason.as_str()),
        (1, "the server answered NO")
    );
    assert!(store.imap_retry("a", "Other", 7).unwrap().is_empty());

    // A new UIDVALIDITY: the old UIDs name nothing any more.
    store
        .set_imap_state(
            "a",
            "INBOX",
            ImapFolderState {
                uidvalidity: 8,
                highest_uid: 0,
            },
        )
        .unwrap();
    assert!(store.imap_retry("a", "INBOX", 7).unwrap().is_empty());

    store.expect_imap_uids("a", "INBOX", 8, &[1, 2]).unwrap();
    store.forget_imap_uids("a", "INBOX", 8, &[1]).unwrap();
    let left: Vec<u32> = store
        .imap_retry("a", "INBOX", 8)
        .unwrap()
        .iter()
        .map(|r| r.uid)
        .collect();
    assert_eq!(left, [2]);
}
