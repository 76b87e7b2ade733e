//! The client's response decoder on arbitrary server bytes: the first byte picks what the
//! client asked, the rest is the server's answer, fed in chunks. No panic; every error is typed;
//! the buffer stays bounded by the configured limits.
#![no_main]

use bytes::BytesMut;
use inbound_pop3_codec::{BodyMode, Expectation, ResponseDecoder, ResponseConfig};
use libfuzzer_sys::fuzz_target;

const EXPECTATIONS: [Expectation; 11] = [
    Expectation::Greeting,
    Expectation::Status,
    Expectation::Stat,
    Expectation::Scan,
    Expectation::Uid,
    Expectation::ScanList,
    Expectation::UidList,
    Expectation::Capabilities,
    Expectation::Message(BodyMode::Collect),
    Expectation::Message(BodyMode::Stream),
    Expectation::Auth,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut settings = ResponseConfig::default();
    settings.max_line_len = 512;
    settings.max_body_size = 64 * 1024;
    settings.max_streamed_body_size = Some(64 * 1024);
    settings.max_list_entries = 1_000;
    let mut decoder = ResponseDecoder::without_greeting(settings);
    for i in 0..8 {
        let pick = (selector as usize).wrapping_add(i) % EXPECTATIONS.len();
        decoder.expect_raw(EXPECTATIONS[pick]);
    }
    let chunk = 1 + (selector as usize % 17);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => break,
            }
            if decoder.pending() == 0 {
                return;
            }
        }
        assert!(
            buf.len() <= 64 * 1024 + 512 + chunk + 8,
            "buffer grew to {}",
            buf.len()
        );
    }
});
