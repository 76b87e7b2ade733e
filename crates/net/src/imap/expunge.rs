//! Expunging only the messages asked for, also on a server without UIDPLUS.

use inbound_imap_codec::types::{Capability, SearchKey};

use super::ImapClient;
use super::ops::UidSet;
use crate::error::Result;

/// What [`ImapClient::expunge_only`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpungeOutcome {
    /// The messages were expunged: `UID EXPUNGE` (UIDPLUS), or a plain `EXPUNGE` when no
    /// other message of the mailbox was marked `\Deleted`.
    Expunged,
    /// Nothing was expunged: the server has no UIDPLUS, so only a plain `EXPUNGE` exists,
    /// and these other messages (UIDs, ascending) are marked `\Deleted` (by another client);
    /// `EXPUNGE` would have removed them too. The messages asked for stay marked `\Deleted`.
    Withheld {
        /// The other messages marked `\Deleted`.
        others: Vec<u32>,
    },
}

impl ImapClient {
    /// Removes the messages of `uids` that are marked `\Deleted`, and no other message:
    /// `UID EXPUNGE uids` with UIDPLUS (RFC 4315); without it `UID SEARCH DELETED` first,
    /// and a plain `EXPUNGE` only when every message marked `\Deleted` is one of `uids`
    /// (else [`ExpungeOutcome::Withheld`], and nothing is expunged).
    ///
    /// Between the search and the `EXPUNGE` another client may still mark a message
    /// `\Deleted` (IMAP has no way to close that gap without UIDPLUS).
    ///
    /// # Errors
    /// [`ImapError::WrongState`](super::ImapError::WrongState) without a selected mailbox,
    /// [`ImapError::InvalidArgument`](super::ImapError::InvalidArgument) for UID 0, server
    /// refusals, connection errors.
    pub async fn expunge_only(&mut self, uids: &(impl UidSet + ?Sized)) -> Result<ExpungeOutcome> {
        self.require_selected("EXPUNGE")?;
        let Some(set) = uids.to_sequence_set()? else {
            return Ok(ExpungeOutcome::Expunged);
        };
        if self.has_capability(&Capability::UidPlus) {
            self.uid_expunge(&set).await?;
            return Ok(ExpungeOutcome::Expunged);
        }
        let flagged = self.uid_search(vec![SearchKey::Deleted]).await?;
        let others: Vec<u32> = flagged
            .into_iter()
            .filter(|&uid| !set.contains(uid, u32::MAX))
            .collect();
        if !others.is_empty() {
            tracing::warn!(
                others = others.len(),
                "not expunging: other messages are marked \\Deleted and the server has no UIDPLUS"
            );
            return Ok(ExpungeOutcome::Withheld { others });
        }
        self.expunge().await?;
        Ok(ExpungeOutcome::Expunged)
    }
}
