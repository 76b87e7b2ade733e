//! Login: the `LOGIN` command and `AUTHENTICATE` with SASL (SASL-IR when offered).

use inbound_imap_codec::types::{
    AString, AuthMechanism, AuthenticateData, Capability, CommandBody, Redacted, Response,
    StatusKind,
};

use super::ImapClient;
use super::client::State;
use super::error::ImapError;
use super::machine::Outcome;
use super::types::{AuthInfo, AuthMethod};
use crate::error::{Error, Result};
use crate::sasl::{self, Credentials, CredentialsKind, Mechanism, SaslClient, SaslStep};
use crate::tls::Security;

impl ImapClient {
    /// Logs in.
    ///
    /// With `method` set, that method is used (a SASL mechanism must be advertised).
    /// Otherwise the strongest advertised SASL mechanism the credentials allow is chosen
    /// (XOAUTH2, then OAUTHBEARER for tokens; PLAIN, then LOGIN for passwords), and for a
    /// password the `LOGIN` command when no mechanism fits and `LOGINDISABLED` is absent.
    /// A `Mechanism` converts into an [`AuthMethod`]: `Some(Mechanism::Plain.into())`.
    ///
    /// Credentials are never sent over a connection without TLS unless
    /// [`Security::Plaintext`] was chosen. A failed XOAUTH2/OAUTHBEARER login invalidates
    /// the token at its provider so that the next attempt fetches a new one. Capabilities
    /// are asked again after login (unless the server sent them with its `OK`).
    ///
    /// # Errors
    /// [`ImapError::AuthFailed`] with the server's text (and the decoded OAuth error
    /// JSON), [`ImapError::LoginDisabled`], [`ImapError::NoAuthMethod`],
    /// [`ImapError::WrongCredentials`], [`Error::Sasl`] for a configured mechanism that is
    /// not advertised or credentials the mechanism cannot carry, [`Error::OAuth`] when no
    /// token could be had, connection errors.
    pub async fn login(
        &mut self,
        credentials: &Credentials,
        method: Option<AuthMethod>,
    ) -> Result<AuthInfo> {
        self.check_usable("LOGIN")?;
        if self.state != State::NotAuthenticated {
            return Err(ImapError::WrongState {
                command: "LOGIN",
                state: "after login",
            }
            .into());
        }
        if !self.transport.is_tls() && self.security != Security::Plaintext {
            return Err(ImapError::InsecureLogin.into());
        }
        let method = self.choose_method(credentials, method)?;
        tracing::debug!(%method, user = credentials.user(), "IMAP login");
        match method {
            AuthMethod::Login => self.login_command(credentials).await?,
            AuthMethod::Sasl(mechanism) => self.authenticate(mechanism, credentials).await?,
        }
        self.state = State::Authenticated;
        // Capabilities change after login; the tagged OK may have carried them.
        if !self.caps_fresh_after_login {
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
        let login_disabled = self.has_capability(&Capability::LoginDisabled);
        let advertised: Vec<&str> = self
            .capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::Auth(m) => Some(m.name()),
                _ => None,
            })
            .collect();
        match configured {
            Some(AuthMethod::Login) => {
                if kind != CredentialsKind::Password {
                    return Err(ImapError::WrongCredentials {
                        method: AuthMethod::Login,
                        kind,
                    }
                    .into());
                }
                if login_disabled {
                    return Err(ImapError::LoginDisabled.into());
                }
                Ok(AuthMethod::Login)
            }
            Some(AuthMethod::Sasl(m)) => {
                if m.credentials_kind() != kind {
                    return Err(ImapError::WrongCredentials {
                        method: AuthMethod::Sasl(m),
                        kind,
                    }
                    .into());
                }
                sasl::choose(advertised, kind, Some(m))?;
                Ok(AuthMethod::Sasl(m))
            }
            None => match sasl::choose(advertised, kind, None)? {
                Some(m) => Ok(AuthMethod::Sasl(m)),
                None if kind == CredentialsKind::Password && !login_disabled => {
                    Ok(AuthMethod::Login)
                }
                None if kind == CredentialsKind::Password => Err(ImapError::LoginDisabled.into()),
                None => Err(ImapError::NoAuthMethod { kind }.into()),
            },
        }
    }

    async fn login_command(&mut self, credentials: &Credentials) -> Result<()> {
        let Credentials::Password { user, password } = credentials else {
            return Err(ImapError::WrongCredentials {
                method: AuthMethod::Login,
                kind: credentials.kind(),
            }
            .into());
        };
        let body = CommandBody::Login {
            username: AString::from(user.as_str()),
            password: Redacted::new(AString::from(password.expose())),
        };
        let done = self.run(body).await?;
        self.caps_fresh_after_login = done_has_capabilities(&done.status, &done.data);
        if done.status.kind != StatusKind::Ok {
            self.absorb(done.data);
            return Err(ImapError::AuthFailed {
                method: AuthMethod::Login,
                code: done.status.code,
                text: done.status.text.to_string_lossy().into_owned(),
                oauth: None,
            }
            .into());
        }
        self.absorb(done.data);
        Ok(())
    }

    async fn sasl_client(
        &self,
        mechanism: Mechanism,
        credentials: &Credentials,
    ) -> Result<SaslClient> {
        let wrong = || {
            Error::from(ImapError::WrongCredentials {
                method: AuthMethod::Sasl(mechanism),
                kind: credentials.kind(),
            })
        };
        Ok(match (mechanism, credentials) {
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
            _ => return Err(wrong()),
        })
    }

    async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        credentials: &Credentials,
    ) -> Result<()> {
        let mut sasl = self.sasl_client(mechanism, credentials).await?;
        let initial_response = if self.has_capability(&Capability::SaslIr) {
            sasl.initial_response()
                .map(|r| Redacted::new(r.into_bytes()))
        } else {
            None
        };
        let body = CommandBody::Authenticate {
            mechanism: auth_mechanism(mechanism),
            initial_response,
        };
        let method = AuthMethod::Sasl(mechanism);
        let mut exchange = self.start(body).await?;
        let name = exchange.name();
        let mut data: Vec<Response> = Vec::new();
        let mut oauth_error = None;
        let mut sasl_error: Option<Error> = None;
        let status = loop {
            let response = match self.next_response(name).await {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e).into()),
            };
            match exchange.on_response(response) {
                Ok(Outcome::Untagged(r)) => data.push(r),
                Ok(Outcome::Continuation(challenge)) => {
                    let reply = match challenge.base64_data() {
                        None => {
                            sasl_error = Some(
                                ImapError::Unexpected {
                                    during: name,
                                    what: "a SASL challenge that is not base64",
                                }
                                .into(),
                            );
                            AuthenticateData::Cancel
                        }
                        Some(bytes) => match sasl.step(&bytes) {
                            Ok(SaslStep::Respond(r)) => {
                                AuthenticateData::Continue(Redacted::new(r.into_bytes()))
                            }
                            Ok(SaslStep::OAuthFailure { reply, error }) => {
                                oauth_error = error.map(Box::new);
                                AuthenticateData::Continue(Redacted::new(reply.into_bytes()))
                            }
                            Err(e) => {
                                sasl_error = Some(e.into());
                                AuthenticateData::Cancel
                            }
                        },
                    };
                    self.write(&reply.encode(), name).await?;
                }
                Ok(Outcome::SendMore) => {}
                Ok(Outcome::Done(status)) => {
                    self.finish();
                    break status;
                }
                Err(e) => return Err(self.fail(e).into()),
            }
        };
        self.caps_fresh_after_login = done_has_capabilities(&status, &data);
        if let Some(inbound_imap_codec::types::Code::Capability(caps)) = &status.code {
            self.set_capabilities(caps.clone());
        }
        self.absorb(data);
        if status.kind == StatusKind::Ok {
            return Ok(());
        }
        if let Credentials::OAuth { provider, .. } = credentials {
            tracing::debug!("OAuth login refused; invalidating the token");
            provider.invalidate();
        }
        if let Some(e) = sasl_error {
            return Err(e);
        }
        Err(ImapError::AuthFailed {
            method,
            code: status.code,
            text: status.text.to_string_lossy().into_owned(),
            oauth: oauth_error,
        }
        .into())
    }
}

fn auth_mechanism(m: Mechanism) -> AuthMechanism {
    match m {
        Mechanism::Plain => AuthMechanism::Plain,
        Mechanism::Login => AuthMechanism::Login,
        Mechanism::XOAuth2 => AuthMechanism::XOAuth2,
        Mechanism::OAuthBearer => AuthMechanism::OAuthBearer,
    }
}

fn done_has_capabilities(
    status: &inbound_imap_codec::types::StatusBody,
    data: &[Response],
) -> bool {
    use inbound_imap_codec::types::{Code, Data};
    matches!(status.code, Some(Code::Capability(_)))
        || data
            .iter()
            .any(|r| matches!(r, Response::Data(Data::Capability(_))))
}
