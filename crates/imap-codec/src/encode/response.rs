//! Greetings and responses (server side).

use super::core::list;
use super::{Encode, Encoded, Side, Writer};
use crate::types::{
    Capability, Code, Continue, Data, ESearchItem, Greeting, GreetingKind, IString, ListItem,
    MailboxAttribute, Response, Status, StatusBody, StatusItem, StatusKind, Text,
};

impl Encode for Capability {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.name().as_bytes());
    }
}

impl Encode for Code {
    fn encode(&self, w: &mut Writer) {
        match self {
            Code::Alert => w.raw(b"ALERT"),
            Code::Parse => w.raw(b"PARSE"),
            Code::ReadOnly => w.raw(b"READ-ONLY"),
            Code::ReadWrite => w.raw(b"READ-WRITE"),
            Code::TryCreate => w.raw(b"TRYCREATE"),
            Code::NoModSeq => w.raw(b"NOMODSEQ"),
            Code::UidNotSticky => w.raw(b"UIDNOTSTICKY"),
            Code::Closed => w.raw(b"CLOSED"),
            Code::BadCharset(l) => {
                w.raw(b"BADCHARSET");
                if !l.is_empty() {
                    w.sp();
                    list(w, l);
                }
            }
            Code::Capability(c) => {
                w.raw(b"CAPABILITY");
                for c in c {
                    w.sp();
                    c.encode(w);
                }
            }
            Code::PermanentFlags(f) => {
                w.raw(b"PERMANENTFLAGS ");
                list(w, f);
            }
            Code::UidNext(n) => {
                w.raw(b"UIDNEXT ");
                w.num(*n);
            }
            Code::UidValidity(n) => {
                w.raw(b"UIDVALIDITY ");
                w.num(*n);
            }
            Code::Unseen(n) => {
                w.raw(b"UNSEEN ");
                w.num(*n);
            }
            Code::HighestModSeq(n) => {
                w.raw(b"HIGHESTMODSEQ ");
                w.num(*n);
            }
            Code::AppendUid { uid_validity, uids } => {
                w.raw(b"APPENDUID ");
                w.num(*uid_validity);
                w.sp();
                uids.encode(w);
            }
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => {
                w.raw(b"COPYUID ");
                w.num(*uid_validity);
                w.sp();
                source.encode(w);
                w.sp();
                destination.encode(w);
            }
            Code::Other { name, value } => {
                name.encode(w);
                if let Some(v) = value {
                    w.sp();
                    // Keep only bytes the grammar allows here.
                    let clean: Vec<u8> = v
                        .iter()
                        .copied()
                        .filter(|&b| b != b']' && b != b'\r' && b != b'\n' && b != 0)
                        .collect();
                    w.raw(&clean);
                }
            }
        }
    }
}

/// `resp-text = ["[" resp-text-code "]" SP] text`. An empty text after a code is left out
/// (as Gmail does); an empty text alone is written as a single space's worth of nothing.
fn resp_text(w: &mut Writer, code: &Option<Code>, text: &Text) {
    if let Some(c) = code {
        w.byte(b'[');
        c.encode(w);
        w.byte(b']');
        if text.is_empty() {
            return;
        }
        w.sp();
    }
    text.encode(w);
}

fn kind(k: StatusKind) -> &'static [u8] {
    match k {
        StatusKind::Ok => b"OK",
        StatusKind::No => b"NO",
        StatusKind::Bad => b"BAD",
    }
}

impl Encode for StatusBody {
    fn encode(&self, w: &mut Writer) {
        w.raw(kind(self.kind));
        w.sp();
        resp_text(w, &self.code, &self.text);
    }
}

impl Encode for Greeting {
    fn encode(&self, w: &mut Writer) {
        w.raw(b"* ");
        w.raw(match self.kind {
            GreetingKind::Ok => b"OK",
            GreetingKind::PreAuth => b"PREAUTH",
            GreetingKind::Bye => b"BYE",
        });
        w.sp();
        resp_text(w, &self.code, &self.text);
        w.crlf();
    }
}

impl Encode for MailboxAttribute {
    fn encode(&self, w: &mut Writer) {
        w.byte(b'\\');
        w.raw(self.name().as_bytes());
    }
}

fn list_item(w: &mut Writer, l: &ListItem) {
    list(w, &l.attributes);
    w.sp();
    match l.delimiter {
        None => w.raw(b"NIL"),
        Some(c) => {
            w.byte(b'"');
            if c == '"' || c == '\\' {
                w.byte(b'\\');
            }
            let mut buf = [0u8; 4];
            w.raw(c.encode_utf8(&mut buf).as_bytes());
            w.byte(b'"');
        }
    }
    w.sp();
    l.mailbox.encode(w);
}

impl Encode for StatusItem {
    fn encode(&self, w: &mut Writer) {
        w.raw(self.attribute().name().as_bytes());
        w.sp();
        w.num(self.value());
    }
}

pub(crate) fn id_params(w: &mut Writer, p: &Option<Vec<(IString, Option<IString>)>>) {
    match p {
        None => w.raw(b"NIL"),
        Some(p) => {
            w.byte(b'(');
            for (n, (k, v)) in p.iter().enumerate() {
                if n > 0 {
                    w.sp();
                }
                k.encode(w);
                w.sp();
                v.encode(w);
            }
            w.byte(b')');
        }
    }
}

impl Encode for Data {
    fn encode(&self, w: &mut Writer) {
        w.raw(b"* ");
        match self {
            Data::Capability(c) => {
                w.raw(b"CAPABILITY");
                for c in c {
                    w.sp();
                    c.encode(w);
                }
            }
            Data::Enabled(c) => {
                w.raw(b"ENABLED");
                for c in c {
                    w.sp();
                    c.encode(w);
                }
            }
            Data::Id(p) => {
                w.raw(b"ID ");
                id_params(w, p);
            }
            Data::List(l) => {
                w.raw(b"LIST ");
                list_item(w, l);
            }
            Data::Lsub(l) => {
                w.raw(b"LSUB ");
                list_item(w, l);
            }
            Data::Status { mailbox, items } => {
                w.raw(b"STATUS ");
                mailbox.encode(w);
                w.sp();
                list(w, items);
            }
            Data::Flags(f) => {
                w.raw(b"FLAGS ");
                list(w, f);
            }
            Data::Exists(n) => {
                w.num(*n);
                w.raw(b" EXISTS");
            }
            Data::Recent(n) => {
                w.num(*n);
                w.raw(b" RECENT");
            }
            Data::Expunge(n) => {
                w.num(n.get());
                w.raw(b" EXPUNGE");
            }
            Data::Search { ids, modseq } => {
                w.raw(b"SEARCH");
                for id in ids {
                    w.sp();
                    w.num(id.get());
                }
                if let Some(m) = modseq {
                    w.raw(b" (MODSEQ ");
                    w.num(*m);
                    w.byte(b')');
                }
            }
            Data::ESearch(e) => {
                w.raw(b"ESEARCH");
                if let Some(t) = &e.tag {
                    w.raw(b" (TAG \"");
                    t.encode(w);
                    w.raw(b"\")");
                }
                if e.uid {
                    w.raw(b" UID");
                }
                for item in &e.items {
                    w.sp();
                    match item {
                        ESearchItem::Min(n) => {
                            w.raw(b"MIN ");
                            w.num(*n);
                        }
                        ESearchItem::Max(n) => {
                            w.raw(b"MAX ");
                            w.num(*n);
                        }
                        ESearchItem::Count(n) => {
                            w.raw(b"COUNT ");
                            w.num(*n);
                        }
                        ESearchItem::All(s) => {
                            w.raw(b"ALL ");
                            s.encode(w);
                        }
                        ESearchItem::ModSeq(n) => {
                            w.raw(b"MODSEQ ");
                            w.num(*n);
                        }
                    }
                }
            }
            Data::Vanished { earlier, uids } => {
                w.raw(if *earlier {
                    b"VANISHED (EARLIER) "
                } else {
                    b"VANISHED "
                });
                uids.encode(w);
            }
            Data::Fetch { seq, items } => {
                w.num(seq.get());
                w.raw(b" FETCH ");
                list(w, items);
            }
        }
        w.crlf();
    }
}

impl Encode for Continue {
    fn encode(&self, w: &mut Writer) {
        w.raw(b"+ ");
        resp_text(w, &self.code, &self.text);
        w.crlf();
    }
}

impl Encode for Response {
    fn encode(&self, w: &mut Writer) {
        match self {
            Response::Data(d) => d.encode(w),
            Response::Continue(c) => c.encode(w),
            Response::Status(Status::Tagged { tag, body }) => {
                tag.encode(w);
                w.sp();
                body.encode(w);
                w.crlf();
            }
            Response::Status(Status::Untagged(body)) => {
                w.raw(b"* ");
                body.encode(w);
                w.crlf();
            }
            Response::Status(Status::Bye { code, text }) => {
                w.raw(b"* BYE ");
                resp_text(w, code, text);
                w.crlf();
            }
        }
    }
}

impl Response {
    /// Encodes the response (server side). Literals never wait: send
    /// [`Encoded::to_vec`], or the fragments in order (e.g. with vectored writes).
    pub fn encode(&self) -> Encoded {
        let mut w = Writer::new(Side::Server);
        Encode::encode(self, &mut w);
        w.finish()
    }
}

impl Greeting {
    /// Encodes the greeting.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Side::Server);
        Encode::encode(self, &mut w);
        w.finish().to_vec()
    }
}
