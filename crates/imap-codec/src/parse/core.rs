//! Core rules (RFC 3501 section 9, RFC 9051 section 9): the tokens, numbers, atoms, strings
//! and text that the other rules are built from, and the list shapes they share.

use std::num::NonZeroU32;

use bytes::Bytes;

use super::{In, PResult};
use crate::types::chars::{
    is_astring_char, is_atom_char, is_keyword_char, is_quoted_char, is_tag_char, is_text_char,
};
use crate::types::{AString, Atom, Content, IString, NString, Tag, Text};

/// `SP = %x20`.
#[inline]
pub(crate) fn sp(i: &mut In<'_>) -> PResult<()> {
    i.expect(b' ', "SP")
}

/// `CRLF = CR LF`; with [`Quirks::trailing_space`](crate::Quirks) spaces before it, with
/// [`Quirks::bare_lf`](crate::Quirks) a bare `LF`.
pub(crate) fn crlf(i: &mut In<'_>) -> PResult<()> {
    if i.quirks.trailing_space {
        let n = i.rest().iter().take_while(|&&b| b == b' ').count();
        i.advance(n);
    }
    line_end(i)
}

/// `CRLF = CR LF` exactly (or a bare LF with [`Quirks::bare_lf`](crate::Quirks)), e.g.
/// after a literal header.
pub(crate) fn line_end(i: &mut In<'_>) -> PResult<()> {
    let r = i.rest();
    if r.starts_with(b"\r\n") {
        i.advance(2);
        Ok(())
    } else if i.quirks.bare_lf && r.first() == Some(&b'\n') {
        i.advance(1);
        Ok(())
    } else {
        Err(i.err("CRLF"))
    }
}

/// A literal string of the grammar, `"k"`, matched case-insensitively (RFC 5234 section
/// 2.3).
pub(crate) fn kw(i: &mut In<'_>, k: &'static str) -> PResult<()> {
    let r = i.rest();
    if r.len() >= k.len() && r[..k.len()].eq_ignore_ascii_case(k.as_bytes()) {
        i.advance(k.len());
        Ok(())
    } else {
        Err(i.err(k))
    }
}

/// Whether the input starts with the literal string `"k"` (case-insensitive) followed by a
/// byte that cannot go on an atom; reads nothing.
pub(crate) fn peek_kw(i: &In<'_>, k: &str) -> bool {
    let r = i.rest();
    r.len() >= k.len()
        && r[..k.len()].eq_ignore_ascii_case(k.as_bytes())
        && r.get(k.len()).is_none_or(|&b| !is_atom_char(b))
}

/// The next literal string of the grammar, for a rule to choose an alternative by
/// (`"FETCH"`, `"RFC822.SIZE"`, `"READ-ONLY"`: letters, digits, `.` and `-`), returned raw.
pub(crate) fn keyword<'a>(i: &mut In<'a>) -> PResult<&'a [u8]> {
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_keyword_char(b)).count();
    if n == 0 {
        return Err(i.err("keyword"));
    }
    i.advance(n);
    Ok(&r[..n])
}

/// `number = 1*DIGIT` (unsigned 32-bit).
#[inline]
pub(crate) fn number(i: &mut In<'_>) -> PResult<u32> {
    let n = digits(i, u64::from(u32::MAX), "number (32-bit)")?;
    // digits never returns more than the limit given.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// `1*DIGIT` as a value no larger than `max` (`too_large` names the error otherwise).
#[inline(always)]
fn digits(i: &mut In<'_>, max: u64, too_large: &'static str) -> PResult<u64> {
    let r = i.rest();
    let mut n: u64 = 0;
    let mut k = 0;
    while let Some(&c) = r.get(k) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // With a small limit (folded at compile time) the previous value is at most `max`,
        // so the plain arithmetic cannot overflow; near u64::MAX it is checked.
        let next = if max <= u64::MAX / 16 {
            Some(n * 10 + u64::from(d))
        } else {
            n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d)))
        };
        n = match next {
            Some(n) if n <= max => n,
            _ => return Err(i.err(too_large)),
        };
        k += 1;
    }
    if k == 0 {
        return Err(i.err("number"));
    }
    i.advance(k);
    Ok(n)
}

/// `number64 = 1*DIGIT` (unsigned 63-bit in RFC 9051; we take 64).
pub(crate) fn number64(i: &mut In<'_>) -> PResult<u64> {
    digits(i, u64::MAX, "number (64-bit)")
}

/// `nz-number = digit-nz *DIGIT`.
pub(crate) fn nz_number(i: &mut In<'_>) -> PResult<NonZeroU32> {
    let start = *i;
    match NonZeroU32::new(number(i)?) {
        Some(n) => Ok(n),
        None => Err(start.err("non-zero number")),
    }
}

/// `atom = 1*ATOM-CHAR`.
pub(crate) fn atom(i: &mut In<'_>) -> PResult<Atom> {
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_atom_char(b)).count();
    if n == 0 {
        return Err(i.err("atom"));
    }
    let a = Atom::new_unchecked(i.bytes_of(&r[..n]));
    i.advance(n);
    Ok(a)
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn tag(i: &mut In<'_>) -> PResult<Tag> {
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_tag_char(b)).count();
    if n == 0 {
        return Err(i.err("tag"));
    }
    let t = Tag::new_unchecked(i.bytes_of(&r[..n]));
    i.advance(n);
    Ok(t)
}

/// The length of the run of QUOTED-CHARs (no `"`, `\`, CR, LF or NUL) that starts `body`.
///
/// Quoted strings are short (a few to a few dozen bytes), too short for a vector search to
/// pay for its set-up, so this tests eight bytes at a time in a `u64`: a mask flags the
/// bytes below 0x0E, `"` and `\`. The lowest flagged byte is exact (the borrows that can
/// flag a byte wrongly only run upwards from a flagged one), so its index comes from the
/// mask's trailing zeros. A flagged byte that is a QUOTED-CHAR after all (TAB and the other
/// control bytes below 0x0E but CR, LF and NUL) is stepped over.
#[inline]
pub(crate) fn quoted_run(body: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut k = 0;
    while let Some(w) = body.get(k..k + 8) {
        let Ok(w) = <[u8; 8]>::try_from(w) else { break };
        let x = u64::from_le_bytes(w);
        let q = x ^ (LO * u64::from(b'"'));
        let b = x ^ (LO * u64::from(b'\\'));
        let m = ((x.wrapping_sub(LO * 0x0e) & !x)
            | (q.wrapping_sub(LO) & !q)
            | (b.wrapping_sub(LO) & !b))
            & HI;
        if m == 0 {
            k += 8;
            continue;
        }
        let p = k + (m.trailing_zeros() / 8) as usize;
        match body.get(p) {
            Some(&c) if is_quoted_char(c) => k = p + 1,
            _ => return p,
        }
    }
    let tail = body.get(k..).unwrap_or_default();
    k + tail
        .iter()
        .position(|&b| !is_quoted_char(b))
        .unwrap_or(tail.len())
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, `QUOTED-CHAR = <any TEXT-CHAR except
/// quoted-specials> / "\\" quoted-specials`. Unescaped content is a slice of the input.
#[inline(always)]
pub(crate) fn quoted(i: &mut In<'_>) -> PResult<Bytes> {
    quoted_as(i, |i, end| i.slice_rest(1, end), |b| b)
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE` as a string's [`Content`]: short content is copied
/// inline.
#[inline(always)]
fn quoted_content(i: &mut In<'_>) -> PResult<Content> {
    quoted_as(i, |i, end| i.content_rest(1, end), Content::from)
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, the content taken by `plain` (given the input at
/// the opening quote and where the content ends) or, when it has escapes, by `escaped`.
#[inline(always)]
fn quoted_as<T>(
    i: &mut In<'_>,
    plain: impl FnOnce(&In<'_>, usize) -> T,
    escaped: impl FnOnce(Bytes) -> T,
) -> PResult<T> {
    let r = i.rest();
    if r.first() != Some(&b'"') {
        return Err(i.err("quoted string"));
    }
    let p = quoted_run(&r[1..]);
    if r.get(p + 1) == Some(&b'"') {
        let v = plain(i, p + 1);
        i.advance(p + 2);
        return Ok(v);
    }
    quoted_escaped(i).map(escaped)
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, `QUOTED-CHAR =/ "\\" quoted-specials`: strings
/// with escapes, and the errors.
#[cold]
fn quoted_escaped(i: &mut In<'_>) -> PResult<Bytes> {
    let r = i.rest();
    let body = r.get(1..).unwrap_or_default();
    let p = quoted_run(body);
    match body.get(p) {
        Some(b'"') => {
            let v = i.slice_rest(1, p + 1);
            i.advance(p + 2);
            Ok(v)
        }
        Some(b'\\') => {
            let mut out = Vec::with_capacity(body.len().min(256));
            out.extend_from_slice(&body[..p]);
            let mut k = p;
            while k < body.len() {
                match body[k] {
                    b'"' => {
                        i.advance(k + 2);
                        return Ok(Bytes::from(out));
                    }
                    b'\\' => match body.get(k + 1) {
                        Some(&c @ (b'"' | b'\\')) => {
                            out.push(c);
                            k += 2;
                        }
                        _ => return Err(i.skip(1 + k).err("escaped quote or backslash")),
                    },
                    b if is_quoted_char(b) => {
                        out.push(b);
                        k += 1;
                    }
                    _ => return Err(i.skip(1 + k).err("quoted character")),
                }
            }
            Err(i.skip(r.len()).err("closing quote"))
        }
        // A byte that may not appear in a quoted string: an error there if the string
        // goes on to a quote or backslash, else the closing quote is what is missing.
        Some(_) if memchr::memchr2(b'"', b'\\', &body[p..]).is_some() => {
            Err(i.skip(1 + p).err("quoted character"))
        }
        _ => Err(i.skip(r.len()).err("closing quote")),
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8` and `literal8 = "~{" number64 "}" CRLF
/// *OCTET` (RFC 3516). The data is a slice of the input, never copied nor scanned.
pub(crate) fn literal(i: &mut In<'_>) -> PResult<Bytes> {
    if i.rest().starts_with(b"~{") {
        i.advance(2);
    } else if !i.eat(b'{') {
        return Err(i.err("literal"));
    }
    let n = number64(i)?;
    i.eat(b'+');
    i.expect(b'}', "}")?;
    line_end(i)?;
    let data = i.rest();
    if (data.len() as u64) < n {
        return Err(i.err("literal data"));
    }
    let n = n as usize;
    let v = i.bytes_of(&data[..n]);
    i.advance(n);
    Ok(v)
}

/// `string = quoted / literal`.
#[inline]
pub(crate) fn string(i: &mut In<'_>) -> PResult<IString> {
    match i.peek() {
        Some(b'"') => quoted_content(i).map(IString::from_content),
        Some(b'{' | b'~') => literal(i).map(IString::new_unchecked),
        _ => Err(i.err("string")),
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
pub(crate) fn astring(i: &mut In<'_>) -> PResult<AString> {
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_astring_char(b)).count();
    if n > 0 {
        let a = AString::new_unchecked(i.bytes_of(&r[..n]));
        i.advance(n);
        return Ok(a);
    }
    string(i).map(Into::into)
}

/// `nil = "NIL"`.
#[inline]
pub(crate) fn nil(i: &mut In<'_>) -> PResult<()> {
    match i.rest() {
        [b'N' | b'n', b'I' | b'i', b'L' | b'l', ..] => {
            i.advance(3);
            Ok(())
        }
        _ => Err(i.err("NIL")),
    }
}

/// `nstring = string / nil`.
#[inline(always)]
pub(crate) fn nstring(i: &mut In<'_>) -> PResult<NString> {
    match i.rest() {
        [b'"', ..] => quoted_content(i).map(|c| Some(IString::from_content(c))),
        [b'N' | b'n', b'I' | b'i', b'L' | b'l', ..] => {
            i.advance(3);
            Ok(None)
        }
        [b'N' | b'n', ..] => Err(i.err("NIL")),
        _ => string(i).map(Some),
    }
}

/// `text = 1*TEXT-CHAR` (may be empty here; callers decide).
pub(crate) fn text(i: &mut In<'_>) -> PResult<Text> {
    let r = i.rest();
    let n = memchr::memchr2(b'\r', b'\n', r).unwrap_or(r.len());
    if let Some(bad) = r[..n].iter().position(|&b| !is_text_char(b)) {
        return Err(i.skip(bad).err("text character"));
    }
    let t = Text::new_unchecked(i.bytes_of(&r[..n]));
    i.advance(n);
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::body::mime_string;
    use super::super::testing::{fails, run};
    use super::*;
    use crate::Quirks;

    /// Strings of every length around the inline limit, each alone and with more input
    /// after it, through every string rule that copies short content inline.
    #[test]
    fn short_and_long_strings_at_any_place() {
        for len in 0..=Content::INLINE + 3 {
            let content: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
            let text = String::from_utf8(content.clone()).unwrap();
            for tail in ["", ")", " NIL \"more than twenty-two bytes follow\")"] {
                let input = Bytes::from(format!("\"{text}\"{tail}"));
                type Rule = fn(&mut In<'_>) -> PResult<Option<IString>>;
                let rules: [Rule; 3] = [
                    nstring,
                    |j| string(j).map(Some),
                    |j| mime_string(j).map(Some),
                ];
                for rule in rules {
                    let mut j = In::new(&input, Quirks::default());
                    let got = rule(&mut j).unwrap().unwrap();
                    assert_eq!(got.as_bytes(), &content[..], "{input:?}");
                    assert_eq!(j.rest(), tail.as_bytes(), "{input:?}");
                }
            }
        }
        // An escape and a literal: their content as sent.
        let input = Bytes::from_static(b"\"a\\\"b\" {3}\r\nxyz");
        let mut j = In::new(&input, Quirks::default());
        assert_eq!(nstring(&mut j).unwrap().unwrap().as_bytes(), b"a\"b");
        j.advance(1);
        assert_eq!(nstring(&mut j).unwrap().unwrap().as_bytes(), b"xyz");
    }

    #[test]
    fn known_answers() {
        assert_eq!(run(number, b"123 "), (123, b" ".to_vec()));
        fails(number, b"4294967296");
        fails(nz_number, b"0");
        assert_eq!(
            run(quoted, b"\"a\\\"b\\\\c\" x").0,
            Bytes::from_static(b"a\"b\\c")
        );
        assert_eq!(run(quoted, b"\"plain\"").0, Bytes::from_static(b"plain"));
        fails(quoted, b"\"a\rb\"");
        fails(quoted, b"\"a\\nb\"");
        assert_eq!(
            run(literal, b"{5}\r\nhello)").0,
            Bytes::from_static(b"hello")
        );
        assert_eq!(
            run(literal, b"{5+}\r\nhello").0,
            Bytes::from_static(b"hello")
        );
        assert_eq!(run(literal, b"~{2}\r\n\0\0").0, Bytes::from_static(b"\0\0"));
        fails(literal, b"{6}\r\nhello");
        fails(literal, b"{18446744073709551615}\r\nx");
        assert_eq!(
            run(astring, b"INBOX.Sent]x ").0,
            AString::from("INBOX.Sent]x")
        );
        assert_eq!(run(nstring, b"NIL)").0, None);
        assert_eq!(run(nstring, b"\"\"").0, Some(IString::from("")));
        assert_eq!(run(crlf, b"  \r\n").1, b"");
        fails(crlf, b"\n");
        // Controls below 0x0E that are QUOTED-CHARs (TAB) do not end the word-wise scan.
        assert_eq!(
            run(quoted, b"\"a\tb\x01c\x0bdefghijklmnop\" ").0,
            Bytes::from_static(b"a\tb\x01c\x0bdefghijklmnop")
        );
        fails(quoted, b"\"abcdefghijk\0lmnop\"");
        assert_eq!(run(number, b"4294967295)").0, u32::MAX);
        assert_eq!(run(number64, b"18446744073709551615 ").0, u64::MAX);
        fails(number64, b"18446744073709551616");
        // MIME words come out as static handles with the same value.
        let b = Bytes::from_static(b"\"QUOTED-PRINTABLE\" \"Quoted-Printable\"");
        let mut j = In::new(&b, Quirks::default());
        assert_eq!(
            mime_string(&mut j).unwrap(),
            IString::from("QUOTED-PRINTABLE")
        );
        j.advance(1);
        assert_eq!(
            mime_string(&mut j).unwrap(),
            IString::from("Quoted-Printable")
        );
        assert!(j.rest().is_empty());
    }

    /// The byte-wise definition `quoted_run` must agree with.
    fn quoted_run_bytewise(body: &[u8]) -> usize {
        body.iter()
            .position(|&b| !is_quoted_char(b))
            .unwrap_or(body.len())
    }

    proptest::proptest! {
        #[test]
        fn quoted_run_matches_bytewise(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => 0x20u8..0x7f,
                    1 => proptest::prelude::any::<u8>(),
                    1 => proptest::sample::select(vec![0u8, b'\t', b'\r', b'\n', b'"', b'\\', 0x0d, 0x0e, 0x80, 0xff]),
                ],
                0..80,
            )
        ) {
            proptest::prop_assert_eq!(quoted_run(&body), quoted_run_bytewise(&body));
        }
    }
}
