//! Rewrites encoded response lines to imitate real servers' deviations (see
//! [`faults::Quirks`](crate::faults::Quirks)). Only protocol text is touched, never literal
//! data.

use std::sync::LazyLock;

use super::fetch::{NEGATIVE_LINES_SENTINEL, NIL_PARAM_SENTINEL};
use crate::faults::Quirks;

/// Protocol words a server with the lower-case quirk writes in lower case.
const KEYWORDS: &[&str] = &[
    "OK",
    "NO",
    "BAD",
    "BYE",
    "PREAUTH",
    "CAPABILITY",
    "FETCH",
    "EXISTS",
    "EXPUNGE",
    "RECENT",
    "FLAGS",
    "UID",
    "RFC822.SIZE",
    "INTERNALDATE",
    "BODY",
    "BODYSTRUCTURE",
    "ENVELOPE",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.TEXT",
    "SEARCH",
    "ESEARCH",
    "STATUS",
    "LIST",
    "LSUB",
    "MESSAGES",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "PERMANENTFLAGS",
    "READ-WRITE",
    "READ-ONLY",
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "NIL",
];

/// Status words: the text after them (and their response code) is human text.
const STATUS_WORDS: &[&str] = &["OK", "NO", "BAD", "BYE", "PREAUTH"];

/// Rewrites one encoded line piece. `skip_tag`: the piece starts with a command tag, which
/// keeps its case.
pub(crate) fn apply(piece: &mut Vec<u8>, quirks: &Quirks, skip_tag: bool) {
    static NEGATIVE: LazyLock<String> = LazyLock::new(|| format!(" {NEGATIVE_LINES_SENTINEL}"));
    static NIL_PARAM: LazyLock<String> = LazyLock::new(|| format!("\"{NIL_PARAM_SENTINEL}\""));
    replace_all(piece, NEGATIVE.as_bytes(), b" -1");
    replace_all(piece, NIL_PARAM.as_bytes(), b"NIL");
    if quirks.icloud_space_before_paren {
        space_before_flag_list_end(piece);
    }
    if quirks.lowercase_keywords {
        lowercase_keywords(piece, skip_tag);
    }
}

/// Adds a space before the CRLF that ends the piece (Exchange STATUS / FLAGS).
pub(crate) fn trailing_space(piece: &mut Vec<u8>) {
    if piece.ends_with(b"\r\n") {
        let at = piece.len() - 2;
        piece.insert(at, b' ');
    }
}

fn replace_all(data: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    // Almost every line has neither sentinel: no copy then.
    if from.is_empty() || !data.windows(from.len()).any(|w| w == from) {
        return;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    let mut changed = false;
    while i < data.len() {
        if data[i..].starts_with(from) {
            // Only whole tokens: the next byte must not continue a number or word.
            let next = data.get(i + from.len()).copied();
            if next.is_none_or(|b| !b.is_ascii_alphanumeric()) {
                out.extend_from_slice(to);
                i += from.len();
                changed = true;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    if changed {
        *data = out;
    }
}

/// `FLAGS (\Seen \Flagged)` becomes `FLAGS (\Seen \Flagged )` (also PERMANENTFLAGS).
fn space_before_flag_list_end(data: &mut Vec<u8>) {
    let mut i = 0;
    while i + 7 <= data.len() {
        if data[i..i + 7].eq_ignore_ascii_case(b"FLAGS (") {
            if let Some(close) = data[i + 7..].iter().position(|&b| b == b')') {
                let at = i + 7 + close;
                data.insert(at, b' ');
                i = at + 2;
                continue;
            }
        }
        i += 1;
    }
}

fn is_word_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'(' | b')' | b'[' | b']' | b'\r' | b'\n' | b'<' | b'"'
    )
}

fn lowercase_keywords(data: &mut [u8], skip_tag: bool) {
    let mut i = 0;
    let mut in_quote = false;
    let mut first = true;
    while i < data.len() {
        let b = data[i];
        if in_quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_quote = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_quote = true;
            i += 1;
            continue;
        }
        if !is_word_byte(b) {
            i += 1;
            continue;
        }
        let start = i;
        while i < data.len() && is_word_byte(data[i]) {
            i += 1;
        }
        if first && skip_tag {
            first = false;
            continue;
        }
        first = false;
        let word = &data[start..i];
        if KEYWORDS
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(word))
        {
            data[start..i].make_ascii_lowercase();
        }
        let word = &data[start..i];
        if STATUS_WORDS
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(word))
        {
            // What follows is a response code (protocol) and then human text (kept).
            if data.get(i..i + 2) == Some(b" [")
                && let Some(close) = data[i..].iter().position(|&b| b == b']')
            {
                lowercase_keywords(&mut data[i + 2..i + close], false);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, quirks: Quirks, tag: bool) -> String {
        let mut v = line.as_bytes().to_vec();
        apply(&mut v, &quirks, tag);
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn rewrites() {
        let all = Quirks {
            icloud_space_before_paren: true,
            lowercase_keywords: true,
            ..Quirks::default()
        };
        assert_eq!(
            run("* 1 FETCH (FLAGS (\\Seen) UID 4)\r\n", all, false),
            "* 1 fetch (flags (\\seen ) uid 4)\r\n"
        );
        assert_eq!(
            run("A1 OK Fetch done\r\n", all, true),
            "A1 ok Fetch done\r\n"
        );
        assert_eq!(
            run("* OK [UIDNEXT 4] UIDNEXT\r\n", all, false),
            "* ok [uidnext 4] UIDNEXT\r\n"
        );
        assert_eq!(
            run(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 4294967295)",
                Quirks::default(),
                false
            ),
            "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 -1)"
        );
        assert_eq!(
            run(
                "(\"boundary\" \"INBOUND-NIL-PARAM-VALUE\")",
                Quirks::default(),
                false
            ),
            "(\"boundary\" NIL)"
        );
        let mut v = b"* STATUS INBOX (MESSAGES 1)\r\n".to_vec();
        trailing_space(&mut v);
        assert_eq!(v, b"* STATUS INBOX (MESSAGES 1) \r\n");
    }
}
