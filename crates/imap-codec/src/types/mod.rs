//! The IMAP types, apart from parsing and encoding. Every value is valid by construction.

mod body;
pub(crate) mod chars;
mod command;
mod core;
mod datetime;
mod fetch;
mod flag;
mod mailbox;
mod response;
mod search;
mod sequence;
mod status;
mod utf7;

pub use body::{
    Address, BasicFields, Body, BodyExtension, BodyStructure, Disposition, Envelope,
    MultiPartExtension, SinglePartExtension, SpecificFields,
};
pub use command::{AuthenticateData, Command, CommandBody, IdleDone};
pub(crate) use core::Content;
pub use core::{
    AString, Atom, IString, Literal, LiteralMode, NString, Redacted, Tag, Text, ValidationError,
};
pub(crate) use datetime::MONTHS;
pub use datetime::{Date, DateTime};
pub use fetch::{FetchAttribute, Macro, MacroOrItems, MessageDataItem, Section, SectionText};
pub use flag::{Flag, FlagFetch, FlagPerm, StoreResponse, StoreType};
pub use mailbox::{ListItem, ListMailbox, Mailbox, MailboxAttribute, MailboxOther};
pub use response::{
    AuthMechanism, Capability, Code, Continue, Data, ESearch, ESearchItem, Greeting, GreetingKind,
    Response, Status, StatusBody, StatusKind,
};
pub use search::{SearchKey, SearchReturnOption};
pub use sequence::{SeqOrUid, Sequence, SequenceSet};
pub use status::{StatusAttribute, StatusItem};
pub use utf7::{Utf7Error, decode_utf7, encode_utf7};
