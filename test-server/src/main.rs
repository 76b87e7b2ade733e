//! `inbound-test-server`: runs Inbound's fake mail server on 127.0.0.1 until SIGINT or
//! SIGTERM. Run `inbound-test-server --help` (or `cargo xtask test-server --help`) for the
//! flags.

use std::io::{self, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use inbound_test_server::faults::{
    Blackhole, Dribble, FaultPlan, Faults, MessageFault, ThrottleAnswer,
};
use inbound_test_server::server::{ServerConfig, TestServer, UserSpec};
use tracing_subscriber::EnvFilter;

const AFTER_HELP: &str = "\
Default ports (non-privileged): IMAP 1143, IMAPS 1993, POP3 1110, POP3S 1995, OAuth 18080.
Give 0 for any of them to pick a free port.

Once listening, exactly one line goes to standard output:
  READY imap=127.0.0.1:P imaps=127.0.0.1:P pop3=127.0.0.1:P pop3s=127.0.0.1:P oauth=http://127.0.0.1:P ca=PATH
(a service that is not running shows as `none`). Clients trust the CA in PATH; tokens come
from POST {oauth}/{tenant}/oauth2/v2.0/token (client credentials).

Without --mail-dir every user's INBOX holds the sample mailbox. With it, mail is loaded
from DIR/<user>/<folder>/*.eml and new files there are delivered as they appear; users
found only in DIR get the password `demo`.";

/// Inbound's fake IMAP/POP3 server, with STARTTLS/STLS, implicit TLS, XOAUTH2 and a fake
/// OAuth 2.0 token endpoint, all on 127.0.0.1.
#[derive(Parser)]
#[command(name = "inbound-test-server", version, after_help = AFTER_HELP)]
struct Args {
    /// IMAP port (STARTTLS available).
    #[arg(long, value_name = "PORT", default_value_t = 1143)]
    imap_port: u16,
    /// IMAPS port (implicit TLS).
    #[arg(long, value_name = "PORT", default_value_t = 1993)]
    imaps_port: u16,
    /// POP3 port (STLS available).
    #[arg(long, value_name = "PORT", default_value_t = 1110)]
    pop3_port: u16,
    /// POP3S port (implicit TLS).
    #[arg(long, value_name = "PORT", default_value_t = 1995)]
    pop3s_port: u16,
    /// OAuth 2.0 token endpoint port (HTTP).
    #[arg(long, value_name = "PORT", default_value_t = 18080)]
    oauth_port: u16,
    /// A user; repeatable. Default: demo:demo.
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    users: Vec<UserSpec>,
    /// An OAuth client allowed to open every mailbox with its client-credentials tokens;
    /// repeatable. Default: inbound-demo:demo-secret.
    #[arg(long = "oauth-client", value_name = "ID:SECRET", value_parser = parse_user)]
    oauth_clients: Vec<UserSpec>,
    /// Seed mail from DIR/<user>/<folder>/*.eml and watch DIR for new files.
    #[arg(long, value_name = "DIR")]
    mail_dir: Option<PathBuf>,
    /// Write ca.pem, cert.pem and key.pem here (default: a temporary directory removed at
    /// exit).
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Refuse logins until the connection uses TLS.
    #[arg(long)]
    login_disabled_before_tls: bool,
    /// Hide an IMAP capability (SASL-IR, LITERAL+, AUTH=PLAIN, STARTTLS, MOVE, UIDPLUS, ...):
    /// not advertised, and what it stands for is refused; repeatable. `AUTH=<MECHANISM>`
    /// also hides the SASL mechanism from POP3 (`CAPA` and `AUTH`).
    #[arg(long = "hide-capability", value_name = "NAME")]
    hide_capabilities: Vec<String>,
    /// Make one message fail, by UID (POP3: its INBOX UID): `refused` (IMAP: left out of a
    /// body FETCH that ends `NO Some messages could not be FETCHed`; POP3: `RETR` -ERR),
    /// `left-out` (left out of a body FETCH that ends OK), `nil-body` (`BODY[] NIL`; POP3:
    /// an empty message), `partial-body` (`BODY[]<0>` with half the message), `truncated=N`
    /// (only N octets of `BODY[]`), `size=N` (RFC822.SIZE and POP3 LIST announce N);
    /// repeatable, e.g. `--message-fault 2:refused`.
    #[arg(long = "message-fault", value_name = "UID:KIND")]
    message_faults: Vec<MessageFault>,
    /// POP3 UIDLs are the message numbers, like a server whose counter restarted: a new
    /// message takes the UIDL of one deleted before.
    #[arg(long)]
    pop3_uidl_by_number: bool,
    /// Fault: answer the IMAP command NAME (e.g. `SELECT`) with `* 1 EXISTS` forever.
    #[arg(long = "flood-untagged", value_name = "COMMAND")]
    flood_untagged: Option<String>,
    /// Fault: from the answer to COMMAND (`UID FETCH`, `RETR`, ...) on, write one byte every
    /// MILLIS milliseconds.
    #[arg(long, value_name = "COMMAND:MILLIS", value_parser = parse_dribble)]
    dribble: Option<Dribble>,
    /// Fault: POP3 LIST and STAT report OCTETS as every message's size (18446744073709551615
    /// to overflow a client's sums).
    #[arg(long = "pop3-listed-size", value_name = "OCTETS")]
    pop3_listed_size: Option<u64>,
    /// Close sessions idle this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    auto_logout: u64,
    /// Blackhole sessions (fall silent for good, socket kept open, like a NAT box that
    /// forgot the connection): `idle` once IDLE is accepted, or a number of bytes written.
    #[arg(long, value_name = "idle|BYTES", value_parser = parse_blackhole)]
    blackhole: Option<Blackhole>,
    /// How many sessions --blackhole applies to, from the first (0: every session).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "blackhole")]
    blackhole_sessions: u32,
    /// Fault: answer logins (IMAP LOGIN/AUTHENTICATE, POP3 PASS/AUTH/APOP) with a server's
    /// throttling answer: `gmail-bye` (`* BYE [ALERT] Too many simultaneous connections.`,
    /// then close), `gmail-no` (`NO [ALERT] Too many simultaneous connections.`),
    /// `m365-backoff=MILLIS` (`NO Request is throttled. Suggested Backoff Time: MILLIS
    /// milliseconds`), `m365-not-connected` (`NO User is authenticated but not
    /// connected.`), `in-use` (POP3 `-ERR [IN-USE]`).
    #[arg(long, value_name = "ANSWER")]
    throttle_login: Option<ThrottleAnswer>,
    /// How many sessions --throttle-login applies to, from the first (0: every session).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "throttle_login"
    )]
    throttle_sessions: u32,
    /// Log session transcripts (credentials redacted) and server events to standard error.
    #[arg(long)]
    trace: bool,
}

/// Splits `NAME:PASSWORD` at the first colon.
fn parse_user(value: &str) -> Result<UserSpec, String> {
    match value.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok(UserSpec {
            name: name.to_owned(),
            password: password.to_owned(),
        }),
        _ => Err("expected NAME:PASSWORD".to_owned()),
    }
}

/// Splits `COMMAND:MILLIS` at the last colon.
fn parse_dribble(value: &str) -> Result<Dribble, String> {
    let (command, millis) = value
        .rsplit_once(':')
        .ok_or_else(|| "expected COMMAND:MILLIS".to_owned())?;
    let millis: u64 = millis
        .parse()
        .map_err(|_| format!("{millis:?} is not a number of milliseconds"))?;
    if command.is_empty() {
        return Err("expected COMMAND:MILLIS".to_owned());
    }
    Ok(Dribble::from_command(
        command,
        Duration::from_millis(millis),
    ))
}

/// `idle` or a number of bytes.
fn parse_blackhole(value: &str) -> Result<Blackhole, String> {
    if value.eq_ignore_ascii_case("idle") {
        return Ok(Blackhole::AfterIdleAccepted);
    }
    value
        .parse::<usize>()
        .map(Blackhole::AfterBytes)
        .map_err(|_| format!("expected `idle` or a number of bytes, got {value:?}"))
}

fn config(args: &Args) -> ServerConfig {
    let mut config = ServerConfig::default()
        .imap_ports(args.imap_port, args.imaps_port)
        .pop3_ports(args.pop3_port, args.pop3s_port)
        .oauth_port(args.oauth_port)
        .login_disabled_before_tls(args.login_disabled_before_tls)
        .auto_logout(Duration::from_secs(args.auto_logout.max(1)));
    config.users.clone_from(&args.users);
    if args.oauth_clients.is_empty() {
        config = config.oauth_client("inbound-demo", "demo-secret");
    }
    for client in &args.oauth_clients {
        config = config.oauth_client(&client.name, &client.password);
    }
    for name in &args.hide_capabilities {
        config = config.hide_capability(name);
    }
    if let Some(dir) = &args.mail_dir {
        config = config.mail_dir(dir);
    }
    if let Some(dir) = &args.cert_dir {
        config = config.cert_dir(dir);
    }
    config.faults.set_default(faults(args));
    if let Some(blackhole) = args.blackhole {
        let blackholed = Faults {
            blackhole: Some(blackhole),
            ..faults(args)
        };
        if args.blackhole_sessions == 0 {
            config.faults.set_default(blackholed);
        } else {
            config
                .faults
                .push_plan(FaultPlan::new(blackholed, args.blackhole_sessions));
        }
    }
    if let Some(answer) = args.throttle_login {
        let throttled = Faults {
            login_throttle: Some(answer),
            ..faults(args)
        };
        if args.throttle_sessions == 0 {
            config.faults.set_default(throttled);
        } else {
            config
                .faults
                .push_plan(FaultPlan::new(throttled, args.throttle_sessions));
        }
    }
    config
}

/// The faults every session gets.
fn faults(args: &Args) -> Faults {
    Faults {
        message_faults: args.message_faults.clone(),
        pop3_uidl_by_number: args.pop3_uidl_by_number,
        untagged_flood: args.flood_untagged.clone(),
        dribble: args.dribble.clone(),
        pop3_listed_size: args.pop3_listed_size,
        ..Faults::default()
    }
}

fn init_logging(trace: bool) {
    let default = if trace {
        "inbound_test_server=debug"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(trace)
        .init();
}

/// Waits for SIGINT or SIGTERM.
#[cfg(unix)]
fn signals() -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
fn signals() -> io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn run(args: Args) -> io::Result<()> {
    // Handlers first, so a signal right after READY is not fatal.
    let stop = signals()?;
    let server = TestServer::start(config(&args)).await?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", server.ready_line())?;
    stdout.flush()?;
    drop(stdout);
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.trace);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inbound-test-server: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use inbound_test_server::faults::MessageFaultKind;

    #[test]
    fn hide_capability_is_repeatable_and_case_insensitive() {
        let args = Args::try_parse_from([
            "inbound-test-server",
            "--hide-capability",
            "sasl-ir",
            "--hide-capability=MOVE",
        ])
        .map_err(|e| e.to_string());
        let config = config(&args.unwrap_or_else(|e| panic!("{e}")));
        let hidden: Vec<&str> = config
            .hidden_capabilities
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(hidden, ["MOVE", "SASL-IR"]);
    }

    #[test]
    fn message_faults_parse_and_bad_ones_are_refused() {
        let args = Args::try_parse_from([
            "inbound-test-server",
            "--message-fault",
            "2:refused",
            "--message-fault=7:truncated=10",
            "--message-fault=3:size=314572800",
            "--pop3-uidl-by-number",
        ])
        .map_err(|e| e.to_string());
        let faults = faults(&args.unwrap_or_else(|e| panic!("{e}")));
        assert!(faults.pop3_uidl_by_number);
        assert_eq!(
            faults.message_faults,
            [
                MessageFault::new(2, MessageFaultKind::Refused),
                MessageFault::new(7, MessageFaultKind::Truncated(10)),
                MessageFault::new(3, MessageFaultKind::ClaimedSize(314_572_800)),
            ]
        );
        for bad in ["2", "x:refused", "2:lost", "2:truncated=x"] {
            assert!(
                Args::try_parse_from(["inbound-test-server", "--message-fault", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn fault_flags_set_every_sessions_faults() {
        let args = Args::try_parse_from([
            "inbound-test-server",
            "--flood-untagged",
            "SELECT",
            "--dribble",
            "UID FETCH:250",
            "--pop3-listed-size",
            "18446744073709551615",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let faults = config(&args).faults.next_session();
        assert!(faults.floods("select"));
        assert_eq!(
            faults.dribble_for("UID FETCH"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(faults.pop3_listed_size, Some(u64::MAX));
        assert!(Args::try_parse_from(["inbound-test-server", "--dribble", "RETR"]).is_err());
    }

    #[test]
    fn blackhole_flag_sets_a_plan_or_the_default() {
        let parse = |args: &[&str]| {
            let mut all = vec!["inbound-test-server"];
            all.extend_from_slice(args);
            config(&Args::try_parse_from(all).unwrap_or_else(|e| panic!("{e}")))
        };
        let first = parse(&["--blackhole", "idle"]);
        assert_eq!(
            first.faults.next_session().blackhole,
            Some(Blackhole::AfterIdleAccepted)
        );
        assert_eq!(first.faults.next_session().blackhole, None);
        let every = parse(&["--blackhole=300", "--blackhole-sessions", "0"]);
        for _ in 0..3 {
            assert_eq!(
                every.faults.next_session().blackhole,
                Some(Blackhole::AfterBytes(300))
            );
        }
        assert!(Args::try_parse_from(["inbound-test-server", "--blackhole", "soon"]).is_err());
    }
}
