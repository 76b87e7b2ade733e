//! Strings, atoms, flags, dates and sequence sets.

use bytes::Bytes;

use super::{Encode, Writer};
use crate::types::chars::{is_astring_char, is_list_char};
use crate::types::{
    AString, Atom, Date, DateTime, Flag, FlagFetch, FlagPerm, IString, ListMailbox, MONTHS,
    Mailbox, SeqOrUid, Sequence, SequenceSet, Tag, Text,
};

/// Longest string sent quoted; longer ones go as literals.
const MAX_QUOTED: usize = 1000;

fn quotable(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED
        && s.iter()
            .all(|&b| b.is_ascii() && b != 0 && b != b'\r' && b != b'\n')
}

fn quoted(w: &mut Writer, s: &[u8]) {
    w.byte(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            w.byte(b'\\');
        }
        w.byte(b);
    }
    w.byte(b'"');
}

/// `string = quoted / literal`.
pub(crate) fn string(w: &mut Writer, s: &Bytes) {
    if quotable(s) {
        quoted(w, s);
    } else {
        w.literal(s.clone(), false);
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
pub(crate) fn astring(w: &mut Writer, s: &Bytes) {
    if !s.is_empty() && s.len() <= MAX_QUOTED && s.iter().all(|&b| is_astring_char(b)) {
        w.raw(s);
    } else {
        string(w, s);
    }
}

impl Encode for AString {
    fn encode(&self, w: &mut Writer) {
        astring(w, &self.to_bytes());
    }
}

impl Encode for IString {
    fn encode(&self, w: &mut Writer) {
        string(w, &self.to_bytes());
    }
}

impl Encode for Option<IString> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Some(s) => s.encode(w),
            None => w.raw(b"NIL"),
        }
    }
}

impl Encode for Atom {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.as_bytes());
    }
}

impl Encode for Tag {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.as_bytes());
    }
}

impl Encode for Text {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.as_bytes());
    }
}

impl Encode for Mailbox {
    fn encode(&self, w: &mut Writer) {
        match self {
            Mailbox::Inbox => w.raw(b"INBOX"),
            Mailbox::Other(o) => o.as_astring().encode(w),
        }
    }
}

impl Encode for ListMailbox {
    fn encode(&self, w: &mut Writer) {
        let s = self.0.to_bytes();
        if !s.is_empty() && s.iter().all(|&b| is_list_char(b)) {
            w.raw(&s);
        } else {
            string(w, &s);
        }
    }
}

impl Encode for Flag {
    fn encode(&self, w: &mut Writer) {
        match self {
            Flag::Answered => w.raw(b"\\Answered"),
            Flag::Deleted => w.raw(b"\\Deleted"),
            Flag::Draft => w.raw(b"\\Draft"),
            Flag::Flagged => w.raw(b"\\Flagged"),
            Flag::Seen => w.raw(b"\\Seen"),
            Flag::Extension(a) => {
                w.byte(b'\\');
                a.encode(w);
            }
            Flag::Keyword(a) => a.encode(w),
        }
    }
}

impl Encode for FlagFetch {
    fn encode(&self, w: &mut Writer) {
        match self {
            FlagFetch::Flag(f) => f.encode(w),
            FlagFetch::Recent => w.raw(b"\\Recent"),
        }
    }
}

impl Encode for FlagPerm {
    fn encode(&self, w: &mut Writer) {
        match self {
            FlagPerm::Flag(f) => f.encode(w),
            FlagPerm::Asterisk => w.raw(b"\\*"),
        }
    }
}

/// `"(" [item *(SP item)] ")"`.
pub(crate) fn list<T: Encode>(w: &mut Writer, items: &[T]) {
    w.byte(b'(');
    separated(w, items);
    w.byte(b')');
}

/// `item *(SP item)`.
pub(crate) fn separated<T: Encode>(w: &mut Writer, items: &[T]) {
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            w.sp();
        }
        i.encode(w);
    }
}

fn two(w: &mut Writer, n: u8) {
    w.byte(b'0' + n / 10 % 10);
    w.byte(b'0' + n % 10);
}

fn month(w: &mut Writer, m: u8) {
    let name = MONTHS
        .get(usize::from(m).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    w.raw(name.as_bytes());
}

impl Encode for Date {
    fn encode(&self, w: &mut Writer) {
        w.num(self.day());
        w.byte(b'-');
        month(w, self.month());
        w.byte(b'-');
        two(w, (self.year() / 100) as u8);
        two(w, (self.year() % 100) as u8);
    }
}

impl Encode for DateTime {
    fn encode(&self, w: &mut Writer) {
        let d = self.date();
        w.byte(b'"');
        two(w, d.day());
        w.byte(b'-');
        month(w, d.month());
        w.byte(b'-');
        two(w, (d.year() / 100) as u8);
        two(w, (d.year() % 100) as u8);
        w.sp();
        let (h, m, s) = self.time();
        two(w, h);
        w.byte(b':');
        two(w, m);
        w.byte(b':');
        two(w, s);
        w.sp();
        let off = self.offset_minutes();
        w.byte(if off < 0 { b'-' } else { b'+' });
        let a = off.unsigned_abs();
        two(w, (a / 60) as u8);
        two(w, (a % 60) as u8);
        w.byte(b'"');
    }
}

impl Encode for SeqOrUid {
    fn encode(&self, w: &mut Writer) {
        match self {
            SeqOrUid::Value(v) => w.num(v.get()),
            SeqOrUid::Asterisk => w.byte(b'*'),
        }
    }
}

impl Encode for SequenceSet {
    fn encode(&self, w: &mut Writer) {
        for (n, s) in self.elements().iter().enumerate() {
            if n > 0 {
                w.byte(b',');
            }
            match s {
                Sequence::Single(a) => a.encode(w),
                Sequence::Range(a, b) => {
                    a.encode(w);
                    w.byte(b':');
                    b.encode(w);
                }
            }
        }
    }
}
