//! `inbound serve`: the account overview web app and its JSON API.

use std::io::{BufRead as _, Write as _};
use std::sync::{Arc, Mutex};

use inbound_store::Secret;
use inbound_web::{Access, WebApp};

use crate::app::{self, App};
use crate::cli::ServeArgs;
use crate::config::WebSection;
use crate::error::{CliError, CliResult, EXIT_OK};

/// Runs `inbound serve` until SIGINT or SIGTERM.
pub(crate) fn command(app: &App, args: &ServeArgs) -> CliResult<u8> {
    if args.hash_token {
        return hash_token();
    }
    let config = app.config()?;
    let access = access(&config.web)?;
    // A PostgreSQL store may be shared by a fleet of workers: the overview shows it.
    let (existing, leases) = match app.open_fleet_store(&config)? {
        Some((store, leases)) => (Some(store), Some(leases)),
        None => (app.open_existing_store(&config)?, None),
    };
    let accounts = app::all_accounts(&config, existing.as_deref())?;
    let store = match existing {
        Some(store) => store,
        None => app.open_store(&config, None)?,
    };
    let store = Arc::new(Mutex::new(store));
    let mut web = WebApp::new(store, accounts)
        .with_access(access)
        .with_secure_cookies(config.web.secure_cookies)
        .with_connector(crate::connector::net());
    if let Some(leases) = leases {
        web = web.with_fleet(Arc::new(leases));
    }
    web.check_listen(args.listen)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let quiet = app.quiet;
    let listen = args.listen;
    app::block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::failed(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::failed(format!("cannot listen on {listen}: {e}")))?;
        let shutdown = crate::watch::shutdown_signal();
        // The line scripts wait for: the server accepts connections from here on.
        println!("inbound: serving http://{addr}/ (Ctrl-C stops)");
        let _ = std::io::stdout().flush();
        web.serve(listener, shutdown)
            .await
            .map_err(|e| CliError::failed(e.to_string()))?;
        if !quiet {
            eprintln!("inbound: stopped");
        }
        Ok(EXIT_OK)
    })?
}

/// The `[web]` credentials: the password from the variable `password_env` names, and the
/// token digests.
fn access(web: &WebSection) -> CliResult<Access> {
    let password = match &web.password_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => Some(Secret::new(p)),
            _ => {
                return Err(CliError::usage(format!(
                    "[web] password_env names {var}, which is not set (or empty)"
                )));
            }
        },
    };
    let token_hashes = web
        .tokens
        .iter()
        .filter_map(|t| Access::parse_token_hash(t))
        .collect();
    Ok(Access {
        password,
        token_hashes,
    })
}

/// `--hash-token`: reads a token from standard input, prints its `[web] tokens` entry.
fn hash_token() -> CliResult<u8> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::failed(format!("reading the token: {e}")))?;
    let token = line.trim_end_matches(['\r', '\n']);
    if token.len() < 16 {
        return Err(CliError::usage(
            "the token must be at least 16 characters (e.g. `inbound key generate`'s output)",
        ));
    }
    println!("{}", Access::token_hash_text(token));
    Ok(EXIT_OK)
}
