//! Big messages end to end in bounded memory: the `inbound` binary's peak RSS (measured by
//! the kernel through `/usr/bin/time`) while it fetches, shows and exports a large message
//! stays near the message's size, not a multiple of it.
//!
//! Skips (saying so) where `/usr/bin/time` is missing, unless `INBOUND_REQUIRE_TIME=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Server, Workdir, json, stderr};

/// The size of the test message.
const SIZE: u64 = 40 * 1024 * 1024;

/// What the binary takes whatever the message (debug build, runtime, TLS, SQLite), in bytes.
const BASE: u64 = 40 * 1024 * 1024;

const TIME: &str = "/usr/bin/time";

/// A message of about [`SIZE`] bytes with a base64 attachment, as a scanner sends.
fn big_message() -> Vec<u8> {
    let mut raw = Vec::with_capacity(SIZE as usize + 4096);
    raw.extend_from_slice(
        b"From: Scanner <scan@example.org>\r\nTo: alice@example.org\r\nSubject: big scan\r\n\
          Message-ID: <big@example.org>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
          --B\r\nContent-Type: text/plain\r\n\r\nThe scan is attached.\r\n\
          --B\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
          Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n";
    while (raw.len() as u64) < SIZE {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--B--\r\n");
    raw
}

/// Runs the binary with `args` under `/usr/bin/time`; its output and peak RSS in bytes.
fn measured(w: &Workdir, args: &[&str], env: &[(&str, &str)]) -> (Output, u64) {
    let mut c = Command::new(TIME);
    c.args(["-f", "INBOUND_PEAK_KIB=%M", env!("CARGO_BIN_EXE_inbound")])
        .args(args)
        .current_dir(w.path())
        .env_remove("INBOUND_CONFIG")
        .env_remove("INBOUND_STORE")
        .env_remove("INBOUND_ENCRYPTION_KEY")
        .env_remove("INBOUND_LOG")
        .env("XDG_CONFIG_HOME", w.path().join("xdg"))
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = c.output().unwrap();
    let err = stderr(&out);
    let kib: u64 = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("INBOUND_PEAK_KIB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from {TIME}: {err}"));
    (out, kib * 1024)
}

fn have_time() -> bool {
    if Path::new(TIME).exists() {
        return true;
    }
    assert!(
        std::env::var("INBOUND_REQUIRE_TIME").as_deref() != Ok("1"),
        "{TIME} is missing and INBOUND_REQUIRE_TIME=1"
    );
    eprintln!("skipped: {TIME} (GNU time) is not installed");
    false
}

fn assert_within(what: &str, peak: u64, factor: f64) {
    let bound = (SIZE as f64 * factor) as u64 + BASE;
    eprintln!(
        "{what}: peak RSS {:.1} MB for a {:.1} MB message",
        peak as f64 / 1e6,
        SIZE as f64 / 1e6
    );
    assert!(
        peak <= bound,
        "{what}: peak RSS {peak} bytes for a {SIZE}-byte message, more than {factor} x size + {BASE}"
    );
}

#[test]
fn fetch_show_and_export_of_a_big_message_stay_within_its_size() {
    if !have_time() {
        return;
    }
    let s = Server::start();
    let raw = big_message();
    s.server.store().create_folder("alice", "Big").unwrap();
    s.server
        .store()
        .deliver("alice", "Big", raw.clone())
        .unwrap();
    s.server
        .store()
        .deliver("bob", "INBOX", raw.clone())
        .unwrap();
    let w = Workdir::new();
    let imap = s.account(
        "work",
        "imap",
        "alice",
        "password_env = \"ALICE_PW\"\nfolder = \"Big\"\n",
    );
    let pop = s.account(
        "home",
        "pop3",
        "bob",
        "password_env = \"BOB_PW\"\nfetch = \"latest\"\ncount = 1\n",
    );
    w.write_config(&format!("{imap}\n{pop}"));
    let env = [("ALICE_PW", "pw-alice"), ("BOB_PW", "pw-bob")];

    for account in ["work", "home"] {
        let (out, peak) = measured(&w, &["fetch", "--json", "--account", account], &env);
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        assert_eq!(json(&out)[0]["fetched"], 1, "{account}");
        assert_within(&format!("fetch {account}"), peak, 1.5);
    }

    let (out, _) = measured(&w, &["messages", "list", "--json"], &[]);
    let list = json(&out);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subject"] == "big scan")
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    let id = ids[0].to_string();

    let (out, peak) = measured(&w, &["messages", "show", &id, "--json"], &[]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let shown = json(&out);
    assert_eq!(
        shown["text"].as_str().map(str::trim),
        Some("The scan is attached.")
    );
    assert_eq!(shown["attachments"][0]["filename"], "scan.pdf");
    assert!(
        shown["attachments"][0]["size"].as_u64().unwrap() > SIZE / 2,
        "{shown}"
    );
    assert_within("messages show --json", peak, 1.25);

    let dir = w.path().join("out");
    let dir = dir.to_str().unwrap();
    for format in ["eml", "maildir"] {
        let (out, peak) = measured(
            &w,
            &[
                "messages", "export", &id, "--format", format, "--output", dir,
            ],
            &[],
        );
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        assert_within(&format!("messages export --format {format}"), peak, 0.25);
    }
    assert_eq!(
        std::fs::read(w.path().join("out").join(format!("{id}.eml"))).unwrap(),
        raw
    );
    let new = std::fs::read_dir(w.path().join("out/new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(new.path()).unwrap(), raw);

    // One message to standard output, as eml: streamed too.
    let (out, peak) = measured(&w, &["messages", "show", &id, "--format", "eml"], &[]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(out.stdout == raw, "show --format eml gave other bytes");
    assert_within("messages show --format eml", peak, 0.25);
}
