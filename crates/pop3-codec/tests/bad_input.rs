//! Hostile input: typed errors, no panics, bounded buffering, and the decoder stays in sync.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use inbound_pop3_codec::{
    BodyMode, ClientLine, Command, CommandDecoder, DecodeErrorKind, Expectation, MessageNumber,
    Response, ResponseConfig, ResponseDecoder, ResponseEvent,
};
use proptest::prelude::*;

/// Feeds `input` in `chunk`-sized pieces, collecting events and errors, and returns the
/// largest buffer length seen after decoding (what the codec kept buffered).
fn feed_responses(
    dec: &mut ResponseDecoder,
    input: &[u8],
    chunk: usize,
) -> (
    Vec<ResponseEvent>,
    Vec<inbound_pop3_codec::DecodeError>,
    usize,
) {
    let mut buf = BytesMut::new();
    let (mut events, mut errors, mut max_kept) = (Vec::new(), Vec::new(), 0);
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => errors.push(e),
            }
        }
        max_kept = max_kept.max(buf.len());
    }
    (events, errors, max_kept)
}

fn retr() -> Command {
    Command::Retr(MessageNumber::new(1).unwrap())
}

#[test]
fn ten_megabyte_status_line_is_rejected_with_bounded_buffering() {
    let mut dec = ResponseDecoder::default();
    dec.expect(&Command::Noop);
    let mut input = b"+OK ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    input.extend_from_slice(b"\r\n+OK noop\r\n");
    let (events, errors, max_kept) = feed_responses(&mut dec, &input, 64 * 1024);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        *errors[0].kind(),
        DecodeErrorKind::LineTooLong { limit: 8192 }
    );
    assert_eq!(errors[0].offset(), 8192);
    assert!(errors[0].excerpt().as_str().len() < 60);
    // Bounded: never more than one read plus the line limit held.
    assert!(max_kept <= 64 * 1024 + 8192, "kept {max_kept}");
    // In sync afterwards: the greeting was the long line, NOOP gets its answer.
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0], ResponseEvent::Response(Response::Status(s)) if s.text.text.as_str() == "noop")
    );
}

#[test]
fn ten_megabyte_command_line_is_rejected() {
    let mut dec = CommandDecoder::default();
    let mut input = b"USER ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let mut buf = BytesMut::new();
    let (mut lines, mut errors, mut max_kept) = (Vec::new(), Vec::new(), 0);
    for piece in input.chunks(100_000) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => break,
                Err(e) => errors.push(e),
            }
        }
        max_kept = max_kept.max(buf.len());
    }
    assert_eq!(errors.len(), 1);
    assert!(matches!(
        errors[0].kind(),
        DecodeErrorKind::LineTooLong { .. }
    ));
    assert_eq!(lines, [ClientLine::Command(Command::Quit)]);
    assert!(max_kept <= 100_000 + 64 * 1024);
}

/// A too-long line followed, in the same read, by pipelined commands: only the long line is
/// lost (the server once dropped the whole buffer with it).
#[test]
fn long_command_line_in_one_read_keeps_the_commands_after_it() {
    let mut dec = CommandDecoder::default();
    let mut input = b"USER ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 200_000));
    input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    let mut buf = BytesMut::from(&input[..]);
    let (mut lines, mut errors) = (Vec::new(), Vec::new());
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(l)) => lines.push(l),
            Ok(None) => break,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(errors.len(), 1);
    assert_eq!(
        lines,
        [
            ClientLine::Command(Command::Noop),
            ClientLine::Command(Command::Quit)
        ]
    );
}

/// The client side of the same: a too-long status line and the next answers in one read.
#[test]
fn long_status_line_in_one_read_keeps_the_answers_after_it() {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect(&Command::Noop);
    dec.expect(&Command::Noop);
    dec.expect(&Command::Noop);
    let mut input = b"+OK ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\r\n+OK second\r\n+OK third\r\n");
    let (events, errors, _) = feed_responses(&mut dec, &input, input.len());
    assert_eq!(errors.len(), 1);
    assert_eq!(events.len(), 2, "{events:?}");
}

#[test]
fn unterminated_body_needs_more_then_hits_the_cap() {
    let mut settings = ResponseConfig::default();
    settings.max_body_size = 1024 * 1024;
    let mut dec = ResponseDecoder::without_greeting(settings);
    dec.expect(&retr());
    dec.expect(&Command::Noop);
    let mut input = b"+OK\r\n".to_vec();
    for _ in 0..100_000 {
        input.extend_from_slice(b"a line of the body that never ends\r\n");
    }
    let (events, errors, _) = feed_responses(&mut dec, &input, 8192);
    assert!(events.is_empty());
    assert_eq!(errors.len(), 1);
    assert_eq!(
        *errors[0].kind(),
        DecodeErrorKind::BodyTooLarge { limit: 1024 * 1024 }
    );
    // While skipping, nothing accumulates; the terminator brings the stream back in sync.
    let (events, errors, max_kept) =
        feed_responses(&mut dec, b"more\r\n.\r\n+OK still in sync\r\n", 3);
    assert!(errors.is_empty());
    assert!(max_kept < 32, "kept {max_kept}");
    assert!(
        matches!(&events[..], [ResponseEvent::Response(Response::Status(s))] if s.text.text.as_str() == "still in sync")
    );
}

#[test]
fn unterminated_body_in_stream_mode_never_buffers() {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect_raw(Expectation::Message(BodyMode::Stream));
    let mut input = b"+OK\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'z', 5 * 1024 * 1024));
    let (events, errors, max_kept) = feed_responses(&mut dec, &input, 4096);
    assert!(errors.is_empty());
    assert!(max_kept <= 4096);
    let streamed: usize = events
        .iter()
        .map(|e| match e {
            ResponseEvent::BodyChunk(c) => c.len(),
            _ => 0,
        })
        .sum();
    assert!(streamed >= 5 * 1024 * 1024 - 2);
}

#[test]
fn streamed_size_cap_is_enforced() {
    let mut settings = ResponseConfig::default();
    settings.max_streamed_body_size = Some(10_000);
    settings.body_mode = BodyMode::Stream;
    let mut dec = ResponseDecoder::without_greeting(settings);
    dec.expect(&retr());
    let mut input = b"+OK\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'z', 20_000));
    input.extend_from_slice(b"\r\n.\r\n");
    let (events, errors, _) = feed_responses(&mut dec, &input, 1000);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        *errors[0].kind(),
        DecodeErrorKind::BodyTooLarge { limit: 10_000 }
    );
    let streamed: usize = events
        .iter()
        .map(|e| match e {
            ResponseEvent::BodyChunk(c) => c.len(),
            _ => 0,
        })
        .sum();
    assert!(streamed <= 10_000);
}

#[test]
fn nul_octets_are_typed_errors() {
    let mut dec = ResponseDecoder::default();
    dec.expect(&Command::Noop);
    let (events, errors, _) = feed_responses(&mut dec, b"+OK hi\0there\r\n+OK\r\n", 5);
    assert_eq!(errors.len(), 1);
    assert_eq!(*errors[0].kind(), DecodeErrorKind::NulOctet);
    assert_eq!(errors[0].offset(), 6);
    assert_eq!(errors[0].excerpt().as_str(), "+OK hi\\x00there");
    assert_eq!(events.len(), 1);

    let mut dec = CommandDecoder::default();
    let mut buf = BytesMut::from(&b"NOOP\0\r\nPASS se\0cret\r\nSTAT\r\n"[..]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!(*e.kind(), DecodeErrorKind::NulOctet);
    let e = dec.decode(&mut buf).unwrap_err();
    // The password never reaches the error.
    assert_eq!(e.excerpt().as_str(), "PASS [redacted]");
    assert!(!e.to_string().contains("cret"), "{e}");
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(ClientLine::Command(Command::Stat))
    );
}

#[test]
fn nul_in_a_listing_skips_the_listing() {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect(&Command::Uidl(None));
    dec.expect(&Command::Noop);
    let input = b"+OK\r\n1 abc\r\n2 d\0f\r\n3 ghi\r\n.\r\n+OK\r\n";
    let (events, errors, _) = feed_responses(&mut dec, input, 4);
    assert_eq!(errors.len(), 1);
    assert_eq!(*errors[0].kind(), DecodeErrorKind::NulOctet);
    assert_eq!(events.len(), 1);
}

#[test]
fn malformed_replies_are_typed() {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect(&Command::Stat);
    dec.expect(&Command::List(None));
    dec.expect(&Command::Noop);
    let input = b"+OK lots\r\n+OK\r\n1 x\r\n2 200\r\n.\r\nhello\r\n";
    let (events, errors, _) = feed_responses(&mut dec, input, 1);
    let kinds: Vec<_> = errors.iter().map(|e| e.kind().clone()).collect();
    assert_eq!(
        kinds,
        [
            DecodeErrorKind::Malformed { what: "STAT reply" },
            DecodeErrorKind::Malformed {
                what: "scan listing"
            },
            DecodeErrorKind::Malformed {
                what: "status line"
            },
        ]
    );
    assert!(events.is_empty());
    // Nothing outstanding: a response is unexpected.
    let (_, errors, _) = feed_responses(&mut dec, b"+OK\r\n", 10);
    assert_eq!(*errors[0].kind(), DecodeErrorKind::Unexpected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(
        input in prop::collection::vec(any::<u8>(), 0..4000),
        chunk in 1usize..100,
        expectations in prop::collection::vec(0usize..10, 0..20),
    ) {
        let all = [
            Expectation::Greeting, Expectation::Status, Expectation::Stat, Expectation::Scan,
            Expectation::Uid, Expectation::ScanList, Expectation::UidList,
            Expectation::Capabilities, Expectation::Message(BodyMode::Collect),
            Expectation::Message(BodyMode::Stream),
        ];
        let mut settings = ResponseConfig::default();
        settings.max_line_len = 256;
        settings.max_body_size = 1000;
        let mut dec = ResponseDecoder::without_greeting(settings);
        for e in expectations {
            dec.expect_raw(all[e]);
        }
        dec.expect_raw(Expectation::Auth);
        let (_, errors, max_kept) = feed_responses(&mut dec, &input, chunk);
        for e in &errors {
            prop_assert!(e.offset() <= input.len() as u64);
            prop_assert!(e.excerpt().as_str().len() <= 4 * 40 + 3);
        }
        prop_assert!(max_kept <= 1000 + 2 + chunk + 256, "kept {}", max_kept);

        let mut dec = CommandDecoder::default();
        let mut buf = BytesMut::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Ok(Some(_)) | Err(_) = dec.decode(&mut buf) {}
        }
    }
}
