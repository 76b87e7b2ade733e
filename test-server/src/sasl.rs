//! The SASL mechanisms both sessions offer: PLAIN (RFC 4616), XOAUTH2 (Google and
//! Microsoft) and OAUTHBEARER (RFC 7628): parsing the client's message, checking a password
//! or a bearer token, and the error continuation of a bearer failure. The framing (IMAP
//! `AUTHENTICATE` continuations, POP3 `AUTH` and `+ ` lines) and what a failure answers stay
//! in each session.

use std::fmt;

use crate::mailstore::MailStore;
use crate::oauth::{TokenError, TokenRegistry};

/// A mechanism the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    Plain,
    XOAuth2,
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order CAPA lists them.
    pub(crate) const ALL: [Self; 3] = [Self::Plain, Self::XOAuth2, Self::OAuthBearer];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism called `name` (any case).
    pub(crate) fn find(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// The answer to a bearer-token failure, as Exchange Online sends it (base64 of this JSON is
/// the text of the error continuation).
pub(crate) const BEARER_ERROR_JSON: &str =
    r#"{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/.default"}"#;

/// PLAIN credentials: `[authzid] NUL authcid NUL passwd`.
#[derive(PartialEq, Eq)]
pub(crate) struct PlainCredentials {
    pub(crate) authzid: String,
    pub(crate) authcid: String,
    pub(crate) password: String,
}

impl fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl PlainCredentials {
    /// The user to log in as, when the authorization identity is empty or the same as the
    /// authentication identity (no proxy logins here).
    pub(crate) fn user(&self) -> Option<&str> {
        (self.authzid.is_empty() || self.authzid == self.authcid).then_some(&*self.authcid)
    }
}

/// Parses a PLAIN message (RFC 4616 section 2).
pub(crate) fn parse_plain(data: &[u8]) -> Option<PlainCredentials> {
    let mut parts = data.split(|&b| b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    let password = parts.next()?;
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    Some(PlainCredentials {
        authzid: String::from_utf8(authzid.to_vec()).ok()?,
        authcid: String::from_utf8(authcid.to_vec()).ok()?,
        password: String::from_utf8(password.to_vec()).ok()?,
    })
}

/// The user a PLAIN message logs in as: well-formed, no proxy login, and the password is
/// the store's.
pub(crate) fn check_plain(store: &MailStore, data: &[u8]) -> Option<String> {
    let credentials = parse_plain(data)?;
    let user = credentials.user()?;
    store
        .check_password(user, &credentials.password)
        .then(|| user.to_owned())
}

/// A bearer token and the user it is presented for (XOAUTH2 always names one; OAUTHBEARER
/// may leave it to the token).
#[derive(PartialEq, Eq)]
pub(crate) struct BearerCredentials {
    pub(crate) user: Option<String>,
    pub(crate) token: String,
}

impl fmt::Debug for BearerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerCredentials")
            .field("user", &self.user)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl BearerCredentials {
    /// The user the token opens: the named user when the token is valid for it, else the
    /// token's owner.
    pub(crate) fn check(&self, registry: &TokenRegistry) -> Result<String, TokenError> {
        match &self.user {
            Some(user) => registry.authorize(&self.token, user).map(|_| user.clone()),
            None => registry.validate(&self.token).map(|info| info.owner),
        }
    }
}

/// The token of an `auth=Bearer TOKEN` key-value pair.
fn bearer(value: &str) -> Option<String> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_matches(' ');
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// Parses `user=U ^A auth=Bearer T ^A ^A` (XOAUTH2).
pub(crate) fn parse_xoauth2(data: &[u8]) -> Option<BearerCredentials> {
    let text = std::str::from_utf8(data).ok()?;
    let mut user = None;
    let mut token = None;
    for pair in text.split('\u{1}').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        match key {
            "user" => user = Some(value.to_owned()),
            "auth" => token = Some(bearer(value)?),
            _ => {}
        }
    }
    Some(BearerCredentials {
        user: Some(user.filter(|u| !u.is_empty())?),
        token: token?,
    })
}

/// Undoes the `=2C` / `=3D` escapes of a GS2 `saslname` (RFC 5801 section 4).
fn unescape_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        out.push(match rest.get(i..i + 3)? {
            "=2C" | "=2c" => ',',
            "=3D" | "=3d" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Parses `gs2-header ^A host=H ^A port=P ^A auth=Bearer T ^A ^A` (OAUTHBEARER, RFC 7628
/// section 3.1). Channel binding (`p=`) is refused.
pub(crate) fn parse_oauthbearer(data: &[u8]) -> Option<BearerCredentials> {
    let text = std::str::from_utf8(data).ok()?;
    let (gs2, rest) = text.split_once('\u{1}')?;
    let mut fields = gs2.split(',');
    if !matches!(fields.next()?, "n" | "y") {
        return None;
    }
    let user = match fields.next()? {
        "" => None,
        authzid => Some(unescape_saslname(authzid.strip_prefix("a=")?)?),
    };
    if fields.next() != Some("") || fields.next().is_some() {
        return None;
    }
    let mut token = None;
    for pair in rest.split('\u{1}').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        if key == "auth" {
            token = Some(bearer(value)?);
        }
    }
    Some(BearerCredentials {
        user: user.filter(|u| !u.is_empty()),
        token: token?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn plain() {
        let c = parse_plain(b"\0alice\0pw").unwrap();
        assert_eq!(c.user(), Some("alice"));
        assert_eq!(c.password, "pw");
        assert_eq!(
            parse_plain(b"alice\0alice\0pw").unwrap().user(),
            Some("alice")
        );
        assert_eq!(parse_plain(b"bob\0alice\0pw").unwrap().user(), None);
        assert!(parse_plain(b"\0alice").is_none());
        assert!(parse_plain(b"\0alice\0pw\0x").is_none());
        assert!(parse_plain(b"\0\0pw").is_none());
        assert!(!format!("{c:?}").contains("pw\""));
    }

    #[test]
    fn plain_login() {
        let store = MailStore::new();
        store.add_user("alice", "pw");
        assert_eq!(
            check_plain(&store, b"\0alice\0pw"),
            Some("alice".to_owned())
        );
        assert_eq!(
            check_plain(&store, b"alice\0alice\0pw"),
            Some("alice".to_owned())
        );
        // A proxy login, a wrong password, an unknown user, a malformed message.
        assert_eq!(check_plain(&store, b"bob\0alice\0pw"), None);
        assert_eq!(check_plain(&store, b"\0alice\0nope"), None);
        assert_eq!(check_plain(&store, b"\0bob\0pw"), None);
        assert_eq!(check_plain(&store, b"\0alice"), None);
    }

    #[test]
    fn xoauth2() {
        let c = parse_xoauth2(b"user=alice@example.test\x01auth=Bearer abc.def\x01\x01").unwrap();
        assert_eq!(c.user.as_deref(), Some("alice@example.test"));
        assert_eq!(c.token, "abc.def");
        assert!(!format!("{c:?}").contains("abc.def"));
        assert!(parse_xoauth2(b"user=alice\x01auth=Basic abc\x01\x01").is_none());
        assert!(parse_xoauth2(b"auth=Bearer abc\x01\x01").is_none());
        assert!(parse_xoauth2(b"user=alice\x01\x01").is_none());
        assert!(parse_xoauth2(b"garbage").is_none());
        let x = parse_xoauth2(b"user=a@b\x01auth=Bearer s3cr3t\x01\x01").unwrap();
        assert!(!format!("{x:?}").contains("s3cr3t"));
        assert_eq!(
            x,
            BearerCredentials {
                user: Some("a@b".into()),
                token: "s3cr3t".into()
            }
        );
    }

    #[test]
    fn oauthbearer() {
        let c = parse_oauthbearer(
            b"n,a=al=2Cice=3D,\x01host=127.0.0.1\x01port=1110\x01auth=Bearer tok\x01\x01",
        )
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("al,ice="));
        assert_eq!(c.token, "tok");
        let c = parse_oauthbearer(b"n,,\x01auth=Bearer tok\x01\x01").unwrap();
        assert_eq!(c.user, None);
        assert!(parse_oauthbearer(b"p=tls-unique,a=x,\x01auth=Bearer tok\x01\x01").is_none());
        assert!(parse_oauthbearer(b"n,a=x,\x01host=h\x01\x01").is_none());
        assert!(parse_oauthbearer(b"n,a=x=4,\x01auth=Bearer t\x01\x01").is_none());
        assert!(parse_oauthbearer(b"\x01").is_none());
        let o =
            parse_oauthbearer(b"n,a=a=2Cb,\x01host=h\x01port=1\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(
            o,
            BearerCredentials {
                user: Some("a,b".into()),
                token: "t".into()
            }
        );
        assert!(parse_oauthbearer(b"p=x,,\x01auth=Bearer t\x01\x01").is_none());
    }

    #[test]
    fn bearer_check() {
        let registry = TokenRegistry::new();
        let token = registry.issue_token("alice", Duration::from_secs(60));
        let named = |user: &str| BearerCredentials {
            user: Some(user.to_owned()),
            token: token.clone(),
        };
        assert_eq!(named("alice").check(&registry), Ok("alice".to_owned()));
        let ownerless = BearerCredentials {
            user: None,
            token: token.clone(),
        };
        assert_eq!(ownerless.check(&registry), Ok("alice".to_owned()));
        assert!(matches!(
            named("bob").check(&registry),
            Err(TokenError::NotAuthorized { .. })
        ));
        let unknown = BearerCredentials {
            user: Some("alice".to_owned()),
            token: "nope".to_owned(),
        };
        assert_eq!(unknown.check(&registry), Err(TokenError::Unknown));
    }

    #[test]
    fn mechanisms() {
        assert_eq!(Mechanism::find("xoauth2"), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::find("CRAM-MD5"), None);
    }
}
