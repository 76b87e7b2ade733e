//! Repository automation for Inbound.
//!
//! - `cargo xtask ci`: the whole check CI runs (fmt, clippy, tests). If it passes locally, CI is
//!   green.
//! - `cargo xtask test-server [FLAGS]`: builds and runs the bundled fake mail server.
//! - `cargo xtask fuzz [TARGET] [--seconds N] [--timeout N]`: runs cargo-fuzz targets on the
//!   nightly toolchain; one input running longer than the per-input timeout is a finding.
//! - `cargo xtask bench [--quick]`: runs every criterion bench and bench binary and writes
//!   the tables to `benches/RESULTS.md`.

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
         fuzz [TARGET] [--seconds N] [--timeout N]\n                            run fuzz targets (all when TARGET is omitted; default 30 s);\n                            an input taking over --timeout seconds (default 10) is a finding\n  \
         bench [--quick]            all benches; tables to benches/RESULTS.md\n"
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
    // The PostgreSQL store is behind a feature of inbound-store: checked and tested with it.
    let postgres = ["-p", "inbound-store", "--features", "postgres"];
    cargo(
        &[
            &["clippy"][..],
            &postgres,
            &["--all-targets", "--", "-D", "warnings"],
        ]
        .concat(),
    )?;
    // Fuzz smoke before the tests, so that cargo's test summary is what the run ends with.
    fuzz_smoke()?;
    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&[&["test"][..], &postgres, &["--test", "backends"]].concat())?;
    cargo(&[&["test"][..], &postgres, &["--doc"]].concat())?;
    cargo(&["test", "--workspace", "--doc"])
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
    let has_cargo_fuzz = Command::new("rustup")
        .args(["run", "nightly", "cargo", "fuzz", "--version"])
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
    // The client targets build the whole network stack with sanitizers (minutes on two
    // cores): CI smoke-runs them only when asked (`INBOUND_FUZZ_CLIENTS=1`).
    let mut args = vec!["--seconds".to_owned(), seconds];
    if env::var("INBOUND_FUZZ_CLIENTS").as_deref() != Ok("1") {
        args.push("--no-clients".to_owned());
    }
    fuzz(&args)
}

fn test_server(flags: &[String]) -> Result<(), String> {
    let mut args = vec!["run", "--release", "-q", "-p", "inbound-test-server", "--"];
    args.extend(flags.iter().map(String::as_str));
    cargo(&args)
}

/// `cargo xtask bench [--quick]`: every criterion bench under `benches/benches` (short
/// settings), the `memory` bench binary (its default arguments) and the `retrieval` bench
/// binary (Dovecot, then the test server in a process of its own), then the tables in
/// `benches/RESULTS.md`. `--quick` is the CI smoke run: tiny
/// sizes, one iteration, results still verified; it writes
/// `<target>/bench-results/RESULTS.quick.md` and leaves `benches/RESULTS.md` alone.
/// A part that fails is reported in the tables and makes the task fail at the end.
fn bench(flags: &[String]) -> Result<(), String> {
    let mut quick = false;
    for flag in flags {
        match flag.as_str() {
            "--quick" => quick = true,
            other => {
                return Err(format!(
                    "bench: unexpected argument `{other}` (only --quick)"
                ));
            }
        }
    }
    let started = std::time::Instant::now();
    // Criterion estimates older than this run are left out of the tables.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(1))
        .unwrap_or(0);
    let root = workspace_root();
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let out_dir = target.join("bench-results");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let path = |p: &std::path::Path| p.display().to_string();
    let mut failed: Vec<String> = Vec::new();

    // 1. Criterion benches, by name (plain `--benches` would also hand criterion's flags to
    //    the library's and binaries' test harnesses).
    let mut cargo_args = vec!["bench", "-p", "inbound-benches"];
    let names = list_rs_files(&root.join("benches/benches"))?;
    for name in &names {
        cargo_args.extend(["--bench", name.as_str()]);
    }
    cargo_args.push("--");
    if quick {
        cargo_args.extend([
            "--warm-up-time",
            "0.1",
            "--measurement-time",
            "0.3",
            "--sample-size",
            "10",
        ]);
    } else {
        cargo_args.extend(["--warm-up-time", "1", "--measurement-time", "3"]);
    }
    if let Err(e) = cargo(&cargo_args) {
        failed.push(format!("criterion benches: {e}"));
    }

    // 2. The bench binaries.
    let run_bin = |bin: &str, args: &[&str]| -> Result<String, String> {
        let mut all = vec![
            "run",
            "--release",
            "-q",
            "-p",
            "inbound-benches",
            "--bin",
            bin,
            "--",
        ];
        all.extend_from_slice(args);
        eprintln!("$ cargo {}", all.join(" "));
        let output = Command::new(cargo_bin())
            .args(&all)
            .current_dir(&root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!("`{bin}` failed ({})", output.status))
        }
    };
    let quick_flag: &[&str] = if quick { &["--quick"] } else { &[] };
    // The memory bench measures the release `inbound` binary too (next to its own binary).
    if let Err(e) = cargo(&[
        "build",
        "--release",
        "-q",
        "-p",
        "inbound",
        "--bin",
        "inbound",
    ]) {
        failed.push(format!("building inbound for the memory bench: {e}"));
    }
    let memory_file = out_dir.join("memory.txt");
    let memory = run_bin("memory", quick_flag).and_then(|stdout| {
        std::fs::write(&memory_file, stdout).map_err(|e| format!("writing memory.txt: {e}"))
    });
    let retrieval_file = out_dir.join("retrieval.json");
    let _ = std::fs::remove_file(&retrieval_file);
    let retrieval_json = path(&retrieval_file);
    let mut retrieval_args = quick_flag.to_vec();
    retrieval_args.extend(["--json", retrieval_json.as_str()]);
    let retrieval = run_bin("retrieval", &retrieval_args);
    if let Err(e) = &memory {
        failed.push(format!("memory bench: {e}"));
    }
    if let Err(e) = &retrieval {
        failed.push(format!("retrieval bench: {e}"));
    }

    // 3. The tables.
    let results = if quick {
        out_dir.join("RESULTS.quick.md")
    } else {
        root.join("benches/RESULTS.md")
    };
    let results_path = path(&results);
    let criterion_dir = path(&target.join("criterion"));
    let since = since.to_string();
    let total = format!("{:.0}", started.elapsed().as_secs_f64());
    let memory_path = path(&memory_file);
    let memory_error = memory.as_ref().err().cloned().unwrap_or_default();
    let mut report = vec![
        "report",
        "--out",
        results_path.as_str(),
        "--criterion",
        criterion_dir.as_str(),
        "--since",
        since.as_str(),
        "--total-secs",
        total.as_str(),
    ];
    if memory.is_ok() {
        report.extend(["--memory", memory_path.as_str()]);
    } else {
        report.extend(["--memory-error", memory_error.as_str()]);
    }
    // A retrieval run with some failed runs still wrote its JSON: the tables show them.
    let retrieval_error = "the retrieval bench did not finish (see its output)";
    if retrieval_file.exists() {
        report.extend(["--retrieval", retrieval_json.as_str()]);
    } else {
        report.extend(["--retrieval-error", retrieval_error]);
    }
    if quick {
        report.push("--quick");
    }
    run_bin("retrieval", &report)?;
    eprintln!(
        "bench: wrote {results_path} in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("bench: {}", failed.join("; ")))
    }
}

/// The workspace root (the parent of this crate's folder).
fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The stems of the `.rs` files in `dir`, sorted.
fn list_rs_files(dir: &std::path::Path) -> Result<Vec<String>, String> {
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

/// Finds a nightly toolchain: `cargo +nightly` works when rustup has one installed.
fn nightly_available() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The default per-input time limit of `cargo xtask fuzz` (libFuzzer's `-timeout`), in
/// seconds. Our codecs are linear in their input and every fuzz input is at most a few
/// hundred KB, so one that takes 10 s (debug assertions and sanitizers on) is a finding:
/// libFuzzer stops, saves it as `timeout-*` and the run fails.
const FUZZ_INPUT_TIMEOUT_SECS: u64 = 10;

/// The libFuzzer options of one run: total time, per-input time limit, memory limit.
fn libfuzzer_options(seconds: u64, input_timeout: u64) -> Vec<String> {
    vec![
        format!("-max_total_time={seconds}"),
        format!("-timeout={input_timeout}"),
        "-rss_limit_mb=2048".to_owned(),
    ]
}

fn fuzz(flags: &[String]) -> Result<(), String> {
    let mut target: Option<&str> = None;
    let mut seconds = 30u64;
    let mut input_timeout = FUZZ_INPUT_TIMEOUT_SECS;
    let mut clients = true;
    let mut iter = flags.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--no-clients" => clients = false,
            "--seconds" => {
                let value = iter.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds: `{value}` is not a whole number"))?;
            }
            "--timeout" => {
                let value = iter.next().ok_or("--timeout needs a number")?;
                input_timeout = value.parse().ok().filter(|&n: &u64| n > 0).ok_or_else(|| {
                    format!("--timeout: `{value}` is not a positive whole number")
                })?;
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
        None => list_fuzz_targets()?
            .into_iter()
            .filter(|t| clients || !is_client_target(t))
            .collect(),
    };
    // Seed corpora come from the codecs' transcript tests (fuzz/corpus is git-ignored).
    if targets
        .iter()
        .any(|t| !std::path::Path::new("fuzz/corpus").join(t).is_dir())
    {
        run("bash", &["fuzz/seed-corpus.sh"], None)?;
    }
    let root = env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let options = libfuzzer_options(seconds, input_timeout);
    for t in &targets {
        // Through rustup: the `cargo` that runs xtask is the stable toolchain's own binary,
        // which does not understand `+nightly`.
        let mut args = vec![
            "run".to_owned(),
            "nightly".to_owned(),
            "cargo".to_owned(),
            "fuzz".to_owned(),
            "run".to_owned(),
            t.clone(),
        ];
        if is_client_target(t) {
            args.extend(["--features".to_owned(), "clients".to_owned()]);
        }
        args.push("--".to_owned());
        args.extend(options.iter().cloned());
        // Protocol keywords for the IMAP and POP3 targets.
        for (prefix, dict) in [("imap_", "imap.dict"), ("pop3_", "pop3.dict")] {
            if t.starts_with(prefix) {
                let path = root.join("fuzz/dict").join(dict);
                args.push(format!("-dict={}", path.display()));
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("rustup", &args, Some("fuzz"))?;
    }
    Ok(())
}

/// The targets that drive the real network clients: they need the fuzz crate's `clients`
/// feature (the network stack, a much longer sanitizer build).
fn is_client_target(name: &str) -> bool {
    name.ends_with("_client")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fuzz run gets a per-input time limit, so an input that makes a target slow is
    /// saved and fails the run instead of only slowing it down.
    #[test]
    fn fuzz_runs_have_a_per_input_time_limit() {
        let options = libfuzzer_options(30, FUZZ_INPUT_TIMEOUT_SECS);
        assert!(options.contains(&"-timeout=10".to_owned()), "{options:?}");
        assert!(
            options.contains(&"-max_total_time=30".to_owned()),
            "{options:?}"
        );
        assert!(libfuzzer_options(5, 3).contains(&"-timeout=3".to_owned()));
    }
}
