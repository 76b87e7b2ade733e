//! Commands (RFC 3501 section 9 `command`, RFC 9051, and the extensions named below), the
//! AUTHENTICATE continuation line and IDLE's DONE.

use base64::Engine as _;

use super::core::{
    astring, atom, crlf, date_time, flag, flag_list, keyword, kw, line_end, literal, mailbox,
    number64, paren_list, sequence_set, sp, string, tag,
};
use super::fetch::fetch_att;
use super::response::{capability, id_params};
use super::search::search_key;
use super::{In, PResult, fail};
use crate::types::chars::is_list_char;
use crate::types::{
    AString, AuthMechanism, AuthenticateData, Command, CommandBody, FetchAttribute, Flag,
    ListMailbox, Literal, Macro, MacroOrItems, SearchKey, SearchReturnOption, Secret,
    StatusAttribute, StoreResponse, StoreType,
};

/// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
pub(crate) fn command(i: In<'_>) -> PResult<'_, Command> {
    let (j, tag) = tag(i)?;
    let (j, ()) = sp(j)?;
    let (j, body) = command_body(j)?;
    let (j, ()) = crlf(j)?;
    Ok((j, Command { tag, body }))
}

fn command_body(i: In<'_>) -> PResult<'_, CommandBody> {
    let (j, w) = keyword(i)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    let mb = |j| -> PResult<'_, crate::types::Mailbox> { mailbox(sp(j)?.0) };
    Ok(if is(b"CAPABILITY") {
        (j, CommandBody::Capability)
    } else if is(b"NOOP") {
        (j, CommandBody::Noop)
    } else if is(b"LOGOUT") {
        (j, CommandBody::Logout)
    } else if is(b"STARTTLS") {
        (j, CommandBody::StartTls)
    } else if is(b"CHECK") {
        (j, CommandBody::Check)
    } else if is(b"CLOSE") {
        (j, CommandBody::Close)
    } else if is(b"UNSELECT") {
        (j, CommandBody::Unselect)
    } else if is(b"EXPUNGE") {
        (j, CommandBody::Expunge)
    } else if is(b"IDLE") {
        (j, CommandBody::Idle)
    } else if is(b"LOGIN") {
        // login = "LOGIN" SP userid SP password
        let (j, username) = astring(sp(j)?.0)?;
        let (j, password) = astring(sp(j)?.0)?;
        (
            j,
            CommandBody::Login {
                username,
                password: Secret::new(password),
            },
        )
    } else if is(b"AUTHENTICATE") {
        authenticate(j)?
    } else if is(b"ENABLE") {
        let (j, caps) = super::core::space_separated(j, capability)?;
        if caps.is_empty() {
            return fail(j, "capability");
        }
        (j, CommandBody::Enable { capabilities: caps })
    } else if is(b"ID") {
        let (j, parameters) = id_params(sp(j)?.0)?;
        (j, CommandBody::Id { parameters })
    } else if is(b"SELECT") || is(b"EXAMINE") {
        let (j, mailbox) = mb(j)?;
        let (j, condstore) = match j.rest() {
            [b' ', b'(', ..] => (kw(" (CONDSTORE)")(j)?.0, true),
            _ => (j, false),
        };
        if is(b"SELECT") {
            (j, CommandBody::Select { mailbox, condstore })
        } else {
            (j, CommandBody::Examine { mailbox, condstore })
        }
    } else if is(b"CREATE") {
        mb(j).map(|(j, mailbox)| (j, CommandBody::Create { mailbox }))?
    } else if is(b"DELETE") {
        mb(j).map(|(j, mailbox)| (j, CommandBody::Delete { mailbox }))?
    } else if is(b"SUBSCRIBE") {
        mb(j).map(|(j, mailbox)| (j, CommandBody::Subscribe { mailbox }))?
    } else if is(b"UNSUBSCRIBE") {
        mb(j).map(|(j, mailbox)| (j, CommandBody::Unsubscribe { mailbox }))?
    } else if is(b"RENAME") {
        let (j, from) = mb(j)?;
        let (j, to) = mb(j)?;
        (j, CommandBody::Rename { from, to })
    } else if is(b"LIST") || is(b"LSUB") {
        let (j, reference) = mb(j)?;
        let (j, pattern) = list_mailbox(sp(j)?.0)?;
        if is(b"LIST") {
            (j, CommandBody::List { reference, pattern })
        } else {
            (j, CommandBody::Lsub { reference, pattern })
        }
    } else if is(b"STATUS") {
        let (j, mailbox) = mb(j)?;
        let (j, attributes) = paren_list(sp(j)?.0, status_att)?;
        if attributes.is_empty() {
            return fail(j, "status attribute");
        }
        (
            j,
            CommandBody::Status {
                mailbox,
                attributes,
            },
        )
    } else if is(b"APPEND") {
        append(j)?
    } else if is(b"UID") {
        let (k, w2) = keyword(sp(j)?.0)?;
        if w2.eq_ignore_ascii_case(b"EXPUNGE") {
            let (k, uids) = sequence_set(sp(k)?.0)?;
            (k, CommandBody::UidExpunge { uids })
        } else {
            select_command(k, w2, true)?
        }
    } else if ["SEARCH", "FETCH", "STORE", "COPY", "MOVE"]
        .iter()
        .any(|k| is(k.as_bytes()))
    {
        select_command(j, w, false)?
    } else {
        return fail(i, "command");
    })
}

/// `copy`, `move`, `fetch`, `search` and `store`, with or without `UID`.
fn select_command<'a>(j: In<'a>, w: &[u8], uid: bool) -> PResult<'a, CommandBody> {
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if is(b"SEARCH") {
        return search(j, uid);
    }
    let (j, sequence_set) = sequence_set(sp(j)?.0)?;
    if is(b"COPY") || is(b"MOVE") {
        let (j, mailbox) = mailbox(sp(j)?.0)?;
        return Ok((
            j,
            if is(b"COPY") {
                CommandBody::Copy {
                    sequence_set,
                    mailbox,
                    uid,
                }
            } else {
                CommandBody::Move {
                    sequence_set,
                    mailbox,
                    uid,
                }
            },
        ));
    }
    if is(b"FETCH") {
        // fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
        //         "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
        let j = sp(j)?.0;
        let (j, items) = if j.peek() == Some(b'(') {
            let (j, l) = paren_list(j, fetch_att)?;
            (j, MacroOrItems::Items(l))
        } else if super::core::peek_kw(j, "ALL") {
            (j.skip(3), MacroOrItems::Macro(Macro::All))
        } else if super::core::peek_kw(j, "FULL") {
            (j.skip(4), MacroOrItems::Macro(Macro::Full))
        } else if super::core::peek_kw(j, "FAST") {
            (j.skip(4), MacroOrItems::Macro(Macro::Fast))
        } else {
            let (j, a): (In<'a>, FetchAttribute) = fetch_att(j)?;
            (j, MacroOrItems::Items(vec![a]))
        };
        let (j, changed_since) = match j.rest() {
            [b' ', b'(', ..] => {
                let (j, ()) = kw(" (CHANGEDSINCE ")(j)?;
                let (j, n) = number64(j)?;
                (kw(")")(j)?.0, Some(n))
            }
            _ => (j, None),
        };
        return Ok((
            j,
            CommandBody::Fetch {
                sequence_set,
                items,
                changed_since,
                uid,
            },
        ));
    }
    if is(b"STORE") {
        let (j, unchanged_since) = match j.rest() {
            [b' ', b'(', ..] => {
                let (j, ()) = kw(" (UNCHANGEDSINCE ")(j)?;
                let (j, n) = number64(j)?;
                (kw(")")(j)?.0, Some(n))
            }
            _ => (j, None),
        };
        // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
        let j = sp(j)?.0;
        let (j, kind) = match j.peek() {
            Some(b'+') => (j.skip(1), StoreType::Add),
            Some(b'-') => (j.skip(1), StoreType::Remove),
            _ => (j, StoreType::Replace),
        };
        let (j, w) = keyword(j)?;
        let response = if w.eq_ignore_ascii_case(b"FLAGS") {
            StoreResponse::Answer
        } else if w.eq_ignore_ascii_case(b"FLAGS.SILENT") {
            StoreResponse::Silent
        } else {
            return fail(j, "FLAGS or FLAGS.SILENT");
        };
        let j = sp(j)?.0;
        let (j, flags) = if j.peek() == Some(b'(') {
            flag_list(j)?
        } else {
            let (j, first) = flag(j)?;
            let (j, mut rest) = super::core::space_separated(j, flag)?;
            rest.insert(0, first);
            (j, rest)
        };
        return Ok((
            j,
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                unchanged_since,
                uid,
            },
        ));
    }
    fail(j, "command")
}

/// `search = "SEARCH" [search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key)`.
fn search(i: In<'_>, uid: bool) -> PResult<'_, CommandBody> {
    let mut j = i;
    let mut return_options = None;
    if j.rest().len() > 7 && j.rest()[..8].eq_ignore_ascii_case(b" RETURN ") {
        let (k, opts) = paren_list(j.skip(8), |k| {
            let (k, w) = keyword(k)?;
            let opt = if w.eq_ignore_ascii_case(b"MIN") {
                SearchReturnOption::Min
            } else if w.eq_ignore_ascii_case(b"MAX") {
                SearchReturnOption::Max
            } else if w.eq_ignore_ascii_case(b"ALL") {
                SearchReturnOption::All
            } else if w.eq_ignore_ascii_case(b"COUNT") {
                SearchReturnOption::Count
            } else {
                return fail(k, "MIN, MAX, ALL or COUNT");
            };
            Ok((k, opt))
        })?;
        return_options = Some(opts);
        j = k;
    }
    let mut charset = None;
    if j.rest().len() > 8 && j.rest()[..9].eq_ignore_ascii_case(b" CHARSET ") {
        let (k, c) = astring(j.skip(9))?;
        charset = Some(c);
        j = k;
    }
    let (j, criteria): (In<'_>, Vec<SearchKey>) =
        super::core::space_separated(j, |k| search_key(k, 0))?;
    if criteria.is_empty() {
        return fail(j, "search key");
    }
    Ok((
        j,
        CommandBody::Search {
            return_options,
            charset,
            criteria,
            uid,
        },
    ))
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959).
fn authenticate(i: In<'_>) -> PResult<'_, CommandBody> {
    let (j, mech) = atom(sp(i)?.0)?;
    let mechanism = AuthMechanism::from_atom(mech);
    if j.peek() != Some(b' ') || matches!(j.rest().get(1), Some(b'\r' | b'\n')) {
        return Ok((
            j,
            CommandBody::Authenticate {
                mechanism,
                initial_response: None,
            },
        ));
    }
    let j = j.skip(1);
    if j.peek() == Some(b'=') {
        let data = Some(Secret::new(Vec::new()));
        return Ok((
            j.skip(1),
            CommandBody::Authenticate {
                mechanism,
                initial_response: data,
            },
        ));
    }
    let (k, data) = base64(j)?;
    Ok((
        k,
        CommandBody::Authenticate {
            mechanism,
            initial_response: Some(Secret::new(data)),
        },
    ))
}

/// `base64 = *(4base64-char) [base64-terminal]`, decoded.
fn base64(i: In<'_>) -> PResult<'_, Vec<u8>> {
    let r = i.rest();
    let n = r
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    match base64::engine::general_purpose::STANDARD.decode(&r[..n]) {
        Ok(d) => Ok((i.skip(n), d)),
        Err(_) => fail(i, "base64"),
    }
}

/// `list-mailbox = 1*list-char / string`.
fn list_mailbox(i: In<'_>) -> PResult<'_, ListMailbox> {
    let n = i.rest().iter().take_while(|&&b| is_list_char(b)).count();
    if n > 0 {
        return Ok((
            i.skip(n),
            ListMailbox(AString::new(i.bytes_of(&i.rest()[..n]))),
        ));
    }
    string(i).map(|(j, s)| (j, ListMailbox(s.into())))
}

/// `status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE" /
/// "RECENT" / "HIGHESTMODSEQ"`.
fn status_att(i: In<'_>) -> PResult<'_, StatusAttribute> {
    let (j, w) = keyword(i)?;
    for a in StatusAttribute::ALL {
        if w.eq_ignore_ascii_case(a.name().as_bytes()) {
            return Ok((j, a));
        }
    }
    fail(i, "status attribute")
}

/// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal`.
fn append(i: In<'_>) -> PResult<'_, CommandBody> {
    let (mut j, mailbox) = mailbox(sp(i)?.0)?;
    let mut flags: Vec<Flag> = Vec::new();
    let mut date = None;
    if j.rest().starts_with(b" (") {
        let (k, f) = flag_list(j.skip(1))?;
        flags = f;
        j = k;
    }
    if j.rest().starts_with(b" \"") {
        let (k, d) = date_time(j.skip(1))?;
        date = Some(d);
        j = k;
    }
    let (j, data) = literal(sp(j)?.0)?;
    Ok((
        j,
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message: Literal::new(data),
        },
    ))
}

/// `authenticate = ... *(CRLF base64) CRLF` continuation line: base64 data or `"*"` to
/// cancel.
pub(crate) fn authenticate_data(i: In<'_>) -> PResult<'_, AuthenticateData> {
    if i.peek() == Some(b'*') {
        let (j, ()) = line_end(i.skip(1))?;
        return Ok((j, AuthenticateData::Cancel));
    }
    let (j, data) = base64(i)?;
    let (j, ()) = line_end(j)?;
    Ok((j, AuthenticateData::Continue(Secret::new(data))))
}

/// `idle = "IDLE" CRLF *(response) "DONE" CRLF`: the `"DONE" CRLF` line.
pub(crate) fn idle_done(i: In<'_>) -> PResult<'_, ()> {
    let (j, ()) = kw("DONE")(i)?;
    crlf(j)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::core::tests::run;
    use super::*;
    use crate::types::{Mailbox, SequenceSet};

    #[test]
    fn commands() {
        let c = run(command, b"a1 login \"fred\" {4+}\r\nf oo\r\n").0;
        let CommandBody::Login { username, password } = c.body else {
            panic!()
        };
        assert_eq!(
            (username.as_bytes(), password.expose().as_bytes()),
            (&b"fred"[..], &b"f oo"[..])
        );
        let c = run(command, b"a2 AUTHENTICATE PLAIN =\r\n").0;
        assert!(matches!(
            c.body,
            CommandBody::Authenticate {
                initial_response: Some(_),
                ..
            }
        ));
        let c = run(
            command,
            b"a3 UID FETCH 1:* (FLAGS BODY.PEEK[]) (CHANGEDSINCE 12345)\r\n",
        )
        .0;
        let CommandBody::Fetch {
            uid: true,
            changed_since: Some(12345),
            ..
        } = c.body
        else {
            panic!()
        };
        let c = run(command, b"a4 UID STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\n").0;
        assert_eq!(
            c.body,
            CommandBody::Store {
                sequence_set: SequenceSet::from_uids([1, 3]).unwrap(),
                kind: StoreType::Add,
                response: StoreResponse::Silent,
                flags: vec![Flag::Deleted],
                unchanged_since: None,
                uid: true
            }
        );
        let c = run(command, b"a5 UID MOVE 42 Archive\r\n").0;
        assert!(matches!(c.body, CommandBody::Move { uid: true, .. }));
        let c = run(command, b"a6 UID EXPUNGE 3000:3002\r\n").0;
        assert!(matches!(c.body, CommandBody::UidExpunge { .. }));
        let c = run(
            command,
            b"a7 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 UNSEEN\r\n",
        )
        .0;
        let CommandBody::Search {
            return_options: Some(o),
            charset: Some(_),
            criteria,
            uid: false,
        } = c.body
        else {
            panic!()
        };
        assert_eq!((o.len(), criteria), (2, vec![SearchKey::Unseen]));
        let c = run(command, b"a8 select inbox (CONDSTORE)\r\n").0;
        assert_eq!(
            c.body,
            CommandBody::Select {
                mailbox: Mailbox::Inbox,
                condstore: true
            }
        );
        let c = run(command, b"a9 LIST \"\" %\r\n").0;
        assert!(matches!(c.body, CommandBody::List { .. }));
        let c = run(
            command,
            b"A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n",
        )
        .0;
        let CommandBody::Append {
            flags,
            date: Some(_),
            message,
            ..
        } = c.body
        else {
            panic!()
        };
        assert_eq!(
            (flags, message.as_bytes()),
            (vec![Flag::Seen], &b"hello"[..])
        );
    }

    #[test]
    fn authenticate_lines() {
        let (d, _) = run(authenticate_data, b"dGVzdA==\r\n");
        assert_eq!(d, AuthenticateData::Continue(Secret::new(b"test".to_vec())));
        assert_eq!(run(authenticate_data, b"*\r\n").0, AuthenticateData::Cancel);
        assert_eq!(
            run(authenticate_data, b"\r\n").0,
            AuthenticateData::Continue(Secret::new(vec![]))
        );
        run(idle_done, b"done\r\n");
    }
}
