//! Sequence sets (RFC 3501 section 9 `sequence-set`): parse, encode, build compactly from
//! UIDs, and split so that commands stay under a server's line limit.

use std::fmt;
use std::num::NonZeroU32;

use super::core::ValidationError;

/// `seq-number = nz-number / "*"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqOrUid {
    /// A message sequence number or UID.
    Value(NonZeroU32),
    /// `*`: the largest number in use.
    Asterisk,
}

impl fmt::Display for SeqOrUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(v) => write!(f, "{v}"),
            Self::Asterisk => f.write_str("*"),
        }
    }
}

/// One element of a sequence set: `seq-number / seq-range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sequence {
    /// A single number.
    Single(SeqOrUid),
    /// `seq-range = seq-number ":" seq-number` (either order; inclusive).
    Range(SeqOrUid, SeqOrUid),
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single(s) => write!(f, "{s}"),
            Self::Range(a, b) => write!(f, "{a}:{b}"),
        }
    }
}

impl Sequence {
    fn encoded_len(&self) -> usize {
        fn len(s: &SeqOrUid) -> usize {
            match s {
                SeqOrUid::Asterisk => 1,
                SeqOrUid::Value(v) => decimal_len(v.get()),
            }
        }
        match self {
            Self::Single(s) => len(s),
            Self::Range(a, b) => len(a) + 1 + len(b),
        }
    }

    /// Whether `n` is in this element; `largest` is the value `*` stands for.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let v = |s: &SeqOrUid| match s {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk => largest,
        };
        match self {
            Self::Single(s) => v(s) == n,
            Self::Range(a, b) => {
                let (lo, hi) = (v(a).min(v(b)), v(a).max(v(b)));
                (lo..=hi).contains(&n)
            }
        }
    }
}

fn decimal_len(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`: never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Vec<Sequence>);

impl SequenceSet {
    /// Builds a set from its elements; fails if there are none.
    pub fn new(elements: Vec<Sequence>) -> Result<Self, ValidationError> {
        if elements.is_empty() {
            return Err(ValidationError::Empty {
                what: "sequence-set",
            });
        }
        Ok(Self(elements))
    }

    /// A set of one number (fails on 0).
    pub fn single(n: u32) -> Result<Self, ValidationError> {
        let n = NonZeroU32::new(n).ok_or(ValidationError::Zero { what: "seq-number" })?;
        Ok(Self(vec![Sequence::Single(SeqOrUid::Value(n))]))
    }

    /// The inclusive range `from:to` (fails on 0).
    pub fn range(from: u32, to: u32) -> Result<Self, ValidationError> {
        let a = NonZeroU32::new(from).ok_or(ValidationError::Zero { what: "seq-number" })?;
        let b = NonZeroU32::new(to).ok_or(ValidationError::Zero { what: "seq-number" })?;
        Ok(Self(vec![Sequence::Range(
            SeqOrUid::Value(a),
            SeqOrUid::Value(b),
        )]))
    }

    /// `1:*`, every message.
    pub fn all() -> Self {
        Self(vec![Sequence::Range(
            SeqOrUid::Value(NonZeroU32::MIN),
            SeqOrUid::Asterisk,
        )])
    }

    /// `n:*`: from `n` to the largest (fails on 0). Handy for `UID FETCH <uidnext>:*`.
    pub fn from_onwards(n: u32) -> Result<Self, ValidationError> {
        let a = NonZeroU32::new(n).ok_or(ValidationError::Zero { what: "seq-number" })?;
        Ok(Self(vec![Sequence::Range(
            SeqOrUid::Value(a),
            SeqOrUid::Asterisk,
        )]))
    }

    /// The most compact set holding exactly the given numbers, in any order, duplicates
    /// allowed; zeros are ignored. Consecutive numbers become ranges: `1,2,3,5` is `1:3,5`.
    /// Returns `None` when no non-zero number was given.
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut v: Vec<u32> = uids.into_iter().filter(|&u| u != 0).collect();
        v.sort_unstable();
        v.dedup();
        let mut out = Vec::new();
        let mut iter = v.into_iter();
        let mut start = iter.next()?;
        let mut end = start;
        let push = |a: u32, b: u32, out: &mut Vec<Sequence>| {
            // a and b are non-zero: zeros were filtered out.
            if let (Some(a), Some(b)) = (NonZeroU32::new(a), NonZeroU32::new(b)) {
                out.push(if a == b {
                    Sequence::Single(SeqOrUid::Value(a))
                } else {
                    Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b))
                });
            }
        };
        for u in iter {
            if u == end + 1 {
                end = u;
            } else {
                push(start, end, &mut out);
                start = u;
                end = u;
            }
        }
        push(start, end, &mut out);
        Some(Self(out))
    }

    /// The elements.
    pub fn elements(&self) -> &[Sequence] {
        &self.0
    }

    /// The length of the set on the wire, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.0.iter().map(Sequence::encoded_len).sum::<usize>() + self.0.len() - 1
    }

    /// Splits the set into consecutive sets whose encoded length is at most `max_len`
    /// bytes each, keeping the order of the elements. Use it to keep a command under a
    /// server's line limit: pass the limit minus the length of the rest of the command.
    /// An element longer than `max_len` on its own (at most 21 bytes) still gets a set.
    pub fn split(&self, max_len: usize) -> Vec<SequenceSet> {
        let mut out = Vec::new();
        let mut cur: Vec<Sequence> = Vec::new();
        let mut cur_len = 0;
        for s in &self.0 {
            let l = s.encoded_len();
            let added = if cur.is_empty() { l } else { l + 1 };
            if !cur.is_empty() && cur_len + added > max_len {
                out.push(Self(std::mem::take(&mut cur)));
                cur_len = 0;
                cur.push(*s);
                cur_len += l;
            } else {
                cur.push(*s);
                cur_len += added;
            }
        }
        if !cur.is_empty() {
            out.push(Self(cur));
        }
        out
    }

    /// Whether `n` is in the set; `largest` is the value `*` stands for.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|s| s.contains(n, largest))
    }

    /// The numbers of the set in order of appearance, with `*` standing for `largest`;
    /// `None` if that would be more than `limit` numbers (a hostile `1:4294967295`).
    pub fn to_vec(&self, largest: u32, limit: usize) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for s in &self.0 {
            let v = |s: &SeqOrUid| match s {
                SeqOrUid::Value(v) => v.get(),
                SeqOrUid::Asterisk => largest,
            };
            let (lo, hi) = match s {
                Sequence::Single(a) => (v(a), v(a)),
                Sequence::Range(a, b) => (v(a).min(v(b)), v(a).max(v(b))),
            };
            if out.len() + (hi - lo) as usize >= limit {
                return None;
            }
            out.extend(lo..=hi);
        }
        Some(out)
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn from_uids_compacts() {
        let s = SequenceSet::from_uids([5, 1, 2, 3, 3, 9, 10, 0]).unwrap();
        assert_eq!(s.to_string(), "1:3,5,9:10");
        assert_eq!(s.encoded_len(), 10);
        assert!(SequenceSet::from_uids([0]).is_none());
        assert_eq!(SequenceSet::all().to_string(), "1:*");
    }

    #[test]
    fn split_respects_budget() {
        let s = SequenceSet::from_uids((1..1000).step_by(2)).unwrap();
        let parts = s.split(50);
        assert!(parts.len() > 1);
        let mut joined = Vec::new();
        for p in &parts {
            assert!(p.encoded_len() <= 50, "{p}");
            joined.extend(p.to_vec(0, 10_000).unwrap());
        }
        assert_eq!(joined, (1..1000).step_by(2).collect::<Vec<_>>());
        assert_eq!(s.split(1).len(), 500);
    }

    proptest::proptest! {
        #[test]
        fn split_then_join(uids in proptest::collection::vec(1u32..5000, 1..300), budget in 1usize..200) {
            let s = SequenceSet::from_uids(uids.iter().copied()).unwrap();
            let mut want = uids;
            want.sort_unstable();
            want.dedup();
            proptest::prop_assert_eq!(&s.to_vec(0, 100_000).unwrap(), &want);
            let mut got = Vec::new();
            for p in s.split(budget) {
                proptest::prop_assert!(p.encoded_len() <= budget.max(9));
                got.extend(p.to_vec(0, 100_000).unwrap());
            }
            proptest::prop_assert_eq!(got, want);
        }
    }
}
