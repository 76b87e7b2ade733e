//! The sync algorithms, written against the [`backend`](crate::backend) traits only: what a
//! run shares (`run`: the store handle, the report, the pending-action bookkeeping) and each
//! protocol's algorithm (`imap`: UIDs, UIDVALIDITY, the retry set, moves and expunges;
//! `pop3`: UIDLs with content identity, `DELE` committed at `QUIT`).

pub(crate) mod imap;
pub(crate) mod pop3;
pub(crate) mod run;
