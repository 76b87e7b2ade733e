//! [`AccountBuilder`]: an account in code, in one expression, checked like a configuration
//! file's.

use inbound_net::{MailProtocol, Secret, Security};

use super::file::AccountConfig;
use super::model::{Account, SecretSource};
use super::names::{AfterReceiveName, FetchName};
use super::validate::ConfigErrors;

impl SecretSource {
    /// The secret is in this environment variable.
    pub fn env(variable: impl Into<String>) -> Self {
        Self::Env(variable.into())
    }

    /// The secret is what this shell command prints (trailing newline removed).
    pub fn command(command: impl Into<String>) -> Self {
        Self::Command(command.into())
    }

    /// The secret itself (prefer [`env`](Self::env) or [`command`](Self::command): a secret
    /// in the program's source ends up in its binary).
    pub fn value(secret: impl Into<String>) -> Self {
        Self::Inline(Secret::new(secret))
    }
}

impl Account {
    /// An IMAP account over implicit TLS (port 993) on `host`, logging in as `username`; named
    /// `username@host` unless [`named`](AccountBuilder::named). Every other setting has its
    /// configuration-file default (fetch every new message from INBOX, keep it on the server)
    /// until a builder method changes it; [`build`](AccountBuilder::build) checks the result.
    ///
    /// ```
    /// use inbound_retrieve::{Account, AfterReceive, FetchPolicy, SecretSource};
    ///
    /// let account = Account::imap("imap.example.com", "me@example.com", SecretSource::env("MAIL_PW"))
    ///     .fetch_latest(50)
    ///     .then_move_to("Archive")
    ///     .build()?;
    /// assert_eq!(account.name, "me@example.com@imap.example.com");
    /// assert_eq!(account.port, 993);
    /// assert_eq!(account.fetch, FetchPolicy::Latest(50));
    /// assert_eq!(account.after_receive, AfterReceive::MoveTo("Archive".into()));
    /// # Ok::<(), inbound_retrieve::ConfigErrors>(())
    /// ```
    pub fn imap(
        host: impl Into<String>,
        username: impl Into<String>,
        password: SecretSource,
    ) -> AccountBuilder {
        AccountBuilder::new(MailProtocol::Imap, host.into(), username.into(), password)
    }

    /// A POP3 account over implicit TLS (port 995); otherwise as [`Account::imap`].
    pub fn pop3(
        host: impl Into<String>,
        username: impl Into<String>,
        password: SecretSource,
    ) -> AccountBuilder {
        AccountBuilder::new(MailProtocol::Pop3, host.into(), username.into(), password)
    }
}

/// An account being written in code: [`Account::imap`] or [`Account::pop3`], then the settings
/// that differ from the defaults, then [`build`](Self::build), which checks them as
/// [`AccountConfig::validate`] checks a configuration file's. For every other setting, fill
/// an [`AccountConfig`] instead.
#[derive(Debug, Clone)]
#[must_use = "an account is made by `build`"]
pub struct AccountBuilder {
    config: AccountConfig,
}

impl AccountBuilder {
    fn new(protocol: MailProtocol, host: String, username: String, password: SecretSource) -> Self {
        let mut config = AccountConfig {
            name: Some(format!("{username}@{host}")),
            protocol: Some(protocol),
            host: Some(host),
            username: Some(username),
            ..AccountConfig::default()
        };
        match password {
            SecretSource::Inline(secret) => config.password = Some(secret),
            SecretSource::Env(variable) => config.password_env = Some(variable),
            SecretSource::Command(command) => config.password_command = Some(command),
            // The store's secret is the default when no other source is given.
            SecretSource::Stored(_) => {}
        }
        Self { config }
    }

    /// The account's name (unique among accounts; it keys what the store keeps for it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.config.name = Some(name.into());
        self
    }

    /// The port, when not the default of the protocol and security.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = Some(i64::from(port));
        self
    }

    /// The connection security (default [`Security::Tls`]).
    pub fn security(mut self, security: Security) -> Self {
        self.config.security = Some(security);
        self
    }

    /// Trust this CA certificate (PEM) too, besides the system's: a server with a private CA.
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.ca_file = Some(path.into());
        self
    }

    /// The IMAP folder to retrieve from (default `INBOX`).
    pub fn folder(mut self, folder: impl Into<String>) -> Self {
        self.config.folder = Some(folder.into());
        self
    }

    /// Fetch every message not handled before, oldest first, in batches (the default).
    pub fn fetch_all(mut self) -> Self {
        self.config.fetch = Some(FetchName::All);
        self.config.count = None;
        self
    }

    /// Fetch the newest `count` messages not handled before.
    pub fn fetch_latest(mut self, count: u32) -> Self {
        self.config.fetch = Some(FetchName::Latest);
        self.config.count = Some(i64::from(count));
        self
    }

    /// Fetch the oldest `count` messages not handled before (the next run takes the next).
    pub fn fetch_oldest(mut self, count: u32) -> Self {
        self.config.fetch = Some(FetchName::Oldest);
        self.config.count = Some(i64::from(count));
        self
    }

    /// Leave each message on the server once stored (the default).
    pub fn then_keep(mut self) -> Self {
        self.config.after_receive = Some(AfterReceiveName::Keep);
        self.config.move_to = None;
        self
    }

    /// Delete each message on the server once it is durably stored.
    pub fn then_delete(mut self) -> Self {
        self.config.after_receive = Some(AfterReceiveName::Delete);
        self.config.move_to = None;
        self
    }

    /// Move each message to this IMAP folder (created if missing) once it is durably stored.
    /// POP3 has no folders: [`build`](Self::build) refuses it there.
    pub fn then_move_to(mut self, folder: impl Into<String>) -> Self {
        self.config.after_receive = Some(AfterReceiveName::Move);
        self.config.move_to = Some(folder.into());
        self
    }

    /// The settings as a configuration file would hold them, to change what the builder has
    /// no method for.
    pub fn config_mut(&mut self) -> &mut AccountConfig {
        &mut self.config
    }

    /// The checked account.
    ///
    /// # Errors
    /// Every problem with the settings, each naming its field (an empty host, a port out of
    /// range, a move on POP3, ...).
    pub fn build(self) -> Result<Account, ConfigErrors> {
        self.config.validate()
    }
}
