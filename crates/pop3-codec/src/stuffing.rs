//! Multi-line framing (RFC 1939 section 3): lines starting with `.` are byte-stuffed with a
//! second `.`, and the body ends with `CRLF.CRLF`.
//!
//! Decoding finds line-initial dots with a SIMD substring search for `CRLF.` and removes
//! stuffing in place in the caller's buffer: when no line starts with a dot nothing is
//! copied, and the body is handed out as a slice of the receive buffer.

use std::sync::LazyLock;

use bytes::{BufMut as _, BytesMut};
use memchr::memmem;

/// Finds `CRLF.`: the start of every line that begins with a dot.
static LINE_DOT: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\r\n."));

/// Appends `body` dot-stuffed, followed by the terminating `.CRLF` (and a CRLF before it if
/// `body` does not end with one). An empty body gives just `.CRLF`.
pub fn encode_body(body: &[u8], out: &mut BytesMut) {
    let mut encoder = BodyEncoder::new();
    encoder.push(body, out);
    encoder.finish(out);
}

/// Dot-stuffs a body that is sent in pieces (for streaming a large message from a server).
///
/// ```
/// use bytes::BytesMut;
/// use inbound_pop3_codec::BodyEncoder;
///
/// let mut out = BytesMut::new();
/// let mut enc = BodyEncoder::new();
/// enc.push(b"Subject: x\r\n\r\n", &mut out);
/// enc.push(b".hidden\r", &mut out);
/// enc.push(b"\n.too", &mut out);
/// enc.finish(&mut out);
/// assert_eq!(&out[..], b"Subject: x\r\n\r\n..hidden\r\n..too\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    /// The next octet starts a line.
    line_start: bool,
    /// The last octet pushed was CR.
    after_cr: bool,
}

impl Default for BodyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyEncoder {
    /// A new body: the first octet starts a line.
    pub fn new() -> Self {
        Self {
            line_start: true,
            after_cr: false,
        }
    }

    /// Appends the next piece of the body, stuffing line-initial dots.
    pub fn push(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if chunk.is_empty() {
            return;
        }
        out.reserve(chunk.len() + 16);
        let mut from = 0;
        if self.line_start && chunk[0] == b'.' {
            out.put_u8(b'.');
        } else if self.after_cr && chunk.starts_with(b"\n.") {
            out.put_slice(b"\n.");
            out.put_u8(b'.');
            from = 2;
        }
        let finder = &*LINE_DOT;
        let mut search_from = from;
        while let Some(i) = finder.find(&chunk[search_from..]) {
            let dot = search_from + i + 2;
            out.put_slice(&chunk[from..=dot]);
            out.put_u8(b'.');
            from = dot + 1;
            search_from = from;
        }
        out.put_slice(&chunk[from..]);
        let ends_crlf = chunk.ends_with(b"\r\n") || (self.after_cr && chunk == b"\n");
        self.line_start = ends_crlf;
        self.after_cr = chunk.ends_with(b"\r");
    }

    /// Ends the body: a CRLF if the body did not end with one, then `.CRLF`.
    pub fn finish(self, out: &mut BytesMut) {
        if !self.line_start {
            out.put_slice(b"\r\n");
        }
        out.put_slice(b".\r\n");
    }
}

/// What one scanning step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// More input is needed; `buf[..write]` holds unstuffed body octets.
    NeedMore,
    /// The terminator was found: `buf[..write]` is the rest of the body and the terminator
    /// ends before `consumed`.
    Done {
        /// Octets of the buffer the body and terminator occupy.
        consumed: usize,
    },
}

/// Resumable unstuffing of a multi-line body held at the front of a buffer.
///
/// `buf[..write]` is unstuffed output; `buf[write..read]` is garbage left by compaction;
/// `buf[read..]` is not scanned yet. The caller may split off `buf[..write]` (streaming) and
/// call [`BodyScan::rebase`], or leave it and keep appending (collecting).
#[derive(Debug, Clone)]
pub(crate) struct BodyScan {
    read: usize,
    write: usize,
    at_start: bool,
}

impl BodyScan {
    /// A scan that starts at the first octet of a body (a line start).
    pub(crate) fn new() -> Self {
        Self {
            read: 0,
            write: 0,
            at_start: true,
        }
    }

    /// Unstuffed octets at the front of the buffer.
    pub(crate) fn written(&self) -> usize {
        self.write
    }

    /// Octets of the buffer scanned so far (output plus garbage).
    pub(crate) fn scanned(&self) -> usize {
        self.read
    }

    /// After the caller removed the first `scanned()` octets of the buffer.
    pub(crate) fn rebase(&mut self) {
        self.read = 0;
        self.write = 0;
    }

    /// Moves `buf[self.read..to]` to the output.
    fn keep(&mut self, buf: &mut [u8], to: usize) {
        if self.write != self.read {
            buf.copy_within(self.read..to, self.write);
        }
        self.write += to - self.read;
        self.read = to;
    }

    /// Scans what has arrived. Never reads before `self.read`; robust against a buffer that
    /// shrank (treated as an empty buffer).
    pub(crate) fn step(&mut self, buf: &mut [u8]) -> Scan {
        if self.read > buf.len() {
            self.read = buf.len();
            self.write = self.write.min(self.read);
        }
        if self.at_start {
            match buf.get(self.read..self.read + 3.min(buf.len() - self.read)) {
                Some([b'.', b'\r', b'\n']) => {
                    return Scan::Done {
                        consumed: self.read + 3,
                    };
                }
                Some([b'.', b'.', ..]) => {
                    // A stuffed dot: drop the first one.
                    self.read += 1;
                }
                Some([b'.', b'\r']) | Some([b'.']) | Some([]) => return Scan::NeedMore,
                _ => {}
            }
            self.at_start = false;
        }
        let finder = &*LINE_DOT;
        loop {
            let Some(i) = finder.find(&buf[self.read..]) else {
                // Keep the last two octets: they may start a CRLF. sequence.
                let safe = buf.len().saturating_sub(2).max(self.read);
                self.keep(buf, safe);
                return Scan::NeedMore;
            };
            let p = self.read + i; // CR of "CRLF."
            match buf.get(p + 3) {
                None => {
                    self.keep(buf, p);
                    return Scan::NeedMore;
                }
                Some(b'.') => {
                    // Stuffed: keep "CRLF", drop the first dot, keep scanning after it.
                    self.keep(buf, p + 2);
                    self.read = p + 3;
                }
                Some(b'\r') => match buf.get(p + 4) {
                    None => {
                        self.keep(buf, p);
                        return Scan::NeedMore;
                    }
                    Some(b'\n') => {
                        self.keep(buf, p + 2);
                        return Scan::Done { consumed: p + 5 };
                    }
                    Some(_) => self.keep(buf, p + 3),
                },
                // A line starting with a single dot that is not the terminator: not valid,
                // but keep it as sent.
                Some(_) => self.keep(buf, p + 3),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn unstuff_all(wire: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut buf = wire.to_vec();
        let mut scan = BodyScan::new();
        match scan.step(&mut buf) {
            Scan::Done { consumed } => Some((buf[..scan.written()].to_vec(), consumed)),
            Scan::NeedMore => None,
        }
    }

    #[test]
    fn unstuffs_and_finds_terminator() {
        assert_eq!(unstuff_all(b".\r\n"), Some((vec![], 3)));
        assert_eq!(
            unstuff_all(b"a\r\n..b\r\n.\r\nrest"),
            Some((b"a\r\n.b\r\n".to_vec(), 11))
        );
        assert_eq!(unstuff_all(b"..x\r\n.\r\n"), Some((b".x\r\n".to_vec(), 8)));
        assert_eq!(unstuff_all(b"a\r\n.b\r\n"), None);
        assert_eq!(unstuff_all(b"a\r\n."), None);
    }

    #[test]
    fn encodes_stuffing() {
        let mut out = BytesMut::new();
        encode_body(b".a\r\n.\r\nb", &mut out);
        assert_eq!(&out[..], b"..a\r\n..\r\nb\r\n.\r\n");
        let mut out = BytesMut::new();
        encode_body(b"", &mut out);
        assert_eq!(&out[..], b".\r\n");
    }

    #[test]
    fn resumes_across_every_split() {
        let wire = b"x\r\n..y\r\n..\r\nz\r\n.\r\n";
        for split in 0..wire.len() {
            let mut buf = wire[..split].to_vec();
            let mut scan = BodyScan::new();
            let first = scan.step(&mut buf);
            assert_eq!(first, Scan::NeedMore, "split {split}");
            buf.extend_from_slice(&wire[split..]);
            assert_eq!(
                scan.step(&mut buf),
                Scan::Done {
                    consumed: wire.len()
                }
            );
            assert_eq!(&buf[..scan.written()], b"x\r\n.y\r\n.\r\nz\r\n");
        }
    }
}
