//! `[store] url`: `inbound fetch` and `inbound messages` on a PostgreSQL store, a throwaway
//! cluster of the store crate's test harness (skipped with a message without PostgreSQL,
//! unless `INBOUND_REQUIRE_POSTGRES=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use common::{Server, Workdir, json, stderr};

#[test]
fn fetch_and_messages_list_work_on_a_postgresql_store() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let s = Server::start();
    let w = Workdir::new();
    let imap = s.account("work", "imap", "alice", "password_env = \"ALICE_PW\"\n");
    let text = format!("[store]\nurl = \"{}\"\n\n{imap}", db.url());
    std::fs::write(w.config(), text).unwrap();

    let fetch = || {
        w.cmd()
            .args(["fetch", "--json"])
            .env("ALICE_PW", "pw-alice")
            .output()
            .unwrap()
    };
    let out = fetch();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v = json(&out);
    assert_eq!(v[0]["account"], "work");
    assert_eq!(v[0]["fetched"], 8, "{v}");
    // Nothing was written beside the configuration: the messages are in the database.
    assert!(!w.store().exists());

    let out = w.run(&["messages", "list", "--json"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let listed = json(&out);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 8);
    assert!(listed.iter().all(|m| m["account"] == "work"));

    // A second run stores nothing twice.
    let out = fetch();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 0);
    let out = w.run(&["messages", "list", "--json"]);
    assert_eq!(json(&out).as_array().unwrap().len(), 8);
}

#[test]
fn a_store_url_that_is_not_postgresql_is_a_usage_error_at_its_position() {
    let w = Workdir::new();
    std::fs::write(w.config(), "[store]\nurl = \"mysql://user:hunter2@db/x\"\n").unwrap();
    let out = w.run(&["messages", "list"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("2:7"), "{err}");
    assert!(err.contains("must be a PostgreSQL URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_stored_account_is_sealed_in_postgresql_fetched_and_rekeyed() {
    let Some(db) = pg_cluster::database() else {
        return;
    };
    let s = Server::start();
    let w = Workdir::new();
    std::fs::write(w.config(), format!("[store]\nurl = \"{}\"\n", db.url())).unwrap();
    let key = common::new_key();
    let port = s.server.imaps_addr().port().to_string();
    let ca = s.server.ca_file().display().to_string();
    let args = [
        "accounts",
        "add",
        "stored",
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        "alice",
        "--ca-file",
        &ca,
    ];
    let out = w.run_with(&args, &[("INBOUND_ENCRYPTION_KEY", &key)], "pw-alice\n");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("PostgreSQL store"),
        "{}",
        stderr(&out)
    );
    // The password is sealed in the database, never in the clear.
    let dump = db.psql("SELECT encode(sealed, 'escape') FROM account_secrets");
    assert!(!dump.contains("pw-alice"), "{dump}");

    let out = w.run_with(
        &["accounts", "list", "--json"],
        &[("INBOUND_ENCRYPTION_KEY", &key)],
        "",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["name"], "stored");

    let out = w.run_with(
        &["fetch", "--json"],
        &[("INBOUND_ENCRYPTION_KEY", &key)],
        "",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)[0]["fetched"], 8);

    let new = common::new_key();
    let out = w.run_with(
        &["key", "rotate", "--new-key-env", "NEW_KEY"],
        &[("INBOUND_ENCRYPTION_KEY", &key), ("NEW_KEY", &new)],
        "",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("re-encrypted 1 secret(s)"),
        "{}",
        stderr(&out)
    );
    let out = w.run_with(
        &["accounts", "list", "--json"],
        &[("INBOUND_ENCRYPTION_KEY", &key)],
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "the old key still opens the store"
    );
    let out = w.run_with(
        &["accounts", "list", "--json"],
        &[("INBOUND_ENCRYPTION_KEY", &new)],
        "",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}
