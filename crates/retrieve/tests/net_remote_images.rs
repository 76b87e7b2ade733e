//! `remote_images`: mail fetched from the in-process test server over IMAP and POP3 is read
//! back with remote content blocked unless the account allows it; `cid:` images stay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use bytes::Bytes;
use inbound_retrieve::account::RemoteImages;
use inbound_retrieve::{MailProtocol, NoEvents};
use inbound_store::MessageFilter;
use net_support::*;

/// A newsletter with a tracking pixel, a remote background, a remote `image-set()` and an
/// inline `cid:` logo.
fn newsletter() -> Bytes {
    Bytes::from_static(
        b"From: News <news@example.org>\r\nTo: me@example.com\r\nSubject: message 1\r\n\
          Message-ID: <1@net.example>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n\
          --R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
          <p>Sale!</p><img src=\"https://t.example/open.gif?u=me\" width=\"1\" height=\"1\">\
          <img src=\"//t.example/p.gif\"><img src=\"ftp://t.example/p.gif\">\
          <table><tr><td style=\"background-image:url(https://t.example/bg.png)\">x</td>\
          <td style=\"background-image:image-set('https://t.example/2x.png' 2x)\">y</td></tr></table>\
          <img src=\"cid:logo@news\" alt=\"logo\">\r\n\
          --R\r\nContent-Type: image/png\r\nContent-ID: <logo@news>\r\n\r\nPNG\r\n--R--\r\n",
    )
}

#[tokio::test]
async fn remote_content_is_blocked_unless_the_account_allows_it() {
    let users = ["imap-block", "imap-allow", "pop3-block", "pop3-default"];
    let server = server(&users).await;
    for user in users {
        server.store().deliver(user, "INBOX", newsletter()).unwrap();
    }
    let store = new_store();
    let r = retriever(&store, 1);
    for user in users {
        let setting = match user {
            "imap-allow" => Some(RemoteImages::Allow),
            "imap-block" | "pop3-block" => Some(RemoteImages::Block),
            _ => None,
        };
        let edit = |c: &mut inbound_retrieve::AccountConfig| {
            c.sanitize_html = Some(true);
            c.remote_images = setting;
        };
        let account = if user.starts_with("imap") {
            account(MailProtocol::Imap, server.imap_addr(), user, edit)
        } else {
            account(MailProtocol::Pop3, server.pop3_addr(), user, edit)
        };
        let report = r
            .retrieve_with_events(&account, &mut NoEvents)
            .await
            .unwrap();
        assert_eq!(report.fetched, 1, "{user}");

        let st = store.lock().unwrap();
        let id = st.list_messages(&MessageFilter::account(user)).unwrap()[0].id;
        let m = st.get_message(id).unwrap().unwrap();
        assert_eq!(m.sanitize, account.sanitize_mode(), "{user}");
        let html = m.display_html().unwrap();
        assert!(html.contains("<p>Sale!</p>"), "{user}: {html}");
        assert!(html.contains("cid:logo@news"), "{user}: {html}");
        if setting == Some(RemoteImages::Allow) {
            assert!(
                html.contains("https://t.example/open.gif"),
                "{user}: {html}"
            );
            assert!(html.contains("https://t.example/bg.png"), "{user}: {html}");
        } else {
            assert!(!html.contains("t.example"), "{user}: {html}");
        }
    }
}
