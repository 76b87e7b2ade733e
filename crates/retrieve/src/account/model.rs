//! The validated account: everything retrieval needs, every value in range.

use std::path::PathBuf;
use std::time::Duration;

use inbound_net::{Keepalive, Secret, Security};
use serde::{Deserialize, Serialize};

use super::{AccountConfig, ConfigErrors, LoginSettings, MailProtocol, RemoteImages};

/// Which messages a run fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchPolicy {
    /// The newest N messages not handled before (older new ones are passed over).
    Latest(u32),
    /// The oldest N messages not handled before (the next run takes the next N).
    Oldest(u32),
    /// Every message not handled before, oldest to newest.
    All,
}

/// What to do with a message on the server once it is durably stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AfterReceive {
    /// Leave it on the server.
    Keep,
    /// Delete it (IMAP `\Deleted` + expunge; POP3 `DELE`, applied at `QUIT`).
    Delete,
    /// Move it to this IMAP folder, created if missing.
    MoveTo(String),
}

/// How `cid:` references in sanitized HTML are handled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InlineImageMode {
    /// Leave `cid:` URLs.
    Keep,
    /// Rewrite them with this pattern (see [`inbound_message::InlineImages::RewriteCid`]).
    Rewrite(String),
    /// Embed raster images as `data:` URLs.
    DataUrl,
}

impl InlineImageMode {
    /// The message crate's form.
    pub fn as_inline_images(&self) -> inbound_message::InlineImages<'_> {
        match self {
            InlineImageMode::Keep => inbound_message::InlineImages::Keep,
            InlineImageMode::Rewrite(p) => inbound_message::InlineImages::RewriteCid(p),
            InlineImageMode::DataUrl => inbound_message::InlineImages::DataUrl,
        }
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Written in the configuration.
    Inline(Secret),
    /// An environment variable of this name.
    Env(String),
    /// The standard output of this shell command (trailing newline removed).
    Command(String),
    /// The account's secret of this name in the store.
    Stored(String),
}

/// An OAuth provider's settings, secrets as sources.
#[derive(Debug, Clone)]
pub enum OAuthSettings {
    /// Entra ID client credentials.
    Entra {
        /// Tenant.
        tenant_id: String,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: SecretSource,
        /// Scope, if not the default.
        scope: Option<String>,
        /// Authority, if not the default.
        authority: Option<String>,
    },
    /// A refresh token.
    RefreshToken {
        /// Token endpoint.
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret; a missing stored `client_secret` means a public client.
        client_secret: SecretSource,
        /// Refresh token.
        refresh_token: SecretSource,
        /// Scopes.
        scopes: Vec<String>,
    },
    /// A fixed access token.
    Static {
        /// The token.
        token: SecretSource,
    },
    /// A person's consent (`google`, `microsoft`, `authorization_code`): the refresh token
    /// `inbound accounts login` stored.
    Login(LoginSettings),
}

/// How an account authenticates.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// A password from this source.
    Password(SecretSource),
    /// OAuth 2.0.
    OAuth(OAuthSettings),
}

/// A validated account: everything retrieval needs, every value in range.
///
/// Deserializes from an `[[account]]` table through [`AccountConfig::validate`]; serializes
/// back to that table (an inline `password` is never written out).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "AccountConfig", into = "AccountConfig")]
pub struct Account {
    /// Unique among the accounts; keys what the store keeps for this account.
    pub name: String,
    /// IMAP or POP3.
    pub protocol: MailProtocol,
    /// Server host.
    pub host: String,
    /// Server port (default [`Security::default_port`](inbound_net::Security::default_port):
    /// 993/143 IMAP, 995/110 POP3).
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// Login name (for OAuth, the mailbox address).
    pub username: String,
    /// Credentials source.
    pub auth: AuthConfig,
    /// A CA certificate (PEM) trusted besides the system's; `None`: the system's only.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate: anyone on the path can read the password (default
    /// false; for test servers only).
    pub danger_accept_invalid_certs: bool,
    /// The folder to retrieve from (`INBOX` for POP3).
    pub folder: String,
    /// Which messages to fetch.
    pub fetch: FetchPolicy,
    /// Messages per batch: per fetch command, store transaction and server action; 1 to
    /// 10,000, default [`DEFAULT_BATCH_SIZE`](super::DEFAULT_BATCH_SIZE) (100).
    pub batch_size: u32,
    /// What to do on the server after storing.
    pub after_receive: AfterReceive,
    /// Give this account's HTML bodies only sanitized: the store records it with each message
    /// and sanitizes whenever the message is read ([`Account::sanitize_mode`]).
    pub sanitize_html: bool,
    /// Inline image handling for sanitized HTML.
    pub inline_images: InlineImageMode,
    /// Remote content in sanitized HTML: blocked (the default) or kept.
    pub remote_images: RemoteImages,
    /// The longest wait for the server at any step (an answer must also keep 1 KiB/s);
    /// default [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT) (30 s).
    pub timeout: Duration,
    /// Messages larger than this many bytes are skipped, not downloaded. `None`: the hard
    /// limit of 256 MiB applies the same way.
    pub max_message_size: Option<u64>,
    /// Subscribe to new mail.
    pub subscribe: bool,
    /// Poll at this interval instead of IDLE, 1 s to 1 day (required to subscribe a POP3
    /// account, which has no IDLE); `None`: IDLE.
    pub poll_interval: Option<Duration>,
    /// How long one IDLE lasts before it is renewed (`DONE`, answered within `timeout`);
    /// 1 s to 29 minutes, default [`DEFAULT_IDLE_RENEW`](super::DEFAULT_IDLE_RENEW) (5 minutes).
    pub idle_renew: Duration,
    /// TCP keepalive on every mail connection; `None` when turned off. Default
    /// [`Keepalive::default`] (60 s idle, a probe every 10 s, 3 probes).
    pub keepalive: Option<Keepalive>,
}

impl Account {
    /// How the store sanitizes this account's HTML when a message is read
    /// ([`NewMessage::with_sanitize`](inbound_store::NewMessage::with_sanitize)); `None` when
    /// `sanitize_html` is off.
    pub fn sanitize_mode(&self) -> Option<inbound_store::SanitizeHtml> {
        use inbound_store::SanitizeHtml;
        self.sanitize_html.then(|| {
            match &self.inline_images {
                InlineImageMode::Keep => SanitizeHtml::keep_cid(),
                InlineImageMode::Rewrite(pattern) => SanitizeHtml::rewrite_cid(pattern.clone()),
                InlineImageMode::DataUrl => SanitizeHtml::data_url(),
            }
            .with_remote_images(self.remote_images == RemoteImages::Allow)
        })
    }

    /// The store's pending action for this account's after-receive setting.
    pub fn pending_action(&self) -> Option<inbound_store::PendingAction> {
        match &self.after_receive {
            AfterReceive::Keep => None,
            AfterReceive::Delete => Some(inbound_store::PendingAction::Delete),
            AfterReceive::MoveTo(f) => Some(inbound_store::PendingAction::MoveTo(f.clone())),
        }
    }

    /// The TLS settings for the mail server.
    pub fn tls_settings(&self) -> inbound_net::TlsConfig {
        let mut tls = inbound_net::TlsConfig::new()
            .danger_accept_invalid_certs(self.danger_accept_invalid_certs);
        if let Some(ca) = &self.ca_file {
            tls = tls.with_ca_file(ca);
        }
        tls
    }
}

impl TryFrom<AccountConfig> for Account {
    type Error = ConfigErrors;

    fn try_from(config: AccountConfig) -> Result<Self, Self::Error> {
        config.validate()
    }
}
