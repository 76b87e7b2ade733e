//! The corpus under `tests/corpus/`: every message parsed (as stored with LF line ends, and
//! again with CRLF) and every field compared with what the message says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use inbound_message::{Address, Attachment, Email, Header, InlineImages, SanitizeConfig, Warning};

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Parses the corpus file with LF and with CRLF line ends; text bodies are compared with
/// line ends normalized to LF.
fn both(name: &str, check: impl Fn(&Email)) {
    let lf = load(name);
    for raw in [lf.clone(), crlf(&lf)] {
        let email = Email::parse(raw.clone());
        assert_eq!(email.raw, Bytes::from(raw), "{name}: raw kept");
        let mut normalized = email.clone();
        normalized.text = email.text.as_ref().map(|t| t.replace("\r\n", "\n"));
        normalized.html = email.html.as_ref().map(|t| t.replace("\r\n", "\n"));
        check(&normalized);
    }
}

fn addr(name: Option<&str>, address: &str) -> Address {
    Address {
        name: name.map(str::to_owned),
        address: address.to_owned(),
    }
}

fn header_names(email: &Email) -> Vec<&str> {
    email.headers.iter().map(|h| h.name.as_str()).collect()
}

fn header<'a>(email: &'a Email, name: &str) -> &'a str {
    &email
        .headers
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("no header {name}"))
        .value
}

fn kinds(email: &Email) -> Vec<&str> {
    email.warnings.iter().map(|w| w.kind.as_str()).collect()
}

#[test]
fn plain() {
    both("plain.eml", |e| {
        assert_eq!(e.message_id.as_deref(), Some("plain-1@example.org"));
        assert_eq!(e.subject.as_deref(), Some("Lunch on Friday?"));
        assert_eq!(e.from, [addr(Some("Ann Example"), "ann@example.org")]);
        assert_eq!(e.sender, Some(addr(Some("Secretary"), "sec@example.org")));
        assert_eq!(
            e.reply_to,
            [
                addr(None, "replies@example.org"),
                addr(Some("Other, Person"), "other@example.org")
            ]
        );
        // The group "Friends:" is flattened into the list.
        assert_eq!(
            e.to,
            [
                addr(Some("Bob"), "bob@example.net"),
                addr(None, "carol@example.com"),
                addr(Some("Dan"), "dan@example.com")
            ]
        );
        assert_eq!(e.cc, [addr(None, "eve@example.com")]);
        assert_eq!(e.bcc, [addr(None, "hidden@example.com")]);
        assert_eq!(e.date, Some(1_751_364_000));
        assert_eq!(e.in_reply_to, ["orig-1@example.net"]);
        assert_eq!(e.references, ["root-1@example.net", "orig-1@example.net"]);
        assert_eq!(
            header_names(e),
            [
                "Return-Path",
                "Received",
                "From",
                "Sender",
                "Reply-To",
                "To",
                "Cc",
                "Bcc",
                "Subject",
                "Date",
                "Message-ID",
                "In-Reply-To",
                "References",
                "X-Custom-Header",
                "MIME-Version",
                "Content-Type"
            ]
        );
        assert_eq!(
            header(e, "Received"),
            "from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.net with ESMTPS \
             id abc123 for <bob@example.net>; Tue, 01 Jul 2025 12:00:01 +0200"
        );
        assert_eq!(
            header(e, "References"),
            "<root-1@example.net> <orig-1@example.net>"
        );
        assert_eq!(header(e, "X-Custom-Header"), "kept as written");
        assert_eq!(
            e.text.as_deref(),
            Some("Hi Bob,\n\nLunch on Friday at noon?\n\nAnn\n")
        );
        assert_eq!(e.html, None);
        assert!(e.attachments.is_empty());
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

#[test]
fn html_latin1_quoted_printable() {
    both("html.eml", |e| {
        assert_eq!(e.message_id.as_deref(), Some("html-1@example.org"));
        assert_eq!(e.subject.as_deref(), Some("Nouveautés de la semaine"));
        assert_eq!(e.from, [addr(None, "news@example.org")]);
        assert_eq!(e.to, [addr(None, "bob@example.net")]);
        assert_eq!(e.sender, None);
        assert!(e.reply_to.is_empty() && e.cc.is_empty() && e.bcc.is_empty());
        assert_eq!(e.date, Some(1_751_459_400));
        assert_eq!(e.text, None);
        assert_eq!(
            e.html.as_deref(),
            Some("<html><body><h1>Nouveautés</h1><p>Café crème à volonté.</p></body></html>\n")
        );
        assert!(e.attachments.is_empty());
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

#[test]
fn alternative_with_encoded_words() {
    both("alternative.eml", |e| {
        assert_eq!(e.message_id.as_deref(), Some("alt-1@example.de"));
        // Two adjacent encoded words join without the space between them (RFC 2047 6.2).
        assert_eq!(e.subject.as_deref(), Some("Grüße aus München 🍷"));
        assert_eq!(e.from, [addr(Some("Jürgen Müller"), "juergen@example.de")]);
        assert_eq!(e.to, [addr(Some("Zoë"), "zoe@example.com")]);
        assert_eq!(header(e, "From"), "Jürgen Müller <juergen@example.de>");
        assert_eq!(e.date, Some(1_751_534_130));
        assert_eq!(e.text.as_deref(), Some("Grüße aus München 🍷\nBis bald!\n"));
        assert_eq!(
            e.html.as_deref(),
            Some("<p>Grüße aus <b>München</b> 🍷</p>")
        );
        assert!(e.attachments.is_empty());
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0fake-png-body";

#[test]
fn nested_multipart() {
    both("nested.eml", |e| {
        assert_eq!(e.subject.as_deref(), Some("Report with logo"));
        assert_eq!(e.date, Some(1_751_643_900));
        assert_eq!(e.text.as_deref(), Some("See the report attached."));
        assert_eq!(
            e.html.as_deref(),
            Some(r#"<p>See the report attached.</p><img src="cid:logo@example.org" alt="logo">"#)
        );
        assert_eq!(
            e.attachments,
            [
                Attachment {
                    filename: None,
                    content_type: "image/png".into(),
                    content_id: Some("logo@example.org".into()),
                    // No Content-Disposition, but the HTML shows it.
                    inline: true,
                    content: Bytes::from_static(PNG),
                },
                Attachment {
                    filename: Some("report.pdf".into()),
                    content_type: "application/pdf".into(),
                    content_id: None,
                    inline: false,
                    content: Bytes::from_static(
                        b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
                    ),
                },
            ]
        );
        assert_eq!(e.attachments[1].size(), 48);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

#[test]
fn attachments_with_encoded_and_long_names() {
    let long = "Quarterly financial statement for the fiscal year 2024 prepared by the accounting \
                department of the northern region including all annexes and appendices and the \
                auditors notes on revenue recognition and deferred tax assets final version \
                approved.xlsx";
    both("attachments.eml", |e| {
        assert_eq!(e.text.as_deref(), Some("Four files."));
        let got: Vec<(Option<&str>, &str, &[u8], bool)> = e
            .attachments
            .iter()
            .map(|a| {
                (
                    a.filename.as_deref(),
                    a.content_type.as_str(),
                    &a.content[..],
                    a.inline,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // RFC 2231 extended value.
                (
                    Some("übersicht €.txt"),
                    "application/octet-stream",
                    &b"one"[..],
                    false
                ),
                // RFC 2231 continuations, encoded and plain sections.
                (
                    Some("日本語のファイル.bin"),
                    "application/octet-stream",
                    b"two",
                    false
                ),
                // RFC 2047 encoded word in Content-Type name.
                (Some("Привет мир.pdf"), "application/pdf", b"three", false),
                // The name only in Content-Type, long, with a long media type.
                (
                    Some(long),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    b"four",
                    false
                ),
                // A Latin-1 text file keeps its own bytes.
                (Some("notes.txt"), "text/plain", b"na\xefve caf\xe9", false),
            ]
        );
        assert!(e.attachments.iter().all(|a| a.content_id.is_none()));
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

const GIF: &[u8] =
    b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";

#[test]
fn inline_images() {
    both("inline_images.eml", |e| {
        assert_eq!(e.date, Some(1_751_857_200));
        assert_eq!(e.text, None);
        let summary: Vec<_> = e
            .attachments
            .iter()
            .map(|a| {
                (
                    a.filename.as_deref(),
                    a.content_type.as_str(),
                    a.content_id.as_deref(),
                    a.inline,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Some("dot.gif"), "image/gif", Some("dot.gif@local"), true),
                (None, "image/jpeg", Some("pic@local"), true),
                (Some("unused.png"), "image/png", Some("unused@local"), false),
            ]
        );
        assert_eq!(&e.attachments[0].content[..], GIF);
        assert_eq!(
            &e.attachments[1].content[..],
            b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
        );
        assert_eq!(&e.attachments[2].content[..], PNG);

        assert_eq!(
            e.attachment_by_cid("dot.gif@local")
                .unwrap()
                .filename
                .as_deref(),
            Some("dot.gif")
        );
        assert_eq!(
            e.attachment_by_cid("cid:pic%40local").unwrap().content_type,
            "image/jpeg"
        );
        assert_eq!(
            e.attachment_by_cid("<PIC@LOCAL>").unwrap().content_type,
            "image/jpeg"
        );
        assert!(e.attachment_by_cid("nope@local").is_none());

        let keep = e
            .sanitized_html(&InlineImages::Keep, &SanitizeConfig::default())
            .unwrap();
        assert!(keep.contains(r#"src="cid:dot.gif@local""#), "{keep}");

        let rewritten = e
            .sanitized_html(
                &InlineImages::RewriteCid("/attachments/{message_id}/{index}?n={filename}"),
                &SanitizeConfig::default(),
            )
            .unwrap();
        assert_eq!(
            rewritten,
            r#"<div><img src="/attachments/inline-1%40example.org/0?n=dot.gif"><img src="/attachments/inline-1%40example.org/1?n="><p style="color:red">x</p></div>"#
        );

        let with = |i: usize, a: &Attachment| format!("https://cdn.example/{i}/{}", a.content_type);
        let closure = e
            .sanitized_html(
                &InlineImages::RewriteCidWith(&with),
                &SanitizeConfig::default(),
            )
            .unwrap();
        assert!(
            closure.contains(r#"src="https://cdn.example/0/image/gif""#),
            "{closure}"
        );
        assert!(
            closure.contains(r#"src="https://cdn.example/1/image/jpeg""#),
            "{closure}"
        );

        let data = e
            .sanitized_html(&InlineImages::DataUrl, &SanitizeConfig::default())
            .unwrap();
        assert!(
            data.contains(
                r#"src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=""#
            ),
            "{data}"
        );
        assert!(
            data.contains("data:image/jpeg;base64,/9j/4GZha2UtanBlZ//Z"),
            "{data}"
        );

        // Without sanitizing, the rewrite leaves everything else as sent.
        let raw_html = e
            .html_with_inline_images(&InlineImages::RewriteCid("/a/{index}"))
            .unwrap();
        assert_eq!(
            raw_html,
            r#"<div><img src="/a/0"><img src='/a/1'><p style="color: red">x</p></div>"#
        );
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    });
}

#[test]
fn broken_mime_is_kept_with_warnings() {
    both("broken_mime.eml", |e| {
        assert_eq!(e.subject.as_deref(), Some("Broken"));
        assert_eq!(e.from, [addr(Some("Broken Sender"), "broken@example.org")]);
        assert_eq!(e.message_id, None);
        assert_eq!(e.date, None);
        assert_eq!(header(e, "Date"), "not a date at all");
        assert_eq!(e.text.as_deref(), Some("Body text survives."));
        assert_eq!(e.attachments.len(), 1);
        let bad = &e.attachments[0];
        assert_eq!(bad.filename.as_deref(), Some("bad.bin"));
        assert_eq!(bad.content_type, "application/octet-stream");
        assert_eq!(
            std::str::from_utf8(&bad.content).unwrap().trim_end(),
            "!!!! this is not base64 @@@@"
        );
        assert_eq!(
            kinds(e),
            [
                Warning::MISSING_MESSAGE_ID,
                Warning::BAD_DATE,
                Warning::BAD_CHARSET,
                Warning::BROKEN_MIME
            ]
        );
        assert!(e.warnings[1].detail.contains("not a date at all"));
        assert!(e.warnings[2].detail.contains("x-unknown-charset"));
    });
}

#[test]
fn eight_bit_headers() {
    both("eight_bit_headers.eml", |e| {
        assert_eq!(e.subject.as_deref(), Some("Grüße — 日本語の件名"));
        assert_eq!(e.from, [addr(Some("Jürgen Müller"), "juergen@example.de")]);
        assert_eq!(e.to, [addr(Some("山田太郎"), "taro@example.jp")]);
        assert_eq!(e.date, Some(1_751_839_627));
        assert_eq!(e.message_id.as_deref(), Some("8bit-1@example.de"));
        assert_eq!(header(e, "X-Legacy"), "café crème");
        assert_eq!(e.text.as_deref(), Some("Grüße, Jürgen\n"));
        assert_eq!(kinds(e), [Warning::BAD_HEADER_ENCODING]);
        assert!(e.warnings[0].detail.contains("X-Legacy"));
    });
}

#[test]
fn fifty_megabyte_attachment() {
    use base64::Engine as _;
    let size = 50 * 1024 * 1024;
    let content: Vec<u8> = (0..size)
        .map(|i: usize| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let mut raw = String::with_capacity(encoded.len() * 78 / 76 + 1024);
    raw.push_str(
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <big@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n\
         --X\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --X\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    for line in encoded.as_bytes().chunks(76) {
        raw.push_str(std::str::from_utf8(line).unwrap());
        raw.push_str("\r\n");
    }
    raw.push_str("--X--\r\n");
    let email = Email::parse(raw);
    assert!(email.warnings.is_empty(), "{:?}", email.warnings);
    assert_eq!(email.text.as_deref(), Some("see attached"));
    assert_eq!(email.attachments.len(), 1);
    let a = &email.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("big.bin"));
    assert_eq!(a.size(), size);
    assert!(a.content == content, "content differs");
}

#[test]
fn unencoded_attachment_shares_the_raw_buffer() {
    let raw = Bytes::from_static(
        b"From: a@example.org\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <z@x>\r\n\
          Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
          Content-Type: text/plain\r\n\r\nhi\r\n--B\r\n\
          Content-Type: application/octet-stream; name=\"x.bin\"\r\n\
          Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02binary\xff\r\n--B--\r\n",
    );
    let email = Email::parse(raw.clone());
    assert_eq!(&email.attachments[0].content[..], b"\x00\x01\x02binary\xff");
    let range = raw.as_ptr_range();
    assert!(
        range.contains(&email.attachments[0].content.as_ptr()),
        "copied, not shared"
    );
}

#[test]
fn garbage_and_empty_input_are_kept() {
    let empty = Email::parse(Bytes::new());
    assert_eq!(kinds(&empty), [Warning::EMPTY]);

    let garbage: &[u8] = b"\x00\x01\x02 no colon here and no line end";
    let e = Email::parse(garbage);
    assert_eq!(kinds(&e), [Warning::UNPARSABLE]);
    assert_eq!(&e.raw[..], garbage);
    assert!(e.headers.is_empty() && e.text.is_none());

    let body_only = Email::parse(&b"\r\nJust a body, no header fields.\r\n"[..]);
    assert_eq!(kinds(&body_only), [Warning::NO_HEADERS]);
    assert_eq!(
        body_only.text.as_deref(),
        Some("Just a body, no header fields.\r\n")
    );
}

#[test]
fn missing_envelope_headers_are_warned_once_each() {
    let e = Email::parse(&b"Subject: only a subject\r\n\r\nbody\r\n"[..]);
    assert_eq!(
        kinds(&e),
        [
            Warning::MISSING_MESSAGE_ID,
            Warning::MISSING_DATE,
            Warning::MISSING_FROM
        ]
    );
    assert_eq!(
        e.headers,
        [Header {
            name: "Subject".into(),
            value: "only a subject".into()
        }]
    );
    let e = Email::parse(
        &b"From: a@b\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <>\r\n\r\nx"[..],
    );
    assert_eq!(kinds(&e), [Warning::BAD_MESSAGE_ID]);
}

#[test]
fn headers_only_message() {
    let e = Email::parse(&b"From: a@example.org\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <h@x>\r\nSubject: no body"[..]);
    assert_eq!(e.subject.as_deref(), Some("no body"));
    assert_eq!(e.from, [addr(None, "a@example.org")]);
}

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes give an `Email` keeping them whole, without a panic.
        #[test]
        fn any_bytes_are_kept(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
            let email = Email::parse(raw.clone());
            prop_assert_eq!(&email.raw[..], &raw[..]);
        }

        /// Mail-shaped input: header lines, boundaries and encodings in random order.
        #[test]
        fn mail_shaped_input_is_kept(lines in prop::collection::vec(prop::sample::select(vec![
            "From: a@b\r\n", "Subject: =?UTF-8?B?w6k=?=\r\n", "Content-Type: multipart/mixed; boundary=x\r\n",
            "Content-Type: text/html; charset=bogus\r\n", "Content-Transfer-Encoding: base64\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n", "Content-Type: message/rfc822\r\n",
            "\r\n", "--x\r\n", "--x--\r\n", "=C3=A9=\r\n", "!!notbase64\r\n", "aGVsbG8=\r\n",
            " folded\r\n", "<img src=cid:a>\r\n", "Content-ID: <a>\r\n",
        ]), 0..40)) {
            let raw = lines.concat();
            let email = Email::parse(raw.clone());
            prop_assert_eq!(&email.raw[..], raw.as_bytes());
            let _ = email.sanitized_html(&InlineImages::DataUrl, &SanitizeConfig::default());
        }
    }
}
