//! 200 concurrent POP3 sessions: 50 users, four sessions each competing for the maildrop
//! (IN-USE, retried). Every session deletes its first message; in the end each user has
//! lost exactly the four oldest, and every session saw a consistent maildrop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pop3_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use inbound_test_server::sample::generated_message;
use inbound_test_server::server::ServerConfig;
use pop3_support::*;
use tokio::task::JoinSet;

const USERS: usize = 50;
const SESSIONS_PER_USER: usize = 4;
const MESSAGES: usize = 10;

/// What one session saw.
struct Seen {
    user: String,
    count: usize,
    first_uidl: String,
    in_use_answers: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sessions_stay_consistent() {
    let mut config = ServerConfig::default().seed_sample(false);
    for u in 0..USERS {
        config = config.user(&format!("user{u}"), &format!("pw{u}"));
    }
    let server = start(config).await;
    let mut originals = BTreeMap::new();
    for u in 0..USERS {
        let user = format!("user{u}");
        for i in 0..MESSAGES {
            server
                .store()
                .deliver(&user, "INBOX", generated_message(u * 100 + i))
                .unwrap();
        }
        originals.insert(
            user.clone(),
            server.store().messages(&user, "INBOX").unwrap(),
        );
    }
    let addr = server.pop3_addr();
    let mut sessions = JoinSet::new();
    for s in 0..USERS * SESSIONS_PER_USER {
        let user = format!("user{}", s % USERS);
        let password = format!("pw{}", s % USERS);
        let messages = originals[&user].clone();
        sessions.spawn(async move {
            let mut in_use_answers = 0;
            let mut c = loop {
                let (mut c, _) = connect_greeted(addr).await;
                let answer = c.login(&user, &password).await;
                if answer.starts_with("+OK") {
                    break c;
                }
                assert!(answer.starts_with("-ERR [IN-USE]"), "{answer}");
                in_use_answers += 1;
                assert!(
                    in_use_answers < 2000,
                    "the maildrop of {user} was never free"
                );
                c.quit().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let stat = c.cmd("STAT").await;
            let count: usize = stat.split(' ').nth(1).unwrap().parse().unwrap();
            let uidls = c.listing("UIDL").await;
            assert_eq!(uidls.len(), count);
            let first_uidl = uidls[0].split_once(' ').unwrap().1.to_owned();
            // RETR 1 is the message whose UIDL is listed first.
            let uid: u32 = first_uidl.split_once('.').unwrap().1.parse().unwrap();
            let expected = messages.iter().find(|m| m.uid == uid).unwrap();
            assert_eq!(c.cmd_multi("RETR 1").await.1, expected.raw);
            assert!(c.cmd("DELE 1").await.starts_with("+OK"));
            assert_eq!(c.quit().await, "+OK Logging out, 1 messages deleted");
            Seen {
                user,
                count,
                first_uidl,
                in_use_answers,
            }
        });
    }
    let mut seen: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    let mut contended = 0;
    while let Some(result) = sessions.join_next().await {
        let s = result.unwrap();
        contended += u32::from(s.in_use_answers > 0);
        seen.entry(s.user.clone()).or_default().push(s);
    }
    assert_eq!(seen.len(), USERS);
    println!("{contended} sessions met the lock held by another and retried");
    for (user, sessions) in &seen {
        // The sessions of a user ran one after the other: 10, 9, 8, 7 messages.
        let counts: BTreeSet<usize> = sessions.iter().map(|s| s.count).collect();
        let expected: BTreeSet<usize> = (MESSAGES - SESSIONS_PER_USER + 1..=MESSAGES).collect();
        assert_eq!(counts, expected, "{user}");
        let firsts: BTreeSet<&str> = sessions.iter().map(|s| s.first_uidl.as_str()).collect();
        assert_eq!(
            firsts.len(),
            SESSIONS_PER_USER,
            "{user}: each deleted a different message"
        );
        let left: Vec<u32> = server
            .store()
            .messages(user, "INBOX")
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        let oldest_kept: Vec<u32> = originals[user]
            .iter()
            .skip(SESSIONS_PER_USER)
            .map(|m| m.uid)
            .collect();
        assert_eq!(left, oldest_kept, "{user}: the four oldest are gone");
    }
}
