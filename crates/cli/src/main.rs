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
mod fleet;
mod keys;
mod messages;
mod output;
mod serve;
mod status;
mod trust;
mod watch;
mod webhooks;

use std::process::ExitCode;

use clap::Parser as _;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::error::{CliResult, EXIT_USAGE};

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

/// Runs one command: each command module owns its setup.
fn run(app: &App, command: Command) -> CliResult<u8> {
    match command {
        Command::Demo(args) => demo::command(app, &args),
        Command::Fetch(args) => fetch::command(app, &args),
        Command::Watch(args) => watch::command(app, args),
        Command::Accounts(cmd) => accounts::command(app, cmd),
        Command::Messages(cmd) => messages::command(app, cmd),
        Command::CheckConfig => check::command(app),
        Command::Key(cmd) => keys::command(app, cmd),
        Command::Webhooks(cmd) => webhooks::command(app, cmd),
        Command::Serve(args) => serve::command(app, &args),
        Command::Status(args) => status::command(app, &args),
    }
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
