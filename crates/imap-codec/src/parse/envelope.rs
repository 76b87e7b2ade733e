//! ENVELOPE (RFC 3501 section 9: `envelope`, `address`).

use super::core::{nil, nstring, sp};
use super::{In, PResult};
use crate::types::{Address, Envelope};

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

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use crate::types::IString;

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
