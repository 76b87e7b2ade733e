"""Self-measurement for the retrieval bench clients (shared by the scripts in this folder).

Every client process of the `retrieval` bench reports its own CPU time and peak memory
just before it exits, measured the same way in Rust and in Python:

- CPU: user plus system time: the larger of the live threads' on-CPU time (the first field
  of /proc/self/task/<tid>/schedstat, nanoseconds) and utime + stime of /proc/self/stat
  (10 ms ticks, threads that ended included);
- peak RSS: VmHWM from /proc/self/status (kB).
"""

import json
import os
import sys


def cpu_ns():
    """CPU nanoseconds of this process (see the module doc)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    from_stat = (int(fields[11]) + int(fields[12])) * 10_000_000
    return max(live_threads_ns(), from_stat)


def live_threads_ns():
    """On-CPU nanoseconds of the live threads of this process."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def peak_rss_kb():
    """VmHWM of this process in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def report(client, security, messages, octets, session_s, fetch_s):
    """Prints the JSON summary line the bench parent reads (same fields as the Rust clients)."""
    line = {
        "client": client,
        "security": security,
        "messages": messages,
        "bytes": octets,
        "session_ms": session_s * 1000.0,
        "fetch_ms": fetch_s * 1000.0,
        "cpu_ms": cpu_ns() / 1e6,
        "peak_rss_kb": peak_rss_kb(),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def arguments(description):
    """The command line every client script takes."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--security", choices=["plain", "tls"], required=True)
    p.add_argument("--ca", help="CA file to trust (TLS)")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    return p.parse_args()
