//! Parsing a large message for its index without decoding its large parts.
//!
//! [`Email::parse`] decodes every part: a message with a 75 MB base64 attachment costs the
//! raw bytes plus 56 MB of decoded content. What a store indexes (headers, bodies, attachment
//! names, types and sizes) needs none of that content, so [`Email::parse_lean`] walks the MIME
//! structure first, and parses a *skeleton* of the message in which the body of every large
//! part that is not a text body (attachments, images, attached messages) is replaced by a
//! short marker. Those parts' decoded sizes are counted from their encoded bytes, without
//! decoding them into memory. Everything else (headers, envelope, text and HTML bodies,
//! small attachments, warnings) comes from the same parser as [`Email::parse`].

use std::hash::{BuildHasher as _, Hasher as _};

use bytes::Bytes;
use mail_parser::{MessageParser, MimeHeaders as _};

use crate::model::Email;

/// Messages smaller than this (bytes) are parsed whole by [`Email::parse_lean`]: decoding
/// them costs little, and their attachments come with content.
pub const LEAN_MIN_MESSAGE: usize = 1024 * 1024;

/// Parts whose encoded body is at least this long (bytes) are left undecoded by
/// [`Email::parse_lean`] (text bodies excepted).
pub const LEAN_MIN_PART: usize = 16 * 1024;

/// How deep multiparts and attached messages are walked; deeper parts are parsed whole.
const MAX_DEPTH: usize = 16;

/// Most parts left undecoded in one message; the rest are parsed whole.
const MAX_BLANKS: usize = 4096;

/// An [`Email`] parsed for indexing by [`Email::parse_lean`], with every attachment's decoded
/// size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeanEmail {
    /// The parsed message. [`Email::raw`] is the whole message as given; the
    /// [`content`](crate::Attachment::content) of each attachment whose part was left
    /// undecoded is empty (its size is in [`attachment_sizes`](Self::attachment_sizes)).
    pub email: Email,
    /// The decoded size in bytes of each attachment of [`email`](Self::email), in the same
    /// order: for attachments with content, its length; for the others, counted from the
    /// encoded bytes.
    pub attachment_sizes: Vec<u64>,
    /// How many attachments were left undecoded (0 when the message was parsed whole).
    pub undecoded: usize,
}

/// A part's transfer encoding, as far as counting its decoded size goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Base64,
    QuotedPrintable,
    Identity,
}

/// A large part's body: `start..end` of the raw message.
#[derive(Debug, Clone, Copy)]
struct Blank {
    start: usize,
    end: usize,
    transfer: Transfer,
}

impl Email {
    /// Parses a raw message for indexing: like [`Email::parse`], except that in a message of
    /// at least [`LEAN_MIN_MESSAGE`] bytes the parts of at least [`LEAN_MIN_PART`] bytes that
    /// are not text bodies (attachments, inline images, attached messages) are not decoded.
    /// Their attachments come with empty content and their decoded sizes in
    /// [`LeanEmail::attachment_sizes`], so the memory this takes beyond the raw bytes is about
    /// the size of the headers and text bodies. Never fails, as [`Email::parse`].
    ///
    /// Sizes of undecoded parts are counted from their encoded bytes (base64 characters,
    /// quoted-printable escapes), without checking that they would decode cleanly: a
    /// broken encoding in such a part is not reported in [`Email::warnings`].
    pub fn parse_lean(raw: impl Into<Bytes>) -> LeanEmail {
        let raw: Bytes = raw.into();
        if raw.len() < LEAN_MIN_MESSAGE {
            return whole(Email::parse(raw));
        }
        let mut blanks = Vec::new();
        walk(&raw, 0, raw.len(), 0, &mut blanks);
        if blanks.is_empty() {
            return whole(Email::parse(raw));
        }
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let markers: Vec<String> = (0..blanks.len())
            .map(|i| format!("inbound-lean-{nonce:016x}-{i}"))
            .collect();
        let kept: usize = raw.len() - blanks.iter().map(|b| b.end - b.start).sum::<usize>();
        let mut skeleton = Vec::with_capacity(kept + blanks.len() * 96);
        let mut at = 0;
        for (blank, marker) in blanks.iter().zip(&markers) {
            skeleton.extend_from_slice(raw.get(at..blank.start).unwrap_or_default());
            let body = format!("X-Inbound-Lean: {marker}\r\n\r\n");
            match blank.transfer {
                Transfer::Base64 => {
                    use base64::Engine as _;
                    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
                    skeleton.extend_from_slice(encoded.as_bytes());
                }
                Transfer::QuotedPrintable | Transfer::Identity => {
                    skeleton.extend_from_slice(body.as_bytes());
                }
            }
            at = blank.end;
        }
        skeleton.extend_from_slice(raw.get(at..).unwrap_or_default());

        let mut email = Email::parse(skeleton);
        email.raw = raw.clone();
        let mut undecoded = 0;
        let attachment_sizes = email
            .attachments
            .iter_mut()
            .map(|a| {
                let found = (a.content.len() < 256)
                    .then(|| {
                        markers
                            .iter()
                            .position(|m| contains(&a.content, m.as_bytes()))
                    })
                    .flatten();
                match found.and_then(|i| blanks.get(i)) {
                    Some(blank) => {
                        undecoded += 1;
                        a.content = Bytes::new();
                        decoded_size(
                            raw.get(blank.start..blank.end).unwrap_or_default(),
                            blank.transfer,
                        )
                    }
                    None => a.content.len() as u64,
                }
            })
            .collect();
        LeanEmail {
            email,
            attachment_sizes,
            undecoded,
        }
    }
}

/// A message parsed whole, as a [`LeanEmail`].
fn whole(email: Email) -> LeanEmail {
    let attachment_sizes = email
        .attachments
        .iter()
        .map(|a| a.content.len() as u64)
        .collect();
    LeanEmail {
        email,
        attachment_sizes,
        undecoded: 0,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where the body of the entity `e` starts: after the first empty line. `None` when there is
/// none (the entity is all header).
fn body_offset(e: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = e.get(at..)?;
        if rest.starts_with(b"\r\n") {
            return Some(at + 2);
        }
        if rest.starts_with(b"\n") {
            return Some(at + 1);
        }
        at += memchr::memchr(b'\n', rest)? + 1;
    }
}

/// Finds the large non-text leaf parts of the entity `raw[start..end]`, in message order.
fn walk(raw: &[u8], start: usize, end: usize, depth: usize, blanks: &mut Vec<Blank>) {
    if depth > MAX_DEPTH || blanks.len() >= MAX_BLANKS {
        return;
    }
    let Some(entity) = raw.get(start..end) else {
        return;
    };
    let Some(body_at) = body_offset(entity) else {
        return;
    };
    let header_bytes = entity.get(..body_at).unwrap_or_default();
    let Some(headers) = MessageParser::new().parse_headers(header_bytes) else {
        return;
    };
    let Some(part) = headers.parts.first() else {
        return;
    };
    let content_type = part.content_type();
    let ctype = content_type.map(|ct| ct.ctype().to_ascii_lowercase());
    let body_start = start + body_at;
    match ctype.as_deref() {
        Some("multipart") => {
            if let Some(boundary) = content_type.and_then(|ct| ct.attribute("boundary")) {
                for (s, e) in parts(raw, body_start, end, boundary.as_bytes()) {
                    walk(raw, s, e, depth + 1, blanks);
                }
            }
        }
        // A text part is a body unless it is an attachment: keep bodies.
        None | Some("text")
            if !part
                .content_disposition()
                .is_some_and(|d| d.is_attachment()) => {}
        _ => {
            if end - body_start >= LEAN_MIN_PART {
                let transfer = match part.content_transfer_encoding() {
                    Some(t) if t.trim().eq_ignore_ascii_case("base64") => Transfer::Base64,
                    Some(t) if t.trim().eq_ignore_ascii_case("quoted-printable") => {
                        Transfer::QuotedPrintable
                    }
                    _ => Transfer::Identity,
                };
                blanks.push(Blank {
                    start: body_start,
                    end,
                    transfer,
                });
            }
        }
    }
}

/// The parts of a multipart body `raw[start..end]`: `start..end` of each, the line break
/// before a delimiter excluded. A body without a closing delimiter ends its last part at
/// `end`.
fn parts(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let Some(body) = raw.get(start..end) else {
        return Vec::new();
    };
    let mut delimiter = Vec::with_capacity(boundary.len() + 3);
    delimiter.extend_from_slice(b"\n--");
    delimiter.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delimiter);
    // Delimiter lines: offset in `body` of the line's first byte and of its end (after \n).
    let mut lines: Vec<(usize, usize, bool)> = Vec::new();
    let line = |at: usize, dashes_at: usize| {
        let after = dashes_at + 2 + boundary.len();
        let closing = body.get(after..after + 2) == Some(b"--");
        let next = memchr::memchr(b'\n', body.get(after..).unwrap_or_default())
            .map_or(body.len(), |n| after + n + 1);
        (at, next, closing)
    };
    if body.starts_with(&delimiter[1..]) {
        lines.push(line(0, 0));
    }
    let mut from = 0;
    while let Some(found) = body.get(from..).and_then(|b| finder.find(b)) {
        let at = from + found;
        let entry = line(at, at + 1);
        from = entry.1.max(at + 1);
        let closing = entry.2;
        lines.push(entry);
        if closing {
            break;
        }
    }
    let mut out = Vec::new();
    for pair in lines.windows(2) {
        if let [(_, part_start, false), (next_at, _, _)] = *pair {
            // The line break before a delimiter belongs to the delimiter.
            let mut part_end = next_at;
            if part_end > part_start && body.get(part_end - 1) == Some(&b'\r') {
                part_end -= 1;
            }
            out.push((start + part_start, start + part_end.max(part_start)));
        }
    }
    if let Some(&(_, part_start, false)) = lines.last() {
        out.push((start + part_start, end));
    }
    out
}

/// The decoded size of a body in `transfer` encoding, counted without decoding it.
fn decoded_size(body: &[u8], transfer: Transfer) -> u64 {
    match transfer {
        Transfer::Identity => body.len() as u64,
        Transfer::Base64 => {
            let chars = body
                .iter()
                .take_while(|&&b| b != b'=')
                .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
                .count() as u64;
            chars * 3 / 4
        }
        Transfer::QuotedPrintable => {
            let mut size = 0u64;
            let mut i = 0;
            while let Some(&b) = body.get(i) {
                if b == b'=' {
                    match (body.get(i + 1), body.get(i + 2)) {
                        (Some(b'\r'), Some(b'\n')) => i += 3,
                        (Some(b'\n'), _) => i += 2,
                        (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                            size += 1;
                            i += 3;
                        }
                        _ => {
                            size += 1;
                            i += 1;
                        }
                    }
                } else {
                    size += 1;
                    i += 1;
                }
            }
            size
        }
    }
}
