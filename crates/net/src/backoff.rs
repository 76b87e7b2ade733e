//! Reconnection backoff: exponential delays with jitter, deterministic under a seed.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How random the delays are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// No randomness: `initial`, `2·initial`, `4·initial`, ... capped at `max`.
    None,
    /// "Full jitter": uniformly random between zero and the exponential delay. Spreads a
    /// crowd of clients best.
    Full,
    /// "Decorrelated jitter": uniformly random between `initial` and three times the previous
    /// delay, capped at `max`. Never shorter than `initial`.
    Decorrelated,
}

/// A reconnection policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The base delay (the first delay without jitter); each next one doubles. Default 1 s.
    pub initial: Duration,
    /// No delay is longer than this. Default 300 s.
    pub max: Duration,
    /// How many delays [`Backoff::next_delay`] gives before returning `None`; `None` (the
    /// default) for no limit.
    pub max_attempts: Option<u32>,
    /// How much of each delay is random. Default [`Jitter::Full`] (uniform between zero
    /// and the delay), so many clients that failed together do not retry together.
    pub jitter: Jitter,
}

impl Default for BackoffConfig {
    /// 1 s initial, 5 min max, unlimited attempts, full jitter.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            max_attempts: None,
            jitter: Jitter::Full,
        }
    }
}

/// The state of one reconnect loop: call [`Backoff::next_delay`] after each failure and
/// [`Backoff::reset`] after a success.
///
/// ```
/// use std::time::Duration;
/// use inbound_net::backoff::{Backoff, BackoffConfig, Jitter};
///
/// let policy = BackoffConfig {
///     initial: Duration::from_secs(1),
///     max: Duration::from_secs(5),
///     max_attempts: Some(4),
///     jitter: Jitter::None,
/// };
/// let mut backoff = Backoff::with_seed(policy, 7);
/// let delays: Vec<_> = std::iter::from_fn(|| backoff.next_delay()).collect();
/// assert_eq!(delays, [1, 2, 4, 5].map(Duration::from_secs));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffConfig,
    attempts: u32,
    previous: Duration,
    rng: StdRng,
}

impl Backoff {
    /// A backoff seeded from the operating system's randomness.
    #[must_use]
    pub fn new(policy: BackoffConfig) -> Self {
        Self::with_rng(policy, StdRng::from_entropy())
    }

    /// A backoff whose delays are fully determined by `seed` (tests).
    #[must_use]
    pub fn with_seed(policy: BackoffConfig, seed: u64) -> Self {
        Self::with_rng(policy, StdRng::seed_from_u64(seed))
    }

    fn with_rng(policy: BackoffConfig, rng: StdRng) -> Self {
        Self {
            policy,
            attempts: 0,
            previous: Duration::ZERO,
            rng,
        }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &BackoffConfig {
        &self.policy
    }

    /// How many delays were handed out since the last reset.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over, after a successful connection.
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.previous = Duration::ZERO;
    }

    /// The delay before the next attempt, or `None` once `max_attempts` delays were given.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        let BackoffConfig { initial, max, .. } = self.policy;
        let max = max.max(initial);
        // initial · 2^attempts, saturating at max.
        let exponential = 1u32
            .checked_shl(self.attempts)
            .and_then(|factor| initial.checked_mul(factor))
            .map_or(max, |d| d.min(max));
        let delay = match self.policy.jitter {
            Jitter::None => exponential,
            Jitter::Full => self.uniform(Duration::ZERO, exponential),
            Jitter::Decorrelated => {
                let upper = self.previous.saturating_mul(3).clamp(initial, max);
                self.uniform(initial, upper)
            }
        };
        self.attempts = self.attempts.saturating_add(1);
        self.previous = delay;
        Some(delay)
    }

    /// Uniform in `[low, high]`, to the microsecond.
    fn uniform(&mut self, low: Duration, high: Duration) -> Duration {
        let (lo, hi) = (low.as_micros() as u64, high.as_micros() as u64);
        if hi <= lo {
            return low;
        }
        Duration::from_micros(self.rng.gen_range(lo..=hi))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy(jitter: Jitter) -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            max_attempts: None,
            jitter,
        }
    }

    #[test]
    fn exponential_without_jitter_is_capped() {
        let mut b = Backoff::with_seed(policy(Jitter::None), 0);
        let delays: Vec<u128> = (0..10)
            .map(|_| b.next_delay().unwrap().as_millis())
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        // Far past any shift width, still the cap.
        for _ in 0..100 {
            assert_eq!(b.next_delay(), Some(Duration::from_secs(10)));
        }
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_bound() {
        let mut b = Backoff::with_seed(policy(Jitter::Full), 42);
        let mut distinct = std::collections::HashSet::new();
        for attempt in 0..40u32 {
            let bound = Duration::from_millis(100)
                .saturating_mul(2u32.saturating_pow(attempt))
                .min(Duration::from_secs(10));
            let d = b.next_delay().unwrap();
            assert!(d <= bound, "attempt {attempt}: {d:?} > {bound:?}");
            distinct.insert(d);
        }
        assert!(distinct.len() > 30, "jitter actually varies");
    }

    #[test]
    fn decorrelated_jitter_stays_between_initial_and_max() {
        let mut b = Backoff::with_seed(policy(Jitter::Decorrelated), 3);
        let mut previous = Duration::ZERO;
        for _ in 0..200 {
            let d = b.next_delay().unwrap();
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_secs(10),
                "{d:?}"
            );
            assert!(d <= (previous * 3).max(Duration::from_millis(100)));
            previous = d;
        }
    }

    #[test]
    fn same_seed_same_delays_and_reset_restarts() {
        let run = |seed| {
            let mut b = Backoff::with_seed(policy(Jitter::Full), seed);
            (0..20).map(|_| b.next_delay().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));

        let mut b = Backoff::with_seed(policy(Jitter::None), 1);
        for _ in 0..5 {
            let _ = b.next_delay();
        }
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn attempts_are_limited() {
        let mut p = policy(Jitter::Decorrelated);
        p.max_attempts = Some(3);
        let mut b = Backoff::with_seed(p, 5);
        assert_eq!((0..5).filter_map(|_| b.next_delay()).count(), 3);
        assert_eq!(b.next_delay(), None);
        b.reset();
        assert!(b.next_delay().is_some());
    }

    #[test]
    fn max_below_initial_uses_initial() {
        let p = BackoffConfig {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(1),
            max_attempts: None,
            jitter: Jitter::None,
        };
        let mut b = Backoff::with_seed(p, 0);
        assert_eq!(b.next_delay(), Some(Duration::from_secs(2)));
        assert_eq!(b.next_delay(), Some(Duration::from_secs(2)));
    }
}
