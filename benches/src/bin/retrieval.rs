//! End-to-end retrieval bench: Dovecot on loopback, several clients each in its own process
//! (inbound-net IMAP and POP3, async-imap, a raw read, Python imaplib and poplib), plain and
//! TLS, plus the whole `inbound fetch` pipeline with a breakdown; then our own test server
//! in a process of its own, seeded with the same messages, read by inbound-net's IMAP and
//! POP3 clients and the raw read. See [`inbound_benches::retrieval`].
//!
//! ```text
//! retrieval [--quick] [--messages N] [--size OCTETS] [--runs N] [--only imap,pop3,pipeline]
//!           [--servers dovecot,test-server] [--clients NAME,...] [--no-python]
//!           [--wrap "CMD ARGS"] [--json FILE]
//! retrieval report --out FILE [--retrieval FILE.json | --retrieval-error TEXT]
//!           [--criterion DIR [--since UNIX_SECS]] [--memory FILE | --memory-error TEXT]
//!           [--quick] [--total-secs S]
//! ```
//! Defaults: 5,000 messages of about 20 KB, 3 runs per client. `--quick`: 50 messages,
//! one run (a smoke run; results still verified, targets not judged). Needs Dovecot
//! (`apt-get install dovecot-imapd dovecot-pop3d`) unless `--servers test-server`; Python
//! clients when `python3` exists.
//! `--clients` keeps only the named clients (`raw-imap`, `raw-imap-items`,
//! `raw-imap-items-keep`, `inbound-imap`, `inbound-imap-stream`, `async-imap`,
//! `python-imaplib`, `inbound-pop3`, `inbound-fetch`, ...); it also runs experiments that
//! are left out otherwise (`raw-imap-items-bufread`: TLS over a buffered TCP stream).
//! `--wrap` runs the Rust clients under a command, for profiling: `--wrap "valgrind
//! --tool=callgrind --callgrind-out-file=/tmp/cg.%p"` (CPU and RSS are then valgrind's).
//! Prints the tables as markdown, then one line `JSON {...}`; exits non-zero when a run
//! failed or returned a wrong result.
//!
//! `report` writes `benches/RESULTS.md` for `cargo xtask bench` (this bench's JSON, the
//! criterion estimates, the memory bench's output).
//!
//! Internal modes (the bench re-executes itself for each client, and for the test server):
//! `--client NAME --port P --security plain|tls --ca FILE --user U --password PW`;
//! `--serve-test-server --messages N --size OCTETS` (prints the test server's `READY` line
//! plus `messages=N bytes=B`, serves until standard input ends).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inbound_benches::retrieval::clients::{self, Target};
use inbound_benches::retrieval::harness::{self, Options, Results};
use inbound_benches::retrieval::report::{self, ReportInputs};
use inbound_benches::retrieval::{BoxError, pipeline};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.iter().any(|a| a == "--client") {
        client(&args)
    } else if args.iter().any(|a| a == "--serve-test-server") {
        serve(&args)
    } else if args.first().is_some_and(|a| a == "report") {
        write_report(&args[1..])
    } else {
        bench(&args)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("retrieval: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` pairs and flags.
struct Flags<'a> {
    args: &'a [String],
}

impl<'a> Flags<'a> {
    fn value(&self, name: &str) -> Option<&'a str> {
        self.args
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.args.get(i + 1))
            .map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&'a str, BoxError> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required").into())
    }

    fn has(&self, name: &str) -> bool {
        self.args.iter().any(|a| a == name)
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, BoxError> {
        self.value(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{name}: `{v}` is not a number").into())
            })
            .transpose()
    }

    /// Fails on a flag not in `known` (flags in `with_value` take the next argument).
    fn check(&self, known: &[&str], with_value: &[&str]) -> Result<(), BoxError> {
        let mut i = 0;
        while i < self.args.len() {
            let a = self.args[i].as_str();
            if with_value.contains(&a) {
                i += 2;
            } else if known.contains(&a) {
                i += 1;
            } else {
                return Err(format!("unknown argument `{a}` (see the doc at the top of benches/src/bin/retrieval.rs)").into());
            }
        }
        Ok(())
    }
}

fn client(args: &[String]) -> Result<ExitCode, BoxError> {
    let f = Flags { args };
    let name = f.required("--client")?;
    let target = Target {
        port: f.number("--port")?.ok_or("--port is required")?,
        tls: match f.required("--security")? {
            "tls" => true,
            "plain" => false,
            other => return Err(format!("--security: `{other}` (plain or tls)").into()),
        },
        ca_file: PathBuf::from(f.required("--ca")?),
        user: f.required("--user")?.to_owned(),
        password: f.required("--password")?.to_owned(),
    };
    let line = match name {
        "pipeline-breakdown" => serde_json::to_string(&pipeline::run_breakdown(&target)?)?,
        n if pipeline::PIPELINE_CLIENTS.contains(&n) => {
            serde_json::to_string(&pipeline::run_pipeline(n, &target)?)?
        }
        n if clients::RUST_CLIENTS.contains(&n) => {
            serde_json::to_string(&clients::run_client(n, &target)?)?
        }
        other => return Err(format!("unknown client `{other}`").into()),
    };
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

fn serve(args: &[String]) -> Result<ExitCode, BoxError> {
    let f = Flags { args };
    f.check(&["--serve-test-server"], &["--messages", "--size"])?;
    let count = f.number("--messages")?.ok_or("--messages is required")?;
    let size = f.number("--size")?.ok_or("--size is required")?;
    harness::serve_test_server(count, size)?;
    Ok(ExitCode::SUCCESS)
}

fn bench(args: &[String]) -> Result<ExitCode, BoxError> {
    let f = Flags { args };
    f.check(
        &["--quick", "--no-python", "--bench"],
        &[
            "--messages",
            "--size",
            "--runs",
            "--only",
            "--servers",
            "--clients",
            "--wrap",
            "--json",
        ],
    )?;
    let mut options = if f.has("--quick") {
        Options::quick()
    } else {
        Options::full()
    };
    if let Some(n) = f.number("--messages")? {
        options.messages = n;
    }
    if let Some(n) = f.number("--size")? {
        options.size = n;
    }
    if let Some(n) = f.number::<usize>("--runs")? {
        options.runs = n.max(1);
    }
    if let Some(only) = f.value("--only") {
        options.parts = only.split(',').map(|p| p.trim().to_owned()).collect();
        if let Some(bad) = options
            .parts
            .iter()
            .find(|p| !["imap", "pop3", "pipeline"].contains(&p.as_str()))
        {
            return Err(format!("--only: unknown part `{bad}` (imap, pop3, pipeline)").into());
        }
    }
    if let Some(servers) = f.value("--servers") {
        options.servers = servers.split(',').map(|p| p.trim().to_owned()).collect();
        if let Some(bad) = options
            .servers
            .iter()
            .find(|s| ![harness::DOVECOT, harness::TEST_SERVER].contains(&s.as_str()))
        {
            return Err(format!("--servers: unknown server `{bad}` (dovecot, test-server)").into());
        }
    }
    if let Some(list) = f.value("--clients") {
        options.clients = Some(list.split(',').map(|c| c.trim().to_owned()).collect());
    }
    if let Some(wrap) = f.value("--wrap") {
        options.wrap = wrap.split_whitespace().map(str::to_owned).collect();
    }
    if f.has("--no-python") {
        options.python = false;
    }
    let results = harness::run(&options)?;
    let json = serde_json::to_string(&results)?;
    if let Some(path) = f.value("--json") {
        std::fs::write(path, &json).map_err(|e| format!("writing {path}: {e}"))?;
    }
    print!(
        "{}",
        report::render(&ReportInputs {
            retrieval: Some(Ok(results.clone())),
            quick: options.quick,
            ..ReportInputs::default()
        })
    );
    println!("JSON {json}");
    Ok(if results.has_failures() {
        eprintln!("retrieval: some runs failed or returned wrong results (see the tables)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_report(args: &[String]) -> Result<ExitCode, BoxError> {
    let f = Flags { args };
    f.check(
        &["--quick"],
        &[
            "--out",
            "--retrieval",
            "--retrieval-error",
            "--criterion",
            "--since",
            "--memory",
            "--memory-error",
            "--total-secs",
        ],
    )?;
    let out = f.required("--out")?;
    let retrieval = match (f.value("--retrieval"), f.value("--retrieval-error")) {
        (_, Some(e)) => Some(Err(e.to_owned())),
        (Some(path), None) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("reading {path}: {e}"))
                .and_then(|s| {
                    serde_json::from_str::<Results>(&s).map_err(|e| format!("{path}: {e}"))
                }),
        ),
        (None, None) => None,
    };
    let memory = match (f.value("--memory"), f.value("--memory-error")) {
        (_, Some(e)) => Some(Err(e.to_owned())),
        (Some(path), None) => Some(
            std::fs::read_to_string(path)
                .map(|s| report::memory_table(&s))
                .map_err(|e| format!("reading {path}: {e}")),
        ),
        (None, None) => None,
    };
    let since = f
        .number::<u64>("--since")?
        .map(|s| UNIX_EPOCH + Duration::from_secs(s));
    let criterion = f
        .value("--criterion")
        .map(|dir| report::criterion_estimates(std::path::Path::new(dir), since))
        .unwrap_or_default();
    let mut markdown = report::render(&ReportInputs {
        retrieval,
        criterion,
        memory,
        quick: f.has("--quick"),
        total_s: f.number("--total-secs")?,
    });
    // Sections measured by hand (bench binaries too slow for every run) are kept.
    if let Ok(old) = std::fs::read_to_string(out) {
        markdown.push_str(report::kept_sections(&old));
    }
    std::fs::write(out, markdown).map_err(|e| format!("writing {out}: {e}"))?;
    eprintln!(
        "retrieval: wrote {out} ({})",
        report::utc_stamp(SystemTime::now())
    );
    Ok(ExitCode::SUCCESS)
}
