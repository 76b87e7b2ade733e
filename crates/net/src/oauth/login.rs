//! Delegated consent: a person logs in to their own mailbox and the account receives a
//! refresh token.
//!
//! Two flows, both through the `oauth2` crate:
//!
//! - [`AuthorizationCodeLogin`]: the authorization-code grant with PKCE (RFC 7636, `S256`)
//!   and a loopback redirect (RFC 8252): a listener on `127.0.0.1` at a random port receives
//!   the browser's redirect, `state` is checked, the code is exchanged.
//! - [`DeviceLogin`]: the device authorization grant (RFC 8628) for machines without a
//!   browser: a code for the person to enter elsewhere, then polling (pending, `slow_down`,
//!   expired, denied).
//!
//! [`LoginConfig`] holds the endpoints, with presets for Google and Microsoft; every URL can
//! be replaced (sovereign clouds, a test server). Failures are [`LoginError`]s that say what
//! went wrong in words a person can act on.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    EndpointNotSet, EndpointSet, ErrorResponse, HttpClientError, PkceCodeChallenge, RedirectUrl,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, TokenResponse,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::providers::{
    DEFAULT_ENTRA_AUTHORITY, GOOGLE_MAIL_SCOPE, GOOGLE_TOKEN_URL, http_client, token_url,
};
use crate::Secret;
use crate::error::OAuthError;
use crate::tls::TlsConfig;

/// Google's authorization endpoint.
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's device authorization endpoint (Google refuses mail scopes there).
pub const GOOGLE_DEVICE_URL: &str = "https://oauth2.googleapis.com/device/code";
/// How long a login waits for the person, unless told otherwise: 5 minutes.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The most bytes of a redirect request the loopback listener reads.
const MAX_REDIRECT_REQUEST: usize = 16 * 1024;

/// Which identity provider a [`LoginConfig`] speaks to; decides what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProvider {
    /// Google (Gmail, Google Workspace).
    Google,
    /// The Microsoft identity platform (Outlook.com, Microsoft 365).
    Microsoft,
    /// Any other OAuth 2.0 authorization server.
    Other,
}

/// The host name of the loopback redirect URI; the listener is on `127.0.0.1` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectHost {
    /// `http://127.0.0.1:PORT/`, as RFC 8252 section 7.3 recommends.
    #[default]
    Ip,
    /// `http://localhost:PORT/`, what Microsoft's app registrations for desktop apps list (so
    /// the Microsoft preset uses it). The listener takes `[::1]` on the same port too, in
    /// case the browser resolves `localhost` there.
    Localhost,
}

/// Where and how to ask for consent.
#[derive(Clone)]
pub struct LoginConfig {
    /// Whose endpoints these are.
    pub provider: LoginProvider,
    /// The authorization endpoint (the page the browser opens).
    pub auth_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The device authorization endpoint, if the provider has one.
    pub device_url: Option<String>,
    /// The client (application) id.
    pub client_id: String,
    /// The client secret, for providers that issue one to installed apps (Google does).
    pub client_secret: Option<Secret>,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Sent as `login_hint` so the provider offers the right account (the mailbox address).
    pub login_hint: Option<String>,
    /// How long to wait for the person; default [`DEFAULT_LOGIN_TIMEOUT`].
    pub timeout: Duration,
    /// The host name in the loopback redirect URI.
    pub redirect_host: RedirectHost,
    /// TLS settings for the endpoints.
    pub tls: TlsConfig,
}

impl fmt::Debug for LoginConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginConfig")
            .field("provider", &self.provider)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("device_url", &self.device_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("login_hint", &self.login_hint)
            .field("timeout", &self.timeout)
            .field("redirect_host", &self.redirect_host)
            .finish_non_exhaustive()
    }
}

/// The Microsoft identity platform's URL `{authority}/{tenant}/oauth2/v2.0/{what}`.
#[must_use]
pub fn microsoft_url(authority: &str, tenant: &str, what: &str) -> String {
    format!(
        "{}/{tenant}/oauth2/v2.0/{what}",
        authority.trim_end_matches('/')
    )
}

impl LoginConfig {
    /// Any authorization server: explicit endpoints and scopes.
    pub fn new(
        auth_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            provider: LoginProvider::Other,
            auth_url: auth_url.into(),
            token_url: token_url.into(),
            device_url: None,
            client_id: client_id.into(),
            client_secret: None,
            scopes: Vec::new(),
            login_hint: None,
            timeout: DEFAULT_LOGIN_TIMEOUT,
            redirect_host: RedirectHost::Ip,
            tls: TlsConfig::new(),
        }
    }

    /// Google: its endpoints and the scope `https://mail.google.com/` (IMAP and POP3).
    /// Google issues a client secret to desktop apps; set it with
    /// [`with_client_secret`](Self::with_client_secret).
    pub fn google(client_id: impl Into<String>) -> Self {
        let mut c = Self::new(GOOGLE_AUTH_URL, GOOGLE_TOKEN_URL, client_id);
        c.provider = LoginProvider::Google;
        c.device_url = Some(GOOGLE_DEVICE_URL.to_owned());
        c.scopes = vec![GOOGLE_MAIL_SCOPE.to_owned()];
        c
    }

    /// Microsoft: `{authority}/{tenant}/oauth2/v2.0/authorize|token|devicecode` (authority
    /// `None` for [`DEFAULT_ENTRA_AUTHORITY`]; tenant `common`, `organizations`, `consumers`
    /// or an id), asking for `scope` (IMAP or POP3 access as the user) and `offline_access`.
    pub fn microsoft(
        authority: Option<&str>,
        tenant: &str,
        client_id: impl Into<String>,
        scope: &str,
    ) -> Self {
        let authority = authority.unwrap_or(DEFAULT_ENTRA_AUTHORITY);
        let mut c = Self::new(
            microsoft_url(authority, tenant, "authorize"),
            microsoft_url(authority, tenant, "token"),
            client_id,
        );
        c.provider = LoginProvider::Microsoft;
        c.redirect_host = RedirectHost::Localhost;
        c.device_url = Some(microsoft_url(authority, tenant, "devicecode"));
        c.scopes = vec![scope.to_owned(), "offline_access".to_owned()];
        c
    }

    /// Sets the client secret.
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Replaces the scopes.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the `login_hint` (the mailbox address, usually).
    #[must_use]
    pub fn with_login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Sets how long to wait for the person.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces the TLS settings.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }
}

/// What a successful login yields.
#[derive(Debug, Clone)]
pub struct LoginTokens {
    /// The refresh token: store it (sealed), it stands for the person's consent.
    pub refresh_token: Secret,
    /// The first access token.
    pub access_token: Secret,
    /// Its lifetime, if the endpoint said.
    pub expires_in: Option<Duration>,
}

/// A login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The person declined consent (or an administrator blocked the app).
    #[error(
        "consent was denied{}: nothing was stored; run the login again and accept, or ask \
         your administrator to allow the app",
        detail(.description)
    )]
    Denied {
        /// The provider's explanation.
        description: Option<String>,
    },
    /// The provider does not know the client id, or the client secret is wrong.
    #[error(
        "the provider refused the client ({error}{}): check client_id and the client secret \
         of the app registration",
        detail(.description)
    )]
    WrongClient {
        /// The OAuth error code (`invalid_client`, `unauthorized_client`).
        error: String,
        /// The provider's explanation.
        description: Option<String>,
    },
    /// The provider refused the redirect URI: the app registration must allow the loopback
    /// redirect (`http://localhost` or `http://127.0.0.1`, any port) of a desktop client.
    #[error(
        "the provider refused the redirect URI {redirect_uri}{}: register http://localhost \
         (Microsoft: platform \"Mobile and desktop applications\") or http://127.0.0.1 as a \
         redirect URI of the app (the port changes with each login)",
        detail(.description)
    )]
    WrongRedirect {
        /// The loopback URI used.
        redirect_uri: String,
        /// The provider's explanation.
        description: Option<String>,
    },
    /// The code or token was refused (`invalid_grant`): expired, used, revoked, or the PKCE
    /// verifier did not match.
    #[error("the provider refused the grant (invalid_grant){}: run the login again", detail(.description))]
    InvalidGrant {
        /// The provider's explanation.
        description: Option<String>,
    },
    /// The redirect carried another `state` than the one sent: not our request (a forged or
    /// stale redirect). Nothing was exchanged.
    #[error("the redirect's state does not match the login's: refused (run the login again)")]
    StateMismatch,
    /// The device code expired before the person entered it.
    #[error("the device code expired before the sign-in was completed: run the login again")]
    DeviceCodeExpired,
    /// The person did not finish in time.
    #[error(
        "no sign-in within {0:?}: run the login again (or give it more time); if the browser \
         showed an error about the application or the redirect URI, fix the app registration \
         first"
    )]
    Timeout(Duration),
    /// The provider does not allow the device flow for mail.
    #[error("{0}")]
    DeviceFlowUnsupported(&'static str),
    /// The loopback listener could not be opened or read.
    #[error("the loopback redirect listener failed: {0}")]
    Listener(#[source] std::io::Error),
    /// The provider answered with a refresh-less grant: consent without `offline_access`.
    #[error(
        "the provider issued no refresh token (for Microsoft the scope needs offline_access; \
         for Google, access_type=offline)"
    )]
    NoRefreshToken,
    /// The authorization server answered with another error.
    #[error("the provider answered {error}{}", detail(.description))]
    Provider {
        /// The OAuth error code.
        error: String,
        /// The provider's explanation.
        description: Option<String>,
    },
    /// An endpoint URL is wrong, the HTTP request failed, or the answer was not understood.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

fn detail(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

impl LoginError {
    /// The error for an OAuth error code and description, from the redirect or an endpoint.
    fn from_code(code: &str, description: Option<String>, redirect_uri: &str) -> Self {
        let about_redirect = description
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("redirect"));
        match code {
            "access_denied" | "consent_required" | "interaction_required" => {
                Self::Denied { description }
            }
            "invalid_client" | "unauthorized_client" => Self::WrongClient {
                error: code.to_owned(),
                description,
            },
            "expired_token" => Self::DeviceCodeExpired,
            "redirect_uri_mismatch" => Self::WrongRedirect {
                redirect_uri: redirect_uri.to_owned(),
                description,
            },
            "invalid_grant" if about_redirect => Self::WrongRedirect {
                redirect_uri: redirect_uri.to_owned(),
                description,
            },
            "invalid_grant" => Self::InvalidGrant { description },
            "invalid_request" if about_redirect => Self::WrongRedirect {
                redirect_uri: redirect_uri.to_owned(),
                description,
            },
            _ => Self::Provider {
                error: code.to_owned(),
                description,
            },
        }
    }
}

type Client<Auth, Device> = BasicClient<Auth, Device, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Checks a URL like a token URL (HTTPS unless loopback).
fn checked(url: &str) -> Result<oauth2::url::Url, OAuthError> {
    Ok(token_url(url)?.url().clone())
}

fn bad_url(url: &str, e: impl fmt::Display) -> OAuthError {
    OAuthError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    }
}

fn base_client(config: &LoginConfig) -> Result<Client<EndpointNotSet, EndpointNotSet>, OAuthError> {
    let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(token_url(&config.token_url)?);
    if let Some(secret) = &config.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    Ok(client)
}

/// Maps the `oauth2` crate's errors of a token request.
fn map_request_error<E: ErrorResponse + 'static>(
    url: &str,
    redirect_uri: &str,
    error: RequestTokenError<HttpClientError<reqwest::Error>, E>,
    code_of: impl Fn(&E) -> (String, Option<String>),
) -> LoginError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let (code, description) = code_of(&response);
            LoginError::from_code(&code, description, redirect_uri)
        }
        RequestTokenError::Request(HttpClientError::Reqwest(source)) => OAuthError::Http {
            url: url.to_owned(),
            source,
        }
        .into(),
        RequestTokenError::Request(other) => OAuthError::Http {
            url: url.to_owned(),
            source: Box::new(other),
        }
        .into(),
        RequestTokenError::Parse(e, _body) => OAuthError::Malformed {
            url: url.to_owned(),
            reason: format!("{} at `{}`", e.inner(), e.path()),
        }
        .into(),
        RequestTokenError::Other(reason) => OAuthError::Malformed {
            url: url.to_owned(),
            reason,
        }
        .into(),
    }
}

fn tokens(response: &impl TokenResponse) -> Result<LoginTokens, LoginError> {
    let refresh = response.refresh_token().ok_or(LoginError::NoRefreshToken)?;
    Ok(LoginTokens {
        refresh_token: Secret::new(refresh.secret().clone()),
        access_token: Secret::new(response.access_token().secret().clone()),
        expires_in: response.expires_in(),
    })
}

/// An authorization-code login in progress: the URL to open, and the loopback listener
/// waiting for the browser.
pub struct AuthorizationCodeLogin {
    config: LoginConfig,
    url: String,
    redirect_uri: String,
    state: CsrfToken,
    verifier: oauth2::PkceCodeVerifier,
    listener: TcpListener,
    /// `[::1]` on the same port, when the redirect names `localhost` and it could be bound.
    listener_v6: Option<TcpListener>,
}

impl fmt::Debug for AuthorizationCodeLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeLogin")
            .field("url", &self.url)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl AuthorizationCodeLogin {
    /// Opens the loopback listener (`127.0.0.1`, a random port; `[::1]` too for a `localhost`
    /// redirect) and builds the authorization URL with a fresh `state` and PKCE `S256`
    /// challenge.
    ///
    /// # Errors
    /// [`LoginError::OAuth`] for a bad endpoint URL, [`LoginError::Listener`] if no port can
    /// be bound.
    pub async fn start(config: LoginConfig) -> Result<Self, LoginError> {
        let auth = checked(&config.auth_url)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(LoginError::Listener)?;
        let port = listener.local_addr().map_err(LoginError::Listener)?.port();
        let (host, listener_v6) = match config.redirect_host {
            RedirectHost::Ip => ("127.0.0.1", None),
            // `localhost` may resolve to ::1 in the browser: listen there too when possible.
            RedirectHost::Localhost => (
                "localhost",
                TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port))
                    .await
                    .ok(),
            ),
        };
        let redirect_uri = format!("http://{host}:{port}/");
        let client = base_client(&config)?
            .set_auth_uri(AuthUrl::from_url(auth))
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.clone()).map_err(|e| bad_url(&redirect_uri, e))?,
            );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if config.provider == LoginProvider::Google {
            // Google hands out a refresh token only for offline access, and only on consent.
            request = request
                .add_extra_param("access_type", "offline")
                .add_extra_param("prompt", "consent");
        }
        if let Some(hint) = &config.login_hint {
            request = request.add_extra_param("login_hint", hint.clone());
        }
        let (url, state) = request.url();
        tracing::debug!(%redirect_uri, "waiting for the authorization redirect");
        Ok(Self {
            config,
            url: url.to_string(),
            redirect_uri,
            state,
            verifier,
            listener,
            listener_v6,
        })
    }

    /// The URL the person opens in a browser.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback redirect URI (`http://127.0.0.1:PORT/`, or `http://localhost:PORT/`).
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits (up to the configured timeout) for the browser's redirect, checks `state`, and
    /// exchanges the code (with the PKCE verifier) for tokens.
    ///
    /// # Errors
    /// [`LoginError`]: denied consent, a wrong client or redirect, `invalid_grant`, a
    /// mismatched `state`, the timeout.
    pub async fn finish(self) -> Result<LoginTokens, LoginError> {
        let timeout = self.config.timeout;
        let code = tokio::time::timeout(timeout, self.redirect())
            .await
            .map_err(|_| LoginError::Timeout(timeout))??;
        let client = base_client(&self.config)?.set_redirect_uri(
            RedirectUrl::new(self.redirect_uri.clone())
                .map_err(|e| bad_url(&self.redirect_uri, e))?,
        );
        let http = http_client(&self.config.tls, &token_url(&self.config.token_url)?)?;
        let result = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&http)
            .await;
        let response = result.map_err(|e| {
            map_request_error(&self.config.token_url, &self.redirect_uri, e, |r| {
                (r.error().to_string(), r.error_description().cloned())
            })
        })?;
        tracing::info!("authorization code exchanged");
        tokens(&response)
    }

    /// Serves the loopback listener until a redirect with a code or an error arrives.
    async fn redirect(&self) -> Result<String, LoginError> {
        loop {
            let accepted = match &self.listener_v6 {
                Some(v6) => tokio::select! {
                    a = self.listener.accept() => a,
                    a = v6.accept() => a,
                },
                None => self.listener.accept().await,
            };
            let (mut stream, _) = accepted.map_err(LoginError::Listener)?;
            let Some(target) = read_request_target(&mut stream).await else {
                continue;
            };
            match self.judge(&target) {
                Redirect::Ignore => {
                    respond(&mut stream, 404, "Not found.").await;
                }
                Redirect::Code(code) => {
                    respond(
                        &mut stream,
                        200,
                        "Signed in. You can close this window and return to Inbound.",
                    )
                    .await;
                    return Ok(code);
                }
                Redirect::Failed(error) => {
                    respond(&mut stream, 400, &format!("Sign-in failed: {error}")).await;
                    return Err(error);
                }
            }
        }
    }

    fn judge(&self, target: &str) -> Redirect {
        let Ok(url) = oauth2::url::Url::parse(&format!("http://127.0.0.1{target}")) else {
            return Redirect::Ignore;
        };
        if url.path() != "/" {
            return Redirect::Ignore;
        }
        let mut code = None;
        let mut state = None;
        let mut error = None;
        let mut description = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                "error_description" => description = Some(v.into_owned()),
                _ => {}
            }
        }
        if code.is_none() && error.is_none() {
            return Redirect::Ignore;
        }
        if state.as_deref() != Some(self.state.secret().as_str()) {
            tracing::warn!("a redirect with a wrong state arrived; refused");
            return Redirect::Failed(LoginError::StateMismatch);
        }
        match (code, error) {
            (_, Some(error)) => Redirect::Failed(LoginError::from_code(
                &error,
                description,
                &self.redirect_uri,
            )),
            (Some(code), None) => Redirect::Code(code),
            (None, None) => Redirect::Ignore,
        }
    }
}

enum Redirect {
    Ignore,
    Code(String),
    Failed(LoginError),
}

/// Reads an HTTP request head and returns its target (`/path?query`), or `None` for anything
/// that is not a complete GET request within the size cap or 10 seconds.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 2048];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || buf.len() + n > MAX_REDIRECT_REQUEST {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let line = buf.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET" && target.starts_with('/')).then(|| target.to_owned())
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Inbound</title><p>{}</p>\n",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A device-code login in progress: what to show the person, then [`finish`](Self::finish).
pub struct DeviceLogin {
    config: LoginConfig,
    details: StandardDeviceAuthorizationResponse,
    client: Client<EndpointNotSet, EndpointSet>,
    http: reqwest::Client,
}

impl fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("verification_uri", &self.verification_uri())
            .field("user_code", &self.user_code())
            .finish_non_exhaustive()
    }
}

impl DeviceLogin {
    /// Asks the device authorization endpoint for a code.
    ///
    /// # Errors
    /// [`LoginError::DeviceFlowUnsupported`] for Google (it refuses mail scopes in its device
    /// flow) or a provider with no device endpoint; endpoint errors otherwise.
    pub async fn start(config: LoginConfig) -> Result<Self, LoginError> {
        if config.provider == LoginProvider::Google {
            return Err(LoginError::DeviceFlowUnsupported(
                "Google does not allow mail scopes (https://mail.google.com/) in its device flow: \
                 run the login without --device on a machine with a browser",
            ));
        }
        let Some(device_url) = config.device_url.clone() else {
            return Err(LoginError::DeviceFlowUnsupported(
                "this account has no device authorization endpoint (oauth.device_url): run the \
                 login without --device",
            ));
        };
        let parsed = checked(&device_url)?;
        let http = http_client(&config.tls, &token_url(&device_url)?)?;
        let client = base_client(&config)?
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(parsed));
        let details: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .request_async(&http)
            .await
            .map_err(|e| {
                map_request_error(&device_url, "", e, |r| {
                    (r.error().to_string(), r.error_description().cloned())
                })
            })?;
        Ok(Self {
            config,
            details,
            client,
            http,
        })
    }

    /// Where the person goes to enter the code.
    #[must_use]
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }

    /// The code the person enters there.
    #[must_use]
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    /// Polls the token endpoint (at the interval the provider asks, slower on `slow_down`)
    /// until the person signs in, declines, the code expires or the timeout passes.
    ///
    /// # Errors
    /// [`LoginError::Denied`], [`LoginError::DeviceCodeExpired`], [`LoginError::Timeout`],
    /// endpoint errors.
    pub async fn finish(self) -> Result<LoginTokens, LoginError> {
        let timeout = self.config.timeout;
        // The crate stops by itself when the code's lifetime (`expires_in`) is over, as if
        // the endpoint had answered `expired_token`; our own timeout bounds the wait too.
        let poll = self
            .client
            .exchange_device_access_token(&self.details)
            .request_async(&self.http, tokio::time::sleep, None);
        let response = tokio::time::timeout(timeout, poll)
            .await
            .map_err(|_| LoginError::Timeout(timeout))?
            .map_err(|e| {
                map_request_error(&self.config.token_url, "", e, |r| {
                    (r.error().to_string(), r.error_description().cloned())
                })
            })?;
        tracing::info!("device code sign-in completed");
        tokens(&response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_become_errors_a_person_can_act_on() {
        let r = "http://localhost:1/";
        let of = |code: &str, d: Option<&str>| LoginError::from_code(code, d.map(str::to_owned), r);
        assert!(matches!(
            of("access_denied", None),
            LoginError::Denied { .. }
        ));
        assert!(matches!(
            of("invalid_client", None),
            LoginError::WrongClient { .. }
        ));
        assert!(matches!(
            of("unauthorized_client", None),
            LoginError::WrongClient { .. }
        ));
        assert!(matches!(
            of("redirect_uri_mismatch", None),
            LoginError::WrongRedirect { .. }
        ));
        assert!(matches!(
            of(
                "invalid_grant",
                Some("AADSTS50148: the redirect_uri does not match")
            ),
            LoginError::WrongRedirect { .. }
        ));
        assert!(matches!(
            of("invalid_grant", Some("expired")),
            LoginError::InvalidGrant { .. }
        ));
        assert!(matches!(
            of("expired_token", None),
            LoginError::DeviceCodeExpired
        ));
        assert!(matches!(
            of("server_error", None),
            LoginError::Provider { .. }
        ));
        let text = of("redirect_uri_mismatch", None).to_string();
        assert!(
            text.contains("http://localhost:1/") && text.contains("register"),
            "{text}"
        );
    }
}
