//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::accounts::AccountsCommand;
use crate::keys::KeyCommand;
use crate::messages::MessagesCommand;
use crate::webhooks::WebhooksCommand;

const AFTER_HELP: &str = "\
Configuration: --config FILE, else ./inbound.toml, else $XDG_CONFIG_HOME/inbound/inbound.toml
(~/.config/inbound/inbound.toml). See inbound.example.toml.

Stored secrets are encrypted with the key in INBOUND_ENCRYPTION_KEY (`inbound key generate`).

Exit codes:
  0  success
  1  an account (or the operation) failed; the others were still done
  2  usage or configuration error; nothing was done";

const GLOBAL: &str = "Global options";

/// Receive email: retrieve POP3 and IMAP mail into SQLite, watch for new mail.
#[derive(Debug, Parser)]
#[command(name = "inbound", version, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "INBOUND_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub(crate) config: Option<PathBuf>,
    /// The store file (overrides [store] path).
    #[arg(long, global = true, env = "INBOUND_STORE", value_name = "FILE", help_heading = GLOBAL)]
    pub(crate) store: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub(crate) verbose: u8,
    /// Only errors and the requested output.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub(crate) quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the bundled test server and show retrieval and subscriptions end to end
    /// (no network, no setup).
    Demo(DemoArgs),
    /// Retrieve mail for every account (or those given) per its policy.
    Fetch(FetchArgs),
    /// Watch the accounts marked `subscribe = true` and report each new message.
    Watch(WatchArgs),
    /// Add, list, remove and test accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// List, show and export stored messages.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Check the configuration file and report every problem.
    CheckConfig,
    /// Generate or rotate the encryption key of stored secrets.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Deliveries of new mail to webhooks and the --exec hook: list, retry, test.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Serve the account overview web app and its JSON API.
    Serve(ServeArgs),
    /// Show the fleet of `inbound watch` workers on a PostgreSQL store: per account its
    /// owner, state, lease expiry, last event and error; per worker its host, start,
    /// heartbeat and accounts held.
    Status(StatusArgs),
}

/// `inbound status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print the fleet as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `inbound serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on. Anything but a loopback address needs [web] credentials.
    #[arg(long, value_name = "ADDR", default_value = inbound_web::DEFAULT_LISTEN)]
    pub(crate) listen: std::net::SocketAddr,
    /// Print the [web] tokens entry for the token read from standard input, and exit.
    #[arg(long)]
    pub(crate) hash_token: bool,
}

/// `inbound demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to store the demo's mail (replaced on every run).
    #[arg(long, value_name = "FILE", default_value = "inbound-demo.sqlite")]
    pub(crate) demo_store: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Then keep the test server and its live delivery running and serve the account
    /// overview (see `inbound serve`) until interrupted.
    #[arg(long)]
    pub(crate) serve: bool,
    /// The address `--serve` listens on.
    #[arg(long, value_name = "ADDR", default_value = inbound_web::DEFAULT_LISTEN, requires = "serve")]
    pub(crate) listen: std::net::SocketAddr,
}

/// `inbound fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Only this account (repeatable).
    #[arg(long = "account", short = 'a', value_name = "NAME")]
    pub(crate) accounts: Vec<String>,
    /// Print per account {account, fetched, skipped, moved, deleted, errors} as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many accounts to retrieve at once. Each holds one message at a time, so memory
    /// is about this many times the largest message (see max_message_size).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) concurrency: u16,
}

/// `inbound watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Only this account (repeatable; it must have subscribe = true).
    #[arg(long = "account", short = 'a', value_name = "NAME")]
    pub(crate) accounts: Vec<String>,
    /// Run this shell command for each new message (retried when it fails; see
    /// --exec-retry-delay): the raw message on standard input;
    /// INBOUND_ACCOUNT, INBOUND_FOLDER, INBOUND_ID, INBOUND_MESSAGE_ID, INBOUND_SUBJECT and
    /// INBOUND_FROM in the environment (control characters removed). It does not get
    /// INBOUND_ENCRYPTION_KEY nor the variables the accounts read secrets from.
    #[arg(long, value_name = "CMD")]
    pub(crate) exec: Option<String>,
    /// Kill the --exec command (and what it started) after this many seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = crate::watch::DEFAULT_EXEC_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub(crate) exec_timeout: u64,
    /// Retry a failed or timed-out --exec command after this long (500ms, 30s, 5m),
    /// doubling up to an hour. Deliveries survive restarts: a message stored but not yet
    /// handed to the command is handed over by the next `watch --exec`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::webhooks::duration_arg)]
    pub(crate) exec_retry_delay: std::time::Duration,
    /// Give up retrying the --exec command for a message this long after its first try
    /// (`inbound webhooks list --failed` shows it, `inbound webhooks retry` requeues it).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::webhooks::duration_arg)]
    pub(crate) exec_max_age: std::time::Duration,
    /// Give up after this many tries of the --exec command for a message.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) exec_max_attempts: Option<u32>,
    /// One JSON object per line on standard output: per new message {account, folder, id,
    /// message_id, subject, from, size}, and per subscription state change {state, account,
    /// message, ...}: state is subscribed, lost (with error), reconnecting (with attempt and
    /// retry_in_ms), reconnected, resumed (with caught_up), retry_exhausted, failed or
    /// unsubscribed.
    #[arg(long)]
    pub(crate) json: bool,
}
