//! Seeding a [`MailStore`] from a directory, and watching it for new mail.
//!
//! Layout: `DIR/<user>/<folder>/*.eml`, one directory level per folder (`INBOX`, `Archive`,
//! `Sent`, ...). Users missing from the store are created with the seeder's default
//! password. Files load in name order; a message's internal date is the file's mtime. Names
//! starting with `.` are ignored, so a writer can create `.tmp` files and rename them.
//!
//! The [`DirWatcher`] rescans every interval and delivers files it has not loaded yet once
//! their size stayed the same over two scans (so a file still being written is not taken
//! half-done): with the default 250 ms a dropped file arrives within about half a second.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{FlagSet, MailStore, StoreError};

/// Files larger than this are skipped (with a warning).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// The default interval of [`DirSeeder::watch`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Loads `.eml` files from a directory tree into a store, remembering which it loaded.
#[derive(Debug)]
pub struct DirSeeder {
    dir: PathBuf,
    default_password: String,
    loaded: HashSet<PathBuf>,
    /// Files seen once, with the size they had, waiting for a second look.
    pending: HashMap<PathBuf, u64>,
}

/// A file found in the tree.
struct Found {
    user: String,
    folder: String,
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
}

impl DirSeeder {
    /// A seeder for `dir`; users it creates get `default_password`.
    pub fn new(dir: impl Into<PathBuf>, default_password: &str) -> Self {
        Self {
            dir: dir.into(),
            default_password: default_password.to_owned(),
            loaded: HashSet::new(),
            pending: HashMap::new(),
        }
    }

    /// The directory seeded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads every file not loaded yet, at once. Returns how many messages were added.
    pub fn load_all(&mut self, store: &MailStore) -> io::Result<usize> {
        let found = self.find()?;
        let mut added = 0;
        for file in found {
            added += usize::from(self.load(store, &file)?);
        }
        Ok(added)
    }

    /// One watcher step: loads the files not loaded yet whose size is the same as at the
    /// previous scan. Returns how many messages were added.
    pub fn scan(&mut self, store: &MailStore) -> io::Result<usize> {
        let found = self.find()?;
        let mut still_pending = HashMap::new();
        let mut added = 0;
        for file in found {
            if self.pending.get(&file.path) == Some(&file.size) {
                added += usize::from(self.load(store, &file)?);
            } else {
                still_pending.insert(file.path.clone(), file.size);
            }
        }
        self.pending = still_pending;
        Ok(added)
    }

    /// Spawns a task (on the current tokio runtime) scanning every `interval` until the
    /// returned watcher is dropped.
    pub fn watch(mut self, store: MailStore, interval: Duration) -> DirWatcher {
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let store = store.clone();
                let step = tokio::task::spawn_blocking(move || {
                    let result = self.scan(&store);
                    (self, result)
                });
                match step.await {
                    Ok((seeder, result)) => {
                        self = seeder;
                        if let Err(e) = result {
                            tracing::warn!(target: "inbound_test_server::store", dir = %self.dir.display(), error = %e, "scan failed");
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        DirWatcher { task }
    }

    /// Delivers one file; false if it was loaded before or skipped.
    fn load(&mut self, store: &MailStore, file: &Found) -> io::Result<bool> {
        if self.loaded.contains(&file.path) {
            return Ok(false);
        }
        self.loaded.insert(file.path.clone());
        if file.size > MAX_FILE_SIZE {
            tracing::warn!(target: "inbound_test_server::store", file = %file.path.display(), "file too large, skipped");
            return Ok(false);
        }
        let raw = std::fs::read(&file.path)?;
        if store.user(&file.user).is_err() {
            store.add_user(&file.user, &self.default_password);
        }
        match store.create_folder(&file.user, &file.folder) {
            Ok(()) | Err(StoreError::FolderExists(_)) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        store
            .append(
                &file.user,
                &file.folder,
                Bytes::from(raw),
                FlagSet::new(),
                file.mtime,
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(true)
    }

    /// The `.eml` files in the tree that are not loaded yet, sorted by path.
    fn find(&self) -> io::Result<Vec<Found>> {
        let mut found = Vec::new();
        for user in subdirs(&self.dir)? {
            for folder in subdirs(&user)? {
                let (Some(user_name), Some(folder_name)) = (file_name(&user), file_name(&folder))
                else {
                    continue;
                };
                for entry in std::fs::read_dir(&folder)? {
                    let path = entry?.path();
                    let eml = path
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
                    if !eml || file_name(&path).is_none() || self.loaded.contains(&path) {
                        continue;
                    }
                    let meta = std::fs::metadata(&path)?;
                    if meta.is_file() {
                        found.push(Found {
                            user: user_name.clone(),
                            folder: folder_name.clone(),
                            size: meta.len(),
                            mtime: meta.modified().unwrap_or_else(|_| SystemTime::now()),
                            path,
                        });
                    }
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }
}

/// The UTF-8 file name of `path`, unless it is hidden (starts with `.`).
fn file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    (!name.starts_with('.')).then(|| name.to_owned())
}

fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// A running directory watcher; dropping it stops the watching.
#[derive(Debug)]
pub struct DirWatcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DirWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn loads_tree_once_and_creates_users_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("alice/INBOX");
        let archive = dir.path().join("alice/Archive");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::create_dir_all(&archive).unwrap();
        std::fs::write(inbox.join("2.eml"), "Subject: two\r\n\r\n2\r\n").unwrap();
        std::fs::write(inbox.join("1.eml"), "Subject: one\r\n\r\n1\r\n").unwrap();
        std::fs::write(inbox.join(".3.eml"), "hidden").unwrap();
        std::fs::write(inbox.join("notes.txt"), "not mail").unwrap();
        std::fs::write(archive.join("a.eml"), "Subject: old\r\n\r\nold\r\n").unwrap();
        let store = MailStore::new();
        let mut seeder = DirSeeder::new(dir.path(), "pw");
        assert_eq!(seeder.load_all(&store).unwrap(), 3);
        assert_eq!(seeder.load_all(&store).unwrap(), 0);
        assert!(store.check_password("alice", "pw"));
        assert_eq!(store.folders("alice").unwrap(), ["Archive", "INBOX"]);
        let msgs = store.messages("alice", "INBOX").unwrap();
        assert_eq!(&msgs[0].raw[..], b"Subject: one\r\n\r\n1\r\n");
        assert_eq!((msgs[0].uid, msgs[1].uid), (1, 2));
    }

    #[test]
    fn scan_waits_for_a_stable_size() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("bob/INBOX");
        std::fs::create_dir_all(&inbox).unwrap();
        let store = MailStore::new();
        let mut seeder = DirSeeder::new(dir.path(), "pw");
        std::fs::write(inbox.join("m.eml"), "Subject: half").unwrap();
        assert_eq!(seeder.scan(&store).unwrap(), 0);
        std::fs::write(inbox.join("m.eml"), "Subject: whole\r\n\r\nbody\r\n").unwrap();
        assert_eq!(seeder.scan(&store).unwrap(), 0);
        assert_eq!(seeder.scan(&store).unwrap(), 1);
        assert_eq!(
            &store.messages("bob", "INBOX").unwrap()[0].raw[..],
            b"Subject: whole\r\n\r\nbody\r\n"
        );
        assert_eq!(seeder.scan(&store).unwrap(), 0);
    }

    #[tokio::test]
    async fn watcher_delivers_a_dropped_file_within_a_second_and_wakes_idle() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("carol/INBOX");
        std::fs::create_dir_all(&inbox).unwrap();
        let store = MailStore::new();
        let mut seeder = DirSeeder::new(dir.path(), "pw");
        seeder.load_all(&store).unwrap();
        store.add_user("carol", "pw");
        let mut view = store.select("carol", "INBOX").unwrap();
        let _watcher = seeder.watch(store.clone(), DEFAULT_POLL_INTERVAL);
        let started = std::time::Instant::now();
        std::fs::write(inbox.join("new.eml"), "Subject: new\r\n\r\nhi\r\n").unwrap();
        tokio::time::timeout(Duration::from_secs(1), view.changed())
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(view.poll(true), vec![super::super::ViewEvent::Exists(1)]);
    }
}
