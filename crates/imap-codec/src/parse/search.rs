//! SEARCH criteria (RFC 3501 section 9 `search-key`, RFC 7162 `search-modsequence`).

use super::core::{astring, atom, date, number, number64, paren_list, sequence_set, sp};
use super::{In, MAX_DEPTH, PResult, fail};
use crate::types::SearchKey;

/// `search-key = "ALL" / "ANSWERED" / "BCC" SP astring / ... / "(" search-key *(SP
/// search-key) ")"` (RFC 3501 section 9).
pub(crate) fn search_key(i: In<'_>, depth: usize) -> PResult<'_, SearchKey> {
    if depth > MAX_DEPTH {
        return fail(i, "shallower nesting");
    }
    match i.peek() {
        Some(b'(') => {
            return paren_list(i, |j| search_key(j, depth + 1))
                .map(|(j, l)| (j, SearchKey::And(l)));
        }
        Some(b'0'..=b'9' | b'*') => {
            return sequence_set(i).map(|(j, s)| (j, SearchKey::SequenceSet(s)));
        }
        _ => {}
    }
    let (j, w) = atom(i)?;
    let w = w.as_bytes().to_ascii_uppercase();
    let str_arg = |j, f: fn(crate::types::AString) -> SearchKey| {
        let (j, ()) = sp(j)?;
        astring(j).map(|(j, s)| (j, f(s)))
    };
    let date_arg = |j, f: fn(crate::types::Date) -> SearchKey| {
        let (j, ()) = sp(j)?;
        date(j).map(|(j, d)| (j, f(d)))
    };
    Ok(match &w[..] {
        b"ALL" => (j, SearchKey::All),
        b"ANSWERED" => (j, SearchKey::Answered),
        b"DELETED" => (j, SearchKey::Deleted),
        b"DRAFT" => (j, SearchKey::Draft),
        b"FLAGGED" => (j, SearchKey::Flagged),
        b"NEW" => (j, SearchKey::New),
        b"OLD" => (j, SearchKey::Old),
        b"RECENT" => (j, SearchKey::Recent),
        b"SEEN" => (j, SearchKey::Seen),
        b"UNANSWERED" => (j, SearchKey::Unanswered),
        b"UNDELETED" => (j, SearchKey::Undeleted),
        b"UNDRAFT" => (j, SearchKey::Undraft),
        b"UNFLAGGED" => (j, SearchKey::Unflagged),
        b"UNSEEN" => (j, SearchKey::Unseen),
        b"BCC" => str_arg(j, SearchKey::Bcc)?,
        b"BODY" => str_arg(j, SearchKey::Body)?,
        b"CC" => str_arg(j, SearchKey::Cc)?,
        b"FROM" => str_arg(j, SearchKey::From)?,
        b"SUBJECT" => str_arg(j, SearchKey::Subject)?,
        b"TEXT" => str_arg(j, SearchKey::Text)?,
        b"TO" => str_arg(j, SearchKey::To)?,
        b"BEFORE" => date_arg(j, SearchKey::Before)?,
        b"ON" => date_arg(j, SearchKey::On)?,
        b"SINCE" => date_arg(j, SearchKey::Since)?,
        b"SENTBEFORE" => date_arg(j, SearchKey::SentBefore)?,
        b"SENTON" => date_arg(j, SearchKey::SentOn)?,
        b"SENTSINCE" => date_arg(j, SearchKey::SentSince)?,
        b"HEADER" => {
            let (j, ()) = sp(j)?;
            let (j, name) = astring(j)?;
            let (j, ()) = sp(j)?;
            let (j, value) = astring(j)?;
            (j, SearchKey::Header(name, value))
        }
        b"KEYWORD" | b"UNKEYWORD" => {
            let (j, ()) = sp(j)?;
            let (j, a) = atom(j)?;
            (
                j,
                if w.len() == 7 {
                    SearchKey::Keyword(a)
                } else {
                    SearchKey::Unkeyword(a)
                },
            )
        }
        b"LARGER" | b"SMALLER" => {
            let (j, ()) = sp(j)?;
            let (j, n) = number(j)?;
            (
                j,
                if w[0] == b'L' {
                    SearchKey::Larger(n)
                } else {
                    SearchKey::Smaller(n)
                },
            )
        }
        b"NOT" => {
            let (j, ()) = sp(j)?;
            let (j, k) = search_key(j, depth + 1)?;
            (j, SearchKey::Not(Box::new(k)))
        }
        b"OR" => {
            let (j, ()) = sp(j)?;
            let (j, a) = search_key(j, depth + 1)?;
            let (j, ()) = sp(j)?;
            let (j, b) = search_key(j, depth + 1)?;
            (j, SearchKey::Or(Box::new(a), Box::new(b)))
        }
        b"UID" => {
            let (j, ()) = sp(j)?;
            let (j, s) = sequence_set(j)?;
            (j, SearchKey::Uid(s))
        }
        b"MODSEQ" => {
            let (j, ()) = sp(j)?;
            let (j, n) = number64(j)?;
            (j, SearchKey::ModSeq(n))
        }
        _ => return fail(i, "search key"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::core::tests::run;
    use super::*;
    use crate::types::{AString, Date};

    #[test]
    fn keys() {
        assert_eq!(
            run(
                |i| search_key(i, 0),
                b"OR (FLAGGED SINCE 1-Feb-1994) NOT FROM \"Smith\""
            )
            .0,
            SearchKey::Or(
                Box::new(SearchKey::And(vec![
                    SearchKey::Flagged,
                    SearchKey::Since(Date::new(1994, 2, 1).unwrap())
                ])),
                Box::new(SearchKey::Not(Box::new(SearchKey::From(AString::from(
                    "Smith"
                )))))
            )
        );
        assert_eq!(
            run(|i| search_key(i, 0), b"2:4").0,
            SearchKey::SequenceSet(crate::types::SequenceSet::range(2, 4).unwrap())
        );
        let deep = "NOT ".repeat(1000) + "ALL";
        let b = bytes::Bytes::from(deep);
        assert!(search_key(In::new(&b, crate::Quirks::default()), 0).is_err());
    }
}
