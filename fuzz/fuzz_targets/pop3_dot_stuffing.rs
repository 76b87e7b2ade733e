//! Dot-stuffing round trip: any body, stuffed by the encoder in arbitrary pieces and decoded
//! as a RETR answer in arbitrary chunks, comes back byte for byte (with a final CRLF added
//! when the body lacked one).
#![no_main]

use bytes::BytesMut;
use inbound_pop3_codec::{
    BodyEncoder, BodyMode, Expectation, Response, ResponseDecoder, ResponseEvent, ResponseConfig,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let piece = 1 + split as usize % 31;
    let mut wire = BytesMut::from(&b"+OK message follows\r\n"[..]);
    let mut encoder = BodyEncoder::new();
    for chunk in body.chunks(piece) {
        encoder.push(chunk, &mut wire);
    }
    encoder.finish(&mut wire);

    let mut decoder = ResponseDecoder::without_greeting(ResponseConfig::default());
    decoder.expect_raw(Expectation::Message(BodyMode::Collect));
    let mut buf = BytesMut::new();
    let mut got = None;
    for chunk in wire.chunks(1 + (split as usize % 7)) {
        buf.extend_from_slice(chunk);
        while let Some(event) = decoder.decode(&mut buf).expect("valid framing") {
            if let ResponseEvent::Response(Response::Message { body, .. }) = event {
                got = Some(body);
            }
        }
    }
    let got = got.expect("a whole message");
    let mut expected = body.to_vec();
    if !expected.is_empty() && !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(&got[..], &expected[..]);
});
