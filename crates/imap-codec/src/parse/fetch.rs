//! FETCH items: `fetch-att` (command side) and `msg-att` (response side), with `section`.

use std::num::NonZeroU32;

use super::body::body_boxed;
use super::core::{astring, keyword, literal, nstring, number, number64, nz_number, sp};
use super::datetime::date_time;
use super::envelope::envelope;
use super::flag::flag_fetch;
use super::{In, PResult, paren_list, paren_list_sized};
use crate::types::{FetchAttribute, MessageDataItem, Section, SectionText};

/// `section-part = nz-number *("." nz-number)` (possibly empty here).
fn section_part(i: &mut In<'_>) -> PResult<Vec<NonZeroU32>> {
    let mut out = Vec::new();
    while matches!(i.peek(), Some(b'1'..=b'9')) {
        out.push(nz_number(i)?);
        match i.rest() {
            [b'.', b'1'..=b'9', ..] => i.advance(1),
            _ => break,
        }
    }
    Ok(out)
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_list(i: &mut In<'_>) -> PResult<Vec<crate::types::AString>> {
    paren_list(i, astring)
}

/// `section-text = section-msgtext / "MIME"`, `section-msgtext = "HEADER" /
/// "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`.
fn section_text(i: &mut In<'_>) -> PResult<SectionText> {
    let start = *i;
    let k = keyword(i)?;
    if k.eq_ignore_ascii_case(b"HEADER") {
        Ok(SectionText::Header)
    } else if k.eq_ignore_ascii_case(b"TEXT") {
        Ok(SectionText::Text)
    } else if k.eq_ignore_ascii_case(b"MIME") {
        Ok(SectionText::Mime)
    } else if k.eq_ignore_ascii_case(b"HEADER.FIELDS") {
        sp(i)?;
        header_list(i).map(SectionText::HeaderFields)
    } else if k.eq_ignore_ascii_case(b"HEADER.FIELDS.NOT") {
        sp(i)?;
        header_list(i).map(SectionText::HeaderFieldsNot)
    } else {
        Err(start.err("section text"))
    }
}

/// `section = "[" [section-spec] "]"`, `section-spec = section-msgtext / (section-part
/// ["." section-text])`.
pub(crate) fn section(i: &mut In<'_>) -> PResult<Option<Section>> {
    let start = *i;
    i.expect(b'[', "[")?;
    if i.eat(b']') {
        return Ok(None);
    }
    let part = section_part(i)?;
    // Without a part the text is the whole spec; after one it follows a ".".
    let text = if part.is_empty() || i.eat(b'.') {
        Some(section_text(i)?)
    } else {
        None
    };
    i.expect(b']', "]")?;
    match Section::new(part, text) {
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(start.err("section")),
    }
}

/// `section-binary = "[" [section-part] "]"`.
fn section_binary(i: &mut In<'_>) -> PResult<Vec<NonZeroU32>> {
    i.expect(b'[', "[")?;
    let part = section_part(i)?;
    i.expect(b']', "]")?;
    Ok(part)
}

/// `partial = "<" number "." nz-number ">"` (RFC 9051; a partial range in a command).
fn partial(i: &mut In<'_>) -> PResult<Option<(u32, NonZeroU32)>> {
    if !i.eat(b'<') {
        return Ok(None);
    }
    let a = number(i)?;
    i.expect(b'.', ".")?;
    let b = nz_number(i)?;
    i.expect(b'>', ">")?;
    Ok(Some((a, b)))
}

/// `["<" number ">"]` of `msg-att-static = ... / "BODY" section ["<" number ">"] SP
/// nstring` (the origin octet in a response).
fn origin(i: &mut In<'_>) -> PResult<Option<u32>> {
    if !i.eat(b'<') {
        return Ok(None);
    }
    let a = number(i)?;
    i.expect(b'>', ">")?;
    Ok(Some(a))
}

/// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" /
/// ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] / "BODY.PEEK"
/// section [partial] / "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE"
/// section-binary / "MODSEQ"`.
pub(crate) fn fetch_att(i: &mut In<'_>) -> PResult<FetchAttribute> {
    let start = *i;
    let k = keyword(i)?.to_ascii_uppercase();
    Ok(match &k[..] {
        b"UID" => FetchAttribute::Uid,
        b"FLAGS" => FetchAttribute::Flags,
        b"INTERNALDATE" => FetchAttribute::InternalDate,
        b"RFC822.SIZE" => FetchAttribute::Rfc822Size,
        b"RFC822" => FetchAttribute::Rfc822,
        b"RFC822.HEADER" => FetchAttribute::Rfc822Header,
        b"RFC822.TEXT" => FetchAttribute::Rfc822Text,
        b"ENVELOPE" => FetchAttribute::Envelope,
        b"BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        b"MODSEQ" => FetchAttribute::ModSeq,
        b"BODY" | b"BODY.PEEK" if i.peek() == Some(b'[') => FetchAttribute::BodyExt {
            section: section(i)?,
            partial: partial(i)?,
            peek: k.len() > 4,
        },
        b"BODY" => FetchAttribute::Body,
        b"BINARY" | b"BINARY.PEEK" => FetchAttribute::Binary {
            section: section_binary(i)?,
            partial: partial(i)?,
            peek: k.len() > 6,
        },
        b"BINARY.SIZE" => FetchAttribute::BinarySize {
            section: section_binary(i)?,
        },
        _ => return Err(start.err("fetch attribute")),
    })
}

/// `msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic /
/// msg-att-static)) ")"`.
pub(crate) fn msg_att(i: &mut In<'_>) -> PResult<Vec<MessageDataItem>> {
    // Room for the items a FETCH typically returns (UID, FLAGS, sizes, date, envelope,
    // structure, a body section) without growing.
    paren_list_sized(i, 8, msg_att_item)
}

/// `msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")" / "MODSEQ" SP "("
/// mod-sequence-value ")"` (RFC 7162), `msg-att-static = "ENVELOPE" SP envelope /
/// "INTERNALDATE" SP date-time / "RFC822" [".HEADER" / ".TEXT"] SP nstring / "RFC822.SIZE"
/// SP number / "BODY" ["STRUCTURE"] SP body / "BODY" section ["<" number ">"] SP nstring /
/// "UID" SP uniqueid / "BINARY" section-binary SP (nstring / literal8) / "BINARY.SIZE"
/// section-binary SP number` (RFC 3516): one item.
fn msg_att_item(i: &mut In<'_>) -> PResult<MessageDataItem> {
    let start = *i;
    let k = keyword(i)?;
    let is = |w: &[u8]| k.eq_ignore_ascii_case(w);
    if i.peek() == Some(b'[') && is(b"BODY") {
        let section = section(i)?;
        let origin = origin(i)?;
        sp(i)?;
        let data = nstring(i)?;
        return Ok(MessageDataItem::BodyExt {
            section,
            origin,
            data,
        });
    }
    if is(b"BINARY") {
        let section = section_binary(i)?;
        let origin = origin(i)?;
        sp(i)?;
        let data = if matches!(i.peek(), Some(b'~' | b'{')) {
            Some(literal(i)?)
        } else {
            nstring(i)?.map(|s| s.to_bytes())
        };
        return Ok(MessageDataItem::Binary {
            section,
            origin,
            data,
        });
    }
    if is(b"BINARY.SIZE") {
        let section = section_binary(i)?;
        sp(i)?;
        let size = number(i)?;
        return Ok(MessageDataItem::BinarySize { section, size });
    }
    sp(i)?;
    // The common items first; each test is a length comparison unless the length matches.
    Ok(if is(b"UID") {
        MessageDataItem::Uid(nz_number(i)?)
    } else if is(b"FLAGS") {
        MessageDataItem::Flags(paren_list_sized(i, 4, flag_fetch)?)
    } else if is(b"RFC822.SIZE") {
        MessageDataItem::Rfc822Size(number(i)?)
    } else if is(b"INTERNALDATE") {
        MessageDataItem::InternalDate(date_time(i)?)
    } else if is(b"ENVELOPE") {
        MessageDataItem::Envelope(envelope(i)?)
    } else if is(b"BODYSTRUCTURE") {
        MessageDataItem::BodyStructure(body_boxed(i, 0)?)
    } else if is(b"BODY") {
        MessageDataItem::Body(body_boxed(i, 0)?)
    } else if is(b"MODSEQ") {
        // "MODSEQ" SP "(" mod-sequence-value ")"
        let v = paren_list(i, number64)?;
        match v[..] {
            [n] => MessageDataItem::ModSeq(n),
            _ => return Err(i.err("one mod-sequence value")),
        }
    } else if is(b"RFC822") {
        MessageDataItem::Rfc822(nstring(i)?)
    } else if is(b"RFC822.HEADER") {
        MessageDataItem::Rfc822Header(nstring(i)?)
    } else if is(b"RFC822.TEXT") {
        MessageDataItem::Rfc822Text(nstring(i)?)
    } else {
        return Err(start.err("message data item"));
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::testing::run;
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
