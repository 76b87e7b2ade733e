//! The IMAP client against a real Dovecot: every security mode with LOGIN and
//! AUTHENTICATE PLAIN, fetch, move (and its COPY fallback), expunge, IDLE with a delivery
//! by `doveadm save`. Skipped (with a message) when Dovecot is not installed, unless
//! `INBOUND_REQUIRE_DOVECOT=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use inbound_net::imap::{
    AuthMethod, Capability, Flag, IdleEvent, ImapClient, ImapConfig, ImapError, StoreType,
};
use inbound_net::sasl::Mechanism;
use inbound_net::{Credentials, Error, Security, TlsConfig};
use inbound_test_server::dovecot::{Dovecot, DovecotConfig};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
/// A password that needs quoting (and, for the encoder, 8-bit octets go as a literal).
const ODD_USER: &str = "bob";
const ODD_PASSWORD: &str = "p\u{e4}ss \"w\u{f6}rd\" \\";

fn start(test: &str, extra: &str) -> Option<Dovecot> {
    if !Dovecot::skip_unless_available(test).unwrap() {
        return None;
    }
    let mut config = DovecotConfig::default()
        .with_user(USER, PASSWORD)
        .with_user(ODD_USER, ODD_PASSWORD);
    if !extra.is_empty() {
        config = config.with_extra(extra);
    }
    Some(Dovecot::start(config).unwrap())
}

fn config(dovecot: &Dovecot, security: Security) -> ImapConfig {
    let port = match security {
        Security::Tls => dovecot.ports().imaps,
        Security::StartTls | Security::Plaintext => dovecot.ports().imap,
    };
    ImapConfig::new("localhost", security)
        .with_port(port)
        .with_tls(
            TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(dovecot.ca_file()),
        )
        .with_timeout(Duration::from_secs(10))
}

fn message(i: usize, pad: usize) -> Vec<u8> {
    let mut m = format!(
        "From: sender@example.test\r\nTo: alice@example.test\r\nSubject: Message {i}\r\n\
         Message-ID: <m{i}@example.test>\r\n\r\nBody of message {i}.\r\n"
    )
    .into_bytes();
    for line in 0..pad {
        m.extend_from_slice(format!("padding line {line} of message {i}\r\n").as_bytes());
    }
    m
}

async fn login(dovecot: &Dovecot, security: Security, method: Option<AuthMethod>) -> ImapClient {
    let mut client = ImapClient::connect(&config(dovecot, security))
        .await
        .unwrap_or_else(|e| panic!("{security:?}: {e}"));
    client
        .login(&Credentials::password(USER, PASSWORD), method)
        .await
        .unwrap_or_else(|e| panic!("{security:?} {method:?}: {e}"));
    client
}

#[tokio::test]
async fn every_security_mode_and_login_method() {
    let Some(dovecot) = start("every_security_mode_and_login_method", "") else {
        return;
    };
    let seeded: Vec<Vec<u8>> = (1..=3).map(|i| message(i, i * 50)).collect();
    dovecot.write_maildir(USER, "INBOX", &seeded).unwrap();
    let expected: BTreeSet<Vec<u8>> = seeded.into_iter().collect();

    for security in [Security::Tls, Security::StartTls, Security::Plaintext] {
        for method in [
            None,
            Some(AuthMethod::Login),
            Some(AuthMethod::Sasl(Mechanism::Plain)),
            Some(AuthMethod::Sasl(Mechanism::Login)),
        ] {
            let mut client = ImapClient::connect(&config(&dovecot, security))
                .await
                .unwrap_or_else(|e| panic!("{security:?}: {e}"));
            assert_eq!(client.is_tls(), security != Security::Plaintext);
            if security != Security::Plaintext {
                // Asked again after TLS: no STARTTLS any more.
                assert!(!client.has_capability(&Capability::StartTls));
            }
            let info = client
                .login(&Credentials::password(USER, PASSWORD), method)
                .await
                .unwrap_or_else(|e| panic!("{security:?} {method:?}: {e}"));
            // Dovecot offers AUTH=PLAIN: the default is AUTHENTICATE PLAIN.
            let want = method.unwrap_or(AuthMethod::Sasl(Mechanism::Plain));
            assert_eq!(info.method, want);
            assert!(
                client.has_capability(&Capability::Idle),
                "post-login capabilities"
            );

            let status = client.select("INBOX").await.unwrap();
            assert_eq!(status.exists, 3);
            assert!(status.uidvalidity.is_some());
            assert_eq!(status.uidnext, Some(4));
            let uids = client.uid_search_all().await.unwrap();
            assert_eq!(uids, vec![1, 2, 3]);
            let mut got = BTreeSet::new();
            let mut stream = client.uid_fetch_bodies(&uids).unwrap();
            while let Some(m) = stream.next().await {
                let m = m.unwrap();
                assert_eq!(m.size, Some(m.body.len() as u32));
                assert!(m.internal_date.is_some());
                got.insert(m.body.to_vec());
            }
            assert_eq!(got, expected, "{security:?}");
            // Asking for the bodies alone: the same messages, no metadata.
            let mut only = BTreeSet::new();
            let mut stream = client.uid_fetch_bodies_only(&uids).unwrap();
            while let Some(m) = stream.next().await {
                let m = m.unwrap();
                assert!(uids.contains(&m.uid));
                assert_eq!((m.size, m.internal_date, m.flags.len()), (None, None, 0));
                only.insert(m.body.to_vec());
            }
            assert_eq!(only, expected, "{security:?}");
            client.logout().await.unwrap();
        }
    }

    // A password with quotes, a backslash and 8-bit characters, by LOGIN and PLAIN.
    for method in [AuthMethod::Login, AuthMethod::Sasl(Mechanism::Plain)] {
        let mut client = ImapClient::connect(&config(&dovecot, Security::Tls))
            .await
            .unwrap();
        client
            .login(&Credentials::password(ODD_USER, ODD_PASSWORD), Some(method))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        client.logout().await.unwrap();
    }

    // A wrong password: typed, with the server's text.
    for method in [AuthMethod::Login, AuthMethod::Sasl(Mechanism::Plain)] {
        let mut client = ImapClient::connect(&config(&dovecot, Security::Tls))
            .await
            .unwrap();
        let err = client
            .login(&Credentials::password(USER, "wrong"), Some(method))
            .await
            .unwrap_err();
        match err {
            Error::Imap(ImapError::AuthFailed {
                method: m, text, ..
            }) => {
                assert_eq!(m, method);
                assert!(!text.is_empty());
            }
            other => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn fetch_move_expunge_and_idle() {
    let Some(dovecot) = start("fetch_move_expunge_and_idle", "") else {
        return;
    };
    let seeded: Vec<Vec<u8>> = (1..=40).map(|i| message(i, 20)).collect();
    dovecot.write_maildir(USER, "INBOX", &seeded).unwrap();

    let mut config = config(&dovecot, Security::Tls).with_max_line_len(256);
    config.timeouts.command = Duration::from_secs(10);
    let mut client = ImapClient::connect(&config).await.unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    let enabled = client.enable(&["CONDSTORE"]).await.unwrap();
    assert_eq!(enabled, vec![Capability::CondStore]);
    let server_id = client.id(Some(&[("name", "inbound")])).await.unwrap();
    assert!(server_id.is_some_and(|p| p.iter().any(|(k, _)| k == "name")));
    client.create("Archive").await.unwrap();
    client.create("Entw\u{fc}rfe").await.unwrap();
    let names: Vec<String> = client
        .list("", "*")
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.mailbox.to_utf8().unwrap())
        .collect();
    for want in ["INBOX", "Archive", "Entw\u{fc}rfe"] {
        assert!(names.iter().any(|n| n == want), "{names:?}");
    }
    let err = client.create("Archive").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::No {
                command: "CREATE",
                ..
            })
        ),
        "{err}"
    );

    let status = client.select("INBOX").await.unwrap();
    assert_eq!(status.exists, 40);
    // Every other message: a set that must be split under the 256-octet line.
    let odd: Vec<u32> = (1..=40).step_by(2).collect();
    let metas = client.uid_fetch_meta(&odd).await.unwrap();
    assert_eq!(metas.iter().map(|m| m.uid).collect::<Vec<_>>(), odd);
    let mut stream = client.uid_fetch_bodies(&odd).unwrap();
    let mut n = 0;
    while let Some(m) = stream.next().await {
        let m = m.unwrap();
        assert_eq!(m.body, seeded[(m.uid - 1) as usize]);
        assert!(
            !m.flags.contains(&Flag::Seen),
            "BODY.PEEK must not set \\Seen"
        );
        n += 1;
    }
    assert_eq!(n, odd.len());

    // MOVE (Dovecot has it): 5 messages to Archive.
    let moved = client.uid_move(&[1, 2, 3, 4, 5], "Archive").await.unwrap();
    assert!(moved.used_move);
    let copyuid = moved.copyuid.expect("COPYUID");
    assert_eq!(
        copyuid.pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    // Flags, then UID EXPUNGE of two messages.
    client
        .uid_store_flags(&[6, 7], StoreType::Add, &[Flag::Deleted])
        .await
        .unwrap();
    client.uid_expunge(&[6, 7]).await.unwrap();
    let left = client.uid_search_all().await.unwrap();
    assert_eq!(left, (8..=40).collect::<Vec<u32>>());
    assert_eq!(client.uids_from(41).await.unwrap(), Vec::<u32>::new());
    assert_eq!(client.uids_from(39).await.unwrap(), vec![39, 40]);
    let archive = client.examine("Archive").await.unwrap();
    assert_eq!(archive.exists, 5);
    assert!(archive.read_only);

    // IDLE: a delivery by doveadm save is reported.
    let status = client.select("INBOX").await.unwrap();
    let mut idle = client.idle().await.unwrap();
    let path = dovecot.config_file().to_owned();
    let deliver = std::thread::spawn({
        let raw = message(99, 1);
        move || {
            std::thread::sleep(Duration::from_millis(300));
            let out = std::process::Command::new("doveadm")
                .arg("-c")
                .arg(&path)
                .args(["save", "-u", USER, "-m", "INBOX"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write as _;
                    child.stdin.take().unwrap().write_all(&raw)?;
                    child.wait()
                })
                .unwrap();
            assert!(out.success());
        }
    });
    let mut saw = None;
    for _ in 0..20 {
        match idle.next_event(Duration::from_secs(10)).await.unwrap() {
            IdleEvent::Exists(n) => {
                saw = Some(n);
                break;
            }
            IdleEvent::Timeout => panic!("no EXISTS within 10 s"),
            _ => {}
        }
    }
    deliver.join().unwrap();
    assert_eq!(saw, Some(status.exists + 1));
    idle.done().await.unwrap();
    let uids = client.uids_from(41).await.unwrap();
    assert_eq!(uids, vec![41]);
    client.logout().await.unwrap();
}

#[tokio::test]
async fn move_falls_back_to_copy_without_move() {
    // Announce neither MOVE nor UIDPLUS after login: COPY + STORE + EXPUNGE.
    let Some(dovecot) = start(
        "move_falls_back_to_copy_without_move",
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE ENABLE\n}",
    ) else {
        return;
    };
    let seeded: Vec<Vec<u8>> = (1..=6).map(|i| message(i, 2)).collect();
    dovecot.write_maildir(USER, "INBOX", &seeded).unwrap();
    dovecot.create_folder(USER, "Archive").unwrap();
    let mut client = login(&dovecot, Security::Tls, None).await;
    assert!(!client.has_capability(&Capability::Move));
    client.select("INBOX").await.unwrap();
    let moved = client.uid_move(&[2, 3], "Archive").await.unwrap();
    assert!(!moved.used_move);
    assert!(!moved.used_uid_expunge);
    assert_eq!(client.uid_search_all().await.unwrap(), vec![1, 4, 5, 6]);
    // Without UIDPLUS, UID EXPUNGE is refused up front.
    let err = client.uid_expunge(&[1]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::NotSupported {
                capability: "UIDPLUS"
            })
        ),
        "{err}"
    );
    assert_eq!(client.examine("Archive").await.unwrap().exists, 2);
    client.logout().await.unwrap();
}
