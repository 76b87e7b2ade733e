#!/usr/bin/env python3
"""Python imaplib client for the `retrieval` bench: logs in, selects INBOX and fetches every
message with one `UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])` (the items
the Rust clients ask for), keeping all bodies; prints one JSON summary line.

    python3 imap_fetch.py --port P --security plain|tls [--ca FILE] --user U --password PW
"""

import imaplib
import ssl
import time

import benchstats


def main():
    a = benchstats.arguments(__doc__)
    started = time.perf_counter()
    if a.security == "tls":
        context = ssl.create_default_context(cafile=a.ca)
        c = imaplib.IMAP4_SSL("127.0.0.1", a.port, ssl_context=context)
    else:
        c = imaplib.IMAP4("127.0.0.1", a.port)
    c.login(a.user, a.password)
    c.select("INBOX")
    fetch_started = time.perf_counter()
    typ, data = c.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
    if typ != "OK":
        raise SystemExit(f"UID FETCH failed: {typ} {data!r}")
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    fetch_s = time.perf_counter() - fetch_started
    c.logout()
    session_s = time.perf_counter() - started
    benchstats.report(
        "python-imaplib", a.security, len(bodies), sum(len(b) for b in bodies), session_s, fetch_s
    )


if __name__ == "__main__":
    main()
