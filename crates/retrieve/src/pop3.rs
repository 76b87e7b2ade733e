//! The POP3 pipeline: list by UIDL, re-send leftover deletions, fetch new messages in
//! batches, store each batch, mark stored ones for deletion, and complete the deletions only
//! after `QUIT` succeeded (POP3 applies `DELE` at `QUIT`; a dropped connection deletes
//! nothing).
//!
//! The store remembers every UIDL handled (stored, or passed over as too large or older than
//! a `latest N` selection); UIDLs no longer on the server are forgotten after a clean run.

use std::collections::{HashMap, HashSet};

use inbound_store::{MessageId, PendingAction, ServerRef};

use crate::backend::{ErrorKind, Pop3Session};
use crate::config::FetchPolicy;
use crate::events::BatchDone;
use crate::run::{Buffer, Run, RunError};

/// One full POP3 run; consumes the session (it ends with `QUIT`).
pub(crate) async fn sync<S: Pop3Session>(mut s: S, run: &mut Run<'_>) -> Result<(), RunError> {
    let account = run.account;
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
    // Message number order is arrival order. A hostile server may repeat a UIDL: the first
    // one counts.
    let mut entries: Vec<(u32, String)> = listing.into_iter().map(|e| (e.msgno, e.uidl)).collect();
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

    // Deletions left by an earlier run: send them again in this session.
    let mut commit_on_quit: Vec<i64> = Vec::new();
    let mut recovered = 0u64;
    let pending = run.with_store(|st| st.pending_actions(&account.name))?;
    for p in pending {
        let ServerRef::Pop3 { uidl } = &p.server_ref else {
            continue;
        };
        match (&p.action, by_uidl.get(uidl)) {
            (PendingAction::Delete, Some(&msgno)) => match s.dele(msgno).await {
                Ok(()) => {
                    commit_on_quit.push(p.id);
                    recovered += 1;
                }
                Err(e) if e.is_connection_error() => return Err(e.into()),
                Err(e) => run.fail(&[p.id], &e)?,
            },
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

    let seen = run.with_store(|st| st.pop3_seen_uidls(&account.name))?;
    let new: Vec<(u32, String)> = entries
        .iter()
        .filter(|(_, uidl)| !seen.contains(uidl))
        .cloned()
        .collect();
    let empty: &[(u32, String)] = &[];
    let (passed_over, selected) = match account.fetch {
        FetchPolicy::All => (empty, &new[..]),
        FetchPolicy::Latest(n) => new.split_at(new.len().saturating_sub(n as usize)),
        FetchPolicy::Oldest(n) => (empty, &new[..new.len().min(n as usize)]),
    };
    if !passed_over.is_empty() {
        run.with_store(|st| {
            st.mark_pop3_seen(&account.name, passed_over.iter().map(|e| e.1.as_str()))
        })?;
    }
    let mut to_fetch = Vec::with_capacity(selected.len());
    let mut too_large = Vec::new();
    for (msgno, uidl) in selected {
        match sizes.get(msgno) {
            Some(&size) if run.too_large(size) => too_large.push((uidl.as_str(), size)),
            size => {
                let size = size.copied().unwrap_or(0);
                run.progress.bytes_total += size;
                to_fetch.push((*msgno, uidl.clone()));
            }
        }
    }
    run.progress.messages_total += (to_fetch.len() + too_large.len()) as u64;
    run.events.on_progress(&run.progress);
    if !too_large.is_empty() {
        run.with_store(|st| st.mark_pop3_seen(&account.name, too_large.iter().map(|t| t.0)))?;
        for (uidl, size) in too_large {
            run.skip(format!("uidl:{uidl}"), size);
        }
    }

    let action = account.pending_action();
    let mut deleting = 0u64;
    for batch in to_fetch.chunks(account.batch_size as usize) {
        let before = (
            run.report.fetched,
            run.report.already_stored,
            run.report.bytes,
        );
        let mut buffer = Buffer::default();
        let mut stored = Vec::new();
        let mut failed = None;
        for (msgno, uidl) in batch {
            let body = match s.retr(*msgno).await {
                Ok(body) => body,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let len = body.len() as u64;
            if run.too_large(len) {
                run.with_store(|st| st.mark_pop3_seen(&account.name, [uidl.as_str()]))?;
                run.skip(format!("uidl:{uidl}"), len);
                continue;
            }
            run.report.bytes += len;
            let server_ref = ServerRef::Pop3 { uidl: uidl.clone() };
            buffer.push(run.prepare(*msgno, server_ref, body));
            if buffer.is_full(account.batch_size) {
                stored.extend(run.flush(&mut buffer, action.as_ref())?);
            }
            run.message_done(len);
        }
        // Whatever arrived whole is stored, even if the connection then failed.
        stored.extend(run.flush(&mut buffer, action.as_ref())?);
        if let Some(e) = failed {
            return Err(e.into());
        }
        if let Some(action) = &action {
            let ids: Vec<MessageId> = stored.iter().map(|i| i.id).collect();
            let pending = run.pending_ids(&ids, action)?;
            for item in &stored {
                match s.dele(item.key).await {
                    Ok(()) => {
                        deleting += 1;
                        commit_on_quit.extend(pending.get(&item.id));
                    }
                    Err(e) if e.is_connection_error() => return Err(e.into()),
                    Err(e) => {
                        let ids: Vec<i64> = pending.get(&item.id).copied().into_iter().collect();
                        run.fail(&ids, &e)?;
                    }
                }
            }
        }
        run.events.on_batch(&BatchDone {
            stored: run.report.fetched - before.0,
            already_stored: run.report.already_stored - before.1,
            actions_done: 0,
            bytes: run.report.bytes - before.2,
        });
    }

    // Deletions happen here, at QUIT; only then are they done.
    s.quit().await?;
    run.complete(commit_on_quit.iter().copied())?;
    run.report.deleted += deleting + recovered;
    run.report.recovered_actions += recovered;

    let present: HashSet<String> = by_uidl.into_keys().collect();
    run.with_store(|st| st.retain_pop3_uidls(&account.name, &present))?;
    Ok(())
}
