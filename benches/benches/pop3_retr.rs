//! POP3 RETR decode throughput: 1,000 responses of about 20 KB (plain, and with
//! dot-stuffed lines), fed whole and in 16 KiB reads, and one 10 MB body streamed in
//! 64 KiB reads.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use inbound_benches::pop3::retr_responses;
use inbound_pop3_codec::{
    BodyMode, Expectation, Response, ResponseConfig, ResponseDecoder, ResponseEvent,
};

/// Decodes `count` collected RETR responses from `wire`, fed in `read`-sized pieces.
fn decode_collected(wire: &[u8], count: usize, read: usize) -> usize {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    for _ in 0..count {
        dec.expect_raw(Expectation::Message(BodyMode::Collect));
    }
    let mut buf = BytesMut::with_capacity(read.min(wire.len()) * 2);
    let mut total = 0;
    let mut messages = 0;
    for piece in wire.chunks(read) {
        buf.extend_from_slice(piece);
        while let Ok(Some(event)) = dec.decode(&mut buf) {
            if let ResponseEvent::Response(Response::Message { body, .. }) = event {
                total += body.len();
                messages += 1;
            }
        }
    }
    assert_eq!(messages, count);
    total
}

fn decode_streamed(wire: &[u8], read: usize) -> usize {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect_raw(Expectation::Message(BodyMode::Stream));
    let mut buf = BytesMut::with_capacity(read * 2);
    let mut total = 0;
    let mut ended = false;
    for piece in wire.chunks(read) {
        buf.extend_from_slice(piece);
        while let Ok(Some(event)) = dec.decode(&mut buf) {
            match event {
                ResponseEvent::BodyChunk(c) => total += c.len(),
                ResponseEvent::BodyEnd => ended = true,
                _ => {}
            }
        }
    }
    assert!(ended);
    total
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pop3_retr");
    for (name, dotted) in [("plain", false), ("dot-stuffed", true)] {
        let wire = retr_responses(1000, 20 * 1024, dotted);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(format!("1000x20KB {name} whole"), |b| {
            b.iter_batched(
                || BytesMut::from(&wire[..]),
                |mut buf| {
                    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
                    for _ in 0..1000 {
                        dec.expect_raw(Expectation::Message(BodyMode::Collect));
                    }
                    let mut n = 0;
                    while let Ok(Some(e)) = dec.decode(&mut buf) {
                        n += usize::from(matches!(e, ResponseEvent::Response(_)));
                    }
                    assert_eq!(n, 1000);
                    black_box(buf)
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function(format!("1000x20KB {name} 16KiB reads"), |b| {
            b.iter(|| black_box(decode_collected(&wire, 1000, 16 * 1024)));
        });
    }
    let big = retr_responses(1, 10 * 1024 * 1024, true);
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("10MB streamed 64KiB reads", |b| {
        b.iter(|| black_box(decode_streamed(&big, 64 * 1024)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
