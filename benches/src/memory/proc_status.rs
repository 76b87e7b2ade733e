//! This process's memory from `/proc/self/status` (Linux).

use std::io;

/// Resident memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the peak resident size so far.
    pub hwm: u64,
}

/// Reads `VmRSS` and `VmHWM` of this process.
///
/// # Errors
/// When `/proc/self/status` cannot be read or lacks the fields (not Linux).
pub fn read() -> io::Result<Memory> {
    parse(&std::fs::read_to_string("/proc/self/status")?)
        .ok_or_else(|| io::Error::other("no VmRSS/VmHWM in /proc/self/status"))
}

/// Parses the `VmRSS` and `VmHWM` lines (`VmRSS:\t  1234 kB`).
pub fn parse(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kb * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}

/// CPU time (user plus system) a process has used so far, in milliseconds, from
/// `/proc/<pid>/stat` (`self` for this process). Linux reports it in ticks of 1/100 s.
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn cpu_ms(pid: &str) -> io::Result<u64> {
    parse_cpu_ms(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
        .ok_or_else(|| io::Error::other("cannot parse /proc/PID/stat"))
}

/// Parses utime and stime (fields 14 and 15) of a `stat` line; the command name in
/// parentheses may hold spaces, so fields are counted after its closing parenthesis.
pub fn parse_cpu_ms(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_status_lines() {
        let s = "Name:\tmemory\nVmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(
            parse(s),
            Some(Memory {
                rss: 1024 * 1024,
                hwm: 2048 * 1024
            })
        );
        assert_eq!(parse("VmRSS:\t1 kB\n"), None);
    }

    #[test]
    fn parses_cpu_ticks() {
        let stat = "42 (tokio rt) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ms(stat), Some(2800));
        assert_eq!(parse_cpu_ms("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_own_status() {
        assert!(cpu_ms("self").is_ok());
        let m = read().unwrap();
        assert!(m.rss > 0 && m.hwm >= m.rss);
    }
}
