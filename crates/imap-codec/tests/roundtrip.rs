//! Property tests: value -> encode -> decode -> equal, for commands and responses; and
//! chunking does not change what the framer and decoder produce.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;

use bytes::Bytes;
use inbound_imap_codec::types::*;
use inbound_imap_codec::{LiteralSupport, Quirks, decode_command_prefix, decode_response_prefix};
use proptest::prelude::*;

fn bytes_any() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
        "[a-zA-Z0-9 .\\-\"\\\\%*\\]]{0,20}".prop_map(Bytes::from),
    ]
}

fn astring() -> impl Strategy<Value = AString> {
    bytes_any().prop_map(AString::new)
}

fn istring() -> impl Strategy<Value = IString> {
    bytes_any().prop_map(IString::new)
}

fn nstring() -> impl Strategy<Value = NString> {
    prop::option::of(istring())
}

fn atom() -> impl Strategy<Value = Atom> {
    "[a-zA-Z$][a-zA-Z0-9$_.-]{0,10}".prop_map(|s| Atom::try_from(s.as_str()).unwrap())
}

fn tag() -> impl Strategy<Value = Tag> {
    "[a-zA-Z0-9.]{1,8}".prop_map(|s| Tag::try_from(s.as_str()).unwrap())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    prop_oneof![
        Just(Mailbox::Inbox),
        astring().prop_map(Mailbox::from_raw),
        "\\PC{1,12}".prop_map(|s| Mailbox::from_utf8(&s))
    ]
}

fn seq_set() -> impl Strategy<Value = SequenceSet> {
    prop_oneof![
        prop::collection::vec(1u32..100_000, 1..12)
            .prop_map(|v| SequenceSet::from_uids(v).unwrap()),
        (1u32..1000).prop_map(|n| SequenceSet::from_onwards(n).unwrap()),
    ]
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        "X[a-z]{1,6}".prop_map(|s| Flag::Extension(Atom::try_from(s.as_str()).unwrap())),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (1900u16..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..60, -720i16..720)
        .prop_map(|(d, h, m, s, z)| DateTime::new(d, h, m, s, z).unwrap())
}

fn section() -> impl Strategy<Value = Option<Section>> {
    let part = prop::collection::vec(1u32..20, 0..3).prop_map(|v| {
        v.into_iter()
            .filter_map(NonZeroU32::new)
            .collect::<Vec<_>>()
    });
    let text = prop::option::of(prop_oneof![
        Just(SectionText::Header),
        Just(SectionText::Text),
        Just(SectionText::Mime),
        prop::collection::vec(astring(), 1..3).prop_map(SectionText::HeaderFields),
        prop::collection::vec(astring(), 1..3).prop_map(SectionText::HeaderFieldsNot),
    ]);
    (part, text).prop_map(|(p, t)| Section::new(p, t).ok())
}

fn fetch_attribute() -> impl Strategy<Value = FetchAttribute> {
    prop_oneof![
        Just(FetchAttribute::Uid),
        Just(FetchAttribute::Flags),
        Just(FetchAttribute::InternalDate),
        Just(FetchAttribute::Rfc822Size),
        Just(FetchAttribute::Envelope),
        Just(FetchAttribute::Body),
        Just(FetchAttribute::BodyStructure),
        Just(FetchAttribute::ModSeq),
        (
            section(),
            prop::option::of((0u32..1000, 1u32..1000)),
            any::<bool>()
        )
            .prop_map(|(section, p, peek)| {
                FetchAttribute::BodyExt {
                    section,
                    partial: p.map(|(a, b)| (a, NonZeroU32::new(b).unwrap())),
                    peek,
                }
            }),
        (prop::collection::vec(1u32..5, 0..3), any::<bool>()).prop_map(|(s, peek)| {
            FetchAttribute::Binary {
                section: s.into_iter().filter_map(NonZeroU32::new).collect(),
                partial: None,
                peek,
            }
        }),
    ]
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Unseen),
        Just(SearchKey::Deleted),
        astring().prop_map(SearchKey::From),
        astring().prop_map(SearchKey::Subject),
        (astring(), astring()).prop_map(|(a, b)| SearchKey::Header(a, b)),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::Before),
        seq_set().prop_map(SearchKey::Uid),
        seq_set().prop_map(SearchKey::SequenceSet),
        (0u32..100_000).prop_map(SearchKey::Larger),
        atom().prop_map(SearchKey::Keyword),
        any::<u64>().prop_map(SearchKey::ModSeq),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            prop::collection::vec(inner, 1..3).prop_map(SearchKey::And),
        ]
    })
}

fn command_body() -> impl Strategy<Value = CommandBody> {
    prop_oneof![
        Just(CommandBody::Capability),
        Just(CommandBody::Noop),
        Just(CommandBody::Logout),
        Just(CommandBody::StartTls),
        Just(CommandBody::Idle),
        Just(CommandBody::Close),
        Just(CommandBody::Expunge),
        (astring(), astring()).prop_map(|(u, p)| CommandBody::Login {
            username: u,
            password: Redacted::new(p)
        }),
        (prop::option::of(prop::collection::vec(any::<u8>(), 0..40))).prop_map(|ir| {
            CommandBody::Authenticate {
                mechanism: AuthMechanism::XOAuth2,
                initial_response: ir.map(Redacted::new),
            }
        }),
        prop::collection::vec(atom(), 1..3).prop_map(|a| CommandBody::Enable {
            capabilities: a.into_iter().map(Capability::from_atom).collect()
        }),
        prop::option::of(prop::collection::vec((istring(), nstring()), 0..3))
            .prop_map(|parameters| CommandBody::Id { parameters }),
        (mailbox(), any::<bool>())
            .prop_map(|(mailbox, condstore)| CommandBody::Select { mailbox, condstore }),
        (mailbox(), any::<bool>())
            .prop_map(|(mailbox, condstore)| CommandBody::Examine { mailbox, condstore }),
        mailbox().prop_map(|mailbox| CommandBody::Create { mailbox }),
        (mailbox(), astring()).prop_map(|(reference, p)| CommandBody::List {
            reference,
            pattern: ListMailbox::new(p)
        }),
        (
            mailbox(),
            prop::collection::vec(
                prop::sample::select(vec![
                    StatusAttribute::Messages,
                    StatusAttribute::UidNext,
                    StatusAttribute::UidValidity,
                    StatusAttribute::Unseen,
                    StatusAttribute::HighestModSeq,
                ]),
                1..4
            )
        )
            .prop_map(|(mailbox, attributes)| CommandBody::Status {
                mailbox,
                attributes
            }),
        (
            mailbox(),
            prop::collection::vec(flag(), 0..3),
            prop::option::of(date_time()),
            prop::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(mailbox, flags, date, m)| CommandBody::Append {
                mailbox,
                flags,
                date,
                message: Literal::new(m)
            }),
        seq_set().prop_map(|uids| CommandBody::UidExpunge { uids }),
        (
            prop::option::of(prop::collection::vec(
                prop::sample::select(vec![
                    SearchReturnOption::Min,
                    SearchReturnOption::Count,
                    SearchReturnOption::All
                ]),
                0..3
            )),
            prop::option::of(astring()),
            prop::collection::vec(search_key(), 1..3),
            any::<bool>()
        )
            .prop_map(
                |(return_options, charset, criteria, uid)| CommandBody::Search {
                    return_options,
                    charset,
                    criteria,
                    uid
                }
            ),
        (
            seq_set(),
            prop::collection::vec(fetch_attribute(), 1..4),
            prop::option::of(any::<u64>()),
            any::<bool>()
        )
            .prop_map(
                |(sequence_set, items, changed_since, uid)| CommandBody::Fetch {
                    sequence_set,
                    items: MacroOrItems::Items(items),
                    changed_since,
                    uid
                }
            ),
        (
            seq_set(),
            prop::sample::select(vec![Macro::All, Macro::Fast, Macro::Full])
        )
            .prop_map(|(sequence_set, m)| CommandBody::Fetch {
                sequence_set,
                items: MacroOrItems::Macro(m),
                changed_since: None,
                uid: false
            }),
        (
            seq_set(),
            prop::sample::select(vec![StoreType::Add, StoreType::Remove, StoreType::Replace]),
            any::<bool>(),
            prop::collection::vec(flag(), 0..4),
            prop::option::of(any::<u64>()),
            any::<bool>()
        )
            .prop_map(
                |(sequence_set, kind, silent, flags, unchanged_since, uid)| CommandBody::Store {
                    sequence_set,
                    kind,
                    response: if silent {
                        StoreResponse::Silent
                    } else {
                        StoreResponse::Answer
                    },
                    flags,
                    unchanged_since,
                    uid
                }
            ),
        (seq_set(), mailbox(), any::<bool>()).prop_map(|(sequence_set, mailbox, uid)| {
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            }
        }),
        (seq_set(), mailbox(), any::<bool>()).prop_map(|(sequence_set, mailbox, uid)| {
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            }
        }),
    ]
}

fn text() -> impl Strategy<Value = Text> {
    "[a-zA-Z0-9][a-zA-Z0-9 .,!-]{0,30}".prop_map(|s| Text::try_from(s.as_str()).unwrap())
}

fn code() -> impl Strategy<Value = Code> {
    prop_oneof![
        Just(Code::Alert),
        Just(Code::ReadOnly),
        Just(Code::ReadWrite),
        Just(Code::TryCreate),
        Just(Code::Closed),
        any::<u32>().prop_map(Code::UidNext),
        any::<u32>().prop_map(Code::UidValidity),
        any::<u64>().prop_map(Code::HighestModSeq),
        prop::collection::vec(flag(), 0..4).prop_map(|f| Code::PermanentFlags(
            f.into_iter()
                .map(FlagPerm::Flag)
                .chain([FlagPerm::Asterisk])
                .collect()
        )),
        (any::<u32>(), seq_set())
            .prop_map(|(uid_validity, uids)| Code::AppendUid { uid_validity, uids }),
        (any::<u32>(), seq_set(), seq_set()).prop_map(|(uid_validity, source, destination)| {
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            }
        }),
        prop::collection::vec(atom(), 0..4)
            .prop_map(|a| Code::Capability(a.into_iter().map(Capability::from_atom).collect())),
        (
            "X-[A-Z]{1,8}",
            prop::option::of("[a-z0-9]{1,8}( [a-z0-9]{1,8})?")
        )
            .prop_map(|(n, v)| Code::Other {
                name: Atom::try_from(n.as_str()).unwrap(),
                value: v.map(Bytes::from)
            }),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    (nstring(), nstring(), nstring(), nstring()).prop_map(|(name, adl, mailbox, host)| Address {
        name,
        adl,
        mailbox,
        host,
    })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        nstring(),
        nstring(),
        prop::collection::vec(address(), 0..3),
        prop::collection::vec(address(), 0..2),
        nstring(),
    )
        .prop_map(|(date, subject, from, to, message_id)| Envelope {
            date,
            subject,
            from: from.clone(),
            sender: from,
            to,
            message_id,
            ..Envelope::default()
        })
}

fn body_structure() -> impl Strategy<Value = BodyStructure> {
    let params = prop::collection::vec((istring(), istring()), 0..3);
    let leaf = (
        params,
        nstring(),
        istring(),
        0u32..100_000,
        0u32..1000,
        any::<bool>(),
        prop::option::of(nstring()),
    )
        .prop_map(
            |(parameters, id, enc, size, lines, text, ext)| BodyStructure::Single {
                body: Body {
                    basic: BasicFields {
                        parameters,
                        id,
                        description: None,
                        content_transfer_encoding: enc,
                        size,
                    },
                    specific: if text {
                        SpecificFields::Text {
                            subtype: IString::from("plain"),
                            number_of_lines: lines,
                        }
                    } else {
                        SpecificFields::Basic {
                            r#type: IString::from("application"),
                            subtype: IString::from("pdf"),
                        }
                    },
                },
                extension: ext.map(|md5| SinglePartExtension {
                    md5,
                    ..Default::default()
                }),
            },
        );
    leaf.prop_recursive(3, 10, 3, |inner| {
        (prop::collection::vec(inner, 1..3), istring()).prop_map(|(bodies, subtype)| {
            BodyStructure::Multi {
                bodies,
                subtype,
                extension: None,
            }
        })
    })
}

fn message_data_item() -> impl Strategy<Value = MessageDataItem> {
    prop_oneof![
        (1u32..u32::MAX).prop_map(|n| MessageDataItem::Uid(NonZeroU32::new(n).unwrap())),
        prop::collection::vec(flag(), 0..4).prop_map(|f| MessageDataItem::Flags(
            f.into_iter()
                .map(FlagFetch::Flag)
                .chain([FlagFetch::Recent])
                .collect()
        )),
        date_time().prop_map(MessageDataItem::InternalDate),
        any::<u32>().prop_map(MessageDataItem::Rfc822Size),
        any::<u64>().prop_map(MessageDataItem::ModSeq),
        envelope().prop_map(|e| MessageDataItem::Envelope(Box::new(e))),
        body_structure().prop_map(|b| MessageDataItem::BodyStructure(Box::new(b))),
        (section(), prop::option::of(any::<u32>()), nstring()).prop_map(
            |(section, origin, data)| MessageDataItem::BodyExt {
                section,
                origin,
                data
            }
        ),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..50).prop_map(Bytes::from)).prop_map(
            |data| MessageDataItem::Binary {
                section: vec![NonZeroU32::MIN],
                origin: None,
                data
            }
        ),
        nstring().prop_map(MessageDataItem::Rfc822Header),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let body = || {
        (
            prop::sample::select(vec![StatusKind::Ok, StatusKind::No, StatusKind::Bad]),
            prop::option::of(code()),
            text(),
        )
            .prop_map(|(kind, code, text)| StatusBody { kind, code, text })
    };
    prop_oneof![
        (tag(), body()).prop_map(|(tag, body)| Response::Status(Status::Tagged { tag, body })),
        body().prop_map(|b| Response::Status(Status::Untagged(b))),
        (prop::option::of(code()), text())
            .prop_map(|(code, text)| Response::Status(Status::Bye { code, text })),
        text().prop_map(|t| Response::Continue(Continue::text(t))),
        prop::collection::vec(any::<u8>(), 0..30)
            .prop_map(|d| Response::Continue(Continue::base64(&d))),
        any::<u32>().prop_map(|n| Response::Data(Data::Exists(n))),
        (1u32..u32::MAX).prop_map(|n| Response::Data(Data::Expunge(NonZeroU32::new(n).unwrap()))),
        prop::collection::vec(flag(), 0..5).prop_map(|f| Response::Data(Data::Flags(f))),
        (
            prop::collection::vec(1u32..u32::MAX, 0..6),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(ids, modseq)| {
                Response::Data(Data::Search {
                    ids: ids.into_iter().filter_map(NonZeroU32::new).collect(),
                    modseq,
                })
            }),
        (
            prop::collection::vec(
                prop::sample::select(vec![
                    MailboxAttribute::HasChildren,
                    MailboxAttribute::Trash,
                    MailboxAttribute::NoSelect
                ]),
                0..3
            ),
            prop::option::of(prop::sample::select(vec!['/', '.', '"', '\\'])),
            mailbox()
        )
            .prop_map(
                |(attributes, delimiter, mailbox)| Response::Data(Data::List(ListItem {
                    attributes,
                    delimiter,
                    mailbox
                }))
            ),
        (
            mailbox(),
            prop::collection::vec(
                prop::sample::select(vec![
                    StatusItem::Messages(3),
                    StatusItem::UidNext(9),
                    StatusItem::HighestModSeq(u64::MAX)
                ]),
                0..3
            )
        )
            .prop_map(|(mailbox, items)| Response::Data(Data::Status { mailbox, items })),
        (1u32..1000, prop::collection::vec(message_data_item(), 1..5)).prop_map(|(n, items)| {
            Response::Data(Data::Fetch {
                seq: NonZeroU32::new(n).unwrap(),
                items,
            })
        }),
        (
            prop::option::of(tag()),
            any::<bool>(),
            seq_set(),
            any::<u32>()
        )
            .prop_map(|(tag, uid, s, n)| Response::Data(Data::ESearch(ESearch {
                tag,
                uid,
                items: vec![
                    ESearchItem::Min(n),
                    ESearchItem::All(s),
                    ESearchItem::Count(n)
                ]
            }))),
        prop::option::of(prop::collection::vec((istring(), nstring()), 0..3))
            .prop_map(|p| Response::Data(Data::Id(p))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn command_roundtrip(tag in tag(), body in command_body(), lit in prop::sample::select(vec![LiteralSupport::SyncOnly, LiteralSupport::LiteralMinus, LiteralSupport::LiteralPlus])) {
        let cmd = Command::new(tag, body);
        let enc = Bytes::from(cmd.encode(lit).to_vec());
        let (dec, used) = decode_command_prefix(&enc, Quirks::strict())
            .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&enc))))?;
        prop_assert_eq!(used, enc.len());
        prop_assert_eq!(dec, cmd);
    }

    #[test]
    fn response_roundtrip(resp in response()) {
        let enc = Bytes::from(resp.encode().to_vec());
        let (dec, used) = decode_response_prefix(&enc, Quirks::strict())
            .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&enc))))?;
        prop_assert_eq!(used, enc.len());
        prop_assert_eq!(dec, resp);
    }

    #[test]
    fn chunking_does_not_matter(which in 0usize..common::ALL.len(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let t = common::ALL[which];
        let (c, s) = common::sides(t.text);
        for (side, data) in [(0, &c), (1, &s)] {
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut prev = 0;
            for p in points {
                chunks.push(&data[prev..p]);
                prev = p;
            }
            chunks.push(&data[prev..]);
            if side == 0 {
                prop_assert_eq!(common::decode_client(&chunks), common::decode_client(&[data]));
            } else {
                prop_assert_eq!(common::decode_server(&chunks, t.greeting), common::decode_server(&[data], t.greeting));
            }
        }
    }
}
