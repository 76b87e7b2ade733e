//! Parse + store throughput in messages/s, on ~20 KB multipart messages, and the cost of
//! reading one back.
//!
//! Groups: `message` (`parse`: mail-parser into `Email`; `sanitize`: ammonia, cid rewrite),
//! `store` (SQLite file store, one transaction per batch of 100 with fsync), `pipeline`
//! (parse and store, as `inbound fetch` does per message; the account sanitizes, which the
//! store does on read) and `read` (`get_message`: parse the raw message again and sanitize
//! its HTML, as `inbound messages show` does), and `hostile` (`parse_20mb_200k_parts`: a
//! 20 MB message of 200,000 parts and 10 MB of HTML `cid:` references, parsed).

#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inbound_benches::mail::{hostile_message, multipart_message};
use inbound_message::{Email, InlineImages, SanitizeConfig};
use inbound_store::{CidImages, NewMessage, SanitizeHtml, ServerRef, Store};

const SIZE: usize = 20_000;
const BATCH: usize = 100;

fn sanitize(email: &Email) -> Option<String> {
    email.sanitized_html(
        &InlineImages::RewriteCid("/a/{index}"),
        &SanitizeConfig::default(),
    )
}

/// How the account of the stored messages sanitizes (on read).
const MODE: SanitizeHtml = SanitizeHtml {
    cid: CidImages::DataUrl,
    remote_images: false,
};

/// Stores `emails` as one transaction under fresh UIDs; returns how many were new.
fn store_batch(store: &mut Store, emails: &[Email], uidvalidity: u32, next_uid: &mut u32) -> usize {
    let refs: Vec<ServerRef> = (0..emails.len() as u32)
        .map(|i| ServerRef::Imap {
            uidvalidity,
            uid: *next_uid + i,
        })
        .collect();
    *next_uid += emails.len() as u32;
    let batch: Vec<NewMessage<'_>> = refs
        .iter()
        .zip(emails)
        .map(|(r, e)| NewMessage::new("bench", "INBOX", r, e).with_sanitize(Some(&MODE)))
        .collect();
    let inserted = store.insert_messages(&batch).expect("insert");
    inserted.iter().filter(|i| i.created).count()
}

fn benches(c: &mut Criterion) {
    let raw = multipart_message(1, SIZE);
    let email = Email::parse(raw.clone());
    assert!(email.html.is_some() && email.text.is_some() && email.attachments.len() == 1);
    assert!(sanitize(&email).is_some_and(|h| h.contains("/a/0") && !h.contains("cid:")));

    let mut group = c.benchmark_group("message");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse", |b| b.iter(|| Email::parse(black_box(raw.clone()))));
    group.bench_function("sanitize", |b| b.iter(|| sanitize(black_box(&email))));
    group.finish();

    let hostile = hostile_message(200_000, 10_000_000);
    let parsed = Email::parse(hostile.clone());
    assert!(parsed.html.is_some() && parsed.attachments.len() >= 9_000);
    let mut group = c.benchmark_group("hostile");
    group.throughput(Throughput::Bytes(hostile.len() as u64));
    group.sample_size(10);
    group.bench_function("parse_20mb_200k_parts", |b| {
        b.iter(|| Email::parse(black_box(hostile.clone())));
    });
    group.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path().join("bench.sqlite"), None).expect("open store");
    let emails: Vec<Email> = (0..BATCH)
        .map(|n| Email::parse(multipart_message(n, SIZE)))
        .collect();
    let mut next_uid = 1u32;

    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("insert_batch_100", |b| {
        b.iter(|| {
            let inserted = store_batch(&mut store, &emails, 1, &mut next_uid);
            assert!(inserted == BATCH);
        });
    });
    group.finish();

    let raws: Vec<_> = (0..BATCH).map(|n| multipart_message(n, SIZE)).collect();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("parse_store_batch_100", |b| {
        b.iter(|| {
            let emails: Vec<Email> = raws.iter().map(|r| Email::parse(r.clone())).collect();
            store_batch(&mut store, &emails, 2, &mut next_uid)
        });
    });
    group.finish();

    // A filtered run (e.g. `-- hostile`) skips the groups above: store a batch to read.
    let first = |store: &Store| {
        store
            .list_messages(&inbound_store::MessageFilter::account("bench").limit(1))
            .expect("list")
            .first()
            .map(|m| m.id)
    };
    let id = match first(&store) {
        Some(id) => id,
        None => {
            store_batch(&mut store, &emails, 3, &mut next_uid);
            first(&store).expect("a stored message")
        }
    };
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_message_sanitized", |b| {
        b.iter(|| {
            let m = store
                .get_message(black_box(id))
                .expect("read")
                .expect("stored");
            assert!(m.sanitized_html.is_some());
            m
        });
    });
    group.finish();
}

criterion_group!(message_store, benches);
criterion_main!(message_store);
