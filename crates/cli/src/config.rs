//! Finding, reading and checking the configuration file.
//!
//! Every problem is reported at once, each with the file, line and column, the account and
//! the field: syntax errors (all of them, by the parser's recovery), unknown keys and wrong
//! types (each key is checked on its own), then the account rules of
//! [`AccountConfig::validate`], placed at the field's key or, for a missing field, at the
//! account's `[[account]]` header.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use inbound_retrieve::delivery::{Webhook, WebhookConfig};
use inbound_retrieve::{Account, AccountConfig, OAuthConfig};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::CliError;

/// The file looked for in the current directory when `--config` is not given.
pub(crate) const DEFAULT_FILE: &str = "inbound.toml";
/// The store file used when neither `--store` nor `[store] path` says otherwise.
pub(crate) const DEFAULT_STORE: &str = "inbound.sqlite";

/// A configuration file, read and checked.
#[derive(Debug, Default)]
pub(crate) struct ConfigFile {
    /// The file read; `None` when there was none (no accounts then).
    pub(crate) path: Option<PathBuf>,
    /// `[store] path`, resolved against the file's directory.
    pub(crate) store: Option<PathBuf>,
    /// `[store] url`: a PostgreSQL database (`postgresql://...`), exclusive with `path`; a
    /// secret, since it may hold the password.
    pub(crate) store_url: Option<inbound_store::Secret>,
    /// The accounts, in file order.
    pub(crate) accounts: Vec<Account>,
    /// The `[[webhook]]` tables, in file order.
    pub(crate) webhooks: Vec<Webhook>,
    /// `[web]`: who may use `inbound serve`.
    pub(crate) web: WebSection,
    /// `[fleet]`: lease and pacing settings of `inbound watch` on a PostgreSQL store.
    pub(crate) fleet: inbound_retrieve::fleet::FleetConfig,
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column (characters).
    pub(crate) column: usize,
    /// `account "work"` or `account #2`, `[store]`; empty at the top level.
    pub(crate) context: String,
    /// The field (`port`, `oauth.client_id`); empty for syntax errors.
    pub(crate) field: String,
    /// What is wrong.
    pub(crate) message: String,
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub(crate) struct ConfigErrors {
    /// The file, as named to the user.
    pub(crate) file: String,
    /// The problems, in file order.
    pub(crate) problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            write!(f, "error: {}:{}:{}: ", self.file, p.line, p.column)?;
            if !p.context.is_empty() {
                write!(f, "{}: ", p.context)?;
            }
            if !p.field.is_empty() {
                write!(f, "{}: ", p.field)?;
            }
            writeln!(f, "{}", p.message)?;
        }
        let n = self.problems.len();
        write!(
            f,
            "{}: {n} problem{} found; nothing was done",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl From<ConfigErrors> for CliError {
    fn from(e: ConfigErrors) -> Self {
        CliError::usage(e.to_string())
    }
}

/// The configuration file to read: `explicit` (which must exist), else `inbound.toml` in the
/// current directory, else the platform configuration directory's `inbound/inbound.toml`.
/// `None` when there is none.
///
/// # Errors
/// A usage error when `explicit` does not exist.
pub(crate) fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, CliError> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(Some(path.to_path_buf()));
        }
        return Err(CliError::usage(format!(
            "configuration file {} does not exist",
            path.display()
        )));
    }
    Ok(candidates().into_iter().find(|p| p.is_file()))
}

/// Where the configuration is looked for, in order (for messages).
pub(crate) fn candidates() -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from(DEFAULT_FILE)];
    if let Some(dir) = config_dir() {
        list.push(dir.join("inbound").join(DEFAULT_FILE));
    }
    list
}

/// The platform configuration directory: `$XDG_CONFIG_HOME`, else `~/.config`
/// (`%APPDATA%` on Windows).
fn config_dir() -> Option<PathBuf> {
    let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    if cfg!(windows) {
        return non_empty("APPDATA").map(PathBuf::from);
    }
    non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".config")))
}

/// Reads and checks the file at `path`, which must be the user's ([`crate::trust`]).
///
/// # Errors
/// A usage error listing every problem, naming the file that could not be read, or saying
/// that the file belongs to someone else or others may write it.
pub(crate) fn load(path: &Path) -> Result<ConfigFile, CliError> {
    crate::trust::check_owned(path, "configuration file")?;
    tracing::info!("using the configuration file {}", crate::trust::shown(path));
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read configuration file {}: {e}",
            path.display()
        ))
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    let mut file = parse(&text, &path.display().to_string(), base)?;
    file.path = Some(path.to_path_buf());
    Ok(file)
}

/// Loads the configuration `explicit` names, or the default one, or an empty one.
///
/// # Errors
/// As [`locate`] and [`load`].
pub(crate) fn load_or_default(explicit: Option<&Path>) -> Result<ConfigFile, CliError> {
    match locate(explicit)? {
        Some(path) => load(&path),
        None => Ok(ConfigFile::default()),
    }
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    /// The store file.
    path: Option<PathBuf>,
    /// A PostgreSQL database: `postgresql://USER:PASS@HOST:PORT/DB?sslmode=...`.
    url: Option<String>,
}

/// `[fleet]`: how `inbound watch` workers sharing a PostgreSQL store split its accounts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetSection {
    /// Lease duration, seconds (default 30).
    lease_secs: Option<u64>,
    /// Renewal interval, seconds (default 10).
    renew_secs: Option<u64>,
    /// Claim scan interval, seconds (default 5).
    scan_secs: Option<u64>,
    /// Most accounts per worker (default 1000).
    capacity: Option<usize>,
    /// How often a worker above its fair share releases accounts, seconds (default 60).
    rebalance_secs: Option<u64>,
    /// How many it releases each time (default 2).
    rebalance_step: Option<usize>,
    /// New connections per second per worker (default 20).
    connects_per_sec: Option<u32>,
    /// How long a failed account waits before it is tried again, seconds (default 60).
    failed_retry_secs: Option<u64>,
    /// Most accounts of one mail server host per worker (default 1000).
    per_host: Option<usize>,
}

impl FleetSection {
    /// The settings, or the first problem as `(field, message)`.
    fn config(&self) -> Result<inbound_retrieve::fleet::FleetConfig, (&'static str, String)> {
        use std::time::Duration;
        let d = inbound_retrieve::fleet::FleetConfig::default();
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        let config = inbound_retrieve::fleet::FleetConfig {
            lease: secs(self.lease_secs, d.lease),
            renew: secs(self.renew_secs, d.renew),
            scan: secs(self.scan_secs, d.scan),
            capacity: self.capacity.unwrap_or(d.capacity),
            rebalance: secs(self.rebalance_secs, d.rebalance),
            rebalance_step: self.rebalance_step.unwrap_or(d.rebalance_step),
            connects_per_sec: self.connects_per_sec.unwrap_or(d.connects_per_sec),
            failed_retry: secs(self.failed_retry_secs, d.failed_retry),
            per_host: self.per_host.unwrap_or(d.per_host),
        };
        let range = |field: &'static str, v: Duration, lo: u64, hi: u64| {
            if v < Duration::from_secs(lo) || v > Duration::from_secs(hi) {
                Err((field, format!("must be between {lo} and {hi} seconds")))
            } else {
                Ok(())
            }
        };
        range("lease_secs", config.lease, 2, 3600)?;
        range("renew_secs", config.renew, 1, 3600)?;
        range("scan_secs", config.scan, 1, 3600)?;
        range("rebalance_secs", config.rebalance, 1, 86_400)?;
        range("failed_retry_secs", config.failed_retry, 1, 86_400)?;
        // A lease is valid locally for two thirds of its time after the last renewal.
        if config.renew * 3 >= config.lease * 2 {
            return Err((
                "renew_secs",
                format!(
                    "must be under two thirds of lease_secs ({} s), or the worker fences itself \
                     between renewals",
                    config.lease.as_secs()
                ),
            ));
        }
        if config.capacity == 0 {
            return Err(("capacity", "must be at least 1".into()));
        }
        if config.per_host == 0 {
            return Err(("per_host", "must be at least 1".into()));
        }
        if config.connects_per_sec == 0 || config.connects_per_sec > 10_000 {
            return Err(("connects_per_sec", "must be between 1 and 10000".into()));
        }
        Ok(config)
    }
}

/// `[web]`: the credentials of `inbound serve` (needed to listen on a non-loopback address).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebSection {
    /// The environment variable holding the login password.
    pub(crate) password_env: Option<String>,
    /// API tokens, each as `sha256:<64 hex digits>` (`inbound serve --hash-token`).
    #[serde(default)]
    pub(crate) tokens: Vec<String>,
    /// Mark the session cookie `Secure` (the app is reached over TLS, through a proxy).
    #[serde(default)]
    pub(crate) secure_cookies: bool,
}

/// Maps byte offsets to lines and columns.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}

/// Collects problems while walking the document.
struct Checker<'a> {
    lines: Lines<'a>,
    problems: Vec<(usize, Problem)>,
}

impl Checker<'_> {
    fn add(&mut self, span: Range<usize>, context: &str, field: &str, message: impl Into<String>) {
        let (line, column) = self.lines.position(span.start);
        self.problems.push((
            span.start,
            Problem {
                line,
                column,
                context: context.to_owned(),
                field: field.to_owned(),
                message: message.into(),
            },
        ));
    }
}

/// Parses and checks a configuration text; `file` names it in messages and `base` is the
/// directory relative paths (`[store] path`, `ca_file`) are resolved against.
///
/// # Errors
/// Every problem found.
pub(crate) fn parse(text: &str, file: &str, base: &Path) -> Result<ConfigFile, ConfigErrors> {
    let mut checker = Checker {
        lines: Lines::new(text),
        problems: Vec::new(),
    };
    let (root, syntax) = DeTable::parse_recoverable(text);
    for e in &syntax {
        let span = e.span().unwrap_or(0..0);
        checker.add(span, "", "", first_line(e.message()));
    }
    let mut out = ConfigFile::default();
    if syntax.is_empty() {
        check_document(&mut checker, root.get_ref(), base, &mut out);
    }
    if checker.problems.is_empty() {
        return Ok(out);
    }
    checker.problems.sort_by_key(|(offset, _)| *offset);
    Err(ConfigErrors {
        file: file.to_owned(),
        problems: checker.problems.into_iter().map(|(_, p)| p).collect(),
    })
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_owned()
}

fn check_document(c: &mut Checker<'_>, root: &DeTable<'_>, base: &Path, out: &mut ConfigFile) {
    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "store" => {
                if let Some(section) = check_store(c, value) {
                    out.store = section.path.map(|p| base.join(p));
                    out.store_url = section.url.map(inbound_store::Secret::new);
                }
            }
            "account" => check_accounts(c, value, base, out),
            "webhook" => check_webhooks(c, value, base, out),
            "web" => {
                if let Some(section) = check_web(c, value) {
                    out.web = section;
                }
            }
            "fleet" => {
                if let Some(fleet) = check_fleet(c, value) {
                    out.fleet = fleet;
                }
            }
            other => c.add(
                key.span(),
                "",
                other,
                "unknown section (expected [store], [fleet], [web], [[account]] or [[webhook]])",
            ),
        }
    }
}

fn check_store(c: &mut Checker<'_>, value: &Spanned<DeValue<'_>>) -> Option<StoreSection> {
    let Some(table) = value.get_ref().as_table() else {
        c.add(value.span(), "", "store", "must be a table: [store]");
        return None;
    };
    let before = c.problems.len();
    for (key, v) in table.iter() {
        let name = key.get_ref().as_ref();
        if let Err(e) = single_key::<StoreSection>(key, v) {
            c.add(
                e.span().unwrap_or(key.span()),
                "[store]",
                name,
                first_line(e.message()),
            );
        }
    }
    if c.problems.len() > before {
        return None;
    }
    let section = StoreSection::deserialize(ValueDeserializer::from(value.clone())).ok()?;
    // The URL's own span, for the problems below (never its text: it may hold a password).
    let url_span = table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == "url")
        .map(|(_, v)| v.span());
    if let (Some(url), Some(span)) = (&section.url, url_span) {
        if section.path.is_some() {
            c.add(
                span,
                "[store]",
                "url",
                "`path` and `url` are exclusive: give a SQLite file or a PostgreSQL URL",
            );
            return None;
        }
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            c.add(
                span,
                "[store]",
                "url",
                "must be a PostgreSQL URL: postgresql://USER:PASS@HOST:PORT/DB?sslmode=require",
            );
            return None;
        }
    }
    Some(section)
}

fn check_fleet(
    c: &mut Checker<'_>,
    value: &Spanned<DeValue<'_>>,
) -> Option<inbound_retrieve::fleet::FleetConfig> {
    let Some(table) = value.get_ref().as_table() else {
        c.add(value.span(), "", "fleet", "must be a table: [fleet]");
        return None;
    };
    let before = c.problems.len();
    for (key, v) in table.iter() {
        if let Err(e) = single_key::<FleetSection>(key, v) {
            c.add(
                e.span().unwrap_or(key.span()),
                "[fleet]",
                key.get_ref().as_ref(),
                first_line(e.message()),
            );
        }
    }
    if c.problems.len() > before {
        return None;
    }
    let section = FleetSection::deserialize(ValueDeserializer::from(value.clone())).ok()?;
    match section.config() {
        Ok(config) => Some(config),
        Err((field, message)) => {
            let span = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == field)
                .map_or(value.span(), |(_, v)| v.span());
            c.add(span, "[fleet]", field, message);
            None
        }
    }
}

fn check_web(c: &mut Checker<'_>, value: &Spanned<DeValue<'_>>) -> Option<WebSection> {
    let Some(table) = value.get_ref().as_table() else {
        c.add(value.span(), "", "web", "must be a table: [web]");
        return None;
    };
    let before = c.problems.len();
    for (key, v) in table.iter() {
        let name = key.get_ref().as_ref();
        match single_key::<WebSection>(key, v) {
            Err(e) => c.add(
                e.span().unwrap_or(key.span()),
                "[web]",
                name,
                first_line(e.message()),
            ),
            Ok(section) => {
                if let Some(bad) = section
                    .tokens
                    .iter()
                    .find(|t| inbound_web::Access::parse_token_hash(t).is_none())
                {
                    let shown: String = bad.chars().take(12).collect();
                    c.add(
                        v.span(),
                        "[web]",
                        name,
                        format!(
                            "{shown:?}... is not a token digest: write sha256:<64 hex digits> \
                             (`inbound serve --hash-token` prints it), never the token itself"
                        ),
                    );
                }
            }
        }
    }
    if c.problems.len() > before {
        return None;
    }
    WebSection::deserialize(ValueDeserializer::from(value.clone())).ok()
}

/// Deserializes a table holding only `key = value` as `T`: checks one key's name and type.
fn single_key<'de, T: Deserialize<'de>>(
    key: &Spanned<std::borrow::Cow<'de, str>>,
    value: &Spanned<DeValue<'de>>,
) -> Result<T, toml::de::Error> {
    let mut table = DeTable::new();
    table.insert(key.clone(), value.clone());
    let span = key.span().start..value.span().end;
    T::deserialize(ValueDeserializer::from(Spanned::new(
        span,
        DeValue::Table(table),
    )))
}

fn check_accounts(
    c: &mut Checker<'_>,
    value: &Spanned<DeValue<'_>>,
    base: &Path,
    out: &mut ConfigFile,
) {
    let Some(items) = value.get_ref().as_array() else {
        c.add(
            value.span(),
            "",
            "account",
            "must be an array of tables: write each account as [[account]]",
        );
        return;
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let Some(table) = item.get_ref().as_table() else {
            c.add(
                item.span(),
                "",
                "account",
                "each account must be a table ([[account]])",
            );
            continue;
        };
        let name = table
            .get("name")
            .and_then(|v| v.get_ref().as_str())
            .map(str::to_owned);
        let context = match &name {
            Some(n) => format!("account {n:?}"),
            None => format!("account #{}", index + 1),
        };
        if let Some(account) = check_account(c, item, table, &context) {
            if let Some(first) = names.get(&account.name) {
                let span = table.get("name").map_or(item.span(), |v| v.span());
                c.add(
                    span,
                    &context,
                    "name",
                    format!("is already used by account #{first}; names must be unique"),
                );
                continue;
            }
            names.insert(account.name.clone(), index + 1);
            let mut account = account;
            if let Some(ca) = &account.ca_file {
                account.ca_file = Some(base.join(ca));
            }
            out.accounts.push(account);
        }
    }
}

fn check_account(
    c: &mut Checker<'_>,
    item: &Spanned<DeValue<'_>>,
    table: &DeTable<'_>,
    context: &str,
) -> Option<Account> {
    let before = c.problems.len();
    for (key, v) in table.iter() {
        let name = key.get_ref().as_ref();
        if name == "oauth" {
            if let Some(oauth) = v.get_ref().as_table() {
                for (okey, ov) in oauth.iter() {
                    if let Err(e) = single_key::<OAuthConfig>(okey, ov) {
                        c.add(
                            e.span().unwrap_or(okey.span()),
                            context,
                            &format!("oauth.{}", okey.get_ref()),
                            first_line(e.message()),
                        );
                    }
                }
                continue;
            }
        }
        if let Err(e) = single_key::<AccountConfig>(key, v) {
            c.add(
                e.span().unwrap_or(key.span()),
                context,
                name,
                first_line(e.message()),
            );
        }
    }
    if c.problems.len() > before {
        return None;
    }
    let config = match AccountConfig::deserialize(ValueDeserializer::from(item.clone())) {
        Ok(config) => config,
        Err(e) => {
            c.add(
                e.span().unwrap_or(item.span()),
                context,
                "",
                first_line(e.message()),
            );
            return None;
        }
    };
    match config.validate() {
        Ok(account) => Some(account),
        Err(errors) => {
            for problem in &errors.problems {
                let span = field_span(table, problem.field).unwrap_or(item.span());
                c.add(span, context, problem.field, problem.message.clone());
            }
            None
        }
    }
}

/// The name `watch --exec`'s deliveries go under: no webhook may take it.
pub(crate) const EXEC_TARGET: &str = "exec";

fn check_webhooks(
    c: &mut Checker<'_>,
    value: &Spanned<DeValue<'_>>,
    base: &Path,
    out: &mut ConfigFile,
) {
    let Some(items) = value.get_ref().as_array() else {
        c.add(
            value.span(),
            "",
            "webhook",
            "must be an array of tables: write each webhook as [[webhook]]",
        );
        return;
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let Some(table) = item.get_ref().as_table() else {
            c.add(
                item.span(),
                "",
                "webhook",
                "each webhook must be a table ([[webhook]])",
            );
            continue;
        };
        let context = match table.get("name").and_then(|v| v.get_ref().as_str()) {
            Some(n) => format!("webhook {n:?}"),
            None => format!("webhook #{}", index + 1),
        };
        let before = c.problems.len();
        for (key, v) in table.iter() {
            if let Err(e) = single_key::<WebhookConfig>(key, v) {
                c.add(
                    e.span().unwrap_or(key.span()),
                    &context,
                    key.get_ref().as_ref(),
                    first_line(e.message()),
                );
            }
        }
        if c.problems.len() > before {
            continue;
        }
        let config = match WebhookConfig::deserialize(ValueDeserializer::from(item.clone())) {
            Ok(config) => config,
            Err(e) => {
                c.add(
                    e.span().unwrap_or(item.span()),
                    &context,
                    "",
                    first_line(e.message()),
                );
                continue;
            }
        };
        let mut webhook = match config.validate() {
            Ok(webhook) => webhook,
            Err(errors) => {
                for problem in &errors.problems {
                    let span = field_span(table, problem.field).unwrap_or(item.span());
                    c.add(span, &context, problem.field, problem.message.clone());
                }
                continue;
            }
        };
        let name_span = table.get("name").map_or(item.span(), |v| v.span());
        if webhook.name == EXEC_TARGET {
            c.add(
                name_span,
                &context,
                "name",
                format!("{EXEC_TARGET:?} is taken by `watch --exec`; choose another name"),
            );
            continue;
        }
        if let Some(first) = names.get(&webhook.name) {
            c.add(
                name_span,
                &context,
                "name",
                format!("is already used by webhook #{first}; names must be unique"),
            );
            continue;
        }
        names.insert(webhook.name.clone(), index + 1);
        if let Some(ca) = &webhook.ca_file {
            webhook.ca_file = Some(base.join(ca));
        }
        out.webhooks.push(webhook);
    }
}

/// The span of a field's value (`oauth.client_id` looks inside `[account.oauth]`), or of the
/// `oauth` table when the nested key is missing; `None` when the field is not written.
fn field_span(table: &DeTable<'_>, field: &str) -> Option<Range<usize>> {
    match field.split_once('.') {
        None => table.get(field).map(Spanned::span),
        Some((outer, inner)) => {
            let outer = table.get(outer)?;
            let nested = outer
                .get_ref()
                .as_table()
                .and_then(|t| t.get(inner))
                .map(Spanned::span);
            Some(nested.unwrap_or(outer.span()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        parse(text, "test.toml", Path::new("/base"))
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| {
                format!(
                    "{}:{} {} {} {}",
                    p.line, p.column, p.context, p.field, p.message
                )
            })
            .collect()
    }

    #[test]
    fn a_store_url_is_kept_secret_and_exclusive_with_a_path() {
        let file = parse(
            "[store]\nurl = \"postgresql://u:pw@db/inbound?sslmode=require\"\n",
            "t.toml",
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(file.store, None);
        let url = file.store_url.as_ref().unwrap();
        assert_eq!(url.expose(), "postgresql://u:pw@db/inbound?sslmode=require");
        assert!(!format!("{file:?}").contains("pw@"));

        let p = problems("[store]\npath = \"x.sqlite\"\nurl = \"postgresql://db/inbound\"\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("3:7 [store] url `path` and `url` are exclusive"),
            "{}",
            p[0]
        );
        let p = problems("[store]\nurl = \"mysql://secret@db\"\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("2:7 [store] url must be a PostgreSQL URL"),
            "{}",
            p[0]
        );
        assert!(!p[0].contains("secret"), "{}", p[0]);
        let p = problems("[store]\nurl = 5\n");
        assert!(p[0].starts_with("2:7 [store] url invalid type"), "{}", p[0]);
    }

    #[test]
    fn a_valid_file_resolves_paths_against_its_directory() {
        let file = parse(
            r#"
[store]
path = "mail.sqlite"

[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "me"
password_env = "PW"
ca_file = "ca.pem"
"#,
            "t.toml",
            Path::new("/etc/inbound"),
        )
        .unwrap();
        assert_eq!(file.store, Some(PathBuf::from("/etc/inbound/mail.sqlite")));
        assert_eq!(file.accounts.len(), 1);
        assert_eq!(
            file.accounts[0].ca_file,
            Some(PathBuf::from("/etc/inbound/ca.pem"))
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = r#"[store]
path = "x.sqlite"
colour = "red"

[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
port = "993"
username = "me"
frobnicate = true

[[account]]
name = "home"
protocol = "pop3"
host = "pop.example.com"
username = "me"
after_receive = "move"
timeout_secs = 0
"#;
        let p = problems(text);
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(
            p[0].starts_with("3:1 [store] colour unknown field"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("9:8 account \"work\" port invalid type"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("11:1 account \"work\" frobnicate unknown field"),
            "{}",
            p[2]
        );
        // Missing move_to is reported at the [[account]] header.
        assert!(
            p[3].starts_with("13:1 account \"home\" move_to is required"),
            "{}",
            p[3]
        );
        assert!(
            p[4].starts_with("18:17 account \"home\" after_receive \"move\" is not possible"),
            "{}",
            p[4]
        );
        assert!(
            p[5].starts_with("19:16 account \"home\" timeout_secs must be between 1"),
            "{}",
            p[5]
        );
    }

    #[test]
    fn syntax_errors_are_all_reported() {
        let p = problems("[[account]]\nname = \nhost = 'x'\nport = = 3\n");
        assert!(p.len() >= 2, "{p:#?}");
        assert!(p[0].starts_with("2:"), "{}", p[0]);
        assert!(p.iter().any(|l| l.starts_with("4:")), "{p:#?}");
    }

    #[test]
    fn oauth_fields_are_located_inside_the_oauth_table() {
        let text = r#"[[account]]
name = "m365"
protocol = "imap"
host = "outlook.office365.com"
username = "shared@contoso.com"

[account.oauth]
provider = "entra"
client_id = "app"
colour = 1
"#;
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("10:1 account \"m365\" oauth.colour unknown field"),
            "{}",
            p[0]
        );

        let text = text.replace("colour = 1\n", "");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:#?}");
        // tenant_id is missing: reported at the [account.oauth] table.
        assert!(p[0].contains("oauth.tenant_id is required"), "{}", p[0]);
        assert!(p[0].starts_with("7:") || p[0].starts_with("8:"), "{}", p[0]);
    }

    #[test]
    fn duplicate_names_and_unknown_sections() {
        let one =
            "[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n";
        let text = format!("{one}{one}[accounts]\nx = 1\n");
        let p = problems(&text);
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(
            p[0].starts_with("7:8 account \"a\" name is already used by account #1"),
            "{}",
            p[0]
        );
        assert!(p[1].contains("accounts unknown section"), "{}", p[1]);
    }

    #[test]
    fn webhooks_are_checked_like_accounts() {
        let text = r#"[[webhook]]
name = "app"
url = "https://app.example.com/hook"
secret_env = "APP_WHSEC"
accounts = ["work"]
retry_delay = "100ms"
ca_file = "ca.pem"

[[webhook]]
name = "exec"
url = "ftp://x"
timeout_secs = "5"

[[webhook]]
url = "http://127.0.0.1:9/"
secret_env = "S"
max_age = "forever"
"#;
        let p = problems(text);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(
            p[0].starts_with("12:16 webhook \"exec\" timeout_secs invalid type"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("14:1 webhook #3 name is required"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("17:11 webhook #3 max_age must be a duration"),
            "{}",
            p[2]
        );

        let ok = parse(
            &text[..text.find("\n\n").unwrap()],
            "t.toml",
            Path::new("/etc/i"),
        )
        .unwrap();
        assert_eq!(ok.webhooks.len(), 1);
        assert_eq!(ok.webhooks[0].accounts, Some(vec!["work".to_owned()]));
        assert_eq!(ok.webhooks[0].ca_file, Some(PathBuf::from("/etc/i/ca.pem")));
        let p = problems("[[webhook]]\nname = \"exec\"\nurl = \"http://h/\"\nsecret_env = \"S\"\n");
        assert!(p[0].contains("name \"exec\" is taken"), "{p:#?}");
    }

    #[test]
    fn positions_count_characters() {
        let lines = Lines::new("ab\ncdé f\n");
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(3), (2, 1));
        assert_eq!(lines.position(7), (2, 4));
    }
}
