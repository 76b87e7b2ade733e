//! STATUS items (RFC 3501 section 9 `status-att`, RFC 9051 `status-att-val`, RFC 7162).

use super::core::{keyword, number, number64, sp};
use super::{In, PResult};
use crate::types::{StatusAttribute, StatusItem};

/// `status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE" /
/// "RECENT" / "HIGHESTMODSEQ"`.
pub(crate) fn status_att(i: &mut In<'_>) -> PResult<StatusAttribute> {
    let start = *i;
    let w = keyword(i)?;
    for a in StatusAttribute::ALL {
        if w.eq_ignore_ascii_case(a.name().as_bytes()) {
            return Ok(a);
        }
    }
    Err(start.err("status attribute"))
}

/// `status-att-val = ("MESSAGES" SP number) / ("UIDNEXT" SP nz-number) / ("UIDVALIDITY" SP
/// nz-number) / ("UNSEEN" SP number) / ("DELETED" SP number) / ("SIZE" SP number64)` (RFC
/// 9051), `=/ "HIGHESTMODSEQ" SP mod-sequence-valzer` (RFC 7162) and `"RECENT" SP number`
/// (RFC 3501).
pub(crate) fn status_att_val(i: &mut In<'_>) -> PResult<StatusItem> {
    let start = *i;
    let k = keyword(i)?;
    sp(i)?;
    let is = |x: &[u8]| k.eq_ignore_ascii_case(x);
    if is(b"SIZE") {
        return number64(i).map(StatusItem::Size);
    }
    if is(b"HIGHESTMODSEQ") {
        return number64(i).map(StatusItem::HighestModSeq);
    }
    let n = number(i)?;
    Ok(if is(b"MESSAGES") {
        StatusItem::Messages(n)
    } else if is(b"RECENT") {
        StatusItem::Recent(n)
    } else if is(b"UIDNEXT") {
        StatusItem::UidNext(n)
    } else if is(b"UIDVALIDITY") {
        StatusItem::UidValidity(n)
    } else if is(b"UNSEEN") {
        StatusItem::Unseen(n)
    } else if is(b"DELETED") {
        StatusItem::Deleted(n)
    } else {
        return Err(start.err("status attribute"));
    })
}
