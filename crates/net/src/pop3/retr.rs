//! Streamed and pipelined retrieval.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;
use inbound_pop3_codec::{BodyMode, Command, Expectation, MessageNumber, Response, ResponseEvent};

use super::Pop3Error;
use super::client::{MessageNumberArg, Pop3Client, State, message_number, server_error};
use crate::error::Result;

impl Pop3Client {
    /// `RETR msg`, handing the message out in chunks as it arrives: for messages too large
    /// to hold in memory. Memory stays bounded by the read buffer.
    ///
    /// The chunks are the message with dot-stuffing removed. If the connection drops before
    /// the end, [`RetrStream::next_chunk`] fails with [`Pop3Error::ConnectionClosed`]: the
    /// caller must discard what it received. Dropping the stream early is fine: the rest is
    /// read and discarded before the next command.
    ///
    /// # Errors
    /// [`Pop3Error::ServerError`] (no such message), [`Pop3Error::WrongState`],
    /// [`Pop3Error::InvalidArgument`], connection errors.
    pub async fn retr_stream(&mut self, msg: impl MessageNumberArg) -> Result<RetrStream<'_>> {
        let msg = message_number(msg)?;
        self.check("RETR", Some(State::Transaction))?;
        self.send_expecting(
            &[Command::Retr(msg)],
            std::iter::once(Expectation::Message(BodyMode::Stream)),
            "RETR",
        )
        .await?;
        match self.next_event("RETR").await? {
            ResponseEvent::BodyStart(_) => Ok(RetrStream {
                client: self,
                msg,
                received: 0,
                done: false,
            }),
            ResponseEvent::Response(Response::Status(line)) if !line.is_ok() => {
                Err(server_error("RETR", line).into())
            }
            ResponseEvent::Response(other) => Err(self.unexpected("RETR", &other).into()),
            _ => Err(Pop3Error::UnexpectedResponse {
                during: "RETR",
                kind: "body data",
            }
            .into()),
        }
    }

    /// Retrieves several messages, yielding them in the order given.
    ///
    /// When the server announces PIPELINING, up to
    /// [`Pop3Config::pipeline_window`](super::Pop3Config::pipeline_window) `RETR` commands
    /// are in flight: they are sent back-to-back in one write and refilled when half the
    /// window has been answered, so the server never waits for the client. Without
    /// PIPELINING the commands go one at a time.
    ///
    /// A message the server refuses (`-ERR`) or that is too large yields its error and the
    /// batch goes on; a connection error is yielded once and ends the batch.
    pub fn retr_many<I>(&mut self, msgs: I) -> RetrMany<'_>
    where
        I: IntoIterator<Item = MessageNumber>,
    {
        let window = if self.capabilities.pipelining() {
            self.pipeline_window
        } else {
            1
        };
        RetrMany {
            client: self,
            queue: msgs.into_iter().collect(),
            in_flight: VecDeque::new(),
            window,
            fused: false,
        }
    }
}

/// A message arriving in chunks; see [`Pop3Client::retr_stream`].
pub struct RetrStream<'a> {
    client: &'a mut Pop3Client,
    msg: MessageNumber,
    received: u64,
    done: bool,
}

impl fmt::Debug for RetrStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetrStream")
            .field("msg", &self.msg)
            .field("received", &self.received)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RetrStream<'_> {
    /// The message being retrieved.
    #[must_use]
    pub fn message_number(&self) -> MessageNumber {
        self.msg
    }

    /// Octets handed out so far.
    #[must_use]
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk; `None` after the last one (the message is complete).
    ///
    /// # Errors
    /// [`Pop3Error::ConnectionClosed`] or [`Pop3Error::Timeout`] when the message is cut
    /// short (discard what was received), [`Pop3Error::Protocol`].
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        loop {
            match self.client.next_event("RETR").await {
                Ok(ResponseEvent::BodyChunk(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    self.received += chunk.len() as u64;
                    return Ok(Some(chunk));
                }
                Ok(ResponseEvent::BodyEnd) => {
                    self.done = true;
                    return Ok(None);
                }
                Ok(other) => {
                    self.done = true;
                    self.client.state = State::Unusable;
                    return Err(Pop3Error::UnexpectedResponse {
                        during: "RETR",
                        kind: match other {
                            ResponseEvent::Response(r) => r.kind(),
                            _ => "body start",
                        },
                    }
                    .into());
                }
                Err(e) => {
                    self.done = true;
                    return Err(e.into());
                }
            }
        }
    }
}

/// Messages retrieved back-to-back; see [`Pop3Client::retr_many`].
pub struct RetrMany<'a> {
    client: &'a mut Pop3Client,
    /// Not sent yet.
    queue: VecDeque<MessageNumber>,
    /// Sent, answers pending, in order.
    in_flight: VecDeque<MessageNumber>,
    window: usize,
    fused: bool,
}

impl fmt::Debug for RetrMany<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetrMany")
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RetrMany<'_> {
    /// How many commands are kept in flight (1 without PIPELINING).
    #[must_use]
    pub fn window(&self) -> usize {
        self.window
    }

    /// Messages not yielded yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// The next message in order, with its number; `None` when all were yielded or after
    /// a connection error was yielded.
    pub async fn next(&mut self) -> Option<(MessageNumber, Result<Bytes>)> {
        if self.fused {
            return None;
        }
        if self.in_flight.len() <= self.window / 2 && !self.queue.is_empty() {
            if let Err(e) = self.refill().await {
                self.fused = true;
                let msg = self.in_flight.front().or(self.queue.front()).copied()?;
                return Some((msg, Err(e.into())));
            }
        }
        let msg = self.in_flight.pop_front()?;
        match self.client.next_response("RETR").await {
            Ok(Response::Message { body, .. }) => Some((msg, Ok(body))),
            Ok(Response::Status(line)) if !line.is_ok() => {
                Some((msg, Err(server_error("RETR", line).into())))
            }
            Ok(other) => {
                self.fused = true;
                self.client.state = State::Unusable;
                Some((msg, Err(self.client.unexpected("RETR", &other).into())))
            }
            Err(e) => {
                let recoverable = matches!(
                    e,
                    crate::Error::Pop3(Pop3Error::TooLarge { .. } | Pop3Error::Protocol { .. })
                );
                if !recoverable {
                    self.fused = true;
                }
                Some((msg, Err(e)))
            }
        }
    }

    /// Sends as many RETR commands as the window allows, in one write.
    async fn refill(&mut self) -> Result<(), Pop3Error> {
        self.client.check("RETR", Some(State::Transaction))?;
        let n = (self.window - self.in_flight.len()).min(self.queue.len());
        let batch: Vec<MessageNumber> = self.queue.drain(..n).collect();
        let commands: Vec<Command> = batch.iter().map(|&m| Command::Retr(m)).collect();
        if self.in_flight.is_empty() {
            // Answers left over from an earlier, abandoned retrieval.
            self.client.drain().await?;
        }
        let expectations = commands
            .iter()
            .map(|c| Expectation::for_command(c, BodyMode::Collect));
        // The in-flight list is updated first, so that a failed write reports the first
        // message of the batch.
        self.in_flight.extend(batch);
        self.client
            .send_pipelined(&commands, expectations, "RETR")
            .await
    }
}
