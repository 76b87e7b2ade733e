//! FETCH items: `fetch-att` (command side) and `msg-att` (response side), with `section`.

use std::num::NonZeroU32;

use super::body::{c_body_boxed, c_envelope};
use super::core::{
    astring, c_nstring, c_number, c_paren_list, date_time, flag_fetch, keyword, literal, number,
    number64, nz_number, paren_list, sp,
};
use super::{CResult, In, PResult, fail, lift, lower};
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
    lift(i, |j| c_paren_list(j, 8, c_msg_att_item))
}

/// One `msg-att-dynamic` or `msg-att-static` item.
fn c_msg_att_item(j: &mut In<'_>) -> CResult<MessageDataItem> {
    let start = *j;
    let k = lower(j, keyword)?;
    let is = |w: &[u8]| k.eq_ignore_ascii_case(w);
    if j.peek() == Some(b'[') && is(b"BODY") {
        let section = lower(j, section)?;
        let origin = lower(j, origin)?;
        j.expect(b' ', "SP")?;
        let data = c_nstring(j)?;
        return Ok(MessageDataItem::BodyExt {
            section,
            origin,
            data,
        });
    }
    if is(b"BINARY") {
        let section = lower(j, section_binary)?;
        let origin = lower(j, origin)?;
        j.expect(b' ', "SP")?;
        let data = if matches!(j.peek(), Some(b'~' | b'{')) {
            Some(lower(j, literal)?)
        } else {
            c_nstring(j)?.map(|s| s.to_bytes())
        };
        return Ok(MessageDataItem::Binary {
            section,
            origin,
            data,
        });
    }
    if is(b"BINARY.SIZE") {
        let section = lower(j, section_binary)?;
        j.expect(b' ', "SP")?;
        let size = c_number(j)?;
        return Ok(MessageDataItem::BinarySize { section, size });
    }
    j.expect(b' ', "SP")?;
    // The common items first; each test is a length comparison unless the length matches.
    Ok(if is(b"UID") {
        MessageDataItem::Uid(lower(j, nz_number)?)
    } else if is(b"FLAGS") {
        MessageDataItem::Flags(c_paren_list(j, 4, |j| lower(j, flag_fetch))?)
    } else if is(b"RFC822.SIZE") {
        MessageDataItem::Rfc822Size(c_number(j)?)
    } else if is(b"INTERNALDATE") {
        MessageDataItem::InternalDate(lower(j, date_time)?)
    } else if is(b"ENVELOPE") {
        MessageDataItem::Envelope(c_envelope(j)?)
    } else if is(b"BODYSTRUCTURE") {
        MessageDataItem::BodyStructure(c_body_boxed(j, 0)?)
    } else if is(b"BODY") {
        MessageDataItem::Body(c_body_boxed(j, 0)?)
    } else if is(b"MODSEQ") {
        // "MODSEQ" SP "(" mod-sequence-value ")"
        let v = lower(j, |i| paren_list(i, number64))?;
        match v[..] {
            [n] => MessageDataItem::ModSeq(n),
            _ => return Err(j.err("one mod-sequence value")),
        }
    } else if is(b"RFC822") {
        MessageDataItem::Rfc822(c_nstring(j)?)
    } else if is(b"RFC822.HEADER") {
        MessageDataItem::Rfc822Header(c_nstring(j)?)
    } else if is(b"RFC822.TEXT") {
        MessageDataItem::Rfc822Text(c_nstring(j)?)
    } else {
        return Err(start.err("message data item"));
    })
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
