//! The server's command decoder on arbitrary client bytes: no panic, typed errors, and every
//! decoded line re-encodes to something that decodes to the same value.
#![no_main]

use bytes::BytesMut;
use inbound_pop3_codec::{ClientLine, CommandDecoder, CommandConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = CommandDecoder::new(CommandConfig::default());
    let mut buf = BytesMut::from(data);
    let mut steps = 0;
    while steps < 10_000 {
        steps += 1;
        match decoder.decode(&mut buf) {
            Ok(Some(line)) => {
                if matches!(line, ClientLine::Command(_)) {
                    let mut encoded = BytesMut::new();
                    line.encode(&mut encoded);
                    let mut again = CommandDecoder::new(CommandConfig::default());
                    let decoded = again
                        .decode(&mut encoded)
                        .expect("re-decodes")
                        .expect("whole");
                    assert_eq!(decoded, line);
                }
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
});
