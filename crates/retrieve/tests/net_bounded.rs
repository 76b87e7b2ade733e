//! Bounded everything, through the retrieval pipeline against the bundled test server: a
//! POP3 server whose LIST sizes would overflow a sum, a server that dribbles a fetched message
//! a byte at a time, and a `password_command` that never ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::time::{Duration, Instant};

use inbound_retrieve::config::FetchName;
use inbound_retrieve::{Error, ErrorKind, Events, NoEvents, Progress};
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
        .retrieve(&account, &mut events)
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
        retriever(&store, 1).retrieve(&account, &mut NoEvents),
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
