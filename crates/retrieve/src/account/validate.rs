//! Validation: the entry point, [`AccountConfig::validate`], and the problem list it fills.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    Account, AccountConfig, DEFAULT_BATCH_SIZE, DEFAULT_FOLDER, DEFAULT_IDLE_RENEW,
    DEFAULT_TIMEOUT, InlineImageMode, MAX_BATCH_SIZE, MAX_IDLE_RENEW_SECS, MAX_TIMEOUT_SECS,
    MailProtocol, RemoteImages, Security, parse_size,
};

/// One problem in an account's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The field, as written in the configuration (`oauth.client_id` for nested ones).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one account's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The account name, if it had one.
    pub account: Option<String>,
    /// The problems, in field order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    /// True when `field` has a problem.
    pub fn has(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(name) => write!(f, "account {name:?} is invalid: ")?,
            None => f.write_str("account is invalid: ")?,
        }
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

pub(super) struct Problems(pub(super) Vec<ConfigProblem>);

impl Problems {
    pub(super) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            field,
            message: message.into(),
        });
    }

    /// A required, non-blank string without control characters.
    pub(super) fn required(&mut self, field: &'static str, value: Option<&String>) -> String {
        match value.map(|v| v.trim()) {
            None | Some("") => {
                self.add(field, "is required");
                String::new()
            }
            Some(v) => {
                self.no_controls(field, v);
                v.to_owned()
            }
        }
    }

    pub(super) fn no_controls(&mut self, field: &'static str, value: &str) {
        if value.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
    }

    /// An optional non-blank string.
    pub(super) fn optional(
        &mut self,
        field: &'static str,
        value: Option<&String>,
    ) -> Option<String> {
        let v = value?.trim();
        if v.is_empty() {
            self.add(field, "must not be empty when given");
            return None;
        }
        self.no_controls(field, v);
        Some(v.to_owned())
    }

    pub(super) fn range(
        &mut self,
        field: &'static str,
        value: i64,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        if (min..=max).contains(&value) {
            Some(value)
        } else {
            self.add(
                field,
                format!("must be between {min} and {max} (got {value})"),
            );
            None
        }
    }
}

impl AccountConfig {
    /// Checks everything and builds the [`Account`], or reports every problem by field.
    /// The steps, each a method: the server and how to reach it, credentials, what to fetch
    /// and what to do after, how HTML is kept, limits, and subscribing.
    pub fn validate(&self) -> Result<Account, ConfigErrors> {
        let mut p = Problems(Vec::new());
        let name = p.required("name", self.name.as_ref());
        let protocol = self.protocol.unwrap_or_else(|| {
            p.add("protocol", "is required (imap or pop3)");
            MailProtocol::Imap
        });
        let host = p.required("host", self.host.as_ref());
        if host.chars().any(char::is_whitespace) {
            p.add("host", "must not contain spaces");
        }
        let security = self.security.unwrap_or(Security::Tls);
        let port = match self.port {
            None => security.default_port(protocol),
            Some(v) => p.range("port", v, 1, 65535).map_or(0, |v| v as u16),
        };
        let username = p.required("username", self.username.as_ref());
        let auth = self.validate_auth(&mut p);
        let (ca_file, danger) = self.validate_certificates(&mut p, security);
        let folder = self.validate_folder(&mut p, protocol);
        let fetch = self.validate_fetch(&mut p);
        let batch_size = match self.batch_size {
            None => DEFAULT_BATCH_SIZE,
            Some(v) => p
                .range("batch_size", v, 1, i64::from(MAX_BATCH_SIZE))
                .map_or(DEFAULT_BATCH_SIZE, |v| v as u32),
        };
        let after_receive = self.validate_after_receive(&mut p, protocol, &folder);
        let (sanitize_html, inline_images, remote_images) = self.validate_html(&mut p);
        let (timeout, max_message_size) = self.validate_limits(&mut p);
        let (subscribe, poll_interval, idle_renew) = self.validate_subscription(&mut p, protocol);
        let keepalive = self.validate_keepalive(&mut p);

        if p.0.is_empty() {
            Ok(Account {
                name,
                protocol,
                host,
                port,
                security,
                username,
                auth,
                ca_file,
                danger_accept_invalid_certs: danger,
                folder,
                fetch,
                batch_size,
                after_receive,
                sanitize_html,
                inline_images,
                remote_images,
                timeout,
                max_message_size,
                subscribe,
                poll_interval,
                idle_renew,
                keepalive,
            })
        } else {
            Err(ConfigErrors {
                account: self.name.clone().filter(|n| !n.trim().is_empty()),
                problems: p.0,
            })
        }
    }

    /// `ca_file` and `danger_accept_invalid_certs`.
    fn validate_certificates(
        &self,
        p: &mut Problems,
        security: Security,
    ) -> (Option<PathBuf>, bool) {
        let ca_file = match &self.ca_file {
            Some(path) if path.as_os_str().is_empty() => {
                p.add("ca_file", "must not be empty when given");
                None
            }
            other => other.clone(),
        };
        let danger = self.danger_accept_invalid_certs.unwrap_or(false);
        if danger && security == Security::Plaintext {
            p.add(
                "danger_accept_invalid_certs",
                "has no meaning with security = \"plain\" (there is no certificate)",
            );
        }
        (ca_file, danger)
    }

    /// `folder`: IMAP's folder to read, INBOX by default; POP3 has only INBOX.
    fn validate_folder(&self, p: &mut Problems, protocol: MailProtocol) -> String {
        match (protocol, self.folder.as_ref()) {
            (_, None) => DEFAULT_FOLDER.to_owned(),
            (MailProtocol::Pop3, Some(f)) if !f.eq_ignore_ascii_case(DEFAULT_FOLDER) => {
                p.add("folder", "POP3 has only INBOX; remove this setting");
                DEFAULT_FOLDER.to_owned()
            }
            (MailProtocol::Pop3, Some(_)) => DEFAULT_FOLDER.to_owned(),
            (MailProtocol::Imap, Some(f)) => p
                .optional("folder", Some(f))
                .unwrap_or_else(|| DEFAULT_FOLDER.to_owned()),
        }
    }

    /// `sanitize_html`, `inline_images` (with `inline_image_url`) and `remote_images`.
    fn validate_html(&self, p: &mut Problems) -> (bool, InlineImageMode, RemoteImages) {
        let sanitize_html = self.sanitize_html.unwrap_or(true);
        let inline_images = self.validate_inline(p, sanitize_html);
        let remote_images = self.remote_images.unwrap_or_default();
        if remote_images == RemoteImages::Allow && !sanitize_html {
            p.add(
                "remote_images",
                "applies to sanitized HTML only; set sanitize_html = true",
            );
        }
        (sanitize_html, inline_images, remote_images)
    }

    /// `timeout_secs` and `max_message_size`.
    fn validate_limits(&self, p: &mut Problems) -> (Duration, Option<u64>) {
        let timeout = match self.timeout_secs {
            None => DEFAULT_TIMEOUT,
            Some(v) => Duration::from_secs(
                p.range("timeout_secs", v, 1, MAX_TIMEOUT_SECS)
                    .map_or(DEFAULT_TIMEOUT.as_secs(), |v| v as u64),
            ),
        };
        let max_message_size = match &self.max_message_size {
            None => None,
            Some(v) => match parse_size(v) {
                Ok(0) => {
                    p.add("max_message_size", "must be more than 0 bytes");
                    None
                }
                Ok(n) => Some(n),
                Err(e) => {
                    p.add("max_message_size", e);
                    None
                }
            },
        };
        (timeout, max_message_size)
    }

    /// `subscribe`, `poll_interval_secs` (required for POP3, which has no IDLE) and
    /// `idle_renew_secs`.
    fn validate_subscription(
        &self,
        p: &mut Problems,
        protocol: MailProtocol,
    ) -> (bool, Option<Duration>, Duration) {
        let subscribe = self.subscribe.unwrap_or(false);
        let poll_interval = self.poll_interval_secs.and_then(|v| {
            p.range("poll_interval_secs", v, 1, 86_400)
                .map(|v| Duration::from_secs(v as u64))
        });
        if subscribe && protocol == MailProtocol::Pop3 && self.poll_interval_secs.is_none() {
            p.add(
                "poll_interval_secs",
                "is required to subscribe to a POP3 account (POP3 has no IDLE; polling is chosen explicitly)",
            );
        }
        let idle_renew = self.idle_renew_secs.map_or(DEFAULT_IDLE_RENEW, |v| {
            p.range("idle_renew_secs", v, 1, MAX_IDLE_RENEW_SECS)
                .map_or(DEFAULT_IDLE_RENEW, |v| Duration::from_secs(v as u64))
        });
        (subscribe, poll_interval, idle_renew)
    }
}
