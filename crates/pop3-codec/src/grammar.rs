//! Parsers for single lines, one per grammar rule (RFC 1939, RFC 2449 section 3), on top of
//! nom. Lines arrive here already framed: without their CRLF, with no NUL octet.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, eof, map_res, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::auth::{ApopDigest, Password, SaslData};
use crate::capability::Capability;
use crate::command::Command;
use crate::core::{CapabilityTag, Mechanism, MessageNumber, Param, Text, UniqueId, Username};
use crate::error::{DecodeErrorKind, ValidationError};
use crate::response::{ResponseCode, ResponseText, ScanListing, Stat, Status, UidListing};

type PResult<'a, T> = IResult<&'a [u8], T>;

fn is_vchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// One or more spaces: `SP` (RFC 1939 uses exactly one; servers and clients in the wild
/// sometimes send more).
fn sp(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b| b == b' ').parse(i)
}

/// `1*DIGIT` as a `u64`, refusing overflow.
fn number_u64(i: &[u8]) -> PResult<'_, u64> {
    map_res(digit1, |d: &[u8]| {
        std::str::from_utf8(d)
            .map_err(|_| ())
            .and_then(|s| s.parse::<u64>().map_err(|_| ()))
    })
    .parse(i)
}

/// `1*DIGIT` as a `u32`, refusing overflow.
fn number_u32(i: &[u8]) -> PResult<'_, u32> {
    map_res(number_u64, u32::try_from).parse(i)
}

/// `msg = nz-number`: a message number, not zero (RFC 1939 section 5).
fn message_number(i: &[u8]) -> PResult<'_, MessageNumber> {
    map_res(number_u32, MessageNumber::new).parse(i)
}

/// Trailing information after a listing, which RFC 1939 allows servers to add.
fn trailer(i: &[u8]) -> PResult<'_, ()> {
    alt((eof.map(|_| ()), preceded(sp, rest).map(|_| ()))).parse(i)
}

/// `status = "+OK" / "-ERR"` (RFC 2449 section 3), matched case-insensitively.
fn status(i: &[u8]) -> PResult<'_, Status> {
    alt((
        tag_no_case("+OK").map(|_| Status::Ok),
        tag_no_case("-ERR").map(|_| Status::Err),
    ))
    .parse(i)
}

/// `single-line = status [SP text]` (RFC 2449 section 3): the status and the raw text.
pub(crate) fn status_line(line: &[u8]) -> Option<(Status, &[u8])> {
    let (text, status) = status(line).ok()?;
    if text.is_empty() {
        return Some((status, text));
    }
    // Exactly one separating space is removed; `+OKAY` is not a status line.
    text.strip_prefix(b" ").map(|t| (status, t))
}

/// `resp-code = "[" resp-level *("/" resp-level) "]"` (RFC 2449 section 3).
fn resp_code(i: &[u8]) -> PResult<'_, ResponseCode> {
    map_res(
        preceded(
            tag("["),
            take_while1(|b: u8| b != b']' && b > 0x20 && b < 0x7f),
        ),
        |code: &[u8]| {
            std::str::from_utf8(code)
                .map_err(|_| ())
                .and_then(|s| ResponseCode::new(s).map_err(|_| ()))
        },
    )
    .and(tag("]"))
    .map(|(code, _)| code)
    .parse(i)
}

/// `text = *schar / resp-code *CHAR` (RFC 2449 section 3). Text that starts with `[` but
/// has no valid code is kept as plain text.
pub(crate) fn response_text(raw: &[u8]) -> Result<ResponseText, ValidationError> {
    if let Ok((after, code)) = resp_code(raw) {
        let text = after.strip_prefix(b" ").unwrap_or(after);
        return Ok(ResponseText::with_code(code, Text::from_bytes(text)?));
    }
    Ok(ResponseText::new(Text::from_bytes(raw)?))
}

/// The text of `+OK nn mm` answering STAT (RFC 1939 section 5: `drop listing`).
pub(crate) fn stat_reply(raw: &[u8]) -> Option<Stat> {
    let (_, (count, _, size, _)) = all_consuming((number_u32, sp, number_u64, trailer))
        .parse(raw)
        .ok()?;
    Some(Stat { count, size })
}

/// `scan listing = msg SP size` (RFC 1939 section 5).
pub(crate) fn scan_listing(raw: &[u8]) -> Option<ScanListing> {
    let (_, (msg, _, size, _)) = all_consuming((message_number, sp, number_u64, trailer))
        .parse(raw)
        .ok()?;
    Some(ScanListing { msg, size })
}

/// `unique-id listing = msg SP unique-id` (RFC 1939 section 7).
pub(crate) fn uid_listing(raw: &[u8]) -> Option<UidListing> {
    let (_, (msg, _, uid, _)) = all_consuming((
        message_number,
        sp,
        take_while1(|b| (0x21..=0x7e).contains(&b)),
        take_while(|b| b == b' '),
    ))
    .parse(raw)
    .ok()?;
    let uid = UniqueId::new(std::str::from_utf8(uid).ok()?).ok()?;
    Some(UidListing { msg, uid })
}

/// `capability = capa-tag *(SP param)` (RFC 2449 section 3). `IMPLEMENTATION` takes the
/// rest of the line as free text.
pub(crate) fn capability(raw: &[u8]) -> Option<Capability> {
    let (after, tag_raw) = take_while1::<_, _, nom::error::Error<&[u8]>>(|b| b != b' ')
        .parse(raw)
        .ok()?;
    let tag = CapabilityTag::new(std::str::from_utf8(tag_raw).ok()?).ok()?;
    let after = after.strip_prefix(b" ").unwrap_or(after);
    if tag.as_str().eq_ignore_ascii_case("IMPLEMENTATION") {
        return Some(Capability::Implementation(Text::from_bytes(after).ok()?));
    }
    let params = after
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .map(|p| std::str::from_utf8(p).ok().and_then(|s| Param::new(s).ok()))
        .collect::<Option<Vec<_>>>()?;
    Some(Capability::from_parts(tag, params))
}

/// `keyword = 3*4VCHAR` (RFC 2449 section 3); commands are letters only.
fn keyword(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_alphabetic()).parse(i)
}

fn bad(what: &'static str, reason: &'static str) -> DecodeErrorKind {
    DecodeErrorKind::BadArgument(ValidationError::Invalid { what, reason })
}

fn arg_str<'a>(what: &'static str, arg: &'a [u8]) -> Result<&'a str, DecodeErrorKind> {
    std::str::from_utf8(arg).map_err(|_| bad(what, "not UTF-8"))
}

fn msg_arg(arg: &[u8]) -> Result<MessageNumber, DecodeErrorKind> {
    all_consuming(message_number)
        .parse(arg)
        .map(|(_, m)| m)
        .map_err(|_| bad("message number", "not a number from 1 to 4294967295"))
}

/// `command = keyword *(SP param)` (RFC 2449 section 3), interpreted per RFC 1939, 2449,
/// 2595 and 5034. `PASS` takes the rest of the line, spaces included.
pub(crate) fn command(line: &[u8]) -> Result<Command, DecodeErrorKind> {
    let (after, kw) = keyword(line).map_err(|_| DecodeErrorKind::UnknownCommand)?;
    if !after.is_empty() && after[0] != b' ' {
        return Err(DecodeErrorKind::UnknownCommand);
    }
    let kw = kw.to_ascii_uppercase();
    if kw == b"PASS" {
        let pass = after
            .strip_prefix(b" ")
            .ok_or_else(|| bad("PASS", "missing argument"))?;
        let pass =
            Password::new(arg_str("password", pass)?).map_err(DecodeErrorKind::BadArgument)?;
        return Ok(Command::Pass(pass));
    }
    let args: Vec<&[u8]> = after
        .split(|&b| b == b' ')
        .filter(|a| !a.is_empty())
        .collect();
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(bad("command", "unexpected argument"))
        }
    };
    let one = || match args.as_slice() {
        [a] => Ok(*a),
        _ => Err(bad("command", "expected exactly one argument")),
    };
    let optional_msg = || match args.as_slice() {
        [] => Ok(None),
        [a] => msg_arg(a).map(Some),
        _ => Err(bad("command", "expected at most one argument")),
    };
    for a in &args {
        if !a.iter().all(|&b| is_vchar(b)) {
            return Err(bad("argument", "control character"));
        }
    }
    match kw.as_slice() {
        b"USER" => Username::from_bytes(one()?)
            .map(Command::User)
            .map_err(DecodeErrorKind::BadArgument),
        b"APOP" => match args.as_slice() {
            [name, digest] => Ok(Command::Apop {
                name: Username::from_bytes(name).map_err(DecodeErrorKind::BadArgument)?,
                digest: ApopDigest::from_hex(arg_str("APOP digest", digest)?)
                    .map_err(DecodeErrorKind::BadArgument)?,
            }),
            _ => Err(bad("APOP", "expected a name and a digest")),
        },
        b"AUTH" => match args.as_slice() {
            [mech] | [mech, _] => {
                let mechanism = Mechanism::new(arg_str("SASL mechanism", mech)?)
                    .map_err(DecodeErrorKind::BadArgument)?;
                let initial_response = match args.get(1) {
                    Some(ir) => {
                        Some(SaslData::from_base64(ir).map_err(DecodeErrorKind::BadArgument)?)
                    }
                    None => None,
                };
                Ok(Command::Auth {
                    mechanism,
                    initial_response,
                })
            }
            _ => Err(bad(
                "AUTH",
                "expected a mechanism and an optional initial response",
            )),
        },
        b"STLS" => none(Command::Stls),
        b"CAPA" => none(Command::Capa),
        b"STAT" => none(Command::Stat),
        b"LIST" => optional_msg().map(Command::List),
        b"UIDL" => optional_msg().map(Command::Uidl),
        b"TOP" => match args.as_slice() {
            [msg, lines] => Ok(Command::Top {
                msg: msg_arg(msg)?,
                lines: all_consuming(number_u32)
                    .parse(lines)
                    .map(|(_, n)| n)
                    .map_err(|_| bad("TOP line count", "not a number"))?,
            }),
            _ => Err(bad("TOP", "expected a message number and a line count")),
        },
        b"RETR" => msg_arg(one()?).map(Command::Retr),
        b"DELE" => msg_arg(one()?).map(Command::Dele),
        b"RSET" => none(Command::Rset),
        b"NOOP" => none(Command::Noop),
        b"QUIT" => none(Command::Quit),
        _ => Err(DecodeErrorKind::UnknownCommand),
    }
}

/// Is `line` an `AUTH` command (for its longer line limit)?
pub(crate) fn is_auth_line(line: &[u8]) -> bool {
    line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ")
}

/// Is this line a continuation `"+" [SP text]` (RFC 5034 section 4) rather than `+OK`?
pub(crate) fn continuation(line: &[u8]) -> Option<&[u8]> {
    match line {
        [b'+'] => Some(&[]),
        [b'+', b' ', text @ ..] => Some(text),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_line(b"+OK"), Some((Status::Ok, &b""[..])));
        assert_eq!(status_line(b"-ERR no"), Some((Status::Err, &b"no"[..])));
        assert_eq!(status_line(b"+OKAY"), None);
        assert_eq!(status_line(b"OK"), None);
        let t = response_text(b"[SYS/TEMP] try later").unwrap();
        assert_eq!(t.code, Some(ResponseCode::SysTemp));
        assert_eq!(t.text.as_str(), "try later");
        let t = response_text(b"[not a code").unwrap();
        assert_eq!(t.code, None);
        assert_eq!(t.text.as_str(), "[not a code");
        let t = response_text(b"[X-FOO/BAR]").unwrap();
        assert_eq!(t.code, Some(ResponseCode::Other("X-FOO/BAR".into())));
    }

    #[test]
    fn listings() {
        assert_eq!(
            stat_reply(b"2 320"),
            Some(Stat {
                count: 2,
                size: 320
            })
        );
        assert_eq!(stat_reply(b"2"), None);
        assert_eq!(stat_reply(b"2 99999999999999999999999"), None);
        assert_eq!(scan_listing(b"0 120"), None);
        assert_eq!(scan_listing(b"1 120 extra").map(|s| s.size), Some(120));
        assert_eq!(
            uid_listing(b"2 QhdPYR:00WBw1Ph7x7").map(|u| u.uid.to_string()),
            Some("QhdPYR:00WBw1Ph7x7".to_owned())
        );
        assert_eq!(uid_listing(b"2 a b"), None);
    }

    #[test]
    fn commands() {
        assert_eq!(command(b"stat"), Ok(Command::Stat));
        assert_eq!(command(b"LIST"), Ok(Command::List(None)));
        assert!(matches!(
            command(b"LIST 0"),
            Err(DecodeErrorKind::BadArgument(_))
        ));
        assert!(matches!(
            command(b"RETR"),
            Err(DecodeErrorKind::BadArgument(_))
        ));
        assert!(matches!(
            command(b"XYZZY"),
            Err(DecodeErrorKind::UnknownCommand)
        ));
        assert!(matches!(
            command(b"STATUS"),
            Err(DecodeErrorKind::UnknownCommand)
        ));
        match command(b"PASS my secret").unwrap() {
            Command::Pass(p) => assert_eq!(p.expose(), "my secret"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            command(b"AUTH PLAIN ="),
            Ok(Command::Auth { initial_response: Some(ir), .. }) if ir.is_empty()
        ));
        assert!(matches!(
            command(b"AUTH PLAIN !!"),
            Err(DecodeErrorKind::BadArgument(_))
        ));
    }
}
