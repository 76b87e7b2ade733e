//! A sans-IO IMAP codec for both sides of the connection: IMAP4rev1 (RFC 3501) and the
//! parts of IMAP4rev2 (RFC 9051) and its extensions that clients meet (IDLE, UIDPLUS,
//! MOVE, LITERAL+/-, ENABLE, ID, SASL-IR, ESEARCH, CONDSTORE, BINARY).
//!
//! - [`types`]: commands, responses and their parts, valid by construction.
//! - [`Framer`]: splits a byte stream into whole messages (line plus literals) before any
//!   parsing, with size limits, skipping bad messages without losing sync.
//! - Decoding ([`decode_response`], [`decode_command`], the streaming [`ResponseDecoder`] and
//!   [`CommandDecoder`]): a hand-written recursive-descent parser with no parser library
//!   underneath, one function per ABNF rule (each quoting the rule it reads), all of one
//!   shape: a cursor over the message in, the value out. Runtime [`Quirks`] let it accept
//!   servers that break the grammar. Literal bodies and longer strings are [`bytes::Bytes`]
//!   slices of the received buffer, never copied; strings of up to 22 bytes are held inline.
//! - Encoding ([`types::Command::encode`], [`types::Response::encode`]): [`Encoded`]
//!   fragments that say where a client must wait for a `+` before sending a literal.
//!
//! ```
//! use inbound_imap_codec::types::{Command, CommandBody, Data, MessageDataItem, Response, SequenceSet, Tag};
//! use inbound_imap_codec::{LiteralSupport, Quirks, ResponseDecoder};
//!
//! // Client: encode a command...
//! let cmd = Command::new(
//!     Tag::try_from("a1").unwrap(),
//!     CommandBody::Fetch {
//!         sequence_set: SequenceSet::from_uids([1, 2, 3, 7]).unwrap(),
//!         items: inbound_imap_codec::types::MacroOrItems::Items(vec![
//!             inbound_imap_codec::types::FetchAttribute::Uid,
//!         ]),
//!         changed_since: None,
//!         uid: true,
//!     },
//! );
//! assert_eq!(cmd.encode(LiteralSupport::SyncOnly).to_vec(), b"a1 UID FETCH 1:3,7 UID\r\n");
//!
//! // ...and decode the answer as it arrives: append octets to a buffer, decode until
//! // `Ok(None)` (the shape of tokio-util's `Decoder`, shared with the POP3 codec).
//! let mut decoder = ResponseDecoder::new(Quirks::default());
//! let mut buf = bytes::BytesMut::from(&b"* 1 FETCH (UID 1 BODY[] {5}\r\nhel"[..]);
//! assert_eq!(decoder.decode(&mut buf).unwrap(), None); // need more bytes
//! buf.extend_from_slice(b"lo)\r\na1 OK done\r\n");
//! let Some(Response::Data(Data::Fetch { items, .. })) = decoder.decode(&mut buf).unwrap() else {
//!     panic!("expected a FETCH response");
//! };
//! let MessageDataItem::BodyExt { data: Some(body), .. } = &items[1] else { panic!() };
//! assert_eq!(body.as_bytes(), b"hello");
//! assert!(decoder.decode(&mut buf).unwrap().is_some()); // a1 OK done
//! ```

mod decode;
mod encode;
mod framer;
mod parse;
mod quirks;
pub mod types;

pub use decode::{
    CommandDecoder, CommandEvent, DecodeError, Excerpt, ResponseDecoder, decode_authenticate_data,
    decode_command, decode_command_prefix, decode_greeting, decode_idle_done, decode_response,
    decode_response_prefix,
};
pub use encode::{Encoded, Fragment, LiteralSupport};
pub use framer::{Frame, FrameError, Framer, FramerConfig, FramerEvent};
pub use quirks::Quirks;
