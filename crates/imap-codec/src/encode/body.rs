//! ENVELOPE, BODYSTRUCTURE and FETCH items.

use std::num::NonZeroU32;

use super::core::list;
use super::{Encode, Writer};
use crate::types::{
    Address, BodyExtension, BodyStructure, Disposition, Envelope, FetchAttribute, IString, Macro,
    MacroOrItems, MessageDataItem, Section, SectionText, SpecificFields,
};

impl Encode for Address {
    fn encode(&self, w: &mut Writer) {
        w.byte(b'(');
        self.name.encode(w);
        w.sp();
        self.adl.encode(w);
        w.sp();
        self.mailbox.encode(w);
        w.sp();
        self.host.encode(w);
        w.byte(b')');
    }
}

fn address_list(w: &mut Writer, l: &[Address]) {
    if l.is_empty() {
        w.raw(b"NIL");
        return;
    }
    w.byte(b'(');
    for a in l {
        a.encode(w);
    }
    w.byte(b')');
}

impl Encode for Envelope {
    fn encode(&self, w: &mut Writer) {
        w.byte(b'(');
        self.date.encode(w);
        w.sp();
        self.subject.encode(w);
        for l in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            w.sp();
            address_list(w, l);
        }
        w.sp();
        self.in_reply_to.encode(w);
        w.sp();
        self.message_id.encode(w);
        w.byte(b')');
    }
}

fn params(w: &mut Writer, p: &[(IString, IString)]) {
    if p.is_empty() {
        w.raw(b"NIL");
        return;
    }
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

fn disposition(w: &mut Writer, d: &Option<Disposition>) {
    match d {
        None => w.raw(b"NIL"),
        Some(d) => {
            w.byte(b'(');
            d.kind.encode(w);
            w.sp();
            params(w, &d.parameters);
            w.byte(b')');
        }
    }
}

fn language(w: &mut Writer, l: &[IString]) {
    match l {
        [] => w.raw(b"NIL"),
        [one] => one.encode(w),
        _ => list(w, l),
    }
}

impl Encode for BodyExtension {
    fn encode(&self, w: &mut Writer) {
        match self {
            BodyExtension::NString(s) => s.encode(w),
            BodyExtension::Number(n) => w.num(*n),
            BodyExtension::List(l) => list(w, l),
        }
    }
}

fn ext_tail(
    w: &mut Writer,
    d: &Option<Disposition>,
    lang: &[IString],
    loc: &Option<IString>,
    ext: &[BodyExtension],
) {
    w.sp();
    disposition(w, d);
    w.sp();
    language(w, lang);
    w.sp();
    loc.encode(w);
    for e in ext {
        w.sp();
        e.encode(w);
    }
}

impl Encode for BodyStructure {
    fn encode(&self, w: &mut Writer) {
        w.byte(b'(');
        match self {
            BodyStructure::Multi {
                bodies,
                subtype,
                extension,
            } => {
                for b in bodies {
                    b.encode(w);
                }
                w.sp();
                subtype.encode(w);
                if let Some(e) = extension {
                    w.sp();
                    params(w, &e.parameters);
                    ext_tail(w, &e.disposition, &e.language, &e.location, &e.extensions);
                }
            }
            BodyStructure::Single { body, extension } => {
                let s = |w: &mut Writer, v: &str| IString::from(v).encode(w);
                match &body.specific {
                    SpecificFields::Basic { r#type, subtype } => {
                        r#type.encode(w);
                        w.sp();
                        subtype.encode(w);
                    }
                    SpecificFields::Message { subtype, .. } => {
                        s(w, "MESSAGE");
                        w.sp();
                        subtype.encode(w);
                    }
                    SpecificFields::Text { subtype, .. } => {
                        s(w, "TEXT");
                        w.sp();
                        subtype.encode(w);
                    }
                }
                let b = &body.basic;
                w.sp();
                params(w, &b.parameters);
                w.sp();
                b.id.encode(w);
                w.sp();
                b.description.encode(w);
                w.sp();
                b.content_transfer_encoding.encode(w);
                w.sp();
                w.num(b.size);
                match &body.specific {
                    SpecificFields::Basic { .. } => {}
                    SpecificFields::Message {
                        envelope,
                        body_structure,
                        number_of_lines,
                        ..
                    } => {
                        w.sp();
                        envelope.encode(w);
                        w.sp();
                        body_structure.encode(w);
                        w.sp();
                        w.num(*number_of_lines);
                    }
                    SpecificFields::Text {
                        number_of_lines, ..
                    } => {
                        w.sp();
                        w.num(*number_of_lines);
                    }
                }
                if let Some(e) = extension {
                    w.sp();
                    e.md5.encode(w);
                    ext_tail(w, &e.disposition, &e.language, &e.location, &e.extensions);
                }
            }
        }
        w.byte(b')');
    }
}

fn part(w: &mut Writer, p: &[NonZeroU32]) {
    for (n, x) in p.iter().enumerate() {
        if n > 0 {
            w.byte(b'.');
        }
        w.num(x.get());
    }
}

impl Encode for SectionText {
    fn encode(&self, w: &mut Writer) {
        match self {
            SectionText::Header => w.raw(b"HEADER"),
            SectionText::Text => w.raw(b"TEXT"),
            SectionText::Mime => w.raw(b"MIME"),
            SectionText::HeaderFields(l) => {
                w.raw(b"HEADER.FIELDS ");
                list(w, l);
            }
            SectionText::HeaderFieldsNot(l) => {
                w.raw(b"HEADER.FIELDS.NOT ");
                list(w, l);
            }
        }
    }
}

fn section(w: &mut Writer, s: &Option<Section>) {
    w.byte(b'[');
    if let Some(s) = s {
        part(w, s.part());
        if let Some(t) = s.text() {
            if !s.part().is_empty() {
                w.byte(b'.');
            }
            t.encode(w);
        }
    }
    w.byte(b']');
}

fn section_binary(w: &mut Writer, p: &[NonZeroU32]) {
    w.byte(b'[');
    part(w, p);
    w.byte(b']');
}

fn partial(w: &mut Writer, p: &Option<(u32, NonZeroU32)>) {
    if let Some((a, b)) = p {
        w.byte(b'<');
        w.num(*a);
        w.byte(b'.');
        w.num(b.get());
        w.byte(b'>');
    }
}

impl Encode for FetchAttribute {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Uid => w.raw(b"UID"),
            Self::Flags => w.raw(b"FLAGS"),
            Self::InternalDate => w.raw(b"INTERNALDATE"),
            Self::Rfc822Size => w.raw(b"RFC822.SIZE"),
            Self::Envelope => w.raw(b"ENVELOPE"),
            Self::Body => w.raw(b"BODY"),
            Self::BodyStructure => w.raw(b"BODYSTRUCTURE"),
            Self::Rfc822 => w.raw(b"RFC822"),
            Self::Rfc822Header => w.raw(b"RFC822.HEADER"),
            Self::Rfc822Text => w.raw(b"RFC822.TEXT"),
            Self::ModSeq => w.raw(b"MODSEQ"),
            Self::BodyExt {
                section: s,
                partial: p,
                peek,
            } => {
                w.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
                section(w, s);
                partial(w, p);
            }
            Self::Binary {
                section: s,
                partial: p,
                peek,
            } => {
                w.raw(if *peek { b"BINARY.PEEK" } else { b"BINARY" });
                section_binary(w, s);
                partial(w, p);
            }
            Self::BinarySize { section: s } => {
                w.raw(b"BINARY.SIZE");
                section_binary(w, s);
            }
        }
    }
}

impl Encode for MacroOrItems {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Macro(Macro::All) => w.raw(b"ALL"),
            Self::Macro(Macro::Fast) => w.raw(b"FAST"),
            Self::Macro(Macro::Full) => w.raw(b"FULL"),
            Self::Items(items) if items.len() == 1 => items[0].encode(w),
            Self::Items(items) => list(w, items),
        }
    }
}

impl Encode for MessageDataItem {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Uid(n) => {
                w.raw(b"UID ");
                w.num(n.get());
            }
            Self::Flags(f) => {
                w.raw(b"FLAGS ");
                list(w, f);
            }
            Self::InternalDate(d) => {
                w.raw(b"INTERNALDATE ");
                d.encode(w);
            }
            Self::Rfc822Size(n) => {
                w.raw(b"RFC822.SIZE ");
                w.num(*n);
            }
            Self::Envelope(e) => {
                w.raw(b"ENVELOPE ");
                e.encode(w);
            }
            Self::Body(b) => {
                w.raw(b"BODY ");
                b.encode(w);
            }
            Self::BodyStructure(b) => {
                w.raw(b"BODYSTRUCTURE ");
                b.encode(w);
            }
            Self::BodyExt {
                section: s,
                origin,
                data,
            } => {
                w.raw(b"BODY");
                section(w, s);
                if let Some(o) = origin {
                    w.byte(b'<');
                    w.num(*o);
                    w.byte(b'>');
                }
                w.sp();
                // Message data always goes as a literal unless it is NIL.
                match data {
                    Some(d) => w.literal(d.to_bytes(), false),
                    None => w.raw(b"NIL"),
                }
            }
            Self::Binary {
                section: s,
                origin,
                data,
            } => {
                w.raw(b"BINARY");
                section_binary(w, s);
                if let Some(o) = origin {
                    w.byte(b'<');
                    w.num(*o);
                    w.byte(b'>');
                }
                w.sp();
                match data {
                    Some(d) => w.literal(d.clone(), memchr::memchr(0, d).is_some()),
                    None => w.raw(b"NIL"),
                }
            }
            Self::BinarySize { section: s, size } => {
                w.raw(b"BINARY.SIZE");
                section_binary(w, s);
                w.sp();
                w.num(*size);
            }
            Self::Rfc822(d) => {
                w.raw(b"RFC822 ");
                d.encode(w);
            }
            Self::Rfc822Header(d) => {
                w.raw(b"RFC822.HEADER ");
                d.encode(w);
            }
            Self::Rfc822Text(d) => {
                w.raw(b"RFC822.TEXT ");
                d.encode(w);
            }
            Self::ModSeq(n) => {
                w.raw(b"MODSEQ (");
                w.num(*n);
                w.byte(b')');
            }
        }
    }
}
