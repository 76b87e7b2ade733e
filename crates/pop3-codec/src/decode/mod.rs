//! Sans-IO decoders: [`ResponseDecoder`] for clients, [`CommandDecoder`] for servers.
//!
//! Both follow the same contract: the caller appends received octets to one `BytesMut` and
//! calls `decode` until it returns `Ok(None)` ("need more bytes"). Decoded octets are removed
//! from the front of the buffer; the caller must not change the buffer other than by
//! appending between calls. An `Err` reports a bad message that has been (or is being)
//! skipped; decoding may continue.

mod client;
mod server;

pub use client::{BodyMode, Expectation, ResponseConfig, ResponseDecoder, ResponseEvent};
pub use server::{CommandConfig, CommandDecoder};

use memchr::memchr;

/// The result of looking for the end of a line.
pub(crate) enum Framed {
    /// A whole line: content is `buf[..content_end]`, the line with its end is `buf[..end]`.
    Line { content_end: usize, end: usize },
    /// No line end yet.
    NeedMore,
    /// No line end within `limit` octets.
    TooLong,
}

/// Finds the end of the first line of `buf`: LF, with the CR before it removed when present
/// (a bare LF is accepted). `limit` counts the whole line, line end included.
pub(crate) fn frame_line(buf: &[u8], limit: usize) -> Framed {
    let window = &buf[..buf.len().min(limit)];
    match memchr(b'\n', window) {
        Some(i) => {
            let content_end = if i > 0 && buf[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            Framed::Line {
                content_end,
                end: i + 1,
            }
        }
        None if buf.len() >= limit => Framed::TooLong,
        None => Framed::NeedMore,
    }
}
