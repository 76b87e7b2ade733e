//! The POP3 server against clients nobody here wrote: Python's poplib and curl.
//! A missing python3 or curl skips its test with a printed reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pop3_support;

use std::process::Output;
use std::time::Duration;

use inbound_test_server::server::{ServerConfig, TestServer};
use pop3_support::*;
use tokio::process::Command;

/// Runs a program to completion (killed after a minute); `None` if it is not installed.
async fn run(program: &str, args: &[&str]) -> Option<Output> {
    let child = Command::new(program).args(args).kill_on_drop(true).output();
    match tokio::time::timeout(Duration::from_secs(60), child).await {
        Ok(Ok(output)) => Some(output),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Ok(Err(e)) => panic!("{program}: {e}"),
        Err(_) => panic!("{program} timed out"),
    }
}

fn check(program: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const POPLIB_STLS: &str = r#"
import json, poplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
p = poplib.POP3("127.0.0.1", port, timeout=20)
out = {"welcome": p.getwelcome().decode()}
out["capa_plain"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["capa_tls"] = {k: v for k, v in p.capa().items()}
p.user("demo")
p.pass_("demo")
out["stat"] = list(p.stat())
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["uidl_3"] = p.uidl(3).decode()
out["top"] = b"\r\n".join(p.top(1, 0)[1]).decode()
resp, lines, octets = p.retr(2)
out["retr_2"] = b"\r\n".join(lines).decode() + "\r\n"
out["retr_2_octets"] = octets
out["dele"] = p.dele(1).decode()
out["quit"] = p.quit().decode()
print(json.dumps(out))
"#;

const POPLIB_SSL: &str = r#"
import json, poplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
p.user("demo")
p.pass_("demo")
out = {"stat": list(p.stat()), "list": [l.decode() for l in p.list()[1]]}
p.quit()
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_poplib_stls_session() {
    let server = start(ServerConfig::default()).await;
    let messages = server.store().messages("demo", "INBOX").unwrap();
    let port = server.pop3_addr().port().to_string();
    let ca = server.ca_file().to_str().unwrap().to_owned();
    let Some(output) = run("python3", &["-c", POPLIB_STLS, &port, &ca]).await else {
        println!("skipped: python3 is not installed");
        return;
    };
    let out: serde_json::Value = serde_json::from_str(&check("python3", &output)).unwrap();

    assert!(
        out["welcome"]
            .as_str()
            .unwrap()
            .starts_with("+OK POP3 server ready <")
    );
    let plain: Vec<&str> = out["capa_plain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for tag in [
        "PIPELINING",
        "RESP-CODES",
        "SASL",
        "STLS",
        "TOP",
        "UIDL",
        "USER",
    ] {
        assert!(plain.contains(&tag), "{tag}: {plain:?}");
    }
    let tls = out["capa_tls"].as_object().unwrap();
    assert!(!tls.contains_key("STLS"), "{tls:?}");
    assert_eq!(
        tls["SASL"],
        serde_json::json!(["PLAIN", "XOAUTH2", "OAUTHBEARER"])
    );

    let total: usize = messages.iter().map(|m| m.size()).sum();
    assert_eq!(out["stat"], serde_json::json!([8, total]));
    let uidls: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, uidl_of(&server, "demo", m.uid)))
        .collect();
    assert_eq!(out["uidl"], serde_json::json!(uidls));
    assert_eq!(out["uidl_3"].as_str().unwrap(), format!("+OK {}", uidls[2]));

    let first = String::from_utf8(messages[0].raw.to_vec()).unwrap();
    let (header, _) = first.split_once("\r\n\r\n").unwrap();
    assert_eq!(out["top"].as_str().unwrap(), format!("{header}\r\n"));
    assert_eq!(
        out["retr_2"].as_str().unwrap().as_bytes(),
        &messages[1].raw[..]
    );
    assert!(out["dele"].as_str().unwrap().starts_with("+OK"));
    assert!(out["quit"].as_str().unwrap().starts_with("+OK"));

    // QUIT committed the deletion.
    let after = server.store().messages("demo", "INBOX").unwrap();
    assert_eq!(after.len(), 7);
    assert!(after.iter().all(|m| m.uid != messages[0].uid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_poplib_pop3_ssl() {
    let server = start(ServerConfig::default()).await;
    let port = server.pop3s_addr().port().to_string();
    let ca = server.ca_file().to_str().unwrap().to_owned();
    let Some(output) = run("python3", &["-c", POPLIB_SSL, &port, &ca]).await else {
        println!("skipped: python3 is not installed");
        return;
    };
    let out: serde_json::Value = serde_json::from_str(&check("python3", &output)).unwrap();
    let sizes: Vec<String> = server
        .store()
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, m.size()))
        .collect();
    assert_eq!(out["list"], serde_json::json!(sizes));
    assert_eq!(out["stat"][0], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_rejects_a_server_it_does_not_trust() {
    let server = start(ServerConfig::default()).await;
    let port = server.pop3s_addr().port().to_string();
    let other = TestServer::start(ServerConfig::default()).await.unwrap();
    let wrong_ca = other.ca_file().to_str().unwrap().to_owned();
    let Some(output) = run("python3", &["-c", POPLIB_SSL, &port, &wrong_ca]).await else {
        println!("skipped: python3 is not installed");
        return;
    };
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("CERTIFICATE_VERIFY_FAILED"));
}

fn listing(server: &TestServer) -> String {
    server
        .store()
        .messages("demo", "INBOX")
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\r\n", i + 1, m.size()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_lists_and_retrieves() {
    let server = start(ServerConfig::default()).await;
    let base = format!("pop3://{}", server.pop3_addr());
    let Some(output) = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            &format!("{base}/"),
            "-u",
            "demo:demo",
        ],
    )
    .await
    else {
        println!("skipped: curl is not installed");
        return;
    };
    assert_eq!(check("curl", &output), listing(&server));

    let message = server.store().messages("demo", "INBOX").unwrap()[0].clone();
    let output = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            &format!("{base}/1"),
            "-u",
            "demo:demo",
        ],
    )
    .await
    .unwrap();
    assert_eq!(check("curl", &output).as_bytes(), &message.raw[..]);

    let output = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            &format!("{base}/"),
            "-u",
            "demo:wrong",
        ],
    )
    .await
    .unwrap();
    assert!(!output.status.success(), "a wrong password fails");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_pop3s_and_stls() {
    let server = start(ServerConfig::default().login_disabled_before_tls(true)).await;
    let ca = server.ca_file().to_str().unwrap().to_owned();
    let pop3s = format!("pop3s://{}/", server.pop3s_addr());
    let Some(output) = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "--cacert",
            &ca,
            &pop3s,
            "-u",
            "demo:demo",
        ],
    )
    .await
    else {
        println!("skipped: curl is not installed");
        return;
    };
    assert_eq!(check("curl", &output), listing(&server));

    // Logins need TLS on this server: --ssl-reqd makes curl send STLS first.
    let pop3 = format!("pop3://{}/", server.pop3_addr());
    let output = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "--ssl-reqd",
            "--cacert",
            &ca,
            &pop3,
            "-u",
            "demo:demo",
        ],
    )
    .await
    .unwrap();
    assert_eq!(check("curl", &output), listing(&server));
    let output = run(
        "curl",
        &["-sS", "--max-time", "30", &pop3, "-u", "demo:demo"],
    )
    .await
    .unwrap();
    assert!(!output.status.success(), "no login without TLS");
}
