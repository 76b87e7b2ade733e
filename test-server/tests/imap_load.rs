//! 200 concurrent sessions of one user append, flag and expunge in the same folder; then
//! every session's view (sequence numbers learned only from the untagged responses it was
//! sent) must agree with the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_support;

use std::sync::Arc;

use imap_support::{Client, start};
use tokio::sync::Barrier;

const SESSIONS: usize = 200;

/// Follows the message count through EXISTS and EXPUNGE responses.
fn track(count: &mut u32, lines: &[String]) {
    for line in lines {
        let mut words = line.split_whitespace();
        if words.next() != Some("*") {
            continue;
        }
        let (Some(n), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        match kind {
            "EXISTS" => *count = n,
            "EXPUNGE" => {
                assert!(n >= 1 && n <= *count, "EXPUNGE {n} with {count} messages");
                *count -= 1;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_keep_consistent_state() {
    let h = start().await;
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut tasks = Vec::new();
    for i in 0..SESSIONS {
        let (addr, barrier) = (h.imap, barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::login(addr).await;
            let mut count = 0;
            let r = c.cmd("s SELECT INBOX").await;
            track(&mut count, &r);
            barrier.wait().await;
            // Phase 1: everyone changes the folder at once.
            let msg = format!("Subject: load {i}\r\n\r\nbody {i}\r\n");
            c.send(&format!("a APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
                .await;
            let r = c.until_tag("a").await;
            track(&mut count, &r);
            let ok = r.last().unwrap();
            let uid: u32 = ok
                .split("APPENDUID ")
                .nth(1)
                .and_then(|rest| rest.split([' ', ']']).nth(1))
                .and_then(|u| u.parse().ok())
                .unwrap_or_else(|| panic!("{ok}"));
            let flag = if i % 2 == 0 { "\\Deleted" } else { "\\Flagged" };
            let r = c.cmd(&format!("b UID STORE {uid} +FLAGS ({flag})")).await;
            track(&mut count, &r);
            if i % 2 == 0 {
                let r = c.cmd(&format!("c UID EXPUNGE {uid}")).await;
                assert!(r.last().unwrap().starts_with("c OK"), "{r:?}");
                track(&mut count, &r);
            }
            let r = c.cmd("d UID FETCH 1:* (FLAGS)").await;
            track(&mut count, &r);
            barrier.wait().await;
            // Phase 2: the folder is still; every view catches up and must match.
            let r = c.cmd("e NOOP").await;
            track(&mut count, &r);
            let r = c.cmd("f FETCH 1:* (UID FLAGS)").await;
            track(&mut count, &r);
            (count, r)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let stored = h.store.messages("demo", "INBOX").unwrap();
    assert_eq!(stored.len(), 8 + SESSIONS / 2);
    for (count, fetch) in results {
        assert_eq!(count as usize, stored.len());
        let fetched = &fetch[..fetch.len() - 1];
        assert_eq!(fetched.len(), stored.len());
        for (i, (line, m)) in fetched.iter().zip(&stored).enumerate() {
            let want_flags: Vec<String> = m.flags.iter().map(ToString::to_string).collect();
            assert_eq!(
                *line,
                format!(
                    "* {} FETCH (UID {} FLAGS ({}))\r\n",
                    i + 1,
                    m.uid,
                    want_flags.join(" ")
                )
            );
        }
    }
    // Every odd session's message is there and flagged.
    let flagged = stored
        .iter()
        .filter(|m| {
            m.flags
                .contains(&inbound_test_server::mailstore::Flag::Flagged)
        })
        .count();
    assert_eq!(flagged, SESSIONS / 2 + 1);
}
