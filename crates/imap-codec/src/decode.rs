//! Decoding: whole messages from the [`Framer`] to typed values, and streaming decoders
//! that combine both.
//!
//! Decoding a [`Frame`] never needs more bytes: the framer already waited for them. The
//! `*_prefix` functions decode the first message of a raw buffer and say
//! [`DecodeError::Incomplete`] when it is not all there.

use bytes::{Bytes, BytesMut};

use crate::Quirks;
use crate::framer::{Frame, FrameError, Framer, FramerConfig, FramerEvent, message_len};
use crate::parse::{self, In, PError, PResult};
use crate::types::{AuthenticateData, Command, Greeting, IdleDone, Response, Tag};

pub use inbound_wire::Excerpt;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer does not hold a whole message yet: read more and try again. Only from
    /// the `*_prefix` functions; frames are always whole.
    #[error("need more bytes")]
    Incomplete,
    /// The message breaks the grammar. The message was consumed: the stream stays in sync,
    /// so a client may log it and go on, and a server answers `tag BAD`.
    #[error("invalid message at offset {offset}: expected {expected} at {excerpt}")]
    Invalid {
        /// Stream offset of the error (frame offset plus position in the frame).
        offset: u64,
        /// What the grammar expected there.
        expected: &'static str,
        /// The input at the error, escaped and shortened.
        excerpt: Excerpt,
        /// The message's tag, if it starts with one.
        tag: Option<Tag>,
    },
    /// The message broke a size limit (see [`FrameError`]); it was skipped.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl DecodeError {
    /// Stream offset of the error, if known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Incomplete => None,
            Self::Invalid { offset, .. } => Some(*offset),
            Self::Frame(f) => Some(f.offset()),
        }
    }

    /// The tag of the offending message, if it had one.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            Self::Invalid { tag, .. } => tag.as_ref(),
            Self::Frame(FrameError::MessageTooLarge { tag, .. }) => tag.as_ref(),
            _ => None,
        }
    }
}

fn leading_tag(data: &[u8]) -> Option<Tag> {
    let n = data.iter().take(64).position(|&b| b == b' ')?;
    Tag::new(Bytes::copy_from_slice(&data[..n])).ok()
}

/// Whether the message carries credentials (LOGIN, AUTHENTICATE): its excerpts are redacted.
fn is_sensitive(data: &[u8]) -> bool {
    let Some(sp) = data.iter().take(65).position(|&b| b == b' ') else {
        // An AUTHENTICATE continuation line is all secret.
        return true;
    };
    let rest = &data[sp + 1..];
    let word = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let w = &rest[..word];
    w.eq_ignore_ascii_case(b"LOGIN") || w.eq_ignore_ascii_case(b"AUTHENTICATE")
}

fn run<'a, T>(
    bytes: &'a Bytes,
    offset: u64,
    quirks: Quirks,
    sensitive: bool,
    parser: impl Fn(&mut In<'a>) -> PResult<T>,
) -> Result<T, DecodeError> {
    let mut input = In::new(bytes, quirks);
    let err = |e: PError| {
        let at = e.offset.min(bytes.len());
        DecodeError::Invalid {
            offset: offset + at as u64,
            expected: e.expected,
            excerpt: if sensitive {
                Excerpt::redacted("")
            } else {
                Excerpt::new(&bytes[at..])
            },
            tag: leading_tag(bytes),
        }
    };
    match parser(&mut input) {
        Ok(v) if input.rest().is_empty() => Ok(v),
        Ok(_) => Err(err(PError {
            offset: input.offset(),
            expected: "end of message",
        })),
        Err(e) => Err(err(e)),
    }
}

/// Decodes a greeting (the server's first message).
pub fn decode_greeting(frame: &Frame, quirks: Quirks) -> Result<Greeting, DecodeError> {
    run(
        frame.as_bytes(),
        frame.offset(),
        quirks,
        false,
        parse::response::greeting,
    )
}

/// Decodes a response (anything the server sends after the greeting).
pub fn decode_response(frame: &Frame, quirks: Quirks) -> Result<Response, DecodeError> {
    run(
        frame.as_bytes(),
        frame.offset(),
        quirks,
        false,
        parse::response::response,
    )
}

/// Decodes a command (server side). Errors on LOGIN and AUTHENTICATE lines carry no
/// excerpt.
pub fn decode_command(frame: &Frame, quirks: Quirks) -> Result<Command, DecodeError> {
    let b = frame.as_bytes();
    run(
        b,
        frame.offset(),
        quirks,
        is_sensitive(b),
        parse::command::command,
    )
}

/// Decodes a client line during AUTHENTICATE (server side): base64 data or `*`.
pub fn decode_authenticate_data(
    frame: &Frame,
    quirks: Quirks,
) -> Result<AuthenticateData, DecodeError> {
    run(
        frame.as_bytes(),
        frame.offset(),
        quirks,
        true,
        parse::command::authenticate_data,
    )
}

/// Decodes the `DONE` line that ends IDLE (server side).
pub fn decode_idle_done(frame: &Frame, quirks: Quirks) -> Result<IdleDone, DecodeError> {
    run(
        frame.as_bytes(),
        frame.offset(),
        quirks,
        false,
        parse::command::idle_done,
    )
    .map(|()| IdleDone)
}

fn prefix<T>(
    buf: &Bytes,
    config: FramerConfig,
    decode: impl Fn(&Frame) -> Result<T, DecodeError>,
) -> Result<(T, usize), DecodeError> {
    match message_len(buf, &config)? {
        None => Err(DecodeError::Incomplete),
        Some(n) => decode(&Frame::new(buf.slice(..n), 0)).map(|v| (v, n)),
    }
}

/// Decodes the first response in `buf` (with [`FramerConfig::for_responses`] limits):
/// the response and the bytes it used, or [`DecodeError::Incomplete`].
pub fn decode_response_prefix(
    buf: &Bytes,
    quirks: Quirks,
) -> Result<(Response, usize), DecodeError> {
    prefix(buf, FramerConfig::for_responses(), |f| {
        decode_response(f, quirks)
    })
}

/// Decodes the first command in `buf` (with [`FramerConfig::for_commands`] limits): the
/// command and the bytes it used, or [`DecodeError::Incomplete`].
pub fn decode_command_prefix(buf: &Bytes, quirks: Quirks) -> Result<(Command, usize), DecodeError> {
    prefix(buf, FramerConfig::for_commands(), |f| {
        decode_command(f, quirks)
    })
}

/// Client side: a framer and the response parser, with the decoder shape both codecs
/// share: the caller appends received octets to its buffer and calls `decode` until
/// `Ok(None)` (read more). Decode the greeting first with
/// [`ResponseDecoder::decode_greeting`], then responses with [`ResponseDecoder::decode`].
///
/// ```
/// use bytes::BytesMut;
/// use inbound_imap_codec::{Quirks, ResponseDecoder};
/// use inbound_imap_codec::types::{Data, Response};
/// let mut d = ResponseDecoder::new(Quirks::default());
/// let mut buf = BytesMut::from(&b"* OK ready\r\n* 3 EXISTS\r\n* 4 EXI"[..]);
/// assert!(d.decode_greeting(&mut buf).unwrap().is_some());
/// assert_eq!(d.decode(&mut buf).unwrap(), Some(Response::Data(Data::Exists(3))));
/// assert_eq!(d.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(b"STS\r\n");
/// assert_eq!(d.decode(&mut buf).unwrap(), Some(Response::Data(Data::Exists(4))));
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    framer: Framer,
    quirks: Quirks,
}

impl ResponseDecoder {
    /// A decoder with [`FramerConfig::for_responses`] limits.
    pub fn new(quirks: Quirks) -> Self {
        Self::with_config(FramerConfig::for_responses(), quirks)
    }

    /// A decoder with the given limits.
    pub fn with_config(config: FramerConfig, quirks: Quirks) -> Self {
        Self {
            framer: Framer::new(config),
            quirks,
        }
    }

    /// The framer (limits, stream offset).
    pub fn framer(&self) -> &Framer {
        &self.framer
    }

    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            return match self.framer.next_event(buf) {
                None => Ok(None),
                Some(FramerEvent::Message(f)) => Ok(Some(f)),
                Some(FramerEvent::Error(e)) => Err(e.into()),
                // Not configured to announce literals; nothing to do.
                Some(FramerEvent::ContinuationRequired { .. }) => continue,
            };
        }
    }

    /// The next message decoded as a greeting; `Ok(None)` if more octets are needed.
    pub fn decode_greeting(&mut self, buf: &mut BytesMut) -> Result<Option<Greeting>, DecodeError> {
        self.next_frame(buf)?
            .map(|f| decode_greeting(&f, self.quirks))
            .transpose()
    }

    /// The next response; `Ok(None)` if more octets are needed. After an error the decoder
    /// is still in sync: call again for the next message.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, DecodeError> {
        self.next_frame(buf)?
            .map(|f| decode_response(&f, self.quirks))
            .transpose()
    }
}

/// What a [`CommandDecoder`] has for the server.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandEvent<T> {
    /// A decoded message.
    Message(T),
    /// The client announced a synchronizing literal and waits: send `+ ...` now (or refuse
    /// the command with a tagged NO/BAD and call [`CommandDecoder::discard_pending`]).
    ContinuationRequired {
        /// The announced length.
        literal_len: u64,
        /// The tag of the command.
        tag: Option<Tag>,
    },
}

/// Server side: a framer (announcing synchronizing literals) and the command parser, with
/// the decoder shape both codecs share. What to expect next is the server's state: a
/// command ([`CommandDecoder::decode`]), an AUTHENTICATE line or IDLE's DONE.
///
/// ```
/// use bytes::BytesMut;
/// use inbound_imap_codec::{CommandDecoder, CommandEvent, Quirks};
/// use inbound_imap_codec::types::CommandBody;
/// let mut d = CommandDecoder::new(Quirks::default());
/// let mut buf = BytesMut::from(&b"a1 LOGIN joe {6}\r\n"[..]);
/// // The client waits for "+": the server must send it.
/// assert!(matches!(d.decode(&mut buf), Ok(Some(CommandEvent::ContinuationRequired { literal_len: 6, .. }))));
/// buf.extend_from_slice(b"secret\r\n");
/// let Ok(Some(CommandEvent::Message(cmd))) = d.decode(&mut buf) else { panic!() };
/// assert!(matches!(cmd.body, CommandBody::Login { .. }));
/// ```
#[derive(Debug)]
pub struct CommandDecoder {
    framer: Framer,
    quirks: Quirks,
}

impl CommandDecoder {
    /// A decoder with [`FramerConfig::for_commands`] limits.
    pub fn new(quirks: Quirks) -> Self {
        Self::with_config(FramerConfig::for_commands(), quirks)
    }

    /// A decoder with the given limits (`announce_sync_literals` is forced on).
    pub fn with_config(config: FramerConfig, quirks: Quirks) -> Self {
        let config = FramerConfig {
            announce_sync_literals: true,
            ..config
        };
        Self {
            framer: Framer::new(config),
            quirks,
        }
    }

    /// The framer (limits, stream offset).
    pub fn framer(&self) -> &Framer {
        &self.framer
    }

    /// Drops a partly received command whose synchronizing literal the server refused.
    pub fn discard_pending(&mut self, buf: &mut BytesMut) {
        self.framer.discard_pending(buf);
    }

    fn decode_with<T>(
        &mut self,
        buf: &mut BytesMut,
        decode: impl Fn(&Frame, Quirks) -> Result<T, DecodeError>,
    ) -> Result<Option<CommandEvent<T>>, DecodeError> {
        match self.framer.next_event(buf) {
            None => Ok(None),
            Some(FramerEvent::Message(f)) => {
                decode(&f, self.quirks).map(|m| Some(CommandEvent::Message(m)))
            }
            Some(FramerEvent::ContinuationRequired { literal_len, tag }) => {
                Ok(Some(CommandEvent::ContinuationRequired {
                    literal_len,
                    tag,
                }))
            }
            Some(FramerEvent::Error(e)) => Err(e.into()),
        }
    }

    /// The next command; `Ok(None)` if more octets are needed.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<CommandEvent<Command>>, DecodeError> {
        self.decode_with(buf, decode_command)
    }

    /// The next AUTHENTICATE line (after the server sent a `+` challenge).
    pub fn decode_authenticate_data(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<CommandEvent<AuthenticateData>>, DecodeError> {
        self.decode_with(buf, decode_authenticate_data)
    }

    /// The `DONE` line during IDLE.
    pub fn decode_idle_done(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<CommandEvent<IdleDone>>, DecodeError> {
        self.decode_with(buf, decode_idle_done)
    }
}
