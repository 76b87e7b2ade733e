//! The checks of each group of settings: keepalive, authentication and OAuth, what to fetch,
//! what to do after receiving, inline images.

use std::time::Duration;

use inbound_net::Keepalive;

use super::validate::Problems;
use super::{
    AccountConfig, AfterReceive, AfterReceiveName, AuthConfig, FetchName, FetchPolicy,
    InlineImageMode, InlineImagesName, LoginSettings, MailProtocol, OAuthConfig, OAuthProviderName,
    OAuthSettings, SecretSource,
};

impl AccountConfig {
    /// The `tcp_keepalive_*` settings; `None` when `tcp_keepalive_secs = 0`.
    pub(super) fn validate_keepalive(&self, p: &mut Problems) -> Option<Keepalive> {
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

    pub(super) fn validate_auth(&self, p: &mut Problems) -> AuthConfig {
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

    pub(super) fn validate_fetch(&self, p: &mut Problems) -> FetchPolicy {
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

    pub(super) fn validate_after_receive(
        &self,
        p: &mut Problems,
        protocol: MailProtocol,
        folder: &str,
    ) -> AfterReceive {
        let after = self.after_receive.unwrap_or(AfterReceiveName::Keep);
        match after {
            AfterReceiveName::Move => {
                if protocol == MailProtocol::Pop3 {
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

    pub(super) fn validate_inline(&self, p: &mut Problems, sanitize: bool) -> InlineImageMode {
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

/// The `[account.oauth]` table: the fields every provider may use, checked once, then the
/// provider's own rules (what it requires, what it does not use).
fn validate_oauth(p: &mut Problems, o: &OAuthConfig) -> OAuthSettings {
    let f = OAuthFields::read(p, o);
    let Some(provider) = o.provider else {
        p.add(
            "oauth.provider",
            "is required (google, microsoft, authorization_code, entra, refresh_token or static)",
        );
        return OAuthSettings::Static { token: f.token };
    };
    if !matches!(
        provider,
        OAuthProviderName::Google
            | OAuthProviderName::Microsoft
            | OAuthProviderName::AuthorizationCode
    ) {
        unused(p, provider, "oauth.auth_url", o.auth_url.is_some());
        unused(p, provider, "oauth.device_url", o.device_url.is_some());
    }
    match provider {
        OAuthProviderName::Google
        | OAuthProviderName::Microsoft
        | OAuthProviderName::AuthorizationCode => login_settings(p, o, f, provider),
        OAuthProviderName::Entra => entra_settings(p, o, f),
        OAuthProviderName::RefreshToken => refresh_token_settings(p, o, f),
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
                unused(p, provider, field, given);
            }
            OAuthSettings::Static { token: f.token }
        }
    }
}

/// The OAuth fields as given (blank ones reported), URLs checked to be http(s).
struct OAuthFields {
    tenant: Option<String>,
    client: Option<String>,
    scope: Option<String>,
    authority: Option<String>,
    token_url: Option<String>,
    auth_url: Option<String>,
    device_url: Option<String>,
    client_secret: SecretSource,
    refresh: SecretSource,
    token: SecretSource,
}

impl OAuthFields {
    fn read(p: &mut Problems, o: &OAuthConfig) -> Self {
        let secret =
            |p: &mut Problems, field: &'static str, env: Option<&String>, stored: &str| match p
                .optional(field, env)
            {
                Some(var) => SecretSource::Env(var),
                None => SecretSource::Stored(stored.to_owned()),
            };
        let f = Self {
            tenant: p.optional("oauth.tenant_id", o.tenant_id.as_ref()),
            client: p.optional("oauth.client_id", o.client_id.as_ref()),
            scope: p.optional("oauth.scope", o.scope.as_ref()),
            authority: p.optional("oauth.authority", o.authority.as_ref()),
            token_url: p.optional("oauth.token_url", o.token_url.as_ref()),
            auth_url: p.optional("oauth.auth_url", o.auth_url.as_ref()),
            device_url: p.optional("oauth.device_url", o.device_url.as_ref()),
            client_secret: secret(
                p,
                "oauth.client_secret_env",
                o.client_secret_env.as_ref(),
                "client_secret",
            ),
            refresh: secret(
                p,
                "oauth.refresh_token_env",
                o.refresh_token_env.as_ref(),
                "refresh_token",
            ),
            token: secret(p, "oauth.token_env", o.token_env.as_ref(), "token"),
        };
        for (url_field, url) in [
            ("oauth.authority", &f.authority),
            ("oauth.token_url", &f.token_url),
            ("oauth.auth_url", &f.auth_url),
            ("oauth.device_url", &f.device_url),
        ] {
            if let Some(u) = url {
                if !u.starts_with("https://") && !u.starts_with("http://") {
                    p.add(url_field, "must be an http(s) URL");
                }
            }
        }
        f
    }
}

/// Reports `field` when it is given to a provider that does not use it.
fn unused(p: &mut Problems, provider: OAuthProviderName, field: &'static str, given: bool) {
    if given {
        p.add(field, format!("is not used by provider {provider:?}"));
    }
}

/// `google`, `microsoft` and `authorization_code`: a person's consent (`accounts login`).
fn login_settings(
    p: &mut Problems,
    o: &OAuthConfig,
    f: OAuthFields,
    provider: OAuthProviderName,
) -> OAuthSettings {
    let name = match provider {
        OAuthProviderName::Google => "google",
        OAuthProviderName::Microsoft => "microsoft",
        _ => "authorization_code",
    };
    if f.client.is_none() && o.client_id.is_none() {
        p.add(
            "oauth.client_id",
            format!("is required for provider {name:?}"),
        );
    }
    if provider == OAuthProviderName::AuthorizationCode {
        for (field, given) in [
            ("oauth.auth_url", o.auth_url.is_some()),
            ("oauth.token_url", o.token_url.is_some()),
            ("oauth.scope", o.scope.is_some()),
        ] {
            if !given {
                p.add(field, "is required for provider \"authorization_code\"");
            }
        }
    }
    if provider != OAuthProviderName::Microsoft {
        unused(p, provider, "oauth.tenant_id", o.tenant_id.is_some());
        unused(p, provider, "oauth.authority", o.authority.is_some());
    }
    unused(p, provider, "oauth.token_env", o.token_env.is_some());
    OAuthSettings::Login(LoginSettings {
        provider,
        client_id: f.client.unwrap_or_default(),
        client_secret: f.client_secret,
        refresh_token: f.refresh,
        tenant_id: f.tenant,
        authority: f.authority,
        auth_url: f.auth_url,
        token_url: f.token_url,
        device_url: f.device_url,
        scope: f.scope,
    })
}

/// `entra`: app-only client credentials.
fn entra_settings(p: &mut Problems, o: &OAuthConfig, f: OAuthFields) -> OAuthSettings {
    let provider = OAuthProviderName::Entra;
    if f.tenant.is_none() && o.tenant_id.is_none() {
        p.add("oauth.tenant_id", "is required for provider \"entra\"");
    }
    if f.client.is_none() && o.client_id.is_none() {
        p.add("oauth.client_id", "is required for provider \"entra\"");
    }
    unused(
        p,
        provider,
        "oauth.refresh_token_env",
        o.refresh_token_env.is_some(),
    );
    unused(p, provider, "oauth.token_env", o.token_env.is_some());
    unused(p, provider, "oauth.token_url", o.token_url.is_some());
    OAuthSettings::Entra {
        tenant_id: f.tenant.unwrap_or_default(),
        client_id: f.client.unwrap_or_default(),
        client_secret: f.client_secret,
        scope: f.scope,
        authority: f.authority,
    }
}

/// `refresh_token`: a refresh token obtained elsewhere, at `token_url` or Microsoft's
/// endpoint for `tenant_id`.
fn refresh_token_settings(p: &mut Problems, o: &OAuthConfig, f: OAuthFields) -> OAuthSettings {
    let provider = OAuthProviderName::RefreshToken;
    if f.client.is_none() && o.client_id.is_none() {
        p.add(
            "oauth.client_id",
            "is required for provider \"refresh_token\"",
        );
    }
    let url = match (&f.token_url, &f.tenant) {
        (Some(url), None) => url.clone(),
        (None, Some(tenant)) => format!(
            "{}/{tenant}/oauth2/v2.0/token",
            f.authority
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
    unused(p, provider, "oauth.token_env", o.token_env.is_some());
    if f.token_url.is_some() {
        unused(p, provider, "oauth.authority", o.authority.is_some());
    }
    OAuthSettings::RefreshToken {
        token_url: url,
        client_id: f.client.unwrap_or_default(),
        client_secret: f.client_secret,
        refresh_token: f.refresh,
        scopes: f
            .scope
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}
