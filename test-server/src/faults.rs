//! Fault injection and server-quirk settings for the fake servers: what to break, when, and
//! for which sessions. Data only, plus [`FaultyStream`], a wrapper that writes in small
//! chunks, delays writes, or cuts the connection after N bytes. Besides write faults: drops
//! at protocol points, refused commands, answers held back for some commands
//! ([`SlowAnswer`]), logins answered with a server's throttling answer ([`ThrottleAnswer`]),
//! and imitated server quirks. (Capabilities an IMAP server hides are a
//! server setting: `ServerConfig::hide_capability`.)
//!
//! Tests set a default for every session and queue [`FaultPlan`]s for the next sessions, at
//! run time, through a shared [`FaultControl`]:
//!
//! ```
//! use inbound_test_server::faults::{DropPoint, FaultControl, FaultPlan, Faults};
//!
//! let control = FaultControl::new();
//! control.push_plan(FaultPlan::new(Faults { drop_at: Some(DropPoint::AfterGreeting), ..Faults::default() }, 1));
//! assert_eq!(control.next_session().drop_at, Some(DropPoint::AfterGreeting)); // first session
//! assert_eq!(control.next_session().drop_at, None); // later sessions get the default
//! ```

use std::collections::VecDeque;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Where a session drops its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropPoint {
    /// Right after the greeting.
    AfterGreeting,
    /// After writing this many bytes in total.
    AfterBytes(usize),
    /// In the middle of a FETCH literal (half of it written).
    MidFetchLiteral,
    /// After a FETCH completed, before the next STORE is answered.
    BetweenFetchAndStore,
    /// While the client idles (after `+ idling`).
    DuringIdle,
    /// After a MOVE or EXPUNGE (or POP3 QUIT) took effect, before its OK is written.
    BeforeMoveOrExpungeOk,
}

/// When a session falls silent for good: what a NAT box, load balancer or dead server does
/// when it drops a connection without a FIN or RST. From then on nothing is written (the
/// session's answers are swallowed) and nothing the client sends reaches the session, but
/// the socket stays open until the client closes it or the server shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blackhole {
    /// Once IDLE was accepted (right after `+ idling` was written; IMAP only).
    AfterIdleAccepted,
    /// After writing this many bytes in total (on the current layer: counting starts again
    /// after STARTTLS/STLS, like [`DropPoint::AfterBytes`]).
    AfterBytes(usize),
}

/// A refusal to answer instead of the real result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `NO` (IMAP) / `-ERR` (POP3).
    No,
    /// `BAD` (IMAP; POP3 has only `-ERR`).
    Bad,
}

/// Answer a command with a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFault {
    /// The command name, matched case-insensitively (`FETCH`, `UID FETCH`, `RETR`, ...).
    pub command: String,
    /// NO or BAD.
    pub refusal: Refusal,
    /// The text after the status; a default when `None`.
    pub text: Option<String>,
    /// How many times to refuse; `None` for always.
    pub times: Option<u32>,
}

impl CommandFault {
    /// Whether this fault applies to `command` (case-insensitive).
    pub fn matches(&self, command: &str) -> bool {
        self.command.eq_ignore_ascii_case(command)
    }
}

/// Which commands a [`SlowAnswer`] holds back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlowCommands {
    /// Every command with this name, matched case-insensitively (`UID FETCH`, `SELECT`, ...).
    /// `DONE`, which ends an IMAP IDLE, can be named here: holding it back delays IDLE's
    /// tagged completion (a server slow to answer `DONE`).
    Named(String),
    /// The Nth command of the session (1: the first one) and every command after it.
    FromNth(u32),
}

/// How long a [`SlowAnswer`] holds an answer back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// This long; then the command runs and is answered as usual.
    For(Duration),
    /// For good: the command never runs and is never answered; the session only waits for
    /// the client to leave (or for auto-logout or shutdown).
    Forever,
}

/// Hold back the answer to some commands (IMAP and POP3), unlike [`Faults::delay`],
/// which slows every write from the greeting on. The hold comes before the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowAnswer {
    /// Which commands.
    pub commands: SlowCommands,
    /// How long.
    pub hold: Hold,
}

impl SlowAnswer {
    /// Holds back the answer to every command named `command` (case-insensitive).
    pub fn named(command: &str, hold: Hold) -> Self {
        Self {
            commands: SlowCommands::Named(command.to_owned()),
            hold,
        }
    }

    /// Holds back the answer to the `nth` command of the session (counted from 1) and to
    /// every later one.
    pub fn from_nth(nth: u32, hold: Hold) -> Self {
        Self {
            commands: SlowCommands::FromNth(nth),
            hold,
        }
    }

    /// Whether this applies to `command`, the `nth` command of its session (from 1).
    pub fn matches(&self, command: &str, nth: u32) -> bool {
        match &self.commands {
            SlowCommands::Named(name) => name.eq_ignore_ascii_case(command),
            SlowCommands::FromNth(from) => nth >= *from,
        }
    }
}

/// Answers to some command, and everything after them, written one byte at a time with a
/// pause before each byte: a server that keeps the connection alive without ever falling
/// silent for a whole timeout, yet never finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dribble {
    /// The command from whose answer on the session dribbles, matched case-insensitively
    /// (`UID FETCH`, `RETR`, ...).
    pub command: String,
    /// The pause before each byte.
    pub interval: Duration,
}

impl Dribble {
    /// Dribbles from the answer to `command` on, one byte every `interval`.
    pub fn from_command(command: &str, interval: Duration) -> Self {
        Self {
            command: command.to_owned(),
            interval,
        }
    }

    /// Whether this applies to `command` (case-insensitive).
    pub fn matches(&self, command: &str) -> bool {
        self.command.eq_ignore_ascii_case(command)
    }
}

/// A throttling answer given to a login instead of logging the client in (see
/// [`Faults::login_throttle`]): IMAP `LOGIN`/`AUTHENTICATE`, POP3 `PASS`/`AUTH`/`APOP`.
/// Texts as the real servers send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleAnswer {
    /// Gmail, then the connection is closed: IMAP
    /// `* BYE [ALERT] Too many simultaneous connections. (Failure)`, POP3
    /// `-ERR [SYS/TEMP] Too many simultaneous connections. (Failure)`.
    GmailBye,
    /// Gmail: IMAP `tag NO [ALERT] Too many simultaneous connections. (Failure)`, POP3
    /// `-ERR Too many simultaneous connections. (Failure)`.
    GmailNo,
    /// Microsoft 365: `NO` / `-ERR` `Request is throttled. Suggested Backoff Time: N
    /// milliseconds`.
    M365Backoff {
        /// The suggested wait, N.
        millis: u64,
    },
    /// Microsoft 365 (its answer when the mailbox back end is busy): `NO` / `-ERR`
    /// `User is authenticated but not connected.`
    M365NotConnected,
    /// POP3 `-ERR [IN-USE] Mailbox locked by another session.` (RFC 2449); IMAP
    /// `NO [UNAVAILABLE] Mailbox in use by another session.` (RFC 5530).
    InUse,
}

impl ThrottleAnswer {
    /// The answer's text (after the status and any response code).
    pub fn text(self) -> String {
        match self {
            Self::GmailBye | Self::GmailNo => "Too many simultaneous connections. (Failure)".into(),
            Self::M365Backoff { millis } => {
                format!("Request is throttled. Suggested Backoff Time: {millis} milliseconds")
            }
            Self::M365NotConnected => "User is authenticated but not connected.".into(),
            Self::InUse => "Mailbox in use by another session.".into(),
        }
    }
}

impl std::str::FromStr for ThrottleAnswer {
    type Err = String;

    /// `gmail-bye`, `gmail-no`, `m365-backoff=MILLIS`, `m365-not-connected`, `in-use`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "{value:?}: expected gmail-bye, gmail-no, m365-backoff=MILLIS, \
                 m365-not-connected or in-use"
            )
        };
        Ok(match value.split_once('=') {
            None => match value {
                "gmail-bye" => Self::GmailBye,
                "gmail-no" => Self::GmailNo,
                "m365-not-connected" => Self::M365NotConnected,
                "in-use" => Self::InUse,
                _ => return Err(usage()),
            },
            Some(("m365-backoff", millis)) => Self::M365Backoff {
                millis: millis.parse().map_err(|_| usage())?,
            },
            Some(_) => return Err(usage()),
        })
    }
}

/// Imitations of real servers' deviations from the RFCs (see shared REFERENCES.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Exchange: a trailing space in untagged STATUS and FLAGS responses.
    pub exchange_trailing_space: bool,
    /// Dovecot (some versions): body-fld-lines of `-1` in BODYSTRUCTURE.
    pub negative_body_lines: bool,
    /// Mail.ru: `("boundary" NIL)` in body parameters.
    pub nil_boundary_param: bool,
    /// Gmail: `* OK [HIGHESTMODSEQ n]` with no text after the code.
    pub gmail_modseq_no_text: bool,
    /// Keywords sent in lower case.
    pub lowercase_keywords: bool,
    /// iCloud: a space before `)` in flag lists.
    pub icloud_space_before_paren: bool,
}

/// Everything that can go wrong in one session. The default is a well-behaved server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Drop the connection at this point.
    pub drop_at: Option<DropPoint>,
    /// Send `* BYE <text>` (IMAP) just before dropping at `drop_at`.
    pub bye_before_drop: Option<String>,
    /// Wait this long before each write, the greeting's first (see `slow_answers` for
    /// holding back only some answers).
    pub delay: Option<Duration>,
    /// Answers held back, by command name or from the Nth command on; the first that
    /// matches applies.
    pub slow_answers: Vec<SlowAnswer>,
    /// Commands answered NO or BAD.
    pub command_faults: Vec<CommandFault>,
    /// Write the answers one byte per write.
    pub one_byte_writes: bool,
    /// Refuse command lines longer than this (like Exchange; Dovecot says `BAD ... Too long`).
    pub max_command_len: Option<usize>,
    /// Bytes sent in the same write right after the STARTTLS/STLS OK, in plain text (the
    /// STARTTLS command-injection attack in reverse; a client must discard them).
    pub starttls_injection: Option<Vec<u8>>,
    /// Greet with `* PREAUTH` instead of `* OK`.
    pub preauth: bool,
    /// Fall silent for good at this point (see [`Blackhole`]).
    pub blackhole: Option<Blackhole>,
    /// Server quirks to imitate.
    pub quirks: Quirks,
    /// Faults of single messages (by UID): refused, left out, sent incomplete.
    pub message_faults: Vec<MessageFault>,
    /// POP3: UIDLs are the message numbers (`1`, `2`, ...), like a server whose counter
    /// restarted after a rebuild, so a new message takes the UIDL of one deleted before.
    pub pop3_uidl_by_number: bool,
    /// IMAP: the command (by name, case-insensitive) whose answer is an endless stream of
    /// `* 1 EXISTS` (until the client leaves); the command itself never runs.
    pub untagged_flood: Option<String>,
    /// Dribble the answers from some command on (see [`Dribble`]).
    pub dribble: Option<Dribble>,
    /// POP3: the size `LIST` and `STAT` report for every message instead of the real one
    /// (`u64::MAX` for a server whose sizes would overflow a sum).
    pub pop3_listed_size: Option<u64>,
    /// Answer every login (IMAP `LOGIN`/`AUTHENTICATE`, POP3 `PASS`/`AUTH`/`APOP`) with
    /// this throttling answer instead of checking the credentials. For the next N
    /// connections: a [`FaultPlan`] of N sessions.
    pub login_throttle: Option<ThrottleAnswer>,
}

impl Faults {
    /// The refusal for `command`, if one applies; counts it down.
    pub fn take_command_fault(&mut self, command: &str) -> Option<(Refusal, Option<String>)> {
        let index = self
            .command_faults
            .iter()
            .position(|f| f.matches(command) && f.times != Some(0))?;
        let fault = &mut self.command_faults[index];
        if let Some(times) = fault.times.as_mut() {
            *times -= 1;
        }
        Some((fault.refusal, fault.text.clone()))
    }

    /// How long to hold back the answer to `command`, the `nth` command of the session
    /// (counted from 1); `None` to answer at once.
    pub fn hold_for(&self, command: &str, nth: u32) -> Option<Hold> {
        self.slow_answers
            .iter()
            .find(|s| s.matches(command, nth))
            .map(|s| s.hold)
    }

    /// The pause between bytes when the answer to `command` starts a [`Dribble`].
    pub fn dribble_for(&self, command: &str) -> Option<Duration> {
        self.dribble
            .as_ref()
            .filter(|d| d.matches(command))
            .map(|d| d.interval)
    }

    /// Whether the answer to `command` is an endless flood of untagged responses.
    pub fn floods(&self, command: &str) -> bool {
        self.untagged_flood
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(command))
    }

    /// How long to hold back IDLE's tagged completion after `DONE`: only a
    /// [`SlowAnswer`] naming `DONE` applies (`FromNth` counts commands, and `DONE` is not
    /// one).
    pub fn hold_for_done(&self) -> Option<Hold> {
        self.slow_answers
            .iter()
            .find(
                |s| matches!(&s.commands, SlowCommands::Named(n) if n.eq_ignore_ascii_case("DONE")),
            )
            .map(|s| s.hold)
    }

    /// A [`FaultyStream`] over `stream` applying this session's write faults
    /// (`one_byte_writes`, `delay`, `AfterBytes`, a blackhole after N bytes).
    pub fn wrap<S>(&self, stream: S) -> FaultyStream<S> {
        let cut = match self.drop_at {
            Some(DropPoint::AfterBytes(n)) => Some(n as u64),
            _ => None,
        };
        let silent_after = match self.blackhole {
            Some(Blackhole::AfterBytes(n)) => Some(n as u64),
            _ => None,
        };
        FaultyStream::new(stream)
            .chunk_size(self.one_byte_writes.then_some(1))
            .delay(self.delay)
            .cut_after(cut)
            .silent_after(silent_after)
    }
}

/// Faults for the next `sessions` sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    /// The faults.
    pub faults: Faults,
    /// How many sessions still get them.
    pub sessions: u32,
}

impl FaultPlan {
    /// `faults` for the next `sessions` sessions.
    pub fn new(faults: Faults, sessions: u32) -> Self {
        Self { faults, sessions }
    }
}

#[derive(Debug, Default)]
struct ControlState {
    default: Faults,
    plans: VecDeque<FaultPlan>,
    sessions: u64,
    /// When each session started, the latest [`MAX_SESSION_STARTS`].
    starts: VecDeque<tokio::time::Instant>,
}

/// How many session start times a [`FaultControl`] keeps.
const MAX_SESSION_STARTS: usize = 10_000;

/// The fault settings of a server, changeable by tests while it runs. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    state: Arc<Mutex<ControlState>>,
}

impl FaultControl {
    /// No faults.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the faults of every session that no plan covers.
    pub fn set_default(&self, faults: Faults) {
        self.lock().default = faults;
    }

    /// The faults of sessions no plan covers.
    pub fn default_faults(&self) -> Faults {
        self.lock().default.clone()
    }

    /// Queues a plan: the next `plan.sessions` sessions get its faults (after earlier plans).
    pub fn push_plan(&self, plan: FaultPlan) {
        if plan.sessions > 0 {
            self.lock().plans.push_back(plan);
        }
    }

    /// Forgets the default and every queued plan.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.default = Faults::default();
        state.plans.clear();
    }

    /// Called by a server for each new session: the faults it must apply.
    pub fn next_session(&self) -> Faults {
        let mut state = self.lock();
        state.sessions += 1;
        if state.starts.len() == MAX_SESSION_STARTS {
            state.starts.pop_front();
        }
        state.starts.push_back(tokio::time::Instant::now());
        let Some(plan) = state.plans.front_mut() else {
            return state.default.clone();
        };
        plan.sessions -= 1;
        let faults = plan.faults.clone();
        if plan.sessions == 0 {
            state.plans.pop_front();
        }
        faults
    }

    /// Sessions started so far.
    pub fn sessions(&self) -> u64 {
        self.lock().sessions
    }

    /// When the sessions started (each connection, as the server began serving it), oldest
    /// first: the latest 10 000.
    pub fn session_starts(&self) -> Vec<tokio::time::Instant> {
        self.lock().starts.iter().copied().collect()
    }
}

/// A stream whose writes are split into chunks, delayed, or cut after N bytes (reads pass
/// through). After the cut every write fails with `ConnectionAborted`; the session should
/// then drop the connection. Once silent ([`FaultyStream::go_silent`], or after
/// [`FaultyStream::silent_after`] bytes) writes are swallowed and reads discard what
/// arrives, passing on only the end of the stream.
#[derive(Debug)]
pub struct FaultyStream<S> {
    inner: S,
    chunk: Option<usize>,
    delay: Option<Duration>,
    cut_after: Option<u64>,
    silent_after: Option<u64>,
    silent: bool,
    written: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    delayed: bool,
}

impl<S> FaultyStream<S> {
    /// A pass-through wrapper; configure it with the builder methods.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            chunk: None,
            delay: None,
            cut_after: None,
            silent_after: None,
            silent: false,
            written: 0,
            sleep: None,
            delayed: false,
        }
    }

    /// Write at most `n` bytes per write (`Some(1)`: one byte at a time).
    #[must_use]
    pub fn chunk_size(mut self, n: Option<usize>) -> Self {
        self.chunk = n.map(|n| n.max(1));
        self
    }

    /// Wait this long before each write.
    #[must_use]
    pub fn delay(mut self, delay: Option<Duration>) -> Self {
        self.delay = delay;
        self
    }

    /// Fail every write after `n` bytes in total.
    #[must_use]
    pub fn cut_after(mut self, n: Option<u64>) -> Self {
        self.cut_after = n;
        self
    }

    /// From now on, writes one byte at a time with `interval` before each (a [`Dribble`]).
    pub fn start_dribble(&mut self, interval: Duration) {
        self.chunk = Some(1);
        self.delay = Some(interval);
    }

    /// Fall silent after `n` bytes in total were written (see [`Blackhole::AfterBytes`]).
    #[must_use]
    pub fn silent_after(mut self, n: Option<u64>) -> Self {
        self.silent_after = n;
        self
    }

    /// Fall silent now: writes are swallowed, reads discard what arrives (a blackhole).
    pub fn go_silent(&mut self) {
        if !self.silent {
            tracing::debug!(target: "inbound_test_server", written = self.written, "fault: connection blackholed");
        }
        self.silent = true;
    }

    /// Whether the stream fell silent.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// Bytes written so far (swallowed bytes not counted).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The wrapped stream, borrowed.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultyStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.silent {
            return Poll::Ready(Ok(buf.len()));
        }
        let mut len = buf.len();
        if let Some(limit) = this.silent_after {
            let left = limit.saturating_sub(this.written);
            if left == 0 {
                this.go_silent();
                return Poll::Ready(Ok(buf.len()));
            }
            len = len.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if let Some(limit) = this.cut_after {
            let left = limit.saturating_sub(this.written);
            if left == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "fault: connection cut",
                )));
            }
            len = len.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if let Some(chunk) = this.chunk {
            len = len.min(chunk);
        }
        if let (Some(delay), false) = (this.delay, this.delayed) {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
            this.delayed = true;
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..len]))?;
        this.written += n as u64;
        this.delayed = false;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultyStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.silent {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        // Silent: what the client sends goes nowhere; only its closing is passed on.
        let mut scratch = [0u8; 4096];
        loop {
            let mut sink = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut sink))?;
            if sink.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// Records the size of every write.
    #[derive(Default)]
    struct Recorder {
        data: Vec<u8>,
        writes: Vec<usize>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.data.extend_from_slice(buf);
            self.writes.push(buf.len());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn one_byte_writes() {
        let mut s = FaultyStream::new(Recorder::default()).chunk_size(Some(1));
        s.write_all(b"* OK\r\n").await.unwrap();
        let inner = s.into_inner();
        assert_eq!(inner.data, b"* OK\r\n");
        assert_eq!(inner.writes, [1; 6]);
    }

    #[tokio::test]
    async fn cut_after_n_bytes() {
        let faults = Faults {
            drop_at: Some(DropPoint::AfterBytes(4)),
            ..Faults::default()
        };
        let mut s = faults.wrap(Recorder::default());
        let err = s.write_all(b"* OK ready\r\n").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(s.written(), 4);
        assert_eq!(s.into_inner().data, b"* OK");
    }

    #[tokio::test]
    async fn a_blackhole_after_n_bytes_swallows_writes_and_reads_but_passes_the_end() {
        let faults = Faults {
            blackhole: Some(Blackhole::AfterBytes(4)),
            ..Faults::default()
        };
        let (near, mut far) = tokio::io::duplex(64);
        let mut s = faults.wrap(near);
        s.write_all(b"* OK ready\r\n").await.unwrap();
        s.write_all(b"* more\r\n").await.unwrap();
        assert!(s.is_silent());
        assert_eq!(s.written(), 4);
        let mut got = [0u8; 64];
        let n = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..n], b"* OK");
        // What the client sends goes nowhere; its closing is passed on.
        far.write_all(b"a1 NOOP\r\n").await.unwrap();
        drop(far);
        let mut read = Vec::new();
        assert_eq!(s.read_to_end(&mut read).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn go_silent_blackholes_at_once() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut s = FaultyStream::new(near);
        s.write_all(b"+ idling\r\n").await.unwrap();
        s.go_silent();
        s.write_all(b"* 2 EXISTS\r\n").await.unwrap();
        drop(s);
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"+ idling\r\n");
    }

    #[test]
    fn a_slow_done_is_named_only() {
        let faults = Faults {
            slow_answers: vec![
                SlowAnswer::from_nth(1, Hold::Forever),
                SlowAnswer::named("done", Hold::For(Duration::from_millis(5))),
            ],
            ..Faults::default()
        };
        assert_eq!(
            faults.hold_for_done(),
            Some(Hold::For(Duration::from_millis(5)))
        );
        assert_eq!(Faults::default().hold_for_done(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn delays_each_write() {
        let mut s = FaultyStream::new(Recorder::default()).delay(Some(Duration::from_secs(2)));
        let start = tokio::time::Instant::now();
        s.write_all(b"a").await.unwrap();
        s.write_all(b"b").await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[test]
    fn plans_apply_to_the_next_sessions_then_default() {
        let control = FaultControl::new();
        control.set_default(Faults {
            preauth: true,
            ..Faults::default()
        });
        let slow = Faults {
            delay: Some(Duration::from_millis(5)),
            ..Faults::default()
        };
        control.push_plan(FaultPlan::new(slow.clone(), 2));
        let shared = control.clone();
        assert_eq!(shared.next_session(), slow);
        assert_eq!(control.next_session(), slow);
        assert!(control.next_session().preauth);
        assert_eq!(control.sessions(), 3);
        control.clear();
        assert_eq!(control.next_session(), Faults::default());
    }

    #[tokio::test(start_paused = true)]
    async fn dribbles_from_a_command_on() {
        let faults = Faults {
            dribble: Some(Dribble::from_command("uid fetch", Duration::from_secs(3))),
            ..Faults::default()
        };
        assert_eq!(faults.dribble_for("NOOP"), None);
        let interval = faults.dribble_for("UID FETCH").unwrap();
        let mut s = faults.wrap(Recorder::default());
        let start = tokio::time::Instant::now();
        s.write_all(b"ab").await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        s.start_dribble(interval);
        s.write_all(b"cd").await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        assert_eq!(s.into_inner().writes, [2, 1, 1]);
    }

    #[test]
    fn throttle_answers_parse_and_read_as_the_servers_write_them() {
        assert_eq!(
            "m365-backoff=1500".parse::<ThrottleAnswer>(),
            Ok(ThrottleAnswer::M365Backoff { millis: 1500 })
        );
        assert_eq!(
            ThrottleAnswer::M365Backoff { millis: 1500 }.text(),
            "Request is throttled. Suggested Backoff Time: 1500 milliseconds"
        );
        assert_eq!("gmail-bye".parse(), Ok(ThrottleAnswer::GmailBye));
        assert_eq!("gmail-no".parse(), Ok(ThrottleAnswer::GmailNo));
        assert_eq!("in-use".parse(), Ok(ThrottleAnswer::InUse));
        assert_eq!(
            "m365-not-connected".parse(),
            Ok(ThrottleAnswer::M365NotConnected)
        );
        assert!("m365-backoff=soon".parse::<ThrottleAnswer>().is_err());
        assert!("slow".parse::<ThrottleAnswer>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn session_starts_are_recorded() {
        let control = FaultControl::new();
        let t0 = tokio::time::Instant::now();
        control.next_session();
        tokio::time::sleep(Duration::from_secs(2)).await;
        control.next_session();
        let starts = control.session_starts();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[1] - starts[0], Duration::from_secs(2));
        assert_eq!(starts[0], t0);
    }

    #[test]
    fn command_faults_count_down() {
        let mut faults = Faults {
            command_faults: vec![CommandFault {
                command: "fetch".into(),
                refusal: Refusal::No,
                text: Some("try later".into()),
                times: Some(1),
            }],
            ..Faults::default()
        };
        assert_eq!(
            faults.take_command_fault("FETCH"),
            Some((Refusal::No, Some("try later".into())))
        );
        assert_eq!(faults.take_command_fault("FETCH"), None);
        assert_eq!(faults.take_command_fault("STORE"), None);
    }

    #[test]
    fn slow_answers_by_name_or_from_the_nth_command() {
        let second = Duration::from_secs(1);
        let faults = Faults {
            slow_answers: vec![
                SlowAnswer::named("uid fetch", Hold::For(second)),
                SlowAnswer::from_nth(3, Hold::Forever),
            ],
            ..Faults::default()
        };
        assert_eq!(faults.hold_for("UID FETCH", 1), Some(Hold::For(second)));
        assert_eq!(faults.hold_for("FETCH", 1), None);
        assert_eq!(faults.hold_for("NOOP", 2), None);
        assert_eq!(faults.hold_for("NOOP", 3), Some(Hold::Forever));
        assert_eq!(faults.hold_for("NOOP", 30), Some(Hold::Forever));
        // The first match wins.
        assert_eq!(faults.hold_for("UID FETCH", 5), Some(Hold::For(second)));
        assert_eq!(Faults::default().hold_for("NOOP", 1), None);
    }
}

/// What goes wrong with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFaultKind {
    /// IMAP: left out of a FETCH answer with its body, which ends `NO Some messages could
    /// not be FETCHed` (Exchange); metadata FETCHes answer as usual. POP3: `RETR` answered
    /// `-ERR`.
    Refused,
    /// IMAP: left out of a FETCH answer with its body, which ends `OK`.
    LeftOut,
    /// IMAP: `BODY[] NIL`. POP3: an empty message.
    NilBody,
    /// IMAP: `BODY[]<0>` with the first half of the message, as if a partial fetch had been
    /// asked for.
    PartialBody,
    /// IMAP: `BODY[]` with only this many octets of the message (RFC822.SIZE unchanged).
    Truncated(u32),
    /// IMAP RFC822.SIZE and POP3 `LIST` report this size instead of the real one.
    ClaimedSize(u64),
    /// IMAP: the message's FETCH answer to a body FETCH is whole (line, literal, closing
    /// line) but cannot be parsed (`GARBLED!` after the literal); a client's framer can
    /// skip it and read on.
    Garbled,
}

/// A fault of the message with this UID (POP3: the message whose INBOX UID it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFault {
    /// The message's UID.
    pub uid: u32,
    /// What goes wrong.
    pub kind: MessageFaultKind,
}

impl MessageFault {
    /// A fault of the message with `uid`.
    pub fn new(uid: u32, kind: MessageFaultKind) -> Self {
        Self { uid, kind }
    }
}

impl Faults {
    /// The first fault set for the message with `uid`, if any.
    pub fn message_fault(&self, uid: u32) -> Option<MessageFaultKind> {
        self.message_faults
            .iter()
            .find(|f| f.uid == uid)
            .map(|f| f.kind)
    }
}

impl std::str::FromStr for MessageFault {
    type Err = String;

    /// `UID:KIND`, KIND one of `refused`, `left-out`, `nil-body`, `partial-body`, `garbled`,
    /// `truncated=N` (octets sent), `size=N` (the size announced).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "{value:?}: expected UID:KIND, KIND one of refused, left-out, nil-body, \
                 partial-body, truncated=N, size=N"
            )
        };
        let (uid, kind) = value.split_once(':').ok_or_else(usage)?;
        let uid: u32 = uid.parse().map_err(|_| usage())?;
        let kind = match kind.split_once('=') {
            None => match kind {
                "refused" => MessageFaultKind::Refused,
                "left-out" => MessageFaultKind::LeftOut,
                "nil-body" => MessageFaultKind::NilBody,
                "partial-body" => MessageFaultKind::PartialBody,
                "garbled" => MessageFaultKind::Garbled,
                _ => return Err(usage()),
            },
            Some(("truncated", n)) => MessageFaultKind::Truncated(n.parse().map_err(|_| usage())?),
            Some(("size", n)) => MessageFaultKind::ClaimedSize(n.parse().map_err(|_| usage())?),
            Some(_) => return Err(usage()),
        };
        Ok(Self::new(uid, kind))
    }
}
