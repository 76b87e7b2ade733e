//! Handshakes against the acceptor with rustls, and with Python and OpenSSL when installed.

use super::*;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// Serves one TLS greeting per accepted connection; returns the port.
async fn greeter(pki: &TestPki, connections: usize) -> u16 {
    let acceptor = pki.acceptor().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"* OK hello\r\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

async fn connect(
    config: Arc<ClientConfig>,
    port: u16,
    name: ServerName<'static>,
) -> io::Result<String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
    let mut line = String::new();
    tls.read_to_string(&mut line).await?;
    Ok(line)
}

#[tokio::test]
async fn rustls_client_trusting_only_the_ca_connects_by_name_and_ip() {
    let pki = TestPki::generate().unwrap();
    let port = greeter(&pki, 3).await;
    let by_name = connect(
        pki.client_config().unwrap(),
        port,
        ServerName::try_from("localhost").unwrap(),
    );
    assert_eq!(by_name.await.unwrap(), "* OK hello\r\n");
    let ip = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    assert_eq!(
        connect(pki.client_config().unwrap(), port, ip)
            .await
            .unwrap(),
        "* OK hello\r\n"
    );
    // A wrong name is refused.
    let wrong = connect(
        pki.client_config().unwrap(),
        port,
        ServerName::try_from("example.com").unwrap(),
    );
    assert!(wrong.await.is_err());
}

#[tokio::test]
async fn another_ca_is_not_trusted() {
    let pki = TestPki::generate().unwrap();
    let other = TestPki::generate().unwrap();
    let port = greeter(&pki, 1).await;
    let result = connect(
        other.client_config().unwrap(),
        port,
        ServerName::try_from("localhost").unwrap(),
    );
    assert!(result.await.is_err());
}

#[test]
fn pem_files_are_written_with_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate().unwrap();
    let files = pki.write_files(&dir.path().join("certs")).unwrap();
    assert_eq!(std::fs::read_to_string(&files.ca).unwrap(), pki.ca_pem());
    assert!(
        std::fs::read_to_string(&files.key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(!format!("{pki:?}").contains("PRIVATE"));
}

#[tokio::test]
async fn python_ssl_accepts_the_chain_when_installed() {
    if which("python3").is_none() {
        eprintln!("skipped: python3 not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate().unwrap();
    let files = pki.write_files(dir.path()).unwrap();
    let port = greeter(&pki, 2).await;
    let script = "import socket, ssl, sys\n\
        ctx = ssl.create_default_context(cafile=sys.argv[1])\n\
        for host in ('localhost', '127.0.0.1'):\n\
        \x20   with socket.create_connection(('127.0.0.1', int(sys.argv[2]))) as s:\n\
        \x20       with ctx.wrap_socket(s, server_hostname=host) as t:\n\
        \x20           print(t.recv(100).decode().strip())\n";
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&files.ca)
        .arg(port.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "* OK hello\n* OK hello\n"
    );
}

#[tokio::test]
async fn openssl_s_client_verifies_the_chain_when_installed() {
    if which("openssl").is_none() {
        eprintln!("skipped: openssl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate().unwrap();
    let files = pki.write_files(dir.path()).unwrap();
    let port = greeter(&pki, 1).await;
    let out = tokio::process::Command::new("openssl")
        .args([
            "s_client",
            "-verify_return_error",
            "-verify_hostname",
            "localhost",
        ])
        .args([
            "-servername",
            "localhost",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
        ])
        .arg(&files.ca)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
