//! Webhook delivery from the outbox against a receiver on 127.0.0.1: signatures, retries,
//! timeouts, 410, dead letters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use inbound_message::Email;
use inbound_retrieve::delivery::{
    Deliverer, DelivererConfig, Sink, WebhookConfig, WebhookSecret, WebhookSink,
};
use inbound_store::{DeliveryFilter, NewMessage, RetrySelection, ServerRef, Store};
use inbound_test_server::webhook::{Received, Receiver, Reply};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sink(url: &str, extra: impl FnOnce(&mut WebhookConfig)) -> Arc<dyn Sink> {
    let mut config = WebhookConfig {
        name: Some("app".into()),
        url: Some(url.into()),
        secret_env: Some("UNUSED".into()),
        retry_delay: Some("100ms".into()),
        timeout_secs: Some(1),
        ..WebhookConfig::default()
    };
    extra(&mut config);
    let webhook = config.validate().unwrap();
    Arc::new(WebhookSink::new(webhook, WebhookSecret::parse(SECRET).unwrap()).unwrap())
}

fn store_messages(store: &inbound_retrieve::SharedStore, first_uid: u32, n: u32) {
    let mut store = store.lock().unwrap();
    for uid in first_uid..first_uid + n {
        let raw = format!(
            "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: Note {uid}\r\n\
             Message-ID: <{uid}@example.org>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
             Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n\
             Hello {uid}\r\n--B\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">Hi</p><script>1</script>\r\n\
             --B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--B--\r\n"
        );
        let email = Email::parse(raw.into_bytes());
        let r = ServerRef::Imap {
            uidvalidity: 1,
            uid,
        };
        store
            .insert_message(
                &NewMessage::new("work", "INBOX", &r, &email)
                    .with_sanitize(Some(&inbound_store::SanitizeHtml::keep_cid())),
            )
            .unwrap();
    }
}

/// Checks the three Standard Webhooks headers of every request.
fn assert_signed(requests: &[Received]) {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    for r in requests {
        let id = r.header("webhook-id").unwrap();
        assert!(id.starts_with("evt_") && id.len() == 30, "{id}");
        let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - ts).abs() < 60, "timestamp {ts} is not now");
        let sig = r.header("webhook-signature").unwrap();
        assert!(secret.verify(id, ts, &r.body, sig), "bad signature on {id}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn new_store() -> (tempfile::TempDir, inbound_retrieve::SharedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.sqlite"), None).unwrap();
    (dir, inbound_retrieve::share(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_signed_after_the_receiver_fails_the_first_attempts() {
    let receiver = Receiver::start(|n, _| {
        if n < 3 {
            Reply::Status(500)
        } else {
            Reply::Status(204)
        }
    })
    .await
    .unwrap();
    let (_dir, store) = new_store();
    let deliverer = Arc::new(Deliverer::new(
        store.clone(),
        vec![sink(&receiver.url(), |_| {})],
        DelivererConfig::default(),
    ));
    deliverer.fan_out().unwrap();
    store_messages(&store, 1, 3);
    let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
    let running = deliverer.clone();
    let task = tokio::spawn(async move {
        running
            .run_until(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    wait_for("three deliveries", || {
        store
            .lock()
            .unwrap()
            .list_deliveries(DeliveryFilter::All, 10)
            .unwrap()
            .iter()
            .filter(|d| d.state == inbound_store::DeliveryState::Done)
            .count()
            == 3
    })
    .await;
    let _ = stop_tx.send(());
    task.await.unwrap();

    let requests = receiver.requests();
    assert_signed(&requests);
    // Three failed attempts then one success each: every event id at least once, the
    // failed ones again with the same id.
    assert_eq!(requests.len(), 6);
    let ids: HashSet<&str> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let events = store.lock().unwrap().list_events(10).unwrap();
    for e in &events {
        assert!(ids.contains(e.id.as_str()));
    }

    let body: serde_json::Value = serde_json::from_slice(&requests[5].body).unwrap();
    assert_eq!(body["type"], "message.received");
    let data = &body["data"];
    assert_eq!(data["account"], "work");
    assert_eq!(data["folder"], "INBOX");
    assert!(data["subject"].as_str().unwrap().starts_with("Note "));
    assert_eq!(data["from"][0]["address"], "ann@example.org");
    assert_eq!(data["date"], "2026-12-01T10:00:00Z");
    assert_eq!(data["attachments"][0]["filename"], "a.pdf");
    assert_eq!(data["attachments"][0]["size"], 4);
    // Sanitized as the account says: no script, no handler.
    let html = data["html"].as_str().unwrap();
    assert!(html.contains("Hi") && !html.contains("script") && !html.contains("onclick"));
    assert!(data.get("raw").is_none(), "raw only with include_raw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_past_the_timeout_is_tried_again() {
    let receiver = Receiver::start(|n, _| {
        if n == 0 {
            Reply::Hang
        } else {
            Reply::Status(200)
        }
    })
    .await
    .unwrap();
    let (_dir, store) = new_store();
    let deliverer = Deliverer::new(
        store.clone(),
        vec![sink(&receiver.url(), |c| c.include_raw = Some(true))],
        DelivererConfig::default(),
    );
    deliverer.fan_out().unwrap();
    store_messages(&store, 1, 1);
    let started = Instant::now();
    let first = deliverer.deliver_due().await.unwrap();
    assert_eq!(first.retrying, 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let failed = store
        .lock()
        .unwrap()
        .list_deliveries(DeliveryFilter::Failed, 10)
        .unwrap();
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("no answer"),
        "{:?}",
        failed[0].last_error
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = deliverer.deliver_due().await.unwrap();
    assert_eq!(second.delivered, 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_signed(&requests);
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert!(body["data"]["raw"].as_str().unwrap().len() > 100);
    assert_eq!(body["data"]["attachments"][0]["content"], "JVBERg==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_stops_the_webhook_and_a_requeue_starts_it_again() {
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = gone.clone();
    let receiver = Receiver::start(move |_, _| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::Status(410)
        } else {
            Reply::Status(200)
        }
    })
    .await
    .unwrap();
    let (_dir, store) = new_store();
    let deliverer = Deliverer::new(
        store.clone(),
        vec![sink(&receiver.url(), |_| {})],
        DelivererConfig {
            concurrency: 1,
            ..DelivererConfig::default()
        },
    );
    deliverer.fan_out().unwrap();
    store_messages(&store, 1, 3);
    let report = deliverer.deliver_due().await.unwrap();
    // The first answer stops the webhook: the other rows die without a request.
    assert_eq!(report.dead, 3, "{report:?}");
    assert_eq!(receiver.count(), 1);
    store_messages(&store, 4, 1);
    deliverer.deliver_due().await.unwrap();
    assert_eq!(
        receiver.count(),
        1,
        "nothing more is sent to a stopped webhook"
    );
    let dead = store
        .lock()
        .unwrap()
        .list_deliveries(DeliveryFilter::Dead, 10)
        .unwrap();
    assert_eq!(dead.len(), 4);
    assert!(
        dead.iter()
            .all(|d| d.last_error.as_deref().unwrap().contains("410"))
    );

    gone.store(false, std::sync::atomic::Ordering::SeqCst);
    let requeued = store
        .lock()
        .unwrap()
        .retry_deliveries(RetrySelection::AllDead)
        .unwrap();
    assert_eq!(requeued, 4);
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 4);
    assert_signed(&receiver.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_given_up_after_max_attempts() {
    let receiver = Receiver::start(|_, _| Reply::Status(503)).await.unwrap();
    let (_dir, store) = new_store();
    let deliverer = Deliverer::new(
        store.clone(),
        vec![sink(&receiver.url(), |c| c.max_attempts = Some(3))],
        DelivererConfig::default(),
    );
    deliverer.fan_out().unwrap();
    store_messages(&store, 1, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = deliverer.deliver_due().await.unwrap();
        if r.dead == 1 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.count(), 3);
    let dead = store
        .lock()
        .unwrap()
        .list_deliveries(DeliveryFilter::Dead, 10)
        .unwrap();
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_status, Some(503));
}

/// A small JSON Schema check for the keywords `docs/webhook-event.schema.json` uses:
/// `type`, `required`, `properties`, `items`, `enum`, `const`, `$ref` (to `#/$defs/...`),
/// and `allOf` of `if`/`then`. Returns every violation with its path; a field that an
/// object schema with a `type` does not list is one too.
fn schema_errors(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap();
        return schema_errors(root, &root["$defs"][name], value, path, out);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            out.push(format!("{path}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            out.push(format!("{path}: {value} is not one of {e:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            out.push(format!("{path}: {value} is not {c}"));
        }
    }
    if let (Some(required), Some(obj)) = (
        schema.get("required").and_then(Value::as_array),
        value.as_object(),
    ) {
        for r in required {
            if !obj.contains_key(r.as_str().unwrap()) {
                out.push(format!("{path}: {r} is required"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => schema_errors(root, s, v, &format!("{path}.{k}"), out),
                // Every field sent is documented (where the schema spells out an object).
                None if schema.get("type").is_some() => {
                    out.push(format!("{path}.{k}: not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            schema_errors(root, items, v, &format!("{path}[{i}]"), out);
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            let applies = match s.get("if") {
                Some(cond) => {
                    let mut e = Vec::new();
                    schema_errors(root, cond, value, path, &mut e);
                    e.is_empty()
                }
                None => true,
            };
            if applies {
                let then = s.get("then").unwrap_or(s);
                schema_errors(root, then, value, path, out);
            }
        }
    }
}

fn check_against_schema(body: &[u8]) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/webhook-event.schema.json")).unwrap();
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &value, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\nin {value:#}");
}

#[test]
fn the_schema_checker_catches_what_a_consumer_would_trip_on() {
    let mut bad =
        serde_json::json!({"type": "message.received", "timestamp": "x", "data": {"account": "a"}});
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/webhook-event.schema.json")).unwrap();
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &bad, "$", &mut errors);
    assert!(
        errors.iter().any(|e| e.contains("\"subject\" is required")),
        "{errors:#?}"
    );
    bad["data"]["id"] = serde_json::json!("7");
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &bad, "$", &mut errors);
    assert!(
        errors.iter().any(|e| e.starts_with("$.data.id:")),
        "{errors:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_payloads_match_the_json_schema() {
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await.unwrap();
    let (_dir, store) = new_store();
    let plain = sink(&receiver.url(), |_| {});
    let raw = sink(&receiver.url(), |c| {
        c.name = Some("raw".into());
        c.include_raw = Some(true);
    });
    let deliverer = Deliverer::new(store.clone(), vec![plain, raw], DelivererConfig::default());
    deliverer.fan_out().unwrap();
    store_messages(&store, 1, 2);
    {
        // A message with no sender, subject, body or date, and an inline image.
        let email = Email::parse(
            &b"Content-Type: multipart/related; boundary=R\r\n\r\n--R\r\nContent-Type: image/png\r\n\
               Content-ID: <img1@x>\r\nContent-Disposition: inline\r\n\r\nPNG\r\n--R--\r\n"[..],
        );
        let r = ServerRef::Pop3 { uidl: "u1".into() };
        store
            .lock()
            .unwrap()
            .insert_message(&NewMessage::new("home", "INBOX", &r, &email))
            .unwrap();
    }
    store
        .lock()
        .unwrap()
        .record_event(
            "account.failed",
            "work",
            Some(r#"{"error":"login refused"}"#),
        )
        .unwrap();
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 8);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 8);
    for r in &requests {
        check_against_schema(&r.body);
    }
    // The sample of `webhooks test` too.
    let webhook = WebhookConfig {
        name: Some("t".into()),
        url: Some(receiver.url()),
        secret_env: Some("UNUSED".into()),
        ..WebhookConfig::default()
    }
    .validate()
    .unwrap();
    let tester = WebhookSink::new(webhook, WebhookSecret::parse(SECRET).unwrap()).unwrap();
    let (id, answer) = tester.send_test().await.unwrap();
    assert_eq!(answer.status, 200);
    let sample = receiver.requests().pop().unwrap();
    assert_eq!(sample.header("webhook-id"), Some(id.as_str()));
    check_against_schema(&sample.body);
    assert_signed(&[sample]);
    assert!(requests.iter().any(|r| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        v["data"]["attachments"][0]["content_id"].is_string()
    }));
}
