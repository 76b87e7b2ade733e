//! `inbound watch`: subscribe to accounts, print (and hand to a command) each new message.

use std::collections::HashSet;
use std::future::Future;
use std::process::Stdio;

use bytes::Bytes;
use inbound_retrieve::{Account, Connector, NewMail, Retriever, SubscriptionState, Subscriptions};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::error::{CliResult, EXIT_FAILED, EXIT_OK};
use crate::output::{address, clip};

/// A message a subscription stored.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    /// Account name.
    pub(crate) account: String,
    /// Folder.
    pub(crate) folder: String,
    /// The store's id.
    pub(crate) id: i64,
    /// Message-ID.
    pub(crate) message_id: Option<String>,
    /// Subject.
    pub(crate) subject: Option<String>,
    /// The first From address.
    pub(crate) from: Option<String>,
    /// The raw message.
    pub(crate) raw: Bytes,
}

impl Arrival {
    /// Copies what the CLI needs out of a [`NewMail`].
    pub(crate) fn from_new_mail(m: &NewMail<'_>) -> Self {
        Self {
            account: m.account.to_owned(),
            folder: m.folder.to_owned(),
            id: m.id.0,
            message_id: m.email.message_id.clone(),
            subject: m.email.subject.clone(),
            from: m.email.from.first().map(address),
            raw: m.email.raw.clone(),
        }
    }

    /// One line for people.
    pub(crate) fn line(&self) -> String {
        format!(
            "{}/{} #{}  {}  {}",
            self.account,
            self.folder,
            self.id,
            clip(self.from.as_deref().unwrap_or("(no sender)"), 40),
            clip(self.subject.as_deref().unwrap_or("(no subject)"), 70),
        )
    }
}

/// What subscriptions report to the watch loop.
#[derive(Debug)]
pub(crate) enum WatchEvent {
    /// A new message, already stored.
    Mail(Arrival),
    /// A subscription changed state.
    State(String, SubscriptionState),
}

/// Subscriptions whose events arrive on a channel.
pub(crate) fn subscriptions<C: Connector>(
    retriever: Retriever<C>,
) -> (
    Subscriptions<C>,
    mpsc::UnboundedSender<WatchEvent>,
    mpsc::UnboundedReceiver<WatchEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state_tx = tx.clone();
    let subs = Subscriptions::new(retriever).on_state(move |name, state| {
        let _ = state_tx.send(WatchEvent::State(name.to_owned(), state.clone()));
    });
    (subs, tx, rx)
}

/// Subscribes `account`, its messages going to `tx`.
///
/// # Errors
/// The subscription's error as text (credentials, POP3 without polling).
pub(crate) fn subscribe<C: Connector>(
    subs: &Subscriptions<C>,
    account: Account,
    tx: &mpsc::UnboundedSender<WatchEvent>,
) -> Result<(), String> {
    let tx = tx.clone();
    subs.subscribe(account, move |m| {
        let _ = tx.send(WatchEvent::Mail(Arrival::from_new_mail(m)));
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Options of `inbound watch`.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchOptions {
    /// Run this shell command per message.
    pub(crate) exec: Option<String>,
    /// JSON lines instead of text.
    pub(crate) json: bool,
    /// No status lines.
    pub(crate) quiet: bool,
}

/// Subscribes every account and handles new mail until `shutdown` completes (then
/// unsubscribes cleanly) or every subscription has failed. Returns the exit code.
pub(crate) async fn run_watch<C: Connector>(
    retriever: Retriever<C>,
    accounts: Vec<Account>,
    options: &WatchOptions,
    shutdown: impl Future<Output = ()>,
) -> CliResult<u8> {
    let (subs, tx, mut rx) = subscriptions(retriever);
    let mut live: HashSet<String> = HashSet::new();
    let mut failed = false;
    for account in accounts {
        let name = account.name.clone();
        match subscribe(&subs, account, &tx) {
            Ok(()) => {
                live.insert(name);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    drop(tx);
    if live.is_empty() {
        return Ok(EXIT_FAILED);
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => {
                if !options.quiet {
                    eprintln!("stopping: closing subscriptions");
                }
                break;
            }
            event = rx.recv() => {
                let Some(event) = event else { break };
                if let WatchEvent::State(name, state) = &event {
                    if matches!(state, SubscriptionState::Failed { .. }) {
                        live.remove(name);
                        failed = true;
                    }
                }
                handle(event, options).await;
                if live.is_empty() {
                    eprintln!("error: every subscription has failed");
                    break;
                }
            }
        }
    }
    subs.unsubscribe_all().await;
    // Messages stored while shutting down are still handed over.
    while let Ok(event) = rx.try_recv() {
        handle(event, options).await;
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

async fn handle(event: WatchEvent, options: &WatchOptions) {
    match event {
        WatchEvent::State(name, state) => {
            let is_error = matches!(
                state,
                SubscriptionState::Failed { .. } | SubscriptionState::RetryExhausted { .. }
            );
            if options.json && (is_error || !options.quiet) {
                println!("{}", state_json(&name, &state));
            }
            if is_error {
                eprintln!("error: {name}: {state}");
            } else if !options.quiet && state != SubscriptionState::Reconnected {
                // `Reconnected` is followed at once by `Resumed`, which says it all.
                eprintln!("{name}: {state}");
            }
        }
        WatchEvent::Mail(m) => {
            if options.json {
                println!(
                    "{}",
                    json!({
                        "id": m.id,
                        "account": m.account,
                        "folder": m.folder,
                        "message_id": m.message_id,
                        "subject": m.subject,
                        "from": m.from,
                        "size": m.raw.len(),
                    })
                );
            } else {
                println!("{}", m.line());
            }
            if let Some(cmd) = &options.exec {
                if let Err(e) = exec(cmd, &m).await {
                    eprintln!("error: --exec for message #{}: {e}", m.id);
                }
            }
        }
    }
}

/// The `--json` line of a state change: `state` (see [`SubscriptionState::name`]),
/// `account`, `message` (the text line), and per state `error`, `attempt` with
/// `retry_in_ms`, or `caught_up`.
pub(crate) fn state_json(account: &str, state: &SubscriptionState) -> serde_json::Value {
    let mut line = json!({
        "state": state.name(),
        "account": account,
        "message": state.to_string(),
    });
    match state {
        SubscriptionState::ConnectionLost { error }
        | SubscriptionState::RetryExhausted { error }
        | SubscriptionState::Failed { error } => line["error"] = json!(error),
        SubscriptionState::Reconnecting { attempt, delay } => {
            line["attempt"] = json!(attempt);
            line["retry_in_ms"] = json!(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        }
        SubscriptionState::Resumed { caught_up } => line["caught_up"] = json!(caught_up),
        _ => {}
    }
    line
}

/// Runs `cmd` through the shell with the raw message on standard input and its metadata in
/// `INBOUND_*` variables; waits for it.
///
/// # Errors
/// When the command cannot be started or exits unsuccessfully.
pub(crate) async fn exec(cmd: &str, m: &Arrival) -> Result<(), String> {
    let mut command = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c");
        c
    };
    let env_safe = |s: &str| s.replace('\0', "");
    command
        .arg(cmd)
        .env("INBOUND_ACCOUNT", env_safe(&m.account))
        .env("INBOUND_FOLDER", env_safe(&m.folder))
        .env("INBOUND_ID", m.id.to_string())
        .env(
            "INBOUND_MESSAGE_ID",
            env_safe(m.message_id.as_deref().unwrap_or("")),
        )
        .env(
            "INBOUND_SUBJECT",
            env_safe(m.subject.as_deref().unwrap_or("")),
        )
        .env("INBOUND_FROM", env_safe(m.from.as_deref().unwrap_or("")))
        .stdin(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input closes the pipe early: not an error.
        match stdin.write_all(&m.raw).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(format!("writing the message to {cmd:?}: {e}")),
        }
        drop(stdin);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} exited with {status}"))
    }
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, so a signal that comes before the future is first polled is not lost.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
