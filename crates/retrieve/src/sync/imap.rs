//! The IMAP pipeline: finish leftover actions, select, find new UIDs, skip the too large,
//! fetch in batches, store each batch, then act on the server.
//!
//! # Bookkeeping
//! The store keeps, per account and folder, the UIDVALIDITY and the highest UID handled.
//! Messages are handled in ascending UID order, so after a crash everything up to the
//! recorded highest UID is stored (or deliberately passed over: too large, or older than a
//! `latest N` selection), and the next run resumes above it.
//!
//! UIDs asked for and not delivered whole (refused, left out of the answer, `BODY[] NIL`, a
//! partial body, a length other than RFC822.SIZE, an answer that could not be parsed) lie
//! below the highest UID once later ones are stored: the store's retry set keeps them
//! (recorded before each batch is fetched, removed when stored), every run asks for them
//! again, and [`Report::not_delivered`](crate::Report::not_delivered) lists them. They are
//! never deleted or moved: they are not stored.
//!
//! # UIDVALIDITY changes
//! When the folder's UIDVALIDITY differs from the recorded one, stored UIDs no longer name
//! the same messages. The run then resets the folder state (pending actions on the old UIDs
//! are abandoned, never applied to whatever message now has that UID) and re-scans the whole
//! folder. Every downloaded message is compared by content (SHA-256 of the raw bytes) with
//! the messages stored from this folder under an older UIDVALIDITY: a match is not stored
//! twice. The after-receive action is applied to it (it is stored), without a pending record:
//! if the connection drops before that, the message stays on the server, which is safe.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;

use inbound_store::{ImapFolderState, MessageId, Pending, PendingAction, ServerRef};

use crate::account::FetchPolicy;
use crate::backend::{BackendError, ErrorKind, ImapSession, RemoteMessage, SIZE_CHUNK};
use crate::pipeline::{Fetched, Pipeline, Stored, Unit};
use crate::sync::run::{FLUSH_BYTES, Run, RunError};

/// One full IMAP run on a logged-in session. The steps, each below: finish actions an
/// earlier run left pending, select the folder (and notice a UIDVALIDITY change), pick the
/// UIDs to fetch, check their sizes, fetch and store them in batches acting on the server
/// after each stored unit, then record how far the folder is handled.
pub(crate) async fn sync<S: ImapSession>(s: &mut S, run: &mut Run<'_>) -> Result<(), RunError> {
    recover_pending(s, run).await?;
    let (uidvalidity, highest) = select_folder(s, run).await?;
    let Some(selection) = select_uids(s, run, uidvalidity, highest).await? else {
        return Ok(());
    };
    let (to_fetch, sizes) = check_sizes(s, run, uidvalidity, &selection).await?;

    // Content duplicates can only be messages stored under an older UIDVALIDITY: look for
    // them only when the folder holds such messages (a UIDVALIDITY change, now or in a run
    // that stopped half-way).
    let account = run.account;
    let rescan =
        run.with_store(|st| st.has_other_uidvalidity(&account.name, &account.folder, uidvalidity))?;
    let action = account.pending_action();
    let mut pipeline = Pipeline::default();
    for batch in to_fetch.chunks(account.batch_size as usize) {
        let fetch = FetchBatch {
            uidvalidity,
            rescan,
            action: action.as_ref(),
            sizes: &sizes,
        };
        fetch_batch(s, run, &mut pipeline, &fetch, batch).await?;
    }
    if let Some(stored) = pipeline.finish(run)? {
        act(s, run, &mut pipeline, stored, action.as_ref()).await?;
    }
    // Pass over what was skipped or vanished at the end of the selection, and (for `latest`)
    // everything older than it. What was asked for and not delivered is in the retry set.
    if let Some(top) = selection.top {
        advance_highest(run, uidvalidity, top)?;
    }
    Ok(())
}

/// Selects the account's folder; returns its UIDVALIDITY and the highest UID handled
/// under it (0 when the folder is new to the store, or its UIDVALIDITY changed: then the
/// folder's state is reset and it is re-scanned).
async fn select_folder<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
) -> Result<(u32, u32), RunError> {
    let account = run.account;
    let folder = account.folder.as_str();
    let status = s.select(folder).await?;
    let uidvalidity = status.uidvalidity;
    run.report.uidvalidity = Some(uidvalidity);

    let state = run.with_store(|st| st.imap_state(&account.name, folder))?;
    let highest = match state {
        Some(state) if state.uidvalidity == uidvalidity => state.highest_uid,
        Some(state) => {
            tracing::warn!(
                account = %account.name, folder, old = state.uidvalidity, new = uidvalidity,
                "UIDVALIDITY changed: re-scanning the folder"
            );
            let abandoned =
                run.with_store(|st| st.reset_imap_state(&account.name, folder, uidvalidity))?;
            run.report.uidvalidity_changed = true;
            if abandoned > 0 {
                run.note_error(format!(
                    "UIDVALIDITY of {folder} changed from {} to {uidvalidity}: {abandoned} pending \
                     server action(s) abandoned (their UIDs no longer name those messages)",
                    state.uidvalidity
                ));
            }
            0
        }
        None => {
            run.with_store(|st| {
                st.set_imap_state(
                    &account.name,
                    folder,
                    ImapFolderState {
                        uidvalidity,
                        highest_uid: 0,
                    },
                )
            })?;
            0
        }
    };
    Ok((uidvalidity, highest))
}

/// The UIDs one run asks for.
struct Selection {
    /// In ascending order: the retry set and the policy's pick of the new UIDs.
    asked: Vec<u32>,
    /// UIDs earlier runs asked for and did not get whole, ascending.
    retry: Vec<u32>,
    /// The highest UID the policy picked: handled up to here once the run is done.
    top: Option<u32>,
}

/// The new UIDs above `highest` the policy picks, with the retry set (UIDs earlier runs
/// asked for and did not get whole: below the highest UID, so only the retry set names
/// them); `None` when there is nothing to ask for.
async fn select_uids<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    uidvalidity: u32,
    highest: u32,
) -> Result<Option<Selection>, RunError> {
    let account = run.account;
    let retry: Vec<u32> = run
        .with_store(|st| st.imap_retry(&account.name, &account.folder, uidvalidity))?
        .into_iter()
        .map(|r| r.uid)
        .collect();

    let mut uids = s.uid_search(highest.saturating_add(1)).await?;
    uids.retain(|&u| u > highest);
    uids.sort_unstable();
    uids.dedup();
    let selected: &[u32] = match account.fetch {
        FetchPolicy::All => &uids,
        FetchPolicy::Latest(n) => &uids[uids.len().saturating_sub(n as usize)..],
        FetchPolicy::Oldest(n) => &uids[..uids.len().min(n as usize)],
    };
    let top = selected.last().copied();
    let mut asked: Vec<u32> = retry.iter().chain(selected).copied().collect();
    asked.sort_unstable();
    asked.dedup();
    if asked.is_empty() {
        return Ok(None);
    }
    Ok(Some(Selection { asked, retry, top }))
}

/// Asks for the RFC822.SIZE of every UID asked for; returns the UIDs to fetch and their
/// announced sizes. Those over the size limit are skipped (reported), and retry UIDs that
/// are gone or now too large leave the retry set.
async fn check_sizes<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    uidvalidity: u32,
    selection: &Selection,
) -> Result<(Vec<u32>, HashMap<u32, u64>), RunError> {
    let account = run.account;
    let asked = &selection.asked;
    let wanted: HashSet<u32> = asked.iter().copied().collect();
    let mut sizes: HashMap<u32, u64> = HashMap::with_capacity(asked.len());
    for chunk in asked.chunks(SIZE_CHUNK) {
        for ms in s.fetch_sizes(chunk).await? {
            if wanted.contains(&ms.uid) {
                sizes.insert(ms.uid, ms.size);
            }
        }
    }
    let mut to_fetch: Vec<u32> = Vec::with_capacity(sizes.len());
    let mut too_large = Vec::new();
    // Retry UIDs that no longer exist, and those now passed over: no retry any more.
    let mut settled: Vec<u32> = Vec::new();
    for &uid in asked {
        match sizes.get(&uid) {
            // Gone since the search (or, for a retry, expunged since the last run).
            None => settled.push(uid),
            Some(&size) if run.too_large(size) => {
                too_large.push((uid, size));
                settled.push(uid);
            }
            Some(&size) => {
                to_fetch.push(uid);
                // Sizes are the server's claims: a sum of them saturates.
                run.progress.bytes_total = run.progress.bytes_total.saturating_add(size);
            }
        }
    }
    settled.retain(|uid| selection.retry.binary_search(uid).is_ok());
    run.with_store(|st| {
        st.forget_imap_uids(&account.name, &account.folder, uidvalidity, &settled)
    })?;
    run.progress.messages_total += (to_fetch.len() + too_large.len()) as u64;
    run.events.on_progress(&run.progress);
    for (uid, size) in too_large {
        run.skip(format!("uid:{uid}"), size);
    }
    Ok((to_fetch, sizes))
}

/// Why a fetched message is not a delivered one, if it is not: an empty body (`BODY[]
/// NIL`, or nothing) or one whose length is not the RFC822.SIZE the server announced.
fn undelivered_reason(body_len: u64, announced: Option<u64>) -> Option<String> {
    if body_len == 0 {
        return Some("the server sent an empty body (BODY[] NIL or zero octets)".to_owned());
    }
    match announced {
        Some(size) if size != body_len => Some(format!(
            "the server sent {body_len} octets for a message whose RFC822.SIZE is {size}"
        )),
        _ => None,
    }
}

/// What every batch of one folder's fetch shares.
struct FetchBatch<'a> {
    uidvalidity: u32,
    /// Look for each message among those stored under an older UIDVALIDITY.
    rescan: bool,
    action: Option<&'a PendingAction>,
    /// RFC822.SIZE of each UID, as the server announced it before the fetch.
    sizes: &'a HashMap<u32, u64>,
}

/// Fetches one batch and hands it to the pipeline; acts on the server on every unit the
/// pipeline stored meanwhile (the previous batch's last unit, and this batch's units beyond
/// [`FLUSH_BYTES`]).
async fn fetch_batch<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    pipeline: &mut Pipeline,
    fetch: &FetchBatch<'_>,
    uids: &[u32],
) -> Result<(), RunError> {
    let account = run.account;
    // Every UID of the batch is in the retry set until its message is stored (in the same
    // transaction): a crash, a refusal or a message left out can never leave a UID below
    // the highest stored one without a record.
    run.with_store(|st| {
        st.expect_imap_uids(&account.name, &account.folder, fetch.uidvalidity, uids)
    })?;
    let mut intake = Intake {
        wanted: uids.iter().copied().collect(),
        unit: Unit::default(),
        done: Vec::new(),
        failure: None,
        incomplete: Vec::new(),
        settled: Vec::new(),
    };
    let fetched = s
        .fetch_messages(uids, &mut |m| intake.take(run, pipeline, fetch, m))
        .await;
    if let Some(e) = intake.failure {
        return Err(e);
    }
    intake
        .done
        .extend(pipeline.step(run, intake.unit, true, fetch.action)?);
    let refused = match fetched {
        Err(e) if e.is_connection_error() => {
            // Whatever arrived whole is stored, even if the connection then failed; the
            // actions on it stay pending for the next session, and the UIDs that did not
            // arrive stay in the retry set.
            pipeline.finish(run)?;
            return Err(e.into());
        }
        Err(e) => Some(e),
        Ok(()) => None,
    };
    record_not_delivered(
        run,
        fetch.uidvalidity,
        intake.wanted,
        intake.incomplete,
        &intake.settled,
        refused.as_ref(),
    )?;
    for stored in intake.done {
        act(s, run, pipeline, stored, fetch.action).await?;
    }
    Ok(())
}

/// What one batch's FETCH answer has brought so far.
struct Intake {
    /// UIDs asked for and not arrived yet.
    wanted: HashSet<u32>,
    /// Arrived whole, not yet handed to the pipeline.
    unit: Unit,
    /// Units the pipeline stored (the server is acted on after the FETCH).
    done: Vec<Stored>,
    /// A store failure that stopped the intake.
    failure: Option<RunError>,
    /// Arrived but not a whole message, with the reason.
    incomplete: Vec<(u32, String)>,
    /// Arrived and settled without being stored (too large, a duplicate by content).
    settled: Vec<u32>,
}

impl Intake {
    /// Takes one message of the FETCH answer: checks it is one asked for and whole, skips
    /// it when too large or already stored (after a UIDVALIDITY change), and hands a unit
    /// of [`FLUSH_BYTES`] to the pipeline as soon as it is full.
    fn take(
        &mut self,
        run: &mut Run<'_>,
        pipeline: &mut Pipeline,
        fetch: &FetchBatch<'_>,
        m: RemoteMessage,
    ) -> ControlFlow<()> {
        if !self.wanted.remove(&m.uid) {
            tracing::warn!(
                uid = m.uid,
                "server sent a message that was not asked for, or twice; ignored"
            );
            return ControlFlow::Continue(());
        }
        let len = m.body.len() as u64;
        if let Some(reason) = undelivered_reason(len, fetch.sizes.get(&m.uid).copied()) {
            run.report.bytes += len;
            self.incomplete.push((m.uid, reason));
            return ControlFlow::Continue(());
        }
        if run.too_large(len) {
            run.skip(format!("uid:{}", m.uid), len);
            self.settled.push(m.uid);
            return ControlFlow::Continue(());
        }
        run.report.bytes += len;
        match fetch
            .rescan
            .then(|| rescan_duplicate(run, fetch.uidvalidity, &m.body))
            .transpose()
            .map(Option::flatten)
        {
            Ok(Some(_)) => {
                self.settled.push(m.uid);
                run.report.already_stored += 1;
                self.unit.push_duplicate(m.uid, len);
                run.message_done(len);
                return ControlFlow::Continue(());
            }
            Ok(None) => {}
            Err(e) => {
                self.failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        let server_ref = ServerRef::Imap {
            uidvalidity: fetch.uidvalidity,
            uid: m.uid,
        };
        self.unit.push(Fetched {
            key: m.uid,
            server_ref,
            body: m.body,
        });
        run.message_done(len);
        if self.unit.bytes() >= FLUSH_BYTES {
            match pipeline.step(run, std::mem::take(&mut self.unit), false, fetch.action) {
                Ok(stored) => self.done.extend(stored),
                Err(e) => {
                    self.failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Records the batch's UIDs that were not delivered whole (refused, as Exchange's "Some
/// messages could not be FETCHed", left out, or incomplete): per message, not the run's
/// failure; they stay in the retry set and are reported. Settled ones leave it.
fn record_not_delivered(
    run: &mut Run<'_>,
    uidvalidity: u32,
    missing: HashSet<u32>,
    mut incomplete: Vec<(u32, String)>,
    settled: &[u32],
    refused: Option<&BackendError>,
) -> Result<(), RunError> {
    let account = run.account;
    let mut missing: Vec<u32> = missing.into_iter().collect();
    missing.sort_unstable();
    let left_out = match refused {
        Some(e) => format!("not delivered: {e}"),
        None => "the server left it out of its FETCH answer".to_owned(),
    };
    incomplete.extend(missing.into_iter().map(|uid| (uid, left_out.clone())));
    incomplete.sort_unstable();
    run.with_store(|st| {
        st.forget_imap_uids(&account.name, &account.folder, uidvalidity, settled)?;
        st.fail_imap_uids(&account.name, &account.folder, uidvalidity, &incomplete)
    })?;
    for (uid, reason) in incomplete {
        run.not_delivered(format!("uid:{uid}"), reason);
    }
    Ok(())
}

/// Applies the after-receive action to a stored unit, then reports it to the pipeline.
async fn act<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    pipeline: &mut Pipeline,
    stored: Stored,
    action: Option<&PendingAction>,
) -> Result<(), RunError> {
    let mut actions_done = 0;
    let any = !stored.items.is_empty() || !stored.duplicates.is_empty();
    if let Some(action) = action.filter(|_| any) {
        let ids: Vec<MessageId> = stored.items.iter().map(|i| i.id).collect();
        let pending = run.pending_ids(&ids, action)?;
        let mut act_uids: Vec<u32> = stored.items.iter().map(|i| i.key).collect();
        act_uids.extend(&stored.duplicates);
        act_uids.sort_unstable();
        let pending_ids: Vec<i64> = stored
            .items
            .iter()
            .filter_map(|i| pending.get(&i.id).copied())
            .collect();
        if !act_uids.is_empty() && perform(s, run, action, &act_uids, &pending_ids).await? {
            actions_done = act_uids.len() as u64;
        }
    }
    pipeline.acted(run, &stored, actions_done);
    Ok(())
}

/// A message stored from this folder under an older UIDVALIDITY with exactly these bytes.
fn rescan_duplicate(
    run: &Run<'_>,
    uidvalidity: u32,
    raw: &[u8],
) -> Result<Option<MessageId>, RunError> {
    let account = run.account;
    run.with_store(|st| {
        let Some(id) = st.find_duplicate(&account.name, raw)? else {
            return Ok(None);
        };
        let Some(found) = st.get_summary(id)? else {
            return Ok(None);
        };
        let older =
            matches!(found.server_ref, ServerRef::Imap { uidvalidity: v, .. } if v != uidvalidity);
        Ok((older && found.folder == account.folder).then_some(id))
    })
}

/// Carries out `action` on `uids` of the selected folder and completes `pending`. Returns
/// whether it was done; a refused action is recorded and left pending.
async fn perform<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    action: &PendingAction,
    uids: &[u32],
    pending: &[i64],
) -> Result<bool, RunError> {
    run.check_fence()?;
    let result = match action {
        PendingAction::Delete => s.uid_delete(uids).await,
        PendingAction::MoveTo(target) => match ensure_folder(s, run, target).await {
            Ok(()) => s.uid_move(uids, target).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => {
            run.complete(pending.iter().copied())?;
            match action {
                PendingAction::Delete => run.report.deleted += uids.len() as u64,
                PendingAction::MoveTo(_) => run.report.moved += uids.len() as u64,
            }
            Ok(true)
        }
        Err(e) if e.is_connection_error() => Err(e.into()),
        Err(e)
            if e.kind() == ErrorKind::ExpungeWithheld
                && matches!(action, PendingAction::MoveTo(_)) =>
        {
            // The copy is in the target: what is left is removing the source, so the action
            // becomes a delete and a retry never copies again.
            let text = e.to_string();
            for &id in pending {
                run.with_store(|st| st.move_copied(id, &text))?;
            }
            run.note_error(format!(
                "move of {} message(s) left half done, they stay marked \\Deleted in the \
                 folder and are expunged by a later run: {text}",
                uids.len()
            ));
            Ok(false)
        }
        Err(e) => {
            run.fail(pending, &e)?;
            Ok(false)
        }
    }
}

async fn ensure_folder<S: ImapSession>(
    s: &mut S,
    run: &mut Run<'_>,
    folder: &str,
) -> Result<(), BackendError> {
    if run.ensured.contains(folder) {
        return Ok(());
    }
    match s.create_folder(folder).await {
        Ok(()) => tracing::info!(account = %run.account.name, folder, "created folder"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    run.ensured.insert(folder.to_owned());
    Ok(())
}

/// Completes the pending actions left by earlier runs, folder by folder.
async fn recover_pending<S: ImapSession>(s: &mut S, run: &mut Run<'_>) -> Result<(), RunError> {
    let pending = run.with_store(|st| st.pending_actions(&run.account.name))?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut by_folder: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    for p in pending {
        by_folder.entry(p.folder.clone()).or_default().push(p);
    }
    for (folder, items) in by_folder {
        let status = match s.select(&folder).await {
            Ok(status) => status,
            Err(e) if e.kind() == ErrorKind::NoSuchFolder => {
                for p in &items {
                    run.with_store(|st| st.abandon_action(p.id, "the folder no longer exists"))?;
                }
                run.note_error(format!(
                    "folder {folder} no longer exists: {} pending action(s) abandoned",
                    items.len()
                ));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // Target folder (None: delete) -> (action, [(uid, pending id)]).
        type Groups = BTreeMap<Option<String>, (PendingAction, Vec<(u32, i64)>)>;
        let mut groups = Groups::new();
        for p in items {
            match p.server_ref {
                ServerRef::Imap { uidvalidity, uid } if uidvalidity == status.uidvalidity => {
                    let key = match &p.action {
                        PendingAction::Delete => None,
                        PendingAction::MoveTo(t) => Some(t.clone()),
                    };
                    groups
                        .entry(key)
                        .or_insert_with(|| (p.action.clone(), Vec::new()))
                        .1
                        .push((uid, p.id));
                }
                ServerRef::Imap { .. } => {
                    run.with_store(|st| {
                        st.abandon_action(
                            p.id,
                            "UIDVALIDITY changed; the UID no longer names this message",
                        )
                    })?;
                }
                // Not an IMAP message: not this pipeline's to act on.
                ServerRef::Pop3 { .. } => {}
            }
        }
        for (_, (action, mut list)) in groups {
            list.sort_unstable();
            for chunk in list.chunks(run.account.batch_size as usize) {
                let uids: Vec<u32> = chunk.iter().map(|c| c.0).collect();
                let ids: Vec<i64> = chunk.iter().map(|c| c.1).collect();
                if perform(s, run, &action, &uids, &ids).await? {
                    run.report.recovered_actions += ids.len() as u64;
                }
            }
        }
    }
    Ok(())
}

/// Records `uid` as handled when it is above the recorded highest UID.
fn advance_highest(run: &Run<'_>, uidvalidity: u32, uid: u32) -> Result<(), RunError> {
    let account = run.account;
    run.with_store(|st| {
        let current = st.imap_state(&account.name, &account.folder)?;
        match current {
            Some(c) if c.uidvalidity == uidvalidity && c.highest_uid >= uid => Ok(()),
            Some(c) if c.uidvalidity != uidvalidity => Ok(()),
            _ => st
                .set_imap_state(
                    &account.name,
                    &account.folder,
                    ImapFolderState {
                        uidvalidity,
                        highest_uid: uid,
                    },
                )
                .map(|_| ()),
        }
    })
}
