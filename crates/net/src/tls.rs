//! Connection security modes and TLS client settings.
//!
//! Every rustls configuration here is built with
//! [`rustls::ClientConfig::builder_with_provider`] and the *ring* provider. No process-wide
//! default provider is ever installed: with two providers compiled into one program, rustls's
//! default would panic.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::TlsConfigError;

/// The mail protocol spoken over a connection; it decides the default ports.
///
/// Written in configuration files as `imap` or `pop3`; displayed as `IMAP` or `POP3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum MailProtocol {
    /// IMAP (RFC 3501 / RFC 9051).
    #[cfg_attr(feature = "clap", value(help = "IMAP4rev1/IMAP4rev2"))]
    Imap,
    /// POP3 (RFC 1939).
    #[cfg_attr(feature = "clap", value(help = "POP3"))]
    Pop3,
}

/// How a connection is secured.
///
/// There is deliberately no `Default`: callers choose. [`Security::Plaintext`] sends
/// credentials and mail in clear text and exists for loopback test servers and networks the
/// caller vouches for; it must be named explicitly.
///
/// Written in configuration files as `tls`, `starttls` or `plain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Security {
    /// Implicit TLS from the first byte (IMAPS 993, POP3S 995). Preferred (RFC 8314).
    #[serde(rename = "tls")]
    #[cfg_attr(
        feature = "clap",
        value(name = "tls", help = "Implicit TLS (IMAPS 993, POP3S 995)")
    )]
    Tls,
    /// A plaintext connection upgraded with IMAP `STARTTLS` or POP3 `STLS` before any
    /// credentials are sent. The upgrade is mandatory: if the server does not offer it, the
    /// client fails rather than continue in clear text.
    #[serde(rename = "starttls")]
    #[cfg_attr(
        feature = "clap",
        value(
            name = "starttls",
            help = "Plain connection upgraded with STARTTLS/STLS (required)"
        )
    )]
    StartTls,
    /// No TLS at all. Only when the caller explicitly opts in.
    #[serde(rename = "plain")]
    #[cfg_attr(
        feature = "clap",
        value(
            name = "plain",
            help = "No TLS at all: the password crosses the network in the clear"
        )
    )]
    Plaintext,
}

impl std::fmt::Display for MailProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Imap => "IMAP",
            Self::Pop3 => "POP3",
        })
    }
}

impl Security {
    /// The usual port for this mode: 993/995 for [`Security::Tls`], 143/110 otherwise.
    #[must_use]
    pub fn default_port(self, protocol: MailProtocol) -> u16 {
        match (self, protocol) {
            (Self::Tls, MailProtocol::Imap) => 993,
            (Self::Tls, MailProtocol::Pop3) => 995,
            (Self::StartTls | Self::Plaintext, MailProtocol::Imap) => 143,
            (Self::StartTls | Self::Plaintext, MailProtocol::Pop3) => 110,
        }
    }

    /// Whether the connection speaks TLS before any command is sent.
    #[must_use]
    pub fn is_implicit_tls(self) -> bool {
        self == Self::Tls
    }
}

/// Where extra trust anchors come from.
#[derive(Clone)]
enum ExtraCa {
    File(PathBuf),
    Der(CertificateDer<'static>),
}

/// TLS client settings: which certificates to trust.
///
/// By default the Mozilla root program (the `webpki-roots` crate) is trusted and the server's
/// host name is verified. Extra CA certificates (PEM files or DER values) can be added for
/// private CAs.
///
/// ```
/// use inbound_net::TlsConfig;
///
/// let config = TlsConfig::new().client_config().unwrap();
/// assert!(config.alpn_protocols.is_empty());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    builtin_roots: bool,
    extra: Vec<ExtraCa>,
    danger_accept_invalid_certs: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<&Path> = self
            .extra
            .iter()
            .filter_map(|e| match e {
                ExtraCa::File(p) => Some(p.as_path()),
                ExtraCa::Der(_) => None,
            })
            .collect();
        let der = self.extra.len() - files.len();
        f.debug_struct("TlsConfig")
            .field("builtin_roots", &self.builtin_roots)
            .field("extra_ca_files", &files)
            .field("extra_ca_certificates", &der)
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

impl TlsConfig {
    /// Trust the Mozilla roots, verify host names.
    #[must_use]
    pub fn new() -> Self {
        Self {
            builtin_roots: true,
            extra: Vec::new(),
            danger_accept_invalid_certs: false,
        }
    }

    /// Also trust the CA certificates in this PEM file. The file is read by
    /// [`TlsConfig::client_config`]; an unreadable file, a file that is not PEM or one with
    /// no certificate is an error naming the file.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra.push(ExtraCa::File(path.into()));
        self
    }

    /// Also trust this CA certificate (DER).
    #[must_use]
    pub fn with_ca_certificate(mut self, cert: CertificateDer<'static>) -> Self {
        self.extra.push(ExtraCa::Der(cert));
        self
    }

    /// Whether to trust the built-in Mozilla roots (default `true`). Turn them off to trust
    /// only the extra CAs, for a server with a private CA.
    #[must_use]
    pub fn with_builtin_roots(mut self, enabled: bool) -> Self {
        self.builtin_roots = enabled;
        self
    }

    /// **Dangerous:** accept any server certificate, whoever issued it and whatever name it
    /// carries. The handshake still checks that the server holds the private key of the
    /// certificate it presents, but anybody can make such a certificate, so a
    /// man-in-the-middle can read the password and the mail. Only for test servers with
    /// throw-away certificates. Every handshake under this setting logs a warning.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.danger_accept_invalid_certs = accept;
        self
    }

    /// Whether [`TlsConfig::danger_accept_invalid_certs`] is on.
    #[must_use]
    pub fn accepts_invalid_certs(&self) -> bool {
        self.danger_accept_invalid_certs
    }

    /// Builds the rustls client configuration (reads the CA files).
    ///
    /// # Errors
    /// [`TlsConfigError`] naming the CA file that could not be read or parsed, or when no
    /// trust anchor is left.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Rustls)?;

        let config = if self.danger_accept_invalid_certs {
            tracing::warn!(
                "TLS certificate verification is DISABLED (danger_accept_invalid_certs): \
                 connections can be intercepted"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(DangerousAcceptAnyServerCert {
                    provider,
                }))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.root_store()?)
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    /// The trust anchors: Mozilla roots (unless disabled) plus the extra CAs.
    fn root_store(&self) -> Result<RootCertStore, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        if self.builtin_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for extra in &self.extra {
            match extra {
                ExtraCa::File(path) => {
                    for cert in read_pem_certificates(path)? {
                        roots
                            .add(cert)
                            .map_err(|error| TlsConfigError::CaCertificateRejected {
                                source_name: path.display().to_string(),
                                error,
                            })?;
                    }
                }
                ExtraCa::Der(cert) => {
                    roots.add(cert.clone()).map_err(|error| {
                        TlsConfigError::CaCertificateRejected {
                            source_name: "in-memory certificate".to_owned(),
                            error,
                        }
                    })?;
                }
            }
        }
        if roots.is_empty() {
            return Err(TlsConfigError::NoTrustAnchors);
        }
        Ok(roots)
    }
}

/// Reads all `CERTIFICATE` sections of a PEM file.
///
/// # Errors
/// [`TlsConfigError::CaFileUnreadable`], [`TlsConfigError::CaFileInvalid`] or
/// [`TlsConfigError::CaFileEmpty`], each naming the file.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = std::fs::read(path).map_err(|source| TlsConfigError::CaFileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsConfigError::CaFileInvalid {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::CaFileEmpty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The verifier behind [`TlsConfig::danger_accept_invalid_certs`]: accepts every
/// certificate chain and name, but still verifies the handshake signatures against the
/// presented certificate, so the server must at least hold that certificate's key.
#[derive(Debug)]
struct DangerousAcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for DangerousAcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        tracing::warn!(
            server_name = %server_name.to_str(),
            "accepting the server certificate WITHOUT verification (danger_accept_invalid_certs)"
        );
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn configuration_names() {
        for (security, name) in [
            (Security::Tls, "\"tls\""),
            (Security::StartTls, "\"starttls\""),
            (Security::Plaintext, "\"plain\""),
        ] {
            assert_eq!(serde_json::to_string(&security).unwrap(), name);
            assert_eq!(serde_json::from_str::<Security>(name).unwrap(), security);
        }
        for (protocol, name, shown) in [
            (MailProtocol::Imap, "\"imap\"", "IMAP"),
            (MailProtocol::Pop3, "\"pop3\"", "POP3"),
        ] {
            assert_eq!(serde_json::to_string(&protocol).unwrap(), name);
            assert_eq!(
                serde_json::from_str::<MailProtocol>(name).unwrap(),
                protocol
            );
            assert_eq!(protocol.to_string(), shown);
        }
        assert!(serde_json::from_str::<Security>("\"StartTls\"").is_err());
    }

    #[test]
    fn default_ports() {
        assert_eq!(Security::Tls.default_port(MailProtocol::Imap), 993);
        assert_eq!(Security::Tls.default_port(MailProtocol::Pop3), 995);
        assert_eq!(Security::StartTls.default_port(MailProtocol::Imap), 143);
        assert_eq!(Security::StartTls.default_port(MailProtocol::Pop3), 110);
        assert_eq!(Security::Plaintext.default_port(MailProtocol::Imap), 143);
        assert_eq!(Security::Plaintext.default_port(MailProtocol::Pop3), 110);
    }

    #[test]
    fn missing_ca_file_is_named() {
        let err = TlsConfig::new()
            .with_ca_file("/nonexistent/dir/ca.pem")
            .client_config()
            .unwrap_err();
        assert!(
            matches!(err, TlsConfigError::CaFileUnreadable { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("/nonexistent/dir/ca.pem"), "{err}");
    }

    #[test]
    fn ca_file_without_certificate_is_rejected() {
        let dir = std::env::temp_dir().join(format!("inbound-net-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, b"just some text\n").unwrap();
        let err = TlsConfig::new()
            .with_ca_file(&empty)
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsConfigError::CaFileEmpty { .. }), "{err:?}");
        assert!(err.to_string().contains("empty.pem"));

        let broken = dir.join("broken.pem");
        std::fs::write(&broken, b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n").unwrap();
        let err = TlsConfig::new()
            .with_ca_file(&broken)
            .client_config()
            .unwrap_err();
        assert!(
            matches!(err, TlsConfigError::CaFileInvalid { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("broken.pem"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_trust_anchor_is_an_error() {
        let err = TlsConfig::new()
            .with_builtin_roots(false)
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsConfigError::NoTrustAnchors));
    }

    #[test]
    fn debug_lists_settings() {
        let s = TlsConfig::new()
            .with_ca_file("/etc/ca.pem")
            .danger_accept_invalid_certs(true);
        let d = format!("{s:?}");
        assert!(d.contains("/etc/ca.pem") && d.contains("danger_accept_invalid_certs: true"));
    }
}
