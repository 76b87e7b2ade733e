//! Sequence sets (RFC 3501 section 9: `sequence-set`, `seq-range`, `seq-number`).

use super::core::nz_number;
use super::{In, PResult};
use crate::types::{SeqOrUid, Sequence, SequenceSet};

/// `seq-number = nz-number / "*"`.
fn seq_number(i: &mut In<'_>) -> PResult<SeqOrUid> {
    if i.eat(b'*') {
        return Ok(SeqOrUid::Asterisk);
    }
    nz_number(i).map(SeqOrUid::Value)
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`,
/// `seq-range = seq-number ":" seq-number`.
pub(crate) fn sequence_set(i: &mut In<'_>) -> PResult<SequenceSet> {
    let start = *i;
    let mut out = Vec::new();
    loop {
        let a = seq_number(i)?;
        out.push(if i.eat(b':') {
            Sequence::Range(a, seq_number(i)?)
        } else {
            Sequence::Single(a)
        });
        if !i.eat(b',') {
            return SequenceSet::new(out).map_err(|_| start.err("sequence-set"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, run};
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(run(sequence_set, b"1:3,5,*:9 ").0.to_string(), "1:3,5,*:9");
        fails(sequence_set, b"0:3");
    }
}
