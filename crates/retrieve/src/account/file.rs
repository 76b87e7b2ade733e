//! The file form of an account: one `[[account]]` table, every field optional, and the way
//! back from a validated [`Account`].

use std::path::PathBuf;

use inbound_net::Secret;
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Account, AfterReceive, AfterReceiveName, AuthConfig, FetchName, FetchPolicy, InlineImageMode,
    InlineImagesName, MailProtocol, OAuthProviderName, OAuthSettings, RemoteImages, SecretSource,
    Security, SizeValue,
};

/// The `[account.oauth]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// `google`, `microsoft`, `authorization_code`, `entra`, `refresh_token` or `static`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<OAuthProviderName>,
    /// Entra tenant id or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Application (client) id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Environment variable holding the client secret (else the store's `client_secret`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    /// Scope to ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Entra authority (sovereign clouds, test endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Token endpoint for `refresh_token` providers other than Microsoft, and for
    /// `authorization_code` (replaces the preset's for `google` / `microsoft`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Authorization endpoint for `authorization_code` (replaces the preset's for `google` /
    /// `microsoft`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// Device authorization endpoint (RFC 8628; replaces the preset's for `microsoft`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
    /// Environment variable holding the refresh token (else the store's `refresh_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_env: Option<String>,
    /// Environment variable holding a static access token (else the store's `token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

/// One `[[account]]` table as written. Every field is optional here so that
/// [`validate`](Self::validate) can report all problems at once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Unique account name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `imap` or `pop3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<MailProtocol>,
    /// Server host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Server port; default from protocol and security.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// `tls` (default), `starttls` or `plain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// Login name (for OAuth: the mailbox address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password itself. Never serialized back out: keep passwords in the environment, a
    /// command or the store.
    #[serde(default, skip_serializing, deserialize_with = "deserialize_secret")]
    pub password: Option<Secret>,
    /// Environment variable holding the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Shell command printing the password on standard output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_command: Option<String>,
    /// OAuth 2.0 instead of a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthConfig>,
    /// Extra trust anchor (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (test servers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub danger_accept_invalid_certs: Option<bool>,
    /// IMAP folder (default `INBOX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// `latest`, `oldest` or `all` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchName>,
    /// How many messages for `latest`/`oldest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Messages per batch (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
    /// `keep` (default), `delete` or `move`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_receive: Option<AfterReceiveName>,
    /// Target folder for `move`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_to: Option<String>,
    /// Give HTML bodies only sanitized (default true); sanitized when a message is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanitize_html: Option<bool>,
    /// `keep` (default), `rewrite` or `data_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_images: Option<InlineImagesName>,
    /// URL pattern for `inline_images = "rewrite"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_image_url: Option<String>,
    /// `block` (default) or `allow`: remote content in sanitized HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_images: Option<RemoteImages>,
    /// Network timeout in seconds (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<i64>,
    /// Messages larger than this are skipped and recorded, not downloaded (unset: a hard
    /// limit of 256 MiB applies the same way). A message is held whole in memory while it is
    /// stored (about its size; at most 1.5x), and accounts are retrieved several at a time,
    /// so memory is about concurrency x the largest message: this bounds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<SizeValue>,
    /// Subscribe to new mail (IDLE, or polling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<bool>,
    /// Poll at this interval instead of IDLE (required for POP3 subscriptions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<i64>,
    /// Seconds between IDLE renewals: `DONE`, whose answer must come within
    /// `timeout_secs`, then IDLE again; a silent connection is declared lost after at most
    /// this plus the timeout. 1 to 1740 (RFC 2177's 29 minutes); default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_renew_secs: Option<i64>,
    /// Seconds without traffic before TCP keepalive probes start; 0 turns keepalive off.
    /// 0 to 7200; default 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive_secs: Option<i64>,
    /// Seconds between TCP keepalive probes. 1 to 600; default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive_interval_secs: Option<i64>,
    /// Unanswered TCP keepalive probes before the connection is declared dead. 1 to 20;
    /// default 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive_probes: Option<i64>,
}

fn deserialize_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

impl From<Account> for AccountConfig {
    fn from(a: Account) -> Self {
        let mut c = AccountConfig {
            name: Some(a.name),
            protocol: Some(a.protocol),
            host: Some(a.host),
            port: Some(i64::from(a.port)),
            security: Some(a.security),
            username: Some(a.username),
            ca_file: a.ca_file,
            danger_accept_invalid_certs: a.danger_accept_invalid_certs.then_some(true),
            folder: Some(a.folder),
            batch_size: Some(i64::from(a.batch_size)),
            sanitize_html: Some(a.sanitize_html),
            remote_images: Some(a.remote_images),
            timeout_secs: Some(a.timeout.as_secs() as i64),
            max_message_size: a
                .max_message_size
                .map(|n| SizeValue::Bytes(i64::try_from(n).unwrap_or(i64::MAX))),
            subscribe: Some(a.subscribe),
            poll_interval_secs: a.poll_interval.map(|d| d.as_secs() as i64),
            idle_renew_secs: Some(a.idle_renew.as_secs() as i64),
            tcp_keepalive_secs: Some(a.keepalive.map_or(0, |k| k.idle.as_secs() as i64)),
            tcp_keepalive_interval_secs: a.keepalive.map(|k| k.interval.as_secs() as i64),
            tcp_keepalive_probes: a.keepalive.map(|k| i64::from(k.probes)),
            ..AccountConfig::default()
        };
        match a.fetch {
            FetchPolicy::Latest(n) => {
                c.fetch = Some(FetchName::Latest);
                c.count = Some(i64::from(n));
            }
            FetchPolicy::Oldest(n) => {
                c.fetch = Some(FetchName::Oldest);
                c.count = Some(i64::from(n));
            }
            FetchPolicy::All => c.fetch = Some(FetchName::All),
        }
        match a.after_receive {
            AfterReceive::Keep => c.after_receive = Some(AfterReceiveName::Keep),
            AfterReceive::Delete => c.after_receive = Some(AfterReceiveName::Delete),
            AfterReceive::MoveTo(f) => {
                c.after_receive = Some(AfterReceiveName::Move);
                c.move_to = Some(f);
            }
        }
        match a.inline_images {
            InlineImageMode::Keep => c.inline_images = Some(InlineImagesName::Keep),
            InlineImageMode::DataUrl => c.inline_images = Some(InlineImagesName::DataUrl),
            InlineImageMode::Rewrite(url) => {
                c.inline_images = Some(InlineImagesName::Rewrite);
                c.inline_image_url = Some(url);
            }
        }
        match a.auth {
            AuthConfig::Password(src) => match src {
                SecretSource::Inline(s) => c.password = Some(s),
                SecretSource::Env(v) => c.password_env = Some(v),
                SecretSource::Command(cmd) => c.password_command = Some(cmd),
                SecretSource::Stored(_) => {}
            },
            AuthConfig::OAuth(o) => c.oauth = Some(oauth_file_form(o)),
        }
        c
    }
}

/// The `[account.oauth]` table that gives these settings (secrets kept in the store are not
/// named in the file: only environment variables are).
fn oauth_file_form(o: OAuthSettings) -> OAuthConfig {
    let env_of = |s: &SecretSource| match s {
        SecretSource::Env(v) => Some(v.clone()),
        _ => None,
    };
    match o {
        OAuthSettings::Entra {
            tenant_id,
            client_id,
            client_secret,
            scope,
            authority,
        } => OAuthConfig {
            provider: Some(OAuthProviderName::Entra),
            tenant_id: Some(tenant_id),
            client_id: Some(client_id),
            client_secret_env: env_of(&client_secret),
            scope,
            authority,
            ..OAuthConfig::default()
        },
        OAuthSettings::RefreshToken {
            token_url,
            client_id,
            client_secret,
            refresh_token,
            scopes,
        } => OAuthConfig {
            provider: Some(OAuthProviderName::RefreshToken),
            client_id: Some(client_id),
            token_url: Some(token_url),
            client_secret_env: env_of(&client_secret),
            refresh_token_env: env_of(&refresh_token),
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            ..OAuthConfig::default()
        },
        OAuthSettings::Static { token } => OAuthConfig {
            provider: Some(OAuthProviderName::Static),
            token_env: env_of(&token),
            ..OAuthConfig::default()
        },
        OAuthSettings::Login(l) => OAuthConfig {
            provider: Some(l.provider),
            client_id: Some(l.client_id),
            client_secret_env: env_of(&l.client_secret),
            refresh_token_env: env_of(&l.refresh_token),
            tenant_id: l.tenant_id,
            authority: l.authority,
            auth_url: l.auth_url,
            token_url: l.token_url,
            device_url: l.device_url,
            scope: l.scope,
            ..OAuthConfig::default()
        },
    }
}
