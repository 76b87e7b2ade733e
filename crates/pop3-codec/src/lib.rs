//! A sans-IO codec for POP3: RFC 1939, the extension mechanism of RFC 2449 (CAPA, response
//! codes), STLS (RFC 2595) and SASL AUTH (RFC 5034), for both clients and servers.
//!
//! - Client side: encode [`Command`]s, decode the server's answers with a
//!   [`ResponseDecoder`] that is told what each command expects (a queue, so PIPELINING
//!   works). Multi-line bodies come out as [`bytes::Bytes`] slices of the receive buffer
//!   with dot-stuffing removed (copy-free when no line starts with a dot), whole or
//!   streamed in chunks ([`BodyMode`]).
//! - Server side: decode [`ClientLine`]s with a [`CommandDecoder`] (including SASL answers
//!   during AUTH), encode [`Response`]s; [`BodyEncoder`] dot-stuffs large bodies piecewise.
//! - APOP digests: [`ApopDigest::compute`] and [`ApopDigest::verify`] (constant time).
//!
//! Every value is validated on construction, so encoding cannot inject a line. Decoders
//! never panic, never allocate from a size the peer claims, return `Ok(None)` for "need more
//! bytes" and a [`DecodeError`] (offset, kind, short escaped excerpt) for bad input, after
//! which they are still in sync with the stream.
//!
//! ```
//! use bytes::BytesMut;
//! use inbound_pop3_codec::{
//!     ApopDigest, Command, MessageNumber, Response, ResponseDecoder, ResponseEvent, Username,
//! };
//!
//! // The client reads the greeting and answers with APOP (RFC 1939 section 7).
//! let mut decoder = ResponseDecoder::default();
//! let mut inbound = BytesMut::from(&b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"[..]);
//! let Ok(Some(ResponseEvent::Response(Response::Greeting(greeting)))) = decoder.decode(&mut inbound)
//! else {
//!     panic!("no greeting");
//! };
//! let timestamp = greeting.timestamp().expect("APOP timestamp");
//! let apop = Command::Apop {
//!     name: Username::new("mrose")?,
//!     digest: ApopDigest::compute(timestamp, b"tanstaaf"),
//! };
//! let mut outbound = BytesMut::new();
//! apop.encode(&mut outbound);
//! assert_eq!(&outbound[..], b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
//! decoder.expect(&apop);
//!
//! // Pipelined: STAT and RETR 1.
//! for command in [Command::Stat, Command::Retr(MessageNumber::new(1)?)] {
//!     command.encode(&mut outbound);
//!     decoder.expect(&command);
//! }
//! inbound.extend_from_slice(b"+OK maildrop has 1 message\r\n+OK 1 18\r\n+OK\r\n..Hi\r\n.\r\n");
//! let mut responses = Vec::new();
//! while let Some(event) = decoder.decode(&mut inbound)? {
//!     responses.push(event);
//! }
//! assert_eq!(responses.len(), 3);
//! match &responses[2] {
//!     ResponseEvent::Response(Response::Message { body, .. }) => assert_eq!(&body[..], b".Hi\r\n"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod capability;
mod command;
mod core;
mod decode;
mod error;
mod grammar;
mod response;
mod stuffing;

pub use crate::auth::{ApopDigest, Continuation, Password, SaslData};
pub use crate::capability::{Capability, ExpirePolicy};
pub use crate::command::{ClientLine, Command};
pub use crate::core::{
    CapabilityTag, MAX_ARGUMENT_LEN, Mechanism, MessageNumber, Param, Text, Timestamp, UniqueId,
    Username,
};
pub use crate::decode::{
    BodyMode, CommandConfig, CommandDecoder, Expectation, ResponseConfig, ResponseDecoder,
    ResponseEvent,
};
pub use crate::error::{DecodeError, DecodeErrorKind, Excerpt, ValidationError};
pub use crate::response::{
    Greeting, Response, ResponseCode, ResponseText, ScanListing, Stat, Status, StatusLine,
    UidListing, encode_body_start,
};
pub use crate::stuffing::{BodyEncoder, encode_body};
