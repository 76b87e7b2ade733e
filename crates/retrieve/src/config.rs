//! Account configuration: the TOML/serde form ([`AccountConfig`]) and the validated form
//! ([`Account`]) that retrieval works with.
//!
//! [`AccountConfig::validate`] reports every problem at once, each with its field name, so a
//! user fixes a configuration in one pass. [`Account`] deserializes through that validation
//! (`#[serde(try_from = "AccountConfig")]`), so reading `[[account]]` tables straight into
//! `Account` values either yields valid accounts or an error listing every problem.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use inbound_net::{Keepalive, MailProtocol, Secret, Security};
use serde::{Deserialize, Deserializer, Serialize};

/// The default folder of an IMAP account.
pub const DEFAULT_FOLDER: &str = "INBOX";
/// The default number of messages fetched (and stored) per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
/// The largest batch size accepted (bounds memory and command sizes).
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// The default network timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest accepted timeout, in seconds.
pub const MAX_TIMEOUT_SECS: i64 = 3600;
/// The default interval between IDLE renewals (`idle_renew_secs`): 5 minutes.
pub const DEFAULT_IDLE_RENEW: Duration = Duration::from_secs(300);
/// The largest accepted `idle_renew_secs`: RFC 2177's 29 minutes.
pub const MAX_IDLE_RENEW_SECS: i64 = 29 * 60;

/// The mail protocol of an account, as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
}

impl From<Protocol> for MailProtocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Imap => MailProtocol::Imap,
            Protocol::Pop3 => MailProtocol::Pop3,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
        })
    }
}

/// Connection security as written in the configuration (`tls`, `starttls`, `plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityName {
    /// Implicit TLS.
    Tls,
    /// STARTTLS / STLS, mandatory.
    Starttls,
    /// No TLS (must be chosen explicitly).
    Plain,
}

impl From<SecurityName> for Security {
    fn from(s: SecurityName) -> Self {
        match s {
            SecurityName::Tls => Security::Tls,
            SecurityName::Starttls => Security::StartTls,
            SecurityName::Plain => Security::Plaintext,
        }
    }
}

impl From<Security> for SecurityName {
    fn from(s: Security) -> Self {
        match s {
            Security::Tls => SecurityName::Tls,
            Security::StartTls => SecurityName::Starttls,
            Security::Plaintext => SecurityName::Plain,
        }
    }
}

/// Which messages a run fetches, as written (`latest`, `oldest`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FetchName {
    /// The newest `count` new messages.
    Latest,
    /// The oldest `count` new messages.
    Oldest,
    /// Every new message, oldest first, in batches.
    All,
}

/// What to do with a message on the server once it is stored, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterReceiveName {
    /// Leave it.
    Keep,
    /// Delete it.
    Delete,
    /// Move it to `move_to` (IMAP only).
    Move,
}

/// How `cid:` images in sanitized HTML are handled, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InlineImagesName {
    /// Leave `cid:` URLs.
    Keep,
    /// Rewrite them with `inline_image_url`.
    Rewrite,
    /// Embed raster images as `data:` URLs.
    DataUrl,
}

/// Whether sanitized HTML keeps remote content (images and styles loaded from elsewhere:
/// tracking pixels), as written in `remote_images`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteImages {
    /// Remove every way remote content gets in (the default): `img src` other than `cid:`
    /// and raster `data:`, `srcset`, `background`, CSS `url()`, `image-set()`, protocol-
    /// relative URLs, `<link>`, `@import`, ... (see
    /// [`inbound_message::SanitizeOptions::allow_remote_images`]).
    #[default]
    Block,
    /// Keep remote images: reading the mail tells the sender when and where it was read.
    Allow,
}

/// The OAuth provider kind, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthProviderName {
    /// Microsoft Entra ID client credentials (app-only).
    Entra,
    /// A refresh token (Microsoft with `tenant_id`, or any endpoint with `token_url`).
    RefreshToken,
    /// A fixed access token.
    Static,
}

/// A size: a number of bytes, or text such as `"50MB"`, `"10 MiB"`, `"512k"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    /// Bytes.
    Bytes(i64),
    /// A number with a unit: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024);
    /// K, M and G alone mean KiB, MiB, GiB.
    Text(String),
}

/// The `[account.oauth]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// `entra`, `refresh_token` or `static`.
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
    /// Token endpoint for `refresh_token` providers other than Microsoft.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
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
    pub protocol: Option<Protocol>,
    /// Server host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Server port; default from protocol and security.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// `tls` (default), `starttls` or `plain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityName>,
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
    /// Unique name.
    pub name: String,
    /// IMAP or POP3.
    pub protocol: Protocol,
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// Login name.
    pub username: String,
    /// Credentials source.
    pub auth: AuthConfig,
    /// Extra trust anchor.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (dangerous).
    pub danger_accept_invalid_certs: bool,
    /// The folder to retrieve from (`INBOX` for POP3).
    pub folder: String,
    /// Which messages to fetch.
    pub fetch: FetchPolicy,
    /// Messages per batch: per fetch command, store transaction and server action.
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
    /// Network timeout.
    pub timeout: Duration,
    /// Messages larger than this many bytes are skipped, not downloaded. `None`: the hard
    /// limit of 256 MiB applies the same way.
    pub max_message_size: Option<u64>,
    /// Subscribe to new mail.
    pub subscribe: bool,
    /// Poll at this interval instead of IDLE.
    pub poll_interval: Option<Duration>,
    /// How long one IDLE lasts before it is renewed (`DONE`, answered within `timeout`);
    /// 1 s to 29 minutes, default [`DEFAULT_IDLE_RENEW`] (5 minutes).
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
    pub fn tls_settings(&self) -> inbound_net::TlsSettings {
        let mut tls = inbound_net::TlsSettings::new()
            .danger_accept_invalid_certs(self.danger_accept_invalid_certs);
        if let Some(ca) = &self.ca_file {
            tls = tls.with_ca_file(ca);
        }
        tls
    }
}

/// One problem in an account's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The field, as written in the configuration (`oauth.client_id` for nested ones).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one account's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The account name, if it had one.
    pub account: Option<String>,
    /// The problems, in field order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    /// True when `field` has a problem.
    pub fn has(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(name) => write!(f, "account {name:?} is invalid: ")?,
            None => f.write_str("account is invalid: ")?,
        }
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            field,
            message: message.into(),
        });
    }

    /// A required, non-blank string without control characters.
    fn required(&mut self, field: &'static str, value: Option<&String>) -> String {
        match value.map(|v| v.trim()) {
            None | Some("") => {
                self.add(field, "is required");
                String::new()
            }
            Some(v) => {
                self.no_controls(field, v);
                v.to_owned()
            }
        }
    }

    fn no_controls(&mut self, field: &'static str, value: &str) {
        if value.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
    }

    /// An optional non-blank string.
    fn optional(&mut self, field: &'static str, value: Option<&String>) -> Option<String> {
        let v = value?.trim();
        if v.is_empty() {
            self.add(field, "must not be empty when given");
            return None;
        }
        self.no_controls(field, v);
        Some(v.to_owned())
    }

    fn range(&mut self, field: &'static str, value: i64, min: i64, max: i64) -> Option<i64> {
        if (min..=max).contains(&value) {
            Some(value)
        } else {
            self.add(
                field,
                format!("must be between {min} and {max} (got {value})"),
            );
            None
        }
    }
}

impl AccountConfig {
    /// Checks everything and builds the [`Account`], or reports every problem by field.
    pub fn validate(&self) -> Result<Account, ConfigErrors> {
        let mut p = Problems(Vec::new());
        let name = p.required("name", self.name.as_ref());
        let protocol = self.protocol.unwrap_or_else(|| {
            p.add("protocol", "is required (imap or pop3)");
            Protocol::Imap
        });
        let host = p.required("host", self.host.as_ref());
        if host.chars().any(char::is_whitespace) {
            p.add("host", "must not contain spaces");
        }
        let security: Security = self.security.unwrap_or(SecurityName::Tls).into();
        let port = match self.port {
            None => security.default_port(protocol.into()),
            Some(v) => p.range("port", v, 1, 65535).map_or(0, |v| v as u16),
        };
        let username = p.required("username", self.username.as_ref());
        let auth = self.validate_auth(&mut p);
        let ca_file = match &self.ca_file {
            Some(path) if path.as_os_str().is_empty() => {
                p.add("ca_file", "must not be empty when given");
                None
            }
            other => other.clone(),
        };
        let danger = self.danger_accept_invalid_certs.unwrap_or(false);
        if danger && security == Security::Plaintext {
            p.add(
                "danger_accept_invalid_certs",
                "has no meaning with security = \"plain\" (there is no certificate)",
            );
        }

        let folder = match (protocol, self.folder.as_ref()) {
            (_, None) => DEFAULT_FOLDER.to_owned(),
            (Protocol::Pop3, Some(f)) if !f.eq_ignore_ascii_case(DEFAULT_FOLDER) => {
                p.add("folder", "POP3 has only INBOX; remove this setting");
                DEFAULT_FOLDER.to_owned()
            }
            (Protocol::Pop3, Some(_)) => DEFAULT_FOLDER.to_owned(),
            (Protocol::Imap, Some(f)) => p
                .optional("folder", Some(f))
                .unwrap_or_else(|| DEFAULT_FOLDER.to_owned()),
        };

        let fetch = self.validate_fetch(&mut p);
        let batch_size = match self.batch_size {
            None => DEFAULT_BATCH_SIZE,
            Some(v) => p
                .range("batch_size", v, 1, i64::from(MAX_BATCH_SIZE))
                .map_or(DEFAULT_BATCH_SIZE, |v| v as u32),
        };
        let after_receive = self.validate_after_receive(&mut p, protocol, &folder);

        let sanitize_html = self.sanitize_html.unwrap_or(true);
        let inline_images = self.validate_inline(&mut p, sanitize_html);
        let remote_images = self.remote_images.unwrap_or_default();
        if remote_images == RemoteImages::Allow && !sanitize_html {
            p.add(
                "remote_images",
                "applies to sanitized HTML only; set sanitize_html = true",
            );
        }
        let timeout = match self.timeout_secs {
            None => DEFAULT_TIMEOUT,
            Some(v) => Duration::from_secs(
                p.range("timeout_secs", v, 1, MAX_TIMEOUT_SECS)
                    .map_or(DEFAULT_TIMEOUT.as_secs(), |v| v as u64),
            ),
        };
        let max_message_size = match &self.max_message_size {
            None => None,
            Some(v) => match parse_size(v) {
                Ok(0) => {
                    p.add("max_message_size", "must be more than 0 bytes");
                    None
                }
                Ok(n) => Some(n),
                Err(e) => {
                    p.add("max_message_size", e);
                    None
                }
            },
        };
        let subscribe = self.subscribe.unwrap_or(false);
        let poll_interval = self.poll_interval_secs.and_then(|v| {
            p.range("poll_interval_secs", v, 1, 86_400)
                .map(|v| Duration::from_secs(v as u64))
        });
        if subscribe && protocol == Protocol::Pop3 && self.poll_interval_secs.is_none() {
            p.add(
                "poll_interval_secs",
                "is required to subscribe to a POP3 account (POP3 has no IDLE; polling is chosen explicitly)",
            );
        }

        let idle_renew = self.idle_renew_secs.map_or(DEFAULT_IDLE_RENEW, |v| {
            p.range("idle_renew_secs", v, 1, MAX_IDLE_RENEW_SECS)
                .map_or(DEFAULT_IDLE_RENEW, |v| Duration::from_secs(v as u64))
        });
        let keepalive = self.validate_keepalive(&mut p);

        if p.0.is_empty() {
            Ok(Account {
                name,
                protocol,
                host,
                port,
                security,
                username,
                auth,
                ca_file,
                danger_accept_invalid_certs: danger,
                folder,
                fetch,
                batch_size,
                after_receive,
                sanitize_html,
                inline_images,
                remote_images,
                timeout,
                max_message_size,
                subscribe,
                poll_interval,
                idle_renew,
                keepalive,
            })
        } else {
            Err(ConfigErrors {
                account: self.name.clone().filter(|n| !n.trim().is_empty()),
                problems: p.0,
            })
        }
    }

    /// The `tcp_keepalive_*` settings; `None` when `tcp_keepalive_secs = 0`.
    fn validate_keepalive(&self, p: &mut Problems) -> Option<Keepalive> {
        let default = Keepalive::default();
        let secs = |p: &mut Problems, field, value: Option<i64>, min, max, default: Duration| {
            value.map_or(default, |v| {
                p.range(field, v, min, max)
                    .map_or(default, |v| Duration::from_secs(v as u64))
            })
        };
        let idle = secs(
            p,
            "tcp_keepalive_secs",
            self.tcp_keepalive_secs,
            0,
            7200,
            default.idle,
        );
        let interval = secs(
            p,
            "tcp_keepalive_interval_secs",
            self.tcp_keepalive_interval_secs,
            1,
            600,
            default.interval,
        );
        let probes = self.tcp_keepalive_probes.map_or(default.probes, |v| {
            p.range("tcp_keepalive_probes", v, 1, 20)
                .map_or(default.probes, |v| v as u32)
        });
        if idle.is_zero() {
            for (field, given) in [
                (
                    "tcp_keepalive_interval_secs",
                    self.tcp_keepalive_interval_secs,
                ),
                ("tcp_keepalive_probes", self.tcp_keepalive_probes),
            ] {
                if given.is_some() {
                    p.add(
                        field,
                        "has no effect with tcp_keepalive_secs = 0 (keepalive off)",
                    );
                }
            }
            return None;
        }
        Some(Keepalive {
            idle,
            interval,
            probes,
        })
    }

    fn validate_auth(&self, p: &mut Problems) -> AuthConfig {
        let given = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_command.is_some(),
            self.oauth.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            p.add(
                "password",
                "give only one of password, password_env, password_command and [account.oauth]",
            );
        }
        if let Some(pw) = &self.password {
            if pw.is_empty() {
                p.add("password", "must not be empty when given");
            }
        }
        let env = p.optional("password_env", self.password_env.as_ref());
        let command = p.optional("password_command", self.password_command.as_ref());
        if let Some(oauth) = &self.oauth {
            return AuthConfig::OAuth(validate_oauth(p, oauth));
        }
        AuthConfig::Password(match (&self.password, env, command) {
            (Some(pw), _, _) => SecretSource::Inline(pw.clone()),
            (None, Some(var), _) => SecretSource::Env(var),
            (None, None, Some(cmd)) => SecretSource::Command(cmd),
            (None, None, None) => SecretSource::Stored("password".to_owned()),
        })
    }

    fn validate_fetch(&self, p: &mut Problems) -> FetchPolicy {
        let fetch = self.fetch.unwrap_or(FetchName::All);
        let count = self.count.and_then(|c| {
            p.range("count", c, 1, i64::from(u32::MAX))
                .map(|c| c as u32)
        });
        match fetch {
            FetchName::All => {
                if self.count.is_some() {
                    p.add(
                        "count",
                        "applies only to fetch = \"latest\" or \"oldest\" (fetch = \"all\" takes every message)",
                    );
                }
                FetchPolicy::All
            }
            FetchName::Latest | FetchName::Oldest => {
                if self.count.is_none() {
                    p.add(
                        "count",
                        "is required when fetch is \"latest\" or \"oldest\"",
                    );
                }
                let n = count.unwrap_or(1);
                if fetch == FetchName::Latest {
                    FetchPolicy::Latest(n)
                } else {
                    FetchPolicy::Oldest(n)
                }
            }
        }
    }

    fn validate_after_receive(
        &self,
        p: &mut Problems,
        protocol: Protocol,
        folder: &str,
    ) -> AfterReceive {
        let after = self.after_receive.unwrap_or(AfterReceiveName::Keep);
        match after {
            AfterReceiveName::Move => {
                if protocol == Protocol::Pop3 {
                    p.add(
                        "after_receive",
                        "\"move\" is not possible with POP3 (it has no folders); use keep or delete",
                    );
                }
                match p.optional("move_to", self.move_to.as_ref()) {
                    None if self.move_to.is_none() => {
                        p.add("move_to", "is required when after_receive = \"move\"");
                        AfterReceive::Keep
                    }
                    None => AfterReceive::Keep,
                    Some(target) => {
                        if target == folder {
                            p.add("move_to", "must differ from the folder being retrieved");
                        }
                        AfterReceive::MoveTo(target)
                    }
                }
            }
            AfterReceiveName::Keep | AfterReceiveName::Delete => {
                if self.move_to.is_some() {
                    p.add("move_to", "applies only when after_receive = \"move\"");
                }
                if after == AfterReceiveName::Delete {
                    AfterReceive::Delete
                } else {
                    AfterReceive::Keep
                }
            }
        }
    }

    fn validate_inline(&self, p: &mut Problems, sanitize: bool) -> InlineImageMode {
        let mode = self.inline_images.unwrap_or(InlineImagesName::Keep);
        if mode != InlineImagesName::Keep && !sanitize {
            p.add(
                "inline_images",
                "applies to sanitized HTML only; set sanitize_html = true",
            );
        }
        match mode {
            InlineImagesName::Rewrite => {
                match p.optional("inline_image_url", self.inline_image_url.as_ref()) {
                    Some(url) => InlineImageMode::Rewrite(url),
                    None => {
                        if self.inline_image_url.is_none() {
                            p.add(
                                "inline_image_url",
                                "is required when inline_images = \"rewrite\"",
                            );
                        }
                        InlineImageMode::Keep
                    }
                }
            }
            InlineImagesName::Keep | InlineImagesName::DataUrl => {
                if self.inline_image_url.is_some() {
                    p.add(
                        "inline_image_url",
                        "applies only when inline_images = \"rewrite\"",
                    );
                }
                if mode == InlineImagesName::DataUrl {
                    InlineImageMode::DataUrl
                } else {
                    InlineImageMode::Keep
                }
            }
        }
    }
}

fn validate_oauth(p: &mut Problems, o: &OAuthConfig) -> OAuthSettings {
    let secret = |p: &mut Problems, field: &'static str, env: Option<&String>, stored: &str| match p
        .optional(field, env)
    {
        Some(var) => SecretSource::Env(var),
        None => SecretSource::Stored(stored.to_owned()),
    };
    let tenant = p.optional("oauth.tenant_id", o.tenant_id.as_ref());
    let client = p.optional("oauth.client_id", o.client_id.as_ref());
    let scope = p.optional("oauth.scope", o.scope.as_ref());
    let authority = p.optional("oauth.authority", o.authority.as_ref());
    let token_url = p.optional("oauth.token_url", o.token_url.as_ref());
    let client_secret = secret(
        p,
        "oauth.client_secret_env",
        o.client_secret_env.as_ref(),
        "client_secret",
    );
    let refresh = secret(
        p,
        "oauth.refresh_token_env",
        o.refresh_token_env.as_ref(),
        "refresh_token",
    );
    let token = secret(p, "oauth.token_env", o.token_env.as_ref(), "token");
    for (url_field, url) in [
        ("oauth.authority", &authority),
        ("oauth.token_url", &token_url),
    ] {
        if let Some(u) = url {
            if !u.starts_with("https://") && !u.starts_with("http://") {
                p.add(url_field, "must be an http(s) URL");
            }
        }
    }
    let Some(provider) = o.provider else {
        p.add(
            "oauth.provider",
            "is required (entra, refresh_token or static)",
        );
        return OAuthSettings::Static { token };
    };
    let unused = |p: &mut Problems, field: &'static str, given: bool| {
        if given {
            p.add(field, format!("is not used by provider {provider:?}"));
        }
    };
    match provider {
        OAuthProviderName::Entra => {
            if tenant.is_none() && o.tenant_id.is_none() {
                p.add("oauth.tenant_id", "is required for provider \"entra\"");
            }
            if client.is_none() && o.client_id.is_none() {
                p.add("oauth.client_id", "is required for provider \"entra\"");
            }
            unused(p, "oauth.refresh_token_env", o.refresh_token_env.is_some());
            unused(p, "oauth.token_env", o.token_env.is_some());
            unused(p, "oauth.token_url", o.token_url.is_some());
            OAuthSettings::Entra {
                tenant_id: tenant.unwrap_or_default(),
                client_id: client.unwrap_or_default(),
                client_secret,
                scope,
                authority,
            }
        }
        OAuthProviderName::RefreshToken => {
            if client.is_none() && o.client_id.is_none() {
                p.add(
                    "oauth.client_id",
                    "is required for provider \"refresh_token\"",
                );
            }
            let url = match (&token_url, &tenant) {
                (Some(url), None) => url.clone(),
                (None, Some(tenant)) => format!(
                    "{}/{tenant}/oauth2/v2.0/token",
                    authority
                        .as_deref()
                        .unwrap_or(inbound_net::oauth::DEFAULT_ENTRA_AUTHORITY)
                        .trim_end_matches('/')
                ),
                (Some(_), Some(_)) => {
                    p.add(
                        "oauth.token_url",
                        "give either token_url or tenant_id (Microsoft), not both",
                    );
                    String::new()
                }
                (None, None) => {
                    if o.token_url.is_none() && o.tenant_id.is_none() {
                        p.add(
                            "oauth.token_url",
                            "is required for provider \"refresh_token\" (or give tenant_id for Microsoft)",
                        );
                    }
                    String::new()
                }
            };
            unused(p, "oauth.token_env", o.token_env.is_some());
            if token_url.is_some() {
                unused(p, "oauth.authority", o.authority.is_some());
            }
            OAuthSettings::RefreshToken {
                token_url: url,
                client_id: client.unwrap_or_default(),
                client_secret,
                refresh_token: refresh,
                scopes: scope
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            }
        }
        OAuthProviderName::Static => {
            for (field, given) in [
                ("oauth.tenant_id", o.tenant_id.is_some()),
                ("oauth.client_id", o.client_id.is_some()),
                ("oauth.client_secret_env", o.client_secret_env.is_some()),
                ("oauth.scope", o.scope.is_some()),
                ("oauth.authority", o.authority.is_some()),
                ("oauth.token_url", o.token_url.is_some()),
                ("oauth.refresh_token_env", o.refresh_token_env.is_some()),
            ] {
                unused(p, field, given);
            }
            OAuthSettings::Static { token }
        }
    }
}

/// Parses a size such as `50MB`, `10 MiB`, `512k` or `1048576`.
///
/// # Errors
/// A message saying what is wrong, for the `max_message_size` field.
pub fn parse_size(value: &SizeValue) -> Result<u64, String> {
    let text = match value {
        SizeValue::Bytes(n) => {
            return u64::try_from(*n).map_err(|_| format!("must not be negative (got {n})"));
        }
        SizeValue::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = unit.trim();
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (write e.g. \"50MB\" or \"10MiB\")"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        "g" | "gib" => 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl TryFrom<AccountConfig> for Account {
    type Error = ConfigErrors;

    fn try_from(config: AccountConfig) -> Result<Self, Self::Error> {
        config.validate()
    }
}

impl From<Account> for AccountConfig {
    fn from(a: Account) -> Self {
        let mut c = AccountConfig {
            name: Some(a.name),
            protocol: Some(a.protocol),
            host: Some(a.host),
            port: Some(i64::from(a.port)),
            security: Some(a.security.into()),
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
        let env_of = |s: &SecretSource| match s {
            SecretSource::Env(v) => Some(v.clone()),
            _ => None,
        };
        match a.auth {
            AuthConfig::Password(src) => match src {
                SecretSource::Inline(s) => c.password = Some(s),
                SecretSource::Env(v) => c.password_env = Some(v),
                SecretSource::Command(cmd) => c.password_command = Some(cmd),
                SecretSource::Stored(_) => {}
            },
            AuthConfig::OAuth(o) => {
                c.oauth = Some(match o {
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
                });
            }
        }
        c
    }
}
