//! The IMAP session of the in-memory server.

use super::*;

/// An IMAP session on a [`MemoryServer`].
#[derive(Debug)]
pub struct MemoryImap {
    pub(super) server: MemoryServer,
    pub(super) selected: Option<String>,
    pub(super) dead: bool,
    pub(super) capabilities: ImapCapabilities,
}

impl MemoryImap {
    async fn check(&mut self, point: FaultPoint) -> BackendResult<()> {
        session_check(&self.server, &mut self.dead, point).await
    }

    fn selected(&self) -> BackendResult<String> {
        self.selected
            .clone()
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no folder selected"))
    }

    /// Removes `uids` from the selected folder.
    fn remove(st: &mut State, folder: &str, uids: &[u32]) {
        if let Some(f) = st.folders.get_mut(folder) {
            for uid in uids {
                f.messages.remove(uid);
            }
        }
    }

    /// Appends copies of `uids` of `folder` to `target`: `[TRYCREATE]` refusal when the
    /// target does not exist.
    fn copy(st: &mut State, folder: &str, uids: &[u32], target: &str) -> BackendResult<()> {
        if !st.folders.contains_key(target) {
            return Err(BackendError::new(
                ErrorKind::Refused,
                "[TRYCREATE] no such folder",
            ));
        }
        let messages: Vec<Bytes> = st
            .folders
            .get(folder)
            .map(|f| {
                uids.iter()
                    .filter_map(|u| f.messages.get(u).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let t = st.folder_mut(target);
        for message in messages {
            t.append(message);
        }
        st.wake(target);
        Ok(())
    }
}

impl ImapSession for MemoryImap {
    fn capabilities(&self) -> ImapCapabilities {
        self.capabilities
    }

    async fn select(&mut self, folder: &str) -> BackendResult<FolderStatus> {
        self.check(FaultPoint::Select).await?;
        let st = self.server.lock();
        let f = st
            .folders
            .get(folder)
            .ok_or_else(|| BackendError::new(ErrorKind::NoSuchFolder, folder.to_owned()))?;
        let status = FolderStatus {
            uidvalidity: f.uidvalidity,
            uidnext: Some(f.uidnext),
            exists: u32::try_from(f.messages.len()).unwrap_or(u32::MAX),
        };
        drop(st);
        self.selected = Some(folder.to_owned());
        Ok(status)
    }

    async fn uid_search(&mut self, from: u32) -> BackendResult<Vec<u32>> {
        self.check(FaultPoint::Search).await?;
        let folder = self.selected()?;
        let st = self.server.lock();
        let Some(f) = st.folders.get(&folder) else {
            return Ok(Vec::new());
        };
        let mut uids: Vec<u32> = f.messages.range(from..).map(|(u, _)| *u).collect();
        // RFC 3501: "n:*" always includes the highest UID.
        if uids.is_empty() {
            uids.extend(f.messages.keys().next_back());
        }
        uids.reverse();
        Ok(uids)
    }

    async fn fetch_sizes(&mut self, uids: &[u32]) -> BackendResult<Vec<MessageSize>> {
        self.check(FaultPoint::FetchSizes).await?;
        let folder = self.selected()?;
        let st = self.server.lock();
        let Some(f) = st.folders.get(&folder) else {
            return Ok(Vec::new());
        };
        Ok(uids
            .iter()
            .filter_map(|uid| {
                f.messages.get(uid).map(|m| MessageSize {
                    uid: *uid,
                    size: m.len() as u64,
                })
            })
            .collect())
    }

    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        on_message: &mut (dyn FnMut(RemoteMessage) -> ControlFlow<()> + Send),
    ) -> BackendResult<()> {
        let folder = self.selected()?;
        let found: Vec<(u32, Bytes)> = {
            let mut st = self.server.lock();
            st.note_uids(uids.len());
            st.log(format!("FETCH {}", uids.len()));
            let mut sorted = uids.to_vec();
            sorted.sort_unstable();
            match st.folders.get(&folder) {
                Some(f) => sorted
                    .iter()
                    .filter_map(|uid| f.messages.get(uid).map(|m| (*uid, m.clone())))
                    .collect(),
                None => Vec::new(),
            }
        };
        for (uid, body) in found {
            self.check(FaultPoint::FetchMessage).await?;
            let message = RemoteMessage {
                uid,
                size: body.len() as u64,
                internal_date: None,
                flags: Vec::new(),
                body,
            };
            if on_message(message).is_break() {
                return Ok(());
            }
        }
        self.check(FaultPoint::FetchDone).await
    }

    async fn create_folder(&mut self, folder: &str) -> BackendResult<()> {
        self.check(FaultPoint::Create).await?;
        let mut st = self.server.lock();
        if st.folders.contains_key(folder) {
            return Err(BackendError::new(
                ErrorKind::AlreadyExists,
                folder.to_owned(),
            ));
        }
        st.folder_mut(folder);
        st.log(format!("CREATE {folder}"));
        Ok(())
    }

    async fn uid_move(&mut self, uids: &[u32], target: &str) -> BackendResult<()> {
        self.server.lock().note_uids(uids.len());
        self.check(FaultPoint::MoveBefore).await?;
        let folder = self.selected()?;
        if self.capabilities.move_command {
            let mut st = self.server.lock();
            Self::copy(&mut st, &folder, uids, target)?;
            Self::remove(&mut st, &folder, uids);
            st.log(format!("MOVE {}", uids.len()));
        } else {
            {
                let mut st = self.server.lock();
                Self::copy(&mut st, &folder, uids, target)?;
                st.log(format!("COPY {}", uids.len()));
            }
            self.check(FaultPoint::MoveAfterCopy).await?;
            let mut st = self.server.lock();
            Self::remove(&mut st, &folder, uids);
            st.log(format!("STORE+EXPUNGE {}", uids.len()));
        }
        self.check(FaultPoint::MoveAfter).await
    }

    async fn uid_delete(&mut self, uids: &[u32]) -> BackendResult<()> {
        self.server.lock().note_uids(uids.len());
        self.check(FaultPoint::DeleteBefore).await?;
        let folder = self.selected()?;
        {
            let mut st = self.server.lock();
            Self::remove(&mut st, &folder, uids);
            st.log(format!("DELETE {}", uids.len()));
        }
        self.check(FaultPoint::DeleteAfter).await
    }

    async fn idle(&mut self, max: Duration, stop: &StopSignal) -> BackendResult<IdleOutcome> {
        self.check(FaultPoint::Idle).await?;
        let folder = self.selected()?;
        let (tx, mut rx) = mpsc::unbounded();
        self.server.lock().watchers.push(Watcher { folder, tx });
        let woken = rx.next();
        let timeout = std::pin::pin!(inbound_net::rt::sleep(max));
        let stopped = std::pin::pin!(stop.wait());
        match future::select(woken, future::select(timeout, stopped)).await {
            Either::Left((Some(Wake::NewMail), _)) => Ok(IdleOutcome::NewMail),
            Either::Left((Some(Wake::Drop) | None, _)) => {
                self.dead = true;
                Err(BackendError::new(
                    ErrorKind::Disconnected,
                    "dropped during IDLE",
                ))
            }
            Either::Right((Either::Left(_), _)) => Ok(IdleOutcome::Timeout),
            Either::Right((Either::Right(_), _)) => {
                self.server.lock().log("DONE".to_owned());
                Ok(IdleOutcome::Stopped)
            }
        }
    }

    async fn noop(&mut self) -> BackendResult<()> {
        if self.dead {
            return Err(closed());
        }
        Ok(())
    }

    async fn logout(mut self) -> BackendResult<()> {
        self.check(FaultPoint::Logout).await?;
        self.server.lock().counters.logouts += 1;
        Ok(())
    }
}
