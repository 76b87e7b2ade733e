//! Messages go in and come back out with every field intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use inbound_message::{Address, Attachment, Email, Header, Warning};
use inbound_store::{
    AttachmentInfo, MessageFilter, NewMessage, PendingAction, SanitizeHtml, ServerRef, Store,
};
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
            let mode = (i % 2 == 1).then_some(SanitizeHtml::data_url());
            let stored = store
                .insert_message(
                    &NewMessage::new("acct", "INBOX", &r, email).with_sanitize(mode.as_ref()),
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
        if i % 2 == 1 {
            assert_eq!(got.sanitize, Some(SanitizeHtml::data_url()));
            // Sanitized when read, as the message's account asked.
            if let Some(html) = &got.sanitized_html {
                assert!(
                    !html.contains("onclick") && !html.contains("script"),
                    "{html}"
                );
                assert_eq!(got.display_html(), Some(html.as_str()));
            } else {
                assert_eq!(email.html, None);
            }
        } else {
            assert_eq!((&got.sanitize, &got.sanitized_html), (&None, &None));
            assert_eq!(got.display_html(), email.html.as_deref());
        }
        assert_eq!(store.export_eml(*id).unwrap().unwrap(), email.raw);
    }
    // The message with every field: its HTML came with a script and an event handler, and
    // the inline logo is embedded by the account's mode.
    let html = store
        .get_message(ids[1])
        .unwrap()
        .unwrap()
        .sanitized_html
        .unwrap();
    assert!(
        html.starts_with("<p>Hello <img src=\"data:image/png;base64,AAECAwQF"),
        "{html}"
    );
    assert!(corpus[1].html.as_deref().unwrap().contains("<script>"));
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
fn only_the_raw_message_is_stored_and_the_rest_is_parsed_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let email = common::corpus().remove(1);
    assert_eq!(email.attachments.len(), 4);
    let mut store = Store::open(&path, None).unwrap();
    let id = store
        .insert_message(&NewMessage::new("a", "INBOX", &imap(1), &email))
        .unwrap()
        .id;
    drop(store);
    let raw = rusqlite::Connection::open(&path).unwrap();
    // Every blob and text column of every table, summed: the raw message and small change.
    let mut stored = 0i64;
    let tables: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in &tables {
        let columns: Vec<String> = raw
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for column in columns {
            let n: Option<i64> = raw
                .query_row(
                    &format!("SELECT sum(length(\"{column}\")) FROM \"{table}\""),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            stored += n.unwrap_or(0);
        }
    }
    let decoded: usize = email.attachments.iter().map(|a| a.size()).sum();
    assert!(decoded > 140_000, "{decoded}");
    assert!(
        stored < email.raw.len() as i64 + 2_000,
        "{stored} bytes stored for a {} byte message",
        email.raw.len()
    );
    let store = Store::open(&path, None).unwrap();
    let got = store.get_message(id).unwrap().unwrap();
    assert_eq!(got.email, email);
    assert_eq!(got.email.attachments[0].content, common::logo());
    assert_eq!(got.email.attachments[2].content, common::logo());
    assert_eq!(
        &got.email.attachments[1].content[..],
        b"%PDF-1.4\n\0\x01\x02"
    );
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
        // The envelope as given; headers, bodies, attachments, warnings parsed from the raw.
        prop_assert_eq!(got.email, common::reparsed(email.clone()));
        let listed = store.get_summary(id).unwrap().unwrap();
        prop_assert_eq!(listed.subject, email.subject);
        let described: Vec<_> = email
            .attachments
            .iter()
            .map(|a| (a.filename.clone(), a.content_type.clone(), a.size() as u64, a.inline))
            .collect();
        prop_assert_eq!(
            listed
                .attachments
                .into_iter()
                .map(|a| (a.filename, a.content_type, a.size, a.inline))
                .collect::<Vec<_>>(),
            described
        );
    }
}
