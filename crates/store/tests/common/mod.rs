//! Messages built by hand for the store tests (no parser involved).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use inbound_message::{Address, Attachment, Email, Header, Warning};

pub fn addr(name: Option<&str>, address: &str) -> Address {
    Address {
        name: name.map(String::from),
        address: address.into(),
    }
}

pub fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

pub fn attachment(
    filename: Option<&str>,
    content_type: &str,
    content_id: Option<&str>,
    inline: bool,
    content: impl Into<Bytes>,
) -> Attachment {
    Attachment {
        filename: filename.map(String::from),
        content_type: content_type.into(),
        content_id: content_id.map(String::from),
        inline,
        content: content.into(),
    }
}

/// A varied set of messages: every field used, unusual text, binary data, repeats.
pub fn corpus() -> Vec<Email> {
    let logo: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    vec![
        // Everything empty but the raw bytes (a message the parser could not read).
        Email {
            warnings: vec![Warning {
                kind: "unparsable".into(),
                detail: "no header/body separator".into(),
            }],
            raw: Bytes::from_static(b"\xff\xfe garbage \x00 without headers"),
            ..Email::default()
        },
        // Every field set, with awkward text.
        Email {
            message_id: Some("abc.123@example.com".into()),
            subject: Some("Re: Grüße — \"quoted\", 'single' \\ back\tslash 😀".into()),
            from: vec![addr(Some("Zoë O'Neil"), "zoe@example.com")],
            sender: Some(addr(Some("List Bot"), "bot@lists.example.org")),
            reply_to: vec![addr(None, "list@lists.example.org"), addr(Some(""), "")],
            to: vec![
                addr(Some("Ann"), "ann@example.com"),
                addr(None, "bob@example.net"),
            ],
            cc: vec![addr(Some("日本語の名前"), "nihon@example.jp")],
            bcc: vec![addr(None, "hidden@example.com")],
            date: Some(1_700_000_000),
            in_reply_to: vec!["parent@example.com".into()],
            references: vec!["root@example.com".into(), "parent@example.com".into()],
            headers: vec![
                header("Received", "from a by b; Tue, 14 Nov 2023 22:13:20 +0000"),
                header("Received", "from c by a; Tue, 14 Nov 2023 22:13:19 +0000"),
                header("X-Empty", ""),
                header("Subject", "Re: Grüße"),
            ],
            text: Some("Hello,\r\n\r\nline two\n\0nul and 😀\r\n".into()),
            html: Some("<p onclick=\"x()\">Hello <img src=\"cid:logo@x\"></p>".into()),
            attachments: vec![
                attachment(Some("logo.png"), "image/png", Some("logo@x"), true, logo.clone()),
                attachment(Some("report.pdf"), "application/pdf", None, false, &b"%PDF-1.4\n\0\x01\x02"[..]),
                // The same image attached again: its content is stored once.
                attachment(Some("logo copy.png"), "image/png", None, false, logo),
                attachment(None, "application/octet-stream", None, false, Bytes::new()),
            ],
            warnings: vec![
                Warning {
                    kind: "bad-charset".into(),
                    detail: "unknown charset x-foo, read as latin-1".into(),
                },
                Warning {
                    kind: "missing-date".into(),
                    detail: String::new(),
                },
            ],
            raw: Bytes::from_static(
                b"Message-ID: <abc.123@example.com>\r\nSubject: Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nbody\r\n",
            ),
        },
        // No date, HTML only, empty strings rather than None.
        Email {
            message_id: Some(String::new()),
            subject: Some(String::new()),
            from: vec![addr(None, "noreply@example.com")],
            html: Some(String::new()),
            text: None,
            raw: Bytes::from_static(b"From: noreply@example.com\n\n<html></html>\n"),
            ..Email::default()
        },
        // Negative date (before 1970) and many headers.
        Email {
            message_id: Some("old@example.com".into()),
            subject: Some("From the past".into()),
            date: Some(-86_400 * 365),
            headers: (0..200)
                .map(|i| header(&format!("X-H{i}"), &"v".repeat(i)))
                .collect(),
            text: Some("old".into()),
            raw: Bytes::from(vec![b'x'; 10_000]),
            ..Email::default()
        },
    ]
}

/// The deterministic message number `i` written by the crash test's child.
pub fn numbered(i: u32) -> Email {
    let size = 200_000 + (i as usize % 7) * 150_000;
    let mut content = vec![i as u8; size];
    content[..4].copy_from_slice(&i.to_be_bytes());
    Email {
        message_id: Some(format!("n{i}@crash.test")),
        subject: Some(format!("message {i}")),
        from: vec![addr(Some("Writer"), "writer@crash.test")],
        to: vec![addr(None, "reader@crash.test")],
        date: Some(1_600_000_000 + i64::from(i)),
        headers: vec![header("Subject", &format!("message {i}"))],
        text: Some(format!("body of {i}\r\n").repeat(100)),
        attachments: vec![
            attachment(
                Some("a.bin"),
                "application/octet-stream",
                None,
                false,
                content.clone(),
            ),
            attachment(
                Some("b.bin"),
                "application/octet-stream",
                None,
                false,
                content[..size / 2].to_vec(),
            ),
        ],
        raw: Bytes::from(format!(
            "Subject: message {i}\r\n\r\n{}",
            "r".repeat(size / 3)
        )),
        ..Email::default()
    }
}
