//! The POP3 session of the in-memory server.

use super::*;

/// A POP3 session on a [`MemoryServer`]: it sees the maildrop as it was at login, and
/// applies its deletions at `QUIT`.
#[derive(Debug)]
pub struct MemoryPop3 {
    pub(super) server: MemoryServer,
    pub(super) snapshot: Vec<(String, Bytes)>,
    pub(super) deleted: BTreeSet<u32>,
    pub(super) dead: bool,
}

impl MemoryPop3 {
    async fn check(&mut self, point: FaultPoint) -> BackendResult<()> {
        session_check(&self.server, &mut self.dead, point).await
    }

    fn get(&self, msgno: u32) -> BackendResult<&(String, Bytes)> {
        if self.deleted.contains(&msgno) {
            return Err(BackendError::new(ErrorKind::Refused, "message is deleted"));
        }
        msgno
            .checked_sub(1)
            .and_then(|i| self.snapshot.get(i as usize))
            .ok_or_else(|| BackendError::new(ErrorKind::Refused, "no such message"))
    }

    /// The messages not marked deleted, with their numbers.
    fn listed(&self) -> impl Iterator<Item = (u32, &(String, Bytes))> {
        (1u32..)
            .zip(&self.snapshot)
            .filter(|(n, _)| !self.deleted.contains(n))
    }

    /// The messages marked deleted.
    fn listed_deleted(&self) -> impl Iterator<Item = &(String, Bytes)> {
        (1u32..)
            .zip(&self.snapshot)
            .filter(|(n, _)| self.deleted.contains(n))
            .map(|(_, m)| m)
    }
}

impl Pop3Session for MemoryPop3 {
    async fn uidl(&mut self) -> BackendResult<Vec<Pop3Uidl>> {
        self.check(FaultPoint::Uidl).await?;
        if !self.server.lock().pop3_uidl {
            return Err(BackendError::new(ErrorKind::Unsupported, "UIDL"));
        }
        Ok(self
            .listed()
            .map(|(msgno, (uidl, _))| Pop3Uidl {
                msgno,
                uidl: uidl.clone(),
            })
            .collect())
    }

    async fn list(&mut self) -> BackendResult<Vec<(u32, u64)>> {
        self.check(FaultPoint::List).await?;
        Ok(self
            .listed()
            .map(|(msgno, (_, m))| (msgno, m.len() as u64))
            .collect())
    }

    async fn retr(&mut self, msgno: u32) -> BackendResult<Bytes> {
        self.check(FaultPoint::Retr).await?;
        Ok(self.get(msgno)?.1.clone())
    }

    async fn dele(&mut self, msgno: u32) -> BackendResult<()> {
        self.check(FaultPoint::Dele).await?;
        self.get(msgno)?;
        self.deleted.insert(msgno);
        Ok(())
    }

    async fn quit(mut self) -> BackendResult<()> {
        self.check(FaultPoint::QuitBefore).await?;
        {
            let gone: BTreeSet<&str> = self
                .listed_deleted()
                .map(|(uidl, _)| uidl.as_str())
                .collect();
            let mut st = self.server.lock();
            st.maildrop
                .retain(|(uidl, _)| !gone.contains(uidl.as_str()));
            st.log(format!("QUIT deleted {}", gone.len()));
        }
        self.check(FaultPoint::QuitAfter).await
    }
}
