//! Character classes of the IMAP grammar (RFC 3501 section 9, RFC 9051 section 9), as a
//! lookup table so that the parsers and the validating constructors agree.

const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const LIST: u8 = 4;
const TAG: u8 = 8;
const TEXT: u8 = 16;
const QUOTED: u8 = 32;
const KEYWORD: u8 = 64;

const fn class(b: u8) -> u8 {
    let ctl = b <= 0x1f || b == 0x7f;
    let ascii = b <= 0x7f;
    let mut c = 0;
    // TEXT-CHAR = <any CHAR except CR and LF>. We accept 8-bit bytes in text (UTF-8 in
    // IMAP4rev2, and servers send Latin-1 in the wild); NUL is never text.
    if b != b'\r' && b != b'\n' && b != 0 {
        c |= TEXT;
        // QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
        if b != b'"' && b != b'\\' {
            c |= QUOTED;
        }
    }
    if !ascii || ctl {
        return c;
    }
    if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
        c |= KEYWORD;
    }
    // atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
    let atom_special = matches!(
        b,
        b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
    );
    if !atom_special {
        c |= ATOM | ASTRING | LIST;
        if b != b'+' {
            c |= TAG;
        }
    }
    if b == b']' {
        c |= ASTRING | LIST | TAG;
    }
    if b == b'%' || b == b'*' {
        c |= LIST;
    }
    c
}

const fn table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class(i as u8);
        i += 1;
    }
    t
}

static TABLE: [u8; 256] = table();

/// `ATOM-CHAR = <any CHAR except atom-specials>`
#[inline]
pub(crate) fn is_atom_char(b: u8) -> bool {
    TABLE[b as usize] & ATOM != 0
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
#[inline]
pub(crate) fn is_astring_char(b: u8) -> bool {
    TABLE[b as usize] & ASTRING != 0
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
#[inline]
pub(crate) fn is_list_char(b: u8) -> bool {
    TABLE[b as usize] & LIST != 0
}

/// `tag = 1*<any ASTRING-CHAR except "+">`
#[inline]
pub(crate) fn is_tag_char(b: u8) -> bool {
    TABLE[b as usize] & TAG != 0
}

/// `TEXT-CHAR = <any CHAR except CR and LF>` (8-bit accepted, NUL never).
#[inline]
pub(crate) fn is_text_char(b: u8) -> bool {
    TABLE[b as usize] & TEXT != 0
}

/// A byte of a keyword token as the parsers dispatch on them: letters, digits, `.` and `-`
/// (`RFC822.SIZE`, `READ-ONLY`).
#[inline]
pub(crate) fn is_keyword_char(b: u8) -> bool {
    TABLE[b as usize] & KEYWORD != 0
}

/// A byte that may appear unescaped inside a quoted string.
#[inline]
pub(crate) fn is_quoted_char(b: u8) -> bool {
    TABLE[b as usize] & QUOTED != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_atom_char(b'a'));
        assert!(!is_atom_char(b']'));
        assert!(is_astring_char(b']'));
        assert!(!is_atom_char(b' '));
        assert!(!is_atom_char(0x80));
        assert!(is_tag_char(b'A'));
        assert!(!is_tag_char(b'+'));
        assert!(is_list_char(b'%'));
        assert!(!is_astring_char(b'%'));
        assert!(is_text_char(b'"'));
        assert!(!is_quoted_char(b'"'));
        assert!(!is_text_char(b'\r'));
        for b in 0..=255u8 {
            let kw = b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
            assert_eq!(is_keyword_char(b), kw, "{b:#x}");
        }
    }
}
