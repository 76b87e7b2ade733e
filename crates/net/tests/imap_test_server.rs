//! The IMAP client against Inbound's own test server: every login method (the LOGIN
//! command, AUTHENTICATE PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER) in every security mode
//! (implicit TLS, STARTTLS, plaintext chosen by name), each one retrieving the whole
//! mailbox; OAuth with tokens from the server's token endpoint (refresh before expiry,
//! refused tokens invalidated and replaced, shared mailboxes); and injected faults
//! (STARTTLS injection, PREAUTH, LOGINDISABLED, slow answers, drops inside a literal,
//! byte-by-byte answers, refused commands, an answer that never comes); and servers that
//! lack an extension (SASL-IR, LITERAL+, an AUTH= mechanism, STARTTLS, MOVE, UIDPLUS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_net::imap::{
    AuthMethod, Capability, ExpungeOutcome, Flag, ImapClient, ImapConfig, ImapError, StoreType,
};
use inbound_net::oauth::{ClientCredentialsProvider, Clock, EntraClientCredentials, TokenProvider};
use inbound_net::sasl::Mechanism;
use inbound_net::{
    ConnectError, Credentials, CredentialsKind, Error, OAuthError, Security, TlsConfig,
};
use inbound_test_server::faults::{
    CommandFault, DropPoint, FaultPlan, Faults, Hold, Refusal, SlowAnswer,
};
use inbound_test_server::oauth::TokenRegistry;
use inbound_test_server::server::{ServerConfig, TestServer};
use inbound_test_server::transcript::{Direction, TranscriptCapture};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "pass word";
/// A password a quoted string carries only with escapes (`"` and `\`).
const QUOTED_USER: &str = "quoted@example.test";
const QUOTED_PASSWORD: &str = r#"say "hi" \o/ (ok) {5}"#;
/// A password only a literal can carry (8-bit).
const LITERAL_USER: &str = "literal@example.test";
const LITERAL_PASSWORD: &str = "pässwörd \"ünïcødé\" ✓";
/// A mailbox that an application's token may open without owning it.
const SHARED: &str = "shared@example.test";

const SECURITY_MODES: [Security; 3] = [Security::Tls, Security::StartTls, Security::Plaintext];

struct Fixture {
    server: TestServer,
    transcript: TranscriptCapture,
}

async fn fixture_with(config: ServerConfig) -> Fixture {
    let transcript = TranscriptCapture::new();
    let server = TestServer::start(
        config
            .user(USER, PASSWORD)
            .user(QUOTED_USER, QUOTED_PASSWORD)
            .user(LITERAL_USER, LITERAL_PASSWORD)
            .user(SHARED, "shared-password")
            .oauth_client("app-id", "app-secret")
            .transcript(transcript.clone()),
    )
    .await
    .unwrap();
    Fixture { server, transcript }
}

async fn fixture() -> Fixture {
    fixture_with(ServerConfig::default()).await
}

fn config(server: &TestServer, security: Security) -> ImapConfig {
    let addr = match security {
        Security::Tls => server.imaps_addr(),
        Security::StartTls | Security::Plaintext => server.imap_addr(),
    };
    ImapConfig::new("localhost", security)
        .with_port(addr.port())
        .with_tls(
            TlsConfig::new()
                .with_builtin_roots(false)
                .with_ca_file(server.ca_file()),
        )
        .with_timeout(Duration::from_secs(10))
}

async fn connect(server: &TestServer, security: Security) -> ImapClient {
    let client = ImapClient::connect(&config(server, security))
        .await
        .unwrap_or_else(|e| panic!("{security:?}: {e}"));
    assert_eq!(client.is_tls(), security != Security::Plaintext);
    client
}

/// What the server holds in `user`'s INBOX, by UID.
fn expected_messages(server: &TestServer, user: &str) -> BTreeMap<u32, Vec<u8>> {
    let messages: BTreeMap<u32, Vec<u8>> = server
        .store()
        .messages(user, "INBOX")
        .unwrap()
        .into_iter()
        .map(|m| (m.uid, m.raw.to_vec()))
        .collect();
    assert!(!messages.is_empty());
    messages
}

/// SELECT INBOX, UID SEARCH ALL, UID FETCH of every UID found: the messages by UID.
async fn retrieve_all(client: &mut ImapClient) -> BTreeMap<u32, Vec<u8>> {
    let status = client.select("INBOX").await.unwrap();
    assert!(status.uidvalidity.is_some());
    let uids = client.uid_search_all().await.unwrap();
    assert_eq!(uids.len(), status.exists as usize);
    let mut got = BTreeMap::new();
    let mut stream = client.uid_fetch_bodies(&uids).unwrap();
    while let Some(message) = stream.next().await {
        let message = message.unwrap();
        assert_eq!(message.size, Some(message.body.len() as u32));
        assert!(
            got.insert(message.uid, message.body.to_vec()).is_none(),
            "UID {} twice",
            message.uid
        );
    }
    got
}

/// Logs `USER` in on a new connection, selects INBOX and lists its UIDs.
async fn selected(server: &TestServer, security: Security) -> (ImapClient, Vec<u32>) {
    log_in_and_list(connect(server, security).await).await
}

/// Logs `USER` in on `client`, selects INBOX and lists its UIDs.
async fn log_in_and_list(mut client: ImapClient) -> (ImapClient, Vec<u32>) {
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    let uids = client.uid_search_all().await.unwrap();
    (client, uids)
}

/// `uid_fetch_bodies_only` asks for `(UID BODY.PEEK[])` and gets every message whole.
#[tokio::test]
async fn bodies_only_fetch_asks_for_uid_and_body() {
    let Fixture { server, transcript } = fixture().await;
    let expected = expected_messages(&server, USER);
    let (mut client, uids) = selected(&server, Security::Plaintext).await;
    transcript.clear();
    let mut got = BTreeMap::new();
    let mut stream = client.uid_fetch_bodies_only(&uids).unwrap();
    while let Some(m) = stream.next().await {
        let m = m.unwrap();
        assert_eq!((m.size, m.internal_date, m.flags.len()), (None, None, 0));
        got.insert(m.uid, m.body.to_vec());
    }
    let sent: Vec<String> = transcript
        .lines()
        .into_iter()
        .filter(|l| l.direction == Direction::Client)
        .map(|l| l.text)
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].ends_with(" (UID BODY.PEEK[])"), "{sent:?}");
    assert_eq!(got, expected);
    client.logout().await.unwrap();
    server.shutdown().await;
}

/// The typed error for OAuth credentials when the server offers no bearer mechanism.
fn is_no_oauth_method(err: &Error) -> bool {
    matches!(
        err,
        Error::Imap(ImapError::NoAuthMethod {
            kind: CredentialsKind::OAuth
        })
    )
}

/// The login lines the client sent (`C: A1 LOGIN ...` / `C: A1 AUTHENTICATE ...`),
/// redacted by the server's transcript, without their tags.
fn login_lines(transcript: &TranscriptCapture) -> Vec<String> {
    transcript
        .lines()
        .into_iter()
        .filter(|l| l.direction == Direction::Client)
        .filter_map(|l| {
            let (_, command) = l.text.split_once(' ')?;
            let verb = command.split(' ').next()?;
            (verb == "LOGIN" || verb == "AUTHENTICATE").then(|| command.to_owned())
        })
        .collect()
}

fn has_auth_capability(client: &ImapClient) -> bool {
    client
        .capabilities()
        .iter()
        .any(|c| matches!(c, Capability::Auth(_)))
}

#[tokio::test]
async fn every_password_method_in_every_security_mode() {
    let Fixture { server, transcript } = fixture().await;
    let expected = expected_messages(&server, USER);
    let plain = AuthMethod::Sasl(Mechanism::Plain);
    let sasl_login = AuthMethod::Sasl(Mechanism::Login);
    for security in SECURITY_MODES {
        // (configured method, method used, the login line the server saw)
        for (method, used, line) in [
            // Automatic: the strongest advertised mechanism for a password is PLAIN,
            // sent with SASL-IR (the server offers it).
            (None, plain, "AUTHENTICATE PLAIN [redacted]".to_owned()),
            (
                Some(AuthMethod::Login),
                AuthMethod::Login,
                format!("LOGIN {USER} [redacted]"),
            ),
            (
                Some(plain),
                plain,
                "AUTHENTICATE PLAIN [redacted]".to_owned(),
            ),
            // LOGIN has no initial response, even with SASL-IR.
            (
                Some(sasl_login),
                sasl_login,
                "AUTHENTICATE LOGIN".to_owned(),
            ),
        ] {
            let mut client = connect(&server, security).await;
            assert!(has_auth_capability(&client), "{security:?}");
            transcript.clear();
            let info = client
                .login(&Credentials::password(USER, PASSWORD), method)
                .await
                .unwrap_or_else(|e| panic!("{security:?} {method:?}: {e}"));
            assert_eq!(info.method, used, "{security:?} {method:?}");
            assert_eq!(login_lines(&transcript), [line], "{security:?} {method:?}");
            assert!(client.is_authenticated());
            // The capabilities after login came with the OK: no AUTH= any more.
            assert!(!has_auth_capability(&client), "{security:?} {method:?}");
            assert_eq!(
                retrieve_all(&mut client).await,
                expected,
                "{security:?} {method:?}"
            );
            client.logout().await.unwrap();
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_servers_text_and_the_session_goes_on() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    for security in SECURITY_MODES {
        let mut client = connect(&server, security).await;
        for method in [
            AuthMethod::Login,
            AuthMethod::Sasl(Mechanism::Plain),
            AuthMethod::Sasl(Mechanism::Login),
        ] {
            let err = client
                .login(&Credentials::password(USER, "nope"), Some(method))
                .await
                .unwrap_err();
            match &err {
                Error::Imap(ImapError::AuthFailed {
                    method: m,
                    text,
                    oauth: None,
                    ..
                }) => {
                    assert_eq!(*m, method);
                    assert!(!text.is_empty());
                    assert!(err.to_string().contains("[AUTHENTICATIONFAILED]"), "{err}");
                }
                other => panic!("{security:?} {method:?}: {other:?}"),
            }
            assert!(client.is_usable() && !client.is_authenticated());
        }
        client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .unwrap();
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn passwords_with_quotes_backslashes_and_8bit_characters() {
    let Fixture { server, transcript } = fixture().await;
    for security in SECURITY_MODES {
        for (user, password) in [
            (QUOTED_USER, QUOTED_PASSWORD),
            (LITERAL_USER, LITERAL_PASSWORD),
        ] {
            let expected = expected_messages(&server, user);
            for method in [
                AuthMethod::Login,
                AuthMethod::Sasl(Mechanism::Plain),
                AuthMethod::Sasl(Mechanism::Login),
            ] {
                let mut client = connect(&server, security).await;
                transcript.clear();
                client
                    .login(&Credentials::password(user, password), Some(method))
                    .await
                    .unwrap_or_else(|e| panic!("{security:?} {user} {method:?}: {e}"));
                if method == AuthMethod::Login {
                    // A quoted string (escaped) on one line, or a LITERAL+ literal,
                    // which the transcript shows as a second, redacted piece.
                    let client_lines: Vec<String> = transcript
                        .lines()
                        .into_iter()
                        .filter(|l| l.direction == Direction::Client)
                        .map(|l| l.text)
                        .collect();
                    let at = client_lines
                        .iter()
                        .position(|l| l.ends_with(&format!("LOGIN {user} [redacted]")))
                        .unwrap_or_else(|| panic!("{client_lines:?}"));
                    let literal =
                        client_lines.get(at + 1).map(String::as_str) == Some("[redacted]");
                    assert_eq!(literal, user == LITERAL_USER, "{client_lines:?}");
                }
                assert_eq!(retrieve_all(&mut client).await, expected);
                client.logout().await.unwrap();
            }
        }
    }
    server.shutdown().await;
}

/// A clock the test moves by hand (for the token cache of the provider).
#[derive(Debug)]
struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }

    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

fn entra_provider(server: &TestServer, client_id: &str, secret: &str) -> ClientCredentialsProvider {
    ClientCredentialsProvider::new(
        EntraClientCredentials::new("contoso", client_id, secret)
            .with_authority(server.oauth_authority()),
    )
    .unwrap()
}

fn entra(server: &TestServer) -> Arc<ClientCredentialsProvider> {
    Arc::new(entra_provider(server, "app-id", "app-secret"))
}

#[tokio::test]
async fn oauth_mechanisms_in_every_security_mode() {
    let Fixture { server, transcript } = fixture().await;
    let expected = expected_messages(&server, USER);
    let credentials = Credentials::oauth(USER, entra(&server));
    let xoauth2 = AuthMethod::Sasl(Mechanism::XOAuth2);
    let oauthbearer = AuthMethod::Sasl(Mechanism::OAuthBearer);
    for security in SECURITY_MODES {
        for (method, used) in [
            // Automatic: XOAUTH2 is preferred for tokens.
            (None, xoauth2),
            (Some(xoauth2), xoauth2),
            (Some(oauthbearer), oauthbearer),
        ] {
            let mut client = connect(&server, security).await;
            transcript.clear();
            let info = client
                .login(&credentials, method)
                .await
                .unwrap_or_else(|e| panic!("{security:?} {method:?}: {e}"));
            assert_eq!(info.method, used);
            let AuthMethod::Sasl(mechanism) = used else {
                unreachable!()
            };
            assert_eq!(
                login_lines(&transcript),
                [format!("AUTHENTICATE {mechanism} [redacted]")]
            );
            assert_eq!(retrieve_all(&mut client).await, expected);
            client.logout().await.unwrap();
        }
    }
    // One token served all nine logins.
    assert_eq!(server.registry().issued_count(), 1);
    assert_eq!(server.registry().stats().client_credentials_grants, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    let registry = server.registry().clone();
    // Two minutes: the provider replaces a token 60 s before its end.
    registry.set_access_token_lifetime(Duration::from_secs(120));
    let clock = ManualClock::new();
    let provider =
        Arc::new(entra_provider(&server, "app-id", "app-secret").with_clock(clock.clone()));
    let credentials = Credentials::oauth(USER, provider.clone());
    let login = async |mechanism: Mechanism| {
        let mut client = connect(&server, Security::Tls).await;
        client
            .login(&credentials, Some(mechanism.into()))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    };

    login(Mechanism::XOAuth2).await;
    let first = provider.token().await.unwrap();
    assert_eq!(registry.issued_count(), 1);
    clock.advance(Duration::from_secs(30));
    login(Mechanism::OAuthBearer).await;
    assert_eq!(registry.issued_count(), 1, "still fresh: reused");

    // Inside the refresh margin: a new token before the old one runs out.
    clock.advance(Duration::from_secs(40));
    login(Mechanism::XOAuth2).await;
    assert_eq!(registry.issued_count(), 2);
    assert!(registry.validate(first.secret().expose()).is_ok());
    let second = provider.token().await.unwrap();
    assert_ne!(second.secret().expose(), first.secret().expose());

    // The second token's lifetime passes (on both sides): the next login gets a new one
    // first, so the server never sees the expired token.
    clock.advance(Duration::from_secs(121));
    assert!(registry.expire_now(second.secret().expose()));
    for mechanism in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
        login(mechanism).await;
    }
    assert_eq!(registry.issued_count(), 3);
    assert_eq!(registry.stats().client_credentials_grants, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_an_oauth_error_before_anything_is_sent() {
    let Fixture { server, transcript } = fixture().await;
    let registry = server.registry().clone();
    registry.set_access_token_lifetime(Duration::from_secs(120));
    let clock = ManualClock::new();
    let provider =
        Arc::new(entra_provider(&server, "app-id", "app-secret").with_clock(clock.clone()));
    let credentials = Credentials::oauth(USER, provider.clone());
    let mut client = connect(&server, Security::Tls).await;
    client.login(&credentials, None).await.unwrap();
    client.logout().await.unwrap();

    // Inside the refresh margin the endpoint fails: the current token is still good.
    clock.advance(Duration::from_secs(70));
    registry.fail_next_requests(1);
    let mut client = connect(&server, Security::Tls).await;
    client.login(&credentials, None).await.unwrap();
    client.logout().await.unwrap();
    assert_eq!(registry.issued_count(), 1);
    assert_eq!(registry.stats().errors, 1);

    // Past its end there is no token to send: a typed OAuth error, and the session is
    // still there for the next attempt.
    clock.advance(Duration::from_secs(60));
    registry.fail_next_requests(1);
    let mut client = connect(&server, Security::Tls).await;
    transcript.clear();
    let err = client.login(&credentials, None).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::OAuth(OAuthError::Endpoint { error, .. }) if error == "temporarily_unavailable"
        ),
        "{err:?}"
    );
    assert!(login_lines(&transcript).is_empty());
    assert!(client.is_usable());
    client.login(&credentials, None).await.unwrap();
    assert_eq!(registry.issued_count(), 2);
    client.logout().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn entra_sized_tokens_in_every_security_mode() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    // 1,200 random bytes: a token of about 1,600 characters, like an Entra JWT; the
    // SASL-IR line is over 2 KB.
    server.registry().set_access_token_size(1200);
    let provider = entra(&server);
    let token = provider.token().await.unwrap();
    assert!(token.secret().expose().len() > 1500);
    let credentials = Credentials::oauth(USER, provider.clone());
    for security in SECURITY_MODES {
        for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            let mut client = connect(&server, security).await;
            client
                .login(&credentials, Some(mechanism.into()))
                .await
                .unwrap_or_else(|e| panic!("{security:?} {mechanism}: {e}"));
            assert_eq!(retrieve_all(&mut client).await, expected);
            client.logout().await.unwrap();
        }
    }
    assert_eq!(server.registry().issued_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn oauthbearer_escapes_commas_and_equals_signs_in_the_user() {
    // RFC 5801 saslname: `,` and `=` are sent as `=2C` and `=3D`; the server unescapes.
    let odd = "o=brien,sales@example.test";
    let Fixture { server, .. } = fixture_with(ServerConfig::default().user(odd, "pw")).await;
    let expected = expected_messages(&server, odd);
    let credentials = Credentials::oauth(odd, entra(&server));
    for mechanism in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
        let mut client = connect(&server, Security::Tls).await;
        client
            .login(&credentials, Some(mechanism.into()))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.shutdown().await;
}

/// How a token the provider still believes good is made worthless on the server.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    Revoke,
    Expire,
}

#[tokio::test]
async fn a_refused_token_is_invalidated_and_the_next_login_fetches_a_new_one() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    let provider = entra(&server);
    let credentials = Credentials::oauth(USER, provider.clone());
    for security in SECURITY_MODES {
        for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            for spoil in [Spoil::Revoke, Spoil::Expire] {
                let token = provider.token().await.unwrap();
                let secret = token.secret().expose();
                assert!(match spoil {
                    Spoil::Revoke => server.registry().revoke(secret),
                    Spoil::Expire => server.registry().expire_now(secret),
                });
                let issued = server.registry().issued_count();
                let mut client = connect(&server, security).await;
                let err = client
                    .login(&credentials, Some(mechanism.into()))
                    .await
                    .unwrap_err();
                match &err {
                    Error::Imap(ImapError::AuthFailed {
                        method,
                        oauth,
                        text,
                        ..
                    }) => {
                        assert_eq!(*method, AuthMethod::Sasl(mechanism));
                        assert!(!text.is_empty());
                        let oauth = oauth.as_deref().expect("the decoded XOAUTH2 error JSON");
                        assert_eq!(oauth.status, "401");
                        assert_eq!(oauth.schemes.as_deref(), Some("Bearer"));
                        assert_eq!(
                            oauth.scope.as_deref(),
                            Some("https://outlook.office.com/.default")
                        );
                        assert!(err.to_string().contains("OAuth status 401"), "{err}");
                    }
                    other => panic!("{security:?} {mechanism} {spoil:?}: {other:?}"),
                }
                assert_eq!(server.registry().issued_count(), issued, "no fetch yet");
                assert!(client.is_usable() && !client.is_authenticated());
                // The same session tries again, with a fresh token.
                client
                    .login(&credentials, Some(mechanism.into()))
                    .await
                    .unwrap_or_else(|e| panic!("{security:?} {mechanism} {spoil:?}: {e}"));
                assert_eq!(server.registry().issued_count(), issued + 1);
                assert_eq!(retrieve_all(&mut client).await, expected);
                client.logout().await.unwrap();
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_opens_a_shared_mailbox_its_owner_was_granted_and_no_other() {
    // An application allowed into the shared mailbox only (like an Exchange service
    // principal with one mailbox permission).
    let registry = TokenRegistry::new();
    registry.add_client("shared-app", "shared-secret");
    registry.grant_access("shared-app", SHARED);
    let config = ServerConfig {
        registry: registry.clone(),
        ..ServerConfig::default()
    };
    let Fixture { server, transcript } = fixture_with(config).await;
    let expected = expected_messages(&server, SHARED);
    let provider = Arc::new(entra_provider(&server, "shared-app", "shared-secret"));
    let token = provider.token().await.unwrap();
    assert_eq!(
        registry.validate(token.secret().expose()).unwrap().owner,
        "shared-app"
    );
    let shared = Credentials::oauth(SHARED, provider.clone());
    for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        let mut client = connect(&server, Security::Tls).await;
        client
            .login(&shared, Some(mechanism.into()))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    assert_eq!(registry.issued_count(), 1);

    // The same application is refused Alice's mailbox; the token is dropped all the same.
    let alice = Credentials::oauth(USER, provider.clone());
    let mut client = connect(&server, Security::Tls).await;
    transcript.clear();
    let err = client.login(&alice, None).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Imap(ImapError::AuthFailed { method: AuthMethod::Sasl(Mechanism::XOAuth2), oauth: Some(o), .. })
                if o.status == "401"
        ),
        "{err:?}"
    );
    assert_eq!(
        login_lines(&transcript),
        ["AUTHENTICATE XOAUTH2 [redacted]"]
    );
    client.login(&shared, None).await.unwrap();
    assert_eq!(registry.issued_count(), 2);
    client.logout().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn starttls_injection_from_the_server_is_refused() {
    let Fixture { server, transcript } = fixture().await;
    let injected = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n".to_vec();
    server.faults().push_plan(FaultPlan::new(
        Faults {
            starttls_injection: Some(injected.clone()),
            ..Faults::default()
        },
        1,
    ));
    let err = ImapClient::connect(&config(&server, Security::StartTls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect(ConnectError::StartTlsInjection { buffered }) if buffered == injected.len()
        ),
        "{err:?}"
    );
    assert!(login_lines(&transcript).is_empty());
    // The next session has no fault and works.
    let mut client = connect(&server, Security::StartTls).await;
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.logout().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_starttls_is_typed_and_nothing_secret_is_sent() {
    let Fixture { server, transcript } = fixture().await;
    server.faults().push_plan(FaultPlan::new(
        Faults {
            command_faults: vec![CommandFault {
                command: "STARTTLS".into(),
                refusal: Refusal::No,
                text: Some("TLS is down for maintenance".into()),
                times: None,
            }],
            ..Faults::default()
        },
        1,
    ));
    let err = ImapClient::connect(&config(&server, Security::StartTls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Imap(ImapError::StartTlsNotOffered { text: Some(t) }) if t == "TLS is down for maintenance"
        ),
        "{err:?}"
    );
    assert!(login_lines(&transcript).is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn preauth_is_refused_where_tls_is_required_and_accepted_elsewhere() {
    let Fixture { server, transcript } = fixture().await;
    server.faults().set_default(Faults {
        preauth: true,
        ..Faults::default()
    });
    let err = ImapClient::connect(&config(&server, Security::StartTls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Imap(ImapError::PreauthRefused)),
        "{err:?}"
    );
    // Nothing was sent after the greeting: no STARTTLS, no CAPABILITY.
    assert!(
        transcript
            .lines()
            .iter()
            .all(|l| l.direction == Direction::Server),
        "{}",
        transcript.text()
    );

    // Over implicit TLS, or plaintext chosen by name, PREAUTH is a logged-in session.
    let preauth_user = server.store().users().into_iter().next().unwrap();
    let expected = expected_messages(&server, &preauth_user);
    for security in [Security::Tls, Security::Plaintext] {
        let mut client = connect(&server, security).await;
        assert!(client.is_authenticated());
        let err = client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Imap(ImapError::WrongState {
                    command: "LOGIN",
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.faults().clear();
    server.shutdown().await;
}

#[tokio::test]
async fn login_disabled_before_tls() {
    let Fixture { server, transcript } =
        fixture_with(ServerConfig::default().login_disabled_before_tls(true)).await;
    let expected = expected_messages(&server, USER);

    // STARTTLS: what the server said before TLS (LOGINDISABLED, no AUTH=) is forgotten.
    let mut client = connect(&server, Security::StartTls).await;
    assert!(!client.has_capability(&Capability::LoginDisabled));
    assert!(has_auth_capability(&client));
    let info = client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    assert_eq!(info.method, AuthMethod::Sasl(Mechanism::Plain));
    assert_eq!(retrieve_all(&mut client).await, expected);
    client.logout().await.unwrap();

    // Plaintext: refused by the client before anything is sent.
    let mut client = connect(&server, Security::Plaintext).await;
    assert!(client.has_capability(&Capability::LoginDisabled));
    transcript.clear();
    let err = client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Imap(ImapError::LoginDisabled)),
        "{err:?}"
    );
    let err = client
        .login(
            &Credentials::password(USER, PASSWORD),
            Some(AuthMethod::Login),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Imap(ImapError::LoginDisabled)),
        "{err:?}"
    );
    let err = client
        .login(&Credentials::oauth(USER, entra(&server)), None)
        .await
        .unwrap_err();
    assert!(is_no_oauth_method(&err), "{err:?}");
    assert!(login_lines(&transcript).is_empty());
    assert_eq!(server.registry().issued_count(), 0);
    assert!(client.is_usable());
    client.logout().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_server_runs_into_the_response_timeout() {
    let Fixture { server, .. } = fixture().await;
    let short = |security| config(&server, security).with_timeout(Duration::from_millis(300));
    let mut client = ImapClient::connect(&short(Security::Plaintext))
        .await
        .unwrap();
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    server.faults().set_default(Faults {
        delay: Some(Duration::from_secs(2)),
        ..Faults::default()
    });
    // Sessions started from now on answer late, the greeting first.
    for security in [Security::Plaintext, Security::StartTls] {
        let started = Instant::now();
        let err = ImapClient::connect(&short(security)).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Imap(ImapError::Timeout {
                    during: "greeting",
                    timeout
                }) if timeout == Duration::from_millis(300)
            ),
            "{security:?}: {err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // The session started before is unaffected.
    client.noop().await.unwrap();
    client.logout().await.unwrap();
    server.faults().clear();
    server.shutdown().await;
}

#[tokio::test]
async fn a_drop_in_the_middle_of_a_literal_gives_no_partial_message() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    for security in SECURITY_MODES {
        server.faults().push_plan(FaultPlan::new(
            Faults {
                drop_at: Some(DropPoint::MidFetchLiteral),
                ..Faults::default()
            },
            1,
        ));
        let (mut client, uids) = selected(&server, security).await;
        assert_eq!(uids.len(), expected.len());
        let mut stream = client.uid_fetch_bodies(&uids).unwrap();
        let err = match stream.next().await {
            Some(Err(e)) => e,
            Some(Ok(m)) => panic!("{security:?}: a message came: {m:?}"),
            None => panic!("{security:?}: nothing came"),
        };
        assert!(
            matches!(
                err,
                Error::Imap(ImapError::ConnectionClosed {
                    during: "UID FETCH"
                })
            ),
            "{security:?}: {err:?}"
        );
        assert!(stream.next().await.is_none());
        drop(stream);
        assert!(!client.is_usable());
        let err = client.noop().await.unwrap_err();
        assert!(
            matches!(err, Error::Imap(ImapError::Unusable { .. })),
            "{err:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_drop_after_some_messages_keeps_only_whole_ones() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    let total: usize = expected.values().map(Vec::len).sum();
    // Cut points from before the first message to past the middle of the mailbox.
    let mut outcomes = Vec::new();
    for cut in [1_500, 3_000, 1_500 + total / 2] {
        server.faults().push_plan(FaultPlan::new(
            Faults {
                drop_at: Some(DropPoint::AfterBytes(cut)),
                ..Faults::default()
            },
            1,
        ));
        let (mut client, uids) = selected(&server, Security::Plaintext).await;
        let mut stream = client.uid_fetch_bodies(&uids).unwrap();
        let mut whole = 0;
        let err = loop {
            match stream.next().await {
                Some(Ok(m)) => {
                    assert_eq!(Some(&m.body.to_vec()), expected.get(&m.uid), "cut {cut}");
                    whole += 1;
                }
                Some(Err(e)) => break e,
                None => panic!("cut {cut}: the fetch completed"),
            }
        };
        assert!(
            matches!(
                err,
                Error::Imap(ImapError::ConnectionClosed {
                    during: "UID FETCH"
                })
            ),
            "cut {cut}: {err:?}"
        );
        drop(stream);
        assert!(!client.is_usable());
        outcomes.push(whole);
    }
    assert!(outcomes.iter().all(|&n| n < expected.len()), "{outcomes:?}");
    assert!(outcomes.iter().any(|&n| n > 0), "{outcomes:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn answers_written_one_byte_at_a_time() {
    let Fixture { server, .. } = fixture().await;
    server.faults().set_default(Faults {
        one_byte_writes: true,
        ..Faults::default()
    });
    let provider = entra(&server);
    for security in SECURITY_MODES {
        for credentials in [
            Credentials::password(LITERAL_USER, LITERAL_PASSWORD),
            Credentials::oauth(USER, provider.clone()),
        ] {
            let mut client = connect(&server, security).await;
            client.login(&credentials, None).await.unwrap();
            let expected = expected_messages(&server, credentials.user());
            assert_eq!(retrieve_all(&mut client).await, expected);
            client.logout().await.unwrap();
        }
    }
    server.faults().clear();
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_select_is_typed_and_the_session_goes_on() {
    let Fixture { server, .. } = fixture().await;
    let expected = expected_messages(&server, USER);
    server.faults().push_plan(FaultPlan::new(
        Faults {
            command_faults: vec![CommandFault {
                command: "SELECT".into(),
                refusal: Refusal::No,
                text: Some("mailbox is locked".into()),
                times: Some(1),
            }],
            ..Faults::default()
        },
        1,
    ));
    let mut client = connect(&server, Security::Tls).await;
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    let err = client.select("INBOX").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Imap(ImapError::No { command: "SELECT", text, .. }) if text == "mailbox is locked"
        ),
        "{err:?}"
    );
    assert!(client.is_usable());
    assert_eq!(retrieve_all(&mut client).await, expected);
    client.logout().await.unwrap();
    server.shutdown().await;
}

/// A fixture whose IMAP server hides these capabilities.
async fn hiding(names: &[&str]) -> Fixture {
    let mut config = ServerConfig::default();
    for name in names {
        config = config.hide_capability(name);
    }
    fixture_with(config).await
}

/// The client's lines, tags stripped.
fn client_commands(transcript: &TranscriptCapture) -> Vec<String> {
    transcript
        .lines()
        .into_iter()
        .filter(|l| l.direction == Direction::Client)
        .map(|l| match l.text.split_once(' ') {
            Some((_, rest)) => rest.to_owned(),
            None => l.text,
        })
        .collect()
}

#[tokio::test]
async fn without_sasl_ir_authenticate_waits_for_the_continuation() {
    let Fixture { server, transcript } = hiding(&["SASL-IR"]).await;
    let expected = expected_messages(&server, USER);
    let oauth = Credentials::oauth(USER, entra(&server));
    for security in SECURITY_MODES {
        for (credentials, used) in [
            (
                Credentials::password(USER, PASSWORD),
                AuthMethod::Sasl(Mechanism::Plain),
            ),
            (oauth.clone(), AuthMethod::Sasl(Mechanism::XOAuth2)),
        ] {
            let mut client = connect(&server, security).await;
            assert!(!client.has_capability(&Capability::SaslIr));
            transcript.clear();
            let info = client
                .login(&credentials, None)
                .await
                .unwrap_or_else(|e| panic!("{security:?} {used:?}: {e}"));
            assert_eq!(info.method, used);
            let AuthMethod::Sasl(mechanism) = used else {
                unreachable!()
            };
            // No initial response: the mechanism alone, the secret after `+`.
            assert_eq!(
                login_lines(&transcript),
                [format!("AUTHENTICATE {mechanism}")],
                "{security:?}"
            );
            assert_eq!(retrieve_all(&mut client).await, expected);
            client.logout().await.unwrap();
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn without_literal_plus_login_waits_for_each_literal_continuation() {
    let Fixture { server, transcript } = hiding(&["LITERAL+"]).await;
    let expected = expected_messages(&server, LITERAL_USER);
    for security in SECURITY_MODES {
        let mut client = connect(&server, security).await;
        assert!(!client.has_capability(&Capability::LiteralPlus));
        transcript.clear();
        client
            .login(
                &Credentials::password(LITERAL_USER, LITERAL_PASSWORD),
                Some(AuthMethod::Login),
            )
            .await
            .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        // A synchronizing literal (`{n}`; `{n+}` would have been refused): the server
        // asked for it with one `+` continuation. (The transcript logs a client command
        // when it is whole, so it cannot show that the client waited for the `+`.)
        let lines = transcript.lines();
        let continuations = lines
            .iter()
            .filter(|l| l.direction == Direction::Server && l.text.starts_with("+ "))
            .count();
        assert_eq!(continuations, 1, "{}", transcript.text());
        assert!(
            lines.iter().any(|l| l.direction == Direction::Client
                && l.text
                    .ends_with(&format!("LOGIN {LITERAL_USER} [redacted]"))),
            "{}",
            transcript.text()
        );
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn without_plain_a_password_uses_authenticate_login() {
    let Fixture { server, transcript } = hiding(&["AUTH=PLAIN"]).await;
    let expected = expected_messages(&server, USER);
    for security in SECURITY_MODES {
        let mut client = connect(&server, security).await;
        transcript.clear();
        let info = client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        assert_eq!(info.method, AuthMethod::Sasl(Mechanism::Login));
        assert_eq!(login_lines(&transcript), ["AUTHENTICATE LOGIN"]);
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_password_mechanism_the_login_command_is_used() {
    let Fixture { server, transcript } = hiding(&["AUTH=PLAIN", "AUTH=LOGIN"]).await;
    let expected = expected_messages(&server, USER);
    for security in SECURITY_MODES {
        let mut client = connect(&server, security).await;
        // The bearer mechanisms are still there.
        assert!(has_auth_capability(&client));
        transcript.clear();
        // Asking for PLAIN by name is refused before anything is sent.
        let err = client
            .login(
                &Credentials::password(USER, PASSWORD),
                Some(AuthMethod::Sasl(Mechanism::Plain)),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Sasl(_)), "{security:?}: {err:?}");
        assert!(login_lines(&transcript).is_empty());
        let info = client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .unwrap_or_else(|e| panic!("{security:?}: {e}"));
        assert_eq!(info.method, AuthMethod::Login);
        assert_eq!(
            login_lines(&transcript),
            [format!("LOGIN {USER} [redacted]")]
        );
        assert_eq!(retrieve_all(&mut client).await, expected);
        client.logout().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn oauth_without_a_bearer_mechanism_is_no_auth_method() {
    let Fixture { server, transcript } = hiding(&["AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]).await;
    for security in SECURITY_MODES {
        let mut client = connect(&server, security).await;
        transcript.clear();
        let err = client
            .login(&Credentials::oauth(USER, entra(&server)), None)
            .await
            .unwrap_err();
        assert!(is_no_oauth_method(&err), "{security:?}: {err:?}");
        assert!(login_lines(&transcript).is_empty());
        assert!(client.is_usable() && !client.is_authenticated());
        // A password still logs in on the same connection.
        client
            .login(&Credentials::password(USER, PASSWORD), None)
            .await
            .unwrap();
        client.logout().await.unwrap();
    }
    // No token was fetched for a login that could not happen.
    assert_eq!(server.registry().issued_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_refused() {
    let Fixture { server, transcript } = hiding(&["STARTTLS"]).await;
    let err = ImapClient::connect(&config(&server, Security::StartTls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Imap(ImapError::StartTlsNotOffered { text: None })
        ),
        "{err:?}"
    );
    // Refused on the capabilities alone: no STARTTLS sent, and nothing secret.
    let commands = client_commands(&transcript);
    assert!(!commands.iter().any(|c| c == "STARTTLS"), "{commands:?}");
    assert!(login_lines(&transcript).is_empty());
    // Plaintext chosen by name works without it.
    let expected = expected_messages(&server, USER);
    let mut client = connect(&server, Security::Plaintext).await;
    assert!(!client.has_capability(&Capability::StartTls));
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    assert_eq!(retrieve_all(&mut client).await, expected);
    client.logout().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_uid_fetch_without_an_answer_runs_into_the_response_timeout() {
    let Fixture { server, .. } = fixture().await;
    let timeout = Duration::from_millis(300);
    server.faults().push_plan(FaultPlan::new(
        Faults {
            slow_answers: vec![SlowAnswer::named("UID FETCH", Hold::Forever)],
            ..Faults::default()
        },
        1,
    ));
    let client = ImapClient::connect(&config(&server, Security::Plaintext).with_timeout(timeout))
        .await
        .unwrap();
    let (mut client, uids) = log_in_and_list(client).await;
    assert!(!uids.is_empty());
    let started = Instant::now();
    let mut stream = client.uid_fetch_bodies(&uids).unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Imap(ImapError::Timeout {
                during: "UID FETCH",
                timeout: t
            }) if t == timeout
        ),
        "{err:?}"
    );
    assert!(started.elapsed() >= timeout && started.elapsed() < Duration::from_secs(5));
    assert!(stream.next().await.is_none());
    drop(stream);
    // The connection is presumed dead.
    assert!(!client.is_usable());
    server.shutdown().await;
}

/// Marks UID 1 `\Deleted` (outside the moved set), moves UIDs 2 and 3 to `Archive`; the
/// moved messages' bodies and what is left in INBOX, by UID.
async fn move_two(server: &TestServer) -> (inbound_net::imap::MoveOutcome, Vec<u32>, usize) {
    let mut client = connect(server, Security::Tls).await;
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.create("Archive").await.unwrap();
    client.select("INBOX").await.unwrap();
    client
        .uid_store_flags(&[1], StoreType::Add, &[Flag::Deleted])
        .await
        .unwrap();
    let outcome = client.uid_move(&[2, 3], "Archive").await.unwrap();
    client.logout().await.unwrap();
    let left: Vec<u32> = server
        .store()
        .messages(USER, "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let archived = server.store().messages(USER, "Archive").unwrap().len();
    (outcome, left, archived)
}

#[tokio::test]
async fn uid_move_without_move_is_copy_store_and_uid_expunge() {
    let Fixture { server, transcript } = hiding(&["MOVE"]).await;
    let before = expected_messages(&server, USER);
    let (outcome, left, archived) = move_two(&server).await;
    assert!(
        !outcome.used_move && outcome.used_uid_expunge,
        "{outcome:?}"
    );
    let copyuid = outcome.copyuid.expect("COPYUID with UIDPLUS");
    assert_eq!(
        copyuid.pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(archived, 2);
    // UID 1, marked \Deleted but not moved, stays.
    let expected_left: Vec<u32> = before
        .keys()
        .copied()
        .filter(|u| ![2, 3].contains(u))
        .collect();
    assert_eq!(left, expected_left);
    let commands = client_commands(&transcript);
    assert!(!commands.iter().any(|c| c.contains("MOVE")), "{commands:?}");
    for needed in [
        "UID COPY 2:3 Archive",
        "UID STORE 2:3 +FLAGS.SILENT (\\Deleted)",
        "UID EXPUNGE 2:3",
    ] {
        assert!(
            commands.iter().any(|c| c == needed),
            "{needed}: {commands:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn uid_move_without_move_and_uidplus_never_expunges_other_deleted_messages() {
    let Fixture { server, transcript } = hiding(&["MOVE", "UIDPLUS"]).await;
    let before = expected_messages(&server, USER);
    let (outcome, left, archived) = move_two(&server).await;
    assert!(
        !outcome.used_move && !outcome.used_uid_expunge,
        "{outcome:?}"
    );
    assert_eq!(outcome.copyuid, None);
    assert_eq!(archived, 2);
    // UID 1 is marked \Deleted (by "another client"): a plain EXPUNGE would remove it too,
    // so nothing is expunged and the outcome says why.
    assert_eq!(outcome.withheld, [1]);
    assert_eq!(left, before.keys().copied().collect::<Vec<_>>());
    let commands = client_commands(&transcript);
    assert!(
        commands.iter().any(|c| c == "UID SEARCH DELETED"),
        "{commands:?}"
    );
    assert!(
        !commands
            .iter()
            .any(|c| c.contains("MOVE") || c.contains("EXPUNGE")),
        "{commands:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn expunge_only_without_uidplus_expunges_when_only_ours_are_deleted() {
    let Fixture { server, transcript } = hiding(&["UIDPLUS"]).await;
    let before = expected_messages(&server, USER);
    let mut client = connect(&server, Security::Tls).await;
    client
        .login(&Credentials::password(USER, PASSWORD), None)
        .await
        .unwrap();
    client.select("INBOX").await.unwrap();
    client
        .uid_store_flags(&[2, 3], StoreType::Add, &[Flag::Deleted])
        .await
        .unwrap();
    let outcome = client.expunge_only(&[2, 3]).await.unwrap();
    assert_eq!(outcome, ExpungeOutcome::Expunged);
    // Another client's \Deleted message now stops it.
    client
        .uid_store_flags(&[1], StoreType::Add, &[Flag::Deleted])
        .await
        .unwrap();
    client
        .uid_store_flags(&[4], StoreType::Add, &[Flag::Deleted])
        .await
        .unwrap();
    let outcome = client.expunge_only(&[4]).await.unwrap();
    assert_eq!(outcome, ExpungeOutcome::Withheld { others: vec![1] });
    client.logout().await.unwrap();
    let left: Vec<u32> = server
        .store()
        .messages(USER, "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let expected: Vec<u32> = before
        .keys()
        .copied()
        .filter(|u| ![2, 3].contains(u))
        .collect();
    assert_eq!(left, expected);
    let commands = client_commands(&transcript);
    assert_eq!(
        commands.iter().filter(|c| *c == "EXPUNGE").count(),
        1,
        "{commands:?}"
    );
    server.shutdown().await;
}
