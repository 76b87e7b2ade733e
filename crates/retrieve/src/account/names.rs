//! The names a configuration file uses for each choice (`tls`, `latest`, `refresh_token`, ...).

use std::fmt;

use inbound_net::{MailProtocol, Security};
use serde::{Deserialize, Serialize};

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
