//! The JSON bodies of events (`docs/webhook-event.schema.json` describes them).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use inbound_message::Address;
use inbound_store::{OutboxEvent, StoredMessage};
use serde_json::{Value, json};

/// `{"type": "message.received", "timestamp": ..., "data": {...}}` for a stored message.
///
/// `data` holds `account`, `folder`, `id` (the store's id), `message_id`, `subject`, `from`,
/// `to`, `cc`, `reply_to` (arrays of `{name, address}`), `date` (RFC 3339 or null), `text`,
/// `html` (sanitized when the account sanitizes), `attachments` (`filename`,
/// `content_type`, `size`, `content_id`, `inline`). With `include_raw`, `raw` holds the whole
/// message and each attachment its `content`, in base64.
pub fn message_received(event: &OutboxEvent, message: &StoredMessage, include_raw: bool) -> Value {
    let email = &message.email;
    let attachments: Vec<Value> = email
        .attachments
        .iter()
        .map(|a| {
            let mut v = json!({
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size(),
                "content_id": a.content_id,
                "inline": a.inline,
            });
            if include_raw {
                v["content"] = json!(STANDARD.encode(&a.content));
            }
            v
        })
        .collect();
    let mut data = json!({
        "account": message.account,
        "folder": message.folder,
        "id": message.id.0,
        "message_id": email.message_id,
        "subject": email.subject,
        "from": addresses(&email.from),
        "to": addresses(&email.to),
        "cc": addresses(&email.cc),
        "reply_to": addresses(&email.reply_to),
        "date": email.date.map(rfc3339),
        "text": email.text,
        "html": message.display_html(),
        "attachments": attachments,
    });
    if include_raw {
        data["raw"] = json!(STANDARD.encode(&email.raw));
    }
    envelope(event, data)
}

/// `{"type": ..., "timestamp": ..., "data": ...}` for an event about an account (its
/// `data` column, with `account` added).
pub fn account_event(event: &OutboxEvent) -> Value {
    let mut data = event
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    data["account"] = json!(event.account);
    envelope(event, data)
}

fn envelope(event: &OutboxEvent, data: Value) -> Value {
    let mut envelope = serde_json::Map::new();
    envelope.insert("type".into(), json!(event.kind));
    envelope.insert("timestamp".into(), json!(rfc3339_ms(event.created_at_ms)));
    envelope.insert("data".into(), data);
    Value::Object(envelope)
}

fn addresses(list: &[Address]) -> Value {
    Value::Array(
        list.iter()
            .map(|a| json!({"name": a.name, "address": a.address}))
            .collect(),
    )
}

/// Seconds since the epoch as RFC 3339 UTC, `2026-12-07T12:00:00Z`.
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

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let base = rfc3339(secs);
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// Howard Hinnant's days-to-civil: (year, month, day) of a day number (0 = 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_614_265_330), "2021-02-25T15:02:10Z");
        assert_eq!(rfc3339_ms(1_614_265_330_042), "2021-02-25T15:02:10.042Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
