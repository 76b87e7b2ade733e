//! The settings of an account whose refresh token comes from a person's consent
//! (`provider = "google" | "microsoft" | "authorization_code"`), and the endpoints they
//! stand for.

use std::time::Duration;

use inbound_net::TlsConfig;
use inbound_net::oauth::{
    DEFAULT_ENTRA_AUTHORITY, GOOGLE_AUTH_URL, GOOGLE_DEVICE_URL, GOOGLE_MAIL_SCOPE,
    GOOGLE_TOKEN_URL, LoginConfig, LoginProvider, MICROSOFT_IMAP_SCOPE, MICROSOFT_POP_SCOPE,
    microsoft_url,
};

use super::{MailProtocol, OAuthProviderName, SecretSource};

/// The tenant a Microsoft account signs in to when none is configured: any work, school or
/// personal account.
pub const DEFAULT_MICROSOFT_TENANT: &str = "common";

/// A delegated-consent account's OAuth settings, as configured; the endpoints and scopes
/// follow from the provider ([`endpoints`](Self::endpoints)).
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// `Google`, `Microsoft` or `AuthorizationCode`.
    pub provider: OAuthProviderName,
    /// The OAuth client (application) id.
    pub client_id: String,
    /// The client secret: an environment variable, or the store's `client_secret` (none
    /// stored means a public client).
    pub client_secret: SecretSource,
    /// The refresh token: the store's `refresh_token` (written by `inbound accounts login`),
    /// or an environment variable.
    pub refresh_token: SecretSource,
    /// Microsoft tenant: `common` (default), `organizations`, `consumers` or an id.
    pub tenant_id: Option<String>,
    /// Microsoft authority (sovereign clouds); default `https://login.microsoftonline.com`.
    pub authority: Option<String>,
    /// The authorization endpoint, replacing the preset's.
    pub auth_url: Option<String>,
    /// The token endpoint, replacing the preset's.
    pub token_url: Option<String>,
    /// The device authorization endpoint, replacing the preset's.
    pub device_url: Option<String>,
    /// Scopes (space-separated), replacing the preset's.
    pub scope: Option<String>,
}

/// The endpoints and scopes a [`LoginSettings`] stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEndpoints {
    /// The authorization endpoint.
    pub auth_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The device authorization endpoint, if there is one.
    pub device_url: Option<String>,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
}

impl LoginSettings {
    /// The endpoints and scopes for mail over `protocol`: the preset's, with the configured
    /// replacements.
    #[must_use]
    pub fn endpoints(&self, protocol: MailProtocol) -> LoginEndpoints {
        let (auth, token, device, scopes) = match self.provider {
            OAuthProviderName::Google => (
                GOOGLE_AUTH_URL.to_owned(),
                GOOGLE_TOKEN_URL.to_owned(),
                Some(GOOGLE_DEVICE_URL.to_owned()),
                vec![GOOGLE_MAIL_SCOPE.to_owned()],
            ),
            OAuthProviderName::Microsoft => {
                let authority = self.authority.as_deref().unwrap_or(DEFAULT_ENTRA_AUTHORITY);
                let tenant = self
                    .tenant_id
                    .as_deref()
                    .unwrap_or(DEFAULT_MICROSOFT_TENANT);
                let scope = match protocol {
                    MailProtocol::Imap => MICROSOFT_IMAP_SCOPE,
                    MailProtocol::Pop3 => MICROSOFT_POP_SCOPE,
                };
                (
                    microsoft_url(authority, tenant, "authorize"),
                    microsoft_url(authority, tenant, "token"),
                    Some(microsoft_url(authority, tenant, "devicecode")),
                    vec![scope.to_owned(), "offline_access".to_owned()],
                )
            }
            _ => (String::new(), String::new(), None, Vec::new()),
        };
        LoginEndpoints {
            auth_url: self.auth_url.clone().unwrap_or(auth),
            token_url: self.token_url.clone().unwrap_or(token),
            device_url: self.device_url.clone().or(device),
            scopes: match &self.scope {
                Some(s) => s.split_whitespace().map(str::to_owned).collect(),
                None => scopes,
            },
        }
    }

    /// The settings of the consent flow for this account (no client secret: the caller adds
    /// it when it has one).
    #[must_use]
    pub fn login_config(
        &self,
        protocol: MailProtocol,
        login_hint: &str,
        timeout: Duration,
        tls: TlsConfig,
    ) -> LoginConfig {
        let e = self.endpoints(protocol);
        let mut c = LoginConfig::new(e.auth_url, e.token_url, self.client_id.clone())
            .with_scopes(e.scopes)
            .with_login_hint(login_hint)
            .with_timeout(timeout)
            .with_tls(tls);
        c.device_url = e.device_url;
        c.provider = match self.provider {
            OAuthProviderName::Google => LoginProvider::Google,
            OAuthProviderName::Microsoft => LoginProvider::Microsoft,
            _ => LoginProvider::Other,
        };
        c
    }
}

impl super::Account {
    /// The command that gives this account a new refresh token after the token endpoint
    /// refused its token (`invalid_grant`): `inbound accounts login NAME` for an account that
    /// signs in with consent, else storing a new token with `inbound accounts add`.
    pub fn sign_in_command(&self) -> String {
        match &self.auth {
            super::AuthConfig::OAuth(super::OAuthSettings::Login(_)) => {
                format!("inbound accounts login {}", self.name)
            }
            _ => format!("inbound accounts add {} --secret refresh_token", self.name),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings(provider: OAuthProviderName) -> LoginSettings {
        LoginSettings {
            provider,
            client_id: "id".into(),
            client_secret: SecretSource::Stored("client_secret".into()),
            refresh_token: SecretSource::Stored("refresh_token".into()),
            tenant_id: None,
            authority: None,
            auth_url: None,
            token_url: None,
            device_url: None,
            scope: None,
        }
    }

    #[test]
    fn presets_and_replacements() {
        let m = settings(OAuthProviderName::Microsoft).endpoints(MailProtocol::Pop3);
        assert_eq!(
            m.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(m.scopes, [MICROSOFT_POP_SCOPE, "offline_access"]);
        let mut s = settings(OAuthProviderName::Microsoft);
        s.tenant_id = Some("organizations".into());
        s.authority = Some("https://login.microsoftonline.us".into());
        assert_eq!(
            s.endpoints(MailProtocol::Imap).auth_url,
            "https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize"
        );
        let mut g = settings(OAuthProviderName::Google);
        g.token_url = Some("http://127.0.0.1:1/token".into());
        let e = g.endpoints(MailProtocol::Imap);
        assert_eq!(e.auth_url, GOOGLE_AUTH_URL);
        assert_eq!(e.token_url, "http://127.0.0.1:1/token");
        assert_eq!(e.scopes, [GOOGLE_MAIL_SCOPE]);
    }
}
