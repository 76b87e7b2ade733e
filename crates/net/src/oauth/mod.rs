//! OAuth 2.0 access tokens for XOAUTH2 / OAUTHBEARER.
//!
//! A [`TokenProvider`] hands out access tokens and is told by the client when a token was
//! refused ([`TokenProvider::invalidate`]). The providers here cache their token and fetch a
//! new one shortly before it expires, after `invalidate`, or never (a [`StaticToken`]):
//!
//! - [`ClientCredentialsProvider`]: Microsoft Entra ID client credentials (app-only access
//!   to Exchange Online mailboxes), from an [`EntraClientCredentials`].
//! - [`RefreshTokenProvider`]: a refresh token first obtained by an authorization-code flow,
//!   with presets for Microsoft and Google ([`RefreshTokenConfig`]).
//! - [`StaticToken`]: a token obtained elsewhere.
//!
//! [`AuthorizationCodeLogin`] and [`DeviceLogin`] obtain the refresh token in the first place:
//! a person's consent through a browser (PKCE, loopback redirect) or a device code.
//!
//! HTTP goes through the `oauth2` crate and `reqwest`, with TLS from [`TlsConfig`](crate::TlsConfig)
//! (rustls with the ring provider, no process-wide provider).

mod cache;
mod login;
mod providers;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

pub use cache::{Clock, SystemClock};
pub use login::{
    AuthorizationCodeLogin, DEFAULT_LOGIN_TIMEOUT, DeviceLogin, GOOGLE_AUTH_URL, GOOGLE_DEVICE_URL,
    LoginConfig, LoginError, LoginProvider, LoginTokens, RedirectHost, microsoft_url,
};
pub use providers::{
    ClientCredentialsProvider, DEFAULT_ENTRA_AUTHORITY, DEFAULT_ENTRA_SCOPE,
    EntraClientCredentials, GOOGLE_MAIL_SCOPE, GOOGLE_TOKEN_URL, MICROSOFT_IMAP_SCOPE,
    MICROSOFT_POP_SCOPE, RefreshTokenConfig, RefreshTokenProvider, RotationHook,
};

use crate::Secret;
use crate::error::OAuthError;

/// An OAuth 2.0 access token. `Debug` does not show the token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    secret: Secret,
    expires_at: Option<Instant>,
}

impl AccessToken {
    /// A token with an optional expiry (by the provider's clock).
    pub fn new(secret: impl Into<Secret>, expires_at: Option<Instant>) -> Self {
        Self {
            secret: secret.into(),
            expires_at,
        }
    }

    /// The bearer token, for [`SaslClient::xoauth2`](crate::sasl::SaslClient::xoauth2) and
    /// [`SaslClient::oauthbearer`](crate::sasl::SaslClient::oauthbearer).
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// When the token expires, if the endpoint said (`expires_in`).
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

/// The future returned by [`TokenProvider::token`].
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AccessToken, OAuthError>> + Send + 'a>>;

/// A source of access tokens, shared by all connections of an account.
///
/// Object safe: accounts hold an `Arc<dyn TokenProvider>`.
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A token that is valid now: the cached one while it is fresh, else a new one.
    fn token(&self) -> TokenFuture<'_>;

    /// Forget the cached token: the server refused it, or a reconnect wants a fresh one.
    /// The next [`TokenProvider::token`] fetches a new token.
    fn invalidate(&self);
}

/// A token obtained elsewhere. It is never refreshed: [`TokenProvider::invalidate`] only logs.
#[derive(Debug, Clone)]
pub struct StaticToken {
    token: AccessToken,
}

impl StaticToken {
    /// Wraps a bearer token.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: AccessToken::new(token, None),
        }
    }
}

impl TokenProvider for StaticToken {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.token.clone();
        Box::pin(async move { Ok(token) })
    }

    fn invalidate(&self) {
        tracing::debug!("a static OAuth token cannot be refreshed; keeping it");
    }
}
