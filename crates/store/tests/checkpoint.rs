//! WAL checkpoints on the store's own thread, and digests computed by the caller.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use inbound_message::Email;
use inbound_store::{MessageFilter, NewMessage, ServerRef, Store, raw_sha256};

/// A message of about `size` bytes, different for each `n`.
fn message(n: u32, size: usize) -> Email {
    let mut raw = format!("Subject: message {n}\r\nFrom: a@example.com\r\n\r\n").into_bytes();
    let line = format!("line of message {n} ........................................\r\n");
    while raw.len() < size {
        raw.extend_from_slice(line.as_bytes());
    }
    Email {
        subject: Some(format!("message {n}")),
        raw: Bytes::from(raw),
        ..Email::default()
    }
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// 96 MB in 1 MB transactions: the WAL never holds much more than its 16 MiB limit plus a
/// transaction, the database file receives the pages while the store is still open (so
/// checkpoints run in the background), and another connection sees every commit.
#[test]
fn wal_stays_bounded_while_checkpoints_run_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let wal = dir.path().join("c.sqlite-wal");
    let mut store = Store::open(&path, None).unwrap();
    let mut largest_wal = 0;
    let mut next = 0;
    for _ in 0..96 {
        let emails: Vec<(ServerRef, Email)> = (0..10)
            .map(|_| {
                next += 1;
                (
                    ServerRef::Imap {
                        uidvalidity: 1,
                        uid: next,
                    },
                    message(next, 100_000),
                )
            })
            .collect();
        let new: Vec<NewMessage<'_>> = emails
            .iter()
            .map(|(r, e)| NewMessage::new("a", "INBOX", r, e))
            .collect();
        store.insert_messages(&new).unwrap();
        largest_wal = largest_wal.max(file_len(&wal));
    }
    assert!(
        largest_wal < (16 + 8) * 1024 * 1024,
        "the WAL grew to {largest_wal} bytes"
    );
    // Checkpoints copied most of the 96 MB into the database file while the store was open.
    let main_len = file_len(&path);
    assert!(
        main_len > 40 * 1024 * 1024,
        "database file {main_len} bytes"
    );

    let other = Store::open(&path, None).unwrap();
    assert_eq!(
        other.count_messages(&MessageFilter::account("a")).unwrap(),
        960
    );
    drop(other);
    drop(store);
    let reopened = Store::open(&path, None).unwrap();
    reopened.integrity_check().unwrap();
    assert_eq!(
        reopened
            .count_messages(&MessageFilter::account("a"))
            .unwrap(),
        960
    );
}

/// A digest given with the message is what the store keeps: the message is found by its
/// content, as one whose digest the store computed.
#[test]
fn a_given_sha256_finds_the_message_by_content() {
    let mut store = Store::open_in_memory(None).unwrap();
    let given = message(1, 2_000);
    let computed = message(2, 2_000);
    let digest = raw_sha256(&given.raw);
    let (r1, r2) = (
        ServerRef::Imap {
            uidvalidity: 1,
            uid: 1,
        },
        ServerRef::Imap {
            uidvalidity: 1,
            uid: 2,
        },
    );
    let stored = store
        .insert_messages(&[
            NewMessage::new("a", "INBOX", &r1, &given).with_sha256(Some(&digest)),
            NewMessage::new("a", "INBOX", &r2, &computed),
        ])
        .unwrap();
    assert_eq!(
        store.find_duplicate("a", &given.raw).unwrap(),
        Some(stored[0].id)
    );
    assert_eq!(
        store.find_duplicate("a", &computed.raw).unwrap(),
        Some(stored[1].id)
    );
    assert_eq!(store.find_duplicate("a", b"other").unwrap(), None);
}
