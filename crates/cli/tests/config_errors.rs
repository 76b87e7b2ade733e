//! Bad configuration files: file, line, column and field, every problem at once, exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Workdir, stderr, stdout};

#[test]
fn every_problem_is_reported_with_file_line_column_and_field() {
    let w = Workdir::new();
    std::fs::write(
        w.config(),
        r#"[store]
path = "x.sqlite"

[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
port = 99999
username = "me"
password_env = "PW"
fetch = "latest"

[[account]]
name = "home"
protocol = "pop3"
host = "pop.example.com"
username = "me"
after_receive = "move"
colour = "blue"
"#,
    )
    .unwrap();
    for args in [&["check-config"][..], &["fetch"][..]] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        // A missing field is placed at its account's [[account]] header.
        let expect = [
            "error: inbound.toml:4:1: account \"work\": count: is required when fetch is \"latest\" or \"oldest\"",
            "error: inbound.toml:8:8: account \"work\": port: must be between 1 and 65535 (got 99999)",
            "error: inbound.toml:19:1: account \"home\": colour: unknown field `colour`",
        ];
        for line in &expect {
            assert!(err.contains(line), "missing {line:?} in:\n{err}");
        }
        // The type error stops that account's rule checks, never the other account's.
        assert!(err.contains("3 problems found; nothing was done"), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn syntax_errors_and_rule_errors_name_their_place() {
    let w = Workdir::new();
    std::fs::write(w.config(), "[[account]]\nname = \"a\"\nport = \n").unwrap();
    let out = w.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("inbound.toml:3:"), "{err}");

    std::fs::write(
        w.config(),
        "[[account]]\nname = \"m365\"\nprotocol = \"pop3\"\nhost = \"h\"\nusername = \"u\"\nafter_receive = \"move\"\nmove_to = \"Archive\"\n\n[account.oauth]\nprovider = \"entra\"\nclient_id = \"app\"\n",
    )
    .unwrap();
    let out = w.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(":6:17: account \"m365\": after_receive: \"move\" is not possible with POP3"),
        "{err}"
    );
    assert!(
        err.contains(":9:1: account \"m365\": oauth.tenant_id: is required"),
        "{err}"
    );
}

#[test]
fn check_config_accepts_the_example_file() {
    let w = Workdir::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../inbound.example.toml");
    std::fs::copy(example, w.config()).unwrap();
    std::fs::write(w.path().join("ca.pem"), "").unwrap();
    let out = w.run(&["check-config"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ok, 5 account(s)"), "{text}");
}

#[test]
fn config_is_found_in_the_platform_directory() {
    let w = Workdir::new();
    let dir = w.path().join("xdg").join("inbound");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("inbound.toml"),
        "[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n",
    )
    .unwrap();
    let out = w.run(&["check-config"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("xdg/inbound/inbound.toml: ok, 1 account(s): x"),
        "{}",
        stdout(&out)
    );

    let out = w.run(&["--config", "missing.toml", "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("configuration file missing.toml does not exist"));
}
