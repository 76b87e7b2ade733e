//! Raw RFC 5322/MIME bytes to an [`Email`], with mail-parser doing the MIME work.

use std::borrow::Cow;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};

use bytes::Bytes;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use crate::headers::{addresses, decode_value, field_name, message_ids};
use crate::inline::referenced_cids;
use crate::model::{Attachment, Email, Header, Warning};

impl Email {
    /// The most MIME parts (containers included, in message order) [`Email::parse`] reads
    /// into bodies and attachments. A message with more gets a
    /// [`Warning::TOO_MANY_PARTS`]; the rest stays in [`Email::raw`], unread.
    pub const MAX_PARTS: usize = 10_000;

    /// Parses a raw message. Never fails: whatever could not be read is recorded in
    /// [`Email::warnings`], and the raw bytes are always kept in [`Email::raw`].
    ///
    /// Attachment contents share the buffer of `raw` where no decoding was needed (zero
    /// copy); decoded contents (base64, quoted-printable) are copied once.
    ///
    /// The cost is linear in the message's size: `cid:` references in the HTML body are
    /// collected in one pass, and at most [`Email::MAX_PARTS`] parts are read. Parsing is
    /// CPU work; async callers run it on a blocking thread.
    pub fn parse(raw: impl Into<Bytes>) -> Email {
        let raw: Bytes = raw.into();
        let mut email = Email {
            raw: raw.clone(),
            ..Email::default()
        };
        if raw.trim_ascii().is_empty() {
            email.warnings.push(Warning::new(
                Warning::EMPTY,
                "the message holds no bytes but white space",
            ));
            return email;
        }
        if u32::try_from(raw.len()).is_err() {
            email.warnings.push(Warning::new(
                Warning::UNPARSABLE,
                format!(
                    "the message is {} bytes, more than the parser handles (4 GiB)",
                    raw.len()
                ),
            ));
            return email;
        }
        // mail-parser is fuzzed and meant never to panic; should it still, the message is kept.
        let parsed = panic::catch_unwind(AssertUnwindSafe(|| MessageParser::new().parse(&raw[..])));
        match parsed {
            Ok(Some(message)) => fill(&mut email, message, &raw),
            Ok(None) => email.warnings.push(Warning::new(
                Warning::UNPARSABLE,
                "no header section could be found; only the raw bytes are kept",
            )),
            Err(_) => email.warnings.push(Warning::new(
                Warning::UNPARSABLE,
                "the MIME parser failed on this message; only the raw bytes are kept",
            )),
        }
        if !email.warnings.is_empty() {
            tracing::debug!(
                warnings = email.warnings.len(),
                kinds = ?email.warnings.iter().map(|w| w.kind.as_str()).collect::<Vec<_>>(),
                "parsed a message with warnings"
            );
        }
        email
    }
}

fn fill(email: &mut Email, mut message: Message<'_>, raw: &Bytes) {
    let Some(root) = message.parts.first() else {
        email.warnings.push(Warning::new(
            Warning::UNPARSABLE,
            "the parser returned no parts",
        ));
        return;
    };
    // At the end of the input mail-parser takes a line without a colon for a field name;
    // input made only of such lines has no header section at all.
    if !root.headers.is_empty() && !root.headers.iter().any(|h| is_field(h, raw)) {
        email.warnings.push(Warning::new(
            Warning::UNPARSABLE,
            "no header field could be read; only the raw bytes are kept",
        ));
        return;
    }

    read_headers(email, root, raw);
    read_envelope(email, &message);
    read_bodies(email, &message);
    check_parts(email, &message);

    if message.parts.len() > Email::MAX_PARTS {
        email.warnings.push(Warning::new(
            Warning::TOO_MANY_PARTS,
            format!(
                "the message has {} MIME parts; only the first {} were read, the rest is \
                 kept in the raw message",
                message.parts.len(),
                Email::MAX_PARTS
            ),
        ));
    }
    let referenced = email
        .html
        .as_deref()
        .map(referenced_cids)
        .unwrap_or_default();
    for &id in &message.attachments {
        if !within_cap(id) {
            continue;
        }
        if let Some(part) = message.parts.get_mut(id as usize) {
            email.attachments.push(attachment(part, raw, &referenced));
        }
    }
}

/// True when part `id` is one of the first [`Email::MAX_PARTS`].
fn within_cap(id: u32) -> bool {
    usize::try_from(id).is_ok_and(|id| id < Email::MAX_PARTS)
}

fn read_headers(email: &mut Email, root: &MessagePart<'_>, raw: &Bytes) {
    let mut not_utf8 = Vec::new();
    email.headers.reserve(root.headers.len());
    for header in root.headers.iter().filter(|h| is_field(h, raw)) {
        let range = |a: u32, b: u32| raw.get(a as usize..b as usize).unwrap_or_default();
        let mut name = field_name(range(header.offset_field, header.offset_start));
        if name.is_empty() {
            name = header.name.as_str().to_owned();
        }
        let value = decode_value(range(header.offset_start, header.offset_end));
        if value.invalid_utf8 {
            not_utf8.push(name.clone());
        }
        if email.subject.is_none() && header.name == HeaderName::Subject {
            email.subject = Some(value.text.clone());
        }
        email.headers.push(Header {
            name,
            value: value.text,
        });
    }
    if email.headers.is_empty() {
        email.warnings.push(Warning::new(
            Warning::NO_HEADERS,
            "the message has no header fields",
        ));
    }
    if !not_utf8.is_empty() {
        email.warnings.push(Warning::new(
            Warning::BAD_HEADER_ENCODING,
            format!(
                "8-bit bytes that are not UTF-8 read as Latin-1 in: {}",
                not_utf8.join(", ")
            ),
        ));
    }
}

/// True when the header's name ends with a colon (a real field, not a stray line).
fn is_field(header: &mail_parser::Header<'_>, raw: &Bytes) -> bool {
    raw.get(header.offset_field as usize..header.offset_start as usize)
        .is_some_and(|name| name.ends_with(b":"))
}

fn read_envelope(email: &mut Email, message: &Message<'_>) {
    let all =
        |name: HeaderName<'static>| message.header_values(name).flat_map(|v| addresses(Some(v)));
    email.from = all(HeaderName::From).collect();
    email.sender = addresses(message.header(HeaderName::Sender))
        .into_iter()
        .next();
    email.reply_to = all(HeaderName::ReplyTo).collect();
    email.to = all(HeaderName::To).collect();
    email.cc = all(HeaderName::Cc).collect();
    email.bcc = all(HeaderName::Bcc).collect();
    email.in_reply_to = message_ids(message.header(HeaderName::InReplyTo));
    email.references = message_ids(message.header(HeaderName::References));

    let has_headers = !email.headers.is_empty();
    match message.header(HeaderName::MessageId) {
        None if has_headers => email.warnings.push(Warning::new(
            Warning::MISSING_MESSAGE_ID,
            "there is no Message-ID header",
        )),
        None => {}
        Some(value) => {
            email.message_id = message_ids(Some(value)).into_iter().next();
            if email.message_id.is_none() {
                email.warnings.push(Warning::new(
                    Warning::BAD_MESSAGE_ID,
                    format!(
                        "the Message-ID header holds no id: {:?}",
                        raw_value(email, "Message-ID")
                    ),
                ));
            }
        }
    }
    match message.header(HeaderName::Date) {
        None if has_headers => email.warnings.push(Warning::new(
            Warning::MISSING_DATE,
            "there is no Date header",
        )),
        None => {}
        Some(HeaderValue::DateTime(date)) if date.is_valid() => {
            email.date = Some(date.to_timestamp());
        }
        Some(_) => email.warnings.push(Warning::new(
            Warning::BAD_DATE,
            format!(
                "the Date header is not an RFC 5322 date: {:?}",
                raw_value(email, "Date")
            ),
        )),
    }
    if has_headers && message.header(HeaderName::From).is_none() {
        email.warnings.push(Warning::new(
            Warning::MISSING_FROM,
            "there is no From header",
        ));
    }
}

/// The decoded value of the first header named `name`, cut to a length fit for a warning.
fn raw_value(email: &Email, name: &str) -> String {
    let value = email
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
        .unwrap_or_default();
    value.chars().take(200).collect()
}

fn read_bodies(email: &mut Email, message: &Message<'_>) {
    let texts = message
        .text_body
        .iter()
        .filter(|&&id| within_cap(id))
        .filter_map(|&id| match &message.parts.get(id as usize)?.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        });
    email.text = join(texts);
    let htmls = message
        .html_body
        .iter()
        .filter(|&&id| within_cap(id))
        .filter_map(|&id| match &message.parts.get(id as usize)?.body {
            PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        });
    email.html = join(htmls);
}

/// Joins body parts (several inline text parts in a multipart/mixed) with a line break.
fn join<'a>(mut parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = parts.next()?;
    let mut out = first.to_owned();
    for part in parts {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(part);
    }
    Some(out)
}

/// Records parts that could not be decoded as declared and text in unknown charsets.
fn check_parts(email: &mut Email, message: &Message<'_>) {
    for (index, part) in message.parts.iter().enumerate().take(Email::MAX_PARTS) {
        let media_type = media_type(part);
        if part.is_encoding_problem {
            email.warnings.push(Warning::new(
                Warning::BROKEN_MIME,
                format!("part {index} ({media_type}) could not be decoded as declared; its raw content was kept"),
            ));
        }
        if matches!(part.body, PartType::Text(_) | PartType::Html(_))
            && let Some(charset) = part.content_type().and_then(|ct| ct.attribute("charset"))
            && !charset_known(charset)
        {
            email.warnings.push(Warning::new(
                Warning::BAD_CHARSET,
                format!(
                    "part {index} ({media_type}) has unknown charset {charset:?}; read as UTF-8"
                ),
            ));
        }
    }
}

fn charset_known(charset: &str) -> bool {
    let c = charset.trim();
    c.is_empty()
        || ["utf-8", "utf8", "us-ascii", "ascii"]
            .iter()
            .any(|known| c.eq_ignore_ascii_case(known))
        || charset_decoder(c.as_bytes()).is_some()
}

/// `type/subtype` as sent (lower case, parameters dropped), or the RFC 2045 default.
fn media_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                "application/octet-stream".to_owned()
            }
            _ => "text/plain".to_owned(),
        },
    }
}

/// `referenced`: the content ids the HTML body references, ASCII lower case.
fn attachment(part: &mut MessagePart<'_>, raw: &Bytes, referenced: &HashSet<String>) -> Attachment {
    let content_type = media_type(part);
    let filename = part
        .attachment_name()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let content_id = part
        .content_id()
        .map(|id| {
            let id = id.trim();
            let id = id.strip_prefix('<').unwrap_or(id);
            id.strip_suffix('>').unwrap_or(id).to_owned()
        })
        .filter(|id| !id.is_empty());
    let disposition_inline = part.content_disposition().is_some_and(|cd| cd.is_inline());
    let referenced = content_id
        .as_deref()
        .is_some_and(|id| !referenced.is_empty() && referenced.contains(&id.to_ascii_lowercase()));
    let content = content(part, raw);
    Attachment {
        filename,
        content_type,
        content_id,
        inline: disposition_inline || referenced,
        content,
    }
}

/// The decoded content of a leaf part, taken out of the part without copying where possible.
fn content(part: &mut MessagePart<'_>, raw: &Bytes) -> Bytes {
    match std::mem::take(&mut part.body) {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => cow_bytes(bytes, raw),
        PartType::Text(text) | PartType::Html(text) => match text {
            Cow::Borrowed(text) => share(raw, text.as_bytes()),
            // Converted from another charset (or repaired): give the bytes as sent instead,
            // with only the transfer encoding removed.
            Cow::Owned(text) => transfer_decoded(part, raw).unwrap_or_else(|| Bytes::from(text)),
        },
        PartType::Message(nested) => {
            if part.encoding == Encoding::None
                && let Some(body) = raw.get(part.offset_body as usize..part.offset_end as usize)
            {
                share(raw, body)
            } else {
                cow_bytes(nested.raw_message, raw)
            }
        }
        PartType::Multipart(_) => Bytes::new(),
    }
}

fn cow_bytes(bytes: Cow<'_, [u8]>, raw: &Bytes) -> Bytes {
    match bytes {
        Cow::Borrowed(slice) => share(raw, slice),
        Cow::Owned(vec) => Bytes::from(vec),
    }
}

/// A `Bytes` for `slice`: a zero-copy view when it lies inside `raw`, else a copy.
fn share(raw: &Bytes, slice: &[u8]) -> Bytes {
    let base = raw.as_ptr() as usize;
    let start = slice.as_ptr() as usize;
    if slice.is_empty() {
        Bytes::new()
    } else if start >= base && start + slice.len() <= base + raw.len() {
        raw.slice_ref(slice)
    } else {
        Bytes::copy_from_slice(slice)
    }
}

/// Re-reads a part's body from `raw`, removing only the transfer encoding.
fn transfer_decoded(part: &MessagePart<'_>, raw: &Bytes) -> Option<Bytes> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let (end, bytes) = match part.encoding {
        Encoding::None => return Some(share(raw, body)),
        Encoding::Base64 => MessageStream::new(body).decode_base64_mime(b""),
        Encoding::QuotedPrintable => MessageStream::new(body).decode_quoted_printable_mime(b""),
    };
    (end != usize::MAX).then(|| cow_bytes(bytes, raw))
}
