//! `inbound accounts login` against the test server's fake authority: the test plays the
//! browser (follows the printed URL and its redirect to the loopback listener) or the person
//! entering a device code, then fetches mail with the stored refresh token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use common::{Server, Workdir, field, json, new_key, stderr, stdout};
use inbound_test_server::oauth::{Consent, TokenRegistry};
use inbound_test_server::server::ServerConfig;

/// A server whose authority knows the public client `desktop-app` and rotates refresh tokens.
fn server(config: ServerConfig) -> (Server, TokenRegistry) {
    let registry = config.registry.clone();
    registry.add_public_client("desktop-app");
    registry.set_refresh_token_rotation(true);
    (Server::start_with(config), registry)
}

fn microsoft(s: &Server) -> String {
    format!(
        "[account.oauth]\nprovider = \"microsoft\"\ntenant_id = \"common\"\n\
         client_id = \"desktop-app\"\nauthority = \"{}\"\n",
        s.server.oauth_authority()
    )
}

/// `GET url` over plain HTTP on loopback: (status, Location header, body).
fn http(method: &str, url: &str, body: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let target = if target.is_empty() { "/" } else { target };
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let location = answer
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_owned);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, location, body)
}

/// The browser: follows `url` and its redirects; the last answer.
fn browse(url: &str) -> (u16, String) {
    let mut url = url.to_owned();
    for _ in 0..5 {
        let (status, location, body) = http("GET", &url, "");
        match location {
            Some(next) if status == 302 => url = next,
            _ => return (status, body),
        }
    }
    panic!("too many redirects");
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn query_value(url: &str, name: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(percent_decode)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// `inbound accounts login NAME --no-browser ARGS...` running, with standard output read up
/// to the line `wanted` picks.
struct LoginRun {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl LoginRun {
    fn start(w: &Workdir, key: &str, name: &str, args: &[&str]) -> Self {
        Self::start_with_input(w, key, name, args, None)
    }

    /// As [`start`](Self::start), writing `input` to its standard input.
    fn start_with_input(
        w: &Workdir,
        key: &str,
        name: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Self {
        let mut cmd = w.cmd();
        cmd.args(["accounts", "login", name, "--no-browser", "--timeout", "30"])
            .args(args)
            .env("INBOUND_ENCRYPTION_KEY", key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = input {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input.as_bytes()).unwrap();
        }
        let out = BufReader::new(child.stdout.take().unwrap());
        Self { child, out }
    }

    /// The first printed line `pick` accepts, as `pick` returns it.
    fn read(&mut self, pick: impl Fn(&str) -> Option<String>) -> String {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(n > 0, "the login ended before printing it: {seen}");
            if let Some(v) = pick(line.trim()) {
                return v;
            }
            seen.push_str(&line);
        }
    }

    fn url(&mut self) -> String {
        self.read(|l| l.starts_with("http://").then(|| l.to_owned()))
    }

    fn finish(mut self) -> Output {
        let mut rest = Vec::new();
        let _ = self.out.read_to_end(&mut rest);
        let mut output = self.child.wait_with_output().unwrap();
        output.stdout = rest;
        output
    }
}

#[test]
fn browser_login_then_fetch_over_imap_and_pop3_with_rotated_tokens_kept() {
    let (s, registry) = server(ServerConfig::default());
    let w = Workdir::new();
    let key = new_key();
    let authority = s.server.oauth_authority();
    let other = format!(
        "[account.oauth]\nprovider = \"authorization_code\"\nclient_id = \"desktop-app\"\n\
         auth_url = \"{authority}/t/oauth2/v2.0/authorize\"\n\
         token_url = \"{authority}/t/oauth2/v2.0/token\"\nscope = \"offline_access mail\"\n"
    );
    w.write_config(&format!(
        "{}\n{}",
        s.account("outlook", "imap", "alice", &microsoft(&s)),
        s.account("other", "pop3", "bob", &other)
    ));
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];

    // Before signing in: fetch says to sign in; `accounts add` points to the login.
    let out = w.run_with(&["fetch", "--json", "--account", "outlook"], &with_key, "");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = json(&out)[0]["errors"][0].as_str().unwrap().to_owned();
    assert!(
        err.contains("not signed in yet") && err.contains("run `inbound accounts login outlook`"),
        "{err}"
    );
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(
        list[0]["secret"],
        "oauth microsoft: stored refresh_token (not signed in: run `inbound accounts login outlook`)"
    );
    let out = w.run_with(&["accounts", "add", "outlook"], &with_key, "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run `inbound accounts login outlook`"),
        "{}",
        stderr(&out)
    );

    for (name, user) in [("outlook", "alice"), ("other", "bob")] {
        let mut run = LoginRun::start(&w, &key, name, &[]);
        let url = run.url();
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert_eq!(query_value(&url, "login_hint"), user);
        let (status, page) = browse(&url);
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Signed in"), "{page}");
        let out = run.finish();
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        assert!(
            stderr(&out).contains("signed in: stored the refresh token"),
            "{}",
            stderr(&out)
        );
    }
    // Nothing secret in the clear in the store.
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["secret"], "oauth microsoft: stored refresh_token");
    assert_eq!(
        list[1]["secret"],
        "oauth authorization_code: stored refresh_token"
    );

    let out = w.run_with(&["accounts", "test", "other"], &with_key, "");
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        field(&stdout(&out), "mechanism").contains("XOAUTH2"),
        "{}",
        stdout(&out)
    );

    // Each run is a new process: it must use the refresh token the last one was rotated to
    // (the authority revokes everything on reuse of an old one).
    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let v = json(&out);
    assert_eq!(
        (v[0]["account"].as_str(), v[0]["fetched"].as_u64()),
        (Some("outlook"), Some(8))
    );
    assert_eq!(
        (v[1]["account"].as_str(), v[1]["fetched"].as_u64()),
        (Some("other"), Some(8))
    );
    let before_restart: Vec<std::path::PathBuf> = copy_store(&w, "old");
    s.server
        .store()
        .deliver("alice", "INBOX", &b"Subject: one more\r\n\r\nhi\r\n"[..])
        .unwrap();
    let out = w.run_with(&["fetch", "--json", "--account", "outlook"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 1);
    assert_eq!(registry.stats().refresh_token_reuses, 0);
    assert!(registry.stats().refresh_token_grants >= 3);

    // A copy of the store from before (a leaked old refresh token) is reuse: the authority
    // revokes the whole family, and the account says it needs a new sign-in.
    restore_store(&w, &before_restart);
    let out = w.run_with(&["fetch", "--json", "--account", "outlook"], &with_key, "");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let errors = json(&out)[0]["errors"].clone();
    let err = errors.to_string();
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(
        err.contains("run `inbound accounts login outlook`"),
        "{err}"
    );
    // A refused grant is final: no reconnect asks again with the same token.
    assert_eq!(errors.as_array().unwrap().len(), 1, "{err}");
    assert_eq!(registry.stats().refresh_token_reuses, 1);

    // The refusal is remembered in the store: `accounts list` says what to run, in every
    // later process, until the person signs in again.
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["state"], "needs_login", "{list}");
    assert_eq!(
        list[0]["needs_login"]["command"],
        "inbound accounts login outlook"
    );
    assert!(
        list[0]["needs_login"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{list}"
    );
    assert_eq!(
        list[0]["secret"],
        "oauth microsoft: stored refresh_token (needs sign-in: run `inbound accounts login outlook`)"
    );
    assert_eq!(list[1]["state"], "ok", "{list}");
    let table = stdout(&w.run_with(&["accounts", "list"], &with_key, ""));
    assert!(
        table.contains("needs sign-in: run `inbound accounts login outlook`"),
        "{table}"
    );
    // The web app says so too: the API's state and the overview's row.
    let mut serve = w
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    let (status, _, body) = http("GET", &format!("{base}/api/v1/accounts"), "");
    assert_eq!(status, 200, "{body}");
    let accounts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(accounts[0]["state"], "needs_login", "{accounts}");
    assert_eq!(accounts[1]["state"], "off", "{accounts}");
    let (_, _, page) = http("GET", &format!("{base}/"), "");
    assert!(
        page.contains("needs sign-in: run `inbound accounts login outlook`"),
        "{page}"
    );
    serve.kill().unwrap();
    serve.wait().unwrap();

    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    assert_eq!(browse(&url).0, 200);
    assert!(run.finish().status.success());
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["state"], "ok", "{list}");
    assert!(list[0]["needs_login"].is_null(), "{list}");
    assert_eq!(list[0]["secret"], "oauth microsoft: stored refresh_token");
    let out = w.run_with(&["fetch", "--json", "--account", "outlook"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}

/// Copies the store's files aside (name suffix `tag`); returns the copies.
fn copy_store(w: &Workdir, tag: &str) -> Vec<std::path::PathBuf> {
    let mut copies = Vec::new();
    for entry in std::fs::read_dir(w.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("inbound.sqlite") {
            let copy = w.path().join(format!("{tag}.{name}"));
            std::fs::copy(&path, &copy).unwrap();
            copies.push(copy);
        }
    }
    copies
}

fn restore_store(w: &Workdir, copies: &[std::path::PathBuf]) {
    for entry in std::fs::read_dir(w.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("inbound.sqlite")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    for copy in copies {
        let name = copy.file_name().unwrap().to_string_lossy().into_owned();
        let (_, original) = name.split_once('.').unwrap();
        std::fs::copy(copy, w.path().join(original)).unwrap();
    }
}

#[test]
fn oauthbearer_over_imap_after_login() {
    let (s, _) = server(ServerConfig::default().hide_capability("AUTH=XOAUTH2"));
    let w = Workdir::new();
    let key = new_key();
    w.write_config(&s.account("outlook", "imap", "alice", &microsoft(&s)));
    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    assert_eq!(browse(&url).0, 200);
    assert!(run.finish().status.success());
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let out = w.run_with(&["accounts", "test", "outlook"], &with_key, "");
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        field(&stdout(&out), "mechanism").contains("OAUTHBEARER"),
        "{}",
        stdout(&out)
    );
    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(json(&out)[0]["fetched"], 8);
}

#[test]
fn oauthbearer_over_pop3_after_login() {
    let (s, _) = server(ServerConfig::default().hide_capability("AUTH=XOAUTH2"));
    let w = Workdir::new();
    let key = new_key();
    w.write_config(&s.account("outlook", "pop3", "alice", &microsoft(&s)));
    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    assert_eq!(browse(&url).0, 200);
    assert!(run.finish().status.success());
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let out = w.run_with(&["accounts", "test", "outlook"], &with_key, "");
    assert!(out.status.success(), "{}", stdout(&out));
    let capabilities = field(&stdout(&out), "capabilities");
    assert!(
        capabilities.contains("OAUTHBEARER") && !capabilities.contains("XOAUTH2"),
        "{}",
        stdout(&out)
    );
    assert!(
        field(&stdout(&out), "mechanism").contains("OAUTHBEARER"),
        "{}",
        stdout(&out)
    );
    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(json(&out)[0]["fetched"], 8);
}

#[test]
fn failed_sign_ins_say_why_and_store_nothing() {
    let (s, registry) = server(ServerConfig::default());
    let w = Workdir::new();
    let key = new_key();
    w.write_config(&s.account("outlook", "imap", "alice", &microsoft(&s)));

    // A redirect with another state (not our login): refused.
    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    let redirect = query_value(&url, "redirect_uri");
    let (status, _) = browse(&format!("{redirect}?code=stolen&state=forged"));
    assert_eq!(status, 400);
    let out = run.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("state does not match"),
        "{}",
        stderr(&out)
    );

    // Consent denied.
    registry.set_consent(Consent::Deny);
    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    assert_eq!(browse(&url).0, 400);
    let out = run.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("consent was denied"),
        "{}",
        stderr(&out)
    );
    registry.set_consent(Consent::Approve);

    // The device code expires before anyone enters it.
    registry.set_device_code_lifetime(Duration::from_secs(1));
    let run = LoginRun::start(&w, &key, "outlook", &["--device"]);
    let out = run.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("device code expired"),
        "{}",
        stderr(&out)
    );

    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["source"], "file", "nothing was stored: {list}");
}

#[test]
fn device_code_login_then_fetch_over_pop3() {
    let (s, registry) = server(ServerConfig::default());
    registry.set_device_poll_interval(1);
    let w = Workdir::new();
    let key = new_key();
    w.write_config(&s.account("outlook", "pop3", "bob", &microsoft(&s)));
    let mut run = LoginRun::start(&w, &key, "outlook", &["--device"]);
    let verification = run.url();
    let code = run.read(|l| {
        l.strip_prefix("and enter the code ")
            .map(|c| c.trim().to_owned())
    });
    let (status, _, body) = http(
        "POST",
        &format!("{verification}/approve"),
        &format!("user_code={code}&user=bob"),
    );
    assert_eq!(status, 200, "{body}");
    let out = run.finish();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = w.run_with(
        &["fetch", "--json"],
        &[("INBOUND_ENCRYPTION_KEY", key.as_str())],
        "",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 8);
}

#[test]
fn google_device_login_is_refused_with_the_reason() {
    let w = Workdir::new();
    let key = new_key();
    w.write_config(
        "[[account]]\nname = \"gmail\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\n\
         username = \"me@gmail.com\"\n[account.oauth]\nprovider = \"google\"\n\
         client_id = \"x.apps.googleusercontent.com\"\n",
    );
    let out = LoginRun::start(&w, &key, "gmail", &["--device"]).finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Google does not allow mail scopes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_stored_account_with_a_confidential_client_signs_in_and_fetches() {
    let (s, registry) = server(ServerConfig::default());
    registry.add_client("web-app", "web-secret");
    let w = Workdir::new();
    w.write_config("");
    let key = new_key();
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let authority = s.server.oauth_authority();
    let port = s.server.imaps_addr().port().to_string();
    let ca = s.server.ca_file().display().to_string();
    let auth_url = format!("{authority}/t/oauth2/v2.0/authorize");
    let token_url = format!("{authority}/t/oauth2/v2.0/token");
    let add = [
        "accounts",
        "add",
        "mine",
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        "alice",
        "--ca-file",
        &ca,
        "--oauth",
        "authorization_code",
        "--client-id",
        "web-app",
        "--auth-url",
        &auth_url,
        "--token-url",
        &token_url,
        "--scope",
        "offline_access",
    ];
    let out = w.run_with(&add, &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("next, sign in: `inbound accounts login mine`"),
        "{}",
        stderr(&out)
    );

    // Without the client secret the provider refuses the client, and says so.
    let mut run = LoginRun::start(&w, &key, "mine", &[]);
    let url = run.url();
    browse(&url);
    let out = run.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check client_id and the client secret"),
        "{}",
        stderr(&out)
    );

    // With it (read from standard input): signed in, and the secret is stored sealed too.
    let mut run =
        LoginRun::start_with_input(&w, &key, "mine", &["--client-secret"], Some("web-secret\n"));
    let url = run.url();
    assert_eq!(browse(&url).0, 200);
    let out = run.finish();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let bytes = std::fs::read(w.store()).unwrap();
    assert!(!bytes.windows(10).any(|win| win == b"web-secret"));

    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 8);
    assert_eq!(json(&out)[0]["account"], "mine");
}

#[test]
fn watch_stops_a_subscription_whose_refresh_token_is_refused_and_says_to_sign_in() {
    let (s, registry) = server(ServerConfig::default());
    let w = Workdir::new();
    let key = new_key();
    w.write_config(&s.account(
        "outlook",
        "imap",
        "alice",
        &format!("subscribe = true\n{}", microsoft(&s)),
    ));
    let mut run = LoginRun::start(&w, &key, "outlook", &[]);
    let url = run.url();
    assert_eq!(browse(&url).0, 200);
    assert!(run.finish().status.success());
    let with_key = [("INBOUND_ENCRYPTION_KEY", key.as_str())];
    let old = copy_store(&w, "old");
    let out = w.run_with(&["fetch", "--json"], &with_key, "");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    // The token the old copy holds was rotated away: presenting it revokes the sign-in.
    restore_store(&w, &old);

    let mut child = w
        .cmd()
        .args(["watch", "--json"])
        .env("INBOUND_ENCRYPTION_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "watch did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "outlook: the account needs a new sign-in: run `inbound accounts login outlook`"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(registry.stats().refresh_token_reuses, 1);
    // Remembered after watch ended.
    let list = json(&w.run_with(&["accounts", "list", "--json"], &with_key, ""));
    assert_eq!(list[0]["state"], "needs_login", "{list}");
}
