//! Token providers that talk to an OAuth 2.0 token endpoint.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, HttpClientError, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};

use super::cache::{Clock, Fetched, SystemClock, TokenCache};
use super::{TokenFuture, TokenProvider};
use crate::Secret;
use crate::error::OAuthError;
use crate::tls::TlsConfig;

/// Microsoft Entra ID's public-cloud authority.
pub const DEFAULT_ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The client-credentials scope for IMAP and POP3 on Exchange Online.
pub const DEFAULT_ENTRA_SCOPE: &str = "https://outlook.office365.com/.default";
/// The delegated scope for IMAP on Exchange Online.
pub const MICROSOFT_IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
/// The delegated scope for POP3 on Exchange Online.
pub const MICROSOFT_POP_SCOPE: &str = "https://outlook.office.com/POP.AccessAsUser.All";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's scope for IMAP and POP3.
pub const GOOGLE_MAIL_SCOPE: &str = "https://mail.google.com/";

/// Time allowed for one token request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Entra ID v2.0 token URL of a tenant under an authority.
fn entra_token_url(authority: &str, tenant: &str) -> String {
    format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    )
}

/// An HTTP client for token requests: our rustls configuration (ring, Mozilla roots unless
/// told otherwise), no redirects (RFC 6749 section 3.2 forbids following them for token
/// requests, and following one could send the secret elsewhere).
///
/// Proxies from the environment apply, except to a loopback endpoint.
pub(super) fn http_client(tls: &TlsConfig, url: &TokenUrl) -> Result<reqwest::Client, OAuthError> {
    let config = tls.client_config()?;
    let mut builder = reqwest::Client::builder();
    if is_loopback(url) {
        builder = builder.no_proxy();
    }
    builder
        .use_preconfigured_tls(rustls::ClientConfig::clone(&config))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_CONNECT_TIMEOUT)
        .build()
        .map_err(OAuthError::HttpClient)
}

/// Whether the URL's host is the loopback interface.
fn is_loopback(url: &TokenUrl) -> bool {
    match url.url().host() {
        Some(oauth2::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(oauth2::url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(oauth2::url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses a token URL and refuses plain HTTP except to the loopback interface.
pub(super) fn token_url(url: &str) -> Result<TokenUrl, OAuthError> {
    let parsed = TokenUrl::new(url.to_owned()).map_err(|e| OAuthError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.url().scheme() {
        "https" => Ok(parsed),
        "http" => {
            if is_loopback(&parsed) {
                Ok(parsed)
            } else {
                Err(OAuthError::InsecureUrl {
                    url: url.to_owned(),
                })
            }
        }
        other => Err(OAuthError::InvalidUrl {
            url: url.to_owned(),
            reason: format!("scheme {other:?} is not https"),
        }),
    }
}

type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

/// Turns the `oauth2` crate's error into ours, without repeating response bodies (they may
/// hold tokens).
fn map_token_error(url: &str, error: TokenError) -> OAuthError {
    let url = url.to_owned();
    match error {
        RequestTokenError::ServerResponse(response) => OAuthError::Endpoint {
            url,
            error: response.error().to_string(),
            description: response.error_description().cloned(),
            uri: response.error_uri().cloned(),
        },
        RequestTokenError::Request(HttpClientError::Reqwest(source)) => {
            OAuthError::Http { url, source }
        }
        RequestTokenError::Request(other) => OAuthError::Http {
            url,
            source: Box::new(other),
        },
        RequestTokenError::Parse(e, _body) => OAuthError::Malformed {
            url,
            reason: format!(
                "{:?} error at `{}` (line {}, column {})",
                e.inner().classify(),
                e.path(),
                e.inner().line(),
                e.inner().column()
            ),
        },
        RequestTokenError::Other(reason) => OAuthError::Malformed { url, reason },
    }
}

/// The `oauth2` client with only its token endpoint set.
type TokenClient = BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// What both providers need to ask a token endpoint: the checked URL, the `oauth2` client
/// with the client id (and secret, sent in the request body), and the HTTP client.
struct TokenEndpoint {
    url: String,
    client: TokenClient,
    http: reqwest::Client,
}

impl TokenEndpoint {
    /// Checks `url` (HTTPS unless loopback) and builds the clients.
    fn new(
        url: String,
        tls: &TlsConfig,
        client_id: String,
        client_secret: Option<&Secret>,
    ) -> Result<Self, OAuthError> {
        let parsed = token_url(&url)?;
        let http = http_client(tls, &parsed)?;
        let mut client = BasicClient::new(ClientId::new(client_id))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(parsed);
        if let Some(secret) = client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        Ok(Self { url, client, http })
    }

    /// The endpoint's answer to a token request, errors mapped to [`OAuthError`].
    fn answer(
        &self,
        result: Result<BasicTokenResponse, TokenError>,
    ) -> Result<BasicTokenResponse, OAuthError> {
        let response = result.map_err(|e| map_token_error(&self.url, e))?;
        tracing::debug!(url = %self.url, expires_in = ?response.expires_in(), "access token received");
        Ok(response)
    }
}

fn fetched(response: &BasicTokenResponse) -> Fetched {
    Fetched {
        secret: Secret::new(response.access_token().secret().clone()),
        lifetime: response.expires_in(),
    }
}

/// Settings for the Microsoft Entra ID client-credentials flow.
///
/// The app needs the `IMAP.AccessAsApp` / `POP.AccessAsApp` application permissions and its
/// service principal must be granted access to the mailbox in Exchange.
#[derive(Debug, Clone)]
pub struct EntraClientCredentials {
    /// The directory (tenant) id or domain.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The scope; default [`DEFAULT_ENTRA_SCOPE`].
    pub scope: String,
    /// The authority; default [`DEFAULT_ENTRA_AUTHORITY`]. Change it for sovereign clouds
    /// (e.g. `https://login.microsoftonline.us`) or a test endpoint.
    pub authority: String,
    /// TLS settings for the token endpoint.
    pub tls: TlsConfig,
}

impl EntraClientCredentials {
    /// Settings with the default scope and authority.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: DEFAULT_ENTRA_SCOPE.to_owned(),
            authority: DEFAULT_ENTRA_AUTHORITY.to_owned(),
            tls: TlsConfig::new(),
        }
    }

    /// Replaces the scope.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Replaces the authority (`https://login.microsoftonline.com` by default).
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Replaces the TLS settings for the token endpoint.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        entra_token_url(&self.authority, &self.tenant_id)
    }
}

/// Access tokens from the client-credentials grant (Microsoft Entra ID), cached.
pub struct ClientCredentialsProvider {
    endpoint: TokenEndpoint,
    scope: String,
    cache: TokenCache,
}

impl fmt::Debug for ClientCredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsProvider")
            .field("url", &self.endpoint.url)
            .field("client_id", self.endpoint.client.client_id())
            .field("scope", &self.scope)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsProvider {
    /// A provider for these settings.
    ///
    /// # Errors
    /// [`OAuthError::InvalidUrl`] / [`OAuthError::InsecureUrl`] for the token URL,
    /// [`OAuthError::Tls`] / [`OAuthError::HttpClient`] if the HTTP client cannot be built.
    pub fn new(settings: EntraClientCredentials) -> Result<Self, OAuthError> {
        let endpoint = TokenEndpoint::new(
            settings.token_url(),
            &settings.tls,
            settings.client_id,
            Some(&settings.client_secret),
        )?;
        Ok(Self {
            endpoint,
            scope: settings.scope,
            cache: TokenCache::new(Arc::new(SystemClock)),
        })
    }

    /// Uses another clock for expiry decisions (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.cache = TokenCache::new(clock);
        self
    }

    /// The token URL in use.
    #[must_use]
    pub fn token_url(&self) -> &str {
        &self.endpoint.url
    }

    async fn fetch(&self) -> Result<Fetched, OAuthError> {
        let TokenEndpoint { client, http, .. } = &self.endpoint;
        let result = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.scope.clone()))
            .request_async(http)
            .await;
        Ok(fetched(&self.endpoint.answer(result)?))
    }
}

impl TokenProvider for ClientCredentialsProvider {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.cache.get(|| self.fetch()))
    }

    fn invalidate(&self) {
        self.cache.invalidate();
    }
}

/// Settings for the refresh-token grant.
#[derive(Debug, Clone)]
pub struct RefreshTokenConfig {
    /// The token URL.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret; `None` for public clients.
    pub client_secret: Option<Secret>,
    /// The refresh token.
    pub refresh_token: Secret,
    /// Scopes to ask for; empty sends none (the originally granted ones apply).
    pub scopes: Vec<String>,
    /// TLS settings for the token endpoint.
    pub tls: TlsConfig,
}

impl RefreshTokenConfig {
    /// Settings for any token endpoint.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: None,
            refresh_token: refresh_token.into(),
            scopes: Vec::new(),
            tls: TlsConfig::new(),
        }
    }

    /// Microsoft Entra ID (`{authority}/{tenant}/oauth2/v2.0/token` at
    /// [`DEFAULT_ENTRA_AUTHORITY`]; tenant `common`, `organizations`, `consumers` or an id),
    /// asking for [`MICROSOFT_IMAP_SCOPE`] and `offline_access`. Use
    /// [`RefreshTokenConfig::with_scopes`] for POP3.
    pub fn microsoft(
        tenant: &str,
        client_id: impl Into<String>,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        Self::new(
            entra_token_url(DEFAULT_ENTRA_AUTHORITY, tenant),
            client_id,
            refresh_token,
        )
        .with_scopes([MICROSOFT_IMAP_SCOPE, "offline_access"])
    }

    /// Google (`https://oauth2.googleapis.com/token`), which wants the client secret of the
    /// OAuth client.
    pub fn google(
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        Self::new(GOOGLE_TOKEN_URL, client_id, refresh_token).with_client_secret(client_secret)
    }

    /// Sets the client secret.
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Replaces the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the token URL (a sovereign cloud, a test endpoint).
    #[must_use]
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// Replaces the TLS settings for the token endpoint.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }
}

/// Access tokens from a refresh token, cached. When the endpoint rotates the refresh token,
/// the new one is used from then on; [`RefreshTokenProvider::refresh_token`] returns it so
/// the caller can store it.
pub struct RefreshTokenProvider {
    endpoint: TokenEndpoint,
    scopes: Vec<String>,
    refresh_token: Mutex<Secret>,
    cache: TokenCache,
    on_rotate: Option<RotationHook>,
}

/// Told the new refresh token each time the token endpoint rotates it (see
/// [`RefreshTokenProvider::on_rotate`]).
pub type RotationHook = Arc<dyn Fn(&Secret) + Send + Sync>;

impl fmt::Debug for RefreshTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenProvider")
            .field("url", &self.endpoint.url)
            .field("client_id", self.endpoint.client.client_id())
            .field("scopes", &self.scopes)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl RefreshTokenProvider {
    /// A provider for these settings.
    ///
    /// # Errors
    /// As [`ClientCredentialsProvider::new`].
    pub fn new(config: RefreshTokenConfig) -> Result<Self, OAuthError> {
        let endpoint = TokenEndpoint::new(
            config.token_url,
            &config.tls,
            config.client_id,
            config.client_secret.as_ref(),
        )?;
        Ok(Self {
            endpoint,
            scopes: config.scopes,
            refresh_token: Mutex::new(config.refresh_token),
            cache: TokenCache::new(Arc::new(SystemClock)),
            on_rotate: None,
        })
    }

    /// Calls `hook` with the new refresh token whenever the endpoint rotates it, right after
    /// the answer arrived and before the access token is used: the endpoint refuses the old
    /// refresh token from then on, so a caller that must survive a restart saves it here.
    #[must_use]
    pub fn on_rotate(mut self, hook: impl Fn(&Secret) + Send + Sync + 'static) -> Self {
        self.on_rotate = Some(Arc::new(hook));
        self
    }

    /// Uses another clock for expiry decisions (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.cache = TokenCache::new(clock);
        self
    }

    /// The current refresh token (rotated by the endpoint, perhaps): store it.
    #[must_use]
    pub fn refresh_token(&self) -> Secret {
        self.refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn fetch(&self) -> Result<Fetched, OAuthError> {
        let refresh = RefreshToken::new(self.refresh_token().expose().to_owned());
        let TokenEndpoint { client, http, url } = &self.endpoint;
        let result = client
            .exchange_refresh_token(&refresh)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .request_async(http)
            .await;
        let response = self.endpoint.answer(result)?;
        if let Some(rotated) = response.refresh_token() {
            let changed = rotated.secret() != refresh.secret();
            let rotated = Secret::new(rotated.secret().clone());
            *self
                .refresh_token
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = rotated.clone();
            if changed {
                tracing::debug!(url = %url, "the token endpoint rotated the refresh token");
                if let Some(hook) = &self.on_rotate {
                    hook(&rotated);
                }
            }
        }
        Ok(fetched(&response))
    }
}

impl TokenProvider for RefreshTokenProvider {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.cache.get(|| self.fetch()))
    }

    fn invalidate(&self) {
        self.cache.invalidate();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn entra_urls() {
        let s = EntraClientCredentials::new("contoso.onmicrosoft.com", "id", "secret");
        assert_eq!(
            s.token_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(s.scope, "https://outlook.office365.com/.default");
        let s = s.with_authority("https://login.microsoftonline.us/");
        assert_eq!(
            s.token_url(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert!(!format!("{s:?}").contains("secret\""));
    }

    #[test]
    fn presets() {
        let m = RefreshTokenConfig::microsoft("common", "id", "rt");
        assert_eq!(
            m.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(m.scopes, [MICROSOFT_IMAP_SCOPE, "offline_access"]);
        let g = RefreshTokenConfig::google("id", "cs", "rt");
        assert_eq!(g.token_url, GOOGLE_TOKEN_URL);
        assert_eq!(g.client_secret.unwrap().expose(), "cs");
        assert!(
            !format!("{:?}", RefreshTokenConfig::google("id", "cs", "rt-value"))
                .contains("rt-value")
        );
    }

    #[test]
    fn token_urls_must_be_https_unless_loopback() {
        assert!(token_url("https://login.example.com/t").is_ok());
        assert!(token_url("http://127.0.0.1:8080/t").is_ok());
        assert!(token_url("http://[::1]:8080/t").is_ok());
        assert!(token_url("http://localhost/t").is_ok());
        assert!(matches!(
            token_url("http://login.example.com/t"),
            Err(OAuthError::InsecureUrl { .. })
        ));
        assert!(matches!(
            token_url("ftp://x/t"),
            Err(OAuthError::InvalidUrl { .. })
        ));
        assert!(matches!(
            token_url("not a url"),
            Err(OAuthError::InvalidUrl { .. })
        ));
    }
}
