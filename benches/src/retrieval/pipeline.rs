//! The whole `inbound fetch` pipeline against Dovecot, and where its time goes.
//!
//! - `inbound-fetch`: [`Retriever::retrieve`] with [`NetConnector`] over IMAP into a fresh
//!   SQLite file store (WAL, `synchronous=FULL`), as `inbound fetch` does: fetch, parse
//!   (mail-parser) on worker threads while the previous batch is written, store in one
//!   transaction per batch of 100. The account sanitizes HTML, which the store does when a
//!   message is read (the breakdown times that read).
//! - `inbound-fetch-nosanitize`: the same with `sanitize_html = false`.
//! - `pipeline-breakdown`: the stages one after the other over the same messages, each timed
//!   alone on one thread (a [`Breakdown`]), with the store variants that show what the
//!   batch commit and its fsync cost.
//!
//! Stores go to a temp dir on the disk the machine writes to (`TMPDIR`), so commits pay a
//! real fsync.

use std::time::{Duration, Instant};

use bytes::Bytes;
use inbound_message::{Email, InlineImages, SanitizeConfig};
use inbound_net::imap::{ImapClient, ImapConfig, SequenceSet};
use inbound_net::{Credentials, Secret};
use inbound_retrieve::account::{FetchName, Security};
use inbound_retrieve::{Account, AccountConfig, MailProtocol, NetConnector, NoEvents, Retriever};
use inbound_store::{MessageId, NewMessage, SanitizeHtml, ServerRef, Store};
use serde::{Deserialize, Serialize};

use super::BoxError;
use super::clients::Target;
use super::stats::{self, ClientReport};

/// The pipeline clients, by the name given to `--client`.
pub const PIPELINE_CLIENTS: &[&str] = &["inbound-fetch", "inbound-fetch-nosanitize"];

/// Messages per store transaction (the account default of `inbound fetch`).
pub const BATCH: usize = 100;

/// Messages stored one per transaction in the breakdown (each commit syncs the disk).
const SINGLE_COMMITS: usize = 200;

/// One stage of the pipeline, timed alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// What was timed.
    pub name: String,
    /// Messages it handled.
    pub messages: u64,
    /// Its time in milliseconds.
    pub ms: f64,
    /// The CPU time of the thread that ran it, in milliseconds (steadier than `ms` on a
    /// loaded machine; excludes waiting for the disk or the network).
    #[serde(default)]
    pub cpu_ms: f64,
}

impl Stage {
    /// Microseconds (wall) per message.
    pub fn us_per_message(&self) -> f64 {
        per_message(self.ms, self.messages)
    }

    /// Microseconds of CPU per message.
    pub fn cpu_us_per_message(&self) -> f64 {
        per_message(self.cpu_ms, self.messages)
    }
}

fn per_message(ms: f64, messages: u64) -> f64 {
    if messages == 0 {
        0.0
    } else {
        ms * 1000.0 / messages as f64
    }
}

/// The JSON line of `pipeline-breakdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Always `pipeline-breakdown` (tells the line apart from a [`ClientReport`]).
    pub breakdown: String,
    /// Messages fetched.
    pub messages: u64,
    /// Their octets.
    pub bytes: u64,
    /// The stages in pipeline order.
    pub stages: Vec<Stage>,
}

/// Finds the last line of `stdout` that parses as a [`Breakdown`].
pub fn parse_breakdown(stdout: &str) -> Option<Breakdown> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Breakdown>(l.trim()).ok())
        .filter(|b| b.breakdown == "pipeline-breakdown")
}

fn account(t: &Target, sanitize: bool) -> Result<Account, BoxError> {
    let config = AccountConfig {
        name: Some("bench".to_owned()),
        protocol: Some(MailProtocol::Imap),
        host: Some("127.0.0.1".to_owned()),
        port: Some(i64::from(t.port)),
        security: Some(if t.tls {
            Security::Tls
        } else {
            Security::Plaintext
        }),
        username: Some(t.user.clone()),
        password: Some(Secret::new(t.password.clone())),
        ca_file: Some(t.ca_file.clone()),
        fetch: Some(FetchName::All),
        batch_size: Some(BATCH as i64),
        sanitize_html: Some(sanitize),
        timeout_secs: Some(120),
        ..AccountConfig::default()
    };
    config
        .validate()
        .map_err(|e| format!("bench account: {e}").into())
}

fn temp_store(dir: &tempfile::TempDir) -> Result<Store, BoxError> {
    Ok(Store::open(dir.path().join("bench.sqlite3"), None)?)
}

/// Runs `inbound-fetch` or `inbound-fetch-nosanitize`: one [`Retriever::retrieve`] into a
/// fresh file store. `fetch_ms` is the retrieve call; `messages` and `bytes` are the run's
/// report, checked against the store's count.
///
/// # Errors
/// Whatever failed; a store holding another number of messages than the report says.
pub fn run_pipeline(name: &str, t: &Target) -> Result<ClientReport, BoxError> {
    let sanitize = match name {
        "inbound-fetch" => true,
        "inbound-fetch-nosanitize" => false,
        other => return Err(format!("unknown pipeline client `{other}`").into()),
    };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let store = inbound_retrieve::share(temp_store(&dir)?);
    let account = account(t, sanitize)?;
    let retriever = Retriever::new(store.clone(), NetConnector::new());
    let credentials = Credentials::password(&t.user, t.password.as_str());
    let fetch_started = Instant::now();
    let report =
        runtime.block_on(retriever.retrieve_with(&account, &credentials, &mut NoEvents))?;
    let fetch = fetch_started.elapsed();
    let stored = store
        .lock()
        .map_err(|_| "store lock poisoned")?
        .count_messages(&inbound_store::MessageFilter::account("bench"))?;
    if stored != report.fetched {
        return Err(format!(
            "the run reports {} messages fetched but the store holds {stored}",
            report.fetched
        )
        .into());
    }
    let session = started.elapsed();
    Ok(ClientReport {
        client: name.to_owned(),
        security: if t.tls { "tls" } else { "plain" }.to_owned(),
        messages: report.fetched,
        bytes: report.bytes,
        session_ms: ms(session),
        fetch_ms: ms(fetch),
        cpu_ms: stats::cpu_ms(),
        peak_rss_kb: stats::peak_rss_kb(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Wall and thread CPU time since it was started.
struct Timer {
    wall: Instant,
    cpu_ms: f64,
}

impl Timer {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu_ms: stats::thread_cpu_ms(),
        }
    }

    fn stage(&self, name: &str, messages: usize) -> Stage {
        Stage {
            name: name.to_owned(),
            messages: messages as u64,
            ms: ms(self.wall.elapsed()),
            cpu_ms: stats::thread_cpu_ms() - self.cpu_ms,
        }
    }
}

/// Runs `pipeline-breakdown`: fetches every message with [`ImapClient`], then parses,
/// sanitizes and stores them, each stage timed alone.
///
/// # Errors
/// Whatever failed.
pub fn run_breakdown(t: &Target) -> Result<Breakdown, BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut stages = Vec::new();

    let timer = Timer::start();
    let (uidvalidity, bodies) = runtime.block_on(fetch_all(t))?;
    stages.push(timer.stage(
        "network: connect, login, UID FETCH, bodies kept (inbound-net)",
        bodies.len(),
    ));
    let bytes: u64 = bodies.iter().map(|b| b.1.len() as u64).sum();

    let timer = Timer::start();
    let emails: Vec<Email> = bodies
        .iter()
        .map(|(_, body)| Email::parse(body.clone()))
        .collect();
    stages.push(timer.stage("parse (mail-parser, Email::parse)", emails.len()));

    let timer = Timer::start();
    let options = SanitizeConfig::default();
    let sanitized: Vec<Option<String>> = emails
        .iter()
        .map(|e| e.sanitized_html(&InlineImages::Keep, &options))
        .collect();
    stages.push(timer.stage("sanitize HTML (ammonia)", sanitized.len()));

    let refs: Vec<ServerRef> = bodies
        .iter()
        .map(|(uid, _)| ServerRef::Imap {
            uidvalidity,
            uid: *uid,
        })
        .collect();
    drop(sanitized);
    // As `inbound fetch` stores for an account that sanitizes: the mode is recorded, the
    // HTML is sanitized when read.
    let mode = SanitizeHtml::keep_cid();
    let new: Vec<NewMessage<'_>> = emails
        .iter()
        .zip(&refs)
        .map(|(e, r)| NewMessage::new("bench", "INBOX", r, e).with_sanitize(Some(&mode)))
        .collect();

    let dir = tempfile::tempdir()?;
    let mut store = temp_store(&dir)?;
    let timer = Timer::start();
    for chunk in new.chunks(BATCH) {
        store.insert_messages(chunk)?;
    }
    stages.push(timer.stage(
        &format!("store: {BATCH} messages per transaction (file, WAL, synchronous=FULL)"),
        new.len(),
    ));
    let reads = new.len().min(SINGLE_COMMITS);
    let timer = Timer::start();
    for id in 1..=reads {
        let m = store
            .get_message(MessageId(id as i64))?
            .ok_or("a stored message is missing")?;
        if m.email.html.is_some() && m.sanitized_html.is_none() {
            return Err("a message read back has no sanitized HTML".into());
        }
    }
    stages.push(timer.stage(
        "read: get_message (parse the raw message, sanitize its HTML)",
        reads,
    ));
    drop(store);

    let mut memory = Store::open_in_memory(None)?;
    let timer = Timer::start();
    for chunk in new.chunks(BATCH) {
        memory.insert_messages(chunk)?;
    }
    stages.push(timer.stage(
        &format!("store: {BATCH} per transaction in memory (no disk, no fsync)"),
        new.len(),
    ));
    drop(memory);

    let dir = tempfile::tempdir()?;
    let mut store = temp_store(&dir)?;
    let single = &new[..new.len().min(SINGLE_COMMITS)];
    let timer = Timer::start();
    for message in single {
        store.insert_message(message)?;
    }
    stages.push(timer.stage(
        "store: 1 message per transaction (file; each commit syncs)",
        single.len(),
    ));

    Ok(Breakdown {
        breakdown: "pipeline-breakdown".to_owned(),
        messages: bodies.len() as u64,
        bytes,
        stages,
    })
}

async fn fetch_all(t: &Target) -> Result<(u32, Vec<(u32, Bytes)>), BoxError> {
    let config = ImapConfig::new(
        "127.0.0.1",
        if t.tls {
            inbound_net::Security::Tls
        } else {
            inbound_net::Security::Plaintext
        },
    )
    .with_port(t.port)
    .with_tls(
        inbound_net::TlsConfig::new()
            .with_builtin_roots(false)
            .with_ca_file(&t.ca_file),
    )
    .with_timeout(Duration::from_secs(120));
    let mut client = ImapClient::connect(&config).await?;
    client
        .login(&Credentials::password(&t.user, t.password.as_str()), None)
        .await?;
    let status = client.select("INBOX").await?;
    let mut bodies = Vec::new();
    let mut stream = client.uid_fetch_bodies(&SequenceSet::all())?;
    while let Some(message) = stream.next().await {
        let message = message?;
        bodies.push((message.uid, message.body));
    }
    drop(stream);
    client.logout().await?;
    Ok((status.uidvalidity.unwrap_or(0), bodies))
}
