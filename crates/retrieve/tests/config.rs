//! Account configuration: TOML keys, defaults, validation, secrets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use inbound_net::{Credentials, Security};
use inbound_retrieve::account::{SizeValue, parse_size};
use inbound_retrieve::credentials::{CredentialError, resolve_credentials};
use inbound_retrieve::{
    Account, AccountConfig, AfterReceive, AuthConfig, FetchPolicy, InlineImageMode, MailProtocol,
    OAuthSettings, SecretSource,
};

#[derive(serde::Deserialize)]
struct File {
    account: Vec<Account>,
}

#[derive(serde::Deserialize)]
struct RawFile {
    account: Vec<AccountConfig>,
}

const SAMPLE: &str = r#"
[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
port = 993
security = "tls"
username = "me@example.com"
password_env = "WORK_PW"
ca_file = "ca.pem"
folder = "INBOX"
fetch = "latest"
count = 50
batch_size = 100
after_receive = "keep"
sanitize_html = true
timeout_secs = 20
max_message_size = "50MB"
subscribe = false
"#;

fn problems(toml_text: &str) -> Vec<(&'static str, String)> {
    let raw: RawFile = toml::from_str(toml_text).unwrap();
    raw.account[0]
        .validate()
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| (p.field, p.message))
        .collect()
}

fn fields(toml_text: &str) -> Vec<&'static str> {
    problems(toml_text).into_iter().map(|p| p.0).collect()
}

#[test]
fn the_documented_sample_parses() {
    let file: File = toml::from_str(SAMPLE).unwrap();
    let a = &file.account[0];
    assert_eq!(a.name, "work");
    assert_eq!(a.protocol, MailProtocol::Imap);
    assert_eq!((a.host.as_str(), a.port), ("imap.example.com", 993));
    assert_eq!(a.security, Security::Tls);
    assert!(matches!(&a.auth, AuthConfig::Password(SecretSource::Env(v)) if v == "WORK_PW"));
    assert_eq!(a.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
    assert_eq!(a.fetch, FetchPolicy::Latest(50));
    assert_eq!(a.batch_size, 100);
    assert_eq!(a.after_receive, AfterReceive::Keep);
    assert!(a.sanitize_html);
    assert_eq!(a.timeout, Duration::from_secs(20));
    assert_eq!(a.max_message_size, Some(50_000_000));
    assert!(!a.subscribe);
}

#[test]
fn defaults() {
    let file: File = toml::from_str(
        r#"[[account]]
        name = "x"
        protocol = "pop3"
        host = "pop.example.com"
        username = "u"
        security = "starttls""#,
    )
    .unwrap();
    let a = &file.account[0];
    assert_eq!(a.port, 110);
    assert_eq!(a.folder, "INBOX");
    assert_eq!(a.fetch, FetchPolicy::All);
    assert_eq!(a.batch_size, 100);
    assert_eq!(a.after_receive, AfterReceive::Keep);
    assert_eq!(a.inline_images, InlineImageMode::Keep);
    assert!(matches!(&a.auth, AuthConfig::Password(SecretSource::Stored(n)) if n == "password"));
}

#[test]
fn every_problem_is_reported_at_once_by_field() {
    let f = fields(
        r#"[[account]]
        protocol = "pop3"
        port = 0
        password = "a"
        password_env = "B"
        folder = "Archive"
        fetch = "latest"
        batch_size = 0
        after_receive = "move"
        inline_images = "rewrite"
        sanitize_html = false
        timeout_secs = 0
        max_message_size = "12 parsecs"
        subscribe = true"#,
    );
    for expected in [
        "name",
        "host",
        "port",
        "username",
        "password",
        "folder",
        "count",
        "batch_size",
        "after_receive",
        "move_to",
        "inline_images",
        "inline_image_url",
        "timeout_secs",
        "max_message_size",
        "poll_interval_secs",
    ] {
        assert!(f.contains(&expected), "{expected} missing from {f:?}");
    }
}

#[test]
fn move_on_pop3_is_a_configuration_error() {
    let p = problems(
        r#"[[account]]
        name = "p"
        protocol = "pop3"
        host = "h"
        username = "u"
        after_receive = "move"
        move_to = "Archive""#,
    );
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "after_receive");
    assert!(p[0].1.contains("POP3"));
}

#[test]
fn count_and_batch_edges() {
    let base = "[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n";
    assert!(fields(&format!("{base}fetch = \"latest\"\ncount = 0")).contains(&"count"));
    assert!(fields(&format!("{base}fetch = \"all\"\ncount = 5")).contains(&"count"));
    assert!(fields(&format!("{base}batch_size = 0")).contains(&"batch_size"));
    assert!(fields(&format!("{base}batch_size = 10001")).contains(&"batch_size"));
    for ok in [
        "fetch = \"oldest\"\ncount = 1",
        "batch_size = 1",
        "batch_size = 10000",
    ] {
        let file: File = toml::from_str(&format!("{base}{ok}")).unwrap();
        assert_eq!(file.account.len(), 1);
    }
    let p = problems(&format!(
        "{base}after_receive = \"move\"\nmove_to = \"INBOX\""
    ));
    assert_eq!(p[0].0, "move_to");
}

#[test]
fn unknown_keys_are_rejected() {
    let err = toml::from_str::<File>(
        "[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npasword = \"typo\"",
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("pasword"), "{err}");
}

#[test]
fn sizes() {
    let t = |s: &str| parse_size(&SizeValue::Text(s.into()));
    assert_eq!(t("50MB"), Ok(50_000_000));
    assert_eq!(t("10 MiB"), Ok(10 * 1024 * 1024));
    assert_eq!(t("512k"), Ok(512 * 1024));
    assert_eq!(t("1gb"), Ok(1_000_000_000));
    assert_eq!(t("123"), Ok(123));
    assert_eq!(parse_size(&SizeValue::Bytes(7)), Ok(7));
    assert!(parse_size(&SizeValue::Bytes(-1)).is_err());
    assert!(t("MB").is_err());
    assert!(t("5 parsecs").is_err());
    assert!(t("99999999999999999999GB").is_err());
}

#[test]
fn oauth_tables() {
    let file: File = toml::from_str(
        r#"[[account]]
        name = "m365"
        protocol = "imap"
        host = "outlook.office365.com"
        username = "shared@contoso.com"
        [account.oauth]
        provider = "entra"
        tenant_id = "contoso.onmicrosoft.com"
        client_id = "abc"
        client_secret_env = "CLIENT_SECRET""#,
    )
    .unwrap();
    assert!(matches!(
        &file.account[0].auth,
        AuthConfig::OAuth(OAuthSettings::Entra { client_secret: SecretSource::Env(v), .. }) if v == "CLIENT_SECRET"
    ));

    let f = fields(
        r#"[[account]]
        name = "g"
        protocol = "imap"
        host = "imap.gmail.com"
        username = "me@gmail.com"
        password_env = "X"
        [account.oauth]
        provider = "refresh_token""#,
    );
    assert!(f.contains(&"password"), "{f:?}");
    assert!(f.contains(&"oauth.client_id"), "{f:?}");
    assert!(f.contains(&"oauth.token_url"), "{f:?}");

    let f = fields(
        r#"[[account]]
        name = "s"
        protocol = "imap"
        host = "h"
        username = "u"
        [account.oauth]
        provider = "static"
        tenant_id = "t""#,
    );
    assert_eq!(f, ["oauth.tenant_id"]);
}

#[test]
fn serializes_back_without_the_inline_password() {
    let file: File = toml::from_str(
        "[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword = \"hunter2\"\nafter_receive = \"move\"\nmove_to = \"Done\"",
    )
    .unwrap();
    let json = serde_json::to_string(&file.account[0]).unwrap();
    assert!(!json.contains("hunter2"));
    assert!(!format!("{:?}", file.account[0]).contains("hunter2"));
    let back: Account = serde_json::from_str(&json).unwrap();
    assert_eq!(back.after_receive, AfterReceive::MoveTo("Done".into()));
    assert_eq!(back.port, 993);
}

fn password_account(extra: &str) -> Account {
    let file: File = toml::from_str(&format!(
        "[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n{extra}"
    ))
    .unwrap();
    file.account.into_iter().next().unwrap()
}

fn password_of(c: &Credentials) -> String {
    match c {
        Credentials::Password { password, .. } => password.expose().to_owned(),
        Credentials::OAuth { .. } => panic!("not a password"),
    }
}

#[test]
fn secrets_from_command_store_and_errors_naming_the_source() {
    let a = password_account("password_command = \"printf 'from-cmd\\\\n'\"");
    assert_eq!(
        password_of(&resolve_credentials(&a, None).unwrap()),
        "from-cmd"
    );

    let a = password_account("password_command = \"exit 3\"");
    let err = resolve_credentials(&a, None).unwrap_err();
    assert!(matches!(err, CredentialError::CommandFailed { .. }));
    assert!(err.to_string().contains("exit 3"));

    let a = password_account("password_env = \"INBOUND_TEST_SURELY_UNSET_VAR\"");
    let err = resolve_credentials(&a, None).unwrap_err();
    assert!(
        err.to_string().contains("INBOUND_TEST_SURELY_UNSET_VAR"),
        "{err}"
    );

    let a = password_account("");
    let err = resolve_credentials(&a, None).unwrap_err();
    assert!(matches!(err, CredentialError::NotStored { ref secret, .. } if secret == "password"));

    let key = inbound_store::EncryptionKey::generate().unwrap();
    let mut store = inbound_store::Store::open_in_memory(Some(key)).unwrap();
    store
        .save_account(
            "x",
            "{}",
            &[("password", inbound_store::Secret::new("stored-pw"))],
        )
        .unwrap();
    let c = resolve_credentials(&a, Some(&store)).unwrap();
    assert_eq!(password_of(&c), "stored-pw");
    assert!(!format!("{c:?}").contains("stored-pw"));
}

#[test]
fn token_endpoint_trusts_the_accounts_ca_file() {
    let account = |ca: &str| -> Account {
        let file: File = toml::from_str(&format!(
            r#"[[account]]
            name = "m365"
            protocol = "imap"
            host = "imap.example.test"
            username = "shared@example.test"
            {ca}
            [account.oauth]
            provider = "entra"
            tenant_id = "tenant"
            client_id = "app""#
        ))
        .unwrap();
        file.account.into_iter().next().unwrap()
    };
    let key = inbound_store::EncryptionKey::generate().unwrap();
    let mut store = inbound_store::Store::open_in_memory(Some(key)).unwrap();
    store
        .save_account(
            "m365",
            "{}",
            &[("client_secret", inbound_store::Secret::new("app-secret"))],
        )
        .unwrap();
    // Without a CA file the provider is built with the default roots.
    assert!(resolve_credentials(&account(""), Some(&store)).is_ok());
    // With one, the token endpoint's TLS settings load it: a missing file is an error that
    // names the account and the file, found before any token is asked for.
    let missing = "/nonexistent/inbound-token-ca.pem";
    let err = resolve_credentials(&account(&format!("ca_file = \"{missing}\"")), Some(&store))
        .expect_err("the account's CA file is loaded for the token endpoint");
    assert!(matches!(err, CredentialError::OAuth { .. }), "{err:?}");
    let text = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(text.contains("m365"), "{text}");
    assert!(text.contains(missing), "{text}");
}

#[test]
fn remote_images_are_blocked_unless_allowed() {
    use inbound_retrieve::RemoteImages;
    use inbound_store::SanitizeHtml;

    let base = r#"[[account]]
        name = "x"
        protocol = "imap"
        host = "imap.example.com"
        username = "u"
        inline_images = "data_url"
        "#;
    let file: File = toml::from_str(base).unwrap();
    let a = &file.account[0];
    assert_eq!(a.remote_images, RemoteImages::Block);
    assert_eq!(a.sanitize_mode(), Some(SanitizeHtml::data_url()));
    assert!(!a.sanitize_mode().unwrap().remote_images);

    let file: File = toml::from_str(&format!("{base}remote_images = \"allow\"")).unwrap();
    let a = &file.account[0];
    assert_eq!(a.remote_images, RemoteImages::Allow);
    assert_eq!(
        a.sanitize_mode(),
        Some(SanitizeHtml::data_url().with_remote_images(true))
    );
    // The setting survives the round trip through the stored form.
    let back = AccountConfig::from(a.clone()).validate().unwrap();
    assert_eq!(back.remote_images, RemoteImages::Allow);

    let file: File = toml::from_str(&format!("{base}remote_images = \"block\"")).unwrap();
    assert_eq!(file.account[0].remote_images, RemoteImages::Block);

    let bad = toml::from_str::<RawFile>(&format!("{base}remote_images = \"sometimes\""));
    assert!(bad.is_err_and(|e| e.to_string().contains("block")));
    assert!(
        fields(
            r#"[[account]]
        name = "x"
        protocol = "imap"
        host = "imap.example.com"
        username = "u"
        sanitize_html = false
        remote_images = "allow""#
        )
        .contains(&"remote_images")
    );
}

#[test]
fn consent_providers_fill_endpoints_and_name_what_is_missing() {
    let file: File = toml::from_str(
        r#"[[account]]
        name = "gmail"
        protocol = "imap"
        host = "imap.gmail.com"
        username = "me@gmail.com"
        [account.oauth]
        provider = "google"
        client_id = "123.apps.googleusercontent.com"
        client_secret_env = "GOOGLE_CLIENT_SECRET"

        [[account]]
        name = "outlook"
        protocol = "pop3"
        host = "outlook.office365.com"
        username = "me@contoso.com"
        [account.oauth]
        provider = "microsoft"
        tenant_id = "organizations"
        client_id = "abc""#,
    )
    .unwrap();
    let AuthConfig::OAuth(OAuthSettings::Login(g)) = &file.account[0].auth else {
        panic!("{:?}", file.account[0].auth);
    };
    let e = g.endpoints(inbound_retrieve::MailProtocol::Imap);
    assert_eq!(e.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(e.scopes, ["https://mail.google.com/"]);
    assert!(matches!(&g.client_secret, SecretSource::Env(v) if v == "GOOGLE_CLIENT_SECRET"));
    assert!(matches!(&g.refresh_token, SecretSource::Stored(v) if v == "refresh_token"));
    let AuthConfig::OAuth(OAuthSettings::Login(m)) = &file.account[1].auth else {
        panic!("{:?}", file.account[1].auth);
    };
    let e = m.endpoints(inbound_retrieve::MailProtocol::Pop3);
    assert_eq!(
        e.auth_url,
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    );
    assert_eq!(
        e.scopes,
        [
            "https://outlook.office.com/POP.AccessAsUser.All",
            "offline_access"
        ]
    );
    // Written back, the table is the same.
    let back = toml::to_string(&file.account[1]).unwrap();
    assert!(back.contains("provider = \"microsoft\""), "{back}");
    assert!(back.contains("tenant_id = \"organizations\""), "{back}");

    let f = fields(
        r#"[[account]]
        name = "other"
        protocol = "imap"
        host = "h"
        username = "u"
        [account.oauth]
        provider = "authorization_code"
        tenant_id = "x""#,
    );
    for field in [
        "oauth.client_id",
        "oauth.auth_url",
        "oauth.token_url",
        "oauth.scope",
        "oauth.tenant_id",
    ] {
        assert!(f.contains(&field), "{field}: {f:?}");
    }
}
