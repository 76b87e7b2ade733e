//! Responses (RFC 3501 section 9: `greeting`, `response`, `resp-text-code`, `mailbox-data`,
//! `message-data`, `continue-req`; RFC 4731 `esearch-response`; RFC 2971 `id-response`;
//! RFC 5161 `enable-data`).

use super::core::{
    atom, crlf, keyword, kw, nil, nstring, number, number64, peek_kw, quoted, sp, string, tag, text,
};
use super::fetch::msg_att;
use super::flag::{flag_list, flag_perm};
use super::mailbox::{mailbox, mailbox_list};
use super::search::{esearch, search_data};
use super::sequence::sequence_set;
use super::status::status_att_val;
use super::{In, PResult, paren_list, space_separated};
use crate::types::chars::is_text_char;
use crate::types::{
    Capability, Code, Continue, Data, Greeting, GreetingKind, IString, NString, Response, Status,
    StatusBody, StatusKind, Text,
};

/// `capability = ("AUTH=" auth-type) / atom`.
pub(crate) fn capability(i: &mut In<'_>) -> PResult<Capability> {
    atom(i).map(Capability::from_atom)
}

/// `resp-text-code = "ALERT" / "BADCHARSET" [SP "(" charset *(SP charset) ")"] /
/// capability-data / "PARSE" / "PERMANENTFLAGS" SP "(" [flag-perm *(SP flag-perm)] ")" /
/// "READ-ONLY" / "READ-WRITE" / "TRYCREATE" / "UIDNEXT" SP nz-number / "UIDVALIDITY" SP
/// nz-number / "UNSEEN" SP nz-number / "CLOSED" / "HIGHESTMODSEQ" SP mod-sequence-value /
/// "NOMODSEQ" / "APPENDUID" SP nz-number SP append-uid / "COPYUID" SP nz-number SP
/// uid-set SP uid-set / "UIDNOTSTICKY"` (RFC 3501, 9051, 7162, 4315): the codes we know;
/// `]` must follow.
fn known_code(i: &mut In<'_>) -> PResult<Code> {
    let start = *i;
    let k = keyword(i)?;
    let is = |w: &[u8]| k.eq_ignore_ascii_case(w);
    let code = if is(b"ALERT") {
        Code::Alert
    } else if is(b"PARSE") {
        Code::Parse
    } else if is(b"READ-ONLY") {
        Code::ReadOnly
    } else if is(b"READ-WRITE") {
        Code::ReadWrite
    } else if is(b"TRYCREATE") {
        Code::TryCreate
    } else if is(b"NOMODSEQ") {
        Code::NoModSeq
    } else if is(b"UIDNOTSTICKY") {
        Code::UidNotSticky
    } else if is(b"CLOSED") {
        Code::Closed
    } else if is(b"CAPABILITY") {
        Code::Capability(space_separated(i, capability)?)
    } else if is(b"BADCHARSET") {
        if i.eat(b' ') {
            Code::BadCharset(paren_list(i, charset)?)
        } else {
            Code::BadCharset(Vec::new())
        }
    } else if is(b"PERMANENTFLAGS") {
        sp(i)?;
        Code::PermanentFlags(paren_list(i, flag_perm)?)
    } else if is(b"UIDNEXT") {
        sp(i)?;
        Code::UidNext(number(i)?)
    } else if is(b"UIDVALIDITY") {
        sp(i)?;
        Code::UidValidity(number(i)?)
    } else if is(b"UNSEEN") {
        sp(i)?;
        Code::Unseen(number(i)?)
    } else if is(b"HIGHESTMODSEQ") {
        sp(i)?;
        Code::HighestModSeq(number64(i)?)
    } else if is(b"APPENDUID") {
        sp(i)?;
        let uid_validity = number(i)?;
        sp(i)?;
        let uids = sequence_set(i)?;
        Code::AppendUid { uid_validity, uids }
    } else if is(b"COPYUID") {
        sp(i)?;
        let uid_validity = number(i)?;
        sp(i)?;
        let source = sequence_set(i)?;
        sp(i)?;
        let destination = sequence_set(i)?;
        Code::CopyUid {
            uid_validity,
            source,
            destination,
        }
    } else {
        return Err(start.err("known response code"));
    };
    if i.peek() != Some(b']') {
        return Err(i.err("]"));
    }
    Ok(code)
}

/// `charset = atom / quoted`.
fn charset(i: &mut In<'_>) -> PResult<IString> {
    if i.peek() == Some(b'"') {
        return quoted(i).map(IString::new);
    }
    atom(i).map(|a| IString::new(a.into_bytes()))
}

/// `resp-text-code = ... / atom [SP 1*<any TEXT-CHAR except "]">]`. Unknown codes, and
/// known codes that do not parse, are kept as [`Code::Other`].
pub(crate) fn resp_text_code(i: &mut In<'_>) -> PResult<Code> {
    let mut k = *i;
    if let Ok(code) = known_code(&mut k) {
        *i = k;
        return Ok(code);
    }
    let name = atom(i)?;
    if i.peek() != Some(b' ') {
        return Ok(Code::Other { name, value: None });
    }
    let r = i.rest().get(1..).unwrap_or_default();
    let n = r
        .iter()
        .take_while(|&&b| b != b']' && is_text_char(b))
        .count();
    let value = Some(i.bytes_of(&r[..n]));
    i.advance(1 + n);
    Ok(Code::Other { name, value })
}

/// `resp-text = ["[" resp-text-code "]" SP] text`. With
/// [`Quirks::code_without_text`](crate::Quirks) the text may be missing or empty.
pub(crate) fn resp_text(i: &mut In<'_>) -> PResult<(Option<Code>, Text)> {
    if i.peek() == Some(b'[') {
        let mut j = i.skip(1);
        if let Ok(code) = resp_text_code(&mut j) {
            if j.eat(b']') {
                if j.eat(b' ') {
                    let t = text(&mut j)?;
                    if !t.is_empty() || j.quirks.code_without_text {
                        *i = j;
                        return Ok((Some(code), t));
                    }
                    return Err(j.err("text"));
                }
                if j.quirks.code_without_text {
                    *i = j;
                    return Ok((Some(code), Text::default()));
                }
                return Err(j.err("SP text"));
            }
        }
        // Not a code after all: all of it is text.
    }
    let start = *i;
    let t = text(i)?;
    if t.is_empty() && !i.quirks.code_without_text {
        return Err(start.err("text"));
    }
    Ok((None, t))
}

/// `SP resp-text`, or nothing at all with [`Quirks::code_without_text`](crate::Quirks)
/// (`a1 OK` CRLF).
fn sp_resp_text(i: &mut In<'_>) -> PResult<(Option<Code>, Text)> {
    if i.eat(b' ') {
        return resp_text(i);
    }
    if i.quirks.code_without_text && matches!(i.peek(), Some(b'\r' | b'\n')) {
        return Ok((None, Text::default()));
    }
    Err(i.err("SP resp-text"))
}

/// `greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF`.
pub(crate) fn greeting(i: &mut In<'_>) -> PResult<Greeting> {
    kw(i, "* ")?;
    let k = keyword(i)?;
    let kind = if k.eq_ignore_ascii_case(b"OK") {
        GreetingKind::Ok
    } else if k.eq_ignore_ascii_case(b"PREAUTH") {
        GreetingKind::PreAuth
    } else if k.eq_ignore_ascii_case(b"BYE") {
        GreetingKind::Bye
    } else {
        return Err(i.err("OK, PREAUTH or BYE"));
    };
    let (code, text) = sp_resp_text(i)?;
    crlf(i)?;
    Ok(Greeting { kind, code, text })
}

/// `resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text`: its keyword.
fn status_kind(k: &[u8]) -> Option<StatusKind> {
    if k.eq_ignore_ascii_case(b"OK") {
        Some(StatusKind::Ok)
    } else if k.eq_ignore_ascii_case(b"NO") {
        Some(StatusKind::No)
    } else if k.eq_ignore_ascii_case(b"BAD") {
        Some(StatusKind::Bad)
    } else {
        None
    }
}

/// `response = continue-req / response-data / response-tagged` (one message).
pub(crate) fn response(i: &mut In<'_>) -> PResult<Response> {
    match i.peek() {
        Some(b'+') => continue_req(i).map(Response::Continue),
        Some(b'*') => response_data(i),
        _ => response_tagged(i),
    }
}

/// `continue-req = "+" SP (resp-text / base64) CRLF`.
pub(crate) fn continue_req(i: &mut In<'_>) -> PResult<Continue> {
    kw(i, "+")?;
    // Many servers send "+" CRLF or "+ " CRLF.
    let (code, text) = if i.eat(b' ') {
        if i.peek() == Some(b'[') {
            resp_text(i)?
        } else {
            (None, text(i)?)
        }
    } else if i.quirks.code_without_text {
        (None, Text::default())
    } else {
        return Err(i.err("SP"));
    };
    crlf(i)?;
    Ok(Continue { code, text })
}

/// `response-tagged = tag SP resp-cond-state CRLF`.
fn response_tagged(i: &mut In<'_>) -> PResult<Response> {
    let tag = tag(i)?;
    sp(i)?;
    let start = *i;
    let Some(kind) = status_kind(keyword(i)?) else {
        return Err(start.err("OK, NO or BAD"));
    };
    let (code, text) = sp_resp_text(i)?;
    crlf(i)?;
    Ok(Response::Status(Status::Tagged {
        tag,
        body: StatusBody { kind, code, text },
    }))
}

/// `response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
/// capability-data / enable-data / id-response) CRLF`.
fn response_data(i: &mut In<'_>) -> PResult<Response> {
    kw(i, "* ")?;
    if matches!(i.peek(), Some(b'0'..=b'9')) {
        let data = message_data(i)?;
        crlf(i)?;
        return Ok(Response::Data(data));
    }
    let start = *i;
    let w = keyword(i)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if let Some(kind) = status_kind(w) {
        let (code, text) = sp_resp_text(i)?;
        crlf(i)?;
        return Ok(Response::Status(Status::Untagged(StatusBody {
            kind,
            code,
            text,
        })));
    }
    if is(b"BYE") {
        let (code, text) = sp_resp_text(i)?;
        crlf(i)?;
        return Ok(Response::Status(Status::Bye { code, text }));
    }
    let data = if is(b"CAPABILITY") {
        Data::Capability(space_separated(i, capability)?)
    } else if is(b"ENABLED") {
        Data::Enabled(space_separated(i, capability)?)
    } else if is(b"ID") {
        sp(i)?;
        Data::Id(id_params(i)?)
    } else if is(b"LIST") {
        sp(i)?;
        Data::List(mailbox_list(i)?)
    } else if is(b"LSUB") {
        sp(i)?;
        Data::Lsub(mailbox_list(i)?)
    } else if is(b"STATUS") {
        sp(i)?;
        let mailbox = mailbox(i)?;
        sp(i)?;
        let items = paren_list(i, status_att_val)?;
        Data::Status { mailbox, items }
    } else if is(b"FLAGS") {
        sp(i)?;
        Data::Flags(flag_list(i)?)
    } else if is(b"SEARCH") {
        search_data(i)?
    } else if is(b"VANISHED") {
        sp(i)?;
        let earlier = peek_kw(i, "(EARLIER)");
        if earlier {
            kw(i, "(EARLIER) ")?;
        }
        let uids = sequence_set(i)?;
        Data::Vanished { earlier, uids }
    } else if is(b"ESEARCH") {
        Data::ESearch(esearch(i)?)
    } else {
        return Err(start.err("response data"));
    };
    crlf(i)?;
    Ok(Response::Data(data))
}

/// `message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))`, plus
/// `mailbox-data =/ number SP "EXISTS" / number SP "RECENT"`.
fn message_data(i: &mut In<'_>) -> PResult<Data> {
    let start = *i;
    let n = number(i)?;
    sp(i)?;
    let word = *i;
    let w = keyword(i)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if is(b"EXISTS") {
        return Ok(Data::Exists(n));
    }
    if is(b"RECENT") {
        return Ok(Data::Recent(n));
    }
    let Some(seq) = std::num::NonZeroU32::new(n) else {
        return Err(start.err("non-zero number"));
    };
    if is(b"EXPUNGE") {
        return Ok(Data::Expunge(seq));
    }
    if is(b"FETCH") {
        sp(i)?;
        let items = msg_att(i)?;
        return Ok(Data::Fetch { seq, items });
    }
    Err(word.err("EXISTS, RECENT, EXPUNGE or FETCH"))
}

/// `id-params-list = "(" *(string SP nstring) ")" / nil` (RFC 2971).
pub(crate) fn id_params(i: &mut In<'_>) -> PResult<Option<Vec<(IString, NString)>>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|()| None);
    }
    paren_list(i, |i| {
        let k = string(i)?;
        sp(i)?;
        let v = nstring(i)?;
        Ok((k, v))
    })
    .map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use bytes::Bytes;

    use super::super::testing::{fails, run};
    use super::*;
    use crate::types::{AuthMechanism, Flag, FlagPerm, Mailbox, MailboxAttribute, StatusItem};

    fn bytes(b: &'static [u8]) -> Bytes {
        Bytes::from_static(b)
    }

    #[test]
    fn codes() {
        assert_eq!(run(resp_text_code, b"UIDNEXT 4392]").0, Code::UidNext(4392));
        assert_eq!(
            run(resp_text_code, b"PERMANENTFLAGS (\\Deleted \\Seen \\*)]").0,
            Code::PermanentFlags(vec![
                FlagPerm::Flag(Flag::Deleted),
                FlagPerm::Flag(Flag::Seen),
                FlagPerm::Asterisk
            ])
        );
        let c = run(resp_text_code, b"COPYUID 38505 304,319:320 3956:3958]").0;
        let Code::CopyUid {
            uid_validity: 38505,
            source,
            destination,
        } = c
        else {
            panic!()
        };
        assert_eq!(
            (source.to_string(), destination.to_string()),
            ("304,319:320".into(), "3956:3958".into())
        );
        let c = run(resp_text_code, b"X-FOO some value]").0;
        let Code::Other { name, value } = c else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), value),
            ("X-FOO", Some(bytes(b"some value")))
        );
        // A known code with a broken argument is kept, not rejected.
        let c = run(resp_text_code, b"UIDNEXT abc]").0;
        assert!(matches!(c, Code::Other { .. }));
    }

    #[test]
    fn greetings_and_status() {
        let g = run(
            greeting,
            b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready\r\n",
        )
        .0;
        assert_eq!(g.kind, GreetingKind::Ok);
        assert_eq!(
            g.code,
            Some(Code::Capability(vec![
                Capability::Imap4Rev1,
                Capability::Auth(AuthMechanism::Plain),
                Capability::LiteralPlus
            ]))
        );
        let r = run(response, b"* OK [HIGHESTMODSEQ 715194045007]\r\n").0;
        let Response::Status(Status::Untagged(b)) = r else {
            panic!()
        };
        assert_eq!(b.code, Some(Code::HighestModSeq(715_194_045_007)));
        fails(response, b"* OK [HIGHESTMODSEQ 715194045007]\r\n");
        let r = run(response, b"a1 ok done\r\n").0;
        assert!(matches!(r, Response::Status(Status::Tagged { .. })));
        let r = run(response, b"+ \r\n").0;
        assert!(matches!(r, Response::Continue(_)));
    }

    #[test]
    fn data() {
        let r = run(
            response,
            b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292) \r\n",
        )
        .0;
        let Response::Data(Data::Status { items, .. }) = r else {
            panic!()
        };
        assert_eq!(
            items,
            vec![StatusItem::Messages(231), StatusItem::UidNext(44292)]
        );
        let r = run(
            response,
            b"* LIST (\\Noselect \\HasChildren) \"/\" ~/Mail/foo\r\n",
        )
        .0;
        let Response::Data(Data::List(l)) = r else {
            panic!()
        };
        assert_eq!(l.delimiter, Some('/'));
        assert_eq!(
            l.attributes,
            vec![MailboxAttribute::NoSelect, MailboxAttribute::HasChildren]
        );
        let r = run(response, b"* LIST () NIL inbox\r\n").0;
        let Response::Data(Data::List(l)) = r else {
            panic!()
        };
        assert_eq!(l.mailbox, Mailbox::Inbox);
        let r = run(response, b"* SEARCH 2 3 6 (MODSEQ 917162500)\r\n").0;
        let Response::Data(Data::Search {
            ids,
            modseq: Some(917_162_500),
        }) = r
        else {
            panic!()
        };
        assert_eq!(ids.len(), 3);
        let r = run(response, b"* SEARCH \r\n").0;
        assert!(matches!(r, Response::Data(Data::Search { .. })));
        let r = run(
            response,
            b"* ESEARCH (TAG \"A282\") UID MIN 2 COUNT 3 ALL 2,10:11\r\n",
        )
        .0;
        let Response::Data(Data::ESearch(e)) = r else {
            panic!()
        };
        assert!(e.uid);
        assert_eq!(e.tag.unwrap().as_str(), "A282");
        assert_eq!(e.items.len(), 3);
        let r = run(response, b"* ID (\"name\" \"Cyrus\" \"version\" NIL)\r\n").0;
        let Response::Data(Data::Id(Some(p))) = r else {
            panic!()
        };
        assert_eq!(p[1].1, None);
        let r = run(response, b"* 12 FETCH (FLAGS (\\Seen) UID 4)\r\n").0;
        assert!(matches!(r, Response::Data(Data::Fetch { .. })));
        let r = run(response, b"* 0 EXISTS\r\n").0;
        assert_eq!(r, Response::Data(Data::Exists(0)));
        fails(response, b"* 0 EXPUNGE\r\n");
        let r = run(response, b"* VANISHED (EARLIER) 41,43:116\r\n").0;
        assert!(matches!(
            r,
            Response::Data(Data::Vanished { earlier: true, .. })
        ));
    }
}
