//! Commands (RFC 1939 sections 4 to 7, RFC 2449 section 5, RFC 2595 section 4, RFC 5034).

use bytes::{BufMut as _, BytesMut};

use crate::auth::{ApopDigest, Password, SaslData};
use crate::core::{Mechanism, MessageNumber, Username};

/// A POP3 command. Arguments are validated types, so encoding never produces a malformed
/// or injected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 section 7).
    User(Username),
    /// `PASS string` (RFC 1939 section 7).
    Pass(Password),
    /// `APOP name digest` (RFC 1939 section 7).
    Apop {
        /// The mailbox.
        name: Username,
        /// MD5 of the greeting timestamp and the shared secret.
        digest: ApopDigest,
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034 section 4).
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial client response (sent as `=` when present but empty).
        initial_response: Option<SaslData>,
    },
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `CAPA` (RFC 2449 section 5).
    Capa,
    /// `STAT` (RFC 1939 section 5).
    Stat,
    /// `LIST [msg]` (RFC 1939 section 5).
    List(Option<MessageNumber>),
    /// `UIDL [msg]` (RFC 1939 section 7).
    Uidl(Option<MessageNumber>),
    /// `TOP msg n` (RFC 1939 section 7).
    Top {
        /// The message.
        msg: MessageNumber,
        /// How many body lines to send after the header.
        lines: u32,
    },
    /// `RETR msg` (RFC 1939 section 5).
    Retr(MessageNumber),
    /// `DELE msg` (RFC 1939 section 5).
    Dele(MessageNumber),
    /// `RSET` (RFC 1939 section 5).
    Rset,
    /// `NOOP` (RFC 1939 section 5).
    Noop,
    /// `QUIT` (RFC 1939 sections 4 and 6).
    Quit,
}

impl Command {
    /// The command keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::User(_) => "USER",
            Self::Pass(_) => "PASS",
            Self::Apop { .. } => "APOP",
            Self::Auth { .. } => "AUTH",
            Self::Stls => "STLS",
            Self::Capa => "CAPA",
            Self::Stat => "STAT",
            Self::List(_) => "LIST",
            Self::Uidl(_) => "UIDL",
            Self::Top { .. } => "TOP",
            Self::Retr(_) => "RETR",
            Self::Dele(_) => "DELE",
            Self::Rset => "RSET",
            Self::Noop => "NOOP",
            Self::Quit => "QUIT",
        }
    }

    /// True when a `+OK` answer to this command is multi-line (LIST and UIDL without
    /// argument, CAPA, TOP, RETR).
    pub fn is_multi_line(&self) -> bool {
        matches!(
            self,
            Self::List(None) | Self::Uidl(None) | Self::Capa | Self::Top { .. } | Self::Retr(_)
        )
    }

    /// Appends the command line with its CRLF.
    ///
    /// An `AUTH` line with a long initial response can exceed the 255 octets RFC 5034
    /// allows; check [`Command::encoded_len`] and send the response after a continuation
    /// instead when it does.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(self.keyword().as_bytes());
        let arg = |out: &mut BytesMut, s: &str| {
            out.put_u8(b' ');
            out.put_slice(s.as_bytes());
        };
        match self {
            Self::User(name) => arg(out, name.as_str()),
            Self::Pass(pass) => arg(out, pass.expose()),
            Self::Apop { name, digest } => {
                arg(out, name.as_str());
                arg(out, &digest.to_string());
            }
            Self::Auth {
                mechanism,
                initial_response,
            } => {
                arg(out, mechanism.as_str());
                if let Some(ir) = initial_response {
                    if ir.is_empty() {
                        arg(out, "=");
                    } else {
                        arg(out, &ir.to_base64());
                    }
                }
            }
            Self::List(Some(msg)) | Self::Uidl(Some(msg)) | Self::Retr(msg) | Self::Dele(msg) => {
                arg(out, &msg.to_string());
            }
            Self::Top { msg, lines } => {
                arg(out, &msg.to_string());
                arg(out, &lines.to_string());
            }
            Self::Stls
            | Self::Capa
            | Self::Stat
            | Self::List(None)
            | Self::Uidl(None)
            | Self::Rset
            | Self::Noop
            | Self::Quit => {}
        }
        out.put_slice(b"\r\n");
    }

    /// The length of the encoded line, CRLF included.
    pub fn encoded_len(&self) -> usize {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.len()
    }
}

/// A line a client sends: a command, or during `AUTH` an answer to a continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// A command.
    Command(Command),
    /// A base64 line answering a server continuation (RFC 5034 section 4).
    AuthResponse(SaslData),
    /// `*`: the client cancels the authentication exchange.
    AuthCancel,
}

impl ClientLine {
    /// A short name for the kind of line: the command keyword, `AUTH-RESPONSE` or
    /// `AUTH-CANCEL`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Command(c) => c.keyword(),
            Self::AuthResponse(_) => "AUTH-RESPONSE",
            Self::AuthCancel => "AUTH-CANCEL",
        }
    }

    /// Appends the line with its CRLF.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Command(c) => c.encode(out),
            Self::AuthResponse(data) => {
                out.put_slice(data.to_base64().as_bytes());
                out.put_slice(b"\r\n");
            }
            Self::AuthCancel => out.put_slice(b"*\r\n"),
        }
    }
}

impl From<Command> for ClientLine {
    fn from(c: Command) -> Self {
        Self::Command(c)
    }
}
