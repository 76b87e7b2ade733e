//! `benches/RESULTS.md`: the retrieval bench's [`Results`], the criterion estimates of the
//! benches run with it, and the memory bench's table, as markdown.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::harness::{DOVECOT, Results, Row, TEST_SERVER};

/// One criterion benchmark's estimate (from `new/estimates.json` and `new/benchmark.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionEstimate {
    /// The group (`group_id`).
    pub group: String,
    /// The rest of the id (function and value).
    pub name: String,
    /// Mean time per iteration, ns.
    pub mean_ns: f64,
    /// 95% confidence interval of the mean, ns.
    pub ci_ns: (f64, f64),
    /// The throughput per iteration, if the bench declared one: (`Bytes`, `BytesDecimal` or
    /// `Elements`, amount).
    pub throughput: Option<(String, f64)>,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct EstimatesJson {
    mean: Estimate,
}

/// Every criterion estimate under `dir` (criterion's output folder) written at or after
/// `since` (so results of benches that did not run this time are left out), sorted by id.
pub fn criterion_estimates(dir: &Path, since: Option<SystemTime>) -> Vec<CriterionEstimate> {
    let mut out = Vec::new();
    collect_estimates(dir, since, &mut out, 0);
    out.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    out
}

fn collect_estimates(
    dir: &Path,
    since: Option<SystemTime>,
    out: &mut Vec<CriterionEstimate>,
    depth: usize,
) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(e) = read_estimate(&path, since) {
                out.push(e);
            }
        } else if path.file_name().is_some_and(|n| n != "report") {
            collect_estimates(&path, since, out, depth + 1);
        }
    }
}

fn read_estimate(new: &Path, since: Option<SystemTime>) -> Option<CriterionEstimate> {
    let estimates_path = new.join("estimates.json");
    if let Some(since) = since {
        let modified = std::fs::metadata(&estimates_path).ok()?.modified().ok()?;
        if modified < since {
            return None;
        }
    }
    let estimates: EstimatesJson =
        serde_json::from_str(&std::fs::read_to_string(&estimates_path).ok()?).ok()?;
    let bench: BenchmarkJson =
        serde_json::from_str(&std::fs::read_to_string(new.join("benchmark.json")).ok()?).ok()?;
    let name = [bench.function_id, bench.value_str]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    let throughput = bench.throughput.and_then(|t| {
        let object = t.as_object()?;
        let (kind, amount) = object.iter().next()?;
        Some((kind.clone(), amount.as_f64()?))
    });
    Some(CriterionEstimate {
        group: bench.group_id,
        name,
        mean_ns: estimates.mean.point_estimate,
        ci_ns: (
            estimates.mean.confidence_interval.lower_bound,
            estimates.mean.confidence_interval.upper_bound,
        ),
        throughput,
    })
}

/// A duration in ns, in a readable unit.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

fn format_throughput(t: &(String, f64), mean_ns: f64) -> String {
    if mean_ns <= 0.0 {
        return String::new();
    }
    let per_s = t.1 / (mean_ns / 1e9);
    match t.0.as_str() {
        "Bytes" => format!("{:.1} MiB/s", per_s / (1024.0 * 1024.0)),
        "BytesDecimal" => format!("{:.1} MB/s", per_s / 1e6),
        "Elements" if per_s >= 1e6 => format!("{:.2} M elem/s", per_s / 1e6),
        "Elements" => format!("{per_s:.0} elem/s"),
        other => format!("{per_s:.0} {other}/s"),
    }
}

/// `YYYY-MM-DD HH:MM UTC` of `time`.
pub fn utc_stamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// What goes into RESULTS.md.
#[derive(Debug, Default)]
pub struct ReportInputs {
    /// The retrieval bench's results, or why there are none.
    pub retrieval: Option<Result<Results, String>>,
    /// Criterion estimates.
    pub criterion: Vec<CriterionEstimate>,
    /// The memory bench's standard output (its `JSON` line is dropped), or why there is none.
    pub memory: Option<Result<String, String>>,
    /// A smoke run.
    pub quick: bool,
    /// Wall time of the whole `cargo xtask bench`, seconds, if known.
    pub total_s: Option<f64>,
}

/// The markdown of RESULTS.md.
pub fn render(inputs: &ReportInputs) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark results\n");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench{}` on {}, {cores} cores{}. Wall-clock figures \
         depend on what else the machine runs (the retrieval section gives the load average); \
         compare ratios within one run rather than absolute times across runs.\n",
        if inputs.quick { " --quick" } else { "" },
        utc_stamp(SystemTime::now()),
        inputs
            .total_s
            .map(|s| format!(", the whole run took {:.1} min", s / 60.0))
            .unwrap_or_default(),
    );
    if inputs.quick {
        let _ = writeln!(
            md,
            "**Quick smoke run**: tiny message counts, one iteration; targets are not judged.\n"
        );
    }
    match &inputs.retrieval {
        Some(Ok(results)) => retrieval_section(&mut md, results),
        Some(Err(e)) => {
            let _ = writeln!(md, "## Retrieval from Dovecot\n\nNot measured: {e}\n");
        }
        None => {}
    }
    if !inputs.criterion.is_empty() {
        criterion_section(&mut md, &inputs.criterion, inputs.quick);
    }
    match &inputs.memory {
        Some(Ok(text)) => {
            let _ = writeln!(
                md,
                "## Memory (`memory` bench binary)\n\nIts own table, verbatim:\n\n```text\n{}\n```\n",
                text.trim_end()
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(
                md,
                "## Memory (`memory` bench binary)\n\nNot measured: {e}\n"
            );
        }
        None => {}
    }
    md
}

fn mb(kb: f64) -> f64 {
    kb * 1024.0 / 1e6
}

fn retrieval_section(md: &mut String, r: &Results) {
    let _ = writeln!(
        md,
        "## Retrieval from Dovecot on loopback (`retrieval` bench binary)\n\n\
         {} messages, {:.1} MB in all ({:.1} KB average: multipart text + HTML + inline PNG), \
         {}; {} run(s) of each client, medians; every run's message count and total octets \
         verified before its time counts. Each client is its own process: CPU (user + \
         system, all threads) and peak RSS (VmHWM) are that process's own. *Wall* is the \
         retrieval itself (the FETCH, or all the RETRs); *session* adds connect, TLS, login \
         and logout; *process* is spawn to exit (Python's interpreter start-up included). \
         Load average before / after: {}. The whole bench took {:.0} s.\n",
        r.messages,
        r.total_bytes as f64 / 1e6,
        r.total_bytes as f64 / r.messages.max(1) as f64 / 1000.0,
        [Some(format!("Dovecot {}", r.dovecot)), r.python.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        r.runs,
        r.load.join(" / "),
        r.elapsed_s
    );
    for (protocol, title, baseline) in [
        ("IMAP", "### IMAP", Some("raw-imap")),
        ("POP3", "### POP3", Some("inbound-pop3")),
        ("pipeline", "### The `inbound fetch` pipeline", None),
    ] {
        let rows: Vec<&Row> = r
            .rows
            .iter()
            .filter(|x| x.server == DOVECOT && x.protocol == protocol)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(md, "{title}\n");
        if protocol == "pipeline" {
            let _ = writeln!(
                md,
                "`Retriever::retrieve` with `NetConnector` over IMAP into a fresh SQLite file \
                 store, as `inbound fetch` does: fetch; parse (on worker threads, with each \
                 message's SHA-256); store 100 messages per transaction (WAL, synchronous=FULL, \
                 checkpoints on a background connection) on a writer thread while the next \
                 batch is fetched and parsed. HTML is sanitized when a message is read, not here \
                 (`-nosanitize`: an account that does not ask for it). CPU counts every thread.\n"
            );
        }
        let _ = writeln!(
            md,
            "| client | security | wall ms | msg/s | MB/s | session ms | process ms | CPU ms | peak RSS MB | {} | runs |",
            if baseline.is_some() {
                "wall vs first"
            } else {
                ""
            }
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for row in rows {
            let versus = wall_ratio(row, baseline.and_then(|b| r.row(b, &row.security)));
            let failures = failures_note(row);
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {versus} | {}{failures} |",
                row.client,
                row.security,
                row.fetch_ms,
                row.messages_per_s(),
                row.mb_per_s(),
                row.session_ms,
                row.process_ms,
                row.cpu_ms,
                mb(row.peak_rss_kb),
                row.runs
            );
        }
        md.push('\n');
        if protocol == "IMAP" {
            let _ = writeln!(
                md,
                "`raw-imap`: `UID FETCH 1:* BODY.PEEK[]` on a bare socket that only frames the \
                 answer (skips each literal by its length, never looks inside): the server's \
                 limit. `raw-imap-items` asks for the clients' items `(UID RFC822.SIZE \
                 INTERNALDATE FLAGS BODY.PEEK[])`; `raw-imap-items-keep` also copies each \
                 body into a buffer of its own and keeps them all. `inbound-imap`, \
                 `async-imap` and `python-imaplib` keep every body until the end; \
                 `inbound-imap-stream` asks for what `raw-imap` asks for (`UID BODY.PEEK[]`, \
                 as retrieval does) and drops each body once counted: the raw read's like \
                 for like.\n"
            );
        }
        if protocol == "POP3" {
            let _ = writeln!(
                md,
                "`inbound-pop3`: `retr_many`, pipelined (Dovecot announces PIPELINING); \
                 `inbound-pop3-seq`: one `RETR` per round trip, as `poplib` does.\n"
            );
        }
    }
    if let Some(b) = &r.breakdown {
        let _ = writeln!(
            md,
            "### Where the pipeline's time goes (plain, one run, each stage alone on one thread)\n\n\
             *CPU* is the CPU time of the thread that ran the stage: on a loaded machine the \
             steadier figure; wall minus CPU is waiting (disk, network, or the scheduler).\n\n\
             | stage | wall ms | wall µs/msg | CPU ms | CPU µs/msg |\n|---|---:|---:|---:|---:|"
        );
        for s in &b.stages {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                s.name,
                s.ms,
                s.us_per_message(),
                s.cpu_ms,
                s.cpu_us_per_message()
            );
        }
        md.push('\n');
    }
    test_server_section(md, r);
    if !r.targets.is_empty() {
        let _ = writeln!(
            md,
            "### Targets\n\n| target | measured | goal | verdict |\n|---|---:|---|---|"
        );
        for t in &r.targets {
            let measured = if !t.measured.is_finite() {
                "-".to_owned()
            } else if t.name.contains("messages/s") {
                format!("{:.0}", t.measured)
            } else {
                format!("{:.2}x", t.measured)
            };
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "n/a",
            };
            let _ = writeln!(md, "| {} | {measured} | {} | {verdict} |", t.name, t.goal);
        }
        md.push('\n');
        imaplib_bound(md, r);
    }
}

/// How close Python imaplib comes to the raw read (the server's limit): a client can be at
/// most about that much faster than imaplib, however little it spends itself.
fn imaplib_bound(md: &mut String, r: &Results) {
    let mut parts = Vec::new();
    for security in ["plain", "tls"] {
        if let (Some(py), Some(raw)) = (
            r.row("python-imaplib", security),
            r.row("raw-imap", security),
        ) {
            if raw.fetch_ms > 0.0 {
                parts.push(format!("{:.2}x {security}", py.fetch_ms / raw.fetch_ms));
            }
        }
    }
    if !parts.is_empty() {
        let _ = writeln!(
            md,
            "Python imaplib's wall time over the raw read's (a client that does nothing but \
             read): {}. Where imaplib is about as fast as the raw read, the time is the \
             server's, and no client can be 1.4x faster than imaplib against this server.\n",
            parts.join(", ")
        );
    }
}

fn test_server_section(md: &mut String, r: &Results) {
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.server == TEST_SERVER).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### The test server (`inbound-test-server`, in a process of its own)\n\n\
         The same {} messages in the test server's in-memory store (the `retrieval` binary \
         re-executed with `--serve-test-server`: `TestServer` on a multi-threaded runtime, \
         its `READY` line read for the ports), read by the same client processes, every \
         run verified the same way. *msg/s* and *MB/s* are of the retrieval itself; *vs \
         Dovecot* is this wall time over the same client's against Dovecot.\n",
        r.messages
    );
    let _ = writeln!(
        md,
        "| client | protocol | security | wall ms | msg/s | MB/s | session ms | CPU ms | peak RSS MB | vs Dovecot | runs |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let versus = wall_ratio(row, r.row(&row.client, &row.security));
        let failures = failures_note(row);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {versus} | {}{failures} |",
            row.client,
            row.protocol,
            row.security,
            row.fetch_ms,
            row.messages_per_s(),
            row.mb_per_s(),
            row.session_ms,
            row.cpu_ms,
            mb(row.peak_rss_kb),
            row.runs
        );
    }
    md.push('\n');
}

/// `row`'s wall time over `base`'s as a table cell (empty without a measured base).
fn wall_ratio(row: &Row, base: Option<&Row>) -> String {
    match base {
        Some(b) if b.fetch_ms > 0.0 && row.runs > 0 => format!("{:.2}x", row.fetch_ms / b.fetch_ms),
        _ => String::new(),
    }
}

/// ` (N failed)` after a row's run count when some of its runs failed.
fn failures_note(row: &Row) -> String {
    if row.failures.is_empty() {
        String::new()
    } else {
        format!(" ({} failed)", row.failures.len())
    }
}

fn criterion_section(md: &mut String, estimates: &[CriterionEstimate], quick: bool) {
    let settings = if quick {
        "--warm-up-time 0.1 --measurement-time 0.3 --sample-size 10"
    } else {
        "--warm-up-time 1 --measurement-time 3"
    };
    let _ = writeln!(
        md,
        "## Criterion benches\n\nShort settings (`{settings}`): mean time per iteration with \
         its 95% confidence interval; throughput from the mean.\n"
    );
    let mut group = None;
    for e in estimates {
        if group != Some(&e.group) {
            let _ = writeln!(
                md,
                "{}### {}\n\n| benchmark | mean | 95% CI | throughput |\n|---|---:|---:|---:|",
                if group.is_some() { "\n" } else { "" },
                e.group
            );
            group = Some(&e.group);
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} – {} | {} |",
            if e.name.is_empty() { &e.group } else { &e.name },
            format_ns(e.mean_ns),
            format_ns(e.ci_ns.0),
            format_ns(e.ci_ns.1),
            e.throughput
                .as_ref()
                .map(|t| format_throughput(t, e.mean_ns))
                .unwrap_or_default()
        );
    }
    md.push('\n');
}

/// The line after which `benches/RESULTS.md` holds sections written by hand (from bench
/// binaries too slow to run every time, such as `deaf --settings defaults`); a new report
/// keeps them.
pub const KEPT_MARKER: &str =
    "<!-- Sections below are measured by hand and kept by `cargo xtask bench`. -->";

/// The part of an earlier report from [`KEPT_MARKER`] on (empty when it has none).
pub fn kept_sections(old: &str) -> &str {
    old.find(KEPT_MARKER).map_or("", |at| &old[at..])
}

/// The memory bench's standard output without its `JSON {...}` line.
pub fn memory_table(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|l| !l.starts_with("JSON "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hand_measured_sections_are_kept() {
        let old = format!("# old\n\n## Memory\nold table\n\n{KEPT_MARKER}\n\n## Deaf\nfigures\n");
        assert_eq!(
            kept_sections(&old),
            format!("{KEPT_MARKER}\n\n## Deaf\nfigures\n")
        );
        assert_eq!(kept_sections("# no marker\n"), "");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_709_210_096); // 2024-02-29
        assert_eq!(utc_stamp(t), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn test_server_rows_get_their_own_table() {
        use crate::retrieval::harness::Results;
        let row = |server: &str, fetch_ms: f64| Row {
            server: server.into(),
            protocol: "IMAP".into(),
            client: "inbound-imap".into(),
            security: "plain".into(),
            runs: 3,
            messages: 5000,
            bytes: 100_000_000,
            fetch_ms,
            session_ms: fetch_ms + 5.0,
            process_ms: fetch_ms + 10.0,
            cpu_ms: 400.0,
            peak_rss_kb: 150_000.0,
            failures: Vec::new(),
        };
        let results = Results {
            messages: 5000,
            total_bytes: 100_000_000,
            runs: 3,
            quick: false,
            dovecot: "2.3".into(),
            python: None,
            load: Vec::new(),
            elapsed_s: 1.0,
            rows: vec![row(DOVECOT, 1000.0), row(TEST_SERVER, 500.0)],
            breakdown: None,
            targets: Vec::new(),
        };
        let md = render(&ReportInputs {
            retrieval: Some(Ok(results)),
            ..ReportInputs::default()
        });
        let (dovecot, test_server) = md.split_at(md.find("### The test server").unwrap());
        // 5,000 messages in 0.5 s: 10,000 msg/s and 200 MB/s, half Dovecot's time.
        assert!(
            test_server.contains("| inbound-imap | IMAP | plain | 500.0 | 10000 | 200.0 |"),
            "{test_server}"
        );
        assert!(test_server.contains("| 0.50x | 3 |"));
        assert!(dovecot.contains("| inbound-imap | plain | 1000.0 | 5000 | 100.0 |"));
        assert!(!dovecot.contains("500.0"));
    }

    #[test]
    fn units() {
        assert_eq!(format_ns(512.0), "512.0 ns");
        assert_eq!(format_ns(1_500.0), "1.50 µs");
        assert_eq!(format_ns(2_500_000.0), "2.50 ms");
        assert_eq!(
            format_throughput(&("BytesDecimal".into(), 1e6), 1e9),
            "1.0 MB/s"
        );
    }

    #[test]
    fn criterion_output_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir
            .path()
            .join("imap_decode")
            .join("fetch_body")
            .join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"imap_decode","function_id":"fetch_body","value_str":null,
               "throughput":{"Bytes":1048576},"full_id":"imap_decode/fetch_body",
               "directory_name":"imap_decode/fetch_body","title":"imap_decode/fetch_body"}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":900000.0,
               "upper_bound":1100000.0},"point_estimate":1000000.0,"standard_error":5.0},
               "median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":900.0,
               "upper_bound":1100.0},"point_estimate":1000.0,"standard_error":5.0}}"#,
        )
        .unwrap();
        let found = criterion_estimates(dir.path(), None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].group, "imap_decode");
        assert_eq!(found[0].name, "fetch_body");
        assert_eq!(found[0].mean_ns, 1_000_000.0);
        let future = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(criterion_estimates(dir.path(), Some(future)).is_empty());
        let md = render(&ReportInputs {
            criterion: found,
            memory: Some(Ok(memory_table("table line\nJSON {\"a\":1}\n"))),
            ..ReportInputs::default()
        });
        assert!(md.contains("| fetch_body | 1.00 ms | 900.00 µs – 1.10 ms | 1000.0 MiB/s |"));
        assert!(md.contains("table line"));
        assert!(!md.contains("JSON"));
    }
}
