//! FETCH: the items a message answers with, computed from its raw bytes.

use std::num::NonZeroU32;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use inbound_imap_codec::types::{
    Address, Atom, BasicFields, Body, BodyStructure, Date, DateTime, Disposition, Envelope,
    FetchAttribute, Flag as WireFlag, FlagFetch, IString, Macro, MacroOrItems, MessageDataItem,
    MultiPartExtension, NString, Section, SectionText, SinglePartExtension, SpecificFields,
};

use super::mime::{self, Part};
use crate::faults::MessageFaultKind;
use crate::mailstore::{Flag, FlagSet, StoredMessage};

/// Stand-in for `body-fld-lines` that the quirk writer turns into `-1`.
pub(crate) const NEGATIVE_LINES_SENTINEL: u32 = u32::MAX;
/// Stand-in for a NIL `boundary` parameter value (the Mail.ru quirk).
pub(crate) const NIL_PARAM_SENTINEL: &str = "INBOUND-NIL-PARAM-VALUE";

/// How to shape BODYSTRUCTURE.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StructureQuirks {
    pub(crate) negative_lines: bool,
    pub(crate) nil_boundary: bool,
}

/// The items of a FETCH command, macros expanded.
pub(crate) fn expand(items: &MacroOrItems) -> Vec<FetchAttribute> {
    match items {
        MacroOrItems::Items(items) => items.clone(),
        MacroOrItems::Macro(m) => {
            let mut v = vec![
                FetchAttribute::Flags,
                FetchAttribute::InternalDate,
                FetchAttribute::Rfc822Size,
            ];
            match m {
                Macro::Fast => {}
                Macro::All => v.push(FetchAttribute::Envelope),
                Macro::Full => {
                    v.push(FetchAttribute::Envelope);
                    v.push(FetchAttribute::Body);
                }
            }
            v
        }
    }
}

/// Whether fetching these items sets `\Seen`.
pub(crate) fn sets_seen(items: &[FetchAttribute]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            FetchAttribute::BodyExt { peek: false, .. }
                | FetchAttribute::Binary { peek: false, .. }
                | FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Text
        )
    })
}

/// Store flags to wire flags (keywords that are not atoms are left out).
pub(crate) fn wire_flags(flags: &FlagSet) -> Vec<FlagFetch> {
    flags
        .iter()
        .filter_map(|f| wire_flag(f).map(FlagFetch::Flag))
        .collect()
}

pub(crate) fn wire_flag(flag: &Flag) -> Option<WireFlag> {
    Some(match flag {
        Flag::Seen => WireFlag::Seen,
        Flag::Answered => WireFlag::Answered,
        Flag::Flagged => WireFlag::Flagged,
        Flag::Deleted => WireFlag::Deleted,
        Flag::Draft => WireFlag::Draft,
        Flag::Keyword(k) => WireFlag::Keyword(Atom::try_from(k.as_str()).ok()?),
    })
}

/// Wire flags to store flags (`\Recent` and unknown `\` flags are dropped).
pub(crate) fn store_flag(flag: &WireFlag) -> Option<Flag> {
    Some(match flag {
        WireFlag::Seen => Flag::Seen,
        WireFlag::Answered => Flag::Answered,
        WireFlag::Flagged => Flag::Flagged,
        WireFlag::Deleted => Flag::Deleted,
        WireFlag::Draft => Flag::Draft,
        WireFlag::Keyword(k) => Flag::Keyword(k.as_str().to_owned()),
        WireFlag::Extension(_) => return None,
    })
}

/// Days since 1970-01-01 to (year, month, day).
fn civil(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time as an IMAP date-time in UTC.
pub(crate) fn date_time(t: SystemTime) -> Option<DateTime> {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let date = Date::new(u16::try_from(y).ok()?, m, d).ok()?;
    DateTime::new(
        date,
        (rem / 3600) as u8,
        (rem / 60 % 60) as u8,
        (rem % 60) as u8,
        0,
    )
    .ok()
}

/// The UTC calendar date of a time.
pub(crate) fn utc_date(t: SystemTime) -> Option<Date> {
    date_time(t).map(|dt| dt.date())
}

fn nstring(s: Option<String>) -> NString {
    s.map(IString::from)
}

fn addresses(value: Option<String>) -> Vec<Address> {
    value
        .map(|v| mime::parse_addresses(&v))
        .unwrap_or_default()
        .into_iter()
        .map(|a| Address {
            name: nstring(a.name),
            adl: None,
            mailbox: Some(IString::from(a.mailbox)),
            host: nstring(a.host),
        })
        .collect()
}

/// ENVELOPE of a header block.
pub(crate) fn envelope(header: &[u8]) -> Envelope {
    let fields = mime::header_fields(header);
    let f = |name: &str| mime::field(&fields, name);
    let from = addresses(f("from"));
    let sender = match addresses(f("sender")) {
        s if s.is_empty() => from.clone(),
        s => s,
    };
    let reply_to = match addresses(f("reply-to")) {
        r if r.is_empty() => from.clone(),
        r => r,
    };
    Envelope {
        date: nstring(f("date")),
        subject: nstring(f("subject")),
        from,
        sender,
        reply_to,
        to: addresses(f("to")),
        cc: addresses(f("cc")),
        bcc: addresses(f("bcc")),
        in_reply_to: nstring(f("in-reply-to")),
        message_id: nstring(f("message-id")),
    }
}

fn params(list: &[(String, String)], quirks: StructureQuirks) -> Vec<(IString, IString)> {
    list.iter()
        .map(|(k, v)| {
            let v = if quirks.nil_boundary && k.eq_ignore_ascii_case("boundary") {
                NIL_PARAM_SENTINEL
            } else {
                v.as_str()
            };
            (IString::from(k.as_str()), IString::from(v))
        })
        .collect()
}

fn disposition(fields: &[(String, String)]) -> Option<Disposition> {
    let (kind, p) = mime::parse_disposition(&mime::field(fields, "content-disposition")?)?;
    Some(Disposition {
        kind: IString::from(kind),
        parameters: params(&p, StructureQuirks::default()),
    })
}

fn language(fields: &[(String, String)]) -> Vec<IString> {
    mime::field(fields, "content-language")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(IString::from)
                .collect()
        })
        .unwrap_or_default()
}

/// BODY (`extended` false) or BODYSTRUCTURE of a part.
pub(crate) fn structure(
    raw: &[u8],
    part: &Part,
    extended: bool,
    quirks: StructureQuirks,
) -> BodyStructure {
    let fields = mime::header_fields(&raw[part.header.clone()]);
    let f = |name: &str| mime::field(&fields, name);
    if part.is_multipart() {
        return BodyStructure::Multi {
            bodies: part
                .children
                .iter()
                .map(|c| structure(raw, c, extended, quirks))
                .collect(),
            subtype: IString::from(part.subtype.to_ascii_uppercase()),
            extension: extended.then(|| MultiPartExtension {
                parameters: params(&part.params, quirks),
                disposition: disposition(&fields),
                language: language(&fields),
                location: nstring(f("content-location")),
                extensions: Vec::new(),
            }),
        };
    }
    let body = &raw[part.body.clone()];
    let lines = if quirks.negative_lines {
        NEGATIVE_LINES_SENTINEL
    } else {
        mime::line_count(body)
    };
    let specific = if let Some(inner) = &part.message {
        SpecificFields::Message {
            subtype: IString::from(part.subtype.to_ascii_uppercase()),
            envelope: Box::new(envelope(&raw[inner.header.clone()])),
            body_structure: Box::new(structure(raw, inner, extended, quirks)),
            number_of_lines: lines,
        }
    } else if part.is_type("text") {
        SpecificFields::Text {
            subtype: IString::from(part.subtype.to_ascii_uppercase()),
            number_of_lines: lines,
        }
    } else {
        let subtype = if part.subtype.is_empty() {
            "OCTET-STREAM".to_owned()
        } else {
            part.subtype.to_ascii_uppercase()
        };
        SpecificFields::Basic {
            r#type: IString::from(part.media_type.to_ascii_uppercase()),
            subtype: IString::from(subtype),
        }
    };
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameters: params(&part.params, quirks),
                id: nstring(f("content-id")),
                description: nstring(f("content-description")),
                content_transfer_encoding: IString::from(
                    f("content-transfer-encoding")
                        .unwrap_or_else(|| "7BIT".to_owned())
                        .to_ascii_uppercase(),
                ),
                size: body.len() as u32,
            },
            specific,
        },
        extension: extended.then(|| SinglePartExtension {
            md5: nstring(f("content-md5")),
            disposition: disposition(&fields),
            language: language(&fields),
            location: nstring(f("content-location")),
            extensions: Vec::new(),
        }),
    }
}

/// The part at `path` (`[]` is the message itself). For a non-multipart, part 1 is its body.
/// Inside a `message/rfc822` part, numbers address the encapsulated message's parts.
fn find_part<'a>(root: &'a Part, path: &[NonZeroU32]) -> Option<&'a Part> {
    let mut cur = root;
    for (depth, n) in path.iter().enumerate() {
        let n = n.get() as usize;
        // A message/rfc822 reached by a previous number: descend into its message.
        if depth > 0
            && let Some(inner) = &cur.message
        {
            cur = inner;
        }
        cur = if cur.is_multipart() {
            cur.children.get(n - 1)?
        } else if n == 1 {
            cur
        } else {
            return None;
        };
    }
    Some(cur)
}

fn header_filter(header: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut include = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            continue;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.iter().position(|&b| b == b':').map(|i| {
                String::from_utf8_lossy(&line[..i])
                    .trim()
                    .to_ascii_lowercase()
            });
            include = name.is_some_and(|n| names.contains(&n) == keep);
        }
        if include {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes of `BODY[section]`, `None` when the section does not exist.
pub(crate) fn section_bytes(raw: &Bytes, root: &Part, section: Option<&Section>) -> Option<Bytes> {
    let Some(section) = section else {
        return Some(raw.clone());
    };
    let part = find_part(root, section.part())?;
    let text = section.text();
    // HEADER/TEXT on a part address the encapsulated message.
    let msg = if section.part().is_empty() {
        Some(part)
    } else {
        part.message.as_deref()
    };
    let names = |list: &[inbound_imap_codec::types::AString]| -> Vec<String> {
        list.iter()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .collect()
    };
    Some(match text {
        None => raw.slice(part.body.clone()),
        Some(SectionText::Mime) => raw.slice(part.header.clone()),
        Some(SectionText::Header) => raw.slice(msg?.header.clone()),
        Some(SectionText::Text) => raw.slice(msg?.body.clone()),
        Some(SectionText::HeaderFields(list)) => {
            Bytes::from(header_filter(&raw[msg?.header.clone()], &names(list), true))
        }
        Some(SectionText::HeaderFieldsNot(list)) => Bytes::from(header_filter(
            &raw[msg?.header.clone()],
            &names(list),
            false,
        )),
    })
}

/// The decoded bytes of `BINARY[part]`; `Err(())` when the encoding is unknown.
pub(crate) fn binary_bytes(
    raw: &Bytes,
    root: &Part,
    path: &[NonZeroU32],
) -> Option<Result<Bytes, ()>> {
    if path.is_empty() {
        return Some(Ok(raw.clone()));
    }
    let part = find_part(root, path)?;
    let fields = mime::header_fields(&raw[part.header.clone()]);
    let enc = mime::field(&fields, "content-transfer-encoding");
    Some(
        mime::decode_transfer(enc.as_deref(), &raw[part.body.clone()])
            .map(Bytes::from)
            .ok_or(()),
    )
}

fn partial_slice(data: Bytes, partial: Option<(u32, NonZeroU32)>) -> (Bytes, Option<u32>) {
    match partial {
        None => (data, None),
        Some((offset, len)) => {
            let start = (offset as usize).min(data.len());
            let end = start.saturating_add(len.get() as usize).min(data.len());
            (data.slice(start..end), Some(offset))
        }
    }
}

/// Why an item could not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemError {
    /// `BINARY` of a part in an unknown transfer encoding (`[UNKNOWN-CTE]`).
    UnknownCte,
}

/// The answer items for one message (`flags` are its flags after any `\Seen` change).
pub(crate) fn message_items(
    message: &StoredMessage,
    flags: &FlagSet,
    items: &[FetchAttribute],
    uid_fetch: bool,
    quirks: StructureQuirks,
) -> Result<Vec<MessageDataItem>, ItemError> {
    let raw = &message.raw;
    let mut parsed: Option<Part> = None;
    let mut root = || -> Part { parsed.get_or_insert_with(|| mime::parse(raw)).clone() };
    let mut out = Vec::with_capacity(items.len() + 1);
    let uid = NonZeroU32::new(message.uid);
    if uid_fetch && !items.contains(&FetchAttribute::Uid) {
        out.extend(uid.map(MessageDataItem::Uid));
    }
    for item in items {
        match item {
            FetchAttribute::Uid => out.extend(uid.map(MessageDataItem::Uid)),
            FetchAttribute::Flags => out.push(MessageDataItem::Flags(wire_flags(flags))),
            FetchAttribute::InternalDate => {
                out.extend(date_time(message.internal_date).map(MessageDataItem::InternalDate));
            }
            FetchAttribute::Rfc822Size => out.push(MessageDataItem::Rfc822Size(raw.len() as u32)),
            FetchAttribute::Envelope => {
                let r = root();
                out.push(MessageDataItem::Envelope(Box::new(envelope(
                    &raw[r.header.clone()],
                ))));
            }
            FetchAttribute::Body => {
                out.push(MessageDataItem::Body(Box::new(structure(
                    raw,
                    &root(),
                    false,
                    quirks,
                ))));
            }
            FetchAttribute::BodyStructure => {
                out.push(MessageDataItem::BodyStructure(Box::new(structure(
                    raw,
                    &root(),
                    true,
                    quirks,
                ))));
            }
            FetchAttribute::BodyExt {
                section, partial, ..
            } => {
                let data = section_bytes(raw, &root(), section.as_ref());
                let (data, origin) = match data {
                    Some(d) => {
                        let (d, o) = partial_slice(d, *partial);
                        (Some(IString::from(d)), o)
                    }
                    None => (None, partial.map(|p| p.0)),
                };
                out.push(MessageDataItem::BodyExt {
                    section: section.clone(),
                    origin,
                    data,
                });
            }
            FetchAttribute::Binary {
                section, partial, ..
            } => {
                let (data, origin) = match binary_bytes(raw, &root(), section) {
                    Some(Ok(d)) => {
                        let (d, o) = partial_slice(d, *partial);
                        (Some(d), o)
                    }
                    Some(Err(())) => return Err(ItemError::UnknownCte),
                    None => (None, None),
                };
                out.push(MessageDataItem::Binary {
                    section: section.clone(),
                    origin,
                    data,
                });
            }
            FetchAttribute::BinarySize { section } => match binary_bytes(raw, &root(), section) {
                Some(Ok(d)) => out.push(MessageDataItem::BinarySize {
                    section: section.clone(),
                    size: d.len() as u32,
                }),
                Some(Err(())) => return Err(ItemError::UnknownCte),
                None => {}
            },
            FetchAttribute::Rfc822 => {
                out.push(MessageDataItem::Rfc822(Some(IString::from(raw.clone()))));
            }
            FetchAttribute::Rfc822Header => {
                let r = root();
                out.push(MessageDataItem::Rfc822Header(Some(IString::from(
                    raw.slice(r.header.clone()),
                ))));
            }
            FetchAttribute::Rfc822Text => {
                let r = root();
                out.push(MessageDataItem::Rfc822Text(Some(IString::from(
                    raw.slice(r.body.clone()),
                ))));
            }
            FetchAttribute::ModSeq => out.push(MessageDataItem::ModSeq(message.modseq)),
        }
    }
    Ok(out)
}

/// What a [`MessageFaultKind`] makes of one message's FETCH answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultEffect {
    /// Sent, perhaps changed.
    Send,
    /// Left out; the command still ends OK.
    LeftOut,
    /// Left out; the command ends NO.
    Refused,
    /// Sent as an answer that cannot be parsed.
    Garbled,
}

/// Applies a message fault to its answer items.
/// `Refused` and `LeftOut` apply to FETCHes of the whole message (`BODY[]`, `RFC822`) only,
/// as servers fail on bodies: metadata fetches answer as usual.
pub(crate) fn apply_fault(items: &mut [MessageDataItem], kind: MessageFaultKind) -> FaultEffect {
    let whole = items.iter().any(|i| {
        matches!(
            i,
            MessageDataItem::BodyExt { section: None, .. } | MessageDataItem::Rfc822(_)
        )
    });
    match kind {
        MessageFaultKind::Refused if whole => return FaultEffect::Refused,
        MessageFaultKind::LeftOut if whole => return FaultEffect::LeftOut,
        MessageFaultKind::Garbled if whole => return FaultEffect::Garbled,
        _ => {}
    }
    for item in items.iter_mut() {
        match (kind, item) {
            (MessageFaultKind::ClaimedSize(size), MessageDataItem::Rfc822Size(s)) => {
                *s = u32::try_from(size).unwrap_or(u32::MAX);
            }
            (
                MessageFaultKind::NilBody,
                MessageDataItem::BodyExt {
                    section: None,
                    data,
                    ..
                },
            ) => *data = None,
            (
                MessageFaultKind::PartialBody,
                MessageDataItem::BodyExt {
                    section: None,
                    origin,
                    data,
                },
            ) => {
                if let Some(d) = data.take() {
                    let bytes = d.to_bytes();
                    *data = Some(IString::from(bytes.slice(..bytes.len() / 2)));
                }
                *origin = Some(0);
            }
            (
                MessageFaultKind::Truncated(n),
                MessageDataItem::BodyExt {
                    section: None,
                    data,
                    ..
                },
            ) => {
                if let Some(d) = data.take() {
                    let bytes = d.to_bytes();
                    *data = Some(IString::from(bytes.slice(..bytes.len().min(n as usize))));
                }
            }
            _ => {}
        }
    }
    FaultEffect::Send
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sample::sample_mailbox;
    use inbound_imap_codec::types::{Data, Response};

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_709_251_200 + 9 * 3600 + 61);
        let dt = date_time(t).unwrap();
        assert_eq!(dt.date(), Date::new(2024, 3, 1).unwrap());
        assert_eq!(dt.time(), (9, 1, 1));
        assert_eq!(dt.unix_timestamp(), 1_709_251_200 + 9 * 3600 + 61);
    }

    #[test]
    fn sample_bodystructure_encodes() {
        let msgs = sample_mailbox();
        let raw = Bytes::from(msgs[3].raw.clone());
        let root = mime::parse(&raw);
        let bs = structure(&raw, &root, true, StructureQuirks::default());
        let resp = Response::Data(Data::Fetch {
            seq: nz(1),
            items: vec![MessageDataItem::BodyStructure(Box::new(bs))],
        });
        let text = String::from_utf8(resp.encode().to_vec()).unwrap();
        assert!(
            text.contains("(\"APPLICATION\" \"PDF\" (\"name\" \"report.pdf\") NIL NIL \"BASE64\""),
            "{text}"
        );
        assert!(
            text.contains("\"MIXED\" (\"boundary\" \"mixed-4\")"),
            "{text}"
        );
        assert!(
            text.contains("(\"attachment\" (\"filename\" \"notes.txt\"))"),
            "{text}"
        );
        let part2 = section_bytes(&raw, &root, Some(&Section::new(vec![nz(3)], None).unwrap()));
        assert_eq!(&part2.unwrap()[..], b"1. Read the report.\r\n2. Reply.");
        let mime_hdr = section_bytes(
            &raw,
            &root,
            Some(&Section::new(vec![nz(2)], Some(SectionText::Mime)).unwrap()),
        )
        .unwrap();
        assert!(mime_hdr.starts_with(b"Content-Type: application/pdf"));
        assert!(mime_hdr.ends_with(b"\r\n\r\n"));
        assert!(
            section_bytes(&raw, &root, Some(&Section::new(vec![nz(9)], None).unwrap())).is_none()
        );
    }

    #[test]
    fn envelope_of_sample() {
        let msgs = sample_mailbox();
        let env = envelope(&msgs[7].raw);
        assert_eq!(env.subject.unwrap().as_bytes(), b"Re: Welcome to Inbound");
        assert_eq!(
            env.from[0].name.as_ref().unwrap().as_bytes(),
            b"Alice Example"
        );
        assert_eq!(env.sender, env.from);
        assert_eq!(
            env.in_reply_to.unwrap().as_bytes(),
            b"<sample-1@example.test>"
        );
    }

    #[test]
    fn header_fields_section() {
        let raw = Bytes::from_static(b"Subject: a\r\nFrom: b\r\n  folded\r\nTo: c\r\n\r\nbody");
        let root = mime::parse(&raw);
        let s = Section::new(
            Vec::new(),
            Some(SectionText::HeaderFields(vec![
                "from".into(),
                "SUBJECT".into(),
            ])),
        )
        .unwrap();
        let got = section_bytes(&raw, &root, Some(&s)).unwrap();
        assert_eq!(&got[..], b"Subject: a\r\nFrom: b\r\n  folded\r\n\r\n");
    }
}
