//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 section 9: `envelope`, `body`).

use super::core::{
    mime_string, nil, nstring, number, number64, paren_list, paren_list_sized, sp, string,
};
use super::{In, MAX_DEPTH, PResult};
use crate::types::{
    Address, BasicFields, Body, BodyExtension, BodyStructure, Disposition, Envelope, IString,
    MultiPartExtension, NString, SinglePartExtension, SpecificFields,
};

// ENVELOPE and BODYSTRUCTURE are most of the work of decoding a mailbox listing, and they
// are large values, so they are built where they end up (a box, the parent's list) rather
// than moved up through a chain of `Result`s.

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`.
#[inline]
fn address(i: &mut In<'_>) -> PResult<Address> {
    i.expect(b'(', "address")?;
    let name = nstring(i)?;
    sp(i)?;
    let adl = nstring(i)?;
    sp(i)?;
    let mailbox = nstring(i)?;
    sp(i)?;
    let host = nstring(i)?;
    i.expect(b')', ")")?;
    Ok(Address {
        name,
        adl,
        mailbox,
        host,
    })
}

/// `env-from = "(" 1*address ")" / nil` (and the other address lists). NIL is empty.
fn address_list(i: &mut In<'_>) -> PResult<Vec<Address>> {
    if !i.eat(b'(') {
        return nil(i).map(|()| Vec::new());
    }
    let mut out = Vec::with_capacity(2);
    loop {
        out.push(address(i)?);
        // Some servers put a space between addresses.
        if i.peek() == Some(b' ') && i.quirks.trailing_space {
            i.advance(1);
        }
        if i.eat(b')') {
            return Ok(out);
        }
    }
}

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
/// env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"`, boxed. The fields
/// are moved into the box once, with no `Result` in between.
pub(crate) fn envelope(i: &mut In<'_>) -> PResult<Box<Envelope>> {
    i.expect(b'(', "envelope")?;
    let date = nstring(i)?;
    sp(i)?;
    let subject = nstring(i)?;
    sp(i)?;
    let from = address_list(i)?;
    sp(i)?;
    let sender = address_list(i)?;
    sp(i)?;
    let reply_to = address_list(i)?;
    sp(i)?;
    let to = address_list(i)?;
    sp(i)?;
    let cc = address_list(i)?;
    sp(i)?;
    let bcc = address_list(i)?;
    sp(i)?;
    let in_reply_to = nstring(i)?;
    sp(i)?;
    let message_id = nstring(i)?;
    i.expect(b')', ")")?;
    Ok(Box::new(Envelope {
        date,
        subject,
        from,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        in_reply_to,
        message_id,
    }))
}

/// A `string`, or with [`Quirks::nil_param_value`](crate::Quirks) an `nstring` whose NIL is
/// empty.
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

/// [`body_ext_tail`] and the body's closing `)`.
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

/// The common tail of `body-ext-1part` and `body-ext-mpart` after their first field:
/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`, into
/// the extension's fields.
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

/// [`body`], boxed.
pub(crate) fn body_boxed(i: &mut In<'_>, depth: usize) -> PResult<Box<BodyStructure>> {
    body_with(i, depth, Box::new)
}

/// [`body`], pushed onto `out` (the parts of a multipart body).
fn body_push(i: &mut In<'_>, depth: usize, out: &mut Vec<BodyStructure>) -> PResult<()> {
    body_with(i, depth, |b| out.push(b))
}

/// [`body`], handing the value to `emit` where it is built: a body
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

/// The `)` that closes a `body` (after a stray space with
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::core::tests::run;
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

    #[test]
    fn envelope_rfc3501() {
        let (e, _) = run(
            envelope,
            b"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")",
        );
        assert_eq!(e.cc.len(), 2);
        assert!(e.bcc.is_empty());
        assert_eq!(e.from[0].host, Some(IString::from("cac.washington.edu")));
    }
}
