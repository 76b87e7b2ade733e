//! The remote-images choice is stored with the message and decides what every read shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inbound_message::Email;
use inbound_store::{NewMessage, SanitizeHtml, ServerRef, Store};

const RAW: &[u8] = b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n\
    <p>Hi</p><img src=\"https://t.example/open.gif\"><img src=\"cid:logo@x\">\r\n";

#[test]
fn the_remote_images_choice_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let email = Email::parse(RAW);
    let modes = [
        SanitizeHtml::keep_cid(),
        SanitizeHtml::keep_cid().with_remote_images(true),
        SanitizeHtml::rewrite_cid("/att/{index}").with_remote_images(true),
    ];
    let mut ids = Vec::new();
    {
        let mut store = Store::open(&path, None).unwrap();
        for (uid, mode) in (1..).zip(&modes) {
            let r = ServerRef::Imap {
                uidvalidity: 1,
                uid,
            };
            let new = NewMessage::new("a", "INBOX", &r, &email).with_sanitize(Some(mode));
            ids.push(store.insert_message(&new).unwrap().id);
        }
    }
    let store = Store::open(&path, None).unwrap();
    for (id, mode) in ids.into_iter().zip(&modes) {
        let m = store.get_message(id).unwrap().unwrap();
        assert_eq!(m.sanitize.as_ref(), Some(mode));
        let html = m.display_html().unwrap();
        assert!(html.contains("<p>Hi</p>"), "{html}");
        assert_eq!(
            html.contains("https://t.example/open.gif"),
            mode.remote_images,
            "{mode:?}: {html}"
        );
    }
}
