//! Property tests: stuffing round trips, encode -> decode for commands and responses, and
//! decoding under any chunking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::BytesMut;
use inbound_pop3_codec::{
    ApopDigest, BodyEncoder, BodyMode, Capability, ClientLine, Command, CommandDecoder,
    Expectation, Mechanism, MessageNumber, Password, Response, ResponseCode, ResponseConfig,
    ResponseDecoder, ResponseEvent, ResponseText, SaslData, ScanListing, Stat, StatusLine, Text,
    UidListing, UniqueId, Username, encode_body,
};
use proptest::prelude::*;

/// Decodes one complete multi-line body (RETR) from `wire`, fed in `chunks`.
fn decode_body(wire: &[u8], chunks: &[usize], mode: BodyMode) -> Vec<u8> {
    let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
    dec.expect_raw(Expectation::Message(mode));
    let mut input = b"+OK\r\n".to_vec();
    input.extend_from_slice(wire);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut done = false;
    let mut pos = 0;
    let mut k = 0;
    while !done {
        while let Some(e) = dec.decode(&mut buf).unwrap() {
            match e {
                ResponseEvent::Response(Response::Message { body: b, .. }) => {
                    body.extend_from_slice(&b);
                    done = true;
                }
                ResponseEvent::BodyChunk(c) => body.extend_from_slice(&c),
                ResponseEvent::BodyEnd => done = true,
                ResponseEvent::BodyStart(_) => {}
                other => panic!("{other:?}"),
            }
        }
        if done {
            break;
        }
        assert!(pos < input.len(), "body never ended");
        let n = chunks[k % chunks.len()].max(1);
        k += 1;
        let end = (pos + n).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
    }
    assert_eq!(pos, input.len());
    assert!(buf.is_empty());
    body
}

fn expected_body(body: &[u8]) -> Vec<u8> {
    let mut e = body.to_vec();
    if !e.is_empty() && !e.ends_with(b"\r\n") {
        e.extend_from_slice(b"\r\n");
    }
    e
}

/// Bytes rich in the characters that matter for framing.
fn framing_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'.'),
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            1 => any::<u8>(),
            2 => Just(b'a'),
        ],
        0..200,
    )
}

fn msg() -> impl Strategy<Value = MessageNumber> {
    (1u32..=u32::MAX).prop_map(|n| MessageNumber::new(n).unwrap())
}

fn vchars(max: usize) -> impl Strategy<Value = String> {
    prop::string::string_regex(&format!("[!-~]{{1,{max}}}")).unwrap()
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        vchars(255).prop_map(|u| Command::User(Username::new(u).unwrap())),
        prop::string::string_regex("[ -~]{1,255}")
            .unwrap()
            .prop_map(|p| Command::Pass(Password::new(p).unwrap())),
        (vchars(64), any::<[u8; 16]>()).prop_map(|(u, d)| Command::Apop {
            name: Username::new(u).unwrap(),
            digest: ApopDigest::from_hex(&d.iter().map(|b| format!("{b:02x}")).collect::<String>())
                .unwrap(),
        }),
        (
            prop::string::string_regex("[A-Z0-9_-]{1,20}").unwrap(),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..100))
        )
            .prop_map(|(m, ir)| Command::Auth {
                mechanism: Mechanism::new(m).unwrap(),
                initial_response: ir.map(SaslData::new),
            }),
        Just(Command::Stls),
        Just(Command::Capa),
        Just(Command::Stat),
        prop::option::of(msg()).prop_map(Command::List),
        prop::option::of(msg()).prop_map(Command::Uidl),
        (msg(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        msg().prop_map(Command::Retr),
        msg().prop_map(Command::Dele),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
    ]
}

fn text() -> impl Strategy<Value = ResponseText> {
    (
        prop::option::of(prop_oneof![
            Just(ResponseCode::InUse),
            Just(ResponseCode::SysTemp),
            Just(ResponseCode::Auth),
            Just(ResponseCode::Other("X-FOO/BAR".into())),
        ]),
        prop::string::string_regex("[^\\[\r\n\0][^\r\n\0]{0,60}|").unwrap(),
    )
        .prop_map(|(code, t)| ResponseText {
            code,
            text: Text::new(t).unwrap(),
        })
}

fn response_with_expectation() -> impl Strategy<Value = (Response, Expectation)> {
    prop_oneof![
        (text(), any::<bool>()).prop_map(|(t, ok)| (
            Response::Status(if ok {
                StatusLine::ok(t)
            } else {
                StatusLine::err(t)
            }),
            Expectation::Status
        )),
        (any::<u32>(), any::<u64>())
            .prop_map(|(count, size)| (Response::Stat(Stat { count, size }), Expectation::Stat)),
        (msg(), any::<u64>())
            .prop_map(|(msg, size)| (Response::Scan(ScanListing { msg, size }), Expectation::Scan)),
        (text(), prop::collection::vec((msg(), vchars(70)), 0..5)).prop_map(|(text, e)| (
            Response::UidList {
                text,
                entries: e
                    .into_iter()
                    .map(|(msg, u)| UidListing {
                        msg,
                        uid: UniqueId::new(u).unwrap()
                    })
                    .collect()
            },
            Expectation::UidList
        )),
        (text(), prop::collection::vec((msg(), any::<u64>()), 0..5)).prop_map(|(text, e)| (
            Response::ScanList {
                text,
                entries: e
                    .into_iter()
                    .map(|(msg, size)| ScanListing { msg, size })
                    .collect()
            },
            Expectation::ScanList
        )),
        text().prop_map(|text| (
            Response::Capabilities {
                text,
                capabilities: vec![Capability::Top, Capability::Stls, Capability::Pipelining]
            },
            Expectation::Capabilities
        )),
        (text(), framing_bytes()).prop_map(|(text, b)| (
            Response::Message {
                text,
                body: expected_body(&b).into()
            },
            Expectation::Message(BodyMode::Collect)
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn stuff_then_unstuff_is_identity(
        body in prop_oneof![framing_bytes(), prop::collection::vec(any::<u8>(), 0..300)],
        chunks in prop::collection::vec(1usize..20, 1..5),
        stream in any::<bool>(),
    ) {
        let mut wire = BytesMut::new();
        encode_body(&body, &mut wire);
        let mode = if stream { BodyMode::Stream } else { BodyMode::Collect };
        prop_assert_eq!(decode_body(&wire, &chunks, mode), expected_body(&body));
    }

    #[test]
    fn body_encoder_is_chunking_independent(
        body in framing_bytes(),
        cuts in prop::collection::vec(0usize..200, 0..6),
    ) {
        let mut whole = BytesMut::new();
        encode_body(&body, &mut whole);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.sort_unstable();
        let mut pieces = BytesMut::new();
        let mut enc = BodyEncoder::new();
        let mut from = 0;
        for c in cuts.into_iter().chain([body.len()]) {
            enc.push(&body[from..c], &mut pieces);
            from = c;
        }
        enc.finish(&mut pieces);
        prop_assert_eq!(&pieces[..], &whole[..]);
    }

    #[test]
    fn commands_round_trip(cmd in command()) {
        let mut buf = BytesMut::new();
        cmd.encode(&mut buf);
        let mut dec = CommandDecoder::default();
        let decoded = dec.decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(ClientLine::Command(cmd)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn sasl_lines_round_trip(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let line = ClientLine::AuthResponse(SaslData::new(data));
        let mut buf = BytesMut::new();
        line.encode(&mut buf);
        let mut dec = CommandDecoder::default();
        dec.expect_auth_response();
        prop_assert_eq!(dec.decode(&mut buf).unwrap(), Some(line));
    }

    #[test]
    fn responses_round_trip(
        items in prop::collection::vec(response_with_expectation(), 1..6),
        chunk in 1usize..50,
    ) {
        let mut dec = ResponseDecoder::without_greeting(ResponseConfig::default());
        let mut wire = Vec::new();
        for (r, e) in &items {
            wire.extend_from_slice(&r.to_bytes());
            dec.expect_raw(*e);
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(ResponseEvent::Response(r)) = dec.decode(&mut buf).unwrap() {
                got.push(r);
            }
        }
        let want: Vec<Response> = items.into_iter().map(|(r, _)| r).collect();
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn transcripts_decode_the_same_under_any_chunking(
        which in any::<prop::sample::Index>(),
        chunks in prop::collection::vec(1usize..300, 1..8),
    ) {
        let all = common::all();
        let t = which.get(&all);
        let whole = common::run(t);
        let events = common::server_events_chunked(t, &whole.client, ResponseConfig::default(), &chunks);
        prop_assert_eq!(events, whole.server);
        let lines = common::client_lines_chunked(t, &whole.client, &chunks);
        prop_assert_eq!(lines, whole.client);
    }
}
