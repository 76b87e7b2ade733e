//! `inbound accounts add|list|remove|test`.

pub(crate) mod add;
pub(crate) mod login;

use clap::Subcommand;
use inbound_net::{Credentials, ImapClient, Pop3Client};
use inbound_retrieve::{
    Account, AfterReceive, AuthConfig, FetchPolicy, MailProtocol, NetConnector, OAuthSettings,
    SecretSource, resolve_credentials, resolve_credentials_saving_rotated,
};
use inbound_store::StoreBackend;
use serde_json::{Value, json};

use self::add::AddArgs;
use self::login::LoginArgs;
use crate::app::{self, App};
use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_OK};
use crate::output::{Align, Table, human_bytes, print_json};

/// `inbound accounts ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Save an account in the store with its secrets encrypted, or store the secrets of a
    /// configured account.
    ///
    /// Secrets (the password, or an OAuth client secret, refresh token or access token) are
    /// prompted for without echo, or read from standard input when it is not a terminal, one
    /// line each in the order of --secret. They are encrypted with the key in
    /// INBOUND_ENCRYPTION_KEY.
    ///
    /// For an account of the configuration file, give only its name (and --secret): the
    /// secrets it does not read from an environment variable or command are stored. For a
    /// stored account, the same updates its secrets. Otherwise the options describe a new
    /// stored account.
    #[command(after_help = ADD_EXAMPLES)]
    Add(AddArgs),
    /// List the configured and stored accounts.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account from the store (its configuration, secrets and sync state; stored
    /// messages are kept).
    Remove {
        /// The account.
        name: String,
    },
    /// Sign in to a mailbox with OAuth (accounts with provider google, microsoft or
    /// authorization_code) and store the refresh token encrypted.
    ///
    /// Prints the authorization URL and opens a browser when one is available; the provider
    /// redirects back to a listener on 127.0.0.1. With --device, prints a code to enter on
    /// another device instead (Microsoft; Google does not allow it for mail).
    #[command(after_help = LOGIN_EXAMPLES)]
    Login(LoginArgs),
    /// Connect, log in and report what the server offers.
    Test {
        /// The account.
        name: String,
    },
}

const ADD_EXAMPLES: &str = "\
Examples:
  inbound accounts add work --protocol imap --host imap.example.com --username me
  inbound accounts add m365                      # a configured entra account: its client_secret
  inbound accounts add gmail --secret client_secret --secret refresh_token
  printf '%s\\n' \"$PW\" | inbound accounts add home   # a configured account, from a script";

const LOGIN_EXAMPLES: &str = "\
Examples:
  inbound accounts login gmail                 # opens the browser, waits for the sign-in
  inbound accounts login work --no-browser     # only prints the URL to open
  inbound accounts login work --device         # a code to enter on another device";

/// Runs `inbound accounts add|list|remove|login|test`.
pub(crate) fn command(app: &App, cmd: AccountsCommand) -> CliResult<u8> {
    match cmd {
        AccountsCommand::Add(args) => add::add(app, &args),
        AccountsCommand::List { json } => list(app, json),
        AccountsCommand::Remove { name } => remove(app, &name),
        AccountsCommand::Login(args) => login::login(app, &args),
        AccountsCommand::Test { name } => test(app, name),
    }
}

/// `inbound accounts test NAME`: connects and logs in, on a runtime of its own.
fn test(app: &App, name: String) -> CliResult<u8> {
    let config = app.config()?;
    let store = app.open_existing_store(&config)?;
    let found = app::select(app::all_accounts(&config, store.as_deref())?, &[name])?;
    let Some(account) = found.first() else {
        return Err(app::no_accounts(&config));
    };
    let store = store.map(|s| std::sync::Arc::new(std::sync::Mutex::new(s)));
    app::block_on(run_test(&crate::connector::net(), account, store.as_ref()))?
}

/// Where an account's secret comes from, for people.
pub(crate) fn secret_source(account: &Account) -> String {
    let source = |s: &SecretSource| match s {
        SecretSource::Inline(_) => "in the configuration file".to_owned(),
        SecretSource::Env(var) => format!("${var}"),
        SecretSource::Command(_) => "command".to_owned(),
        SecretSource::Stored(name) => format!("stored {name}"),
    };
    match &account.auth {
        AuthConfig::Password(s) => format!("password: {}", source(s)),
        AuthConfig::OAuth(OAuthSettings::Entra { client_secret, .. }) => {
            format!("oauth entra: {}", source(client_secret))
        }
        AuthConfig::OAuth(OAuthSettings::RefreshToken { refresh_token, .. }) => {
            format!("oauth refresh token: {}", source(refresh_token))
        }
        AuthConfig::OAuth(OAuthSettings::Static { token }) => {
            format!("oauth token: {}", source(token))
        }
        AuthConfig::OAuth(OAuthSettings::Login(l)) => {
            format!(
                "oauth {}: {}",
                login::provider_name(l.provider),
                source(&l.refresh_token)
            )
        }
    }
}

fn policy(account: &Account) -> String {
    let fetch = match account.fetch {
        FetchPolicy::Latest(n) => format!("latest {n}"),
        FetchPolicy::Oldest(n) => format!("oldest {n}"),
        FetchPolicy::All => "all".to_owned(),
    };
    let after = match &account.after_receive {
        AfterReceive::Keep => "keep".to_owned(),
        AfterReceive::Delete => "delete".to_owned(),
        AfterReceive::MoveTo(f) => format!("move to {f}"),
    };
    format!("{fetch}, {after}")
}

fn security(account: &Account) -> &'static str {
    match account.security {
        inbound_net::Security::Tls => "tls",
        inbound_net::Security::StartTls => "starttls",
        inbound_net::Security::Plaintext => "plain",
    }
}

fn list(app: &App, json_out: bool) -> CliResult<u8> {
    let config = app.config()?;
    let store = app.open_existing_store(&config)?;
    let stored: Vec<String> = match &store {
        Some(s) => s.list_accounts()?,
        None => Vec::new(),
    };
    let accounts = app::all_accounts(&config, store.as_deref())?;
    let not_signed_in = not_signed_in(store.as_deref(), &accounts)?;
    // Accounts whose refresh token the endpoint refused (`invalid_grant`) on a run.
    let refused = match &store {
        Some(s) => s.accounts_needing_login()?,
        None => Vec::new(),
    };
    let refusal = |a: &Account| refused.iter().find(|r| r.account == a.name);
    let secret = |a: &Account| {
        let mut text = secret_source(a);
        if not_signed_in.contains(&a.name) {
            text.push_str(&format!(
                " (not signed in: run `inbound accounts login {}`)",
                a.name
            ));
        } else if refusal(a).is_some() {
            text.push_str(&format!(" (needs sign-in: run `{}`)", a.sign_in_command()));
        }
        text
    };
    let state = |a: &Account| {
        if not_signed_in.contains(&a.name) || refusal(a).is_some() {
            "needs_login"
        } else {
            "ok"
        }
    };
    let origin = |a: &Account| {
        let in_file = config.accounts.iter().any(|c| c.name == a.name);
        match (in_file, stored.contains(&a.name)) {
            (true, true) => "file+store",
            (true, false) => "file",
            _ => "store",
        }
    };
    if json_out {
        let list: Vec<Value> = accounts
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "protocol": a.protocol.to_string().to_lowercase(),
                    "host": a.host,
                    "port": a.port,
                    "security": security(a),
                    "username": a.username,
                    "folder": a.folder,
                    "policy": policy(a),
                    "subscribe": a.subscribe,
                    "secret": secret(a),
                    "source": origin(a),
                    "state": state(a),
                    "needs_login": refusal(a).map(|r| json!({
                        "since": crate::output::rfc3339(r.since_ms.div_euclid(1000)),
                        "reason": r.reason,
                        "command": a.sign_in_command(),
                    })),
                })
            })
            .collect();
        print_json(&list)?;
        return Ok(EXIT_OK);
    }
    print_table(&accounts, &secret, &|a| origin(a).to_owned())
}

/// Consent accounts (`accounts login`) with no refresh token stored yet.
fn not_signed_in(store: Option<&dyn StoreBackend>, accounts: &[Account]) -> CliResult<Vec<String>> {
    let mut not_signed_in = Vec::new();
    for a in accounts {
        if let AuthConfig::OAuth(OAuthSettings::Login(l)) = &a.auth {
            if let SecretSource::Stored(slot) = &l.refresh_token {
                let has = match store {
                    Some(s) => s
                        .load_account(&a.name)?
                        .is_some_and(|s| s.secrets.contains_key(slot)),
                    None => false,
                };
                if !has {
                    not_signed_in.push(a.name.clone());
                }
            }
        }
    }
    Ok(not_signed_in)
}

/// The accounts as a table on stdout (a note on stderr when there are none).
fn print_table(
    accounts: &[Account],
    secret: &dyn Fn(&Account) -> String,
    origin: &dyn Fn(&Account) -> String,
) -> CliResult<u8> {
    let mut t = Table::new(&[
        ("name", Align::Left),
        ("protocol", Align::Left),
        ("server", Align::Left),
        ("security", Align::Left),
        ("username", Align::Left),
        ("folder", Align::Left),
        ("policy", Align::Left),
        ("watch", Align::Left),
        ("secret", Align::Left),
        ("source", Align::Left),
    ]);
    for a in accounts {
        t.row(vec![
            a.name.clone(),
            a.protocol.to_string(),
            format!("{}:{}", a.host, a.port),
            security(a).to_owned(),
            a.username.clone(),
            a.folder.clone(),
            policy(a),
            if a.subscribe { "yes" } else { "no" }.to_owned(),
            secret(a),
            origin(a),
        ]);
    }
    if accounts.is_empty() {
        eprintln!(
            "no accounts: add [[account]] tables to the configuration or use `inbound accounts add`"
        );
        return Ok(EXIT_OK);
    }
    print!("{}", t.render());
    Ok(EXIT_OK)
}

fn remove(app: &App, name: &str) -> CliResult<u8> {
    let config = app.config()?;
    let in_file = config.accounts.iter().any(|a| a.name == name);
    let removed = match app.open_existing_store(&config)? {
        Some(mut store) => store.remove_account(name)?,
        None => false,
    };
    match (removed, in_file) {
        (true, false) => {
            if !app.quiet {
                eprintln!("removed account {name:?} (its stored messages are kept)");
            }
            Ok(EXIT_OK)
        }
        (true, true) => {
            if !app.quiet {
                eprintln!(
                    "removed the stored secrets of {name:?}; it is still configured in the configuration file"
                );
            }
            Ok(EXIT_OK)
        }
        (false, true) => Err(CliError::usage(format!(
            "account {name:?} is configured in the configuration file, not stored; remove it there"
        ))),
        (false, false) => Err(CliError::usage(format!("no account named {name:?}"))),
    }
}

/// Connects and logs in to `account` with the network clients, configured exactly as
/// retrieval configures them, and prints the security, the login mechanism used, the
/// server's capabilities and what the folder holds. Returns the exit code (1 on failure).
pub(crate) async fn run_test(
    connector: &NetConnector,
    account: &Account,
    store: Option<&inbound_retrieve::SharedStore>,
) -> CliResult<u8> {
    // Rotated refresh tokens are saved as retrieval saves them: the next run needs them.
    let credentials = match store {
        Some(store) => resolve_credentials_saving_rotated(account, store),
        None => resolve_credentials(account, None),
    }
    .map_err(|e| CliError::usage(add::credential_error(&e, account)))?;
    let hint = login::needs_login_hint(account);
    let mut lines: Vec<(&str, String)> = vec![
        ("account", account.name.clone()),
        (
            "server",
            format!("{} {}:{}", account.protocol, account.host, account.port),
        ),
        ("security", describe_security(account).to_owned()),
        (
            "login",
            format!("{} ({})", account.username, auth_kind(account)),
        ),
    ];
    let result = match account.protocol {
        MailProtocol::Imap => test_imap(connector, account, &credentials, &mut lines).await,
        MailProtocol::Pop3 => test_pop3(connector, account, &credentials, &mut lines).await,
    };
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(6) + 1;
    // Capabilities, folder names and errors come from the server: escaped for the terminal.
    for (k, v) in &lines {
        println!(
            "{:<width$} {}",
            format!("{k}:"),
            crate::output::escape_terminal(v)
        );
    }
    match result {
        Ok(()) => {
            println!("{:<width$} ok", "result:");
            Ok(EXIT_OK)
        }
        Err(e) => {
            let e = match &hint {
                Some(hint) if e.contains("invalid_grant") => format!("{e}; {hint}"),
                _ => e,
            };
            println!(
                "{:<width$} FAILED: {}",
                "result:",
                crate::output::escape_terminal(&e)
            );
            Ok(EXIT_FAILED)
        }
    }
}

async fn test_imap(
    connector: &NetConnector,
    account: &Account,
    credentials: &Credentials,
    lines: &mut Vec<(&'static str, String)>,
) -> Result<(), String> {
    let config = connector.imap_config(account);
    let mut client = ImapClient::connect(&config)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    lines.push(("tls", if client.is_tls() { "yes" } else { "no" }.to_owned()));
    let info = client
        .login(credentials, None)
        .await
        .map_err(|e| format!("login: {e}"))?;
    lines.push(("mechanism", info.method.to_string()));
    let caps: Vec<String> = client
        .capabilities()
        .iter()
        .map(|c| c.name().into_owned())
        .collect();
    lines.push(("capabilities", caps.join(" ")));
    let status = client
        .examine(&account.folder)
        .await
        .map_err(|e| format!("EXAMINE {}: {e}", account.folder));
    if let Ok(status) = &status {
        lines.push((
            "folder",
            format!(
                "{}: {} message(s), UIDVALIDITY {}",
                account.folder,
                status.exists,
                status
                    .uidvalidity
                    .map_or_else(|| "none".to_owned(), |v| v.to_string())
            ),
        ));
    }
    let _ = client.logout().await;
    status.map(|_| ())
}

async fn test_pop3(
    connector: &NetConnector,
    account: &Account,
    credentials: &Credentials,
    lines: &mut Vec<(&'static str, String)>,
) -> Result<(), String> {
    let config = connector.pop3_config(account);
    let mut client = Pop3Client::connect(&config)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    lines.push(("tls", if client.is_tls() { "yes" } else { "no" }.to_owned()));
    let info = client
        .login(credentials, None)
        .await
        .map_err(|e| format!("login: {e}"))?;
    lines.push(("mechanism", info.method.to_string()));
    let caps = client.capabilities();
    let mut names = Vec::new();
    if !caps.is_known() {
        names.push("(server has no CAPA)".to_owned());
    }
    for (name, on) in [
        ("UIDL", caps.uidl()),
        ("TOP", caps.top()),
        ("USER", caps.user()),
        ("PIPELINING", caps.pipelining()),
        ("RESP-CODES", caps.resp_codes()),
        ("STLS", caps.stls()),
    ] {
        if on {
            names.push(name.to_owned());
        }
    }
    let sasl: Vec<&str> = caps.sasl_mechanisms().collect();
    if !sasl.is_empty() {
        names.push(format!("SASL {}", sasl.join(" ")));
    }
    if let Some(implementation) = caps.implementation() {
        names.push(format!("IMPLEMENTATION {implementation}"));
    }
    lines.push(("capabilities", names.join(", ")));
    let stat = client.stat().await.map_err(|e| format!("STAT: {e}"));
    if let Ok(stat) = &stat {
        lines.push((
            "maildrop",
            format!("{} message(s), {}", stat.count, human_bytes(stat.size)),
        ));
    }
    let _ = client.quit().await;
    stat.map(|_| ())
}

fn describe_security(account: &Account) -> &'static str {
    match account.security {
        inbound_net::Security::Tls => "implicit TLS",
        inbound_net::Security::StartTls => "STARTTLS (required)",
        inbound_net::Security::Plaintext => {
            "none (plain text: passwords are visible on the network)"
        }
    }
}

fn auth_kind(account: &Account) -> &'static str {
    match &account.auth {
        AuthConfig::Password(_) => "password",
        AuthConfig::OAuth(_) => "OAuth 2.0 bearer token",
    }
}
