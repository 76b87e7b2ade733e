//! A scripted one-connection IMAP peer shared by the IMAP client's test binaries.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbound_net::imap::{ImapClient, ImapConfig};
use inbound_net::{Credentials, Security};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// What the scripted server does after a command line.
pub(crate) enum Reply {
    /// Write these bytes.
    Send(String),
    /// Write these bytes and close the connection.
    Close(String),
    /// Write nothing (the client waits).
    Silence,
}

/// A one-connection server: sends `greeting`, then answers each line with `handler(tag,
/// command)`. Returns the port and the lines it received.
pub(crate) async fn serve<F>(
    greeting: &'static str,
    mut handler: F,
) -> (u16, Arc<Mutex<Vec<String>>>)
where
    F: FnMut(&str, &str) -> Reply + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(greeting.as_bytes()).await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push(line.clone());
            let (tag, command) = line.split_once(' ').unwrap_or((&line, ""));
            match handler(tag, command) {
                Reply::Send(s) => {
                    if write.write_all(s.as_bytes()).await.is_err() {
                        return;
                    }
                }
                Reply::Close(s) => {
                    let _ = write.write_all(s.as_bytes()).await;
                    return;
                }
                Reply::Silence => {}
            }
        }
    });
    (port, seen)
}

pub(crate) fn plain(port: u16) -> ImapConfig {
    ImapConfig::new("127.0.0.1", Security::Plaintext)
        .with_port(port)
        .with_timeout(Duration::from_secs(5))
}

pub(crate) const CAPS: &str = "IMAP4rev1 IDLE UIDPLUS MOVE";

/// Answers LOGIN and SELECT like a normal server; `other` handles the rest.
pub(crate) fn normal(
    mut other: impl FnMut(&str, &str) -> Reply + Send + 'static,
) -> impl FnMut(&str, &str) -> Reply + Send + 'static {
    move |tag, command| {
        if command.starts_with("LOGIN ") {
            Reply::Send(format!("{tag} OK [CAPABILITY {CAPS}] logged in\r\n"))
        } else if command.starts_with("SELECT ") {
            Reply::Send(format!(
                "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 4] ok\r\n{tag} OK [READ-WRITE] selected\r\n"
            ))
        } else {
            other(tag, command)
        }
    }
}

pub(crate) async fn logged_in(port: u16) -> ImapClient {
    logged_in_with(&plain(port)).await
}

/// Connects with `config`, logs in as `alice` and selects INBOX.
pub(crate) async fn logged_in_with(config: &ImapConfig) -> ImapClient {
    let mut client = ImapClient::connect(config).await.unwrap();
    client
        .login(&Credentials::password("alice", "secret"), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    client
}

pub(crate) fn greeting() -> &'static str {
    "* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE] ready\r\n"
}
