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
    let auth_url = p.optional("oauth.auth_url", o.auth_url.as_ref());
    let device_url = p.optional("oauth.device_url", o.device_url.as_ref());
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
        ("oauth.auth_url", &auth_url),
        ("oauth.device_url", &device_url),
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
            "is required (google, microsoft, authorization_code, entra, refresh_token or static)",
        );
        return OAuthSettings::Static { token };
    };
    let unused = |p: &mut Problems, field: &'static str, given: bool| {
        if given {
            p.add(field, format!("is not used by provider {provider:?}"));
        }
    };
    if !matches!(
        provider,
        OAuthProviderName::Google
            | OAuthProviderName::Microsoft
            | OAuthProviderName::AuthorizationCode
    ) {
        unused(p, "oauth.auth_url", o.auth_url.is_some());
        unused(p, "oauth.device_url", o.device_url.is_some());
    }
    match provider {
        OAuthProviderName::Google
        | OAuthProviderName::Microsoft
        | OAuthProviderName::AuthorizationCode => {
            let name = match provider {
                OAuthProviderName::Google => "google",
                OAuthProviderName::Microsoft => "microsoft",
                _ => "authorization_code",
            };
            if client.is_none() && o.client_id.is_none() {
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
                unused(p, "oauth.tenant_id", o.tenant_id.is_some());
                unused(p, "oauth.authority", o.authority.is_some());
            }
            unused(p, "oauth.token_env", o.token_env.is_some());
            OAuthSettings::Login(LoginSettings {
                provider,
                client_id: client.unwrap_or_default(),
                client_secret,
                refresh_token: refresh,
                tenant_id: tenant,
                authority,
                auth_url,
                token_url,
                device_url,
                scope,
            })
        }
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
