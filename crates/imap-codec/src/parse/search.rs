//! SEARCH criteria (RFC 3501 section 9 `search-key`, RFC 7162 `search-modsequence`).

use super::core::{astring, atom, date, number, number64, paren_list, sequence_set, sp};
use super::{In, MAX_DEPTH, PResult};
use crate::types::SearchKey;

/// `search-key = "ALL" / "ANSWERED" / "BCC" SP astring / ... / "(" search-key *(SP
/// search-key) ")"` (RFC 3501 section 9).
pub(crate) fn search_key(i: &mut In<'_>, depth: usize) -> PResult<SearchKey> {
    if depth > MAX_DEPTH {
        return Err(i.err("shallower nesting"));
    }
    match i.peek() {
        Some(b'(') => {
            return paren_list(i, |i| search_key(i, depth + 1)).map(SearchKey::And);
        }
        Some(b'0'..=b'9' | b'*') => return sequence_set(i).map(SearchKey::SequenceSet),
        _ => {}
    }
    let start = *i;
    let w = atom(i)?.as_bytes().to_ascii_uppercase();
    let str_arg = |i: &mut In<'_>, f: fn(crate::types::AString) -> SearchKey| {
        sp(i)?;
        astring(i).map(f)
    };
    let date_arg = |i: &mut In<'_>, f: fn(crate::types::Date) -> SearchKey| {
        sp(i)?;
        date(i).map(f)
    };
    Ok(match &w[..] {
        b"ALL" => SearchKey::All,
        b"ANSWERED" => SearchKey::Answered,
        b"DELETED" => SearchKey::Deleted,
        b"DRAFT" => SearchKey::Draft,
        b"FLAGGED" => SearchKey::Flagged,
        b"NEW" => SearchKey::New,
        b"OLD" => SearchKey::Old,
        b"RECENT" => SearchKey::Recent,
        b"SEEN" => SearchKey::Seen,
        b"UNANSWERED" => SearchKey::Unanswered,
        b"UNDELETED" => SearchKey::Undeleted,
        b"UNDRAFT" => SearchKey::Undraft,
        b"UNFLAGGED" => SearchKey::Unflagged,
        b"UNSEEN" => SearchKey::Unseen,
        b"BCC" => str_arg(i, SearchKey::Bcc)?,
        b"BODY" => str_arg(i, SearchKey::Body)?,
        b"CC" => str_arg(i, SearchKey::Cc)?,
        b"FROM" => str_arg(i, SearchKey::From)?,
        b"SUBJECT" => str_arg(i, SearchKey::Subject)?,
        b"TEXT" => str_arg(i, SearchKey::Text)?,
        b"TO" => str_arg(i, SearchKey::To)?,
        b"BEFORE" => date_arg(i, SearchKey::Before)?,
        b"ON" => date_arg(i, SearchKey::On)?,
        b"SINCE" => date_arg(i, SearchKey::Since)?,
        b"SENTBEFORE" => date_arg(i, SearchKey::SentBefore)?,
        b"SENTON" => date_arg(i, SearchKey::SentOn)?,
        b"SENTSINCE" => date_arg(i, SearchKey::SentSince)?,
        b"HEADER" => {
            sp(i)?;
            let name = astring(i)?;
            sp(i)?;
            let value = astring(i)?;
            SearchKey::Header(name, value)
        }
        b"KEYWORD" | b"UNKEYWORD" => {
            sp(i)?;
            let a = atom(i)?;
            if w.len() == 7 {
                SearchKey::Keyword(a)
            } else {
                SearchKey::Unkeyword(a)
            }
        }
        b"LARGER" | b"SMALLER" => {
            sp(i)?;
            let n = number(i)?;
            if w[0] == b'L' {
                SearchKey::Larger(n)
            } else {
                SearchKey::Smaller(n)
            }
        }
        b"NOT" => {
            sp(i)?;
            SearchKey::Not(Box::new(search_key(i, depth + 1)?))
        }
        b"OR" => {
            sp(i)?;
            let a = search_key(i, depth + 1)?;
            sp(i)?;
            let b = search_key(i, depth + 1)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        b"UID" => {
            sp(i)?;
            SearchKey::Uid(sequence_set(i)?)
        }
        b"MODSEQ" => {
            sp(i)?;
            SearchKey::ModSeq(number64(i)?)
        }
        _ => return Err(start.err("search key")),
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
        assert!(search_key(&mut In::new(&b, crate::Quirks::default()), 0).is_err());
    }
}
