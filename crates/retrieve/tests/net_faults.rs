//! Randomized fault runs over the network adapters against the test server: drops at every
//! named point and after random byte counts, BYE before a drop, timeouts. After each faulty
//! run nothing unstored is gone from the server and nothing is stored twice; after a clean
//! run everything is stored exactly once and every action is done.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod net_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use inbound_retrieve::{Account, MailProtocol, NoEvents};
use inbound_test_server::faults::{DropPoint, FaultPlan, Faults};
use inbound_test_server::server::TestServer;
use net_support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const RUNS: u32 = 200;

#[derive(Debug, Clone, Copy)]
enum Mode {
    ImapKeep,
    ImapDelete,
    ImapMove,
    Pop3Keep,
    Pop3Delete,
}

const MODES: [Mode; 5] = [
    Mode::ImapKeep,
    Mode::ImapDelete,
    Mode::ImapMove,
    Mode::Pop3Keep,
    Mode::Pop3Delete,
];

impl Mode {
    fn account(self, server: &TestServer, user: &str, batch: i64) -> Account {
        let edit = move |c: &mut inbound_retrieve::AccountConfig| {
            c.batch_size = Some(batch);
            match self {
                Mode::ImapDelete | Mode::Pop3Delete => delete_after(c),
                Mode::ImapMove => move_after(c, "Archive"),
                Mode::ImapKeep | Mode::Pop3Keep => {}
            }
        };
        let mut acc = match self {
            Mode::Pop3Keep | Mode::Pop3Delete => {
                account(MailProtocol::Pop3, server.pop3_addr(), user, edit)
            }
            _ => account(MailProtocol::Imap, server.imap_addr(), user, edit),
        };
        acc.timeout = Duration::from_millis(300);
        acc
    }
}

fn random_fault(rng: &mut StdRng) -> Faults {
    let points = [
        DropPoint::AfterGreeting,
        DropPoint::MidFetchLiteral,
        DropPoint::BetweenFetchAndStore,
        DropPoint::BeforeMoveOrExpungeOk,
        DropPoint::AfterBytes(rng.gen_range(50..4000)),
    ];
    let mut faults = Faults::default();
    match rng.gen_range(0..10) {
        // A server that stops answering: the account's timeout ends the wait.
        0 => faults.delay = Some(Duration::from_millis(600)),
        n => {
            faults.drop_at = Some(points[rng.gen_range(0..points.len())]);
            if n < 4 {
                faults.bye_before_drop = Some("shutting down".into());
            }
        }
    }
    faults
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_faults_never_lose_or_duplicate() {
    let users: Vec<String> = (0..RUNS).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let server = server(&names).await;
    let seed = std::env::var("NET_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1b0u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    for run in 0..RUNS {
        let user = &users[run as usize];
        let mode = MODES[run as usize % MODES.len()];
        let count = rng.gen_range(1..=9);
        deliver(&server, user, "INBOX", 1..=count);
        let acc = mode.account(&server, user, rng.gen_range(1..=4));
        let faults = random_fault(&mut rng);
        let ctx = format!("run {run} (seed {seed}) {mode:?} {count} messages, {faults:?}");
        let store = new_store();
        let r = retriever(&store, 1);

        server.faults().push_plan(FaultPlan::new(faults.clone(), 1));
        let _ = r.retrieve_with_events(&acc, &mut NoEvents).await;
        server.faults().clear();
        check_safe(&server, &store, user, count, &ctx);

        // The next clean run completes the work.
        let report = r.retrieve_with_events(&acc, &mut NoEvents).await;
        if let Err(e) = &report {
            panic!("{ctx}: clean run failed: {e}");
        }
        check_safe(&server, &store, user, count, &ctx);
        let all: Vec<u32> = (1..=count).collect();
        assert_eq!(stored_numbers(&store, user), all, "{ctx}: stored");
        assert_eq!(
            pending_count(&store, user),
            0,
            "{ctx}: pending actions left"
        );
        let inbox = server_numbers(&server, user, "INBOX");
        match mode {
            Mode::ImapKeep | Mode::Pop3Keep => assert_eq!(inbox, all, "{ctx}"),
            Mode::ImapDelete | Mode::Pop3Delete => assert!(inbox.is_empty(), "{ctx}: {inbox:?}"),
            Mode::ImapMove => {
                assert!(inbox.is_empty(), "{ctx}: {inbox:?}");
                assert_eq!(server_numbers(&server, user, "Archive"), all, "{ctx}");
            }
        }
    }
    eprintln!("{RUNS} fault runs in {:?}", started.elapsed());
}

/// Nothing that is not stored is gone from the server; nothing is stored twice; a message
/// is in the archive only once stored.
fn check_safe(
    server: &TestServer,
    store: &inbound_retrieve::SharedStore,
    user: &str,
    count: u32,
    ctx: &str,
) {
    let stored = stored_numbers(store, user);
    let unique: HashSet<u32> = stored.iter().copied().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "{ctx}: stored twice: {stored:?}"
    );
    let inbox = set(&server_numbers(server, user, "INBOX"));
    for n in 1..=count {
        assert!(
            inbox.contains(&n) || unique.contains(&n),
            "{ctx}: message {n} is gone from the server but not stored"
        );
    }
    for n in server_numbers(server, user, "Archive") {
        assert!(unique.contains(&n), "{ctx}: {n} moved but not stored");
    }
}
