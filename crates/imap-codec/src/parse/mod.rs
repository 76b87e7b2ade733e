//! The parser: hand-written recursive descent, one function per ABNF rule of RFC 3501 and
//! RFC 9051 (and the extensions each module names), named after the rule and opening with
//! its text. No parser-combinator library is involved: every rule has the one shape
//! `fn(&mut In) -> PResult<T>`, reads bytes off the cursor [`In`] and, on success, leaves
//! it just past what it read; on failure it reports where and what it expected
//! ([`PError`]). A rule with alternatives that cannot be told apart by the next byte tries
//! one on a copy of the cursor (`In` is `Copy`) and starts again from the original.
//!
//! [`In`] remembers its [`Bytes`] buffer, so strings and literals come out as slices of it
//! (no copy). The parsers run on whole messages handed out by the
//! [`Framer`](crate::Framer), so running out of input here is an error, not "need more
//! bytes".
//!
//! The modules follow [`types`](crate::types): each parses the types of its namesake
//! (`core`: tokens, numbers and strings; `envelope` and `body`: ENVELOPE and
//! BODYSTRUCTURE; ...), and this one holds the cursor and the list shapes they share.

pub(crate) mod body;
pub(crate) mod command;
pub(crate) mod core;
pub(crate) mod datetime;
pub(crate) mod envelope;
pub(crate) mod fetch;
pub(crate) mod flag;
pub(crate) mod mailbox;
pub(crate) mod response;
pub(crate) mod search;
pub(crate) mod sequence;
pub(crate) mod status;

use bytes::Bytes;

use crate::Quirks;
use crate::types::Content;

/// Parser input: the unparsed rest of a message, its buffer and the quirks in force.
#[derive(Clone, Copy)]
pub(crate) struct In<'a> {
    base: &'a Bytes,
    rest: &'a [u8],
    pub(crate) quirks: Quirks,
}

impl std::fmt::Debug for In<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "In(@{})", self.offset())
    }
}

impl<'a> In<'a> {
    pub(crate) fn new(base: &'a Bytes, quirks: Quirks) -> Self {
        Self {
            base,
            rest: &base[..],
            quirks,
        }
    }

    /// Offset of the rest in the buffer.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        (self.rest.as_ptr() as usize).wrapping_sub(self.base.as_ptr() as usize)
    }

    /// The unparsed bytes.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The first byte, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Skips `n` bytes (at most what is left).
    #[inline]
    pub(crate) fn skip(self, n: usize) -> Self {
        Self {
            rest: self.rest.get(n..).unwrap_or_default(),
            ..self
        }
    }

    /// A parse error at the current position.
    #[inline]
    pub(crate) fn err(&self, expected: &'static str) -> PError {
        PError {
            offset: self.offset(),
            expected,
        }
    }

    /// Consumes `b` if it comes next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        match self.rest {
            [c, rest @ ..] if *c == b => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    /// Consumes `b`, or fails saying `expected`.
    #[inline]
    pub(crate) fn expect(&mut self, b: u8, expected: &'static str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    /// Skips `n` bytes in place (at most what is left).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
    }

    /// A [`Bytes`] handle on `rest()[from..to]` (empty if the range is not in the rest).
    /// Cheaper than [`Self::bytes_of`]: no pointer arithmetic to find the range.
    #[inline]
    pub(crate) fn slice_rest(&self, from: usize, to: usize) -> Bytes {
        if from < to && to <= self.rest.len() {
            let off = self.offset();
            self.base.slice(off + from..off + to)
        } else {
            Bytes::new()
        }
    }

    /// `rest[from..to]` as a string's content: copied inline when short, else a slice.
    #[inline]
    pub(crate) fn content_rest(&self, from: usize, to: usize) -> Content {
        let len = to.wrapping_sub(from);
        if len <= Content::INLINE {
            // A fixed-size window is a few moves where a copy of `len` bytes is a call;
            // the bytes past `len` are ignored.
            if let Some(w) = from
                .checked_add(Content::INLINE)
                .and_then(|end| self.rest.get(from..end))
                .and_then(|w| <[u8; Content::INLINE]>::try_from(w).ok())
            {
                return Content::Inline {
                    len: len as u8,
                    buf: w,
                };
            }
        }
        match self.rest.get(from..to) {
            Some(data) => Content::copy_or_slice(data, || self.slice_rest(from, to)),
            None => Content::default(),
        }
    }

    /// A [`Bytes`] handle on `sub`, a part of this input's buffer (copied if it is not).
    pub(crate) fn bytes_of(&self, sub: &[u8]) -> Bytes {
        let start = (sub.as_ptr() as usize).wrapping_sub(self.base.as_ptr() as usize);
        if start <= self.base.len() && sub.len() <= self.base.len() - start {
            self.base.slice(start..start + sub.len())
        } else {
            Bytes::copy_from_slice(sub)
        }
    }
}

/// A parse failure: where and what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PError {
    pub(crate) offset: usize,
    pub(crate) expected: &'static str,
}

/// The result of a rule: its value, with the input advanced past it, or where it failed
/// and what it expected there (the input is then left anywhere: a caller that tries
/// another alternative starts again from a copy).
pub(crate) type PResult<T> = Result<T, PError>;

/// Deepest nesting of lists in BODYSTRUCTURE, body extensions and SEARCH criteria; deeper
/// input is refused so hostile input cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 40;

/// A parenthesised list, `"(" [item *(SP item)] ")"`; with [`Quirks::trailing_space`](crate::Quirks) spaces
/// after `(` and before `)` are skipped.
#[inline]
pub(crate) fn paren_list<'a, O>(
    i: &mut In<'a>,
    item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    paren_list_sized(i, 4, item)
}

/// `"(" [item *(SP item)] ")"` as [`paren_list`], with room for `capacity` items before the
/// list grows.
#[inline]
pub(crate) fn paren_list_sized<'a, O>(
    i: &mut In<'a>,
    capacity: usize,
    mut item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    i.expect(b'(', "(")?;
    let lenient = i.quirks.trailing_space;
    let skip_sp = |i: &mut In<'a>| {
        if lenient {
            let n = i.rest().iter().take_while(|&&b| b == b' ').count();
            i.advance(n);
        }
    };
    skip_sp(i);
    if i.eat(b')') {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(capacity);
    loop {
        out.push(item(i)?);
        match i.peek() {
            Some(b')') => {
                i.advance(1);
                return Ok(out);
            }
            Some(b' ') => {
                i.advance(1);
                skip_sp(i);
                if lenient && i.eat(b')') {
                    return Ok(out);
                }
            }
            _ => return Err(i.err("SP or )")),
        }
    }
}

/// `*(SP item)`, after something: items each after a single space, while spaces come. With
/// [`Quirks::trailing_space`](crate::Quirks) a space not followed by an item ends the list
/// (before that space).
pub(crate) fn space_separated<'a, O>(
    i: &mut In<'a>,
    mut item: impl FnMut(&mut In<'a>) -> PResult<O>,
) -> PResult<Vec<O>> {
    let mut out = Vec::new();
    while i.peek() == Some(b' ') {
        let mut j = i.skip(1);
        match item(&mut j) {
            Ok(o) => {
                out.push(o);
                *i = j;
            }
            Err(_) if i.quirks.trailing_space => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod testing {
    //! Running one rule on a test input.

    use bytes::Bytes;

    use super::{In, PResult};
    use crate::Quirks;

    /// Runs `p` on `input` and returns the value and the unparsed rest.
    pub(crate) fn run<O>(
        p: impl Fn(&mut In<'_>) -> PResult<O>,
        input: &'static [u8],
    ) -> (O, Vec<u8>) {
        let b = Bytes::from_static(input);
        let mut i = In::new(&b, Quirks::default());
        let o = p(&mut i).unwrap();
        (o, i.rest().to_vec())
    }

    /// Runs `p` on `input` with [`Quirks::strict`] and checks that it fails.
    pub(crate) fn fails<O: std::fmt::Debug>(
        p: impl Fn(&mut In<'_>) -> PResult<O>,
        input: &'static [u8],
    ) {
        let b = Bytes::from_static(input);
        let r = p(&mut In::new(&b, Quirks::strict()));
        assert!(r.is_err(), "{r:?}");
    }
}
