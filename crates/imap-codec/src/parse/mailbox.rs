//! Mailbox names and LIST data (RFC 3501 section 9: `mailbox`, `list-mailbox`,
//! `mailbox-list`).

use super::core::{astring, atom, kw, nil, quoted, sp, string};
use super::{In, PResult, paren_list};
use crate::types::chars::is_list_char;
use crate::types::{AString, ListItem, ListMailbox, Mailbox, MailboxAttribute};

/// `mailbox = "INBOX" / astring`.
pub(crate) fn mailbox(i: &mut In<'_>) -> PResult<Mailbox> {
    astring(i).map(Mailbox::from_raw)
}

/// `list-mailbox = 1*list-char / string`.
pub(crate) fn list_mailbox(i: &mut In<'_>) -> PResult<ListMailbox> {
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_list_char(b)).count();
    if n > 0 {
        let m = ListMailbox(AString::new(i.bytes_of(&r[..n])));
        i.advance(n);
        return Ok(m);
    }
    string(i).map(|s| ListMailbox(s.into()))
}

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP
/// mailbox`.
pub(crate) fn mailbox_list(i: &mut In<'_>) -> PResult<ListItem> {
    let attributes = paren_list(i, |i| {
        kw(i, "\\")?;
        atom(i).map(MailboxAttribute::from_atom)
    })?;
    sp(i)?;
    let delimiter = if i.peek() == Some(b'"') {
        let start = *i;
        let q = quoted(i)?;
        let s = std::str::from_utf8(&q)
            .ok()
            .filter(|s| s.chars().count() == 1);
        match s.and_then(|s| s.chars().next()) {
            Some(c) => Some(c),
            None => return Err(start.err("one delimiter character")),
        }
    } else {
        nil(i)?;
        None
    };
    sp(i)?;
    let mailbox = mailbox(i)?;
    Ok(ListItem {
        attributes,
        delimiter,
        mailbox,
    })
}
