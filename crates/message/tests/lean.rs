//! `Email::parse_lean` indexes a large message like `Email::parse` without decoding its large
//! parts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use inbound_message::{Email, LEAN_MIN_MESSAGE};

fn base64_lines(data: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::new();
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str("\r\n");
    }
    out
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A large message with every kind of part the lean parse treats differently.
fn big_mixed() -> Vec<u8> {
    let pdf = pseudo_random(LEAN_MIN_MESSAGE + 12_345, 1);
    let png = pseudo_random(40_000, 2);
    let small = pseudo_random(300, 3);
    let csv = "a,b,c\r\n".repeat(5_000);
    let qp = "caf=C3=A9 and a long soft-broken line=\r\n continues here\r\n".repeat(1_000);
    let attached = format!(
        "From: b@example.org\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=\"in\"\r\n\r\n\
         --in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n\
         --in\r\nContent-Type: application/octet-stream; name=\"inner.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}--in--\r\n",
        base64_lines(&pseudo_random(30_000, 4))
    );
    format!(
        "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= scans\r\n\
         Message-ID: <lean@example.org>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         preamble\r\n\
         --outer\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
         --rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob, scans attached.\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <img src=\"cid:logo@x\"></p>\r\n\
         --alt--\r\n\
         --rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n{png}\
         --rel--\r\n\
         --outer\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{pdf}\
         --outer\r\nContent-Type: application/octet-stream; name=\"small.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{small}\
         --outer\r\nContent-Type: text/csv; name=\"data.csv\"\r\nContent-Disposition: attachment; filename=\"data.csv\"\r\n\r\n{csv}\r\n\
         --outer\r\nContent-Type: application/octet-stream; name=\"notes.txt\"\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n\
         --outer\r\nContent-Type: message/rfc822\r\n\r\n{attached}\r\n\
         --outer--\r\n",
        png = base64_lines(&png),
        pdf = base64_lines(&pdf),
        small = base64_lines(&small),
    )
    .into_bytes()
}

#[test]
fn a_large_message_is_indexed_as_parse_does_without_decoding_its_large_parts() {
    let raw = big_mixed();
    assert!(raw.len() >= LEAN_MIN_MESSAGE);
    let full = Email::parse(raw.clone());
    let lean = Email::parse_lean(raw);
    let e = &lean.email;

    assert_eq!(e.raw, full.raw);
    assert_eq!(e.subject.as_deref(), Some("Café scans"));
    assert_eq!(
        (&e.headers, &e.from, &e.to, e.date, &e.message_id),
        (
            &full.headers,
            &full.from,
            &full.to,
            full.date,
            &full.message_id
        )
    );
    assert_eq!((&e.text, &e.html), (&full.text, &full.html));
    assert_eq!(e.warnings, full.warnings);

    // The same attachments, in the same order, with their decoded sizes.
    let describe = |email: &Email| {
        email
            .attachments
            .iter()
            .map(|a| {
                (
                    a.filename.clone(),
                    a.content_type.clone(),
                    a.content_id.clone(),
                    a.inline,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(e), describe(&full));
    let sizes: Vec<u64> = full.attachments.iter().map(|a| a.size() as u64).collect();
    assert_eq!(lean.attachment_sizes, sizes);
    assert_eq!(full.attachments.len(), 6, "{:?}", describe(&full));

    // The large parts were not decoded; the small one was, as parse does.
    assert_eq!(lean.undecoded, 5);
    let small = e
        .attachments
        .iter()
        .find(|a| a.filename.as_deref() == Some("small.bin"))
        .unwrap();
    assert_eq!(small.content, pseudo_random(300, 3));
    let pdf = e
        .attachments
        .iter()
        .find(|a| a.filename.as_deref() == Some("scan.pdf"))
        .unwrap();
    assert!(pdf.content.is_empty());
}

#[test]
fn a_small_message_is_parsed_whole() {
    let raw = b"Subject: hi\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n";
    let lean = Email::parse_lean(&raw[..]);
    assert_eq!(lean.email, Email::parse(&raw[..]));
    assert_eq!(lean.attachment_sizes, vec![5]);
    assert_eq!(lean.undecoded, 0);
}

#[test]
fn a_large_message_without_structure_is_parsed_whole() {
    // No header section end, a multipart without its boundary, a truncated part: whatever
    // the walk cannot follow is parsed whole, never lost.
    let body = "x".repeat(LEAN_MIN_MESSAGE);
    for raw in [
        format!("Subject: only headers {body}"),
        format!("Subject: s\r\nContent-Type: multipart/mixed\r\n\r\n{body}"),
        format!(
            "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n\r\n{body}"
        ),
    ] {
        let full = Email::parse(raw.clone());
        let lean = Email::parse_lean(raw.clone());
        assert_eq!(lean.email.text, full.text);
        assert_eq!(lean.email.raw, full.raw);
        let sizes: Vec<u64> = full.attachments.iter().map(|a| a.size() as u64).collect();
        assert_eq!(lean.attachment_sizes, sizes);
    }
}
