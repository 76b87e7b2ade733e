//! Header field helpers: names and values as written, unfolded, encoded words decoded.

use mail_parser::{HeaderValue, parsers::MessageStream};

use crate::model::Address;

/// A header value decoded to text, and whether its raw bytes were not valid UTF-8.
pub(crate) struct DecodedValue {
    pub(crate) text: String,
    pub(crate) invalid_utf8: bool,
}

/// The field name as written: the bytes before the colon, trimmed.
pub(crate) fn field_name(raw_field: &[u8]) -> String {
    let name = raw_field.strip_suffix(b":").unwrap_or(raw_field);
    latin1_or_utf8(name.trim_ascii()).0
}

/// Decodes a raw header value (the bytes after the colon, up to and including the line end):
/// unfolds it, collapses runs of white space, and decodes RFC 2047 encoded words.
///
/// Bytes that are not UTF-8 (8-bit headers in a legacy charset) are read as Latin-1 rather
/// than replaced, so no character is lost; the caller records a warning.
pub(crate) fn decode_value(raw: &[u8]) -> DecodedValue {
    let (text, invalid_utf8) = latin1_or_utf8(raw);
    let text = if contains_encoded_word(text.as_bytes()) {
        decode_encoded_words(&text).unwrap_or_else(|| collapse_whitespace(&text))
    } else {
        collapse_whitespace(&text)
    };
    DecodedValue { text, invalid_utf8 }
}

fn contains_encoded_word(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"=?")
}

/// Runs mail-parser's unstructured-field decoder, which joins folded lines and decodes
/// encoded words (adjacent encoded words are joined without the space between them).
fn decode_encoded_words(text: &str) -> Option<String> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text.trim_end_matches(['\r', '\n']));
    line.push('\n');
    match MessageStream::new(line.as_bytes()).parse_unstructured() {
        HeaderValue::Text(decoded) => Some(decoded.into_owned()),
        HeaderValue::Empty => Some(String::new()),
        _ => None,
    }
}

/// Replaces every run of ASCII white space (including CR and LF of folded lines) with one
/// space, and trims both ends.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// UTF-8 when valid, otherwise each byte as the Latin-1 character of that value.
fn latin1_or_utf8(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (bytes.iter().map(|&b| char::from(b)).collect(), true),
    }
}

/// Flattens an address list or groups into mailboxes, in order.
pub(crate) fn addresses(value: Option<&HeaderValue<'_>>) -> Vec<Address> {
    let Some(HeaderValue::Address(address)) = value else {
        return Vec::new();
    };
    address
        .iter()
        .map(|addr| Address {
            name: addr
                .name()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            address: addr.address().map(str::trim).unwrap_or_default().to_owned(),
        })
        .collect()
}

/// Message ids (Message-ID, In-Reply-To, References), without angle brackets.
pub(crate) fn message_ids(value: Option<&HeaderValue<'_>>) -> Vec<String> {
    let clean = |id: &str| {
        let id = id.trim();
        let id = id.strip_prefix('<').unwrap_or(id);
        id.strip_suffix('>').unwrap_or(id).to_owned()
    };
    match value {
        Some(HeaderValue::Text(id)) => vec![clean(id)],
        Some(HeaderValue::TextList(ids)) => ids.iter().map(|id| clean(id)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|id| !id.is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_encoded_words() {
        let v = decode_value(b" =?UTF-8?B?w6l0w6k=?=\r\n =?UTF-8?Q?_=C3=A0?= plain\r\n");
        assert_eq!(v.text, "été à plain");
        assert!(!v.invalid_utf8);
        let v = decode_value(b" a\r\n\tb   c\r\n");
        assert_eq!(v.text, "a b c");
    }

    #[test]
    fn eight_bit_latin1_kept() {
        let v = decode_value(b" caf\xe9\r\n");
        assert_eq!(v.text, "café");
        assert!(v.invalid_utf8);
    }

    #[test]
    fn name_trimmed() {
        assert_eq!(field_name(b"X-Custom-Header :"), "X-Custom-Header");
    }
}
