//! The SASL messages of IMAP AUTHENTICATE: PLAIN (RFC 4616), XOAUTH2 (Google, Microsoft)
//! and OAUTHBEARER (RFC 7628). Parsing only; the session checks the credentials.

use std::fmt;

/// The error continuation a bearer-token failure gets, as Exchange Online sends it (the
/// JSON is sent base64-encoded).
pub(crate) const BEARER_ERROR_JSON: &str =
    r#"{"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/.default"}"#;

/// A user and what proves it: a password or a bearer token. Secrets stay out of `Debug`.
#[derive(PartialEq, Eq)]
pub(crate) enum Credentials {
    /// PLAIN or LOGIN.
    Password { user: String, password: String },
    /// XOAUTH2 or OAUTHBEARER; OAUTHBEARER may leave the user to the token.
    Bearer { user: Option<String>, token: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
            Self::Bearer { user, .. } => f
                .debug_struct("Bearer")
                .field("user", user)
                .field("token", &"[redacted]")
                .finish(),
        }
    }
}

/// `[authzid] NUL authcid NUL passwd`; a proxy login (authzid other than authcid) is refused.
pub(crate) fn parse_plain(data: &[u8]) -> Option<Credentials> {
    let mut parts = data.split(|&b| b == 0);
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    Some(Credentials::Password {
        user: String::from_utf8(authcid.to_vec()).ok()?,
        password: String::from_utf8(password.to_vec()).ok()?,
    })
}

fn bearer(value: &str) -> Option<String> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// `user=U ^A auth=Bearer T ^A ^A`.
pub(crate) fn parse_xoauth2(data: &[u8]) -> Option<Credentials> {
    let text = std::str::from_utf8(data).ok()?;
    let (mut user, mut token) = (None, None);
    for pair in text.split('\u{1}').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        match key {
            "user" => user = Some(value.to_owned()).filter(|u| !u.is_empty()),
            "auth" => token = Some(bearer(value)?),
            _ => {}
        }
    }
    Some(Credentials::Bearer {
        user: Some(user?),
        token: token?,
    })
}

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

/// `n,a=user, ^A host=H ^A port=P ^A auth=Bearer T ^A ^A` (no channel binding).
pub(crate) fn parse_oauthbearer(data: &[u8]) -> Option<Credentials> {
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
    Some(Credentials::Bearer {
        user: user.filter(|u| !u.is_empty()),
        token: token?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms() {
        assert_eq!(
            parse_plain(b"\0alice\0pw"),
            Some(Credentials::Password {
                user: "alice".into(),
                password: "pw".into()
            })
        );
        assert!(parse_plain(b"bob\0alice\0pw").is_none());
        let x = parse_xoauth2(b"user=a@b\x01auth=Bearer s3cr3t\x01\x01").unwrap();
        assert!(!format!("{x:?}").contains("s3cr3t"));
        assert_eq!(
            x,
            Credentials::Bearer {
                user: Some("a@b".into()),
                token: "s3cr3t".into()
            }
        );
        assert!(parse_xoauth2(b"auth=Bearer tok\x01\x01").is_none());
        let o =
            parse_oauthbearer(b"n,a=a=2Cb,\x01host=h\x01port=1\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(
            o,
            Credentials::Bearer {
                user: Some("a,b".into()),
                token: "t".into()
            }
        );
        assert!(parse_oauthbearer(b"p=x,,\x01auth=Bearer t\x01\x01").is_none());
    }
}
