//! Redaction of protocol lines for TRACE logging.
//!
//! Client lines that carry secrets are rewritten before they are logged: the password of
//! IMAP `LOGIN` and POP3 `PASS`, the digest of POP3 `APOP`, SASL initial responses of
//! `AUTHENTICATE`/`AUTH`, and every SASL continuation the client sends. User names stay
//! visible, they help debugging. [`TraceRedactor`] follows the exchange so that literals
//! and continuation data sent after the command line are hidden too.
//!
//! ```
//! use inbound_net::MailProtocol;
//! use inbound_net::redact::redact_client_line;
//!
//! let shown = redact_client_line(MailProtocol::Imap, b"a1 LOGIN alice hunter2\r\n");
//! assert_eq!(&*shown, b"a1 LOGIN alice [redacted]\r\n");
//! ```

use std::borrow::Cow;

use crate::tls::MailProtocol;

/// What replaces a secret.
pub const REDACTED: &[u8] = b"[redacted]";

/// Splits off a trailing CRLF or LF.
fn split_eol(line: &[u8]) -> (&[u8], &[u8]) {
    if let Some(body) = line.strip_suffix(b"\r\n") {
        (body, b"\r\n")
    } else if let Some(body) = line.strip_suffix(b"\n") {
        (body, b"\n")
    } else {
        (line, b"")
    }
}

/// The next space-separated word and the rest after the space.
fn word(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// The length of an IMAP astring at the start of `s` (atom or quoted string); `None` for a
/// literal or something unreadable.
fn astring_len(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'"' => {
            let mut escaped = false;
            for (i, &b) in s.iter().enumerate().skip(1) {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => return Some(i + 1),
                    _ => {}
                }
            }
            None
        }
        b'{' => None,
        _ => Some(s.iter().position(|&b| b == b' ').unwrap_or(s.len())),
    }
}

/// Whether the line ends with an IMAP literal announcement `{n}` / `{n+}`.
fn ends_with_literal(body: &[u8]) -> bool {
    let Some(inner) = body.strip_suffix(b"}") else {
        return false;
    };
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    let digits = inner
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    digits > 0 && inner[..inner.len() - digits].ends_with(b"{")
}

fn rebuild<'a>(keep: &[u8], eol: &[u8]) -> Cow<'a, [u8]> {
    let mut out = Vec::with_capacity(keep.len() + REDACTED.len() + eol.len());
    out.extend_from_slice(keep);
    out.extend_from_slice(REDACTED);
    out.extend_from_slice(eol);
    Cow::Owned(out)
}

/// How a client line was judged.
struct Judged<'a> {
    shown: Cow<'a, [u8]>,
    /// Client data after this line is secret until the command completes.
    secret_follows: bool,
}

fn judge_imap(line: &[u8]) -> Judged<'_> {
    let (body, eol) = split_eol(line);
    let plain = |secret_follows| Judged {
        shown: Cow::Borrowed(line),
        secret_follows,
    };
    let (_tag, Some(rest)) = word(body) else {
        return plain(false);
    };
    let (command, args) = word(rest);
    let prefix_len = |args: &[u8]| body.len() - args.len();
    if command.eq_ignore_ascii_case(b"LOGIN") {
        let Some(args) = args else {
            return plain(false);
        };
        // Keep the user name if it is an atom or quoted string; hide the rest.
        let keep = match astring_len(args) {
            Some(n) if args.get(n) == Some(&b' ') => prefix_len(args) + n + 1,
            _ => prefix_len(args),
        };
        Judged {
            shown: rebuild(&body[..keep], eol),
            secret_follows: ends_with_literal(body),
        }
    } else if command.eq_ignore_ascii_case(b"AUTHENTICATE") {
        let Some(args) = args else { return plain(true) };
        match word(args) {
            (_mechanism, Some(initial)) => Judged {
                shown: rebuild(&body[..prefix_len(initial)], eol),
                secret_follows: true,
            },
            (_mechanism, None) => plain(true),
        }
    } else {
        plain(false)
    }
}

fn judge_pop3(line: &[u8]) -> Judged<'_> {
    let (body, eol) = split_eol(line);
    let plain = |secret_follows| Judged {
        shown: Cow::Borrowed(line),
        secret_follows,
    };
    let (command, args) = word(body);
    let prefix_len = |args: &[u8]| body.len() - args.len();
    if command.eq_ignore_ascii_case(b"PASS") {
        match args {
            Some(args) => Judged {
                shown: rebuild(&body[..prefix_len(args)], eol),
                secret_follows: false,
            },
            None => plain(false),
        }
    } else if command.eq_ignore_ascii_case(b"APOP") {
        match args.map(word) {
            Some((_user, Some(digest))) => Judged {
                shown: rebuild(&body[..prefix_len(digest)], eol),
                secret_follows: false,
            },
            _ => plain(false),
        }
    } else if command.eq_ignore_ascii_case(b"AUTH") {
        match args.map(word) {
            // `AUTH` alone lists mechanisms.
            None => plain(false),
            Some((_mechanism, Some(initial))) => Judged {
                shown: rebuild(&body[..prefix_len(initial)], eol),
                secret_follows: true,
            },
            Some((_mechanism, None)) => plain(true),
        }
    } else {
        plain(false)
    }
}

/// Redacts one client command line (with or without its line ending), without context.
/// Prefer [`TraceRedactor`], which also hides what the client sends after the line.
#[must_use]
pub fn redact_client_line(protocol: MailProtocol, line: &[u8]) -> Cow<'_, [u8]> {
    match protocol {
        MailProtocol::Imap => judge_imap(line).shown,
        MailProtocol::Pop3 => judge_pop3(line).shown,
    }
}

/// Redacts a client's side of a session for TRACE logs, following SASL exchanges and IMAP
/// literals: feed it every chunk the client writes ([`TraceRedactor::client`]) and every
/// line the server sends ([`TraceRedactor::server`]).
#[derive(Debug, Clone)]
pub struct TraceRedactor {
    protocol: MailProtocol,
    /// Client data is secret until the server completes the command.
    secret_pending: bool,
}

impl TraceRedactor {
    /// A redactor for one connection.
    #[must_use]
    pub fn new(protocol: MailProtocol) -> Self {
        Self {
            protocol,
            secret_pending: false,
        }
    }

    /// What to log for data the client sends: a command line, a literal, a SASL response,
    /// or several of them in one write (each line is judged in turn).
    pub fn client<'a>(&mut self, data: &'a [u8]) -> Cow<'a, [u8]> {
        let mut lines = data.split_inclusive(|&b| b == b'\n');
        let Some(first) = lines.next() else {
            return Cow::Borrowed(data);
        };
        if first.len() == data.len() {
            return self.client_line(data);
        }
        let mut out = self.client_line(first).into_owned();
        for line in lines {
            out.extend_from_slice(&self.client_line(line));
        }
        if out == data {
            Cow::Borrowed(data)
        } else {
            Cow::Owned(out)
        }
    }

    fn client_line<'a>(&mut self, data: &'a [u8]) -> Cow<'a, [u8]> {
        if self.secret_pending {
            let (body, eol) = split_eol(data);
            // A SASL cancellation is not secret and helps reading the trace.
            if body == b"*" {
                return Cow::Borrowed(data);
            }
            return rebuild(b"", eol);
        }
        let judged = match self.protocol {
            MailProtocol::Imap => judge_imap(data),
            MailProtocol::Pop3 => judge_pop3(data),
        };
        self.secret_pending = judged.secret_follows;
        judged.shown
    }

    /// Tells the redactor about a server line. A final response (IMAP tagged, POP3
    /// `+OK`/`-ERR`) ends a pending exchange; continuation requests (`+ ...`) and IMAP
    /// untagged data do not.
    pub fn server(&mut self, line: &[u8]) {
        if !self.secret_pending {
            return;
        }
        let (body, _) = split_eol(line);
        let continuation = body == b"+" || body.starts_with(b"+ ");
        let untagged = self.protocol == MailProtocol::Imap && body.starts_with(b"* ");
        if !continuation && !untagged {
            self.secret_pending = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MailProtocol::{Imap, Pop3};

    fn shown(protocol: MailProtocol, line: &str) -> String {
        String::from_utf8(redact_client_line(protocol, line.as_bytes()).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn imap_login() {
        assert_eq!(
            shown(Imap, "a1 LOGIN alice hunter2\r\n"),
            "a1 LOGIN alice [redacted]\r\n"
        );
        assert_eq!(
            shown(Imap, "a1 login \"al ice\" \"pa ss\""),
            "a1 login \"al ice\" [redacted]"
        );
        assert_eq!(
            shown(Imap, "a1 LOGIN \"a\\\"b\" \"x\\\\\" \r\n"),
            "a1 LOGIN \"a\\\"b\" [redacted]\r\n"
        );
        assert_eq!(shown(Imap, "a1 LOGIN {5}\r\n"), "a1 LOGIN [redacted]\r\n");
        assert_eq!(shown(Imap, "a1 LOGIN onlyuser"), "a1 LOGIN [redacted]");
        assert_eq!(
            shown(Imap, "a1 LOGIN \"unterminated pass"),
            "a1 LOGIN [redacted]"
        );
    }

    #[test]
    fn imap_authenticate_initial_response() {
        assert_eq!(
            shown(Imap, "a2 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
            "a2 AUTHENTICATE PLAIN [redacted]\r\n"
        );
        assert_eq!(
            shown(Imap, "a2 AUTHENTICATE XOAUTH2\r\n"),
            "a2 AUTHENTICATE XOAUTH2\r\n"
        );
    }

    #[test]
    fn other_lines_are_untouched() {
        for line in ["a3 SELECT INBOX\r\n", "a4 FETCH 1:* (FLAGS)", "", "x"] {
            assert!(matches!(
                redact_client_line(Imap, line.as_bytes()),
                Cow::Borrowed(_)
            ));
        }
        for line in ["USER alice\r\n", "STAT\r\n", "AUTH\r\n", "PASS"] {
            assert!(matches!(
                redact_client_line(Pop3, line.as_bytes()),
                Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn pop3_commands() {
        assert_eq!(
            shown(Pop3, "PASS hunter2 with spaces\r\n"),
            "PASS [redacted]\r\n"
        );
        assert_eq!(shown(Pop3, "pass x"), "pass [redacted]");
        assert_eq!(
            shown(Pop3, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
            "APOP mrose [redacted]\r\n"
        );
        assert_eq!(
            shown(Pop3, "AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
            "AUTH PLAIN [redacted]\r\n"
        );
    }

    #[test]
    fn imap_sasl_continuations_are_hidden_until_the_tagged_reply() {
        let mut r = TraceRedactor::new(Imap);
        assert_eq!(
            &*r.client(b"a1 AUTHENTICATE LOGIN\r\n"),
            b"a1 AUTHENTICATE LOGIN\r\n"
        );
        r.server(b"+ VXNlcm5hbWU6\r\n");
        assert_eq!(&*r.client(b"YWxpY2U=\r\n"), b"[redacted]\r\n");
        r.server(b"+ UGFzc3dvcmQ6\r\n");
        assert_eq!(&*r.client(b"aHVudGVyMg==\r\n"), b"[redacted]\r\n");
        r.server(b"* CAPABILITY IMAP4rev1\r\n");
        assert_eq!(&*r.client(b"more\r\n"), b"[redacted]\r\n");
        r.server(b"a1 OK done\r\n");
        assert_eq!(&*r.client(b"a2 SELECT INBOX\r\n"), b"a2 SELECT INBOX\r\n");
    }

    #[test]
    fn imap_login_literal_password_is_hidden() {
        let mut r = TraceRedactor::new(Imap);
        assert_eq!(
            &*r.client(b"a1 LOGIN alice {7}\r\n"),
            b"a1 LOGIN alice [redacted]\r\n"
        );
        r.server(b"+ Ready\r\n");
        assert_eq!(&*r.client(b"hunter2\r\n"), b"[redacted]\r\n");
        r.server(b"a1 NO [AUTHENTICATIONFAILED] bad\r\n");
        assert_eq!(&*r.client(b"a2 LOGOUT\r\n"), b"a2 LOGOUT\r\n");
    }

    #[test]
    fn several_lines_in_one_write() {
        let mut r = TraceRedactor::new(Imap);
        let data: &[u8] = b"a1 NOOP\r\na2 LOGIN alice {7+}\r\nhunter2\r\n";
        assert_eq!(
            &*r.client(data),
            b"a1 NOOP\r\na2 LOGIN alice [redacted]\r\n[redacted]\r\n"
        );
        r.server(b"a1 OK\r\n");
        let mut r = TraceRedactor::new(Pop3);
        let data: &[u8] = b"USER a\r\nPASS b\r\n";
        assert_eq!(&*r.client(data), b"USER a\r\nPASS [redacted]\r\n");
        assert!(matches!(r.client(b"STAT\r\nLIST\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn pop3_sasl_exchange_and_cancel() {
        let mut r = TraceRedactor::new(Pop3);
        assert_eq!(
            &*r.client(b"AUTH XOAUTH2 dXNlcj1h\r\n"),
            b"AUTH XOAUTH2 [redacted]\r\n"
        );
        r.server(b"+ eyJzdGF0dXMiOiI0MDAifQ==\r\n");
        assert_eq!(&*r.client(b"*\r\n"), b"*\r\n");
        r.server(b"-ERR auth cancelled\r\n");
        assert_eq!(&*r.client(b"USER alice\r\n"), b"USER alice\r\n");
        assert_eq!(&*r.client(b"PASS secret\r\n"), b"PASS [redacted]\r\n");
    }
}
