//! Core rules (RFC 3501 section 9, RFC 9051 section 9): numbers, strings, atoms, text,
//! flags, dates, sequence sets.

use std::num::NonZeroU32;

use bytes::Bytes;

use super::{In, PResult};
use crate::types::chars::{
    is_astring_char, is_atom_char, is_keyword_char, is_quoted_char, is_tag_char, is_text_char,
};
use crate::types::{
    AString, Atom, Content, Date, DateTime, Flag, FlagFetch, FlagPerm, IString, Mailbox, NString,
    SeqOrUid, Sequence, SequenceSet, Tag, Text,
};

/// `SP`
#[inline]
pub(crate) fn sp(i: &mut In<'_>) -> PResult<()> {
    i.expect(b' ', "SP")
}

/// `CRLF`; with [`Quirks::trailing_space`](crate::Quirks) spaces before it, with
/// [`Quirks::bare_lf`](crate::Quirks) a bare `LF`.
pub(crate) fn crlf(i: &mut In<'_>) -> PResult<()> {
    if i.quirks.trailing_space {
        let n = i.rest().iter().take_while(|&&b| b == b' ').count();
        i.advance(n);
    }
    line_end(i)
}

/// `CRLF` exactly (or bare LF with the quirk), e.g. after a literal header.
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

/// A keyword `k`, matched case-insensitively (RFC 5234 section 2.3).
pub(crate) fn kw(i: &mut In<'_>, k: &'static str) -> PResult<()> {
    let r = i.rest();
    if r.len() >= k.len() && r[..k.len()].eq_ignore_ascii_case(k.as_bytes()) {
        i.advance(k.len());
        Ok(())
    } else {
        Err(i.err(k))
    }
}

/// Whether the input starts with `k` (case-insensitive) followed by a non-keyword byte.
pub(crate) fn peek_kw(i: &In<'_>, k: &str) -> bool {
    let r = i.rest();
    r.len() >= k.len()
        && r[..k.len()].eq_ignore_ascii_case(k.as_bytes())
        && r.get(k.len()).is_none_or(|&b| !is_atom_char(b))
}

/// A keyword token: letters, digits, `.` and `-` (`RFC822.SIZE`, `READ-ONLY`), returned
/// raw for dispatch.
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
fn quoted_run(body: &[u8]) -> usize {
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

/// [`quoted`] as a string's [`Content`]: short content is copied inline.
#[inline(always)]
fn quoted_content(i: &mut In<'_>) -> PResult<Content> {
    quoted_as(i, |i, end| i.content_rest(1, end), Content::from)
}

/// [`quoted`], the content taken by `plain` (given the input at the opening quote and
/// where the content ends) or, when it has escapes, by `escaped`.
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

/// [`quoted`] for strings with escapes, and the errors.
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

/// The MIME vocabulary that nearly every BODYSTRUCTURE repeats (media types and subtypes,
/// parameter names and common values, transfer encodings, dispositions), as servers spell
/// it. A word found here is handed out as a static [`Bytes`]: no reference to the receive
/// buffer to take and later release, and nothing that keeps the buffer alive.
fn mime_word(content: &[u8]) -> Option<&'static [u8]> {
    Some(match content {
        b"TEXT" => b"TEXT",
        b"text" => b"text",
        b"Text" => b"Text",
        b"APPLICATION" => b"APPLICATION",
        b"application" => b"application",
        b"IMAGE" => b"IMAGE",
        b"image" => b"image",
        b"MESSAGE" => b"MESSAGE",
        b"message" => b"message",
        b"AUDIO" => b"AUDIO",
        b"audio" => b"audio",
        b"VIDEO" => b"VIDEO",
        b"video" => b"video",
        b"PLAIN" => b"PLAIN",
        b"plain" => b"plain",
        b"HTML" => b"HTML",
        b"html" => b"html",
        b"MIXED" => b"MIXED",
        b"mixed" => b"mixed",
        b"ALTERNATIVE" => b"ALTERNATIVE",
        b"alternative" => b"alternative",
        b"RELATED" => b"RELATED",
        b"related" => b"related",
        b"REPORT" => b"REPORT",
        b"report" => b"report",
        b"SIGNED" => b"SIGNED",
        b"signed" => b"signed",
        b"PDF" => b"PDF",
        b"pdf" => b"pdf",
        b"OCTET-STREAM" => b"OCTET-STREAM",
        b"octet-stream" => b"octet-stream",
        b"JPEG" => b"JPEG",
        b"jpeg" => b"jpeg",
        b"PNG" => b"PNG",
        b"png" => b"png",
        b"GIF" => b"GIF",
        b"gif" => b"gif",
        b"RFC822" => b"RFC822",
        b"rfc822" => b"rfc822",
        b"CALENDAR" => b"CALENDAR",
        b"calendar" => b"calendar",
        b"ZIP" => b"ZIP",
        b"zip" => b"zip",
        b"DELIVERY-STATUS" => b"DELIVERY-STATUS",
        b"delivery-status" => b"delivery-status",
        b"PGP-SIGNATURE" => b"PGP-SIGNATURE",
        b"pgp-signature" => b"pgp-signature",
        b"CHARSET" => b"CHARSET",
        b"charset" => b"charset",
        b"NAME" => b"NAME",
        b"name" => b"name",
        b"BOUNDARY" => b"BOUNDARY",
        b"boundary" => b"boundary",
        b"FILENAME" => b"FILENAME",
        b"filename" => b"filename",
        b"FORMAT" => b"FORMAT",
        b"format" => b"format",
        b"DELSP" => b"DELSP",
        b"delsp" => b"delsp",
        b"utf-8" => b"utf-8",
        b"UTF-8" => b"UTF-8",
        b"us-ascii" => b"us-ascii",
        b"US-ASCII" => b"US-ASCII",
        b"iso-8859-1" => b"iso-8859-1",
        b"ISO-8859-1" => b"ISO-8859-1",
        b"windows-1252" => b"windows-1252",
        b"flowed" => b"flowed",
        b"7BIT" => b"7BIT",
        b"7bit" => b"7bit",
        b"8BIT" => b"8BIT",
        b"8bit" => b"8bit",
        b"BASE64" => b"BASE64",
        b"base64" => b"base64",
        b"QUOTED-PRINTABLE" => b"QUOTED-PRINTABLE",
        b"quoted-printable" => b"quoted-printable",
        b"BINARY" => b"BINARY",
        b"binary" => b"binary",
        b"ATTACHMENT" => b"ATTACHMENT",
        b"attachment" => b"attachment",
        b"INLINE" => b"INLINE",
        b"inline" => b"inline",
        _ => return None,
    })
}

/// A `string` in BODYSTRUCTURE: [`string`], with the words of [`mime_word`] as static
/// handles. The value is the same either way.
#[inline(always)]
pub(crate) fn mime_string(i: &mut In<'_>) -> PResult<IString> {
    let r = i.rest();
    if r.first() == Some(&b'"') {
        let p = quoted_run(&r[1..]);
        if r.get(p + 1) == Some(&b'"') {
            let v = match mime_word(&r[1..p + 1]) {
                Some(w) => Content::Shared(Bytes::from_static(w)),
                None => i.content_rest(1, p + 1),
            };
            i.advance(p + 2);
            return Ok(IString::from_content(v));
        }
    }
    string(i)
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

/// `mailbox = "INBOX" / astring`.
pub(crate) fn mailbox(i: &mut In<'_>) -> PResult<Mailbox> {
    astring(i).map(Mailbox::from_raw)
}

/// `"(" [item *(SP item)] ")"`; with [`Quirks::trailing_space`](crate::Quirks) spaces
/// after `(` and before `)` are skipped.
#[inline]
pub(crate) fn paren_list<'a, O>(
    i: &mut In<'a>,
    item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    paren_list_sized(i, 4, item)
}

/// [`paren_list`] with room for `capacity` items before the list grows.
#[inline]
pub(crate) fn paren_list_sized<'a, O>(
    i: &mut In<'a>,
    capacity: usize,
    mut item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    i.expect(b'(', "(")?;
    let lenient = i.quirks.trailing_space;
    let skip_sp = |i: &mut In<'a>| {
        if lenient {
            let n = i.rest().iter().take_while(|&&b| b == b' ').count();
            i.advance(n);
        }
    };
    skip_sp(i);
    if i.eat(b')') {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(capacity);
    loop {
        out.push(item(i)?);
        match i.peek() {
            Some(b')') => {
                i.advance(1);
                return Ok(out);
            }
            Some(b' ') => {
                i.advance(1);
                skip_sp(i);
                if lenient && i.eat(b')') {
                    return Ok(out);
                }
            }
            _ => return Err(i.err("SP or )")),
        }
    }
}

/// `*(SP item)` after something: items each after a single space, while spaces come. With
/// [`Quirks::trailing_space`](crate::Quirks) a space not followed by an item ends the list
/// (before that space).
pub(crate) fn space_separated<'a, O>(
    i: &mut In<'a>,
    mut item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    let mut out = Vec::new();
    while i.peek() == Some(b' ') {
        let mut j = i.skip(1);
        match item(&mut j) {
            Ok(o) => {
                out.push(o);
                *i = j;
            }
            Err(_) if i.quirks.trailing_space => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `flag = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" / flag-keyword /
/// flag-extension`.
pub(crate) fn flag(i: &mut In<'_>) -> PResult<Flag> {
    if !i.eat(b'\\') {
        return atom(i).map(Flag::Keyword);
    }
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_atom_char(b)).count();
    if n == 0 {
        return Err(i.err("atom"));
    }
    let name = &r[..n];
    // The five system flags carry no bytes: no handle on the buffer for them.
    let is = |w: &[u8]| name.eq_ignore_ascii_case(w);
    let f = if is(b"Seen") {
        Flag::Seen
    } else if is(b"Answered") {
        Flag::Answered
    } else if is(b"Flagged") {
        Flag::Flagged
    } else if is(b"Deleted") {
        Flag::Deleted
    } else if is(b"Draft") {
        Flag::Draft
    } else {
        Flag::system(Atom::new_unchecked(i.bytes_of(name)))
    };
    i.advance(n);
    Ok(f)
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub(crate) fn flag_list(i: &mut In<'_>) -> PResult<Vec<Flag>> {
    paren_list(i, flag)
}

/// `flag-fetch = flag / "\\Recent"`.
pub(crate) fn flag_fetch(i: &mut In<'_>) -> PResult<FlagFetch> {
    if peek_kw(i, "\\Recent") {
        i.advance(7);
        return Ok(FlagFetch::Recent);
    }
    flag(i).map(FlagFetch::Flag)
}

/// `flag-perm = flag / "\\*"`.
pub(crate) fn flag_perm(i: &mut In<'_>) -> PResult<FlagPerm> {
    if i.rest().starts_with(b"\\*") {
        i.advance(2);
        return Ok(FlagPerm::Asterisk);
    }
    flag(i).map(FlagPerm::Flag)
}

/// `2DIGIT`.
fn two_digits(i: &mut In<'_>) -> PResult<u8> {
    match *i.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => {
            i.advance(2);
            Ok((a - b'0') * 10 + (b - b'0'))
        }
        _ => Err(i.err("2DIGIT")),
    }
}

/// The number of a month from its three-letter name, case-insensitively (as in
/// [`MONTHS`]).
#[inline]
fn month_number(a: u8, b: u8, c: u8) -> Option<u8> {
    // `| 0x20` lower-cases ASCII letters and maps no other byte to a letter.
    Some(match [a | 0x20, b | 0x20, c | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"`.
fn date_month(i: &mut In<'_>) -> PResult<u8> {
    match *i.rest() {
        [a, b, c, ..] => match month_number(a, b, c) {
            Some(m) => {
                i.advance(3);
                Ok(m)
            }
            None => Err(i.err("month name")),
        },
        _ => Err(i.err("month name")),
    }
}

/// `date-year = 4DIGIT`.
fn year(i: &mut In<'_>) -> PResult<u16> {
    let hi = two_digits(i)?;
    let lo = two_digits(i)?;
    Ok(u16::from(hi) * 100 + u16::from(lo))
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`.
///
/// The date-time has a fixed width, so the usual case is read in one match; anything else
/// (including every error) goes through [`date_time_by_rule`].
pub(crate) fn date_time(i: &mut In<'_>) -> PResult<DateTime> {
    let fast = match i.rest().get(..28) {
        Some(
            &[
                b'"',
                d1,
                d2,
                b'-',
                m1,
                m2,
                m3,
                b'-',
                y1,
                y2,
                y3,
                y4,
                b' ',
                h1,
                h2,
                b':',
                n1,
                n2,
                b':',
                s1,
                s2,
                b' ',
                sign,
                z1,
                z2,
                z3,
                z4,
                b'"',
            ],
        ) => {
            let dig = |c: u8| c.wrapping_sub(b'0');
            let all_digits = [d2, y1, y2, y3, y4, h1, h2, n1, n2, s1, s2, z1, z2, z3, z4]
                .iter()
                .all(|&c| dig(c) <= 9)
                && (d1 == b' ' || dig(d1) <= 9)
                && matches!(sign, b'+' | b'-');
            match month_number(m1, m2, m3) {
                Some(month) if all_digits => {
                    let two = |a: u8, b: u8| dig(a) * 10 + dig(b);
                    let day = if d1 == b' ' { dig(d2) } else { two(d1, d2) };
                    let year = u16::from(two(y1, y2)) * 100 + u16::from(two(y3, y4));
                    let zone = i16::from(two(z1, z2)) * 60 + i16::from(two(z3, z4));
                    let offset = if sign == b'-' { -zone } else { zone };
                    Date::new(year, month, day).ok().and_then(|date| {
                        DateTime::new(date, two(h1, h2), two(n1, n2), two(s1, s2), offset).ok()
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    match fast {
        Some(dt) => {
            i.advance(28);
            Ok(dt)
        }
        None => date_time_by_rule(i),
    }
}

/// [`date_time`] field by field, with an error that says which field is wrong.
fn date_time_by_rule(i: &mut In<'_>) -> PResult<DateTime> {
    let start = *i;
    let bad = || start.err("date-time");
    if i.peek() != Some(b'"') {
        return Err(bad());
    }
    // date-day-fixed = (SP DIGIT) / 2DIGIT
    let day = match *i.rest() {
        [_, b' ', d @ b'0'..=b'9', ..] => {
            i.advance(3);
            d - b'0'
        }
        _ => {
            i.advance(1);
            two_digits(i)?
        }
    };
    kw(i, "-")?;
    let month = date_month(i)?;
    kw(i, "-")?;
    let year = year(i)?;
    sp(i)?;
    let hour = two_digits(i)?;
    kw(i, ":")?;
    let minute = two_digits(i)?;
    kw(i, ":")?;
    let second = two_digits(i)?;
    sp(i)?;
    let sign = match i.peek() {
        Some(b'+') => 1i16,
        Some(b'-') => -1i16,
        _ => return Err(i.err("date-time")),
    };
    i.advance(1);
    let zh = two_digits(i)?;
    let zm = two_digits(i)?;
    kw(i, "\"")?;
    let offset = sign * (i16::from(zh) * 60 + i16::from(zm));
    let Ok(date) = Date::new(year, month, day) else {
        return Err(bad());
    };
    DateTime::new(date, hour, minute, second, offset).map_err(|_| bad())
}

/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-"
/// date-year`, `date-day = 1*2DIGIT`.
pub(crate) fn date(i: &mut In<'_>) -> PResult<Date> {
    let start = *i;
    let quoted = i.eat(b'"');
    let day = match *i.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => {
            i.advance(2);
            (a - b'0') * 10 + (b - b'0')
        }
        [a @ b'0'..=b'9', ..] => {
            i.advance(1);
            a - b'0'
        }
        _ => return Err(i.err("date")),
    };
    kw(i, "-")?;
    let month = date_month(i)?;
    kw(i, "-")?;
    let y = year(i)?;
    if quoted {
        kw(i, "\"")?;
    }
    Date::new(y, month, day).map_err(|_| start.err("date"))
}

/// `seq-number = nz-number / "*"`.
fn seq_number(i: &mut In<'_>) -> PResult<SeqOrUid> {
    if i.eat(b'*') {
        return Ok(SeqOrUid::Asterisk);
    }
    nz_number(i).map(SeqOrUid::Value)
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`,
/// `seq-range = seq-number ":" seq-number`.
pub(crate) fn sequence_set(i: &mut In<'_>) -> PResult<SequenceSet> {
    let start = *i;
    let mut out = Vec::new();
    loop {
        let a = seq_number(i)?;
        out.push(if i.eat(b':') {
            Sequence::Range(a, seq_number(i)?)
        } else {
            Sequence::Single(a)
        });
        if !i.eat(b',') {
            return SequenceSet::new(out).map_err(|_| start.err("sequence-set"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::Quirks;

    /// Runs `p` on `input` and returns the value and the unparsed rest.
    pub(crate) fn run<O>(
        p: impl Fn(&mut In<'_>) -> PResult<O>,
        input: &'static [u8],
    ) -> (O, Vec<u8>) {
        let b = Bytes::from_static(input);
        let mut i = In::new(&b, Quirks::default());
        let o = p(&mut i).unwrap();
        (o, i.rest().to_vec())
    }

    /// Runs `p` on `input` with [`Quirks::strict`] and checks that it fails.
    pub(crate) fn fails<O: std::fmt::Debug>(
        p: impl Fn(&mut In<'_>) -> PResult<O>,
        input: &'static [u8],
    ) {
        let b = Bytes::from_static(input);
        let r = p(&mut In::new(&b, Quirks::strict()));
        assert!(r.is_err(), "{r:?}");
    }

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
        assert_eq!(run(flag, b"\\seen").0, Flag::Seen);
        assert_eq!(
            run(flag, b"$Forwarded").0,
            Flag::keyword("$Forwarded").unwrap()
        );
        assert_eq!(run(flag_fetch, b"\\Recent)").0, FlagFetch::Recent);
        assert_eq!(run(flag_perm, b"\\*)").0, FlagPerm::Asterisk);
        assert_eq!(
            run(flag_list, b"(\\Seen \\Deleted )").0,
            vec![Flag::Seen, Flag::Deleted]
        );
        fails(flag_list, b"(\\Seen \\Deleted )");
        let dt = run(date_time, b"\"17-Jul-1996 02:44:25 -0700\"").0;
        assert_eq!(dt.unix_timestamp(), 837_596_665);
        let dt = run(date_time, b"\" 7-Jul-1996 02:44:25 +0000\"").0;
        assert_eq!(dt.date().day(), 7);
        assert_eq!(run(date, b"1-Feb-1994").0, Date::new(1994, 2, 1).unwrap());
        assert_eq!(run(sequence_set, b"1:3,5,*:9 ").0.to_string(), "1:3,5,*:9");
        fails(sequence_set, b"0:3");
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

        #[test]
        fn date_time_fast_path_matches_rule(
            day in 0u8..40, space_day in proptest::prelude::any::<bool>(),
            month in 0usize..14, upper in proptest::prelude::any::<bool>(),
            year in 0u16..10000, hour in 0u8..30, minute in 0u8..70, second in 0u8..70,
            minus in proptest::prelude::any::<bool>(), zone in 0u16..10000,
        ) {
            let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo", "J@n"];
            let m = if upper { names[month].to_ascii_uppercase() } else { names[month].to_string() };
            let d = if space_day && day < 10 { format!(" {day}") } else { format!("{day:02}") };
            let sign = if minus { '-' } else { '+' };
            let s = format!("\"{d}-{m}-{year:04} {hour:02}:{minute:02}:{second:02} {sign}{zone:04}\")");
            let b = Bytes::from(s.clone().into_bytes());
            let (mut j, mut k) = (In::new(&b, Quirks::default()), In::new(&b, Quirks::default()));
            let fast = date_time(&mut j);
            let slow = date_time_by_rule(&mut k);
            match (fast, slow) {
                (Ok(a), Ok(b)) => {
                    proptest::prop_assert_eq!(a, b);
                    proptest::prop_assert_eq!(j.rest(), k.rest());
                }
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b, "{}", s),
                (a, b) => proptest::prop_assert!(false, "{s}: {a:?} vs {b:?}"),
            }
        }
    }
}
