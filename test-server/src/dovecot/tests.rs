//! Talks to a real Dovecot over plain TCP, implicit TLS and STARTTLS/STLS.

use super::*;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Sends `line` (unless empty) and reads lines until one starts with `until`.
async fn chat<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    until: &str,
) -> String {
    if !line.is_empty() {
        s.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }
    let mut all = String::new();
    loop {
        let mut l = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), s.read_line(&mut l))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed; got so far: {all}");
        all.push_str(&l);
        if l.starts_with(until) {
            return all;
        }
    }
}

async fn tls<S: AsyncRead + AsyncWrite + Unpin>(
    d: &Dovecot,
    s: S,
) -> tokio_rustls::client::TlsStream<S> {
    let connector = TlsConnector::from(d.pki().client_config().unwrap());
    connector
        .connect(ServerName::try_from("localhost").unwrap(), s)
        .await
        .unwrap()
}

async fn imap_session<S: AsyncRead + AsyncWrite + Unpin>(s: S, expect_exists: u32) {
    let mut s = BufReader::new(s);
    assert!(chat(&mut s, "", "* OK").await.contains("Dovecot"));
    assert!(
        chat(&mut s, "a LOGIN alice \"pa ss\"", "a ")
            .await
            .contains("a OK")
    );
    let select = chat(&mut s, "b SELECT INBOX", "b ").await;
    assert!(
        select.contains(&format!("* {expect_exists} EXISTS")),
        "{select}"
    );
    chat(&mut s, "c LOGOUT", "c ").await;
}

async fn pop3_session<S: AsyncRead + AsyncWrite + Unpin>(s: S, expect: usize) {
    let mut s = BufReader::new(s);
    chat(&mut s, "", "+OK").await;
    chat(&mut s, "USER alice", "+OK").await;
    chat(&mut s, "PASS pa ss", "+OK").await;
    let stat = chat(&mut s, "STAT", "+OK").await;
    assert!(stat.starts_with(&format!("+OK {expect} ")), "{stat}");
    chat(&mut s, "QUIT", "+OK").await;
}

fn start() -> Option<Dovecot> {
    if !Dovecot::skip_unless_available("dovecot harness test").unwrap() {
        return None;
    }
    let config = DovecotConfig::default()
        .with_user("alice", "pa ss")
        .with_user("bob", "bob-pw");
    Some(Dovecot::start(config).unwrap())
}

#[tokio::test]
async fn seeded_dovecot_answers_imap_and_pop3_plain_and_tls() {
    let Some(d) = start() else { return };
    d.save("alice", "INBOX", &crate::sample::generated_message(1))
        .unwrap();
    d.write_maildir(
        "alice",
        "INBOX",
        [
            crate::sample::generated_message(2),
            crate::sample::generated_message(3),
        ],
    )
    .unwrap();
    d.save("alice", "Archive/2024", b"Subject: old\r\n\r\nold\r\n")
        .unwrap();

    imap_session(TcpStream::connect(d.imap_addr()).await.unwrap(), 3).await;
    imap_session(
        tls(&d, TcpStream::connect(d.imaps_addr()).await.unwrap()).await,
        3,
    )
    .await;
    pop3_session(TcpStream::connect(d.pop3_addr()).await.unwrap(), 3).await;
    pop3_session(
        tls(&d, TcpStream::connect(d.pop3s_addr()).await.unwrap()).await,
        3,
    )
    .await;

    // STARTTLS on the plain IMAP port, STLS on the plain POP3 port.
    let mut s = BufReader::new(TcpStream::connect(d.imap_addr()).await.unwrap());
    chat(&mut s, "", "* OK").await;
    assert!(chat(&mut s, "s STARTTLS", "s ").await.starts_with("s OK"));
    let mut t = BufReader::new(tls(&d, s.into_inner()).await);
    let capa = chat(&mut t, "c CAPABILITY", "c ").await;
    assert!(!capa.contains("STARTTLS"), "{capa}");
    chat(&mut t, "a LOGIN alice \"pa ss\"", "a OK").await;
    let list = chat(&mut t, "l LIST \"\" *", "l ").await;
    assert!(list.contains("Archive/2024"), "{list}");

    let mut s = BufReader::new(TcpStream::connect(d.pop3_addr()).await.unwrap());
    chat(&mut s, "", "+OK").await;
    chat(&mut s, "STLS", "+OK").await;
    pop3_session_after_greeting(tls(&d, s.into_inner()).await).await;

    // A wrong password is refused; the other user has an empty INBOX.
    let mut s = BufReader::new(TcpStream::connect(d.imap_addr()).await.unwrap());
    chat(&mut s, "", "* OK").await;
    assert!(
        chat(&mut s, "a LOGIN alice wrong", "a ")
            .await
            .starts_with("a NO")
    );
    assert!(
        chat(&mut s, "b LOGIN bob bob-pw", "b ")
            .await
            .contains("b OK")
    );
    assert!(
        chat(&mut s, "c SELECT INBOX", "c ")
            .await
            .contains("* 0 EXISTS")
    );
}

async fn pop3_session_after_greeting<S: AsyncRead + AsyncWrite + Unpin>(s: S) {
    let mut s = BufReader::new(s);
    chat(&mut s, "USER alice", "+OK").await;
    chat(&mut s, "PASS pa ss", "+OK").await;
    let list = chat(&mut s, "UIDL", ".").await;
    assert_eq!(list.lines().count(), 5, "{list}");
}

#[tokio::test]
async fn bulk_seed_is_indexed_and_stop_frees_the_ports() {
    let Some(d) = start() else { return };
    let started = Instant::now();
    assert_eq!(d.seed_generated("bob", "INBOX", 2000).unwrap(), 2000);
    let seeded_in = started.elapsed();
    let status = d
        .doveadm(
            &["mailbox", "status", "-u", "bob", "messages", "INBOX"],
            None,
        )
        .unwrap();
    assert!(status.contains("messages=2000"), "{status}");
    eprintln!(
        "seeded 2000 messages in {seeded_in:?}, indexed by doveadm in {:?}",
        started.elapsed() - seeded_in
    );
    let port = d.ports().imap;
    let dir = d.dir().to_owned();
    let stopping = Instant::now();
    d.stop();
    // Timings are reported, not asserted: speed lives in benches.
    eprintln!("stopped in {:?}", stopping.elapsed());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists());
}

#[test]
fn invalid_users_are_refused_before_starting() {
    let err = Dovecot::start(DovecotConfig::default().with_user("a:b", "x")).unwrap_err();
    assert!(matches!(err, DovecotError::InvalidUser(_)), "{err}");
}
