//! Real clients no one here wrote, against the IMAP server: Python's imaplib and curl.
//! A test whose client program is missing says so and passes without checking (the CI
//! image has both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_support;

use std::process::Stdio;
use std::time::Duration;

use imap_support::{Harness, start, start_with};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);

fn have(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("{program} is not installed: skipping");
    }
    found
}

const IMAPLIB_SCRIPT: &str = r#"
import imaplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
M = imaplib.IMAP4('127.0.0.1', port)
assert 'STARTTLS' in M.capabilities, M.capabilities
typ, _ = M.starttls(ssl_context=ctx)
assert typ == 'OK', typ
typ, _ = M.login('demo', 'demo')
assert typ == 'OK', typ
typ, data = M.select('INBOX')
assert (typ, data) == ('OK', [b'8']), (typ, data)
typ, data = M.uid('SEARCH', None, 'UNSEEN')
assert data[0].split() == [b'2', b'3', b'4', b'5', b'6', b'7', b'8'], data
typ, data = M.uid('SEARCH', None, 'FROM', '"bob"')
assert data[0].split() == [b'4', b'5'], data
typ, data = M.uid('FETCH', '3', '(BODY.PEEK[] FLAGS)')
assert typ == 'OK', typ
header, body = data[0]
assert b'UID 3' in header and b'FLAGS (\\Flagged)' in data[1], data
assert b'The plain version.' in body, body
print('FETCHED', len(body), flush=True)
# imaplib 3.11 has no idle(): speak IDLE by hand.
tag = M._new_tag().decode()
M.send(('%s IDLE\r\n' % tag).encode())
line = M.readline()
assert line.startswith(b'+'), line
print('IDLING', flush=True)
line = M.readline()
assert line == b'* 9 EXISTS\r\n', line
M.send(b'DONE\r\n')
line = M.readline()
assert line.startswith((tag + ' OK').encode()), line
typ, _ = M.create('Archive')
assert typ == 'OK', typ
typ, data = M.uid('MOVE', '2', 'Archive')
assert typ == 'OK', (typ, data)
typ, _ = M.uid('STORE', '4,9', '+FLAGS.SILENT', r'(\Deleted)')
assert typ == 'OK', typ
typ, data = M.uid('EXPUNGE', '4')
assert typ == 'OK', (typ, data)
typ, data = M.status('Archive', '(MESSAGES)')
assert data == [b'Archive (MESSAGES 1)'], data
M.logout()
print('DONE', flush=True)
"#;

#[tokio::test]
async fn python_imaplib_starttls_search_fetch_idle_move_uid_expunge() {
    if !have("python3") {
        return;
    }
    let h = start().await;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(IMAPLIB_SCRIPT)
        .arg(h.imap.port().to_string())
        .arg(&h.ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(line) = tokio::time::timeout(LIMIT, out.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        if line == "IDLING" {
            h.store
                .deliver("demo", "INBOX", &b"Subject: while idling\r\n\r\nhi\r\n"[..])
                .unwrap();
        }
        seen.push(line);
    }
    let status = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.status.success(),
        "{seen:?}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(seen.last().map(String::as_str), Some("DONE"), "{seen:?}");
    let uids: Vec<u32> = h
        .store
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    // 2 moved, 4 expunged by UID EXPUNGE; 9 is \Deleted but was not named.
    assert_eq!(uids, [1, 3, 5, 6, 7, 8, 9]);
    assert_eq!(h.store.messages("demo", "Archive").unwrap().len(), 1);
    // The transcript shows the session and hides the password.
    let text = h.transcript.text();
    assert!(text.contains("STARTTLS"), "{text}");
    assert!(!text.contains("LOGIN demo demo"), "{text}");
}

#[tokio::test]
async fn python_imaplib_over_implicit_tls() {
    if !have("python3") {
        return;
    }
    let h = start().await;
    let script = r#"
import imaplib, ssl, sys
M = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ssl.create_default_context(cafile=sys.argv[2]))
M.login('demo', 'demo')
typ, data = M.select('INBOX', readonly=True)
assert data == [b'8'], data
typ, data = M.fetch('1:2', '(RFC822.SIZE ENVELOPE)')
assert typ == 'OK' and len(data) == 2, data
assert b'"Welcome to Inbound"' in data[0], data
M.logout()
print('OK')
"#;
    let out = tokio::time::timeout(
        LIMIT,
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(h.imaps.port().to_string())
            .arg(&h.ca_file)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n");
}

async fn curl(h: &Harness, args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = tokio::time::timeout(
        LIMIT,
        Command::new("curl")
            .args([
                "-s",
                "-S",
                "--max-time",
                "30",
                "-u",
                "demo:demo",
                "--cacert",
            ])
            .arg(&h.ca_file)
            .args(args)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn curl_fetches_by_uid_over_plain_implicit_tls_and_starttls() {
    if !have("curl") {
        return;
    }
    let h = start_with(|c| c.login_disabled_before_tls(true)).await;
    let raw = |uid: usize| {
        h.store.messages("demo", "INBOX").unwrap()[uid - 1]
            .raw
            .to_vec()
    };

    // Plain IMAP with logins disabled before TLS: curl cannot log in...
    let url = format!("imap://127.0.0.1:{}/INBOX;UID=1", h.imap.port());
    let (ok, _, err) = curl(&h, &[&url]).await;
    assert!(!ok, "login without TLS must fail: {err}");
    // ...unless it upgrades with STARTTLS (--ssl-reqd).
    let (ok, body, err) = curl(&h, &["--ssl-reqd", &url]).await;
    assert!(ok, "{err}");
    assert_eq!(body, raw(1));

    let url = format!("imaps://127.0.0.1:{}/INBOX;UID=3", h.imaps.port());
    let (ok, body, err) = curl(&h, &[&url]).await;
    assert!(ok, "{err}");
    assert_eq!(body, raw(3));

    // A section, and a custom command.
    let url = format!("imaps://127.0.0.1:{}/INBOX;UID=4;SECTION=3", h.imaps.port());
    let (ok, body, err) = curl(&h, &[&url]).await;
    assert!(ok, "{err}");
    assert_eq!(body, b"1. Read the report.\r\n2. Reply.");
    let url = format!("imaps://127.0.0.1:{}/INBOX", h.imaps.port());
    let (ok, body, err) = curl(&h, &[&url, "-X", "UID SEARCH FLAGGED"]).await;
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&body), "* SEARCH 3\r\n");
}

#[tokio::test]
async fn curl_on_a_plain_port_without_tls_requirements() {
    if !have("curl") {
        return;
    }
    let h = start().await;
    let url = format!("imap://127.0.0.1:{}/INBOX;UID=2", h.imap.port());
    let (ok, body, err) = curl(&h, &[&url]).await;
    assert!(ok, "{err}");
    assert_eq!(
        body,
        h.store.messages("demo", "INBOX").unwrap()[1].raw.to_vec()
    );
    // curl fetched with BODY[]: the message is now \Seen.
    assert!(
        h.store.messages("demo", "INBOX").unwrap()[1]
            .flags
            .contains(&inbound_test_server::mailstore::Flag::Seen)
    );
    let url = format!("imap://127.0.0.1:{}/", h.imap.port());
    let (ok, body, err) = curl(&h, &[&url]).await;
    assert!(ok, "{err}");
    assert!(
        String::from_utf8_lossy(&body).contains("* LIST (\\HasNoChildren) \"/\" INBOX"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}
