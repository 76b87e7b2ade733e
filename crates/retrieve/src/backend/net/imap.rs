//! [`NetImapSession`]: [`ImapSession`] over `inbound-net`'s [`ImapClient`].

use std::fmt;
use std::ops::ControlFlow;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures::future::{Either, select};
use inbound_net::imap::{
    Capability, ExpungeOutcome, Flag, IdleEvent, ImapClient, ImapConfig, MailboxAttribute,
    StoreType, Unsolicited,
};
use inbound_net::{Credentials, ImapError, rt};

use super::{from_imap, from_net, timed_out};
use crate::backend::{
    BackendError, BackendResult, ErrorKind, FolderStatus, IdleOutcome, ImapCapabilities,
    ImapSession, MessageSize, RemoteMessage, StopSignal,
};

/// A logged-in IMAP session over the network.
pub struct NetImapSession {
    client: ImapClient,
    capabilities: ImapCapabilities,
    /// The account's timeout, for the waits the client does not bound itself.
    timeout: Duration,
    /// EXISTS of the selected folder as last reported.
    exists: u32,
    /// New mail was reported (EXISTS grew) outside IDLE and not yet handed out by `idle`.
    new_mail: bool,
}

impl fmt::Debug for NetImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetImapSession")
            .field("client", &self.client)
            .field("capabilities", &self.capabilities)
            .field("exists", &self.exists)
            .finish_non_exhaustive()
    }
}

impl NetImapSession {
    /// Connects, secures the connection, logs in and reads the capabilities.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`] (DNS, TCP, TLS, STARTTLS), [`ErrorKind::Auth`],
    /// [`ErrorKind::Timeout`], [`ErrorKind::Bye`] and the other kinds of
    /// `from_imap`.
    pub async fn connect(
        config: &ImapConfig,
        credentials: &Credentials,
        timeout: Duration,
    ) -> BackendResult<Self> {
        let mut client = ImapClient::connect(config).await.map_err(from_net)?;
        let info = client.login(credentials, None).await.map_err(from_net)?;
        let capabilities = ImapCapabilities {
            idle: client.has_capability(&Capability::Idle),
            move_command: client.has_capability(&Capability::Move),
            uidplus: client.has_capability(&Capability::UidPlus),
        };
        tracing::debug!(
            host = %config.host, method = %info.method, ?capabilities, "IMAP session ready"
        );
        Ok(Self {
            client,
            capabilities,
            timeout,
            exists: 0,
            new_mail: false,
        })
    }

    /// The underlying client.
    pub fn client(&mut self) -> &mut ImapClient {
        &mut self.client
    }

    /// Takes in what the server reported on its own: EXISTS growth is new mail.
    fn note(&mut self, reports: impl IntoIterator<Item = Unsolicited>) {
        for report in reports {
            match report {
                Unsolicited::Exists(n) => {
                    if n > self.exists {
                        self.new_mail = true;
                    }
                    self.exists = n;
                }
                Unsolicited::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                Unsolicited::Alert(text) => tracing::warn!(%text, "IMAP server alert"),
                _ => {}
            }
        }
    }

    /// Whether `folder` exists, by `LIST "" folder`.
    async fn folder_exists(&mut self, folder: &str) -> BackendResult<bool> {
        let items = self.client.list("", folder).await.map_err(from_net)?;
        Ok(items.iter().any(|item| {
            let same = item.mailbox.to_utf8().is_ok_and(|name| {
                name == folder
                    || (name.eq_ignore_ascii_case("INBOX") && folder.eq_ignore_ascii_case("INBOX"))
            });
            same && !item
                .attributes
                .iter()
                .any(|a| matches!(a, MailboxAttribute::NonExistent))
        }))
    }

    /// `DONE` within the account's timeout (the client's own bound may be off after an
    /// IDLE wait was cut short).
    async fn end_idle(
        handle: inbound_net::imap::IdleHandle<'_>,
        timeout: Duration,
    ) -> BackendResult<()> {
        match rt::timeout(timeout, handle.done()).await {
            Ok(result) => result.map_err(from_net),
            Err(_) => Err(timed_out("IDLE DONE", timeout)),
        }
    }
}

/// The error for an `EXPUNGE` left out because `others` are marked `\Deleted`.
fn withheld(others: &[u32], done: &str) -> BackendError {
    BackendError::new(
        ErrorKind::ExpungeWithheld,
        format!(
            "{done}marked \\Deleted but not expunged: {} other message(s) in the folder are \
             marked \\Deleted by another client and the server has no UIDPLUS, so EXPUNGE \
             would remove them too",
            others.len()
        ),
    )
}

fn flag_name(flag: &Flag) -> String {
    match flag {
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Extension(atom) => format!("\\{}", atom.as_str()),
        Flag::Keyword(atom) => atom.as_str().to_owned(),
    }
}

fn convert(m: inbound_net::imap::FetchedMessage) -> RemoteMessage {
    RemoteMessage {
        uid: m.uid,
        size: m.size.map_or(m.body.len() as u64, u64::from),
        internal_date: m.internal_date.map(|d| d.unix_timestamp()),
        flags: m.flags.iter().map(flag_name).collect(),
        body: m.body,
    }
}

impl ImapSession for NetImapSession {
    fn capabilities(&self) -> ImapCapabilities {
        self.capabilities
    }

    async fn select(&mut self, folder: &str) -> BackendResult<FolderStatus> {
        let status = match self.client.select(folder).await {
            Ok(status) => status,
            Err(inbound_net::Error::Imap(e @ (ImapError::No { .. } | ImapError::Bad { .. }))) => {
                // NO is also "in use" or "no permission"; only a folder that LIST does not
                // show is missing.
                let error = from_imap(e);
                if error.kind() == ErrorKind::Throttled {
                    return Err(error);
                }
                return Err(if self.folder_exists(folder).await? {
                    error
                } else {
                    BackendError::new(ErrorKind::NoSuchFolder, format!("{folder}: {error}"))
                        .with_source(error)
                });
            }
            Err(e) => return Err(from_net(e)),
        };
        self.exists = status.exists;
        self.new_mail = false;
        let Some(uidvalidity) = status.uidvalidity else {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                format!("the server sent no UIDVALIDITY for {folder}, so UIDs cannot be trusted"),
            ));
        };
        Ok(FolderStatus {
            uidvalidity,
            uidnext: status.uidnext,
            exists: status.exists,
        })
    }

    async fn uid_search(&mut self, from: u32) -> BackendResult<Vec<u32>> {
        let result = if from <= 1 {
            self.client.uid_search_all().await
        } else {
            self.client.uids_from(from).await
        };
        let uids = result.map_err(from_net)?;
        let reports = self.client.take_unsolicited();
        self.note(reports);
        Ok(uids)
    }

    async fn fetch_sizes(&mut self, uids: &[u32]) -> BackendResult<Vec<MessageSize>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let metas = self.client.uid_fetch_meta(uids).await.map_err(from_net)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                m.size.map(|size| MessageSize {
                    uid: m.uid,
                    size: u64::from(size),
                })
            })
            .collect())
    }

    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        on_message: &mut (dyn FnMut(RemoteMessage) -> ControlFlow<()> + Send),
    ) -> BackendResult<()> {
        if uids.is_empty() {
            return Ok(());
        }
        // A refused command of a split fetch is reported after the others were read.
        let mut refused: Option<BackendError> = None;
        {
            // Only the bodies: the server looks up no metadata retrieval does not use.
            let mut stream = self.client.uid_fetch_bodies_only(uids).map_err(from_net)?;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(m) => {
                        if on_message(convert(m)).is_break() {
                            // Dropping the stream: the client reads and discards the rest
                            // before its next command.
                            return Ok(());
                        }
                    }
                    Err(inbound_net::Error::Imap(
                        e @ (ImapError::No { .. } | ImapError::Bad { .. }),
                    )) => {
                        let error = from_imap(e);
                        if error.kind() == ErrorKind::Throttled {
                            // The session is not used further: no more answers are read.
                            return Err(error);
                        }
                        refused.get_or_insert(error);
                    }
                    // One answer the framer skipped (unparsable, over the size limit): the
                    // stream stays in sync, so the other messages still arrive.
                    Err(inbound_net::Error::Imap(e @ ImapError::Protocol { .. })) => {
                        // The error's text quotes server bytes (message content): it goes
                        // no further than its source.
                        tracing::warn!("a FETCH answer could not be parsed; skipped");
                        refused.get_or_insert(
                            BackendError::new(
                                ErrorKind::Unreadable,
                                "a FETCH answer could not be parsed and was skipped",
                            )
                            .with_source(e),
                        );
                    }
                    Err(e) => return Err(from_net(e)),
                }
            }
        }
        let reports = self.client.take_unsolicited();
        self.note(reports);
        refused.map_or(Ok(()), Err)
    }

    async fn create_folder(&mut self, folder: &str) -> BackendResult<()> {
        match self.client.create(folder).await {
            Ok(()) => Ok(()),
            Err(inbound_net::Error::Imap(e @ ImapError::No { .. })) => {
                let error = from_imap(e);
                if error.kind() == ErrorKind::Throttled {
                    return Err(error);
                }
                if self.folder_exists(folder).await? {
                    Err(
                        BackendError::new(ErrorKind::AlreadyExists, folder.to_owned())
                            .with_source(error),
                    )
                } else {
                    Err(error)
                }
            }
            Err(e) => Err(from_net(e)),
        }
    }

    async fn uid_move(&mut self, uids: &[u32], target: &str) -> BackendResult<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let outcome = self.client.uid_move(uids, target).await.map_err(from_net)?;
        if !outcome.withheld.is_empty() {
            return Err(withheld(
                &outcome.withheld,
                &format!("copied to {target}, "),
            ));
        }
        tracing::debug!(
            count = uids.len(),
            target,
            used_move = outcome.used_move,
            "messages moved"
        );
        Ok(())
    }

    async fn uid_delete(&mut self, uids: &[u32]) -> BackendResult<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.client
            .uid_store_flags(uids, StoreType::Add, &[Flag::Deleted])
            .await
            .map_err(from_net)?;
        match self.client.expunge_only(uids).await.map_err(from_net)? {
            ExpungeOutcome::Withheld { others } => Err(withheld(&others, "")),
            _ => Ok(()),
        }
    }

    async fn idle(&mut self, max: Duration, stop: &StopSignal) -> BackendResult<IdleOutcome> {
        // What arrived during earlier commands counts first.
        let reports = self.client.take_unsolicited();
        self.note(reports);
        if std::mem::take(&mut self.new_mail) {
            return Ok(IdleOutcome::NewMail);
        }
        if stop.is_stopped() {
            return Ok(IdleOutcome::Stopped);
        }
        let timeout = self.timeout;
        let deadline = Instant::now() + max;
        let mut exists = self.exists;
        let mut handle = self.client.idle().await.map_err(from_net)?;
        let event = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break IdleOutcome::Timeout;
            }
            let next = {
                let wait = pin!(handle.next_event(left));
                let stopped = pin!(stop.wait());
                match select(wait, stopped).await {
                    Either::Left((next, _)) => Some(next),
                    Either::Right(((), _)) => None,
                }
            };
            match next {
                None => break IdleOutcome::Stopped,
                Some(Ok(IdleEvent::Exists(n))) => {
                    let grew = n > exists;
                    exists = n;
                    if grew {
                        break IdleOutcome::NewMail;
                    }
                }
                Some(Ok(IdleEvent::Expunge(_))) => {
                    exists = exists.saturating_sub(1);
                    break IdleOutcome::Expunge;
                }
                Some(Ok(IdleEvent::Timeout)) => break IdleOutcome::Timeout,
                Some(Ok(IdleEvent::Bye(text))) => {
                    return Err(match crate::backend::throttle::recognise(&text) {
                        Some(t) => BackendError::throttled(text, t.retry_after),
                        None => BackendError::new(ErrorKind::Bye, text),
                    });
                }
                Some(Ok(IdleEvent::Other(Unsolicited::Alert(text)))) => {
                    tracing::warn!(%text, "IMAP server alert");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(from_net(e)),
            }
        };
        Self::end_idle(handle, timeout).await?;
        self.exists = exists;
        // Reports that came with DONE.
        let reports = self.client.take_unsolicited();
        self.note(reports);
        let new_mail = std::mem::take(&mut self.new_mail);
        Ok(match event {
            IdleOutcome::Timeout | IdleOutcome::Expunge if new_mail => IdleOutcome::NewMail,
            other => other,
        })
    }

    async fn noop(&mut self) -> BackendResult<()> {
        let reports = self.client.noop().await.map_err(from_net)?;
        self.note(reports);
        Ok(())
    }

    async fn logout(self) -> BackendResult<()> {
        self.client.logout().await.map_err(from_net)
    }
}
