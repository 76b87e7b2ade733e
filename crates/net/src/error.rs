//! The crate's error types.
//!
//! Each area has its own enum ([`ConnectError`], [`TlsConfigError`], [`OAuthError`],
//! [`TransportError`] here; [`SaslError`] beside SASL, [`Pop3Error`] and
//! [`ImapError`](crate::ImapError) beside their protocols) and
//! [`Error`] gathers them for callers that do not care which layer failed. A bare
//! [`TransportError`] becomes [`Error::Transport`]: it is not said to be POP3's or IMAP's,
//! since the transport does not know which protocol runs over it.
//! No error carries a secret: passwords and tokens never appear in messages, and bytes that a
//! peer sent are described by their count, not repeated.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::pop3::Pop3Error;
use crate::sasl::SaslError;

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting, the TLS handshake or the STARTTLS upgrade failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The TLS settings could not be turned into a client configuration.
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
    /// A SASL exchange could not be built or went wrong.
    #[error(transparent)]
    Sasl(#[from] SaslError),
    /// An OAuth 2.0 access token could not be had.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A POP3 session failed: the server said no, the connection broke or timed out, or
    /// the server spoke something that is not POP3.
    #[error(transparent)]
    Pop3(#[from] Pop3Error),
    /// An IMAP session failed: the server said no, the connection broke or timed out, or
    /// the server spoke something that is not IMAP.
    #[error(transparent)]
    Imap(#[from] crate::imap::ImapError),
    /// Reading or writing an established connection failed outside a protocol client
    /// (code that drives a [`Transport`](crate::transport::Transport) itself). The clients
    /// report their transport failures in their own variants ([`Error::Imap`],
    /// [`Error::Pop3`]), which say which protocol was being spoken.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Connecting to a server failed: name resolution, TCP, TLS or the STARTTLS upgrade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name could not be resolved.
    #[error("could not resolve host {host:?}: {source}")]
    Dns {
        /// The host name.
        host: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// The host name resolved to no address at all.
    #[error("host {host:?} resolved to no address")]
    NoAddresses {
        /// The host name.
        host: String,
    },
    /// Resolving and connecting took longer than the connect timeout.
    #[error("connecting to {host}:{port} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The host name or address.
        host: String,
        /// The port.
        port: u16,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The server actively refused the TCP connection (nothing listens on that port).
    #[error("connection to {addr} refused")]
    Refused {
        /// The address that refused (the last one tried).
        addr: SocketAddr,
    },
    /// The TCP connection failed for another reason (unreachable network or host, ...).
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address (the last one tried).
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The name is not valid as a TLS server name (DNS name or IP address).
    #[error("{name:?} is not a valid TLS server name")]
    InvalidServerName {
        /// The name given.
        name: String,
    },
    /// The TLS handshake took longer than the handshake timeout.
    #[error("TLS handshake with {server_name} timed out after {timeout:?}")]
    HandshakeTimeout {
        /// The server name used for the handshake.
        server_name: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The server's certificate was rejected (unknown issuer, wrong host name, expired, ...).
    #[error("certificate of {server_name} is invalid: {reason:?}")]
    CertificateInvalid {
        /// The server name used for the handshake.
        server_name: String,
        /// rustls's reason.
        reason: rustls::CertificateError,
    },
    /// The TLS handshake failed for a reason other than the certificate (an alert from the
    /// server, no common protocol version or cipher suite, a malformed message, ...).
    #[error("TLS handshake with {server_name} failed: {source}")]
    Tls {
        /// The server name used for the handshake.
        server_name: String,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// Reading or writing failed during the TLS handshake (often: the server closed the
    /// connection).
    #[error("I/O error during the TLS handshake with {server_name}: {source}")]
    HandshakeIo {
        /// The server name used for the handshake.
        server_name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The server sent bytes after its STARTTLS/STLS go-ahead and before the TLS handshake.
    /// Those bytes were sent in plaintext and could have been injected by an attacker
    /// (CVE-2011-0411 class), so the upgrade is refused.
    #[error(
        "refusing STARTTLS: {buffered} byte(s) arrived after the server's go-ahead \
         and before the TLS handshake (possible command injection)"
    )]
    StartTlsInjection {
        /// How many bytes were buffered.
        buffered: usize,
    },
    /// `upgrade_to_tls` was called on a stream that already speaks TLS.
    #[error("the connection already uses TLS")]
    AlreadyTls,
}

/// The TLS settings could not be turned into a rustls client configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// An extra CA file could not be read.
    #[error("could not read CA file {path}: {source}")]
    CaFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An extra CA file is not valid PEM.
    #[error("CA file {path} is not valid PEM: {source}")]
    CaFileInvalid {
        /// The file.
        path: PathBuf,
        /// The PEM parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// An extra CA file holds no `CERTIFICATE` section.
    #[error("CA file {path} contains no PEM certificate")]
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate from an extra CA file was not accepted as a trust anchor.
    #[error("CA certificate from {source_name} rejected: {error}")]
    CaCertificateRejected {
        /// Where the certificate came from (a file name, or "in-memory certificate").
        source_name: String,
        /// rustls's reason.
        error: rustls::Error,
    },
    /// The settings leave no trust anchor at all, so no server could ever be verified.
    #[error("no trust anchors: built-in roots are disabled and no extra CA was given")]
    NoTrustAnchors,
    /// rustls refused the protocol versions for the crypto provider.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[source] rustls::Error),
}

/// An OAuth 2.0 access token could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The token endpoint answered with an OAuth error (`invalid_client`, `invalid_grant`,
    /// ...). For Microsoft Entra ID the description names the `AADSTS` code.
    #[error(
        "token endpoint {url} returned {error}{}",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Endpoint {
        /// The token URL.
        url: String,
        /// The `error` field.
        error: String,
        /// The `error_description` field, if any.
        description: Option<String>,
        /// The `error_uri` field, if any.
        uri: Option<String>,
    },
    /// The HTTP request failed (connection, TLS, timeout).
    #[error("HTTP request to token endpoint {url} failed: {source}")]
    Http {
        /// The token URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The token endpoint's answer could not be understood. The body is not repeated here:
    /// it may hold a token.
    #[error("token endpoint {url} sent an answer that could not be understood: {reason}")]
    Malformed {
        /// The token URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The token URL is not a valid URL.
    #[error("invalid token URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The token URL is plain `http://` to a host other than the loopback interface, which
    /// would send the client secret or refresh token in clear text.
    #[error("refusing to send credentials to {url} without TLS")]
    InsecureUrl {
        /// The URL as given.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client for OAuth: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// The TLS settings for the token endpoint could not be used.
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// Reading or writing an established connection failed ([`crate::transport::Transport`]).
/// `during` names what the client was doing: a command keyword (`"RETR"`), `"greeting"`,
/// `"logout"`, ...
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The server sent nothing (or did not take our data) for `timeout`: the connection is
    /// presumed dead.
    #[error("no answer from the server within {timeout:?} during {during}")]
    Timeout {
        /// What the client was waiting for.
        during: &'static str,
        /// The timeout that ran out.
        timeout: std::time::Duration,
    },
    /// The server closed the connection.
    #[error("the server closed the connection during {during}")]
    Closed {
        /// What the client was doing.
        during: &'static str,
    },
    /// The server kept sending, but too slowly: the answer took longer than the I/O timeout
    /// plus one second per [`MIN_ANSWER_RATE`](crate::transport::MIN_ANSWER_RATE) octets.
    /// The connection is presumed stuck.
    #[error(
        "the server sent only {received} octets in {waited:?} during {during}, \
         slower than the minimum rate"
    )]
    TooSlow {
        /// What the client was waiting for.
        during: &'static str,
        /// Octets of the answer received so far.
        received: u64,
        /// Time spent waiting for the answer.
        waited: std::time::Duration,
    },
    /// Reading or writing failed (connection reset, TLS alert, ...).
    #[error("I/O error during {during}: {source}")]
    Io {
        /// What the client was doing.
        during: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn transport_errors() -> Vec<TransportError> {
        vec![
            TransportError::Timeout {
                during: "greeting",
                timeout: Duration::from_secs(3),
            },
            TransportError::Closed { during: "NOOP" },
            TransportError::Io {
                during: "RETR",
                source: io::Error::other("reset"),
            },
        ]
    }

    #[test]
    fn a_transport_error_is_not_called_a_pop3_error() {
        for e in transport_errors() {
            let text = e.to_string();
            let error = Error::from(e);
            assert!(matches!(error, Error::Transport(_)), "{error:?}");
            // Shown as the transport said it, without a protocol's name.
            assert_eq!(error.to_string(), text);
            assert!(!text.contains("POP3") && !text.contains("IMAP"), "{text}");
        }
        let error = Error::from(TransportError::Timeout {
            during: "greeting",
            timeout: Duration::from_secs(3),
        });
        assert_eq!(
            error.to_string(),
            "no answer from the server within 3s during greeting"
        );
        // The source chain reaches the I/O error.
        let error = Error::from(TransportError::Io {
            during: "RETR",
            source: io::Error::other("reset"),
        });
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("reset"));
    }

    /// `?` on a transport call in a function returning this crate's `Result`.
    #[test]
    fn question_mark_converts_transport_errors() {
        fn read() -> Result<()> {
            Err(TransportError::Closed { during: "greeting" })?;
            Ok(())
        }
        assert!(matches!(
            read(),
            Err(Error::Transport(TransportError::Closed {
                during: "greeting"
            }))
        ));
    }

    /// Inside a protocol client the same failure keeps its protocol's variant.
    #[test]
    fn protocol_clients_keep_their_own_variants() {
        let pop3 = Error::from(Pop3Error::from(TransportError::Closed { during: "RETR" }));
        assert!(matches!(
            pop3,
            Error::Pop3(Pop3Error::ConnectionClosed { during: "RETR" })
        ));
        let imap = Error::from(crate::ImapError::from(TransportError::Closed {
            during: "SELECT",
        }));
        assert!(matches!(
            imap,
            Error::Imap(crate::ImapError::ConnectionClosed { during: "SELECT" })
        ));
    }
}
