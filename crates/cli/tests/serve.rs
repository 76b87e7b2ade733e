//! `inbound serve` end to end: the URL line, pages and the API over real HTTP against the
//! test server, Retrieve now, refusal to listen openly without credentials, SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Server, Workdir, http, stderr};

#[test]
fn serve_prints_its_url_serves_the_overview_retrieves_and_stops_on_sigterm() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"pw-alice\"\n"));
    let mut child = w
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");

    let (status, page) = http(&addr, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(page.contains("data-account=\"work\""), "{page}");
    assert!(!page.contains("pw-alice"));

    let (status, body) = http(
        &addr,
        "POST",
        "/api/v1/accounts/work/retrieve",
        &format!("Origin: http://{addr}\r\n"),
    );
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http(&addr, "GET", "/api/v1/accounts", "");
        let accounts: serde_json::Value = serde_json::from_str(&body).unwrap();
        if accounts[0]["last_run"]["ok"] == true {
            assert!(accounts[0]["stored"].as_u64().unwrap() > 0, "{accounts}");
            assert_eq!(accounts[0]["state"], "off");
            break;
        }
        assert!(Instant::now() < deadline, "no retrieval: {accounts}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
}

#[test]
fn serve_refuses_an_open_address_without_credentials() {
    let w = Workdir::new();
    w.write_config("");
    let o = w.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("0.0.0.0:0") && err.contains("[web]"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn web_tokens_must_be_digests_not_tokens() {
    let w = Workdir::new();
    w.write_config("[web]\ntokens = [\"my-plain-token-value\"]\n");
    let o = w.run(&["serve"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("not a token digest"), "{err}");
    assert!(!err.contains("my-plain-token-value"), "{err}");
    let o = w.run_with(&["serve", "--hash-token"], &[], "0123456789abcdef-token\n");
    let digest = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    w.write_config(&format!("[web]\ntokens = [\"{digest}\"]\n"));
    let o = w.run(&["check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn demo_serve_shows_the_demo_accounts_with_mail() {
    let w = Workdir::new();
    let mut child = w
        .cmd()
        .args(["demo", "-q", "--serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    for _ in 0..50 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("http://").nth(1) {
            addr = rest.split('/').next().map(str::to_owned);
            break;
        }
    }
    let addr = addr.expect("no URL line");
    let (status, page) = http(&addr, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(page.contains("data-account=\"demo-imap\""), "{page}");
    assert!(page.contains("data-account=\"demo-pop3\""), "{page}");
    let (_, body) = http(&addr, "GET", "/api/v1/accounts", "");
    let accounts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(accounts[0]["stored"].as_u64().unwrap() > 0, "{accounts}");
    let (_, body) = http(&addr, "GET", "/api/v1/messages?limit=1", "");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = page["messages"][0]["id"].as_i64().unwrap();
    let (status, view) = http(&addr, "GET", &format!("/messages/{id}"), "");
    assert_eq!(status, 200, "{view}");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "demo --serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
}

#[test]
fn the_api_gives_each_message_byte_for_byte_as_messages_show_json_prints_it() {
    let s = Server::start();
    let w = Workdir::new();
    w.write_config(&s.account("work", "imap", "alice", "password = \"pw-alice\"\n"));
    let out = w.run(&["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["messages", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 3, "{list}");
    let shown: Vec<String> = ids
        .iter()
        .map(|id| {
            let out = w.run(&["messages", "show", &id.to_string(), "--json"]);
            assert!(out.status.success(), "{}", stderr(&out));
            String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
        })
        .collect();

    let mut child = w
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    for (id, cli) in ids.iter().zip(&shown) {
        let (status, body) = http(&addr, "GET", &format!("/api/v1/messages/{id}"), "");
        assert_eq!(status, 200, "{body}");
        assert_eq!(&body, cli, "message {id}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
