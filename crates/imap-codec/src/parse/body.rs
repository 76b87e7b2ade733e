//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 section 9: `envelope`, `body`).

use bytes::Bytes;

use super::core::{nil, nstring, number, number64, quoted_run, sp, string};
use super::envelope::envelope;
use super::{In, MAX_DEPTH, PResult, paren_list, paren_list_sized};
use crate::types::{
    BasicFields, Body, BodyExtension, BodyStructure, Content, Disposition, IString,
    MultiPartExtension, NString, SinglePartExtension, SpecificFields,
};

// ENVELOPE and BODYSTRUCTURE are most of the work of decoding a mailbox listing, and they
// are large values, so they are built where they end up (a box, the parent's list) rather
// than moved up through a chain of `Result`s.

/// `body-fld-enc = string` (also a `body-fld-param` value), or with
/// [`Quirks::nil_param_value`](crate::Quirks) an `nstring` whose NIL is empty.
#[inline]
fn string_or_nil(i: &mut In<'_>) -> PResult<IString> {
    if i.quirks.nil_param_value && matches!(i.peek(), Some(b'N' | b'n')) {
        nstring(i).map(Option::unwrap_or_default)
    } else {
        mime_string(i)
    }
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`; with
/// [`Quirks::nil_param_value`](crate::Quirks) a NIL value is read as empty.
fn body_fld_param(i: &mut In<'_>) -> PResult<Vec<(IString, IString)>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|()| Vec::new());
    }
    paren_list_sized(i, 2, |i| {
        let k = mime_string(i)?;
        sp(i)?;
        let v = string_or_nil(i)?;
        Ok((k, v))
    })
}

/// `body-fld-lines = number64`; with [`Quirks::negative_body_lines`](crate::Quirks) a
/// negative count is 0.
fn body_fld_lines(i: &mut In<'_>) -> PResult<u32> {
    if i.peek() == Some(b'-') && i.quirks.negative_body_lines {
        i.advance(1);
        number64(i)?;
        return Ok(0);
    }
    number64(i).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn body_fld_dsp(i: &mut In<'_>) -> PResult<Option<Disposition>> {
    if !i.eat(b'(') {
        return nil(i).map(|()| None);
    }
    let kind = mime_string(i)?;
    sp(i)?;
    let parameters = body_fld_param(i)?;
    i.expect(b')', ")")?;
    Ok(Some(Disposition { kind, parameters }))
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn body_fld_lang(i: &mut In<'_>) -> PResult<Vec<IString>> {
    if i.peek() == Some(b'(') {
        return paren_list_sized(i, 1, string);
    }
    nstring(i).map(|s| s.into_iter().collect())
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
fn body_extension(i: &mut In<'_>, depth: usize) -> PResult<BodyExtension> {
    if depth > MAX_DEPTH {
        return Err(i.err("shallower nesting"));
    }
    match i.peek() {
        Some(b'(') => paren_list(i, |i| body_extension(i, depth + 1)).map(BodyExtension::List),
        Some(b'0'..=b'9') => number(i).map(BodyExtension::Number),
        _ => nstring(i).map(BodyExtension::NString),
    }
}

/// A body's extension fields after its first one (`body-fld-md5` or `body-fld-param`).
struct ExtTail {
    disposition: Option<Disposition>,
    language: Vec<IString>,
    location: NString,
    extensions: Vec<BodyExtension>,
}

/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]] ")"`: the
/// tail of [`body_ext_tail`] and the body's closing `)`.
fn body_ext_tail_end(i: &mut In<'_>, depth: usize) -> PResult<ExtTail> {
    let mut t = ExtTail {
        disposition: None,
        language: Vec::new(),
        location: None,
        extensions: Vec::new(),
    };
    body_ext_tail(
        i,
        depth,
        &mut t.disposition,
        &mut t.language,
        &mut t.location,
        &mut t.extensions,
    )?;
    body_end(i)?;
    Ok(t)
}

/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`: the
/// common tail of `body-ext-1part = body-fld-md5 [...]` and `body-ext-mpart =
/// body-fld-param [...]` after their first field, into the extension's fields.
fn body_ext_tail(
    i: &mut In<'_>,
    depth: usize,
    disposition: &mut Option<Disposition>,
    language: &mut Vec<IString>,
    location: &mut NString,
    extensions: &mut Vec<BodyExtension>,
) -> PResult<()> {
    if !i.eat(b' ') {
        return Ok(());
    }
    *disposition = body_fld_dsp(i)?;
    if !i.eat(b' ') {
        return Ok(());
    }
    *language = body_fld_lang(i)?;
    if !i.eat(b' ') {
        return Ok(());
    }
    *location = nstring(i)?;
    while i.eat(b' ') {
        extensions.push(body_extension(i, depth + 1)?);
    }
    Ok(())
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"` (`BODY` and `BODYSTRUCTURE` alike:
/// extension data is accepted either way).
#[cfg(test)]
pub(crate) fn body(i: &mut In<'_>, depth: usize) -> PResult<BodyStructure> {
    body_with(i, depth, |b| b)
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`, boxed.
pub(crate) fn body_boxed(i: &mut In<'_>, depth: usize) -> PResult<Box<BodyStructure>> {
    body_with(i, depth, Box::new)
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`, pushed onto `out` (the parts of a
/// multipart body).
fn body_push(i: &mut In<'_>, depth: usize, out: &mut Vec<BodyStructure>) -> PResult<()> {
    body_with(i, depth, |b| out.push(b))
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`, handing the value to `emit` where
/// it is built: a body
/// structure is a few hundred bytes, and every move of it (out of a `Result`, into a
/// `Vec` or `Box`) is a copy.
#[inline]
fn body_with<R>(i: &mut In<'_>, depth: usize, emit: impl FnOnce(BodyStructure) -> R) -> PResult<R> {
    if depth > MAX_DEPTH {
        return Err(i.err("shallower body nesting"));
    }
    i.expect(b'(', "body")?;
    if i.peek() == Some(b'(') {
        body_type_mpart(i, depth, emit)
    } else {
        body_type_1part(i, depth, emit)
    }
}

/// `")"`, the end of `body = "(" (body-type-1part / body-type-mpart) ")"` (after a stray
/// space with
/// [`Quirks::trailing_space`](crate::Quirks)).
#[inline]
fn body_end(i: &mut In<'_>) -> PResult<()> {
    if i.quirks.trailing_space && i.rest().starts_with(b" )") {
        i.advance(1);
    }
    i.expect(b')', ")")
}

/// `body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]`, and the `)` of its
/// `body`.
fn body_type_mpart<R>(
    i: &mut In<'_>,
    depth: usize,
    emit: impl FnOnce(BodyStructure) -> R,
) -> PResult<R> {
    let mut bodies = Vec::with_capacity(2);
    loop {
        body_push(i, depth + 1, &mut bodies)?;
        match i.rest() {
            [b'(', ..] => {}
            [b' ', b'(', ..] if i.quirks.trailing_space => i.advance(1),
            _ => break,
        }
    }
    sp(i)?;
    let subtype = mime_string(i)?;
    if !i.eat(b' ') {
        body_end(i)?;
        return Ok(emit(BodyStructure::Multi {
            bodies,
            subtype,
            extension: None,
        }));
    }
    let parameters = body_fld_param(i)?;
    let ExtTail {
        disposition,
        language,
        location,
        extensions,
    } = body_ext_tail_end(i, depth)?;
    Ok(emit(BodyStructure::Multi {
        bodies,
        subtype,
        extension: Some(MultiPartExtension {
            parameters,
            disposition,
            language,
            location,
            extensions,
        }),
    }))
}

/// `body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]`,
/// with `body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
/// body-fld-octets`, and the `)` of its `body`.
fn body_type_1part<R>(
    i: &mut In<'_>,
    depth: usize,
    emit: impl FnOnce(BodyStructure) -> R,
) -> PResult<R> {
    let r#type = mime_string(i)?;
    sp(i)?;
    let subtype = mime_string(i)?;
    sp(i)?;
    let parameters = body_fld_param(i)?;
    sp(i)?;
    let id = nstring(i)?;
    sp(i)?;
    let description = nstring(i)?;
    sp(i)?;
    // body-fld-enc = string; some servers send NIL.
    let content_transfer_encoding = string_or_nil(i)?;
    sp(i)?;
    let size = number(i)?;
    let specific = if r#type.eq_ignore_ascii_case("TEXT") {
        sp(i)?;
        let number_of_lines = body_fld_lines(i)?;
        SpecificFields::Text {
            subtype,
            number_of_lines,
        }
    } else if r#type.eq_ignore_ascii_case("MESSAGE")
        && (subtype.eq_ignore_ascii_case("RFC822") || subtype.eq_ignore_ascii_case("GLOBAL"))
        && i.rest().starts_with(b" (")
    {
        i.advance(1);
        let envelope = envelope(i)?;
        sp(i)?;
        let body_structure = body_boxed(i, depth + 1)?;
        sp(i)?;
        let number_of_lines = body_fld_lines(i)?;
        SpecificFields::Message {
            subtype,
            envelope,
            body_structure,
            number_of_lines,
        }
    } else {
        SpecificFields::Basic { r#type, subtype }
    };
    let basic = BasicFields {
        parameters,
        id,
        description,
        content_transfer_encoding,
        size,
    };
    if i.peek() != Some(b' ') || i.rest().starts_with(b" )") {
        body_end(i)?;
        return Ok(emit(BodyStructure::Single {
            body: Body { basic, specific },
            extension: None,
        }));
    }
    i.advance(1);
    // body-fld-md5 = nstring
    let md5 = nstring(i)?;
    let ExtTail {
        disposition,
        language,
        location,
        extensions,
    } = body_ext_tail_end(i, depth)?;
    Ok(emit(BodyStructure::Single {
        body: Body { basic, specific },
        extension: Some(SinglePartExtension {
            md5,
            disposition,
            language,
            location,
            extensions,
        }),
    }))
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

/// `string = quoted / literal` in BODYSTRUCTURE: [`string`], with the words of
/// [`mime_word`] as static handles. The value is the same either way.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn rfc3501_bodystructure() {
        let (b, rest) = run(
            |i| body(i, 0),
            b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")",
        );
        assert!(rest.is_empty());
        let BodyStructure::Multi {
            bodies,
            subtype,
            extension,
        } = b
        else {
            panic!()
        };
        assert_eq!(subtype, IString::from("MIXED"));
        assert!(extension.is_none());
        assert_eq!(bodies.len(), 2);
        let BodyStructure::Single { body, .. } = &bodies[1] else {
            panic!()
        };
        assert_eq!(body.basic.size, 4554);
        assert_eq!(body.basic.parameters[1].1, IString::from("cc.diff"));
        assert!(matches!(
            body.specific,
            SpecificFields::Text {
                number_of_lines: 73,
                ..
            }
        ));
    }

    #[test]
    fn quirky_bodystructure() {
        // Dovecot -1 lines, Mail.ru NIL parameter value, extension data.
        let (b, _) = run(
            |i| body(i, 0),
            b"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 -1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" NIL) NIL NIL NIL)",
        );
        let BodyStructure::Multi {
            bodies,
            extension: Some(ext),
            ..
        } = b
        else {
            panic!()
        };
        assert_eq!(
            ext.parameters,
            vec![(IString::from("boundary"), IString::from(""))]
        );
        let BodyStructure::Single {
            body,
            extension: Some(_),
        } = &bodies[0]
        else {
            panic!()
        };
        assert!(matches!(
            body.specific,
            SpecificFields::Text {
                number_of_lines: 0,
                ..
            }
        ));
    }

    #[test]
    fn deep_nesting_refused() {
        let s = vec![b'('; 10_000];
        let b = bytes::Bytes::from(s);
        assert!(body(&mut In::new(&b, crate::Quirks::default()), 0).is_err());
    }
}
