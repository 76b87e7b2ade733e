//! What the IMAP and POP3 codecs share.
//!
//! Both codecs report bad input with a short [`Excerpt`] of the octets at the error: escaped
//! so a log line stays one line of ASCII, bounded so a hostile peer's megabyte line never
//! reaches a log, and redacted for lines that carry credentials.
//!
//! Both codecs' streaming decoders also take one shape, the one of tokio-util's `Decoder`:
//! `decode(&mut self, buf: &mut BytesMut) -> Result<Option<T>, DecodeError>`. The caller
//! appends received octets to `buf`; the decoder removes what it consumed; `Ok(None)` means
//! "read more". No trait is needed for that: each decoder has the method itself.
//!
//! ```
//! use inbound_wire::Excerpt;
//! let e = Excerpt::new(b"* OK \x00 hello\r\n");
//! assert_eq!(e.as_str(), "* OK \\x00 hello\\r\\n");
//! assert_eq!(e.to_string(), "\"* OK \\x00 hello\\r\\n\"");
//! assert_eq!(Excerpt::redacted("PASS ").as_str(), "PASS [redacted]");
//! ```

use std::fmt;

/// A short piece of input around an error, escaped for logs (`\r`, `\n`, `\t`, `\\`, `\"`,
/// `\xNN` for other octets outside printable ASCII), at most [`Excerpt::MAX_OCTETS`] input
/// octets followed by `...` when the input was longer. Displayed in double quotes.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Excerpt(String);

impl Excerpt {
    /// The most input octets an excerpt shows.
    pub const MAX_OCTETS: usize = 40;

    /// Escapes the first [`Excerpt::MAX_OCTETS`] octets of `input`.
    pub fn new(input: &[u8]) -> Self {
        let mut out = String::with_capacity(Self::MAX_OCTETS + 8);
        for &b in input.iter().take(Self::MAX_OCTETS) {
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                b'\\' => out.push_str("\\\\"),
                b'"' => out.push_str("\\\""),
                0x20..=0x7e => out.push(char::from(b)),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\x");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
        }
        if input.len() > Self::MAX_OCTETS {
            out.push_str("...");
        }
        Self(out)
    }

    /// An excerpt that only says the content was withheld, after `prefix` (e.g. the
    /// command word of a line carrying credentials: `"PASS "`).
    pub fn redacted(prefix: &str) -> Self {
        Self(format!("{prefix}[redacted]"))
    }

    /// The escaped text, without quotes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_octet_outside_printable_ascii() {
        let all: Vec<u8> = (0..=255u8).collect();
        for chunk in all.chunks(Excerpt::MAX_OCTETS) {
            let e = Excerpt::new(chunk);
            assert!(
                e.as_str().bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{e}"
            );
        }
    }

    #[test]
    fn bounded_whatever_the_input() {
        let long = vec![0xffu8; 1 << 20];
        let e = Excerpt::new(&long);
        assert_eq!(e.as_str().len(), 4 * Excerpt::MAX_OCTETS + 3);
        assert!(e.as_str().ends_with("..."));
        let e = Excerpt::new(&[b'a'; Excerpt::MAX_OCTETS]);
        assert!(!e.as_str().ends_with("..."));
    }
}
