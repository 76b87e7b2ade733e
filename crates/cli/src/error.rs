//! The CLI's failure type and exit codes.

use std::fmt;
use std::process::ExitCode;

/// Exit code: everything worked.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: some account (or operation) failed.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: the command line or the configuration is wrong; nothing was done.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Why a command failed, with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// A usage or configuration error (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// A failure while doing the work (exit code 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }

    /// The message (may span several lines; each already formatted).
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<inbound_store::Error> for CliError {
    fn from(e: inbound_store::Error) -> Self {
        match e {
            inbound_store::Error::Key(_)
            | inbound_store::Error::WrongKey
            | inbound_store::Error::NoKey(_)
            | inbound_store::Error::AccountTampered { .. }
            | inbound_store::Error::NotAStore { .. }
            | inbound_store::Error::SchemaTooNew { .. } => CliError::usage(e.to_string()),
            other => CliError::failed(format!("store: {other}")),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::failed(e.to_string())
    }
}

/// The result of a command: the exit code on success (0, or 1 when some account failed).
pub(crate) type CliResult<T = u8> = Result<T, CliError>;
