//! `inbound status`: the fleet of `inbound watch` workers sharing a PostgreSQL store.

use inbound_store::lease::{FleetStatus, LeaseStore as _, span_text};

use crate::app::{self, App};
use crate::cli::StatusArgs;
use crate::error::{CliError, CliResult, EXIT_OK};
use crate::output::{Align, Table, clip, print_json};

/// `inbound status [--json]`.
pub(crate) fn command(app: &App, args: &StatusArgs) -> CliResult<u8> {
    let config = app.config()?;
    let Some((_store, leases)) = app.open_fleet_store(&config)? else {
        return Err(CliError::usage(format!(
            "status shows the fleet of workers sharing a PostgreSQL store ([store] url); the \
             store here is the SQLite file {}, which one process owns",
            app.store_name(&config)
        )));
    };
    let status = app::block_on(leases.status())?
        .map_err(|e| CliError::failed(format!("store [store] url: {e}")))?;
    if args.json {
        print_json(&inbound_retrieve::json::fleet_json(&status))?;
    } else {
        print!("{}", status_text(&status, config.fleet.lease));
    }
    Ok(EXIT_OK)
}

fn ago(now: i64, at: Option<i64>) -> String {
    at.map_or_else(|| "-".into(), |t| format!("{} ago", span_text(now - t)))
}

/// The status for people: the workers, then the accounts.
fn status_text(status: &FleetStatus, lease: std::time::Duration) -> String {
    let now = status.now_ms;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let mut workers = Table::new(&[
        ("WORKER", Align::Left),
        ("HOST", Align::Left),
        ("PID", Align::Right),
        ("STARTED", Align::Left),
        ("HEARTBEAT", Align::Left),
        ("ACCOUNTS", Align::Right),
    ]);
    for w in &status.workers {
        let heartbeat = match w.stopped_at_ms {
            Some(t) => format!("stopped {}", ago(now, Some(t))),
            // No renewal for a whole lease: the worker is gone (killed, or cut off).
            None if now - w.heartbeat_at_ms > lease_ms => {
                format!("{} (gone)", ago(now, Some(w.heartbeat_at_ms)))
            }
            None => ago(now, Some(w.heartbeat_at_ms)),
        };
        workers.row(vec![
            w.id.to_string(),
            w.host.clone(),
            w.pid.to_string(),
            ago(now, Some(w.started_at_ms)),
            heartbeat,
            w.accounts_held.to_string(),
        ]);
    }
    let mut accounts = Table::new(&[
        ("ACCOUNT", Align::Left),
        ("OWNER", Align::Left),
        ("STATE", Align::Left),
        ("LEASE", Align::Left),
        ("LAST EVENT", Align::Left),
        ("LAST ERROR", Align::Left),
    ]);
    for a in &status.accounts {
        let owner = a.owner_text().unwrap_or_else(|| "-".into());
        let lease = match a.expires_at_ms {
            Some(t) if t > now => format!("{} left", span_text(t - now)),
            Some(_) => "expired".into(),
            None => "-".into(),
        };
        let mut state = a.state.name().to_owned();
        if a.owner.is_some() && a.expires_at_ms.is_some_and(|t| t <= now) {
            // What its last owner recorded, before the lease ran out.
            state = format!("{state}, lease expired");
        }
        if let Some(t) = a.not_before_ms.filter(|t| *t > now) {
            state.push_str(&format!(" ({} more)", span_text(t - now)));
        }
        let event = match &a.last_event {
            Some(e) => format!("{} ({})", clip(e, 40), ago(now, a.last_event_at_ms)),
            None => "-".into(),
        };
        accounts.row(vec![
            a.account.clone(),
            owner,
            state,
            lease,
            event,
            a.last_error.as_deref().map_or("-".into(), |e| clip(e, 60)),
        ]);
    }
    let live = status
        .workers
        .iter()
        .filter(|w| w.stopped_at_ms.is_none() && now - w.heartbeat_at_ms <= lease_ms)
        .count();
    format!(
        "{} live worker(s) (renewed within the lease)\n{}\n{} account(s)\n{}",
        live,
        workers.render(),
        status.accounts.len(),
        accounts.render()
    )
}
