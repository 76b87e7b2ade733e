//! SEARCH criteria (RFC 3501 6.4.4 `search-key`) and ESEARCH return options (RFC 4731).

use super::core::{AString, Atom};
use super::datetime::Date;
use super::sequence::SequenceSet;

/// `search-key`. A list of keys is their conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `ANSWERED`
    Answered,
    /// `BCC string`
    Bcc(AString),
    /// `BEFORE date`
    Before(Date),
    /// `BODY string`
    Body(AString),
    /// `CC string`
    Cc(AString),
    /// `DELETED`
    Deleted,
    /// `DRAFT`
    Draft,
    /// `FLAGGED`
    Flagged,
    /// `FROM string`
    From(AString),
    /// `HEADER field-name string`
    Header(AString, AString),
    /// `KEYWORD flag-keyword`
    Keyword(Atom),
    /// `LARGER n`
    Larger(u32),
    /// `NEW`
    New,
    /// `NOT search-key`
    Not(Box<SearchKey>),
    /// `OLD`
    Old,
    /// `ON date`
    On(Date),
    /// `OR search-key search-key`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`
    Recent,
    /// `SEEN`
    Seen,
    /// `SENTBEFORE date`
    SentBefore(Date),
    /// `SENTON date`
    SentOn(Date),
    /// `SENTSINCE date`
    SentSince(Date),
    /// `SINCE date`
    Since(Date),
    /// `SMALLER n`
    Smaller(u32),
    /// `SUBJECT string`
    Subject(AString),
    /// `TEXT string`
    Text(AString),
    /// `TO string`
    To(AString),
    /// `UID sequence-set`
    Uid(SequenceSet),
    /// `UNANSWERED`
    Unanswered,
    /// `UNDELETED`
    Undeleted,
    /// `UNDRAFT`
    Undraft,
    /// `UNFLAGGED`
    Unflagged,
    /// `UNKEYWORD flag-keyword`
    Unkeyword(Atom),
    /// `UNSEEN`
    Unseen,
    /// `sequence-set`: message sequence numbers.
    SequenceSet(SequenceSet),
    /// `"(" search-key *(SP search-key) ")"`
    And(Vec<SearchKey>),
    /// `MODSEQ n` (RFC 7162; the optional entry name/type are not supported).
    ModSeq(u64),
}

/// `search-return-opt` (RFC 4731).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturnOption {
    /// `MIN`
    Min,
    /// `MAX`
    Max,
    /// `ALL`
    All,
    /// `COUNT`
    Count,
}
