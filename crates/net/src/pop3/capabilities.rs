//! The server's capabilities, from `CAPA` (RFC 2449).

use inbound_pop3_codec::{Capability, ExpirePolicy};

/// What the server announced in its answer to `CAPA`, or nothing known when it does not
/// support `CAPA` (an RFC 1939-only server).
///
/// The client asks again after STLS (what was said in plaintext is forgotten) and after
/// login (RFC 2449: some capabilities differ per user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    list: Option<Vec<Capability>>,
}

impl Capabilities {
    /// Capabilities from a `CAPA` answer.
    #[must_use]
    pub fn new(list: Vec<Capability>) -> Self {
        Self { list: Some(list) }
    }

    /// Nothing known: the server refused `CAPA` (or it was not asked yet).
    #[must_use]
    pub fn unknown() -> Self {
        Self { list: None }
    }

    /// Whether the server answered `CAPA`.
    #[must_use]
    pub fn is_known(&self) -> bool {
        self.list.is_some()
    }

    /// The capabilities in the order sent (empty when unknown).
    #[must_use]
    pub fn as_slice(&self) -> &[Capability] {
        self.list.as_deref().unwrap_or_default()
    }

    fn has(&self, capability: &Capability) -> bool {
        self.as_slice().contains(capability)
    }

    /// `STLS`: the connection can be upgraded to TLS.
    #[must_use]
    pub fn stls(&self) -> bool {
        self.has(&Capability::Stls)
    }

    /// `PIPELINING`: several commands may be sent before the answers are read.
    #[must_use]
    pub fn pipelining(&self) -> bool {
        self.has(&Capability::Pipelining)
    }

    /// `USER`: USER/PASS login is offered.
    #[must_use]
    pub fn user(&self) -> bool {
        self.has(&Capability::User)
    }

    /// `TOP`.
    #[must_use]
    pub fn top(&self) -> bool {
        self.has(&Capability::Top)
    }

    /// `UIDL`.
    #[must_use]
    pub fn uidl(&self) -> bool {
        self.has(&Capability::Uidl)
    }

    /// `RESP-CODES`: `-ERR` texts may start with a bracketed response code.
    #[must_use]
    pub fn resp_codes(&self) -> bool {
        self.has(&Capability::RespCodes)
    }

    /// The SASL mechanism names of the `SASL` capability, as sent.
    pub fn sasl_mechanisms(&self) -> impl Iterator<Item = &str> {
        self.as_slice()
            .iter()
            .filter_map(|c| match c {
                Capability::Sasl(mechanisms) => Some(mechanisms),
                _ => None,
            })
            .flatten()
            .map(|m| m.as_str())
    }

    /// `IMPLEMENTATION`: the server software, free text.
    #[must_use]
    pub fn implementation(&self) -> Option<&str> {
        self.as_slice().iter().find_map(|c| match c {
            Capability::Implementation(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// `LOGIN-DELAY`: the least number of seconds between two logins.
    #[must_use]
    pub fn login_delay(&self) -> Option<u32> {
        self.as_slice().iter().find_map(|c| match c {
            Capability::LoginDelay { seconds, .. } => Some(*seconds),
            _ => None,
        })
    }

    /// `EXPIRE`: how long the server keeps retrieved messages.
    #[must_use]
    pub fn expire(&self) -> Option<ExpirePolicy> {
        self.as_slice().iter().find_map(|c| match c {
            Capability::Expire { policy, .. } => Some(*policy),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use inbound_pop3_codec::Mechanism;

    #[test]
    fn queries() {
        let caps = Capabilities::new(vec![
            Capability::Top,
            Capability::Pipelining,
            Capability::Sasl(vec![
                Mechanism::new("PLAIN").unwrap(),
                Mechanism::new("XOAUTH2").unwrap(),
            ]),
            Capability::LoginDelay {
                seconds: 60,
                per_user: false,
            },
        ]);
        assert!(caps.is_known() && caps.top() && caps.pipelining());
        assert!(!caps.stls() && !caps.user() && !caps.uidl());
        assert_eq!(
            caps.sasl_mechanisms().collect::<Vec<_>>(),
            ["PLAIN", "XOAUTH2"]
        );
        assert_eq!(caps.login_delay(), Some(60));
        let none = Capabilities::unknown();
        assert!(!none.is_known() && none.as_slice().is_empty() && !none.stls());
    }
}
