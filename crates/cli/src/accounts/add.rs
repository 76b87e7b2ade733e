//! `inbound accounts add`: save an account in the store with its secrets encrypted, or store
//! the secrets (password, OAuth client secret, refresh token, access token) of an account the
//! configuration file describes.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use inbound_net::Security;
use inbound_retrieve::account::{AfterReceiveName, FetchName, OAuthProviderName};
use inbound_retrieve::{
    Account, AccountConfig, AuthConfig, CredentialError, MailProtocol, OAuthConfig, OAuthSettings,
    SecretSource,
};
use inbound_store::Secret;

use crate::app::App;
use crate::config::ConfigFile;
use crate::error::{CliError, CliResult, EXIT_OK};

/// A secret `accounts add` can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum SecretKind {
    /// The login password.
    Password,
    /// The OAuth client secret (provider entra; refresh_token with a confidential client).
    #[value(name = "client_secret", alias = "client-secret")]
    ClientSecret,
    /// The OAuth refresh token (provider refresh_token).
    #[value(name = "refresh_token", alias = "refresh-token")]
    RefreshToken,
    /// A fixed OAuth access token (provider static).
    Token,
}

impl SecretKind {
    const ALL: [Self; 4] = [
        Self::Password,
        Self::ClientSecret,
        Self::RefreshToken,
        Self::Token,
    ];

    /// The name on the command line and in the configuration (`client_secret`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::ClientSecret => "client_secret",
            Self::RefreshToken => "refresh_token",
            Self::Token => "token",
        }
    }

    /// For prompts.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::ClientSecret => "OAuth client secret",
            Self::RefreshToken => "OAuth refresh token",
            Self::Token => "OAuth access token",
        }
    }

    /// The configuration key that makes the account read this secret elsewhere.
    fn env_field(self) -> &'static str {
        match self {
            Self::Password => "password_env / password_command",
            Self::ClientSecret => "oauth.client_secret_env",
            Self::RefreshToken => "oauth.refresh_token_env",
            Self::Token => "oauth.token_env",
        }
    }
}

/// `accounts add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The account's name.
    name: String,
    /// Store this secret (repeatable; read in the order given). Default: every secret the
    /// account reads from the store, except an optional client_secret of provider
    /// refresh_token.
    #[arg(long = "secret", value_enum, value_name = "SECRET")]
    secrets: Vec<SecretKind>,
    /// Replace a stored account of the same name (its settings and secrets).
    #[arg(long)]
    replace: bool,

    /// The protocol.
    #[arg(
        long,
        value_enum,
        help_heading = "Account settings (for a new stored account)"
    )]
    protocol: Option<MailProtocol>,
    /// Server host name.
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    host: Option<String>,
    /// Server port [default: from protocol and security].
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    port: Option<u16>,
    /// Connection security [default: tls].
    #[arg(
        long,
        value_enum,
        help_heading = "Account settings (for a new stored account)"
    )]
    security: Option<Security>,
    /// Login name.
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    username: Option<String>,
    /// Read the password from this environment variable at run time instead of storing it.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Account settings (for a new stored account)"
    )]
    password_env: Option<String>,
    /// Run this command for the password at run time instead of storing it.
    #[arg(
        long,
        value_name = "CMD",
        help_heading = "Account settings (for a new stored account)"
    )]
    password_command: Option<String>,
    /// Extra trust anchor (PEM).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Account settings (for a new stored account)"
    )]
    ca_file: Option<PathBuf>,
    /// IMAP folder [default: INBOX].
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    folder: Option<String>,
    /// Which messages to fetch [default: all].
    #[arg(
        long,
        value_enum,
        help_heading = "Account settings (for a new stored account)"
    )]
    fetch: Option<FetchName>,
    /// How many messages for --fetch latest|oldest.
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    count: Option<u32>,
    /// What to do on the server after storing a message [default: keep].
    #[arg(
        long,
        value_enum,
        help_heading = "Account settings (for a new stored account)"
    )]
    after_receive: Option<AfterReceiveName>,
    /// Target folder for --after-receive move.
    #[arg(
        long,
        value_name = "FOLDER",
        help_heading = "Account settings (for a new stored account)"
    )]
    move_to: Option<String>,
    /// Watch this account with `inbound watch`.
    #[arg(long, help_heading = "Account settings (for a new stored account)")]
    subscribe: bool,

    /// Log in with OAuth 2.0 (XOAUTH2) through this provider instead of a password.
    #[arg(
        long,
        value_enum,
        value_name = "PROVIDER",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    oauth: Option<OAuthProviderName>,
    /// Entra tenant id or domain.
    #[arg(long, help_heading = "OAuth 2.0 (for a new stored account)")]
    tenant_id: Option<String>,
    /// Application (client) id.
    #[arg(long, help_heading = "OAuth 2.0 (for a new stored account)")]
    client_id: Option<String>,
    /// Scope to ask for.
    #[arg(long, help_heading = "OAuth 2.0 (for a new stored account)")]
    scope: Option<String>,
    /// Entra authority (sovereign clouds, test endpoints).
    #[arg(
        long,
        value_name = "URL",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    authority: Option<String>,
    /// Token endpoint of a refresh_token provider other than Microsoft.
    #[arg(
        long,
        value_name = "URL",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    token_url: Option<String>,
    /// Authorization endpoint (provider authorization_code; replaces a preset's).
    #[arg(
        long,
        value_name = "URL",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    auth_url: Option<String>,
    /// Device authorization endpoint (replaces the microsoft preset's).
    #[arg(
        long,
        value_name = "URL",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    device_url: Option<String>,
    /// Read the client secret from this variable at run time instead of storing it.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    client_secret_env: Option<String>,
    /// Read the refresh token from this variable at run time instead of storing it.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    refresh_token_env: Option<String>,
    /// Read the access token from this variable at run time instead of storing it.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "OAuth 2.0 (for a new stored account)"
    )]
    token_env: Option<String>,
}

impl AddArgs {
    /// The `[account.oauth]` table these options describe, if any OAuth option is given.
    fn oauth_table(&self) -> Option<OAuthConfig> {
        let t = OAuthConfig {
            provider: self.oauth,
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            authority: self.authority.clone(),
            token_url: self.token_url.clone(),
            auth_url: self.auth_url.clone(),
            device_url: self.device_url.clone(),
            client_secret_env: self.client_secret_env.clone(),
            refresh_token_env: self.refresh_token_env.clone(),
            token_env: self.token_env.clone(),
        };
        (t != OAuthConfig::default()).then_some(t)
    }

    /// The configuration fields the account-setting options give, in alphabetical order.
    fn given(&self) -> Vec<&'static str> {
        [
            ("after_receive", self.after_receive.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("count", self.count.is_some()),
            ("fetch", self.fetch.is_some()),
            ("folder", self.folder.is_some()),
            ("host", self.host.is_some()),
            ("move_to", self.move_to.is_some()),
            ("oauth", self.oauth_table().is_some()),
            ("password_command", self.password_command.is_some()),
            ("password_env", self.password_env.is_some()),
            ("port", self.port.is_some()),
            ("protocol", self.protocol.is_some()),
            ("security", self.security.is_some()),
            ("subscribe", self.subscribe),
            ("username", self.username.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect()
    }

    /// The account table these options describe (without the name: `None` when no setting
    /// is given).
    fn settings(&self) -> Option<AccountConfig> {
        let oauth = self.oauth_table();
        let any = !self.given().is_empty();
        any.then(|| AccountConfig {
            protocol: self.protocol,
            host: self.host.clone(),
            port: self.port.map(i64::from),
            security: self.security,
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            password_command: self.password_command.clone(),
            ca_file: self.ca_file.clone(),
            folder: self.folder.clone(),
            fetch: self.fetch,
            count: self.count.map(i64::from),
            after_receive: self.after_receive,
            move_to: self.move_to.clone(),
            subscribe: self.subscribe.then_some(true),
            oauth,
            ..AccountConfig::default()
        })
    }

    /// Builds and checks the new account these options describe.
    fn account(&self, mut config: AccountConfig) -> CliResult<Account> {
        config.name = Some(self.name.clone());
        config.validate().map_err(|errors| {
            let mut text = format!("account {:?} is invalid:", self.name);
            for p in &errors.problems {
                text.push_str(&format!("\n  {}: {}", flag(p.field), p.message));
            }
            CliError::usage(text)
        })
    }
}

/// The option that sets a configuration field, for error messages.
fn flag(field: &str) -> String {
    match field {
        "password" => "--password-env/--password-command/--oauth".to_owned(),
        "oauth.provider" => "--oauth".to_owned(),
        other => format!("--{}", other.trim_start_matches("oauth.").replace('_', "-")),
    }
}

/// How `account` gets the secret `kind`; `None` when it uses no such secret.
fn source_of(account: &Account, kind: SecretKind) -> Option<&SecretSource> {
    match (&account.auth, kind) {
        (AuthConfig::Password(s), SecretKind::Password) => Some(s),
        (
            AuthConfig::OAuth(
                OAuthSettings::Entra { client_secret, .. }
                | OAuthSettings::RefreshToken { client_secret, .. },
            ),
            SecretKind::ClientSecret,
        ) => Some(client_secret),
        (
            AuthConfig::OAuth(OAuthSettings::RefreshToken { refresh_token, .. }),
            SecretKind::RefreshToken,
        ) => Some(refresh_token),
        (AuthConfig::OAuth(OAuthSettings::Static { token }), SecretKind::Token) => Some(token),
        (AuthConfig::OAuth(OAuthSettings::Login(l)), SecretKind::ClientSecret) => {
            Some(&l.client_secret)
        }
        (AuthConfig::OAuth(OAuthSettings::Login(l)), SecretKind::RefreshToken) => {
            Some(&l.refresh_token)
        }
        _ => None,
    }
}

/// How the account logs in, for messages.
fn auth_description(account: &Account) -> &'static str {
    match &account.auth {
        AuthConfig::Password(_) => "a password",
        AuthConfig::OAuth(OAuthSettings::Entra { .. }) => "OAuth provider entra",
        AuthConfig::OAuth(OAuthSettings::RefreshToken { .. }) => "OAuth provider refresh_token",
        AuthConfig::OAuth(OAuthSettings::Static { .. }) => "OAuth provider static",
        AuthConfig::OAuth(OAuthSettings::Login(l)) => match l.provider {
            OAuthProviderName::Google => "OAuth provider google",
            OAuthProviderName::Microsoft => "OAuth provider microsoft",
            _ => "OAuth provider authorization_code",
        },
    }
}

/// The secrets to store: those asked for (each checked against the account), else the ones
/// the account needs from the store. Pairs of the kind and the store's name for it.
fn secrets_to_store(
    account: &Account,
    asked: &[SecretKind],
) -> CliResult<Vec<(SecretKind, String)>> {
    let name = &account.name;
    if asked.is_empty() {
        return Ok(SecretKind::ALL
            .into_iter()
            .filter(|&kind| {
                // A refresh_token provider's client secret is optional (public clients); a
                // consent account's refresh token comes from `inbound accounts login`.
                let consent = matches!(account.auth, AuthConfig::OAuth(OAuthSettings::Login(_)));
                !(kind == SecretKind::ClientSecret
                    && (consent
                        || matches!(
                            account.auth,
                            AuthConfig::OAuth(OAuthSettings::RefreshToken { .. })
                        )))
                    && !(kind == SecretKind::RefreshToken && consent)
            })
            .filter_map(|kind| match source_of(account, kind) {
                Some(SecretSource::Stored(stored)) => Some((kind, stored.clone())),
                _ => None,
            })
            .collect());
    }
    let mut out: Vec<(SecretKind, String)> = Vec::new();
    for &kind in asked {
        match source_of(account, kind) {
            None => {
                let used: Vec<&str> = SecretKind::ALL
                    .into_iter()
                    .filter(|&k| source_of(account, k).is_some())
                    .map(SecretKind::name)
                    .collect();
                return Err(CliError::usage(format!(
                    "account {name:?} logs in with {} and uses no {}; its secrets: {}",
                    auth_description(account),
                    kind.name(),
                    used.join(", ")
                )));
            }
            Some(SecretSource::Stored(stored)) => {
                if !out.iter().any(|(k, _)| *k == kind) {
                    out.push((kind, stored.clone()));
                }
            }
            Some(other) => {
                let from = match other {
                    SecretSource::Env(var) => format!("the environment variable {var}"),
                    SecretSource::Command(_) => "a command".to_owned(),
                    _ => "the configuration file".to_owned(),
                };
                return Err(CliError::usage(format!(
                    "account {name:?} reads its {} from {from}, not from the store; \
                     remove {} from its settings to keep it in the store",
                    kind.name(),
                    kind.env_field()
                )));
            }
        }
    }
    Ok(out)
}

/// Where the account comes from.
enum Origin {
    /// `[[account]]` in the configuration file: only its secrets go to the store.
    File(PathBuf),
    /// Already stored; no settings given: its secrets are updated.
    Stored(String),
    /// New (or replacing a stored one) from the options.
    New,
}

/// Runs `inbound accounts add`: resolve the account, store its settings and secrets (sealed
/// with the key), report, and offer to sign in when it needs consent.
pub(crate) fn add(app: &App, args: &AddArgs) -> CliResult<u8> {
    let config = app.config()?;
    let (account, origin) = resolve(app, &config, args)?;
    let kinds = secrets_to_store(&account, &args.secrets)?;
    let consent = matches!(account.auth, AuthConfig::OAuth(OAuthSettings::Login(_)));
    if kinds.is_empty() && consent && !matches!(origin, Origin::New) {
        eprintln!(
            "account {:?} signs in with {}: run `inbound accounts login {}` to sign in and \
             store its refresh token",
            args.name,
            auth_description(&account),
            args.name
        );
        return offer_login(app, &args.name);
    }
    if kinds.is_empty() && !matches!(origin, Origin::New) {
        return Err(CliError::usage(format!(
            "account {:?} reads no secret from the store ({}); nothing to store",
            args.name,
            super::secret_source(&account)
        )));
    }
    // Stored settings are sealed with the key too, so even an account with no stored secret
    // needs it: no one without the key can then redirect it.
    let reason = if kinds.is_empty() {
        "store the account (its settings are sealed with the key)"
    } else {
        "store the account's secrets encrypted"
    };
    let mut store = app.open_store(&config, Some(reason))?;
    let existing = store.load_account(&args.name)?;
    if matches!(origin, Origin::New) && existing.is_some() && !args.replace {
        return Err(CliError::usage(format!(
            "account {:?} is already stored; pass --replace to overwrite it, or give only \
             its name (and --secret) to change its secrets",
            args.name
        )));
    }

    let values = read_secrets(&args.name, &kinds)?;
    // Secrets already stored are kept unless replaced here (or the whole account is).
    let mut secrets: BTreeMap<String, Secret> = match (&origin, existing) {
        (Origin::New, _) | (_, None) => BTreeMap::new(),
        (_, Some(existing)) => existing.secrets,
    };
    for ((_, stored_name), value) in kinds.iter().zip(values) {
        secrets.insert(stored_name.clone(), value);
    }
    let config_json = match &origin {
        Origin::Stored(json) => json.clone(),
        Origin::File(_) | Origin::New => serde_json::to_string(&account)
            .map_err(|e| CliError::failed(format!("account {:?}: {e}", args.name)))?,
    };
    let pairs: Vec<(&str, Secret)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    store.save_account(&args.name, &config_json, &pairs)?;

    report(app, &config, args, &account, &origin, &kinds, &secrets);
    if consent && !secrets.contains_key("refresh_token") {
        return offer_login(app, &args.name);
    }
    Ok(EXIT_OK)
}

/// Which account is meant, and where it comes from: the configuration file, the store, or
/// the options given.
fn resolve(app: &App, config: &ConfigFile, args: &AddArgs) -> CliResult<(Account, Origin)> {
    let settings = args.settings();
    let configured = config.accounts.iter().find(|a| a.name == args.name);
    Ok(match (configured, settings) {
        (Some(account), None) => (
            account.clone(),
            Origin::File(config.path.clone().unwrap_or_default()),
        ),
        (Some(_), Some(_)) => {
            let options: Vec<String> = args.given().into_iter().map(flag).collect();
            return Err(CliError::usage(format!(
                "account {:?} is configured in {}; change its settings there, not with {} \
                 (`inbound accounts add {}` alone stores its secrets)",
                args.name,
                config
                    .path
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                options.join(", "),
                args.name
            )));
        }
        (None, Some(table)) => (args.account(table)?, Origin::New),
        (None, None) => {
            let stored = match app.open_existing_store(config)? {
                Some(store) => store.load_account(&args.name)?,
                None => None,
            };
            match stored {
                Some(stored) => {
                    let account: Account =
                        serde_json::from_str(&stored.config_json).map_err(|e| {
                            CliError::usage(format!(
                                "stored account {:?} has an invalid configuration: {e}; \
                                 add it again with --replace and all its settings",
                                args.name
                            ))
                        })?;
                    (account, Origin::Stored(stored.config_json))
                }
                // Not configured, not stored: the checks name the missing settings.
                None => (args.account(AccountConfig::default())?, Origin::New),
            }
        }
    })
}

/// Says what was stored, and what to do next.
fn report(
    app: &App,
    config: &ConfigFile,
    args: &AddArgs,
    account: &Account,
    origin: &Origin,
    kinds: &[(SecretKind, String)],
    secrets: &BTreeMap<String, Secret>,
) {
    let consent = matches!(account.auth, AuthConfig::OAuth(OAuthSettings::Login(_)));
    if app.quiet {
        return;
    }
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.name()).collect();
    let store_path = app.store_name(config);
    let line = match origin {
        Origin::New if names.is_empty() => format!(
            "stored account {:?} in {} (its secret is read at run time)",
            args.name, store_path
        ),
        Origin::New => format!(
            "stored account {:?} in {} with its {} encrypted",
            args.name,
            store_path,
            names.join(" and ")
        ),
        Origin::File(path) => format!(
            "stored the {} of account {:?} (configured in {}) encrypted in {}",
            names.join(" and "),
            args.name,
            path.display(),
            store_path
        ),
        Origin::Stored(_) => format!(
            "updated the {} of stored account {:?} in {}",
            names.join(" and "),
            args.name,
            store_path
        ),
    };
    if consent && !secrets.contains_key("refresh_token") {
        eprintln!(
            "{line}; next, sign in: `inbound accounts login {}` (--device on a machine \
             without a browser, Microsoft only)",
            args.name
        );
    } else {
        eprintln!("{line}; try `inbound accounts test {}`", args.name);
    }
    if matches!(
        (&account.auth, source_of(account, SecretKind::ClientSecret)),
        (
            AuthConfig::OAuth(OAuthSettings::RefreshToken { .. }),
            Some(SecretSource::Stored(_))
        )
    ) && !secrets.contains_key(SecretKind::ClientSecret.name())
    {
        eprintln!(
            "note: no client secret is stored; if the OAuth client is confidential, \
             store it with `inbound accounts add {} --secret client_secret`",
            args.name
        );
    }
}

/// On a terminal, offers to sign in to a consent account now (`inbound accounts login`);
/// elsewhere (scripts, tests) only the command was printed.
fn offer_login(app: &App, name: &str) -> CliResult<u8> {
    if app.quiet || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Ok(EXIT_OK);
    }
    eprint!("Sign in now? [Y/n] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failed(format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "" | "y" | "Y" | "yes" | "Yes") {
        super::login::login(app, &super::login::LoginArgs::new(name))
    } else {
        Ok(EXIT_OK)
    }
}

/// Reads each secret: prompted for without echo on a terminal, else one line each from
/// standard input, in order.
pub(crate) fn read_secrets(name: &str, kinds: &[(SecretKind, String)]) -> CliResult<Vec<Secret>> {
    let terminal = std::io::stdin().is_terminal();
    let mut out = Vec::with_capacity(kinds.len());
    for (kind, _) in kinds {
        let value = if terminal {
            rpassword::prompt_password(format!("{} for {name}: ", kind.label()))
                .map_err(|e| CliError::failed(format!("reading the {}: {e}", kind.name())))?
        } else {
            let mut line = String::new();
            let n = std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::failed(format!(
                    "reading the {} from standard input: {e}",
                    kind.name()
                ))
            })?;
            if n == 0 {
                return Err(CliError::usage(format!(
                    "standard input ended before the {} (give one line per secret, in the \
                     order of --secret); nothing was stored",
                    kind.name()
                )));
            }
            line.trim_end_matches(['\r', '\n']).to_owned()
        };
        if value.is_empty() {
            return Err(CliError::usage(format!(
                "the {} is empty; nothing was stored",
                kind.name()
            )));
        }
        out.push(Secret::new(value));
    }
    Ok(out)
}

/// A credential error for people: a missing stored secret says how to store it (for an
/// account that signs in with consent, its refresh token: how to sign in).
pub(crate) fn credential_error(e: &CredentialError, of: &Account) -> String {
    match e {
        CredentialError::NotStored { account, secret } => {
            if let AuthConfig::OAuth(OAuthSettings::Login(l)) = &of.auth {
                if matches!(&l.refresh_token, SecretSource::Stored(slot) if slot == secret) {
                    return format!(
                        "account {account:?}: not signed in yet (no {secret} is stored for \
                         it): run `inbound accounts login {account}`"
                    );
                }
            }
            let option = if secret == SecretKind::Password.name() {
                String::new()
            } else {
                format!(" --secret {secret}")
            };
            format!(
                "account {account:?}: no {secret} is stored for it; store it with \
                 `inbound accounts add {account}{option}` (or configure an environment \
                 variable or command)"
            )
        }
        other => other.to_string(),
    }
}
