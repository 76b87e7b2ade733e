//! Dates (RFC 3501 section 9: `date`, `date-time`).

use super::core::{kw, sp};
use super::{In, PResult};
use crate::types::{Date, DateTime};

/// `2DIGIT`.
fn two_digits(i: &mut In<'_>) -> PResult<u8> {
    match *i.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => {
            i.advance(2);
            Ok((a - b'0') * 10 + (b - b'0'))
        }
        _ => Err(i.err("2DIGIT")),
    }
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"` as three bytes: the number of a month from its
/// three-letter name, case-insensitively (as in
/// [`MONTHS`](crate::types::MONTHS)).
#[inline]
fn month_number(a: u8, b: u8, c: u8) -> Option<u8> {
    // `| 0x20` lower-cases ASCII letters and maps no other byte to a letter.
    Some(match [a | 0x20, b | 0x20, c | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"`.
fn date_month(i: &mut In<'_>) -> PResult<u8> {
    match *i.rest() {
        [a, b, c, ..] => match month_number(a, b, c) {
            Some(m) => {
                i.advance(3);
                Ok(m)
            }
            None => Err(i.err("month name")),
        },
        _ => Err(i.err("month name")),
    }
}

/// `date-year = 4DIGIT`.
fn year(i: &mut In<'_>) -> PResult<u16> {
    let hi = two_digits(i)?;
    let lo = two_digits(i)?;
    Ok(u16::from(hi) * 100 + u16::from(lo))
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`,
/// `date-day-fixed = (SP DIGIT) / 2DIGIT`, `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT`, `zone =
/// ("+" / "-") 4DIGIT`.
///
/// The date-time has a fixed width, so the usual case is read in one match; anything else
/// (including every error) goes through [`date_time_by_rule`].
pub(crate) fn date_time(i: &mut In<'_>) -> PResult<DateTime> {
    let fast = match i.rest().get(..28) {
        Some(
            &[
                b'"',
                d1,
                d2,
                b'-',
                m1,
                m2,
                m3,
                b'-',
                y1,
                y2,
                y3,
                y4,
                b' ',
                h1,
                h2,
                b':',
                n1,
                n2,
                b':',
                s1,
                s2,
                b' ',
                sign,
                z1,
                z2,
                z3,
                z4,
                b'"',
            ],
        ) => {
            let dig = |c: u8| c.wrapping_sub(b'0');
            let all_digits = [d2, y1, y2, y3, y4, h1, h2, n1, n2, s1, s2, z1, z2, z3, z4]
                .iter()
                .all(|&c| dig(c) <= 9)
                && (d1 == b' ' || dig(d1) <= 9)
                && matches!(sign, b'+' | b'-');
            match month_number(m1, m2, m3) {
                Some(month) if all_digits => {
                    let two = |a: u8, b: u8| dig(a) * 10 + dig(b);
                    let day = if d1 == b' ' { dig(d2) } else { two(d1, d2) };
                    let year = u16::from(two(y1, y2)) * 100 + u16::from(two(y3, y4));
                    let zone = i16::from(two(z1, z2)) * 60 + i16::from(two(z3, z4));
                    let offset = if sign == b'-' { -zone } else { zone };
                    Date::new(year, month, day).ok().and_then(|date| {
                        DateTime::new(date, two(h1, h2), two(n1, n2), two(s1, s2), offset).ok()
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    match fast {
        Some(dt) => {
            i.advance(28);
            Ok(dt)
        }
        None => date_time_by_rule(i),
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`,
/// field by field, with an error that says which field is wrong.
fn date_time_by_rule(i: &mut In<'_>) -> PResult<DateTime> {
    let start = *i;
    let bad = || start.err("date-time");
    if i.peek() != Some(b'"') {
        return Err(bad());
    }
    // date-day-fixed = (SP DIGIT) / 2DIGIT
    let day = match *i.rest() {
        [_, b' ', d @ b'0'..=b'9', ..] => {
            i.advance(3);
            d - b'0'
        }
        _ => {
            i.advance(1);
            two_digits(i)?
        }
    };
    kw(i, "-")?;
    let month = date_month(i)?;
    kw(i, "-")?;
    let year = year(i)?;
    sp(i)?;
    let hour = two_digits(i)?;
    kw(i, ":")?;
    let minute = two_digits(i)?;
    kw(i, ":")?;
    let second = two_digits(i)?;
    sp(i)?;
    let sign = match i.peek() {
        Some(b'+') => 1i16,
        Some(b'-') => -1i16,
        _ => return Err(i.err("date-time")),
    };
    i.advance(1);
    let zh = two_digits(i)?;
    let zm = two_digits(i)?;
    kw(i, "\"")?;
    let offset = sign * (i16::from(zh) * 60 + i16::from(zm));
    let Ok(date) = Date::new(year, month, day) else {
        return Err(bad());
    };
    DateTime::new(date, hour, minute, second, offset).map_err(|_| bad())
}

/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-"
/// date-year`, `date-day = 1*2DIGIT`.
pub(crate) fn date(i: &mut In<'_>) -> PResult<Date> {
    let start = *i;
    let quoted = i.eat(b'"');
    let day = match *i.rest() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] => {
            i.advance(2);
            (a - b'0') * 10 + (b - b'0')
        }
        [a @ b'0'..=b'9', ..] => {
            i.advance(1);
            a - b'0'
        }
        _ => return Err(i.err("date")),
    };
    kw(i, "-")?;
    let month = date_month(i)?;
    kw(i, "-")?;
    let y = year(i)?;
    if quoted {
        kw(i, "\"")?;
    }
    Date::new(y, month, day).map_err(|_| start.err("date"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;

    use super::super::testing::run;
    use super::*;
    use crate::Quirks;

    #[test]
    fn known_answers() {
        let dt = run(date_time, b"\"17-Jul-1996 02:44:25 -0700\"").0;
        assert_eq!(dt.unix_timestamp(), 837_596_665);
        let dt = run(date_time, b"\" 7-Jul-1996 02:44:25 +0000\"").0;
        assert_eq!(dt.date().day(), 7);
        assert_eq!(run(date, b"1-Feb-1994").0, Date::new(1994, 2, 1).unwrap());
    }

    proptest::proptest! {
        #[test]
        fn date_time_fast_path_matches_rule(
            day in 0u8..40, space_day in proptest::prelude::any::<bool>(),
            month in 0usize..14, upper in proptest::prelude::any::<bool>(),
            year in 0u16..10000, hour in 0u8..30, minute in 0u8..70, second in 0u8..70,
            minus in proptest::prelude::any::<bool>(), zone in 0u16..10000,
        ) {
            let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo", "J@n"];
            let m = if upper { names[month].to_ascii_uppercase() } else { names[month].to_string() };
            let d = if space_day && day < 10 { format!(" {day}") } else { format!("{day:02}") };
            let sign = if minus { '-' } else { '+' };
            let s = format!("\"{d}-{m}-{year:04} {hour:02}:{minute:02}:{second:02} {sign}{zone:04}\")");
            let b = Bytes::from(s.clone().into_bytes());
            let (mut j, mut k) = (In::new(&b, Quirks::default()), In::new(&b, Quirks::default()));
            let fast = date_time(&mut j);
            let slow = date_time_by_rule(&mut k);
            match (fast, slow) {
                (Ok(a), Ok(b)) => {
                    proptest::prop_assert_eq!(a, b);
                    proptest::prop_assert_eq!(j.rest(), k.rest());
                }
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b, "{}", s),
                (a, b) => proptest::prop_assert!(false, "{s}: {a:?} vs {b:?}"),
            }
        }
    }
}
