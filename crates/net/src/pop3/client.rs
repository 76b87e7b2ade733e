//! [`Pop3Client`]: connection sequence, command round trips, state.

use std::borrow::Cow;
use std::fmt;

use bytes::{Bytes, BytesMut};
use inbound_pop3_codec::{
    BodyMode, Command, DecodeErrorKind, Expectation, Greeting, MessageNumber, Response,
    ResponseConfig, ResponseDecoder, ResponseEvent, ScanListing, Stat, StatusLine, UidListing,
    ValidationError,
};

use super::Pop3Error;
use super::{Capabilities, Pop3Config};
use crate::connect::Dialer;
use crate::error::{Error, Result, TransportError};
use crate::tls::{MailProtocol, Security};
use crate::transport::{TRACE_TARGET, Timeouts, Transport};

/// Something that names a message: a [`MessageNumber`] or a `u32` (0 is refused with
/// [`Pop3Error::InvalidArgument`]).
pub trait MessageNumberArg {
    /// The message number.
    ///
    /// # Errors
    /// When the value is not a valid message number.
    fn into_message_number(self) -> Result<MessageNumber, ValidationError>;
}

impl MessageNumberArg for MessageNumber {
    fn into_message_number(self) -> Result<MessageNumber, ValidationError> {
        Ok(self)
    }
}

impl MessageNumberArg for u32 {
    fn into_message_number(self) -> Result<MessageNumber, ValidationError> {
        MessageNumber::new(self)
    }
}

pub(super) fn message_number(n: impl MessageNumberArg) -> Result<MessageNumber, Pop3Error> {
    n.into_message_number()
        .map_err(|source| Pop3Error::InvalidArgument {
            what: "message number",
            source,
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Before login (RFC 1939 AUTHORIZATION).
    Authorization,
    /// After login (TRANSACTION).
    Transaction,
    /// A timeout, closed connection or broken exchange: nothing more can be sent.
    Unusable,
}

/// A POP3 session (see the [module docs](super)).
///
/// One type for the whole session; commands check the state (`RETR` before login is
/// [`Pop3Error::WrongState`]). After a timeout or a dropped connection every call fails
/// with [`Pop3Error::Unusable`]: connect again.
pub struct Pop3Client {
    pub(super) transport: Transport,
    pub(super) decoder: ResponseDecoder,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) security: Security,
    pub(super) timeouts: Timeouts,
    pub(super) pipeline_window: usize,
    pub(super) greeting: Option<Greeting>,
    pub(super) capabilities: Capabilities,
    pub(super) state: State,
    /// Responses to commands already sent that the client has not finished reading (a
    /// dropped [`RetrStream`](super::RetrStream) or [`RetrMany`](super::RetrMany) leaves
    /// some); they are read and discarded before the next command.
    pub(super) unfinished: usize,
}

impl fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pop3Client")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("tls", &self.transport.is_tls())
            .field("state", &self.state)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Pop3Client {
    /// Connects: TCP (and TLS), greeting, `CAPA`, and for [`Security::StartTls`] the STLS
    /// upgrade and `CAPA` again. The timeouts of `config` apply.
    ///
    /// # Errors
    /// [`Error::TlsConfig`] for unusable TLS settings, [`Error::Connect`] for DNS, TCP and TLS
    /// failures (including [`StartTlsInjection`](crate::ConnectError::StartTlsInjection)),
    /// [`Error::Pop3`] for a refused greeting, [`Pop3Error::StartTlsNotOffered`], timeouts.
    pub async fn connect(config: &Pop3Config) -> Result<Self> {
        let connector = config
            .timeouts
            .dialer(&config.tls)?
            .with_keepalive(config.keepalive);
        Self::connect_with(&connector, config).await
    }

    /// [`Pop3Client::connect`] with a ready [`Dialer`] (shared by the connections of an
    /// account, so CA files are read once). The dialer's TLS configuration, its
    /// connect and handshake timeouts and its TCP keepalive are used; `config.tls` and
    /// `config.keepalive` are ignored.
    ///
    /// # Errors
    /// As [`Pop3Client::connect`].
    pub async fn connect_with(connector: &Dialer, config: &Pop3Config) -> Result<Self> {
        // 1. TCP, and TLS for implicit TLS.
        let stream = connector
            .connect(&config.host, config.port, config.security)
            .await?;
        let mut settings = ResponseConfig::default();
        settings.max_body_size = config.max_message_size;
        let mut client = Self {
            transport: Transport::new(stream, MailProtocol::Pop3, config.timeouts.command),
            decoder: ResponseDecoder::new(settings),
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            timeouts: config.timeouts,
            pipeline_window: config.pipeline_window.max(1),
            greeting: None,
            capabilities: Capabilities::unknown(),
            state: State::Authorization,
            unfinished: 1, // the greeting
        };
        // 2. The greeting.
        client.read_greeting().await?;
        // 3. Capabilities.
        client.refresh_capabilities().await?;
        // 4. STLS, then capabilities again.
        if config.security == Security::StartTls {
            client = client.start_tls(connector).await?;
            client.refresh_capabilities().await?;
        }
        Ok(client)
    }

    async fn read_greeting(&mut self) -> Result<()> {
        match self.next_response("greeting").await? {
            Response::Greeting(greeting) => {
                if !greeting.line().is_ok() {
                    self.state = State::Unusable;
                    return Err(server_error("greeting", greeting.line().clone()).into());
                }
                tracing::debug!(
                    host = %self.host,
                    apop = greeting.timestamp().is_some(),
                    "POP3 greeting received"
                );
                self.greeting = Some(greeting);
                Ok(())
            }
            other => Err(self.unexpected("greeting", &other).into()),
        }
    }

    /// STLS and the TLS handshake. Anything the server sent after its `+OK` is still in the
    /// receive buffer (the decoder consumed exactly the status line) and makes the upgrade
    /// fail.
    async fn start_tls(mut self, connector: &Dialer) -> Result<Self> {
        if self.capabilities.is_known() && !self.capabilities.stls() {
            return Err(Pop3Error::StartTlsNotOffered { text: None }.into());
        }
        let line = self.status_command(Command::Stls).await?;
        if !line.is_ok() {
            return Err(Pop3Error::StartTlsNotOffered {
                text: Some(line.text.text.as_str().to_owned()),
            }
            .into());
        }
        let Self {
            transport,
            decoder,
            host,
            ..
        } = self;
        // The decoder reads the transport's buffer in place: it holds nothing of its own.
        let transport = transport
            .upgrade_after_go_ahead(0, connector, &host)
            .await?;
        Ok(Self {
            transport,
            decoder: ResponseDecoder::without_greeting(decoder.config().clone()),
            host,
            // What the server said in plaintext is forgotten.
            capabilities: Capabilities::unknown(),
            ..self
        })
    }

    /// The server's greeting.
    #[must_use]
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last `CAPA` (after STLS and after login, they were asked
    /// again).
    #[must_use]
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The connection underneath (to read socket options such as TCP keepalive; reading
    /// or writing through it would break the session).
    #[must_use]
    pub fn mail_stream(&self) -> &crate::MailStream {
        self.transport.stream()
    }

    /// Whether the connection is encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// Whether login succeeded.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.state == State::Transaction
    }

    /// Whether the connection can still be used (no timeout, drop or broken exchange).
    #[must_use]
    pub fn is_usable(&self) -> bool {
        self.state != State::Unusable
    }

    /// Asks `CAPA` again. A server that refuses `CAPA` gives unknown capabilities, not an
    /// error.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn refresh_capabilities(&mut self) -> Result<&Capabilities> {
        self.check("CAPA", None)?;
        self.send(&[Command::Capa], "CAPA").await?;
        self.capabilities = match self.next_response("CAPA").await {
            Ok(Response::Capabilities { capabilities, .. }) => Capabilities::new(capabilities),
            Ok(Response::Status(line)) => {
                tracing::debug!(text = %line.text.text, "server refused CAPA");
                Capabilities::unknown()
            }
            Ok(other) => return Err(self.unexpected("CAPA", &other).into()),
            Err(Error::Pop3(Pop3Error::Protocol { source, .. })) => {
                tracing::debug!(error = %source, "CAPA answer not understood; ignoring it");
                Capabilities::unknown()
            }
            Err(e) => return Err(e),
        };
        Ok(&self.capabilities)
    }

    /// `STAT`: number of messages and maildrop size.
    ///
    /// # Errors
    /// [`Pop3Error::ServerError`], connection errors, [`Pop3Error::WrongState`].
    pub async fn stat(&mut self) -> Result<Stat> {
        match self.transaction_command(Command::Stat).await? {
            Response::Stat(stat) => Ok(stat),
            other => Err(self.unexpected("STAT", &other).into()),
        }
    }

    /// `LIST`: every message's number and size.
    ///
    /// # Errors
    /// As [`Pop3Client::stat`].
    pub async fn list(&mut self) -> Result<Vec<ScanListing>> {
        match self.transaction_command(Command::List(None)).await? {
            Response::ScanList { entries, .. } => Ok(entries),
            other => Err(self.unexpected("LIST", &other).into()),
        }
    }

    /// `LIST msg`: one message's size.
    ///
    /// # Errors
    /// As [`Pop3Client::stat`]; [`Pop3Error::InvalidArgument`] for message number 0.
    pub async fn list_one(&mut self, msg: impl MessageNumberArg) -> Result<ScanListing> {
        let msg = message_number(msg)?;
        match self.transaction_command(Command::List(Some(msg))).await? {
            Response::Scan(scan) => Ok(scan),
            other => Err(self.unexpected("LIST", &other).into()),
        }
    }

    /// `UIDL`: every message's unique-id.
    ///
    /// # Errors
    /// As [`Pop3Client::stat`].
    pub async fn uidl(&mut self) -> Result<Vec<UidListing>> {
        match self.transaction_command(Command::Uidl(None)).await? {
            Response::UidList { entries, .. } => Ok(entries),
            other => Err(self.unexpected("UIDL", &other).into()),
        }
    }

    /// `UIDL msg`: one message's unique-id.
    ///
    /// # Errors
    /// As [`Pop3Client::list_one`].
    pub async fn uidl_one(&mut self, msg: impl MessageNumberArg) -> Result<UidListing> {
        let msg = message_number(msg)?;
        match self.transaction_command(Command::Uidl(Some(msg))).await? {
            Response::Uid(uid) => Ok(uid),
            other => Err(self.unexpected("UIDL", &other).into()),
        }
    }

    /// `TOP msg lines`: the header and the first `lines` lines of the body.
    ///
    /// # Errors
    /// As [`Pop3Client::retr`].
    pub async fn top(&mut self, msg: impl MessageNumberArg, lines: u32) -> Result<Bytes> {
        let msg = message_number(msg)?;
        match self
            .transaction_command(Command::Top { msg, lines })
            .await?
        {
            Response::Message { body, .. } => Ok(body),
            other => Err(self.unexpected("TOP", &other).into()),
        }
    }

    /// `RETR msg`: the whole message, dot-stuffing removed, CRLF line ends.
    ///
    /// # Errors
    /// [`Pop3Error::TooLarge`] beyond [`Pop3Config::max_message_size`] (the session stays
    /// usable), [`Pop3Error::ConnectionClosed`] when the connection drops in the middle (no
    /// partial message is returned), and as [`Pop3Client::list_one`].
    pub async fn retr(&mut self, msg: impl MessageNumberArg) -> Result<Bytes> {
        let msg = message_number(msg)?;
        match self.transaction_command(Command::Retr(msg)).await? {
            Response::Message { body, .. } => Ok(body),
            other => Err(self.unexpected("RETR", &other).into()),
        }
    }

    /// `DELE msg`: marks the message deleted; it is removed when [`Pop3Client::quit`]
    /// succeeds.
    ///
    /// # Errors
    /// As [`Pop3Client::list_one`].
    pub async fn dele(&mut self, msg: impl MessageNumberArg) -> Result<()> {
        let msg = message_number(msg)?;
        self.transaction_command(Command::Dele(msg)).await.map(drop)
    }

    /// `RSET`: unmarks every message marked deleted.
    ///
    /// # Errors
    /// As [`Pop3Client::stat`].
    pub async fn rset(&mut self) -> Result<()> {
        self.transaction_command(Command::Rset).await.map(drop)
    }

    /// `NOOP`: checks that the connection is alive (within the command timeout).
    ///
    /// # Errors
    /// As [`Pop3Client::stat`].
    pub async fn noop(&mut self) -> Result<()> {
        self.transaction_command(Command::Noop).await.map(drop)
    }

    /// `QUIT`: ends the session; after login this commits the deletions (RFC 1939 UPDATE
    /// state). Waits at most the logout timeout.
    ///
    /// # Errors
    /// [`Pop3Error::ServerError`] when the server could not remove every deleted message,
    /// [`Pop3Error::Unusable`] when the connection had already failed (nothing was
    /// committed), connection errors and timeouts.
    pub async fn quit(mut self) -> Result<()> {
        self.check("QUIT", None)?;
        self.transport.set_timeout(self.timeouts.logout);
        let line = self.status_command(Command::Quit).await;
        self.transport.shutdown().await;
        let line = line?;
        if line.is_ok() {
            Ok(())
        } else {
            Err(server_error("QUIT", line).into())
        }
    }

    // ---- plumbing -------------------------------------------------------------------------

    /// Fails unless the session is usable and (if given) in `required` state.
    pub(super) fn check(
        &self,
        command: &'static str,
        required: Option<State>,
    ) -> Result<(), Pop3Error> {
        match (self.state, required) {
            (State::Unusable, _) => Err(Pop3Error::Unusable { command }),
            (state, Some(required)) if state != required => Err(Pop3Error::WrongState {
                command,
                state: match state {
                    State::Authorization => "before login",
                    _ => "after login",
                },
            }),
            _ => Ok(()),
        }
    }

    /// Sends a transaction-state command and reads its response; `-ERR` becomes
    /// [`Pop3Error::ServerError`].
    async fn transaction_command(&mut self, command: Command) -> Result<Response> {
        let keyword = command.keyword();
        self.check(keyword, Some(State::Transaction))?;
        self.send(&[command], keyword).await?;
        match self.next_response(keyword).await? {
            Response::Status(line) if !line.is_ok() => Err(server_error(keyword, line).into()),
            response => Ok(response),
        }
    }

    /// Sends a command answered by a status line and returns the line (`+OK` or `-ERR`).
    pub(super) async fn status_command(&mut self, command: Command) -> Result<StatusLine> {
        let keyword = command.keyword();
        self.check(keyword, None)?;
        self.send(&[command], keyword).await?;
        match self.next_response(keyword).await? {
            Response::Status(line) => Ok(line),
            other => Err(self.unexpected(keyword, &other).into()),
        }
    }

    /// Finishes unread responses, then writes `commands` in one write and registers what
    /// each expects (RETR/TOP collected whole).
    pub(super) async fn send(
        &mut self,
        commands: &[Command],
        during: &'static str,
    ) -> Result<(), Pop3Error> {
        let expectations = commands
            .iter()
            .map(|c| Expectation::for_command(c, BodyMode::Collect));
        self.send_expecting(commands, expectations, during).await
    }

    /// As [`Pop3Client::send`] with explicit expectations.
    pub(super) async fn send_expecting(
        &mut self,
        commands: &[Command],
        expectations: impl Iterator<Item = Expectation>,
        during: &'static str,
    ) -> Result<(), Pop3Error> {
        self.drain().await?;
        self.send_pipelined(commands, expectations, during).await
    }

    /// Writes `commands` in one write without reading anything first: for commands sent
    /// while answers to earlier ones are still arriving (PIPELINING).
    pub(super) async fn send_pipelined(
        &mut self,
        commands: &[Command],
        expectations: impl Iterator<Item = Expectation>,
        during: &'static str,
    ) -> Result<(), Pop3Error> {
        let mut out = BytesMut::with_capacity(16 * commands.len());
        for command in commands {
            command.encode(&mut out);
        }
        for expectation in expectations {
            self.decoder.expect_raw(expectation);
            self.unfinished += 1;
        }
        self.write(&out, during).await
    }

    /// Writes raw octets (SASL answers), marking the session unusable on failure.
    pub(super) async fn write(
        &mut self,
        data: &[u8],
        during: &'static str,
    ) -> Result<(), Pop3Error> {
        match self.transport.send(data, during).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Reads and discards the rest of responses a dropped stream left unread.
    pub(super) async fn drain(&mut self) -> Result<(), Pop3Error> {
        if self.unfinished > 0 {
            tracing::debug!(
                responses = self.unfinished,
                "discarding unread responses before the next command"
            );
        }
        while self.unfinished > 0 {
            match self.next_event("(discarding unread responses)").await {
                Ok(_) => {}
                Err(Pop3Error::Protocol { .. } | Pop3Error::TooLarge { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(super) fn fail(&mut self, e: TransportError) -> Pop3Error {
        if self.state != State::Unusable {
            tracing::debug!(error = %e, "POP3 connection unusable");
        }
        self.state = State::Unusable;
        e.into()
    }

    /// The next complete response (skipping nothing: streaming events are not expected).
    pub(super) async fn next_response(&mut self, during: &'static str) -> Result<Response> {
        match self.next_event(during).await? {
            ResponseEvent::Response(response) => Ok(response),
            other => Err(Pop3Error::UnexpectedResponse {
                during,
                kind: event_kind(&other),
            }
            .into()),
        }
    }

    /// Decodes the next event, reading as needed. Decode errors are returned as
    /// [`Pop3Error::Protocol`] / [`Pop3Error::TooLarge`]; the decoder stays in sync.
    pub(super) async fn next_event(
        &mut self,
        during: &'static str,
    ) -> Result<ResponseEvent, Pop3Error> {
        loop {
            match self.decoder.decode(self.transport.buffer()) {
                Ok(Some(event)) => {
                    if is_final(&event) {
                        self.unfinished = self.unfinished.saturating_sub(1);
                        // The next answer of a pipeline gets its own time at the minimum
                        // rate.
                        self.transport.restart_answer_clock();
                    }
                    self.trace_event(&event);
                    return Ok(event);
                }
                Ok(None) => {
                    if let Err(e) = self.transport.fill(during).await {
                        return Err(self.fail(e));
                    }
                }
                Err(source) => {
                    if !matches!(source.kind(), DecodeErrorKind::Unexpected) {
                        self.unfinished = self.unfinished.saturating_sub(1);
                    }
                    return Err(match source.kind() {
                        DecodeErrorKind::BodyTooLarge { limit } => {
                            Pop3Error::TooLarge { limit: *limit }
                        }
                        _ => Pop3Error::Protocol { during, source },
                    });
                }
            }
        }
    }

    fn trace_event(&mut self, event: &ResponseEvent) {
        let line: Cow<'_, [u8]> = if tracing::enabled!(target: TRACE_TARGET, tracing::Level::TRACE)
        {
            match event {
                ResponseEvent::Response(response) => summary(response),
                ResponseEvent::BodyStart(text) => {
                    Cow::Owned(format!("+OK {} (body streamed)", text.text).into_bytes())
                }
                ResponseEvent::BodyChunk(_) | ResponseEvent::BodyEnd => return,
            }
        } else {
            // The redactor only needs to know whether the line is a continuation.
            match event {
                ResponseEvent::Response(Response::Continuation(_)) => Cow::Borrowed(b"+ "),
                ResponseEvent::Response(_) => Cow::Borrowed(b"+OK"),
                _ => return,
            }
        };
        self.transport.trace_server(&line);
    }

    pub(super) fn unexpected(&mut self, during: &'static str, response: &Response) -> Pop3Error {
        Pop3Error::UnexpectedResponse {
            during,
            kind: response.kind(),
        }
    }
}

fn is_final(event: &ResponseEvent) -> bool {
    match event {
        ResponseEvent::Response(Response::Continuation(_)) => false,
        ResponseEvent::Response(_) | ResponseEvent::BodyEnd => true,
        ResponseEvent::BodyStart(_) | ResponseEvent::BodyChunk(_) => false,
    }
}

fn event_kind(event: &ResponseEvent) -> &'static str {
    match event {
        ResponseEvent::Response(r) => r.kind(),
        ResponseEvent::BodyStart(_) => "body start",
        ResponseEvent::BodyChunk(_) => "body chunk",
        ResponseEvent::BodyEnd => "body end",
    }
}

/// A status line for the trace; multi-line answers are summarized (no mail in logs).
fn summary(response: &Response) -> Cow<'static, [u8]> {
    let count = |what: &str, n: usize, text: &inbound_pop3_codec::ResponseText| {
        Cow::Owned(format!("+OK {} ({n} {what})", text.text).into_bytes())
    };
    match response {
        Response::ScanList { text, entries } => count("scan listings", entries.len(), text),
        Response::UidList { text, entries } => count("unique-id listings", entries.len(), text),
        Response::Capabilities { text, capabilities } => {
            count("capabilities", capabilities.len(), text)
        }
        Response::Message { text, body } => count("octets of message", body.len(), text),
        other => Cow::Owned(other.to_bytes().to_vec()),
    }
}

pub(super) fn server_error(command: &'static str, line: StatusLine) -> Pop3Error {
    Pop3Error::ServerError {
        command,
        code: line.text.code,
        text: line.text.text.as_str().to_owned(),
    }
}
