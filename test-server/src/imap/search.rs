//! SEARCH: evaluating criteria against messages.

use inbound_imap_codec::types::{AString, Date, SearchKey, SequenceSet};

use super::fetch::utc_date;
use super::mime;
use crate::mailstore::{Flag, StoredMessage};

/// What a message is matched against besides itself.
pub(crate) struct SearchContext {
    /// The message's sequence number.
    pub(crate) seq: u32,
    /// The number of messages in the view (what `*` means for sequence numbers).
    pub(crate) max_seq: u32,
    /// The largest UID in the view (what `*` means for UIDs).
    pub(crate) max_uid: u32,
}

/// Whether `set` holds `n` (`*` is `largest`).
pub(crate) fn set_contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    set.elements().iter().any(|e| e.contains(n, largest))
}

fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn header_has(message: &StoredMessage, name: &str, needle: &AString) -> bool {
    let root_header_end = header_block(message);
    let fields = mime::header_fields(&message.raw[..root_header_end]);
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .any(|(_, v)| contains_ci(v.as_bytes(), needle.as_bytes()))
}

fn header_block(message: &StoredMessage) -> usize {
    mime::parse(&message.raw).header.end
}

/// Parses an RFC 5322 Date header's calendar date (`Mon, 1 Jan 2024 10:00:00 +0000`).
pub(crate) fn sent_date(message: &StoredMessage) -> Option<Date> {
    let end = header_block(message);
    let value = mime::field(&mime::header_fields(&message.raw[..end]), "date")?;
    let value = value.split_once(',').map_or(value.as_str(), |(_, r)| r);
    let mut words = value.split_whitespace();
    let day: u8 = words.next()?.parse().ok()?;
    let month = words.next()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| month.eq_ignore_ascii_case(m))? as u8
        + 1;
    let mut year: u16 = words.next()?.parse().ok()?;
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    Date::new(year, month, day).ok()
}

/// Whether `message` matches `key`.
pub(crate) fn matches(message: &StoredMessage, key: &SearchKey, ctx: &SearchContext) -> bool {
    let has = |f: Flag| message.flags.contains(&f);
    let internal = || utc_date(message.internal_date);
    match key {
        SearchKey::All => true,
        SearchKey::Answered => has(Flag::Answered),
        SearchKey::Unanswered => !has(Flag::Answered),
        SearchKey::Deleted => has(Flag::Deleted),
        SearchKey::Undeleted => !has(Flag::Deleted),
        SearchKey::Draft => has(Flag::Draft),
        SearchKey::Undraft => !has(Flag::Draft),
        SearchKey::Flagged => has(Flag::Flagged),
        SearchKey::Unflagged => !has(Flag::Flagged),
        SearchKey::Seen => has(Flag::Seen),
        SearchKey::Unseen => !has(Flag::Seen),
        // This server keeps no \Recent: nothing is new or recent, everything is old.
        SearchKey::New | SearchKey::Recent => false,
        SearchKey::Old => true,
        SearchKey::Keyword(k) => message
            .flags
            .iter()
            .any(|f| matches!(f, Flag::Keyword(x) if k.eq_ignore_ascii_case(x))),
        SearchKey::Unkeyword(k) => !message
            .flags
            .iter()
            .any(|f| matches!(f, Flag::Keyword(x) if k.eq_ignore_ascii_case(x))),
        SearchKey::Before(d) => internal().is_some_and(|i| i < *d),
        SearchKey::On(d) => internal().is_some_and(|i| i == *d),
        SearchKey::Since(d) => internal().is_some_and(|i| i >= *d),
        SearchKey::SentBefore(d) => sent_date(message).is_some_and(|s| s < *d),
        SearchKey::SentOn(d) => sent_date(message).is_some_and(|s| s == *d),
        SearchKey::SentSince(d) => sent_date(message).is_some_and(|s| s >= *d),
        SearchKey::Larger(n) => message.raw.len() > *n as usize,
        SearchKey::Smaller(n) => message.raw.len() < *n as usize,
        SearchKey::From(s) => header_has(message, "from", s),
        SearchKey::To(s) => header_has(message, "to", s),
        SearchKey::Cc(s) => header_has(message, "cc", s),
        SearchKey::Bcc(s) => header_has(message, "bcc", s),
        SearchKey::Subject(s) => header_has(message, "subject", s),
        SearchKey::Header(name, s) => {
            let name = name.to_string_lossy();
            if s.is_empty() {
                // An empty string matches every message that has the field.
                let end = header_block(message);
                mime::header_fields(&message.raw[..end])
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(&name))
            } else {
                header_has(message, &name, s)
            }
        }
        SearchKey::Body(s) => {
            let end = header_block(message);
            contains_ci(&message.raw[end..], s.as_bytes())
        }
        SearchKey::Text(s) => contains_ci(&message.raw, s.as_bytes()),
        SearchKey::Uid(set) => set_contains(set, message.uid, ctx.max_uid),
        SearchKey::SequenceSet(set) => set_contains(set, ctx.seq, ctx.max_seq),
        SearchKey::Not(k) => !matches(message, k, ctx),
        SearchKey::Or(a, b) => matches(message, a, ctx) || matches(message, b, ctx),
        SearchKey::And(keys) => keys.iter().all(|k| matches(message, k, ctx)),
        SearchKey::ModSeq(m) => message.modseq >= *m,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sample::sample_mailbox;
    use bytes::Bytes;

    fn stored(i: usize) -> StoredMessage {
        let m = &sample_mailbox()[i];
        StoredMessage {
            uid: i as u32 + 1,
            flags: m.flags.clone(),
            internal_date: m.internal_date,
            modseq: 1,
            raw: Bytes::from(m.raw.clone()),
        }
    }

    #[test]
    fn criteria() {
        let ctx = SearchContext {
            seq: 1,
            max_seq: 8,
            max_uid: 8,
        };
        let plain = stored(0);
        assert!(matches(&plain, &SearchKey::Seen, &ctx));
        assert!(matches(&plain, &SearchKey::Subject("welcome".into()), &ctx));
        assert!(matches(&plain, &SearchKey::From("ALICE@".into()), &ctx));
        assert!(matches(&plain, &SearchKey::Body("plain text".into()), &ctx));
        assert!(!matches(&plain, &SearchKey::Body("Subject".into()), &ctx));
        let d = Date::new(2024, 3, 1).unwrap();
        assert!(matches(&plain, &SearchKey::On(d), &ctx));
        assert!(matches(&plain, &SearchKey::SentOn(d), &ctx));
        assert!(!matches(&plain, &SearchKey::Before(d), &ctx));
        assert!(matches(
            &plain,
            &SearchKey::Or(Box::new(SearchKey::Unseen), Box::new(SearchKey::Larger(10))),
            &ctx
        ));
        assert!(matches(
            &plain,
            &SearchKey::Not(Box::new(SearchKey::Uid(SequenceSet::range(2, 4).unwrap()))),
            &ctx
        ));
        assert!(!matches(&plain, &SearchKey::Uid("*".parse_set()), &ctx));
        let reply = stored(7);
        assert!(matches(
            &reply,
            &SearchKey::Keyword("$forwarded".try_into().unwrap()),
            &ctx
        ));
        assert!(matches(
            &reply,
            &SearchKey::Header("In-Reply-To".into(), "sample-1".into()),
            &ctx
        ));
    }

    trait ParseSet {
        fn parse_set(&self) -> SequenceSet;
    }
    impl ParseSet for str {
        fn parse_set(&self) -> SequenceSet {
            assert_eq!(self, "*");
            SequenceSet::new(vec![inbound_imap_codec::types::Sequence::Single(
                inbound_imap_codec::types::SeqOrUid::Asterisk,
            )])
            .unwrap()
        }
    }
}
