//! `inbound`: receive email from the command line.
//!
//! Retrieves POP3 and IMAP mail into a SQLite store per each account's policy, watches
//! accounts for new mail, manages accounts with encrypted secrets, and shows and exports
//! stored messages. `inbound demo` runs all of it against the bundled test server.
//!
//! Exit codes: 0 success, 1 an account or the operation failed, 2 usage or configuration
//! error (nothing was done).

mod accounts;
mod app;
mod check;
mod cli;
mod config;
mod connector;
mod demo;
mod error;
mod fetch;
mod keys;
mod messages;
mod output;
mod trust;
mod watch;

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser as _;
use inbound_retrieve::Retriever;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::error::{CliError, CliResult, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.verbose, cli.quiet);
    let app = App {
        config: cli.config,
        store: cli.store,
        quiet: cli.quiet,
    };
    match run(&app, cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            for line in error_lines(e.message()) {
                eprintln!("{line}");
            }
            e.exit_code()
        }
    }
}

/// The lines printed for an error message: each starts with `error:` (or its own
/// `warning:`), and control and bidi characters (from a server or a message) are escaped.
fn error_lines(message: &str) -> Vec<String> {
    message
        .lines()
        .map(|line| {
            let line = output::escape_terminal(line);
            if line.starts_with("error:") || line.starts_with("warning:") {
                line.into_owned()
            } else {
                format!("error: {line}")
            }
        })
        .collect()
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) | (false, 0) => "error",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INBOUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .try_init();
}

/// Runs `future` on a small multi-threaded runtime (subscriptions and the demo server run
/// tasks).
fn block_on<F: Future>(future: F) -> CliResult<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

fn run(app: &App, command: Command) -> CliResult<u8> {
    match command {
        Command::Demo(args) => {
            let options = demo::DemoOptions {
                json: args.json,
                quiet: app.quiet,
            };
            block_on(demo::run_demo(connector::net(), &args.demo_store, &options))?
        }
        Command::Fetch(args) => {
            let config = app.config()?;
            let existing = app.open_existing_store(&config)?;
            let accounts = app::select(
                app::all_accounts(&config, existing.as_ref())?,
                &args.accounts,
            )?;
            if accounts.is_empty() {
                return Err(app::no_accounts(&config));
            }
            // Created only now: a usage error leaves no store file behind.
            let store = match existing {
                Some(store) => store,
                None => app.open_store(&config, None)?,
            };
            let display = fetch::Display::choose(app.quiet, args.json);
            let retriever = Retriever::new(Arc::new(Mutex::new(store)), connector::net());
            let outcomes = block_on(fetch::run_fetch(
                &retriever,
                &accounts,
                usize::from(args.concurrency),
                display,
            ))?;
            fetch::report(&outcomes, args.json)
        }
        Command::Watch(args) => {
            let config = app.config()?;
            let existing = app.open_existing_store(&config)?;
            let all = app::all_accounts(&config, existing.as_ref())?;
            let hidden_env = watch::secret_env_vars(&all);
            let accounts = watch_accounts(all, &args.accounts)?;
            let store = match existing {
                Some(store) => store,
                None => app.open_store(&config, None)?,
            };
            let options = watch::WatchOptions {
                exec: args.exec,
                json: args.json,
                quiet: app.quiet,
                exec_timeout: std::time::Duration::from_secs(args.exec_timeout),
                hidden_env,
            };
            let retriever = Retriever::new(Arc::new(Mutex::new(store)), connector::net());
            block_on(async {
                let shutdown = watch::shutdown_signal();
                watch::run_watch(retriever, accounts, &options, shutdown).await
            })?
        }
        Command::Accounts(accounts::AccountsCommand::Test { name }) => {
            let config = app.config()?;
            let store = app.open_existing_store(&config)?;
            let found = app::select(app::all_accounts(&config, store.as_ref())?, &[name])?;
            let Some(account) = found.first() else {
                return Err(app::no_accounts(&config));
            };
            block_on(accounts::run_test(
                &connector::net(),
                account,
                store.as_ref(),
            ))?
        }
        Command::Accounts(cmd) => accounts::command(app, cmd),
        Command::Messages(cmd) => messages::command(app, cmd),
        Command::CheckConfig => check::command(app),
        Command::Key(cmd) => keys::command(app, cmd),
    }
}

/// The accounts `watch` subscribes: those given (each must have `subscribe = true`), else
/// every account with `subscribe = true`.
fn watch_accounts(
    all: Vec<inbound_retrieve::Account>,
    wanted: &[String],
) -> CliResult<Vec<inbound_retrieve::Account>> {
    let chosen = app::select(all, wanted)?;
    if let Some(a) = chosen.iter().find(|a| !a.subscribe && !wanted.is_empty()) {
        return Err(CliError::usage(format!(
            "account {:?} does not have subscribe = true",
            a.name
        )));
    }
    let chosen: Vec<_> = chosen.into_iter().filter(|a| a.subscribe).collect();
    if chosen.is_empty() {
        return Err(CliError::usage(
            "no account has subscribe = true; set it on the accounts to watch",
        ));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_from_servers_cannot_drive_the_terminal() {
        let lines = error_lines("login: NO \x1b]0;owned\x07 bad\u{202E}txt.exe\rX\nwarning: w");
        assert_eq!(
            lines,
            [
                "error: login: NO \\u{1b}]0;owned\\u{7} bad\\u{202e}txt.exe\\u{d}X",
                "warning: w"
            ]
        );
    }
}
