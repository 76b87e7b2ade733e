//! Mailbox and message commands: ENABLE, ID, LIST, CREATE, SELECT/EXAMINE, UID SEARCH,
//! UID STORE, UID MOVE (with its fallback), UID EXPUNGE, NOOP, LOGOUT.

use inbound_imap_codec::types::{
    AString, Capability, Code, CommandBody, Data, Flag, IString, ListItem, ListMailbox, Mailbox,
    Response, SearchKey, SequenceSet, Status, StatusKind, StoreResponse, StoreType,
};

use super::ImapClient;
use super::client::{Completed, State};
use super::error::ImapError;
use super::types::{CopyUid, MailboxStatus, MoveOutcome, Unsolicited};
use crate::error::Result;

/// Something that names a set of UIDs: a slice or `Vec` of UIDs (0 is refused), or a
/// ready [`SequenceSet`] such as `SequenceSet::all()` (`1:*`).
pub trait UidSet {
    /// The set; `None` when it is empty.
    ///
    /// # Errors
    /// [`ImapError::InvalidArgument`] for UID 0.
    fn to_sequence_set(&self) -> Result<Option<SequenceSet>, ImapError>;
}

fn from_slice(uids: &[u32]) -> Result<Option<SequenceSet>, ImapError> {
    if uids.contains(&0) {
        return Err(ImapError::InvalidArgument {
            what: "UID",
            reason: "0 is not a UID".into(),
        });
    }
    Ok(SequenceSet::from_uids(uids.iter().copied()))
}

impl UidSet for [u32] {
    fn to_sequence_set(&self) -> Result<Option<SequenceSet>, ImapError> {
        from_slice(self)
    }
}

impl<const N: usize> UidSet for [u32; N] {
    fn to_sequence_set(&self) -> Result<Option<SequenceSet>, ImapError> {
        from_slice(self)
    }
}

impl UidSet for Vec<u32> {
    fn to_sequence_set(&self) -> Result<Option<SequenceSet>, ImapError> {
        from_slice(self)
    }
}

impl UidSet for SequenceSet {
    fn to_sequence_set(&self) -> Result<Option<SequenceSet>, ImapError> {
        Ok(Some(self.clone()))
    }
}

/// Room left for the tag: tags are `A` and up to 20 digits.
const TAG_ROOM: usize = 22;

impl ImapClient {
    /// Splits `set` so that `make(part)` encodes to a command line of at most
    /// [`ImapConfig::max_line_len`](super::ImapConfig::max_line_len) octets.
    pub(super) fn split_set(
        &self,
        set: &SequenceSet,
        make: impl Fn(SequenceSet) -> CommandBody,
    ) -> Vec<SequenceSet> {
        let overhead = encoded_len(make(SequenceSet::all())).saturating_sub(3) + TAG_ROOM;
        let budget = self.max_line_len.saturating_sub(overhead).max(32);
        if set.encoded_len() <= budget {
            return vec![set.clone()];
        }
        set.split(budget)
    }

    /// `ENABLE` (RFC 5161): turns on extensions such as `CONDSTORE` or `UTF8=ACCEPT`;
    /// returns those the server enabled.
    ///
    /// # Errors
    /// [`ImapError::NotSupported`] without the `ENABLE` capability,
    /// [`ImapError::InvalidArgument`] for a name that is not an atom, server refusals,
    /// connection errors.
    pub async fn enable(&mut self, capabilities: &[&str]) -> Result<Vec<Capability>> {
        self.require_auth("ENABLE")?;
        self.require_capability(&Capability::Enable, "ENABLE")?;
        let capabilities = capabilities
            .iter()
            .map(|c| {
                Capability::try_from(*c).map_err(|e| ImapError::InvalidArgument {
                    what: "capability",
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let done = self.run(CommandBody::Enable { capabilities }).await?;
        let done = self.check("ENABLE", done)?;
        let mut enabled = Vec::new();
        let rest = self.take_data(done, |r| match r {
            Response::Data(Data::Enabled(caps)) => {
                enabled.extend(caps);
                None
            }
            other => Some(other),
        });
        self.absorb(rest);
        Ok(enabled)
    }

    /// `ID` (RFC 2971): sends our identification (`None` sends `NIL`) and returns the
    /// server's as (field, value) pairs.
    ///
    /// # Errors
    /// [`ImapError::NotSupported`] without the `ID` capability, server refusals,
    /// connection errors.
    pub async fn id(
        &mut self,
        parameters: Option<&[(&str, &str)]>,
    ) -> Result<Option<Vec<(String, Option<String>)>>> {
        self.check_usable("ID")?;
        self.require_capability(&Capability::Id, "ID")?;
        let parameters = parameters.map(|p| {
            p.iter()
                .map(|(k, v)| (IString::from(*k), Some(IString::from(*v))))
                .collect()
        });
        let done = self.run(CommandBody::Id { parameters }).await?;
        let done = self.check("ID", done)?;
        let mut server = None;
        let rest = self.take_data(done, |r| match r {
            Response::Data(Data::Id(p)) => {
                server = Some(p.map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                k.to_string_lossy().into_owned(),
                                v.map(|v| v.to_string_lossy().into_owned()),
                            )
                        })
                        .collect()
                }));
                None
            }
            other => Some(other),
        });
        self.absorb(rest);
        Ok(server.flatten())
    }

    /// `LIST reference pattern`: the mailboxes matching `pattern` (`*` and `%` are
    /// wildcards; `""` and `"*"` list everything).
    ///
    /// # Errors
    /// Server refusals, connection errors.
    pub async fn list(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListItem>> {
        self.require_auth("LIST")?;
        let body = CommandBody::List {
            reference: Mailbox::from_raw(AString::from(reference)),
            pattern: ListMailbox::from(pattern),
        };
        let done = self.run(body).await?;
        let done = self.check("LIST", done)?;
        let mut items = Vec::new();
        let rest = self.take_data(done, |r| match r {
            Response::Data(Data::List(item)) => {
                items.push(item);
                None
            }
            other => Some(other),
        });
        self.absorb(rest);
        Ok(items)
    }

    /// `CREATE`: creates a mailbox (`mailbox` is UTF-8; it is sent as modified UTF-7).
    ///
    /// # Errors
    /// [`ImapError::No`] when it exists or cannot be created, connection errors.
    pub async fn create(&mut self, mailbox: &str) -> Result<()> {
        self.require_auth("CREATE")?;
        let done = self
            .run(CommandBody::Create {
                mailbox: Mailbox::from_utf8(mailbox),
            })
            .await?;
        let done = self.check("CREATE", done)?;
        self.absorb(done.data);
        Ok(())
    }

    /// `SELECT`: opens a mailbox read-write (`mailbox` is UTF-8).
    ///
    /// Unsolicited responses still queued from the previous mailbox are dropped: their
    /// message numbers mean nothing in the new one.
    ///
    /// # Errors
    /// [`ImapError::No`] when the mailbox does not exist, connection errors.
    pub async fn select(&mut self, mailbox: &str) -> Result<MailboxStatus> {
        self.open_mailbox(mailbox, false).await
    }

    /// `EXAMINE`: opens a mailbox read-only.
    ///
    /// # Errors
    /// As [`ImapClient::select`].
    pub async fn examine(&mut self, mailbox: &str) -> Result<MailboxStatus> {
        self.open_mailbox(mailbox, true).await
    }

    async fn open_mailbox(&mut self, mailbox: &str, read_only: bool) -> Result<MailboxStatus> {
        let command = if read_only { "EXAMINE" } else { "SELECT" };
        self.require_auth(command)?;
        let mailbox = Mailbox::from_utf8(mailbox);
        let body = if read_only {
            CommandBody::Examine {
                mailbox,
                condstore: false,
            }
        } else {
            CommandBody::Select {
                mailbox,
                condstore: false,
            }
        };
        self.unsolicited.clear();
        let done = self.run(body).await?;
        // A failed SELECT leaves no mailbox selected (RFC 3501 section 6.3.1).
        if done.status.kind != StatusKind::Ok {
            self.state = State::Authenticated;
        }
        let done = self.check(command, done)?;
        let mut status = MailboxStatus {
            read_only: read_only || matches!(done.status.code, Some(Code::ReadOnly)),
            ..MailboxStatus::default()
        };
        let rest = self.take_data(done, |r| {
            match r {
                Response::Data(Data::Exists(n)) => status.exists = n,
                Response::Data(Data::Recent(n)) => status.recent = n,
                Response::Data(Data::Flags(f)) => status.flags = f,
                Response::Status(Status::Untagged(body)) if body.kind == StatusKind::Ok => {
                    match body.code {
                        Some(Code::UidValidity(v)) => status.uidvalidity = Some(v),
                        Some(Code::UidNext(v)) => status.uidnext = Some(v),
                        Some(Code::Unseen(v)) => status.first_unseen = Some(v),
                        Some(Code::PermanentFlags(f)) => status.permanent_flags = f,
                        Some(Code::HighestModSeq(v)) => status.highest_modseq = Some(v),
                        code => {
                            return Some(Response::Status(Status::Untagged(
                                inbound_imap_codec::types::StatusBody { code, ..body },
                            )));
                        }
                    }
                }
                other => return Some(other),
            }
            None
        });
        self.absorb(rest);
        self.state = State::Selected;
        Ok(status)
    }

    /// `UID SEARCH criteria` (the criteria are ANDed): the matching UIDs, ascending.
    ///
    /// # Errors
    /// [`ImapError::WrongState`] without a selected mailbox, server refusals, connection
    /// errors.
    pub async fn uid_search(&mut self, criteria: Vec<SearchKey>) -> Result<Vec<u32>> {
        self.require_selected("UID SEARCH")?;
        let criteria = if criteria.is_empty() {
            vec![SearchKey::All]
        } else {
            criteria
        };
        let body = CommandBody::Search {
            return_options: None,
            charset: None,
            criteria,
            uid: true,
        };
        let done = self.run(body).await?;
        let done = self.check("UID SEARCH", done)?;
        let mut uids = Vec::new();
        let rest = self.take_data(done, |r| match r {
            Response::Data(Data::Search { ids, .. }) => {
                uids.extend(ids.into_iter().map(std::num::NonZeroU32::get));
                None
            }
            other => Some(other),
        });
        self.absorb(rest);
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// `UID SEARCH ALL`: every UID in the mailbox.
    ///
    /// # Errors
    /// As [`ImapClient::uid_search`].
    pub async fn uid_search_all(&mut self) -> Result<Vec<u32>> {
        self.uid_search(vec![SearchKey::All]).await
    }

    /// The UIDs from `uid` on (`UID SEARCH UID n:*`), without the classic trap: when no
    /// UID is that high, `n:*` still matches the last message, which is filtered out here.
    ///
    /// # Errors
    /// As [`ImapClient::uid_search`]; [`ImapError::InvalidArgument`] for UID 0.
    pub async fn uids_from(&mut self, uid: u32) -> Result<Vec<u32>> {
        let set = SequenceSet::from_onwards(uid).map_err(|e| ImapError::InvalidArgument {
            what: "UID",
            reason: e.to_string(),
        })?;
        let mut uids = self.uid_search(vec![SearchKey::Uid(set)]).await?;
        uids.retain(|&u| u >= uid);
        Ok(uids)
    }

    /// `UID STORE uids [+-]FLAGS.SILENT (flags)`, split under the line limit.
    ///
    /// # Errors
    /// Server refusals, connection errors.
    pub async fn uid_store_flags(
        &mut self,
        uids: &(impl UidSet + ?Sized),
        kind: StoreType,
        flags: &[Flag],
    ) -> Result<()> {
        self.require_selected("UID STORE")?;
        let Some(set) = uids.to_sequence_set()? else {
            return Ok(());
        };
        let make = |sequence_set| CommandBody::Store {
            sequence_set,
            kind,
            response: StoreResponse::Silent,
            flags: flags.to_vec(),
            unchanged_since: None,
            uid: true,
        };
        for part in self.split_set(&set, make) {
            let done = self.run(make(part)).await?;
            let done = self.check("UID STORE", done)?;
            self.absorb(done.data);
        }
        Ok(())
    }

    /// `UID EXPUNGE uids` (RFC 4315): removes those of the messages that are marked
    /// `\Deleted`, and no others.
    ///
    /// # Errors
    /// [`ImapError::NotSupported`] without `UIDPLUS`, server refusals, connection errors.
    pub async fn uid_expunge(&mut self, uids: &(impl UidSet + ?Sized)) -> Result<()> {
        self.require_selected("UID EXPUNGE")?;
        self.require_capability(&Capability::UidPlus, "UIDPLUS")?;
        let Some(set) = uids.to_sequence_set()? else {
            return Ok(());
        };
        let make = |uids| CommandBody::UidExpunge { uids };
        for part in self.split_set(&set, make) {
            let done = self.run(make(part)).await?;
            let done = self.check("UID EXPUNGE", done)?;
            self.absorb(done.data);
        }
        Ok(())
    }

    /// `EXPUNGE`: removes every message marked `\Deleted` in the mailbox.
    ///
    /// # Errors
    /// Server refusals, connection errors.
    pub async fn expunge(&mut self) -> Result<()> {
        self.require_selected("EXPUNGE")?;
        let done = self.run(CommandBody::Expunge).await?;
        let done = self.check("EXPUNGE", done)?;
        self.absorb(done.data);
        Ok(())
    }

    /// Moves messages to `mailbox` (UTF-8): `UID MOVE` when the server has MOVE, else
    /// `UID COPY`, `UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` (or, without
    /// UIDPLUS, a plain `EXPUNGE` only when no other message is marked `\Deleted`: see
    /// [`ImapClient::expunge_only`] and [`MoveOutcome::withheld`]). Long UID sets are split
    /// under the line limit.
    ///
    /// # Errors
    /// [`ImapError::No`] (with `[TRYCREATE]` when the destination does not exist), server
    /// refusals, connection errors. A failure after some parts were moved leaves those
    /// moved.
    pub async fn uid_move(
        &mut self,
        uids: &(impl UidSet + ?Sized),
        mailbox: &str,
    ) -> Result<MoveOutcome> {
        self.require_selected("UID MOVE")?;
        let used_move = self.has_capability(&Capability::Move);
        let used_uid_expunge = used_move || self.has_capability(&Capability::UidPlus);
        let mut outcome = MoveOutcome {
            used_move,
            used_uid_expunge,
            copyuid: None,
            withheld: Vec::new(),
        };
        let Some(set) = uids.to_sequence_set()? else {
            return Ok(outcome);
        };
        let destination = Mailbox::from_utf8(mailbox);
        let make = |sequence_set| {
            if used_move {
                CommandBody::Move {
                    sequence_set,
                    mailbox: destination.clone(),
                    uid: true,
                }
            } else {
                CommandBody::Copy {
                    sequence_set,
                    mailbox: destination.clone(),
                    uid: true,
                }
            }
        };
        let command = if used_move { "UID MOVE" } else { "UID COPY" };
        let parts = self.split_set(&set, make);
        for part in &parts {
            let done = self.run(make(part.clone())).await?;
            let done = self.check(command, done)?;
            let mut found = copyuid_of(done.status.code.as_ref());
            let rest = self.take_data(done, |r| match r {
                Response::Status(Status::Untagged(body))
                    if matches!(body.code, Some(Code::CopyUid { .. })) =>
                {
                    found = copyuid_of(body.code.as_ref()).or(found.take());
                    None
                }
                other => Some(other),
            });
            self.absorb(rest);
            if let Some(found) = found {
                match &mut outcome.copyuid {
                    None => outcome.copyuid = Some(found),
                    Some(all) if all.uid_validity == found.uid_validity => {
                        all.pairs.extend(found.pairs);
                    }
                    Some(_) => {}
                }
            }
            if !used_move {
                self.uid_store_flags(part, StoreType::Add, &[Flag::Deleted])
                    .await?;
                if used_uid_expunge {
                    self.uid_expunge(part).await?;
                }
            }
        }
        if !used_move && !used_uid_expunge {
            tracing::debug!("no UIDPLUS: plain EXPUNGE after COPY, unless others are \\Deleted");
            if let super::ExpungeOutcome::Withheld { others } = self.expunge_only(&set).await? {
                outcome.withheld = others;
            }
        }
        Ok(outcome)
    }

    /// `NOOP`: lets the server report changes; returns every unsolicited response queued
    /// so far, this NOOP's included.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn noop(&mut self) -> Result<Vec<Unsolicited>> {
        let done = self.run(CommandBody::Noop).await?;
        let done = self.check("NOOP", done)?;
        self.absorb(done.data);
        Ok(self.take_unsolicited())
    }

    /// `LOGOUT`, within the logout timeout, then closes the connection. The session ends
    /// whatever happens; an error only reports that the server did not answer properly.
    ///
    /// # Errors
    /// Timeouts and connection errors while logging out.
    pub async fn logout(mut self) -> Result<()> {
        if self.state == State::Unusable {
            self.transport.shutdown().await;
            return Ok(());
        }
        self.transport.set_timeout(self.timeouts.logout);
        let result = match self.run(CommandBody::Logout).await {
            Ok(_) => Ok(()),
            // The server said BYE and closed without the tagged OK: fine.
            Err(ImapError::Bye { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        };
        self.state = State::Unusable;
        self.transport.shutdown().await;
        result
    }

    /// Splits a command's untagged data: `f` returns what it did not use.
    pub(super) fn take_data(
        &mut self,
        done: Completed,
        mut f: impl FnMut(Response) -> Option<Response>,
    ) -> Vec<Response> {
        done.data.into_iter().filter_map(&mut f).collect()
    }
}

fn encoded_len(body: CommandBody) -> usize {
    use inbound_imap_codec::LiteralSupport;
    use inbound_imap_codec::types::{Command, Tag};
    match Tag::try_from("A") {
        Ok(tag) => Command::new(tag, body)
            .encode(LiteralSupport::LiteralPlus)
            .to_vec()
            .len(),
        Err(_) => 0,
    }
}

fn copyuid_of(code: Option<&Code>) -> Option<CopyUid> {
    let Some(Code::CopyUid {
        uid_validity,
        source,
        destination,
    }) = code
    else {
        return None;
    };
    const LIMIT: usize = 1_000_000;
    let source = source.to_vec(0, LIMIT)?;
    let destination = destination.to_vec(0, LIMIT)?;
    if source.len() != destination.len() {
        tracing::debug!("COPYUID with sets of different sizes; ignored");
        return None;
    }
    Some(CopyUid {
        uid_validity: *uid_validity,
        pairs: source.into_iter().zip(destination).collect(),
    })
}
