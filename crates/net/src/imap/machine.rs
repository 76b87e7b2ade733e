//! The sans-IO core of the IMAP client: tags, the framer, and the state of one command in
//! flight (what to send next, where to wait for a `+`, when the tagged completion arrives).
//!
//! Nothing here touches a socket. The async shell ([`ImapClient`](super::ImapClient))
//! feeds received octets to a [`Receiver`], writes what an [`Exchange`] hands out, and
//! passes every decoded response back to the exchange, which says what it means.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use inbound_imap_codec::types::{
    Command, CommandBody, Continue, Greeting, LiteralMode, Response, Status, StatusBody, Tag,
};
use inbound_imap_codec::{
    DecodeError, Fragment, Framer, FramerConfig, FramerEvent, LiteralSupport, Quirks,
    decode_greeting, decode_response,
};

use super::error::ImapError;

/// Splits received octets into messages and decodes them.
#[derive(Debug)]
pub(crate) struct Receiver {
    framer: Framer,
    /// Received octets not yet handed out as messages; reads append to it.
    buf: BytesMut,
    quirks: Quirks,
}

/// One decoded server message with the first line of its wire form (for the trace; never
/// a literal's content).
#[derive(Debug)]
pub(crate) struct Received<T> {
    pub(crate) value: T,
    pub(crate) head: Bytes,
}

impl Receiver {
    pub(crate) fn new(config: FramerConfig, quirks: Quirks) -> Self {
        Self {
            framer: Framer::new(config),
            buf: BytesMut::new(),
            quirks,
        }
    }

    /// A fresh receiver with the same settings (after the TLS upgrade).
    pub(crate) fn renew(&self) -> Self {
        Self::new(*self.framer.config(), self.quirks)
    }

    #[cfg(test)]
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The receive buffer for a socket read to append to (`read_buf` writes straight into
    /// its spare capacity: no copy). At least `chunk / 4` octets of capacity are free: when
    /// less is, `chunk` more are reserved. `chunk` is the caller's choice, never a length
    /// the peer announced, so memory only grows with octets that actually arrive.
    pub(crate) fn read_buffer(&mut self, chunk: usize) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < chunk / 4 {
            self.buf.reserve(chunk);
        }
        &mut self.buf
    }

    /// Octets received but not yet handed out as messages.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn next_frame(&mut self) -> Option<Result<inbound_imap_codec::Frame, DecodeError>> {
        loop {
            return match self.framer.next_event(&mut self.buf)? {
                FramerEvent::Message(f) => Some(Ok(f)),
                FramerEvent::Error(e) => Some(Err(e.into())),
                // Only announced for command framers.
                FramerEvent::ContinuationRequired { .. } => continue,
            };
        }
    }

    /// The next response, `None` when more octets are needed.
    pub(crate) fn next_response(&mut self) -> Option<Result<Received<Response>, DecodeError>> {
        Some(self.next_frame()?.and_then(|frame| {
            let head = first_line(frame.as_bytes());
            decode_response(&frame, self.quirks).map(|value| Received { value, head })
        }))
    }

    /// The greeting, `None` when more octets are needed.
    pub(crate) fn next_greeting(&mut self) -> Option<Result<Received<Greeting>, DecodeError>> {
        Some(self.next_frame()?.and_then(|frame| {
            let head = first_line(frame.as_bytes());
            decode_greeting(&frame, self.quirks).map(|value| Received { value, head })
        }))
    }
}

/// The first line of a frame (up to and including LF), as a cheap slice.
fn first_line(frame: &Bytes) -> Bytes {
    match memchr_lf(frame) {
        Some(i) => frame.slice(..=i),
        None => frame.clone(),
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Hands out tags `A1`, `A2`, ...
#[derive(Debug, Default)]
pub(crate) struct Tagger {
    next: u64,
}

impl Tagger {
    pub(crate) fn next_tag(&mut self) -> Result<Tag, ImapError> {
        self.next += 1;
        // `A` and digits are always valid tag characters: this cannot fail.
        Tag::new(Bytes::from(format!("A{}", self.next))).map_err(|e| ImapError::InvalidArgument {
            what: "tag",
            reason: e.to_string(),
        })
    }
}

/// What a response means for the command in flight.
#[derive(Debug)]
#[must_use]
pub(crate) enum Outcome {
    /// Untagged data or status: not the end of the command.
    Untagged(Response),
    /// The server's `+` let the next literal go: send [`Exchange::take_output`] now.
    SendMore,
    /// A continuation request the exchange itself did not ask for (a SASL challenge, the
    /// go-ahead of IDLE); the caller decides.
    Continuation(Continue),
    /// The tagged completion.
    Done(StatusBody),
}

/// One command in flight.
#[derive(Debug)]
pub(crate) struct Exchange {
    tag: Tag,
    name: &'static str,
    queue: VecDeque<Fragment>,
    awaiting_literal: bool,
}

impl Exchange {
    /// Encodes `body` with `tag`; `literals` is what the server allows.
    pub(crate) fn new(tag: Tag, body: CommandBody, literals: LiteralSupport) -> Self {
        let name = body.name();
        let command = Command::new(tag.clone(), body);
        Self {
            tag,
            name,
            queue: command.encode(literals).into_fragments().into(),
            awaiting_literal: false,
        }
    }

    pub(crate) fn tag(&self) -> &Tag {
        &self.tag
    }

    /// The command's name, for errors and logs.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Whether the exchange waits for a `+` before it can send the rest.
    #[cfg(test)]
    pub(crate) fn awaiting_literal(&self) -> bool {
        self.awaiting_literal
    }

    /// The octets that may be sent now: everything up to a synchronizing literal (whose
    /// header line is included), or the rest. Empty when nothing is to be sent.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.awaiting_literal {
            return out;
        }
        let mut first = true;
        while let Some(fragment) = self.queue.pop_front() {
            match fragment {
                Fragment::Line(line) => out.extend_from_slice(&line),
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync && !first {
                        // Wait for the server's `+` before the data.
                        self.queue.push_front(Fragment::Literal { data, mode });
                        self.awaiting_literal = true;
                        return out;
                    }
                    out.extend_from_slice(&data);
                }
            }
            first = false;
        }
        out
    }

    /// Interprets one response.
    ///
    /// # Errors
    /// [`ImapError::Unexpected`] for a tagged response with another tag.
    pub(crate) fn on_response(&mut self, response: Response) -> Result<Outcome, ImapError> {
        match response {
            Response::Status(Status::Tagged { tag, body }) => {
                if tag == self.tag {
                    // A refused literal: the rest is never sent.
                    self.queue.clear();
                    self.awaiting_literal = false;
                    Ok(Outcome::Done(body))
                } else {
                    Err(ImapError::Unexpected {
                        during: self.name,
                        what: "a tagged response with an unknown tag",
                    })
                }
            }
            Response::Continue(c) => {
                if self.awaiting_literal {
                    self.awaiting_literal = false;
                    Ok(Outcome::SendMore)
                } else {
                    Ok(Outcome::Continuation(c))
                }
            }
            other => Ok(Outcome::Untagged(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use inbound_imap_codec::types::{AString, Data, Redacted, StatusKind};

    fn responses(r: &mut Receiver) -> Vec<Response> {
        let mut out = Vec::new();
        while let Some(x) = r.next_response() {
            out.push(x.unwrap().value);
        }
        out
    }

    #[test]
    fn login_with_literal_waits_for_continuation() {
        let mut tags = Tagger::default();
        let body = CommandBody::Login {
            username: AString::from("joe"),
            password: Redacted::new(AString::from("p\u{e4}ss")),
        };
        let mut ex = Exchange::new(tags.next_tag().unwrap(), body, LiteralSupport::SyncOnly);
        assert_eq!(ex.take_output(), b"A1 LOGIN joe {5}\r\n");
        assert!(ex.awaiting_literal());
        assert!(ex.take_output().is_empty());

        let mut rx = Receiver::new(FramerConfig::for_responses(), Quirks::default());
        rx.feed(b"+ go ahead\r\n");
        let r = responses(&mut rx).remove(0);
        assert!(matches!(ex.on_response(r).unwrap(), Outcome::SendMore));
        assert_eq!(ex.take_output(), "p\u{e4}ss\r\n".as_bytes());

        rx.feed(b"* CAPABILITY IMAP4rev1\r\nA1 OK [CAPABILITY IMAP4rev1 IDLE] done\r\n");
        let mut rs = responses(&mut rx).into_iter();
        assert!(matches!(
            ex.on_response(rs.next().unwrap()).unwrap(),
            Outcome::Untagged(Response::Data(Data::Capability(_)))
        ));
        let Outcome::Done(body) = ex.on_response(rs.next().unwrap()).unwrap() else {
            panic!()
        };
        assert_eq!(body.kind, StatusKind::Ok);
    }

    #[test]
    fn literal_plus_sends_everything_at_once() {
        let body = CommandBody::Login {
            username: AString::from("joe"),
            password: Redacted::new(AString::from("a\"b\r\n")),
        };
        let mut ex = Exchange::new(
            Tagger::default().next_tag().unwrap(),
            body,
            LiteralSupport::LiteralPlus,
        );
        assert_eq!(ex.take_output(), b"A1 LOGIN joe {5+}\r\na\"b\r\n\r\n");
        assert!(!ex.awaiting_literal());
    }

    #[test]
    fn refused_literal_completes_the_command() {
        let body = CommandBody::Login {
            username: AString::from("joe"),
            password: Redacted::new(AString::from("x\ny")),
        };
        let mut ex = Exchange::new(
            Tagger::default().next_tag().unwrap(),
            body,
            LiteralSupport::SyncOnly,
        );
        let _ = ex.take_output();
        let mut rx = Receiver::new(FramerConfig::for_responses(), Quirks::default());
        rx.feed(b"A1 NO too long\r\n");
        let r = responses(&mut rx).remove(0);
        let Outcome::Done(body) = ex.on_response(r).unwrap() else {
            panic!()
        };
        assert_eq!(body.kind, StatusKind::No);
        assert!(ex.take_output().is_empty());
    }

    #[test]
    fn unknown_tag_and_unasked_continuation() {
        let mut ex = Exchange::new(
            Tagger::default().next_tag().unwrap(),
            CommandBody::Noop,
            LiteralSupport::SyncOnly,
        );
        assert_eq!(ex.take_output(), b"A1 NOOP\r\n");
        let mut rx = Receiver::new(FramerConfig::for_responses(), Quirks::default());
        rx.feed(b"+ idling\r\nB7 OK other\r\n");
        let mut rs = responses(&mut rx).into_iter();
        assert!(matches!(
            ex.on_response(rs.next().unwrap()).unwrap(),
            Outcome::Continuation(_)
        ));
        assert!(matches!(
            ex.on_response(rs.next().unwrap()),
            Err(ImapError::Unexpected { .. })
        ));
    }

    #[test]
    fn receiver_reports_heads_and_buffered_octets() {
        let mut rx = Receiver::new(FramerConfig::for_responses(), Quirks::default());
        rx.feed(b"* OK [CAPABILITY IMAP4rev1] hi\r\n* 1 FETCH (UID 4 BODY[] {3}\r\nabc)\r\nA1 OK");
        let g = rx.next_greeting().unwrap().unwrap();
        assert_eq!(&g.head[..], b"* OK [CAPABILITY IMAP4rev1] hi\r\n");
        let f = rx.next_response().unwrap().unwrap();
        assert_eq!(&f.head[..], b"* 1 FETCH (UID 4 BODY[] {3}\r\n");
        assert!(rx.next_response().is_none());
        assert_eq!(rx.buffered(), 5);
    }
}
