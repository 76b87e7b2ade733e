//! IDLE (RFC 2177): wait for the server to report changes.

use inbound_imap_codec::types::{
    Capability, CommandBody, Data, IdleDone, Response, Status, StatusKind, Tag,
};
use tokio::time::{Duration, Instant};

use super::ImapClient;
use super::client::{Pending, State};
use super::error::ImapError;
use super::machine::Outcome;
use super::types::{IdleEvent, Unsolicited};
use crate::error::Result;

impl ImapClient {
    /// Starts IDLE and returns a handle that yields the server's reports. IDLE is ended
    /// with `DONE` and issued again every
    /// [`ImapConfig::idle_renewal`](super::ImapConfig::idle_renewal) (5 minutes by
    /// default), so that neither the server nor a NAT box drops the connection, and a dead
    /// connection is noticed: `DONE` must be answered within the response timeout.
    ///
    /// End it with [`IdleHandle::done`]. A handle that is simply dropped leaves IDLE
    /// running; the next command sends `DONE` first.
    ///
    /// # Errors
    /// [`ImapError::NotSupported`] without the `IDLE` capability,
    /// [`ImapError::WrongState`] without a selected mailbox, a refused IDLE, connection
    /// errors.
    pub async fn idle(&mut self) -> Result<IdleHandle<'_>> {
        self.require_selected("IDLE")?;
        self.require_capability(&Capability::Idle, "IDLE")?;
        let tag = self.start_idle().await?;
        Ok(IdleHandle {
            client: self,
            tag,
            started: Instant::now(),
        })
    }

    /// Sends IDLE and waits for the server's `+`.
    async fn start_idle(&mut self) -> Result<Tag, ImapError> {
        let mut exchange = self.start(CommandBody::Idle).await?;
        loop {
            let response = match self.next_response("IDLE").await {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            match exchange.on_response(response) {
                Ok(Outcome::Continuation(_)) => {
                    let tag = exchange.tag().clone();
                    self.pending = Pending::Idle { tag: tag.clone() };
                    tracing::debug!("IDLE accepted");
                    return Ok(tag);
                }
                Ok(Outcome::Untagged(r)) => self.absorb_one(r),
                Ok(Outcome::SendMore) => {}
                Ok(Outcome::Done(status)) => {
                    self.finish();
                    let text = status.text.to_string_lossy().into_owned();
                    return Err(if status.kind == StatusKind::Bad {
                        ImapError::Bad {
                            command: "IDLE",
                            code: status.code,
                            text,
                        }
                    } else {
                        ImapError::No {
                            command: "IDLE",
                            code: status.code,
                            text,
                        }
                    });
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Sends `DONE` and reads up to IDLE's completion, within the response timeout.
    async fn end_idle(&mut self, tag: &Tag) -> Result<(), ImapError> {
        self.pending = Pending::Command {
            tag: tag.clone(),
            name: "IDLE",
        };
        self.write(&IdleDone.encode(), "IDLE DONE").await?;
        loop {
            match self.next_response("IDLE DONE").await {
                Ok(Response::Status(Status::Tagged { tag: t, body })) if &t == tag => {
                    self.finish();
                    if body.kind != StatusKind::Ok {
                        tracing::debug!(kind = ?body.kind, "IDLE ended with a refusal");
                    }
                    return Ok(());
                }
                Ok(Response::Status(Status::Tagged { .. })) => {
                    return Err(self.fail(ImapError::Unexpected {
                        during: "IDLE DONE",
                        what: "a tagged response with an unknown tag",
                    }));
                }
                Ok(Response::Continue(_)) => {}
                Ok(other) => self.absorb_one(other),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

/// A running IDLE (see [`ImapClient::idle`]).
#[derive(Debug)]
pub struct IdleHandle<'a> {
    client: &'a mut ImapClient,
    tag: Tag,
    started: Instant,
}

impl IdleHandle<'_> {
    /// The next report, or [`IdleEvent::Timeout`] when nothing came within `timeout`.
    /// Reports queued before IDLE started come first. IDLE is renewed in between when
    /// its renewal interval has passed.
    ///
    /// # Errors
    /// Connection errors (a connection that closes after `BYE` gives
    /// [`IdleEvent::Bye`] first), a refused renewal.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<IdleEvent> {
        if let Some(u) = self.client.unsolicited.pop_front() {
            return Ok(u.into());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let renew_at = self.started + self.client.idle_renewal;
            let wait_until = deadline.min(renew_at);
            let response = match self.client.next_response_before(wait_until, "IDLE").await {
                Ok(r) => r,
                Err(e) => return Err(self.client.fail(e).into()),
            };
            match response {
                None if Instant::now() >= renew_at => {
                    tracing::debug!("renewing IDLE");
                    self.renew().await?;
                    if let Some(u) = self.client.unsolicited.pop_front() {
                        return Ok(u.into());
                    }
                }
                None => return Ok(IdleEvent::Timeout),
                Some(Response::Status(Status::Tagged { tag, body })) if tag == self.tag => {
                    // The server ended IDLE by itself.
                    self.client.finish();
                    if body.kind != StatusKind::Ok {
                        let text = body.text.to_string_lossy().into_owned();
                        return Err(ImapError::No {
                            command: "IDLE",
                            code: body.code,
                            text,
                        }
                        .into());
                    }
                    self.tag = self.client.start_idle().await?;
                    self.started = Instant::now();
                }
                Some(Response::Status(Status::Tagged { .. })) => {
                    return Err(self
                        .client
                        .fail(ImapError::Unexpected {
                            during: "IDLE",
                            what: "a tagged response with an unknown tag",
                        })
                        .into());
                }
                // Some servers repeat "+ idling"; nothing to report.
                Some(Response::Continue(_)) => {}
                Some(Response::Data(Data::Exists(n))) => return Ok(IdleEvent::Exists(n)),
                Some(Response::Data(Data::Expunge(n))) => {
                    return Ok(IdleEvent::Expunge(n.get()));
                }
                Some(Response::Status(Status::Bye { code, text })) => {
                    self.client.state = State::Unusable;
                    let text = super::error::bye_text(code.as_ref(), &text);
                    return Ok(IdleEvent::Bye(text));
                }
                Some(Response::Data(Data::Capability(caps))) => {
                    self.client.set_capabilities(caps);
                }
                Some(other) => return Ok(IdleEvent::Other(Unsolicited::from_response(other))),
            }
        }
    }

    /// `DONE`, then IDLE again.
    async fn renew(&mut self) -> Result<(), ImapError> {
        self.client.end_idle(&self.tag).await?;
        self.tag = self.client.start_idle().await?;
        self.started = Instant::now();
        Ok(())
    }

    /// Ends IDLE with `DONE` and waits for its completion (within the response timeout).
    /// Reports that arrive meanwhile are queued
    /// ([`ImapClient::take_unsolicited`]).
    ///
    /// # Errors
    /// Timeouts and connection errors: the connection is then unusable.
    pub async fn done(self) -> Result<()> {
        if !matches!(self.client.pending, Pending::Idle { .. }) {
            return Ok(());
        }
        let tag = self.tag.clone();
        Ok(self.client.end_idle(&tag).await?)
    }
}
