//! A buffered mail-protocol connection with timeouts and redacted tracing, shared by the
//! POP3 and IMAP clients.
//!
//! [`Transport`] owns a [`MailStream`] and one receive buffer (`BytesMut`). The protocol
//! client hands the buffer to its sans-IO decoder ([`Transport::buffer`]) and, when the
//! decoder needs more octets, calls [`Transport::fill`], which waits at most the I/O timeout
//! for at least one more octet. Writes go through [`Transport::send`]: one `write_all` and a
//! flush, also bounded by the timeout. Every write is logged at TRACE level (target
//! `inbound_net::wire`) after a [`TraceRedactor`] hid passwords, digests and SASL data; the
//! client reports server lines with [`Transport::trace_server`] so the redactor knows when a
//! SASL exchange ended.
//!
//! STARTTLS/STLS: after the server's go-ahead line was decoded, [`Transport::start_tls`]
//! passes whatever is still in the receive buffer to [`upgrade_to_tls`](crate::upgrade_to_tls)
//! as leftover, which refuses the upgrade if any octet is there (those octets arrived in
//! plaintext after the go-ahead and might have been injected).
//!
//! Timeouts are per wait, and an answer must also keep arriving at a minimum rate: a large
//! message that keeps arriving is never cut off, a server that falls silent for the timeout is
//! declared dead, and a server that sends a byte now and then, never falling silent for the
//! whole timeout, cannot hold the client either. Each answer (from the write of a command, or
//! from [`Transport::restart_answer_clock`]) may take the I/O timeout plus one second per
//! [`MIN_ANSWER_RATE`] octets received, counting only the time spent waiting for the server
//! ([`TransportError::TooSlow`] beyond that).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use inbound_net::transport::Transport;
//! use inbound_net::{MailProtocol, MailStream, connect_tcp};
//! use tokio::io::AsyncWriteExt as _;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     let (mut socket, _) = listener.accept().await?;
//!     socket.write_all(b"+OK hello\r\n").await?;
//!     Ok::<_, std::io::Error>(())
//! });
//! let tcp = connect_tcp("127.0.0.1", port, Duration::from_secs(5)).await?;
//! let mut t = Transport::new(MailStream::Plain(tcp), MailProtocol::Pop3, Duration::from_secs(5));
//! while !t.buffer().ends_with(b"\n") {
//!     t.fill("greeting").await?;
//! }
//! assert_eq!(&t.buffer()[..], b"+OK hello\r\n");
//! # Ok(()) }
//! ```

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::connect::{Dialer, MailStream};
use crate::error::{ConnectError, TransportError};
use crate::redact::TraceRedactor;
use crate::tls::MailProtocol;

/// How much receive buffer is reserved at a time (when less than a quarter is left). A
/// POP3 message handed out is a slice of it, and the partial message at its end is copied
/// when the next chunk is reserved: 64 KiB chunks cost a caller that kept 5,000 messages of
/// 20 KB ~10% more memory and CPU than 256 KiB ones (the retrieval bench against Dovecot).
const READ_CHUNK: usize = 256 * 1024;

/// The slowest rate at which an answer may arrive once the I/O timeout's grace is spent, in
/// octets per second: 1 KiB/s.
///
/// An answer gets `timeout + received / MIN_ANSWER_RATE` of waiting time: with the default
/// 30 s timeout a 1 MiB message may take over 17 minutes and a 64 MiB one over 18 hours, far
/// slower than any working link (a 2G mobile link carries 5 KB/s), while a server that
/// dribbles a byte every 29 s is cut off after about 30 s instead of never.
pub const MIN_ANSWER_RATE: u64 = 1024;

/// The tracing target of protocol traces.
pub const TRACE_TARGET: &str = "inbound_net::wire";

/// The timeouts of a session, from an account's timeout setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Name resolution plus the TCP connection.
    pub connect: Duration,
    /// A TLS handshake (implicit TLS or after STARTTLS/STLS).
    pub handshake: Duration,
    /// Waiting for any part of a response (and for a write to be taken).
    pub command: Duration,
    /// Waiting for the answer to `QUIT`/`LOGOUT`.
    pub logout: Duration,
}

impl Timeouts {
    /// A [`Dialer`] for `tls` with these connect and handshake timeouts: what both clients'
    /// `connect` build before `connect_with`.
    pub(crate) fn dialer(&self, tls: &crate::tls::TlsConfig) -> crate::Result<Dialer> {
        Ok(Dialer::new(tls)?
            .with_connect_timeout(self.connect)
            .with_handshake_timeout(self.handshake))
    }

    /// The same timeout for every phase except logout, which gets at most 10 seconds
    /// (nothing depends on its answer but committing POP3 deletions, and a server that
    /// is slow to say goodbye should not hold the caller).
    #[must_use]
    pub fn uniform(timeout: Duration) -> Self {
        Self {
            connect: timeout,
            handshake: timeout,
            command: timeout,
            logout: timeout.min(Duration::from_secs(10)),
        }
    }
}

impl Default for Timeouts {
    /// 30 seconds for connect, handshake and each wait for a response; 10 for logout.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            handshake: Duration::from_secs(30),
            command: Duration::from_secs(30),
            logout: Duration::from_secs(10),
        }
    }
}

/// A buffered connection with an I/O timeout and redacted TRACE logging (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct Transport {
    stream: MailStream,
    buf: BytesMut,
    redactor: TraceRedactor,
    timeout: Duration,
    answer: AnswerClock,
}

/// How long the current answer has been waited for, and how much of it arrived.
#[derive(Debug, Clone, Copy, Default)]
struct AnswerClock {
    /// Time spent inside paced reads since the clock was restarted.
    waited: Duration,
    /// Octets received by paced reads since then.
    received: u64,
}

impl AnswerClock {
    /// The waiting time the answer has left: `timeout + received / MIN_ANSWER_RATE - waited`.
    fn remaining(&self, timeout: Duration) -> Duration {
        let earned = Duration::from_secs(self.received / MIN_ANSWER_RATE).saturating_add(
            Duration::from_nanos(
                (self.received % MIN_ANSWER_RATE) * 1_000_000_000 / MIN_ANSWER_RATE,
            ),
        );
        timeout.saturating_add(earned).saturating_sub(self.waited)
    }
}

impl Transport {
    /// Wraps a connection; `timeout` bounds every wait for data and every write.
    #[must_use]
    pub fn new(stream: MailStream, protocol: MailProtocol, timeout: Duration) -> Self {
        Self {
            stream,
            // Allocated by the first `fill` (a client that reads with `read_into`
            // never needs it).
            buf: BytesMut::new(),
            redactor: TraceRedactor::new(protocol),
            timeout,
            answer: AnswerClock::default(),
        }
    }

    /// Starts timing a new answer (see the [module docs](self)): [`Transport::send`] does it
    /// for every command; a client calls it when one answer of several to a command is
    /// complete (one message of a FETCH, one `RETR` of a pipeline).
    pub fn restart_answer_clock(&mut self) {
        self.answer = AnswerClock::default();
    }

    /// The receive buffer: octets read but not yet consumed by the decoder. Decoders remove
    /// what they consumed from the front; nothing else should change it.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The I/O timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the I/O timeout (e.g. a shorter one for logout).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the connection is encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// The connection underneath.
    #[must_use]
    pub fn stream(&self) -> &MailStream {
        &self.stream
    }

    /// Reads at least one more octet into the buffer, waiting at most the timeout and no
    /// longer than the current answer has left at the minimum rate. Returns how many octets
    /// arrived.
    ///
    /// # Errors
    /// [`TransportError::Timeout`], [`TransportError::TooSlow`], [`TransportError::Closed`]
    /// at end of stream, [`TransportError::Io`].
    pub async fn fill(&mut self, during: &'static str) -> Result<usize, TransportError> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        // Borrowing the fields apart keeps this cancellation-safe: the buffer stays in place.
        read_paced(
            &mut self.stream,
            &mut self.answer,
            self.timeout,
            &mut self.buf,
            during,
        )
        .await
    }

    /// [`Transport::read_into`] within the I/O timeout and the current answer's minimum
    /// rate (see the [module docs](self)).
    ///
    /// Cancellation-safe: a dropped future has read nothing.
    ///
    /// # Errors
    /// As [`Transport::fill`].
    pub async fn read_paced(
        &mut self,
        buf: &mut BytesMut,
        during: &'static str,
    ) -> Result<usize, TransportError> {
        read_paced(
            &mut self.stream,
            &mut self.answer,
            self.timeout,
            buf,
            during,
        )
        .await
    }

    /// [`Transport::fill`] waiting at most `timeout` instead of the I/O timeout, and without
    /// the minimum rate (IDLE waits for its own deadline). The I/O timeout is left alone, so
    /// a cancelled wait changes nothing for the next one.
    ///
    /// # Errors
    /// As [`Transport::fill`].
    pub async fn fill_within(
        &mut self,
        timeout: Duration,
        during: &'static str,
    ) -> Result<usize, TransportError> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        read_within(&mut self.stream, &mut self.buf, timeout, during).await
    }

    /// Reads at least one more octet straight into `buf` (appending; its spare capacity
    /// should be reserved by the caller, a bounded amount), waiting at most `timeout`. For
    /// a client whose decoder owns its receive buffer: the octets skip the transport's
    /// buffer and are not copied again. Keep the transport's own buffer empty when using
    /// this ([`Transport::start_tls`] checks only that buffer for injected octets).
    ///
    /// Cancellation-safe: a dropped future has read nothing.
    ///
    /// # Errors
    /// As [`Transport::fill`].
    pub async fn read_into(
        &mut self,
        buf: &mut BytesMut,
        timeout: Duration,
        during: &'static str,
    ) -> Result<usize, TransportError> {
        read_within(&mut self.stream, buf, timeout, during).await
    }

    /// Writes `data` whole and flushes, within the timeout. The data is traced (redacted)
    /// first.
    ///
    /// # Errors
    /// [`TransportError::Timeout`], [`TransportError::Closed`], [`TransportError::Io`].
    pub async fn send(&mut self, data: &[u8], during: &'static str) -> Result<(), TransportError> {
        let shown = self.redactor.client(data);
        if tracing::enabled!(target: TRACE_TARGET, tracing::Level::TRACE) {
            for line in shown.split_inclusive(|&b| b == b'\n') {
                tracing::trace!(target: TRACE_TARGET, "C: {}", printable(line));
            }
        }
        self.restart_answer_clock();
        let timeout = self.timeout;
        let write = async {
            self.stream.write_all(data).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(TransportError::Timeout { during, timeout }),
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(classify_io(during, source)),
        }
    }

    /// Tells the redactor about a server line (it ends SASL exchanges) and traces it. Pass
    /// status lines, not message bodies: mail content does not belong in logs.
    pub fn trace_server(&mut self, line: &[u8]) {
        self.redactor.server(line);
        if tracing::enabled!(target: TRACE_TARGET, tracing::Level::TRACE) {
            tracing::trace!(target: TRACE_TARGET, "S: {}", printable(line));
        }
    }

    /// Upgrades to TLS after the server's STARTTLS/STLS go-ahead was consumed from the
    /// buffer. Octets still buffered are refused as a possible injection
    /// ([`ConnectError::StartTlsInjection`]); the connection is dropped on any error.
    ///
    /// # Errors
    /// Any error of [`Dialer::upgrade`].
    pub async fn start_tls(self, connector: &Dialer, host: &str) -> Result<Self, ConnectError> {
        let Self {
            stream,
            buf,
            redactor,
            timeout,
            answer: _,
        } = self;
        let stream = connector.upgrade(stream, &buf, host).await?;
        tracing::debug!(version = ?stream.tls_version(), "connection upgraded to TLS");
        Ok(Self {
            stream,
            buf: BytesMut::new(),
            redactor,
            timeout,
            answer: AnswerClock::default(),
        })
    }

    /// The part of STARTTLS/STLS both clients share, once the server's go-ahead was read:
    /// refuses the upgrade when any octet arrived after the go-ahead (`decoder_buffered`
    /// octets held by the client's decoder, plus whatever this transport still buffers),
    /// since those arrived in plaintext and may have been injected; then the TLS
    /// handshake ([`Transport::start_tls`]). The caller then forgets everything the server
    /// said in plaintext (capabilities, decoder state).
    ///
    /// # Errors
    /// [`ConnectError::StartTlsInjection`] and the errors of [`Transport::start_tls`], as
    /// [`Error::Connect`](crate::Error::Connect).
    pub(crate) async fn upgrade_after_go_ahead(
        self,
        decoder_buffered: usize,
        connector: &Dialer,
        host: &str,
    ) -> crate::Result<Self> {
        let buffered = decoder_buffered + self.buf.len();
        if buffered > 0 {
            tracing::warn!(
                buffered,
                "bytes after the STARTTLS/STLS go-ahead: refusing the upgrade"
            );
            return Err(ConnectError::StartTlsInjection { buffered }.into());
        }
        Ok(self.start_tls(connector, host).await?)
    }

    /// Shuts the connection down (TLS close_notify, then FIN), within the timeout. Errors
    /// are ignored: the session is over either way.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
    }
}

/// One read into `buf` within `timeout` and what the answer timed by `answer` has left at the
/// minimum rate; [`TransportError::TooSlow`] when that ran out.
async fn read_paced(
    stream: &mut MailStream,
    answer: &mut AnswerClock,
    timeout: Duration,
    buf: &mut BytesMut,
    during: &'static str,
) -> Result<usize, TransportError> {
    let too_slow = |answer: &AnswerClock| TransportError::TooSlow {
        during,
        received: answer.received,
        waited: answer.waited,
    };
    let remaining = answer.remaining(timeout);
    if remaining.is_zero() {
        return Err(too_slow(answer));
    }
    let wait = remaining.min(timeout);
    let started = tokio::time::Instant::now();
    let read = read_within(stream, buf, wait, during).await;
    answer.waited = answer.waited.saturating_add(started.elapsed());
    match read {
        Ok(n) => {
            answer.received = answer.received.saturating_add(n as u64);
            Ok(n)
        }
        Err(TransportError::Timeout { .. }) if wait < timeout => Err(too_slow(answer)),
        Err(e) => Err(e),
    }
}

/// One read into `buf` bounded by `timeout`; end of stream is [`TransportError::Closed`].
async fn read_within(
    stream: &mut MailStream,
    buf: &mut BytesMut,
    timeout: Duration,
    during: &'static str,
) -> Result<usize, TransportError> {
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Err(_) => Err(TransportError::Timeout { during, timeout }),
        Ok(Ok(0)) => Err(TransportError::Closed { during }),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(source)) => Err(classify_io(during, source)),
    }
}

fn classify_io(during: &'static str, source: std::io::Error) -> TransportError {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => TransportError::Closed { during },
        _ => TransportError::Io { during, source },
    }
}

/// A line for the trace: printable ASCII kept, the rest escaped, line end dropped, at most
/// 200 octets.
fn printable(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut out = String::with_capacity(line.len().min(200) + 3);
    for &b in line.iter().take(200) {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if line.len() > 200 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable(b"+OK hi\r\n"), "+OK hi");
        assert_eq!(printable(b"a\x01b"), "a\\x01b");
        let long = vec![b'x'; 300];
        let p = printable(&long);
        assert!(p.ends_with("...") && p.len() == 203);
    }

    /// POP3 reads through `fill`; a cancelled one (inside `select!`, a caller's timeout)
    /// must leave the octets already buffered in place.
    #[tokio::test]
    async fn a_cancelled_fill_keeps_what_was_buffered() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.write_all(b"+OK a\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let tcp = crate::connect_tcp("127.0.0.1", port, Duration::from_secs(5))
            .await
            .unwrap();
        let mut t = Transport::new(
            MailStream::Plain(tcp),
            MailProtocol::Pop3,
            Duration::from_secs(5),
        );
        while !t.buffer().ends_with(b"\n") {
            t.fill("greeting").await.unwrap();
        }
        let cancelled = tokio::time::timeout(Duration::from_millis(50), t.fill("NOOP")).await;
        assert!(cancelled.is_err());
        assert_eq!(&t.buffer()[..], b"+OK a\r\n");
        server.abort();
    }

    #[test]
    fn an_answer_earns_a_second_per_kib() {
        let timeout = Duration::from_secs(30);
        let fresh = AnswerClock::default();
        assert_eq!(fresh.remaining(timeout), timeout);
        // A byte every 29 s: the second wait gets almost nothing.
        let dribbled = AnswerClock {
            waited: Duration::from_secs(29),
            received: 1,
        };
        assert!(dribbled.remaining(timeout) < Duration::from_secs(2));
        // 1 MiB in 60 s of waiting is plenty fast.
        let steady = AnswerClock {
            waited: Duration::from_secs(60),
            received: 1 << 20,
        };
        assert_eq!(
            steady.remaining(timeout),
            Duration::from_secs(30 + 1024 - 60)
        );
        let huge = AnswerClock {
            waited: Duration::ZERO,
            received: u64::MAX,
        };
        assert!(huge.remaining(timeout) > timeout);
    }

    #[test]
    fn uniform_timeouts() {
        let t = Timeouts::uniform(Duration::from_secs(5));
        assert_eq!(t.connect, Duration::from_secs(5));
        assert_eq!(t.command, Duration::from_secs(5));
        assert_eq!(t.logout, Duration::from_secs(5));
        assert_eq!(
            Timeouts::uniform(Duration::from_secs(60)).logout,
            Duration::from_secs(10)
        );
    }
}
