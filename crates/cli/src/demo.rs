//! `inbound demo`: the whole tool in half a minute, with no network and no setup.
//!
//! Starts the bundled test server in this process (the sample mailbox for two users),
//! retrieves an IMAPS account (moving each message to `Archive`, HTML sanitized) and a POP3S
//! account (deleting each message) into a fresh store, then subscribes to the IMAP account,
//! delivers three messages and shows each arrive, and prints a summary.

use std::path::Path;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inbound_retrieve::account::{AfterReceiveName, FetchName, Security};
use inbound_retrieve::{
    Account, AccountConfig, Connector, MailProtocol, Retriever, SubscriptionState,
};
use inbound_store::{MessageFilter, Store};
use inbound_test_server::server::{ServerConfig, TestServer};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_OK};
use crate::fetch::{self, Display};
use crate::output::{Align, Table, human_bytes, print_json};
use crate::watch::{self, WatchEvent};

/// `inbound demo`: the demo against an in-process test server.
pub(crate) fn command(app: &crate::app::App, args: &crate::cli::DemoArgs) -> CliResult<u8> {
    let options = DemoOptions {
        json: args.json,
        quiet: app.quiet,
    };
    crate::app::block_on(run_demo(
        crate::connector::net(),
        &args.demo_store,
        &options,
        args.serve.then_some(args.listen),
    ))?
}

/// The IMAP user of the demo server.
const IMAP_USER: &str = "demo";
/// The POP3 user (a separate maildrop: POP3 and IMAP of one user share INBOX).
const POP_USER: &str = "demo-pop";
/// Both users' password.
const PASSWORD: &str = "demo";
/// How many messages the demo delivers while subscribed.
const DELIVERIES: usize = 3;
/// How long to wait for the subscription or a delivery before giving up.
const WAIT: Duration = Duration::from_secs(15);

/// One row of the summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DemoRow {
    /// Account name.
    pub(crate) account: String,
    /// Messages stored (retrieval and subscription).
    pub(crate) fetched: u64,
    /// Messages moved on the server.
    pub(crate) moved: u64,
    /// Messages deleted on the server.
    pub(crate) deleted: u64,
    /// Attachments (and inline parts) of the stored messages.
    pub(crate) attachments: u64,
    /// Bytes downloaded.
    pub(crate) bytes: u64,
}

/// Options of `inbound demo`.
#[derive(Debug, Clone)]
pub(crate) struct DemoOptions {
    /// Print the summary as JSON.
    pub(crate) json: bool,
    /// Only the summary.
    pub(crate) quiet: bool,
}

/// Runs the demo with the connector `connect` builds, storing into `store_path` (replaced).
/// With `serve`, then keeps the test server and a delivery every 20 seconds running and
/// serves the web app on that address until SIGINT or SIGTERM.
pub(crate) async fn run_demo<C: Connector + Clone>(
    connector: C,
    store_path: &Path,
    options: &DemoOptions,
    serve: Option<std::net::SocketAddr>,
) -> CliResult<u8> {
    let say = |line: &str| {
        if !options.quiet {
            eprintln!("{line}");
        }
    };
    let config = ServerConfig::default()
        .user(IMAP_USER, PASSWORD)
        .user(POP_USER, PASSWORD)
        .seed_sample(true);
    let server = TestServer::start(config)
        .await
        .map_err(|e| CliError::failed(format!("could not start the test server: {e}")))?;
    say(&format!(
        "Started the bundled test server: IMAPS {} and POP3S {}, the sample mailbox for users {IMAP_USER:?} and {POP_USER:?}",
        server.imaps_addr(),
        server.pop3s_addr()
    ));

    remove_store(store_path)?;
    let store = Store::open(store_path, None)
        .map_err(|e| CliError::failed(format!("store {}: {e}", store_path.display())))?;
    let imap = demo_account(&server, MailProtocol::Imap)?;
    let pop = demo_account(&server, MailProtocol::Pop3)?;
    say(&format!(
        "Retrieving into {}:\n  {}: IMAPS, every message, moved to Archive after storing, HTML sanitized\n  {}: POP3S, every message, deleted after storing",
        store_path.display(),
        imap.name,
        pop.name
    ));
    let shared = inbound_retrieve::share(store);
    let retriever = Retriever::new(shared.clone(), connector.clone());
    let accounts = vec![imap.clone(), pop.clone()];
    let display = if options.quiet {
        Display::Silent
    } else {
        Display::choose(false, false)
    };
    let outcomes = fetch::run_fetch(&retriever, &accounts, 2, display).await;
    if !options.quiet {
        eprint!("{}", fetch::summary(&outcomes));
    }
    if let Some(failed) = outcomes.iter().find(|o| !o.ok) {
        let last = failed.errors.last().cloned().unwrap_or_default();
        server.shutdown().await;
        return Err(CliError::failed(format!(
            "demo: retrieving {} failed: {last}",
            failed.account
        )));
    }

    say(&format!(
        "Subscribing to {} (IMAP IDLE) and delivering {DELIVERIES} new messages:",
        imap.name
    ));
    let watched = subscribe_and_deliver(&retriever, &server, imap.clone(), &say).await;
    let watched = match watched {
        Ok(w) => w,
        Err(e) => {
            server.shutdown().await;
            return Err(e);
        }
    };

    let rows = summary_rows(&shared, &outcomes, &imap.name, &watched)?;
    let server_state = server_state(&server);
    let server = match serve {
        None => {
            server.shutdown().await;
            None
        }
        Some(_) => Some(server),
    };

    print_summary(options, &rows, &server_state, store_path)?;
    let expected_ok = rows.iter().all(|r| r.fetched > 0);
    if let (Some(listen), Some(server)) = (serve, server) {
        let web = inbound_web::WebApp::new(shared.clone(), vec![imap.clone(), pop.clone()])
            .with_connector(connector);
        let served = serve_demo(web, &server, listen).await;
        server.shutdown().await;
        served?;
    }
    Ok(if expected_ok { EXIT_OK } else { EXIT_FAILED })
}

/// The summary table (or JSON) and where to look next.
fn print_summary(
    options: &DemoOptions,
    rows: &[DemoRow],
    server_state: &ServerState,
    store_path: &Path,
) -> CliResult<()> {
    let say = |line: &str| {
        if !options.quiet {
            eprintln!("{line}");
        }
    };
    if options.json {
        print_json(&serde_json::json!({ "accounts": rows, "server": server_state }))?;
    } else {
        say("");
        print!("{}", summary_table(rows));
        say(&format!(
            "Server afterwards: {IMAP_USER} INBOX {} / Archive {}, {POP_USER} INBOX {}.",
            server_state.imap_inbox, server_state.imap_archive, server_state.pop_inbox
        ));
        say(&format!(
            "Look at the mail: inbound --store {} messages list",
            store_path.display()
        ));
    }
    Ok(())
}

/// One summary row per account: what the fetch got, plus what the subscription got for the
/// IMAP account (`watched_account`).
fn summary_rows(
    shared: &inbound_retrieve::SharedStore,
    outcomes: &[fetch::Outcome],
    watched_account: &str,
    watched: &Watched,
) -> CliResult<Vec<DemoRow>> {
    let store = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let mut rows = Vec::new();
    for o in outcomes {
        let (extra, extra_bytes) = if o.account == watched_account {
            (watched.count, watched.bytes)
        } else {
            (0, 0)
        };
        // A message is moved once its pending action is done: the subscription's
        // moves count when nothing is left pending.
        let pending = store.pending_actions(&o.account)?.len() as u64;
        let moved = if o.account == watched_account {
            o.moved + extra.saturating_sub(pending)
        } else {
            o.moved
        };
        let attachments: u64 = store
            .list_messages(&MessageFilter::account(o.account.clone()))?
            .iter()
            .map(|m| m.attachments.len() as u64)
            .sum();
        rows.push(DemoRow {
            account: o.account.clone(),
            fetched: o.fetched + extra,
            moved,
            deleted: o.deleted,
            attachments,
            bytes: o.bytes + extra_bytes,
        });
    }
    Ok(rows)
}

/// Serves the overview on `listen` while a new message reaches the demo's IMAP inbox every
/// 20 seconds, until SIGINT or SIGTERM.
async fn serve_demo(
    web: inbound_web::WebApp,
    server: &TestServer,
    listen: std::net::SocketAddr,
) -> CliResult<()> {
    web.check_listen(listen)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::failed(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failed(format!("cannot listen on {listen}: {e}")))?;
    let serving = web.serve(listener, watch::shutdown_signal());
    println!("inbound: serving http://{addr}/ (a new message every 20 s; Ctrl-C stops)");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    tokio::pin!(serving);
    let mut tick = tokio::time::interval(Duration::from_secs(20));
    tick.tick().await;
    let mut i = DELIVERIES;
    loop {
        tokio::select! {
            served = &mut serving => {
                return served.map_err(|e| CliError::failed(e.to_string()));
            }
            _ = tick.tick() => {
                i += 1;
                if let Err(e) = server.store().deliver(IMAP_USER, "INBOX", delivery(i)) {
                    tracing::warn!("demo delivery {i}: {e}");
                }
            }
        }
    }
}

/// Messages left on the server after the demo.
#[derive(Debug, Clone, Copy, Serialize)]
struct ServerState {
    imap_inbox: usize,
    imap_archive: usize,
    pop_inbox: usize,
}

fn server_state(server: &TestServer) -> ServerState {
    let count =
        |user: &str, folder: &str| server.store().messages(user, folder).map_or(0, |m| m.len());
    ServerState {
        imap_inbox: count(IMAP_USER, "INBOX"),
        imap_archive: count(IMAP_USER, "Archive"),
        pop_inbox: count(POP_USER, "INBOX"),
    }
}

/// The summary table: account, fetched, moved, deleted, attachments, bytes.
pub(crate) fn summary_table(rows: &[DemoRow]) -> String {
    let mut t = Table::new(&[
        ("account", Align::Left),
        ("fetched", Align::Right),
        ("moved", Align::Right),
        ("deleted", Align::Right),
        ("attachments", Align::Right),
        ("bytes", Align::Right),
    ]);
    for r in rows {
        t.row(vec![
            r.account.clone(),
            r.fetched.to_string(),
            r.moved.to_string(),
            r.deleted.to_string(),
            r.attachments.to_string(),
            human_bytes(r.bytes),
        ]);
    }
    t.render()
}

/// Removes an earlier demo store (and its WAL files) so every run starts afresh.
fn remove_store(path: &Path) -> CliResult<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::failed(format!(
                    "cannot replace {}: {e}",
                    Path::new(&p).display()
                )));
            }
        }
    }
    Ok(())
}

fn demo_account(server: &TestServer, protocol: MailProtocol) -> CliResult<Account> {
    let (name, user, port, after, move_to) = match protocol {
        MailProtocol::Imap => (
            "demo-imap",
            IMAP_USER,
            server.imaps_addr().port(),
            AfterReceiveName::Move,
            Some("Archive".to_owned()),
        ),
        MailProtocol::Pop3 => (
            "demo-pop3",
            POP_USER,
            server.pop3s_addr().port(),
            AfterReceiveName::Delete,
            None,
        ),
    };
    let config = AccountConfig {
        name: Some(name.to_owned()),
        protocol: Some(protocol),
        host: Some("127.0.0.1".to_owned()),
        port: Some(i64::from(port)),
        security: Some(Security::Tls),
        username: Some(user.to_owned()),
        password: Some(inbound_net::Secret::new(PASSWORD)),
        ca_file: Some(server.ca_file().to_path_buf()),
        fetch: Some(FetchName::All),
        after_receive: Some(after),
        move_to,
        sanitize_html: Some(true),
        timeout_secs: Some(20),
        subscribe: Some(protocol == MailProtocol::Imap),
        ..AccountConfig::default()
    };
    config
        .validate()
        .map_err(|e| CliError::failed(format!("demo account: {e}")))
}

/// What the subscription received.
struct Watched {
    count: u64,
    bytes: u64,
}

async fn subscribe_and_deliver<C: Connector>(
    retriever: &Retriever<C>,
    server: &TestServer,
    account: Account,
    say: &dyn Fn(&str),
) -> CliResult<Watched> {
    let (subs, tx, mut rx) = watch::subscriptions(retriever.clone());
    let name = account.name.clone();
    watch::subscribe(&subs, account, &tx).map_err(CliError::failed)?;
    drop(tx);
    let result = async {
        wait_for(&mut rx, |e| {
            matches!(e, WatchEvent::State(_, SubscriptionState::Subscribed))
        })
        .await
        .map_err(|e| format!("subscribing to {name}: {e}"))?;
        let mut watched = Watched { count: 0, bytes: 0 };
        for i in 1..=DELIVERIES {
            server
                .store()
                .deliver(IMAP_USER, "INBOX", delivery(i))
                .map_err(|e| format!("delivering message {i}: {e}"))?;
            let event = wait_for(&mut rx, |e| matches!(e, WatchEvent::Mail(_)))
                .await
                .map_err(|e| format!("waiting for delivered message {i}: {e}"))?;
            if let WatchEvent::Mail(m) = event {
                say(&format!("  arrived: {}", m.line()));
                watched.count += 1;
                watched.bytes += m.raw.len() as u64;
            }
        }
        Ok::<_, String>(watched)
    }
    .await;
    subs.unsubscribe_all().await;
    say(&format!("Unsubscribed from {name}."));
    result.map_err(CliError::failed)
}

/// Waits for the first event `wanted` accepts; a failed subscription ends the wait.
async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<WatchEvent>,
    wanted: impl Fn(&WatchEvent) -> bool,
) -> Result<WatchEvent, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| format!("nothing happened within {} s", WAIT.as_secs()))?
            .ok_or_else(|| "the subscription ended".to_owned())?;
        if let WatchEvent::State(_, SubscriptionState::Failed { error }) = &event {
            return Err(error.clone());
        }
        if wanted(&event) {
            return Ok(event);
        }
    }
}

/// The i-th message the demo delivers.
fn delivery(i: usize) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "From: Inbound Demo <demo-sender@example.test>\r\n\
         To: demo@example.test\r\n\
         Subject: Live delivery {i} of {DELIVERIES}\r\n\
         Message-ID: <demo-{now}-{i}@example.test>\r\n\
         Date: {date}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This message was delivered while `inbound demo` was subscribed to the folder.\r\n",
        date = rfc2822(now as i64),
    )
    .into_bytes()
}

fn rfc2822(secs: i64) -> String {
    // RFC 3339 parts rearranged into RFC 5322's date-time, always +0000.
    let iso = crate::output::rfc3339(secs);
    let (date, time) = iso.split_once('T').unwrap_or((&iso, "00:00:00Z"));
    let mut parts = date.split('-');
    let (y, m, d) = (
        parts.next().unwrap_or("1970"),
        parts.next().unwrap_or("01"),
        parts.next().unwrap_or("01"),
    );
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    format!("{d} {month} {y} {} +0000", time.trim_end_matches('Z'))
}
