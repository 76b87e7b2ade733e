//! IMAP response decode throughput: 1,000 FETCH responses with 20 KB `BODY[]` literals
//! (fed whole and in 16 KiB reads), and 1,000 ENVELOPE/BODYSTRUCTURE-heavy FETCH responses.

#![allow(clippy::panic)] // a bench transcript that fails to decode is a bug to stop on

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inbound_benches::imap::{fetch_body_transcript, structure_transcript};
use inbound_imap_codec::types::{Data, Response};
use inbound_imap_codec::{Framer, FramerConfig, FramerEvent, Quirks, ResponseDecoder};

/// Decodes every response in `data`, fed in `chunk`-sized reads; returns the FETCH count.
fn decode_all(data: &[u8], chunk: usize) -> usize {
    let mut d = ResponseDecoder::new(Quirks::default());
    let mut fetches = 0;
    let mut buf = bytes::BytesMut::new();
    for c in data.chunks(chunk) {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(Response::Data(Data::Fetch { items, .. }))) => {
                    fetches += 1;
                    black_box(items);
                }
                Ok(Some(other)) => {
                    black_box(other);
                }
                Err(e) => panic!("bench transcript failed to decode: {e}"),
            }
        }
    }
    fetches
}

/// Frames only (no parsing).
fn frame_all(data: &[u8]) -> usize {
    let mut f = Framer::new(FramerConfig::for_responses());
    let mut buf = bytes::BytesMut::from(data);
    let mut n = 0;
    while let Some(ev) = f.next_event(&mut buf) {
        if let FramerEvent::Message(m) = ev {
            n += 1;
            black_box(m);
        }
    }
    n
}

fn benches(c: &mut Criterion) {
    let bodies = fetch_body_transcript(1000, 20 * 1024);
    let structures = structure_transcript(1000);
    assert_eq!(decode_all(&bodies, bodies.len()), 1000);
    assert_eq!(decode_all(&structures, structures.len()), 1000);

    let mut g = c.benchmark_group("imap_decode");
    g.throughput(Throughput::Bytes(bodies.len() as u64));
    g.bench_function("fetch_body_20k_x1000/whole", |b| {
        b.iter(|| decode_all(black_box(&bodies), usize::MAX));
    });
    g.bench_function("fetch_body_20k_x1000/16k_reads", |b| {
        b.iter(|| decode_all(black_box(&bodies), 16 * 1024));
    });
    g.bench_function("fetch_body_20k_x1000/frame_only", |b| {
        b.iter(|| frame_all(black_box(&bodies)));
    });
    g.throughput(Throughput::Bytes(structures.len() as u64));
    g.bench_function("envelope_bodystructure_x1000/whole", |b| {
        b.iter(|| decode_all(black_box(&structures), usize::MAX));
    });
    g.finish();
}

criterion_group!(imap, benches);
criterion_main!(imap);
