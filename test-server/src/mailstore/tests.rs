//! Store bookkeeping across concurrent sessions.

use std::time::Duration;

use super::*;

fn store_with(user: &str, n: usize) -> MailStore {
    let store = MailStore::with_uid_validity_base(1000);
    store.add_user(user, "pw");
    for i in 0..n {
        store
            .deliver(user, "INBOX", format!("Subject: {i}\r\n\r\nbody {i}\r\n"))
            .unwrap();
    }
    store
}

fn flags(list: &[Flag]) -> FlagSet {
    list.iter().cloned().collect()
}

#[test]
fn users_folders_and_status() {
    let store = store_with("alice", 2);
    assert!(store.check_password("alice", "pw"));
    assert!(!store.check_password("alice", "PW"));
    assert!(!store.check_password("bob", "pw"));
    store.create_folder("alice", "Archive/2024/Q1").unwrap();
    assert_eq!(
        store.folders("alice").unwrap(),
        ["Archive", "Archive/2024", "Archive/2024/Q1", "INBOX"]
    );
    assert_eq!(
        store.create_folder("alice", "archive/2024"),
        Ok(()),
        "names are case-sensitive except INBOX"
    );
    assert_eq!(
        store.create_folder("alice", "inbox"),
        Err(StoreError::FolderExists("INBOX".into()))
    );
    assert!(matches!(
        store.create_folder("alice", "a//b"),
        Err(StoreError::InvalidFolderName(_))
    ));
    store.create_folder("alice", "Entwürfe ✉").unwrap();
    let status = store.status("alice", "inbox").unwrap();
    assert_eq!((status.messages, status.unseen, status.uid_next), (2, 2, 3));
    assert_eq!(status.uid_validity, 1000);
    assert_eq!(store.status("alice", "Archive").unwrap().uid_validity, 1001);
    assert_eq!(
        store.delete_folder("alice", "INBOX"),
        Err(StoreError::CannotDeleteInbox)
    );
    store.rename_folder("alice", "Archive", "Old").unwrap();
    assert!(
        store
            .folders("alice")
            .unwrap()
            .contains(&"Old/2024/Q1".to_owned())
    );
    assert!(matches!(
        store.status("alice", "Archive"),
        Err(StoreError::NoSuchFolder(_))
    ));
}

#[test]
fn recreated_folder_gets_new_uidvalidity() {
    let store = store_with("u", 0);
    store.create_folder("u", "X").unwrap();
    let first = store.status("u", "X").unwrap().uid_validity;
    store.delete_folder("u", "X").unwrap();
    store.create_folder("u", "X").unwrap();
    assert_ne!(store.status("u", "X").unwrap().uid_validity, first);
}

#[test]
fn rename_inbox_moves_messages_and_keeps_inbox() {
    let store = store_with("u", 2);
    let mut view = store.select("u", "INBOX").unwrap();
    store.rename_folder("u", "INBOX", "Saved").unwrap();
    assert_eq!(store.status("u", "INBOX").unwrap().messages, 0);
    assert_eq!(store.status("u", "Saved").unwrap().messages, 2);
    assert_eq!(
        view.poll(true),
        vec![ViewEvent::Expunge(1), ViewEvent::Expunge(1)]
    );
}

#[test]
fn delivery_is_seen_as_exists_by_every_view() {
    let store = store_with("u", 1);
    let mut a = store.select("u", "INBOX").unwrap();
    let mut b = store.examine("u", "INBOX").unwrap();
    assert_eq!(a.info().exists, 1);
    assert_eq!(a.info().first_unseen, Some(1));
    store.deliver("u", "INBOX", "Subject: x\r\n\r\n").unwrap();
    store.deliver("u", "INBOX", "Subject: y\r\n\r\n").unwrap();
    assert!(a.has_pending());
    assert_eq!(a.poll(true), vec![ViewEvent::Exists(3)]);
    assert_eq!(b.poll(false), vec![ViewEvent::Exists(3)]);
    assert!(a.poll(true).is_empty());
    assert_eq!(a.uids(), [1, 2, 3]);
}

#[test]
fn flag_changes_reach_other_views_only() {
    let store = store_with("u", 3);
    let mut a = store.select("u", "INBOX").unwrap();
    let mut b = store.select("u", "INBOX").unwrap();
    let updates = a
        .store_flags(&[2, 3, 99], FlagOp::Add, &flags(&[Flag::Seen]))
        .unwrap();
    assert_eq!(
        updates.iter().map(|u| (u.seq, u.uid)).collect::<Vec<_>>(),
        [(2, 2), (3, 3)]
    );
    assert!(updates[0].flags.contains(&Flag::Seen));
    assert!(a.poll(true).is_empty(), "the origin reports its own STORE");
    let events = b.poll(true);
    assert_eq!(events.len(), 2);
    let ViewEvent::Flags(update) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((update.seq, update.uid), (2, 2));
    assert!(update.modseq > 1);
    // An unchanged STORE tells nobody.
    a.store_flags(&[2], FlagOp::Add, &flags(&[Flag::Seen]))
        .unwrap();
    assert!(b.poll(true).is_empty());
    // Read-only views may not store.
    let mut ro = store.examine("u", "INBOX").unwrap();
    assert_eq!(
        ro.store_flags(&[1], FlagOp::Add, &flags(&[Flag::Seen])),
        Err(StoreError::ReadOnly)
    );
}

#[test]
fn expunge_numbers_are_relative_and_other_views_follow() {
    let store = store_with("u", 5);
    let mut a = store.select("u", "INBOX").unwrap();
    let mut b = store.select("u", "INBOX").unwrap();
    a.store_flags(&[2, 4, 5], FlagOp::Add, &flags(&[Flag::Deleted]))
        .unwrap();
    // UID EXPUNGE limited to 4 and 5.
    assert_eq!(a.expunge(Some(&[4, 5])).unwrap(), [4, 4]);
    assert_eq!(a.expunge(None).unwrap(), [2]);
    assert_eq!(a.uids(), [1, 3]);
    // b has flag changes and expunges queued; while a FETCH runs, expunges are held back.
    let held = b.poll(false);
    assert!(
        held.iter().all(|e| !matches!(e, ViewEvent::Expunge(_))),
        "{held:?}"
    );
    assert_eq!(b.len(), 5);
    assert!(
        b.message(2).is_none(),
        "expunged elsewhere, not yet reported"
    );
    assert!(b.message(1).is_some());
    assert!(b.has_pending());
    assert_eq!(
        b.poll(true),
        vec![
            ViewEvent::Expunge(4),
            ViewEvent::Expunge(4),
            ViewEvent::Expunge(2)
        ]
    );
    assert_eq!(b.uids(), [1, 3]);
}

#[test]
fn append_then_expunge_before_poll_reports_both_in_order() {
    let store = store_with("u", 1);
    let mut a = store.select("u", "INBOX").unwrap();
    let mut b = store.select("u", "INBOX").unwrap();
    store
        .append(
            "u",
            "INBOX",
            "x",
            flags(&[Flag::Deleted]),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(a.poll(true), vec![ViewEvent::Exists(2)]);
    assert_eq!(a.expunge(None).unwrap(), [2]);
    assert_eq!(
        b.poll(true),
        vec![ViewEvent::Exists(2), ViewEvent::Expunge(2)]
    );
}

#[test]
fn copy_and_move_keep_flags_and_report_uids() {
    let store = store_with("u", 3);
    store.create_folder("u", "Archive").unwrap();
    let mut a = store.select("u", "INBOX").unwrap();
    let mut archive = store.select("u", "Archive").unwrap();
    let mut other = store.select("u", "INBOX").unwrap();
    a.store_flags(&[1], FlagOp::Add, &flags(&[Flag::Flagged]))
        .unwrap();
    let copied = a.copy(&[1], "Archive").unwrap();
    assert_eq!(copied.uids, [(1, 1)]);
    assert_eq!(
        copied.uid_validity,
        store.status("u", "Archive").unwrap().uid_validity
    );
    let (moved, expunged) = a.move_to(&[2, 3], "Archive").unwrap();
    assert_eq!(moved.uids, [(2, 2), (3, 3)]);
    assert_eq!(expunged, [2, 2]);
    assert_eq!(archive.poll(true), vec![ViewEvent::Exists(3)]);
    assert!(archive.message(1).unwrap().flags.contains(&Flag::Flagged));
    let events = other.poll(true);
    assert_eq!(
        &events[events.len() - 2..],
        [ViewEvent::Expunge(2), ViewEvent::Expunge(2)]
    );
    assert_eq!(
        a.copy(&[1], "Nope"),
        Err(StoreError::NoSuchFolder("Nope".into()))
    );
}

#[test]
fn deleting_a_selected_folder_ends_its_views() {
    let store = store_with("u", 0);
    store.create_folder("u", "Tmp").unwrap();
    let mut view = store.select("u", "Tmp").unwrap();
    store.delete_folder("u", "Tmp").unwrap();
    assert_eq!(view.poll(true), vec![ViewEvent::FolderDeleted]);
    assert_eq!(view.expunge(None), Err(StoreError::FolderDeleted));
}

#[tokio::test]
async fn idle_view_wakes_within_milliseconds_of_a_delivery() {
    let store = store_with("u", 0);
    let mut view = store.select("u", "INBOX").unwrap();
    let deliverer = store.clone();
    let started = std::time::Instant::now();
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        deliverer
            .deliver("u", "INBOX", "Subject: now\r\n\r\n")
            .unwrap();
    });
    tokio::time::timeout(Duration::from_secs(2), view.changed())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(500), "{waited:?}");
    assert_eq!(view.poll(true), vec![ViewEvent::Exists(1)]);
    task.await.unwrap();
    // Nothing pending: changed() keeps waiting.
    assert!(
        tokio::time::timeout(Duration::from_millis(30), view.changed())
            .await
            .is_err()
    );
}

#[test]
fn new_mail_reaches_a_view_while_the_users_lock_is_held() {
    // Ten thousand IDLE sessions woken by one delivery must not queue on the lock every
    // view of the user shares: appends and expunges are reported without taking it.
    let store = store_with("u", 2);
    let mut view = store.select("u", "INBOX").unwrap();
    let mut other = store.select("u", "INBOX").unwrap();
    store.deliver("u", "INBOX", "Subject: new\r\n\r\n").unwrap();
    other
        .store_flags(&[1], FlagOp::Add, &flags(&[Flag::Deleted]))
        .unwrap();
    other.expunge(None).unwrap();
    let cell = store.user("u").unwrap();
    let held = lock_user(&cell);
    let (tx, rx) = std::sync::mpsc::channel();
    let poller = std::thread::spawn(move || {
        let events = view.poll(true);
        tx.send(events).unwrap();
        view
    });
    // The flag change (the \Deleted before the expunge) needs the folder: with it in the
    // queue, the view waits for the lock.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    drop(held);
    let events = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        events,
        vec![ViewEvent::Exists(3), ViewEvent::Expunge(1)],
        "the flag change of an expunged message is not reported"
    );
    let mut view = poller.join().unwrap();

    // Only new mail queued: reported while another holder keeps the lock.
    store
        .deliver("u", "INBOX", "Subject: newer\r\n\r\n")
        .unwrap();
    let held = lock_user(&cell);
    let (tx, rx) = std::sync::mpsc::channel();
    let poller = std::thread::spawn(move || {
        tx.send(view.poll(true)).unwrap();
        view
    });
    let events = rx.recv_timeout(Duration::from_secs(5));
    drop(held);
    assert_eq!(events.unwrap(), vec![ViewEvent::Exists(3)]);
    let view = poller.join().unwrap();
    assert_eq!(view.uids(), &[2, 3, 4]);
}

#[test]
fn polls_reuse_the_queue_without_losing_changes() {
    let store = store_with("u", 0);
    let mut view = store.select("u", "INBOX").unwrap();
    for round in 1..=50u32 {
        store.deliver("u", "INBOX", "Subject: x\r\n\r\n").unwrap();
        if round % 7 == 0 {
            store.deliver("u", "INBOX", "Subject: y\r\n\r\n").unwrap();
        }
        let expected = round + round / 7;
        assert_eq!(view.poll(true), vec![ViewEvent::Exists(expected)]);
        assert!(view.poll(true).is_empty());
        assert!(!view.has_pending());
    }
}

#[test]
fn maildrop_lock_uidl_and_delete_at_quit() {
    let store = store_with("u", 3);
    let mut imap = store.select("u", "INBOX").unwrap();
    let mut drop1 = store.lock_maildrop("u").unwrap();
    assert_eq!(
        store.lock_maildrop("u").err(),
        Some(StoreError::MaildropInUse("u".into()))
    );
    assert_eq!(drop1.stat().0, 3);
    assert_eq!(drop1.uidl(1).unwrap(), "1000.1");
    assert_eq!(
        &drop1.retrieve(2).unwrap()[..],
        b"Subject: 1\r\n\r\nbody 1\r\n"
    );
    drop1.delete(2).unwrap();
    assert_eq!(drop1.delete(2), Err(StoreError::NoSuchMessage));
    assert_eq!(drop1.retrieve(2), Err(StoreError::NoSuchMessage));
    assert_eq!(drop1.list(), [(1, 22), (3, 22)]);
    drop1.reset();
    drop1.delete(1).unwrap();
    drop1.delete(3).unwrap();
    assert_eq!(
        store.status("u", "INBOX").unwrap().messages,
        3,
        "nothing deleted before QUIT"
    );
    assert_eq!(drop1.commit().unwrap(), 2);
    assert_eq!(store.status("u", "INBOX").unwrap().messages, 1);
    assert_eq!(
        imap.poll(true),
        vec![ViewEvent::Expunge(1), ViewEvent::Expunge(2)]
    );
    // The lock is free again; UIDLs are stable across sessions.
    let drop2 = store.lock_maildrop("u").unwrap();
    assert_eq!(drop2.uidls(), [(1, "1000.2".to_owned())]);
}

#[test]
fn maildrop_dropped_without_quit_deletes_nothing() {
    let store = store_with("u", 2);
    let mut md = store.lock_maildrop("u").unwrap();
    md.delete(1).unwrap();
    drop(md);
    assert_eq!(store.status("u", "INBOX").unwrap().messages, 2);
    assert!(store.lock_maildrop("u").is_ok());
    assert!(matches!(
        store.lock_maildrop("nobody"),
        Err(StoreError::NoSuchUser(_))
    ));
}

#[test]
fn debug_output_hides_passwords_and_bodies() {
    let store = store_with("u", 1);
    store.add_user("v", "hunter2");
    let dbg = format!("{store:?} {:?}", store.messages("u", "INBOX").unwrap());
    assert!(!dbg.contains("hunter2") && !dbg.contains("body 0"), "{dbg}");
}
