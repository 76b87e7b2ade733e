//! The server's command decoder on arbitrary client bytes: no panic, typed errors, bounded
//! buffering; decoded commands re-encode (with LITERAL+ so no continuation is needed) and
//! decode to the same value.
#![no_main]

use inbound_imap_codec::{CommandDecoder, CommandEvent, FramerConfig, LiteralSupport, Quirks};
use libfuzzer_sys::fuzz_target;

const MAX_LINE: usize = 4096;
const MAX_MESSAGE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut config = FramerConfig::for_commands();
    config.max_line_len = MAX_LINE;
    config.max_message_len = MAX_MESSAGE;
    let mut decoder = CommandDecoder::with_config(config, Quirks::default());
    let chunk = 1 + selector as usize % 64;
    let mut buf = bytes::BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        // The server's state picks what it expects: mostly commands, sometimes SASL data or DONE.
        let mut step = 0u8;
        loop {
            step = step.wrapping_add(1);
            let event = match (selector >> 6, step % 5) {
                (1, 0) => decoder
                    .decode_authenticate_data(&mut buf)
                    .transpose()
                    .map(|r| r.map(|_| None)),
                (2, 0) => decoder
                    .decode_idle_done(&mut buf)
                    .transpose()
                    .map(|r| r.map(|_| None)),
                _ => decoder.decode(&mut buf).transpose().map(|r| {
                    r.map(|e| match e {
                        CommandEvent::Message(c) => Some(c),
                        CommandEvent::ContinuationRequired { .. } => None,
                    })
                }),
            };
            match event {
                None => break,
                Some(Ok(Some(command))) => {
                    let encoded = command.encode(LiteralSupport::LiteralPlus).to_vec();
                    let mut again = CommandDecoder::new(Quirks::default());
                    let mut encoded = bytes::BytesMut::from(&encoded[..]);
                    match again.decode(&mut encoded).expect("re-decodes").expect("whole") {
                        CommandEvent::Message(decoded) => assert_eq!(decoded, command),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                Some(_) => {}
            }
        }
        assert!(buf.len() <= MAX_MESSAGE + MAX_LINE + chunk + 64);
    }
});
