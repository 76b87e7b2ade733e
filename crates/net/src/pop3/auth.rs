//! Login: method choice, USER/PASS, APOP and SASL `AUTH` exchanges (RFC 1939, RFC 5034).

use inbound_pop3_codec::{
    ApopDigest, ClientLine, Command, Mechanism as CodecMechanism, Password, Response, SaslData,
    StatusLine, Username,
};

use super::Pop3Error;
use super::client::{Pop3Client, State};
use super::{AuthInfo, AuthMethod};
use crate::error::{Error, Result};
use crate::sasl::{self, Credentials, CredentialsKind, Mechanism, SaslClient, SaslStep};
use crate::tls::Security;

/// RFC 5034 section 4: an `AUTH` line with its initial response may have at most 255
/// octets; longer responses are sent after an empty continuation.
const MAX_AUTH_LINE: usize = 255;

impl Pop3Client {
    /// Logs in with `method`, or with the strongest method the server offers and the
    /// credentials allow when `None` (see the [module docs](super)).
    ///
    /// OAuth tokens come from the credentials' [`TokenProvider`](crate::oauth::TokenProvider); when the
    /// server refuses one, the provider is told to
    /// [`invalidate`](crate::oauth::TokenProvider::invalidate) it. After
    /// success the capabilities are asked again (RFC 2449: they may differ per user).
    ///
    /// # Errors
    /// [`Pop3Error::AuthFailed`] with the server's text (and for XOAUTH2/OAUTHBEARER its
    /// decoded error JSON); [`Pop3Error::NoAuthMethod`], [`Pop3Error::WrongCredentials`],
    /// [`Pop3Error::ApopUnavailable`], [`Pop3Error::InvalidArgument`],
    /// [`Error::Sasl`], [`Error::OAuth`] (no token), [`Pop3Error::WrongState`] after login,
    /// connection errors.
    pub async fn login(
        &mut self,
        credentials: &Credentials,
        method: Option<AuthMethod>,
    ) -> Result<AuthInfo> {
        self.check("login", Some(State::Authorization))?;
        // Defence in depth: `connect` already guarantees TLS for Tls/StartTls.
        if !self.transport.is_tls() && self.security != Security::Plaintext {
            return Err(Pop3Error::InsecureLogin.into());
        }
        let method = self.choose_method(credentials, method)?;
        tracing::debug!(%method, user = credentials.user(), "POP3 login");
        let result = match (method, credentials) {
            (AuthMethod::UserPass, Credentials::Password { user, password }) => {
                self.user_pass(user, password.expose()).await
            }
            (AuthMethod::Apop, Credentials::Password { user, password }) => {
                self.apop(user, password.expose()).await
            }
            (AuthMethod::Sasl(mechanism), _) => self.sasl(mechanism, credentials).await,
            (method, credentials) => Err(Pop3Error::WrongCredentials {
                method,
                kind: credentials.kind(),
            }
            .into()),
        };
        if let Err(e) = result {
            if let (
                Error::Pop3(Pop3Error::AuthFailed { .. }),
                Credentials::OAuth { provider, .. },
            ) = (&e, credentials)
            {
                tracing::debug!("the server refused the OAuth token; invalidating it");
                provider.invalidate();
            }
            return Err(e);
        }
        self.state = State::Transaction;
        if self.capabilities.is_known() {
            self.refresh_capabilities().await?;
        }
        Ok(AuthInfo { method })
    }

    fn choose_method(
        &self,
        credentials: &Credentials,
        configured: Option<AuthMethod>,
    ) -> Result<AuthMethod> {
        let kind = credentials.kind();
        let caps = &self.capabilities;
        let timestamp = self.greeting.as_ref().and_then(|g| g.timestamp()).is_some();
        if let Some(method) = configured {
            if method.credentials_kind() != kind {
                return Err(Pop3Error::WrongCredentials { method, kind }.into());
            }
            match method {
                AuthMethod::Apop if !timestamp => return Err(Pop3Error::ApopUnavailable.into()),
                // Only insist on the mechanism being advertised when the server lists its
                // capabilities at all.
                AuthMethod::Sasl(mechanism) if caps.is_known() => {
                    sasl::choose(caps.sasl_mechanisms(), kind, Some(mechanism))?;
                }
                _ => {}
            }
            return Ok(method);
        }
        let sasl = sasl::choose(caps.sasl_mechanisms(), kind, None)?;
        let method = match kind {
            CredentialsKind::OAuth => match sasl {
                Some(mechanism) => AuthMethod::Sasl(mechanism),
                None if !caps.is_known() => AuthMethod::Sasl(Mechanism::XOAuth2),
                None => return Err(Pop3Error::NoAuthMethod { kind }.into()),
            },
            CredentialsKind::Password => {
                if timestamp && !self.transport.is_tls() {
                    // Plaintext (chosen by name): APOP does not send the password.
                    AuthMethod::Apop
                } else if let Some(mechanism) = sasl {
                    AuthMethod::Sasl(mechanism)
                } else if !caps.user() && caps.is_known() && timestamp {
                    AuthMethod::Apop
                } else {
                    // Advertised, or the server lists no login method at all: RFC 1939's
                    // USER/PASS is the one every server has.
                    AuthMethod::UserPass
                }
            }
        };
        Ok(method)
    }

    async fn user_pass(&mut self, user: &str, password: &str) -> Result<()> {
        let method = AuthMethod::UserPass;
        let user = Username::new(user).map_err(|source| Pop3Error::InvalidArgument {
            what: "user name",
            source,
        })?;
        let password = Password::new(password).map_err(|source| Pop3Error::InvalidArgument {
            what: "password",
            source,
        })?;
        let line = self.status_command(Command::User(user)).await?;
        if !line.is_ok() {
            return Err(auth_failed(method, line, None));
        }
        let line = self.status_command(Command::Pass(password)).await?;
        if line.is_ok() {
            Ok(())
        } else {
            Err(auth_failed(method, line, None))
        }
    }

    async fn apop(&mut self, user: &str, password: &str) -> Result<()> {
        let timestamp = self
            .greeting
            .as_ref()
            .and_then(|g| g.timestamp())
            .cloned()
            .ok_or(Pop3Error::ApopUnavailable)?;
        let name = Username::new(user).map_err(|source| Pop3Error::InvalidArgument {
            what: "user name",
            source,
        })?;
        let digest = ApopDigest::compute(&timestamp, password.as_bytes());
        let line = self.status_command(Command::Apop { name, digest }).await?;
        if line.is_ok() {
            Ok(())
        } else {
            Err(auth_failed(AuthMethod::Apop, line, None))
        }
    }

    /// Builds the SASL client; fetches a token for the OAuth mechanisms.
    async fn sasl_client(
        &self,
        mechanism: Mechanism,
        credentials: &Credentials,
    ) -> Result<SaslClient> {
        let client = match (mechanism, credentials) {
            (Mechanism::Plain, Credentials::Password { user, password }) => {
                SaslClient::plain(None, user, password)?
            }
            (Mechanism::Login, Credentials::Password { user, password }) => {
                SaslClient::login(user, password)
            }
            (Mechanism::XOAuth2, Credentials::OAuth { user, provider }) => {
                let token = provider.token().await?;
                SaslClient::xoauth2(user, token.secret())?
            }
            (Mechanism::OAuthBearer, Credentials::OAuth { user, provider }) => {
                let token = provider.token().await?;
                SaslClient::oauthbearer(user, &self.host, self.port, token.secret())?
            }
            (mechanism, credentials) => {
                return Err(Pop3Error::WrongCredentials {
                    method: AuthMethod::Sasl(mechanism),
                    kind: credentials.kind(),
                }
                .into());
            }
        };
        Ok(client)
    }

    async fn sasl(&mut self, mechanism: Mechanism, credentials: &Credentials) -> Result<()> {
        let method = AuthMethod::Sasl(mechanism);
        let mut client = self.sasl_client(mechanism, credentials).await?;
        let name =
            CodecMechanism::new(mechanism.name()).map_err(|source| Pop3Error::InvalidArgument {
                what: "SASL mechanism",
                source,
            })?;
        // The initial response goes on the AUTH line if it fits (RFC 5034 section 4);
        // otherwise a fresh client answers the server's first (empty) challenge.
        let mut command = Command::Auth {
            mechanism: name.clone(),
            initial_response: None,
        };
        if let Some(initial) = client.initial_response() {
            let with_ir = Command::Auth {
                mechanism: name,
                initial_response: Some(SaslData::new(initial.into_bytes())),
            };
            if with_ir.encoded_len() <= MAX_AUTH_LINE {
                command = with_ir;
            } else {
                client = self.sasl_client(mechanism, credentials).await?;
            }
        }
        self.check("AUTH", None)?;
        self.send(&[command], "AUTH").await?;

        let mut oauth_error = None;
        let mut sasl_error = None;
        loop {
            let response = match self.next_response("AUTH").await {
                Ok(response) => response,
                Err(e) => {
                    // The exchange is out of step: nothing more can be trusted.
                    self.state = State::Unusable;
                    return Err(e);
                }
            };
            match response {
                Response::Continuation(continuation) => {
                    let challenge = continuation
                        .decode_base64()
                        .unwrap_or_else(|_| continuation.as_str().as_bytes().to_vec());
                    let line = match client.step(&challenge) {
                        Ok(SaslStep::Respond(data)) => {
                            ClientLine::AuthResponse(SaslData::new(data.into_bytes()))
                        }
                        Ok(SaslStep::OAuthFailure { reply, error }) => {
                            oauth_error = error;
                            ClientLine::AuthResponse(SaslData::new(reply.into_bytes()))
                        }
                        Err(e) => {
                            // Nothing more to say: cancel (RFC 5034 section 4).
                            sasl_error = Some(e);
                            ClientLine::AuthCancel
                        }
                    };
                    let mut out = bytes::BytesMut::new();
                    line.encode(&mut out);
                    self.write(&out, "AUTH").await?;
                }
                Response::Status(line) if line.is_ok() => {
                    if let Some(e) = sasl_error {
                        // The server accepted a cancelled exchange: not a state we can
                        // reason about.
                        self.state = State::Unusable;
                        return Err(e.into());
                    }
                    return Ok(());
                }
                Response::Status(line) => {
                    if let (Some(e), None) = (sasl_error, &oauth_error) {
                        tracing::debug!(server = %line.text.text, "SASL exchange cancelled");
                        return Err(e.into());
                    }
                    return Err(auth_failed(method, line, oauth_error));
                }
                other => return Err(self.unexpected("AUTH", &other).into()),
            }
        }
    }
}

fn auth_failed(
    method: AuthMethod,
    line: StatusLine,
    oauth: Option<crate::sasl::OAuthServerError>,
) -> Error {
    Pop3Error::AuthFailed {
        method,
        code: line.text.code,
        text: line.text.text.as_str().to_owned(),
        oauth: oauth.map(Box::new),
    }
    .into()
}
