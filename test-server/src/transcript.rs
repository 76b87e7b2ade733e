//! Session transcripts: every line a client sent (`C:`) and the server answered (`S:`),
//! logged with `tracing` at target [`TARGET`] and optionally captured in memory for tests,
//! with credentials redacted: LOGIN's password, AUTHENTICATE / AUTH initial responses and
//! continuation lines, POP3 PASS, and the APOP digest.
//!
//! ```
//! use inbound_test_server::transcript::{Protocol, Transcript, TranscriptCapture};
//!
//! let capture = TranscriptCapture::new();
//! let mut t = Transcript::new(1, Protocol::Imap, Some(capture.clone()));
//! t.server(b"* OK ready\r\n");
//! t.client(b"a LOGIN alice \"hunter2\"\r\n");
//! assert_eq!(capture.text(), "S: * OK ready\nC: a LOGIN alice [redacted]\n");
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// The `tracing` target of transcript lines.
pub const TARGET: &str = "inbound_test_server::trace";

/// Lines longer than this are shortened in the transcript.
const MAX_LINE: usize = 1000;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Which protocol's commands carry secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP: LOGIN, AUTHENTICATE.
    Imap,
    /// POP3: PASS, APOP, AUTH.
    Pop3,
}

/// Who sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client (`C:`).
    Client,
    /// The server (`S:`).
    Server,
}

/// One transcript line, already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// The session number.
    pub session: u64,
    /// Who sent it.
    pub direction: Direction,
    /// The text, without the line end.
    pub text: String,
}

impl fmt::Display for TranscriptLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.direction {
            Direction::Client => "C",
            Direction::Server => "S",
        };
        write!(f, "{who}: {}", self.text)
    }
}

/// Transcript lines kept in memory, shared by every session that was given a clone.
#[derive(Debug, Clone, Default)]
pub struct TranscriptCapture {
    lines: Arc<Mutex<Vec<TranscriptLine>>>,
}

impl TranscriptCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<TranscriptLine>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<TranscriptLine> {
        self.lock().clone()
    }

    /// The lines so far as `C: ...` / `S: ...`, one per line.
    pub fn text(&self) -> String {
        self.lock().iter().map(|l| format!("{l}\n")).collect()
    }

    /// The lines of one session as text.
    pub fn session_text(&self, session: u64) -> String {
        self.lock()
            .iter()
            .filter(|l| l.session == session)
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Forgets every line.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The transcript of one session. Feed it every line in order: the redaction of SASL
/// exchanges depends on what came before.
#[derive(Debug)]
pub struct Transcript {
    session: u64,
    protocol: Protocol,
    capture: Option<TranscriptCapture>,
    /// Client lines are SASL responses until the server ends the exchange.
    in_sasl: bool,
    /// The next client line is the rest of a LOGIN whose password is a literal.
    in_login_literal: bool,
}

impl Transcript {
    /// A transcript for session number `session`.
    pub fn new(session: u64, protocol: Protocol, capture: Option<TranscriptCapture>) -> Self {
        Self {
            session,
            protocol,
            capture,
            in_sasl: false,
            in_login_literal: false,
        }
    }

    /// Records a line from the client (redacted as needed).
    pub fn client(&mut self, line: &[u8]) {
        let text = clean(line);
        let text = if self.in_sasl {
            REDACTED.to_owned()
        } else if self.in_login_literal {
            self.in_login_literal = text.ends_with('}');
            REDACTED.to_owned()
        } else {
            let (redacted, state) = redact(self.protocol, &text);
            match state {
                After::Nothing => {}
                After::Sasl => self.in_sasl = true,
                After::LoginLiteral => self.in_login_literal = true,
            }
            redacted
        };
        self.emit(Direction::Client, text);
    }

    /// Records a line from the server. A final answer ends a SASL exchange.
    pub fn server(&mut self, line: &[u8]) {
        // The state follows the raw bytes (the cleaned text starts the same), so a line
        // nobody records costs no allocation.
        if self.in_sasl && !line.starts_with(b"+")
            || line.starts_with(b"+OK")
            || line.starts_with(b"-ERR")
        {
            self.in_sasl = false;
        }
        if self.in_login_literal && !line.starts_with(b"+") {
            self.in_login_literal = false;
        }
        if self.recording() {
            self.emit(Direction::Server, clean(line));
        }
    }

    /// Records a literal's bytes by size only (message bodies stay out of logs).
    pub fn server_literal(&mut self, len: usize) {
        if self.recording() {
            self.emit(Direction::Server, format!("<{len} bytes>"));
        }
    }

    /// Whether a line goes anywhere: captured, or logged at debug level.
    fn recording(&self) -> bool {
        self.capture.is_some() || tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
    }

    fn emit(&mut self, direction: Direction, text: String) {
        let line = TranscriptLine {
            session: self.session,
            direction,
            text,
        };
        tracing::debug!(target: TARGET, session = self.session, "{line}");
        if let Some(capture) = &self.capture {
            capture.lock().push(line);
        }
    }
}

/// Strips the line end, replaces bad UTF-8, shortens long lines.
fn clean(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        let head = String::from_utf8_lossy(&line[..MAX_LINE]);
        return format!("{head}... ({} bytes)", line.len());
    }
    String::from_utf8_lossy(line).into_owned()
}

/// What redacting a client line implies for the lines after it.
enum After {
    Nothing,
    Sasl,
    LoginLiteral,
}

/// Splits off the next argument (an atom, a quoted string, or a literal marker).
fn next_arg(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start_matches(' ');
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return (&rest[..i + 2], &quoted[i + 1..]),
                _ => escaped = false,
            }
        }
        return (rest, "");
    }
    rest.split_once(' ').unwrap_or((rest, ""))
}

fn redact(protocol: Protocol, line: &str) -> (String, After) {
    match protocol {
        Protocol::Imap => {
            let (tag, rest) = next_arg(line);
            let (command, rest) = next_arg(rest);
            if command.eq_ignore_ascii_case("LOGIN") {
                let (user, rest) = next_arg(rest);
                if user.ends_with('}') {
                    // The user name is a literal: everything after it is hidden.
                    return (format!("{tag} {command} {user}"), After::LoginLiteral);
                }
                if rest.is_empty() {
                    return (line.to_owned(), After::Nothing);
                }
                let after = if rest.ends_with('}') {
                    After::LoginLiteral
                } else {
                    After::Nothing
                };
                return (format!("{tag} {command} {user} {REDACTED}"), after);
            }
            if command.eq_ignore_ascii_case("AUTHENTICATE") {
                let (mechanism, rest) = next_arg(rest);
                let ir = if rest.is_empty() {
                    String::new()
                } else {
                    format!(" {REDACTED}")
                };
                return (format!("{tag} {command} {mechanism}{ir}"), After::Sasl);
            }
            (line.to_owned(), After::Nothing)
        }
        Protocol::Pop3 => {
            let (command, rest) = next_arg(line);
            if command.eq_ignore_ascii_case("PASS") {
                return (format!("{command} {REDACTED}"), After::Nothing);
            }
            if command.eq_ignore_ascii_case("APOP") {
                let (user, _) = next_arg(rest);
                return (format!("{command} {user} {REDACTED}"), After::Nothing);
            }
            if command.eq_ignore_ascii_case("AUTH") {
                let (mechanism, rest) = next_arg(rest);
                if mechanism.is_empty() {
                    return (line.to_owned(), After::Nothing); // AUTH alone lists mechanisms
                }
                let ir = if rest.is_empty() {
                    String::new()
                } else {
                    format!(" {REDACTED}")
                };
                return (format!("{command} {mechanism}{ir}"), After::Sasl);
            }
            (line.to_owned(), After::Nothing)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn run(protocol: Protocol, lines: &[(Direction, &str)]) -> String {
        let capture = TranscriptCapture::new();
        let mut t = Transcript::new(7, protocol, Some(capture.clone()));
        for (direction, line) in lines {
            match direction {
                Direction::Client => t.client(line.as_bytes()),
                Direction::Server => t.server(line.as_bytes()),
            }
        }
        capture.session_text(7)
    }

    use Direction::{Client as C, Server as S};

    #[test]
    fn imap_login_forms() {
        let out = run(
            Protocol::Imap,
            &[
                (C, "a LOGIN alice secret\r\n"),
                (C, "b login \"al ice\" \"se \\\"cr et\"\r\n"),
                (C, "c LOGIN bob {6}\r\n"),
                (S, "+ go ahead\r\n"),
                (C, "hunter\r\n"),
                (S, "c OK done\r\n"),
                (C, "d SELECT INBOX\r\n"),
            ],
        );
        assert_eq!(
            out,
            "C: a LOGIN alice [redacted]\nC: b login \"al ice\" [redacted]\nC: c LOGIN bob [redacted]\n\
             S: + go ahead\nC: [redacted]\nS: c OK done\nC: d SELECT INBOX\n"
        );
    }

    #[test]
    fn imap_authenticate_hides_initial_response_and_continuations() {
        let out = run(
            Protocol::Imap,
            &[
                (
                    C,
                    "a AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2tlbgEB\r\n",
                ),
                (S, "+ eyJzdGF0dXMiOiI0MDAifQ==\r\n"),
                (C, "\r\n"),
                (S, "a NO [AUTHENTICATIONFAILED] invalid token\r\n"),
                (C, "b AUTHENTICATE PLAIN\r\n"),
                (S, "+ \r\n"),
                (C, "AGFsaWNlAHNlY3JldA==\r\n"),
                (S, "b OK\r\n"),
                (C, "c NOOP\r\n"),
            ],
        );
        assert!(
            !out.contains("dXNlcj1") && !out.contains("AGFsaWNl"),
            "{out}"
        );
        assert!(out.contains("C: a AUTHENTICATE XOAUTH2 [redacted]\n"));
        assert!(out.contains("S: + eyJzdGF0dXMiOiI0MDAifQ==\n"));
        assert!(out.ends_with("C: c NOOP\n"), "{out}");
    }

    #[test]
    fn pop3_pass_apop_auth() {
        let out = run(
            Protocol::Pop3,
            &[
                (C, "USER alice\r\n"),
                (C, "PASS sec ret\r\n"),
                (C, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"),
                (C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
                (S, "+OK\r\n"),
                (C, "AUTH XOAUTH2\r\n"),
                (S, "+ \r\n"),
                (C, "dXNlcj1hbGljZQ==\r\n"),
                (S, "-ERR no\r\n"),
                (C, "STAT\r\n"),
            ],
        );
        assert_eq!(
            out,
            "C: USER alice\nC: PASS [redacted]\nC: APOP alice [redacted]\nC: AUTH PLAIN [redacted]\nS: +OK\n\
             C: AUTH XOAUTH2\nS: + \nC: [redacted]\nS: -ERR no\nC: STAT\n"
        );
    }

    #[test]
    fn long_and_binary_lines_are_tamed() {
        let capture = TranscriptCapture::new();
        let mut t = Transcript::new(1, Protocol::Imap, Some(capture.clone()));
        t.server(&vec![b'x'; 5000]);
        t.client(b"a \xff\xfe\r\n");
        t.server_literal(1234);
        let lines = capture.lines();
        assert!(lines[0].text.ends_with("... (5000 bytes)"));
        assert_eq!(lines[1].text, "a \u{fffd}\u{fffd}");
        assert_eq!(lines[2].to_string(), "S: <1234 bytes>");
    }
}
