//! Local files are used only when they are the user's: like ssh's `StrictModes` and git's
//! `safe.directory`, a configuration file or store owned by another user, or writable by
//! group or others, is refused (exit 2) with a message naming the file and the fix. Someone
//! who can change the configuration can redirect the mail and the password, or run commands
//! through `password_command`.

use std::path::Path;

use crate::error::{CliError, CliResult};

/// What a file is, for messages: `configuration file`, `store`.
pub(crate) type What = &'static str;

/// `path` as shown in messages: absolute, so the fix can be pasted from anywhere.
pub(crate) fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Refuses `path` when another user owns it (root-owned files are accepted, as ssh does) or
/// when its group or others may write it. A file that cannot be examined is left to the
/// caller's own open to report.
///
/// # Errors
/// A usage error naming the file, what is wrong and the command that fixes it.
pub(crate) fn check_owned(path: &Path, what: What) -> CliResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let me = rustix::process::geteuid().as_raw();
        let owner = meta.uid();
        if owner != me && owner != 0 {
            return Err(CliError::usage(format!(
                "{what} {file} is owned by another user (uid {owner}; you are uid {me}): \
                 Inbound only uses a {what} of your own, since whoever owns it can redirect \
                 your mail and passwords. Fix: `chown {me} {file}` if it is yours, else copy \
                 it to a file you own",
                file = shown(path)
            )));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "its group and all other users",
                (true, false) => "its group",
                _ => "all other users",
            };
            return Err(CliError::usage(format!(
                "{what} {file} can be written by {who} (mode {mode:04o}): anyone who can \
                 change it can redirect your mail and passwords. Fix: `chmod go-w {file}`",
                file = shown(path)
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// The mode bits (`0o777`) of `path` when group or others may read it, else `None`.
pub(crate) fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let mode = std::fs::metadata(path).ok()?.mode() & 0o777;
        (mode & 0o044 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn modes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let set = |mode| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode));
        set(0o600).unwrap();
        assert!(check_owned(&file, "store").is_ok());
        assert_eq!(readable_by_others(&file), None);
        set(0o644).unwrap();
        assert!(check_owned(&file, "store").is_ok());
        assert_eq!(readable_by_others(&file), Some(0o644));
        set(0o664).unwrap();
        let e = check_owned(&file, "store").unwrap_err();
        assert!(
            e.message().contains("its group (mode 0664)"),
            "{}",
            e.message()
        );
        set(0o646).unwrap();
        let e = check_owned(&file, "store").unwrap_err();
        assert!(e.message().contains("all other users"), "{}", e.message());
        // Missing: left to the open.
        assert!(check_owned(&dir.path().join("none"), "store").is_ok());
    }
}
