//! The names a configuration file uses for each choice (`latest`, `refresh_token`, ...). The
//! protocol and the security are net's own [`MailProtocol`] and [`Security`], which
//! deserialize from `imap`/`pop3` and `tls`/`starttls`/`plain`.
//!
//! [`MailProtocol`]: inbound_net::MailProtocol
//! [`Security`]: inbound_net::Security

use serde::{Deserialize, Serialize};

/// Which messages a run fetches, as written (`latest`, `oldest`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FetchName {
    /// The newest `count` new messages.
    #[cfg_attr(feature = "clap", value(help = "The newest --count messages"))]
    Latest,
    /// The oldest `count` new messages.
    #[cfg_attr(feature = "clap", value(help = "The oldest --count messages"))]
    Oldest,
    /// Every new message, oldest first, in batches.
    #[cfg_attr(feature = "clap", value(help = "Every message not yet stored"))]
    All,
}

/// What to do with a message on the server once it is stored, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum AfterReceiveName {
    /// Leave it.
    Keep,
    /// Delete it.
    Delete,
    /// Move it to `move_to` (IMAP only).
    #[cfg_attr(feature = "clap", value(help = "Move it to --move-to (IMAP)"))]
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
    /// [`inbound_message::SanitizeConfig::allow_remote_images`]).
    #[default]
    Block,
    /// Keep remote images: reading the mail tells the sender when and where it was read.
    Allow,
}

/// The OAuth provider kind, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OAuthProviderName {
    /// Microsoft Entra ID client credentials (app-only).
    #[cfg_attr(
        feature = "clap",
        value(help = "Microsoft Entra ID client credentials (app-only access)")
    )]
    Entra,
    /// A refresh token (Microsoft with `tenant_id`, or any endpoint with `token_url`).
    #[cfg_attr(
        feature = "clap",
        value(
            name = "refresh_token",
            alias = "refresh-token",
            help = "A refresh token from a consent flow (Google, Microsoft, any token endpoint)"
        )
    )]
    RefreshToken,
    /// A fixed access token.
    Static,
    /// Google, with a person's consent (`inbound accounts login`).
    #[cfg_attr(
        feature = "clap",
        value(
            help = "Gmail / Google Workspace: the person signs in with `inbound accounts login`"
        )
    )]
    Google,
    /// Microsoft (Outlook.com, Microsoft 365), with a person's consent.
    #[cfg_attr(
        feature = "clap",
        value(help = "Outlook / Microsoft 365: the person signs in with `inbound accounts login`")
    )]
    Microsoft,
    /// Any authorization server (explicit `auth_url`, `token_url`, `scope`), with a person's
    /// consent.
    #[cfg_attr(
        feature = "clap",
        value(
            name = "authorization_code",
            alias = "authorization-code",
            help = "Any OAuth 2.0 server (auth_url, token_url, scope): sign in with `inbound accounts login`"
        )
    )]
    AuthorizationCode,
}
