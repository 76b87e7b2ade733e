//! Messages go in and come back out with every field intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use inbound_message::{Address, Attachment, Email, Header, Warning};
use inbound_store::{AttachmentInfo, MessageFilter, NewMessage, PendingAction, ServerRef, Store};
use proptest::prelude::*;

fn imap(uid: u32) -> ServerRef {
    ServerRef::Imap {
        uidvalidity: 1,
        uid,
    }
}

#[test]
fn corpus_roundtrips_every_field_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let corpus = common::corpus();
    let mut ids = Vec::new();
    {
        let mut store = Store::open(&path, None).unwrap();
        for (i, email) in corpus.iter().enumerate() {
            let r = imap(i as u32 + 1);
            let html = (i % 2 == 0).then(|| format!("<p>clean {i}</p>"));
            let stored = store
                .insert_message(
                    &NewMessage::new("acct", "INBOX", &r, email)
                        .with_sanitized_html(html.as_deref()),
                )
                .unwrap();
            assert!(stored.created);
            ids.push(stored.id);
        }
    }
    // Reopen: everything comes from disk.
    let store = Store::open(&path, None).unwrap();
    store.integrity_check().unwrap();
    for (i, (email, id)) in corpus.iter().zip(&ids).enumerate() {
        let got = store.get_message(*id).unwrap().expect("stored");
        assert_eq!(&got.email, email, "message {i}");
        assert_eq!(got.id, *id);
        assert_eq!(got.account, "acct");
        assert_eq!(got.folder, "INBOX");
        assert_eq!(got.server_ref, imap(i as u32 + 1));
        let html = (i % 2 == 0).then(|| format!("<p>clean {i}</p>"));
        assert_eq!(got.sanitized_html, html);
        assert_eq!(store.export_eml(*id).unwrap().unwrap(), email.raw);
    }
    assert_eq!(
        store.get_message(inbound_store::MessageId(9999)).unwrap(),
        None
    );
    assert_eq!(
        store.export_eml(inbound_store::MessageId(9999)).unwrap(),
        None
    );
}

#[test]
fn repeated_attachment_content_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let email = common::corpus().remove(1);
    let mut store = Store::open(&path, None).unwrap();
    let id = store
        .insert_message(&NewMessage::new("a", "INBOX", &imap(1), &email))
        .unwrap()
        .id;
    drop(store);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let (rows, bytes): (i64, i64) = raw
        .query_row(
            "SELECT count(*), sum(length(content)) FROM attachment_contents WHERE message_id = ?1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Four parts, three distinct contents (the logo twice).
    assert_eq!(rows, 3);
    assert_eq!(bytes, 70_000 + b"%PDF-1.4\n\0\x01\x02".len() as i64);
    let store = Store::open(&path, None).unwrap();
    assert_eq!(store.get_message(id).unwrap().unwrap().email, email);
}

#[test]
fn listing_filters_orders_pages_and_counts() {
    let mut store = Store::open_in_memory(None).unwrap();
    let mut put = |account: &str, folder: &str, uid: u32, date: Option<i64>, subject: &str| {
        let email = Email {
            subject: Some(subject.into()),
            from: vec![common::addr(Some("F"), "f@x")],
            date,
            attachments: vec![common::attachment(
                Some("a.txt"),
                "text/plain",
                None,
                true,
                &b"abc"[..],
            )],
            raw: Bytes::from(format!("Subject: {subject}\r\n\r\n")),
            ..Email::default()
        };
        store
            .insert_message(&NewMessage::new(account, folder, &imap(uid), &email))
            .unwrap()
            .id
    };
    let a1 = put("a", "INBOX", 1, Some(100), "a1");
    let a2 = put("a", "INBOX", 2, Some(300), "a2");
    let a3 = put("a", "Archive", 1, Some(200), "a3");
    let b1 = put("b", "INBOX", 1, Some(250), "b1");
    let undated = put("b", "INBOX", 2, None, "undated");

    let ids = |f: &MessageFilter| -> Vec<_> {
        store
            .list_messages(f)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    // Newest first; an undated message sorts by the time it was stored (now).
    assert_eq!(
        ids(&MessageFilter::default()),
        vec![undated, a2, b1, a3, a1]
    );
    assert_eq!(ids(&MessageFilter::account("a")), vec![a2, a3, a1]);
    assert_eq!(
        ids(&MessageFilter::account("a").folder("INBOX")),
        vec![a2, a1]
    );
    assert_eq!(
        ids(&MessageFilter::default().dated(Some(200), Some(300))),
        vec![b1, a3]
    );
    let oldest = MessageFilter {
        oldest_first: true,
        limit: Some(2),
        offset: 1,
        ..MessageFilter::default()
    };
    assert_eq!(ids(&oldest), vec![a3, b1]);
    assert_eq!(ids(&MessageFilter::default().limit(1)), vec![undated]);
    assert_eq!(store.count_messages(&MessageFilter::default()).unwrap(), 5);
    assert_eq!(
        store.count_messages(&MessageFilter::account("b")).unwrap(),
        2
    );
    assert_eq!(
        store
            .count_messages(&MessageFilter::account("nobody"))
            .unwrap(),
        0
    );

    let summary = store
        .list_messages(&MessageFilter::account("a").folder("Archive"))
        .unwrap()
        .remove(0);
    assert_eq!(summary.subject.as_deref(), Some("a3"));
    assert_eq!(summary.from, vec![common::addr(Some("F"), "f@x")]);
    assert_eq!(summary.date, Some(200));
    assert_eq!(summary.size, "Subject: a3\r\n\r\n".len() as u64);
    assert_eq!(summary.server_ref, imap(1));
    assert_eq!(
        summary.attachments,
        vec![AttachmentInfo {
            filename: Some("a.txt".into()),
            content_type: "text/plain".into(),
            size: 3,
            inline: true,
        }]
    );
}

#[test]
fn same_server_ref_is_stored_once() {
    let mut store = Store::open_in_memory(None).unwrap();
    let email = common::corpus().remove(1);
    let r = ServerRef::Pop3 {
        uidl: "UID-1".into(),
    };
    let first = store
        .insert_message(
            &NewMessage::new("p", "INBOX", &r, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();
    let again = store
        .insert_message(
            &NewMessage::new("p", "INBOX", &r, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.id, again.id);
    assert_eq!(store.count_messages(&MessageFilter::default()).unwrap(), 1);
    assert_eq!(
        store.pending_actions("p").unwrap().len(),
        1,
        "no duplicate action"
    );
    // The same ref in another folder or account is another message.
    let other = store
        .insert_message(&NewMessage::new("q", "INBOX", &r, &email))
        .unwrap();
    assert!(other.created);
    assert_ne!(other.id, first.id);

    // Batches are idempotent too, and de-duplicate within themselves.
    let r2 = ServerRef::Pop3 {
        uidl: "UID-2".into(),
    };
    let batch = [
        NewMessage::new("p", "INBOX", &r, &email),
        NewMessage::new("p", "INBOX", &r2, &email),
        NewMessage::new("p", "INBOX", &r2, &email),
    ];
    let outcomes = store.insert_messages(&batch).unwrap();
    assert_eq!(outcomes[0].id, first.id);
    assert!(!outcomes[0].created);
    assert!(outcomes[1].created);
    assert_eq!(
        outcomes[2],
        inbound_store::Inserted {
            id: outcomes[1].id,
            created: false
        }
    );
    assert_eq!(
        store.count_messages(&MessageFilter::account("p")).unwrap(),
        2
    );
}

#[test]
fn duplicates_found_by_content_and_message_id() {
    let mut store = Store::open_in_memory(None).unwrap();
    let email = common::corpus().remove(1);
    let id = store
        .insert_message(&NewMessage::new("a", "INBOX", &imap(5), &email))
        .unwrap()
        .id;
    assert_eq!(store.find_duplicate("a", &email.raw).unwrap(), Some(id));
    assert_eq!(store.find_duplicate("b", &email.raw).unwrap(), None);
    assert_eq!(store.find_duplicate("a", b"other bytes").unwrap(), None);
    assert_eq!(
        store
            .find_by_message_id("a", "abc.123@example.com")
            .unwrap(),
        vec![id]
    );
    assert!(store.find_by_message_id("a", "nope@x").unwrap().is_empty());
    assert_eq!(
        store.find_by_server_ref("a", "INBOX", &imap(5)).unwrap(),
        Some(id)
    );
    assert!(store.is_stored("a", "INBOX", &imap(5)).unwrap());
    assert!(!store.is_stored("a", "INBOX", &imap(6)).unwrap());
    assert!(!store.is_stored("a", "Other", &imap(5)).unwrap());
}

#[test]
fn fifty_megabyte_attachment_roundtrips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.sqlite");
    let big: Vec<u8> = (0..50 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let email = Email {
        subject: Some("big".into()),
        attachments: vec![common::attachment(
            Some("big.bin"),
            "application/octet-stream",
            None,
            false,
            big,
        )],
        raw: Bytes::from_static(b"Subject: big\r\n\r\n(attachment elided in this test)\r\n"),
        ..Email::default()
    };
    let id = Store::open(&path, None)
        .unwrap()
        .insert_message(&NewMessage::new("a", "INBOX", &imap(1), &email))
        .unwrap()
        .id;
    let store = Store::open(&path, None).unwrap();
    let got = store.get_message(id).unwrap().unwrap();
    assert_eq!(got.email.attachments[0].content.len(), 50 * 1024 * 1024);
    assert!(got.email == email);
    let listed = store.list_messages(&MessageFilter::default()).unwrap();
    assert_eq!(listed[0].attachments[0].size, 50 * 1024 * 1024);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 <>@.\"'\\\\,;:=_-]{0,20}", any::<String>(),]
}

fn address() -> impl Strategy<Value = Address> {
    (proptest::option::of(text()), text()).prop_map(|(name, address)| Address { name, address })
}

fn email() -> impl Strategy<Value = Email> {
    let addrs = || proptest::collection::vec(address(), 0..3);
    let strings = || proptest::collection::vec(text(), 0..3);
    let attachment = (
        proptest::option::of(text()),
        text(),
        proptest::option::of(text()),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(filename, content_type, content_id, inline, content)| Attachment {
                filename,
                content_type,
                content_id,
                inline,
                content: content.into(),
            },
        );
    (
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            addrs(),
            proptest::option::of(address()),
            addrs(),
            addrs(),
            addrs(),
            addrs(),
        ),
        (
            proptest::option::of(any::<i64>()),
            strings(),
            strings(),
            proptest::collection::vec((text(), text()), 0..4),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::collection::vec(attachment, 0..3),
            proptest::collection::vec((text(), text()), 0..2),
            proptest::collection::vec(any::<u8>(), 0..128),
        ),
    )
        .prop_map(
            |(
                (message_id, subject, from, sender, reply_to, to, cc, bcc),
                (date, in_reply_to, references, headers, text, html, attachments, warnings, raw),
            )| Email {
                message_id,
                subject,
                from,
                sender,
                reply_to,
                to,
                cc,
                bcc,
                date,
                in_reply_to,
                references,
                headers: headers
                    .into_iter()
                    .map(|(name, value)| Header { name, value })
                    .collect(),
                text,
                html,
                attachments,
                warnings: warnings
                    .into_iter()
                    .map(|(kind, detail)| Warning { kind, detail })
                    .collect(),
                raw: raw.into(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_email_roundtrips(email in email(), uidl in "[!-~]{1,70}") {
        let mut store = Store::open_in_memory(None).unwrap();
        let r = ServerRef::Pop3 { uidl };
        let id = store.insert_message(&NewMessage::new("acct", "INBOX", &r, &email)).unwrap().id;
        let got = store.get_message(id).unwrap().unwrap();
        prop_assert_eq!(got.server_ref, r);
        prop_assert_eq!(got.email, email);
    }
}
