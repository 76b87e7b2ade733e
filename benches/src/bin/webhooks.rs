//! Webhook delivery throughput, and the outbox's cost on storing.
//!
//! `webhooks deliver [N] [CONCURRENCY...]`: stores N (default 2000) ~20 KB messages in a
//! fresh file store, then times a [`Deliverer`] sending their signed `message.received`
//! events to a local receiver (`inbound_test_server::webhook`, HTTP/1.1 keep-alive on
//! 127.0.0.1) at each concurrency (default 1, 8, 32); prints events/s.
//!
//! `webhooks store [N]`: times storing N messages in batches of 100 (file store, WAL,
//! synchronous=FULL), as `inbound fetch` does; prints msg/s. Every stored message writes its
//! outbox event in the same transaction: compare with a build without that line for the
//! outbox's cost.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use inbound_benches::mail::multipart_message;
use inbound_message::Email;
use inbound_retrieve::delivery::{
    Deliverer, DelivererConfig, Sink, WebhookConfig, WebhookSecret, WebhookSink,
};
use inbound_store::{NewMessage, ServerRef, Store};
use inbound_test_server::webhook::{Receiver, Reply};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn emails(n: usize) -> Vec<Email> {
    (0..n)
        .map(|i| Email::parse(multipart_message(i, 20_000)))
        .collect()
}

fn store_all(store: &mut dyn inbound_store::StoreBackend, emails: &[Email], uidvalidity: u32) {
    for (b, chunk) in emails.chunks(100).enumerate() {
        let refs: Vec<ServerRef> = (0..chunk.len())
            .map(|i| ServerRef::Imap {
                uidvalidity,
                uid: (b * 100 + i + 1) as u32,
            })
            .collect();
        let batch: Vec<NewMessage<'_>> = chunk
            .iter()
            .zip(&refs)
            .map(|(e, r)| NewMessage::new("bench", "INBOX", r, e))
            .collect();
        store.insert_messages(&batch).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("deliver", String::as_str);
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let mail = emails(n);
    match mode {
        "store" => {
            // Five rounds each on a file store and in memory (no fsync); the median.
            for (kind, file) in [("file", true), ("memory", false)] {
                let mut rates = Vec::new();
                for round in 0..5 {
                    let mut store = if file {
                        Store::open(dir.path().join(format!("s{round}.sqlite")), None).unwrap()
                    } else {
                        Store::open_in_memory(None).unwrap()
                    };
                    let start = Instant::now();
                    store_all(&mut store, &mail, 1);
                    rates.push(n as f64 / start.elapsed().as_secs_f64());
                }
                rates.sort_by(f64::total_cmp);
                println!(
                    "store {kind}: {n} messages in batches of 100: median {:.0} msg/s (min {:.0}, max {:.0})",
                    rates[2], rates[0], rates[4]
                );
            }
        }
        _ => {
            let concurrencies: Vec<usize> = if args.len() > 2 {
                args[2..].iter().filter_map(|a| a.parse().ok()).collect()
            } else {
                vec![1, 8, 32]
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let receiver = rt
                .block_on(Receiver::start(|_, _| Reply::Status(200)))
                .unwrap();
            for (i, c) in concurrencies.iter().enumerate() {
                let store = Store::open(dir.path().join(format!("d{i}.sqlite")), None).unwrap();
                let store = inbound_retrieve::share(store);
                let webhook = WebhookConfig {
                    name: Some("bench".into()),
                    url: Some(receiver.url()),
                    secret_env: Some("UNUSED".into()),
                    ..WebhookConfig::default()
                }
                .validate()
                .unwrap();
                let sink: Arc<dyn Sink> = Arc::new(
                    WebhookSink::new(webhook, WebhookSecret::parse(SECRET).unwrap()).unwrap(),
                );
                let deliverer = Deliverer::new(
                    store.clone(),
                    vec![sink],
                    DelivererConfig {
                        concurrency: *c,
                        batch: 256,
                        ..DelivererConfig::default()
                    },
                );
                let before = receiver.count();
                rt.block_on(async {
                    deliverer.fan_out().unwrap();
                    store_all(&mut **store.lock().unwrap(), &mail, 1);
                    let start = Instant::now();
                    let report = deliverer.deliver_due().await.unwrap();
                    let secs = start.elapsed().as_secs_f64();
                    assert_eq!(report.delivered as usize, n);
                    println!(
                        "deliver concurrency {c}: {n} events in {secs:.3} s = {:.0} events/s",
                        n as f64 / secs
                    );
                });
                assert_eq!(receiver.count() - before, n);
            }
        }
    }
}
