//! [`NetPop3Session`]: [`Pop3Session`] over `inbound-net`'s [`Pop3Client`].

use std::fmt;
use std::ops::ControlFlow;

use bytes::Bytes;
use inbound_net::pop3::MessageNumber;
use inbound_net::{Credentials, Pop3Client, Pop3Config, Pop3Error};

use super::{from_net, from_pop3};
use crate::backend::{BackendError, BackendResult, ErrorKind, Pop3Session, Pop3Uidl};

/// A logged-in POP3 session over the network.
pub struct NetPop3Session {
    client: Pop3Client,
}

impl fmt::Debug for NetPop3Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetPop3Session")
            .field("client", &self.client)
            .finish()
    }
}

impl NetPop3Session {
    /// Connects, secures the connection and logs in.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`] (DNS, TCP, TLS, STLS, a locked maildrop),
    /// [`ErrorKind::Auth`], [`ErrorKind::Timeout`] and the other kinds of
    /// `from_pop3`.
    pub async fn connect(config: &Pop3Config, credentials: &Credentials) -> BackendResult<Self> {
        let mut client = Pop3Client::connect(config).await.map_err(from_net)?;
        let info = client.login(credentials, None).await.map_err(from_net)?;
        tracing::debug!(host = %config.host, method = %info.method, "POP3 session ready");
        Ok(Self { client })
    }

    /// The underlying client.
    pub fn client(&mut self) -> &mut Pop3Client {
        &mut self.client
    }

    /// Retrieves several messages with as many `RETR` commands in flight as the server's
    /// `PIPELINING` allows (one at a time without it), handing each to `on_message` in
    /// order. Stops at the first error.
    ///
    /// # Errors
    /// As [`Pop3Session::retr`].
    pub async fn retr_many(
        &mut self,
        msgnos: &[u32],
        mut on_message: impl FnMut(u32, Bytes) + Send,
    ) -> BackendResult<()> {
        let numbers = message_numbers(msgnos)?;
        let mut stream = self.client.retr_many(numbers);
        while let Some((n, result)) = stream.next().await {
            on_message(n.get(), result.map_err(from_net)?);
        }
        Ok(())
    }
}

impl Pop3Session for NetPop3Session {
    async fn uidl(&mut self) -> BackendResult<Vec<Pop3Uidl>> {
        let caps = self.client.capabilities();
        if caps.is_known() && !caps.uidl() {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                "the POP3 server does not announce UIDL",
            ));
        }
        match self.client.uidl().await {
            Ok(list) => Ok(list
                .into_iter()
                .map(|entry| Pop3Uidl {
                    msgno: entry.msg.get(),
                    uidl: entry.uid.as_str().to_owned(),
                })
                .collect()),
            Err(inbound_net::Error::Pop3(e @ Pop3Error::ServerError { .. })) => {
                let error = from_pop3(e);
                if error.kind() == ErrorKind::Throttled {
                    return Err(error);
                }
                Err(BackendError::new(
                    ErrorKind::Unsupported,
                    format!("the POP3 server refused UIDL: {error}"),
                )
                .with_source(error))
            }
            Err(e) => Err(from_net(e)),
        }
    }

    async fn list(&mut self) -> BackendResult<Vec<(u32, u64)>> {
        let list = self.client.list().await.map_err(from_net)?;
        Ok(list
            .into_iter()
            .map(|entry| (entry.msg.get(), entry.size))
            .collect())
    }

    async fn retr(&mut self, msgno: u32) -> BackendResult<Bytes> {
        self.client.retr(msgno).await.map_err(from_net)
    }

    async fn retr_batch(
        &mut self,
        msgnos: &[u32],
        on_message: &mut (dyn FnMut(u32, Bytes) -> ControlFlow<()> + Send),
    ) -> BackendResult<()> {
        let numbers = message_numbers(msgnos)?;
        let mut stream = self.client.retr_many(numbers);
        while let Some((n, result)) = stream.next().await {
            let body = match result {
                Ok(body) => body,
                // One answer the framer skipped (unparsable): the session stays in sync, so
                // it is this message's failure, not the session's.
                Err(inbound_net::Error::Pop3(e @ Pop3Error::Protocol { .. })) => {
                    // The error's text may quote server bytes: it stays in the source.
                    return Err(BackendError::new(
                        ErrorKind::Unreadable,
                        format!("the RETR answer for message {n} could not be parsed"),
                    )
                    .with_source(e));
                }
                Err(e) => return Err(from_net(e)),
            };
            if on_message(n.get(), body).is_break() {
                break;
            }
        }
        Ok(())
    }

    async fn dele(&mut self, msgno: u32) -> BackendResult<()> {
        self.client.dele(msgno).await.map_err(from_net)
    }

    async fn quit(self) -> BackendResult<()> {
        self.client.quit().await.map_err(from_net)
    }
}

/// Validates message numbers (POP3 numbers start at 1).
fn message_numbers(msgnos: &[u32]) -> BackendResult<Vec<MessageNumber>> {
    msgnos
        .iter()
        .map(|&n| {
            MessageNumber::new(n).map_err(|e| {
                BackendError::new(ErrorKind::Refused, format!("message number {n}: {e}"))
            })
        })
        .collect()
}
