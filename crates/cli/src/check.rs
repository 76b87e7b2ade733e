//! `inbound check-config`.

use inbound_retrieve::{AuthConfig, OAuthSettings, SecretSource};

use crate::app::App;
use crate::config;
use crate::error::{CliError, CliResult, EXIT_OK};

/// Checks the configuration: every problem with file, line, column and field (exit 2), or a
/// short summary with warnings about things only run time would find (unset variables,
/// missing CA files).
pub(crate) fn command(app: &App) -> CliResult<u8> {
    let Some(path) = config::locate(app.config.as_deref())? else {
        let looked: Vec<String> = config::candidates()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(CliError::usage(format!(
            "no configuration file found (looked for {})",
            looked.join(", ")
        )));
    };
    let file = config::load(&path)?;
    let mut warnings = Vec::new();
    for a in &file.accounts {
        if let Some(ca) = &a.ca_file {
            if !ca.is_file() {
                warnings.push(format!(
                    "account {:?}: ca_file {} does not exist",
                    a.name,
                    ca.display()
                ));
            }
        }
        let mut env = |s: &SecretSource, field: &str| {
            if let SecretSource::Env(var) = s {
                if std::env::var_os(var).is_none() {
                    warnings.push(format!(
                        "account {:?}: {field} {var} is not set in this environment",
                        a.name
                    ));
                }
            }
        };
        match &a.auth {
            AuthConfig::Password(s) => env(s, "password_env"),
            AuthConfig::OAuth(OAuthSettings::Entra { client_secret, .. }) => {
                env(client_secret, "oauth.client_secret_env");
            }
            AuthConfig::OAuth(OAuthSettings::RefreshToken {
                refresh_token,
                client_secret,
                ..
            }) => {
                env(refresh_token, "oauth.refresh_token_env");
                env(client_secret, "oauth.client_secret_env");
            }
            AuthConfig::OAuth(OAuthSettings::Static { token }) => env(token, "oauth.token_env"),
            AuthConfig::OAuth(OAuthSettings::Login(l)) => {
                env(&l.refresh_token, "oauth.refresh_token_env");
                env(&l.client_secret, "oauth.client_secret_env");
            }
        }
        if let Some(field) = inline_secret(a) {
            if let Some(mode) = crate::trust::readable_by_others(&path) {
                warnings.push(format!(
                    "account {:?}: {field} is written in {file}, which other users can read \
                     (mode {mode:04o}); fix: `chmod 600 {file}`, or read it from an \
                     environment variable or command, or store it encrypted with \
                     `inbound accounts add`",
                    a.name,
                    file = crate::trust::shown(&path)
                ));
            }
        }
        if a.security == inbound_net::Security::Plaintext {
            warnings.push(format!(
                "account {:?}: security = \"plain\": the password and the mail cross the \
                 network unencrypted; use \"tls\" (or \"starttls\")",
                a.name
            ));
        }
        if a.danger_accept_invalid_certs {
            warnings.push(format!(
                "account {:?}: danger_accept_invalid_certs = true: any server can pose as {}",
                a.name, a.host
            ));
        }
    }
    for w in &warnings {
        let w = crate::output::escape_terminal(w);
        eprintln!("warning: {w}");
    }
    let names: Vec<&str> = file.accounts.iter().map(|a| a.name.as_str()).collect();
    println!(
        "{}: ok, {} account(s){}{}; store {}",
        path.display(),
        names.len(),
        if names.is_empty() { "" } else { ": " },
        names.join(", "),
        app.store_name(&file)
    );
    Ok(EXIT_OK)
}

/// The setting that holds a secret of `account` inline in the file, if one does.
fn inline_secret(account: &inbound_retrieve::Account) -> Option<&'static str> {
    let inline = |s: &SecretSource| matches!(s, SecretSource::Inline(_));
    match &account.auth {
        AuthConfig::Password(s) => inline(s).then_some("password"),
        AuthConfig::OAuth(OAuthSettings::Entra { client_secret, .. }) => {
            inline(client_secret).then_some("oauth.client_secret")
        }
        AuthConfig::OAuth(OAuthSettings::RefreshToken {
            refresh_token,
            client_secret,
            ..
        }) => {
            if inline(refresh_token) {
                Some("oauth.refresh_token")
            } else {
                inline(client_secret).then_some("oauth.client_secret")
            }
        }
        AuthConfig::OAuth(OAuthSettings::Static { token }) => {
            inline(token).then_some("oauth.token")
        }
        // Secrets of a consent account come from the store or the environment only.
        AuthConfig::OAuth(OAuthSettings::Login(_)) => None,
    }
}
