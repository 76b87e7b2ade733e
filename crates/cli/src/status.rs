//! `inbound status`: the fleet of `inbound watch` workers sharing a PostgreSQL store.

use inbound_store::lease::{FleetStatus, LeaseStore as _};
use serde_json::{Value, json};

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
        print_json(&status_json(&status))?;
    } else {
        print!("{}", status_text(&status));
    }
    Ok(EXIT_OK)
}

/// The status as `--json` prints it (times in milliseconds since the Unix epoch, on the
/// database's clock).
fn status_json(status: &FleetStatus) -> Value {
    let pid_of = |id| {
        status
            .workers
            .iter()
            .find(|w| Some(w.id) == id)
            .map(|w| w.pid)
    };
    json!({
        "now_ms": status.now_ms,
        "workers": status.workers.iter().map(|w| json!({
            "id": w.id.0,
            "host": w.host,
            "pid": w.pid,
            "capacity": w.capacity,
            "started_ms": w.started_at_ms,
            "heartbeat_ms": w.heartbeat_at_ms,
            "stopped_ms": w.stopped_at_ms,
            "accounts_held": w.accounts_held,
        })).collect::<Vec<_>>(),
        "accounts": status.accounts.iter().map(|a| json!({
            "account": a.account,
            "owner": a.owner.map(|o| o.0),
            "owner_host": a.owner_host,
            "owner_pid": pid_of(a.owner),
            "state": a.state.name(),
            "epoch": a.epoch,
            "lease_expires_ms": a.expires_at_ms,
            "not_before_ms": a.not_before_ms,
            "last_event": a.last_event,
            "last_event_ms": a.last_event_at_ms,
            "last_error": a.last_error,
        })).collect::<Vec<_>>(),
    })
}

/// `12 s`, `3 min`, `2 h` from milliseconds.
fn span(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

fn ago(now: i64, at: Option<i64>) -> String {
    at.map_or_else(|| "-".into(), |t| format!("{} ago", span(now - t)))
}

/// The status for people: the workers, then the accounts.
fn status_text(status: &FleetStatus) -> String {
    let now = status.now_ms;
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
        let owner = match (a.owner, &a.owner_host) {
            (Some(o), Some(h)) => format!("{o} ({h})"),
            (Some(o), None) => o.to_string(),
            _ => "-".into(),
        };
        let lease = match a.expires_at_ms {
            Some(t) if t > now => format!("{} left", span(t - now)),
            Some(_) => "expired".into(),
            None => "-".into(),
        };
        let mut state = a.state.name().to_owned();
        if let Some(t) = a.not_before_ms.filter(|t| *t > now) {
            state.push_str(&format!(" ({} more)", span(t - now)));
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
        .filter(|w| w.stopped_at_ms.is_none())
        .count();
    format!(
        "{} worker(s) not stopped\n{}\n{} account(s)\n{}",
        live,
        workers.render(),
        status.accounts.len(),
        accounts.render()
    )
}
