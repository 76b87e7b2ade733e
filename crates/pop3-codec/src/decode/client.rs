//! The client side: decodes server responses, knowing what each command expects.

use std::collections::VecDeque;

use bytes::{Buf as _, Bytes, BytesMut};
use memchr::memchr;

use super::{Framed, frame_line};
use crate::auth::Continuation;
use crate::capability::Capability;
use crate::command::Command;
use crate::error::{DecodeError, DecodeErrorKind, Excerpt};
use crate::grammar;
use crate::response::{
    Greeting, Response, ResponseText, ScanListing, Status, StatusLine, UidListing,
};
use crate::stuffing::{BodyScan, Scan};

/// How `RETR`/`TOP` bodies are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyMode {
    /// Collect the whole body into one [`Response::Message`] (up to
    /// [`ResponseConfig::max_body_size`]).
    #[default]
    Collect,
    /// Deliver [`ResponseEvent::BodyStart`], then [`ResponseEvent::BodyChunk`]s as octets
    /// arrive, then [`ResponseEvent::BodyEnd`]; the codec never holds the whole body.
    Stream,
}

/// Limits and modes for [`ResponseDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseConfig {
    /// Longest status line or listing line, CRLF included. RFC 2449 limits them to 512
    /// octets; the default of 8 KiB is lenient.
    pub max_line_len: usize,
    /// Largest collected body ([`BodyMode::Collect`]), after unstuffing. Default 64 MiB.
    pub max_body_size: u64,
    /// Largest streamed body ([`BodyMode::Stream`]); `None` (the default) for no limit:
    /// memory stays bounded by what the caller reads at a time.
    pub max_streamed_body_size: Option<u64>,
    /// Most entries in a LIST, UIDL or CAPA listing. Default 1,000,000.
    pub max_list_entries: usize,
    /// How [`ResponseDecoder::expect`] sets up RETR and TOP.
    pub body_mode: BodyMode,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            max_line_len: 8 * 1024,
            max_body_size: 64 * 1024 * 1024,
            max_streamed_body_size: None,
            max_list_entries: 1_000_000,
            body_mode: BodyMode::Collect,
        }
    }
}

/// What the next response answers: decides how it is framed and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// The server greeting.
    Greeting,
    /// A single status line (USER, PASS, APOP, STLS, DELE, RSET, NOOP, QUIT).
    Status,
    /// `STAT`: `+OK nn mm`.
    Stat,
    /// `LIST msg`: `+OK msg size`.
    Scan,
    /// `UIDL msg`: `+OK msg unique-id`.
    Uid,
    /// `LIST`: a multi-line scan listing.
    ScanList,
    /// `UIDL`: a multi-line unique-id listing.
    UidList,
    /// `CAPA`: a multi-line capability list.
    Capabilities,
    /// `RETR` or `TOP`: a multi-line body, collected or streamed.
    Message(BodyMode),
    /// `AUTH`: continuations (`+ ...`) until a final status line.
    Auth,
}

impl Expectation {
    /// What answers `command`; RETR and TOP bodies use `body_mode`.
    pub fn for_command(command: &Command, body_mode: BodyMode) -> Self {
        match command {
            Command::Stat => Self::Stat,
            Command::List(Some(_)) => Self::Scan,
            Command::List(None) => Self::ScanList,
            Command::Uidl(Some(_)) => Self::Uid,
            Command::Uidl(None) => Self::UidList,
            Command::Capa => Self::Capabilities,
            Command::Retr(_) | Command::Top { .. } => Self::Message(body_mode),
            Command::Auth { .. } => Self::Auth,
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Stls
            | Command::Dele(_)
            | Command::Rset
            | Command::Noop
            | Command::Quit => Self::Status,
        }
    }

    fn is_multi_line(self) -> bool {
        matches!(
            self,
            Self::ScanList | Self::UidList | Self::Capabilities | Self::Message(_)
        )
    }
}

/// What [`ResponseDecoder::decode`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// A complete response.
    Response(Response),
    /// A streamed body begins ([`BodyMode::Stream`]): the `+OK` line's text.
    BodyStart(ResponseText),
    /// The next piece of a streamed body, dot-stuffing removed.
    BodyChunk(Bytes),
    /// The streamed body ended (its terminator has been consumed).
    BodyEnd,
}

enum Listing {
    Scan(Vec<ScanListing>),
    Uid(Vec<UidListing>),
    Capa(Vec<Capability>),
}

impl Listing {
    fn len(&self) -> usize {
        match self {
            Self::Scan(v) => v.len(),
            Self::Uid(v) => v.len(),
            Self::Capa(v) => v.len(),
        }
    }
}

enum State {
    /// Waiting for a status line.
    Line,
    /// Inside a LIST/UIDL/CAPA listing.
    Listing {
        text: ResponseText,
        listing: Listing,
    },
    /// Inside a RETR/TOP body.
    Body {
        scan: BodyScan,
        /// `Some` when collecting: the text for the final [`Response::Message`].
        collect: Option<ResponseText>,
        /// Octets already handed out as chunks.
        streamed: u64,
    },
    /// A streamed body's terminator was consumed after its last chunk.
    BodyEnd,
    /// Skipping the rest of a line, then (if `then_multi`) a multi-line block.
    DiscardLine { then_multi: bool },
    /// Skipping the rest of a multi-line block up to its terminator.
    DiscardMulti(BodyScan),
}

/// Decodes what a server sends, for a client.
///
/// Tell it what each command expects with [`ResponseDecoder::expect`] as the command is
/// sent (several may be outstanding with PIPELINING); it starts out expecting the greeting.
///
/// ```
/// use bytes::BytesMut;
/// use inbound_pop3_codec::{Command, MessageNumber, Response, ResponseDecoder, ResponseEvent};
///
/// let mut dec = ResponseDecoder::default();
/// dec.expect(&Command::Retr(MessageNumber::new(1).unwrap()));
/// let mut buf = BytesMut::from(&b"+OK ready\r\n+OK 9 octets\r\nHi\r\n..dot\r\n.\r\n"[..]);
/// assert!(matches!(dec.decode(&mut buf), Ok(Some(ResponseEvent::Response(Response::Greeting(_))))));
/// match dec.decode(&mut buf) {
///     Ok(Some(ResponseEvent::Response(Response::Message { body, .. }))) => {
///         assert_eq!(&body[..], b"Hi\r\n.dot\r\n");
///     }
///     other => panic!("{other:?}"),
/// }
/// assert!(buf.is_empty());
/// ```
pub struct ResponseDecoder {
    config: ResponseConfig,
    expected: VecDeque<Expectation>,
    state: State,
    offset: u64,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new(ResponseConfig::default())
    }
}

impl std::fmt::Debug for ResponseDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseDecoder")
            .field("expected", &self.expected)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// The outcome of handling one line.
enum Step {
    /// Something to hand to the caller.
    Event(ResponseEvent),
    /// A line was handled without an event (a listing entry, a collected body begins).
    Continue,
    /// No whole line yet.
    NeedMore,
}

impl ResponseDecoder {
    /// A decoder for a new connection: it expects the greeting first.
    pub fn new(config: ResponseConfig) -> Self {
        let mut dec = Self::without_greeting(config);
        dec.expected.push_back(Expectation::Greeting);
        dec
    }

    /// A decoder that expects nothing yet (e.g. for a stream that starts after the greeting).
    pub fn without_greeting(config: ResponseConfig) -> Self {
        Self {
            config,
            expected: VecDeque::new(),
            state: State::Line,
            offset: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ResponseConfig {
        &self.config
    }

    /// Records that `command` was sent: its answer is decoded accordingly. Call in the
    /// order commands are sent.
    pub fn expect(&mut self, command: &Command) {
        let e = Expectation::for_command(command, self.config.body_mode);
        self.expected.push_back(e);
    }

    /// Records an expectation directly (e.g. to stream one RETR while collecting others).
    pub fn expect_raw(&mut self, expectation: Expectation) {
        self.expected.push_back(expectation);
    }

    /// How many responses are still expected.
    pub fn pending(&self) -> usize {
        self.expected.len()
    }

    /// Octets consumed from the stream so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.offset += n as u64;
    }

    fn error(&self, at: usize, kind: DecodeErrorKind, input: &[u8]) -> DecodeError {
        DecodeError::new(self.offset + at as u64, kind, Excerpt::new(input))
    }

    /// Decodes the next event. `Ok(None)`: more octets are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, DecodeError> {
        loop {
            match std::mem::replace(&mut self.state, State::Line) {
                State::Line => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    match self.status_line(buf)? {
                        Step::Event(e) => return Ok(Some(e)),
                        Step::Continue => {}
                        Step::NeedMore => return Ok(None),
                    }
                }
                State::Listing { text, listing } => match self.listing_line(buf, text, listing)? {
                    Step::Event(e) => return Ok(Some(e)),
                    Step::Continue => {}
                    Step::NeedMore => return Ok(None),
                },
                State::Body {
                    scan,
                    collect,
                    streamed,
                } => return self.body(buf, scan, collect, streamed),
                State::BodyEnd => return Ok(Some(ResponseEvent::BodyEnd)),
                State::DiscardLine { then_multi } => match memchr(b'\n', buf) {
                    Some(i) => {
                        self.consume(buf, i + 1);
                        if then_multi {
                            self.state = State::DiscardMulti(BodyScan::new());
                        }
                    }
                    None => {
                        let n = buf.len();
                        self.consume(buf, n);
                        self.state = State::DiscardLine { then_multi };
                        return Ok(None);
                    }
                },
                State::DiscardMulti(mut scan) => match scan.step(&mut buf[..]) {
                    Scan::Done { consumed } => self.consume(buf, consumed),
                    Scan::NeedMore => {
                        let n = scan.scanned();
                        self.consume(buf, n);
                        scan.rebase();
                        self.state = State::DiscardMulti(scan);
                        return Ok(None);
                    }
                },
            }
        }
    }

    /// Frames one line. `Ok(None)`: need more; `Err` for a too-long line, with the state
    /// set to discard it (and the multi-line block after it if `multi`).
    fn frame(
        &mut self,
        buf: &mut BytesMut,
        multi: bool,
    ) -> Result<Option<(usize, usize)>, DecodeError> {
        let limit = self.config.max_line_len;
        match frame_line(buf, limit) {
            Framed::NeedMore => Ok(None),
            Framed::Line { content_end, end } => Ok(Some((content_end, end))),
            Framed::TooLong => {
                let err = self.error(limit, DecodeErrorKind::LineTooLong { limit }, buf);
                let n = limit.min(buf.len());
                self.consume(buf, n);
                self.state = State::DiscardLine { then_multi: multi };
                Err(err)
            }
        }
    }

    fn status_line(&mut self, buf: &mut BytesMut) -> Result<Step, DecodeError> {
        let expect = self.expected.front().copied();
        // Whether a body follows if this line turns out to be "+OK".
        let multi_if_ok = expect.is_some_and(Expectation::is_multi_line)
            && buf.len() >= 3
            && buf[..3].eq_ignore_ascii_case(b"+OK");
        let (content_end, end) = match self.frame(buf, multi_if_ok) {
            Ok(Some(framed)) => framed,
            Ok(None) => return Ok(Step::NeedMore),
            Err(e) => {
                if !(expect == Some(Expectation::Auth) && buf.first() == Some(&b'+')) {
                    self.expected.pop_front();
                }
                return Err(e);
            }
        };
        let result = self.interpret_status_line(&buf[..content_end], expect);
        self.consume(buf, end);
        if result.is_err() && multi_if_ok {
            // A body or listing follows the bad "+OK" line: skip it to stay in sync.
            self.state = State::DiscardMulti(BodyScan::new());
        }
        result
    }

    fn interpret_status_line(
        &mut self,
        line: &[u8],
        expect: Option<Expectation>,
    ) -> Result<Step, DecodeError> {
        let Some(expect) = expect else {
            return Err(self.error(0, DecodeErrorKind::Unexpected, line));
        };
        if let Some(nul) = memchr(0, line) {
            self.expected.pop_front();
            return Err(self.error(nul, DecodeErrorKind::NulOctet, line));
        }
        if expect == Expectation::Auth {
            if let Some(text) = grammar::continuation(line) {
                let text = String::from_utf8_lossy(text).into_owned();
                let c = Continuation::from_text(text)
                    .map_err(|e| self.error(0, DecodeErrorKind::BadArgument(e), line))?;
                return Ok(Step::Event(ResponseEvent::Response(
                    Response::Continuation(c),
                )));
            }
        }
        self.expected.pop_front();
        let malformed =
            |this: &Self, what| this.error(0, DecodeErrorKind::Malformed { what }, line);
        let Some((status, raw)) = grammar::status_line(line) else {
            return Err(malformed(self, "status line"));
        };
        let text = || grammar::response_text(raw).map_err(|_| malformed(self, "response text"));
        let response = match (expect, status) {
            (Expectation::Greeting, _) => Response::Greeting(Greeting::new(StatusLine {
                status,
                text: text()?,
            })),
            (_, Status::Err) | (Expectation::Status | Expectation::Auth, Status::Ok) => {
                Response::Status(StatusLine {
                    status,
                    text: text()?,
                })
            }
            (Expectation::Stat, Status::Ok) => match grammar::stat_reply(raw) {
                Some(stat) => Response::Stat(stat),
                None => return Err(malformed(self, "STAT reply")),
            },
            (Expectation::Scan, Status::Ok) => match grammar::scan_listing(raw) {
                Some(scan) => Response::Scan(scan),
                None => return Err(malformed(self, "scan listing")),
            },
            (Expectation::Uid, Status::Ok) => match grammar::uid_listing(raw) {
                Some(uid) => Response::Uid(uid),
                None => return Err(malformed(self, "unique-id listing")),
            },
            (Expectation::ScanList | Expectation::UidList | Expectation::Capabilities, _) => {
                let listing = match expect {
                    Expectation::ScanList => Listing::Scan(Vec::new()),
                    Expectation::UidList => Listing::Uid(Vec::new()),
                    _ => Listing::Capa(Vec::new()),
                };
                self.state = State::Listing {
                    text: text()?,
                    listing,
                };
                return Ok(Step::Continue);
            }
            (Expectation::Message(mode), _) => {
                let text = text()?;
                let (collect, event) = match mode {
                    BodyMode::Collect => (Some(text), None),
                    BodyMode::Stream => (None, Some(ResponseEvent::BodyStart(text))),
                };
                self.state = State::Body {
                    scan: BodyScan::new(),
                    collect,
                    streamed: 0,
                };
                return Ok(event.map_or(Step::Continue, Step::Event));
            }
        };
        Ok(Step::Event(ResponseEvent::Response(response)))
    }

    /// Handles one listing line; sets `self.state` for what follows.
    fn listing_line(
        &mut self,
        buf: &mut BytesMut,
        text: ResponseText,
        mut listing: Listing,
    ) -> Result<Step, DecodeError> {
        let (content_end, end) = match self.frame(buf, true) {
            Ok(Some(framed)) => framed,
            Ok(None) => {
                self.state = State::Listing { text, listing };
                return Ok(Step::NeedMore);
            }
            Err(e) => return Err(e),
        };
        let line = &buf[..content_end];
        if line == b"." {
            self.consume(buf, end);
            let response = match listing {
                Listing::Scan(entries) => Response::ScanList { text, entries },
                Listing::Uid(entries) => Response::UidList { text, entries },
                Listing::Capa(capabilities) => Response::Capabilities { text, capabilities },
            };
            return Ok(Step::Event(ResponseEvent::Response(response)));
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(line);
        let parsed = if let Some(nul) = memchr(0, line) {
            Err(self.error(nul, DecodeErrorKind::NulOctet, line))
        } else if listing.len() >= self.config.max_list_entries {
            let limit = self.config.max_list_entries;
            Err(self.error(0, DecodeErrorKind::TooManyEntries { limit }, line))
        } else {
            let malformed = |what| self.error(0, DecodeErrorKind::Malformed { what }, line);
            match &mut listing {
                Listing::Scan(v) => grammar::scan_listing(unstuffed)
                    .map(|e| v.push(e))
                    .ok_or_else(|| malformed("scan listing")),
                Listing::Uid(v) => grammar::uid_listing(unstuffed)
                    .map(|e| v.push(e))
                    .ok_or_else(|| malformed("unique-id listing")),
                Listing::Capa(v) => grammar::capability(unstuffed)
                    .map(|e| v.push(e))
                    .ok_or_else(|| malformed("capability")),
            }
        };
        self.consume(buf, end);
        match parsed {
            Ok(()) => {
                self.state = State::Listing { text, listing };
                Ok(Step::Continue)
            }
            Err(e) => {
                self.state = State::DiscardMulti(BodyScan::new());
                Err(e)
            }
        }
    }

    fn body(
        &mut self,
        buf: &mut BytesMut,
        mut scan: BodyScan,
        collect: Option<ResponseText>,
        streamed: u64,
    ) -> Result<Option<ResponseEvent>, DecodeError> {
        let step = scan.step(&mut buf[..]);
        let written = scan.written();
        if let Some(text) = collect {
            let limit = self.config.max_body_size;
            if written as u64 > limit {
                let err = self.error(
                    limit as usize,
                    DecodeErrorKind::BodyTooLarge { limit },
                    &buf[limit as usize..],
                );
                match step {
                    Scan::Done { consumed } => self.consume(buf, consumed),
                    Scan::NeedMore => {
                        let n = scan.scanned();
                        self.consume(buf, n);
                        scan.rebase();
                        self.state = State::DiscardMulti(scan);
                    }
                }
                return Err(err);
            }
            return match step {
                Scan::Done { consumed } => {
                    let body = buf.split_to(written).freeze();
                    buf.advance(consumed - written);
                    self.offset += consumed as u64;
                    Ok(Some(ResponseEvent::Response(Response::Message {
                        text,
                        body,
                    })))
                }
                Scan::NeedMore => {
                    self.state = State::Body {
                        scan,
                        collect: Some(text),
                        streamed,
                    };
                    Ok(None)
                }
            };
        }
        // Streaming.
        let total = streamed + written as u64;
        if let Some(limit) = self.config.max_streamed_body_size {
            if total > limit {
                let at = (limit - streamed.min(limit)) as usize;
                let err = self.error(
                    at.min(written),
                    DecodeErrorKind::BodyTooLarge { limit },
                    &buf[at.min(written)..],
                );
                match step {
                    Scan::Done { consumed } => self.consume(buf, consumed),
                    Scan::NeedMore => {
                        let n = scan.scanned();
                        self.consume(buf, n);
                        scan.rebase();
                        self.state = State::DiscardMulti(scan);
                    }
                }
                return Err(err);
            }
        }
        let used = match step {
            Scan::Done { consumed } => consumed,
            Scan::NeedMore => scan.scanned(),
        };
        let chunk = buf.split_to(written).freeze();
        buf.advance(used - written);
        self.offset += used as u64;
        scan.rebase();
        match step {
            Scan::Done { .. } if chunk.is_empty() => Ok(Some(ResponseEvent::BodyEnd)),
            Scan::Done { .. } => {
                self.state = State::BodyEnd;
                Ok(Some(ResponseEvent::BodyChunk(chunk)))
            }
            Scan::NeedMore => {
                self.state = State::Body {
                    scan,
                    collect: None,
                    streamed: total,
                };
                if chunk.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(ResponseEvent::BodyChunk(chunk)))
                }
            }
        }
    }
}
