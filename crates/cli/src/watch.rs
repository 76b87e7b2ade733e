//! `inbound watch`: subscribe to accounts, print (and hand to a command) each new message.

use std::collections::HashSet;
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use inbound_retrieve::delivery::{Attempt, Deliverer, DeliveryItem, RetryPolicy, Sink, Waker};
use inbound_retrieve::{
    Account, AuthConfig, Connector, NewMail, OAuthSettings, Retriever, SecretSource,
    SubscriptionState, Subscriptions,
};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::app::{self, App};
use crate::cli::WatchArgs;
use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_OK};
use crate::output::{address, clip};

/// `inbound watch`: subscribes the chosen accounts until interrupted.
pub(crate) fn command(app: &App, args: WatchArgs) -> CliResult<u8> {
    let config = app.config()?;
    // On a PostgreSQL store the worker joins the fleet sharing its accounts.
    let (existing, leases) = match app.open_fleet_store(&config)? {
        Some((store, leases)) => (Some(store), Some(leases)),
        None => (app.open_existing_store(&config)?, None),
    };
    let all = app::all_accounts(&config, existing.as_deref())?;
    let mut hidden_env = secret_env_vars(&all);
    for var in crate::webhooks::secret_env_vars(&config) {
        if !hidden_env.contains(&var) {
            hidden_env.push(var);
        }
    }
    let accounts = watch_accounts(all, &args.accounts)?;
    let mut sinks = crate::webhooks::webhook_sinks(&config)?;
    let store = match existing {
        Some(store) => store,
        None => app.open_store(&config, None)?,
    };
    let options = WatchOptions {
        exec: args.exec,
        json: args.json,
        quiet: app.quiet,
        exec_timeout: Duration::from_secs(args.exec_timeout),
        hidden_env,
    };
    if let Some(cmd) = &options.exec {
        sinks.push(Arc::new(ExecSink {
            cmd: cmd.clone(),
            options: options.clone(),
            retry: crate::webhooks::exec_retry(
                args.exec_retry_delay,
                args.exec_max_age,
                args.exec_max_attempts,
            ),
        }));
    }
    let store = Arc::new(std::sync::Mutex::new(store));
    // Targets are recorded before anything is stored: every message stored from now on is
    // delivered to each of them, even across a crash.
    let deliverer = crate::webhooks::deliverer(&store, sinks)?;
    app::block_on(async {
        let shutdown = shutdown_signal();
        match leases {
            Some(leases) => {
                // Every connection of a fleet worker, reconnects too, is paced.
                let connector = inbound_retrieve::backend::paced::Paced::new(
                    crate::connector::net(),
                    config.fleet.connects_per_sec,
                );
                let retriever = Retriever::new(store, connector);
                let fleet = crate::fleet::FleetRun {
                    fences: leases.fences().clone(),
                    leases: Arc::new(leases),
                    config: config.fleet,
                };
                crate::fleet::run_fleet(retriever, accounts, fleet, &options, deliverer, shutdown)
                    .await
            }
            None => {
                let retriever = Retriever::new(store, crate::connector::net());
                run_watch(retriever, accounts, &options, deliverer, shutdown).await
            }
        }
    })?
}

/// `watch --exec`'s command as a delivery target of the outbox: run per message as before
/// (scrubbed environment, timeout, process group killed), retried like a webhook when it
/// fails or times out.
pub(crate) struct ExecSink {
    /// The shell command.
    pub(crate) cmd: String,
    /// Timeout, hidden variables.
    pub(crate) options: WatchOptions,
    /// When to retry.
    pub(crate) retry: RetryPolicy,
}

impl Sink for ExecSink {
    fn name(&self) -> &str {
        crate::config::EXEC_TARGET
    }

    fn retry(&self) -> RetryPolicy {
        self.retry
    }

    fn max_attempt_time(&self) -> Duration {
        self.options.exec_timeout + Duration::from_secs(5)
    }

    /// One command at a time, messages in the order they were stored, as before.
    fn in_order(&self) -> bool {
        true
    }

    fn deliver<'a>(&'a self, item: &'a DeliveryItem) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let Some(m) = &item.message else {
                return Attempt::Delivered { status: None };
            };
            let arrival = Arrival {
                account: m.account.clone(),
                folder: m.folder.clone(),
                id: m.id.0,
                message_id: m.email.message_id.clone(),
                subject: m.email.subject.clone(),
                from: m.email.from.first().map(address),
                raw: m.email.raw.clone(),
                _slot: None,
            };
            match exec(&self.cmd, &arrival, &self.options).await {
                Ok(()) => Attempt::Delivered { status: None },
                Err(e) => {
                    eprintln!(
                        "error: --exec for message #{}: {}",
                        arrival.id,
                        crate::output::escape_terminal(&e)
                    );
                    Attempt::Failed {
                        status: None,
                        error: e,
                    }
                }
            }
        })
    }
}

/// The accounts `watch` subscribes: those given (each must have `subscribe = true`), else
/// every account with `subscribe = true`.
fn watch_accounts(all: Vec<Account>, wanted: &[String]) -> CliResult<Vec<Account>> {
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
    /// Its place in the bounded queue of arrivals ([`QUEUE_LIMIT`]), freed when dropped.
    pub(crate) _slot: Option<Arc<OwnedSemaphorePermit>>,
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
            _slot: None,
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

/// How many new messages may wait (or be handled) at once. A subscription that stores one
/// more waits until the oldest has been handed over: a slow `--exec` command holds retrieval
/// back instead of queueing raw messages in memory.
pub(crate) const QUEUE_LIMIT: usize = 32;

/// Where subscriptions send their events: states unbounded (they are small and few), new
/// messages bounded by a semaphore of [`QUEUE_LIMIT`] slots, each held by its [`Arrival`].
#[derive(Debug, Clone)]
pub(crate) struct EventSender {
    pub(crate) tx: mpsc::UnboundedSender<WatchEvent>,
    slots: Arc<Semaphore>,
}

impl EventSender {
    /// A sender with `limit` message slots, and its receiver.
    pub(crate) fn new(limit: usize) -> (Self, mpsc::UnboundedReceiver<WatchEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(limit.max(1)));
        (Self { tx, slots }, rx)
    }

    /// Sends a new message, first waiting (blocking this worker thread, which tokio is told
    /// about) for a free slot. On a single-threaded runtime nothing could free one while
    /// this waits, so there the message is sent without a slot.
    pub(crate) fn send_mail(&self, mut arrival: Arrival) {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => match tokio::runtime::Handle::try_current() {
                Ok(handle)
                    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
                {
                    let slots = self.slots.clone();
                    tokio::task::block_in_place(|| handle.block_on(slots.acquire_owned())).ok()
                }
                _ => None,
            },
        };
        arrival._slot = permit.map(Arc::new);
        let _ = self.tx.send(WatchEvent::Mail(arrival));
    }
}

/// Subscriptions whose events arrive on a channel.
pub(crate) fn subscriptions<C: Connector>(
    retriever: Retriever<C>,
) -> (
    Subscriptions<C>,
    EventSender,
    mpsc::UnboundedReceiver<WatchEvent>,
) {
    let (tx, rx) = EventSender::new(QUEUE_LIMIT);
    let state_tx = tx.tx.clone();
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
    tx: &EventSender,
) -> Result<(), String> {
    let tx = tx.clone();
    subs.subscribe(account, move |m| {
        tx.send_mail(Arrival::from_new_mail(m));
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
    /// How long `exec` may run per message before it (and its process group) is killed.
    pub(crate) exec_timeout: Duration,
    /// Variables removed from `exec`'s environment besides `INBOUND_ENCRYPTION_KEY`: every
    /// `password_env` / `*_secret_env` / `*_token_env` the accounts name
    /// ([`secret_env_vars`]).
    pub(crate) hidden_env: Vec<String>,
}

/// The default of `--exec-timeout`, in seconds.
pub(crate) const DEFAULT_EXEC_TIMEOUT_SECS: u64 = 300;

/// The environment variables the accounts read secrets from (`password_env`,
/// `oauth.client_secret_env`, `oauth.refresh_token_env`, `oauth.token_env`): the `--exec`
/// command does not get them.
pub(crate) fn secret_env_vars(accounts: &[Account]) -> Vec<String> {
    let mut vars = Vec::new();
    let mut add = |s: &SecretSource| {
        if let SecretSource::Env(var) = s {
            if !vars.contains(var) {
                vars.push(var.clone());
            }
        }
    };
    for a in accounts {
        match &a.auth {
            AuthConfig::Password(s) => add(s),
            AuthConfig::OAuth(OAuthSettings::Entra { client_secret, .. }) => add(client_secret),
            AuthConfig::OAuth(OAuthSettings::RefreshToken {
                refresh_token,
                client_secret,
                ..
            }) => {
                add(refresh_token);
                add(client_secret);
            }
            AuthConfig::OAuth(OAuthSettings::Static { token }) => add(token),
            AuthConfig::OAuth(OAuthSettings::Login(l)) => {
                add(&l.refresh_token);
                add(&l.client_secret);
            }
        }
    }
    vars
}

/// Subscribes every account and handles new mail until `shutdown` completes (then
/// unsubscribes cleanly) or every subscription has failed. Returns the exit code.
pub(crate) async fn run_watch<C: Connector>(
    retriever: Retriever<C>,
    accounts: Vec<Account>,
    options: &WatchOptions,
    deliverer: Option<Arc<Deliverer>>,
    shutdown: impl Future<Output = ()>,
) -> CliResult<u8> {
    // The deliverer runs beside the subscriptions, woken by each stored message.
    let (stop_delivery, delivery_stopped) = tokio::sync::oneshot::channel::<()>();
    let waker = deliverer.as_ref().map(|d| d.waker());
    let deliverer_for_health = deliverer.clone();
    let delivery = deliverer.map(|d| {
        tokio::spawn(async move {
            d.run_until(async {
                let _ = delivery_stopped.await;
            })
            .await;
        })
    });
    let (subs, tx, mut rx) = subscriptions(retriever);
    let mut live: HashSet<String> = HashSet::new();
    let mut failed = false;
    // What to tell about a consent account whose refresh token is refused.
    let login_hints: Vec<(String, String)> = accounts
        .iter()
        .filter_map(|a| crate::accounts::login::needs_login_hint(a).map(|h| (a.name.clone(), h)))
        .collect();
    for account in accounts {
        let name = account.name.clone();
        match subscribe(&subs, account, &tx) {
            Ok(()) => {
                live.insert(name);
            }
            Err(e) => {
                eprintln!("error: {}", crate::output::escape_terminal(&e));
                failed = true;
            }
        }
    }
    drop(tx);
    if live.is_empty() {
        return Ok(EXIT_FAILED);
    }
    let mut health = crate::webhooks::AccountHealth::new(deliverer_for_health);
    let mut handle = |event: WatchEvent| {
        if let WatchEvent::State(name, state) = &event {
            health.observe(name, state);
        }
        handle(event, options, waker.as_ref());
    };
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
                if let WatchEvent::State(name, SubscriptionState::Failed { error }) = &event {
                    live.remove(name);
                    failed = true;
                    let hint = login_hints.iter().find(|(n, _)| n == name);
                    if let (Some((_, hint)), true) = (hint, error.contains("invalid_grant")) {
                        eprintln!("{}: {hint}", crate::output::escape_terminal(name));
                    }
                }
                handle(event);
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
        handle(event);
    }
    let _ = stop_delivery.send(());
    if let Some(task) = delivery {
        let _ = task.await;
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

/// Reports an event; a new message also wakes the deliverer, which runs the `--exec`
/// command and the webhooks for it from the outbox.
pub(crate) fn handle(event: WatchEvent, options: &WatchOptions, waker: Option<&Waker>) {
    match event {
        WatchEvent::State(name, state) => {
            let is_error = matches!(
                state,
                SubscriptionState::Failed { .. } | SubscriptionState::RetryExhausted { .. }
            );
            if options.json && (is_error || !options.quiet) {
                println!("{}", state_json(&name, &state));
            }
            // The state's text can quote the server (a BYE's text, an error answer).
            let escape = crate::output::escape_terminal;
            if is_error {
                eprintln!("error: {}: {}", escape(&name), escape(&state.to_string()));
            } else if !options.quiet && state != SubscriptionState::Reconnected {
                // `Reconnected` is followed at once by `Resumed`, which says it all.
                eprintln!("{}: {}", escape(&name), escape(&state.to_string()));
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
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// A value for an `INBOUND_*` variable: without control or bidi characters (a subject must
/// not smuggle a newline or an escape sequence into a script's variables).
fn env_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| !crate::output::is_terminal_control(c))
        .collect()
}

/// The `--json` line of a state change: `state` (see [`SubscriptionState::name`]),
/// `account`, `message` (the text line), and per state `error`, `attempt` with
/// `retry_in_ms`, `delay_ms` with `hint` (throttled), or `caught_up`.
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
        SubscriptionState::Throttled { delay, hint } => {
            line["delay_ms"] = json!(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
            line["hint"] = json!(hint);
        }
        _ => {}
    }
    line
}

/// Runs `cmd` through the shell with the raw message on standard input and its metadata in
/// `INBOUND_*` variables; waits for it, at most `options.exec_timeout`, then kills it and
/// its process group. The command does not inherit `INBOUND_ENCRYPTION_KEY` or the
/// variables in `options.hidden_env`.
///
/// # Errors
/// When the command cannot be started, exits unsuccessfully or runs out of time.
pub(crate) async fn exec(cmd: &str, m: &Arrival, options: &WatchOptions) -> Result<(), String> {
    let mut command = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c");
        c
    };
    command
        .arg(cmd)
        .env_remove(inbound_store::KEY_ENV)
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
        .stdin(Stdio::piped())
        .kill_on_drop(true);
    for var in &options.hidden_env {
        command.env_remove(var);
    }
    // Its own process group, so a timeout kills whatever it started too.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input closes the pipe early: not an error.
            match stdin.write_all(&m.raw).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(format!("writing the message to {cmd:?}: {e}")),
            }
            drop(stdin);
        }
        child
            .wait()
            .await
            .map_err(|e| format!("waiting for {cmd:?}: {e}"))
    };
    let status = match tokio::time::timeout(options.exec_timeout, run).await {
        Ok(status) => status?,
        Err(_) => {
            kill_group(&mut child).await;
            return Err(format!(
                "{cmd:?} was still running after {} s (--exec-timeout); killed it",
                options.exec_timeout.as_secs_f64()
            ));
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} exited with {status}"))
    }
}

/// Kills `child`'s process group (Unix) and the child, and reaps it.
async fn kill_group(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
            tracing::debug!(error = %e, "killing the --exec process group");
        }
    }
    let _ = child.kill().await;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn arrival(id: i64) -> Arrival {
        Arrival {
            account: "a".into(),
            folder: "INBOX".into(),
            id,
            message_id: None,
            subject: None,
            from: None,
            raw: Bytes::from_static(b"x"),
            _slot: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_holds_the_sender_back_until_an_arrival_is_handled() {
        let (tx, mut rx) = EventSender::new(2);
        let sender = tx.clone();
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = sent.clone();
        // A subscription storing five messages while nothing is handled.
        let producer = tokio::spawn(async move {
            for id in 1..=5 {
                sender.send_mail(arrival(id));
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let mut first = None;
        while first.is_none() {
            first = rx.recv().await;
        }
        // Two are queued; the third waits for a slot however long we wait.
        while sent.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(rx.len(), 1);
        // Handling the first frees its slot: the third goes in.
        drop(first);
        let second = rx.recv().await.unwrap();
        let third = rx.recv().await.unwrap();
        assert!(matches!(third, WatchEvent::Mail(Arrival { id: 3, .. })));
        drop((second, third));
        let mut rest = Vec::new();
        while rest.len() < 2 {
            if let Some(e) = rx.recv().await {
                rest.push(e);
            }
        }
        producer.await.unwrap();
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[test]
    fn a_throttled_state_names_its_delay_and_whether_the_server_gave_it() {
        let line = state_json(
            "work",
            &SubscriptionState::Throttled {
                delay: Duration::from_millis(1500),
                hint: true,
            },
        );
        assert_eq!(line["state"], "throttled");
        assert_eq!(line["account"], "work");
        assert_eq!(line["delay_ms"], 1500);
        assert_eq!(line["hint"], true);
        assert_eq!(
            line["message"],
            "server is throttling; retrying in 1.5 s (server's hint)"
        );
    }

    #[test]
    fn env_values_lose_control_characters() {
        assert_eq!(env_safe("Hi\n\x1b[31mred\u{202E}txt\0"), "Hi[31mredtxt");
    }
}
