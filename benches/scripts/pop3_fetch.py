#!/usr/bin/env python3
"""Python poplib client for the `retrieval` bench: logs in, lists the maildrop and retrieves
every message with RETR, one at a time (poplib has no pipelining), keeping all messages;
prints one JSON summary line. Messages are counted in octets after dot-unstuffing, with
CRLF line ends (poplib strips them; each line gets its two octets back).

    python3 pop3_fetch.py --port P --security plain|tls [--ca FILE] --user U --password PW
"""

import poplib
import ssl
import time

import benchstats


def main():
    a = benchstats.arguments(__doc__)
    started = time.perf_counter()
    if a.security == "tls":
        context = ssl.create_default_context(cafile=a.ca)
        p = poplib.POP3_SSL("127.0.0.1", a.port, context=context)
    else:
        p = poplib.POP3("127.0.0.1", a.port)
    p.user(a.user)
    p.pass_(a.password)
    listing = p.list()[1]
    fetch_started = time.perf_counter()
    messages = []
    for entry in listing:
        number = int(entry.split()[0])
        resp, lines, _octets = p.retr(number)
        if not resp.startswith(b"+OK"):
            raise SystemExit(f"RETR {number} failed: {resp!r}")
        messages.append(lines)
    fetch_s = time.perf_counter() - fetch_started
    p.quit()
    session_s = time.perf_counter() - started
    octets = sum(len(line) + 2 for lines in messages for line in lines)
    benchstats.report("python-poplib", a.security, len(messages), octets, session_s, fetch_s)


if __name__ == "__main__":
    main()
