//! `examples/fetch.rs`, the front door README points to, run as a user runs it: against the
//! bundled test server over TLS, its password from the environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use inbound_store::{MessageFilter, Store};
use inbound_test_server::server::{ServerConfig, TestServer};

/// The example's binary, which `cargo test` builds next to the test binaries.
fn example() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let path = deps.parent()?.join("examples").join("fetch");
    path.exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetch_example_stores_and_archives_the_mailbox() {
    let Some(example) = example() else {
        eprintln!("skipped: the fetch example is not built (run `cargo test`, not a single test)");
        return;
    };
    let server = TestServer::start(ServerConfig::default().seed_sample(true))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let (port, ca) = (server.imaps_addr().port(), server.ca_file().to_owned());
        let dir = dir.path().to_owned();
        move || {
            Command::new(example)
                .current_dir(dir)
                .env("MAIL_HOST", "127.0.0.1")
                .env("MAIL_PORT", port.to_string())
                .env("MAIL_CA", ca)
                .env("MAIL_USER", "demo")
                .env("MAIL_PW", "demo")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "fetched 8, moved 8");
    let store = Store::open(dir.path().join("mail.sqlite"), None).unwrap();
    let stored = store
        .list_messages(&MessageFilter::account("demo@127.0.0.1"))
        .unwrap();
    assert_eq!(stored.len(), 8);
    assert_eq!(server.store().messages("demo", "Archive").unwrap().len(), 8);
    assert!(server.store().messages("demo", "INBOX").unwrap().is_empty());
    server.shutdown().await;
}
