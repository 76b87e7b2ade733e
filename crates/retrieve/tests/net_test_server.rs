//! `NetConnector` against the in-process test server: strategies and batch edges, move with
//! and without MOVE, delete on IMAP and POP3, resumable replicate-all, UIDVALIDITY changes,
//! TLS settings, BODY.PEEK and UID lists split under a server's line limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use inbound_net::{Credentials, Security};
use inbound_retrieve::account::FetchName;
use inbound_retrieve::{
    Connector, ErrorKind, ImapSession, MailProtocol, NetConnector, NoEvents, Pop3Session,
};
use inbound_test_server::faults::{DropPoint, FaultPlan, Faults};
use net_support::*;

#[tokio::test]
async fn strategies_at_batch_edges() {
    const BATCH: u32 = 4;
    let counts = [0, 1, BATCH, BATCH + 1];
    let strategies = [
        (FetchName::All, None),
        (FetchName::Latest, Some(3)),
        (FetchName::Oldest, Some(3)),
    ];
    let mut users = Vec::new();
    for p in ["imap", "pop3"] {
        for (s, _) in &strategies {
            for n in counts {
                users.push(format!("{p}-{s:?}-{n}"));
            }
        }
    }
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let server = server(&names).await;
    let store = new_store();
    let r = retriever(&store, 1);
    for protocol in [MailProtocol::Imap, MailProtocol::Pop3] {
        let p = if protocol == MailProtocol::Imap {
            "imap"
        } else {
            "pop3"
        };
        for (strategy, count) in strategies {
            for n in counts {
                let user = format!("{p}-{strategy:?}-{n}");
                if n > 0 {
                    deliver(&server, &user, "INBOX", 1..=n);
                }
                let addr = match protocol {
                    MailProtocol::Imap => server.imap_addr(),
                    MailProtocol::Pop3 => server.pop3_addr(),
                };
                let acc = account(protocol, addr, &user, |c| {
                    c.batch_size = Some(i64::from(BATCH));
                    set_fetch(c, strategy, count);
                });
                let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
                let all: Vec<u32> = (1..=n).collect();
                let expected: Vec<u32> = match (strategy, count) {
                    (FetchName::All, _) => all.clone(),
                    (FetchName::Latest, Some(k)) => {
                        all[all.len().saturating_sub(k as usize)..].to_vec()
                    }
                    (FetchName::Oldest, Some(k)) => all[..all.len().min(k as usize)].to_vec(),
                    _ => unreachable!(),
                };
                assert_eq!(stored_numbers(&store, &user), expected, "{user}");
                assert_eq!(report.fetched, expected.len() as u64, "{user}");
                // Keep: everything is still on the server.
                assert_eq!(server_numbers(&server, &user, "INBOX"), all, "{user}");

                // A second run: `oldest` takes the next ones, the others find nothing new.
                let again = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
                let second = match (strategy, count) {
                    (FetchName::Oldest, Some(k)) => {
                        (n as usize).saturating_sub(k as usize).min(k as usize)
                    }
                    _ => 0,
                };
                assert_eq!(again.fetched, second as u64, "{user}: second run");
            }
        }
    }
}

#[tokio::test]
async fn imap_fetch_does_not_mark_seen_and_keeps_bytes() {
    let server = server(&["peek"]).await;
    deliver(&server, "peek", "INBOX", 1..=3);
    let store = new_store();
    let acc = imap(&server, "peek", |_| {});
    retriever(&store, 1)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(stored_numbers(&store, "peek"), [1, 2, 3]);
    for m in server.store().messages("peek", "INBOX").unwrap() {
        assert!(m.flags.is_empty(), "flags set on the server: {:?}", m.flags);
    }
    // The raw bytes arrive unchanged (dot lines included).
    let st = store.lock().unwrap();
    let list = st
        .list_messages(&inbound_store::MessageFilter::account("peek"))
        .unwrap();
    let raw = st.get_message(list[0].id).unwrap().unwrap().email.raw;
    assert_eq!(raw, mail(number_of(&raw)));
}

#[tokio::test]
async fn imap_move_with_and_without_the_move_capability() {
    let server = server(&["with", "without"]).await;
    let proxy = Proxy::start(server.imap_addr(), true).await;
    let connector = NetConnector::new();
    for (user, addr, has_move) in [
        ("with", server.imap_addr(), true),
        ("without", proxy.addr, false),
    ] {
        deliver(&server, user, "INBOX", 1..=7);
        let acc = account(MailProtocol::Imap, addr, user, |c| {
            c.batch_size = Some(3);
            move_after(c, "Archive/Done");
        });
        let creds = Credentials::password(user, PASSWORD);
        let session = connector.connect_imap(&acc, &creds).await.unwrap();
        assert_eq!(session.capabilities().move_command, has_move, "{user}");
        assert!(session.capabilities().uidplus);
        session.logout().await.unwrap();

        let store = new_store();
        let report = retriever(&store, 1)
            .retrieve_with_events(&acc, &mut NoEvents)
            .await
            .unwrap();
        assert_eq!(report.moved, 7, "{user}");
        assert_eq!(stored_numbers(&store, user), (1..=7).collect::<Vec<_>>());
        assert!(server_numbers(&server, user, "INBOX").is_empty(), "{user}");
        assert_eq!(
            server_numbers(&server, user, "Archive/Done"),
            (1..=7).collect::<Vec<_>>(),
            "{user}"
        );
        assert_eq!(pending_count(&store, user), 0);
    }
}

#[tokio::test]
async fn imap_delete_and_uid_lists_split_under_the_line_limit() {
    let server = server(&["del", "long"]).await;
    deliver(&server, "del", "INBOX", 1..=5);
    let store = new_store();
    let acc = imap(&server, "del", |c| {
        c.batch_size = Some(2);
        delete_after(c);
    });
    let report = retriever(&store, 1)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(report.deleted, 5);
    assert!(server_numbers(&server, "del", "INBOX").is_empty());
    assert_eq!(stored_numbers(&store, "del"), [1, 2, 3, 4, 5]);

    // 300 messages, every other one already gone: UID sets like 1,3,5,...,599 that do not
    // fit in one 400-octet command line.
    for i in 1..=600 {
        server.store().deliver("long", "INBOX", mail(i)).unwrap();
    }
    {
        let mut view = server.store().select("long", "INBOX").unwrap();
        let even: Vec<u32> = (2..=600).step_by(2).collect();
        view.store_flags(
            &even,
            inbound_test_server::mailstore::FlagOp::Add,
            &[inbound_test_server::mailstore::Flag::Deleted]
                .into_iter()
                .collect(),
        )
        .unwrap();
        view.expunge(None).unwrap();
    }
    server.faults().set_default(Faults {
        max_command_len: Some(400),
        ..Faults::default()
    });
    let acc = imap(&server, "long", |c| {
        c.batch_size = Some(1000);
        delete_after(c);
    });
    // Lines of the default length are refused by this server...
    let refused = inbound_retrieve::Retriever::new(new_store(), NetConnector::new())
        .with_options(options(1))
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("refused"), "{refused}");
    // ...and split ones go through.
    let store = new_store();
    let report =
        inbound_retrieve::Retriever::new(store.clone(), NetConnector::new().with_max_line_len(400))
            .with_options(options(1))
            .retrieve_with_events(&acc, &mut NoEvents)
            .await
            .unwrap();
    assert_eq!(report.fetched, 300);
    assert_eq!(report.deleted, 300);
    assert_eq!(
        stored_numbers(&store, "long"),
        (1..=600).step_by(2).collect::<Vec<_>>()
    );
    assert!(server_numbers(&server, "long", "INBOX").is_empty());
}

#[tokio::test]
async fn pop3_deletions_happen_at_quit() {
    let server = server(&["pop"]).await;
    deliver(&server, "pop", "INBOX", 1..=4);
    let acc = pop3(&server, "pop", delete_after);
    let creds = Credentials::password("pop", PASSWORD);
    let connector = NetConnector::new();

    // DELE without QUIT deletes nothing.
    let mut session = connector.connect_pop3(&acc, &creds).await.unwrap();
    let listing = session.uidl().await.unwrap();
    assert_eq!(listing.len(), 4);
    assert_eq!(session.list().await.unwrap().len(), 4);
    let body = session.retr(1).await.unwrap();
    assert_eq!(body, mail(1), "dot-unstuffed bytes");
    session.dele(1).await.unwrap();
    drop(session);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(server_numbers(&server, "pop", "INBOX"), [1, 2, 3, 4]);

    // Pipelined retrieval.
    let mut session = connector.connect_pop3(&acc, &creds).await.unwrap();
    let mut got = Vec::new();
    session
        .retr_many(&[1, 2, 3, 4], |n, body| got.push((n, number_of(&body))))
        .await
        .unwrap();
    assert_eq!(got, [(1, 1), (2, 2), (3, 3), (4, 4)]);
    session.quit().await.unwrap();

    // A run deletes at its QUIT.
    let store = new_store();
    let report = retriever(&store, 1)
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(report.deleted, 4);
    assert!(server_numbers(&server, "pop", "INBOX").is_empty());
    assert_eq!(stored_numbers(&store, "pop"), [1, 2, 3, 4]);
}

#[tokio::test]
async fn replicate_all_resumes_after_a_drop() {
    let server = server(&["imap", "pop3"]).await;
    for protocol in [MailProtocol::Imap, MailProtocol::Pop3] {
        let user = if protocol == MailProtocol::Imap {
            "imap"
        } else {
            "pop3"
        };
        deliver(&server, user, "INBOX", 1..=12);
        let addr = match protocol {
            MailProtocol::Imap => server.imap_addr(),
            MailProtocol::Pop3 => server.pop3_addr(),
        };
        let acc = account(protocol, addr, user, |c| c.batch_size = Some(5));
        // Cut the first session after about 6 messages' worth of answers.
        let per_message = mail(10).len();
        server.faults().push_plan(FaultPlan::new(
            Faults {
                drop_at: Some(DropPoint::AfterBytes(per_message * 9 + 600)),
                ..Faults::default()
            },
            1,
        ));
        let store = new_store();
        let r = retriever(&store, 1);
        let first = r.retrieve_with_events(&acc, &mut NoEvents).await;
        let e = first.expect_err("the first run should be cut");
        eprintln!("{user}: first run: {e}");
        let kept = stored_numbers(&store, user);
        assert!(!kept.is_empty() && kept.len() < 12, "{user}: {kept:?}");
        assert_eq!(kept, (1..=kept.len() as u32).collect::<Vec<_>>());

        let second = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
        assert_eq!(second.fetched, 12 - kept.len() as u64, "{user}");
        assert_eq!(stored_numbers(&store, user), (1..=12).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn uidvalidity_change_rescans_without_duplicates() {
    let server = server(&["uv"]).await;
    server.store().create_folder("uv", "Work").unwrap();
    deliver(&server, "uv", "Work", 1..=3);
    let store = new_store();
    let acc = imap(&server, "uv", |c| c.folder = Some("Work".into()));
    let r = retriever(&store, 1);
    let first = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(first.fetched, 3);

    // The folder is re-created: same messages plus two new ones, new UIDVALIDITY.
    server.store().delete_folder("uv", "Work").unwrap();
    server.store().create_folder("uv", "Work").unwrap();
    deliver(&server, "uv", "Work", 1..=5);
    let second = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert!(second.uidvalidity_changed);
    assert_ne!(second.uidvalidity, first.uidvalidity);
    assert_eq!(second.already_stored, 3);
    assert_eq!(second.fetched, 2);
    assert_eq!(stored_numbers(&store, "uv"), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn missing_folder_and_tls_settings() {
    let server = server(&["t"]).await;
    deliver(&server, "t", "INBOX", 1..=2);
    let connector = NetConnector::new();
    let creds = Credentials::password("t", PASSWORD);

    // SELECT of a folder that does not exist.
    let acc = imap(&server, "t", |_| {});
    let mut s = connector.connect_imap(&acc, &creds).await.unwrap();
    let e = s.select("Nope").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchFolder, "{e}");
    s.create_folder("Made").await.unwrap();
    let e = s.create_folder("Made").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    let status = s.select("INBOX").await.unwrap();
    assert_eq!(status.exists, 2);
    s.logout().await.unwrap();

    let ca = server.ca_file().to_path_buf();
    let cases = [
        (
            MailProtocol::Imap,
            Security::Tls,
            server.imaps_addr().port(),
        ),
        (
            MailProtocol::Imap,
            Security::StartTls,
            server.imap_addr().port(),
        ),
        (
            MailProtocol::Pop3,
            Security::Tls,
            server.pop3s_addr().port(),
        ),
        (
            MailProtocol::Pop3,
            Security::StartTls,
            server.pop3_addr().port(),
        ),
    ];
    for (protocol, security, port) in cases {
        let trusted = account(protocol, server.imap_addr(), "t", |c| {
            tls(c, security, port, &ca);
        });
        let store = new_store();
        let report = retriever(&store, 1)
            .retrieve_with_events(&trusted, &mut NoEvents)
            .await
            .unwrap_or_else(|e| panic!("{protocol} {security:?}: {e}"));
        assert_eq!(report.fetched, 2, "{protocol} {security:?}");

        // Without the CA the certificate is refused; with the danger switch it is not.
        let untrusted = account(protocol, server.imap_addr(), "t", |c| {
            tls(c, security, port, &ca);
            c.ca_file = None;
        });
        let e = match protocol {
            MailProtocol::Imap => connector.connect_imap(&untrusted, &creds).await.map(drop),
            MailProtocol::Pop3 => connector.connect_pop3(&untrusted, &creds).await.map(drop),
        }
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        let reckless = account(protocol, server.imap_addr(), "t", |c| {
            tls(c, security, port, &ca);
            c.ca_file = None;
            c.danger_accept_invalid_certs = Some(true);
        });
        match protocol {
            MailProtocol::Imap => connector
                .connect_imap(&reckless, &creds)
                .await
                .unwrap()
                .logout()
                .await
                .unwrap(),
            MailProtocol::Pop3 => connector
                .connect_pop3(&reckless, &creds)
                .await
                .unwrap()
                .quit()
                .await
                .unwrap(),
        }
    }

    // A wrong password is an authentication error.
    let e = connector
        .connect_imap(&acc, &Credentials::password("t", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
}
