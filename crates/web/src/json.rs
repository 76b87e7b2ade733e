//! The JSON forms of messages: the same objects `inbound messages list --json` and
//! `inbound messages show --json` print.

use inbound_message::Address;
use inbound_store::{AttachmentInfo, MessageSummary, ServerRef, StoredMessage};
use serde_json::{Value, json};

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD HH:MM` (UTC), for tables.
pub(crate) fn short_date(secs: i64) -> String {
    let full = rfc3339(secs);
    full.get(..16).map_or(full.clone(), |s| s.replace('T', " "))
}

/// A list of addresses as `Name <addr>, addr`.
pub(crate) fn addresses(list: &[Address]) -> String {
    list.iter()
        .map(|a| match &a.name {
            Some(name) if !name.is_empty() => format!("{name} <{}>", a.address),
            _ => a.address.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

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
pub(crate) fn summary_json(m: &MessageSummary) -> Value {
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

/// One whole message (`messages show --json`): `html` is the body to show and `sanitized`
/// says whether it was sanitized.
pub(crate) fn message_json(
    m: &StoredMessage,
    attachments: &[AttachmentInfo],
    html: Option<&str>,
    sanitized: bool,
) -> Value {
    let e = &m.email;
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
        "html_sanitized": sanitized && html.is_some(),
        "warnings": e.warnings.iter().map(|w| json!({"kind": w.kind, "detail": w.detail})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(short_date(1_700_000_000), "2023-11-14 22:13");
    }
}
