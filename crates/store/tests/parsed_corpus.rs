//! The message corpus of inbound-message, parsed for real, goes through parse -> store ->
//! reopen -> load (parsed again, sanitized on read) with every field compared, plus a parsed
//! 50 MB attachment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use inbound_message::{Email, InlineImages, SanitizeConfig};
use inbound_store::{MessageFilter, NewMessage, SanitizeHtml, ServerRef, Store};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../message/tests/corpus")
}

#[test]
fn parsed_corpus_roundtrips_through_a_file_store() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "corpus missing: {files:?}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let mut expected = Vec::new();
    let mode = SanitizeHtml::rewrite_cid("/att/{index}");
    {
        let mut store = Store::open(&path, None).unwrap();
        for (i, file) in files.iter().enumerate() {
            let email = Email::parse(std::fs::read(file).unwrap());
            let html = email.sanitized_html(
                &InlineImages::RewriteCid("/att/{index}"),
                &SanitizeConfig::default(),
            );
            let server_ref = ServerRef::Pop3 {
                uidl: format!("uidl-{i}"),
            };
            let stored = store
                .insert_message(
                    &NewMessage::new("acct", "INBOX", &server_ref, &email)
                        .with_sanitize(Some(&mode)),
                )
                .unwrap();
            assert!(stored.created, "{}", file.display());
            expected.push((stored.id, email, html, file.clone()));
        }
    }

    let store = Store::open(&path, None).unwrap();
    store.integrity_check().unwrap();
    for (id, email, html, file) in &expected {
        let got = store.get_message(*id).unwrap().expect("stored");
        assert_eq!(&got.email, email, "{}", file.display());
        // Sanitized on read exactly as sanitizing before storing would have.
        assert_eq!(&got.sanitized_html, html, "{}", file.display());
        assert_eq!(got.display_html(), html.as_deref(), "{}", file.display());
        assert_eq!(
            store.export_eml(*id).unwrap().unwrap(),
            email.raw,
            "{}",
            file.display()
        );
    }
    let listed = store
        .list_messages(&MessageFilter::account("acct"))
        .unwrap();
    assert_eq!(listed.len(), files.len());
    let with_attachments = expected
        .iter()
        .filter(|(_, e, _, _)| !e.attachments.is_empty())
        .count();
    assert!(with_attachments >= 2);
    for summary in &listed {
        let (_, email, _, _) = expected.iter().find(|(id, ..)| *id == summary.id).unwrap();
        assert_eq!(summary.subject, email.subject);
        assert_eq!(summary.attachments.len(), email.attachments.len());
        for (info, a) in summary.attachments.iter().zip(&email.attachments) {
            assert_eq!(info.filename, a.filename);
            assert_eq!(info.content_type, a.content_type);
            assert_eq!(info.size, a.size() as u64);
            assert_eq!(info.inline, a.inline);
        }
    }
}

#[test]
fn parsed_fifty_megabyte_attachment_roundtrips() {
    use base64::Engine as _;
    let content: Vec<u8> = (0..50 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let mut raw = String::from(
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <big@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n\
         Content-Type: application/octet-stream; name=\"big.bin\"\r\n\
         Content-Disposition: attachment; filename=\"big.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    for line in encoded.as_bytes().chunks(76) {
        raw.push_str(std::str::from_utf8(line).unwrap());
        raw.push_str("\r\n");
    }
    raw.push_str("--B--\r\n");
    let email = Email::parse(raw.into_bytes());
    assert_eq!(email.attachments.len(), 1);
    assert_eq!(email.attachments[0].content.len(), content.len());

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("s.sqlite"), None).unwrap();
    let server_ref = ServerRef::Imap {
        uidvalidity: 1,
        uid: 1,
    };
    let id = store
        .insert_message(&NewMessage::new("acct", "INBOX", &server_ref, &email))
        .unwrap()
        .id;
    let got = store.get_message(id).unwrap().unwrap();
    assert_eq!(got.email.attachments[0].content[..], content[..]);
    assert_eq!(
        got.email.attachments[0].filename.as_deref(),
        Some("big.bin")
    );
    assert_eq!(got.email, email);
    let listed = store.list_messages(&MessageFilter::default()).unwrap();
    assert_eq!(listed[0].attachments[0].size, content.len() as u64);
}
