//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 section 9: `envelope`, `body`).

use super::core::{nil, nstring, number, number64, paren_list, sp, string};
use super::{In, MAX_DEPTH, PResult, fail};
use crate::types::{
    Address, BasicFields, Body, BodyExtension, BodyStructure, Disposition, Envelope, IString,
    MultiPartExtension, SinglePartExtension, SpecificFields,
};

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`.
pub(crate) fn address(i: In<'_>) -> PResult<'_, Address> {
    if i.peek() != Some(b'(') {
        return fail(i, "address");
    }
    let (j, name) = nstring(i.skip(1))?;
    let (j, ()) = sp(j)?;
    let (j, adl) = nstring(j)?;
    let (j, ()) = sp(j)?;
    let (j, mailbox) = nstring(j)?;
    let (j, ()) = sp(j)?;
    let (j, host) = nstring(j)?;
    if j.peek() != Some(b')') {
        return fail(j, ")");
    }
    Ok((
        j.skip(1),
        Address {
            name,
            adl,
            mailbox,
            host,
        },
    ))
}

/// `env-from = "(" 1*address ")" / nil` (and the other address lists). NIL is empty.
fn address_list(i: In<'_>) -> PResult<'_, Vec<Address>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|(j, ())| (j, Vec::new()));
    }
    let mut j = i.skip(1);
    let mut out = Vec::with_capacity(2);
    loop {
        let (k, a) = address(j)?;
        out.push(a);
        j = k;
        // Some servers put a space between addresses.
        if j.peek() == Some(b' ') && j.quirks.trailing_space {
            j = j.skip(1);
        }
        if j.peek() == Some(b')') {
            return Ok((j.skip(1), out));
        }
    }
}

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
/// env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"`.
pub(crate) fn envelope(i: In<'_>) -> PResult<'_, Envelope> {
    if i.peek() != Some(b'(') {
        return fail(i, "envelope");
    }
    let (j, date) = nstring(i.skip(1))?;
    let (j, ()) = sp(j)?;
    let (j, subject) = nstring(j)?;
    let (j, ()) = sp(j)?;
    let (j, from) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, sender) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, reply_to) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, to) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, cc) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, bcc) = address_list(j)?;
    let (j, ()) = sp(j)?;
    let (j, in_reply_to) = nstring(j)?;
    let (j, ()) = sp(j)?;
    let (j, message_id) = nstring(j)?;
    if j.peek() != Some(b')') {
        return fail(j, ")");
    }
    let env = Envelope {
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
    };
    Ok((j.skip(1), env))
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`; with
/// [`Quirks::nil_param_value`](crate::Quirks) a NIL value is read as empty.
fn body_fld_param(i: In<'_>) -> PResult<'_, Vec<(IString, IString)>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|(j, ())| (j, Vec::new()));
    }
    paren_list(i, |j| {
        let (j, k) = string(j)?;
        let (j, ()) = sp(j)?;
        let (j, v) = if j.quirks.nil_param_value {
            nstring(j)?
        } else {
            string(j).map(|(j, s)| (j, Some(s)))?
        };
        Ok((j, (k, v.unwrap_or_default())))
    })
}

/// `body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
/// body-fld-octets`.
fn body_fields(i: In<'_>) -> PResult<'_, BasicFields> {
    let (j, parameters) = body_fld_param(i)?;
    let (j, ()) = sp(j)?;
    let (j, id) = nstring(j)?;
    let (j, ()) = sp(j)?;
    let (j, description) = nstring(j)?;
    let (j, ()) = sp(j)?;
    // body-fld-enc = string; some servers send NIL.
    let (j, enc) = if j.quirks.nil_param_value {
        nstring(j)?
    } else {
        string(j).map(|(j, s)| (j, Some(s)))?
    };
    let (j, ()) = sp(j)?;
    let (j, size) = number(j)?;
    let fields = BasicFields {
        parameters,
        id,
        description,
        content_transfer_encoding: enc.unwrap_or_default(),
        size,
    };
    Ok((j, fields))
}

/// `body-fld-lines = number64`; with [`Quirks::negative_body_lines`](crate::Quirks) a
/// negative count is 0.
fn body_fld_lines(i: In<'_>) -> PResult<'_, u32> {
    if i.peek() == Some(b'-') && i.quirks.negative_body_lines {
        let (j, _) = number64(i.skip(1))?;
        return Ok((j, 0));
    }
    let (j, n) = number64(i)?;
    Ok((j, u32::try_from(n).unwrap_or(u32::MAX)))
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn body_fld_dsp(i: In<'_>) -> PResult<'_, Option<Disposition>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|(j, ())| (j, None));
    }
    let (j, kind) = string(i.skip(1))?;
    let (j, ()) = sp(j)?;
    let (j, parameters) = body_fld_param(j)?;
    if j.peek() != Some(b')') {
        return fail(j, ")");
    }
    Ok((j.skip(1), Some(Disposition { kind, parameters })))
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn body_fld_lang(i: In<'_>) -> PResult<'_, Vec<IString>> {
    if i.peek() == Some(b'(') {
        return paren_list(i, string);
    }
    nstring(i).map(|(j, s)| (j, s.into_iter().collect()))
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
fn body_extension(i: In<'_>, depth: usize) -> PResult<'_, BodyExtension> {
    if depth > MAX_DEPTH {
        return fail(i, "shallower nesting");
    }
    match i.peek() {
        Some(b'(') => paren_list(i, |j| body_extension(j, depth + 1))
            .map(|(j, l)| (j, BodyExtension::List(l))),
        Some(b'0'..=b'9') => number(i).map(|(j, n)| (j, BodyExtension::Number(n))),
        _ => nstring(i).map(|(j, s)| (j, BodyExtension::NString(s))),
    }
}

/// The common tail of `body-ext-1part` and `body-ext-mpart` after their first field:
/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`.
#[allow(clippy::type_complexity)]
fn body_ext_tail(
    i: In<'_>,
    depth: usize,
) -> PResult<
    '_,
    (
        Option<Disposition>,
        Vec<IString>,
        Option<IString>,
        Vec<BodyExtension>,
    ),
> {
    let mut out = (None, Vec::new(), None, Vec::new());
    if i.peek() != Some(b' ') {
        return Ok((i, out));
    }
    let (j, dsp) = body_fld_dsp(i.skip(1))?;
    out.0 = dsp;
    if j.peek() != Some(b' ') {
        return Ok((j, out));
    }
    let (j, lang) = body_fld_lang(j.skip(1))?;
    out.1 = lang;
    if j.peek() != Some(b' ') {
        return Ok((j, out));
    }
    let (mut j, loc) = nstring(j.skip(1))?;
    out.2 = loc;
    while j.peek() == Some(b' ') {
        let (k, e) = body_extension(j.skip(1), depth + 1)?;
        out.3.push(e);
        j = k;
    }
    Ok((j, out))
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`. `extensible` is false for `BODY`
/// (no extension data expected, but accepted).
pub(crate) fn body(i: In<'_>, depth: usize) -> PResult<'_, BodyStructure> {
    if depth > MAX_DEPTH {
        return fail(i, "shallower body nesting");
    }
    if i.peek() != Some(b'(') {
        return fail(i, "body");
    }
    let j = i.skip(1);
    let (mut j, b) = if j.peek() == Some(b'(') {
        body_type_mpart(j, depth)?
    } else {
        body_type_1part(j, depth)?
    };
    if j.quirks.trailing_space && j.rest().starts_with(b" )") {
        j = j.skip(1);
    }
    if j.peek() != Some(b')') {
        return fail(j, ")");
    }
    Ok((j.skip(1), b))
}

/// `body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]`.
fn body_type_mpart(i: In<'_>, depth: usize) -> PResult<'_, BodyStructure> {
    let mut bodies = Vec::new();
    let mut j = i;
    loop {
        let (k, b) = body(j, depth + 1)?;
        bodies.push(b);
        j = k;
        match j.rest() {
            [b'(', ..] => {}
            [b' ', b'(', ..] if j.quirks.trailing_space => j = j.skip(1),
            _ => break,
        }
    }
    let (j, ()) = sp(j)?;
    let (j, subtype) = string(j)?;
    if j.peek() != Some(b' ') {
        return Ok((
            j,
            BodyStructure::Multi {
                bodies,
                subtype,
                extension: None,
            },
        ));
    }
    let (j, parameters) = body_fld_param(j.skip(1))?;
    let (j, (disposition, language, location, extensions)) = body_ext_tail(j, depth)?;
    let ext = MultiPartExtension {
        parameters,
        disposition,
        language,
        location,
        extensions,
    };
    Ok((
        j,
        BodyStructure::Multi {
            bodies,
            subtype,
            extension: Some(ext),
        },
    ))
}

/// `body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]`.
fn body_type_1part(i: In<'_>, depth: usize) -> PResult<'_, BodyStructure> {
    let (j, r#type) = string(i)?;
    let (j, ()) = sp(j)?;
    let (j, subtype) = string(j)?;
    let (j, ()) = sp(j)?;
    let (mut j, basic) = body_fields(j)?;
    let specific = if r#type.eq_ignore_ascii_case("TEXT") {
        let (k, ()) = sp(j)?;
        let (k, number_of_lines) = body_fld_lines(k)?;
        j = k;
        SpecificFields::Text {
            subtype,
            number_of_lines,
        }
    } else if r#type.eq_ignore_ascii_case("MESSAGE")
        && (subtype.eq_ignore_ascii_case("RFC822") || subtype.eq_ignore_ascii_case("GLOBAL"))
        && j.rest().starts_with(b" (")
    {
        let (k, envelope) = envelope(j.skip(1))?;
        let (k, ()) = sp(k)?;
        let (k, body_structure) = body(k, depth + 1)?;
        let (k, ()) = sp(k)?;
        let (k, number_of_lines) = body_fld_lines(k)?;
        j = k;
        SpecificFields::Message {
            subtype,
            envelope: Box::new(envelope),
            body_structure: Box::new(body_structure),
            number_of_lines,
        }
    } else {
        SpecificFields::Basic { r#type, subtype }
    };
    let body = Body { basic, specific };
    if j.peek() != Some(b' ') || j.rest().starts_with(b" )") {
        return Ok((
            j,
            BodyStructure::Single {
                body,
                extension: None,
            },
        ));
    }
    // body-fld-md5 = nstring
    let (j, md5) = nstring(j.skip(1))?;
    let (j, (disposition, language, location, extensions)) = body_ext_tail(j, depth)?;
    let ext = SinglePartExtension {
        md5,
        disposition,
        language,
        location,
        extensions,
    };
    Ok((
        j,
        BodyStructure::Single {
            body,
            extension: Some(ext),
        },
    ))
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
