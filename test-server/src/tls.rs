//! Throwaway certificates for the test servers: a CA and a leaf for `localhost`,
//! `127.0.0.1` and `::1` signed by it, a rustls acceptor, and PEM files for clients (and for
//! Dovecot) to use.
//!
//! The leaf is signed by a separate CA because rustls (webpki) refuses a CA certificate used
//! as the server's own (`CaUsedAsEndEntity`). Every rustls config here is built with the ring
//! provider passed explicitly; no process-wide default provider is installed.
//!
//! ```
//! use inbound_test_server::tls::TestPki;
//!
//! let pki = TestPki::generate().unwrap();
//! assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! let _acceptor = pki.acceptor().unwrap();
//! let _client = pki.client_config().unwrap(); // trusts only this CA
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The names the leaf certificate is valid for.
pub const DEFAULT_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Why certificates or TLS configs could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen failed to build a certificate (an invalid name, for instance).
    #[error("could not generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("rustls refused the configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The ring crypto provider, passed to every config explicitly.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA and a leaf certificate signed by it, made fresh in memory.
#[derive(Clone)]
pub struct TestPki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf_pem: String,
    leaf_der: CertificateDer<'static>,
    key_pem: String,
    key_der: Vec<u8>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Where [`TestPki::write_files`] put the PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemFiles {
    /// `ca.pem`: the CA certificate clients should trust.
    pub ca: PathBuf,
    /// `cert.pem`: the leaf certificate (for a server such as Dovecot).
    pub cert: PathBuf,
    /// `key.pem`: the leaf's private key (PKCS#8), mode 0600.
    pub key: PathBuf,
}

impl TestPki {
    /// A CA and a leaf for [`DEFAULT_NAMES`].
    pub fn generate() -> Result<Self, TlsError> {
        Self::generate_for(DEFAULT_NAMES)
    }

    /// A CA and a leaf for these DNS names and IP addresses.
    pub fn generate_for(names: &[&str]) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = name("Inbound Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut ca_params);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let leaf_key = KeyPair::generate()?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf_params = CertificateParams::new(names.clone())?;
        leaf_params.distinguished_name = name(names.first().map_or("localhost", String::as_str));
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        validity(&mut leaf_params);
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            leaf_pem: leaf_cert.pem(),
            leaf_der: leaf_cert.der().clone(),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
        })
    }

    /// The CA certificate in PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The leaf certificate in PEM.
    pub fn leaf_pem(&self) -> &str {
        &self.leaf_pem
    }

    /// The leaf certificate in DER.
    pub fn leaf_der(&self) -> &CertificateDer<'static> {
        &self.leaf_der
    }

    /// The leaf's private key in PKCS#8 PEM. A secret: never log it.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` (0600) into `dir` (created if missing).
    pub fn write_files(&self, dir: &Path) -> io::Result<PemFiles> {
        std::fs::create_dir_all(dir)?;
        let files = PemFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.ca, &self.ca_pem)?;
        std::fs::write(&files.cert, &self.leaf_pem)?;
        write_private(&files.key, self.key_pem.as_bytes())?;
        Ok(files)
    }

    /// A rustls server config presenting the leaf, with the ring provider.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf_der.clone()], self.key())?;
        Ok(Arc::new(config))
    }

    /// A tokio-rustls acceptor for [`server_config`](Self::server_config).
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        Ok(TlsAcceptor::from(self.server_config()?))
    }

    /// A root store holding only the CA.
    pub fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        Ok(roots)
    }

    /// A rustls client config trusting only the CA, with the ring provider.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.root_store()?)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Inbound test server");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// 2020-01-01 to 2049-12-31: UTCTime dates every TLS stack reads.
fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
