//! The POP3 state machine (RFC 1939 section 3): AUTHORIZATION, TRANSACTION, UPDATE. It
//! takes decoded client lines and queues encoded answers; the async shell in the parent
//! module moves bytes and carries out the [`Action`]s that need the connection.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inbound_pop3_codec::{
    ApopDigest, Capability, ClientLine, Command, CommandConfig, CommandDecoder, Continuation,
    DecodeError, DecodeErrorKind, Greeting, Mechanism as CodecMechanism, MessageNumber, Password,
    Response, ResponseCode, ResponseText, SaslData, ScanListing, Stat, StatusLine, Text, Timestamp,
    UidListing, UniqueId, Username,
};

use crate::faults::{DropPoint, Faults, MessageFaultKind, ThrottleAnswer};
use crate::mailstore::{Maildrop, StoreError};
use crate::oauth::TokenError;
use crate::sasl::{self, BEARER_ERROR_JSON, Mechanism};
use crate::session::Shared;
use crate::transcript::Transcript;

/// After this many bad command lines in a row the session is closed.
const MAX_BAD_COMMANDS: u32 = 20;

/// The text of every failed login (RFC 3206 `[AUTH]`).
const AUTH_FAILED: &str = "Authentication failed";

/// What the shell must do after a line was handled (the answers are queued already).
#[derive(Debug)]
pub(super) enum Action {
    /// Read the next line.
    Continue,
    /// Send the queued answers, then stream this multi-line body (dot-stuffed, with its
    /// terminator) and go on.
    Body(Bytes),
    /// Send the queued answers (the STLS `+OK`), then run the TLS handshake.
    StartTls,
    /// Send the queued answers, then close the connection.
    Close,
    /// Close the connection at once, sending nothing more (a fault).
    Drop,
}

/// Where a SASL exchange stands while the client owes an answer to a continuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaslStep {
    /// The client's (first) response for this mechanism.
    Response(Mechanism),
    /// The client acknowledges a bearer error (empty line or `^A`); it gets `-ERR` next.
    ErrorAck,
}

enum State {
    Authorization { user: Option<String> },
    Transaction { user: String, maildrop: Maildrop },
}

/// One POP3 session's protocol state.
pub(super) struct Pop3State {
    shared: Arc<Shared>,
    pub(super) faults: Faults,
    pub(super) transcript: Transcript,
    pub(super) decoder: CommandDecoder,
    /// Encoded answers not yet written.
    pub(super) out: BytesMut,
    timestamp: Timestamp,
    tls: bool,
    state: State,
    sasl: Option<SaslStep>,
    bad_commands: u32,
}

fn text(s: impl Into<String>) -> Text {
    Text::new(s).unwrap_or_default()
}

fn number(n: usize) -> Option<MessageNumber> {
    MessageNumber::new(u32::try_from(n).ok()?).ok()
}

impl Pop3State {
    pub(super) fn new(
        shared: Arc<Shared>,
        faults: Faults,
        transcript: Transcript,
        timestamp: Timestamp,
        tls: bool,
    ) -> Self {
        let decoder = Self::make_decoder(&faults);
        Self {
            shared,
            faults,
            transcript,
            decoder,
            out: BytesMut::new(),
            timestamp,
            tls,
            state: State::Authorization { user: None },
            sasl: None,
            bad_commands: 0,
        }
    }

    fn make_decoder(faults: &Faults) -> CommandDecoder {
        let mut settings = CommandConfig::default();
        if let Some(limit) = faults.max_command_len {
            settings.max_line_len = limit.max(3);
        }
        CommandDecoder::new(settings)
    }

    /// What the server's sessions share.
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The longest line the decoder accepts (AUTH lines included).
    pub(super) fn line_limit() -> usize {
        let settings = CommandConfig::default();
        settings.max_line_len.max(settings.max_auth_line_len)
    }

    /// Queues the greeting with the APOP timestamp.
    pub(super) fn greet(&mut self) {
        let line = format!("POP3 server ready {}", self.timestamp);
        let greeting = Greeting::new(StatusLine::ok(ResponseText::new(text(line))));
        self.queue(&Response::Greeting(greeting));
    }

    /// TLS is on now (after STLS): back to a fresh AUTHORIZATION state and decoder.
    pub(super) fn tls_started(&mut self) {
        self.tls = true;
        self.state = State::Authorization { user: None };
        self.sasl = None;
        self.decoder = Self::make_decoder(&self.faults);
    }

    /// Queues an encoded response and logs its lines.
    pub(super) fn queue(&mut self, response: &Response) {
        let start = self.out.len();
        response.encode(&mut self.out);
        for line in self.out[start..].split_inclusive(|&b| b == b'\n') {
            self.transcript.server(line);
        }
    }

    fn status(&mut self, ok: bool, code: Option<ResponseCode>, message: impl Into<String>) {
        let text = ResponseText {
            code,
            text: text(message),
        };
        let line = if ok {
            StatusLine::ok(text)
        } else {
            StatusLine::err(text)
        };
        self.queue(&Response::Status(line));
    }

    fn ok(&mut self, message: impl Into<String>) -> Action {
        self.status(true, None, message);
        Action::Continue
    }

    fn err(&mut self, message: impl Into<String>) -> Action {
        self.status(false, None, message);
        Action::Continue
    }

    fn err_code(&mut self, code: ResponseCode, message: impl Into<String>) -> Action {
        self.status(false, Some(code), message);
        Action::Continue
    }

    fn auth_failed(&mut self) -> Action {
        self.err_code(ResponseCode::Auth, AUTH_FAILED)
    }

    fn login_allowed(&self) -> bool {
        self.tls || !self.shared.login_disabled_before_tls
    }

    /// Handles one decoded line.
    pub(super) fn handle(&mut self, line: ClientLine) -> Action {
        self.bad_commands = 0;
        match line {
            ClientLine::Command(command) => self.command(command),
            ClientLine::AuthResponse(data) => self.sasl_response(&data),
            ClientLine::AuthCancel => {
                self.sasl = None;
                self.err("Authentication cancelled")
            }
        }
    }

    /// Answers a line the decoder rejected.
    pub(super) fn decode_error(&mut self, error: &DecodeError) -> Action {
        if self.sasl.take().is_some() {
            return self.err_code(ResponseCode::Auth, "Invalid base64 in SASL response");
        }
        self.bad_commands += 1;
        let message = match error.kind() {
            DecodeErrorKind::LineTooLong { .. } => "Line too long",
            DecodeErrorKind::UnknownCommand => "Unknown command",
            DecodeErrorKind::BadArgument(_) => "Invalid arguments",
            DecodeErrorKind::NulOctet => "NUL octet in command",
            _ => "Syntax error",
        };
        if self.bad_commands >= MAX_BAD_COMMANDS {
            self.err("Too many invalid commands, closing");
            return Action::Close;
        }
        self.err(message)
    }

    fn command(&mut self, command: Command) -> Action {
        if let Some((_, message)) = self.faults.take_command_fault(command.keyword()) {
            return self.err(message.unwrap_or_else(|| "Command refused (injected fault)".into()));
        }
        if matches!(
            command,
            Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. }
        ) && matches!(self.state, State::Authorization { .. })
        {
            if let Some(answer) = self.faults.login_throttle {
                return self.throttle_login(answer);
            }
        }
        match command {
            Command::Capa => self.capa(),
            Command::Quit => self.quit(),
            Command::Noop => self.ok(""),
            Command::Stls => self.stls(),
            Command::User(name) => self.user(&name),
            Command::Pass(password) => self.pass(&password),
            Command::Apop { name, digest } => self.apop(&name, &digest),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response.as_ref()),
            Command::Stat
            | Command::List(_)
            | Command::Uidl(_)
            | Command::Top { .. }
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Rset => self.transaction(&command),
        }
    }

    /// Answers a login with a server's throttling answer (a fault); closes the connection
    /// after Gmail's.
    fn throttle_login(&mut self, answer: ThrottleAnswer) -> Action {
        tracing::debug!(target: "inbound_test_server::pop3", ?answer, "fault: login throttled");
        let msg = answer.text();
        match answer {
            ThrottleAnswer::GmailBye => {
                self.err_code(ResponseCode::SysTemp, msg);
                Action::Close
            }
            ThrottleAnswer::InUse => self.err_code(ResponseCode::InUse, msg),
            ThrottleAnswer::GmailNo
            | ThrottleAnswer::M365Backoff { .. }
            | ThrottleAnswer::M365NotConnected => self.err(msg),
        }
    }

    /// Whether the SASL `mechanism` is hidden: its IMAP capability name (`AUTH=XOAUTH2`) is
    /// among the server's hidden capabilities, so it is neither in `CAPA`'s `SASL` line nor
    /// accepted by `AUTH`.
    fn mechanism_hidden(&self, mechanism: Mechanism) -> bool {
        self.shared
            .hidden_capabilities
            .contains(&format!("AUTH={}", mechanism.name()))
    }

    fn capa(&mut self) -> Action {
        let mut capabilities = vec![Capability::Top, Capability::Uidl];
        let login = self.login_allowed();
        let authorization = matches!(self.state, State::Authorization { .. });
        if login {
            capabilities.push(Capability::User);
        }
        capabilities.extend([Capability::RespCodes, Capability::Pipelining]);
        if !self.tls && authorization {
            capabilities.push(Capability::Stls);
        }
        if login {
            let mechanisms = Mechanism::ALL
                .iter()
                .filter(|m| !self.mechanism_hidden(**m))
                .filter_map(|m| CodecMechanism::new(m.name()).ok())
                .collect();
            capabilities.push(Capability::Sasl(mechanisms));
        }
        capabilities.extend([
            Capability::AuthRespCode,
            Capability::Implementation(text("inbound-test-server")),
        ]);
        self.queue(&Response::Capabilities {
            text: ResponseText::new(text("Capability list follows")),
            capabilities,
        });
        Action::Continue
    }

    fn quit(&mut self) -> Action {
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        let State::Transaction { user, maildrop } = state else {
            self.ok("Logging out");
            return Action::Close;
        };
        // The UPDATE state.
        match maildrop.commit() {
            Ok(deleted) => {
                tracing::debug!(target: "inbound_test_server::pop3", user, deleted, "maildrop updated");
                if self.faults.drop_at == Some(DropPoint::BeforeMoveOrExpungeOk) {
                    return Action::Drop;
                }
                self.ok(format!("Logging out, {deleted} messages deleted"));
            }
            Err(e) => {
                tracing::warn!(target: "inbound_test_server::pop3", user, error = %e, "update failed");
                self.err_code(
                    ResponseCode::SysTemp,
                    "Some deleted messages were not removed",
                );
            }
        }
        Action::Close
    }

    fn stls(&mut self) -> Action {
        if self.tls {
            return self.err("TLS is already on");
        }
        if !matches!(self.state, State::Authorization { .. }) {
            return self.err("STLS is only allowed before login");
        }
        self.ok("Begin TLS negotiation");
        Action::StartTls
    }

    /// The shared check of USER, PASS, APOP and AUTH: in AUTHORIZATION and allowed here.
    fn login_refusal(&mut self) -> Option<Action> {
        if !matches!(self.state, State::Authorization { .. }) {
            return Some(self.err("Already logged in"));
        }
        if !self.login_allowed() {
            return Some(self.err_code(
                ResponseCode::Auth,
                "Plaintext authentication disallowed on non-secure connections",
            ));
        }
        None
    }

    fn user(&mut self, name: &Username) -> Action {
        if let Some(refused) = self.login_refusal() {
            return refused;
        }
        self.state = State::Authorization {
            user: Some(name.as_str().to_owned()),
        };
        self.ok("Send your password")
    }

    fn pass(&mut self, password: &Password) -> Action {
        if let Some(refused) = self.login_refusal() {
            return refused;
        }
        let State::Authorization { user } = &mut self.state else {
            return self.err("Already logged in");
        };
        let Some(user) = user.take() else {
            return self.err("No user name given (send USER first)");
        };
        if self.shared.store.check_password(&user, password.expose()) {
            self.login(user)
        } else {
            self.auth_failed()
        }
    }

    fn apop(&mut self, name: &Username, digest: &ApopDigest) -> Action {
        if let Some(refused) = self.login_refusal() {
            return refused;
        }
        let user = name.as_str();
        let valid = self
            .shared
            .store
            .password(user)
            .is_some_and(|secret| digest.verify(&self.timestamp, secret.as_bytes()));
        if valid {
            self.login(user.to_owned())
        } else {
            self.auth_failed()
        }
    }

    fn auth(&mut self, mechanism: &CodecMechanism, initial: Option<&SaslData>) -> Action {
        if let Some(refused) = self.login_refusal() {
            return refused;
        }
        let Some(mechanism) =
            Mechanism::find(mechanism.as_str()).filter(|m| !self.mechanism_hidden(*m))
        else {
            return self.err("Unsupported SASL mechanism");
        };
        match initial {
            Some(data) => self.sasl_step(mechanism, data.expose()),
            None => {
                self.continuation(Continuation::default(), SaslStep::Response(mechanism));
                Action::Continue
            }
        }
    }

    fn continuation(&mut self, continuation: Continuation, next: SaslStep) {
        self.queue(&Response::Continuation(continuation));
        self.sasl = Some(next);
        self.decoder.expect_auth_response();
    }

    fn sasl_response(&mut self, data: &SaslData) -> Action {
        match self.sasl.take() {
            Some(SaslStep::Response(mechanism)) => self.sasl_step(mechanism, data.expose()),
            Some(SaslStep::ErrorAck) => self.auth_failed(),
            None => self.err("No authentication in progress"),
        }
    }

    fn sasl_step(&mut self, mechanism: Mechanism, data: &[u8]) -> Action {
        let bearer = match mechanism {
            Mechanism::Plain => {
                return match sasl::check_plain(&self.shared.store, data) {
                    Some(user) => self.login(user),
                    None => self.auth_failed(),
                };
            }
            Mechanism::XOAuth2 => sasl::parse_xoauth2(data),
            Mechanism::OAuthBearer => sasl::parse_oauthbearer(data),
        };
        let Some(credentials) = bearer else {
            return self.auth_failed();
        };
        match credentials.check(&self.shared.registry) {
            Ok(user) => self.login(user),
            Err(TokenError::Expired | TokenError::Unknown) => {
                let challenge = Continuation::from_challenge(BEARER_ERROR_JSON.as_bytes());
                self.continuation(challenge, SaslStep::ErrorAck);
                Action::Continue
            }
            Err(e @ TokenError::NotAuthorized { .. }) => {
                tracing::debug!(target: "inbound_test_server::pop3", error = %e, "token refused");
                self.auth_failed()
            }
        }
    }

    /// Credentials are good: take the maildrop and enter TRANSACTION.
    fn login(&mut self, user: String) -> Action {
        match self.shared.store.lock_maildrop(&user) {
            Ok(maildrop) => {
                let (count, size) = maildrop.stat();
                self.state = State::Transaction { user, maildrop };
                self.ok(format!("Logged in, {count} messages ({size} octets)"))
            }
            Err(StoreError::MaildropInUse(_)) => {
                self.state = State::Authorization { user: None };
                self.err_code(
                    ResponseCode::InUse,
                    "Unable to lock maildrop: in use by another session",
                )
            }
            Err(_) => {
                self.state = State::Authorization { user: None };
                self.auth_failed()
            }
        }
    }

    fn transaction(&mut self, command: &Command) -> Action {
        let State::Transaction { maildrop, .. } = &mut self.state else {
            return self.err("Not logged in");
        };
        let index = |msg: MessageNumber| msg.get() as usize;
        // Message faults, by message number (the fault names the INBOX UID).
        let fault = |maildrop: &Maildrop, n: usize| {
            maildrop
                .uid(n)
                .ok()
                .and_then(|uid| self.faults.message_fault(uid))
        };
        let listed_size = self.faults.pop3_listed_size;
        let claimed = |maildrop: &Maildrop, n: usize, size: usize| match fault(maildrop, n) {
            Some(MessageFaultKind::ClaimedSize(claimed)) => claimed,
            _ => listed_size.unwrap_or(size as u64),
        };
        let by_number = self.faults.pop3_uidl_by_number;
        let response = match command {
            Command::Stat => {
                let (count, size) = maildrop.stat();
                Response::Stat(Stat {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    size: self.faults.pop3_listed_size.unwrap_or(size),
                })
            }
            Command::List(None) => Response::ScanList {
                text: ResponseText::new(text(format!("{} messages", maildrop.stat().0))),
                entries: maildrop
                    .list()
                    .into_iter()
                    .filter_map(|(n, size)| {
                        Some(ScanListing {
                            msg: number(n)?,
                            size: claimed(maildrop, n, size),
                        })
                    })
                    .collect(),
            },
            &Command::List(Some(msg)) => match maildrop.size(index(msg)) {
                Ok(size) => Response::Scan(ScanListing {
                    msg,
                    size: claimed(maildrop, index(msg), size),
                }),
                Err(_) => return self.no_such_message(msg),
            },
            Command::Uidl(None) => Response::UidList {
                text: ResponseText::default(),
                entries: maildrop
                    .uidls()
                    .into_iter()
                    .filter_map(|(n, uid)| {
                        let uid = if by_number { n.to_string() } else { uid };
                        Some(UidListing {
                            msg: number(n)?,
                            uid: UniqueId::new(uid).ok()?,
                        })
                    })
                    .collect(),
            },
            &Command::Uidl(Some(msg)) => match maildrop
                .uidl(index(msg))
                .map(|uid| if by_number { msg.to_string() } else { uid })
                .map(UniqueId::new)
            {
                Ok(Ok(uid)) => Response::Uid(UidListing { msg, uid }),
                _ => return self.no_such_message(msg),
            },
            &Command::Retr(msg) => {
                let Ok(mut raw) = maildrop.retrieve(index(msg)) else {
                    return self.no_such_message(msg);
                };
                match fault(maildrop, index(msg)) {
                    Some(MessageFaultKind::Refused) => {
                        return self.err(format!("Message {msg} could not be read"));
                    }
                    Some(MessageFaultKind::NilBody) => raw = Bytes::new(),
                    _ => {}
                }
                self.status(true, None, format!("{} octets", raw.len()));
                self.transcript.server_literal(raw.len());
                return Action::Body(raw);
            }
            &Command::Top { msg, lines } => {
                let Ok(raw) = maildrop.retrieve(index(msg)) else {
                    return self.no_such_message(msg);
                };
                let top = raw.slice(..top_len(&raw, lines));
                self.status(true, None, "Top of message follows");
                self.transcript.server_literal(top.len());
                return Action::Body(top);
            }
            &Command::Dele(msg) => {
                let n = index(msg);
                return if maildrop.delete(n).is_ok() {
                    self.ok(format!("Message {msg} deleted"))
                } else if n <= maildrop.len() {
                    self.err(format!("Message {msg} already deleted"))
                } else {
                    self.no_such_message(msg)
                };
            }
            Command::Rset => {
                maildrop.reset();
                let (count, size) = maildrop.stat();
                return self.ok(format!("Maildrop has {count} messages ({size} octets)"));
            }
            _ => return self.err("Not allowed here"),
        };
        self.queue(&response);
        Action::Continue
    }

    fn no_such_message(&mut self, msg: MessageNumber) -> Action {
        self.err(format!("No such message {msg}"))
    }
}

/// The length of the part of `raw` that `TOP n lines` sends: the header, the empty line
/// after it, and the first `lines` lines of the body (RFC 1939 section 7).
pub(super) fn top_len(raw: &[u8], lines: u32) -> usize {
    let mut pos = 0;
    let mut in_header = true;
    let mut left = lines;
    while pos < raw.len() {
        if !in_header {
            if left == 0 {
                return pos;
            }
            left -= 1;
        }
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if in_header && (line == b"\r\n" || line == b"\n") {
            in_header = false;
        }
        pos = end;
    }
    raw.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn top_lengths() {
        let raw = b"Subject: x\r\nFrom: y\r\n\r\nline 1\r\nline 2\r\nline 3\r\n";
        let head = b"Subject: x\r\nFrom: y\r\n\r\n".len();
        assert_eq!(top_len(raw, 0), head);
        assert_eq!(top_len(raw, 1), head + 8);
        assert_eq!(top_len(raw, 3), raw.len());
        assert_eq!(top_len(raw, 99), raw.len());
        assert_eq!(top_len(b"Subject: only header\r\n", 0), 22);
        assert_eq!(top_len(b"A: b\n\nbody\nmore", 1), 11);
        assert_eq!(top_len(b"", 5), 0);
    }
}
