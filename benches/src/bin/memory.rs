//! The memory bench: peak RSS retrieving one large message (IMAP `uid_fetch_bodies`, POP3
//! `retr` and `retr_stream`), and RSS plus notification latency (p50/p99) for many
//! concurrent IMAP IDLE sessions against the test server in another process; and the peak
//! RSS of the real `inbound` binary fetching, showing and exporting large messages from
//! Dovecot ([`inbound_benches::memory::binary`]).
//!
//! ```text
//! memory [--quick] [--message-mb N] [--sessions N] [--tls-sessions N] [--rounds N]
//!        [--concurrency N] [--only large|idle|binary] [--binary-mb N,N,...]
//!        [--inbound PATH]
//! ```
//! The binary case needs Dovecot, GNU time and the `inbound` binary (by default the one next
//! to this binary: `cargo build --release -p inbound`); it is skipped, saying why, when one
//! is missing, unless `--only binary`. Messages of 10, 50 and 100 MB by default (2 MB and no
//! concurrent case with `--quick`).
//! Defaults: a 100 MB message, 10,000 plaintext sessions, 1,000 TLS sessions, 3 rounds,
//! 200 sessions set up at a time. `--quick`: 2 MB, 200 and 20 sessions, 2 rounds (a smoke
//! run for CI). Prints a table, then one line `JSON {...}` with the figures.
//!
//! Server instructions per delivery: run with `INBOUND_BENCH_SERVER_WRAP="valgrind
//! --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p"` (see
//! [`inbound_benches::memory::server`]); the dump `/tmp/cg.PID.1` counts the deliveries only.
//!
//! Internal modes (the bench re-executes itself): `--serve [--large-bytes N]`,
//! `--fetch-child METHOD --port P --size N`, `--idle-child --sessions N --rounds N
//! --concurrency N [--tls]`.

use std::process::ExitCode;

use inbound_benches::memory::binary;
use inbound_benches::memory::idle::{self, IdleOptions, IdleResult};
use inbound_benches::memory::large::{self, Method};
use inbound_benches::memory::report::Report;
use inbound_benches::memory::{BoxError, RESULT_PREFIX, server};

/// The command line, parsed.
#[derive(Debug)]
struct Args {
    quick: bool,
    message_bytes: usize,
    sessions: usize,
    tls_sessions: usize,
    rounds: usize,
    concurrency: usize,
    only: Option<String>,
    serve: bool,
    large_bytes: Option<usize>,
    fetch_child: Option<String>,
    idle_child: bool,
    tls: bool,
    port: u16,
    binary_mb: Vec<usize>,
    inbound: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        quick: false,
        message_bytes: 100_000_000,
        sessions: 10_000,
        tls_sessions: 1_000,
        rounds: 3,
        concurrency: 200,
        only: None,
        serve: false,
        large_bytes: None,
        fetch_child: None,
        idle_child: false,
        tls: false,
        port: 0,
        binary_mb: vec![10, 50, 100],
        inbound: None,
    };
    let mut explicit = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<String, BoxError> {
            it.next()
                .ok_or_else(|| format!("{name} needs a value").into())
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--message-mb" => {
                a.message_bytes = value(&arg)?.parse::<usize>()? * 1_000_000;
                explicit.push("message");
            }
            "--size" => a.message_bytes = value(&arg)?.parse()?,
            "--sessions" => {
                a.sessions = value(&arg)?.parse()?;
                explicit.push("sessions");
            }
            "--tls-sessions" => {
                a.tls_sessions = value(&arg)?.parse()?;
                explicit.push("tls");
            }
            "--rounds" => {
                a.rounds = value(&arg)?.parse()?;
                explicit.push("rounds");
            }
            "--concurrency" => a.concurrency = value(&arg)?.parse()?,
            "--only" => a.only = Some(value(&arg)?),
            "--serve" => a.serve = true,
            "--large-bytes" => a.large_bytes = Some(value(&arg)?.parse()?),
            "--fetch-child" => a.fetch_child = Some(value(&arg)?),
            "--idle-child" => a.idle_child = true,
            "--tls" => a.tls = true,
            "--port" => a.port = value(&arg)?.parse()?,
            "--binary-mb" => {
                a.binary_mb = value(&arg)?
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?;
                explicit.push("binary");
            }
            "--inbound" => a.inbound = Some(value(&arg)?.into()),
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            "-h" | "--help" => {
                println!(
                    "usage: memory [--quick] [--message-mb N] [--sessions N] [--tls-sessions N] \
                     [--rounds N] [--concurrency N] [--only large|idle|binary] \
                     [--binary-mb N,N,...] [--inbound PATH]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if a.quick {
        if !explicit.contains(&"message") {
            a.message_bytes = 2_000_000;
        }
        if !explicit.contains(&"sessions") {
            a.sessions = 200;
        }
        if !explicit.contains(&"tls") {
            a.tls_sessions = 20;
        }
        if !explicit.contains(&"rounds") {
            a.rounds = 2;
        }
        if !explicit.contains(&"binary") {
            a.binary_mb = vec![2];
        }
    }
    Ok(a)
}

fn print_result<T: serde::Serialize>(value: &T) -> Result<(), BoxError> {
    println!("{RESULT_PREFIX}{}", serde_json::to_string(value)?);
    Ok(())
}

async fn run_idle(args: &Args, sessions: usize, tls: bool) -> Result<IdleResult, BoxError> {
    let mut child_args = vec![
        "--idle-child".to_owned(),
        "--sessions".to_owned(),
        sessions.to_string(),
        "--rounds".to_owned(),
        args.rounds.to_string(),
        "--concurrency".to_owned(),
        args.concurrency.to_string(),
    ];
    if tls {
        child_args.push("--tls".to_owned());
    }
    large::run_child(&child_args).await
}

async fn main_bench(args: Args) -> Result<(), BoxError> {
    let mut report = Report {
        quick: args.quick,
        ..Report::default()
    };
    let only = args.only.as_deref();
    if only.is_none_or(|o| o == "large") {
        eprintln!(
            "memory bench: retrieving one {} byte message three ways",
            args.message_bytes
        );
        report.large = large::run(args.message_bytes).await?;
    }
    if only.is_none_or(|o| o == "idle") {
        for (sessions, tls) in [(args.sessions, false), (args.tls_sessions, true)] {
            if sessions == 0 {
                continue;
            }
            eprintln!(
                "memory bench: {sessions} {} IDLE sessions, {} deliveries",
                if tls { "TLS" } else { "plaintext" },
                args.rounds
            );
            report.idle.push(run_idle(&args, sessions, tls).await?);
        }
    }
    if only.is_none_or(|o| o == "binary") {
        eprintln!(
            "memory bench: the inbound binary with {:?} MB messages",
            args.binary_mb
        );
        let sizes = args.binary_mb.clone();
        let concurrent = !args.quick;
        let inbound = args.inbound.clone();
        let run = tokio::task::spawn_blocking(move || {
            binary::run(&sizes, concurrent, inbound.as_deref()).map_err(|e| e.to_string())
        })
        .await?;
        match run {
            Ok(results) => report.binary = results,
            Err(e) if only.is_none() => eprintln!("memory bench: binary case skipped: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    print!("{}", report.table());
    println!("JSON {}", report.json());
    Ok(())
}

async fn dispatch(args: Args) -> Result<(), BoxError> {
    if args.serve {
        return server::serve(args.large_bytes).await;
    }
    if let Some(method) = &args.fetch_child {
        let method = Method::parse(method).ok_or_else(|| format!("unknown method {method:?}"))?;
        let result = large::fetch_child(method, args.port, args.message_bytes).await?;
        return print_result(&result);
    }
    if args.idle_child {
        let result = idle::run_child(IdleOptions {
            sessions: args.sessions,
            rounds: args.rounds,
            concurrency: args.concurrency,
            tls: args.tls,
            round_timeout: std::time::Duration::from_secs(60),
        })
        .await?;
        return print_result(&result);
    }
    main_bench(args).await
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("memory: {e}");
            return ExitCode::from(2);
        }
    };
    // The retrieval children use one thread, so that their peak is the client's alone;
    // the others use the default multi-threaded runtime.
    let runtime = if args.fetch_child.is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let result = match runtime {
        Ok(rt) => rt.block_on(dispatch(args)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memory: {e}");
            ExitCode::FAILURE
        }
    }
}
