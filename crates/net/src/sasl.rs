//! SASL client mechanisms, without I/O.
//!
//! This module builds the raw bytes of each SASL message; the IMAP and POP3 codecs
//! base64-encode them for `AUTHENTICATE` / `AUTH`. [`SaslClient`] drives one exchange:
//! take its [`SaslClient::initial_response`] when the server supports SASL-IR (RFC 4959) or
//! POP3 initial responses (RFC 5034), then feed every decoded server challenge to
//! [`SaslClient::step`].
//!
//! Mechanisms: PLAIN (RFC 4616), LOGIN (the draft-murchison-sasl-login two-step exchange),
//! XOAUTH2 (Google and Microsoft) and OAUTHBEARER (RFC 7628).

use std::fmt;
use std::sync::Arc;

use crate::Secret;
use crate::oauth::TokenProvider;

/// A SASL mechanism this crate can speak.
///
/// [`Mechanism::preference`] orders them for [`choose`]: among password mechanisms PLAIN
/// (which sends the password in one message, under TLS) comes before LOGIN; among token
/// mechanisms XOAUTH2 comes before OAUTHBEARER, because it is the one Microsoft 365 supports
/// and Google documents first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN`, RFC 4616.
    Plain,
    /// `LOGIN`: user name and password in two challenge/response steps.
    Login,
    /// `XOAUTH2`: user and bearer token.
    XOAuth2,
    /// `OAUTHBEARER`, RFC 7628.
    OAuthBearer,
}

impl Mechanism {
    /// All mechanisms, most preferred first.
    pub const BY_PREFERENCE: [Mechanism; 4] = [
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    /// The registered SASL name, as sent in `AUTHENTICATE`/`AUTH`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Looks a mechanism up by its SASL name (case-insensitive). Unknown names give `None`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::BY_PREFERENCE
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The kind of credentials this mechanism needs.
    #[must_use]
    pub fn credentials_kind(self) -> CredentialsKind {
        match self {
            Self::Plain | Self::Login => CredentialsKind::Password,
            Self::XOAuth2 | Self::OAuthBearer => CredentialsKind::OAuth,
        }
    }

    /// Higher is preferred by [`choose`].
    #[must_use]
    pub fn preference(self) -> u8 {
        match self {
            Self::XOAuth2 => 4,
            Self::OAuthBearer => 3,
            Self::Plain => 2,
            Self::Login => 1,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of secret an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialsKind {
    /// A password.
    Password,
    /// OAuth 2.0 bearer tokens.
    OAuth,
}

impl fmt::Display for CredentialsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Password => "password",
            Self::OAuth => "OAuth",
        })
    }
}

/// An account's credentials.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// User name and password.
    Password {
        /// The login name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// OAuth 2.0. `user` is the SASL user, the mailbox to open: for a shared mailbox it is
    /// the shared mailbox's address, not the account that owns the token.
    OAuth {
        /// The SASL user (mailbox address).
        user: String,
        /// Where access tokens come from.
        provider: Arc<dyn TokenProvider>,
    },
}

impl Credentials {
    /// Password credentials.
    pub fn password(user: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Password {
            user: user.into(),
            password: password.into(),
        }
    }

    /// OAuth credentials.
    pub fn oauth(user: impl Into<String>, provider: Arc<dyn TokenProvider>) -> Self {
        Self::OAuth {
            user: user.into(),
            provider,
        }
    }

    /// The kind of credentials.
    #[must_use]
    pub fn kind(&self) -> CredentialsKind {
        match self {
            Self::Password { .. } => CredentialsKind::Password,
            Self::OAuth { .. } => CredentialsKind::OAuth,
        }
    }

    /// The user name sent to the server.
    #[must_use]
    pub fn user(&self) -> &str {
        match self {
            Self::Password { user, .. } | Self::OAuth { user, .. } => user,
        }
    }
}

/// Picks the SASL mechanism to use.
///
/// `advertised` are the names from the server's capabilities (`AUTH=PLAIN` in IMAP gives
/// `PLAIN`; the words of POP3 `SASL`); unknown names are ignored, case does not matter.
///
/// - With `configured` set, that mechanism is used if it suits the credentials and the server
///   advertises it; otherwise an error says which of the two is wrong.
/// - Otherwise the most preferred advertised mechanism that the credentials allow is
///   returned. `Ok(None)` means none fits: with a password, the client may fall back to the
///   IMAP `LOGIN` command or POP3 `USER`/`PASS` (under TLS); with a token, login is
///   impossible.
///
/// # Errors
/// [`SaslError::WrongCredentials`] or [`SaslError::NotAdvertised`] for a configured
/// mechanism.
pub fn choose<I, S>(
    advertised: I,
    kind: CredentialsKind,
    configured: Option<Mechanism>,
) -> Result<Option<Mechanism>, SaslError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let offered: Vec<Mechanism> = advertised
        .into_iter()
        .filter_map(|name| Mechanism::from_name(name.as_ref()))
        .collect();
    if let Some(mechanism) = configured {
        if mechanism.credentials_kind() != kind {
            return Err(SaslError::WrongCredentials { mechanism, kind });
        }
        if !offered.contains(&mechanism) {
            return Err(SaslError::NotAdvertised { mechanism });
        }
        return Ok(Some(mechanism));
    }
    Ok(offered
        .into_iter()
        .filter(|m| m.credentials_kind() == kind)
        .max_by_key(|m| m.preference()))
}

/// Raw bytes of one SASL client message. It usually holds a password or token, so `Debug`
/// shows only `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SaslResponse(Vec<u8>);

impl SaslResponse {
    /// The bytes, before base64.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, before base64.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Whether the response is empty (sent as an empty line / `=` in SASL-IR).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaslResponse([redacted])")
    }
}

/// `PLAIN` (RFC 4616): `[authzid] NUL authcid NUL passwd`.
///
/// # Errors
/// [`SaslError::ForbiddenCharacter`] if a field contains NUL.
pub fn plain_message(
    authzid: Option<&str>,
    user: &str,
    password: &Secret,
) -> Result<SaslResponse, SaslError> {
    let forbid_nul = |field, value: &str| {
        if value.contains('\0') {
            Err(SaslError::ForbiddenCharacter {
                field,
                mechanism: Mechanism::Plain,
            })
        } else {
            Ok(())
        }
    };
    let authzid = authzid.unwrap_or("");
    forbid_nul("authorization identity", authzid)?;
    forbid_nul("user", user)?;
    forbid_nul("password", password.expose())?;
    let mut out = Vec::with_capacity(authzid.len() + user.len() + password.expose().len() + 2);
    out.extend_from_slice(authzid.as_bytes());
    out.push(0);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    out.extend_from_slice(password.expose().as_bytes());
    Ok(SaslResponse(out))
}

/// `XOAUTH2`: `user=USER \x01 auth=Bearer TOKEN \x01 \x01`.
///
/// ```
/// use inbound_net::{Secret, sasl::xoauth2_message};
///
/// let msg = xoauth2_message("someone@example.com", &Secret::new("ya29.token")).unwrap();
/// assert_eq!(msg.as_bytes(), b"user=someone@example.com\x01auth=Bearer ya29.token\x01\x01");
/// ```
///
/// # Errors
/// [`SaslError::ForbiddenCharacter`] if the user contains `\x01`, [`SaslError::InvalidToken`]
/// if the token is not a bearer token.
pub fn xoauth2_message(user: &str, token: &Secret) -> Result<SaslResponse, SaslError> {
    if user.contains('\x01') {
        return Err(SaslError::ForbiddenCharacter {
            field: "user",
            mechanism: Mechanism::XOAuth2,
        });
    }
    check_bearer_token(token)?;
    let mut out = Vec::with_capacity(user.len() + token.expose().len() + 22);
    out.extend_from_slice(b"user=");
    out.extend_from_slice(user.as_bytes());
    out.extend_from_slice(b"\x01auth=Bearer ");
    out.extend_from_slice(token.expose().as_bytes());
    out.extend_from_slice(b"\x01\x01");
    Ok(SaslResponse(out))
}

/// `OAUTHBEARER` (RFC 7628 section 3.1):
/// `n,a=USER,\x01host=HOST\x01port=PORT\x01auth=Bearer TOKEN\x01\x01`.
/// `,` and `=` in the user are escaped as `=2C` and `=3D` (RFC 5801 `saslname`).
///
/// # Errors
/// [`SaslError::ForbiddenCharacter`] if the user or host contains a control character,
/// [`SaslError::InvalidToken`] if the token is not a bearer token.
pub fn oauthbearer_message(
    user: &str,
    host: &str,
    port: u16,
    token: &Secret,
) -> Result<SaslResponse, SaslError> {
    let mechanism = Mechanism::OAuthBearer;
    if user.chars().any(|c| c.is_control()) {
        return Err(SaslError::ForbiddenCharacter {
            field: "user",
            mechanism,
        });
    }
    if host.chars().any(|c| c.is_control()) {
        return Err(SaslError::ForbiddenCharacter {
            field: "host",
            mechanism,
        });
    }
    check_bearer_token(token)?;
    let mut out = Vec::with_capacity(user.len() + host.len() + token.expose().len() + 40);
    out.extend_from_slice(b"n,a=");
    for c in user.chars() {
        match c {
            ',' => out.extend_from_slice(b"=2C"),
            '=' => out.extend_from_slice(b"=3D"),
            _ => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.extend_from_slice(b",\x01host=");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(format!("\x01port={port}\x01auth=Bearer ").as_bytes());
    out.extend_from_slice(token.expose().as_bytes());
    out.extend_from_slice(b"\x01\x01");
    Ok(SaslResponse(out))
}

/// RFC 6750 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn check_bearer_token(token: &Secret) -> Result<(), SaslError> {
    let bytes = token.expose().as_bytes();
    let body_len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
        .count();
    if body_len == 0 || !bytes[body_len..].iter().all(|&b| b == b'=') {
        return Err(SaslError::InvalidToken);
    }
    Ok(())
}

/// The error a server reports in an XOAUTH2 / OAUTHBEARER challenge (RFC 7628 section 3.2.2),
/// e.g. `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthServerError {
    /// `status`: an HTTP-like code or an OAuth error name (`400`, `401`, `invalid_token`).
    pub status: String,
    /// `schemes`: the authentication schemes the server accepts.
    pub schemes: Option<String>,
    /// `scope`: the scope the token needs.
    pub scope: Option<String>,
    /// `openid-configuration`: where to discover the authorization server.
    pub openid_configuration: Option<String>,
}

/// The largest error challenge [`decode_oauth_error`] reads.
const MAX_ERROR_CHALLENGE: usize = 16 * 1024;

/// Decodes the JSON of an XOAUTH2 / OAUTHBEARER error challenge (after base64).
///
/// # Errors
/// [`SaslError::MalformedErrorChallenge`] if it is not a JSON object with a `status`, or is
/// longer than 16 KiB.
pub fn decode_oauth_error(challenge: &[u8]) -> Result<OAuthServerError, SaslError> {
    let malformed = |reason: String| SaslError::MalformedErrorChallenge { reason };
    if challenge.len() > MAX_ERROR_CHALLENGE {
        return Err(malformed(format!("{} bytes is too long", challenge.len())));
    }
    let value: serde_json::Value =
        serde_json::from_slice(challenge).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object".to_owned()))?;
    // Some servers send numbers where the RFC has strings.
    let field = |name: &str| -> Option<String> {
        match object.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let status = field("status").ok_or_else(|| malformed("no \"status\" field".to_owned()))?;
    Ok(OAuthServerError {
        status,
        schemes: field("schemes"),
        scope: field("scope"),
        openid_configuration: field("openid-configuration"),
    })
}

/// What to do after a server challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum SaslStep {
    /// Send this response.
    Respond(SaslResponse),
    /// The server rejected the token and said why. Send `reply` to finish the exchange (the
    /// server then answers NO / -ERR), and invalidate the cached token before trying again.
    /// `error` is `None` when the challenge was not the expected JSON.
    OAuthFailure {
        /// The response that ends the exchange: empty for XOAUTH2, `\x01` for OAUTHBEARER.
        reply: SaslResponse,
        /// The decoded error.
        error: Option<OAuthServerError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Start,
    /// The (only) message was sent; for LOGIN: the user name was sent.
    Sent,
    /// LOGIN: the password was sent.
    PasswordSent,
    /// An OAuth error was acknowledged.
    Failed,
}

/// One client side of a SASL exchange.
///
/// ```
/// use inbound_net::Secret;
/// use inbound_net::sasl::{SaslClient, SaslStep};
///
/// let mut login = SaslClient::login("alice", &Secret::new("pw"));
/// assert!(login.initial_response().is_none());
/// let SaslStep::Respond(user) = login.step(b"Username:").unwrap() else { panic!() };
/// assert_eq!(user.as_bytes(), b"alice");
/// let SaslStep::Respond(pass) = login.step(b"Password:").unwrap() else { panic!() };
/// assert_eq!(pass.as_bytes(), b"pw");
/// assert!(login.step(b"more?").is_err());
/// ```
#[derive(Debug)]
pub struct SaslClient {
    mechanism: Mechanism,
    state: State,
    steps: u32,
    /// PLAIN/XOAUTH2/OAUTHBEARER: the single message. LOGIN: the user name.
    first: SaslResponse,
    /// LOGIN: the password.
    password: Option<Secret>,
}

impl SaslClient {
    fn single(mechanism: Mechanism, message: SaslResponse) -> Self {
        Self {
            mechanism,
            state: State::Start,
            steps: 0,
            first: message,
            password: None,
        }
    }

    /// PLAIN with an optional authorization identity (to act as another user).
    ///
    /// # Errors
    /// As [`plain_message`].
    pub fn plain(authzid: Option<&str>, user: &str, password: &Secret) -> Result<Self, SaslError> {
        Ok(Self::single(
            Mechanism::Plain,
            plain_message(authzid, user, password)?,
        ))
    }

    /// LOGIN.
    #[must_use]
    pub fn login(user: &str, password: &Secret) -> Self {
        Self {
            mechanism: Mechanism::Login,
            state: State::Start,
            steps: 0,
            first: SaslResponse(user.as_bytes().to_vec()),
            password: Some(password.clone()),
        }
    }

    /// XOAUTH2.
    ///
    /// # Errors
    /// As [`xoauth2_message`].
    pub fn xoauth2(user: &str, token: &Secret) -> Result<Self, SaslError> {
        Ok(Self::single(
            Mechanism::XOAuth2,
            xoauth2_message(user, token)?,
        ))
    }

    /// OAUTHBEARER; `host` and `port` are the server's, as connected to.
    ///
    /// # Errors
    /// As [`oauthbearer_message`].
    pub fn oauthbearer(
        user: &str,
        host: &str,
        port: u16,
        token: &Secret,
    ) -> Result<Self, SaslError> {
        Ok(Self::single(
            Mechanism::OAuthBearer,
            oauthbearer_message(user, host, port, token)?,
        ))
    }

    /// The mechanism.
    #[must_use]
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response to send with the command (SASL-IR), if the mechanism has one
    /// and it has not been sent yet. LOGIN has none.
    pub fn initial_response(&mut self) -> Option<SaslResponse> {
        if self.mechanism == Mechanism::Login || self.state != State::Start {
            return None;
        }
        self.state = State::Sent;
        Some(self.first.clone())
    }

    /// Answers a server challenge (already base64-decoded).
    ///
    /// # Errors
    /// [`SaslError::UnexpectedChallenge`] when the mechanism has nothing more to say: the
    /// client should cancel the exchange (`*` in IMAP and POP3).
    pub fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, SaslError> {
        let unexpected = SaslError::UnexpectedChallenge {
            mechanism: self.mechanism,
            len: challenge.len(),
            step: self.steps,
        };
        self.steps = self.steps.saturating_add(1);
        match (self.mechanism, self.state) {
            // Without SASL-IR the server sends an empty challenge first; PLAIN and the token
            // mechanisms have no server challenge to read, so any first challenge is answered
            // with the message.
            (_, State::Start) => {
                self.state = State::Sent;
                Ok(SaslStep::Respond(self.first.clone()))
            }
            (Mechanism::Login, State::Sent) => {
                let password = self.password.take().ok_or(unexpected)?;
                self.state = State::PasswordSent;
                Ok(SaslStep::Respond(SaslResponse(
                    password.expose().as_bytes().to_vec(),
                )))
            }
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, State::Sent) => {
                self.state = State::Failed;
                let error = match decode_oauth_error(challenge) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        tracing::debug!(error = %e, "undecodable OAuth error challenge");
                        None
                    }
                };
                let reply = if self.mechanism == Mechanism::OAuthBearer {
                    SaslResponse(vec![0x01])
                } else {
                    SaslResponse::default()
                };
                Ok(SaslStep::OAuthFailure { reply, error })
            }
            _ => Err(unexpected),
        }
    }
}

/// A SASL exchange could not be built, or the server's side of it was not understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A credential contains a character that the mechanism cannot carry (NUL for PLAIN,
    /// `\x01` for XOAUTH2, control characters for OAUTHBEARER). Sending it would let the
    /// value change the meaning of the message.
    #[error("the {field} contains a character that {mechanism} cannot carry")]
    ForbiddenCharacter {
        /// Which field ("user", "password", "authorization identity", "host", ...).
        field: &'static str,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The access token is empty or not an RFC 6750 `b64token`.
    #[error("the access token is empty or has characters a bearer token cannot have")]
    InvalidToken,
    /// The server sent a challenge the mechanism does not expect at this point.
    #[error("unexpected SASL challenge for {mechanism} ({len} bytes) at step {step}")]
    UnexpectedChallenge {
        /// The mechanism.
        mechanism: Mechanism,
        /// The challenge length in bytes.
        len: usize,
        /// How many challenges had been answered before this one.
        step: u32,
    },
    /// The configured mechanism is not among those the server advertises.
    #[error("the server does not advertise the configured SASL mechanism {mechanism}")]
    NotAdvertised {
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The configured mechanism cannot be used with these credentials (for example XOAUTH2
    /// with a password).
    #[error("SASL mechanism {mechanism} cannot be used with {kind} credentials")]
    WrongCredentials {
        /// The mechanism.
        mechanism: Mechanism,
        /// The kind of credentials at hand.
        kind: CredentialsKind,
    },
    /// An OAuth error challenge from the server is not the JSON that RFC 7628 describes.
    #[error("malformed OAuth error challenge from the server: {reason}")]
    MalformedErrorChallenge {
        /// What was wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s)
    }

    #[test]
    fn plain_with_and_without_authzid() {
        let m = plain_message(None, "tim", &secret("tanstaaftanstaaf")).unwrap();
        assert_eq!(m.as_bytes(), b"\0tim\0tanstaaftanstaaf");
        let m = plain_message(Some("Ursel"), "Kurt", &secret("xipj3plmq")).unwrap();
        assert_eq!(m.as_bytes(), b"Ursel\0Kurt\0xipj3plmq");
        for (authzid, user, pw) in [
            (Some("a\0b"), "u", "p"),
            (None, "u\0", "p"),
            (None, "u", "p\0"),
        ] {
            assert!(matches!(
                plain_message(authzid, user, &secret(pw)),
                Err(SaslError::ForbiddenCharacter {
                    mechanism: Mechanism::Plain,
                    ..
                })
            ));
        }
    }

    #[test]
    fn xoauth2_layout_and_validation() {
        let m = xoauth2_message(
            "someuser@example.com",
            &secret("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        )
        .unwrap();
        assert_eq!(
            m.as_bytes(),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        assert!(matches!(
            xoauth2_message("a\x01auth=Bearer x", &secret("t")),
            Err(SaslError::ForbiddenCharacter { .. })
        ));
        for bad in ["", "tok\x01en", "tok en", "=abc", "ab=c", "tök"] {
            assert!(
                matches!(
                    xoauth2_message("u", &secret(bad)),
                    Err(SaslError::InvalidToken)
                ),
                "{bad:?}"
            );
        }
        assert!(xoauth2_message("u", &secret("abc-._~+/==")).is_ok());
    }

    #[test]
    fn oauthbearer_matches_rfc7628_example() {
        // RFC 7628 section 4.1, with the user added.
        let m = oauthbearer_message(
            "user@example.com",
            "server.example.com",
            143,
            &secret("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
        )
        .unwrap();
        assert_eq!(
            m.as_bytes(),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        let m = oauthbearer_message("a,b=c", "h", 993, &secret("t")).unwrap();
        assert!(m.as_bytes().starts_with(b"n,a=a=2Cb=3Dc,\x01"));
        assert!(oauthbearer_message("u\x01", "h", 1, &secret("t")).is_err());
        assert!(oauthbearer_message("u", "h\x01port=1", 1, &secret("t")).is_err());
    }

    #[test]
    fn choose_prefers_the_strongest_fitting_mechanism() {
        let adv = ["login", "PLAIN", "XOAUTH2", "OAUTHBEARER", "CRAM-MD5"];
        assert_eq!(
            choose(adv, CredentialsKind::Password, None).unwrap(),
            Some(Mechanism::Plain)
        );
        assert_eq!(
            choose(adv, CredentialsKind::OAuth, None).unwrap(),
            Some(Mechanism::XOAuth2)
        );
        assert_eq!(
            choose(["OAUTHBEARER"], CredentialsKind::OAuth, None).unwrap(),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(
            choose(["LOGIN", "XOAUTH2"], CredentialsKind::Password, None).unwrap(),
            Some(Mechanism::Login)
        );
        assert_eq!(
            choose(["CRAM-MD5"], CredentialsKind::Password, None).unwrap(),
            None
        );
        assert_eq!(
            choose(["PLAIN"], CredentialsKind::OAuth, None).unwrap(),
            None
        );
        assert_eq!(
            choose(Vec::<String>::new(), CredentialsKind::Password, None).unwrap(),
            None
        );
    }

    #[test]
    fn choose_honours_and_checks_configuration() {
        let adv = ["PLAIN", "LOGIN", "XOAUTH2"];
        assert_eq!(
            choose(adv, CredentialsKind::Password, Some(Mechanism::Login)).unwrap(),
            Some(Mechanism::Login)
        );
        assert!(matches!(
            choose(adv, CredentialsKind::Password, Some(Mechanism::XOAuth2)),
            Err(SaslError::WrongCredentials {
                mechanism: Mechanism::XOAuth2,
                ..
            })
        ));
        assert!(matches!(
            choose(adv, CredentialsKind::OAuth, Some(Mechanism::OAuthBearer)),
            Err(SaslError::NotAdvertised {
                mechanism: Mechanism::OAuthBearer
            })
        ));
    }

    #[test]
    fn error_challenge_is_decoded() {
        let e = decode_oauth_error(
            br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
        )
        .unwrap();
        assert_eq!(e.status, "400");
        assert_eq!(e.schemes.as_deref(), Some("Bearer"));
        assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
        assert_eq!(e.openid_configuration, None);
        let e =
            decode_oauth_error(br#"{"status":401,"openid-configuration":"https://x/"}"#).unwrap();
        assert_eq!(e.status, "401");
        assert_eq!(e.openid_configuration.as_deref(), Some("https://x/"));
        for bad in [&b"not json"[..], b"[1]", br#"{"scope":"x"}"#, b""] {
            assert!(matches!(
                decode_oauth_error(bad),
                Err(SaslError::MalformedErrorChallenge { .. })
            ));
        }
        let huge = vec![b' '; MAX_ERROR_CHALLENGE + 1];
        assert!(decode_oauth_error(&huge).is_err());
    }

    #[test]
    fn single_message_mechanisms_with_and_without_sasl_ir() {
        let pw = secret("pw");
        let mut with_ir = SaslClient::plain(None, "u", &pw).unwrap();
        assert_eq!(with_ir.initial_response().unwrap().as_bytes(), b"\0u\0pw");
        assert!(with_ir.initial_response().is_none(), "sent once only");
        assert!(matches!(
            with_ir.step(b""),
            Err(SaslError::UnexpectedChallenge { .. })
        ));

        let mut without_ir = SaslClient::plain(None, "u", &pw).unwrap();
        assert_eq!(
            without_ir.step(b"").unwrap(),
            SaslStep::Respond(plain_message(None, "u", &pw).unwrap())
        );
        assert!(without_ir.initial_response().is_none());
        assert!(without_ir.step(b"").is_err());
    }

    #[test]
    fn xoauth2_failure_is_acknowledged_with_an_empty_response() {
        let mut c = SaslClient::xoauth2("u@example.com", &secret("tok")).unwrap();
        assert_eq!(c.mechanism(), Mechanism::XOAuth2);
        let _ = c.initial_response().unwrap();
        let step = c
            .step(br#"{"status":"400","schemes":"Bearer","scope":"s"}"#)
            .unwrap();
        let SaslStep::OAuthFailure { reply, error } = step else {
            panic!("{step:?}")
        };
        assert!(reply.is_empty());
        assert_eq!(error.unwrap().status, "400");
        assert!(c.step(b"").is_err());
    }

    #[test]
    fn oauthbearer_failure_is_acknowledged_with_ctrl_a() {
        let mut c = SaslClient::oauthbearer("u", "imap.example.com", 993, &secret("tok")).unwrap();
        let SaslStep::Respond(first) = c.step(b"").unwrap() else {
            panic!()
        };
        assert!(first.as_bytes().starts_with(b"n,a=u,"));
        let SaslStep::OAuthFailure { reply, error } = c.step(b"garbage").unwrap() else {
            panic!()
        };
        assert_eq!(reply.as_bytes(), b"\x01");
        assert_eq!(error, None);
    }

    #[test]
    fn responses_do_not_debug_print_secrets() {
        let m = plain_message(None, "u", &secret("hunter2")).unwrap();
        assert!(!format!("{m:?}").contains("hunter2"));
        let c = SaslClient::login("u", &secret("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
