//! SEARCH criteria (RFC 3501 section 9 `search-key`, RFC 7162 `search-modsequence`) and the
//! answers to a search (`mailbox-data` SEARCH, RFC 4731 `esearch-response`).

use super::core::{astring, atom, keyword, kw, number, number64, nz_number, peek_kw, sp, string};
use super::datetime::date;
use super::sequence::sequence_set;
use super::{In, MAX_DEPTH, PResult, paren_list, space_separated};
use crate::types::{Data, ESearch, ESearchItem, SearchKey, Tag};

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

/// `mailbox-data =/ "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]`.
pub(crate) fn search_data(i: &mut In<'_>) -> PResult<Data> {
    let mut ids = Vec::new();
    let mut modseq = None;
    while i.peek() == Some(b' ') {
        match i.rest().get(1) {
            Some(b'0'..=b'9') => {
                i.advance(1);
                ids.push(nz_number(i)?);
            }
            Some(b'(') => {
                i.advance(1);
                kw(i, "(MODSEQ ")?;
                modseq = Some(number64(i)?);
                kw(i, ")")?;
                break;
            }
            _ => break,
        }
    }
    Ok(Data::Search { ids, modseq })
}

/// `esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)`,
/// `search-correlator = SP "(" "TAG" SP tag-string ")"`.
pub(crate) fn esearch(i: &mut In<'_>) -> PResult<ESearch> {
    let mut tag_value: Option<Tag> = None;
    if i.rest().starts_with(b" (") {
        kw(i, " (TAG ")?;
        let s = string(i)?;
        kw(i, ")")?;
        tag_value = Tag::new(s.to_bytes()).ok();
        if tag_value.is_none() {
            return Err(i.err("tag"));
        }
    }
    let mut uid = false;
    if i.peek() == Some(b' ') && peek_kw(&i.skip(1), "UID") {
        uid = true;
        i.advance(4);
    }
    let items = space_separated(i, |i| {
        let w = keyword(i)?;
        sp(i)?;
        let is = |x: &[u8]| w.eq_ignore_ascii_case(x);
        if is(b"MIN") {
            number(i).map(ESearchItem::Min)
        } else if is(b"MAX") {
            number(i).map(ESearchItem::Max)
        } else if is(b"COUNT") {
            number(i).map(ESearchItem::Count)
        } else if is(b"ALL") {
            sequence_set(i).map(ESearchItem::All)
        } else if is(b"MODSEQ") {
            number64(i).map(ESearchItem::ModSeq)
        } else {
            Err(i.err("search return data"))
        }
    })?;
    Ok(ESearch {
        tag: tag_value,
        uid,
        items,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::run;
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
