//! The subscription bench: how long a silent connection keeps `inbound watch` deaf, as a
//! user sees it. The real `inbound` binary runs `inbound watch --json` as a child process
//! against a throwaway Dovecot through the test server's [`BlackholeRelay`]; once IDLE is
//! running, the relay falls silent (both sockets stay open, nothing is forwarded: a NAT box
//! that forgot the connection without a FIN or RST) and a message is delivered into
//! Dovecot with `doveadm save`. Measured: the time from the relay going silent to the child
//! printing the message's arrival line, with the times of the `lost`, `reconnecting` and
//! `resumed` state lines on the way.
//!
//! ```text
//! deaf [--settings test|defaults|both] [--rounds N] [--inbound PATH]
//! ```
//! `test`: `idle_renew_secs = 2`, `timeout_secs = 1`, `--rounds` silences (default 5) in one
//! watch. `defaults`: neither set (a 5-minute renewal and a 30-second timeout), one silence;
//! it takes about 5.5 minutes. Default `--settings test`. TCP keepalive stays at its
//! default: the relay's kernel answers its probes, so only the IDLE renewal (and the
//! watchdog behind it) can notice this silence.
//!
//! Needs Dovecot (`apt-get install dovecot-imapd dovecot-pop3d`) and the `inbound` binary,
//! looked for next to this one: `cargo build --release -p inbound -p inbound-benches --bin
//! deaf`, then `target/release/deaf`. Prints a table, then one line `JSON {...}`.

use std::error::Error;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use inbound_test_server::dovecot::{Dovecot, DovecotConfig};
use inbound_test_server::relay::BlackholeRelay;
use serde_json::{Value, json};

type BoxError = Box<dyn Error + Send + Sync>;

const USER: &str = "deaf";
const PASSWORD: &str = "deaf-bench-pw";

/// One set of account settings to measure.
#[derive(Debug, Clone, Copy)]
struct Setting {
    /// `test` or `defaults`.
    name: &'static str,
    /// Extra `[[account]]` lines.
    extra: &'static str,
    /// Silences in one watch.
    rounds: usize,
    /// The longest a round may take before the bench gives up.
    limit: Duration,
}

/// What one silence showed, in seconds after the relay fell silent.
#[derive(Debug, Default, Clone, Copy)]
struct Round {
    lost: Option<f64>,
    reconnecting: Option<f64>,
    resumed: Option<f64>,
    reported: f64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deaf: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let mut which = "test".to_owned();
    let mut rounds = 5usize;
    let mut inbound = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--settings" => which = value()?,
            "--rounds" => rounds = value()?.parse()?,
            "--inbound" => inbound = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let inbound = match inbound {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .ok_or("no directory for this binary")?
            .join("inbound"),
    };
    if !inbound.is_file() {
        return Err(format!(
            "no inbound binary at {} (build it: cargo build --release -p inbound)",
            inbound.display()
        )
        .into());
    }
    let test = Setting {
        name: "test",
        extra: "idle_renew_secs = 2\ntimeout_secs = 1\n",
        rounds: rounds.max(1),
        limit: Duration::from_secs(30),
    };
    let defaults = Setting {
        name: "defaults",
        extra: "",
        rounds: 1,
        // 5 minutes of renewal, 30 s for DONE's answer, the watchdog's 30 s more, margin.
        limit: Duration::from_secs(600),
    };
    let settings = match which.as_str() {
        "test" => vec![test],
        "defaults" => vec![defaults],
        "both" => vec![test, defaults],
        other => return Err(format!("--settings {other:?}: test, defaults or both").into()),
    };
    if !Dovecot::available() {
        return Err("Dovecot is not installed (apt-get install dovecot-imapd)".into());
    }
    let dovecot = Dovecot::start(DovecotConfig::default().with_user(USER, PASSWORD))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    eprintln!(
        "deaf: Dovecot {} on 127.0.0.1, {}",
        Dovecot::version().unwrap_or_default(),
        inbound.display()
    );

    let mut results = Vec::new();
    for setting in settings {
        let rounds = measure(&rt, &dovecot, &inbound, setting)?;
        results.push((setting, rounds));
    }

    println!("| settings | round | lost | reconnecting | resumed | arrival printed |");
    println!("|---|---|---|---|---|---|");
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} s"));
    for (setting, rounds) in &results {
        for (i, r) in rounds.iter().enumerate() {
            println!(
                "| {} | {} | {} | {} | {} | {:.2} s |",
                setting.name,
                i + 1,
                secs(r.lost),
                secs(r.reconnecting),
                secs(r.resumed),
                r.reported
            );
        }
    }
    let json = json!({
        "dovecot": Dovecot::version().unwrap_or_default(),
        "settings": results.iter().map(|(s, rounds)| json!({
            "name": s.name,
            "account": s.extra,
            "rounds": rounds.iter().map(|r| json!({
                "lost_s": r.lost,
                "reconnecting_s": r.reconnecting,
                "resumed_s": r.resumed,
                "reported_s": r.reported,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    println!("JSON {json}");
    Ok(())
}

/// One watch with `setting`: `setting.rounds` silences, each with a delivery.
fn measure(
    rt: &tokio::runtime::Runtime,
    dovecot: &Dovecot,
    inbound: &Path,
    setting: Setting,
) -> Result<Vec<Round>, BoxError> {
    let relay = rt.block_on(BlackholeRelay::start(dovecot.imaps_addr()))?;
    let dir = tempfile::tempdir()?;
    let config = format!(
        "[store]\npath = \"inbound.sqlite\"\n\n[[account]]\nname = \"relayed\"\n\
         protocol = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"tls\"\n\
         username = \"{USER}\"\npassword = \"{PASSWORD}\"\nca_file = {ca:?}\n\
         subscribe = true\n{extra}",
        port = relay.addr().port(),
        ca = dovecot.ca_file().display().to_string(),
        extra = setting.extra,
    );
    std::fs::write(dir.path().join("inbound.toml"), config)?;
    let mut child = Command::new(inbound)
        .args(["watch", "--json"])
        .current_dir(dir.path())
        .env_remove("INBOUND_CONFIG")
        .env_remove("INBOUND_STORE")
        .env_remove("INBOUND_ENCRYPTION_KEY")
        .env_remove("INBOUND_LOG")
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut watch = Watch::new(&mut child)?;
    let result = rounds(dovecot, &relay, &mut watch, setting);
    stop(&mut child);
    let stderr = watch.stderr.take().map(|h| h.join());
    match result {
        Ok(rounds) => Ok(rounds),
        Err(e) => {
            let stderr = match stderr {
                Some(Ok(text)) => text,
                _ => String::new(),
            };
            Err(format!(
                "{} settings: {e}\ninbound's standard error:\n{stderr}",
                setting.name
            )
            .into())
        }
    }
}

fn rounds(
    dovecot: &Dovecot,
    relay: &BlackholeRelay,
    watch: &mut Watch,
    setting: Setting,
) -> Result<Vec<Round>, BoxError> {
    watch.wait(Duration::from_secs(30), |l| l["state"] == "subscribed")?;
    let mut out = Vec::new();
    for i in 1..=setting.rounds {
        // IDLE is running by then (the catch-up of an empty or known mailbox is quick).
        std::thread::sleep(Duration::from_millis(1000));
        let silent = Instant::now();
        relay.blackhole();
        let subject = format!("Delivered while deaf {i}");
        let raw = format!(
            "From: Sender <sender@example.test>\r\nTo: {USER}@example.test\r\n\
             Subject: {subject}\r\nMessage-ID: <deaf-{i}-{}@example.test>\r\n\r\nBody.\r\n",
            std::process::id()
        );
        dovecot.save(USER, "INBOX", raw.as_bytes())?;
        eprintln!(
            "deaf: {} round {i}: relay silent, message delivered; waiting",
            setting.name
        );
        let mut round = Round::default();
        let since = |at: Instant| (at - silent).as_secs_f64();
        let deadline = silent + setting.limit;
        let mut reported = None;
        while reported.is_none() || round.resumed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = watch.next(left)?;
            match line["state"].as_str() {
                Some("lost") => round.lost = round.lost.or(Some(since(at))),
                Some("reconnecting") => {
                    round.reconnecting = round.reconnecting.or(Some(since(at)));
                }
                Some("resumed") => {
                    if line["caught_up"] != 1 {
                        return Err(
                            format!("resumed with {} caught up, not 1", line["caught_up"]).into(),
                        );
                    }
                    round.resumed = Some(since(at));
                }
                Some(_) => {}
                None if line["subject"] == subject.as_str() => {
                    if reported.is_some() {
                        return Err(format!("{subject:?} reported twice").into());
                    }
                    reported = Some(since(at));
                }
                None => return Err(format!("an arrival not delivered here: {line}").into()),
            }
        }
        round.reported = reported.unwrap_or_default();
        eprintln!(
            "deaf: {} round {i}: reported after {:.2} s",
            setting.name, round.reported
        );
        out.push(round);
    }
    Ok(out)
}

/// The child's standard output as timestamped JSON lines; its standard error collected.
struct Watch {
    lines: mpsc::Receiver<(Instant, Value)>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Watch {
    fn new(child: &mut Child) -> Result<Self, BoxError> {
        let out = child.stdout.take().ok_or("no standard output")?;
        let mut err = child.stderr.take().ok_or("no standard error")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send((at, value)).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Ok(Self {
            lines,
            stderr: Some(stderr),
        })
    }

    /// The next line, within `limit`.
    fn next(&self, limit: Duration) -> Result<(Instant, Value), BoxError> {
        self.lines
            .recv_timeout(limit)
            .map_err(|_| format!("no line from inbound watch within {limit:?}").into())
    }

    /// Skips to the first line `wanted` accepts.
    fn wait(&self, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Result<(), BoxError> {
        let deadline = Instant::now() + limit;
        loop {
            let (_, line) = self.next(deadline.saturating_duration_since(Instant::now()))?;
            if wanted(&line) {
                return Ok(());
            }
        }
    }
}

/// Stops the watch as Ctrl-C would (SIGTERM), killing it if it does not exit.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
