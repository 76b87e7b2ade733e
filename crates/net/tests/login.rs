//! Delegated logins (authorization code + PKCE, device code) against the test server's fake
//! authority, the browser played by an HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use inbound_net::oauth::{
    AuthorizationCodeLogin, DeviceLogin, LoginConfig, LoginError, MICROSOFT_IMAP_SCOPE,
    RefreshTokenConfig, RefreshTokenProvider, TokenProvider,
};
use inbound_test_server::oauth::{Consent, TokenEndpoint, TokenEndpointConfig};

async fn endpoint() -> TokenEndpoint {
    let config = TokenEndpointConfig::default();
    config.registry.add_public_client("desktop-app");
    config.registry.add_client("web-app", "web-secret");
    TokenEndpoint::start(config).await.unwrap()
}

fn microsoft(ep: &TokenEndpoint, client: &str) -> LoginConfig {
    LoginConfig::microsoft(
        Some(&ep.authority()),
        "common",
        client,
        MICROSOFT_IMAP_SCOPE,
    )
    .with_login_hint("alice")
    .with_timeout(Duration::from_secs(20))
}

/// An HTTP client (our rustls configuration: no process-wide provider).
fn http() -> reqwest::Client {
    let tls = inbound_net::TlsConfig::new().client_config().unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
        .build()
        .unwrap()
}

/// The browser: follows the authorization URL and its redirect to the loopback listener.
async fn browse(url: &str) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_yields_tokens_for_the_user() {
    let ep = endpoint().await;
    let login = AuthorizationCodeLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    // The Microsoft preset redirects to localhost, as its app registrations list it.
    assert!(login.redirect_uri().starts_with("http://localhost:"));
    let url = login.url().to_owned();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains("login_hint=alice"), "{url}");
    let finish = tokio::spawn(login.finish());
    let page = browse(&url).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Signed in"));
    let tokens = finish.await.unwrap().unwrap();
    let info = ep
        .registry()
        .authorize(tokens.access_token.expose(), "alice")
        .unwrap();
    assert_eq!(info.owner, "alice");
    assert!(
        ep.registry()
            .is_refresh_token_valid(tokens.refresh_token.expose())
    );

    // The refresh token works for the ordinary refresh-token provider.
    let provider = RefreshTokenProvider::new(RefreshTokenConfig::new(
        ep.token_url("common"),
        "desktop-app",
        tokens.refresh_token,
    ))
    .unwrap();
    let token = provider.token().await.unwrap();
    assert!(
        ep.registry()
            .authorize(token.secret().expose(), "alice")
            .is_ok()
    );
}

#[tokio::test]
async fn a_confidential_client_sends_its_secret_and_a_wrong_one_is_named() {
    let ep = endpoint().await;
    let login = AuthorizationCodeLogin::start(
        microsoft(&ep, "web-app").with_client_secret("not-the-secret"),
    )
    .await
    .unwrap();
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    browse(&url).await;
    let err = finish.await.unwrap().unwrap_err();
    assert!(matches!(err, LoginError::WrongClient { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("check client_id and the client secret"),
        "{err}"
    );

    let login =
        AuthorizationCodeLogin::start(microsoft(&ep, "web-app").with_client_secret("web-secret"))
            .await
            .unwrap();
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    browse(&url).await;
    assert!(finish.await.unwrap().is_ok());
}

#[tokio::test]
async fn denied_consent_is_reported() {
    let ep = endpoint().await;
    ep.registry().set_consent(Consent::Deny);
    let login = AuthorizationCodeLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    assert_eq!(browse(&url).await.status(), 400);
    let err = finish.await.unwrap().unwrap_err();
    assert!(matches!(err, LoginError::Denied { .. }), "{err:?}");
    assert!(err.to_string().starts_with("consent was denied"), "{err}");
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused() {
    let ep = endpoint().await;
    let login = AuthorizationCodeLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    let forged = format!("{}?code=stolen&state=not-ours", login.redirect_uri());
    let finish = tokio::spawn(login.finish());
    assert_eq!(browse(&forged).await.status(), 400);
    let err = finish.await.unwrap().unwrap_err();
    assert!(matches!(err, LoginError::StateMismatch), "{err:?}");
    assert_eq!(ep.registry().stats().authorization_code_grants, 0);
}

#[tokio::test]
async fn an_unknown_client_gets_no_redirect_and_the_login_times_out() {
    let ep = endpoint().await;
    let login = AuthorizationCodeLogin::start(
        microsoft(&ep, "nobody").with_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap();
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    let page = browse(&url).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("AADSTS700016"));
    let err = finish.await.unwrap().unwrap_err();
    assert!(matches!(err, LoginError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("no sign-in within"), "{err}");
}

/// The person approves the code over HTTP, as on the verification page.
async fn approve(ep: &TokenEndpoint, user_code: &str, path: &str) {
    let answer = http()
        .post(format!("{}{path}", ep.authority()))
        .form(&[("user_code", user_code), ("user", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn device_code_login_polls_through_pending_and_slow_down() {
    let ep = endpoint().await;
    ep.registry().set_device_poll_interval(0);
    ep.registry().slow_down_next_polls(1);
    let login = DeviceLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    assert_eq!(
        login.verification_uri(),
        format!("{}/device", ep.authority())
    );
    let code = login.user_code().to_owned();
    let finish = tokio::spawn(login.finish());
    tokio::time::sleep(Duration::from_millis(300)).await;
    approve(&ep, &code, "/device/approve").await;
    let tokens = finish.await.unwrap().unwrap();
    assert!(
        ep.registry()
            .authorize(tokens.access_token.expose(), "alice")
            .is_ok()
    );
    let stats = ep.registry().stats();
    assert_eq!(stats.device_code_grants, 1);
    assert_eq!(stats.errors, 1, "slow_down answered once: {stats:?}");
}

#[tokio::test]
async fn device_code_denied_after_pending_and_expired() {
    let ep = endpoint().await;
    ep.registry().set_device_poll_interval(1);
    let login = DeviceLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    let code = login.user_code().to_owned();
    let finish = tokio::spawn(login.finish());
    tokio::time::sleep(Duration::from_millis(300)).await;
    approve(&ep, &code, "/device/deny").await;
    let err = finish.await.unwrap().unwrap_err();
    assert!(matches!(err, LoginError::Denied { .. }), "{err:?}");
    let answered: Vec<_> = ep
        .registry()
        .requests()
        .into_iter()
        .map(|r| r.error)
        .collect();
    assert_eq!(
        answered,
        [
            Some("authorization_pending".to_owned()),
            Some("access_denied".to_owned())
        ]
    );

    ep.registry()
        .set_device_code_lifetime(Duration::from_millis(300));
    let login = DeviceLogin::start(microsoft(&ep, "desktop-app"))
        .await
        .unwrap();
    let err = login.finish().await.unwrap_err();
    assert!(matches!(err, LoginError::DeviceCodeExpired), "{err:?}");
    assert!(err.to_string().contains("device code expired"), "{err}");
}

#[tokio::test]
async fn google_refuses_the_device_flow_for_mail() {
    let err = DeviceLogin::start(LoginConfig::google("id.apps.googleusercontent.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::DeviceFlowUnsupported(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "Google does not allow mail scopes (https://mail.google.com/) in its device flow"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn other_providers_redirect_to_127_0_0_1() {
    let ep = endpoint().await;
    let config = LoginConfig::new(
        format!("{}/t/oauth2/v2.0/authorize", ep.authority()),
        ep.token_url("t"),
        "desktop-app",
    )
    .with_scopes(["offline_access"])
    .with_login_hint("alice");
    let login = AuthorizationCodeLogin::start(config).await.unwrap();
    assert!(login.redirect_uri().starts_with("http://127.0.0.1:"));
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    assert_eq!(browse(&url).await.status(), 200);
    assert!(finish.await.unwrap().is_ok());
}

#[test]
fn presets_fill_endpoints_and_scopes() {
    let m = LoginConfig::microsoft(None, "organizations", "id", MICROSOFT_IMAP_SCOPE);
    assert_eq!(
        m.auth_url,
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    );
    assert_eq!(
        m.device_url.as_deref(),
        Some("https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode")
    );
    assert_eq!(m.scopes, [MICROSOFT_IMAP_SCOPE, "offline_access"]);
    let us = LoginConfig::microsoft(Some("https://login.microsoftonline.us/"), "t", "id", "s");
    assert_eq!(
        us.token_url,
        "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    );
    let g = LoginConfig::google("id").with_client_secret("cs-value");
    assert_eq!(g.scopes, ["https://mail.google.com/"]);
    assert!(!format!("{g:?}").contains("cs-value"));
}

fn tls(server: &inbound_test_server::server::TestServer) -> inbound_net::TlsConfig {
    inbound_net::TlsConfig::new()
        .with_builtin_roots(false)
        .with_ca_file(server.ca_file())
}

#[tokio::test]
async fn a_persons_token_logs_in_with_xoauth2_and_oauthbearer_over_imap_and_pop3() {
    use inbound_net::sasl::Mechanism;
    use inbound_net::{Credentials, ImapClient, Pop3Client, Security, imap, pop3};
    use inbound_test_server::server::{ServerConfig, TestServer};

    let config = ServerConfig::default().user("alice", "pw-alice");
    config.registry.add_public_client("desktop-app");
    let server = TestServer::start(config).await.unwrap();
    let login = AuthorizationCodeLogin::start(
        LoginConfig::microsoft(
            Some(&server.oauth_authority()),
            "common",
            "desktop-app",
            MICROSOFT_IMAP_SCOPE,
        )
        .with_login_hint("alice"),
    )
    .await
    .unwrap();
    let url = login.url().to_owned();
    let finish = tokio::spawn(login.finish());
    assert_eq!(browse(&url).await.status(), 200);
    let tokens = finish.await.unwrap().unwrap();
    let provider = std::sync::Arc::new(
        RefreshTokenProvider::new(RefreshTokenConfig::new(
            server.oauth_token_url("common"),
            "desktop-app",
            tokens.refresh_token,
        ))
        .unwrap(),
    );
    let credentials = Credentials::oauth("alice", provider);
    for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        let config = imap::ImapConfig::new("localhost", Security::Tls)
            .with_port(server.imaps_addr().port())
            .with_tls(tls(&server));
        let mut client = ImapClient::connect(&config).await.unwrap();
        let info = client
            .login(&credentials, Some(imap::AuthMethod::Sasl(mechanism)))
            .await
            .unwrap_or_else(|e| panic!("IMAP {mechanism:?}: {e}"));
        assert_eq!(info.method, imap::AuthMethod::Sasl(mechanism));
        assert!(client.examine("INBOX").await.unwrap().exists > 0);
        client.logout().await.unwrap();

        let config = pop3::Pop3Config::new("localhost", Security::Tls)
            .with_port(server.pop3s_addr().port())
            .with_tls(tls(&server));
        let mut client = Pop3Client::connect(&config).await.unwrap();
        let info = client
            .login(&credentials, Some(pop3::AuthMethod::Sasl(mechanism)))
            .await
            .unwrap_or_else(|e| panic!("POP3 {mechanism:?}: {e}"));
        assert_eq!(info.method, pop3::AuthMethod::Sasl(mechanism));
        assert!(client.stat().await.unwrap().count > 0);
        client.quit().await.unwrap();
    }
    server.shutdown().await;
}
