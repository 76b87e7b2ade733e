//! The POP3 client's protocol trace: commands and status lines at TRACE, passwords and SASL
//! responses redacted, message content never logged. In a test binary of its own: tracing
//! caches each call site's interest process-wide, and a call site first reached by another
//! test's thread while this test's subscriber is being installed can stay switched off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inbound_net::Credentials;
use inbound_net::pop3::{AuthMethod, Pop3Client};
use inbound_net::sasl::Mechanism;

mod pop3_peer;
use pop3_peer::{plaintext, serve};

/// A `MakeWriter` collecting the formatted trace.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_trace_shows_commands_but_no_secrets_and_no_mail() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (port, _) = serve(|mut peer| async move {
        peer.send(b"+OK ready\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n").await;
        peer.expect("USER alice").await;
        peer.send(b"+OK\r\n").await;
        peer.expect("PASS hunter2-secret").await;
        peer.send(b"-ERR [AUTH] wrong\r\n").await;
        let _ = peer.line().await; // AUTH PLAIN ...
        peer.send(b"+OK\r\n").await;
        peer.expect("CAPA").await;
        peer.send(b"+OK\r\nUSER\r\n.\r\n").await;
        peer.expect("RETR 1").await;
        peer.send(b"+OK\r\nSubject: private-content\r\n\r\n.\r\n")
            .await;
    })
    .await;
    let mut client = Pop3Client::connect(&plaintext(port)).await.unwrap();
    let credentials = Credentials::password("alice", "hunter2-secret");
    client
        .login(&credentials, Some(AuthMethod::UserPass))
        .await
        .unwrap_err();
    client
        .login(&credentials, Some(AuthMethod::Sasl(Mechanism::Plain)))
        .await
        .unwrap();
    client.retr(1).await.unwrap();

    let trace = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(trace.contains("C: USER alice"), "{trace}");
    assert!(trace.contains("C: PASS [redacted]"), "{trace}");
    assert!(trace.contains("C: AUTH PLAIN [redacted]"), "{trace}");
    assert!(trace.contains("S: -ERR [AUTH] wrong"), "{trace}");
    assert!(trace.contains("C: RETR 1"), "{trace}");
    assert!(!trace.contains("hunter2"), "{trace}");
    assert!(!trace.contains(&B64.encode(b"\0alice\0hunter2-secret")));
    assert!(!trace.contains("private-content"), "{trace}");
}
