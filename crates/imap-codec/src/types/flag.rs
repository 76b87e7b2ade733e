//! Message flags (RFC 3501 section 2.3.2, `flag`, `flag-fetch`, `flag-perm`).

use super::core::Atom;

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
/// flag-extension`. System flags compare case-insensitively and are normalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Answered`
    Answered,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// `\Flagged`
    Flagged,
    /// `\Seen`
    Seen,
    /// `flag-extension = "\" atom`: another backslash flag (the atom without the backslash).
    Extension(Atom),
    /// `flag-keyword = atom`, e.g. `$Forwarded` or `$Junk`.
    Keyword(Atom),
}

impl Flag {
    /// Builds a flag from a backslash atom's name (without the backslash).
    pub(crate) fn system(name: Atom) -> Self {
        let n = name.as_bytes();
        if n.eq_ignore_ascii_case(b"Seen") {
            Self::Seen
        } else if n.eq_ignore_ascii_case(b"Answered") {
            Self::Answered
        } else if n.eq_ignore_ascii_case(b"Flagged") {
            Self::Flagged
        } else if n.eq_ignore_ascii_case(b"Deleted") {
            Self::Deleted
        } else if n.eq_ignore_ascii_case(b"Draft") {
            Self::Draft
        } else {
            Self::Extension(name)
        }
    }

    /// A keyword flag (fails if `keyword` is not an atom).
    pub fn keyword(keyword: &str) -> Result<Self, super::core::ValidationError> {
        Ok(Self::Keyword(Atom::try_from(keyword)?))
    }
}

/// `flag-fetch = flag / "\Recent"`: a flag in a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagFetch {
    /// An ordinary flag.
    Flag(Flag),
    /// `\Recent` (IMAP4rev1 only).
    Recent,
}

/// `flag-perm = flag / "\*"`: a flag in the PERMANENTFLAGS response code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm {
    /// An ordinary flag.
    Flag(Flag),
    /// `\*`: new keywords may be created.
    Asterisk,
}

/// How STORE changes flags: `["+" / "-"] "FLAGS"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreType {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// Whether STORE answers with the new flags: `[".SILENT"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreResponse {
    /// Untagged FETCH responses with the new flags.
    Answer,
    /// `.SILENT`: no FETCH responses.
    Silent,
}
