//! The client's response decoder on arbitrary server bytes, fed in chunks: no panic, typed
//! errors, buffered bytes bounded by the framer's limits; every decoded response re-encodes
//! and decodes to the same value.
#![no_main]

use inbound_imap_codec::{FramerConfig, Quirks, ResponseDecoder};
use libfuzzer_sys::fuzz_target;

const MAX_LINE: usize = 4096;
const MAX_MESSAGE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let quirks = if selector & 1 == 0 {
        Quirks::default()
    } else {
        Quirks::lenient()
    };
    let mut config = FramerConfig::for_responses();
    config.max_line_len = MAX_LINE;
    config.max_message_len = MAX_MESSAGE;
    let mut decoder = ResponseDecoder::with_config(config, quirks);
    let chunk = 1 + (selector as usize >> 1) % 64;
    let mut first = true;
    let mut buf = bytes::BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let next = if first {
                decoder.decode_greeting(&mut buf).transpose().map(|r| r.map(|_| None))
            } else {
                decoder.decode(&mut buf).transpose().map(|r| r.map(Some))
            };
            match next {
                None => break,
                Some(Ok(Some(response))) => {
                    let encoded = response.encode().to_vec();
                    let mut again = ResponseDecoder::new(Quirks::default());
                    let mut encoded = bytes::BytesMut::from(&encoded[..]);
                    let decoded = again.decode(&mut encoded).expect("re-decodes").expect("whole");
                    assert_eq!(decoded, response);
                }
                Some(_) => {}
            }
            first = false;
        }
        assert!(buf.len() <= MAX_MESSAGE + MAX_LINE + chunk + 64);
    }
});
