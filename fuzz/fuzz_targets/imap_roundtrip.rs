//! decode -> encode -> decode: any response or command the decoders accept from arbitrary
//! bytes encodes to bytes that decode to the same value, and re-encoding is stable.
#![no_main]

use bytes::Bytes;
use inbound_imap_codec::{LiteralSupport, Quirks, decode_command_prefix, decode_response_prefix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    if let Ok((response, _)) = decode_response_prefix(&buf, Quirks::default()) {
        let once = Bytes::from(response.encode().to_vec());
        let (again, used) = decode_response_prefix(&once, Quirks::default()).expect("re-decodes");
        assert_eq!(used, once.len());
        assert_eq!(again, response);
        assert_eq!(again.encode().to_vec(), once.to_vec());
    }
    if let Ok((command, _)) = decode_command_prefix(&buf, Quirks::default()) {
        for literals in [LiteralSupport::LiteralPlus, LiteralSupport::SyncOnly] {
            let once = Bytes::from(command.encode(literals).to_vec());
            let (again, used) = decode_command_prefix(&once, Quirks::strict()).expect("re-decodes");
            assert_eq!(used, once.len());
            assert_eq!(again, command);
        }
    }
});
