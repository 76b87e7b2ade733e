//! Webhook delivery from the outbox against a receiver on 127.0.0.1: signatures, retries,
//! timeouts, 410, dead letters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
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

fn store_messages(store: &Arc<Mutex<Store>>, first_uid: u32, n: u32) {
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

fn new_store() -> (tempfile::TempDir, Arc<Mutex<Store>>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.sqlite"), None).unwrap();
    (dir, Arc::new(Mutex::new(store)))
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
