//! Encoding: every type to its wire form.
//!
//! A command is encoded to [`Encoded`], a list of [`Fragment`]s: line pieces and literal
//! data. Each literal's header (`{n}` or `{n+}`) ends the line piece before it; a
//! [`LiteralMode::Sync`] literal means the client must send the line, wait for the server's
//! `+` continuation request, and only then send the data. The encoder picks the literal
//! form from [`LiteralSupport`], i.e. from what the server advertised (RFC 7888).
//!
//! Responses never wait (servers do not use synchronizing literals), so
//! [`Encoded::to_vec`] gives the bytes to send.

mod body;
mod command;
mod core;
mod response;

use bytes::Bytes;

use crate::types::{Capability, LiteralMode};

/// Which literals the peer accepts without a `+` continuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LiteralSupport {
    /// Only synchronizing literals `{n}` (plain IMAP4rev1).
    #[default]
    SyncOnly,
    /// `LITERAL-` (RFC 7888, and IMAP4rev2): `{n+}` up to 4096 bytes.
    LiteralMinus,
    /// `LITERAL+` (RFC 7888): `{n+}` of any size.
    LiteralPlus,
}

impl LiteralSupport {
    /// The largest literal `LITERAL-` allows without synchronizing.
    pub const LITERAL_MINUS_MAX: usize = 4096;

    /// What a server's capability list allows (`IMAP4rev2` implies `LITERAL-`).
    pub fn from_capabilities<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> Self {
        let mut best = Self::SyncOnly;
        for c in caps {
            match c {
                Capability::LiteralPlus => return Self::LiteralPlus,
                Capability::LiteralMinus | Capability::Imap4Rev2 => best = Self::LiteralMinus,
                _ => {}
            }
        }
        best
    }

    fn mode_for(self, len: usize) -> LiteralMode {
        match self {
            Self::LiteralPlus => LiteralMode::NonSync,
            Self::LiteralMinus if len <= Self::LITERAL_MINUS_MAX => LiteralMode::NonSync,
            _ => LiteralMode::Sync,
        }
    }
}

/// A piece of an encoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// Protocol text; when a literal follows, this ends with its `{n}` header and CRLF.
    Line(Vec<u8>),
    /// Literal data.
    Literal {
        /// The data (a handle on the caller's buffer, not a copy).
        data: Bytes,
        /// [`LiteralMode::Sync`]: wait for the server's `+` before sending `data`.
        mode: LiteralMode,
    },
}

/// An encoded message: fragments to send in order.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoded {
    fragments: Vec<Fragment>,
}

impl Encoded {
    /// The fragments, in order.
    pub fn fragments(&self) -> &[Fragment] {
        &self.fragments
    }

    /// The fragments, owned.
    pub fn into_fragments(self) -> Vec<Fragment> {
        self.fragments
    }

    /// Whether some literal needs a `+` continuation before it is sent.
    pub fn needs_continuation(&self) -> bool {
        self.fragments.iter().any(|f| {
            matches!(
                f,
                Fragment::Literal {
                    mode: LiteralMode::Sync,
                    ..
                }
            )
        })
    }

    /// All bytes concatenated: what goes on the wire (ignoring the waits).
    pub fn to_vec(&self) -> Vec<u8> {
        let len = self
            .fragments
            .iter()
            .map(|f| match f {
                Fragment::Line(l) => l.len(),
                Fragment::Literal { data, .. } => data.len(),
            })
            .sum();
        let mut out = Vec::with_capacity(len);
        for f in &self.fragments {
            match f {
                Fragment::Line(l) => out.extend_from_slice(l),
                Fragment::Literal { data, .. } => out.extend_from_slice(data),
            }
        }
        out
    }
}

/// Who writes: clients may use non-synchronizing literals, servers only plain `{n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client(LiteralSupport),
    Server,
}

/// The output being built.
pub(crate) struct Writer {
    fragments: Vec<Fragment>,
    cur: Vec<u8>,
    side: Side,
}

impl Writer {
    pub(crate) fn new(side: Side) -> Self {
        Self {
            fragments: Vec::new(),
            cur: Vec::with_capacity(64),
            side,
        }
    }

    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
    }

    pub(crate) fn sp(&mut self) {
        self.cur.push(b' ');
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.cur.push(b);
    }

    pub(crate) fn num(&mut self, n: impl Into<u64>) {
        let mut buf = [0u8; 20];
        let mut n: u64 = n.into();
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.cur.extend_from_slice(&buf[i..]);
    }

    pub(crate) fn crlf(&mut self) {
        self.cur.extend_from_slice(b"\r\n");
    }

    /// A literal: `{n}` / `{n+}` / `~{n}` header, CRLF, then the data as its own fragment.
    pub(crate) fn literal(&mut self, data: Bytes, binary: bool) {
        let mode = match self.side {
            Side::Client(s) => s.mode_for(data.len()),
            Side::Server => LiteralMode::NonSync,
        };
        if binary {
            self.byte(b'~');
        }
        self.byte(b'{');
        self.num(data.len() as u64);
        if matches!(self.side, Side::Client(_)) && mode == LiteralMode::NonSync {
            self.byte(b'+');
        }
        self.raw(b"}\r\n");
        self.fragments
            .push(Fragment::Line(std::mem::take(&mut self.cur)));
        self.fragments.push(Fragment::Literal { data, mode });
    }

    pub(crate) fn finish(mut self) -> Encoded {
        if !self.cur.is_empty() {
            self.fragments.push(Fragment::Line(self.cur));
        }
        Encoded {
            fragments: self.fragments,
        }
    }
}

/// A type with a wire form.
pub(crate) trait Encode {
    fn encode(&self, w: &mut Writer);
}
