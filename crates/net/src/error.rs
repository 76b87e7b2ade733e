//! The crate's error types.
//!
//! Each area has its own enum ([`ConnectError`], [`TlsConfigError`], [`SaslError`],
//! [`OAuthError`]) and [`Error`] gathers them for callers that do not care which layer failed.
//! No error carries a secret: passwords and tokens never appear in messages, and bytes that a
//! peer sent are described by their count, not repeated.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::sasl::{CredentialsKind, Mechanism};

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

/// A SASL exchange could not be built, or the server's side of it was not understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A credential contains a character that the mechanism cannot carry (NUL for PLAIN,
    /// `\x01` for XOAUTH2, control characters for OAUTHBEARER). Sending it would let the
    /// value change the meaning of the message.
    #[error("the {field} contains a character that {mechanism} cannot carry")]
    ForbiddenCharacter {
        /// Which field ("user", "password", "authorization identity", "host", ...).
        field: &'static str,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The access token is empty or not an RFC 6750 `b64token`.
    #[error("the access token is empty or has characters a bearer token cannot have")]
    InvalidToken,
    /// The server sent a challenge the mechanism does not expect at this point.
    #[error("unexpected SASL challenge for {mechanism} ({len} bytes) at step {step}")]
    UnexpectedChallenge {
        /// The mechanism.
        mechanism: Mechanism,
        /// The challenge length in bytes.
        len: usize,
        /// How many challenges had been answered before this one.
        step: u32,
    },
    /// The configured mechanism is not among those the server advertises.
    #[error("the server does not advertise the configured SASL mechanism {mechanism}")]
    NotAdvertised {
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The configured mechanism cannot be used with these credentials (for example XOAUTH2
    /// with a password).
    #[error("SASL mechanism {mechanism} cannot be used with {kind} credentials")]
    WrongCredentials {
        /// The mechanism.
        mechanism: Mechanism,
        /// The kind of credentials at hand.
        kind: CredentialsKind,
    },
    /// An OAuth error challenge from the server is not the JSON that RFC 7628 describes.
    #[error("malformed OAuth error challenge from the server: {reason}")]
    MalformedErrorChallenge {
        /// What was wrong.
        reason: String,
    },
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

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
