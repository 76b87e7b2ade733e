//! The store's files are private to their owner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use inbound_message::Email;
use inbound_store::{NewMessage, ServerRef, Store, file_is_shared};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_store_and_its_wal_and_shm_are_created_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.sqlite");
    let mut store = Store::open(&path, None).unwrap();
    let email = Email::parse(&b"Subject: private\r\n\r\nbody"[..]);
    let r = ServerRef::Imap {
        uidvalidity: 1,
        uid: 1,
    };
    store
        .insert_message(&NewMessage::new("a", "INBOX", &r, &email))
        .unwrap();
    let wal = dir.path().join("mail.sqlite-wal");
    let shm = dir.path().join("mail.sqlite-shm");
    for file in [&path, &wal, &shm] {
        assert!(
            file.exists(),
            "{} exists while the store is open",
            file.display()
        );
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert!(!file_is_shared(&path));
}

#[test]
fn a_shared_store_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.sqlite");
    drop(Store::open(&path, None).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(file_is_shared(&path));
    // It still opens (the command line warns about it).
    drop(Store::open(&path, None).unwrap());
}
