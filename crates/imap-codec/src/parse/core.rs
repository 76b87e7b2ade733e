//! Core rules (RFC 3501 section 9, RFC 9051 section 9): numbers, strings, atoms, text,
//! flags, dates, sequence sets.

use std::num::NonZeroU32;

use bytes::Bytes;
use nom::Parser;
use nom::bytes::complete::take_while1;

use super::{In, PResult, fail};
use crate::types::chars::{
    is_astring_char, is_atom_char, is_quoted_char, is_tag_char, is_text_char,
};
use crate::types::{
    AString, Atom, Date, DateTime, Flag, FlagFetch, FlagPerm, IString, MONTHS, Mailbox, NString,
    SeqOrUid, Sequence, SequenceSet, Tag, Text,
};

/// `SP`
pub(crate) fn sp(i: In<'_>) -> PResult<'_, ()> {
    match i.peek() {
        Some(b' ') => Ok((i.skip(1), ())),
        _ => fail(i, "SP"),
    }
}

/// `CRLF`; with [`Quirks::trailing_space`](crate::Quirks) spaces before it, with
/// [`Quirks::bare_lf`](crate::Quirks) a bare `LF`.
pub(crate) fn crlf(i: In<'_>) -> PResult<'_, ()> {
    let mut j = i;
    if i.quirks.trailing_space {
        let n = j.rest().iter().take_while(|&&b| b == b' ').count();
        j = j.skip(n);
    }
    line_end(j)
}

/// `CRLF` exactly (or bare LF with the quirk), e.g. after a literal header.
pub(crate) fn line_end(i: In<'_>) -> PResult<'_, ()> {
    let r = i.rest();
    if r.starts_with(b"\r\n") {
        Ok((i.skip(2), ()))
    } else if i.quirks.bare_lf && r.first() == Some(&b'\n') {
        Ok((i.skip(1), ()))
    } else {
        fail(i, "CRLF")
    }
}

/// A keyword, matched case-insensitively (RFC 5234 section 2.3).
pub(crate) fn kw<'a>(k: &'static str) -> impl Fn(In<'a>) -> PResult<'a, ()> {
    move |i: In<'a>| {
        let r = i.rest();
        if r.len() >= k.len() && r[..k.len()].eq_ignore_ascii_case(k.as_bytes()) {
            Ok((i.skip(k.len()), ()))
        } else {
            fail(i, k)
        }
    }
}

/// Whether the input starts with `k` (case-insensitive) followed by a non-keyword byte.
pub(crate) fn peek_kw(i: In<'_>, k: &str) -> bool {
    let r = i.rest();
    r.len() >= k.len()
        && r[..k.len()].eq_ignore_ascii_case(k.as_bytes())
        && r.get(k.len()).is_none_or(|&b| !is_atom_char(b))
}

/// A keyword token: letters, digits, `.` and `-` (`RFC822.SIZE`, `READ-ONLY`), returned
/// raw for dispatch.
pub(crate) fn keyword(i: In<'_>) -> PResult<'_, &[u8]> {
    let n = i
        .rest()
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        .count();
    if n == 0 {
        return fail(i, "keyword");
    }
    Ok((i.skip(n), &i.rest()[..n]))
}

fn digits(i: In<'_>) -> PResult<'_, &[u8]> {
    let (j, d) = take_while1(|b: u8| b.is_ascii_digit()).parse(i).map_err(
        |_: nom::Err<super::PError>| {
            nom::Err::Error(super::PError {
                offset: i.offset(),
                expected: "number",
            })
        },
    )?;
    Ok((j, d.rest()))
}

/// `number = 1*DIGIT` (unsigned 32-bit).
pub(crate) fn number(i: In<'_>) -> PResult<'_, u32> {
    let (j, d) = digits(i)?;
    let mut n: u32 = 0;
    for &c in d {
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u32::from(c - b'0')))
        {
            Some(n) => n,
            None => return fail(i, "number (32-bit)"),
        };
    }
    Ok((j, n))
}

/// `number64 = 1*DIGIT` (unsigned 63-bit in RFC 9051; we take 64).
pub(crate) fn number64(i: In<'_>) -> PResult<'_, u64> {
    let (j, d) = digits(i)?;
    let mut n: u64 = 0;
    for &c in d {
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
        {
            Some(n) => n,
            None => return fail(i, "number (64-bit)"),
        };
    }
    Ok((j, n))
}

/// `nz-number = digit-nz *DIGIT`.
pub(crate) fn nz_number(i: In<'_>) -> PResult<'_, NonZeroU32> {
    let (j, n) = number(i)?;
    match NonZeroU32::new(n) {
        Some(n) => Ok((j, n)),
        None => fail(i, "non-zero number"),
    }
}

/// `atom = 1*ATOM-CHAR`.
pub(crate) fn atom(i: In<'_>) -> PResult<'_, Atom> {
    let n = i.rest().iter().take_while(|&&b| is_atom_char(b)).count();
    if n == 0 {
        return fail(i, "atom");
    }
    Ok((i.skip(n), Atom::new_unchecked(i.bytes_of(&i.rest()[..n]))))
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn tag(i: In<'_>) -> PResult<'_, Tag> {
    let n = i.rest().iter().take_while(|&&b| is_tag_char(b)).count();
    if n == 0 {
        return fail(i, "tag");
    }
    Ok((i.skip(n), Tag::new_unchecked(i.bytes_of(&i.rest()[..n]))))
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, `QUOTED-CHAR = <any TEXT-CHAR except
/// quoted-specials> / "\" quoted-specials`. Unescaped content is a slice of the input.
pub(crate) fn quoted(i: In<'_>) -> PResult<'_, Bytes> {
    let r = i.rest();
    if r.first() != Some(&b'"') {
        return fail(i, "quoted string");
    }
    let body = &r[1..];
    // One pass over the QUOTED-CHARs up to the first byte that is not one: quoted strings
    // are short, and a table lookup per byte beats setting up a vector search.
    let p = body
        .iter()
        .position(|&b| !is_quoted_char(b))
        .unwrap_or(body.len());
    match body.get(p) {
        Some(b'"') => Ok((i.skip(p + 2), i.bytes_of(&body[..p]))),
        Some(b'\\') => {
            let mut out = Vec::with_capacity(body.len().min(256));
            out.extend_from_slice(&body[..p]);
            let mut k = p;
            while k < body.len() {
                match body[k] {
                    b'"' => return Ok((i.skip(k + 2), Bytes::from(out))),
                    b'\\' => match body.get(k + 1) {
                        Some(&c @ (b'"' | b'\\')) => {
                            out.push(c);
                            k += 2;
                        }
                        _ => return fail(i.skip(1 + k), "escaped quote or backslash"),
                    },
                    b if is_quoted_char(b) => {
                        out.push(b);
                        k += 1;
                    }
                    _ => return fail(i.skip(1 + k), "quoted character"),
                }
            }
            fail(i.skip(r.len()), "closing quote")
        }
        // A byte that may not appear in a quoted string: an error there if the string
        // goes on to a quote or backslash, else the closing quote is what is missing.
        Some(_) if memchr::memchr2(b'"', b'\\', &body[p..]).is_some() => {
            fail(i.skip(1 + p), "quoted character")
        }
        _ => fail(i.skip(r.len()), "closing quote"),
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8` and `literal8 = "~{" number64 "}" CRLF
/// *OCTET` (RFC 3516). The data is a slice of the input, never copied nor scanned.
pub(crate) fn literal(i: In<'_>) -> PResult<'_, Bytes> {
    let r = i.rest();
    let j = if r.starts_with(b"~{") {
        i.skip(2)
    } else if r.first() == Some(&b'{') {
        i.skip(1)
    } else {
        return fail(i, "literal");
    };
    let (j, n) = number64(j)?;
    let j = if j.peek() == Some(b'+') { j.skip(1) } else { j };
    if j.peek() != Some(b'}') {
        return fail(j, "}");
    }
    let (j, ()) = line_end(j.skip(1))?;
    let data = j.rest();
    if (data.len() as u64) < n {
        return fail(j, "literal data");
    }
    let n = n as usize;
    Ok((j.skip(n), j.bytes_of(&data[..n])))
}

/// `string = quoted / literal`.
pub(crate) fn string(i: In<'_>) -> PResult<'_, IString> {
    match i.peek() {
        Some(b'"') => quoted(i).map(|(j, b)| (j, IString::new_unchecked(b))),
        Some(b'{' | b'~') => literal(i).map(|(j, b)| (j, IString::new_unchecked(b))),
        _ => fail(i, "string"),
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
pub(crate) fn astring(i: In<'_>) -> PResult<'_, AString> {
    let n = i.rest().iter().take_while(|&&b| is_astring_char(b)).count();
    if n > 0 {
        return Ok((
            i.skip(n),
            AString::new_unchecked(i.bytes_of(&i.rest()[..n])),
        ));
    }
    string(i).map(|(j, s)| (j, s.into()))
}

/// `nil = "NIL"`.
pub(crate) fn nil(i: In<'_>) -> PResult<'_, ()> {
    kw("NIL")(i)
}

/// `nstring = string / nil`.
pub(crate) fn nstring(i: In<'_>) -> PResult<'_, NString> {
    match i.peek() {
        Some(b'N' | b'n') => nil(i).map(|(j, ())| (j, None)),
        _ => string(i).map(|(j, s)| (j, Some(s))),
    }
}

/// `text = 1*TEXT-CHAR` (may be empty here; callers decide).
pub(crate) fn text(i: In<'_>) -> PResult<'_, Text> {
    let r = i.rest();
    let n = memchr::memchr2(b'\r', b'\n', r).unwrap_or(r.len());
    if let Some(bad) = r[..n].iter().position(|&b| !is_text_char(b)) {
        return fail(i.skip(bad), "text character");
    }
    Ok((i.skip(n), Text::new_unchecked(i.bytes_of(&r[..n]))))
}

/// `mailbox = "INBOX" / astring`.
pub(crate) fn mailbox(i: In<'_>) -> PResult<'_, Mailbox> {
    astring(i).map(|(j, a)| (j, Mailbox::from_raw(a)))
}

/// `"(" [item *(SP item)] ")"`; with [`Quirks::trailing_space`](crate::Quirks) spaces
/// after `(` and before `)` are skipped.
pub(crate) fn paren_list<'a, O>(
    i: In<'a>,
    item: impl FnMut(In<'a>) -> PResult<'a, O>,
) -> PResult<'a, Vec<O>> {
    paren_list_sized(i, 4, item)
}

/// [`paren_list`] with room for `capacity` items before the list grows.
pub(crate) fn paren_list_sized<'a, O>(
    i: In<'a>,
    capacity: usize,
    mut item: impl FnMut(In<'a>) -> PResult<'a, O>,
) -> PResult<'a, Vec<O>> {
    if i.peek() != Some(b'(') {
        return fail(i, "(");
    }
    let lenient = i.quirks.trailing_space;
    let skip_sp = |j: In<'a>| {
        if lenient {
            let n = j.rest().iter().take_while(|&&b| b == b' ').count();
            j.skip(n)
        } else {
            j
        }
    };
    let mut j = skip_sp(i.skip(1));
    if j.peek() == Some(b')') {
        return Ok((j.skip(1), Vec::new()));
    }
    let mut out = Vec::with_capacity(capacity);
    loop {
        let (k, o) = item(j)?;
        out.push(o);
        j = k;
        match j.peek() {
            Some(b')') => return Ok((j.skip(1), out)),
            Some(b' ') => {
                j = skip_sp(j.skip(1));
                if lenient && j.peek() == Some(b')') {
                    return Ok((j.skip(1), out));
                }
            }
            _ => return fail(j, "SP or )"),
        }
    }
}

/// `1*(SP item)` after something: items separated by single spaces until `stop` or end.
pub(crate) fn space_separated<'a, O>(
    mut i: In<'a>,
    mut item: impl FnMut(In<'a>) -> PResult<'a, O>,
) -> PResult<'a, Vec<O>> {
    let mut out = Vec::new();
    while i.peek() == Some(b' ') {
        let j = i.skip(1);
        match item(j) {
            Ok((k, o)) => {
                out.push(o);
                i = k;
            }
            Err(nom::Err::Error(_)) if i.quirks.trailing_space => break,
            Err(e) => return Err(e),
        }
    }
    Ok((i, out))
}

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
/// flag-extension`.
pub(crate) fn flag(i: In<'_>) -> PResult<'_, Flag> {
    if i.peek() == Some(b'\\') {
        let j = i.skip(1);
        let n = j.rest().iter().take_while(|&&b| is_atom_char(b)).count();
        if n == 0 {
            return fail(j, "atom");
        }
        let name = &j.rest()[..n];
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
            Flag::system(Atom::new_unchecked(j.bytes_of(name)))
        };
        Ok((j.skip(n), f))
    } else {
        let (j, a) = atom(i)?;
        Ok((j, Flag::Keyword(a)))
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub(crate) fn flag_list(i: In<'_>) -> PResult<'_, Vec<Flag>> {
    paren_list(i, flag)
}

/// `flag-fetch = flag / "\Recent"`.
pub(crate) fn flag_fetch(i: In<'_>) -> PResult<'_, FlagFetch> {
    if peek_kw(i, "\\Recent") {
        return Ok((i.skip(7), FlagFetch::Recent));
    }
    flag(i).map(|(j, f)| (j, FlagFetch::Flag(f)))
}

/// `flag-perm = flag / "\*"`.
pub(crate) fn flag_perm(i: In<'_>) -> PResult<'_, FlagPerm> {
    if i.rest().starts_with(b"\\*") {
        return Ok((i.skip(2), FlagPerm::Asterisk));
    }
    flag(i).map(|(j, f)| (j, FlagPerm::Flag(f)))
}

fn two_digits(i: In<'_>) -> PResult<'_, u8> {
    match i.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => Ok((i.skip(2), (a - b'0') * 10 + (b - b'0'))),
        _ => fail(i, "2DIGIT"),
    }
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"`.
fn date_month(i: In<'_>) -> PResult<'_, u8> {
    let r = i.rest();
    if r.len() >= 3 {
        for (m, name) in MONTHS.iter().enumerate() {
            if r[..3].eq_ignore_ascii_case(name.as_bytes()) {
                return Ok((i.skip(3), m as u8 + 1));
            }
        }
    }
    fail(i, "month name")
}

fn year(i: In<'_>) -> PResult<'_, u16> {
    let (j, hi) = two_digits(i)?;
    let (j, lo) = two_digits(j)?;
    Ok((j, u16::from(hi) * 100 + u16::from(lo)))
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`.
pub(crate) fn date_time(i: In<'_>) -> PResult<'_, DateTime> {
    let bad = |i| fail(i, "date-time");
    let r = i.rest();
    if r.first() != Some(&b'"') {
        return bad(i);
    }
    // date-day-fixed = (SP DIGIT) / 2DIGIT
    let (j, day) = match r.get(1..3) {
        Some([b' ', d @ b'0'..=b'9']) => (i.skip(3), d - b'0'),
        _ => two_digits(i.skip(1))?,
    };
    let (j, ()) = kw("-")(j)?;
    let (j, month) = date_month(j)?;
    let (j, ()) = kw("-")(j)?;
    let (j, year) = year(j)?;
    let (j, ()) = sp(j)?;
    let (j, hour) = two_digits(j)?;
    let (j, ()) = kw(":")(j)?;
    let (j, minute) = two_digits(j)?;
    let (j, ()) = kw(":")(j)?;
    let (j, second) = two_digits(j)?;
    let (j, ()) = sp(j)?;
    let (sign, j) = match j.peek() {
        Some(b'+') => (1i16, j.skip(1)),
        Some(b'-') => (-1i16, j.skip(1)),
        _ => return bad(j),
    };
    let (j, zh) = two_digits(j)?;
    let (j, zm) = two_digits(j)?;
    let (j, ()) = kw("\"")(j)?;
    let offset = sign * (i16::from(zh) * 60 + i16::from(zm));
    let Ok(date) = Date::new(year, month, day) else {
        return bad(i);
    };
    match DateTime::new(date, hour, minute, second, offset) {
        Ok(dt) => Ok((j, dt)),
        Err(_) => bad(i),
    }
}

/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-"
/// date-year`, `date-day = 1*2DIGIT`.
pub(crate) fn date(i: In<'_>) -> PResult<'_, Date> {
    let quotedd = i.peek() == Some(b'"');
    let j = if quotedd { i.skip(1) } else { i };
    let (j, day) = match j.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => (j.skip(2), (a - b'0') * 10 + (b - b'0')),
        [a @ b'0'..=b'9', ..] => (j.skip(1), a - b'0'),
        _ => return fail(j, "date"),
    };
    let (j, ()) = kw("-")(j)?;
    let (j, month) = date_month(j)?;
    let (j, ()) = kw("-")(j)?;
    let (j, y) = year(j)?;
    let j = if quotedd { kw("\"")(j)?.0 } else { j };
    match Date::new(y, month, day) {
        Ok(d) => Ok((j, d)),
        Err(_) => fail(i, "date"),
    }
}

/// `seq-number = nz-number / "*"`.
fn seq_number(i: In<'_>) -> PResult<'_, SeqOrUid> {
    if i.peek() == Some(b'*') {
        return Ok((i.skip(1), SeqOrUid::Asterisk));
    }
    nz_number(i).map(|(j, n)| (j, SeqOrUid::Value(n)))
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`,
/// `seq-range = seq-number ":" seq-number`.
pub(crate) fn sequence_set(i: In<'_>) -> PResult<'_, SequenceSet> {
    let mut out = Vec::new();
    let mut j = i;
    loop {
        let (k, a) = seq_number(j)?;
        let (k, s) = if k.peek() == Some(b':') {
            let (k, b) = seq_number(k.skip(1))?;
            (k, Sequence::Range(a, b))
        } else {
            (k, Sequence::Single(a))
        };
        out.push(s);
        if k.peek() == Some(b',') {
            j = k.skip(1);
        } else {
            return match SequenceSet::new(out) {
                Ok(s) => Ok((k, s)),
                Err(_) => fail(i, "sequence-set"),
            };
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
        p: impl Fn(In<'_>) -> PResult<'_, O>,
        input: &'static [u8],
    ) -> (O, Vec<u8>) {
        let b = Bytes::from_static(input);
        let (rest, o) = p(In::new(&b, Quirks::default())).unwrap();
        (o, rest.rest().to_vec())
    }

    pub(crate) fn fails<O: std::fmt::Debug>(
        p: impl Fn(In<'_>) -> PResult<'_, O>,
        input: &'static [u8],
    ) {
        let b = Bytes::from_static(input);
        let r = p(In::new(&b, Quirks::strict()));
        assert!(r.is_err(), "{r:?}");
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
    }
}
