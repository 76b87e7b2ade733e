//! What a client process reports about itself, and medians over runs.
//!
//! Every client of the bench runs as its own process and measures itself just before it
//! exits, the same way in Rust and in Python (`benches/scripts/benchstats.py`):
//! - CPU: user plus system time of all threads, ended ones included (see [`cpu_ms`]);
//! - peak RSS: `VmHWM` of `/proc/self/status`.

use serde::{Deserialize, Serialize};

/// The JSON line a client process prints as its last line of standard output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Which client (`inbound-imap`, `async-imap`, `raw-imap`, `python-imaplib`, ...).
    pub client: String,
    /// `plain` or `tls`.
    pub security: String,
    /// Messages received.
    pub messages: u64,
    /// Octets of message content received (after POP3 dot-unstuffing).
    pub bytes: u64,
    /// From before connecting to after logging out, in milliseconds.
    pub session_ms: f64,
    /// The retrieval itself (first command of the fetch to the last message), in
    /// milliseconds.
    pub fetch_ms: f64,
    /// CPU time of the process (user plus system), in milliseconds.
    pub cpu_ms: f64,
    /// Peak resident set size of the process, in kB.
    pub peak_rss_kb: u64,
}

/// CPU time of this process so far (user plus system, threads that ended included), in
/// milliseconds; 0 when `/proc` is not readable.
///
/// The live threads' on-CPU time is read in nanoseconds from their `schedstat`; threads that
/// already ended only show in `/proc/self/stat` (`utime + stime`, in clock ticks of 10 ms).
/// The larger of the two is returned: the precise figure when no thread ended, and within
/// 10 ms otherwise.
pub fn cpu_ms() -> f64 {
    live_threads_cpu_ms().max(process_stat_cpu_ms())
}

fn live_threads_cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total_ns: u64 = 0;
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            total_ns += ns;
        }
    }
    total_ns as f64 / 1e6
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

fn process_stat_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu_ticks(&s))
        .map_or(0.0, |ticks| ticks as f64 * 1000.0 / TICKS_PER_SECOND)
}

/// `utime + stime` of a `/proc/<pid>/stat` line (fields 14 and 15; the command name in
/// parentheses may hold spaces).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of the calling thread so far, in milliseconds; 0 when `/proc` is not readable.
pub fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e6)
}

/// Peak resident set size of this process (`VmHWM`), in kB; 0 when unknown.
pub fn peak_rss_kb() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The median of `values` (the mean of the two middle ones for an even count); `None` when
/// empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// Finds the last line of `stdout` that parses as a [`ClientReport`].
pub fn parse_report(stdout: &str) -> Option<ClientReport> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn own_process_is_measured() {
        // Burn a little CPU so the counter moves.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_ms() > 0.0);
        assert!(thread_cpu_ms() > 0.0);
        assert!(peak_rss_kb() > 100);
    }

    #[test]
    fn stat_line_fields() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 17 3 0 0 20 0 1 0 5 1000 50";
        assert_eq!(stat_cpu_ticks(line), Some(20));
        assert_eq!(stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn ended_threads_count() {
        std::thread::spawn(|| {
            let mut x = 0u64;
            for i in 0..200_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        })
        .join()
        .unwrap();
        // The thread is gone from /proc/self/task; its time still counts. (The process's
        // time is read first: other tests' threads keep adding to it.)
        let ended_included = process_stat_cpu_ms();
        assert!(ended_included > 0.0);
        assert!(cpu_ms() >= ended_included);
    }

    #[test]
    fn report_line_is_found_after_other_output() {
        let out = "seeding\n{\"client\":\"raw-imap\",\"security\":\"tls\",\"messages\":3,\
                   \"bytes\":60,\"session_ms\":1.5,\"fetch_ms\":1.0,\"cpu_ms\":0.5,\
                   \"peak_rss_kb\":1000}\n";
        let r = parse_report(out).unwrap();
        assert_eq!(r.client, "raw-imap");
        assert_eq!(r.messages, 3);
        assert_eq!(parse_report("no json here\n"), None);
    }
}
