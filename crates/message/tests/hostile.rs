//! Messages built to make a reader slow or big: many parts, many `cid:` references, one
//! image referenced over and over. Their cost is bounded (the figures are in the
//! `message_store` bench); here, what a reader sees of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;

use base64::Engine as _;
use inbound_message::{Email, InlineImages, SanitizeConfig, Warning};

/// A multipart/related message: an HTML body referencing `refs`, then one PNG part per
/// content id in `ids`, each holding `image`.
fn related(refs: &[String], ids: &[String], image: &[u8]) -> Vec<u8> {
    let mut m = String::from(
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: parts\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <parts@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p>",
    );
    for r in refs {
        let _ = write!(m, "<img src=\"cid:{r}\">");
    }
    m.push_str("\r\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(image);
    for id in ids {
        let _ = write!(
            m,
            "--b\r\nContent-Type: image/png\r\nContent-ID: <{id}>\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        );
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

#[test]
fn parts_past_the_cap_are_kept_raw_with_a_warning() {
    let n = Email::MAX_PARTS + 50;
    let ids: Vec<String> = (0..n).map(|i| format!("img{i}@x")).collect();
    let refs = vec![ids[0].clone(), ids[1].clone(), ids[n - 1].clone()];
    let raw = related(&refs, &ids, b"\x89PNG\r\n\x1a\n");
    let email = Email::parse(raw.clone());

    assert_eq!(&email.raw[..], &raw[..], "the raw message is kept whole");
    assert!(
        email
            .html
            .as_deref()
            .is_some_and(|h| h.contains("<p>Hi</p>")),
        "{:?}",
        email.html
    );
    let count = email.attachments.len();
    assert!(
        (Email::MAX_PARTS - 10..Email::MAX_PARTS).contains(&count),
        "{count} attachments read"
    );
    let warning = email
        .warnings
        .iter()
        .find(|w| w.kind == Warning::TOO_MANY_PARTS)
        .unwrap_or_else(|| panic!("no too-many-parts warning: {:?}", email.warnings));
    assert!(
        warning.detail.contains(&(n + 2).to_string()) && warning.detail.contains("10000"),
        "{}",
        warning.detail
    );
    assert!(email.attachments[0].inline && email.attachments[1].inline);
    assert!(!email.attachments[2].inline, "not referenced");
    assert!(
        email.attachment_by_cid(&ids[n - 1]).is_none(),
        "a part past the cap is not read"
    );
}

#[test]
fn references_mark_parts_inline_in_any_spelling() {
    let ids = ["a@x", "B@X", "c@x", "d@x"].map(str::to_owned);
    let refs = ["%3CA@X%3E", "b@x", "D@x"].map(str::to_owned);
    let email = Email::parse(related(&refs, &ids, b"png"));
    let inline: Vec<bool> = email.attachments.iter().map(|a| a.inline).collect();
    assert_eq!(inline, [true, true, false, true]);
}

#[test]
fn data_urls_encode_each_image_once_and_stop_at_the_limit() {
    // An image whose data: URL is about a sixth of the limit, referenced twelve times.
    let image: Vec<u8> = (0..InlineImages::DATA_URL_LIMIT / 8)
        .map(|i| (i % 251) as u8)
        .collect();
    let refs = vec!["big@x".to_owned(); 12];
    let email = Email::parse(related(&refs, &["big@x".to_owned()], &image));
    let url_len = "data:image/png;base64,".len() + image.len().div_ceil(3) * 4;
    let fits = InlineImages::DATA_URL_LIMIT / url_len;
    assert!((1..12).contains(&fits), "{fits}");

    let html = email.html.clone().unwrap();
    let out = email
        .html_with_inline_images(&InlineImages::DataUrl)
        .unwrap();
    assert!(
        out.len() <= html.len() + InlineImages::DATA_URL_LIMIT,
        "{} bytes of HTML",
        out.len()
    );
    assert_eq!(out.matches("data:image/png;base64,").count(), fits);
    assert_eq!(out.matches("cid:big@x").count(), 12 - fits);

    let sanitized = email
        .sanitized_html(&InlineImages::DataUrl, &SanitizeConfig::default())
        .unwrap();
    assert_eq!(sanitized.matches("data:image/png;base64,").count(), fits);
}
