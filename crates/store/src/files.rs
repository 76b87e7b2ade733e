//! File permissions of the store: created private, warned about when shared.

use std::path::Path;

/// True when the file at `path` can be read or written by users other than its owner (Unix
/// mode bits `0o077`); false when it cannot, does not exist, or on other platforms.
pub fn file_is_shared(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// True for names SQLite does not treat as a plain file path (memory, URIs).
fn is_special(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.is_empty() || text == ":memory:" || text.starts_with("file:")
}

/// Creates the store file empty with mode 0600 when it does not exist yet, so SQLite (which
/// gives the `-wal` and `-shm` files the main file's mode) never makes it readable by others.
/// Failures are left for SQLite's own open to report.
pub(crate) fn create_private(path: &Path) {
    if is_special(path) {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    if let Err(e) = options.open(path) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let path = path.display();
            tracing::debug!(%path, error = %e, "could not create the store file");
        }
    }
}

/// Logs a warning when the store file can be read or written by other users.
pub(crate) fn warn_if_shared(path: &Path) {
    if !is_special(path) && file_is_shared(path) {
        tracing::warn!(
            path = %path.display(),
            "the store file can be read by other users; make it private with `chmod 600`"
        );
    }
}
