//! `inbound fetch`: retrieve every (or the chosen) account per its policy.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_retrieve::{
    Account, Connector, Events, NotDelivered, Progress, Report, Retriever, Skipped,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::app::{self, App};
use crate::cli::FetchArgs;
use crate::error::{CliResult, EXIT_FAILED};
use crate::output::{Align, Table, human_bytes, print_json};

/// `inbound fetch`: retrieves the chosen accounts (all when none is named) and reports.
pub(crate) fn command(app: &App, args: &FetchArgs) -> CliResult<u8> {
    let config = app.config()?;
    let existing = app.open_existing_store(&config)?;
    let accounts = app::select(
        app::all_accounts(&config, existing.as_deref())?,
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
    let display = Display::choose(app.quiet, args.json);
    let sinks = crate::webhooks::webhook_sinks(&config)?;
    let store = Arc::new(Mutex::new(store));
    // Webhooks are recorded as targets before anything is stored.
    let deliverer = crate::webhooks::deliverer(&store, sinks)?;
    let retriever = Retriever::new(store, crate::connector::net());
    let (outcomes, delivered) = app::block_on(async {
        let outcomes = run_fetch(
            &retriever,
            &accounts,
            usize::from(args.concurrency),
            display,
        )
        .await;
        // One round: what is due now. A failed delivery stays queued for the next `fetch`
        // or `watch` rather than holding this command until its retry.
        let delivered = match &deliverer {
            Some(d) => Some(d.deliver_due().await),
            None => None,
        };
        (outcomes, delivered)
    })?;
    let code = report(&outcomes, args.json)?;
    match delivered {
        Some(Ok(r)) => {
            if !app.quiet && !args.json {
                eprintln!("{}", crate::webhooks::report_line(&r));
            }
            Ok(if r.dead > 0 {
                EXIT_FAILED.max(code)
            } else {
                code
            })
        }
        Some(Err(e)) => {
            eprintln!("error: delivering events: {e}");
            Ok(EXIT_FAILED.max(code))
        }
        None => Ok(code),
    }
}

/// How `fetch` shows what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Display {
    /// Progress bars (a terminal).
    Bars,
    /// One line per event on standard error.
    Lines,
    /// Nothing but the final output.
    Silent,
}

impl Display {
    /// Bars on a terminal, plain lines otherwise; silent with `quiet` or `--json`.
    pub(crate) fn choose(quiet: bool, json: bool) -> Self {
        if quiet || json {
            Display::Silent
        } else if std::io::stderr().is_terminal() {
            Display::Bars
        } else {
            Display::Lines
        }
    }
}

/// One account's result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    /// The account.
    pub(crate) account: String,
    /// The folder.
    pub(crate) folder: String,
    /// Messages newly stored.
    pub(crate) fetched: u64,
    /// Messages skipped as too large.
    pub(crate) skipped: u64,
    /// Messages moved on the server.
    pub(crate) moved: u64,
    /// Messages deleted on the server.
    pub(crate) deleted: u64,
    /// Messages downloaded that were already stored.
    pub(crate) already_stored: u64,
    /// Bytes downloaded.
    pub(crate) bytes: u64,
    /// Errors: those the run recovered from, then the one it failed with.
    pub(crate) errors: Vec<String>,
    /// Messages asked for and not stored (refused, left out, incomplete), with the reason:
    /// kept on the server untouched and asked for again by the next run.
    pub(crate) not_delivered: Vec<NotDelivered>,
    /// False when the account failed.
    pub(crate) ok: bool,
}

impl Outcome {
    /// A consent account whose refresh token was refused (`invalid_grant`) needs a new
    /// sign-in: its last error says which command to run.
    fn hint_login(&mut self, account: &Account) {
        let Some(hint) = crate::accounts::login::needs_login_hint(account) else {
            return;
        };
        if let Some(last) = self.errors.last_mut() {
            if !self.ok && last.contains("invalid_grant") {
                last.push_str("; ");
                last.push_str(&hint);
            }
        }
    }

    fn from_result(
        name: &str,
        account: &Account,
        result: inbound_retrieve::Result<Report>,
    ) -> Self {
        let folder = account.folder.as_str();
        let (report, failure) = match result {
            Ok(report) => (report, None),
            Err(inbound_retrieve::Error::Backend { report, source, .. }) => {
                (*report, Some(source.to_string()))
            }
            Err(inbound_retrieve::Error::Credentials(e)) => (
                Report::default(),
                Some(crate::accounts::add::credential_error(&e, account)),
            ),
            Err(e) => (Report::default(), Some(e.to_string())),
        };
        // The account is named beside each error already.
        let own = format!("account {name:?}: ");
        let mut errors: Vec<String> = report
            .errors
            .iter()
            .chain(&failure)
            .map(|e| e.strip_prefix(&own).unwrap_or(e).to_owned())
            .collect();
        errors.dedup();
        Self {
            account: name.to_owned(),
            folder: if report.folder.is_empty() {
                folder.to_owned()
            } else {
                report.folder.clone()
            },
            fetched: report.fetched,
            skipped: report.skipped_too_large.len() as u64,
            moved: report.moved,
            deleted: report.deleted,
            already_stored: report.already_stored,
            bytes: report.bytes,
            errors,
            not_delivered: report.not_delivered,
            ok: failure.is_none(),
        }
    }
}

/// Progress for one account: a bar, or plain lines.
struct AccountEvents {
    name: String,
    bar: Option<ProgressBar>,
    lines: bool,
    last_line: u64,
}

impl Events for AccountEvents {
    fn on_progress(&mut self, p: &Progress) {
        if let Some(bar) = &self.bar {
            bar.set_length(p.bytes_total.max(p.bytes_done));
            bar.set_position(p.bytes_done);
            bar.set_message(format!("{}/{} messages", p.messages_done, p.messages_total));
        } else if self.lines && p.messages_total > 0 {
            // A line every 10% (and at the end), not one per message.
            let step = (p.messages_total / 10).max(1);
            if p.messages_done == p.messages_total || p.messages_done >= self.last_line + step {
                self.last_line = p.messages_done;
                eprintln!(
                    "{}: {}/{} messages, {}",
                    self.name,
                    p.messages_done,
                    p.messages_total,
                    human_bytes(p.bytes_done)
                );
            }
        }
    }

    fn on_skipped(&mut self, s: &Skipped) {
        self.say(&format!(
            "{}: skipped {} ({}, over max_message_size)",
            self.name,
            s.id,
            human_bytes(s.size)
        ));
    }

    fn on_error(&mut self, error: &str) {
        self.say(&format!("{}: {error}", self.name));
    }

    fn on_complete(&mut self, report: &Report) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(format!("done: {} new", report.fetched));
        }
    }
}

impl AccountEvents {
    fn say(&self, line: &str) {
        let line = &*crate::output::escape_terminal(line);
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.lines => eprintln!("{line}"),
            None => {}
        }
    }
}

/// Retrieves the accounts, at most `concurrency` at a time, showing progress as `display`
/// says. Results are in account order.
pub(crate) async fn run_fetch<C: Connector>(
    retriever: &Retriever<C>,
    accounts: &[Account],
    concurrency: usize,
    display: Display,
) -> Vec<Outcome> {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix:>14.bold} [{bar:28.cyan/blue}] {msg:<18} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let width = accounts
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0);
    let results = retriever
        .retrieve_all(accounts, concurrency, |account| {
            let bar = (display == Display::Bars).then(|| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(format!("{:>width$}", account.name));
                bar.set_message("connecting");
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            });
            if display == Display::Lines {
                eprintln!("{}: retrieving {}", account.name, account.folder);
            }
            AccountEvents {
                name: account.name.clone(),
                bar,
                lines: display == Display::Lines,
                last_line: 0,
            }
        })
        .await;
    let outcomes: Vec<Outcome> = results
        .into_iter()
        .zip(accounts)
        .map(|((name, result), account)| {
            let mut outcome = Outcome::from_result(&name, account, result);
            outcome.hint_login(account);
            outcome
        })
        .collect();
    if display != Display::Silent {
        for o in outcomes.iter().filter(|o| !o.ok) {
            let last = o.errors.last().map_or("failed", String::as_str);
            eprintln!(
                "error: {}: {}",
                o.account,
                crate::output::escape_terminal(last)
            );
        }
    }
    let _ = multi.clear();
    outcomes
}

/// The summary table.
pub(crate) fn summary(outcomes: &[Outcome]) -> String {
    let mut t = Table::new(&[
        ("account", Align::Left),
        ("folder", Align::Left),
        ("fetched", Align::Right),
        ("skipped", Align::Right),
        ("moved", Align::Right),
        ("deleted", Align::Right),
        ("bytes", Align::Right),
        ("status", Align::Left),
    ]);
    for o in outcomes {
        let status = if !o.ok {
            "FAILED".to_owned()
        } else if o.errors.is_empty() {
            "ok".to_owned()
        } else {
            format!("ok ({} recovered error(s))", o.errors.len())
        };
        let status = if o.not_delivered.is_empty() {
            status
        } else {
            format!("{status}, {} not delivered", o.not_delivered.len())
        };
        t.row(vec![
            o.account.clone(),
            o.folder.clone(),
            o.fetched.to_string(),
            o.skipped.to_string(),
            o.moved.to_string(),
            o.deleted.to_string(),
            human_bytes(o.bytes),
            status,
        ]);
    }
    t.render()
}

/// Prints the outcomes (table or JSON) and returns the exit code: 1 when an account failed.
pub(crate) fn report(outcomes: &[Outcome], json: bool) -> crate::error::CliResult<u8> {
    if json {
        print_json(&outcomes)?;
    } else {
        print!("{}", summary(outcomes));
    }
    Ok(if outcomes.iter().all(|o| o.ok) {
        crate::error::EXIT_OK
    } else {
        crate::error::EXIT_FAILED
    })
}
