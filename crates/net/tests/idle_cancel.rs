//! IDLE waits cancelled from outside (`tokio::select!`, `tokio::time::timeout`): what comes
//! after them (`DONE`, the next command) runs under the account's command timeout, and the
//! session stays usable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod imap_peer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imap_peer::{Reply, logged_in_with, plain, serve as serve_script};
use inbound_net::Error;
use inbound_net::imap::{IdleEvent, ImapClient, ImapError};
use tokio::time::Instant;

const COMMAND_TIMEOUT: Duration = Duration::from_millis(800);

/// A one-connection IMAP server: LOGIN, SELECT, IDLE and NOOP answered like a normal
/// server; `DONE` answered only when `answer_done`. Returns the port and the lines read.
async fn serve(answer_done: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let mut idle_tag: Option<String> = None;
    serve_script(
        "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n",
        move |tag, command| match command {
            // `DONE` has no tag: the whole line is in `tag`.
            "" if tag == "DONE" => match idle_tag.take() {
                Some(t) if answer_done => Reply::Send(format!("{t} OK idle done\r\n")),
                _ => Reply::Silence,
            },
            "IDLE" => {
                idle_tag = Some(tag.to_owned());
                Reply::Send("+ idling\r\n".to_owned())
            }
            c if c.starts_with("LOGIN ") => Reply::Send(format!("{tag} OK logged in\r\n")),
            c if c.starts_with("SELECT ") => Reply::Send(format!(
                "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] ok\r\n"
            )),
            _ => Reply::Send(format!("{tag} OK {command} done\r\n")),
        },
    )
    .await
}

async fn selected(port: u16) -> ImapClient {
    logged_in_with(&plain(port).with_timeout(COMMAND_TIMEOUT)).await
}

/// The server never answers DONE: after a wait for one hour was cancelled, `done` must
/// give up after the command timeout, not after what was left of the hour.
#[tokio::test]
async fn done_after_a_cancelled_wait_uses_the_command_timeout() {
    let (port, _) = serve(false).await;
    let mut client = selected(port).await;
    let mut idle = client.idle().await.unwrap();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        idle.next_event(Duration::from_secs(3600)),
    )
    .await;
    assert!(cancelled.is_err(), "the wait should have been cancelled");

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), idle.done())
        .await
        .expect("DONE waited far longer than the command timeout");
    let elapsed = started.elapsed();
    match result {
        Err(Error::Imap(ImapError::Timeout { timeout, .. })) => {
            assert_eq!(timeout, COMMAND_TIMEOUT);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed >= COMMAND_TIMEOUT, "gave up too early: {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(10),
        "gave up too late: {elapsed:?}"
    );
    assert!(!client.is_usable());
}

/// A wait cancelled by `select!` in favour of another branch: a later wait, DONE and the
/// next commands work, also when the handle itself is dropped after a cancelled wait.
#[tokio::test]
async fn session_stays_usable_after_a_cancelled_wait() {
    let (port, seen) = serve(true).await;
    let mut client = selected(port).await;
    let mut idle = client.idle().await.unwrap();
    let shutdown = tokio::time::sleep(Duration::from_millis(50));
    tokio::select! {
        event = idle.next_event(Duration::from_secs(3600)) => {
            panic!("no event was sent, got {event:?}")
        }
        () = shutdown => {}
    }
    // A short wait that ends normally still works after the cancelled one.
    assert!(matches!(
        idle.next_event(Duration::from_millis(20)).await.unwrap(),
        IdleEvent::Timeout
    ));
    // Cancelled again, then ended.
    let _ = tokio::time::timeout(
        Duration::from_millis(50),
        idle.next_event(Duration::from_secs(3600)),
    )
    .await;
    idle.done().await.unwrap();
    assert!(client.is_usable());
    client.noop().await.unwrap();

    // A handle dropped during a cancelled wait: the next command sends DONE first, and
    // the session is still usable.
    {
        let mut idle = client.idle().await.unwrap();
        let _ = tokio::time::timeout(
            Duration::from_millis(50),
            idle.next_event(Duration::from_secs(3600)),
        )
        .await;
    }
    client.noop().await.unwrap();
    assert!(client.is_usable());
    let lines = seen.lock().unwrap().clone();
    let commands: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, c)| c))
        .skip_while(|c| *c != "IDLE")
        .collect();
    assert_eq!(
        commands,
        ["IDLE", "DONE", "NOOP", "IDLE", "DONE", "NOOP"],
        "{lines:?}"
    );
}
