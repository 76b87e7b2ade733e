//! Messages for the store tests: raw messages built by hand, parsed, and envelopes set by hand.
//!
//! The store keeps a message's envelope fields and its raw bytes; headers, bodies,
//! attachments and warnings come back parsed from the raw bytes. So each message here is
//! [`reparsed`]: whatever its envelope, the rest is what its raw bytes parse to.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use bytes::Bytes;
use inbound_message::{Address, Attachment, Email, Header};

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

/// `email` with its headers, bodies, attachments and warnings replaced by what its raw bytes
/// parse to (its envelope fields kept): what the store gives back for it.
pub fn reparsed(email: Email) -> Email {
    let parsed = Email::parse(email.raw.clone());
    Email {
        headers: parsed.headers,
        text: parsed.text,
        html: parsed.html,
        attachments: parsed.attachments,
        warnings: parsed.warnings,
        ..email
    }
}

/// Base64 in 76-character lines.
pub fn base64_lines(content: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut out = String::with_capacity(encoded.len() * 78 / 76 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str("\r\n");
    }
    out
}

/// The logo attached twice to [`corpus`]'s second message.
pub fn logo() -> Vec<u8> {
    (0..=255u8).cycle().take(70_000).collect()
}

/// A varied set of messages: every field used, unusual text, binary data, repeats.
pub fn corpus() -> Vec<Email> {
    let logo = base64_lines(&logo());
    let pdf = base64_lines(b"%PDF-1.4\n\0\x01\x02");
    let full = format!(
        "Message-ID: <abc.123@example.com>\r\n\
         Subject: Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
         Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         X-Empty:\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n\
         --M\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n\
         --A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nline two\r\n\
         --A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p onclick=\"x()\">Hello <img src=\"cid:logo@x\"><script>alert(1)</script></p>\r\n\
         --A--\r\n\
         --R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n\
         Content-Disposition: inline; filename=\"logo.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{logo}--R--\r\n\
         --M\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\
         --M\r\nContent-Type: image/png\r\n\
         Content-Disposition: attachment; filename=\"logo copy.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{logo}\
         --M\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment\r\n\r\n\r\n\
         --M--\r\n"
    );
    vec![
        // Everything empty but the raw bytes (a message the parser could not read).
        Email {
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
            raw: Bytes::from(full),
            ..Email::default()
        },
        // No date, HTML only, empty strings rather than None.
        Email {
            message_id: Some(String::new()),
            subject: Some(String::new()),
            from: vec![addr(None, "noreply@example.com")],
            raw: Bytes::from_static(
                b"From: noreply@example.com\nContent-Type: text/html\n\n<html></html>\n",
            ),
            ..Email::default()
        },
        // Negative date (before 1970) and many headers.
        Email {
            message_id: Some("old@example.com".into()),
            subject: Some("From the past".into()),
            date: Some(-86_400 * 365),
            raw: Bytes::from(
                (0..200)
                    .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(i)))
                    .collect::<String>()
                    + "\r\nold",
            ),
            ..Email::default()
        },
    ]
    .into_iter()
    .map(reparsed)
    .collect()
}

/// The deterministic message number `i` written by the crash test's child: a text part and
/// two large attachments.
pub fn numbered(i: u32) -> Email {
    let size = 200_000 + (i as usize % 7) * 150_000;
    let mut content = vec![i as u8; size];
    content[..4].copy_from_slice(&i.to_be_bytes());
    let raw = format!(
        "Subject: message {i}\r\nMessage-ID: <n{i}@crash.test>\r\n\
         From: Writer <writer@crash.test>\r\nTo: reader@crash.test\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\n{}\r\n\
         --B\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"a.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\
         --B\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"b.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\
         --B--\r\n",
        format!("body of {i}\r\n").repeat(100),
        base64_lines(&content),
        base64_lines(&content[..size / 2]),
    );
    let parsed = Email::parse(raw);
    Email {
        date: Some(1_600_000_000 + i64::from(i)),
        ..parsed
    }
}
