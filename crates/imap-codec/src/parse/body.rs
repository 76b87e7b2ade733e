//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 section 9: `envelope`, `body`).

use super::core::{
    c_mime_string, c_nstring, c_number, c_number64, c_paren_list, c_string, paren_list,
};
use super::{CResult, In, MAX_DEPTH, PResult, lift, lower};
use crate::types::{
    Address, BasicFields, Body, BodyExtension, BodyStructure, Disposition, Envelope, IString,
    MultiPartExtension, NString, SinglePartExtension, SpecificFields,
};

// The rules here are cursor-style (`&mut In`, see `CResult`): ENVELOPE and BODYSTRUCTURE
// are most of the work of decoding a mailbox listing, and they are large values, so they
// are built in place rather than handed up through nom-style `(input, value)` results.

/// `SP`, cursor-style.
#[inline]
fn c_sp(j: &mut In<'_>) -> CResult<()> {
    j.expect(b' ', "SP")
}

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`.
#[inline]
fn c_address(j: &mut In<'_>) -> CResult<Address> {
    j.expect(b'(', "address")?;
    let name = c_nstring(j)?;
    c_sp(j)?;
    let adl = c_nstring(j)?;
    c_sp(j)?;
    let mailbox = c_nstring(j)?;
    c_sp(j)?;
    let host = c_nstring(j)?;
    j.expect(b')', ")")?;
    Ok(Address {
        name,
        adl,
        mailbox,
        host,
    })
}

/// `env-from = "(" 1*address ")" / nil` (and the other address lists). NIL is empty.
fn c_address_list(j: &mut In<'_>) -> CResult<Vec<Address>> {
    if !j.eat(b'(') {
        return c_nil(j).map(|()| Vec::new());
    }
    let mut out = Vec::with_capacity(2);
    loop {
        out.push(c_address(j)?);
        // Some servers put a space between addresses.
        if j.peek() == Some(b' ') && j.quirks.trailing_space {
            j.advance(1);
        }
        if j.eat(b')') {
            return Ok(out);
        }
    }
}

/// `nil = "NIL"`, cursor-style.
#[inline]
fn c_nil(j: &mut In<'_>) -> CResult<()> {
    match j.rest() {
        [b'N' | b'n', b'I' | b'i', b'L' | b'l', ..] => {
            j.advance(3);
            Ok(())
        }
        _ => Err(j.err("NIL")),
    }
}

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
/// env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"`.
#[cfg(test)]
pub(crate) fn envelope(i: In<'_>) -> PResult<'_, Envelope> {
    lift(i, |j| c_envelope(j).map(|e| *e))
}

/// [`envelope`], cursor-style, boxed. The fields are moved into the box once, with no
/// `Result` in between.
pub(crate) fn c_envelope(j: &mut In<'_>) -> CResult<Box<Envelope>> {
    j.expect(b'(', "envelope")?;
    let date = c_nstring(j)?;
    c_sp(j)?;
    let subject = c_nstring(j)?;
    c_sp(j)?;
    let from = c_address_list(j)?;
    c_sp(j)?;
    let sender = c_address_list(j)?;
    c_sp(j)?;
    let reply_to = c_address_list(j)?;
    c_sp(j)?;
    let to = c_address_list(j)?;
    c_sp(j)?;
    let cc = c_address_list(j)?;
    c_sp(j)?;
    let bcc = c_address_list(j)?;
    c_sp(j)?;
    let in_reply_to = c_nstring(j)?;
    c_sp(j)?;
    let message_id = c_nstring(j)?;
    j.expect(b')', ")")?;
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
fn c_string_or_nil(j: &mut In<'_>) -> CResult<IString> {
    if j.quirks.nil_param_value && matches!(j.peek(), Some(b'N' | b'n')) {
        c_nstring(j).map(Option::unwrap_or_default)
    } else {
        c_mime_string(j)
    }
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`; with
/// [`Quirks::nil_param_value`](crate::Quirks) a NIL value is read as empty.
fn c_body_fld_param(j: &mut In<'_>) -> CResult<Vec<(IString, IString)>> {
    if j.peek() != Some(b'(') {
        return c_nil(j).map(|()| Vec::new());
    }
    c_paren_list(j, 2, |j| {
        let k = c_mime_string(j)?;
        c_sp(j)?;
        let v = c_string_or_nil(j)?;
        Ok((k, v))
    })
}

/// `body-fld-lines = number64`; with [`Quirks::negative_body_lines`](crate::Quirks) a
/// negative count is 0.
fn c_body_fld_lines(j: &mut In<'_>) -> CResult<u32> {
    if j.peek() == Some(b'-') && j.quirks.negative_body_lines {
        j.advance(1);
        c_number64(j)?;
        return Ok(0);
    }
    c_number64(j).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn c_body_fld_dsp(j: &mut In<'_>) -> CResult<Option<Disposition>> {
    if !j.eat(b'(') {
        return c_nil(j).map(|()| None);
    }
    let kind = c_mime_string(j)?;
    c_sp(j)?;
    let parameters = c_body_fld_param(j)?;
    j.expect(b')', ")")?;
    Ok(Some(Disposition { kind, parameters }))
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn c_body_fld_lang(j: &mut In<'_>) -> CResult<Vec<IString>> {
    if j.peek() == Some(b'(') {
        return c_paren_list(j, 1, c_string);
    }
    c_nstring(j).map(|s| s.into_iter().collect())
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
fn body_extension(i: In<'_>, depth: usize) -> PResult<'_, BodyExtension> {
    if depth > MAX_DEPTH {
        return lift(i, |j| Err(j.err("shallower nesting")));
    }
    match i.peek() {
        Some(b'(') => paren_list(i, |j| body_extension(j, depth + 1))
            .map(|(j, l)| (j, BodyExtension::List(l))),
        Some(b'0'..=b'9') => lift(i, c_number).map(|(j, n)| (j, BodyExtension::Number(n))),
        _ => lift(i, c_nstring).map(|(j, s)| (j, BodyExtension::NString(s))),
    }
}

/// A body's extension fields after its first one (`body-fld-md5` or `body-fld-param`).
struct ExtTail {
    disposition: Option<Disposition>,
    language: Vec<IString>,
    location: NString,
    extensions: Vec<BodyExtension>,
}

/// [`c_body_ext_tail`] and the body's closing `)`.
fn c_body_ext_tail_end(j: &mut In<'_>, depth: usize) -> CResult<ExtTail> {
    let mut t = ExtTail {
        disposition: None,
        language: Vec::new(),
        location: None,
        extensions: Vec::new(),
    };
    c_body_ext_tail(
        j,
        depth,
        &mut t.disposition,
        &mut t.language,
        &mut t.location,
        &mut t.extensions,
    )?;
    c_body_end(j)?;
    Ok(t)
}

/// The common tail of `body-ext-1part` and `body-ext-mpart` after their first field:
/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`, into
/// the extension's fields.
fn c_body_ext_tail(
    j: &mut In<'_>,
    depth: usize,
    disposition: &mut Option<Disposition>,
    language: &mut Vec<IString>,
    location: &mut NString,
    extensions: &mut Vec<BodyExtension>,
) -> CResult<()> {
    if !j.eat(b' ') {
        return Ok(());
    }
    *disposition = c_body_fld_dsp(j)?;
    if !j.eat(b' ') {
        return Ok(());
    }
    *language = c_body_fld_lang(j)?;
    if !j.eat(b' ') {
        return Ok(());
    }
    *location = c_nstring(j)?;
    while j.eat(b' ') {
        extensions.push(lower(j, |i| body_extension(i, depth + 1))?);
    }
    Ok(())
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`. `extensible` is false for `BODY`
/// (no extension data expected, but accepted).
#[cfg(test)]
pub(crate) fn body(i: In<'_>, depth: usize) -> PResult<'_, BodyStructure> {
    lift(i, |j| c_body(j, depth))
}

/// [`body`], cursor-style.
#[cfg(test)]
pub(crate) fn c_body(j: &mut In<'_>, depth: usize) -> CResult<BodyStructure> {
    c_body_with(j, depth, |b| b)
}

/// [`body`], cursor-style, boxed.
pub(crate) fn c_body_boxed(j: &mut In<'_>, depth: usize) -> CResult<Box<BodyStructure>> {
    c_body_with(j, depth, Box::new)
}

/// [`body`], cursor-style, pushed onto `out` (the parts of a multipart body).
fn c_body_push(j: &mut In<'_>, depth: usize, out: &mut Vec<BodyStructure>) -> CResult<()> {
    c_body_with(j, depth, |b| out.push(b))
}

/// [`body`], cursor-style, handing the value to `emit` where it is built: a body
/// structure is a few hundred bytes, and every move of it (out of a `Result`, into a
/// `Vec` or `Box`) is a copy.
#[inline]
fn c_body_with<R>(
    j: &mut In<'_>,
    depth: usize,
    emit: impl FnOnce(BodyStructure) -> R,
) -> CResult<R> {
    if depth > MAX_DEPTH {
        return Err(j.err("shallower body nesting"));
    }
    j.expect(b'(', "body")?;
    if j.peek() == Some(b'(') {
        c_body_type_mpart(j, depth, emit)
    } else {
        c_body_type_1part(j, depth, emit)
    }
}

/// The `)` that closes a `body` (after a stray space with
/// [`Quirks::trailing_space`](crate::Quirks)).
#[inline]
fn c_body_end(j: &mut In<'_>) -> CResult<()> {
    if j.quirks.trailing_space && j.rest().starts_with(b" )") {
        j.advance(1);
    }
    j.expect(b')', ")")
}

/// `body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]`, and the `)` of its
/// `body`.
fn c_body_type_mpart<R>(
    j: &mut In<'_>,
    depth: usize,
    emit: impl FnOnce(BodyStructure) -> R,
) -> CResult<R> {
    let mut bodies = Vec::with_capacity(2);
    loop {
        c_body_push(j, depth + 1, &mut bodies)?;
        match j.rest() {
            [b'(', ..] => {}
            [b' ', b'(', ..] if j.quirks.trailing_space => j.advance(1),
            _ => break,
        }
    }
    c_sp(j)?;
    let subtype = c_mime_string(j)?;
    if !j.eat(b' ') {
        c_body_end(j)?;
        return Ok(emit(BodyStructure::Multi {
            bodies,
            subtype,
            extension: None,
        }));
    }
    let parameters = c_body_fld_param(j)?;
    let ExtTail {
        disposition,
        language,
        location,
        extensions,
    } = c_body_ext_tail_end(j, depth)?;
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
fn c_body_type_1part<R>(
    j: &mut In<'_>,
    depth: usize,
    emit: impl FnOnce(BodyStructure) -> R,
) -> CResult<R> {
    let r#type = c_mime_string(j)?;
    c_sp(j)?;
    let subtype = c_mime_string(j)?;
    c_sp(j)?;
    let parameters = c_body_fld_param(j)?;
    c_sp(j)?;
    let id = c_nstring(j)?;
    c_sp(j)?;
    let description = c_nstring(j)?;
    c_sp(j)?;
    // body-fld-enc = string; some servers send NIL.
    let content_transfer_encoding = c_string_or_nil(j)?;
    c_sp(j)?;
    let size = c_number(j)?;
    let specific = if r#type.eq_ignore_ascii_case("TEXT") {
        c_sp(j)?;
        let number_of_lines = c_body_fld_lines(j)?;
        SpecificFields::Text {
            subtype,
            number_of_lines,
        }
    } else if r#type.eq_ignore_ascii_case("MESSAGE")
        && (subtype.eq_ignore_ascii_case("RFC822") || subtype.eq_ignore_ascii_case("GLOBAL"))
        && j.rest().starts_with(b" (")
    {
        j.advance(1);
        let envelope = c_envelope(j)?;
        c_sp(j)?;
        let body_structure = c_body_boxed(j, depth + 1)?;
        c_sp(j)?;
        let number_of_lines = c_body_fld_lines(j)?;
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
    if j.peek() != Some(b' ') || j.rest().starts_with(b" )") {
        c_body_end(j)?;
        return Ok(emit(BodyStructure::Single {
            body: Body { basic, specific },
            extension: None,
        }));
    }
    j.advance(1);
    // body-fld-md5 = nstring
    let md5 = c_nstring(j)?;
    let ExtTail {
        disposition,
        language,
        location,
        extensions,
    } = c_body_ext_tail_end(j, depth)?;
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
        assert!(body(In::new(&b, crate::Quirks::default()), 0).is_err());
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
