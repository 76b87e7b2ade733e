//! The wire side of a session: the [`Conn`] wrapped for write faults; reading into the
//! framer; writing encoded responses with quirks and transcript lines.

use std::io;

use bytes::BytesMut;
use inbound_imap_codec::types::{Response, Status};
use inbound_imap_codec::{Fragment, Framer, FramerEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsAcceptor;

use super::quirks;
use crate::conn::Conn;
use crate::faults::{Faults, FaultyStream};
use crate::transcript::Transcript;

/// The most read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// The wire side of a session.
pub(crate) struct Wire {
    stream: Option<FaultyStream<Conn>>,
    pub(crate) framer: Framer,
    pub(crate) transcript: Transcript,
    out: Vec<u8>,
    /// Received octets the framer has not handed out yet; reads append to its spare
    /// capacity (not zeroed per read, and only the pages written become resident).
    input: BytesMut,
    /// Where, in `out`, each literal of the pending output starts and ends.
    literals: Vec<(usize, usize)>,
    faults: Faults,
    eof: bool,
}

impl Wire {
    pub(crate) fn new(conn: Conn, framer: Framer, transcript: Transcript, faults: &Faults) -> Self {
        Self {
            stream: Some(faults.wrap(conn)),
            framer,
            transcript,
            out: Vec::new(),
            input: BytesMut::new(),
            literals: Vec::new(),
            faults: faults.clone(),
            eof: false,
        }
    }

    /// Falls silent for good (a [`Blackhole`](crate::faults::Blackhole) fault): nothing more
    /// is written, nothing the client sends is read, the socket stays open.
    pub(crate) fn go_silent(&mut self) {
        if let Some(stream) = self.stream.as_mut() {
            stream.go_silent();
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.get_ref().is_tls())
    }

    fn stream(&mut self) -> io::Result<&mut FaultyStream<Conn>> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection gone"))
    }

    /// The next framer event from the octets received so far; `None`: read more.
    pub(crate) fn next_event(&mut self) -> Option<FramerEvent> {
        self.framer.next_event(&mut self.input)
    }

    /// Drops a command whose synchronizing literal was refused.
    pub(crate) fn discard_pending(&mut self) {
        self.framer.discard_pending(&mut self.input);
    }

    /// Reads more bytes for the framer; `Ok(false)` at end of stream.
    pub(crate) async fn read_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.input.capacity() - self.input.len() < READ_CHUNK / 4 {
            self.input.reserve(READ_CHUNK);
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection gone"))?;
        let n = stream.read_buf(&mut self.input).await?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// Queues a response (quirks applied, transcript written).
    pub(crate) fn push(&mut self, response: &Response) {
        let quirks = self.faults.quirks;
        let tagged = matches!(response, Response::Status(Status::Tagged { .. }));
        let trailing = quirks.exchange_trailing_space
            && matches!(
                response,
                Response::Data(
                    inbound_imap_codec::types::Data::Status { .. }
                        | inbound_imap_codec::types::Data::Flags(_)
                )
            );
        let fragments = response.encode().into_fragments();
        let count = fragments.len();
        for (i, fragment) in fragments.into_iter().enumerate() {
            match fragment {
                Fragment::Line(mut line) => {
                    quirks::apply(&mut line, &quirks, tagged && i == 0);
                    if trailing && i + 1 == count {
                        quirks::trailing_space(&mut line);
                    }
                    for piece in line.split(|&b| b == b'\n') {
                        if !piece.is_empty() {
                            self.transcript.server(piece);
                        }
                    }
                    self.out.extend_from_slice(&line);
                }
                Fragment::Literal { data, .. } => {
                    self.transcript.server_literal(data.len());
                    let start = self.out.len();
                    self.out.extend_from_slice(&data);
                    self.literals.push((start, self.out.len()));
                }
            }
        }
    }

    /// From now on every byte is written alone, `interval` after the one before (the
    /// dribble fault).
    pub(crate) fn start_dribble(&mut self, interval: std::time::Duration) {
        if let Some(stream) = self.stream.as_mut() {
            stream.start_dribble(interval);
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.out.len()
    }

    /// Queues raw bytes (faults such as plaintext after STARTTLS).
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) {
        self.transcript.server(bytes);
        self.out.extend_from_slice(bytes);
    }

    /// Writes what is queued.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        self.literals.clear();
        if out.is_empty() {
            return Ok(());
        }
        let stream = self.stream()?;
        stream.write_all(&out).await?;
        stream.flush().await
    }

    /// Writes `bytes` at once, outside the transcript (floods).
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.flush().await?;
        let stream = self.stream()?;
        stream.write_all(bytes).await?;
        stream.flush().await
    }

    /// Writes what is queued up to the middle of its first literal (the mid-literal drop
    /// fault); `false` when nothing queued has a literal.
    pub(crate) async fn flush_half_literal(&mut self) -> io::Result<bool> {
        let Some(&(start, end)) = self.literals.first() else {
            return Ok(false);
        };
        let cut = start + (end - start) / 2;
        let out = std::mem::take(&mut self.out);
        self.literals.clear();
        let stream = self.stream()?;
        stream.write_all(&out[..cut]).await?;
        stream.flush().await?;
        Ok(true)
    }

    /// Closes the connection (after writing what is queued, if possible).
    pub(crate) async fn close(&mut self) {
        let _ = self.flush().await;
        if let Some(mut stream) = self.stream.take() {
            let _ = stream.shutdown().await;
        }
    }

    /// Drops the connection without a word.
    pub(crate) fn abort(&mut self) {
        self.out.clear();
        self.stream = None;
    }

    /// Runs the TLS handshake on a plain connection. Bytes the client sent before it are
    /// discarded (they were not protected: the STARTTLS injection defence).
    pub(crate) async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        let stream = self
            .stream
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection gone"))?;
        let tls = stream.into_inner().start_tls(acceptor).await?;
        let config = *self.framer.config();
        self.framer = Framer::new(config);
        // Octets sent before the handshake are never read as commands after it.
        self.input.clear();
        self.stream = Some(self.faults.wrap(tls));
        Ok(())
    }
}
