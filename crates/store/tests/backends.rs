//! The same checks on both backends: the SQLite file and PostgreSQL (with the `postgres`
//! feature, on a throwaway cluster: see `pg_cluster`). Each test body takes a
//! `&mut dyn StoreBackend`, so what passes here behaves the same on either.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[cfg(feature = "postgres")]
mod pg_cluster;

use std::collections::HashSet;

use inbound_message::Email;
use inbound_store::{
    EncryptionKey, Error, ImapFolderState, MessageFilter, NewMessage, PendingAction, Secret,
    ServerRef, StoreBackend, StoreLocation,
};

/// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL database (skipped with a
/// message when PostgreSQL is not installed; see `pg_cluster`).
fn on_each_backend(key: Option<EncryptionKey>, body: impl Fn(&mut dyn StoreBackend)) {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::File(dir.path().join("store.sqlite"));
    let mut sqlite = location.open(key.clone()).unwrap();
    body(&mut *sqlite);
    drop(sqlite);
    postgres(key, body);
}

#[cfg(feature = "postgres")]
fn postgres(key: Option<EncryptionKey>, body: impl Fn(&mut dyn StoreBackend)) {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let location = StoreLocation::Postgres(inbound_store::PgConfig::new(Secret::new(db.url())));
    let mut pg = location.open(key).unwrap();
    body(&mut *pg);
}

#[cfg(not(feature = "postgres"))]
fn postgres(_key: Option<EncryptionKey>, _body: impl Fn(&mut dyn StoreBackend)) {
    // `cargo xtask ci` runs this file again with the feature (and INBOUND_REQUIRE_POSTGRES).
    eprintln!("skipping the PostgreSQL half: built without the `postgres` feature");
}

#[cfg(feature = "postgres")]
fn open_pg(db: &pg_cluster::TestDb, key: Option<EncryptionKey>) -> inbound_store::PgStore {
    let config = inbound_store::PgConfig::new(Secret::new(db.url()));
    inbound_store::PgStore::open(&config, key).unwrap()
}

fn mail(subject: &str, date: Option<i64>) -> Email {
    let date_header = date.map_or(String::new(), |_| {
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n".into()
    });
    let email = Email::parse(format!(
        "Subject: {subject}\r\nFrom: Ann <ann@example.com>\r\n{date_header}\r\nBody of {subject}\r\n"
    ));
    Email { date, ..email }
}

fn imap(uid: u32) -> ServerRef {
    ServerRef::Imap {
        uidvalidity: 7,
        uid,
    }
}

#[test]
fn a_message_its_action_and_its_event_are_stored_together_and_once() {
    on_each_backend(None, |s| {
        let email = mail("Hello", Some(1_700_000_000));
        let r = imap(42);
        let message =
            NewMessage::new("work", "INBOX", &r, &email).with_action(Some(&PendingAction::Delete));
        let first = s.insert_message(&message).unwrap();
        assert!(first.created);
        let again = s.insert_message(&message).unwrap();
        assert_eq!((again.id, again.created), (first.id, false));

        assert_eq!(
            s.count_messages(&MessageFilter::account("work")).unwrap(),
            1
        );
        let pending = s.pending_actions("work").unwrap();
        assert_eq!(pending.len(), 1, "the same action is not recorded twice");
        assert_eq!(pending[0].message, first.id);
        assert_eq!(pending[0].server_ref, r);
        assert_eq!(pending[0].action, PendingAction::Delete);
        let events = s.list_events(10).unwrap();
        assert_eq!(events.len(), 1, "one event per stored message");
        assert_eq!(events[0].kind, "message.received");
        assert_eq!(events[0].message, Some(first.id));
        assert!(events[0].id.starts_with("evt_"));

        assert_eq!(
            s.imap_state("work", "INBOX").unwrap(),
            Some(ImapFolderState {
                uidvalidity: 7,
                highest_uid: 42
            })
        );
        assert!(s.is_stored("work", "INBOX", &r).unwrap());
        assert!(!s.is_stored("work", "INBOX", &imap(43)).unwrap());
        assert_eq!(
            s.export_eml(first.id).unwrap().as_deref(),
            Some(&email.raw[..])
        );
        assert_eq!(
            s.find_duplicate("work", &email.raw).unwrap(),
            Some(first.id)
        );
        assert_eq!(
            s.message_sha256(first.id).unwrap(),
            Some(inbound_store::raw_sha256(&email.raw))
        );
        let stored = s.get_message(first.id).unwrap().unwrap();
        assert_eq!(stored.email.subject.as_deref(), Some("Hello"));
        assert_eq!(stored.email.from[0].address, "ann@example.com");
        assert_eq!(
            stored.email.text.as_deref().map(str::trim),
            Some("Body of Hello")
        );
    });
}

#[test]
fn a_batch_is_stored_whole_and_listed_newest_first() {
    on_each_backend(None, |s| {
        let emails: Vec<Email> = (0..5)
            .map(|i| mail(&format!("m{i}"), Some(1_700_000_000 + i64::from(i))))
            .collect();
        let refs: Vec<ServerRef> = (1..=5).map(imap).collect();
        let batch: Vec<NewMessage<'_>> = emails
            .iter()
            .zip(&refs)
            .map(|(e, r)| NewMessage::new("a", "INBOX", r, e))
            .collect();
        let stored = s.insert_messages(&batch).unwrap();
        assert!(stored.iter().all(|i| i.created));
        let other = mail("elsewhere", Some(1_800_000_000));
        s.insert_message(&NewMessage::new("b", "Archive", &imap(1), &other))
            .unwrap();

        let subjects = |filter: &MessageFilter| -> Vec<String> {
            s.list_messages(filter)
                .unwrap()
                .into_iter()
                .map(|m| m.subject.unwrap_or_default())
                .collect()
        };
        assert_eq!(
            subjects(&MessageFilter::account("a")),
            ["m4", "m3", "m2", "m1", "m0"]
        );
        let oldest = MessageFilter {
            oldest_first: true,
            offset: 1,
            ..MessageFilter::account("a").limit(2)
        };
        assert_eq!(subjects(&oldest), ["m1", "m2"]);
        let dated = MessageFilter::account("a").dated(Some(1_700_000_001), Some(1_700_000_003));
        assert_eq!(subjects(&dated), ["m2", "m1"]);
        assert_eq!(s.count_messages(&dated).unwrap(), 2);
        assert_eq!(subjects(&MessageFilter::default().limit(1)), ["elsewhere"]);
        assert_eq!(s.count_messages(&MessageFilter::default()).unwrap(), 6);
        let listed = s.list_messages(&MessageFilter::account("b")).unwrap();
        assert_eq!(listed[0].folder, "Archive");
        assert_eq!(listed[0].size, other.raw.len() as u64);
        assert_eq!(s.list_events(100).unwrap().len(), 6);
    });
}

#[test]
fn pending_actions_are_completed_failed_copied_and_abandoned() {
    on_each_backend(None, |s| {
        let emails: Vec<Email> = (0..4).map(|i| mail(&format!("m{i}"), None)).collect();
        let refs: Vec<ServerRef> = (1..=4).map(imap).collect();
        let archive = PendingAction::MoveTo("Archive".into());
        for (i, (e, r)) in emails.iter().zip(&refs).enumerate() {
            let action = if i % 2 == 0 {
                PendingAction::Delete
            } else {
                archive.clone()
            };
            s.insert_message(&NewMessage::new("a", "INBOX", r, e).with_action(Some(&action)))
                .unwrap();
        }
        let ids: Vec<i64> = s
            .pending_actions("a")
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids.len(), 4);

        s.complete_action(ids[0]).unwrap();
        assert!(matches!(
            s.complete_action(ids[0]),
            Err(Error::NoSuchAction(_))
        ));
        s.fail_action(ids[2], "server said NO").unwrap();
        s.fail_action(ids[2], "server said NO again").unwrap();
        s.move_copied(ids[1], "copied; expunge failed").unwrap();
        s.abandon_action(ids[3], "gave up").unwrap();
        assert!(matches!(
            s.fail_action(999_999, "x"),
            Err(Error::NoSuchAction(999_999))
        ));

        let pending = s.pending_actions("a").unwrap();
        let view: Vec<_> = pending
            .iter()
            .map(|p| (p.id, p.action.clone(), p.attempts, p.last_error.clone()))
            .collect();
        assert_eq!(
            view,
            [
                (
                    ids[1],
                    PendingAction::Delete,
                    1,
                    Some("copied; expunge failed".into())
                ),
                (
                    ids[2],
                    PendingAction::Delete,
                    2,
                    Some("server said NO again".into())
                ),
            ]
        );
        let abandoned = s.abandoned_actions("a").unwrap();
        assert_eq!(abandoned.len(), 1);
        assert_eq!(
            (abandoned[0].id, abandoned[0].action.clone()),
            (ids[3], archive)
        );
        assert_eq!(s.complete_actions(&[ids[1], ids[2], ids[0]]).unwrap(), 2);
        assert!(s.pending_actions("a").unwrap().is_empty());
        assert_eq!(s.complete_actions(&[]).unwrap(), 0);
    });
}

#[test]
fn a_new_uidvalidity_abandons_actions_and_forgets_retries() {
    on_each_backend(None, |s| {
        let email = mail("old", None);
        let r = imap(5);
        s.set_imap_state(
            "a",
            "INBOX",
            ImapFolderState {
                uidvalidity: 7,
                highest_uid: 0,
            },
        )
        .unwrap();
        s.insert_message(
            &NewMessage::new("a", "INBOX", &r, &email).with_action(Some(&PendingAction::Delete)),
        )
        .unwrap();
        s.expect_imap_uids("a", "INBOX", 7, &[3, 4]).unwrap();
        assert_eq!(s.imap_state("a", "INBOX").unwrap().unwrap().highest_uid, 5);

        // A message under another UIDVALIDITY does not move the high-water mark.
        let stray = mail("stray", None);
        let other = ServerRef::Imap {
            uidvalidity: 8,
            uid: 99,
        };
        s.insert_message(&NewMessage::new("a", "INBOX", &other, &stray))
            .unwrap();
        assert_eq!(
            s.imap_state("a", "INBOX").unwrap(),
            Some(ImapFolderState {
                uidvalidity: 7,
                highest_uid: 5
            })
        );

        assert_eq!(s.reset_imap_state("a", "INBOX", 9).unwrap(), 1);
        assert_eq!(
            s.imap_state("a", "INBOX").unwrap(),
            Some(ImapFolderState {
                uidvalidity: 9,
                highest_uid: 0
            })
        );
        assert!(s.pending_actions("a").unwrap().is_empty());
        let abandoned = s.abandoned_actions("a").unwrap();
        assert_eq!(abandoned.len(), 1);
        assert_eq!(
            abandoned[0].last_error.as_deref(),
            Some("UIDVALIDITY changed to 9; the UID no longer names this message")
        );
        assert!(s.imap_retry("a", "INBOX", 7).unwrap().is_empty());
        // The stored messages are kept.
        assert_eq!(s.count_messages(&MessageFilter::account("a")).unwrap(), 2);
    });
}

#[test]
fn imap_retry_sets_keep_what_was_not_delivered() {
    on_each_backend(None, |s| {
        s.expect_imap_uids("a", "INBOX", 7, &[10, 11, 12]).unwrap();
        s.expect_imap_uids("a", "INBOX", 7, &[10]).unwrap();
        s.fail_imap_uids("a", "INBOX", 7, &[(11, "BODY[] NIL".into())])
            .unwrap();
        s.fail_imap_uids(
            "a",
            "INBOX",
            7,
            &[(11, "NO".into()), (13, "partial".into())],
        )
        .unwrap();
        let email = mail("twelve", None);
        s.insert_message(&NewMessage::new("a", "INBOX", &imap(12), &email))
            .unwrap();
        s.forget_imap_uids("a", "INBOX", 7, &[13]).unwrap();
        let retry: Vec<_> = s
            .imap_retry("a", "INBOX", 7)
            .unwrap()
            .into_iter()
            .map(|r| (r.uid, r.reason, r.attempts))
            .collect();
        assert_eq!(
            retry,
            [
                (10, inbound_store::RETRY_PENDING_REASON.to_owned(), 0),
                (11, "NO".to_owned(), 2),
            ]
        );
        assert!(s.imap_retry("a", "INBOX", 8).unwrap().is_empty());
        assert!(s.imap_retry("b", "INBOX", 7).unwrap().is_empty());
    });
}

#[test]
fn pop3_uidls_are_seen_retried_and_told_apart_by_content() {
    on_each_backend(None, |s| {
        let first = mail("first", None);
        let reused = mail("other bytes, same UIDL", None);
        let r = ServerRef::Pop3 { uidl: "u1".into() };
        let a = s
            .insert_message(
                &NewMessage::new("p", "INBOX", &r, &first)
                    .with_action(Some(&PendingAction::Delete)),
            )
            .unwrap();
        let again = s
            .insert_message(&NewMessage::new("p", "INBOX", &r, &first))
            .unwrap();
        assert_eq!((again.id, again.created), (a.id, false));
        let b = s
            .insert_message(&NewMessage::new("p", "INBOX", &r, &reused))
            .unwrap();
        assert!(
            b.created && b.id != a.id,
            "a reused UIDL with other bytes is a new message"
        );
        assert_eq!(s.count_messages(&MessageFilter::account("p")).unwrap(), 2);

        s.fail_pop3_uidl("p", "u3", "RETR refused").unwrap();
        s.fail_pop3_uidl("p", "u3", "empty answer").unwrap();
        s.fail_pop3_uidl("p", "u2", "RETR refused").unwrap();
        s.mark_pop3_seen("p", &["u2", "u4"]).unwrap();
        let retry: Vec<_> = s
            .pop3_retry("p")
            .unwrap()
            .into_iter()
            .map(|r| (r.uidl, r.reason, r.attempts))
            .collect();
        assert_eq!(retry, [("u3".to_owned(), "empty answer".to_owned(), 2)]);

        let seen = |s: &dyn StoreBackend| {
            let mut v: Vec<String> = s.pop3_seen_uidls("p").unwrap().into_iter().collect();
            v.sort();
            v
        };
        assert_eq!(seen(s), ["u1", "u2", "u4"]);
        let present: HashSet<String> = ["u1", "u2"].map(String::from).into();
        assert_eq!(s.retain_pop3_uidls("p", &present).unwrap(), 1);
        assert!(
            s.pop3_retry("p").unwrap().is_empty(),
            "u3 is gone from the server"
        );
        assert_eq!(s.forget_pop3_uidls("p", &["u2", "nope"]).unwrap(), 1);
        assert_eq!(seen(s), ["u1"]);
        assert!(s.pop3_seen_uidls("other").unwrap().is_empty());
    });
}

#[test]
fn accounts_are_sealed_listed_replaced_and_removed() {
    let key = EncryptionKey::generate().unwrap();
    on_each_backend(Some(key), |s| {
        s.save_account(
            "work",
            r#"{"host":"imap.example.com"}"#,
            &[
                ("password", Secret::new("hunter2")),
                ("Z-upper", Secret::new("z")),
                ("a-lower", Secret::new("a")),
            ],
        )
        .unwrap();
        s.save_account("Home", "{}", &[]).unwrap();
        s.save_account("archive", "{}", &[]).unwrap();
        assert_eq!(
            s.list_accounts().unwrap(),
            ["Home", "archive", "work"],
            "byte order"
        );

        let loaded = s.load_account("work").unwrap().unwrap();
        assert_eq!(loaded.config_json, r#"{"host":"imap.example.com"}"#);
        assert_eq!(loaded.secrets["password"].expose(), "hunter2");
        assert_eq!(loaded.secrets.len(), 3);
        assert!(!format!("{loaded:?}").contains("hunter2"));

        s.save_account(
            "work",
            r#"{"host":"new"}"#,
            &[("password", Secret::new("new"))],
        )
        .unwrap();
        let loaded = s.load_account("work").unwrap().unwrap();
        assert_eq!(loaded.config_json, r#"{"host":"new"}"#);
        assert_eq!(loaded.secrets.len(), 1);
        assert!(matches!(
            s.save_account("bad", "{not json", &[]),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(s.load_account("nobody").unwrap().is_none());

        s.set_imap_state(
            "work",
            "INBOX",
            ImapFolderState {
                uidvalidity: 1,
                highest_uid: 3,
            },
        )
        .unwrap();
        assert!(s.remove_account("work").unwrap());
        assert!(!s.remove_account("work").unwrap());
        assert!(s.load_account("work").unwrap().is_none());
        assert!(s.imap_state("work", "INBOX").unwrap().is_none());
    });
}

#[test]
fn without_a_key_accounts_are_refused_but_mail_works() {
    on_each_backend(None, |s| {
        assert!(matches!(
            s.save_account("a", "{}", &[]),
            Err(Error::NoKey(_))
        ));
        let email = mail("x", None);
        assert!(
            s.insert_message(&NewMessage::new("a", "INBOX", &imap(1), &email))
                .unwrap()
                .created
        );
    });
}

#[test]
fn messages_are_found_paged_and_written_out() {
    on_each_backend(None, |s| {
        let parsed = Email::parse(
            &b"Subject: Report 50%_done\r\nFrom: Bob <bob@example.org>\r\n\
               Message-ID: <r1@example.org>\r\nMIME-Version: 1.0\r\n\
               Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
               --B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
               --B\r\nContent-Type: application/pdf\r\n\
               Content-Disposition: attachment; filename=\"r.pdf\"\r\n\r\n%PDF-1.4\r\n\
               --B--\r\n"[..],
        );
        // Dated before the others, so it sorts last.
        let with_attachment = Email {
            date: Some(1_600_000_000),
            ..parsed
        };
        let report = s
            .insert_message(&NewMessage::new("a", "INBOX", &imap(1), &with_attachment))
            .unwrap()
            .id;
        for i in 2..=6 {
            let email = mail(&format!("note {i}"), Some(1_700_000_000 + i64::from(i)));
            s.insert_message(&NewMessage::new("a", "INBOX", &imap(i), &email))
                .unwrap();
        }
        let pop = mail("pop", None);
        s.insert_message(&NewMessage::new(
            "b",
            "INBOX",
            &ServerRef::Pop3 { uidl: "x".into() },
            &pop,
        ))
        .unwrap();

        assert_eq!(
            s.find_by_server_ref("a", "INBOX", &imap(1)).unwrap(),
            Some(report)
        );
        assert_eq!(s.find_by_server_ref("a", "Other", &imap(1)).unwrap(), None);
        assert_eq!(
            s.find_by_message_id("a", "r1@example.org").unwrap(),
            [report]
        );
        assert!(
            s.find_by_message_id("b", "r1@example.org")
                .unwrap()
                .is_empty()
        );
        assert!(!s.has_other_uidvalidity("a", "INBOX", 7).unwrap());
        assert!(s.has_other_uidvalidity("a", "INBOX", 8).unwrap());

        let summary = s.get_summary(report).unwrap().unwrap();
        assert_eq!(summary.subject.as_deref(), Some("Report 50%_done"));
        assert_eq!(summary.attachments.len(), 1);
        assert_eq!(summary.attachments[0].filename.as_deref(), Some("r.pdf"));
        let lean = s.get_message_lean(report).unwrap().unwrap();
        assert_eq!(lean.attachments, summary.attachments);
        assert_eq!(
            lean.message.email.text.as_deref().map(str::trim),
            Some("see attached")
        );
        let mut out = Vec::new();
        assert_eq!(
            s.write_raw_to(report, &mut out).unwrap(),
            Some(with_attachment.raw.len() as u64)
        );
        assert_eq!(out, with_attachment.raw);
        let missing = inbound_store::MessageId(999_999);
        assert_eq!(s.write_raw_to(missing, &mut out).unwrap(), None);
        assert!(s.get_summary(missing).unwrap().is_none());
        assert!(s.get_message_lean(missing).unwrap().is_none());

        // Keyset pages: newest first, the cursor carries on where the last page ended.
        let page =
            |q: &inbound_store::PageQuery| -> (Vec<String>, Option<inbound_store::PageCursor>) {
                let p = s.list_page(q).unwrap();
                (
                    p.messages
                        .into_iter()
                        .map(|m| m.subject.unwrap_or_default())
                        .collect(),
                    p.next,
                )
            };
        let mut q = inbound_store::PageQuery {
            account: Some("a".into()),
            limit: 2,
            ..Default::default()
        };
        let (first, next) = page(&q);
        assert_eq!(first, ["note 6", "note 5"]);
        q.after = next;
        let (second, _) = page(&q);
        assert_eq!(second, ["note 4", "note 3"]);
        // Search is a substring, not a pattern: `%` and `_` match themselves only.
        let search = |text: &str| {
            page(&inbound_store::PageQuery {
                search: Some(text.into()),
                ..Default::default()
            })
            .0
        };
        assert_eq!(search("50%_"), ["Report 50%_done"]);
        assert_eq!(search("REPORT"), ["Report 50%_done"]);
        assert!(search("5_%").is_empty());
        assert_eq!(search("bob@example").len(), 1);

        let counts = s.count_by_account().unwrap();
        assert_eq!((counts["a"], counts["b"], counts.len()), (6, 1, 2));
    });
}

#[test]
fn a_rotated_secret_is_kept_for_its_origin_only() {
    let key = EncryptionKey::generate().unwrap();
    on_each_backend(Some(key), |s| {
        assert!(s.has_key());
        let origin = Secret::new("configured");
        assert!(
            s.load_rotated_secret("a", "oauth.refresh_token", &origin)
                .unwrap()
                .is_none()
        );
        s.save_rotated_secret("a", "oauth.refresh_token", &origin, &Secret::new("second"))
            .unwrap();
        s.save_rotated_secret("a", "oauth.refresh_token", &origin, &Secret::new("third"))
            .unwrap();
        let got = s
            .load_rotated_secret("a", "oauth.refresh_token", &origin)
            .unwrap();
        assert_eq!(got.unwrap().expose(), "third");
        let other = Secret::new("configured again");
        assert!(
            s.load_rotated_secret("a", "oauth.refresh_token", &other)
                .unwrap()
                .is_none()
        );
        assert!(
            s.load_rotated_secret("b", "oauth.refresh_token", &origin)
                .unwrap()
                .is_none()
        );
    });
    on_each_backend(None, |s| {
        assert!(!s.has_key());
        let x = Secret::new("x");
        assert!(matches!(
            s.save_rotated_secret("a", "slot", &x, &x),
            Err(Error::NoKey(_))
        ));
    });
}

#[test]
fn a_rekey_seals_everything_under_the_new_key_or_changes_nothing() {
    let old = EncryptionKey::generate().unwrap();
    on_each_backend(Some(old.clone()), |s| {
        let new = EncryptionKey::generate().unwrap();
        s.save_account(
            "a",
            r#"{"host":"a"}"#,
            &[
                ("password", Secret::new("pa")),
                ("token", Secret::new("ta")),
            ],
        )
        .unwrap();
        s.save_account("b", "{}", &[]).unwrap();
        let origin = Secret::new("configured");
        s.save_rotated_secret("a", "oauth.refresh_token", &origin, &Secret::new("rotated"))
            .unwrap();

        let wrong = EncryptionKey::generate().unwrap();
        assert!(matches!(s.rekey(&wrong, &new), Err(Error::WrongKey)));
        assert_eq!(
            s.load_account("a").unwrap().unwrap().secrets["password"].expose(),
            "pa"
        );

        assert_eq!(
            s.rekey(&old, &new).unwrap(),
            3,
            "two secrets and one rotated secret"
        );
        let a = s.load_account("a").unwrap().unwrap();
        assert_eq!(
            (a.secrets["password"].expose(), a.config_json.as_str()),
            ("pa", r#"{"host":"a"}"#)
        );
        assert_eq!(s.load_account("b").unwrap().unwrap().config_json, "{}");
        let rotated = s
            .load_rotated_secret("a", "oauth.refresh_token", &origin)
            .unwrap();
        assert_eq!(rotated.unwrap().expose(), "rotated");
    });
}

#[test]
fn outbox_events_are_fanned_out_claimed_and_finished() {
    use inbound_store::{
        DeliveryFilter, DeliveryOutcome, DeliveryState, RetrySelection, TargetSpec,
    };
    on_each_backend(None, |s| {
        // Seen before any event: both targets get everything from here on.
        let only_b = ["b".to_owned()];
        let targets = [
            TargetSpec {
                name: "hook",
                accounts: None,
            },
            TargetSpec {
                name: "web",
                accounts: Some(&only_b[..]),
            },
        ];
        assert_eq!(s.fan_out_events(&targets, 100).unwrap(), 0);
        let (ea, eb) = (mail("for a", None), mail("for b", None));
        s.insert_message(&NewMessage::new("a", "INBOX", &imap(1), &ea))
            .unwrap();
        s.insert_message(&NewMessage::new("b", "INBOX", &imap(1), &eb))
            .unwrap();
        let id = s
            .record_event("account.failed", "b", Some(r#"{"error":"x"}"#))
            .unwrap();
        assert!(id.starts_with("evt_"));
        assert!(s.has_new_events().unwrap());
        assert_eq!(
            s.fan_out_events(&targets, 100).unwrap(),
            5,
            "3 for hook, 2 for web"
        );
        assert!(!s.has_new_events().unwrap());
        assert_eq!(s.fan_out_events(&targets, 100).unwrap(), 0);

        let now = inbound_store::outbox::now_ms();
        let claimed = s.claim_due_deliveries(&["hook"], now, 30_000, 2).unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(
            claimed
                .iter()
                .all(|d| d.target == "hook" && d.attempts == 1)
        );
        assert_eq!(claimed[0].event.kind, "message.received");
        // Leased: not claimed again until the lease ends.
        let rest = s.claim_due_deliveries(&["hook"], now, 30_000, 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].event.data.as_deref(), Some(r#"{"error":"x"}"#));
        assert!(
            s.claim_due_deliveries(&["hook"], now, 30_000, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.next_delivery_due(&["hook"]).unwrap(), Some(now + 30_000));

        s.finish_deliveries(&[
            DeliveryOutcome {
                id: claimed[0].id,
                state: DeliveryState::Done,
                next_at_ms: None,
                status: Some(200),
                error: None,
            },
            DeliveryOutcome {
                id: claimed[1].id,
                state: DeliveryState::Pending,
                next_at_ms: Some(now + 5),
                status: Some(503),
                error: Some("busy".into()),
            },
        ])
        .unwrap();
        s.delivery_dead(rest[0].id, None, "refused").unwrap();
        let failed = s.list_deliveries(DeliveryFilter::Failed, 10).unwrap();
        let view: Vec<_> = failed
            .iter()
            .map(|d| (d.id, d.state, d.last_status, d.last_error.clone()))
            .collect();
        assert_eq!(
            view,
            [
                (
                    claimed[1].id,
                    DeliveryState::Pending,
                    Some(503),
                    Some("busy".to_owned())
                ),
                (
                    rest[0].id,
                    DeliveryState::Dead,
                    None,
                    Some("refused".to_owned())
                ),
            ]
        );
        assert_eq!(s.list_deliveries(DeliveryFilter::All, 10).unwrap().len(), 5);

        assert_eq!(s.stop_target("web", "410 Gone").unwrap(), 2);
        assert_eq!(
            s.target_stopped("web").unwrap().as_deref(),
            Some("410 Gone")
        );
        assert_eq!(s.target_stopped("hook").unwrap(), None);
        assert_eq!(
            s.list_deliveries(DeliveryFilter::Dead, 10).unwrap().len(),
            3
        );
        assert_eq!(s.retry_deliveries(RetrySelection::AllDead).unwrap(), 3);
        assert_eq!(s.target_stopped("web").unwrap(), None);
        assert!(
            s.list_deliveries(DeliveryFilter::Dead, 10)
                .unwrap()
                .is_empty()
        );
        s.delivery_retry(claimed[1].id, None, "again", now + 9)
            .unwrap();
        s.delivery_done(claimed[1].id, Some(204)).unwrap();
        assert_eq!(
            s.retry_deliveries(RetrySelection::One(claimed[1].id))
                .unwrap(),
            1
        );
    });
}

#[test]
fn a_nul_in_a_header_or_an_error_does_not_stop_storing() {
    // An encoded word can decode to NUL (`=?utf-8?q?a=00b?=`); PostgreSQL text cannot hold
    // one, so there it reads back as U+FFFD. The raw message is kept exactly.
    on_each_backend(None, |s| {
        let email = Email {
            subject: Some("a\0b".into()),
            message_id: Some("id\0@x".into()),
            ..mail("nul", None)
        };
        let r = imap(1);
        let stored = s
            .insert_message(
                &NewMessage::new("a", "INBOX", &r, &email)
                    .with_action(Some(&PendingAction::Delete)),
            )
            .unwrap();
        let listed = s.get_summary(stored.id).unwrap().unwrap();
        let subject = listed.subject.unwrap();
        assert!(subject == "a\0b" || subject == "a\u{FFFD}b", "{subject:?}");
        assert_eq!(
            s.export_eml(stored.id).unwrap().as_deref(),
            Some(&email.raw[..])
        );
        let pending = s.pending_actions("a").unwrap();
        s.fail_action(pending[0].id, "server said \0").unwrap();
        s.fail_imap_uids("a", "INBOX", 7, &[(2, "bad\0".into())])
            .unwrap();
        s.fail_pop3_uidl("a", "u", "bad\0").unwrap();
        assert_eq!(s.pending_actions("a").unwrap()[0].attempts, 1);
        assert_eq!(s.imap_retry("a", "INBOX", 7).unwrap().len(), 1);
    });
}

#[cfg(feature = "postgres")]
mod postgres_only {
    use super::*;
    use inbound_store::{PgConfig, PgStore, SCHEMA_VERSION};

    #[test]
    fn a_wrong_key_is_refused_and_a_moved_secret_does_not_open() {
        let Some(db) = pg_cluster::database() else {
            return;
        };
        let key = EncryptionKey::generate().unwrap();
        let mut s = open_pg(&db, Some(key.clone()));
        s.save_account("a", r#"{"host":"a"}"#, &[("password", Secret::new("pa"))])
            .unwrap();
        s.save_account("b", r#"{"host":"b"}"#, &[("password", Secret::new("pb"))])
            .unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        drop(s);

        let config = PgConfig::new(Secret::new(db.url()));
        let other = EncryptionKey::generate().unwrap();
        assert!(matches!(
            PgStore::open(&config, Some(other)),
            Err(Error::WrongKey)
        ));

        // Someone with write access to the database but no key moves b's settings to a.
        db.psql(
            "UPDATE accounts SET config = (SELECT config FROM accounts WHERE name = 'b')
             WHERE name = 'a'",
        );
        let s = PgStore::open(&config, Some(key)).unwrap();
        assert!(matches!(
            s.load_account("a"),
            Err(Error::AccountTampered { .. })
        ));
        assert_eq!(
            s.load_account("b").unwrap().unwrap().secrets["password"].expose(),
            "pb"
        );
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let Some(db) = pg_cluster::database() else {
            return;
        };
        drop(open_pg(&db, None));
        // Opening again migrates nothing.
        drop(open_pg(&db, None));
        db.psql("UPDATE inbound_schema SET version = 99");
        let config = PgConfig::new(Secret::new(db.url()));
        assert!(matches!(
            PgStore::open(&config, None),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn two_processes_storing_the_same_message_at_once_store_it_once() {
        let Some(db) = pg_cluster::database() else {
            return;
        };
        let email = mail("race", None);
        let r = imap(1);
        let outcomes: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    // Each its own store and pool, as separate processes would have.
                    let mut s = open_pg(&db, None);
                    let (email, r) = (&email, &r);
                    scope.spawn(move || {
                        (0..20)
                            .map(|_| {
                                s.insert_message(
                                    &NewMessage::new("a", "INBOX", r, email)
                                        .with_action(Some(&PendingAction::Delete)),
                                )
                                .unwrap()
                                .created
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(outcomes.iter().filter(|c| **c).count(), 1);
        let s = open_pg(&db, None);
        assert_eq!(s.count_messages(&MessageFilter::default()).unwrap(), 1);
        assert_eq!(s.list_events(10).unwrap().len(), 1);
        assert_eq!(s.pending_actions("a").unwrap().len(), 1);
    }

    #[test]
    fn two_deliverers_never_claim_the_same_delivery() {
        use inbound_store::TargetSpec;
        let Some(db) = pg_cluster::database() else {
            return;
        };
        let mut s = open_pg(&db, None);
        let targets = [TargetSpec {
            name: "hook",
            accounts: None,
        }];
        s.fan_out_events(&targets, 10).unwrap();
        for i in 0..40 {
            s.record_event("account.failed", "a", Some(&format!("{{\"n\":{i}}}")))
                .unwrap();
        }
        assert_eq!(s.fan_out_events(&targets, 100).unwrap(), 40);
        let now = inbound_store::outbox::now_ms();
        let claimed: Vec<i64> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let mut s = open_pg(&db, None);
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let batch = s.claim_due_deliveries(&["hook"], now, 60_000, 3).unwrap();
                            if batch.is_empty() {
                                break mine;
                            }
                            mine.extend(batch.iter().map(|d| d.id));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let distinct: HashSet<i64> = claimed.iter().copied().collect();
        assert_eq!((claimed.len(), distinct.len()), (40, 40));
    }

    #[test]
    fn the_store_works_from_inside_an_async_task() {
        // The retrieval pipeline calls the store from its tasks; this must not panic
        // (no runtime nested in another) and must not deadlock on a one-thread runtime.
        let Some(db) = pg_cluster::database() else {
            return;
        };
        let mut s = open_pg(&db, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let count = runtime.block_on(async move {
            let email = mail("async", None);
            s.insert_message(&NewMessage::new("a", "INBOX", &imap(1), &email))
                .unwrap();
            let count = s.count_messages(&MessageFilter::default()).unwrap();
            drop(s); // dropped inside the task too
            count
        });
        assert_eq!(count, 1);
    }

    #[test]
    fn tls_is_used_and_the_server_certificate_checked() {
        let Some(db) = pg_cluster::database() else {
            return;
        };
        let mut config = PgConfig::new(Secret::new(db.url_with("require")));
        // Not issued by a trusted CA: refused.
        assert!(matches!(
            PgStore::open(&config, None),
            Err(Error::Postgres(_))
        ));
        config.ca_file = Some(db.ca_file());
        let s = PgStore::open(&config, None).unwrap();
        assert_eq!(s.count_messages(&MessageFilter::default()).unwrap(), 0);
        // The pool's idle connection is the store's, over TLS.
        let encrypted = db.psql(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE s.ssl AND a.application_name = 'inbound'",
        );
        assert_eq!(encrypted, "1");
        let missing = PgConfig {
            ca_file: Some(db.ca_file().with_extension("missing")),
            ..config
        };
        assert!(matches!(PgStore::open(&missing, None), Err(Error::Tls(_))));
    }

    #[test]
    fn the_password_in_the_url_never_shows() {
        let config = PgConfig::new(Secret::new(
            "postgresql://inbound:hunter2-secret@127.0.0.1:1/db?sslmode=disable",
        ));
        assert!(!format!("{config:?}").contains("hunter2"));
        let error = PgStore::open(&config, None).unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"), "{error}");
        let bad = PgConfig::new(Secret::new("postgresql://u:hunter2@host:notaport/db"));
        let error = PgStore::open(&bad, None).unwrap_err();
        assert!(matches!(error, Error::InvalidUrl(_)));
        assert!(!format!("{error} {error:?}").contains("hunter2"), "{error}");
    }
}

#[test]
fn needs_login_marks_and_listed_actions_are_kept_per_account() {
    let key = EncryptionKey::generate().unwrap();
    on_each_backend(Some(key), |s| {
        assert_eq!(s.needs_login("work").unwrap(), None);
        s.mark_needs_login("work", "invalid_grant: revoked")
            .unwrap();
        s.mark_needs_login("home", "invalid_grant").unwrap();
        let work = s.needs_login("work").unwrap().unwrap();
        assert_eq!(work.reason, "invalid_grant: revoked");
        assert!(work.since_ms > 0);
        let names: Vec<String> = s
            .accounts_needing_login()
            .unwrap()
            .into_iter()
            .map(|n| n.account)
            .collect();
        assert_eq!(names, ["home", "work"]);
        assert!(s.clear_needs_login("work").unwrap());
        assert!(!s.clear_needs_login("work").unwrap());
        s.save_account("home", "{}", &[]).unwrap();
        assert!(s.remove_account("home").unwrap());
        assert_eq!(s.needs_login("home").unwrap(), None);

        let (a, b) = (mail("a", None), mail("b", None));
        let archive = PendingAction::MoveTo("Archive".into());
        let first = s
            .insert_message(
                &NewMessage::new("x", "INBOX", &imap(1), &a).with_action(Some(&archive)),
            )
            .unwrap();
        let second = s
            .insert_message(&NewMessage::new("x", "INBOX", &imap(2), &b))
            .unwrap();
        let of = s.pending_actions_of(&[first.id, second.id]).unwrap();
        assert_eq!(of.get(&first.id), Some(&archive));
        assert_eq!(of.get(&second.id), None);
        assert!(s.pending_actions_of(&[]).unwrap().is_empty());
    });
}
