//! TLS, STARTTLS and connection errors against loopback servers with a throw-away CA.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use inbound_net::connect::server_name;
use inbound_net::{
    ConnectError, Dialer, MailStream, Security, TlsConfig, connect_tcp, tls_handshake,
    upgrade_to_tls,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A CA and a leaf certificate for `localhost` / 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    acceptor: TlsAcceptor,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Inbound test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        acceptor: TlsAcceptor::from(Arc::new(server)),
    }
}

/// An implicit-TLS server that greets every connection with `* OK hello`.
async fn tls_server(acceptor: TlsAcceptor) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"* OK hello\r\n").await;
                    let mut sink = [0; 64];
                    while matches!(tls.read(&mut sink).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    port
}

async fn read_line(stream: &mut MailStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0; 1];
    while !line.ends_with(b"\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_ne!(n, 0, "unexpected EOF after {line:?}");
        line.push(byte[0]);
    }
    line
}

#[tokio::test]
async fn implicit_tls_with_the_ca_as_extra_root_file() {
    let pki = pki();
    let port = tls_server(pki.acceptor.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();

    let connector = Dialer::new(&TlsConfig::new().with_ca_file(&ca_file)).unwrap();
    let mut stream = connector
        .connect("127.0.0.1", port, Security::Tls)
        .await
        .unwrap();
    assert!(stream.is_tls());
    assert!(stream.tls_version().is_some());
    assert_eq!(read_line(&mut stream).await, b"* OK hello\r\n");

    // The same CA given as DER, without the Mozilla roots.
    let only_ours = TlsConfig::new()
        .with_builtin_roots(false)
        .with_ca_certificate(pki.ca_der);
    let mut stream = Dialer::new(&only_ours)
        .unwrap()
        .connect("127.0.0.1", port, Security::Tls)
        .await
        .unwrap();
    assert_eq!(read_line(&mut stream).await, b"* OK hello\r\n");
}

#[tokio::test]
async fn unknown_issuer_is_a_typed_certificate_error() {
    let pki = pki();
    let port = tls_server(pki.acceptor).await;
    let connector = Dialer::new(&TlsConfig::new()).unwrap();
    let err = connector
        .connect("127.0.0.1", port, Security::Tls)
        .await
        .unwrap_err();
    match err {
        ConnectError::CertificateInvalid {
            server_name,
            reason,
        } => {
            assert_eq!(server_name, "127.0.0.1");
            assert_eq!(reason, rustls::CertificateError::UnknownIssuer);
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_host_name_is_refused() {
    let pki = pki();
    let port = tls_server(pki.acceptor).await;
    let config = TlsConfig::new()
        .with_ca_certificate(pki.ca_der)
        .client_config()
        .unwrap();
    let tcp = connect_tcp("127.0.0.1", port, TIMEOUT).await.unwrap();
    let err = tls_handshake(
        tcp,
        server_name("imap.example.com").unwrap(),
        config,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    match err {
        ConnectError::CertificateInvalid {
            server_name,
            reason,
        } => {
            assert_eq!(server_name, "imap.example.com");
            assert!(
                matches!(
                    reason,
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                ),
                "{reason:?}"
            );
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn danger_option_accepts_unknown_issuer_and_wrong_name() {
    let pki = pki();
    let port = tls_server(pki.acceptor).await;
    let settings = TlsConfig::new().danger_accept_invalid_certs(true);
    assert!(settings.accepts_invalid_certs());
    let tcp = connect_tcp("127.0.0.1", port, TIMEOUT).await.unwrap();
    let tls = tls_handshake(
        tcp,
        server_name("imap.example.com").unwrap(),
        settings.client_config().unwrap(),
        TIMEOUT,
    )
    .await
    .unwrap();
    let mut stream = MailStream::Tls(Box::new(tls));
    assert_eq!(read_line(&mut stream).await, b"* OK hello\r\n");
}

#[tokio::test]
async fn handshake_times_out_when_the_server_stays_silent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        // Accept, then say nothing and keep the socket open.
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(tcp);
    });
    let tcp = connect_tcp("127.0.0.1", port, TIMEOUT).await.unwrap();
    let config = TlsConfig::new().client_config().unwrap();

    tokio::time::pause();
    let start = tokio::time::Instant::now();
    let timeout = Duration::from_secs(20);
    let err = tls_handshake(tcp, server_name("localhost").unwrap(), config, timeout)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::HandshakeTimeout { timeout: t, .. } if t == timeout),
        "{err:?}"
    );
    assert!(start.elapsed() >= timeout);
    server.abort();
}

#[tokio::test]
async fn refused_connection_is_typed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = connect_tcp("127.0.0.1", port, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(err, ConnectError::Refused { addr } if addr.port() == port),
        "{err:?}"
    );
}

/// A STARTTLS server: plaintext greeting, `a STARTTLS` answered with `go_ahead` (which may
/// carry injected bytes after the OK line), then TLS.
async fn starttls_server(acceptor: TlsAcceptor, go_ahead: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
            .await
            .unwrap();
        let mut command = Vec::new();
        let mut byte = [0; 1];
        while !command.ends_with(b"\r\n") {
            if tcp.read(&mut byte).await.unwrap() == 0 {
                return;
            }
            command.push(byte[0]);
        }
        assert_eq!(command, b"a STARTTLS\r\n");
        tcp.write_all(go_ahead).await.unwrap();
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            let _ = tls.write_all(b"* OK over TLS\r\n").await;
            let mut sink = [0; 64];
            while matches!(tls.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    });
    port
}

/// Reads plaintext until `buf` holds at least `until`; returns everything read.
async fn read_until(tcp: &mut MailStream, until: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0; 256];
    while !buf.windows(until.len()).any(|w| w == until) {
        let n = tcp.read(&mut chunk).await.unwrap();
        assert_ne!(n, 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}

#[tokio::test]
async fn starttls_upgrade_with_nothing_buffered() {
    let pki = pki();
    let port = starttls_server(pki.acceptor, b"a OK begin TLS now\r\n").await;
    let connector = Dialer::new(&TlsConfig::new().with_ca_certificate(pki.ca_der)).unwrap();
    let mut stream = connector
        .connect("127.0.0.1", port, Security::StartTls)
        .await
        .unwrap();
    assert!(!stream.is_tls());
    read_until(&mut stream, b"ready\r\n").await;
    stream.write_all(b"a STARTTLS\r\n").await.unwrap();
    let buf = read_until(&mut stream, b"a OK begin TLS now\r\n").await;
    let leftover = &buf[b"a OK begin TLS now\r\n".len()..];
    let mut stream = connector
        .upgrade(stream, leftover, "127.0.0.1")
        .await
        .unwrap();
    assert!(stream.is_tls());
    assert_eq!(read_line(&mut stream).await, b"* OK over TLS\r\n");
    // Upgrading twice is refused.
    let err = connector
        .upgrade(stream, b"", "127.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::AlreadyTls));
}

#[tokio::test]
async fn starttls_injection_is_refused() {
    let pki = pki();
    let injected: &[u8] = b"a OK begin TLS now\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n";
    let port = starttls_server(pki.acceptor, injected).await;
    let config = TlsConfig::new()
        .with_ca_certificate(pki.ca_der)
        .client_config()
        .unwrap();
    let tcp = connect_tcp("127.0.0.1", port, TIMEOUT).await.unwrap();
    let mut stream = MailStream::Plain(tcp);
    read_until(&mut stream, b"ready\r\n").await;
    stream.write_all(b"a STARTTLS\r\n").await.unwrap();
    let buf = read_until(&mut stream, b"AUTH=PLAIN\r\n").await;
    let leftover = &buf[b"a OK begin TLS now\r\n".len()..];
    assert!(!leftover.is_empty());
    let err = upgrade_to_tls(
        stream,
        leftover,
        server_name("127.0.0.1").unwrap(),
        config,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ConnectError::StartTlsInjection { buffered } if buffered == leftover.len()),
        "{err:?}"
    );
    assert!(err.to_string().contains("injection"));
}

#[tokio::test]
async fn plaintext_is_plain() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut tcp, _): (TcpStream, _) = listener.accept().await.unwrap();
        tcp.write_all(b"+OK POP3 ready\r\n").await.unwrap();
    });
    let connector = Dialer::new(&TlsConfig::new()).unwrap();
    let mut stream = connector
        .connect("127.0.0.1", port, Security::Plaintext)
        .await
        .unwrap();
    assert!(!stream.is_tls());
    assert_eq!(read_line(&mut stream).await, b"+OK POP3 ready\r\n");
}

#[tokio::test]
async fn connect_times_out_when_the_accept_queue_is_full() {
    // A listener that never accepts, with the smallest backlog: once its queue is full the
    // kernel drops further SYNs and the connect hangs. Loopback only.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let port = listener.local_addr().unwrap().port();
    let timeout = Duration::from_millis(300);
    let mut held = Vec::new();
    let mut timed_out = None;
    for _ in 0..16 {
        match connect_tcp("127.0.0.1", port, timeout).await {
            Ok(tcp) => held.push(tcp),
            Err(e) => {
                timed_out = Some(e);
                break;
            }
        }
    }
    let err = timed_out.expect("some connection should hang");
    assert!(
        matches!(err, ConnectError::ConnectTimeout { port: p, timeout: t, .. } if p == port && t == timeout),
        "{err:?}"
    );
    drop(listener);
}
