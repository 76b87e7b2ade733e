//! STATUS command attributes and response items (RFC 3501 6.3.10 / 7.2.4, RFC 9051, RFC 7162).

/// `status-att`: what a STATUS command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusAttribute {
    /// `MESSAGES`
    Messages,
    /// `RECENT` (IMAP4rev1)
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `DELETED` (IMAP4rev2)
    Deleted,
    /// `SIZE` (IMAP4rev2)
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162)
    HighestModSeq,
}

impl StatusAttribute {
    /// The attribute's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Messages => "MESSAGES",
            Self::Recent => "RECENT",
            Self::UidNext => "UIDNEXT",
            Self::UidValidity => "UIDVALIDITY",
            Self::Unseen => "UNSEEN",
            Self::Deleted => "DELETED",
            Self::Size => "SIZE",
            Self::HighestModSeq => "HIGHESTMODSEQ",
        }
    }

    pub(crate) const ALL: [StatusAttribute; 8] = [
        Self::Messages,
        Self::Recent,
        Self::UidNext,
        Self::UidValidity,
        Self::Unseen,
        Self::Deleted,
        Self::Size,
        Self::HighestModSeq,
    ];
}

/// `status-att-val`: one item of a STATUS response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES n`
    Messages(u32),
    /// `RECENT n`
    Recent(u32),
    /// `UIDNEXT n`
    UidNext(u32),
    /// `UIDVALIDITY n`
    UidValidity(u32),
    /// `UNSEEN n`
    Unseen(u32),
    /// `DELETED n`
    Deleted(u32),
    /// `SIZE n`
    Size(u64),
    /// `HIGHESTMODSEQ n`
    HighestModSeq(u64),
}

impl StatusItem {
    /// The attribute this item answers.
    pub fn attribute(&self) -> StatusAttribute {
        match self {
            Self::Messages(_) => StatusAttribute::Messages,
            Self::Recent(_) => StatusAttribute::Recent,
            Self::UidNext(_) => StatusAttribute::UidNext,
            Self::UidValidity(_) => StatusAttribute::UidValidity,
            Self::Unseen(_) => StatusAttribute::Unseen,
            Self::Deleted(_) => StatusAttribute::Deleted,
            Self::Size(_) => StatusAttribute::Size,
            Self::HighestModSeq(_) => StatusAttribute::HighestModSeq,
        }
    }

    /// The item's value.
    pub fn value(&self) -> u64 {
        match *self {
            Self::Messages(n)
            | Self::Recent(n)
            | Self::UidNext(n)
            | Self::UidValidity(n)
            | Self::Unseen(n)
            | Self::Deleted(n) => u64::from(n),
            Self::Size(n) | Self::HighestModSeq(n) => n,
        }
    }
}
