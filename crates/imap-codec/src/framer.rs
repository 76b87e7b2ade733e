//! The framer: splits a byte stream into whole messages (a line plus its literals) before
//! any parsing.
//!
//! It finds line ends with `memchr`, and when a line ends in a literal header (`{n}`,
//! `{n+}` or `~{n}`) it jumps over the `n` literal bytes by count without looking at them.
//! A message is handed out as one [`Frame`], a frozen slice of the receive buffer: nothing
//! is copied, and literal bodies decoded from it are slices of the same allocation.
//!
//! Limits: a line longer than [`FramerConfig::max_line_len`], or a message longer than
//! [`FramerConfig::max_message_len`], is reported as a [`FrameError`] as soon as it is
//! seen; its bytes are then discarded as they arrive (never buffered) until the message
//! ends, and framing resumes at the next message. A literal length claimed by the peer is
//! never used to allocate: the buffer only grows with bytes actually fed.

use bytes::{Buf, Bytes, BytesMut};

use crate::types::Tag;
use crate::types::chars::is_tag_char;

/// Limits and role of a [`Framer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// The longest line (from a message start or literal end up to and including LF).
    pub max_line_len: usize,
    /// The longest message, literals included.
    pub max_message_len: usize,
    /// Report [`FramerEvent::ContinuationRequired`] for synchronizing literals. Set this
    /// when decoding commands (server side).
    pub announce_sync_literals: bool,
}

impl FramerConfig {
    /// For a client reading responses: lines up to 1 MiB (long SEARCH answers), messages
    /// up to 64 MiB.
    pub fn for_responses() -> Self {
        Self {
            max_line_len: 1 << 20,
            max_message_len: 64 << 20,
            announce_sync_literals: false,
        }
    }

    /// For a server reading commands: lines up to 64 KiB, messages up to 64 MiB, and
    /// synchronizing literals announced.
    pub fn for_commands() -> Self {
        Self {
            max_line_len: 64 << 10,
            max_message_len: 64 << 20,
            announce_sync_literals: true,
        }
    }
}

/// One whole message: a line and any literals and continuation lines, CRLF included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Bytes,
    offset: u64,
}

impl Frame {
    /// Wraps bytes holding exactly one message (used by one-shot decoding and tests).
    pub fn new(bytes: Bytes, offset: u64) -> Self {
        Self { bytes, offset }
    }
    /// The message's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// The message's bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
    /// Where the message starts in the stream (bytes fed before it).
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// The message's length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether the frame is empty (never for frames from a [`Framer`]).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A message that broke a limit. Its bytes are skipped; framing continues after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A line was longer than the limit.
    #[error("line longer than {limit} bytes in message at offset {offset}")]
    LineTooLong {
        /// Stream offset of the message start.
        offset: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message (with its literals) was longer than the limit.
    #[error("message longer than {limit} bytes at offset {offset}")]
    MessageTooLarge {
        /// Stream offset of the message start.
        offset: u64,
        /// The configured limit.
        limit: usize,
        /// The message's tag if it starts with one (a server answers it with `tag NO`).
        tag: Option<Tag>,
        /// Whether the framer expects the announced literal's bytes. When `false` (a
        /// synchronizing literal in a command framer), the server must refuse with a tagged
        /// NO/BAD instead of `+`, and the client will not send the literal.
        literal_follows: bool,
    },
}

impl FrameError {
    /// Stream offset of the offending message.
    pub fn offset(&self) -> u64 {
        match self {
            Self::LineTooLong { offset, .. } | Self::MessageTooLarge { offset, .. } => *offset,
        }
    }
}

/// What the framer has for its caller.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerEvent {
    /// A whole message.
    Message(Frame),
    /// The peer announced a synchronizing literal (`{n}`) and waits: a server must now send
    /// a `+` continuation request (reported once per literal, before the message that holds
    /// it, even when a client that did not wait already sent the bytes) (or refuse the command with a tagged NO/BAD and call
    /// [`Framer::discard_pending`]). Only with
    /// [`FramerConfig::announce_sync_literals`].
    ContinuationRequired {
        /// The announced literal length.
        literal_len: u64,
        /// The tag of the command being sent.
        tag: Option<Tag>,
    },
    /// A message broke a limit and is being skipped.
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for LF; the current line starts at `line_start`, bytes before `searched`
    /// hold no LF.
    Line { line_start: usize, searched: usize },
    /// Waiting until the buffer holds `end` bytes (the end of a literal).
    Literal {
        end: usize,
        sync: bool,
        len: u64,
        announced: bool,
    },
    /// Discarding a bad message up to the next LF (keeping a short tail to see a literal
    /// header at the end of the line).
    SkipLine,
    /// Discarding the literal of a bad message.
    SkipLiteral { remaining: u64 },
}

/// Bytes kept while skipping a line, enough to hold `{18446744073709551615+}\r`.
const TAIL: usize = 32;

/// The most digits a literal length may have (`~{` + digits + `+}\r` fits in [`TAIL`]).
const MAX_LITERAL_DIGITS: usize = 24;

/// The streaming framer, in the shape of tokio-util's `Decoder`: the caller owns the
/// receive buffer, appends octets to it (e.g. `AsyncReadExt::read_buf`, straight into its
/// spare capacity: nothing is copied), and calls [`Framer::next_event`] with it until it
/// returns `None` (need more octets). The framer removes what it hands out or skips, and
/// remembers how far it has looked, so each octet is scanned once. Give it the same buffer
/// every time and only ever append to it.
///
/// The framer never reserves memory: the caller decides how much spare capacity to read
/// into, never from a length the peer announced.
///
/// ```
/// use bytes::BytesMut;
/// use inbound_imap_codec::{Framer, FramerConfig, FramerEvent};
/// let mut framer = Framer::new(FramerConfig::for_responses());
/// let mut buf = BytesMut::from(&b"* 1 FETCH (BODY[] {5}\r\nhel"[..]);
/// assert!(framer.next_event(&mut buf).is_none());
/// buf.extend_from_slice(b"lo)\r\n* OK\r\n");
/// let Some(FramerEvent::Message(frame)) = framer.next_event(&mut buf) else { panic!() };
/// assert_eq!(&frame.as_bytes()[..], b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n");
/// assert_eq!(&buf[..], b"* OK\r\n");
/// ```
#[derive(Debug)]
pub struct Framer {
    config: FramerConfig,
    consumed: u64,
    state: State,
}

impl Framer {
    /// A framer with the given limits.
    pub fn new(config: FramerConfig) -> Self {
        Self {
            config,
            consumed: 0,
            state: State::Line {
                line_start: 0,
                searched: 0,
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// Total octets handed out or discarded so far (the stream offset of the buffer start).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Whether the framer is in the middle of a message (a partial line in `buf`, or
    /// waiting for literal octets).
    pub fn has_partial(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || !matches!(self.state, State::Line { .. })
    }

    /// Drops the partial message from `buf` (use after refusing a synchronizing literal:
    /// the client will not send it). Octets after it, if any, are kept.
    pub fn discard_pending(&mut self, buf: &mut BytesMut) {
        match self.state {
            State::Literal { end, len, .. } => {
                // The literal header line ends where the literal starts.
                let header_end = end.saturating_sub(len as usize).min(buf.len());
                self.advance(buf, header_end);
            }
            State::Line { line_start, .. } => self.advance(buf, line_start.min(buf.len())),
            State::SkipLine | State::SkipLiteral { .. } => {}
        }
        self.state = State::Line {
            line_start: 0,
            searched: 0,
        };
    }

    fn advance(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.consumed += n as u64;
    }

    /// The next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Option<FramerEvent> {
        loop {
            match self.state {
                State::Line {
                    line_start,
                    searched,
                } => {
                    let Some(i) = memchr::memchr(b'\n', &buf[searched..]) else {
                        if buf.len() - line_start > self.config.max_line_len {
                            return Some({
                                let n = buf.len();
                                self.line_too_long(buf, n)
                            });
                        }
                        self.state = State::Line {
                            line_start,
                            searched: buf.len(),
                        };
                        return None;
                    };
                    let lf = searched + i;
                    if lf + 1 - line_start > self.config.max_line_len {
                        return Some(self.line_too_long(buf, lf));
                    }
                    match literal_at_end(&buf[line_start..lf]) {
                        None => {
                            if lf + 1 > self.config.max_message_len {
                                return Some(self.too_large_skip_line(buf, lf));
                            }
                            let offset = self.consumed;
                            let bytes = buf.split_to(lf + 1).freeze();
                            self.consumed += bytes.len() as u64;
                            self.state = State::Line {
                                line_start: 0,
                                searched: 0,
                            };
                            return Some(FramerEvent::Message(Frame { bytes, offset }));
                        }
                        Some((len, sync)) => {
                            let end = (lf as u64 + 1).saturating_add(len);
                            if end > self.config.max_message_len as u64 {
                                return Some(self.too_large_literal(buf, lf, len, sync));
                            }
                            self.state = State::Literal {
                                end: end as usize,
                                sync,
                                len,
                                announced: false,
                            };
                        }
                    }
                }
                State::Literal {
                    end,
                    sync,
                    len,
                    announced,
                } => {
                    // Announced even if the bytes are already here (a client that did not
                    // wait), so that events do not depend on how the input was chunked.
                    if sync && self.config.announce_sync_literals && !announced {
                        self.state = State::Literal {
                            end,
                            sync,
                            len,
                            announced: true,
                        };
                        return Some(FramerEvent::ContinuationRequired {
                            literal_len: len,
                            tag: tag_of(buf),
                        });
                    }
                    if buf.len() >= end {
                        self.state = State::Line {
                            line_start: end,
                            searched: end,
                        };
                        continue;
                    }
                    return None;
                }
                State::SkipLine => match memchr::memchr(b'\n', buf) {
                    None => {
                        let drop = buf.len().saturating_sub(TAIL);
                        self.advance(buf, drop);
                        return None;
                    }
                    Some(lf) => {
                        let literal = literal_at_end(&buf[..lf]);
                        self.advance(buf, lf + 1);
                        self.state = match literal {
                            Some((remaining, _)) => State::SkipLiteral { remaining },
                            None => State::Line {
                                line_start: 0,
                                searched: 0,
                            },
                        };
                    }
                },
                State::SkipLiteral { remaining } => {
                    let take = remaining.min(buf.len() as u64);
                    self.advance(buf, take as usize);
                    let remaining = remaining - take;
                    if remaining > 0 {
                        self.state = State::SkipLiteral { remaining };
                        return None;
                    }
                    self.state = State::SkipLine;
                }
            }
        }
    }

    /// Reports a too-long line and skips to its end; `upto` is the LF index or the buffer
    /// length.
    fn line_too_long(&mut self, buf: &mut BytesMut, upto: usize) -> FramerEvent {
        let offset = self.consumed;
        self.advance(buf, upto.saturating_sub(TAIL));
        self.state = State::SkipLine;
        tracing::debug!(
            offset,
            limit = self.config.max_line_len,
            "IMAP line too long, skipping"
        );
        FramerEvent::Error(FrameError::LineTooLong {
            offset,
            limit: self.config.max_line_len,
        })
    }

    fn too_large_skip_line(&mut self, buf: &mut BytesMut, lf: usize) -> FramerEvent {
        let offset = self.consumed;
        let tag = tag_of(buf);
        self.advance(buf, lf.saturating_sub(TAIL));
        self.state = State::SkipLine;
        FramerEvent::Error(FrameError::MessageTooLarge {
            offset,
            limit: self.config.max_message_len,
            tag,
            literal_follows: false,
        })
    }

    fn too_large_literal(
        &mut self,
        buf: &mut BytesMut,
        lf: usize,
        len: u64,
        sync: bool,
    ) -> FramerEvent {
        let offset = self.consumed;
        let tag = tag_of(buf);
        self.advance(buf, lf + 1);
        let literal_follows = !(sync && self.config.announce_sync_literals);
        self.state = if literal_follows {
            State::SkipLiteral { remaining: len }
        } else {
            State::Line {
                line_start: 0,
                searched: 0,
            }
        };
        tracing::debug!(offset, len, "IMAP message too large, skipping");
        FramerEvent::Error(FrameError::MessageTooLarge {
            offset,
            limit: self.config.max_message_len,
            tag,
            literal_follows,
        })
    }
}

fn tag_of(buf: &[u8]) -> Option<Tag> {
    let n = buf.iter().take(64).position(|&b| !is_tag_char(b))?;
    if n == 0 || buf[n] != b' ' {
        return None;
    }
    Tag::new(Bytes::copy_from_slice(&buf[..n])).ok()
}

/// If `line` (without its LF) ends with a literal header `{n}`, `{n+}` or `~{n}` (optionally
/// followed by CR), returns the length (saturated at `u64::MAX`) and whether it is
/// synchronizing. A run of more than [`MAX_LITERAL_DIGITS`] digits is not a literal header:
/// the limit keeps the answer the same whether the line is seen whole or only its last
/// [`TAIL`] bytes while a too-long line is skipped.
pub(crate) fn literal_at_end(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let (line, sync) = match line.strip_suffix(b"+") {
        Some(l) => (l, false),
        None => (line, true),
    };
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0
        || digits > MAX_LITERAL_DIGITS
        || line.len() == digits
        || line[line.len() - digits - 1] != b'{'
    {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &line[line.len() - digits..] {
        n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    Some((n, sync))
}

/// The length of the first whole message in `buf`, `Ok(None)` if it is incomplete.
pub(crate) fn message_len(buf: &[u8], config: &FramerConfig) -> Result<Option<usize>, FrameError> {
    let mut line_start = 0;
    loop {
        let Some(i) = memchr::memchr(b'\n', &buf[line_start..]) else {
            if buf.len() - line_start > config.max_line_len {
                return Err(FrameError::LineTooLong {
                    offset: 0,
                    limit: config.max_line_len,
                });
            }
            return Ok(None);
        };
        let lf = line_start + i;
        if lf + 1 - line_start > config.max_line_len {
            return Err(FrameError::LineTooLong {
                offset: 0,
                limit: config.max_line_len,
            });
        }
        let too_large = || FrameError::MessageTooLarge {
            offset: 0,
            limit: config.max_message_len,
            tag: tag_of(buf),
            literal_follows: true,
        };
        match literal_at_end(&buf[line_start..lf]) {
            None if lf + 1 > config.max_message_len => return Err(too_large()),
            None => return Ok(Some(lf + 1)),
            Some((len, _)) => {
                let end = (lf as u64 + 1).saturating_add(len);
                if end > config.max_message_len as u64 {
                    return Err(too_large());
                }
                if end > buf.len() as u64 {
                    return Ok(None);
                }
                line_start = end as usize;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A framer with its receive buffer, as a caller holds them.
    struct Fed {
        framer: Framer,
        buf: BytesMut,
    }

    impl Fed {
        fn new(config: FramerConfig) -> Self {
            Self {
                framer: Framer::new(config),
                buf: BytesMut::new(),
            }
        }
        fn feed(&mut self, data: &[u8]) {
            self.buf.extend_from_slice(data);
        }
        fn next_event(&mut self) -> Option<FramerEvent> {
            self.framer.next_event(&mut self.buf)
        }
        fn discard_pending(&mut self) {
            self.framer.discard_pending(&mut self.buf);
        }
        fn buffered_len(&self) -> usize {
            self.buf.len()
        }
    }

    fn events(f: &mut Fed) -> Vec<FramerEvent> {
        std::iter::from_fn(|| f.next_event()).collect()
    }

    #[test]
    fn literal_header() {
        assert_eq!(literal_at_end(b"a {5}\r"), Some((5, true)));
        assert_eq!(literal_at_end(b"a {5+}"), Some((5, false)));
        assert_eq!(literal_at_end(b"a ~{0}\r"), Some((0, true)));
        assert_eq!(literal_at_end(b"a {}\r"), None);
        assert_eq!(literal_at_end(b"a 5}\r"), None);
        assert_eq!(
            literal_at_end(b"{18446744073709551615999}"),
            Some((u64::MAX, true))
        );
        // Too many digits to be a length: not a literal header at all.
        assert_eq!(
            literal_at_end(&[&b"a {"[..], &[b'0'; 25], b"}\r"].concat()),
            None
        );
    }

    /// Fuzz regression: a too-long line ending in a literal header with dozens of leading
    /// zeros framed differently whole and in small chunks.
    #[test]
    fn long_line_with_overlong_literal_digits_frames_the_same_in_chunks() {
        let mut input = vec![b'x'; 300];
        input.extend_from_slice(b" {");
        input.extend_from_slice(&[b'0'; 80]);
        input.extend_from_slice(b"}\n\nnext\n");
        let mut config = FramerConfig::for_responses();
        config.max_line_len = 256;
        let run = |chunk: usize| {
            let mut f = Fed::new(config);
            let mut events = Vec::new();
            for piece in input.chunks(chunk) {
                f.feed(piece);
                while let Some(e) = f.next_event() {
                    events.push(e);
                }
            }
            events
        };
        let whole = run(input.len());
        assert_eq!(whole.len(), 3, "{whole:?}");
        for chunk in [1, 7, 64, 255] {
            assert_eq!(run(chunk), whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn sync_literal_announced() {
        let mut f = Fed::new(FramerConfig::for_commands());
        f.feed(b"a1 LOGIN {4}\r\n");
        assert_eq!(
            f.next_event(),
            Some(FramerEvent::ContinuationRequired {
                literal_len: 4,
                tag: Some(Tag::try_from("a1").unwrap())
            })
        );
        assert_eq!(f.next_event(), None);
        f.feed(b"user {4+}\r\npass\r\n");
        let ev = f.next_event().unwrap();
        assert_eq!(
            ev,
            FramerEvent::Message(Frame {
                bytes: Bytes::from_static(b"a1 LOGIN {4}\r\nuser {4+}\r\npass\r\n"),
                offset: 0
            })
        );
    }

    #[test]
    fn refused_literal_is_discarded() {
        let mut f = Fed::new(FramerConfig::for_commands());
        f.feed(b"a1 APPEND INBOX {400}\r\n");
        assert!(matches!(
            f.next_event(),
            Some(FramerEvent::ContinuationRequired { .. })
        ));
        f.discard_pending();
        f.feed(b"a2 NOOP\r\n");
        let Some(FramerEvent::Message(m)) = f.next_event() else {
            panic!()
        };
        assert_eq!(&m.as_bytes()[..], b"a2 NOOP\r\n");
        assert_eq!(m.offset(), 23);
    }

    #[test]
    fn huge_literal_claim_is_skipped_without_allocation() {
        let mut f = Fed::new(FramerConfig::for_responses());
        f.feed(b"* 1 FETCH (BODY[] {18446744073709551615}\r\nabc");
        let ev = f.next_event().unwrap();
        assert!(matches!(
            ev,
            FramerEvent::Error(FrameError::MessageTooLarge { offset: 0, .. })
        ));
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered_len(), 0);
    }

    #[test]
    fn too_large_message_skipped_in_sync() {
        let cfg = FramerConfig {
            max_line_len: 100,
            max_message_len: 50,
            announce_sync_literals: false,
        };
        let mut f = Fed::new(cfg);
        f.feed(b"* 1 FETCH (BODY[] {60}\r\n");
        f.feed(&[b'x'; 60]);
        f.feed(b" UID 5)\r\n* 2 EXISTS\r\n");
        let evs = events(&mut f);
        assert_eq!(evs.len(), 2, "{evs:?}");
        assert!(matches!(
            evs[0],
            FramerEvent::Error(FrameError::MessageTooLarge { .. })
        ));
        let FramerEvent::Message(m) = &evs[1] else {
            panic!()
        };
        assert_eq!(&m.as_bytes()[..], b"* 2 EXISTS\r\n");
    }

    #[test]
    fn long_line_bounded_memory() {
        let cfg = FramerConfig {
            max_line_len: 1000,
            max_message_len: 10_000,
            announce_sync_literals: false,
        };
        let mut f = Fed::new(cfg);
        let chunk = vec![b'a'; 65536];
        let mut errors = 0;
        for _ in 0..160 {
            f.feed(&chunk);
            for ev in events(&mut f) {
                assert!(matches!(
                    ev,
                    FramerEvent::Error(FrameError::LineTooLong { .. })
                ));
                errors += 1;
            }
            assert!(f.buffered_len() <= 65536 + 1000);
        }
        f.feed(b"\r\n* OK done\r\n");
        let evs = events(&mut f);
        assert_eq!(errors, 1);
        let [FramerEvent::Message(m)] = &evs[..] else {
            panic!("{evs:?}")
        };
        assert_eq!(&m.as_bytes()[..], b"* OK done\r\n");
    }

    #[test]
    fn long_line_ending_in_literal_skips_literal() {
        let cfg = FramerConfig {
            max_line_len: 20,
            max_message_len: 10_000,
            announce_sync_literals: false,
        };
        let mut f = Fed::new(cfg);
        f.feed(b"* 1 FETCH (X-LONG-THING-HERE BODY[] {3}\r\n)\r\n)\r\n* OK\r\n");
        let evs = events(&mut f);
        assert_eq!(evs.len(), 2, "{evs:?}");
        let FramerEvent::Message(m) = &evs[1] else {
            panic!()
        };
        assert_eq!(&m.as_bytes()[..], b"* OK\r\n");
    }

    /// A stream with literals (one of them empty, one synchronizing), a too-long message
    /// that is skipped, and plain lines.
    fn mixed_stream() -> Vec<u8> {
        let mut input = Vec::new();
        input.extend_from_slice(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
        for (i, len) in [0usize, 1, 300, 5000, 70_000].into_iter().enumerate() {
            input.extend_from_slice(
                format!("* {} FETCH (UID {i} BODY[] {{{len}}}\r\n", i + 1).as_bytes(),
            );
            input.extend((0..len).map(|n| b'a' + (n % 26) as u8));
            input.extend_from_slice(b" FLAGS (\\Seen))\r\n");
        }
        input.extend_from_slice(b"* 9 FETCH (BODY[] {200000}\r\n");
        input.extend(std::iter::repeat_n(b'x', 200_000));
        input.extend_from_slice(b")\r\nA1 OK done\r\n");
        input
    }

    fn mixed_config() -> FramerConfig {
        FramerConfig {
            max_line_len: 1000,
            max_message_len: 100_000,
            announce_sync_literals: false,
        }
    }

    /// Feeds `input` as socket reads of the given sizes (cycled) would, into the buffer's
    /// spare capacity (reserving `chunk` when less than a quarter of it is left), and
    /// collects the events.
    fn run_reads(input: &[u8], sizes: &[usize], chunk: usize) -> Vec<FramerEvent> {
        let mut f = Framer::new(mixed_config());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut sizes = sizes.iter().copied().cycle();
        while !rest.is_empty() {
            if buf.capacity() - buf.len() < chunk / 4 {
                buf.reserve(chunk);
            }
            // Like a socket read: at most the spare capacity.
            let n = sizes
                .next()
                .unwrap_or(1)
                .clamp(1, buf.capacity() - buf.len())
                .min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            out.extend(std::iter::from_fn(|| f.next_event(&mut buf)));
        }
        out
    }

    #[test]
    fn reads_of_any_size_frame_like_the_whole_input() {
        let input = mixed_stream();
        let mut f = Fed::new(mixed_config());
        f.feed(&input);
        let whole = events(&mut f);
        // Greeting, five FETCHes, the too-large one, the tagged OK.
        assert_eq!(whole.len(), 8, "{whole:?}");
        assert!(matches!(
            whole[6],
            FramerEvent::Error(FrameError::MessageTooLarge { .. })
        ));
        for (sizes, chunk) in [
            (&[1usize][..], 64),
            (&[7, 1, 300], 1024),
            (&[65536], 65536),
            (&[100_000], 4096),
            (&[3, 40_000, 17], 65536),
        ] {
            assert_eq!(run_reads(&input, sizes, chunk), whole, "{sizes:?} {chunk}");
        }
    }

    proptest::proptest! {
        #[test]
        fn reads_in_random_pieces_equal_whole_input(
            sizes in proptest::collection::vec(1usize..70_000, 1..20),
            chunk in 16usize..131_072,
        ) {
            let input = mixed_stream();
            let mut f = Fed::new(mixed_config());
            f.feed(&input);
            let whole = events(&mut f);
            proptest::prop_assert_eq!(run_reads(&input, &sizes, chunk), whole);
        }
    }

    #[test]
    fn frames_are_slices_of_the_receive_buffer() {
        let mut framer = Framer::new(FramerConfig::for_responses());
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let start = buf.as_ptr();
        buf.extend_from_slice(b"* 1 FETCH (BODY[] {10}\r\n");
        assert_eq!(framer.next_event(&mut buf), None);
        buf.extend_from_slice(b"0123456789)\r\n* 2 EXISTS\r\n");
        let Some(FramerEvent::Message(m)) = framer.next_event(&mut buf) else {
            panic!()
        };
        assert_eq!(
            &m.as_bytes()[..],
            b"* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n"
        );
        // The literal sits where the read put it: same allocation, no copy.
        assert_eq!(m.as_bytes().as_ptr(), start);
        let Some(FramerEvent::Message(n)) = framer.next_event(&mut buf) else {
            panic!()
        };
        assert_eq!(n.as_bytes().as_ptr(), start.wrapping_add(m.len()));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_claimed_literal_length_never_reserves_memory() {
        let mut f = Fed::new(FramerConfig::for_responses());
        f.feed(b"* 1 FETCH (BODY[] {60000000}\r\n");
        assert_eq!(f.next_event(), None);
        assert!(f.buf.capacity() < 1 << 20, "{}", f.buf.capacity());
        f.feed(b"abc");
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered_len(), 33);
    }

    #[test]
    fn message_len_one_shot() {
        let cfg = FramerConfig::for_responses();
        assert_eq!(message_len(b"* OK\r\nrest", &cfg).unwrap(), Some(6));
        assert_eq!(
            message_len(b"* 1 FETCH (BODY[] {2}\r\nab)\r\n", &cfg).unwrap(),
            Some(28)
        );
        assert_eq!(
            message_len(b"* 1 FETCH (BODY[] {2}\r\na", &cfg).unwrap(),
            None
        );
        assert!(message_len(b"* 1 FETCH (BODY[] {99999999999}\r\na", &cfg).is_err());
    }
}
