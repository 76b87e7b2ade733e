//! Exactly-once under faults: drops, BYE, timeouts, refusals and killed clients at every
//! named point; afterwards every message is stored exactly once and nothing that is not
//! stored is gone from the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use inbound_retrieve::account::AfterReceiveName;
use inbound_retrieve::{Account, ImapCapabilities, NoEvents, Retriever, SharedStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ImapKeep,
    ImapDelete,
    ImapMove { has_move: bool },
    Pop3Keep,
    Pop3Delete,
}

impl Mode {
    fn pop3(self) -> bool {
        matches!(self, Mode::Pop3Keep | Mode::Pop3Delete)
    }

    fn account(self, batch: i64) -> Account {
        let edit = move |c: &mut inbound_retrieve::AccountConfig| {
            c.batch_size = Some(batch);
            c.sanitize_html = Some(false);
            match self {
                Mode::ImapKeep | Mode::Pop3Keep => {}
                Mode::ImapDelete | Mode::Pop3Delete => {
                    c.after_receive = Some(AfterReceiveName::Delete);
                }
                Mode::ImapMove { .. } => {
                    c.after_receive = Some(AfterReceiveName::Move);
                    c.move_to = Some("Archive".into());
                }
            }
        };
        if self.pop3() {
            pop3_account("acc", edit)
        } else {
            account("acc", edit)
        }
    }

    fn server(self) -> MemoryServer {
        let server = new_server();
        if let Mode::ImapMove { has_move } = self {
            server.set_capabilities(ImapCapabilities {
                move_command: has_move,
                ..server.capabilities()
            });
        }
        server
    }

    fn deliver(self, server: &MemoryServer, range: std::ops::Range<u32>) {
        for i in range {
            if self.pop3() {
                server.deliver_pop3(mail(i));
            } else {
                server.deliver("INBOX", mail(i));
            }
        }
    }

    fn inbox(self, server: &MemoryServer) -> Vec<u32> {
        if self.pop3() {
            pop3_numbers(server)
        } else {
            server_numbers(server, "INBOX")
        }
    }
}

/// One run; a hanging server kills the client (the future is dropped) after a while.
async fn run_once(r: &Retriever<MemoryConnector>, acc: &Account) -> bool {
    matches!(
        inbound_net::rt::timeout(
            Duration::from_secs(30),
            r.retrieve_with_events(acc, &mut NoEvents)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Nothing that is not stored is gone from the server; nothing is stored twice.
fn check_safe(mode: Mode, server: &MemoryServer, store: &SharedStore, delivered: u32, ctx: &str) {
    let stored = stored_numbers(store, "acc");
    let unique: HashSet<u32> = stored.iter().copied().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "{ctx}: stored twice: {stored:?}"
    );
    let inbox: HashSet<u32> = mode.inbox(server).into_iter().collect();
    for n in 1..=delivered {
        assert!(
            inbox.contains(&n) || unique.contains(&n),
            "{ctx}: message {n} is gone from the server but not stored"
        );
    }
    if matches!(mode, Mode::ImapMove { .. }) {
        for n in server_numbers(server, "Archive") {
            assert!(unique.contains(&n), "{ctx}: {n} moved but not stored");
        }
    }
}

/// After a clean run: all stored exactly once, actions all done.
fn check_final(mode: Mode, server: &MemoryServer, store: &SharedStore, delivered: u32, ctx: &str) {
    let all: Vec<u32> = (1..=delivered).collect();
    assert_eq!(stored_numbers(store, "acc"), all, "{ctx}: stored");
    assert_eq!(
        pending_count(store, "acc"),
        0,
        "{ctx}: pending actions left"
    );
    match mode {
        Mode::ImapKeep | Mode::Pop3Keep => assert_eq!(mode.inbox(server), all, "{ctx}"),
        Mode::ImapDelete | Mode::Pop3Delete => {
            assert!(mode.inbox(server).is_empty(), "{ctx}: not deleted");
        }
        Mode::ImapMove { has_move } => {
            assert!(mode.inbox(server).is_empty(), "{ctx}: not moved");
            let mut archive = server_numbers(server, "Archive");
            if has_move {
                assert_eq!(archive, all, "{ctx}: archive");
            } else {
                // COPY then EXPUNGE is not atomic: a crash between them may leave a second
                // copy in the target, never a loss.
                archive.dedup();
                assert_eq!(archive, all, "{ctx}: archive");
            }
        }
    }
}

const KINDS: [FaultKind; 5] = [
    FaultKind::Drop,
    FaultKind::Bye,
    FaultKind::Timeout,
    FaultKind::Refuse,
    FaultKind::Hang,
];

fn points(mode: Mode) -> &'static [FaultPoint] {
    if mode.pop3() {
        FaultPoint::POP3_RETRIEVAL
    } else {
        FaultPoint::IMAP_RETRIEVAL
    }
}

const MODES: [Mode; 6] = [
    Mode::ImapKeep,
    Mode::ImapDelete,
    Mode::ImapMove { has_move: true },
    Mode::ImapMove { has_move: false },
    Mode::Pop3Keep,
    Mode::Pop3Delete,
];

/// Every named point, every fault kind, first and later occurrences.
#[tokio::test(start_paused = true)]
async fn a_fault_at_every_named_point() {
    for mode in MODES {
        for &point in points(mode) {
            for kind in KINDS {
                for nth in [1, 2, 4] {
                    let ctx = format!("{mode:?} {point:?} {kind:?} #{nth}");
                    let server = mode.server();
                    mode.deliver(&server, 1..8);
                    let store = new_store();
                    let acc = mode.account(3);
                    let r = retriever(&store, &server);
                    // Fault on every attempt of the first run, so it really fails there.
                    for _ in 0..3 {
                        server.fault(point, nth, kind);
                    }
                    run_once(&r, &acc).await;
                    check_safe(mode, &server, &store, 7, &ctx);
                    server.clear_faults();
                    assert!(run_once(&r, &acc).await, "{ctx}: clean run failed");
                    check_final(mode, &server, &store, 7, &ctx);
                }
            }
        }
    }
}

/// A run is killed right after storing a batch and before the server action; the next run
/// completes the recorded action.
#[tokio::test(start_paused = true)]
async fn killed_between_store_and_action_is_completed_next_run() {
    for (mode, point) in [
        (Mode::ImapDelete, FaultPoint::DeleteBefore),
        (Mode::ImapMove { has_move: true }, FaultPoint::MoveBefore),
        (Mode::Pop3Delete, FaultPoint::QuitBefore),
    ] {
        let server = mode.server();
        mode.deliver(&server, 1..4);
        let store = new_store();
        let acc = mode.account(10);
        let r = retriever(&store, &server);
        server.fault(point, 1, FaultKind::Hang);
        assert!(!run_once(&r, &acc).await);
        assert_eq!(stored_numbers(&store, "acc"), [1, 2, 3], "{mode:?}");
        assert_eq!(pending_count(&store, "acc"), 3, "{mode:?}");
        assert_eq!(
            mode.inbox(&server),
            [1, 2, 3],
            "{mode:?}: acted before the crash?"
        );

        let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
        assert_eq!(rep.recovered_actions, 3, "{mode:?}");
        assert_eq!(rep.fetched, 0, "{mode:?}");
        check_final(mode, &server, &store, 3, &format!("{mode:?}"));
    }
}

/// The action was applied by the server but its answer was lost.
#[tokio::test(start_paused = true)]
async fn action_applied_but_answer_lost() {
    for (mode, point) in [
        (Mode::ImapDelete, FaultPoint::DeleteAfter),
        (Mode::ImapMove { has_move: true }, FaultPoint::MoveAfter),
        (Mode::Pop3Delete, FaultPoint::QuitAfter),
    ] {
        let server = mode.server();
        mode.deliver(&server, 1..4);
        let store = new_store();
        let acc = mode.account(10);
        let r = retriever(&store, &server);
        for _ in 0..3 {
            server.fault(point, 1, FaultKind::Drop);
        }
        assert!(!run_once(&r, &acc).await);
        server.clear_faults();
        let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
        assert_eq!(rep.fetched, 0, "{mode:?}");
        check_final(mode, &server, &store, 3, &format!("{mode:?}"));
    }
}

/// A dropped connection mid-replication is retried within the run, resuming where it was.
#[tokio::test(start_paused = true)]
async fn replicate_all_resumes_after_a_drop() {
    let server = new_server();
    server.deliver_many("INBOX", 1..101);
    let store = new_store();
    let acc = account("acc", |c| c.batch_size = Some(10));
    let r = retriever(&store, &server);
    server.fault(FaultPoint::FetchMessage, 35, FaultKind::Drop);
    let mut rec = Recorder::default();
    let rep = r.retrieve_with_events(&acc, &mut rec).await.unwrap();
    assert_eq!(rep.fetched, 100);
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(stored_numbers(&store, "acc"), (1..101).collect::<Vec<_>>());
    // Resumed: the messages before the drop were not downloaded again.
    let fetches: usize = server
        .log()
        .iter()
        .filter(|l| l.starts_with("FETCH"))
        .count();
    assert_eq!(fetches, 11, "10 batches plus the interrupted one");

    // Retries exhausted: the error says so and carries the partial report; the next run
    // resumes.
    server.deliver_many("INBOX", 101..131);
    for _ in 0..3 {
        server.fault(FaultPoint::FetchMessage, 5, FaultKind::Timeout);
    }
    let err = r
        .retrieve_with_events(&acc, &mut NoEvents)
        .await
        .unwrap_err();
    match &err {
        inbound_retrieve::Error::Backend { report, .. } => {
            assert_eq!(report.fetched, 12);
            assert_eq!(report.errors.len(), 2);
        }
        other => panic!("unexpected {other}"),
    }
    let rep = r.retrieve_with_events(&acc, &mut NoEvents).await.unwrap();
    assert_eq!(rep.fetched, 18);
    assert_eq!(stored_numbers(&store, "acc"), (1..131).collect::<Vec<_>>());
}

/// 200 randomized runs: random mode, sizes, batches, deliveries between runs and faults.
#[tokio::test(start_paused = true)]
async fn randomized_fault_runs() {
    let mut rng = StdRng::seed_from_u64(0x1b00d);
    for case in 0..200 {
        let mode = MODES[rng.gen_range(0..MODES.len())];
        let batch = rng.gen_range(1..6);
        let server = mode.server();
        let store = new_store();
        let acc = mode.account(batch);
        let r = retriever(&store, &server);
        let mut delivered = 0u32;
        let rounds = rng.gen_range(1..5);
        for round in 0..rounds {
            let more = rng.gen_range(0..12);
            mode.deliver(&server, delivered + 1..delivered + 1 + more);
            delivered += more;
            for _ in 0..rng.gen_range(0..4) {
                let pts = points(mode);
                let point = pts[rng.gen_range(0..pts.len())];
                let kind = KINDS[rng.gen_range(0..KINDS.len())];
                server.fault(point, rng.gen_range(1..8), kind);
            }
            run_once(&r, &acc).await;
            let ctx = format!("case {case} round {round} {mode:?} batch {batch}");
            check_safe(mode, &server, &store, delivered, &ctx);
        }
        server.clear_faults();
        let ctx = format!("case {case} {mode:?} batch {batch} final");
        assert!(run_once(&r, &acc).await, "{ctx}: clean run failed");
        check_final(mode, &server, &store, delivered, &ctx);
    }
}
