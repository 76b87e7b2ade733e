//! Repository automation for Inbound.
//!
//! - `cargo xtask ci`: the whole check CI runs (fmt, clippy, tests). If it passes locally, CI is
//!   green.
//! - `cargo xtask test-server [FLAGS]`: builds and runs the bundled fake mail server.
//! - `cargo xtask fuzz [TARGET] [--seconds N]`: runs cargo-fuzz targets on the nightly toolchain.
//! - `cargo xtask bench`: runs the criterion benches.

use std::env;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test-server") => test_server(rest),
        Some("fuzz") => fuzz(rest),
        Some("bench") => bench(rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <task>\n\n\
         tasks:\n  \
         ci                         fmt check, clippy -D warnings, the whole test suite\n  \
         test-server [FLAGS]        build and run the fake IMAP/POP3 server (flags: --help)\n  \
         fuzz [TARGET] [--seconds N] run fuzz targets (all when TARGET is omitted; default 30 s)\n  \
         bench [ARGS]               run the criterion benches\n"
    );
}

/// Runs `program` with `args`, echoing the command line, and fails on a non-zero exit.
fn run(program: &str, args: &[&str], dir: Option<&str>) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let status = command
        .status()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run(&cargo_bin(), args, None)
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&["test", "--workspace", "--doc"])?;
    fuzz_smoke()
}

/// Every fuzz target for a few seconds, when the nightly toolchain and cargo-fuzz are here
/// (`.ci/run` installs cargo-fuzz). Set `INBOUND_FUZZ_SECONDS` to change the time per target,
/// `0` to skip.
fn fuzz_smoke() -> Result<(), String> {
    let seconds = env::var("INBOUND_FUZZ_SECONDS").unwrap_or_else(|_| "10".to_owned());
    if seconds == "0" {
        eprintln!("fuzz smoke skipped: INBOUND_FUZZ_SECONDS=0");
        return Ok(());
    }
    let has_cargo_fuzz = Command::new(cargo_bin())
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !nightly_available() || !has_cargo_fuzz {
        if env::var_os("CI").is_some() {
            return Err("fuzz smoke needs the nightly toolchain and cargo-fuzz".into());
        }
        eprintln!("fuzz smoke skipped: no nightly toolchain or cargo-fuzz here");
        return Ok(());
    }
    fuzz(&["--seconds".to_owned(), seconds])
}

fn test_server(flags: &[String]) -> Result<(), String> {
    let mut args = vec!["run", "--release", "-q", "-p", "inbound-test-server", "--"];
    args.extend(flags.iter().map(String::as_str));
    cargo(&args)
}

fn bench(flags: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "-p", "inbound-benches"];
    if !flags.is_empty() {
        args.push("--");
        args.extend(flags.iter().map(String::as_str));
    }
    cargo(&args)
}

/// Finds a nightly toolchain: `cargo +nightly` works when rustup has one installed.
fn nightly_available() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn fuzz(flags: &[String]) -> Result<(), String> {
    let mut target: Option<&str> = None;
    let mut seconds = 30u64;
    let mut iter = flags.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--seconds" => {
                let value = iter.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds: `{value}` is not a whole number"))?;
            }
            name if !name.starts_with('-') && target.is_none() => target = Some(name),
            other => return Err(format!("fuzz: unexpected argument `{other}`")),
        }
    }
    if !nightly_available() {
        return Err(
            "fuzzing needs a nightly toolchain (`rustup toolchain install nightly`)".into(),
        );
    }
    let targets: Vec<String> = match target {
        Some(t) => vec![t.to_owned()],
        None => list_fuzz_targets()?,
    };
    let max_time = format!("-max_total_time={seconds}");
    for t in &targets {
        run(
            &cargo_bin(),
            &[
                "+nightly",
                "fuzz",
                "run",
                t,
                "--",
                &max_time,
                "-rss_limit_mb=2048",
            ],
            Some("fuzz"),
        )?;
    }
    Ok(())
}

fn list_fuzz_targets() -> Result<Vec<String>, String> {
    let dir = std::path::Path::new("fuzz/fuzz_targets");
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|ext| ext == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}
