//! Webhooks and `--exec` from the outbox, end to end: the `inbound` binary, the bundled test
//! server for mail, and a receiver on 127.0.0.1 that checks every signature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Server, Workdir, json, stderr, stdout};
use inbound_retrieve::delivery::WebhookSecret;
use inbound_test_server::webhook::{Received, Receiver, Reply};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn webhook(url: &str, extra: &str) -> String {
    format!(
        "[[webhook]]\nname = \"app\"\nurl = \"{url}\"\nsecret_env = \"APP_WHSEC\"\n\
         retry_delay = \"100ms\"\ntimeout_secs = 2\n{extra}\n"
    )
}

/// A workdir whose account catches up on the 3 latest messages of alice's INBOX.
fn setup(s: &Server, hooks: &str) -> Workdir {
    let w = Workdir::new();
    let account = s.account(
        "work",
        "imap",
        "alice",
        "password = \"pw-alice\"\nsubscribe = true\nfetch = \"latest\"\ncount = 3\n",
    );
    w.write_config(&format!("{account}\n{hooks}"));
    w
}

fn watch(w: &Workdir, args: &[&str]) -> Child {
    w.cmd()
        .arg("watch")
        .args(args)
        .env("APP_WHSEC", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) -> String {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn deliveries(w: &Workdir, failed: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["webhooks", "list", "--json"];
    if failed {
        args.push("--failed");
    }
    let out = w.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).as_array().unwrap().clone()
}

fn states(list: &[serde_json::Value], state: &str) -> usize {
    list.iter().filter(|d| d["state"] == state).count()
}

/// Checks the Standard Webhooks headers of every request; returns the event ids.
fn verified_ids(requests: &[Received]) -> Vec<String> {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    requests
        .iter()
        .map(|r| {
            let id = r.header("webhook-id").unwrap();
            let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
            let sig = r.header("webhook-signature").unwrap();
            assert!(secret.verify(id, ts, &r.body, sig), "bad signature on {id}");
            id.to_owned()
        })
        .collect()
}

#[test]
fn watch_delivers_every_new_message_signed_retrying_after_500s() {
    let s = Server::start();
    let rt = runtime();
    let receiver = rt
        .block_on(Receiver::start(|n, _| {
            if n < 2 {
                Reply::Status(500)
            } else {
                Reply::Status(202)
            }
        }))
        .unwrap();
    let w = setup(&s, &webhook(&receiver.url(), ""));
    let child = watch(&w, &[]);
    wait_until("three deliveries", || {
        states(&deliveries(&w, false), "done") == 3
    });
    // A message delivered to the server while watching is delivered too.
    s.server
        .store()
        .deliver(
            "alice",
            "INBOX",
            b"From: Zoe <zoe@example.test>\r\nSubject: Late\r\nMessage-ID: <late@example.test>\r\n\r\nhi\r\n"
                .to_vec(),
        )
        .unwrap();
    wait_until("the fourth delivery", || {
        states(&deliveries(&w, false), "done") == 4
    });
    stop(child);

    let requests = receiver.requests();
    let ids = verified_ids(&requests);
    assert_eq!(requests.len(), 6, "two 500s retried, four delivered");
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 4);
    let late = requests
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
        .find(|b| b["data"]["subject"] == "Late")
        .unwrap();
    assert_eq!(late["type"], "message.received");
    assert_eq!(late["data"]["account"], "work");
    assert_eq!(late["data"]["message_id"], "late@example.test");
    assert_eq!(late["data"]["from"][0]["address"], "zoe@example.test");
    let list = deliveries(&w, false);
    for d in &list {
        assert!(distinct.contains(&d["event_id"].as_str().unwrap().to_owned()));
        assert_eq!(d["target"], "app");
    }
}

#[test]
fn a_killed_watch_delivers_what_it_stored_after_a_restart_with_the_same_event_ids() {
    let s = Server::start();
    let rt = runtime();
    // A port with nobody listening yet: every attempt fails until the receiver comes up.
    let addr: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let w = setup(&s, &webhook(&format!("http://{addr}/hook"), ""));
    let mut child = watch(&w, &[]);
    wait_until("three stored, undelivered messages", || {
        let list = deliveries(&w, true);
        list.len() == 3 && list.iter().all(|d| d["state"] == "pending")
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before: HashSet<String> = deliveries(&w, false)
        .iter()
        .map(|d| d["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(before.len(), 3);

    let receiver = rt
        .block_on(Receiver::start_on(addr, |_, _| Reply::Status(200)))
        .unwrap();
    let child = watch(&w, &[]);
    wait_until("the three deliveries", || {
        states(&deliveries(&w, false), "done") == 3
    });
    stop(child);
    let got: HashSet<String> = verified_ids(&receiver.requests()).into_iter().collect();
    assert_eq!(got, before, "the same events, by the same ids");
    // Stored once each: no message was fetched again.
    let listed = w.run(&["messages", "list", "--json"]);
    assert_eq!(json(&listed).as_array().unwrap().len(), 3);
}

#[test]
fn dead_letters_are_listed_requeued_and_delivered_by_fetch() {
    let s = Server::start();
    let rt = runtime();
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let receiver = rt
        .block_on(Receiver::start(move |_, _| {
            if flag.load(Ordering::SeqCst) {
                Reply::Status(200)
            } else {
                Reply::Status(500)
            }
        }))
        .unwrap();
    let w = setup(&s, &webhook(&receiver.url(), "max_attempts = 2"));
    let child = watch(&w, &[]);
    wait_until("three dead deliveries", || {
        states(&deliveries(&w, true), "dead") == 3
    });
    stop(child);
    assert_eq!(receiver.count(), 6, "two attempts each");

    let out = w.run(&["webhooks", "list", "--failed"]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("dead") && text.contains("HTTP 500"), "{text}");

    up.store(true, Ordering::SeqCst);
    let first = deliveries(&w, true)[0]["id"].as_i64().unwrap();
    let out = w.run(&["webhooks", "retry", &first.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("requeued 1 delivery"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["webhooks", "retry", "--all"]);
    assert!(
        stderr(&out).contains("requeued 2 deliveries"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["webhooks", "retry", "99999"]);
    assert_eq!(out.status.code(), Some(2));

    // `fetch` delivers what is due once it has fetched.
    let out = w
        .cmd()
        .arg("fetch")
        .env("APP_WHSEC", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("delivered 3 events"),
        "{}",
        stderr(&out)
    );
    assert!(deliveries(&w, true).is_empty());
    assert_eq!(states(&deliveries(&w, false), "done"), 3);
    verified_ids(&receiver.requests());
}

#[test]
fn the_exec_hook_runs_from_the_outbox_and_is_retried_when_it_fails() {
    let s = Server::start();
    let w = setup(&s, "");
    let dir = w.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    // Fails the first time for each message, succeeds the second.
    let exec = format!(
        "if [ -e {d}/$INBOUND_ID.tried ]; then cat > {d}/$INBOUND_ID.eml; \
         else touch {d}/$INBOUND_ID.tried; exit 3; fi",
        d = dir.display()
    );
    let child = watch(&w, &["--exec", &exec, "--exec-retry-delay", "100ms"]);
    let done = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "eml")
            })
            .count()
    };
    wait_until("three hooks run twice each", || done() == 3);
    let err = stop(child);
    assert_eq!(
        err.matches("error: --exec for message #").count(),
        3,
        "{err}"
    );
    assert!(err.contains("exited with exit status: 3"), "{err}");
    let list = deliveries(&w, false);
    assert_eq!(states(&list, "done"), 3);
    assert!(
        list.iter()
            .all(|d| d["target"] == "exec" && d["attempts"] == 2)
    );
    // The hook got the raw message on its standard input.
    let any = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .unwrap();
    assert!(std::fs::read_to_string(any).unwrap().contains("Subject:"));
}

#[test]
fn webhooks_test_sends_a_signed_sample_and_prints_the_answer() {
    let rt = runtime();
    let receiver = rt
        .block_on(Receiver::start(|_, _| Reply::Status(204)))
        .unwrap();
    let w = Workdir::new();
    w.write_config(&webhook(&receiver.url(), ""));
    let out = w
        .cmd()
        .args(["webhooks", "test", "app"])
        .env("APP_WHSEC", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("status: 204"), "{}", stdout(&out));
    let ids = verified_ids(&receiver.requests());
    assert_eq!(ids.len(), 1);
    assert!(stdout(&out).contains(&ids[0]));

    // Without its secret: a usage error naming the variable.
    let out = w.run(&["webhooks", "test", "app"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("APP_WHSEC"), "{}", stderr(&out));
    let out = w.run(&["webhooks", "test", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
