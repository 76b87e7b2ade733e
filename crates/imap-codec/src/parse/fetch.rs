//! FETCH items: `fetch-att` (command side) and `msg-att` (response side), with `section`.

use std::num::NonZeroU32;

use super::body::{body, envelope};
use super::core::{
    astring, date_time, flag_fetch, keyword, literal, nstring, number, number64, nz_number,
    paren_list, paren_list_sized, sp,
};
use super::{In, PResult, fail};
use crate::types::{FetchAttribute, MessageDataItem, Section, SectionText};

/// `section-part = nz-number *("." nz-number)` (possibly empty here).
fn section_part(i: In<'_>) -> PResult<'_, Vec<NonZeroU32>> {
    let mut out = Vec::new();
    let mut j = i;
    while matches!(j.peek(), Some(b'1'..=b'9')) {
        let (k, n) = nz_number(j)?;
        out.push(n);
        j = k;
        match j.rest() {
            [b'.', b'1'..=b'9', ..] => j = j.skip(1),
            _ => break,
        }
    }
    Ok((j, out))
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_list(i: In<'_>) -> PResult<'_, Vec<crate::types::AString>> {
    paren_list(i, astring)
}

/// `section-text = section-msgtext / "MIME"`, `section-msgtext = "HEADER" /
/// "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`.
fn section_text(i: In<'_>) -> PResult<'_, SectionText> {
    let (j, k) = keyword(i)?;
    if k.eq_ignore_ascii_case(b"HEADER") {
        Ok((j, SectionText::Header))
    } else if k.eq_ignore_ascii_case(b"TEXT") {
        Ok((j, SectionText::Text))
    } else if k.eq_ignore_ascii_case(b"MIME") {
        Ok((j, SectionText::Mime))
    } else if k.eq_ignore_ascii_case(b"HEADER.FIELDS") {
        let (j, ()) = sp(j)?;
        header_list(j).map(|(j, l)| (j, SectionText::HeaderFields(l)))
    } else if k.eq_ignore_ascii_case(b"HEADER.FIELDS.NOT") {
        let (j, ()) = sp(j)?;
        header_list(j).map(|(j, l)| (j, SectionText::HeaderFieldsNot(l)))
    } else {
        fail(i, "section text")
    }
}

/// `section = "[" [section-spec] "]"`, `section-spec = section-msgtext / (section-part
/// ["." section-text])`.
pub(crate) fn section(i: In<'_>) -> PResult<'_, Option<Section>> {
    if i.peek() != Some(b'[') {
        return fail(i, "[");
    }
    let j = i.skip(1);
    if j.peek() == Some(b']') {
        return Ok((j.skip(1), None));
    }
    let (mut j, part) = section_part(j)?;
    let mut text = None;
    if part.is_empty() {
        let (k, t) = section_text(j)?;
        text = Some(t);
        j = k;
    } else if j.peek() == Some(b'.') {
        let (k, t) = section_text(j.skip(1))?;
        text = Some(t);
        j = k;
    }
    if j.peek() != Some(b']') {
        return fail(j, "]");
    }
    match Section::new(part, text) {
        Ok(s) => Ok((j.skip(1), Some(s))),
        Err(_) => fail(i, "section"),
    }
}

/// `section-binary = "[" [section-part] "]"`.
fn section_binary(i: In<'_>) -> PResult<'_, Vec<NonZeroU32>> {
    if i.peek() != Some(b'[') {
        return fail(i, "[");
    }
    let (j, part) = section_part(i.skip(1))?;
    if j.peek() != Some(b']') {
        return fail(j, "]");
    }
    Ok((j.skip(1), part))
}

/// `"<" number "." nz-number ">"` (a partial range in a command).
fn partial(i: In<'_>) -> PResult<'_, Option<(u32, NonZeroU32)>> {
    if i.peek() != Some(b'<') {
        return Ok((i, None));
    }
    let (j, a) = number(i.skip(1))?;
    if j.peek() != Some(b'.') {
        return fail(j, ".");
    }
    let (j, b) = nz_number(j.skip(1))?;
    if j.peek() != Some(b'>') {
        return fail(j, ">");
    }
    Ok((j.skip(1), Some((a, b))))
}

/// `"<" number ">"` (the origin octet in a response).
fn origin(i: In<'_>) -> PResult<'_, Option<u32>> {
    if i.peek() != Some(b'<') {
        return Ok((i, None));
    }
    let (j, a) = number(i.skip(1))?;
    if j.peek() != Some(b'>') {
        return fail(j, ">");
    }
    Ok((j.skip(1), Some(a)))
}

/// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" /
/// ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] / "BODY.PEEK"
/// section [partial] / "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE"
/// section-binary / "MODSEQ"`.
pub(crate) fn fetch_att(i: In<'_>) -> PResult<'_, FetchAttribute> {
    let (j, k) = keyword(i)?;
    let k = k.to_ascii_uppercase();
    Ok(match &k[..] {
        b"UID" => (j, FetchAttribute::Uid),
        b"FLAGS" => (j, FetchAttribute::Flags),
        b"INTERNALDATE" => (j, FetchAttribute::InternalDate),
        b"RFC822.SIZE" => (j, FetchAttribute::Rfc822Size),
        b"RFC822" => (j, FetchAttribute::Rfc822),
        b"RFC822.HEADER" => (j, FetchAttribute::Rfc822Header),
        b"RFC822.TEXT" => (j, FetchAttribute::Rfc822Text),
        b"ENVELOPE" => (j, FetchAttribute::Envelope),
        b"BODYSTRUCTURE" => (j, FetchAttribute::BodyStructure),
        b"MODSEQ" => (j, FetchAttribute::ModSeq),
        b"BODY" | b"BODY.PEEK" if j.peek() == Some(b'[') => {
            let (j, section) = section(j)?;
            let (j, partial) = partial(j)?;
            (
                j,
                FetchAttribute::BodyExt {
                    section,
                    partial,
                    peek: k.len() > 4,
                },
            )
        }
        b"BODY" => (j, FetchAttribute::Body),
        b"BINARY" | b"BINARY.PEEK" => {
            let (j, section) = section_binary(j)?;
            let (j, partial) = partial(j)?;
            (
                j,
                FetchAttribute::Binary {
                    section,
                    partial,
                    peek: k.len() > 6,
                },
            )
        }
        b"BINARY.SIZE" => {
            let (j, section) = section_binary(j)?;
            (j, FetchAttribute::BinarySize { section })
        }
        _ => return fail(i, "fetch attribute"),
    })
}

/// `msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic /
/// msg-att-static)) ")"`.
pub(crate) fn msg_att(i: In<'_>) -> PResult<'_, Vec<MessageDataItem>> {
    // Room for the items a FETCH typically returns (UID, FLAGS, sizes, date, envelope,
    // structure, a body section) without growing.
    paren_list_sized(i, 8, msg_att_item)
}

/// One `msg-att-dynamic` or `msg-att-static` item.
fn msg_att_item(i: In<'_>) -> PResult<'_, MessageDataItem> {
    let (j, k) = keyword(i)?;
    let upper = |w: &[u8]| k.eq_ignore_ascii_case(w);
    if upper(b"BODY") && j.peek() == Some(b'[') {
        let (j, section) = section(j)?;
        let (j, origin) = origin(j)?;
        let (j, ()) = sp(j)?;
        let (j, data) = nstring(j)?;
        return Ok((
            j,
            MessageDataItem::BodyExt {
                section,
                origin,
                data,
            },
        ));
    }
    if upper(b"BINARY") {
        let (j, section) = section_binary(j)?;
        let (j, origin) = origin(j)?;
        let (j, ()) = sp(j)?;
        let (j, data) = if matches!(j.peek(), Some(b'~' | b'{')) {
            literal(j).map(|(j, b)| (j, Some(b)))?
        } else {
            nstring(j).map(|(j, s)| (j, s.map(|s| s.to_bytes())))?
        };
        return Ok((
            j,
            MessageDataItem::Binary {
                section,
                origin,
                data,
            },
        ));
    }
    if upper(b"BINARY.SIZE") {
        let (j, section) = section_binary(j)?;
        let (j, ()) = sp(j)?;
        let (j, size) = number(j)?;
        return Ok((j, MessageDataItem::BinarySize { section, size }));
    }
    let (j, ()) = sp(j)?;
    if upper(b"UID") {
        nz_number(j).map(|(j, n)| (j, MessageDataItem::Uid(n)))
    } else if upper(b"FLAGS") {
        paren_list(j, flag_fetch).map(|(j, f)| (j, MessageDataItem::Flags(f)))
    } else if upper(b"INTERNALDATE") {
        date_time(j).map(|(j, d)| (j, MessageDataItem::InternalDate(d)))
    } else if upper(b"RFC822.SIZE") {
        number(j).map(|(j, n)| (j, MessageDataItem::Rfc822Size(n)))
    } else if upper(b"ENVELOPE") {
        envelope(j).map(|(j, e)| (j, MessageDataItem::Envelope(Box::new(e))))
    } else if upper(b"BODY") {
        body(j, 0).map(|(j, b)| (j, MessageDataItem::Body(Box::new(b))))
    } else if upper(b"BODYSTRUCTURE") {
        body(j, 0).map(|(j, b)| (j, MessageDataItem::BodyStructure(Box::new(b))))
    } else if upper(b"RFC822") {
        nstring(j).map(|(j, s)| (j, MessageDataItem::Rfc822(s)))
    } else if upper(b"RFC822.HEADER") {
        nstring(j).map(|(j, s)| (j, MessageDataItem::Rfc822Header(s)))
    } else if upper(b"RFC822.TEXT") {
        nstring(j).map(|(j, s)| (j, MessageDataItem::Rfc822Text(s)))
    } else if upper(b"MODSEQ") {
        // "MODSEQ" SP "(" mod-sequence-value ")"
        let (j, v) = paren_list(j, number64)?;
        match v[..] {
            [n] => Ok((j, MessageDataItem::ModSeq(n))),
            _ => fail(j, "one mod-sequence value"),
        }
    } else {
        fail(i, "message data item")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::core::tests::run;
    use super::*;
    use crate::types::{AString, Flag, FlagFetch, IString};

    #[test]
    fn fetch_atts() {
        assert_eq!(run(fetch_att, b"RFC822.SIZE").0, FetchAttribute::Rfc822Size);
        assert_eq!(
            run(fetch_att, b"BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>").0,
            FetchAttribute::BodyExt {
                section: Some(
                    Section::new(
                        vec![],
                        Some(SectionText::HeaderFields(vec![
                            AString::from("DATE"),
                            AString::from("FROM")
                        ]))
                    )
                    .unwrap()
                ),
                partial: Some((0, NonZeroU32::new(100).unwrap())),
                peek: true
            }
        );
        let s = run(fetch_att, b"body[1.2.MIME]").0;
        let FetchAttribute::BodyExt {
            section: Some(s),
            peek: false,
            ..
        } = s
        else {
            panic!()
        };
        assert_eq!(s.part().len(), 2);
        assert_eq!(s.text(), Some(&SectionText::Mime));
        assert_eq!(run(fetch_att, b"BODY").0, FetchAttribute::Body);
        assert_eq!(
            run(fetch_att, b"BINARY.PEEK[1]").0,
            FetchAttribute::Binary {
                section: vec![NonZeroU32::MIN],
                partial: None,
                peek: true
            }
        );
    }

    #[test]
    fn msg_atts() {
        let (items, _) = run(msg_att, b"(UID 4827313 FLAGS (\\Seen \\Recent) BODY[]<0> {5}\r\nhello MODSEQ (12) RFC822.SIZE 44827)");
        assert_eq!(
            items[0],
            MessageDataItem::Uid(NonZeroU32::new(4_827_313).unwrap())
        );
        assert_eq!(
            items[1],
            MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Recent])
        );
        assert_eq!(
            items[2],
            MessageDataItem::BodyExt {
                section: None,
                origin: Some(0),
                data: Some(IString::from("hello"))
            }
        );
        assert_eq!(items[3], MessageDataItem::ModSeq(12));
        assert_eq!(items[4], MessageDataItem::Rfc822Size(44827));
        let (items, _) = run(msg_att, b"(BINARY[1] ~{3}\r\na\0b)");
        assert_eq!(
            items[0],
            MessageDataItem::Binary {
                section: vec![NonZeroU32::MIN],
                origin: None,
                data: Some(bytes::Bytes::from_static(b"a\0b"))
            }
        );
    }
}
