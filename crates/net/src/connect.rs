//! TCP connections, TLS handshakes, the STARTTLS upgrade and [`MailStream`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::{ConnectError, TlsConfigError};
use crate::tls::{Security, TlsConfig};

/// Default time allowed for name resolution plus the TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time allowed for a TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// TCP keepalive on a mail connection: after `idle` without traffic the kernel sends a
/// probe every `interval`, and declares the connection dead after `probes` unanswered ones;
/// the next read then fails and the client reconnects.
///
/// What it can detect: a peer or path that stops acknowledging packets (a NAT box or
/// firewall that dropped its mapping, a crashed or unplugged host, a cut link), within
/// `idle + probes * interval` (90 s by default) of the last traffic, while the connection
/// has no unacknowledged data of its own. What it cannot: a middlebox that keeps
/// acknowledging while forwarding nothing, or a server process that hangs while its kernel
/// still answers; IDLE's renewal and response timeouts cover those. Some middleboxes also
/// drop mappings faster than any sensible probe interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time without traffic before the first probe (`TCP_KEEPIDLE`). Default 60 s.
    pub idle: Duration,
    /// Time between probes (`TCP_KEEPINTVL`). Default 10 s.
    pub interval: Duration,
    /// Unanswered probes before the connection is declared dead (`TCP_KEEPCNT`). Default 3.
    pub probes: u32,
}

impl Default for Keepalive {
    /// 60 s idle, a probe every 10 s, 3 probes: a dead path is seen within 90 s.
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            probes: 3,
        }
    }
}

impl Keepalive {
    /// Turns keepalive on for `tcp` with these settings (interval and probes where the
    /// platform lets them be set; elsewhere the system's values apply).
    ///
    /// # Errors
    /// The socket option could not be set.
    pub fn apply(&self, tcp: &TcpStream) -> io::Result<()> {
        let params = socket2::TcpKeepalive::new().with_time(self.idle);
        #[cfg(any(
            target_os = "android",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "illumos",
            target_os = "ios",
            target_os = "linux",
            target_os = "macos",
            target_os = "netbsd",
            target_os = "windows",
        ))]
        let params = params
            .with_interval(self.interval)
            .with_retries(self.probes);
        socket2::SockRef::from(tcp).set_tcp_keepalive(&params)
    }
}

/// Resolves `host` and opens a TCP connection to the first address that accepts, all within
/// `timeout`. An IP address literal is used as is, without a lookup.
///
/// # Errors
/// [`ConnectError::Dns`], [`ConnectError::NoAddresses`], [`ConnectError::ConnectTimeout`],
/// [`ConnectError::Refused`] or [`ConnectError::Connect`].
pub async fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let attempt = async {
        let addrs = resolve(host, port).await?;
        let mut last_error = None;
        for addr in addrs {
            tracing::debug!(%addr, "connecting");
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Commands are written whole; don't let Nagle hold them back.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "could not set TCP_NODELAY");
                    }
                    return Ok(stream);
                }
                Err(source) => {
                    tracing::debug!(%addr, error = %source, "connection failed");
                    last_error = Some(classify_connect_error(addr, source));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ConnectError::NoAddresses {
            host: host.to_owned(),
        }))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::ConnectTimeout {
            host: host.to_owned(),
            port,
            timeout,
        }),
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    // Accept "[::1]" as well as "::1".
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|source| ConnectError::Dns {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::NoAddresses {
            host: host.to_owned(),
        });
    }
    Ok(addrs)
}

fn classify_connect_error(addr: SocketAddr, source: io::Error) -> ConnectError {
    if source.kind() == io::ErrorKind::ConnectionRefused {
        ConnectError::Refused { addr }
    } else {
        ConnectError::Connect { addr, source }
    }
}

/// Parses a host name or IP address into a TLS server name.
///
/// # Errors
/// [`ConnectError::InvalidServerName`].
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConnectError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned()).map_err(|_| ConnectError::InvalidServerName {
        name: host.to_owned(),
    })
}

/// Runs a TLS client handshake over `stream` within `timeout`.
///
/// # Errors
/// [`ConnectError::HandshakeTimeout`], [`ConnectError::CertificateInvalid`] (with rustls's
/// reason), [`ConnectError::Tls`] or [`ConnectError::HandshakeIo`].
pub async fn tls_handshake(
    stream: TcpStream,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, ConnectError> {
    let name = server_name.to_str().into_owned();
    let connector = TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(server_name, stream)).await {
        Err(_) => Err(ConnectError::HandshakeTimeout {
            server_name: name,
            timeout,
        }),
        Ok(Err(e)) => Err(classify_handshake_error(name, e)),
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            tracing::debug!(
                server_name = %name,
                version = ?conn.protocol_version(),
                cipher_suite = ?conn.negotiated_cipher_suite().map(|s| s.suite()),
                "TLS handshake complete"
            );
            Ok(tls)
        }
    }
}

fn classify_handshake_error(server_name: String, error: io::Error) -> ConnectError {
    let rustls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .cloned();
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(reason)) => ConnectError::CertificateInvalid {
            server_name,
            reason,
        },
        Some(source) => ConnectError::Tls {
            server_name,
            source,
        },
        None => ConnectError::HandshakeIo {
            server_name,
            source: error,
        },
    }
}

/// Upgrades a plaintext connection to TLS after the server accepted IMAP `STARTTLS` or POP3
/// `STLS`.
///
/// `leftover` must be every byte the client has read from the connection but not consumed
/// after the server's go-ahead line. Anything there arrived in plaintext, after the point
/// where the server should have fallen silent, and may have been injected by an attacker to
/// be read later as if it came through TLS; so a non-empty `leftover` is refused with
/// [`ConnectError::StartTlsInjection`] and the connection should be dropped.
///
/// # Errors
/// [`ConnectError::StartTlsInjection`], [`ConnectError::AlreadyTls`], or any error of
/// [`tls_handshake`].
pub async fn upgrade_to_tls(
    stream: MailStream,
    leftover: &[u8],
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<MailStream, ConnectError> {
    if !leftover.is_empty() {
        tracing::warn!(
            buffered = leftover.len(),
            "bytes after the STARTTLS go-ahead: refusing the upgrade"
        );
        return Err(ConnectError::StartTlsInjection {
            buffered: leftover.len(),
        });
    }
    match stream {
        MailStream::Tls(_) => Err(ConnectError::AlreadyTls),
        MailStream::Plain(tcp) => {
            let tls = tls_handshake(tcp, server_name, config, timeout).await?;
            Ok(MailStream::Tls(Box::new(tls)))
        }
    }
}

/// A connection to a mail server, plain or TLS. Reads and writes go to whichever it is, so a
/// client can switch after STARTTLS with [`upgrade_to_tls`].
#[derive(Debug)]
pub enum MailStream {
    /// Plain TCP: before STARTTLS, or [`Security::Plaintext`].
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MailStream {
    /// Whether the connection is encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The negotiated TLS version, for logs (`None` for plain connections).
    #[must_use]
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => tls.get_ref().1.protocol_version(),
        }
    }

    /// The TCP stream underneath.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens connections with one TLS configuration, one set of timeouts and one TCP
/// keepalive setting (on by default, [`Keepalive::default`]).
///
/// For [`Security::StartTls`], [`Dialer::connect`] returns the plaintext stream: the
/// protocol client reads the greeting, sends `STARTTLS`/`STLS` and calls
/// [`Dialer::upgrade`].
#[derive(Clone)]
pub struct Dialer {
    config: Arc<ClientConfig>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    keepalive: Option<Keepalive>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("keepalive", &self.keepalive)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    /// A dialer for these TLS settings with the default timeouts.
    ///
    /// # Errors
    /// [`TlsConfigError`] when a CA file cannot be used.
    pub fn new(tls: &TlsConfig) -> Result<Self, TlsConfigError> {
        Ok(Self::from_config(tls.client_config()?))
    }

    /// A dialer for a ready rustls configuration (which must have been built with an
    /// explicit crypto provider).
    #[must_use]
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive: Some(Keepalive::default()),
        }
    }

    /// Sets TCP keepalive for every connection made from now on (`None`: off).
    #[must_use]
    pub fn with_keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets the time allowed for name resolution plus the TCP connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the time allowed for the TLS handshake.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration in use.
    #[must_use]
    pub fn tls_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Connects to `host:port`. With [`Security::Tls`] the TLS handshake is done (the host
    /// name is verified against the certificate); with [`Security::StartTls`] and
    /// [`Security::Plaintext`] the stream is plain.
    ///
    /// # Errors
    /// Any [`ConnectError`] of [`connect_tcp`] and [`tls_handshake`].
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        security: Security,
    ) -> Result<MailStream, ConnectError> {
        // Validate the name before any traffic for TLS modes.
        let name = match security {
            Security::Tls | Security::StartTls => Some(server_name(host)?),
            Security::Plaintext => None,
        };
        let tcp = connect_tcp(host, port, self.connect_timeout).await?;
        if let Some(keepalive) = &self.keepalive {
            // Not fatal: without it a dead path is still found by IDLE's renewal and the
            // response timeouts, only later.
            if let Err(e) = keepalive.apply(&tcp) {
                tracing::warn!(host, port, error = %e, "could not turn on TCP keepalive");
            }
        }
        match (security, name) {
            (Security::Tls, Some(name)) => {
                let tls =
                    tls_handshake(tcp, name, self.config.clone(), self.handshake_timeout).await?;
                Ok(MailStream::Tls(Box::new(tls)))
            }
            (Security::Plaintext, _) => {
                tracing::warn!(
                    host,
                    port,
                    "plaintext connection: no TLS (explicitly chosen)"
                );
                Ok(MailStream::Plain(tcp))
            }
            _ => Ok(MailStream::Plain(tcp)),
        }
    }

    /// [`upgrade_to_tls`] with this dialer's configuration and handshake timeout.
    ///
    /// # Errors
    /// As [`upgrade_to_tls`], plus [`ConnectError::InvalidServerName`].
    pub async fn upgrade(
        &self,
        stream: MailStream,
        leftover: &[u8],
        host: &str,
    ) -> Result<MailStream, ConnectError> {
        let name = server_name(host)?;
        upgrade_to_tls(
            stream,
            leftover,
            name,
            self.config.clone(),
            self.handshake_timeout,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_is_classified() {
        let addr: SocketAddr = ([127, 0, 0, 1], 1).into();
        let e = classify_connect_error(addr, io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(e, ConnectError::Refused { .. }));
        let e = classify_connect_error(addr, io::Error::from(io::ErrorKind::HostUnreachable));
        assert!(matches!(e, ConnectError::Connect { .. }));
    }

    #[test]
    fn handshake_errors_are_classified() {
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e =
            classify_handshake_error("h".into(), io::Error::new(io::ErrorKind::InvalidData, cert));
        assert!(matches!(
            e,
            ConnectError::CertificateInvalid {
                reason: rustls::CertificateError::UnknownIssuer,
                ..
            }
        ));
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        let e = classify_handshake_error(
            "h".into(),
            io::Error::new(io::ErrorKind::InvalidData, alert),
        );
        assert!(matches!(e, ConnectError::Tls { .. }));
        let e = classify_handshake_error("h".into(), io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(matches!(e, ConnectError::HandshakeIo { .. }));
    }

    #[test]
    fn server_names() {
        assert!(server_name("imap.example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
        assert!(matches!(
            server_name("bad name"),
            Err(ConnectError::InvalidServerName { .. })
        ));
    }
}
