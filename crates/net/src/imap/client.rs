//! [`ImapClient`]: the connection sequence, command round trips and session state.

use std::collections::VecDeque;
use std::fmt;

use inbound_imap_codec::LiteralSupport;
use inbound_imap_codec::types::{
    Capability, Code, CommandBody, Data, GreetingKind, IdleDone, Response, Status, StatusBody,
    StatusKind, Tag,
};
use tokio::time::{Duration, Instant};

use super::ImapConfig;
use super::error::ImapError;
use super::machine::{Exchange, Outcome, Receiver, Tagger};
use super::types::{FetchParts, Unsolicited};
use crate::connect::Dialer;
use crate::error::{Result, TransportError};
use crate::tls::{MailProtocol, Security};
use crate::transport::{Timeouts, Transport};

/// At most this many unsolicited responses are queued; older ones are dropped (with a
/// warning) so that a chatty server cannot grow memory without bound.
const MAX_UNSOLICITED: usize = 10_000;

/// How much receive buffer is reserved at a time (when less than a quarter is left).
///
/// Messages handed out are slices of these chunks, and the partial message at the end of a
/// chunk is copied into the next one: with 64 KiB chunks a caller that kept 5,000 bodies of
/// 20 KB held ~18% more memory than the bodies (~117 MB for 99 MB, ~4,500 more page faults
/// than the bodies need, measured with the retrieval bench); with 256 KiB, ~3%. Plaintext
/// reads take up to a chunk at once; TLS reads give at most one record whatever the size.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
    Unusable,
}

/// A command whose completion the client has not read yet: a dropped
/// [`FetchStream`](super::FetchStream) or [`IdleHandle`](super::IdleHandle), or a future
/// cancelled mid-command. It is finished before the next command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pending {
    None,
    /// A command was being written: the stream is in an unknown state.
    Writing,
    /// Waiting for the tagged completion of this command.
    Command {
        tag: Tag,
        name: &'static str,
    },
    /// IDLE is running: `DONE` must be sent first.
    Idle {
        tag: Tag,
    },
}

/// A command's tagged completion and the untagged responses that came before it.
#[derive(Debug)]
pub(super) struct Completed {
    pub(super) status: StatusBody,
    pub(super) data: Vec<Response>,
}

/// An IMAP session (see the [module docs](super)).
///
/// One type for the whole session; commands check the state (`SELECT` before login is
/// [`ImapError::WrongState`]). After a timeout, a dropped connection or a broken exchange
/// every call fails with [`ImapError::Unusable`]: connect again.
pub struct ImapClient {
    pub(super) transport: Transport,
    pub(super) rx: Receiver,
    pub(super) tags: Tagger,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) security: Security,
    pub(super) timeouts: Timeouts,
    pub(super) max_line_len: usize,
    /// Most untagged responses collected for one command.
    pub(super) max_command_responses: usize,
    pub(super) idle_renewal: Duration,
    pub(super) capabilities: Vec<Capability>,
    pub(super) literals: LiteralSupport,
    pub(super) state: State,
    pub(super) pending: Pending,
    pub(super) unsolicited: VecDeque<Unsolicited>,
    pub(super) dropped_unsolicited: u64,
    pub(super) bye: Option<String>,
    pub(super) greeting_text: String,
    /// The login's answer carried the new capabilities: no need to ask again.
    pub(super) caps_fresh_after_login: bool,
}

impl fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("tls", &self.transport.is_tls())
            .field("state", &self.state)
            .field("capabilities", &self.capabilities.len())
            .finish_non_exhaustive()
    }
}

impl ImapClient {
    /// Connects: TCP (and TLS), the greeting, capabilities, and for [`Security::StartTls`]
    /// the STARTTLS upgrade and capabilities again. The timeouts of `config` apply.
    ///
    /// # Errors
    /// [`Error::TlsConfig`](crate::Error::TlsConfig) for unusable TLS settings,
    /// [`Error::Connect`](crate::Error::Connect) for DNS, TCP and TLS failures (including
    /// [`StartTlsInjection`](crate::ConnectError::StartTlsInjection)),
    /// [`Error::Imap`](crate::Error::Imap) for a `BYE` greeting, [`ImapError::PreauthRefused`],
    /// [`ImapError::StartTlsNotOffered`], timeouts.
    pub async fn connect(config: &ImapConfig) -> Result<Self> {
        let connector = config
            .timeouts
            .dialer(&config.tls)?
            .with_keepalive(config.keepalive);
        Self::connect_with(&connector, config).await
    }

    /// [`ImapClient::connect`] with a ready [`Dialer`] (shared by the connections of an
    /// account, so CA files are read once). The dialer's TLS configuration, its
    /// connect and handshake timeouts and its TCP keepalive are used; `config.tls` and
    /// `config.keepalive` are ignored.
    ///
    /// # Errors
    /// As [`ImapClient::connect`].
    pub async fn connect_with(connector: &Dialer, config: &ImapConfig) -> Result<Self> {
        let stream = connector
            .connect(&config.host, config.port, config.security)
            .await?;
        let mut client = Self {
            transport: Transport::new(stream, MailProtocol::Imap, config.timeouts.command),
            rx: Receiver::new(config.framer_config(), config.quirks),
            tags: Tagger::default(),
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            timeouts: config.timeouts,
            max_line_len: config.max_line_len.max(256),
            max_command_responses: config.max_command_responses.max(1),
            idle_renewal: config.idle_renewal,
            capabilities: Vec::new(),
            literals: LiteralSupport::SyncOnly,
            state: State::NotAuthenticated,
            pending: Pending::None,
            unsolicited: VecDeque::new(),
            dropped_unsolicited: 0,
            bye: None,
            greeting_text: String::new(),
            caps_fresh_after_login: false,
        };
        client.read_greeting().await?;
        if config.security == Security::StartTls {
            if client.capabilities.is_empty() {
                client.refresh_capabilities().await?;
            }
            client = client.start_tls(connector).await?;
        }
        if client.capabilities.is_empty() {
            client.refresh_capabilities().await?;
        }
        Ok(client)
    }

    async fn read_greeting(&mut self) -> Result<(), ImapError> {
        let received = loop {
            if let Some(g) = self.rx.next_greeting() {
                break g.map_err(|source| {
                    self.fail(ImapError::Protocol {
                        during: "greeting",
                        source,
                    })
                })?;
            }
            self.read_more("greeting").await?;
        };
        self.transport.trace_server(&received.head);
        let greeting = received.value;
        self.greeting_text = greeting.text.to_string_lossy().into_owned();
        match greeting.kind {
            GreetingKind::Bye => {
                self.state = State::Unusable;
                return Err(ImapError::Bye {
                    text: super::error::bye_text(greeting.code.as_ref(), &greeting.text),
                });
            }
            GreetingKind::PreAuth => {
                if self.security == Security::StartTls {
                    // STARTTLS is only allowed before authentication: continuing would
                    // mean working in clear text (RFC 3501 section 6.2.1, RFC 8314).
                    self.state = State::Unusable;
                    tracing::warn!(host = %self.host, "PREAUTH greeting where TLS is required");
                    return Err(ImapError::PreauthRefused);
                }
                self.state = State::Authenticated;
            }
            GreetingKind::Ok => {}
        }
        if let Some(Code::Capability(caps)) = greeting.code {
            self.set_capabilities(caps);
        }
        tracing::debug!(host = %self.host, kind = ?greeting.kind, "IMAP greeting received");
        Ok(())
    }

    /// STARTTLS and the TLS handshake. Anything the server sent after its tagged `OK`
    /// arrived in plaintext and is refused as a possible injection.
    async fn start_tls(mut self, connector: &Dialer) -> Result<Self> {
        if !self.has_capability(&Capability::StartTls) {
            self.state = State::Unusable;
            return Err(ImapError::StartTlsNotOffered { text: None }.into());
        }
        let done = self.run(CommandBody::StartTls).await?;
        if done.status.kind != StatusKind::Ok {
            self.state = State::Unusable;
            return Err(ImapError::StartTlsNotOffered {
                text: Some(done.status.text.to_string_lossy().into_owned()),
            }
            .into());
        }
        let Self {
            transport,
            rx,
            host,
            ..
        } = self;
        let transport = transport
            .upgrade_after_go_ahead(rx.buffered(), connector, &host)
            .await?;
        Ok(Self {
            transport,
            rx: rx.renew(),
            host,
            // What the server said in plaintext is forgotten.
            capabilities: Vec::new(),
            literals: LiteralSupport::SyncOnly,
            unsolicited: VecDeque::new(),
            ..self
        })
    }

    /// The capabilities the server announced last (asked again after STARTTLS and login).
    #[must_use]
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    /// Whether the server announced `capability`.
    #[must_use]
    pub fn has_capability(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    /// The greeting's text.
    #[must_use]
    pub fn greeting_text(&self) -> &str {
        &self.greeting_text
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

    /// Whether login succeeded (or the server greeted with PREAUTH).
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated | State::Selected)
    }

    /// Whether the connection can still be used.
    #[must_use]
    pub fn is_usable(&self) -> bool {
        self.state != State::Unusable
    }

    /// Asks `CAPABILITY` again.
    ///
    /// # Errors
    /// Connection errors; a `NO`/`BAD` answer.
    pub async fn refresh_capabilities(&mut self) -> Result<&[Capability]> {
        let done = self.run(CommandBody::Capability).await?;
        let done = self.check("CAPABILITY", done)?;
        self.absorb(done.data);
        Ok(&self.capabilities)
    }

    /// Takes the unsolicited responses queued so far (EXISTS, EXPUNGE, flag changes,
    /// alerts), oldest first.
    pub fn take_unsolicited(&mut self) -> Vec<Unsolicited> {
        self.unsolicited.drain(..).collect()
    }

    pub(super) fn set_capabilities(&mut self, caps: Vec<Capability>) {
        self.literals = LiteralSupport::from_capabilities(&caps);
        self.capabilities = caps;
    }

    /// Marks the session unusable after a fatal error and passes the error on.
    pub(super) fn fail(&mut self, e: ImapError) -> ImapError {
        if e.is_fatal() || matches!(e, ImapError::Protocol { .. }) {
            self.state = State::Unusable;
        }
        e
    }

    pub(super) fn check_usable(&self, command: &'static str) -> Result<(), ImapError> {
        if self.state == State::Unusable {
            Err(ImapError::Unusable { command })
        } else {
            Ok(())
        }
    }

    pub(super) fn require_auth(&self, command: &'static str) -> Result<(), ImapError> {
        self.check_usable(command)?;
        if self.state == State::NotAuthenticated {
            return Err(ImapError::WrongState {
                command,
                state: "before login",
            });
        }
        Ok(())
    }

    pub(super) fn require_selected(&self, command: &'static str) -> Result<(), ImapError> {
        self.require_auth(command)?;
        if self.state != State::Selected {
            return Err(ImapError::WrongState {
                command,
                state: "without a selected mailbox",
            });
        }
        Ok(())
    }

    pub(super) fn require_capability(
        &self,
        capability: &Capability,
        name: &'static str,
    ) -> Result<(), ImapError> {
        if self.has_capability(capability) {
            Ok(())
        } else {
            Err(ImapError::NotSupported { capability: name })
        }
    }

    /// Reads more octets from the connection into the receiver, within the response
    /// timeout and the answer's minimum rate ([`Transport::read_paced`]).
    pub(super) async fn read_more(&mut self, during: &'static str) -> Result<(), ImapError> {
        let read = self
            .transport
            .read_paced(self.rx.read_buffer(READ_CHUNK), during)
            .await;
        match read {
            Ok(_) => Ok(()),
            Err(e) => Err(self.transport_failed(e)),
        }
    }

    /// One read from the socket straight into the receive buffer (no copy in between),
    /// waiting at most `timeout`. At most [`READ_CHUNK`] octets are reserved at a time,
    /// whatever length a literal claims. Cancellation-safe: octets are appended to the
    /// buffer only as they are read, so a dropped read loses nothing.
    async fn receive(
        &mut self,
        timeout: Duration,
        during: &'static str,
    ) -> Result<(), TransportError> {
        self.transport
            .read_into(self.rx.read_buffer(READ_CHUNK), timeout, during)
            .await
            .map(drop)
    }

    fn transport_failed(&mut self, e: TransportError) -> ImapError {
        self.state = State::Unusable;
        match (e, self.bye.take()) {
            (TransportError::Closed { .. }, Some(text)) => ImapError::Bye { text },
            (e, _) => e.into(),
        }
    }

    /// The next response; reads as needed within the response timeout.
    pub(super) async fn next_response(
        &mut self,
        during: &'static str,
    ) -> Result<Response, ImapError> {
        loop {
            if let Some(r) = self.rx.next_response() {
                return match r {
                    Ok(received) => {
                        self.transport.trace_server(&received.head);
                        if let Response::Status(Status::Bye { code, text }) = &received.value {
                            self.bye = Some(super::error::bye_text(code.as_ref(), text));
                        }
                        Ok(received.value)
                    }
                    Err(source) => Err(ImapError::Protocol { during, source }),
                };
            }
            self.read_more(during).await?;
        }
    }

    /// The next response if one arrives before `deadline`; `None` at the deadline.
    pub(super) async fn next_response_before(
        &mut self,
        deadline: Instant,
        during: &'static str,
    ) -> Result<Option<Response>, ImapError> {
        loop {
            if self.rx.buffered() > 0 {
                if let Some(r) = self.rx.next_response() {
                    let received = r.map_err(|source| ImapError::Protocol { during, source })?;
                    self.transport.trace_server(&received.head);
                    if let Response::Status(Status::Bye { code, text }) = &received.value {
                        self.bye = Some(super::error::bye_text(code.as_ref(), text));
                    }
                    return Ok(Some(received.value));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // The wait's own timeout, not the transport's: a cancelled wait (IDLE inside
            // `select!`) must leave the command timeout in place for what comes next.
            match self.receive(deadline - now, during).await {
                Ok(()) => {}
                Err(TransportError::Timeout { .. }) => return Ok(None),
                Err(e) => return Err(self.transport_failed(e)),
            }
        }
    }

    /// Writes octets within the response timeout.
    pub(super) async fn write(
        &mut self,
        data: &[u8],
        during: &'static str,
    ) -> Result<(), ImapError> {
        if data.is_empty() {
            return Ok(());
        }
        match self.transport.send(data, during).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.transport_failed(e)),
        }
    }

    /// Finishes whatever an abandoned command left (see [`Pending`]).
    pub(super) async fn settle(&mut self) -> Result<(), ImapError> {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => Ok(()),
            Pending::Writing => {
                self.state = State::Unusable;
                Err(ImapError::Unusable {
                    command: "a command interrupted while being written",
                })
            }
            Pending::Idle { tag } => {
                self.pending = Pending::Command { tag, name: "IDLE" };
                self.write(&IdleDone.encode(), "IDLE DONE").await?;
                self.drain().await
            }
            Pending::Command { tag, name } => {
                self.pending = Pending::Command { tag, name };
                self.drain().await
            }
        }
    }

    /// Reads up to the tagged completion of the pending command, keeping unsolicited
    /// responses and discarding answers to the abandoned command (FETCH bodies).
    async fn drain(&mut self) -> Result<(), ImapError> {
        let Pending::Command { tag, name } = self.pending.clone() else {
            return Ok(());
        };
        let mut others = 0usize;
        loop {
            let response = self.next_response(name).await;
            if matches!(response, Ok(Response::Data(Data::Fetch { .. }))) {
                // A body of the abandoned FETCH: its own answer at the minimum rate.
                self.transport.restart_answer_clock();
            } else {
                others += 1;
                if others > self.max_command_responses {
                    return Err(self.too_many_responses(name));
                }
            }
            match response {
                Ok(Response::Status(Status::Tagged { tag: t, .. })) if t == tag => {
                    self.pending = Pending::None;
                    return Ok(());
                }
                Ok(Response::Status(Status::Tagged { .. })) => {
                    return Err(self.fail(ImapError::Unexpected {
                        during: name,
                        what: "a tagged response with an unknown tag",
                    }));
                }
                Ok(Response::Continue(_)) => {}
                Ok(Response::Data(Data::Fetch { seq, items })) => {
                    let parts = FetchParts::from_items(items);
                    if parts.body.is_none() && parts.size.is_none() {
                        self.push_unsolicited(Unsolicited::Fetch {
                            seq: seq.get(),
                            uid: parts.uid,
                            flags: parts.flags,
                        });
                    }
                }
                Ok(other) => self.absorb_one(other),
                // The framer stays in sync after a bad message: go on.
                Err(ImapError::Protocol { source, .. }) => {
                    tracing::debug!(error = %source, "skipping a bad response while draining");
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Sends a command (settling first) and returns its exchange; the command is pending
    /// until [`ImapClient::finish`].
    pub(super) async fn start(&mut self, body: CommandBody) -> Result<Exchange, ImapError> {
        let name = body.name();
        self.check_usable(name)?;
        self.settle().await?;
        let mut exchange = Exchange::new(self.tags.next_tag()?, body, self.literals);
        self.pending = Pending::Writing;
        let out = exchange.take_output();
        self.write(&out, name).await?;
        self.pending = Pending::Command {
            tag: exchange.tag().clone(),
            name,
        };
        Ok(exchange)
    }

    /// The server went over [`ImapConfig::max_command_responses`] for `command`: the rest
    /// of its answer is not read, the connection is given up.
    pub(super) fn too_many_responses(&mut self, command: &'static str) -> ImapError {
        let limit = self.max_command_responses;
        tracing::warn!(
            command,
            limit,
            "too many untagged IMAP responses to one command"
        );
        self.state = State::Unusable;
        ImapError::TooManyResponses { command, limit }
    }

    /// The command completed.
    pub(super) fn finish(&mut self) {
        self.pending = Pending::None;
    }

    /// Sends `body` and reads up to its tagged completion, collecting untagged responses.
    /// A `NO` or `BAD` completion is returned, not an error: see [`ImapClient::check`].
    pub(super) async fn run(&mut self, body: CommandBody) -> Result<Completed, ImapError> {
        let mut exchange = self.start(body).await?;
        let name = exchange.name();
        let mut data = Vec::new();
        loop {
            let response = match self.next_response(name).await {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            match exchange.on_response(response) {
                Ok(Outcome::Untagged(_)) if data.len() >= self.max_command_responses => {
                    return Err(self.too_many_responses(name));
                }
                Ok(Outcome::Untagged(r)) => data.push(r),
                Ok(Outcome::SendMore) => {
                    self.pending = Pending::Writing;
                    let out = exchange.take_output();
                    self.write(&out, name).await?;
                    self.pending = Pending::Command {
                        tag: exchange.tag().clone(),
                        name,
                    };
                }
                Ok(Outcome::Continuation(_)) => {
                    return Err(self.fail(ImapError::Unexpected {
                        during: name,
                        what: "a continuation request",
                    }));
                }
                Ok(Outcome::Done(status)) => {
                    self.finish();
                    if let Some(Code::Capability(caps)) = &status.code {
                        self.set_capabilities(caps.clone());
                    }
                    return Ok(Completed { status, data });
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Turns a `NO`/`BAD` completion into an error (queueing its untagged data).
    pub(super) fn check(
        &mut self,
        command: &'static str,
        done: Completed,
    ) -> Result<Completed, ImapError> {
        let Completed { status, data } = done;
        match status.kind {
            StatusKind::Ok => Ok(Completed { status, data }),
            kind => {
                self.absorb(data);
                let code = status.code;
                let text = status.text.to_string_lossy().into_owned();
                Err(if kind == StatusKind::No {
                    ImapError::No {
                        command,
                        code,
                        text,
                    }
                } else {
                    ImapError::Bad {
                        command,
                        code,
                        text,
                    }
                })
            }
        }
    }

    /// Queues untagged responses a method did not use.
    pub(super) fn absorb(&mut self, data: Vec<Response>) {
        for r in data {
            self.absorb_one(r);
        }
    }

    pub(super) fn absorb_one(&mut self, response: Response) {
        match response {
            Response::Data(Data::Capability(caps)) => self.set_capabilities(caps),
            Response::Status(Status::Untagged(StatusBody {
                code: Some(Code::Capability(caps)),
                ..
            })) => self.set_capabilities(caps),
            other => self.push_unsolicited(Unsolicited::from_response(other)),
        }
    }

    pub(super) fn push_unsolicited(&mut self, u: Unsolicited) {
        if self.unsolicited.len() >= MAX_UNSOLICITED {
            self.unsolicited.pop_front();
            self.dropped_unsolicited += 1;
            if self.dropped_unsolicited.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped_unsolicited,
                    "too many unsolicited IMAP responses queued; dropping the oldest"
                );
            }
        }
        self.unsolicited.push_back(u);
    }
}
