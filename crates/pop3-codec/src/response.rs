//! Responses (RFC 1939 section 3, RFC 2449 section 3 and 8, RFC 5034 section 4).

use std::fmt;

use bytes::{BufMut as _, Bytes, BytesMut};

use crate::auth::Continuation;
use crate::capability::Capability;
use crate::core::{MessageNumber, Text, Timestamp, UniqueId, check};
use crate::error::ValidationError;
use crate::stuffing::encode_body;

/// The status indicator of a response line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`: the command succeeded.
    Ok,
    /// `-ERR`: the command failed.
    Err,
}

impl Status {
    /// The indicator as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "+OK",
            Self::Err => "-ERR",
        }
    }
}

/// An extended response code (RFC 2449 section 8, RFC 3206, RFC 6856): the bracketed part
/// that servers announcing `RESP-CODES` put at the start of the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session (RFC 2449 section 8.1.1).
    InUse,
    /// `[LOGIN-DELAY]`: logging in again too soon (RFC 2449 section 8.1.2).
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem; retry later (RFC 3206 section 4).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem (RFC 3206 section 4).
    SysPerm,
    /// `[AUTH]`: the credentials were rejected (RFC 3206 section 5).
    Auth,
    /// `[UTF8]`: UTF-8 mode related (RFC 6856).
    Utf8,
    /// Any other code, kept verbatim without the brackets (e.g. `X-FOO/BAR`).
    Other(String),
}

impl ResponseCode {
    /// Parses the text between the brackets: `resp-level *("/" resp-level)` with
    /// `rchar = %x21-2E / %x30-5C / %x5E-7F` (RFC 2449 section 3). Known codes are matched
    /// case-insensitively.
    pub fn new(code: &str) -> Result<Self, ValidationError> {
        let what = "response code";
        check(what, code.as_bytes(), 255, |b| {
            !(0x21..=0x7e).contains(&b) || b == b']'
        })?;
        if code.split('/').any(str::is_empty) {
            return Err(ValidationError::Invalid {
                what,
                reason: "empty level",
            });
        }
        let known = [
            ("IN-USE", Self::InUse),
            ("LOGIN-DELAY", Self::LoginDelay),
            ("SYS/TEMP", Self::SysTemp),
            ("SYS/PERM", Self::SysPerm),
            ("AUTH", Self::Auth),
            ("UTF8", Self::Utf8),
        ];
        Ok(known
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(code))
            .map_or_else(|| Self::Other(code.to_owned()), |(_, c)| c))
    }

    /// The code as sent between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InUse => "IN-USE",
            Self::LoginDelay => "LOGIN-DELAY",
            Self::SysTemp => "SYS/TEMP",
            Self::SysPerm => "SYS/PERM",
            Self::Auth => "AUTH",
            Self::Utf8 => "UTF8",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.as_str())
    }
}

/// What follows the status indicator: an optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseText {
    /// The extended response code, if the text started with one.
    pub code: Option<ResponseCode>,
    /// The human-readable text (possibly empty).
    pub text: Text,
}

impl ResponseText {
    /// Text without a response code.
    pub fn new(text: Text) -> Self {
        Self { code: None, text }
    }

    /// Text with a response code.
    pub fn with_code(code: ResponseCode, text: Text) -> Self {
        Self {
            code: Some(code),
            text,
        }
    }

    /// True when there is neither code nor text.
    pub fn is_empty(&self) -> bool {
        self.code.is_none() && self.text.is_empty()
    }

    /// Appends `[CODE] text` (or the parts present) without a leading space.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        if let Some(code) = &self.code {
            out.put_u8(b'[');
            out.put_slice(code.as_str().as_bytes());
            out.put_u8(b']');
            if !self.text.is_empty() {
                out.put_u8(b' ');
            }
        }
        out.put_slice(self.text.as_str().as_bytes());
    }
}

/// A single status line: `+OK`/`-ERR`, optional code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// Code and text.
    pub text: ResponseText,
}

impl StatusLine {
    /// `+OK text`.
    pub fn ok(text: ResponseText) -> Self {
        Self {
            status: Status::Ok,
            text,
        }
    }

    /// `-ERR text`.
    pub fn err(text: ResponseText) -> Self {
        Self {
            status: Status::Err,
            text,
        }
    }

    /// True for `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        encode_ok_line(self.status, &self.text, out);
    }
}

fn encode_ok_line(status: Status, text: &ResponseText, out: &mut BytesMut) {
    out.put_slice(status.as_str().as_bytes());
    if !text.is_empty() {
        out.put_u8(b' ');
        text.encode(out);
    }
    out.put_slice(b"\r\n");
}

/// The server greeting (RFC 1939 section 4), with the APOP timestamp if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    line: StatusLine,
    timestamp: Option<Timestamp>,
}

impl Greeting {
    /// A greeting from its status line; the APOP timestamp is found in the text.
    pub fn new(line: StatusLine) -> Self {
        let timestamp = Timestamp::find_in(line.text.text.as_str());
        Self { line, timestamp }
    }

    /// The status line (`-ERR` means the server refuses the session).
    pub fn line(&self) -> &StatusLine {
        &self.line
    }

    /// The APOP timestamp (`<...>`), if the greeting has one.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref()
    }
}

/// The `+OK nn mm` answer to `STAT` (RFC 1939 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Number of messages in the maildrop.
    pub count: u32,
    /// Size of the maildrop in octets.
    pub size: u64,
}

/// A scan listing `msg size` (RFC 1939 section 5, `LIST`). Extra information after the size,
/// which RFC 1939 discourages, is ignored when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    /// The message number.
    pub msg: MessageNumber,
    /// The message size in octets.
    pub size: u64,
}

/// A unique-id listing `msg unique-id` (RFC 1939 section 7, `UIDL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidListing {
    /// The message number.
    pub msg: MessageNumber,
    /// The unique-id.
    pub uid: UniqueId,
}

/// A complete server response, typed by what the command asked for.
///
/// A `-ERR` answer to any command is [`Response::Status`]; success answers to commands with
/// a typed result have their own variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The greeting sent when the connection opens.
    Greeting(Greeting),
    /// A plain status line: every `-ERR`, and `+OK` to commands without a typed result
    /// (USER, PASS, APOP, AUTH, STLS, DELE, RSET, NOOP, QUIT).
    Status(StatusLine),
    /// `+OK nn mm` to `STAT`.
    Stat(Stat),
    /// `+OK msg size` to `LIST msg`.
    Scan(ScanListing),
    /// `+OK msg unique-id` to `UIDL msg`.
    Uid(UidListing),
    /// The multi-line answer to `LIST`.
    ScanList {
        /// Text of the `+OK` line.
        text: ResponseText,
        /// The listings in the order sent.
        entries: Vec<ScanListing>,
    },
    /// The multi-line answer to `UIDL`.
    UidList {
        /// Text of the `+OK` line.
        text: ResponseText,
        /// The listings in the order sent.
        entries: Vec<UidListing>,
    },
    /// The multi-line answer to `CAPA` (RFC 2449 section 5).
    Capabilities {
        /// Text of the `+OK` line.
        text: ResponseText,
        /// The capabilities in the order sent.
        capabilities: Vec<Capability>,
    },
    /// The multi-line answer to `RETR` or `TOP`, collected whole, dot-stuffing removed.
    Message {
        /// Text of the `+OK` line.
        text: ResponseText,
        /// The message octets, each line ending in CRLF.
        body: Bytes,
    },
    /// A SASL continuation `+ text` during `AUTH` (RFC 5034 section 4).
    Continuation(Continuation),
}

impl Response {
    /// A short name for the kind of response (`greeting`, `ok`, `err`, `stat`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Greeting(_) => "greeting",
            Self::Status(line) if line.is_ok() => "ok",
            Self::Status(_) => "err",
            Self::Stat(_) => "stat",
            Self::Scan(_) => "scan",
            Self::Uid(_) => "uid",
            Self::ScanList { .. } => "scan-list",
            Self::UidList { .. } => "uid-list",
            Self::Capabilities { .. } => "capabilities",
            Self::Message { .. } => "message",
            Self::Continuation(_) => "continuation",
        }
    }

    /// Appends the wire form to `out`; multi-line bodies are dot-stuffed and terminated.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Greeting(g) => g.line.encode(out),
            Self::Status(line) => line.encode(out),
            Self::Stat(stat) => {
                out.put_slice(format!("+OK {} {}\r\n", stat.count, stat.size).as_bytes());
            }
            Self::Scan(scan) => {
                out.put_slice(format!("+OK {} {}\r\n", scan.msg, scan.size).as_bytes());
            }
            Self::Uid(uid) => {
                out.put_slice(format!("+OK {} {}\r\n", uid.msg, uid.uid).as_bytes());
            }
            Self::ScanList { text, entries } => {
                encode_ok_line(Status::Ok, text, out);
                for e in entries {
                    out.put_slice(format!("{} {}\r\n", e.msg, e.size).as_bytes());
                }
                out.put_slice(b".\r\n");
            }
            Self::UidList { text, entries } => {
                encode_ok_line(Status::Ok, text, out);
                for e in entries {
                    out.put_slice(format!("{} {}\r\n", e.msg, e.uid).as_bytes());
                }
                out.put_slice(b".\r\n");
            }
            Self::Capabilities { text, capabilities } => {
                encode_ok_line(Status::Ok, text, out);
                for c in capabilities {
                    c.encode(out);
                }
                out.put_slice(b".\r\n");
            }
            Self::Message { text, body } => {
                encode_ok_line(Status::Ok, text, out);
                encode_body(body, out);
            }
            Self::Continuation(c) => {
                out.put_slice(b"+ ");
                out.put_slice(c.as_str().as_bytes());
                out.put_slice(b"\r\n");
            }
        }
    }

    /// The wire form as a fresh buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out
    }
}

/// Appends the `+OK` line that starts a streamed multi-line body (see
/// [`BodyEncoder`](crate::BodyEncoder) for the body itself).
pub fn encode_body_start(text: &ResponseText, out: &mut BytesMut) {
    encode_ok_line(Status::Ok, text, out);
}
