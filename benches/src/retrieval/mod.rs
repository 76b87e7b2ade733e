//! The end-to-end retrieval bench (binary `retrieval`): retrieval from a Dovecot on loopback,
//! and from Inbound's test server in a process of its own, by several clients, each in its own process so its CPU time and peak RSS are its own, and
//! the whole `inbound fetch` pipeline with a breakdown of where its time goes.
//!
//! - [`harness`]: starts Dovecot and the test server, seeds the mailboxes, runs every client several times
//!   (round-robin), verifies each result (message count and total octets) before its time
//!   counts, takes medians and checks the targets.
//! - [`clients`]: the Rust clients (inbound-net IMAP and POP3, async-imap, a raw read).
//! - [`pipeline`]: `Retriever` + `NetConnector` into SQLite, and the stage breakdown.
//! - [`stats`]: how a client process measures itself; medians.
//! - [`report`]: the markdown written to `benches/RESULTS.md` by `cargo xtask bench`,
//!   with the criterion estimates and the memory bench's table.
//!
//! The Python clients are `benches/scripts/imap_fetch.py` and `pop3_fetch.py`.

pub mod clients;
pub mod harness;
pub mod pipeline;
pub mod report;
pub mod stats;

/// Errors of the bench tooling: reported and the run fails.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
