//! IMAP response parsers compared on the same generated transcripts: Inbound's codec
//! (`inbound-imap-codec`), imap-proto 0.16 (the parser under async-imap 0.11) and
//! imap-codec 2.0.0-alpha.10.
//!
//! Each parser parses a whole response stream the way a client does, producing typed
//! values for every response:
//! - `imap-proto`: `parse_response` in a loop over the rest of the input;
//! - `imap-codec`: `ResponseCodec::decode` in a loop;
//! - `inbound/feed`: `ResponseDecoder::decode` until `Ok(None)` over a `BytesMut` the
//!   stream is copied into once, as a client's socket reads fill its buffer;
//! - `inbound/bytes`: `decode_response_prefix` in a loop over a `Bytes` the caller already
//!   holds (no copy: frames and literals are slices of it).
//!
//! Every pass is summarised as [`Facts`] (response and FETCH counts, literal bytes, UIDs,
//! flags, EXISTS/EXPUNGE numbers, addresses, body part sizes, the first subject), which are
//! checked against the generator's before anything is timed.
//!
//! `PARSERS_ONCE="<parser> <case>"` (parser: `imap-proto`, `imap-codec`, `inbound-feed`,
//! `inbound-bytes`; case: `fetch_body_20k`, `envelope_bodystructure`, `status_lines`) runs
//! one pass on a smaller transcript and exits, for `valgrind --tool=callgrind
//! --collect-atstart=no --toggle-collect='*parsers::pass_*'`.

#![allow(clippy::panic)] // a bench transcript that fails to parse is a bug to stop on

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use inbound_benches::imap::{Case, Facts, fetch_body_case, status_lines_case, structure_case};

/// The parsers, by the names used in bench ids and `PARSERS_ONCE`.
const PARSERS: [&str; 4] = ["imap-proto", "imap-codec", "inbound-feed", "inbound-bytes"];

/// Runs parser `name` once over `case`.
fn run(name: &str, case: &Case, shared: &Bytes) -> Facts {
    match name {
        "imap-proto" => pass_imap_proto(&case.bytes),
        "imap-codec" => pass_imap_codec(&case.bytes),
        "inbound-feed" => pass_inbound_feed(&case.bytes),
        "inbound-bytes" => pass_inbound_bytes(shared),
        other => panic!("unknown parser {other}"),
    }
}

// ---------------------------------------------------------------- imap-proto 0.16

#[inline(never)]
fn pass_imap_proto(buf: &[u8]) -> Facts {
    let mut facts = Facts::default();
    let mut rest = buf;
    while !rest.is_empty() {
        match imap_proto::parser::parse_response(rest) {
            Ok((r, resp)) => {
                proto::add(&mut facts, &resp);
                rest = r;
            }
            Err(e) => panic!(
                "imap-proto failed at offset {}: {e:?}",
                buf.len() - rest.len()
            ),
        }
    }
    facts
}

mod proto {
    use imap_proto::types::{AttributeValue, BodyStructure, MailboxDatum, Response, Status};
    use inbound_benches::imap::Facts;

    pub(super) fn add(f: &mut Facts, r: &Response<'_>) {
        f.responses += 1;
        match r {
            Response::MailboxData(MailboxDatum::Exists(n)) => f.exists_sum += u64::from(*n),
            Response::Expunge(n) => f.expunge_sum += u64::from(*n),
            Response::Done {
                status: Status::Ok, ..
            } => f.tagged_ok += 1,
            Response::Fetch(_, items) => {
                f.fetches += 1;
                for item in items {
                    match item {
                        AttributeValue::Uid(u) => f.uid_sum += u64::from(*u),
                        AttributeValue::Flags(l) => f.flags += l.len(),
                        AttributeValue::BodySection { data, .. } => {
                            f.literal_bytes += data.as_ref().map_or(0, |d| d.len() as u64);
                        }
                        AttributeValue::Envelope(e) => {
                            for l in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
                                f.addresses += l.as_ref().map_or(0, Vec::len);
                            }
                            if f.first_subject.is_none() {
                                f.first_subject = e.subject.as_ref().map(|s| s.to_vec());
                            }
                        }
                        AttributeValue::BodyStructure(b) => f.body_part_octets += octets(b),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn octets(b: &BodyStructure<'_>) -> u64 {
        match b {
            BodyStructure::Basic { other, .. }
            | BodyStructure::Text { other, .. }
            | BodyStructure::Message { other, .. } => u64::from(other.octets),
            BodyStructure::Multipart { bodies, .. } => bodies.iter().map(octets).sum(),
        }
    }
}

// ---------------------------------------------------------------- imap-codec 2.0.0-alpha.10

#[inline(never)]
fn pass_imap_codec(buf: &[u8]) -> Facts {
    use imap_codec::ResponseCodec;
    use imap_codec::decode::Decoder;
    let codec = ResponseCodec::default();
    let mut facts = Facts::default();
    let mut rest = buf;
    while !rest.is_empty() {
        match codec.decode(rest) {
            Ok((r, resp)) => {
                codec_types::add(&mut facts, &resp);
                rest = r;
            }
            Err(e) => panic!(
                "imap-codec failed at offset {}: {e:?}",
                buf.len() - rest.len()
            ),
        }
    }
    facts
}

mod codec_types {
    use imap_codec::imap_types::body::BodyStructure;
    use imap_codec::imap_types::fetch::MessageDataItem;
    use imap_codec::imap_types::response::{Data, Response, Status, StatusKind};
    use inbound_benches::imap::Facts;

    pub(super) fn add(f: &mut Facts, r: &Response<'_>) {
        f.responses += 1;
        match r {
            Response::Data(Data::Exists(n)) => f.exists_sum += u64::from(*n),
            Response::Data(Data::Expunge(n)) => f.expunge_sum += u64::from(n.get()),
            Response::Status(Status::Tagged(t)) if t.body.kind == StatusKind::Ok => {
                f.tagged_ok += 1;
            }
            Response::Data(Data::Fetch { items, .. }) => {
                f.fetches += 1;
                for item in items.as_ref() {
                    match item {
                        MessageDataItem::Uid(u) => f.uid_sum += u64::from(u.get()),
                        MessageDataItem::Flags(l) => f.flags += l.len(),
                        MessageDataItem::BodyExt { data, .. } => {
                            f.literal_bytes += data
                                .0
                                .as_ref()
                                .map_or(0, |d| AsRef::<[u8]>::as_ref(d).len() as u64);
                        }
                        MessageDataItem::Envelope(e) => {
                            for l in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
                                f.addresses += l.len();
                            }
                            if f.first_subject.is_none() {
                                f.first_subject = e
                                    .subject
                                    .0
                                    .as_ref()
                                    .map(|s| AsRef::<[u8]>::as_ref(s).to_vec());
                            }
                        }
                        MessageDataItem::BodyStructure(b) => f.body_part_octets += octets(b),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn octets(b: &BodyStructure<'_>) -> u64 {
        match b {
            BodyStructure::Single { body, .. } => u64::from(body.basic.size),
            BodyStructure::Multi { bodies, .. } => bodies.as_ref().iter().map(octets).sum(),
        }
    }
}

// ---------------------------------------------------------------- Inbound

#[inline(never)]
fn pass_inbound_feed(buf: &[u8]) -> Facts {
    use inbound_imap_codec::{Quirks, ResponseDecoder};
    let mut d = ResponseDecoder::new(Quirks::default());
    let mut facts = Facts::default();
    let mut buf = bytes::BytesMut::from(buf);
    loop {
        match d.decode(&mut buf) {
            Ok(None) => break,
            Ok(Some(resp)) => inbound::add(&mut facts, &resp),
            Err(e) => panic!("Inbound failed: {e}"),
        }
    }
    if d.framer().has_partial(&buf) {
        panic!("Inbound left a partial message");
    }
    facts
}

#[inline(never)]
fn pass_inbound_bytes(buf: &Bytes) -> Facts {
    use inbound_imap_codec::{Quirks, decode_response_prefix};
    let mut facts = Facts::default();
    let mut rest = buf.clone();
    let quirks = Quirks::default();
    while !rest.is_empty() {
        match decode_response_prefix(&rest, quirks) {
            Ok((resp, n)) => {
                inbound::add(&mut facts, &resp);
                bytes::Buf::advance(&mut rest, n);
            }
            Err(e) => panic!("Inbound failed at offset {}: {e}", buf.len() - rest.len()),
        }
    }
    facts
}

mod inbound {
    use inbound_benches::imap::Facts;
    use inbound_imap_codec::types::{
        BodyStructure, Data, MessageDataItem, Response, Status, StatusKind,
    };

    pub(super) fn add(f: &mut Facts, r: &Response) {
        f.responses += 1;
        match r {
            Response::Data(Data::Exists(n)) => f.exists_sum += u64::from(*n),
            Response::Data(Data::Expunge(n)) => f.expunge_sum += u64::from(n.get()),
            Response::Status(Status::Tagged { body, .. }) if body.kind == StatusKind::Ok => {
                f.tagged_ok += 1;
            }
            Response::Data(Data::Fetch { items, .. }) => {
                f.fetches += 1;
                for item in items {
                    match item {
                        MessageDataItem::Uid(u) => f.uid_sum += u64::from(u.get()),
                        MessageDataItem::Flags(l) => f.flags += l.len(),
                        MessageDataItem::BodyExt { data, .. } => {
                            f.literal_bytes += data.as_ref().map_or(0, |d| d.len() as u64);
                        }
                        MessageDataItem::Envelope(e) => {
                            for l in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
                                f.addresses += l.len();
                            }
                            if f.first_subject.is_none() {
                                f.first_subject = e.subject.as_ref().map(|s| s.as_bytes().to_vec());
                            }
                        }
                        MessageDataItem::BodyStructure(b) => f.body_part_octets += octets(b),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn octets(b: &BodyStructure) -> u64 {
        match b {
            BodyStructure::Single { body, .. } => u64::from(body.basic.size),
            BodyStructure::Multi { bodies, .. } => bodies.iter().map(octets).sum(),
        }
    }
}

// ---------------------------------------------------------------- harness

/// The transcripts: full size for the timed benches, smaller (`small`) for one-pass runs.
fn cases(small: bool) -> Vec<Case> {
    if small {
        vec![
            fetch_body_case(100, 20 * 1024),
            structure_case(200),
            status_lines_case(500),
        ]
    } else {
        vec![
            fetch_body_case(1000, 20 * 1024),
            structure_case(1000),
            status_lines_case(5000),
        ]
    }
}

/// Checks every parser's output on `case` against the generator's facts.
fn check(case: &Case, shared: &Bytes) {
    for p in PARSERS {
        let got = run(p, case, shared);
        assert_eq!(got, case.expected, "{p} on {}", case.name);
    }
}

fn benches(c: &mut Criterion) {
    let cases = cases(false);
    let mut g = c.benchmark_group("parsers");
    for case in &cases {
        let shared = Bytes::from(case.bytes.clone());
        check(case, &shared);
        g.throughput(Throughput::Bytes(case.bytes.len() as u64));
        for p in PARSERS {
            g.bench_with_input(BenchmarkId::new(case.name, p), case, |b, case| {
                b.iter(|| run(black_box(p), black_box(case), black_box(&shared)));
            });
        }
    }
    g.finish();
}

/// `PARSERS_ONCE="<parser> <case>"`: one checked pass, for callgrind.
fn once(sel: &str) {
    let mut words = sel.split_whitespace();
    let (Some(parser), Some(name)) = (words.next(), words.next()) else {
        panic!("PARSERS_ONCE wants \"<parser> <case>\", got {sel:?}");
    };
    let Some(case) = cases(true).into_iter().find(|c| c.name == name) else {
        panic!("unknown case {name}");
    };
    let shared = Bytes::from(case.bytes.clone());
    let got = run(parser, &case, &shared);
    assert_eq!(got, case.expected, "{parser} on {name}");
    println!(
        "{parser} {name}: {} bytes, {} responses",
        case.bytes.len(),
        got.responses
    );
}

criterion_group!(parsers, benches);

fn main() {
    if let Ok(sel) = std::env::var("PARSERS_ONCE") {
        once(&sel);
        return;
    }
    parsers();
    Criterion::default().configure_from_args().final_summary();
}
