//! `[[webhook]]` settings and retry policies.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::ConfigProblem;

/// The first retry's delay by default.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(30);
/// How long a delivery is retried by default.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The longest delay between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// A webhook's timeout by default, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// When to try a failed delivery again, and when to give up.
///
/// The delay doubles from [`first_delay`](Self::first_delay) up to [`MAX_RETRY_DELAY`] (or
/// the first delay, if larger), each scaled by a random factor between 0.8 and 1.2 so that
/// retries of many events spread out. A delivery is given up (dead) once an attempt would
/// fall past `max_age` after the delivery was made, or after `max_attempts` attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay before the first retry.
    pub first_delay: Duration,
    /// Give up when the next attempt would be later than this after the first.
    pub max_age: Duration,
    /// Give up after this many attempts (`None`: only `max_age` limits).
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: DEFAULT_RETRY_DELAY,
            max_age: DEFAULT_MAX_AGE,
            max_attempts: None,
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts (1 for the first retry), without jitter.
    pub fn base_delay(&self, attempts: u32) -> Duration {
        let cap = MAX_RETRY_DELAY.max(self.first_delay);
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.first_delay.saturating_mul(factor).min(cap)
    }

    /// When to try again after `attempts` failed attempts of a delivery `age` old: `None`
    /// to give up.
    pub fn next_delay(&self, attempts: u32, age: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempts >= max) {
            return None;
        }
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.8..=1.2);
        let delay = self.base_delay(attempts).mul_f64(jitter);
        (age + delay <= self.max_age).then_some(delay)
    }
}

/// A `[[webhook]]` table as written. [`WebhookConfig::validate`] checks it as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name (in logs, `webhooks list`, `webhooks test NAME`): letters, digits, `.`, `_`
    /// and `-`.
    pub name: Option<String>,
    /// Where to POST: `https://...` (or `http://`).
    pub url: Option<String>,
    /// The environment variable holding the signing secret, `whsec_` followed by base64.
    pub secret_env: Option<String>,
    /// Only the events of these accounts (all when absent).
    pub accounts: Option<Vec<String>>,
    /// Seconds the endpoint has to answer (1 to 300; 10 by default).
    pub timeout_secs: Option<u64>,
    /// Also send the raw message and attachment contents, in base64 (default false).
    pub include_raw: Option<bool>,
    /// Give up a delivery after this many attempts (default: only `max_age` limits).
    pub max_attempts: Option<u32>,
    /// Give up a delivery this long after its first attempt: `"24h"` (the default), `"90m"`,
    /// `"7d"`.
    pub max_age: Option<String>,
    /// The delay before the first retry, doubling after each failure up to an hour: `"30s"`
    /// (the default), `"500ms"`.
    pub retry_delay: Option<String>,
    /// Also trust the CA certificates in this PEM file (for an endpoint with a private CA).
    pub ca_file: Option<PathBuf>,
}

/// A checked webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// The variable holding its secret.
    pub secret_env: String,
    /// The accounts whose events it gets (`None`: all).
    pub accounts: Option<Vec<String>>,
    /// How long the endpoint has to answer.
    pub timeout: Duration,
    /// Whether the raw message goes along.
    pub include_raw: bool,
    /// When to retry and give up.
    pub retry: RetryPolicy,
    /// An extra CA file.
    pub ca_file: Option<PathBuf>,
}

/// Every problem of one `[[webhook]]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook {}: {}", name.as_deref().unwrap_or("(unnamed)"),
    problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
pub struct WebhookConfigErrors {
    /// The webhook's name, if it had one.
    pub name: Option<String>,
    /// The problems, in field order.
    pub problems: Vec<ConfigProblem>,
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"24h"`, `"7d"` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => n,
        "" | "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// Whether `name` can name a webhook: 1 to 64 letters, digits, `.`, `_`, `-`.
pub fn valid_target_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl WebhookConfig {
    /// Checks the table, reporting every problem by field.
    ///
    /// # Errors
    /// [`WebhookConfigErrors`] listing each problem.
    pub fn validate(&self) -> Result<Webhook, WebhookConfigErrors> {
        let mut problems = Vec::new();
        let mut add = |field: &'static str, message: String| {
            problems.push(ConfigProblem { field, message });
        };
        let name = self.name.clone().unwrap_or_default();
        if self.name.is_none() {
            add("name", "is required".into());
        } else if !valid_target_name(&name) {
            add(
                "name",
                "must be 1 to 64 letters, digits, '.', '_' or '-'".into(),
            );
        }
        let url = self.url.clone().unwrap_or_default();
        match &self.url {
            None => add("url", "is required".into()),
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                add("url", "must start with https:// (or http://)".into());
            }
            Some(u) if u.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                add("url", "must not contain spaces".into());
            }
            Some(_) => {}
        }
        let secret_env = self.secret_env.clone().unwrap_or_default();
        if self.secret_env.is_none() {
            add(
                "secret_env",
                "is required: the environment variable holding the signing secret (whsec_...)"
                    .into(),
            );
        } else if secret_env.is_empty() || secret_env.contains('=') {
            add(
                "secret_env",
                "must be an environment variable's name".into(),
            );
        }
        if let Some(accounts) = &self.accounts {
            if accounts.is_empty() {
                add(
                    "accounts",
                    "must name at least one account (leave it out for all)".into(),
                );
            }
        }
        let timeout_secs = self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if !(1..=300).contains(&timeout_secs) {
            add("timeout_secs", "must be between 1 and 300".into());
        }
        if self.max_attempts == Some(0) {
            add("max_attempts", "must be at least 1".into());
        }
        let mut duration =
            |field: &'static str, value: &Option<String>, default: Duration| match value
                .as_deref()
                .map(parse_duration)
            {
                None => default,
                Some(Some(d)) if !d.is_zero() => d,
                Some(_) => {
                    add(
                        field,
                        "must be a duration such as \"500ms\", \"30s\", \"15m\", \"24h\" or \"7d\""
                            .into(),
                    );
                    default
                }
            };
        let max_age = duration("max_age", &self.max_age, DEFAULT_MAX_AGE);
        let first_delay = duration("retry_delay", &self.retry_delay, DEFAULT_RETRY_DELAY);
        if !problems.is_empty() {
            return Err(WebhookConfigErrors {
                name: self.name.clone(),
                problems,
            });
        }
        Ok(Webhook {
            name,
            url,
            secret_env,
            accounts: self.accounts.clone(),
            timeout: Duration::from_secs(timeout_secs),
            include_raw: self.include_raw.unwrap_or(false),
            retry: RetryPolicy {
                first_delay,
                max_age,
                max_attempts: self.max_attempts,
            },
            ca_file: self.ca_file.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }

    #[test]
    fn delays_double_from_the_first_up_to_an_hour_then_give_up_by_age() {
        let p = RetryPolicy::default();
        assert_eq!(p.base_delay(1), Duration::from_secs(30));
        assert_eq!(p.base_delay(2), Duration::from_secs(60));
        assert_eq!(p.base_delay(30), MAX_RETRY_DELAY);
        let d = p.next_delay(1, Duration::ZERO).unwrap();
        assert!(
            d >= Duration::from_secs(24) && d <= Duration::from_secs(36),
            "{d:?}"
        );
        assert_eq!(p.next_delay(9, Duration::from_secs(86_000)), None);
        let limited = RetryPolicy {
            max_attempts: Some(3),
            ..p
        };
        assert!(limited.next_delay(2, Duration::ZERO).is_some());
        assert_eq!(limited.next_delay(3, Duration::ZERO), None);
    }

    #[test]
    fn every_problem_is_reported_by_field() {
        let e = WebhookConfig {
            name: Some("bad name".into()),
            url: Some("ftp://x".into()),
            timeout_secs: Some(0),
            max_age: Some("forever".into()),
            max_attempts: Some(0),
            ..WebhookConfig::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = e.problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "url",
                "secret_env",
                "timeout_secs",
                "max_attempts",
                "max_age"
            ]
        );
        let ok = WebhookConfig {
            name: Some("app".into()),
            url: Some("https://app.example.com/hook".into()),
            secret_env: Some("APP_WHSEC".into()),
            retry_delay: Some("100ms".into()),
            ..WebhookConfig::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.timeout, Duration::from_secs(10));
        assert_eq!(ok.retry.first_delay, Duration::from_millis(100));
        assert!(!ok.include_raw);
    }
}
