//! `inbound accounts login NAME [--device] [--no-browser]`: a person signs in to their own
//! mailbox (OAuth authorization code with PKCE and a loopback redirect, or a device code) and
//! the refresh token is stored encrypted, like the other secrets.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Args;
use inbound_net::TlsConfig;
use inbound_net::oauth::{
    AuthorizationCodeLogin, DEFAULT_LOGIN_TIMEOUT, DeviceLogin, LoginConfig, LoginTokens,
};
use inbound_retrieve::{
    Account, AuthConfig, LoginSettings, OAuthProviderName, OAuthSettings, SecretSource,
};
use inbound_store::{Secret, StoredAccount};

use super::add::{SecretKind, read_secrets};
use crate::app::{self, App};
use crate::error::{CliError, CliResult, EXIT_OK};

/// `accounts login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The account (provider google, microsoft or authorization_code).
    name: String,
    /// Sign in with a code entered on another device (RFC 8628) instead of a browser here.
    /// Microsoft supports it for mail; Google does not.
    #[arg(long)]
    device: bool,
    /// Only print the URL to open; do not start a browser.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the sign-in, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LOGIN_TIMEOUT.as_secs())]
    timeout: u64,
    /// Also read the OAuth client secret (prompted for, or one line of standard input) and
    /// store it encrypted with the refresh token.
    #[arg(long)]
    client_secret: bool,
}

impl LoginArgs {
    /// The browser flow for `name`, with the defaults (what `accounts add` offers).
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            device: false,
            no_browser: false,
            timeout: DEFAULT_LOGIN_TIMEOUT.as_secs(),
            client_secret: false,
        }
    }
}

/// The provider's name as written in the configuration.
pub(crate) fn provider_name(provider: OAuthProviderName) -> &'static str {
    match provider {
        OAuthProviderName::Google => "google",
        OAuthProviderName::Microsoft => "microsoft",
        OAuthProviderName::AuthorizationCode => "authorization_code",
        OAuthProviderName::Entra => "entra",
        OAuthProviderName::RefreshToken => "refresh_token",
        OAuthProviderName::Static => "static",
    }
}

/// For an account that signs in with `inbound accounts login`: what to do when its refresh
/// token is refused (`invalid_grant`: expired, revoked, or consent withdrawn).
pub(crate) fn needs_login_hint(account: &Account) -> Option<String> {
    matches!(account.auth, AuthConfig::OAuth(OAuthSettings::Login(_))).then(|| {
        format!(
            "the account needs a new sign-in: run `inbound accounts login {}`",
            account.name
        )
    })
}

/// Runs `inbound accounts login`.
pub(crate) fn login(app: &App, args: &LoginArgs) -> CliResult<u8> {
    let config = app.config()?;
    let mut store = app.open_store(&config, Some("store the refresh token encrypted"))?;
    let accounts = app::all_accounts(&config, Some(&*store))?;
    let found = app::select(accounts, std::slice::from_ref(&args.name))?;
    let Some(account) = found.into_iter().next() else {
        return Err(app::no_accounts(&config));
    };
    let AuthConfig::OAuth(OAuthSettings::Login(settings)) = &account.auth else {
        return Err(CliError::usage(format!(
            "account {:?} does not sign in with OAuth consent ({}); `inbound accounts login` \
             is for [account.oauth] provider = \"google\", \"microsoft\" or \
             \"authorization_code\"",
            account.name,
            super::secret_source(&account)
        )));
    };
    let refresh_slot = match &settings.refresh_token {
        SecretSource::Stored(name) => name.clone(),
        _ => {
            return Err(CliError::usage(format!(
                "account {:?} reads its refresh token from {}; remove \
                 oauth.refresh_token_env to let `inbound accounts login` store it",
                account.name,
                super::secret_source(&account)
            )));
        }
    };

    let stored = store.load_account(&account.name)?;
    let (given_secret, client_secret) = client_secret(&account, settings, args, stored.as_ref())?;

    let login = login_config(&account, settings, args, client_secret);
    let tokens = app::block_on(run(login, args))??;

    // Store the refresh token (and the client secret given) with the account's other
    // secrets; a stored account keeps its sealed settings.
    // (An account of the configuration file is saved as configured now, as `accounts add`
    // saves it.)
    let in_file = config.accounts.iter().any(|a| a.name == account.name);
    let config_json = match &stored {
        Some(s) if !in_file => s.config_json.clone(),
        _ => serde_json::to_string(&account)
            .map_err(|e| CliError::failed(format!("account {:?}: {e}", account.name)))?,
    };
    let mut secrets = stored.map(|s| s.secrets).unwrap_or_default();
    secrets.insert(refresh_slot, tokens.refresh_token);
    if let Some((slot, value)) = given_secret {
        secrets.insert(slot, value);
    }
    let pairs: Vec<(&str, Secret)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    store.save_account(&account.name, &config_json, &pairs)?;
    if store.clear_needs_login(&account.name)? {
        tracing::info!(account = %account.name, "signed in again: the refused refresh token is replaced");
    }
    if !app.quiet {
        eprintln!(
            "signed in: stored the refresh token of account {:?} encrypted in {}; try \
             `inbound accounts test {}`",
            account.name,
            app.store_name(&config),
            account.name
        );
    }
    Ok(EXIT_OK)
}

/// A client secret given with `--client-secret`: the store slot to save it in, and the value.
type GivenSecret = (String, Secret);

/// The client secret for the flow: given now with `--client-secret` (returned as the store
/// slot and value to save), else the account's own (environment or store), if any.
fn client_secret(
    account: &Account,
    settings: &LoginSettings,
    args: &LoginArgs,
    stored: Option<&StoredAccount>,
) -> CliResult<(Option<GivenSecret>, Option<Secret>)> {
    let given_secret = if args.client_secret {
        let slot = match &settings.client_secret {
            SecretSource::Stored(name) => name.clone(),
            _ => {
                return Err(CliError::usage(format!(
                    "account {:?} reads its client secret from the environment \
                     (oauth.client_secret_env); --client-secret stores it, so remove that \
                     setting or leave out --client-secret",
                    account.name
                )));
            }
        };
        let value = read_secrets(
            &account.name,
            &[(
                SecretKind::ClientSecret,
                SecretKind::ClientSecret.name().to_owned(),
            )],
        )?;
        value.into_iter().next().map(|v| (slot, v))
    } else {
        None
    };
    let client_secret = match (&given_secret, &settings.client_secret) {
        (Some((_, v)), _) => Some(v.clone()),
        (None, SecretSource::Stored(name)) => stored.and_then(|s| s.secrets.get(name).cloned()),
        (None, source) => {
            let mut none = |_: &str| Ok(None);
            Some(
                inbound_retrieve::credentials::resolve_secret(&account.name, source, &mut none)
                    .map_err(|e| CliError::usage(super::add::credential_error(&e, account)))?,
            )
        }
    };
    Ok((given_secret, client_secret))
}

/// The flow's settings: the account's endpoints, its address as the login hint, the token
/// endpoint trusting the account's `ca_file` as retrieval does.
fn login_config(
    account: &Account,
    settings: &LoginSettings,
    args: &LoginArgs,
    client_secret: Option<Secret>,
) -> LoginConfig {
    let mut tls = TlsConfig::new();
    if let Some(ca) = &account.ca_file {
        tls = tls.with_ca_file(ca);
    }
    let mut login = settings.login_config(
        account.protocol,
        &account.username,
        Duration::from_secs(args.timeout),
        tls,
    );
    login.client_secret = client_secret;
    login
}

/// Runs the flow, telling the person what to do on standard output.
async fn run(login: LoginConfig, args: &LoginArgs) -> CliResult<LoginTokens> {
    let failed = |e: inbound_net::oauth::LoginError| {
        CliError::failed(format!("account {:?}: sign-in failed: {e}", args.name))
    };
    let minutes = args.timeout.div_ceil(60);
    if args.device {
        let device = DeviceLogin::start(login).await.map_err(failed)?;
        say(&format!(
            "To sign in to {name}, open\n\n  {uri}\n\nand enter the code {code}\n\n\
             Waiting for the sign-in (up to {minutes} min; Ctrl-C to stop)...",
            name = args.name,
            // Both come from the provider: escaped for the terminal.
            uri = crate::output::escape_terminal(device.verification_uri()),
            code = crate::output::escape_terminal(device.user_code()),
        ));
        return device.finish().await.map_err(failed);
    }
    let pending = AuthorizationCodeLogin::start(login).await.map_err(failed)?;
    say(&format!(
        "To sign in to {name}, open this URL in a browser:\n\n  {url}\n\n\
         Waiting for the sign-in (up to {minutes} min; Ctrl-C to stop)...",
        name = args.name,
        url = pending.url(),
    ));
    if !args.no_browser {
        open_browser(pending.url());
    }
    pending.finish().await.map_err(failed)
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Starts the desktop's browser on `url` when there is one (macOS, Windows, a Unix desktop
/// session or `$BROWSER`); otherwise the printed URL is all there is.
fn open_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    } else if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        let mut c = Command::new(browser);
        c.arg(url);
        c
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    } else {
        return;
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reaped in the background; the sign-in does not wait for the browser.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(e) => tracing::debug!(error = %e, "no browser could be started"),
    }
}
