//! Message flags: the IMAP system flags and keywords.

use std::collections::BTreeSet;
use std::fmt;

/// One message flag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// A keyword such as `$Forwarded` or `Junk` (an IMAP atom, kept as given).
    Keyword(String),
}

impl Flag {
    /// Reads a flag as IMAP writes it: `\Seen` (any case) or a keyword atom. `None` for an
    /// empty string, an unknown `\`-flag, or a keyword with characters an atom cannot hold.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(system) = text.strip_prefix('\\') {
            return [
                ("Seen", Self::Seen),
                ("Answered", Self::Answered),
                ("Flagged", Self::Flagged),
                ("Deleted", Self::Deleted),
                ("Draft", Self::Draft),
            ]
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(system))
            .map(|(_, flag)| flag);
        }
        let atom_char = |c: char| {
            c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']')
        };
        (!text.is_empty() && text.chars().all(atom_char)).then(|| Self::Keyword(text.to_owned()))
    }

    /// Whether this is one of the five system flags.
    pub fn is_system(&self) -> bool {
        !matches!(self, Self::Keyword(_))
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seen => f.write_str("\\Seen"),
            Self::Answered => f.write_str("\\Answered"),
            Self::Flagged => f.write_str("\\Flagged"),
            Self::Deleted => f.write_str("\\Deleted"),
            Self::Draft => f.write_str("\\Draft"),
            Self::Keyword(k) => f.write_str(k),
        }
    }
}

/// The flags of a message, ordered system flags first.
pub type FlagSet = BTreeSet<Flag>;

/// How a STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

impl FlagOp {
    /// Applies the operation; returns whether `set` changed.
    pub fn apply(self, set: &mut FlagSet, flags: &FlagSet) -> bool {
        match self {
            Self::Replace => {
                if set == flags {
                    return false;
                }
                set.clone_from(flags);
                true
            }
            Self::Add => flags
                .iter()
                .fold(false, |changed, f| set.insert(f.clone()) | changed),
            Self::Remove => flags
                .iter()
                .fold(false, |changed, f| set.remove(f) | changed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!(Flag::parse("\\seen"), Some(Flag::Seen));
        assert_eq!(Flag::parse("\\Recent"), None);
        assert_eq!(
            Flag::parse("$Forwarded"),
            Some(Flag::Keyword("$Forwarded".into()))
        );
        assert_eq!(Flag::parse("bad word"), None);
        assert_eq!(Flag::parse(""), None);
        assert_eq!(Flag::Deleted.to_string(), "\\Deleted");
        let set: FlagSet = [Flag::Keyword("a".into()), Flag::Seen]
            .into_iter()
            .collect();
        assert_eq!(set.iter().next(), Some(&Flag::Seen));
    }

    #[test]
    fn ops_report_change() {
        let mut set = FlagSet::new();
        let seen: FlagSet = [Flag::Seen].into_iter().collect();
        assert!(FlagOp::Add.apply(&mut set, &seen));
        assert!(!FlagOp::Add.apply(&mut set, &seen));
        assert!(!FlagOp::Replace.apply(&mut set, &seen));
        assert!(FlagOp::Remove.apply(&mut set, &seen));
        assert!(set.is_empty());
    }
}
