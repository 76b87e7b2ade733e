//! The framer gives the same events for any chunking of the input as for the whole input.
#![no_main]

use inbound_imap_codec::{Framer, FramerConfig, FramerEvent};
use libfuzzer_sys::fuzz_target;

fn events(config: &FramerConfig, input: &[u8], sizes: &[u8]) -> Vec<FramerEvent> {
    let mut framer = Framer::new(*config);
    let mut buf = bytes::BytesMut::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            1 + sizes[i % sizes.len()] as usize
        };
        i += 1;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        buf.extend_from_slice(head);
        while let Some(event) = framer.next_event(&mut buf) {
            out.push(event);
        }
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (split as usize).min(rest.len()).min(16);
    let (sizes, input) = rest.split_at(cut);
    for mut config in [FramerConfig::for_responses(), FramerConfig::for_commands()] {
        config.max_line_len = 256;
        config.max_message_len = 4096;
        let whole = events(&config, input, &[]);
        let chunked = events(&config, input, sizes);
        assert_eq!(whole, chunked);
    }
});
