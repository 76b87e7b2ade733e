//! A fake OAuth 2.0 token endpoint on loopback that answers like Microsoft Entra ID.
//!
//! `POST /{tenant}/oauth2/v2.0/token` with a form body:
//! - `grant_type=client_credentials`, `client_id`, `client_secret`, `scope`: a new access
//!   token owned by the client id;
//! - `grant_type=refresh_token`, `refresh_token`, `client_id`, `[client_secret]`: a new access
//!   token owned by the refresh token's owner, and a rotated refresh token when rotation is on.
//!   A refresh token presented again after it was rotated revokes its whole family (every
//!   refresh token descending from the same consent), as RFC 9700 asks;
//! - `grant_type=authorization_code` and the device-code grant, after the consent endpoints
//!   (`/{tenant}/oauth2/v2.0/authorize`, `/{tenant}/oauth2/v2.0/devicecode`, `/device/approve`,
//!   `/device/deny`): see the `consent` module and [`Consent`].
//!
//! The client secret may also come as HTTP Basic credentials. Success answers
//! `{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":...}`; failures
//! answer 400 (or 401 for `invalid_client`) with `{"error":...,"error_description":"AADSTS...",
//! "error_codes":[...]}`, like Entra. Every token lives in the shared [`TokenRegistry`], which
//! the IMAP/POP3 SASL handlers consult.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use inbound_test_server::oauth::{TokenEndpoint, TokenEndpointConfig};
//!
//! let endpoint = TokenEndpoint::start(TokenEndpointConfig::default().with_client("app", "s3cret")).await?;
//! let url = format!("{}/contoso/oauth2/v2.0/token", endpoint.authority());
//! assert!(url.starts_with("http://127.0.0.1:"));
//! let token = endpoint.registry().issue_token("alice", std::time::Duration::from_secs(60));
//! assert_eq!(endpoint.registry().validate(&token).map(|i| i.owner).ok().as_deref(), Some("alice"));
//! # Ok(()) }
//! ```

mod consent;
mod http;
mod registry;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

pub use registry::{
    Consent, DEFAULT_ACCESS_TOKEN_LIFETIME, Grant, RecordedRequest, TokenError, TokenInfo,
    TokenRegistry, TokenStats,
};

use consent::Answer;
use http::{ReadError, Request};

/// The default cap on a request body.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// How to run a [`TokenEndpoint`].
#[derive(Clone)]
pub struct TokenEndpointConfig {
    /// The loopback port to bind; 0 picks a free one.
    pub port: u16,
    /// Where tokens are issued; share it with the IMAP/POP3 servers that check them.
    pub registry: TokenRegistry,
    /// Tenants accepted in the path; empty accepts any.
    pub tenants: Vec<String>,
    /// Scopes accepted for client credentials; empty accepts any non-empty scope.
    pub scopes: Vec<String>,
    /// The largest request body accepted (413 beyond).
    pub max_body: usize,
    /// How long to wait for the next bytes of a request before closing the connection.
    pub read_timeout: Duration,
}

impl Default for TokenEndpointConfig {
    fn default() -> Self {
        Self {
            port: 0,
            registry: TokenRegistry::new(),
            tenants: Vec::new(),
            scopes: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            read_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for TokenEndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpointConfig")
            .field("port", &self.port)
            .field("registry", &self.registry)
            .field("tenants", &self.tenants)
            .field("scopes", &self.scopes)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl TokenEndpointConfig {
    /// Registers a confidential client in the config's registry.
    #[must_use]
    pub fn with_client(self, client_id: &str, client_secret: &str) -> Self {
        self.registry.add_client(client_id, client_secret);
        self
    }

    /// Uses `registry` (shared with the mail servers) instead of a fresh one.
    #[must_use]
    pub fn with_registry(mut self, registry: TokenRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Sets the lifetime of the access tokens issued (in the config's registry).
    #[must_use]
    pub fn with_access_token_lifetime(self, lifetime: Duration) -> Self {
        self.registry.set_access_token_lifetime(lifetime);
        self
    }

    /// Binds this port instead of a free one.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accepts only these tenants in the path.
    #[must_use]
    pub fn with_tenants<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tenants: I) -> Self {
        self.tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// Accepts only these scopes for client credentials.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

/// A running token endpoint. Dropping it (or [`shutdown`](Self::shutdown)) stops it.
#[derive(Debug)]
pub struct TokenEndpoint {
    addr: SocketAddr,
    registry: TokenRegistry,
    stop: Option<oneshot::Sender<()>>,
}

impl TokenEndpoint {
    /// Binds `127.0.0.1:{config.port}` and serves in a task of the current tokio runtime.
    pub async fn start(config: TokenEndpointConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let registry = config.registry.clone();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(accept_loop(listener, config, stopped));
        tracing::debug!(target: "inbound_test_server::oauth", %addr, "token endpoint listening");
        Ok(Self {
            addr,
            registry,
            stop: Some(stop),
        })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`; the token URL is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token URL for `tenant`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("http://{}/{tenant}/oauth2/v2.0/token", self.addr)
    }

    /// The registry tokens are issued into (a cheap clone sharing its state).
    pub fn registry(&self) -> TokenRegistry {
        self.registry.clone()
    }

    /// Stops accepting and closes open connections.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: TokenEndpointConfig,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let config = config.clone();
                    connections.spawn(serve_connection(stream, config));
                }
                Err(e) => {
                    tracing::warn!(target: "inbound_test_server::oauth", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping the JoinSet aborts the open connections.
}

async fn serve_connection(mut stream: TcpStream, config: TokenEndpointConfig) {
    let mut buf = Vec::new();
    loop {
        let request =
            match http::read_request(&mut stream, &mut buf, config.max_body, config.read_timeout)
                .await
            {
                Ok(r) => r,
                Err(ReadError::Closed) => return,
                Err(ReadError::Reject(status, why)) => {
                    let body = error_json("invalid_request", 900_144, why);
                    let _ = http::write_json(&mut stream, status, &body, true).await;
                    return;
                }
            };
        let close = request.close;
        let base = stream
            .local_addr()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let written = match route(&config, &request, &base) {
            Answer::Json(status, body) => http::write_json(&mut stream, status, &body, close).await,
            Answer::Redirect(location) => http::write_redirect(&mut stream, &location, close).await,
            Answer::Text(status, body) => http::write_text(&mut stream, status, &body, close).await,
        };
        if written.is_err() || close {
            return;
        }
    }
}

/// The consent endpoints by path, else the token endpoint.
fn route(config: &TokenEndpointConfig, request: &Request, base: &str) -> Answer {
    let path = request.path.split('?').next().unwrap_or_default();
    let post = request.method.eq_ignore_ascii_case("POST");
    if path.ends_with("/oauth2/v2.0/authorize") && request.method.eq_ignore_ascii_case("GET") {
        consent::authorize(config, &request.path)
    } else if path.ends_with("/oauth2/v2.0/devicecode") && post {
        consent::device_authorization(config, base, &request.body)
    } else if path == "/device/approve" && post {
        consent::device_decision(config, true, &request.body)
    } else if path == "/device/deny" && post {
        consent::device_decision(config, false, &request.body)
    } else {
        let (status, body) = handle(config, request);
        Answer::Json(status, body)
    }
}

/// An OAuth error answer.
pub(crate) struct OAuthError {
    status: u16,
    error: &'static str,
    code: u32,
    description: String,
}

impl OAuthError {
    pub(crate) fn new(
        status: u16,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
        }
    }
}

pub(crate) fn error_json(error: &str, code: u32, description: &str) -> String {
    serde_json::json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    })
    .to_string()
}

/// The form fields a token request may carry.
#[derive(Default)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    device_code: Option<String>,
}

fn parse_form(body: &[u8]) -> Form {
    let mut form = Form::default();
    for (key, value) in form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "grant_type" => &mut form.grant_type,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            "scope" => &mut form.scope,
            "refresh_token" => &mut form.refresh_token,
            "code" => &mut form.code,
            "redirect_uri" => &mut form.redirect_uri,
            "code_verifier" => &mut form.code_verifier,
            "device_code" => &mut form.device_code,
            _ => continue,
        };
        *slot = Some(value.into_owned());
    }
    form
}

/// `Authorization: Basic base64(id:secret)` (client_secret_basic, with form-encoding inside).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn handle(config: &TokenEndpointConfig, request: &Request) -> (u16, String) {
    let tenant = request
        .path
        .strip_prefix('/')
        .and_then(|p| p.split('?').next())
        .and_then(|p| p.strip_suffix("/oauth2/v2.0/token"))
        .filter(|t| !t.is_empty() && !t.contains('/'));
    let Some(tenant) = tenant else {
        return (
            404,
            error_json(
                "invalid_request",
                900_561,
                "The endpoint only accepts POST requests to /{tenant}/oauth2/v2.0/token.",
            ),
        );
    };
    let mut form = parse_form(&request.body);
    if let Some((id, secret)) = request.authorization.as_deref().and_then(basic_credentials) {
        form.client_id.get_or_insert(id);
        form.client_secret.get_or_insert(secret);
    }
    let mut record = RecordedRequest {
        tenant: tenant.to_owned(),
        grant_type: form.grant_type.clone(),
        client_id: form.client_id.clone(),
        scope: form.scope.clone(),
        error: None,
    };
    let registry = &config.registry;
    let result = if registry.take_failure() {
        Err(OAuthError::new(
            503,
            "temporarily_unavailable",
            50_196,
            "The server is temporarily unavailable (injected fault).",
        ))
    } else {
        grant(config, request, tenant, &form)
    };
    let answer = match result {
        Ok(body) => (200, body),
        Err(e) => {
            tracing::debug!(target: "inbound_test_server::oauth", error = e.error, "token request refused");
            record.error = Some(e.error.to_owned());
            (e.status, error_json(e.error, e.code, &e.description))
        }
    };
    registry.record(record);
    answer
}

fn grant(
    config: &TokenEndpointConfig,
    request: &Request,
    tenant: &str,
    form: &Form,
) -> Result<String, OAuthError> {
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(OAuthError::new(
            405,
            "invalid_request",
            900_561,
            "The endpoint only accepts POST requests.",
        ));
    }
    let form_type = request
        .content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            900_144,
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    if !config.tenants.is_empty() && !config.tenants.iter().any(|t| t == tenant) {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            90_002,
            format!("Tenant '{tenant}' not found."),
        ));
    }
    let Some(grant_type) = form.grant_type.as_deref() else {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    };
    let Some(client_id) = form.client_id.as_deref() else {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    match grant_type {
        "client_credentials" => client_credentials(config, client_id, form),
        "refresh_token" => refresh(config, client_id, form),
        "authorization_code" | consent::DEVICE_GRANT => {
            let grant = consent::GrantForm {
                client_id,
                client_secret: form.client_secret.as_deref(),
                code: form.code.as_deref(),
                redirect_uri: form.redirect_uri.as_deref(),
                code_verifier: form.code_verifier.as_deref(),
                device_code: form.device_code.as_deref(),
            };
            if grant_type == "authorization_code" {
                consent::redeem_code(config, &grant)
            } else {
                consent::redeem_device(config, &grant)
            }
        }
        other => Err(OAuthError::new(
            400,
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

pub(crate) fn check_secret(
    config: &TokenEndpointConfig,
    client_id: &str,
    secret: Option<&str>,
    required: bool,
) -> Result<(), OAuthError> {
    let Some(app) = config.registry.client(client_id) else {
        return Err(OAuthError::new(
            400,
            "unauthorized_client",
            700_016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        ));
    };
    match (app.secret.as_deref(), secret) {
        (Some(expected), Some(given)) if expected == given => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::new(
            401,
            "invalid_client",
            7_000_215,
            "Invalid client secret provided.",
        )),
        (Some(_), None) => Err(OAuthError::new(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
        (None, _) if required => Err(OAuthError::new(
            401,
            "invalid_client",
            7_000_218,
            "A public client cannot use the client credentials grant.",
        )),
        (None, _) => Ok(()),
    }
}

fn client_credentials(
    config: &TokenEndpointConfig,
    client_id: &str,
    form: &Form,
) -> Result<String, OAuthError> {
    check_secret(config, client_id, form.client_secret.as_deref(), true)?;
    let scope = form
        .scope
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                400,
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'scope'.",
            )
        })?;
    if !config.scopes.is_empty() && !config.scopes.iter().any(|s| s == scope) {
        return Err(OAuthError::new(
            400,
            "invalid_scope",
            1_002_012,
            format!("The provided value for scope {scope} is not valid."),
        ));
    }
    let (token, lifetime) = config.registry.issue_for_grant(
        client_id,
        client_id,
        Some(scope),
        Grant::ClientCredentials,
    );
    Ok(success(&token, lifetime, None, None))
}

fn refresh(
    config: &TokenEndpointConfig,
    client_id: &str,
    form: &Form,
) -> Result<String, OAuthError> {
    check_secret(config, client_id, form.client_secret.as_deref(), false)?;
    let Some(old) = form.refresh_token.as_deref() else {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'refresh_token'.",
        ));
    };
    let registry = &config.registry;
    if registry.detect_reuse(old) {
        return Err(OAuthError::new(
            400,
            "invalid_grant",
            70_043,
            "The refresh token was used after it had been replaced: it and every token of its \
             sign-in are revoked. Sign in again.",
        ));
    }
    let binding = registry.refresh_binding(old).ok_or_else(|| {
        OAuthError::new(
            400,
            "invalid_grant",
            9_002_313,
            "Invalid request. The refresh token is malformed, expired or revoked.",
        )
    })?;
    if binding.client_id != client_id {
        return Err(OAuthError::new(
            400,
            "invalid_grant",
            70_000,
            "The refresh token was issued to a different client.",
        ));
    }
    let scope = form.scope.clone().or(binding.scope);
    let (token, lifetime) = registry.issue_for_grant(
        &binding.owner,
        client_id,
        scope.as_deref(),
        Grant::RefreshToken,
    );
    let rotated = registry.rotate_refresh(old);
    Ok(success(
        &token,
        lifetime,
        rotated.as_deref(),
        scope.as_deref(),
    ))
}

pub(crate) fn success(
    token: &str,
    lifetime: Duration,
    refresh_token: Option<&str>,
    scope: Option<&str>,
) -> String {
    let secs = lifetime.as_secs();
    let mut body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": secs,
        "ext_expires_in": secs,
        "access_token": token,
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(rt) = refresh_token {
            map.insert("refresh_token".into(), rt.into());
        }
        if let Some(scope) = scope {
            map.insert("scope".into(), scope.into());
        }
    }
    body.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
