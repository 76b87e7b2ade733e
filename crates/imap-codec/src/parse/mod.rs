//! The nom parsers: one function per grammar rule, named after it, over [`In`], an input
//! that remembers its [`Bytes`] buffer so that strings and literals come out as slices of
//! it (no copy).
//!
//! The parsers run on whole messages handed out by the [`Framer`](crate::Framer), so running
//! out of input here is an error, not "need more bytes".

pub(crate) mod body;
pub(crate) mod command;
pub(crate) mod core;
pub(crate) mod fetch;
pub(crate) mod response;
pub(crate) mod search;

use std::iter::{Copied, Enumerate};
use std::slice::Iter;

use bytes::Bytes;
use nom::error::{ErrorKind, ParseError};
use nom::{CompareResult, Needed};

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
    pub(crate) fn expect(&mut self, b: u8, expected: &'static str) -> CResult<()> {
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

impl<'a> nom::Input for In<'a> {
    type Item = u8;
    type Iter = Copied<Iter<'a, u8>>;
    type IterIndices = Enumerate<Self::Iter>;

    fn input_len(&self) -> usize {
        self.rest.len()
    }
    fn take(&self, index: usize) -> Self {
        Self {
            rest: &self.rest[..index],
            ..*self
        }
    }
    fn take_from(&self, index: usize) -> Self {
        Self {
            rest: &self.rest[index..],
            ..*self
        }
    }
    fn take_split(&self, index: usize) -> (Self, Self) {
        let (a, b) = self.rest.split_at(index);
        (Self { rest: b, ..*self }, Self { rest: a, ..*self })
    }
    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.rest.iter().position(|b| predicate(*b))
    }
    fn iter_elements(&self) -> Self::Iter {
        self.rest.iter().copied()
    }
    fn iter_indices(&self) -> Self::IterIndices {
        self.iter_elements().enumerate()
    }
    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if self.rest.len() >= count {
            Ok(count)
        } else {
            Err(Needed::new(count - self.rest.len()))
        }
    }
}

impl<'b> nom::Compare<&'b str> for In<'_> {
    fn compare(&self, t: &'b str) -> CompareResult {
        let t = t.as_bytes();
        if self.rest.starts_with(t) {
            CompareResult::Ok
        } else if t.starts_with(self.rest) {
            CompareResult::Incomplete
        } else {
            CompareResult::Error
        }
    }
    fn compare_no_case(&self, t: &'b str) -> CompareResult {
        let t = t.as_bytes();
        let n = t.len().min(self.rest.len());
        if !self.rest[..n].eq_ignore_ascii_case(&t[..n]) {
            CompareResult::Error
        } else if n < t.len() {
            CompareResult::Incomplete
        } else {
            CompareResult::Ok
        }
    }
}

/// A parse failure: where and what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PError {
    pub(crate) offset: usize,
    pub(crate) expected: &'static str,
}

impl<'a> ParseError<In<'a>> for PError {
    fn from_error_kind(input: In<'a>, kind: ErrorKind) -> Self {
        Self {
            offset: input.offset(),
            expected: kind_name(kind),
        }
    }
    fn append(_: In<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        // Report the alternative that got furthest.
        if other.offset >= self.offset {
            other
        } else {
            self
        }
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Tag => "keyword",
        ErrorKind::Digit => "number",
        ErrorKind::Char => "character",
        ErrorKind::TakeWhile1 => "token",
        ErrorKind::Eof => "end of input",
        _ => "valid syntax",
    }
}

pub(crate) type PResult<'a, O> = nom::IResult<In<'a>, O, PError>;

/// The result of a cursor-style parser (`fn(&mut In) -> CResult<T>`), which advances the
/// input in place on success. The hot rules (strings, ENVELOPE, BODYSTRUCTURE) are written
/// this way: no input is returned with every value, so fewer bytes move per rule.
pub(crate) type CResult<T> = Result<T, PError>;

/// Runs a cursor-style parser as a nom-style one.
#[inline]
pub(crate) fn lift<'a, T>(i: In<'a>, f: impl FnOnce(&mut In<'a>) -> CResult<T>) -> PResult<'a, T> {
    let mut j = i;
    match f(&mut j) {
        Ok(v) => Ok((j, v)),
        Err(e) => Err(nom::Err::Error(e)),
    }
}

/// Runs a nom-style parser as a cursor-style one.
#[inline]
pub(crate) fn lower<'a, T>(j: &mut In<'a>, f: impl FnOnce(In<'a>) -> PResult<'a, T>) -> CResult<T> {
    match f(*j) {
        Ok((k, v)) => {
            *j = k;
            Ok(v)
        }
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(j.err("more input")),
    }
}

/// Fails at `i` saying what was expected.
pub(crate) fn fail<'a, O>(i: In<'a>, expected: &'static str) -> PResult<'a, O> {
    Err(nom::Err::Error(PError {
        offset: i.offset(),
        expected,
    }))
}

/// Deepest nesting of lists in BODYSTRUCTURE, body extensions and SEARCH criteria; deeper
/// input is refused so hostile input cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 40;
