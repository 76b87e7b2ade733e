//! The POP3 pipeline: list by UIDL, re-send leftover deletions, fetch new messages in
//! batches, store each batch, mark stored ones for deletion, and complete the deletions only
//! after `QUIT` succeeded (POP3 applies `DELE` at `QUIT`; a dropped connection deletes
//! nothing).
//!
//! The store remembers every UIDL handled (stored, or passed over as too large or older than
//! a `latest N` selection); UIDLs no longer on the server are forgotten after a clean run,
//! and so are those deleted at `QUIT` (a server may hand one out again). A message asked
//! for and not stored (`RETR` refused, an empty or unusable answer) is recorded with the
//! reason and asked for again by every run, whatever the policy selects.
//!
//! A UIDL alone does not prove identity: the store tells messages with the same UIDL apart
//! by content, and a `DELE` left pending by an earlier run is sent only after the message
//! was downloaded again and found to be the stored bytes.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use bytes::Bytes;
use inbound_store::{MessageId, Pending, PendingAction, ServerRef, raw_sha256};

use crate::account::FetchPolicy;
use crate::backend::{BackendError, ErrorKind, Pop3Session};
use crate::pipeline::{Fetched, Pipeline, Stored, Unit};
use crate::sync::run::{FLUSH_BYTES, Run, RunError};

/// One full POP3 run; consumes the session (it ends with `QUIT`). The steps, each below:
/// read the listing, re-send deletions an earlier run left pending, select what to fetch,
/// fetch and store it in batches (marking stored messages for deletion), then `QUIT` and
/// complete the deletions the server applied.
pub(crate) async fn sync<S: Pop3Session>(mut s: S, run: &mut Run<'_>) -> Result<(), RunError> {
    let listing = Listing::read(&mut s).await?;
    let mut quit = redo_pending_deletes(&mut s, run, &listing).await?;
    let to_fetch = select(run, &listing)?;
    fetch_and_store(&mut s, run, &to_fetch, &mut quit).await?;
    quit_and_complete(s, run, listing, quit).await
}

/// The server's UIDL and LIST answers.
struct Listing {
    /// (message number, UIDL) in message number order (arrival order), each UIDL once.
    entries: Vec<(u32, String)>,
    by_uidl: HashMap<String, u32>,
    sizes: HashMap<u32, u64>,
}

impl Listing {
    async fn read<S: Pop3Session>(s: &mut S) -> Result<Self, RunError> {
        let listing = match s.uidl().await {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::Unsupported => {
                return Err(RunError::Unsupported(
                    "the POP3 server does not support UIDL, which is needed to retrieve only new \
                     messages"
                        .to_owned(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        // Message number order is arrival order. A hostile server may repeat a UIDL: the
        // first one counts.
        let mut entries: Vec<(u32, String)> =
            listing.into_iter().map(|e| (e.msgno, e.uidl)).collect();
        entries.sort_by_key(|e| e.0);
        let mut by_uidl: HashMap<String, u32> = HashMap::with_capacity(entries.len());
        entries.retain(|(msgno, uidl)| {
            if by_uidl.contains_key(uidl) {
                tracing::warn!(%uidl, "POP3 server listed a UIDL twice; using the first");
                false
            } else {
                by_uidl.insert(uidl.clone(), *msgno);
                true
            }
        });
        let sizes: HashMap<u32, u64> = s.list().await?.into_iter().collect();
        Ok(Self {
            entries,
            by_uidl,
            sizes,
        })
    }
}

/// What becomes true when `QUIT` succeeds (POP3 applies `DELE` only then).
#[derive(Default)]
struct AtQuit {
    /// Pending actions (of earlier runs) done by the DELEs of this session.
    commit: Vec<i64>,
    /// UIDLs deleted: forgotten as seen afterwards, so a server that hands one out again
    /// for a new message gets that message fetched.
    deleted_uidls: Vec<String>,
    /// Deletions left by earlier runs and re-sent now.
    recovered: u64,
    /// (pending action id, message number) of each DELE sent for a message stored now.
    deleted: Vec<(Option<i64>, u32)>,
    /// How many messages stored now were marked for deletion.
    deleting: u64,
}

/// Deletions left by an earlier run: sent again in this session, each only for the stored
/// bytes (a UIDL may have been reused for another message since).
async fn redo_pending_deletes<S: Pop3Session>(
    s: &mut S,
    run: &mut Run<'_>,
    listing: &Listing,
) -> Result<AtQuit, RunError> {
    let account = run.account;
    let mut quit = AtQuit::default();
    let pending = run.with_store(|st| st.pending_actions(&account.name))?;
    for p in pending {
        let ServerRef::Pop3 { uidl } = &p.server_ref else {
            continue;
        };
        match (&p.action, listing.by_uidl.get(uidl)) {
            (PendingAction::Delete, Some(&msgno)) => {
                // The UIDL may have been reused for another message since: DELE only what is
                // proven to be the stored bytes.
                if !same_message(s, run, &p, msgno).await? {
                    let reason = format!(
                        "UIDL {uidl} now names another message on the server; the stored one \
                         was not deleted there by Inbound, and the new one is fetched"
                    );
                    run.with_store(|st| {
                        st.abandon_action(p.id, &reason)?;
                        st.forget_pop3_uidls(&account.name, &[uidl.as_str()])
                    })?;
                    run.note_error(reason);
                    continue;
                }
                run.check_fence()?;
                match s.dele(msgno).await {
                    Ok(()) => {
                        quit.commit.push(p.id);
                        quit.deleted_uidls.push(uidl.clone());
                        quit.recovered += 1;
                    }
                    Err(e) if e.is_connection_error() => return Err(e.into()),
                    Err(e) => run.fail(&[p.id], &e)?,
                }
            }
            // Already gone: an earlier QUIT applied it.
            (PendingAction::Delete, None) => {
                run.complete([p.id])?;
                run.report.recovered_actions += 1;
            }
            (PendingAction::MoveTo(_), _) => {
                run.with_store(|st| st.abandon_action(p.id, "POP3 cannot move messages"))?;
            }
        }
    }
    Ok(quit)
}

/// The messages to fetch, in arrival order: those earlier runs asked for and did not get
/// (whatever the policy), and the policy's pick of the new ones. New messages the policy
/// passes over, and those over the size limit, are marked seen (and reported skipped).
fn select(run: &mut Run<'_>, listing: &Listing) -> Result<Vec<(u32, String)>, RunError> {
    let account = run.account;
    let entries = &listing.entries;
    let seen = run.with_store(|st| st.pop3_seen_uidls(&account.name))?;
    let retry: HashSet<String> = run
        .with_store(|st| st.pop3_retry(&account.name))?
        .into_iter()
        .map(|r| r.uidl)
        .collect();
    let new: Vec<(u32, String)> = entries
        .iter()
        .filter(|(_, uidl)| !seen.contains(uidl) && !retry.contains(uidl))
        .cloned()
        .collect();
    let empty: &[(u32, String)] = &[];
    let (passed_over, policy) = match account.fetch {
        FetchPolicy::All => (empty, &new[..]),
        FetchPolicy::Latest(n) => new.split_at(new.len().saturating_sub(n as usize)),
        FetchPolicy::Oldest(n) => (empty, &new[..new.len().min(n as usize)]),
    };
    let mut selected: Vec<(u32, String)> = entries
        .iter()
        .filter(|(_, uidl)| retry.contains(uidl))
        .cloned()
        .chain(policy.iter().cloned())
        .collect();
    selected.sort_by_key(|e| e.0);
    if !passed_over.is_empty() {
        run.with_store(|st| {
            st.mark_pop3_seen(
                &account.name,
                &passed_over.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            )
        })?;
    }
    let mut to_fetch = Vec::with_capacity(selected.len());
    let mut too_large = Vec::new();
    for (msgno, uidl) in &selected {
        match listing.sizes.get(msgno) {
            Some(&size) if run.too_large(size) => too_large.push((uidl.as_str(), size)),
            size => {
                // Sizes are the server's claims: a sum of them saturates.
                let size = size.copied().unwrap_or(0);
                run.progress.bytes_total = run.progress.bytes_total.saturating_add(size);
                to_fetch.push((*msgno, uidl.clone()));
            }
        }
    }
    run.progress.messages_total += (to_fetch.len() + too_large.len()) as u64;
    run.events.on_progress(&run.progress);
    if !too_large.is_empty() {
        run.with_store(|st| {
            st.mark_pop3_seen(
                &account.name,
                &too_large.iter().map(|t| t.0).collect::<Vec<_>>(),
            )
        })?;
        for (uidl, size) in too_large {
            run.skip(format!("uidl:{uidl}"), size);
        }
    }
    Ok(to_fetch)
}

/// Fetches `to_fetch` in the account's batches, each cut into units of at most
/// [`FLUSH_BYTES`] (one RETR pipeline and one store transaction each), and sends DELE for
/// every stored message when the account deletes.
async fn fetch_and_store<S: Pop3Session>(
    s: &mut S,
    run: &mut Run<'_>,
    to_fetch: &[(u32, String)],
    quit: &mut AtQuit,
) -> Result<(), RunError> {
    let account = run.account;
    let action = account.pending_action();
    let mut pipeline = Pipeline::default();
    for batch in to_fetch.chunks(account.batch_size as usize) {
        let msgnos: Vec<u32> = batch.iter().map(|e| e.0).collect();
        let mut next = 0;
        loop {
            let (unit, failed) = retr_unit(s, run, batch, &msgnos, &mut next).await?;
            let last = failed.is_some() || next >= batch.len();
            let stored = pipeline.step(run, unit, last, action.as_ref())?;
            if let Some(e) = failed {
                // Whatever arrived whole is stored, even if the connection then failed; its
                // deletion is left pending for the next session.
                pipeline.finish(run)?;
                return Err(e.into());
            }
            for stored in stored {
                quit.deleting += dele_unit(
                    s,
                    run,
                    &mut pipeline,
                    stored,
                    action.as_ref(),
                    &mut quit.deleted,
                )
                .await?;
            }
            if last {
                break;
            }
        }
    }
    if let Some(stored) = pipeline.finish(run)? {
        quit.deleting += dele_unit(
            s,
            run,
            &mut pipeline,
            stored,
            action.as_ref(),
            &mut quit.deleted,
        )
        .await?;
    }
    Ok(())
}

/// The RETRs of one unit, from `batch[*next]` on: the messages that arrived whole, and the
/// error that ends the batch, if any. `next` moves past every message answered. Empty,
/// refused and too-large answers are recorded here (asked for again, or skipped); a refusal
/// does not end the batch.
async fn retr_unit<S: Pop3Session>(
    s: &mut S,
    run: &mut Run<'_>,
    batch: &[(u32, String)],
    msgnos: &[u32],
    next: &mut usize,
) -> Result<(Unit, Option<BackendError>), RunError> {
    let account = run.account;
    let mut unit = Unit::default();
    let mut arrived = 0;
    let mut out_of_order = false;
    let mut too_large = Vec::new();
    let mut empty = Vec::new();
    let fetched = {
        let mut on_message = |msgno: u32, body: Bytes| -> ControlFlow<()> {
            let Some((expected, uidl)) = batch.get(*next + arrived) else {
                out_of_order = true;
                return ControlFlow::Break(());
            };
            if msgno != *expected {
                out_of_order = true;
                return ControlFlow::Break(());
            }
            arrived += 1;
            let len = body.len() as u64;
            if len == 0 {
                // Not a delivered message: nothing stored, nothing deleted, not
                // marked seen (asked for again next run).
                empty.push(uidl.as_str());
                return ControlFlow::Continue(());
            }
            if run.too_large(len) {
                too_large.push((uidl.as_str(), len));
                return ControlFlow::Continue(());
            }
            run.report.bytes += len;
            let server_ref = ServerRef::Pop3 { uidl: uidl.clone() };
            unit.push(Fetched {
                key: msgno,
                server_ref,
                body,
            });
            run.message_done(len);
            if unit.bytes() >= FLUSH_BYTES {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        s.retr_batch(&msgnos[*next..], &mut on_message).await
    };
    *next += arrived;
    for (uidl, len) in too_large {
        run.with_store(|st| st.mark_pop3_seen(&account.name, &[uidl]))?;
        run.skip(format!("uidl:{uidl}"), len);
    }
    for uidl in empty {
        not_delivered(run, uidl, "the server sent an empty message".to_owned())?;
    }
    let failed = match fetched {
        // One message refused (-ERR) or unusable: recorded (asked for again next
        // run, whatever the policy), and the batch goes on with the next one.
        Err(e) if !e.is_connection_error() && *next < batch.len() => {
            not_delivered(run, &batch[*next].1, e.to_string())?;
            *next += 1;
            None
        }
        Err(e) => Some(e),
        Ok(()) if out_of_order => Some(BackendError::new(
            ErrorKind::Protocol,
            "RETR answers arrived for other messages than asked",
        )),
        Ok(()) if *next < batch.len() && arrived == 0 => Some(BackendError::new(
            ErrorKind::Protocol,
            "the POP3 session stopped delivering messages",
        )),
        Ok(()) => None,
    };
    Ok((unit, failed))
}

/// `QUIT`: the server applies the deletions now, and only now are they done. Then the
/// UIDLs no longer on the server are forgotten.
async fn quit_and_complete<S: Pop3Session>(
    s: S,
    run: &mut Run<'_>,
    listing: Listing,
    mut quit: AtQuit,
) -> Result<(), RunError> {
    // QUIT is what deletes the messages marked with DELE: a worker that lost the account
    // drops the connection instead, and the server deletes nothing.
    if !quit.deleted.is_empty() || !quit.commit.is_empty() {
        run.check_fence()?;
    }
    s.quit().await?;
    let uidl_of: HashMap<u32, &str> = listing
        .entries
        .iter()
        .map(|(n, u)| (*n, u.as_str()))
        .collect();
    for (pending, msgno) in quit.deleted {
        quit.commit.extend(pending);
        if let Some(uidl) = uidl_of.get(&msgno) {
            quit.deleted_uidls.push((*uidl).to_owned());
        }
    }
    run.complete(quit.commit.iter().copied())?;
    run.report.deleted += quit.deleting + quit.recovered;
    run.report.recovered_actions += quit.recovered;

    let mut present: HashSet<String> = listing.by_uidl.into_keys().collect();
    for uidl in &quit.deleted_uidls {
        present.remove(uidl);
    }
    run.with_store(|st| st.retain_pop3_uidls(&run.account.name, &present))?;
    Ok(())
}

/// Records a message asked for and not stored: in the report, and in the store's retry set
/// so the next run asks for it again.
fn not_delivered(run: &mut Run<'_>, uidl: &str, reason: String) -> Result<(), RunError> {
    run.with_store(|st| st.fail_pop3_uidl(&run.account.name, uidl, &reason))?;
    run.not_delivered(format!("uidl:{uidl}"), reason);
    Ok(())
}

/// Whether message `msgno` on the server is the stored message of `pending`: its bytes
/// downloaded again have the stored SHA-256. A server that reused the UIDL for another
/// message answers no.
async fn same_message<S: Pop3Session>(
    s: &mut S,
    run: &mut Run<'_>,
    pending: &Pending,
    msgno: u32,
) -> Result<bool, RunError> {
    let Some(stored) = run.with_store(|st| st.message_sha256(pending.message))? else {
        return Ok(false);
    };
    match s.retr(msgno).await {
        Ok(body) => Ok(raw_sha256(&body) == stored),
        Err(e) if e.is_connection_error() => Err(e.into()),
        // Refused: not proven the same, so not deleted; tried again next run.
        Err(e) => {
            tracing::warn!(%e, msgno, "could not download a message again to check it before DELE");
            Ok(false)
        }
    }
}

/// Marks a stored unit for deletion (when the account deletes); returns how many were
/// marked.
async fn dele_unit<S: Pop3Session>(
    s: &mut S,
    run: &mut Run<'_>,
    pipeline: &mut Pipeline,
    stored: Stored,
    action: Option<&PendingAction>,
    deleted: &mut Vec<(Option<i64>, u32)>,
) -> Result<u64, RunError> {
    let mut deleting = 0;
    if let Some(action) = action.filter(|_| !stored.items.is_empty()) {
        let ids: Vec<MessageId> = stored.items.iter().map(|i| i.id).collect();
        let pending = run.pending_ids(&ids, action)?;
        run.check_fence()?;
        for item in &stored.items {
            match s.dele(item.key).await {
                Ok(()) => {
                    deleting += 1;
                    deleted.push((pending.get(&item.id).copied(), item.key));
                }
                Err(e) if e.is_connection_error() => return Err(e.into()),
                Err(e) => {
                    let ids: Vec<i64> = pending.get(&item.id).copied().into_iter().collect();
                    run.fail(&ids, &e)?;
                }
            }
        }
    }
    // POP3 deletions happen at QUIT: none is done yet.
    pipeline.acted(run, &stored, 0);
    Ok(deleting)
}
