//! Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3).
//!
//! Printable US-ASCII except `&` stands for itself, `&` is written `&-`, and every other
//! run of characters is UTF-16 in a modified base64 (`,` instead of `/`, no padding)
//! between `&` and `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A mailbox name that is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Utf7Error {
    /// A byte outside printable US-ASCII appeared unencoded.
    #[error("byte 0x{byte:02x} at index {index} is not allowed unencoded in modified UTF-7")]
    Unencoded {
        /// The byte.
        byte: u8,
        /// Its index in the name.
        index: usize,
    },
    /// A `&...-` section is not valid modified base64 of UTF-16.
    #[error("invalid modified base64 section starting at index {index}")]
    BadBase64 {
        /// Index of the `&` that opens the section.
        index: usize,
    },
    /// A `&` section is not closed with `-`.
    #[error("unterminated modified base64 section starting at index {index}")]
    Unterminated {
        /// Index of the `&` that opens the section.
        index: usize,
    },
}

fn b64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    } as u32)
}

fn flush(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits = 0;
    for u in units.drain(..) {
        bits = (bits << 16) | u32::from(u);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 0x3f) as usize] as char);
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize] as char);
    }
    out.push('-');
}

/// Encodes a UTF-8 mailbox name as modified UTF-7.
pub fn encode_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut units = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut units, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

/// Decodes a modified UTF-7 mailbox name to UTF-8.
pub fn decode_utf7(name: &[u8]) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'&' {
            let start = i;
            let Some(len) = memchr::memchr(b'-', &name[i + 1..]) else {
                return Err(Utf7Error::Unterminated { index: start });
            };
            let section = &name[i + 1..i + 1 + len];
            i += len + 2;
            if section.is_empty() {
                out.push('&');
                continue;
            }
            let mut units = Vec::with_capacity(section.len() * 6 / 16);
            let mut bits: u32 = 0;
            let mut nbits = 0;
            for &c in section {
                let v = b64_value(c).ok_or(Utf7Error::BadBase64 { index: start })?;
                bits = (bits << 6) | v;
                nbits += 6;
                if nbits >= 16 {
                    nbits -= 16;
                    units.push(((bits >> nbits) & 0xffff) as u16);
                    bits &= (1 << nbits) - 1;
                }
            }
            // Leftover bits must be zero padding, fewer than 6.
            if nbits >= 6 || bits != 0 {
                return Err(Utf7Error::BadBase64 { index: start });
            }
            let decoded =
                String::from_utf16(&units).map_err(|_| Utf7Error::BadBase64 { index: start })?;
            // A section must not encode characters that stand for themselves.
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return Err(Utf7Error::BadBase64 { index: start });
            }
            out.push_str(&decoded);
        } else if (0x20..=0x7e).contains(&b) {
            out.push(b as char);
            i += 1;
        } else {
            return Err(Utf7Error::Unencoded { byte: b, index: i });
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // RFC 3501 5.1.3: "~peter/mail/台北/日本語"
        let utf8 = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        let utf7 = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode_utf7(utf8), utf7);
        assert_eq!(decode_utf7(utf7.as_bytes()).unwrap(), utf8);
    }

    #[test]
    fn ampersand_and_errors() {
        assert_eq!(encode_utf7("A&B"), "A&-B");
        assert_eq!(decode_utf7(b"A&-B").unwrap(), "A&B");
        assert_eq!(encode_utf7("Entw\u{fc}rfe"), "Entw&APw-rfe");
        assert_eq!(decode_utf7(b"Entw&APw-rfe").unwrap(), "Entw\u{fc}rfe");
        assert!(decode_utf7(b"&U,BTFw").is_err());
        assert!(decode_utf7(b"\xc3\xbc").is_err());
        assert!(decode_utf7(b"&AGE-").is_err()); // encodes "a", which must stand for itself
    }

    proptest::proptest! {
        #[test]
        fn roundtrip(s in "\\PC*") {
            proptest::prop_assert_eq!(decode_utf7(encode_utf7(&s).as_bytes()).unwrap(), s);
        }
    }
}
