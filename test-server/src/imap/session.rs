//! One IMAP session: greeting, the command loop, authentication, STARTTLS and IDLE. The
//! mailbox and message commands are in `commands`.

use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;

use inbound_imap_codec::types::{
    AuthMechanism, AuthenticateData, Capability, Code, Command, CommandBody, Continue, Data,
    Greeting, GreetingKind, IString, Response, Status, StatusBody, StatusKind, Tag, Text,
};
use inbound_imap_codec::{
    DecodeError, Frame, FrameError, Framer, FramerConfig, FramerEvent, Quirks as CodecQuirks,
    decode_authenticate_data, decode_command, decode_idle_done,
};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::ImapContext;
use super::conn::Wire;
use super::fetch::wire_flags;
use crate::conn::Conn;
use crate::faults::{Blackhole, DropPoint, Faults, Hold, Refusal, ThrottleAnswer};
use crate::mailstore::{FolderView, ViewEvent};
use crate::sasl::{self, BEARER_ERROR_JSON, BearerCredentials};
use crate::transcript::{Protocol, Transcript};

/// Why a session ended.
#[derive(Debug)]
pub(super) enum End {
    /// The connection failed or the peer left.
    Io(io::Error),
    /// A fault dropped the connection on purpose.
    Fault(&'static str),
    /// LOGOUT, BYE, auto-logout or shutdown.
    Closed,
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

pub(super) type Res<T> = Result<T, End>;

/// What waiting for the client woke up for.
enum Woke {
    /// Bytes arrived (they are in the framer).
    Input,
    /// The selected folder changed (only while IDLE watches it).
    ViewChanged,
}

/// Runs a session to its end.
pub(super) async fn run(conn: Conn, ctx: std::sync::Arc<ImapContext>, id: u64) {
    let faults = ctx.faults.next_session();
    let transcript = Transcript::new(id, Protocol::Imap, ctx.transcript.clone());
    let framer = Framer::new(FramerConfig::for_commands());
    let wire = Wire::new(conn, framer, transcript, &faults);
    let shutdown = shutdown_signal(ctx.shutdown.clone());
    let logout_timer = Box::pin(tokio::time::sleep(ctx.auto_logout));
    let mut session = Session {
        ctx: ImapContext::clone(&ctx),
        faults,
        wire,
        user: None,
        view: None,
        fetched: false,
        commands: 0,
        shutdown,
        stopping: false,
        logout_timer,
        waiting_since: Instant::now(),
    };
    let end = session.serve().await;
    match &end {
        Err(End::Io(e)) => {
            tracing::debug!(target: "inbound_test_server::imap", session = id, error = %e, "session ended");
        }
        Err(End::Fault(point)) => {
            tracing::debug!(target: "inbound_test_server::imap", session = id, point, "fault: connection dropped");
        }
        Ok(()) | Err(End::Closed) => {
            tracing::debug!(target: "inbound_test_server::imap", session = id, "session closed");
        }
    }
    if !matches!(end, Err(End::Fault(_))) {
        session.wire.close().await;
    }
}

/// A session's state.
pub(super) struct Session {
    pub(super) ctx: ImapContext,
    pub(super) faults: Faults,
    pub(super) wire: Wire,
    /// The logged-in user.
    pub(super) user: Option<String>,
    /// The selected folder.
    pub(super) view: Option<FolderView>,
    /// A FETCH completed (for the drop-between-FETCH-and-STORE fault).
    pub(super) fetched: bool,
    /// Commands received so far (for faults from the Nth command on).
    commands: u32,
    /// Completes when the server shuts down. Made once per session, so that waiting does
    /// not register with the channel every session shares again on every wake-up.
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// `shutdown` completed.
    stopping: bool,
    /// Fires at or before the auto-logout deadline; re-armed only when it fires early
    /// (not on every wake-up).
    logout_timer: Pin<Box<Sleep>>,
    /// When the current wait for the client began (auto-logout counts from there).
    waiting_since: Instant,
}

/// A text for a response (CR, LF and NUL replaced).
pub(super) fn text(s: &str) -> Text {
    let clean: String = s
        .chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\0') {
                ' '
            } else {
                c
            }
        })
        .collect();
    Text::try_from(clean.as_str()).unwrap_or_default()
}

/// Completes once the server says stop (never, without a shutdown channel).
fn shutdown_signal(rx: Option<watch::Receiver<bool>>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        match rx {
            Some(mut rx) => {
                if rx.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    })
}

async fn view_changed(view: Option<&FolderView>) {
    match view {
        Some(v) => v.changed().await,
        None => std::future::pending().await,
    }
}

/// Pieces of a received frame: protocol lines and literal sizes.
enum Piece<'a> {
    Line(&'a [u8]),
    Literal(usize),
}

/// The length of a literal announced at the end of `line` (`{n}`, `{n+}`, `~{n}`).
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn pieces(frame: &[u8]) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < frame.len() {
        let end = frame[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(frame.len(), |p| i + p + 1);
        let line = &frame[i..end];
        out.push(Piece::Line(line));
        i = end;
        if let Some(n) = literal_len(line.strip_suffix(b"\n").unwrap_or(line)) {
            let n = n.min(frame.len() - i);
            out.push(Piece::Literal(n));
            i += n;
        }
    }
    out
}

/// Whether a line of `frame` announces a non-synchronizing literal (`{n+}`, LITERAL+).
fn has_non_sync_literal(frame: &[u8]) -> bool {
    pieces(frame).iter().any(|p| match p {
        Piece::Line(line) => {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.ends_with(b"+}") && literal_len(line).is_some()
        }
        Piece::Literal(_) => false,
    })
}

/// The capability a command needs, when hiding it makes the command unknown.
fn needed_capability(body: &CommandBody) -> Option<&'static str> {
    use CommandBody as C;
    Some(match body {
        C::StartTls => "STARTTLS",
        C::Move { .. } => "MOVE",
        C::UidExpunge { .. } => "UIDPLUS",
        C::Idle => "IDLE",
        C::Id { .. } => "ID",
        C::Enable { .. } => "ENABLE",
        C::Unselect => "UNSELECT",
        C::Search {
            return_options: Some(_),
            ..
        } => "ESEARCH",
        C::Authenticate {
            initial_response: Some(_),
            ..
        } => "SASL-IR",
        _ => return None,
    })
}

fn leading_tag(frame: &[u8]) -> Option<Tag> {
    let n = frame.iter().take(64).position(|&b| b == b' ')?;
    Tag::new(bytes::Bytes::copy_from_slice(&frame[..n])).ok()
}

impl Session {
    fn quirks(&self) -> CodecQuirks {
        CodecQuirks::default()
    }

    // ---- output helpers ----

    pub(super) fn data(&mut self, data: Data) {
        self.wire.push(&Response::Data(data));
    }

    pub(super) fn untagged(&mut self, kind: StatusKind, code: Option<Code>, msg: &str) {
        self.wire
            .push(&Response::Status(Status::Untagged(StatusBody {
                kind,
                code,
                text: text(msg),
            })));
    }

    pub(super) fn tagged(&mut self, tag: &Tag, kind: StatusKind, code: Option<Code>, msg: &str) {
        self.wire.push(&Response::Status(Status::Tagged {
            tag: tag.clone(),
            body: StatusBody {
                kind,
                code,
                text: text(msg),
            },
        }));
    }

    pub(super) fn ok(&mut self, tag: &Tag, code: Option<Code>, msg: &str) {
        self.tagged(tag, StatusKind::Ok, code, msg);
    }

    pub(super) fn no(&mut self, tag: &Tag, code: Option<Code>, msg: &str) {
        self.tagged(tag, StatusKind::No, code, msg);
    }

    pub(super) fn bad(&mut self, tag: &Tag, msg: &str) {
        self.tagged(tag, StatusKind::Bad, None, msg);
    }

    fn bye(&mut self, msg: &str) {
        self.wire.push(&Response::Status(Status::Bye {
            code: None,
            text: text(msg),
        }));
    }

    /// Drops the connection at a fault point (after `* BYE` when configured).
    pub(super) async fn drop_now(&mut self, point: &'static str) -> Res<()> {
        if let Some(msg) = self.faults.bye_before_drop.clone() {
            self.bye(&msg);
            let _ = self.wire.flush().await;
        }
        self.wire.abort();
        Err(End::Fault(point))
    }

    pub(super) fn drop_at(&self, point: DropPoint) -> bool {
        self.faults.drop_at == Some(point)
    }

    /// Tells the client what changed in the selected folder (expunges only if allowed).
    pub(super) fn report_events(&mut self, allow_expunge: bool) -> Res<()> {
        let Some(view) = self.view.as_mut() else {
            return Ok(());
        };
        for event in view.poll(allow_expunge) {
            match event {
                ViewEvent::Exists(n) => self.data(Data::Exists(n)),
                ViewEvent::Expunge(n) => {
                    if let Some(n) = NonZeroU32::new(n) {
                        self.data(Data::Expunge(n));
                    }
                }
                ViewEvent::Flags(update) => {
                    if let (Some(seq), Some(uid)) =
                        (NonZeroU32::new(update.seq), NonZeroU32::new(update.uid))
                    {
                        use inbound_imap_codec::types::MessageDataItem as I;
                        self.data(Data::Fetch {
                            seq,
                            items: vec![I::Flags(wire_flags(&update.flags)), I::Uid(uid)],
                        });
                    }
                }
                ViewEvent::FolderDeleted => {
                    self.view = None;
                    self.bye("The selected mailbox was deleted.");
                    return Err(End::Closed);
                }
            }
        }
        Ok(())
    }

    // ---- state ----

    fn login_disabled(&self) -> bool {
        self.ctx.login_disabled_before_tls && !self.wire.is_tls()
    }

    /// The capabilities to advertise now (hidden ones left out).
    pub(super) fn capabilities(&self) -> Vec<Capability> {
        let mut caps = self.all_capabilities();
        caps.retain(|c| !self.ctx.hides(&c.name()));
        caps
    }

    /// Whether UIDPLUS is on (APPENDUID/COPYUID codes, UID EXPUNGE).
    pub(super) fn uidplus(&self) -> bool {
        !self.ctx.hides("UIDPLUS")
    }

    fn all_capabilities(&self) -> Vec<Capability> {
        let mut caps = vec![Capability::Imap4Rev1, Capability::LiteralPlus];
        if self.user.is_none() {
            if !self.wire.is_tls() && self.ctx.acceptor.is_some() {
                caps.push(Capability::StartTls);
            }
            if self.login_disabled() {
                caps.push(Capability::LoginDisabled);
            } else {
                caps.push(Capability::SaslIr);
                for m in [
                    AuthMechanism::Plain,
                    AuthMechanism::Login,
                    AuthMechanism::XOAuth2,
                    AuthMechanism::OAuthBearer,
                ] {
                    caps.push(Capability::Auth(m));
                }
            }
        }
        caps.extend([
            Capability::Id,
            Capability::Enable,
            Capability::Idle,
            Capability::Move,
            Capability::UidPlus,
            Capability::ESearch,
        ]);
        if let Ok(c) = Capability::try_from("UNSELECT") {
            caps.push(c);
        }
        caps
    }

    fn logged_in(&mut self, user: String) {
        tracing::debug!(target: "inbound_test_server::imap", user, "logged in");
        self.user = Some(user);
    }

    // ---- the loop ----

    async fn serve(&mut self) -> Res<()> {
        self.greet().await?;
        loop {
            let event = self.next_event().await?;
            match event {
                FramerEvent::Message(frame) => self.handle_frame(frame).await?,
                FramerEvent::ContinuationRequired { .. } => {
                    self.wire.push(&Response::Continue(Continue::text(text(
                        "Ready for literal data",
                    ))));
                    self.wire.flush().await?;
                }
                FramerEvent::Error(e) => {
                    self.frame_error(&e);
                    self.wire.flush().await?;
                }
            }
        }
    }

    async fn greet(&mut self) -> Res<()> {
        let preauth_user = if self.faults.preauth {
            self.ctx.store.users().into_iter().next()
        } else {
            None
        };
        let (kind, msg) = match preauth_user {
            Some(user) => {
                let msg = format!("Logged in as {user}.");
                self.logged_in(user);
                (GreetingKind::PreAuth, msg)
            }
            None => (
                GreetingKind::Ok,
                format!("{} Inbound test server ready.", self.ctx.hostname),
            ),
        };
        let greeting = Greeting {
            kind,
            code: Some(Code::Capability(self.capabilities())),
            text: text(&msg),
        };
        let bytes = greeting.encode();
        self.wire.push_raw(&bytes);
        self.wire.flush().await?;
        if self.drop_at(DropPoint::AfterGreeting) {
            return self.drop_now("after greeting").await;
        }
        Ok(())
    }

    /// The next framer event, reading as needed; ends the session on EOF, auto-logout or
    /// shutdown.
    pub(super) async fn next_event(&mut self) -> Res<FramerEvent> {
        loop {
            if let Some(event) = self.wire.next_event() {
                return Ok(event);
            }
            self.wait(false).await?;
        }
    }

    /// Waits for client bytes (read into the framer) or, with `watch_view`, a change of
    /// the selected folder; ends the session on EOF, auto-logout or shutdown.
    async fn wait(&mut self, watch_view: bool) -> Res<Woke> {
        let auto_logout = self.ctx.auto_logout;
        self.waiting_since = Instant::now();
        loop {
            if self.stopping {
                self.bye("Server shutting down.");
                return Err(End::Closed);
            }
            let view = self.view.as_ref().filter(|_| watch_view);
            tokio::select! {
                read = self.wire.read_more() => return match read {
                    Ok(true) => Ok(Woke::Input),
                    Ok(false) => Err(End::Closed),
                    Err(e) => Err(End::Io(e)),
                },
                () = view_changed(view) => return Ok(Woke::ViewChanged),
                () = self.logout_timer.as_mut() => {
                    let due = self.waiting_since + auto_logout;
                    if Instant::now() >= due {
                        self.bye("Autologout; idle for too long.");
                        return Err(End::Closed);
                    }
                    // Armed for an earlier wait: aim at this one's deadline.
                    self.logout_timer.as_mut().reset(due);
                }
                () = self.shutdown.as_mut(), if !self.stopping => self.stopping = true,
            }
        }
    }

    /// The next whole frame (for AUTHENTICATE lines and DONE).
    async fn next_frame(&mut self) -> Res<Result<Frame, FrameError>> {
        loop {
            match self.next_event().await? {
                FramerEvent::Message(f) => return Ok(Ok(f)),
                FramerEvent::Error(e) => return Ok(Err(e)),
                FramerEvent::ContinuationRequired { .. } => {
                    // Not expected here; the literal arrives and the frame fails to parse.
                    self.wire
                        .push(&Response::Continue(Continue::text(text("Ready"))));
                    self.wire.flush().await?;
                }
            }
        }
    }

    fn log_client(&mut self, frame: &[u8]) {
        for piece in pieces(frame) {
            match piece {
                Piece::Line(line) => self.wire.transcript.client(line),
                Piece::Literal(n) => self
                    .wire
                    .transcript
                    .client(format!("<{n} bytes>").as_bytes()),
            }
        }
    }

    fn frame_error(&mut self, e: &FrameError) {
        match e {
            FrameError::LineTooLong { .. } => {
                self.untagged(StatusKind::Bad, None, "Command line too long.");
            }
            FrameError::MessageTooLarge {
                tag,
                literal_follows,
                ..
            } => {
                let msg = "Command too large.";
                match tag {
                    Some(tag) => {
                        let tag = tag.clone();
                        self.no(&tag, Some(toobig()), msg);
                    }
                    None => self.untagged(StatusKind::Bad, None, msg),
                }
                if !literal_follows {
                    self.wire.discard_pending();
                }
            }
        }
    }

    async fn handle_frame(&mut self, frame: Frame) -> Res<()> {
        self.log_client(frame.as_bytes());
        if let Some(limit) = self.faults.max_command_len {
            let too_long = pieces(frame.as_bytes())
                .iter()
                .any(|p| matches!(p, Piece::Line(l) if l.len() > limit));
            if too_long {
                match leading_tag(frame.as_bytes()) {
                    Some(tag) => self.bad(&tag, "Error in IMAP command: line too long."),
                    None => self.untagged(StatusKind::Bad, None, "Line too long."),
                }
                return Ok(self.wire.flush().await?);
            }
        }
        if self.ctx.hides("LITERAL+") && has_non_sync_literal(frame.as_bytes()) {
            // What a server without LITERAL+ does with `{n+}`: a syntax error (the literal
            // the client sent along is discarded with the command here).
            match leading_tag(frame.as_bytes()) {
                Some(tag) => self.bad(
                    &tag,
                    "Error in IMAP command: non-synchronizing literals are not supported.",
                ),
                None => self.untagged(StatusKind::Bad, None, "Error in IMAP command."),
            }
            return Ok(self.wire.flush().await?);
        }
        match decode_command(&frame, self.quirks()) {
            Ok(command) => self.command(command).await,
            Err(e) => {
                let msg = match &e {
                    DecodeError::Invalid { expected, .. } => {
                        format!("Error in IMAP command: expected {expected}.")
                    }
                    other => format!("Error in IMAP command: {other}."),
                };
                match e.tag().cloned() {
                    Some(tag) => self.bad(&tag, &msg),
                    None => self.untagged(StatusKind::Bad, None, &msg),
                }
                Ok(self.wire.flush().await?)
            }
        }
    }

    async fn command(&mut self, command: Command) -> Res<()> {
        let Command { tag, body } = command;
        let name = body.name();
        self.commands = self.commands.saturating_add(1);
        if let Some(hold) = self.faults.hold_for(name, self.commands) {
            self.hold(hold).await?;
        }
        if let Some(interval) = self.faults.dribble_for(name) {
            tracing::debug!(target: "inbound_test_server::imap", command = name, ?interval, "fault: dribbling answers");
            self.wire.start_dribble(interval);
        }
        if self.faults.floods(name) {
            return self.flood_untagged().await;
        }
        if matches!(body, CommandBody::Store { .. })
            && self.fetched
            && self.drop_at(DropPoint::BetweenFetchAndStore)
        {
            return self.drop_now("between FETCH and STORE").await;
        }
        if let Some((refusal, msg)) = self.faults.take_command_fault(name) {
            let msg = msg.unwrap_or_else(|| format!("{name} refused (fault injected)."));
            match refusal {
                Refusal::No => self.no(&tag, None, &msg),
                Refusal::Bad => self.bad(&tag, &msg),
            }
            return Ok(self.wire.flush().await?);
        }
        if let Some(needed) = needed_capability(&body).filter(|c| self.ctx.hides(c)) {
            tracing::debug!(target: "inbound_test_server::imap", command = name, capability = needed, "hidden capability");
            self.bad(
                &tag,
                &format!("Error in IMAP command {name}: unknown command."),
            );
            return Ok(self.wire.flush().await?);
        }
        let authenticated = self.user.is_some();
        let selected = self.view.is_some();
        use CommandBody as C;
        let allowed = match &body {
            C::Capability | C::Noop | C::Logout | C::Id { .. } => true,
            C::StartTls | C::Login { .. } | C::Authenticate { .. } => !authenticated,
            C::Check
            | C::Close
            | C::Unselect
            | C::Expunge
            | C::UidExpunge { .. }
            | C::Search { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. } => selected,
            _ => authenticated,
        };
        if !allowed {
            let msg = if authenticated && !selected {
                "No mailbox selected."
            } else if authenticated {
                "Already authenticated."
            } else {
                "Not authenticated."
            };
            self.bad(&tag, msg);
            return Ok(self.wire.flush().await?);
        }
        if matches!(body, C::Login { .. } | C::Authenticate { .. }) {
            if let Some(answer) = self.faults.login_throttle {
                return self.throttle_login(&tag, answer).await;
            }
        }
        match body {
            C::Capability => {
                let caps = self.capabilities();
                self.data(Data::Capability(caps));
                self.report_events(true)?;
                self.ok(&tag, None, "Capability completed.");
            }
            C::Noop | C::Check => {
                self.report_events(true)?;
                self.ok(&tag, None, &format!("{name} completed."));
            }
            C::Logout => {
                self.bye("Logging out.");
                self.ok(&tag, None, "Logout completed.");
                self.wire.flush().await?;
                return Err(End::Closed);
            }
            C::Id { .. } => {
                self.data(Data::Id(Some(vec![
                    (
                        IString::from("name"),
                        Some(IString::from("inbound-test-server")),
                    ),
                    (IString::from("vendor"), Some(IString::from("Inbound"))),
                ])));
                self.ok(&tag, None, "ID completed.");
            }
            C::Enable { .. } => {
                self.data(Data::Enabled(Vec::new()));
                self.ok(&tag, None, "Enabled.");
            }
            C::StartTls => return self.starttls(&tag).await,
            C::Login { username, password } => {
                if self.login_disabled() {
                    self.no(
                        &tag,
                        Some(privacy_required()),
                        "Plaintext authentication disallowed on non-secure connections.",
                    );
                } else {
                    let user = username.to_string_lossy().into_owned();
                    let pw = password.expose().to_string_lossy().into_owned();
                    if self.ctx.store.check_password(&user, &pw) {
                        self.logged_in(user);
                        let caps = self.capabilities();
                        self.ok(&tag, Some(Code::Capability(caps)), "Logged in");
                    } else {
                        self.no(&tag, Some(auth_failed()), "Authentication failed.");
                    }
                }
            }
            C::Authenticate {
                mechanism,
                initial_response,
            } => {
                let ir = initial_response.map(|s| s.into_inner());
                self.authenticate(&tag, mechanism, ir).await?;
            }
            C::Idle => return self.idle(&tag).await,
            other => return self.mail_command(tag, other).await,
        }
        Ok(self.wire.flush().await?)
    }

    /// Answers a login with a server's throttling answer (a fault); closes the connection
    /// after Gmail's `BYE`.
    async fn throttle_login(&mut self, tag: &Tag, answer: ThrottleAnswer) -> Res<()> {
        tracing::debug!(target: "inbound_test_server::imap", ?answer, "fault: login throttled");
        let msg = answer.text();
        match answer {
            ThrottleAnswer::GmailBye => {
                self.wire.push(&Response::Status(Status::Bye {
                    code: Some(Code::Alert),
                    text: text(&msg),
                }));
                self.wire.flush().await?;
                return Err(End::Closed);
            }
            ThrottleAnswer::GmailNo => self.no(tag, Some(Code::Alert), &msg),
            ThrottleAnswer::M365Backoff { .. } | ThrottleAnswer::M365NotConnected => {
                self.no(tag, None, &msg);
            }
            ThrottleAnswer::InUse => self.no(tag, Some(unavailable()), &msg),
        }
        Ok(self.wire.flush().await?)
    }

    /// Answers the current command with `* 1 EXISTS` until the client goes away (a fault);
    /// the transcript records the first line only.
    async fn flood_untagged(&mut self) -> Res<()> {
        tracing::debug!(target: "inbound_test_server::imap", "fault: flooding untagged responses");
        self.data(Data::Exists(1));
        self.wire.flush().await?;
        let batch = b"* 1 EXISTS\r\n".repeat(1024);
        loop {
            self.wire.write_raw(&batch).await?;
        }
    }

    /// Holds the answer to the current command back (a fault): for a while (shutdown cuts
    /// it short), or until the session ends.
    async fn hold(&mut self, hold: Hold) -> Res<()> {
        match hold {
            Hold::For(delay) => {
                tracing::debug!(target: "inbound_test_server::imap", ?delay, "fault: answer held back");
                tokio::select! {
                    () = tokio::time::sleep(delay) => Ok(()),
                    () = self.shutdown.as_mut(), if !self.stopping => {
                        self.stopping = true;
                        self.bye("Server shutting down.");
                        Err(End::Closed)
                    }
                }
            }
            Hold::Forever => {
                tracing::debug!(target: "inbound_test_server::imap", "fault: answer withheld");
                loop {
                    // Returns only with an error: EOF, auto-logout or shutdown.
                    self.wait(false).await?;
                }
            }
        }
    }

    async fn starttls(&mut self, tag: &Tag) -> Res<()> {
        let Some(acceptor) = self.ctx.acceptor.clone() else {
            self.bad(tag, "STARTTLS is not available.");
            return Ok(self.wire.flush().await?);
        };
        if self.wire.is_tls() {
            self.bad(tag, "TLS is already active.");
            return Ok(self.wire.flush().await?);
        }
        self.ok(tag, None, "Begin TLS negotiation now.");
        if let Some(injected) = self.faults.starttls_injection.clone() {
            self.wire.push_raw(&injected);
        }
        self.wire.flush().await?;
        self.wire.start_tls(&acceptor).await?;
        Ok(())
    }

    /// Sends a SASL challenge and reads the answer; `None` when the client cancelled (the
    /// BAD is already queued).
    async fn challenge(&mut self, tag: &Tag, data: &[u8]) -> Res<Option<Vec<u8>>> {
        self.wire.push(&Response::Continue(Continue::base64(data)));
        self.wire.flush().await?;
        let frame = match self.next_frame().await? {
            Ok(f) => f,
            Err(e) => {
                self.frame_error(&e);
                self.bad(tag, "Authentication aborted.");
                return Ok(None);
            }
        };
        self.log_client(frame.as_bytes());
        match decode_authenticate_data(&frame, self.quirks()) {
            Ok(AuthenticateData::Continue(data)) => Ok(Some(data.into_inner())),
            Ok(AuthenticateData::Cancel) => {
                self.bad(tag, "Authentication aborted by client.");
                Ok(None)
            }
            Err(_) => {
                self.bad(tag, "Invalid base64 data in continued response.");
                Ok(None)
            }
        }
    }

    async fn authenticate(
        &mut self,
        tag: &Tag,
        mechanism: AuthMechanism,
        ir: Option<Vec<u8>>,
    ) -> Res<()> {
        if self.login_disabled() {
            self.no(
                tag,
                Some(privacy_required()),
                "Authentication disallowed on non-secure connections.",
            );
            return Ok(());
        }
        if self.ctx.hides(&Capability::Auth(mechanism.clone()).name()) {
            self.no(tag, None, "Unsupported authentication mechanism.");
            return Ok(());
        }
        let bearer = matches!(
            mechanism,
            AuthMechanism::XOAuth2 | AuthMechanism::OAuthBearer
        );
        let first = match (&mechanism, ir) {
            (AuthMechanism::Other(_), _) => {
                self.no(tag, None, "Unsupported authentication mechanism.");
                return Ok(());
            }
            (AuthMechanism::Login, ir) => {
                let user = match ir {
                    Some(u) => u,
                    None => match self.challenge(tag, b"Username:").await? {
                        Some(u) => u,
                        None => return Ok(()),
                    },
                };
                let Some(password) = self.challenge(tag, b"Password:").await? else {
                    return Ok(());
                };
                let mut data = vec![0];
                data.extend_from_slice(&user);
                data.push(0);
                data.extend_from_slice(&password);
                data
            }
            (_, Some(ir)) => ir,
            (_, None) => match self.challenge(tag, b"").await? {
                Some(d) => d,
                None => return Ok(()),
            },
        };
        let user = match mechanism {
            AuthMechanism::Plain | AuthMechanism::Login => {
                sasl::check_plain(&self.ctx.store, &first)
            }
            AuthMechanism::XOAuth2 => {
                sasl::parse_xoauth2(&first).and_then(|c| self.check_bearer(&c))
            }
            _ => sasl::parse_oauthbearer(&first).and_then(|c| self.check_bearer(&c)),
        };
        match user {
            Some(user) => {
                self.logged_in(user);
                let caps = self.capabilities();
                self.ok(tag, Some(Code::Capability(caps)), "Logged in");
            }
            None if bearer => {
                // Like Exchange and Gmail: an error challenge, the client's dummy answer,
                // then the failure.
                if self
                    .challenge(tag, BEARER_ERROR_JSON.as_bytes())
                    .await?
                    .is_some()
                {
                    self.no(tag, Some(auth_failed()), "AUTHENTICATE failed.");
                }
            }
            None => self.no(tag, Some(auth_failed()), "Authentication failed."),
        }
        Ok(())
    }

    /// The user a bearer token logs in as: one the token is good for, with a mailbox here.
    fn check_bearer(&self, credentials: &BearerCredentials) -> Option<String> {
        let user = credentials.check(&self.ctx.registry).ok()?;
        self.ctx.store.password(&user).map(|_| user)
    }

    async fn idle(&mut self, tag: &Tag) -> Res<()> {
        self.report_events(true)?;
        self.wire
            .push(&Response::Continue(Continue::text(text("idling"))));
        self.wire.flush().await?;
        if self.drop_at(DropPoint::DuringIdle) {
            return self.drop_now("during IDLE").await;
        }
        if self.faults.blackhole == Some(Blackhole::AfterIdleAccepted) {
            self.wire.go_silent();
        }
        loop {
            if let Some(event) = self.wire.next_event() {
                let frame = match event {
                    FramerEvent::Message(f) => f,
                    FramerEvent::ContinuationRequired { .. } | FramerEvent::Error(_) => {
                        self.bad(tag, "Expected DONE.");
                        return Ok(self.wire.flush().await?);
                    }
                };
                self.log_client(frame.as_bytes());
                if decode_idle_done(&frame, self.quirks()).is_ok() {
                    if let Some(hold) = self.faults.hold_for_done() {
                        self.hold(hold).await?;
                    }
                    self.report_events(true)?;
                    self.ok(tag, None, "Idle completed.");
                } else {
                    self.bad(tag, "Expected DONE.");
                }
                return Ok(self.wire.flush().await?);
            }
            if let Woke::ViewChanged = self.wait(true).await? {
                self.report_events(true)?;
                self.wire.flush().await?;
            }
        }
    }
}

fn atom_code(name: &str) -> Code {
    match inbound_imap_codec::types::Atom::try_from(name) {
        Ok(name) => Code::Other { name, value: None },
        Err(_) => Code::Parse,
    }
}

pub(super) fn auth_failed() -> Code {
    atom_code("AUTHENTICATIONFAILED")
}

fn unavailable() -> Code {
    atom_code("UNAVAILABLE")
}

fn privacy_required() -> Code {
    atom_code("PRIVACYREQUIRED")
}

fn toobig() -> Code {
    atom_code("TOOBIG")
}

pub(super) fn named_code(name: &str) -> Code {
    atom_code(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpStream;

    use crate::server::{ServerConfig, TestServer};

    type Lines = tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>;

    async fn line(lines: &mut Lines) -> String {
        tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .expect("a line within 5 s")
            .unwrap()
            .unwrap_or_default()
    }

    /// Logs in, selects INBOX and starts IDLE; returns the reader and writer.
    async fn idling(server: &TestServer) -> (Lines, tokio::net::tcp::OwnedWriteHalf) {
        let tcp = TcpStream::connect(server.imap_addr()).await.unwrap();
        let (read, mut write) = tcp.into_split();
        let mut lines = BufReader::new(read).lines();
        assert!(line(&mut lines).await.starts_with("* OK"));
        write
            .write_all(b"a LOGIN u pw\r\nb SELECT INBOX\r\nc IDLE\r\n")
            .await
            .unwrap();
        while !line(&mut lines).await.starts_with("+ ") {}
        (lines, write)
    }

    #[tokio::test]
    async fn idle_reports_every_delivery_and_auto_logout_counts_from_the_last_wake() {
        let config = ServerConfig::default()
            .seed_sample(false)
            .user("u", "pw")
            .auto_logout(Duration::from_millis(400));
        let store = config.store.clone();
        let server = TestServer::start(config).await.unwrap();
        let (mut lines, _write) = idling(&server).await;
        let started = tokio::time::Instant::now();
        // Deliveries 250 ms apart: each wakes the session before the 400 ms run out.
        for n in 1..=4 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            store.deliver("u", "INBOX", "Subject: x\r\n\r\n").unwrap();
            assert_eq!(line(&mut lines).await, format!("* {n} EXISTS"));
        }
        assert!(started.elapsed() >= Duration::from_millis(1000));
        // Then nothing: the session is logged out about 400 ms later.
        let quiet = tokio::time::Instant::now();
        let bye = line(&mut lines).await;
        let waited = quiet.elapsed();
        assert!(bye.starts_with("* BYE Autologout"), "{bye}");
        assert!(
            waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_ends_idle_sessions_with_bye() {
        let config = ServerConfig::default().seed_sample(false).user("u", "pw");
        let server = TestServer::start(config).await.unwrap();
        let (mut lines, _write) = idling(&server).await;
        let (mut lines2, _write2) = idling(&server).await;
        let stop = tokio::spawn(server.shutdown());
        assert!(
            line(&mut lines)
                .await
                .starts_with("* BYE Server shutting down")
        );
        assert!(
            line(&mut lines2)
                .await
                .starts_with("* BYE Server shutting down")
        );
        stop.await.unwrap();
    }
}
