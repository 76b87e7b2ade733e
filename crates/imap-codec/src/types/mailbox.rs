//! Mailbox names (RFC 3501 section 5.1) and LIST data.

use bytes::Bytes;

use super::core::{AString, Atom};
use super::utf7::{Utf7Error, decode_utf7, encode_utf7};

/// `mailbox = "INBOX" / astring`. INBOX is case-insensitive and always normalized to
/// [`Mailbox::Inbox`]; other names are kept as sent (modified UTF-7 on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mailbox {
    /// The INBOX, whatever its case on the wire.
    Inbox,
    /// Any other mailbox.
    Other(MailboxOther),
}

/// A mailbox name that is not INBOX (raw wire bytes, usually modified UTF-7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxOther(AString);

impl MailboxOther {
    /// The raw name as sent on the wire.
    pub fn as_astring(&self) -> &AString {
        &self.0
    }
}

impl Mailbox {
    /// Builds a mailbox from its raw wire name (already modified UTF-7 where needed).
    pub fn from_raw(name: AString) -> Self {
        if name.eq_ignore_ascii_case("INBOX") {
            Self::Inbox
        } else {
            Self::Other(MailboxOther(name))
        }
    }

    /// Builds a mailbox from a UTF-8 name, encoding it as modified UTF-7.
    pub fn from_utf8(name: &str) -> Self {
        Self::from_raw(AString::from(encode_utf7(name)))
    }

    /// The raw wire name (`INBOX` for the inbox).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inbox => b"INBOX",
            Self::Other(o) => o.0.as_bytes(),
        }
    }

    /// The raw wire name as an [`AString`].
    pub fn to_astring(&self) -> AString {
        match self {
            Self::Inbox => AString::new_unchecked(Bytes::from_static(b"INBOX")),
            Self::Other(o) => o.0.clone(),
        }
    }

    /// Decodes the name from modified UTF-7 to UTF-8.
    pub fn to_utf8(&self) -> Result<String, Utf7Error> {
        decode_utf7(self.as_bytes())
    }
}

impl From<&str> for Mailbox {
    /// Same as [`Mailbox::from_utf8`].
    fn from(value: &str) -> Self {
        Self::from_utf8(value)
    }
}

/// A LIST pattern: `list-mailbox = 1*list-char / string` (may contain the wildcards `*`
/// and `%`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListMailbox(pub(crate) AString);

impl ListMailbox {
    /// Wraps a raw pattern.
    pub fn new(pattern: AString) -> Self {
        Self(pattern)
    }
    /// The raw pattern.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<&str> for ListMailbox {
    /// The pattern as given (not UTF-7 encoded).
    fn from(value: &str) -> Self {
        Self(AString::from(value))
    }
}

/// A mailbox attribute in LIST/LSUB data (`mbx-list-flags`, RFC 3501, RFC 9051 and the
/// SPECIAL-USE attributes of RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxAttribute {
    /// `\Noinferiors`
    NoInferiors,
    /// `\Noselect`
    NoSelect,
    /// `\Marked`
    Marked,
    /// `\Unmarked`
    Unmarked,
    /// `\HasChildren`
    HasChildren,
    /// `\HasNoChildren`
    HasNoChildren,
    /// `\NonExistent`
    NonExistent,
    /// `\Subscribed`
    Subscribed,
    /// `\Remote`
    Remote,
    /// `\All` (special use)
    All,
    /// `\Archive` (special use)
    Archive,
    /// `\Drafts` (special use)
    Drafts,
    /// `\Flagged` (special use)
    Flagged,
    /// `\Junk` (special use)
    Junk,
    /// `\Sent` (special use)
    Sent,
    /// `\Trash` (special use)
    Trash,
    /// Any other `"\" atom` (the atom without the backslash).
    Extension(Atom),
}

impl MailboxAttribute {
    pub(crate) fn from_atom(atom: Atom) -> Self {
        const KNOWN: [(&str, MailboxAttribute); 16] = [
            ("Noinferiors", MailboxAttribute::NoInferiors),
            ("Noselect", MailboxAttribute::NoSelect),
            ("Marked", MailboxAttribute::Marked),
            ("Unmarked", MailboxAttribute::Unmarked),
            ("HasChildren", MailboxAttribute::HasChildren),
            ("HasNoChildren", MailboxAttribute::HasNoChildren),
            ("NonExistent", MailboxAttribute::NonExistent),
            ("Subscribed", MailboxAttribute::Subscribed),
            ("Remote", MailboxAttribute::Remote),
            ("All", MailboxAttribute::All),
            ("Archive", MailboxAttribute::Archive),
            ("Drafts", MailboxAttribute::Drafts),
            ("Flagged", MailboxAttribute::Flagged),
            ("Junk", MailboxAttribute::Junk),
            ("Sent", MailboxAttribute::Sent),
            ("Trash", MailboxAttribute::Trash),
        ];
        for (name, attr) in KNOWN {
            if atom.eq_ignore_ascii_case(name) {
                return attr;
            }
        }
        Self::Extension(atom)
    }

    /// The attribute's name without the backslash.
    pub fn name(&self) -> &str {
        match self {
            Self::NoInferiors => "Noinferiors",
            Self::NoSelect => "Noselect",
            Self::Marked => "Marked",
            Self::Unmarked => "Unmarked",
            Self::HasChildren => "HasChildren",
            Self::HasNoChildren => "HasNoChildren",
            Self::NonExistent => "NonExistent",
            Self::Subscribed => "Subscribed",
            Self::Remote => "Remote",
            Self::All => "All",
            Self::Archive => "Archive",
            Self::Drafts => "Drafts",
            Self::Flagged => "Flagged",
            Self::Junk => "Junk",
            Self::Sent => "Sent",
            Self::Trash => "Trash",
            Self::Extension(a) => a.as_str(),
        }
    }
}

/// One LIST or LSUB answer: `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR
/// DQUOTE / nil) SP mailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The mailbox's attributes.
    pub attributes: Vec<MailboxAttribute>,
    /// The hierarchy delimiter; `None` for a flat namespace (NIL).
    pub delimiter: Option<char>,
    /// The mailbox.
    pub mailbox: Mailbox,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn inbox_normalized() {
        assert_eq!(Mailbox::from("inBox"), Mailbox::Inbox);
        let m = Mailbox::from_utf8("Entw\u{fc}rfe");
        assert_eq!(m.as_bytes(), b"Entw&APw-rfe");
        assert_eq!(m.to_utf8().unwrap(), "Entw\u{fc}rfe");
    }
}
