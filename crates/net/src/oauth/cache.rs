//! The token cache shared by the providers, with an injectable clock.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::AccessToken;
use crate::Secret;
use crate::error::OAuthError;

/// Where the token cache reads the time. Tests inject their own to step past expiries.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A token as the endpoint returned it.
pub(crate) struct Fetched {
    pub(crate) secret: Secret,
    /// `expires_in`, if present.
    pub(crate) lifetime: Option<Duration>,
}

struct Cached {
    token: AccessToken,
    /// When to fetch a new one; `None`: keep until invalidated.
    refresh_at: Option<Instant>,
}

/// How long before expiry a token is replaced: 10 % of its lifetime but at least 60 s, and
/// never more than half the lifetime (so short-lived tokens are still used).
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10)
        .max(Duration::from_secs(60))
        .min(lifetime / 2)
}

/// One cached token, fetched by at most one caller at a time: concurrent callers wait for the
/// fetch in progress and share its result.
pub(crate) struct TokenCache {
    clock: Arc<dyn Clock>,
    slot: tokio::sync::Mutex<Option<Cached>>,
    invalidated: AtomicBool,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("clock", &self.clock)
            .field("invalidated", &self.invalidated.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            slot: tokio::sync::Mutex::new(None),
            invalidated: AtomicBool::new(false),
        }
    }

    pub(crate) fn invalidate(&self) {
        self.invalidated.store(true, Ordering::SeqCst);
    }

    /// The cached token while fresh, else the result of `fetch`. When a refresh fails but
    /// the old token has not expired yet (it is only inside its refresh margin), the old
    /// token is returned and the failure logged.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, OAuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, OAuthError>>,
    {
        let mut slot = self.slot.lock().await;
        let invalidated = self.invalidated.swap(false, Ordering::SeqCst);
        if invalidated {
            *slot = None;
        }
        let now = self.clock.now();
        if let Some(cached) = slot.as_ref()
            && cached.refresh_at.is_none_or(|at| now < at)
        {
            return Ok(cached.token.clone());
        }
        tracing::debug!(invalidated, "fetching a new OAuth access token");
        match fetch().await {
            Ok(fetched) => {
                // Count the lifetime from before the request: the token may be older by the
                // time the answer arrives, never younger.
                let expires_at = fetched.lifetime.and_then(|l| now.checked_add(l));
                let refresh_at = fetched
                    .lifetime
                    .and_then(|l| now.checked_add(l.saturating_sub(refresh_margin(l))));
                let token = AccessToken::new(fetched.secret, expires_at);
                *slot = Some(Cached {
                    token: token.clone(),
                    refresh_at,
                });
                Ok(token)
            }
            Err(error) => {
                let still_valid = slot.as_ref().filter(|c| {
                    c.token
                        .expires_at()
                        .is_some_and(|exp| self.clock.now() < exp)
                });
                match still_valid {
                    Some(cached) => {
                        tracing::warn!(%error, "token refresh failed; using the current token until it expires");
                        Ok(cached.token.clone())
                    }
                    None => Err(error),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU32;

    /// A clock that moves only when told.
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        base: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        pub(crate) fn new() -> Arc<Self> {
            Arc::new(Self {
                base: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            })
        }
        pub(crate) fn advance(&self, by: Duration) {
            *self.offset.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.base + *self.offset.lock().unwrap()
        }
    }

    async fn fetcher(count: &AtomicU32, lifetime: Option<Duration>) -> Result<Fetched, OAuthError> {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Fetched {
            secret: Secret::new(format!("token-{n}")),
            lifetime,
        })
    }

    #[test]
    fn margins() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(360)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test]
    async fn cached_until_the_margin_then_refreshed() {
        let clock = ManualClock::new();
        let cache = TokenCache::new(clock.clone());
        let count = AtomicU32::new(0);
        let hour = Some(Duration::from_secs(3600));
        let t1 = cache.get(|| fetcher(&count, hour)).await.unwrap();
        assert_eq!(t1.secret().expose(), "token-1");
        clock.advance(Duration::from_secs(3000));
        let t = cache.get(|| fetcher(&count, hour)).await.unwrap();
        assert_eq!(t.secret().expose(), "token-1");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // 3600 - 360 = 3240 s: past the refresh point.
        clock.advance(Duration::from_secs(241));
        let t2 = cache.get(|| fetcher(&count, hour)).await.unwrap();
        assert_eq!(t2.secret().expose(), "token-2");
        assert!(t2.expires_at().unwrap() > t1.expires_at().unwrap());
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_token() {
        let cache = TokenCache::new(ManualClock::new());
        let count = AtomicU32::new(0);
        let _ = cache.get(|| fetcher(&count, None)).await.unwrap();
        let t = cache.get(|| fetcher(&count, None)).await.unwrap();
        assert_eq!(t.secret().expose(), "token-1", "no expiry: kept");
        cache.invalidate();
        let t = cache.get(|| fetcher(&count, None)).await.unwrap();
        assert_eq!(t.secret().expose(), "token-2");
        let t = cache.get(|| fetcher(&count, None)).await.unwrap();
        assert_eq!(t.secret().expose(), "token-2", "invalidation is used up");
    }

    #[tokio::test]
    async fn failed_refresh_falls_back_to_an_unexpired_token_only() {
        let clock = ManualClock::new();
        let cache = TokenCache::new(clock.clone());
        let count = AtomicU32::new(0);
        let life = Some(Duration::from_secs(600));
        let _ = cache.get(|| fetcher(&count, life)).await.unwrap();
        let failing = || async {
            Err(OAuthError::Malformed {
                url: "u".into(),
                reason: "down".into(),
            })
        };
        clock.advance(Duration::from_secs(550)); // inside the 60 s margin, not expired
        let t = cache.get(failing).await.unwrap();
        assert_eq!(t.secret().expose(), "token-1");
        clock.advance(Duration::from_secs(60)); // expired
        assert!(cache.get(failing).await.is_err());
        // After invalidation there is no fallback either.
        cache.invalidate();
        assert!(cache.get(failing).await.is_err());
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::new(ManualClock::new()));
        let count = Arc::new(AtomicU32::new(0));
        let mut handles = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            let count = count.clone();
            handles.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        tokio::task::yield_now().await;
                        fetcher(&count, Some(Duration::from_secs(3600))).await
                    })
                    .await
                    .unwrap()
                    .secret()
                    .expose()
                    .to_owned()
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), "token-1");
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
