//! The server side: decodes command lines and SASL answers.

use bytes::{Buf as _, BytesMut};
use memchr::memchr;

use super::{Framed, frame_line};
use crate::auth::SaslData;
use crate::command::ClientLine;
use crate::error::{DecodeError, DecodeErrorKind, Excerpt};
use crate::grammar;

/// Limits for [`CommandDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandConfig {
    /// Longest command line, CRLF included. RFC 2449 section 4 requires servers to accept
    /// 255 octets; the default of 1,024 is lenient.
    pub max_line_len: usize,
    /// Longest `AUTH` line or SASL answer line, CRLF included: OAuth tokens easily exceed
    /// 255 octets. Default 64 KiB.
    pub max_auth_line_len: usize,
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            max_line_len: 1024,
            max_auth_line_len: 64 * 1024,
        }
    }
}

/// Decodes what a client sends, for a server.
///
/// During `AUTH`, after sending a continuation (`+ ...`), call
/// [`CommandDecoder::expect_auth_response`]: the next line is then decoded as SASL data
/// ([`ClientLine::AuthResponse`]) or `*` ([`ClientLine::AuthCancel`]).
///
/// ```
/// use bytes::BytesMut;
/// use inbound_pop3_codec::{ClientLine, Command, CommandDecoder};
///
/// let mut dec = CommandDecoder::default();
/// let mut buf = BytesMut::from(&b"AUTH PLAIN\r\ndGVzdAB0ZXN0AHRlc3Q=\r\nQU"[..]);
/// let auth = dec.decode(&mut buf).unwrap().unwrap();
/// assert!(matches!(auth, ClientLine::Command(Command::Auth { .. })));
/// dec.expect_auth_response(); // after sending "+ \r\n"
/// match dec.decode(&mut buf).unwrap().unwrap() {
///     ClientLine::AuthResponse(data) => assert_eq!(data.expose(), b"test\0test\0test"),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(dec.decode(&mut buf).unwrap(), None); // "QU" is incomplete
/// buf.extend_from_slice(b"IT\r\n");
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(ClientLine::Command(Command::Quit)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CommandDecoder {
    config: CommandConfig,
    offset: u64,
    auth_response_expected: bool,
    discarding: bool,
}

impl CommandDecoder {
    /// A decoder with these limits.
    pub fn new(config: CommandConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The next line is an answer to a SASL continuation (RFC 5034 section 4).
    pub fn expect_auth_response(&mut self) {
        self.auth_response_expected = true;
    }

    /// Octets consumed from the stream so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.offset += n as u64;
    }

    /// Decodes the next line. `Ok(None)`: more octets are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientLine>, DecodeError> {
        if self.discarding {
            match memchr(b'\n', buf) {
                Some(i) => {
                    self.consume(buf, i + 1);
                    self.discarding = false;
                }
                None => {
                    let n = buf.len();
                    self.consume(buf, n);
                    return Ok(None);
                }
            }
        }
        let limit = self.config.max_line_len.max(self.config.max_auth_line_len);
        let (content_end, end) = match frame_line(buf, limit) {
            Framed::NeedMore => return Ok(None),
            Framed::TooLong => {
                let err = DecodeError::new(
                    self.offset + limit as u64,
                    DecodeErrorKind::LineTooLong { limit },
                    excerpt(&buf[..], self.auth_response_expected),
                );
                self.auth_response_expected = false;
                self.discarding = true;
                // Drop only the line's first `limit` octets: its end (and any pipelined
                // commands after it) may already be buffered.
                let n = limit.min(buf.len());
                self.consume(buf, n);
                return Err(err);
            }
            Framed::Line { content_end, end } => (content_end, end),
        };
        let line = &buf[..content_end];
        let sasl = std::mem::take(&mut self.auth_response_expected);
        let result = if sasl {
            if line == b"*" {
                Ok(ClientLine::AuthCancel)
            } else {
                SaslData::from_base64(line)
                    .map(ClientLine::AuthResponse)
                    .map_err(|e| (0, DecodeErrorKind::BadArgument(e)))
            }
        } else if let Some(nul) = memchr(0, line) {
            Err((nul, DecodeErrorKind::NulOctet))
        } else if end > self.config.max_line_len && !grammar::is_auth_line(line) {
            Err((
                self.config.max_line_len,
                DecodeErrorKind::LineTooLong {
                    limit: self.config.max_line_len,
                },
            ))
        } else {
            grammar::command(line)
                .map(ClientLine::Command)
                .map_err(|kind| (0, kind))
        };
        let result = result.map_err(|(at, kind)| {
            DecodeError::new(self.offset + at as u64, kind, excerpt(line, sasl))
        });
        self.consume(buf, end);
        result.map(Some)
    }
}

/// An excerpt that withholds credentials: SASL lines and the arguments of PASS, APOP, AUTH.
fn excerpt(line: &[u8], sasl: bool) -> Excerpt {
    if sasl {
        return Excerpt::redacted("");
    }
    for kw in [&b"PASS"[..], b"APOP", b"AUTH"] {
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(kw) {
            return Excerpt::redacted(&format!("{} ", String::from_utf8_lossy(kw)));
        }
    }
    Excerpt::new(line)
}
