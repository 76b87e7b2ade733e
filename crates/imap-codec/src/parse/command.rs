//! Commands (RFC 3501 section 9 `command`, RFC 9051, and the extensions named below), the
//! AUTHENTICATE continuation line and IDLE's DONE.

use base64::Engine as _;

use super::core::{
    astring, atom, crlf, keyword, kw, line_end, literal, number64, peek_kw, sp, tag,
};
use super::datetime::date_time;
use super::fetch::fetch_att;
use super::flag::{flag, flag_list};
use super::mailbox::{list_mailbox, mailbox};
use super::response::{capability, id_params};
use super::search::search_key;
use super::sequence::sequence_set;
use super::status::status_att;
use super::{In, PResult, paren_list, space_separated};
use crate::types::{
    AuthMechanism, AuthenticateData, Command, CommandBody, Flag, Literal, Macro, MacroOrItems,
    Redacted, SearchReturnOption, StoreResponse, StoreType,
};

/// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
pub(crate) fn command(i: &mut In<'_>) -> PResult<Command> {
    let tag = tag(i)?;
    sp(i)?;
    let body = command_body(i)?;
    crlf(i)?;
    Ok(Command { tag, body })
}

/// `command-any = "CAPABILITY" / "LOGOUT" / "NOOP" / id`, `command-auth = append / create /
/// delete / enable / examine / idle / list / lsub / rename / select / status / subscribe /
/// unsubscribe`, `command-nonauth = login / authenticate / "STARTTLS"`, `command-select =
/// "CHECK" / "CLOSE" / "UNSELECT" / "EXPUNGE" / copy / move / fetch / store / search / uid`,
/// `uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)`: a command after
/// its tag.
fn command_body(i: &mut In<'_>) -> PResult<CommandBody> {
    let start = *i;
    let w = keyword(i)?;
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    let mb = |i: &mut In<'_>| -> PResult<crate::types::Mailbox> {
        sp(i)?;
        mailbox(i)
    };
    Ok(if is(b"CAPABILITY") {
        CommandBody::Capability
    } else if is(b"NOOP") {
        CommandBody::Noop
    } else if is(b"LOGOUT") {
        CommandBody::Logout
    } else if is(b"STARTTLS") {
        CommandBody::StartTls
    } else if is(b"CHECK") {
        CommandBody::Check
    } else if is(b"CLOSE") {
        CommandBody::Close
    } else if is(b"UNSELECT") {
        CommandBody::Unselect
    } else if is(b"EXPUNGE") {
        CommandBody::Expunge
    } else if is(b"IDLE") {
        CommandBody::Idle
    } else if is(b"LOGIN") {
        // login = "LOGIN" SP userid SP password
        sp(i)?;
        let username = astring(i)?;
        sp(i)?;
        let password = astring(i)?;
        CommandBody::Login {
            username,
            password: Redacted::new(password),
        }
    } else if is(b"AUTHENTICATE") {
        authenticate(i)?
    } else if is(b"ENABLE") {
        let capabilities = space_separated(i, capability)?;
        if capabilities.is_empty() {
            return Err(i.err("capability"));
        }
        CommandBody::Enable { capabilities }
    } else if is(b"ID") {
        sp(i)?;
        CommandBody::Id {
            parameters: id_params(i)?,
        }
    } else if is(b"SELECT") || is(b"EXAMINE") {
        let mailbox = mb(i)?;
        let condstore = matches!(i.rest(), [b' ', b'(', ..]);
        if condstore {
            kw(i, " (CONDSTORE)")?;
        }
        if is(b"SELECT") {
            CommandBody::Select { mailbox, condstore }
        } else {
            CommandBody::Examine { mailbox, condstore }
        }
    } else if is(b"CREATE") {
        CommandBody::Create { mailbox: mb(i)? }
    } else if is(b"DELETE") {
        CommandBody::Delete { mailbox: mb(i)? }
    } else if is(b"SUBSCRIBE") {
        CommandBody::Subscribe { mailbox: mb(i)? }
    } else if is(b"UNSUBSCRIBE") {
        CommandBody::Unsubscribe { mailbox: mb(i)? }
    } else if is(b"RENAME") {
        let from = mb(i)?;
        let to = mb(i)?;
        CommandBody::Rename { from, to }
    } else if is(b"LIST") || is(b"LSUB") {
        let reference = mb(i)?;
        sp(i)?;
        let pattern = list_mailbox(i)?;
        if is(b"LIST") {
            CommandBody::List { reference, pattern }
        } else {
            CommandBody::Lsub { reference, pattern }
        }
    } else if is(b"STATUS") {
        let mailbox = mb(i)?;
        sp(i)?;
        let attributes = paren_list(i, status_att)?;
        if attributes.is_empty() {
            return Err(i.err("status attribute"));
        }
        CommandBody::Status {
            mailbox,
            attributes,
        }
    } else if is(b"APPEND") {
        append(i)?
    } else if is(b"UID") {
        sp(i)?;
        let w2 = keyword(i)?;
        if w2.eq_ignore_ascii_case(b"EXPUNGE") {
            sp(i)?;
            CommandBody::UidExpunge {
                uids: sequence_set(i)?,
            }
        } else {
            select_command(i, w2, true)?
        }
    } else if ["SEARCH", "FETCH", "STORE", "COPY", "MOVE"]
        .iter()
        .any(|k| is(k.as_bytes()))
    {
        select_command(i, w, false)?
    } else {
        return Err(start.err("command"));
    })
}

/// `copy = "COPY" SP sequence-set SP mailbox`, `move = "MOVE" SP sequence-set SP mailbox`
/// (RFC 6851), `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
/// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`, `store = "STORE" SP sequence-set
/// [store-modifiers] SP store-att-flags` (RFC 7162) and `search`, after their keyword `w`,
/// with or without `UID`.
fn select_command(i: &mut In<'_>, w: &[u8], uid: bool) -> PResult<CommandBody> {
    let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
    if is(b"SEARCH") {
        return search(i, uid);
    }
    sp(i)?;
    let sequence_set = sequence_set(i)?;
    if is(b"COPY") || is(b"MOVE") {
        sp(i)?;
        let mailbox = mailbox(i)?;
        return Ok(if is(b"COPY") {
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
        });
    }
    if is(b"FETCH") {
        // fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
        //         "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
        sp(i)?;
        let items = if i.peek() == Some(b'(') {
            MacroOrItems::Items(paren_list(i, fetch_att)?)
        } else if peek_kw(i, "ALL") {
            i.advance(3);
            MacroOrItems::Macro(Macro::All)
        } else if peek_kw(i, "FULL") {
            i.advance(4);
            MacroOrItems::Macro(Macro::Full)
        } else if peek_kw(i, "FAST") {
            i.advance(4);
            MacroOrItems::Macro(Macro::Fast)
        } else {
            MacroOrItems::Items(vec![fetch_att(i)?])
        };
        let changed_since = match i.rest() {
            [b' ', b'(', ..] => {
                kw(i, " (CHANGEDSINCE ")?;
                let n = number64(i)?;
                kw(i, ")")?;
                Some(n)
            }
            _ => None,
        };
        return Ok(CommandBody::Fetch {
            sequence_set,
            items,
            changed_since,
            uid,
        });
    }
    if is(b"STORE") {
        let unchanged_since = match i.rest() {
            [b' ', b'(', ..] => {
                kw(i, " (UNCHANGEDSINCE ")?;
                let n = number64(i)?;
                kw(i, ")")?;
                Some(n)
            }
            _ => None,
        };
        // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
        sp(i)?;
        let kind = if i.eat(b'+') {
            StoreType::Add
        } else if i.eat(b'-') {
            StoreType::Remove
        } else {
            StoreType::Replace
        };
        let w = keyword(i)?;
        let response = if w.eq_ignore_ascii_case(b"FLAGS") {
            StoreResponse::Answer
        } else if w.eq_ignore_ascii_case(b"FLAGS.SILENT") {
            StoreResponse::Silent
        } else {
            return Err(i.err("FLAGS or FLAGS.SILENT"));
        };
        sp(i)?;
        let flags = if i.peek() == Some(b'(') {
            flag_list(i)?
        } else {
            let first = flag(i)?;
            let mut rest = space_separated(i, flag)?;
            rest.insert(0, first);
            rest
        };
        return Ok(CommandBody::Store {
            sequence_set,
            kind,
            response,
            flags,
            unchanged_since,
            uid,
        });
    }
    Err(i.err("command"))
}

/// `search = "SEARCH" [search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key)`.
fn search(i: &mut In<'_>, uid: bool) -> PResult<CommandBody> {
    let mut return_options = None;
    if i.rest().len() > 7 && i.rest()[..8].eq_ignore_ascii_case(b" RETURN ") {
        i.advance(8);
        return_options = Some(paren_list(i, |i| {
            let w = keyword(i)?;
            Ok(if w.eq_ignore_ascii_case(b"MIN") {
                SearchReturnOption::Min
            } else if w.eq_ignore_ascii_case(b"MAX") {
                SearchReturnOption::Max
            } else if w.eq_ignore_ascii_case(b"ALL") {
                SearchReturnOption::All
            } else if w.eq_ignore_ascii_case(b"COUNT") {
                SearchReturnOption::Count
            } else {
                return Err(i.err("MIN, MAX, ALL or COUNT"));
            })
        })?);
    }
    let mut charset = None;
    if i.rest().len() > 8 && i.rest()[..9].eq_ignore_ascii_case(b" CHARSET ") {
        i.advance(9);
        charset = Some(astring(i)?);
    }
    let criteria = space_separated(i, |i| search_key(i, 0))?;
    if criteria.is_empty() {
        return Err(i.err("search key"));
    }
    Ok(CommandBody::Search {
        return_options,
        charset,
        criteria,
        uid,
    })
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959).
fn authenticate(i: &mut In<'_>) -> PResult<CommandBody> {
    sp(i)?;
    let mechanism = AuthMechanism::from_atom(atom(i)?);
    if i.peek() != Some(b' ') || matches!(i.rest().get(1), Some(b'\r' | b'\n')) {
        return Ok(CommandBody::Authenticate {
            mechanism,
            initial_response: None,
        });
    }
    i.advance(1);
    let data = if i.eat(b'=') { Vec::new() } else { base64(i)? };
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response: Some(Redacted::new(data)),
    })
}

/// `base64 = *(4base64-char) [base64-terminal]`, decoded.
fn base64(i: &mut In<'_>) -> PResult<Vec<u8>> {
    let r = i.rest();
    let n = r
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    match base64::engine::general_purpose::STANDARD.decode(&r[..n]) {
        Ok(d) => {
            i.advance(n);
            Ok(d)
        }
        Err(_) => Err(i.err("base64")),
    }
}

/// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal`.
fn append(i: &mut In<'_>) -> PResult<CommandBody> {
    sp(i)?;
    let mailbox = mailbox(i)?;
    let mut flags: Vec<Flag> = Vec::new();
    let mut date = None;
    if i.rest().starts_with(b" (") {
        i.advance(1);
        flags = flag_list(i)?;
    }
    if i.rest().starts_with(b" \"") {
        i.advance(1);
        date = Some(date_time(i)?);
    }
    sp(i)?;
    let data = literal(i)?;
    Ok(CommandBody::Append {
        mailbox,
        flags,
        date,
        message: Literal::new(data),
    })
}

/// `authenticate = ... *(CRLF base64) CRLF` continuation line: base64 data or `"*"` to
/// cancel.
pub(crate) fn authenticate_data(i: &mut In<'_>) -> PResult<AuthenticateData> {
    if i.eat(b'*') {
        line_end(i)?;
        return Ok(AuthenticateData::Cancel);
    }
    let data = base64(i)?;
    line_end(i)?;
    Ok(AuthenticateData::Continue(Redacted::new(data)))
}

/// `idle = "IDLE" CRLF *(response) "DONE" CRLF`: the `"DONE" CRLF` line.
pub(crate) fn idle_done(i: &mut In<'_>) -> PResult<()> {
    kw(i, "DONE")?;
    crlf(i)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use crate::types::{Mailbox, SearchKey, SequenceSet};

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
        assert_eq!(
            d,
            AuthenticateData::Continue(Redacted::new(b"test".to_vec()))
        );
        assert_eq!(run(authenticate_data, b"*\r\n").0, AuthenticateData::Cancel);
        assert_eq!(
            run(authenticate_data, b"\r\n").0,
            AuthenticateData::Continue(Redacted::new(vec![]))
        );
        run(idle_done, b"done\r\n");
    }
}
