//! Capabilities announced by `CAPA` (RFC 2449 section 6, RFC 2595, RFC 5034, RFC 6856).

use bytes::{BufMut as _, BytesMut};

use crate::core::{CapabilityTag, Mechanism, Param, Text};

/// How long a server keeps retrieved messages (RFC 2449 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirePolicy {
    /// Messages are kept at least this many days (0: deleted after retrieval).
    Days(u32),
    /// Messages are never deleted by the server.
    Never,
}

/// One capability line of a `CAPA` answer.
///
/// Known tags are matched case-insensitively; a known tag with arguments that do not fit its
/// grammar is kept as [`Capability::Other`] rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// `TOP`: the TOP command is available.
    Top,
    /// `USER`: USER/PASS login is available.
    User,
    /// `SASL mech...`: AUTH with these mechanisms (RFC 5034).
    Sasl(Vec<Mechanism>),
    /// `RESP-CODES`: text starting with `[` is a response code.
    RespCodes,
    /// `LOGIN-DELAY secs [USER]`: minimum seconds between logins.
    LoginDelay {
        /// Minimum delay in seconds.
        seconds: u32,
        /// `USER`: the value may differ per user (sent before login).
        per_user: bool,
    },
    /// `PIPELINING`: the client may send several commands before reading answers.
    Pipelining,
    /// `EXPIRE days|NEVER [USER]`: retention policy.
    Expire {
        /// The policy.
        policy: ExpirePolicy,
        /// `USER`: the value may differ per user.
        per_user: bool,
    },
    /// `UIDL`: the UIDL command is available.
    Uidl,
    /// `IMPLEMENTATION text`: the server's name, free text.
    Implementation(Text),
    /// `STLS`: STARTTLS is available (RFC 2595 section 4).
    Stls,
    /// `AUTH-RESP-CODE`: the `[AUTH]` response code is used (RFC 3206).
    AuthRespCode,
    /// `UTF8 [USER]`: the UTF8 command is available (RFC 6856).
    Utf8 {
        /// `USER`: UTF-8 user names and passwords are accepted.
        user: bool,
    },
    /// Any other capability, kept verbatim.
    Other {
        /// The tag.
        tag: CapabilityTag,
        /// The space-separated parameters.
        params: Vec<Param>,
    },
}

impl Capability {
    /// Interprets a tag and its parameters.
    pub fn from_parts(tag: CapabilityTag, params: Vec<Param>) -> Self {
        let p: Vec<&str> = params.iter().map(Param::as_str).collect();
        let is_user = |s: &&str| s.eq_ignore_ascii_case("USER");
        let known = match tag.as_str().to_ascii_uppercase().as_str() {
            "TOP" if p.is_empty() => Some(Self::Top),
            "USER" if p.is_empty() => Some(Self::User),
            "SASL" => params
                .iter()
                .map(|m| Mechanism::new(m.as_str()))
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .map(Self::Sasl),
            "RESP-CODES" if p.is_empty() => Some(Self::RespCodes),
            "LOGIN-DELAY" => match p.as_slice() {
                [secs] => secs.parse().ok().map(|seconds| Self::LoginDelay {
                    seconds,
                    per_user: false,
                }),
                [secs, user] if is_user(user) => {
                    secs.parse().ok().map(|seconds| Self::LoginDelay {
                        seconds,
                        per_user: true,
                    })
                }
                _ => None,
            },
            "PIPELINING" if p.is_empty() => Some(Self::Pipelining),
            "EXPIRE" => {
                let policy = |s: &str| {
                    if s.eq_ignore_ascii_case("NEVER") {
                        Some(ExpirePolicy::Never)
                    } else {
                        s.parse().ok().map(ExpirePolicy::Days)
                    }
                };
                match p.as_slice() {
                    [v] => policy(v).map(|policy| Self::Expire {
                        policy,
                        per_user: false,
                    }),
                    [v, user] if is_user(user) => policy(v).map(|policy| Self::Expire {
                        policy,
                        per_user: true,
                    }),
                    _ => None,
                }
            }
            "UIDL" if p.is_empty() => Some(Self::Uidl),
            "IMPLEMENTATION" => Text::new(p.join(" ")).ok().map(Self::Implementation),
            "STLS" if p.is_empty() => Some(Self::Stls),
            "AUTH-RESP-CODE" if p.is_empty() => Some(Self::AuthRespCode),
            "UTF8" => match p.as_slice() {
                [] => Some(Self::Utf8 { user: false }),
                [user] if is_user(user) => Some(Self::Utf8 { user: true }),
                _ => None,
            },
            _ => None,
        };
        known.unwrap_or(Self::Other { tag, params })
    }

    /// Appends the capability line with its CRLF.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let user = |per_user: bool| if per_user { " USER" } else { "" };
        match self {
            Self::Top => out.put_slice(b"TOP"),
            Self::User => out.put_slice(b"USER"),
            Self::Sasl(mechs) => {
                out.put_slice(b"SASL");
                for m in mechs {
                    out.put_u8(b' ');
                    out.put_slice(m.as_str().as_bytes());
                }
            }
            Self::RespCodes => out.put_slice(b"RESP-CODES"),
            Self::LoginDelay { seconds, per_user } => {
                out.put_slice(format!("LOGIN-DELAY {seconds}{}", user(*per_user)).as_bytes());
            }
            Self::Pipelining => out.put_slice(b"PIPELINING"),
            Self::Expire { policy, per_user } => {
                let value = match policy {
                    ExpirePolicy::Days(d) => d.to_string(),
                    ExpirePolicy::Never => "NEVER".to_owned(),
                };
                out.put_slice(format!("EXPIRE {value}{}", user(*per_user)).as_bytes());
            }
            Self::Uidl => out.put_slice(b"UIDL"),
            Self::Implementation(text) => {
                out.put_slice(b"IMPLEMENTATION");
                if !text.is_empty() {
                    out.put_u8(b' ');
                    out.put_slice(text.as_str().as_bytes());
                }
            }
            Self::Stls => out.put_slice(b"STLS"),
            Self::AuthRespCode => out.put_slice(b"AUTH-RESP-CODE"),
            Self::Utf8 { user: u } => {
                out.put_slice(format!("UTF8{}", user(*u)).as_bytes());
            }
            Self::Other { tag, params } => {
                out.put_slice(tag.as_str().as_bytes());
                for p in params {
                    out.put_u8(b' ');
                    out.put_slice(p.as_str().as_bytes());
                }
            }
        }
        out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn capa(tag: &str, params: &[&str]) -> Capability {
        Capability::from_parts(
            CapabilityTag::new(tag).unwrap(),
            params.iter().map(|p| Param::new(*p).unwrap()).collect(),
        )
    }

    #[test]
    fn known_capabilities() {
        assert_eq!(
            capa("login-delay", &["900"]),
            Capability::LoginDelay {
                seconds: 900,
                per_user: false
            }
        );
        assert_eq!(
            capa("EXPIRE", &["NEVER", "USER"]),
            Capability::Expire {
                policy: ExpirePolicy::Never,
                per_user: true
            }
        );
        assert!(matches!(capa("SASL", &["PLAIN", "XOAUTH2"]), Capability::Sasl(m) if m.len() == 2));
        // Broken arguments of a known tag are kept, not rejected.
        assert!(matches!(
            capa("LOGIN-DELAY", &["soon"]),
            Capability::Other { .. }
        ));
        assert!(matches!(capa("X-FOO", &[]), Capability::Other { .. }));
    }
}
