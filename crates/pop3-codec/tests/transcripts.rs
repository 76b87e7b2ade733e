//! Every transcript in `tests/transcripts/` (the example sessions of RFC 1939, 2449, 2595 and
//! 5034): decode each side, re-encode, compare octet for octet; check typed values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use inbound_pop3_codec::{
    ApopDigest, BodyMode, Capability, ClientLine, Command, ExpirePolicy, Response, ResponseCode,
    ResponseConfig, ResponseEvent, Timestamp,
};

fn transcript(name: &str) -> common::Transcript {
    common::all()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no transcript {name}"))
}

fn responses(d: &common::Decoded) -> Vec<&Response> {
    d.server
        .iter()
        .map(|e| match e {
            ResponseEvent::Response(r) => r,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn every_transcript_round_trips() {
    let all = common::all();
    assert!(all.len() >= 10, "transcripts found: {}", all.len());
    for t in &all {
        let decoded = common::run(t);
        assert!(!decoded.client.is_empty(), "{}", t.name);
        assert!(!decoded.server.is_empty(), "{}", t.name);
    }
}

#[test]
fn rfc1939_session_values() {
    let d = common::run(&transcript("rfc1939_session.txt"));
    let r = responses(&d);
    let Response::Greeting(g) = r[0] else {
        panic!()
    };
    let ts = g.timestamp().unwrap();
    assert_eq!(ts.as_str(), "<1896.697170952@dbc.mtview.ca.us>");
    let ClientLine::Command(Command::Apop { name, digest }) = &d.client[0] else {
        panic!()
    };
    assert_eq!(name.as_str(), "mrose");
    assert!(digest.verify(ts, b"tanstaaf"));
    assert_eq!(
        *digest,
        ApopDigest::compute(&Timestamp::new(ts.as_str()).unwrap(), b"tanstaaf")
    );
    assert!(matches!(r[2], Response::Stat(s) if s.count == 2 && s.size == 320));
    let Response::ScanList { entries, text } = r[3] else {
        panic!()
    };
    assert_eq!(text.text.as_str(), "2 messages (320 octets)");
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.msg.get(), e.size))
            .collect::<Vec<_>>(),
        [(1, 120), (2, 200)]
    );
    let Response::Message { body, text } = r[4] else {
        panic!()
    };
    assert_eq!(text.text.as_str(), "120 octets");
    assert_eq!(&body[..], b"<the POP3 server sends message 1>\r\n");
}

#[test]
fn rfc1939_commands_values() {
    let d = common::run(&transcript("rfc1939_commands.txt"));
    let r = responses(&d);
    assert!(
        r.iter()
            .any(|r| matches!(r, Response::Scan(s) if s.msg.get() == 2 && s.size == 200))
    );
    assert!(
        r.iter()
            .any(|r| matches!(r, Response::Uid(u) if u.uid.as_str() == "QhdPYR:00WBw1Ph7x7"))
    );
    let uids = r
        .iter()
        .find_map(|r| match r {
            Response::UidList { entries, .. } => Some(entries),
            _ => None,
        })
        .unwrap();
    assert_eq!(uids[0].uid.as_str(), "whqtswO00WBw418f9t5JxYwZ");
    let errs = r.iter().filter(|r| r.kind() == "err").count();
    assert_eq!(errs, 6);
    assert!(d.client.contains(&ClientLine::Command(Command::Top {
        msg: 1.try_into().unwrap(),
        lines: 10
    })));
}

#[test]
fn rfc2449_capabilities_and_codes() {
    let d = common::run(&transcript("rfc2449_capa.txt"));
    let r = responses(&d);
    let Response::Capabilities { capabilities, .. } = r[1] else {
        panic!()
    };
    assert_eq!(capabilities.len(), 9);
    assert!(capabilities.contains(&Capability::LoginDelay {
        seconds: 900,
        per_user: false
    }));
    assert!(capabilities.contains(&Capability::Expire {
        policy: ExpirePolicy::Days(60),
        per_user: false
    }));
    assert!(
        matches!(&capabilities[2], Capability::Sasl(m) if m.len() == 2 && m[1].is("kerberos_v4"))
    );
    let codes: Vec<_> = r
        .iter()
        .filter_map(|r| match r {
            Response::Status(s) => s.text.code.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        [
            ResponseCode::InUse,
            ResponseCode::LoginDelay,
            ResponseCode::SysTemp,
            ResponseCode::SysPerm,
            ResponseCode::Auth
        ]
    );
}

#[test]
fn rfc5034_sasl_exchanges() {
    let d = common::run(&transcript("rfc5034_digest_md5.txt"));
    let continuations: Vec<_> = responses(&d)
        .into_iter()
        .filter_map(|r| match r {
            Response::Continuation(c) => Some(c.decode_base64().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(continuations.len(), 2);
    assert!(continuations[1].starts_with(b"rspauth="));
    assert!(matches!(
        d.client.last(),
        Some(ClientLine::Command(Command::Quit))
    ));
    assert!(matches!(&d.client[3], ClientLine::AuthResponse(data) if data.is_empty()));

    let d = common::run(&transcript("rfc5034_plain.txt"));
    assert!(d.client.iter().any(|l| matches!(l,
        ClientLine::Command(Command::Auth { initial_response: Some(ir), .. })
            if ir.expose() == b"test\0test\0test")));

    let d = common::run(&transcript("rfc5034_cancel.txt"));
    assert_eq!(d.client[1], ClientLine::AuthCancel);
}

#[test]
fn any_chunking_gives_the_same_messages() {
    for t in common::all() {
        let whole = common::run(&t);
        for chunks in [&[1usize][..], &[2], &[3, 7], &[5, 1, 64], &[4096]] {
            let events =
                common::server_events_chunked(&t, &whole.client, ResponseConfig::default(), chunks);
            assert_eq!(events, whole.server, "{} {chunks:?}", t.name);
            let lines = common::client_lines_chunked(&t, &whole.client, chunks);
            assert_eq!(lines, whole.client, "{} {chunks:?}", t.name);
        }
    }
}

#[test]
fn streamed_bodies_equal_collected_ones() {
    for t in common::all() {
        let whole = common::run(&t);
        let mut settings = ResponseConfig::default();
        settings.body_mode = BodyMode::Stream;
        for chunks in [&[1usize][..], &[3, 7], &[4096]] {
            let events = common::server_events_chunked(&t, &whole.client, settings.clone(), chunks);
            let mut rebuilt = Vec::new();
            let mut body: Option<(inbound_pop3_codec::ResponseText, Vec<u8>)> = None;
            for e in events {
                match e {
                    ResponseEvent::BodyStart(text) => body = Some((text, Vec::new())),
                    ResponseEvent::BodyChunk(c) => body.as_mut().unwrap().1.extend_from_slice(&c),
                    ResponseEvent::BodyEnd => {
                        let (text, b) = body.take().unwrap();
                        rebuilt.push(ResponseEvent::Response(Response::Message {
                            text,
                            body: b.into(),
                        }));
                    }
                    other => rebuilt.push(other),
                }
            }
            assert_eq!(rebuilt, whole.server, "{} {chunks:?}", t.name);
        }
    }
}
