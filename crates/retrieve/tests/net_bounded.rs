//! Bounded everything, through the retrieval pipeline against the bundled test server: a
//! POP3 server whose LIST sizes would overflow a sum, a server that dribbles a fetched message
//! a byte at a time, and a `password_command` that never ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use inbound_retrieve::account::{FetchName, OAuthProviderName};
use inbound_retrieve::{
    CredentialError, Error, ErrorKind, Events, NetConnector, NoEvents, OAuthConfig, Progress,
    RetrieveConfig, Retriever,
};
use inbound_store::{EncryptionKey, Secret, Store};
use inbound_test_server::faults::{Dribble, Faults};
use net_support::*;

/// Records the last progress report.
#[derive(Default)]
struct LastProgress(Progress);

impl Events for LastProgress {
    fn on_progress(&mut self, progress: &Progress) {
        self.0 = *progress;
    }
}

/// LIST sizes are the server's claims: `u64::MAX` for every message must not overflow the
/// run's byte total (a panic in debug builds, a wrapped and wrong total in release ones);
/// every message is still retrieved or reported, none silently passed over.
#[tokio::test]
async fn pop3_sizes_that_overflow_a_sum_saturate() {
    let server = server(&["huge"]).await;
    deliver(&server, "huge", "INBOX", 1..=3);
    server.faults().set_default(Faults {
        pop3_listed_size: Some(u64::MAX),
        ..Faults::default()
    });
    let store = new_store();
    let account = pop3(&server, "huge", |c| set_fetch(c, FetchName::All, None));
    let mut events = LastProgress::default();
    let report = retriever(&store, 1)
        .retrieve_with_events(&account, &mut events)
        .await
        .unwrap();
    let reported = report.fetched + report.skipped_too_large.len() as u64;
    assert_eq!(reported, 3, "{report:?}");
    assert_eq!(events.0.messages_total, 3);
    if report.fetched > 0 {
        assert_eq!(events.0.bytes_total, u64::MAX);
    }
    assert_eq!(stored_numbers(&store, "huge").len() as u64, report.fetched);
    server.shutdown().await;
}

/// A server that sends a byte every 300 ms never falls silent for the 1 s timeout; the run
/// still ends, with a timeout error, instead of hanging on the message for hours.
#[tokio::test]
async fn a_dribbled_message_does_not_hold_a_run() {
    let server = server(&["slow"]).await;
    deliver(&server, "slow", "INBOX", 1..=1);
    server.faults().set_default(Faults {
        dribble: Some(Dribble::from_command(
            "UID FETCH",
            Duration::from_millis(300),
        )),
        ..Faults::default()
    });
    let store = new_store();
    let account = imap(&server, "slow", |c| c.timeout_secs = Some(1));
    let started = Instant::now();
    let run = tokio::time::timeout(
        Duration::from_secs(60),
        retriever(&store, 1).retrieve_with_events(&account, &mut NoEvents),
    )
    .await
    .expect("the dribbling server held the run");
    match run {
        Err(Error::Backend { source: error, .. }) => {
            assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
            assert!(error.to_string().contains("minimum rate"), "{error}");
        }
        other => panic!(
            "expected a timeout, got {other:?} after {:?}",
            started.elapsed()
        ),
    }
    assert!(stored_numbers(&store, "slow").is_empty());
    server.shutdown().await;
}

/// A `password_command` that never ends is killed at the timeout, with what it started,
/// and the run fails with a typed error naming the account and the timeout; meanwhile the
/// async runtime (a single thread here) keeps running other tasks.
#[cfg(unix)]
#[tokio::test]
async fn a_password_command_that_never_ends_is_killed() {
    let server = server(&["cmd"]).await;
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    let account = imap(&server, "cmd", |c| {
        c.password = None;
        c.password_command = Some(format!(
            "sleep 60 & echo $! > '{}'; wait",
            pid_file.display()
        ));
    });
    let retriever = Retriever::new(new_store(), NetConnector::new()).with_options(RetrieveConfig {
        secret_command_timeout: Duration::from_millis(500),
        ..options(1)
    });
    let ticks = Arc::new(AtomicU32::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        retriever.retrieve_with_events(&account, &mut NoEvents),
    )
    .await
    .expect("the password command held the run")
    .unwrap_err();
    ticker.abort();
    match &err {
        Error::Credentials(CredentialError::CommandTimeout {
            account, timeout, ..
        }) => {
            assert_eq!(account, "cmd");
            assert_eq!(*timeout, Duration::from_millis(500));
        }
        other => panic!("expected CommandTimeout, got {other:?}"),
    }
    assert!(err.to_string().contains("500ms"), "{err}");
    assert!(
        ticks.load(Ordering::Relaxed) >= 3,
        "the runtime was blocked while the command ran"
    );
    // The `sleep` the command started is gone too (checked where /proc shows it).
    if !cfg!(target_os = "linux") {
        server.shutdown().await;
        return;
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = std::path::Path::new("/proc").join(pid.trim());
    let mut gone = false;
    for _ in 0..100 {
        let state = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
        // Absent, or a zombie waiting for init to reap it.
        if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the command's child still runs");
    server.shutdown().await;
}

/// The endpoint rotates the refresh token at each refresh and refuses the old one: the new
/// one is saved (sealed) in the store the moment it arrives, so a new `Retriever` on the
/// same store, as after a restart, still logs in.
#[tokio::test]
async fn a_rotated_refresh_token_survives_a_restart() {
    const USER: &str = "rot@example.test";
    let server = server(&[USER]).await;
    deliver(&server, USER, "INBOX", 1..=2);
    let registry = server.registry();
    registry.add_client("desktop", "desktop-secret");
    registry.set_refresh_token_rotation(true);
    let original = registry.issue_refresh_token("desktop", USER, None);
    let key = EncryptionKey::generate().unwrap();
    let store = inbound_retrieve::share(Store::open_in_memory(Some(key)).unwrap());
    store
        .lock()
        .unwrap()
        .save_account(
            USER,
            "{}",
            &[
                ("refresh_token", Secret::new(original.as_str())),
                ("client_secret", Secret::new("desktop-secret")),
            ],
        )
        .unwrap();
    let account = imap(&server, USER, |c| {
        c.password = None;
        c.oauth = Some(OAuthConfig {
            provider: Some(OAuthProviderName::RefreshToken),
            client_id: Some("desktop".into()),
            token_url: Some(server.oauth_token_url("common")),
            ..OAuthConfig::default()
        });
    });
    let report = retriever(&store, 1)
        .retrieve_with_events(&account, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(report.fetched, 2);
    assert_eq!(registry.stats().refresh_token_grants, 1);

    // A restart: new retriever, same store; the configured token was rotated away.
    deliver(&server, USER, "INBOX", 3..=3);
    let report = retriever(&store, 1)
        .retrieve_with_events(&account, &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(report.fetched, 1);
    assert_eq!(registry.stats().refresh_token_grants, 2);
    assert_eq!(stored_numbers(&store, USER), [1, 2, 3]);
    server.shutdown().await;
}
