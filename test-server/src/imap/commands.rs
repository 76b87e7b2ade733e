//! The mailbox and message commands of an authenticated session.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inbound_imap_codec::types::{
    Code, CommandBody, Data, ESearch, ESearchItem, FetchAttribute, Flag as WireFlag, FlagPerm,
    ListItem, ListMailbox, Mailbox, MailboxAttribute, MessageDataItem, SearchKey,
    SearchReturnOption, SeqOrUid, Sequence, SequenceSet, StatusAttribute, StatusItem, StatusKind,
    StoreResponse, StoreType, Tag,
};

use super::fetch::{self, ItemError, StructureQuirks};
use super::search::{self, SearchContext};
use super::session::{End, Res, Session, named_code};
use crate::faults::DropPoint;
use crate::mailstore::{DELIMITER, Flag, FlagOp, FlagSet, StoreError};

/// Flush the output buffer during a long FETCH once it holds this much.
const FLUSH_AT: usize = 1 << 20;

/// Special-use attributes by folder name, as clients guess them.
fn special_use(name: &str) -> Option<MailboxAttribute> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sent" | "sent items" | "sent messages" => MailboxAttribute::Sent,
        "trash" | "deleted items" | "deleted messages" => MailboxAttribute::Trash,
        "drafts" => MailboxAttribute::Drafts,
        "junk" | "spam" | "junk email" => MailboxAttribute::Junk,
        "archive" => MailboxAttribute::Archive,
        _ => return None,
    })
}

/// LIST pattern matching (`*` anything, `%` anything but the delimiter), in O(n*m).
fn list_match(pattern: &[char], name: &[char]) -> bool {
    let mut row = vec![false; name.len() + 1];
    row[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        if p == '*' || p == '%' {
            let mut reach = false;
            for j in 0..=name.len() {
                reach |= row[j];
                next[j] = reach;
                if p == '%' && j < name.len() && name[j] == DELIMITER {
                    reach = false;
                }
            }
        } else {
            for j in 0..name.len() {
                if row[j] && name[j] == p {
                    next[j + 1] = true;
                }
            }
        }
        row = next;
    }
    row[name.len()]
}

fn utf8_name(mailbox: &Mailbox) -> Option<String> {
    match mailbox {
        Mailbox::Inbox => Some("INBOX".to_owned()),
        other => other.to_utf8().ok(),
    }
}

fn store_error_code(e: &StoreError) -> Option<Code> {
    match e {
        StoreError::NoSuchFolder(_) => Some(named_code("NONEXISTENT")),
        StoreError::FolderExists(_) => Some(named_code("ALREADYEXISTS")),
        StoreError::ReadOnly => Some(Code::ReadOnly),
        _ => None,
    }
}

fn to_flag_set(flags: &[WireFlag]) -> FlagSet {
    flags.iter().filter_map(fetch::store_flag).collect()
}

fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    SequenceSet::from_uids(uids.iter().copied())
}

/// A sequence set in the order given (COPYUID destination UIDs keep source order).
fn ordered_set(uids: &[u32]) -> Option<SequenceSet> {
    let elements: Vec<Sequence> = uids
        .iter()
        .filter_map(|&u| NonZeroU32::new(u))
        .map(|u| Sequence::Single(SeqOrUid::Value(u)))
        .collect();
    SequenceSet::new(elements).ok()
}

impl Session {
    fn user_name(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    /// `(seq, uid)` of the messages a set names, in sequence order; `Err` for sequence
    /// numbers beyond the view.
    fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<(u32, u32)>, ()> {
        let Some(view) = &self.view else {
            return Ok(Vec::new());
        };
        let uids = view.uids();
        if uid {
            let max = uids.last().copied().unwrap_or(0);
            return Ok(uids
                .iter()
                .enumerate()
                .filter(|(_, u)| search::set_contains(set, **u, max))
                .map(|(i, u)| (i as u32 + 1, *u))
                .collect());
        }
        let len = view.len();
        let too_big = set.elements().iter().any(|e| {
            let over = |s: &SeqOrUid| match s {
                SeqOrUid::Value(v) => v.get() > len,
                SeqOrUid::Asterisk => len == 0,
            };
            match e {
                Sequence::Single(a) => over(a),
                Sequence::Range(a, b) => over(a) || over(b),
            }
        });
        if too_big {
            return Err(());
        }
        Ok(uids
            .iter()
            .enumerate()
            .filter(|(i, _)| search::set_contains(set, *i as u32 + 1, len))
            .map(|(i, u)| (i as u32 + 1, *u))
            .collect())
    }

    pub(super) async fn mail_command(&mut self, tag: Tag, body: CommandBody) -> Res<()> {
        use CommandBody as C;
        let user = self.user_name();
        let store = self.ctx.store.clone();
        match body {
            C::Select { mailbox, .. } => self.select(&tag, &mailbox, false),
            C::Examine { mailbox, .. } => self.select(&tag, &mailbox, true),
            C::Create { mailbox } => {
                let result = match utf8_name(&mailbox) {
                    Some(n) if n.eq_ignore_ascii_case("INBOX") => Err(StoreError::FolderExists(n)),
                    Some(n) => store.create_folder(&user, n.trim_end_matches(DELIMITER)),
                    None => Err(StoreError::InvalidFolderName(String::new())),
                };
                self.finish(&tag, result, "Create completed.");
            }
            C::Delete { mailbox } => {
                let result = utf8_name(&mailbox)
                    .ok_or(StoreError::InvalidFolderName(String::new()))
                    .and_then(|n| store.delete_folder(&user, &n));
                self.finish(&tag, result, "Delete completed.");
            }
            C::Rename { from, to } => {
                let result = match (utf8_name(&from), utf8_name(&to)) {
                    (Some(f), Some(t)) => store.rename_folder(&user, &f, &t),
                    _ => Err(StoreError::InvalidFolderName(String::new())),
                };
                self.finish(&tag, result, "Rename completed.");
            }
            C::Subscribe { mailbox } => {
                let result = utf8_name(&mailbox)
                    .ok_or(StoreError::InvalidFolderName(String::new()))
                    .and_then(|n| store.set_subscribed(&user, &n, true));
                self.finish(&tag, result, "Subscribe completed.");
            }
            C::Unsubscribe { mailbox } => {
                let result = utf8_name(&mailbox)
                    .ok_or(StoreError::InvalidFolderName(String::new()))
                    .and_then(|n| store.set_subscribed(&user, &n, false));
                self.finish(&tag, result, "Unsubscribe completed.");
            }
            C::List { reference, pattern } => self.list(&tag, &reference, &pattern, false),
            C::Lsub { reference, pattern } => self.list(&tag, &reference, &pattern, true),
            C::Status {
                mailbox,
                attributes,
            } => self.status(&tag, &mailbox, &attributes),
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let when = date.map_or_else(SystemTime::now, |d| {
                    u64::try_from(d.unix_timestamp())
                        .map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
                });
                if message.as_bytes().is_empty() {
                    self.no(&tag, None, "Can't save a zero byte message.");
                } else {
                    let result = utf8_name(&mailbox)
                        .ok_or(StoreError::InvalidFolderName(String::new()))
                        .and_then(|n| {
                            store.append(&user, &n, message.to_bytes(), to_flag_set(&flags), when)
                        });
                    match result {
                        Ok((uid_validity, uid)) => {
                            self.report_events(true)?;
                            let code = uid_set(&[uid])
                                .filter(|_| self.uidplus())
                                .map(|uids| Code::AppendUid { uid_validity, uids });
                            self.ok(&tag, code, "Append completed.");
                        }
                        Err(StoreError::NoSuchFolder(_)) => {
                            self.no(&tag, Some(Code::TryCreate), "Mailbox doesn't exist.");
                        }
                        Err(e) => self.no(&tag, store_error_code(&e), &e.to_string()),
                    }
                }
            }
            C::Close => {
                if let Some(mut view) = self.view.take()
                    && !view.is_read_only()
                {
                    let _ = view.expunge(None);
                }
                self.ok(&tag, None, "Close completed.");
            }
            C::Unselect => {
                self.view = None;
                self.ok(&tag, None, "Unselect completed.");
            }
            C::Expunge => return self.expunge(&tag, None).await,
            C::UidExpunge { uids } => {
                let targets = self.resolve(&uids, true).unwrap_or_default();
                let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
                return self.expunge(&tag, Some(uids)).await;
            }
            C::Search {
                return_options,
                charset,
                criteria,
                uid,
            } => {
                let charset_ok = charset.as_ref().is_none_or(|c| {
                    c.eq_ignore_ascii_case("UTF-8") || c.eq_ignore_ascii_case("US-ASCII")
                });
                if charset_ok {
                    self.search(&tag, return_options, &criteria, uid)?;
                } else {
                    self.no(
                        &tag,
                        Some(Code::BadCharset(vec!["US-ASCII".into(), "UTF-8".into()])),
                        "Unsupported charset.",
                    );
                }
            }
            C::Fetch {
                sequence_set,
                items,
                uid,
                ..
            } => {
                return self
                    .fetch(&tag, &sequence_set, &fetch::expand(&items), uid)
                    .await;
            }
            C::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                ..
            } => self.store(&tag, &sequence_set, kind, response, &flags, uid)?,
            C::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(&tag, &sequence_set, &mailbox, uid)?,
            C::Move {
                sequence_set,
                mailbox,
                uid,
            } => return self.move_messages(&tag, &sequence_set, &mailbox, uid).await,
            other => {
                self.bad(&tag, &format!("{} is not supported.", other.name()));
            }
        }
        Ok(self.wire.flush().await?)
    }

    fn finish(&mut self, tag: &Tag, result: Result<(), StoreError>, done: &str) {
        match result {
            Ok(()) => self.ok(tag, None, done),
            Err(e) => self.no(tag, store_error_code(&e), &e.to_string()),
        }
    }

    fn select(&mut self, tag: &Tag, mailbox: &Mailbox, read_only: bool) {
        self.view = None;
        let user = self.user_name();
        let result = match utf8_name(mailbox) {
            Some(name) if read_only => self.ctx.store.examine(&user, &name),
            Some(name) => self.ctx.store.select(&user, &name),
            None => Err(StoreError::InvalidFolderName(String::new())),
        };
        let view = match result {
            Ok(v) => v,
            Err(e) => {
                self.no(tag, store_error_code(&e), &e.to_string());
                return;
            }
        };
        let info = view.info().clone();
        let mut flags = vec![
            WireFlag::Answered,
            WireFlag::Flagged,
            WireFlag::Deleted,
            WireFlag::Seen,
            WireFlag::Draft,
        ];
        flags.extend(
            info.keywords
                .iter()
                .filter_map(|k| fetch::wire_flag(&Flag::Keyword(k.clone()))),
        );
        self.data(Data::Flags(flags.clone()));
        let permanent = if read_only {
            Vec::new()
        } else {
            let mut p: Vec<FlagPerm> = flags.into_iter().map(FlagPerm::Flag).collect();
            p.push(FlagPerm::Asterisk);
            p
        };
        self.untagged(
            StatusKind::Ok,
            Some(Code::PermanentFlags(permanent)),
            "Flags permitted.",
        );
        self.data(Data::Exists(info.exists));
        self.data(Data::Recent(0));
        if let Some(first) = info.first_unseen {
            self.untagged(StatusKind::Ok, Some(Code::Unseen(first)), "First unseen.");
        }
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidValidity(info.uid_validity)),
            "UIDs valid",
        );
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidNext(info.uid_next)),
            "Predicted next UID",
        );
        if self.faults.quirks.gmail_modseq_no_text {
            self.untagged(
                StatusKind::Ok,
                Some(Code::HighestModSeq(info.highest_modseq)),
                "",
            );
        }
        self.view = Some(view);
        let (code, done) = if read_only {
            (Code::ReadOnly, "Examine completed.")
        } else {
            (Code::ReadWrite, "Select completed.")
        };
        self.ok(tag, Some(code), done);
    }

    fn list(&mut self, tag: &Tag, reference: &Mailbox, pattern: &ListMailbox, lsub: bool) {
        let user = self.user_name();
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            other => other.to_utf8().unwrap_or_default(),
        };
        let pattern = inbound_imap_codec::types::decode_utf7(pattern.as_bytes())
            .unwrap_or_else(|_| String::from_utf8_lossy(pattern.as_bytes()).into_owned());
        if pattern.is_empty() && !lsub {
            self.data(Data::List(ListItem {
                attributes: vec![MailboxAttribute::NoSelect],
                delimiter: Some(DELIMITER),
                mailbox: Mailbox::from_utf8(""),
            }));
            self.ok(tag, None, "List completed.");
            return;
        }
        let full: Vec<char> = format!("{reference}{pattern}").chars().collect();
        let folders = self.ctx.store.folders(&user).unwrap_or_default();
        let names = if lsub {
            self.ctx.store.subscriptions(&user).unwrap_or_default()
        } else {
            folders.clone()
        };
        for name in names {
            let chars: Vec<char> = name.chars().collect();
            let matched = if name == "INBOX" {
                let upper: Vec<char> = full.iter().map(char::to_ascii_uppercase).collect();
                list_match(&upper, &chars)
            } else {
                list_match(&full, &chars)
            };
            if !matched {
                continue;
            }
            let prefix = format!("{name}{DELIMITER}");
            let mut attributes = Vec::new();
            if !lsub {
                attributes.push(if folders.iter().any(|f| f.starts_with(&prefix)) {
                    MailboxAttribute::HasChildren
                } else {
                    MailboxAttribute::HasNoChildren
                });
                attributes.extend(special_use(&name));
            }
            let item = ListItem {
                attributes,
                delimiter: Some(DELIMITER),
                mailbox: Mailbox::from_utf8(&name),
            };
            self.data(if lsub {
                Data::Lsub(item)
            } else {
                Data::List(item)
            });
        }
        self.ok(
            tag,
            None,
            if lsub {
                "Lsub completed."
            } else {
                "List completed."
            },
        );
    }

    fn status(&mut self, tag: &Tag, mailbox: &Mailbox, attributes: &[StatusAttribute]) {
        let user = self.user_name();
        let Some(name) = utf8_name(mailbox) else {
            self.no(tag, None, "Invalid mailbox name.");
            return;
        };
        let status = match self.ctx.store.status(&user, &name) {
            Ok(s) => s,
            Err(e) => {
                self.no(tag, store_error_code(&e), &e.to_string());
                return;
            }
        };
        let items = attributes
            .iter()
            .map(|a| match a {
                StatusAttribute::Messages => StatusItem::Messages(status.messages),
                StatusAttribute::Recent => StatusItem::Recent(0),
                StatusAttribute::UidNext => StatusItem::UidNext(status.uid_next),
                StatusAttribute::UidValidity => StatusItem::UidValidity(status.uid_validity),
                StatusAttribute::Unseen => StatusItem::Unseen(status.unseen),
                StatusAttribute::Deleted => StatusItem::Deleted(
                    self.ctx
                        .store
                        .messages(&user, &name)
                        .map(|m| {
                            m.iter()
                                .filter(|m| m.flags.contains(&Flag::Deleted))
                                .count()
                        })
                        .unwrap_or(0) as u32,
                ),
                StatusAttribute::Size => StatusItem::Size(status.size),
                StatusAttribute::HighestModSeq => StatusItem::HighestModSeq(status.highest_modseq),
            })
            .collect();
        self.data(Data::Status {
            mailbox: mailbox.clone(),
            items,
        });
        self.ok(tag, None, "Status completed.");
    }

    async fn expunge(&mut self, tag: &Tag, only: Option<Vec<u32>>) -> Res<()> {
        let Some(view) = self.view.as_mut() else {
            return Ok(());
        };
        match view.expunge(only.as_deref()) {
            Ok(seqs) => {
                for seq in seqs.into_iter().filter_map(NonZeroU32::new) {
                    self.data(Data::Expunge(seq));
                }
                if self.drop_at(DropPoint::BeforeMoveOrExpungeOk) {
                    self.wire.flush().await?;
                    return self.drop_now("before the OK of EXPUNGE").await;
                }
                self.report_events(true)?;
                self.ok(tag, None, "Expunge completed.");
            }
            Err(e) => self.no(tag, store_error_code(&e), &e.to_string()),
        }
        Ok(self.wire.flush().await?)
    }

    fn search(
        &mut self,
        tag: &Tag,
        return_options: Option<Vec<SearchReturnOption>>,
        criteria: &[SearchKey],
        uid: bool,
    ) -> Res<()> {
        let mut hits = Vec::new();
        if let Some(view) = &self.view {
            let uids = view.uids();
            let ctx_base = (view.len(), uids.last().copied().unwrap_or(0));
            for (i, &u) in uids.iter().enumerate() {
                let Some(message) = view.message_by_uid(u) else {
                    continue;
                };
                let ctx = SearchContext {
                    seq: i as u32 + 1,
                    max_seq: ctx_base.0,
                    max_uid: ctx_base.1,
                };
                if criteria.iter().all(|k| search::matches(&message, k, &ctx)) {
                    hits.push(if uid { u } else { i as u32 + 1 });
                }
            }
        }
        match return_options {
            None => self.data(Data::Search {
                ids: hits.iter().filter_map(|&n| NonZeroU32::new(n)).collect(),
                modseq: None,
            }),
            Some(mut options) => {
                if options.is_empty() {
                    options.push(SearchReturnOption::All);
                }
                let mut items = Vec::new();
                for option in [
                    SearchReturnOption::Min,
                    SearchReturnOption::Max,
                    SearchReturnOption::All,
                    SearchReturnOption::Count,
                ] {
                    if !options.contains(&option) {
                        continue;
                    }
                    match option {
                        SearchReturnOption::Min => {
                            items.extend(hits.first().map(|&n| ESearchItem::Min(n)));
                        }
                        SearchReturnOption::Max => {
                            items.extend(hits.last().map(|&n| ESearchItem::Max(n)));
                        }
                        SearchReturnOption::All => {
                            items.extend(
                                SequenceSet::from_uids(hits.iter().copied()).map(ESearchItem::All),
                            );
                        }
                        SearchReturnOption::Count => {
                            items.push(ESearchItem::Count(hits.len() as u32));
                        }
                    }
                }
                self.data(Data::ESearch(ESearch {
                    tag: Some(tag.clone()),
                    uid,
                    items,
                }));
            }
        }
        self.report_events(false)?;
        self.ok(tag, None, "Search completed.");
        Ok(())
    }

    async fn fetch(
        &mut self,
        tag: &Tag,
        set: &SequenceSet,
        items: &[FetchAttribute],
        uid: bool,
    ) -> Res<()> {
        let Ok(targets) = self.resolve(set, uid) else {
            self.bad(tag, "Error in IMAP command FETCH: Invalid messageset.");
            return Ok(self.wire.flush().await?);
        };
        let quirks = StructureQuirks {
            negative_lines: self.faults.quirks.negative_body_lines,
            nil_boundary: self.faults.quirks.nil_boundary_param,
        };
        let read_only = self.view.as_ref().is_none_or(|v| v.is_read_only());
        let mark_seen = fetch::sets_seen(items) && !read_only;
        let mut missing = false;
        let mut refused = false;
        for (seq, u) in targets {
            let Some(view) = self.view.as_mut() else {
                break;
            };
            let Some(message) = view.message_by_uid(u) else {
                missing = true;
                continue;
            };
            let mut flags = message.flags.clone();
            let mut flags_changed = false;
            if mark_seen && !flags.contains(&Flag::Seen) {
                let seen: FlagSet = [Flag::Seen].into_iter().collect();
                if let Ok(updates) = view.store_flags(&[u], FlagOp::Add, &seen)
                    && let Some(update) = updates.into_iter().next()
                {
                    flags = update.flags;
                    flags_changed = true;
                }
            }
            let mut answer = match fetch::message_items(&message, &flags, items, uid, quirks) {
                Ok(a) => a,
                Err(ItemError::UnknownCte) => {
                    self.no(
                        tag,
                        Some(named_code("UNKNOWN-CTE")),
                        "Unknown transfer encoding.",
                    );
                    return Ok(self.wire.flush().await?);
                }
            };
            if flags_changed && !items.contains(&FetchAttribute::Flags) {
                answer.push(MessageDataItem::Flags(fetch::wire_flags(&flags)));
            }
            if let Some(kind) = self.faults.message_fault(u) {
                match fetch::apply_fault(&mut answer, kind) {
                    fetch::FaultEffect::Send => {}
                    fetch::FaultEffect::LeftOut => continue,
                    fetch::FaultEffect::Refused => {
                        refused = true;
                        continue;
                    }
                    fetch::FaultEffect::Garbled => {
                        let raw = &message.raw;
                        let head = format!("* {seq} FETCH (UID {u} BODY[] {{{}}}\r\n", raw.len());
                        self.wire.push_raw(head.as_bytes());
                        self.wire.push_raw(raw);
                        self.wire.push_raw(b" GARBLED!)\r\n");
                        continue;
                    }
                }
            }
            let Some(seq) = NonZeroU32::new(seq) else {
                continue;
            };
            self.data(Data::Fetch { seq, items: answer });
            if self.drop_at(DropPoint::MidFetchLiteral) && self.wire.flush_half_literal().await? {
                self.wire.abort();
                return Err(End::Fault("in the middle of a FETCH literal"));
            }
            if self.wire_pending() >= FLUSH_AT {
                self.wire.flush().await?;
            }
        }
        self.report_events(false)?;
        self.fetched = true;
        if refused {
            self.no(tag, None, "Some messages could not be FETCHed.");
        } else if missing {
            self.no(
                tag,
                Some(named_code("EXPUNGEISSUED")),
                "Some of the requested messages no longer exist.",
            );
        } else {
            self.ok(tag, None, "Fetch completed.");
        }
        Ok(self.wire.flush().await?)
    }

    fn wire_pending(&self) -> usize {
        self.wire.pending()
    }

    fn store(
        &mut self,
        tag: &Tag,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[WireFlag],
        uid: bool,
    ) -> Res<()> {
        let Ok(targets) = self.resolve(set, uid) else {
            self.bad(tag, "Error in IMAP command STORE: Invalid messageset.");
            return Ok(());
        };
        let op = match kind {
            StoreType::Replace => FlagOp::Replace,
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let Some(view) = self.view.as_mut() else {
            return Ok(());
        };
        match view.store_flags(&uids, op, &to_flag_set(flags)) {
            Ok(updates) => {
                if response == StoreResponse::Answer {
                    for update in updates {
                        let (Some(seq), Some(u)) =
                            (NonZeroU32::new(update.seq), NonZeroU32::new(update.uid))
                        else {
                            continue;
                        };
                        let mut items =
                            vec![MessageDataItem::Flags(fetch::wire_flags(&update.flags))];
                        if uid {
                            items.push(MessageDataItem::Uid(u));
                        }
                        self.data(Data::Fetch { seq, items });
                    }
                }
                self.report_events(false)?;
                self.ok(tag, None, "Store completed.");
            }
            Err(e) => self.no(tag, store_error_code(&e), &e.to_string()),
        }
        Ok(())
    }

    fn copy(&mut self, tag: &Tag, set: &SequenceSet, mailbox: &Mailbox, uid: bool) -> Res<()> {
        let Ok(targets) = self.resolve(set, uid) else {
            self.bad(tag, "Error in IMAP command COPY: Invalid messageset.");
            return Ok(());
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let Some(dest) = utf8_name(mailbox) else {
            self.no(tag, None, "Invalid mailbox name.");
            return Ok(());
        };
        let Some(view) = self.view.as_ref() else {
            return Ok(());
        };
        match view.copy(&uids, &dest) {
            Ok(result) => {
                let src: Vec<u32> = result.uids.iter().map(|p| p.0).collect();
                let dst: Vec<u32> = result.uids.iter().map(|p| p.1).collect();
                let code = match (ordered_set(&src), ordered_set(&dst)) {
                    (Some(source), Some(destination)) if self.uidplus() => Some(Code::CopyUid {
                        uid_validity: result.uid_validity,
                        source,
                        destination,
                    }),
                    _ => None,
                };
                self.report_events(true)?;
                self.ok(tag, code, "Copy completed.");
            }
            Err(StoreError::NoSuchFolder(_)) => {
                self.no(tag, Some(Code::TryCreate), "Mailbox doesn't exist.");
            }
            Err(e) => self.no(tag, store_error_code(&e), &e.to_string()),
        }
        Ok(())
    }

    async fn move_messages(
        &mut self,
        tag: &Tag,
        set: &SequenceSet,
        mailbox: &Mailbox,
        uid: bool,
    ) -> Res<()> {
        let Ok(targets) = self.resolve(set, uid) else {
            self.bad(tag, "Error in IMAP command MOVE: Invalid messageset.");
            return Ok(self.wire.flush().await?);
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let Some(dest) = utf8_name(mailbox) else {
            self.no(tag, None, "Invalid mailbox name.");
            return Ok(self.wire.flush().await?);
        };
        let Some(view) = self.view.as_mut() else {
            return Ok(());
        };
        match view.move_to(&uids, &dest) {
            Ok((result, seqs)) => {
                let src: Vec<u32> = result.uids.iter().map(|p| p.0).collect();
                let dst: Vec<u32> = result.uids.iter().map(|p| p.1).collect();
                if let (Some(source), Some(destination), true) =
                    (ordered_set(&src), ordered_set(&dst), self.uidplus())
                {
                    self.untagged(
                        StatusKind::Ok,
                        Some(Code::CopyUid {
                            uid_validity: result.uid_validity,
                            source,
                            destination,
                        }),
                        "Moved UIDs.",
                    );
                }
                for seq in seqs.into_iter().filter_map(NonZeroU32::new) {
                    self.data(Data::Expunge(seq));
                }
                if self.drop_at(DropPoint::BeforeMoveOrExpungeOk) {
                    self.wire.flush().await?;
                    return self.drop_now("before the OK of MOVE").await;
                }
                self.report_events(true)?;
                self.ok(tag, None, "Move completed.");
            }
            Err(StoreError::NoSuchFolder(_)) => {
                self.no(tag, Some(Code::TryCreate), "Mailbox doesn't exist.");
            }
            Err(e) => self.no(tag, store_error_code(&e), &e.to_string()),
        }
        Ok(self.wire.flush().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        list_match(
            &p.chars().collect::<Vec<_>>(),
            &n.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn list_patterns() {
        assert!(m("*", "INBOX"));
        assert!(m("*", "A/B/C"));
        assert!(m("%", "A"));
        assert!(!m("%", "A/B"));
        assert!(m("A/%", "A/B"));
        assert!(!m("A/%", "A/B/C"));
        assert!(m("A*", "A/B/C"));
        assert!(m("%/B", "A/B"));
        assert!(!m("B", "A"));
        assert!(m(
            "*%*%*%*%*%*%*%*%*%x",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaax"
        ));
    }
}
