//! The JSON forms of stored messages, one copy for every front end: `inbound messages list
//! --json` and the web API's listing print [`summary_json`]; `inbound messages show --json`
//! and `GET /api/v1/messages/{id}` print [`show_message`], so the two cannot drift apart;
//! `inbound status --json` and `GET /api/v1/fleet` print [`fleet_json`].

use inbound_message::Address;
use inbound_store::lease::FleetStatus;
use inbound_store::{
    AttachmentInfo, CidImages, MessageId, MessageSummary, SanitizeHtml, ServerRef, StoreBackend,
    StoredMessage,
};
use serde_json::{Value, json};

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// An address as `Name <addr>`, or the address alone.
pub fn address(a: &Address) -> String {
    match &a.name {
        Some(name) if !name.is_empty() => format!("{name} <{}>", a.address),
        _ => a.address.clone(),
    }
}

/// A list of addresses joined with `, `.
pub fn addresses(list: &[Address]) -> String {
    list.iter().map(address).collect::<Vec<_>>().join(", ")
}

/// Where the message is on the server: `imap:UIDVALIDITY:UID` or `pop3:UIDL`.
fn server_ref(r: &ServerRef) -> String {
    match r {
        ServerRef::Imap { uidvalidity, uid } => format!("imap:{uidvalidity}:{uid}"),
        ServerRef::Pop3 { uidl } => format!("pop3:{uidl}"),
    }
}

fn attachment(a: &AttachmentInfo) -> Value {
    json!({
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "inline": a.inline,
    })
}

/// One message of a listing (`messages list --json`).
pub fn summary_json(m: &MessageSummary) -> Value {
    json!({
        "id": m.id.0,
        "account": m.account,
        "folder": m.folder,
        "message_id": m.message_id,
        "subject": m.subject,
        "from": addresses(&m.from),
        "date": m.date.map(rfc3339),
        "stored_at": rfc3339(m.stored_at),
        "size": m.size,
        "server_ref": server_ref(&m.server_ref),
        "attachments": m.attachments.iter().map(attachment).collect::<Vec<_>>(),
    })
}

/// The HTML body a message is shown with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShownHtml {
    /// Sanitized (the account sanitizes); `None` when the message has no HTML body.
    Sanitized(Option<String>),
    /// As sent (the account does not sanitize).
    AsSent(Option<String>),
}

/// The HTML body to show for `m`, whose account is configured to sanitize as `configured`
/// says (`None`: the account is not configured any more). The configured account decides; a
/// message of an account no longer configured is shown as it was stored (sanitized if its
/// account sanitized then). Sanitized HTML comes from the store, which sanitizes on read, or
/// is made here when the configuration asks for another mode.
pub fn html_to_show(m: &StoredMessage, configured: Option<Option<SanitizeHtml>>) -> ShownHtml {
    match configured {
        Some(Some(mode)) if m.sanitize.as_ref() == Some(&mode) => {
            ShownHtml::Sanitized(m.sanitized_html.clone())
        }
        Some(Some(mode)) => ShownHtml::Sanitized(mode.apply(&m.email)),
        Some(None) => ShownHtml::AsSent(m.email.html.clone()),
        None if m.sanitize.is_some() => ShownHtml::Sanitized(m.sanitized_html.clone()),
        None => ShownHtml::AsSent(m.email.html.clone()),
    }
}

/// True when `m`, read without its large attachments decoded, must be read whole to show
/// it: its account is configured to embed inline images in the HTML
/// ([`CidImages::DataUrl`]) and some attachment was left undecoded. (A message stored in
/// that mode is read whole by the store already.)
pub fn needs_whole(
    m: &StoredMessage,
    attachments: &[AttachmentInfo],
    configured: Option<&Option<SanitizeHtml>>,
) -> bool {
    let undecoded = m.email.attachments.len() != attachments.len()
        || m.email
            .attachments
            .iter()
            .zip(attachments)
            .any(|(a, info)| a.size() as u64 != info.size);
    undecoded && matches!(configured, Some(Some(s)) if s.cid == CidImages::DataUrl)
}

/// One whole message (`messages show --json`): the summary fields plus bodies and
/// addresses; the attachments as the store describes them (large ones are not decoded to
/// show a message).
pub fn message_json(m: &StoredMessage, attachments: &[AttachmentInfo], html: &ShownHtml) -> Value {
    let e = &m.email;
    let (html, sanitized) = match html {
        ShownHtml::Sanitized(html) => (html.as_deref(), html.is_some()),
        ShownHtml::AsSent(html) => (html.as_deref(), false),
    };
    json!({
        "id": m.id.0,
        "account": m.account,
        "folder": m.folder,
        "message_id": e.message_id,
        "subject": e.subject,
        "from": addresses(&e.from),
        "to": addresses(&e.to),
        "cc": addresses(&e.cc),
        "date": e.date.map(rfc3339),
        "stored_at": rfc3339(m.stored_at),
        "size": e.raw.len(),
        "server_ref": server_ref(&m.server_ref),
        "attachments": attachments.iter().map(attachment).collect::<Vec<_>>(),
        "text": e.text,
        "html": html,
        "html_sanitized": sanitized,
        "warnings": e.warnings.iter().map(|w| json!({"kind": w.kind, "detail": w.detail})).collect::<Vec<_>>(),
    })
}

/// Stored message `id` as `inbound messages show --json` prints it and `GET
/// /api/v1/messages/{id}` returns it; `None` when there is no such message. `sanitizes`
/// gives an account's configured sanitizing (`None`: the account is not configured).
///
/// # Errors
/// The store's.
pub fn show_message(
    store: &dyn StoreBackend,
    id: MessageId,
    sanitizes: &dyn Fn(&str) -> Option<Option<SanitizeHtml>>,
) -> Result<Option<Value>, inbound_store::Error> {
    let Some(view) = store.get_message_lean(id)? else {
        return Ok(None);
    };
    let (mut m, attachments) = (view.message, view.attachments);
    let configured = sanitizes(&m.account);
    if needs_whole(&m, &attachments, configured.as_ref()) {
        match store.get_message(id)? {
            Some(whole) => m = whole,
            None => return Ok(None),
        }
    }
    let html = html_to_show(&m, configured);
    Ok(Some(message_json(&m, &attachments, &html)))
}

/// A fleet's status as `inbound status --json` and `GET /api/v1/fleet` give it (times in
/// milliseconds since the Unix epoch, on the database's clock).
pub fn fleet_json(status: &FleetStatus) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_751_364_000), "2025-07-01T10:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
