//! Commands (client side), AUTHENTICATE data lines and DONE.

use base64::Engine as _;

use super::core::{list, separated};
use super::response::id_params;
use super::{Encode, Encoded, LiteralSupport, Side, Writer};
use crate::types::{
    AuthenticateData, Command, CommandBody, IdleDone, SearchKey, SearchReturnOption,
    StatusAttribute, StoreResponse, StoreType,
};

impl Encode for StatusAttribute {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.name().as_bytes());
    }
}

impl Encode for SearchReturnOption {
    fn encode(&self, w: &mut Writer) {
        w.raw(match self {
            Self::Min => b"MIN",
            Self::Max => b"MAX",
            Self::All => b"ALL",
            Self::Count => b"COUNT",
        });
    }
}

impl Encode for SearchKey {
    fn encode(&self, w: &mut Writer) {
        let kw_str = |w: &mut Writer, k: &[u8], s: &crate::types::AString| {
            w.raw(k);
            w.sp();
            s.encode(w);
        };
        match self {
            Self::All => w.raw(b"ALL"),
            Self::Answered => w.raw(b"ANSWERED"),
            Self::Deleted => w.raw(b"DELETED"),
            Self::Draft => w.raw(b"DRAFT"),
            Self::Flagged => w.raw(b"FLAGGED"),
            Self::New => w.raw(b"NEW"),
            Self::Old => w.raw(b"OLD"),
            Self::Recent => w.raw(b"RECENT"),
            Self::Seen => w.raw(b"SEEN"),
            Self::Unanswered => w.raw(b"UNANSWERED"),
            Self::Undeleted => w.raw(b"UNDELETED"),
            Self::Undraft => w.raw(b"UNDRAFT"),
            Self::Unflagged => w.raw(b"UNFLAGGED"),
            Self::Unseen => w.raw(b"UNSEEN"),
            Self::Bcc(s) => kw_str(w, b"BCC", s),
            Self::Body(s) => kw_str(w, b"BODY", s),
            Self::Cc(s) => kw_str(w, b"CC", s),
            Self::From(s) => kw_str(w, b"FROM", s),
            Self::Subject(s) => kw_str(w, b"SUBJECT", s),
            Self::Text(s) => kw_str(w, b"TEXT", s),
            Self::To(s) => kw_str(w, b"TO", s),
            Self::Header(k, v) => {
                kw_str(w, b"HEADER", k);
                w.sp();
                v.encode(w);
            }
            Self::Before(d)
            | Self::On(d)
            | Self::Since(d)
            | Self::SentBefore(d)
            | Self::SentOn(d)
            | Self::SentSince(d) => {
                w.raw(match self {
                    Self::Before(_) => b"BEFORE ",
                    Self::On(_) => b"ON ",
                    Self::Since(_) => b"SINCE ",
                    Self::SentBefore(_) => b"SENTBEFORE ",
                    Self::SentOn(_) => b"SENTON ",
                    _ => b"SENTSINCE ",
                });
                d.encode(w);
            }
            Self::Keyword(a) => {
                w.raw(b"KEYWORD ");
                a.encode(w);
            }
            Self::Unkeyword(a) => {
                w.raw(b"UNKEYWORD ");
                a.encode(w);
            }
            Self::Larger(n) => {
                w.raw(b"LARGER ");
                w.num(*n);
            }
            Self::Smaller(n) => {
                w.raw(b"SMALLER ");
                w.num(*n);
            }
            Self::ModSeq(n) => {
                w.raw(b"MODSEQ ");
                w.num(*n);
            }
            Self::Not(k) => {
                w.raw(b"NOT ");
                k.encode(w);
            }
            Self::Or(a, b) => {
                w.raw(b"OR ");
                a.encode(w);
                w.sp();
                b.encode(w);
            }
            Self::Uid(s) => {
                w.raw(b"UID ");
                s.encode(w);
            }
            Self::SequenceSet(s) => s.encode(w),
            Self::And(l) => list(w, l),
        }
    }
}

fn base64(w: &mut Writer, data: &[u8]) {
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    w.raw(enc.as_bytes());
}

impl Encode for CommandBody {
    fn encode(&self, w: &mut Writer) {
        let uid = |w: &mut Writer, uid: bool| {
            if uid {
                w.raw(b"UID ");
            }
        };
        match self {
            Self::Capability => w.raw(b"CAPABILITY"),
            Self::Noop => w.raw(b"NOOP"),
            Self::Logout => w.raw(b"LOGOUT"),
            Self::StartTls => w.raw(b"STARTTLS"),
            Self::Check => w.raw(b"CHECK"),
            Self::Close => w.raw(b"CLOSE"),
            Self::Unselect => w.raw(b"UNSELECT"),
            Self::Expunge => w.raw(b"EXPUNGE"),
            Self::Idle => w.raw(b"IDLE"),
            Self::Login { username, password } => {
                w.raw(b"LOGIN ");
                username.encode(w);
                w.sp();
                password.expose().encode(w);
            }
            Self::Authenticate {
                mechanism,
                initial_response,
            } => {
                w.raw(b"AUTHENTICATE ");
                w.raw(mechanism.name().as_bytes());
                if let Some(ir) = initial_response {
                    w.sp();
                    if ir.expose().is_empty() {
                        w.byte(b'=');
                    } else {
                        base64(w, ir.expose());
                    }
                }
            }
            Self::Enable { capabilities } => {
                w.raw(b"ENABLE ");
                separated(w, capabilities);
            }
            Self::Id { parameters } => {
                w.raw(b"ID ");
                id_params(w, parameters);
            }
            Self::Select { mailbox, condstore } | Self::Examine { mailbox, condstore } => {
                w.raw(if matches!(self, Self::Select { .. }) {
                    b"SELECT "
                } else {
                    b"EXAMINE "
                });
                mailbox.encode(w);
                if *condstore {
                    w.raw(b" (CONDSTORE)");
                }
            }
            Self::Create { mailbox } => {
                w.raw(b"CREATE ");
                mailbox.encode(w);
            }
            Self::Delete { mailbox } => {
                w.raw(b"DELETE ");
                mailbox.encode(w);
            }
            Self::Subscribe { mailbox } => {
                w.raw(b"SUBSCRIBE ");
                mailbox.encode(w);
            }
            Self::Unsubscribe { mailbox } => {
                w.raw(b"UNSUBSCRIBE ");
                mailbox.encode(w);
            }
            Self::Rename { from, to } => {
                w.raw(b"RENAME ");
                from.encode(w);
                w.sp();
                to.encode(w);
            }
            Self::List { reference, pattern } | Self::Lsub { reference, pattern } => {
                w.raw(if matches!(self, Self::List { .. }) {
                    b"LIST "
                } else {
                    b"LSUB "
                });
                reference.encode(w);
                w.sp();
                pattern.encode(w);
            }
            Self::Status {
                mailbox,
                attributes,
            } => {
                w.raw(b"STATUS ");
                mailbox.encode(w);
                w.sp();
                list(w, attributes);
            }
            Self::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                w.raw(b"APPEND ");
                mailbox.encode(w);
                if !flags.is_empty() {
                    w.sp();
                    list(w, flags);
                }
                if let Some(d) = date {
                    w.sp();
                    d.encode(w);
                }
                w.sp();
                let data = message.to_bytes();
                let binary = memchr::memchr(0, &data).is_some();
                w.literal(data, binary);
            }
            Self::UidExpunge { uids } => {
                w.raw(b"UID EXPUNGE ");
                uids.encode(w);
            }
            Self::Search {
                return_options,
                charset,
                criteria,
                uid: u,
            } => {
                uid(w, *u);
                w.raw(b"SEARCH");
                if let Some(r) = return_options {
                    w.raw(b" RETURN ");
                    list(w, r);
                }
                if let Some(c) = charset {
                    w.raw(b" CHARSET ");
                    c.encode(w);
                }
                for k in criteria {
                    w.sp();
                    k.encode(w);
                }
            }
            Self::Fetch {
                sequence_set,
                items,
                changed_since,
                uid: u,
            } => {
                uid(w, *u);
                w.raw(b"FETCH ");
                sequence_set.encode(w);
                w.sp();
                items.encode(w);
                if let Some(n) = changed_since {
                    w.raw(b" (CHANGEDSINCE ");
                    w.num(*n);
                    w.byte(b')');
                }
            }
            Self::Store {
                sequence_set,
                kind,
                response,
                flags,
                unchanged_since,
                uid: u,
            } => {
                uid(w, *u);
                w.raw(b"STORE ");
                sequence_set.encode(w);
                if let Some(n) = unchanged_since {
                    w.raw(b" (UNCHANGEDSINCE ");
                    w.num(*n);
                    w.byte(b')');
                }
                w.sp();
                match kind {
                    StoreType::Add => w.byte(b'+'),
                    StoreType::Remove => w.byte(b'-'),
                    StoreType::Replace => {}
                }
                w.raw(b"FLAGS");
                if *response == StoreResponse::Silent {
                    w.raw(b".SILENT");
                }
                w.sp();
                list(w, flags);
            }
            Self::Copy {
                sequence_set,
                mailbox,
                uid: u,
            }
            | Self::Move {
                sequence_set,
                mailbox,
                uid: u,
            } => {
                uid(w, *u);
                w.raw(if matches!(self, Self::Copy { .. }) {
                    b"COPY "
                } else {
                    b"MOVE "
                });
                sequence_set.encode(w);
                w.sp();
                mailbox.encode(w);
            }
        }
    }
}

impl Command {
    /// Encodes the command (client side). `literals` is what the server advertised
    /// ([`LiteralSupport::from_capabilities`]); it decides between `{n}` (wait for `+`) and
    /// `{n+}` (send right away) for each literal.
    pub fn encode(&self, literals: LiteralSupport) -> Encoded {
        let mut w = Writer::new(Side::Client(literals));
        self.tag.encode(&mut w);
        w.sp();
        self.body.encode(&mut w);
        w.crlf();
        w.finish()
    }

    /// Encodes the command as a server would expect to read it, with every literal written
    /// as a synchronizing `{n}` and no waits marked. For tests and transcripts.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        self.encode(LiteralSupport::SyncOnly).to_vec()
    }
}

impl AuthenticateData {
    /// The line answering a SASL challenge: base64 data, or `*` to cancel.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Side::Client(LiteralSupport::SyncOnly));
        match self {
            Self::Continue(d) => base64(&mut w, d.expose()),
            Self::Cancel => w.byte(b'*'),
        }
        w.crlf();
        w.finish().to_vec()
    }
}

impl IdleDone {
    /// `DONE` CRLF.
    pub fn encode(&self) -> Vec<u8> {
        b"DONE\r\n".to_vec()
    }
}
