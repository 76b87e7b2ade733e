//! Recognising a mail server's answer that says it is throttling this client (too many
//! connections, too many commands, a back end that is busy), and the wait it suggests.
//!
//! [`recognise`] is a pure function of the server's text (as the client's error shows it,
//! response codes in brackets included) and is matched case-insensitively:
//!
//! | Server | Answer (in `NO`/`BAD`/`BYE` or `-ERR`) | Wait |
//! |---|---|---|
//! | Gmail | `Too many simultaneous connections` | none given |
//! | Gmail, RFC 5530 | `[THROTTLED]`, `[UNAVAILABLE]` response codes | none given |
//! | Gmail | `Account exceeded command or bandwidth limits` | none given |
//! | Microsoft 365 | `Request is throttled. Suggested Backoff Time: N milliseconds` (or `ms`) | N ms |
//! | Microsoft 365 | `User is authenticated but not connected.` | none given |
//! | POP3, RFC 2449/3206 | `[IN-USE]`, `[SYS/TEMP]` response codes | none given |
//!
//! A suggested wait is capped at [`MAX_HINT`]; digits that overflow any integer are read
//! as that cap.
//!
//! ```
//! use std::time::Duration;
//! use inbound_retrieve::backend::throttle::{recognise, Throttle};
//!
//! let answer = "NO Request is throttled. Suggested Backoff Time: 1500 milliseconds";
//! assert_eq!(
//!     recognise(answer),
//!     Some(Throttle { retry_after: Some(Duration::from_millis(1500)) })
//! );
//! assert_eq!(recognise("NO [AUTHENTICATIONFAILED] Invalid credentials"), None);
//! ```

use std::time::Duration;

/// The longest wait a server's hint is taken for: one hour.
pub const MAX_HINT: Duration = Duration::from_secs(3600);

/// A server's answer that says it is throttling this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Throttle {
    /// How long the server asked to wait before trying again (at most [`MAX_HINT`]), when it
    /// said.
    pub retry_after: Option<Duration>,
}

/// Phrases (lower case) that mark a throttling answer without a suggested wait.
const PHRASES: &[&str] = &[
    // Gmail.
    "too many simultaneous connections",
    "account exceeded command or bandwidth limits",
    "[throttled]",
    // RFC 5530; Gmail sends it when its back end is overloaded.
    "[unavailable]",
    // Microsoft 365, after a successful AUTHENTICATE when the mailbox back end is busy.
    "user is authenticated but not connected",
    // POP3, RFC 2449 and RFC 3206.
    "[in-use]",
    "[sys/temp]",
];

/// Microsoft 365's phrase; its hint follows [`M365_HINT`].
const M365_THROTTLED: &str = "request is throttled";
/// What precedes Microsoft 365's suggested wait.
const M365_HINT: &str = "suggested backoff time:";

/// Whether `text`, a server's answer (or an error quoting it), says the server is
/// throttling this client; with the wait it suggests, if any.
pub fn recognise(text: &str) -> Option<Throttle> {
    let lower = text.to_ascii_lowercase();
    if lower.contains(M365_THROTTLED) || lower.contains(M365_HINT) {
        return Some(Throttle {
            retry_after: m365_hint(&lower),
        });
    }
    PHRASES
        .iter()
        .any(|p| lower.contains(p))
        .then_some(Throttle { retry_after: None })
}

/// The wait in `Suggested Backoff Time: N milliseconds` (or `N ms`), capped at
/// [`MAX_HINT`]; `lower` is already lower case.
fn m365_hint(lower: &str) -> Option<Duration> {
    let start = lower.find(M365_HINT)? + M365_HINT.len();
    let rest = lower[start..].trim_start();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return None;
    }
    let unit = rest[digits_end..].trim_start();
    if !(unit.starts_with("millisecond") || unit.starts_with("ms")) {
        return None;
    }
    let cap = MAX_HINT.as_millis() as u64;
    // Saturating: a number too large for any integer is simply "very long".
    let millis = rest[..digits_end].bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Duration::from_millis(millis.min(cap)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(ms: u64) -> Option<Throttle> {
        Some(Throttle {
            retry_after: Some(Duration::from_millis(ms)),
        })
    }

    const NO_HINT: Option<Throttle> = Some(Throttle { retry_after: None });

    #[test]
    fn gmail_answers() {
        for text in [
            "* BYE [ALERT] Too many simultaneous connections. (Failure)",
            "a1 NO [ALERT] Too many simultaneous connections. (Failure)",
            "IMAP login with LOGIN failed: [ALERT] TOO MANY SIMULTANEOUS CONNECTIONS. (Failure)",
            "a2 NO [THROTTLED] Slow down",
            "IMAP server refused SELECT: [UNAVAILABLE] Temporary System Error",
            "* BYE [UNAVAILABLE] Temporary System Error",
            "a3 NO Account exceeded command or bandwidth limits. (Failure)",
        ] {
            assert_eq!(recognise(text), NO_HINT, "{text}");
        }
    }

    #[test]
    fn microsoft_365_answers() {
        assert_eq!(
            recognise("a1 NO Request is throttled. Suggested Backoff Time: 12345 milliseconds"),
            hint(12345)
        );
        assert_eq!(
            recognise("request is throttled. suggested backoff time: 1500 ms"),
            hint(1500)
        );
        assert_eq!(
            recognise("a1 NO Request is throttled. Suggested Backoff Time:1500ms"),
            hint(1500)
        );
        // Throttled, but the hint is missing or not understood.
        assert_eq!(recognise("a1 NO Request is throttled."), NO_HINT);
        assert_eq!(
            recognise("Request is throttled. Suggested Backoff Time: soon"),
            NO_HINT
        );
        assert_eq!(
            recognise("Request is throttled. Suggested Backoff Time: 3 minutes"),
            NO_HINT
        );
        assert_eq!(
            recognise("a2 NO User is authenticated but not connected."),
            NO_HINT
        );
    }

    #[test]
    fn pop3_codes() {
        assert_eq!(recognise("-ERR [IN-USE] Mailbox locked"), NO_HINT);
        assert_eq!(
            recognise("POP3 login with USER/PASS failed: [SYS/TEMP] try later"),
            NO_HINT
        );
        assert_eq!(recognise("-ERR [SYS/PERM] account disabled"), None);
        assert_eq!(recognise("-ERR [AUTH] bad password"), None);
    }

    #[test]
    fn hints_are_capped_and_never_overflow() {
        let cap = Some(Throttle {
            retry_after: Some(MAX_HINT),
        });
        assert_eq!(
            recognise("Request is throttled. Suggested Backoff Time: 3600001 milliseconds"),
            cap
        );
        assert_eq!(
            recognise(
                "Request is throttled. Suggested Backoff Time: \
                 99999999999999999999999999999999999999999 milliseconds"
            ),
            cap
        );
        assert_eq!(
            recognise("Request is throttled. Suggested Backoff Time: 18446744073709551615 ms"),
            cap
        );
        assert_eq!(
            recognise("Request is throttled. Suggested Backoff Time: 0 milliseconds"),
            hint(0)
        );
    }

    #[test]
    fn other_refusals_are_not_throttling() {
        for text in [
            "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
            "a1 NO [ALERT] Please log in via your web browser",
            "* BYE Logging out",
            "a1 NO [TRYCREATE] No such mailbox",
            "-ERR no such message",
            "",
        ] {
            assert_eq!(recognise(text), None, "{text}");
        }
    }
}
