//! Responses (RFC 3501 section 9: `greeting`, `response`, `resp-text-code`, `mailbox-data`,
//! `message-data`, `continue-req`; RFC 4731 `esearch-response`; RFC 2971 `id-response`;
//! RFC 5161 `enable-data`).

use super::core::{
    atom, crlf, flag_list, flag_perm, keyword, kw, mailbox, nil, nstring, number, number64,
    nz_number, paren_list, quoted, sequence_set, sp, space_separated, string, tag, text,
};
use super::fetch::msg_att;
use super::{In, PResult, fail};
use crate::types::chars::is_text_char;
use crate::types::{
    Capability, Code, Continue, Data, ESearch, ESearchItem, Greeting, GreetingKind, IString,
    ListItem, MailboxAttribute, NString, Response, Status, StatusBody, StatusItem, StatusKind, Tag,
    Text,
};

/// `capability = ("AUTH=" auth-type) / atom`.
pub(crate) fn capability(i: In<'_>) -> PResult<'_, Capability> {
    atom(i).map(|(j, a)| (j, Capability::from_atom(a)))
}

/// `resp-text-code` for the codes we know; `]` must follow.
fn known_code(i: In<'_>) -> PResult<'_, Code> {
    let (j, k) = keyword(i)?;
    let is = |w: &[u8]| k.eq_ignore_ascii_case(w);
    let (j, code) = if is(b"ALERT") {
        (j, Code::Alert)
    } else if is(b"PARSE") {
        (j, Code::Parse)
    } else if is(b"READ-ONLY") {
        (j, Code::ReadOnly)
    } else if is(b"READ-WRITE") {
        (j, Code::ReadWrite)
    } else if is(b"TRYCREATE") {
        (j, Code::TryCreate)
    } else if is(b"NOMODSEQ") {
        (j, Code::NoModSeq)
    } else if is(b"UIDNOTSTICKY") {
        (j, Code::UidNotSticky)
    } else if is(b"CLOSED") {
        (j, Code::Closed)
    } else if is(b"CAPABILITY") {
        let (j, caps) = space_separated(j, capability)?;
        (j, Code::Capability(caps))
    } else if is(b"BADCHARSET") {
        if j.peek() == Some(b' ') {
            let (j, l) = paren_list(j.skip(1), charset)?;
            (j, Code::BadCharset(l))
        } else {
            (j, Code::BadCharset(Vec::new()))
        }
    } else if is(b"PERMANENTFLAGS") {
        let (j, ()) = sp(j)?;
        let (j, f) = paren_list(j, flag_perm)?;
        (j, Code::PermanentFlags(f))
    } else if is(b"UIDNEXT") {
        let (j, n) = number(sp(j)?.0)?;
        (j, Code::UidNext(n))
    } else if is(b"UIDVALIDITY") {
        let (j, n) = number(sp(j)?.0)?;
        (j, Code::UidValidity(n))
    } else if is(b"UNSEEN") {
        let (j, n) = number(sp(j)?.0)?;
        (j, Code::Unseen(n))
    } else if is(b"HIGHESTMODSEQ") {
        let (j, n) = number64(sp(j)?.0)?;
        (j, Code::HighestModSeq(n))
    } else if is(b"APPENDUID") {
        let (j, v) = number(sp(j)?.0)?;
        let (j, uids) = sequence_set(sp(j)?.0)?;
        (
            j,
            Code::AppendUid {
                uid_validity: v,
                uids,
            },
        )
    } else if is(b"COPYUID") {
        let (j, v) = number(sp(j)?.0)?;
        let (j, source) = sequence_set(sp(j)?.0)?;
        let (j, destination) = sequence_set(sp(j)?.0)?;
        (
            j,
            Code::CopyUid {
                uid_validity: v,
                source,
                destination,
            },
        )
    } else {
        return fail(i, "known response code");
    };
    if j.peek() != Some(b']') {
        return fail(j, "]");
    }
    Ok((j, code))
}

/// `charset = atom / quoted`.
fn charset(i: In<'_>) -> PResult<'_, IString> {
    if i.peek() == Some(b'"') {
        return quoted(i).map(|(j, b)| (j, IString::new(b)));
    }
    atom(i).map(|(j, a)| (j, IString::new(a.into_bytes())))
}

/// `resp-text-code = ... / atom [SP 1*<any TEXT-CHAR except "]">]`. Unknown codes, and
/// known codes that do not parse, are kept as [`Code::Other`].
pub(crate) fn resp_text_code(i: In<'_>) -> PResult<'_, Code> {
    if let Ok(r) = known_code(i) {
        return Ok(r);
    }
    let (j, name) = atom(i)?;
    if j.peek() == Some(b' ') {
        let r = j.skip(1).rest();
        let n = r
            .iter()
            .take_while(|&&b| b != b']' && is_text_char(b))
            .count();
        let value = Some(j.bytes_of(&r[..n]));
        return Ok((j.skip(1 + n), Code::Other { name, value }));
    }
    Ok((j, Code::Other { name, value: None }))
}

/// `resp-text = ["[" resp-text-code "]" SP] text`. With
/// [`Quirks::code_without_text`](crate::Quirks) the text may be missing or empty.
pub(crate) fn resp_text(i: In<'_>) -> PResult<'_, (Option<Code>, Text)> {
    if i.peek() == Some(b'[') {
        if let Ok((j, code)) = resp_text_code(i.skip(1)) {
            if j.peek() == Some(b']') {
                let j = j.skip(1);
                if j.peek() == Some(b' ') {
                    let (k, t) = text(j.skip(1))?;
                    if !t.is_empty() || j.quirks.code_without_text {
                        return Ok((k, (Some(code), t)));
                    }
                    return fail(k, "text");
                }
                if j.quirks.code_without_text {
                    return Ok((j, (Some(code), Text::default())));
                }
                return fail(j, "SP text");
            }
        }
        // Not a code after all: all of it is text.
    }
    let (j, t) = text(i)?;
    if t.is_empty() && !i.quirks.code_without_text {
        return fail(i, "text");
    }
    Ok((j, (None, t)))
}

/// `SP resp-text`, or nothing at all with [`Quirks::code_without_text`](crate::Quirks)
/// (`a1 OK` CRLF).
fn sp_resp_text(i: In<'_>) -> PResult<'_, (Option<Code>, Text)> {
    if i.peek() == Some(b' ') {
        return resp_text(i.skip(1));
    }
    if i.quirks.code_without_text && matches!(i.peek(), Some(b'\r' | b'\n')) {
        return Ok((i, (None, Text::default())));
    }
    fail(i, "SP resp-text")
}

/// `greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF`.
pub(crate) fn greeting(i: In<'_>) -> PResult<'_, Greeting> {
    let (j, ()) = kw("* ")(i)?;
    let (j, k) = keyword(j)?;
    let kind = if k.eq_ignore_ascii_case(b"OK") {
        GreetingKind::Ok
    } else if k.eq_ignore_ascii_case(b"PREAUTH") {
        GreetingKind::PreAuth
    } else if k.eq_ignore_ascii_case(b"BYE") {
        GreetingKind::Bye
    } else {
        return fail(j, "OK, PREAUTH or BYE");
    };
    let (j, (code, text)) = sp_resp_text(j)?;
    let (j, ()) = crlf(j)?;
    Ok((j, Greeting { kind, code, text }))
}

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
pub(crate) fn response(i: In<'_>) -> PResult<'_, Response> {
    match i.peek() {
        Some(b'+') => continue_req(i).map(|(j, c)| (j, Response::Continue(c))),
        Some(b'*') => response_data(i),
        _ => response_tagged(i),
    }
}

/// `continue-req = "+" SP (resp-text / base64) CRLF`.
pub(crate) fn continue_req(i: In<'_>) -> PResult<'_, Continue> {
    let (j, ()) = kw("+")(i)?;
    // Many servers send "+" CRLF or "+ " CRLF.
    let (j, (code, text)) = if j.peek() == Some(b' ') {
        let j = j.skip(1);
        if j.peek() == Some(b'[') {
            resp_text(j)?
        } else {
            let (j, t) = text(j)?;
            (j, (None, t))
        }
    } else if j.quirks.code_without_text {
        (j, (None, Text::default()))
    } else {
        return fail(j, "SP");
    };
    let (j, ()) = crlf(j)?;
    Ok((j, Continue { code, text }))
}

/// `response-tagged = tag SP resp-cond-state CRLF`.
fn response_tagged(i: In<'_>) -> PResult<'_, Response> {
    let (j, tag) = tag(i)?;
    let (j, ()) = sp(j)?;
    let (k, w) = keyword(j)?;
    let Some(kind) = status_kind(w) else {
        return fail(j, "OK, NO or BAD");
    };
    let (k, (code, text)) = sp_resp_text(k)?;
    let (k, ()) = crlf(k)?;
    Ok((
        k,
        Response::Status(Status::Tagged {
            tag,
            body: StatusBody { kind, code, text },
        }),
    ))
}

/// `response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
/// capability-data / enable-data / id-response) CRLF`.
fn response_data(i: In<'_>) -> PResult<'_, Response> {
    let (j, ()) = kw("* ")(i)?;
    if matches!(j.peek(), Some(b'0'..=b'9')) {
        let (k, data) = message_data(j)?;
        let (k, ()) = crlf(k)?;
        return Ok((k, Response::Data(data)));
    }
    let (k, w) = keyword(j)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if let Some(kind) = status_kind(w) {
        let (k, (code, text)) = sp_resp_text(k)?;
        let (k, ()) = crlf(k)?;
        return Ok((
            k,
            Response::Status(Status::Untagged(StatusBody { kind, code, text })),
        ));
    }
    if is(b"BYE") {
        let (k, (code, text)) = sp_resp_text(k)?;
        let (k, ()) = crlf(k)?;
        return Ok((k, Response::Status(Status::Bye { code, text })));
    }
    let (k, data) = if is(b"CAPABILITY") {
        let (k, caps) = space_separated(k, capability)?;
        (k, Data::Capability(caps))
    } else if is(b"ENABLED") {
        let (k, caps) = space_separated(k, capability)?;
        (k, Data::Enabled(caps))
    } else if is(b"ID") {
        let (k, ()) = sp(k)?;
        let (k, params) = id_params(k)?;
        (k, Data::Id(params))
    } else if is(b"LIST") {
        let (k, item) = mailbox_list(sp(k)?.0)?;
        (k, Data::List(item))
    } else if is(b"LSUB") {
        let (k, item) = mailbox_list(sp(k)?.0)?;
        (k, Data::Lsub(item))
    } else if is(b"STATUS") {
        let (k, mailbox) = mailbox(sp(k)?.0)?;
        let (k, ()) = sp(k)?;
        let (k, items) = paren_list(k, status_att_val)?;
        (k, Data::Status { mailbox, items })
    } else if is(b"FLAGS") {
        let (k, flags) = flag_list(sp(k)?.0)?;
        (k, Data::Flags(flags))
    } else if is(b"SEARCH") {
        search_data(k)?
    } else if is(b"VANISHED") {
        let (k, ()) = sp(k)?;
        let (k, earlier) = if super::core::peek_kw(k, "(EARLIER)") {
            (kw("(EARLIER) ")(k)?.0, true)
        } else {
            (k, false)
        };
        let (k, uids) = sequence_set(k)?;
        (k, Data::Vanished { earlier, uids })
    } else if is(b"ESEARCH") {
        let (k, e) = esearch(k)?;
        (k, Data::ESearch(e))
    } else {
        return fail(j, "response data");
    };
    let (k, ()) = crlf(k)?;
    Ok((k, Response::Data(data)))
}

/// `message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))`, plus
/// `mailbox-data =/ number SP "EXISTS" / number SP "RECENT"`.
fn message_data(i: In<'_>) -> PResult<'_, Data> {
    let (j, n) = number(i)?;
    let (j, ()) = sp(j)?;
    let (k, w) = keyword(j)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if is(b"EXISTS") {
        return Ok((k, Data::Exists(n)));
    }
    if is(b"RECENT") {
        return Ok((k, Data::Recent(n)));
    }
    let Some(seq) = std::num::NonZeroU32::new(n) else {
        return fail(i, "non-zero number");
    };
    if is(b"EXPUNGE") {
        return Ok((k, Data::Expunge(seq)));
    }
    if is(b"FETCH") {
        let (k, items) = msg_att(sp(k)?.0)?;
        return Ok((k, Data::Fetch { seq, items }));
    }
    fail(j, "EXISTS, RECENT, EXPUNGE or FETCH")
}

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP
/// mailbox`.
fn mailbox_list(i: In<'_>) -> PResult<'_, ListItem> {
    let (j, attributes) = paren_list(i, |j| {
        let (j, ()) = kw("\\")(j)?;
        let (j, a) = atom(j)?;
        Ok((j, MailboxAttribute::from_atom(a)))
    })?;
    let (j, ()) = sp(j)?;
    let (j, delimiter) = if j.peek() == Some(b'"') {
        let (k, q) = quoted(j)?;
        let s = std::str::from_utf8(&q)
            .ok()
            .filter(|s| s.chars().count() == 1);
        match s.and_then(|s| s.chars().next()) {
            Some(c) => (k, Some(c)),
            None => return fail(j, "one delimiter character"),
        }
    } else {
        let (k, ()) = nil(j)?;
        (k, None)
    };
    let (j, ()) = sp(j)?;
    let (j, mailbox) = mailbox(j)?;
    Ok((
        j,
        ListItem {
            attributes,
            delimiter,
            mailbox,
        },
    ))
}

/// `status-att-val` (RFC 9051, RFC 7162).
fn status_att_val(i: In<'_>) -> PResult<'_, StatusItem> {
    let (j, k) = keyword(i)?;
    let (j, ()) = sp(j)?;
    let is = |x: &[u8]| k.eq_ignore_ascii_case(x);
    if is(b"SIZE") || is(b"HIGHESTMODSEQ") {
        let (j, n) = number64(j)?;
        return Ok((
            j,
            if is(b"SIZE") {
                StatusItem::Size(n)
            } else {
                StatusItem::HighestModSeq(n)
            },
        ));
    }
    let (j, n) = number(j)?;
    let item = if is(b"MESSAGES") {
        StatusItem::Messages(n)
    } else if is(b"RECENT") {
        StatusItem::Recent(n)
    } else if is(b"UIDNEXT") {
        StatusItem::UidNext(n)
    } else if is(b"UIDVALIDITY") {
        StatusItem::UidValidity(n)
    } else if is(b"UNSEEN") {
        StatusItem::Unseen(n)
    } else if is(b"DELETED") {
        StatusItem::Deleted(n)
    } else {
        return fail(i, "status attribute");
    };
    Ok((j, item))
}

/// `id-params-list = "(" *(string SP nstring) ")" / nil` (RFC 2971).
pub(crate) fn id_params(i: In<'_>) -> PResult<'_, Option<Vec<(IString, NString)>>> {
    if i.peek() != Some(b'(') {
        return nil(i).map(|(j, ())| (j, None));
    }
    paren_list(i, |j| {
        let (j, k) = string(j)?;
        let (j, ()) = sp(j)?;
        let (j, v) = nstring(j)?;
        Ok((j, (k, v)))
    })
    .map(|(j, l)| (j, Some(l)))
}

/// `mailbox-data =/ "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]`.
fn search_data(i: In<'_>) -> PResult<'_, Data> {
    let mut ids = Vec::new();
    let mut j = i;
    let mut modseq = None;
    while j.peek() == Some(b' ') {
        let k = j.skip(1);
        match k.peek() {
            Some(b'0'..=b'9') => {
                let (k, n) = nz_number(k)?;
                ids.push(n);
                j = k;
            }
            Some(b'(') => {
                let (k, ()) = kw("(MODSEQ ")(k)?;
                let (k, n) = number64(k)?;
                let (k, ()) = kw(")")(k)?;
                modseq = Some(n);
                j = k;
                break;
            }
            _ => break,
        }
    }
    Ok((j, Data::Search { ids, modseq }))
}

/// `esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)`,
/// `search-correlator = SP "(" "TAG" SP tag-string ")"`.
fn esearch(i: In<'_>) -> PResult<'_, ESearch> {
    let mut j = i;
    let mut tag_value: Option<Tag> = None;
    if j.rest().starts_with(b" (") {
        let (k, ()) = kw(" (TAG ")(j)?;
        let (k, s) = string(k)?;
        let (k, ()) = kw(")")(k)?;
        tag_value = Tag::new(s.to_bytes()).ok();
        if tag_value.is_none() {
            return fail(k, "tag");
        }
        j = k;
    }
    let mut uid = false;
    if j.peek() == Some(b' ') && super::core::peek_kw(j.skip(1), "UID") {
        uid = true;
        j = j.skip(4);
    }
    let (j, items) = space_separated(j, |k| {
        let (k, w) = keyword(k)?;
        let (k, ()) = sp(k)?;
        let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
        if is(b"MIN") {
            number(k).map(|(k, n)| (k, ESearchItem::Min(n)))
        } else if is(b"MAX") {
            number(k).map(|(k, n)| (k, ESearchItem::Max(n)))
        } else if is(b"COUNT") {
            number(k).map(|(k, n)| (k, ESearchItem::Count(n)))
        } else if is(b"ALL") {
            sequence_set(k).map(|(k, s)| (k, ESearchItem::All(s)))
        } else if is(b"MODSEQ") {
            number64(k).map(|(k, n)| (k, ESearchItem::ModSeq(n)))
        } else {
            fail(k, "search return data")
        }
    })?;
    Ok((
        j,
        ESearch {
            tag: tag_value,
            uid,
            items,
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use bytes::Bytes;

    use super::super::core::tests::{fails, run};
    use super::*;
    use crate::types::{AuthMechanism, Flag, FlagPerm, Mailbox};

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
