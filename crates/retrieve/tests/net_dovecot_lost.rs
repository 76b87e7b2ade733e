//! No mail lost against a real Dovecot: a POP3 UIDL reused after the mailbox was rebuilt
//! (`pop3_uidl_format = %u` and the index removed, so UIDs restart at 1), and deleting
//! without UIDPLUS next to another client's `\Deleted` message. Skipped (with a printed
//! reason) without Dovecot; failing instead when `INBOUND_REQUIRE_DOVECOT=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use inbound_net::Security;
use inbound_retrieve::account::FetchName;
use inbound_retrieve::{MailProtocol, NoEvents};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use net_support::*;

fn start(test: &str, user: &str, extra: &str) -> Option<Dovecot> {
    if !Dovecot::skip_unless_available(test).unwrap() {
        return None;
    }
    let config = DovecotConfig::default()
        .with_user(user, PASSWORD)
        .with_extra(extra);
    Some(Dovecot::start(config).unwrap())
}

/// How many messages a Dovecot folder holds.
fn count(d: &Dovecot, user: &str, folder: &str) -> usize {
    d.doveadm(&["search", "-u", user, "mailbox", folder, "ALL"], None)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn dovecot_account(
    d: &Dovecot,
    protocol: MailProtocol,
    user: &str,
    edit: impl FnOnce(&mut inbound_retrieve::AccountConfig),
) -> inbound_retrieve::Account {
    let (addr, port) = match protocol {
        MailProtocol::Imap => (d.imap_addr(), d.imaps_addr().port()),
        MailProtocol::Pop3 => (d.pop3_addr(), d.pop3s_addr().port()),
    };
    account(protocol, addr, user, |c| {
        tls(c, Security::Tls, port, d.ca_file());
        edit(c);
    })
}

#[tokio::test]
async fn pop3_uidl_reused_after_a_rebuild_is_stored_before_its_dele() {
    let Some(d) = start(
        "pop3_uidl_reused_after_a_rebuild_is_stored_before_its_dele",
        "rebuilt",
        "pop3_uidl_format = %u",
    ) else {
        return;
    };
    let store = new_store();
    let r = retriever(&store, 1);
    let acc = dovecot_account(&d, MailProtocol::Pop3, "rebuilt", delete_after);

    d.write_maildir("rebuilt", "INBOX", [mail(1)]).unwrap();
    r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "rebuilt"), [1]);
    assert_eq!(count(&d, "rebuilt", "INBOX"), 0);

    // The mailbox is rebuilt: its index and UID list go, so UIDs (and UIDLs) restart at 1.
    let maildir = d.dir().join("mail").join("rebuilt").join("Maildir");
    for entry in std::fs::read_dir(&maildir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with("dovecot") && entry.path().is_file() {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    d.write_maildir("rebuilt", "INBOX", [mail(2)]).unwrap();

    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "rebuilt"), [1, 2], "{report:?}");
    assert_eq!(report.deleted, 1);
    assert_eq!(count(&d, "rebuilt", "INBOX"), 0);
}

#[tokio::test]
async fn imap_delete_without_uidplus_keeps_another_clients_deleted_message() {
    let Some(d) = start(
        "imap_delete_without_uidplus_keeps_another_clients_deleted_message",
        "flagged",
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE ENABLE\n}",
    ) else {
        return;
    };
    d.write_maildir("flagged", "INBOX", (1..=3).map(mail))
        .unwrap();
    // Another client marks the oldest message \Deleted.
    d.doveadm(
        &[
            "flags",
            "add",
            "-u",
            "flagged",
            "\\Deleted",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
        None,
    )
    .unwrap();
    let store = new_store();
    let r = retriever(&store, 1);
    let acc = dovecot_account(&d, MailProtocol::Imap, "flagged", |c| {
        delete_after(c);
        set_fetch(c, FetchName::Latest, Some(2));
    });

    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(stored_numbers(&store, "flagged"), [2, 3]);
    assert_eq!(count(&d, "flagged", "INBOX"), 3, "{report:?}");
    assert!(
        report.errors.iter().any(|e| e.contains("not expunged")),
        "{report:?}"
    );
    assert_eq!(pending_count(&store, "flagged"), 2);

    d.doveadm(
        &[
            "flags",
            "remove",
            "-u",
            "flagged",
            "\\Deleted",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
        None,
    )
    .unwrap();
    let report = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(report.recovered_actions, 2, "{report:?}");
    assert_eq!(count(&d, "flagged", "INBOX"), 1);
    assert_eq!(pending_count(&store, "flagged"), 0);
}
