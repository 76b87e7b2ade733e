//! Hostile input: typed errors, bounded memory, no panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use inbound_imap_codec::{
    CommandDecoder, DecodeError, FrameError, Framer, FramerConfig, FramerEvent, Quirks,
    ResponseDecoder, decode_command_prefix, decode_response_prefix,
};
use proptest::prelude::*;

#[test]
fn huge_literal_claim() {
    let mut d = ResponseDecoder::new(Quirks::default());
    let mut buf = BytesMut::from(&b"* 1 FETCH (BODY[] {18446744073709551615}\r\nsome bytes"[..]);
    let err = d.decode(&mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Frame(FrameError::MessageTooLarge { offset: 0, .. })
        ),
        "{err:?}"
    );
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 0, "literal bytes are discarded, not buffered");
    // One-shot decoding says the same.
    let buf = Bytes::from_static(b"* 1 FETCH (BODY[] {18446744073709551615}\r\nx)\r\n");
    assert!(matches!(
        decode_response_prefix(&buf, Quirks::default()),
        Err(DecodeError::Frame(_))
    ));
    // A claim that overflows even u64 is no different.
    let buf = Bytes::from_static(b"* 1 FETCH (BODY[] {99999999999999999999999}\r\nx)\r\n");
    assert!(matches!(
        decode_response_prefix(&buf, Quirks::default()),
        Err(DecodeError::Frame(_))
    ));
}

#[test]
fn huge_sync_literal_from_client_is_refused_without_waiting() {
    let mut d = CommandDecoder::new(Quirks::default());
    let mut buf = BytesMut::from(&b"a1 APPEND INBOX {18446744073709551615}\r\na2 NOOP\r\n"[..]);
    let err = d.decode(&mut buf).unwrap_err();
    let DecodeError::Frame(FrameError::MessageTooLarge {
        tag,
        literal_follows: false,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(tag.as_ref().unwrap().as_str(), "a1");
    // The client will not send the literal; the next command is read normally.
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(inbound_imap_codec::CommandEvent::Message(_)))
    ));
}

#[test]
fn ten_megabyte_line_without_crlf() {
    let cfg = FramerConfig {
        max_line_len: 64 * 1024,
        max_message_len: 1 << 20,
        announce_sync_literals: false,
    };
    let mut d = ResponseDecoder::with_config(cfg, Quirks::default());
    let chunk = vec![b'x'; 16 * 1024];
    let mut errors = Vec::new();
    let mut buf = BytesMut::new();
    for _ in 0..640 {
        buf.extend_from_slice(&chunk);
        loop {
            match d.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(r)) => panic!("{r:?}"),
                Err(e) => errors.push(e),
            }
        }
        assert!(buf.len() <= cfg.max_line_len + chunk.len());
    }
    assert_eq!(errors.len(), 1);
    assert!(matches!(
        errors[0],
        DecodeError::Frame(FrameError::LineTooLong { offset: 0, .. })
    ));
    // Sync is kept: the next message after the long line decodes.
    buf.extend_from_slice(b"\r\n* 5 EXISTS\r\n");
    let r = d.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        r,
        inbound_imap_codec::types::Response::Data(inbound_imap_codec::types::Data::Exists(5))
    );
}

#[test]
fn invalid_message_is_typed_and_short() {
    let mut d = ResponseDecoder::new(Quirks::default());
    let mut line = b"* 1 FETCH (UID x".to_vec();
    line.extend(std::iter::repeat_n(b'y', 10_000));
    line.extend_from_slice(b")\r\n* 2 EXISTS\r\n");
    let mut buf = BytesMut::from(&line[..]);
    let err = d.decode(&mut buf).unwrap_err();
    let DecodeError::Invalid {
        offset, excerpt, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*offset, 15);
    assert!(excerpt.as_str().len() < 64, "{excerpt}");
    assert!(err.to_string().len() < 200);
    assert!(d.decode(&mut buf).unwrap().is_some());
}

#[test]
fn login_errors_do_not_leak_the_password() {
    let buf = Bytes::from_static(b"a1 LOGIN fred \"hunter2\\q\"\r\n");
    let err = decode_command_prefix(&buf, Quirks::default()).unwrap_err();
    assert!(!format!("{err:?} {err}").contains("hunter2"));
    let buf = Bytes::from_static(b"a1 LOGIN fred hunter2\r\n");
    let (cmd, _) = decode_command_prefix(&buf, Quirks::default()).unwrap();
    assert!(!format!("{cmd:?}").contains("hunter2"));
}

#[test]
fn incomplete_is_not_invalid() {
    for partial in [
        &b"* 1 FETCH (BODY[] {10}\r\nabc"[..],
        b"* OK hello",
        b"a1 OK",
    ] {
        let buf = Bytes::copy_from_slice(partial);
        assert_eq!(
            decode_response_prefix(&buf, Quirks::default()).unwrap_err(),
            DecodeError::Incomplete
        );
    }
}

#[test]
fn bare_lf_is_opt_in() {
    let buf = Bytes::from_static(b"* 3 EXISTS\n");
    assert!(matches!(
        decode_response_prefix(&buf, Quirks::default()),
        Err(DecodeError::Invalid { .. })
    ));
    assert!(decode_response_prefix(&buf, Quirks::lenient()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let cfg = FramerConfig { max_line_len: 128, max_message_len: 256, announce_sync_literals: true };
        let mut f = Framer::new(cfg);
        let mut buf = BytesMut::from(&data[..]);
        while let Some(ev) = f.next_event(&mut buf) {
            if let FramerEvent::Message(m) = ev {
                let _ = inbound_imap_codec::decode_response(&m, Quirks::lenient());
                let _ = inbound_imap_codec::decode_command(&m, Quirks::lenient());
                let _ = inbound_imap_codec::decode_greeting(&m, Quirks::strict());
                let _ = inbound_imap_codec::decode_authenticate_data(&m, Quirks::default());
            }
            prop_assert!(buf.len() <= data.len());
        }
        let b = Bytes::from(data);
        let _ = decode_response_prefix(&b, Quirks::default());
        let _ = decode_command_prefix(&b, Quirks::default());
    }

    #[test]
    fn mutated_responses_never_panic(idx in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut data = b"* 12 FETCH (FLAGS (\\Seen) UID 5 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"BASE64\" 4554 73) \"MIXED\") ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL NIL NIL) BODY[1] {3}\r\nabc)\r\n".to_vec();
        let i = idx.index(data.len());
        data[i] = byte;
        let b = Bytes::from(data);
        let _ = decode_response_prefix(&b, Quirks::default());
        let _ = decode_response_prefix(&b, Quirks::strict());
    }
}
