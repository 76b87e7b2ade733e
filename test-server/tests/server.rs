//! `TestServer` as a whole (start, addresses, PKI files, users, mail directory, shutdown) and
//! the `inbound-test-server` binary (READY line, serving, clean exit on SIGTERM).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pop3_support;

use std::process::Stdio;
use std::time::Duration;

use inbound_test_server::mailstore::MailStore;
use inbound_test_server::server::{ServerConfig, Service, TestServer};
use pop3_support::*;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_files_and_users() {
    let cert_dir = tempfile::tempdir().unwrap();
    let store = MailStore::new();
    let server = TestServer::start(
        ServerConfig::default()
            .cert_dir(cert_dir.path())
            .store(store.clone())
            .user("alice", "a")
            .user("bob", "b")
            .seed_sample(false),
    )
    .await
    .unwrap();
    assert_eq!(server.ca_file(), cert_dir.path().join("ca.pem"));
    assert_eq!(
        std::fs::read_to_string(server.ca_file()).unwrap(),
        server.pki().ca_pem()
    );
    assert!(cert_dir.path().join("key.pem").exists());
    // The configured users, no demo user, no sample mail; the store is the one given.
    assert_eq!(store.users(), ["alice", "bob"]);
    assert!(
        server
            .store()
            .messages("alice", "INBOX")
            .unwrap()
            .is_empty()
    );
    for addr in [server.pop3_addr(), server.pop3s_addr()] {
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    }
    assert_ne!(server.pop3_addr(), server.pop3s_addr());
    assert_eq!(server.addr(Service::Pop3), Some(server.pop3_addr()));
    assert!(server.oauth_authority().starts_with("http://127.0.0.1:"));
    let ready = server.ready_line();
    let (imap, imaps) = (server.imap_addr(), server.imaps_addr());
    assert!(imap.port() != 0 && imaps.port() != 0 && imap != imaps);
    assert_eq!(
        ready,
        format!(
            "READY imap={imap} imaps={imaps} pop3={} pop3s={} oauth={} ca={}",
            server.pop3_addr(),
            server.pop3s_addr(),
            server.oauth_authority(),
            server.ca_file().display()
        )
    );
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("bob", "b").await;
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
}

#[test]
fn config_debug_hides_secrets() {
    let config = ServerConfig::default()
        .user("alice", "hunter2")
        .oauth_client("app", "s3cret-value");
    let debug = format!("{config:?}");
    assert!(debug.contains("alice") && debug.contains("app"), "{debug}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("s3cret-value"),
        "{debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_and_listeners() {
    let server = start(ServerConfig::default()).await;
    let store = server.store().clone();
    let addr = server.pop3_addr();
    let oauth = server.oauth_authority();
    let temp_ca = server.ca_file().to_owned();
    let (mut c, _) = connect_greeted(addr).await;
    c.login_ok("demo", "demo").await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown is quick");
    assert!(c.try_line().await.is_none(), "the session was closed");
    assert_eq!(
        store.messages("demo", "INBOX").unwrap().len(),
        8,
        "no QUIT, no deletion"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "POP3 no longer listens"
    );
    eventually_refused(oauth.trim_start_matches("http://")).await;
    assert!(!temp_ca.exists(), "the temporary cert dir is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_server_stops_it() {
    let server = start(ServerConfig::default()).await;
    let addr = server.pop3s_addr();
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    drop(server);
    assert!(c.try_line().await.is_none());
    eventually_refused(&addr.to_string()).await;
}

/// Waits (up to 10 s) until nothing listens on `addr` any more.
async fn eventually_refused(addr: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} still listens"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_dir_is_seeded_and_watched() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("carol/INBOX");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("1.eml"), "Subject: one\r\n\r\nfirst\r\n").unwrap();
    let dave = dir.path().join("dave/Archive");
    std::fs::create_dir_all(&dave).unwrap();
    std::fs::write(dave.join("a.eml"), "Subject: old\r\n\r\nold\r\n").unwrap();
    let server = start(
        ServerConfig::default()
            .user("carol", "c")
            .mail_dir(dir.path()),
    )
    .await;
    assert_eq!(server.store().users(), ["carol", "dave"]);
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("carol", "c").await;
    assert_eq!(
        c.cmd("STAT").await,
        "+OK 1 23",
        "the directory's mail, no sample mail"
    );
    c.quit().await;
    // A user found only in the directory has the default password; POP3 sees INBOX only.
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("dave", "demo").await;
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
    c.quit().await;
    std::fs::write(inbox.join("2.eml"), "Subject: two\r\n\r\nsecond\r\n").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.store().messages("carol", "INBOX").unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new file never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut c, _) = connect_greeted(server.pop3_addr()).await;
    c.login_ok("carol", "c").await;
    assert_eq!(
        c.cmd_multi("RETR 2").await.1,
        b"Subject: two\r\n\r\nsecond\r\n"
    );
}

/// Kills the child if a test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

fn field<'a>(ready: &'a str, name: &str) -> &'a str {
    ready
        .split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing in {ready}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_ready_serves_and_exits_on_sigterm() {
    let cert_dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_inbound-test-server"))
        .args([
            "--imap-port",
            "0",
            "--imaps-port",
            "0",
            "--pop3-port",
            "0",
            "--pop3s-port",
            "0",
        ])
        .args([
            "--oauth-port",
            "0",
            "--user",
            "erin:pw:with:colons",
            "--user",
            "frank:f",
        ])
        .arg("--cert-dir")
        .arg(cert_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut ready = String::new();
    tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut ready))
        .await
        .expect("READY in time")
        .unwrap();
    let ready = ready.trim_end();
    assert!(ready.starts_with("READY imap="), "{ready}");
    let ca = cert_dir.path().join("ca.pem");
    assert_eq!(field(ready, "ca"), ca.to_str().unwrap());
    assert!(field(ready, "oauth").starts_with("http://127.0.0.1:"));
    let pop3: std::net::SocketAddr = field(ready, "pop3").parse().unwrap();
    let pop3s: std::net::SocketAddr = field(ready, "pop3s").parse().unwrap();
    assert!(pop3.port() != 0 && pop3s.port() != 0);

    let (mut c, _) = connect_greeted(pop3).await;
    c.login_ok("erin", "pw:with:colons").await;
    assert!(
        c.cmd("STAT").await.starts_with("+OK 8 "),
        "sample mailbox seeded"
    );
    c.quit().await;
    let (mut c, _) = connect_greeted(pop3).await;
    assert!(
        c.login("demo", "demo").await.starts_with("-ERR"),
        "no demo user when users are given"
    );

    let pid = child.0.id().unwrap().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.0.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(c.try_line().await.is_none(), "open sessions are closed");
    let mut rest = String::new();
    stdout.read_line(&mut rest).await.unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_rejects_bad_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_inbound-test-server"))
        .args(["--user", "no-colon"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("NAME:PASSWORD"));
    let output = Command::new(env!("CARGO_BIN_EXE_inbound-test-server"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("IMAP 1143, IMAPS 1993, POP3 1110, POP3S 1995, OAuth 18080"),
        "{help}"
    );
}
