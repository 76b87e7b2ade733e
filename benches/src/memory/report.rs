//! The table and the `JSON {...}` line.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::binary::{self, BinaryResult};
use super::idle::IdleResult;
use super::large::FetchResult;

/// The target: peak RSS at most this many times the message size.
pub const LARGE_TARGET_RATIO: f64 = 2.5;
/// The target: the IDLE bench process at most this resident size (bytes) at 10,000 sessions.
pub const IDLE_TARGET_RSS: u64 = 200 * 1000 * 1000;
/// The target: p99 notification latency at most this (milliseconds).
pub const IDLE_TARGET_P99_MS: f64 = 250.0;

/// Everything measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Whether this was the `--quick` smoke run (targets do not apply).
    pub quick: bool,
    /// Retrievals of the large message.
    pub large: Vec<FetchResult>,
    /// IDLE runs.
    pub idle: Vec<IdleResult>,
    /// Runs of the `inbound` binary with large messages.
    pub binary: Vec<BinaryResult>,
}

/// Megabytes (10^6 bytes), the unit of the targets.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn verdict(ok: bool, quick: bool) -> &'static str {
    match (quick, ok) {
        (true, _) => "n/a (quick)",
        (false, true) => "met",
        (false, false) => "MISSED",
    }
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        if !self.large.is_empty() {
            let _ = writeln!(
                out,
                "Large message retrieval (one process per method; target: peak RSS <= {LARGE_TARGET_RATIO}x message)"
            );
            let _ = writeln!(
                out,
                "{:<24} {:>11} {:>13} {:>13} {:>9} {:>11} {:>8}  target",
                "method",
                "message MB",
                "baseline MB",
                "peak RSS MB",
                "peak/msg",
                "growth/msg",
                "secs"
            );
            for r in &self.large {
                let _ = writeln!(
                    out,
                    "{:<24} {:>11.1} {:>13.1} {:>13.1} {:>8.2}x {:>10.2}x {:>8.2}  {}",
                    r.method.label(),
                    mb(r.bytes as u64),
                    mb(r.baseline_rss),
                    mb(r.peak_rss),
                    r.ratio(),
                    r.growth_ratio(),
                    r.secs,
                    verdict(r.ratio() <= LARGE_TARGET_RATIO, self.quick)
                );
            }
            out.push('\n');
        }
        if !self.binary.is_empty() {
            let _ = writeln!(
                out,
                "The inbound binary with large messages from Dovecot (peak RSS: ru_maxrss of the child; \
                 target: <= {}x the messages in flight + {} MB)",
                binary::TARGET_RATIO,
                binary::BASE_BYTES / 1_000_000
            );
            let base = self
                .binary
                .iter()
                .find(|r| r.messages == 0)
                .map(|r| r.peak_rss);
            let _ = writeln!(
                out,
                "(above base: peak RSS minus the empty-mailbox fetch's, over the messages in flight)"
            );
            let _ = writeln!(
                out,
                "{:<16} {:<10} {:<10} {:>11} {:>9} {:>13} {:>9} {:>11} {:>8}  target",
                "command",
                "protocol",
                "security",
                "message MB",
                "messages",
                "peak RSS MB",
                "peak/msg",
                "above base",
                "secs"
            );
            for r in &self.binary {
                let per_message = |x: f64| {
                    if r.messages == 0 {
                        "-".to_owned()
                    } else {
                        format!("{x:.2}x")
                    }
                };
                let above = base.map_or(0.0, |b| {
                    r.peak_rss.saturating_sub(b) as f64
                        / (r.message_bytes * r.messages).max(1) as f64
                });
                let _ = writeln!(
                    out,
                    "{:<16} {:<10} {:<10} {:>11.1} {:>9} {:>13.1} {:>9} {:>11} {:>8.2}  {}",
                    r.command,
                    r.protocol,
                    r.security,
                    mb(r.message_bytes),
                    r.messages,
                    mb(r.peak_rss),
                    per_message(r.ratio()),
                    per_message(above),
                    r.secs,
                    verdict(r.met(), self.quick)
                );
            }
            out.push('\n');
        }
        if !self.idle.is_empty() {
            let _ = writeln!(
                out,
                "Concurrent IDLE sessions (server in another process; target at 10,000 plaintext: RSS <= {} MB, p99 <= {IDLE_TARGET_P99_MS} ms)",
                IDLE_TARGET_RSS / 1_000_000
            );
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>6} {:>7} {:>12} {:>12} {:>8} {:>7} {:>7} {:>7} {:>6} {:>13} {:>13}  target",
                "transport",
                "sessions",
                "rounds",
                "setup s",
                "idle RSS MB",
                "peak RSS MB",
                "kB/sess",
                "p50 ms",
                "p99 ms",
                "max ms",
                "seen",
                "client CPU ms",
                "server CPU ms"
            );
            let _ = writeln!(
                out,
                "(seen: notifications verified, sessions x rounds; CPU: per delivery, each process)"
            );
            for r in &self.idle {
                let ok = r.peak_rss <= IDLE_TARGET_RSS && r.p99_ms <= IDLE_TARGET_P99_MS;
                let applies = !r.tls && r.sessions >= 10_000;
                let _ = writeln!(
                    out,
                    "{:<10} {:>8} {:>6} {:>7.1} {:>12.1} {:>12.1} {:>8.1} {:>7.1} {:>7.1} {:>7.1} {:>6} {:>13.0} {:>13.0}  {}",
                    if r.tls { "TLS" } else { "plaintext" },
                    r.sessions,
                    r.rounds,
                    r.setup_secs,
                    mb(r.idle_rss),
                    mb(r.peak_rss),
                    r.per_session() as f64 / 1000.0,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.notifications,
                    r.client_cpu_ms_per_round,
                    r.server_cpu_ms_per_round,
                    if applies {
                        verdict(ok, self.quick)
                    } else {
                        "-"
                    }
                );
            }
        }
        out
    }

    /// The figures as one JSON value (for the `JSON {...}` line).
    pub fn json(&self) -> Value {
        let large: Vec<Value> = self
            .large
            .iter()
            .map(|r| {
                json!({
                    "method": r.method.name(),
                    "message_bytes": r.bytes,
                    "baseline_rss_bytes": r.baseline_rss,
                    "peak_rss_bytes": r.peak_rss,
                    "peak_ratio": round2(r.ratio()),
                    "growth_ratio": round2(r.growth_ratio()),
                    "secs": round2(r.secs),
                    "target_met": r.ratio() <= LARGE_TARGET_RATIO,
                })
            })
            .collect();
        let idle: Vec<Value> = self
            .idle
            .iter()
            .map(|r| {
                json!({
                    "tls": r.tls,
                    "sessions": r.sessions,
                    "rounds": r.rounds,
                    "notifications": r.notifications,
                    "setup_secs": round2(r.setup_secs),
                    "baseline_rss_bytes": r.baseline_rss,
                    "idle_rss_bytes": r.idle_rss,
                    "end_rss_bytes": r.end_rss,
                    "peak_rss_bytes": r.peak_rss,
                    "bytes_per_session": r.per_session(),
                    "p50_ms": round2(r.p50_ms),
                    "p99_ms": round2(r.p99_ms),
                    "max_ms": round2(r.max_ms),
                    "client_cpu_ms_per_round": round2(r.client_cpu_ms_per_round),
                    "server_cpu_ms_per_round": round2(r.server_cpu_ms_per_round),
                    "round_max_ms": r.round_max_ms.iter().map(|&m| round2(m)).collect::<Vec<_>>(),
                    "target_met": r.peak_rss <= IDLE_TARGET_RSS && r.p99_ms <= IDLE_TARGET_P99_MS,
                })
            })
            .collect();
        let binary: Vec<Value> = self
            .binary
            .iter()
            .map(|r| {
                json!({
                    "command": r.command,
                    "protocol": r.protocol,
                    "security": r.security,
                    "message_bytes": r.message_bytes,
                    "messages": r.messages,
                    "peak_rss_bytes": r.peak_rss,
                    "peak_ratio": round2(r.ratio()),
                    "secs": round2(r.secs),
                    "target_met": r.met(),
                })
            })
            .collect();
        json!({
            "bench": "memory",
            "quick": self.quick,
            "large": large,
            "idle": idle,
            "binary": binary,
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
