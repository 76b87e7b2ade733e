//! Flags (RFC 3501 section 9: `flag`, `flag-list`, `flag-fetch`, `flag-perm`).

use super::core::{atom, peek_kw};
use super::{In, PResult, paren_list};
use crate::types::chars::is_atom_char;
use crate::types::{Atom, Flag, FlagFetch, FlagPerm};

/// `flag = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" / flag-keyword /
/// flag-extension`.
pub(crate) fn flag(i: &mut In<'_>) -> PResult<Flag> {
    if !i.eat(b'\\') {
        return atom(i).map(Flag::Keyword);
    }
    let r = i.rest();
    let n = r.iter().take_while(|&&b| is_atom_char(b)).count();
    if n == 0 {
        return Err(i.err("atom"));
    }
    let name = &r[..n];
    // The five system flags carry no bytes: no handle on the buffer for them.
    let is = |w: &[u8]| name.eq_ignore_ascii_case(w);
    let f = if is(b"Seen") {
        Flag::Seen
    } else if is(b"Answered") {
        Flag::Answered
    } else if is(b"Flagged") {
        Flag::Flagged
    } else if is(b"Deleted") {
        Flag::Deleted
    } else if is(b"Draft") {
        Flag::Draft
    } else {
        Flag::system(Atom::new_unchecked(i.bytes_of(name)))
    };
    i.advance(n);
    Ok(f)
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub(crate) fn flag_list(i: &mut In<'_>) -> PResult<Vec<Flag>> {
    paren_list(i, flag)
}

/// `flag-fetch = flag / "\\Recent"`.
pub(crate) fn flag_fetch(i: &mut In<'_>) -> PResult<FlagFetch> {
    if peek_kw(i, "\\Recent") {
        i.advance(7);
        return Ok(FlagFetch::Recent);
    }
    flag(i).map(FlagFetch::Flag)
}

/// `flag-perm = flag / "\\*"`.
pub(crate) fn flag_perm(i: &mut In<'_>) -> PResult<FlagPerm> {
    if i.rest().starts_with(b"\\*") {
        i.advance(2);
        return Ok(FlagPerm::Asterisk);
    }
    flag(i).map(FlagPerm::Flag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{fails, run};
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(run(flag, b"\\seen").0, Flag::Seen);
        assert_eq!(
            run(flag, b"$Forwarded").0,
            Flag::keyword("$Forwarded").unwrap()
        );
        assert_eq!(run(flag_fetch, b"\\Recent)").0, FlagFetch::Recent);
        assert_eq!(run(flag_perm, b"\\*)").0, FlagPerm::Asterisk);
        assert_eq!(
            run(flag_list, b"(\\Seen \\Deleted )").0,
            vec![Flag::Seen, Flag::Deleted]
        );
        fails(flag_list, b"(\\Seen \\Deleted )");
    }
}
