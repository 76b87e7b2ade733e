//! The memory bench (`cargo run --release -p inbound-benches --bin memory`): peak RSS while
//! one large message is retrieved, and RSS plus notification latency for many concurrent
//! IMAP IDLE sessions.
//!
//! Every figure comes from its own process, so that nothing measured before leaks into it:
//! the test server runs in a child process ([`server`], the binary re-executed with
//! `--serve`), each retrieval runs in a child process of its own ([`large`],
//! `--fetch-child`), and the IDLE sessions run in one more child ([`idle`],
//! `--idle-child`) that starts its own server. The parent collects the children's
//! `RESULT {json}` lines and prints the table ([`report`]). The `inbound` binary itself is
//! measured as a child too, against Dovecot ([`binary`]).

pub mod binary;
pub mod idle;
pub mod large;
pub mod proc_status;
pub mod report;
pub mod server;

use std::error::Error;

/// The error type of the bench: any error, with a message saying what failed.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The line prefix of a child's result (`RESULT {json}`).
pub const RESULT_PREFIX: &str = "RESULT ";

/// FNV-1a (64 bits): a cheap checksum to prove the retrieved bytes are the stored ones.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut h = self.0;
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    /// The checksum so far.
    pub fn finish(self) -> u64 {
        self.0
    }

    /// The checksum of `data`.
    pub fn of(data: &[u8]) -> u64 {
        let mut f = Self::default();
        f.update(data);
        f.finish()
    }
}

/// Raises this process's open-file limit to `wanted` (or to the hard limit if lower) and
/// returns the limit now in force.
///
/// # Errors
/// When the limit cannot be read or set.
pub fn raise_nofile_limit(wanted: u64) -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(wanted)
}

/// The `p`-th percentile (0..=100) of sorted values, nearest rank; 0 for none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn fnv_known_answer_and_chunking() {
        assert_eq!(Fnv::of(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fnv::of(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut f = Fnv::default();
        f.update(b"hel");
        f.update(b"lo");
        assert_eq!(f.finish(), Fnv::of(b"hello"));
    }
}
