//! The POP3 server session (RFC 1939, with CAPA and response codes of RFC 2449, STLS of
//! RFC 2595, AUTH of RFC 5034) over the `inbound-pop3-codec` command decoder and response
//! encoder.
//!
//! - AUTHORIZATION: a greeting with an APOP timestamp `<pid.counter@host>`; `USER`/`PASS`,
//!   `APOP`, `AUTH PLAIN | XOAUTH2 | OAUTHBEARER` (initial response or after `+ `), `STLS`
//!   (plain port only), `CAPA`. Bearer tokens are checked with
//!   [`TokenRegistry::authorize`](crate::oauth::TokenRegistry::authorize); an expired or
//!   unknown one gets the error continuation Exchange sends (base64 of
//!   `{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/.default"}`),
//!   then `-ERR [AUTH]` after the client's acknowledgement. A maildrop held by another
//!   session gives `-ERR [IN-USE]`.
//! - TRANSACTION: `STAT`, `LIST`, `UIDL`, `TOP`, `RETR`, `DELE` (a deleted message is gone
//!   for the rest of the session), `RSET`, `NOOP`.
//! - UPDATE: `QUIT` removes the deleted messages; a connection lost before `QUIT` removes
//!   nothing.
//!
//! Commands that arrive together (PIPELINING) are answered together, in order. Faults that
//! apply (see [`crate::faults`]): `drop_at` `AfterGreeting`, `AfterBytes(n)`,
//! `MidFetchLiteral` (half of a RETR or TOP body is sent, then the connection drops) and
//! `BeforeMoveOrExpungeOk` (QUIT's deletions take effect, its `+OK` is never sent);
//! `command_faults` (`-ERR` for a command); `slow_answers` (the answers to earlier commands
//! go out, then the held command waits before it runs; held for good, it never runs and the
//! session only waits for the client to leave); `delay` and `one_byte_writes` (through
//! [`FaultyStream`](crate::faults::FaultyStream)); `max_command_len`; `starttls_injection`
//! (plain-text bytes in the same write as the STLS `+OK`). `AfterBytes` counts the bytes
//! written on the current layer: it starts again from zero after STLS. A session idle
//! longer than the server's auto-logout is closed with `-ERR`.

mod session;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use inbound_pop3_codec::{BodyEncoder, ClientLine, DecodeError, DecodeErrorKind, Timestamp};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::conn::Conn;
use crate::faults::{DropPoint, FaultyStream, Hold};
use crate::session::{Session, wait_for_stop};
use crate::transcript::Transcript;
use session::{Action, Pop3State};

/// Greeting timestamps of this process so far (the `counter` of `<pid.counter@host>`).
static GREETINGS: AtomicU64 = AtomicU64::new(1);

/// Bytes of a message body encoded per write.
const BODY_CHUNK: usize = 64 * 1024;

/// Bytes read per read call.
const READ_CHUNK: usize = 8 * 1024;

/// Answers queued beyond this are written before the next command is handled.
const FLUSH_AT: usize = 64 * 1024;

/// What waiting for client bytes ended with.
enum Input {
    Data,
    Closed,
    Idle,
    Shutdown,
}

/// Runs one POP3 session to its end.
pub(crate) async fn serve(session: Session) {
    let Session {
        id,
        service,
        shared,
        conn,
        shutdown,
    } = session;
    let faults = shared.faults.next_session();
    let transcript = Transcript::new(id, service.protocol(), shared.transcript.clone());
    let counter = GREETINGS.fetch_add(1, Ordering::Relaxed);
    let timestamp = Timestamp::new(format!(
        "<{}.{counter}@{}>",
        std::process::id(),
        shared.hostname
    ))
    .or_else(|_| Timestamp::new(format!("<{}.{counter}@localhost>", std::process::id())));
    let Ok(timestamp) = timestamp else {
        return;
    };
    let tls = conn.is_tls();
    let stream = faults.wrap(conn);
    let state = Pop3State::new(shared, faults, transcript, timestamp, tls);
    let mut shell = Shell {
        stream: Some(stream),
        state,
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        discarding: false,
        shutdown,
        commands: 0,
    };
    let outcome = shell.run().await;
    let error = outcome.err().map(|e| e.to_string());
    tracing::debug!(target: "inbound_test_server::pop3", session = id, ?error, "session ended");
}

/// The I/O side of a session.
struct Shell {
    /// `None` only while the TLS handshake owns the connection.
    stream: Option<FaultyStream<Conn>>,
    state: Pop3State,
    inbuf: BytesMut,
    /// The decoder is skipping the rest of an overlong line.
    discarding: bool,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Commands received so far (for [`Faults::hold_for`](crate::faults::Faults::hold_for)).
    commands: u32,
}

/// What the session does next with a decoded line.
enum Step {
    /// The state machine handled it.
    Act(Action),
    /// A fault holds this command back: answer what came before, wait, then handle it.
    Hold(Hold, ClientLine),
}

fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

impl Shell {
    fn stream(&mut self) -> io::Result<&mut FaultyStream<Conn>> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "TLS handshake failed"))
    }

    async fn run(&mut self) -> io::Result<()> {
        self.state.greet();
        self.flush().await?;
        if self.state.faults.drop_at == Some(DropPoint::AfterGreeting) {
            return Ok(());
        }
        loop {
            while let Some(step) = self.next_step() {
                let action = match step {
                    Step::Act(action) => action,
                    Step::Hold(hold, line) => {
                        self.flush().await?;
                        if !self.hold(hold).await? {
                            return Ok(());
                        }
                        self.state.handle(line)
                    }
                };
                match action {
                    Action::Continue => {
                        if self.state.out.len() >= FLUSH_AT {
                            self.flush().await?;
                        }
                    }
                    Action::Body(body) => {
                        if !self.send_body(&body).await? {
                            return Ok(());
                        }
                    }
                    Action::StartTls => {
                        self.start_tls().await?;
                        break;
                    }
                    Action::Close => {
                        self.flush().await?;
                        let _ = self.stream()?.shutdown().await;
                        return Ok(());
                    }
                    Action::Drop => return Ok(()),
                }
            }
            self.flush().await?;
            match self.read().await? {
                Input::Data => {}
                Input::Closed | Input::Shutdown => return Ok(()),
                Input::Idle => {
                    self.state.out.clear();
                    self.state
                        .transcript
                        .server(b"-ERR Disconnected for inactivity");
                    let stream = self.stream()?;
                    stream
                        .write_all(b"-ERR Disconnected for inactivity\r\n")
                        .await?;
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
            }
        }
    }

    /// Decodes and handles the next complete line; `None` when more bytes are needed. A
    /// command a fault holds back is returned unhandled.
    fn next_step(&mut self) -> Option<Step> {
        // Log the line the decoder is about to take (after the tail of a discarded line).
        let mut start = 0;
        if self.discarding {
            match line_end(&self.inbuf) {
                Some(i) => {
                    start = i + 1;
                    self.discarding = false; // the decoder drops the tail in this call
                }
                None => start = self.inbuf.len(),
            }
        }
        let line = line_end(&self.inbuf[start..]).map(|i| start..start + i + 1);
        if let Some(range) = &line {
            self.state.transcript.client(&self.inbuf[range.clone()]);
        }
        match self.state.decoder.decode(&mut self.inbuf) {
            Ok(None) => None,
            Ok(Some(line)) => {
                if let ClientLine::Command(command) = &line {
                    self.commands = self.commands.saturating_add(1);
                    if let Some(interval) = self.state.faults.dribble_for(command.keyword()) {
                        // Answers queued before this command go out dribbled too: they
                        // are written with its answer.
                        if let Some(stream) = self.stream.as_mut() {
                            stream.start_dribble(interval);
                        }
                    }
                    let hold = self.state.faults.hold_for(command.keyword(), self.commands);
                    if let Some(hold) = hold {
                        return Some(Step::Hold(hold, line));
                    }
                }
                Some(Step::Act(self.state.handle(line)))
            }
            Err(e) => {
                if line.is_none() {
                    // No line end within the limit: the decoder skips the rest as it comes.
                    self.discarding = is_too_long(&e);
                    self.state.transcript.client(b"<overlong line discarded>");
                }
                Some(Step::Act(self.state.decode_error(&e)))
            }
        }
    }

    /// Holds the session for a [`Hold`] fault. `false`: the session is over (the client
    /// left, auto-logout, or shutdown).
    async fn hold(&mut self, hold: Hold) -> io::Result<bool> {
        match hold {
            Hold::For(delay) => {
                tracing::debug!(target: "inbound_test_server::pop3", ?delay, "fault: answer held back");
                tokio::select! {
                    () = tokio::time::sleep(delay) => Ok(true),
                    () = wait_for_stop(&mut self.shutdown) => Ok(false),
                }
            }
            Hold::Forever => {
                tracing::debug!(target: "inbound_test_server::pop3", "fault: answer withheld");
                loop {
                    match self.read().await? {
                        // What the client sends meanwhile is never answered.
                        Input::Data => self.inbuf.clear(),
                        Input::Closed | Input::Shutdown | Input::Idle => return Ok(false),
                    }
                }
            }
        }
    }

    /// Writes the queued answers.
    async fn flush(&mut self) -> io::Result<()> {
        if self.state.out.is_empty() {
            return Ok(());
        }
        let out = self.state.out.split();
        let stream = self.stream()?;
        stream.write_all(&out).await?;
        stream.flush().await
    }

    /// Sends the queued `+OK` and a dot-stuffed body. `false`: the connection was dropped
    /// on purpose (a fault).
    async fn send_body(&mut self, body: &[u8]) -> io::Result<bool> {
        if self.state.faults.drop_at == Some(DropPoint::MidFetchLiteral) {
            let mut stuffed = BytesMut::new();
            inbound_pop3_codec::encode_body(body, &mut stuffed);
            let half = stuffed.len() / 2;
            self.state.out.extend_from_slice(&stuffed[..half]);
            self.flush().await?;
            return Ok(false);
        }
        let mut encoder = BodyEncoder::new();
        for chunk in body.chunks(BODY_CHUNK) {
            encoder.push(chunk, &mut self.state.out);
            if self.state.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
        encoder.finish(&mut self.state.out);
        Ok(true)
    }

    /// Sends the STLS `+OK` (and any injected plain text in the same write), forgets what
    /// the client sent after STLS, and runs the handshake.
    async fn start_tls(&mut self) -> io::Result<()> {
        if let Some(injected) = self.state.faults.starttls_injection.clone() {
            self.state.out.extend_from_slice(&injected);
        }
        self.flush().await?;
        // Bytes pipelined after STLS were sent in the clear: never act on them.
        self.inbuf.clear();
        self.discarding = false;
        let Some(stream) = self.stream.take() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "no connection"));
        };
        let acceptor = self.state.shared().acceptor.clone();
        let conn = stream.into_inner().start_tls(&acceptor).await?;
        self.stream = Some(self.state.faults.wrap(conn));
        self.state.tls_started();
        Ok(())
    }

    /// Reads more client bytes, at most up to the decoder's line limit so an overlong line
    /// is cut exactly at its end.
    async fn read(&mut self) -> io::Result<Input> {
        let room = Pop3State::line_limit()
            .saturating_sub(self.inbuf.len())
            .clamp(1, READ_CHUNK);
        let mut chunk = [0u8; READ_CHUNK];
        let auto_logout = self.state.shared().auto_logout;
        let Self {
            stream, shutdown, ..
        } = self;
        let Some(stream) = stream.as_mut() else {
            return Ok(Input::Closed);
        };
        let read = tokio::time::timeout(auto_logout, stream.read(&mut chunk[..room]));
        tokio::select! {
            result = read => match result {
                Err(_) => Ok(Input::Idle),
                Ok(Ok(0)) => Ok(Input::Closed),
                Ok(Ok(n)) => {
                    self.inbuf.extend_from_slice(&chunk[..n]);
                    Ok(Input::Data)
                }
                Ok(Err(e)) => Err(e),
            },
            () = wait_for_stop(shutdown) => Ok(Input::Shutdown),
        }
    }
}

fn is_too_long(e: &DecodeError) -> bool {
    matches!(e.kind(), DecodeErrorKind::LineTooLong { .. })
}
