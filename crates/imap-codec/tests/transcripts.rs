//! RFC example transcripts: decode each side, re-encode, re-decode equal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ClientMsg, ServerMsg, Transcript, decode_client, decode_server, sides};
use inbound_imap_codec::types::{
    AuthenticateData, Code, CommandBody, Data, MessageDataItem, Response, Status, StatusKind,
};

fn run(t: &Transcript) -> (Vec<ClientMsg>, Vec<ServerMsg>) {
    let (c, s) = sides(t.text);
    let client: Vec<_> = decode_client(&[&c])
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: client side: {e}", t.name)))
        .collect();
    let server: Vec<_> = decode_server(&[&s], t.greeting)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: server side: {e}", t.name)))
        .collect();
    for m in &client {
        common::roundtrip_client(m);
    }
    for m in &server {
        common::roundtrip_server(m);
    }
    (client, server)
}

fn commands(c: &[ClientMsg]) -> Vec<&CommandBody> {
    c.iter()
        .filter_map(|m| {
            if let ClientMsg::Command(c) = m {
                Some(&c.body)
            } else {
                None
            }
        })
        .collect()
}

fn tagged_ok(s: &[ServerMsg]) -> usize {
    s.iter()
        .filter(|m| {
            matches!(m, ServerMsg::Response(Response::Status(Status::Tagged { body, .. })) if body.kind == StatusKind::Ok)
        })
        .count()
}

#[test]
fn rfc3501_section_8() {
    let (c, s) = run(&common::RFC3501_SECTION_8);
    assert_eq!(commands(&c).len(), 6);
    assert_eq!(s.len(), 16);
    assert_eq!(tagged_ok(&s), 6);
    let header = s
        .iter()
        .find_map(|m| match m {
            ServerMsg::Response(Response::Data(Data::Fetch { items, .. })) => match &items[0] {
                MessageDataItem::BodyExt { data: Some(d), .. } => Some(d.clone()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_eq!(header.len(), 342);
    assert!(header.as_bytes().ends_with(b"US-ASCII\r\n\r\n"));
}

#[test]
fn rfc2177_idle() {
    let (c, s) = run(&common::RFC2177_IDLE);
    assert_eq!(c.iter().filter(|m| matches!(m, ClientMsg::Done)).count(), 2);
    assert_eq!(commands(&c).len(), 4);
    assert_eq!(
        s.iter()
            .filter(|m| matches!(m, ServerMsg::Response(Response::Continue(_))))
            .count(),
        2
    );
    assert_eq!(tagged_ok(&s), 4);
}

#[test]
fn rfc4315_uidplus() {
    let (c, s) = run(&common::RFC4315_UIDPLUS);
    // The APPEND literal is synchronizing: the server is told to send "+".
    assert_eq!(c[0], ClientMsg::Continuation(297));
    let CommandBody::Append { message, .. } = commands(&c)[0] else {
        panic!()
    };
    assert_eq!(message.as_bytes().len(), 297);
    assert!(matches!(commands(&c)[5], CommandBody::UidExpunge { .. }));
    let codes: Vec<_> = s
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Response(Response::Status(Status::Tagged { body, .. })) => body.code.clone(),
            _ => None,
        })
        .collect();
    assert!(matches!(
        codes[0],
        Code::AppendUid {
            uid_validity: 38505,
            ..
        }
    ));
    assert!(matches!(
        codes[1],
        Code::CopyUid {
            uid_validity: 38505,
            ..
        }
    ));
}

#[test]
fn rfc6851_move() {
    let (c, s) = run(&common::RFC6851_MOVE);
    assert!(matches!(
        commands(&c)[0],
        CommandBody::Move { uid: true, .. }
    ));
    assert!(matches!(
        commands(&c)[2],
        CommandBody::Move { uid: false, .. }
    ));
    assert!(s.iter().any(|m| matches!(
        m,
        ServerMsg::Response(Response::Data(Data::Vanished { .. }))
    )));
    assert_eq!(tagged_ok(&s), 3);
}

#[test]
fn rfc7888_literal_plus() {
    let (c, _) = run(&common::RFC7888_LITERAL);
    // Non-synchronizing literals: no continuation is requested.
    assert!(!c.iter().any(|m| matches!(m, ClientMsg::Continuation(_))));
    let CommandBody::Login { username, password } = commands(&c)[0] else {
        panic!()
    };
    assert_eq!(username.as_bytes(), b"FRED FOOBAR");
    assert_eq!(password.expose().as_bytes(), b"fat man");
}

#[test]
fn extensions_and_quirks() {
    let (c, s) = run(&common::EXTENSIONS);
    let CommandBody::Authenticate {
        initial_response: Some(ir),
        ..
    } = commands(&c)[0]
    else {
        panic!()
    };
    assert_eq!(ir.expose(), b"\0fred\0fat man");
    assert!(c.contains(&ClientMsg::AuthData(AuthenticateData::Continue(
        b"".to_vec().into()
    ))));
    assert!(c.contains(&ClientMsg::Continuation(3)));
    assert_eq!(tagged_ok(&s), 13);
    // The unknown AUTHENTICATIONFAILED code is kept.
    assert!(s.iter().any(|m| matches!(m,
        ServerMsg::Response(Response::Status(Status::Tagged { body, .. }))
            if matches!(&body.code, Some(Code::Other { name, .. }) if name.as_str() == "AUTHENTICATIONFAILED"))));
    let cont = s
        .iter()
        .find_map(|m| match m {
            ServerMsg::Response(Response::Continue(c)) if !c.text.is_empty() => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(cont.base64_data().unwrap(), br#"{"status":"400"}"#);
}
