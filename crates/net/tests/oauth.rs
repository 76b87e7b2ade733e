//! OAuth token providers against the fake Entra ID token endpoint of the test server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_net::OAuthError;
use inbound_net::oauth::{
    ClientCredentialsProvider, Clock, DEFAULT_ENTRA_SCOPE, EntraClientCredentials,
    RefreshTokenConfig, RefreshTokenProvider, StaticToken, TokenProvider,
};
use inbound_test_server::oauth::{TokenEndpoint, TokenEndpointConfig};

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }
    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap()
    }
}

async fn endpoint() -> TokenEndpoint {
    TokenEndpoint::start(
        TokenEndpointConfig::default()
            .with_client("app-id", "app-secret")
            .with_tenants(["contoso"])
            .with_scopes([DEFAULT_ENTRA_SCOPE]),
    )
    .await
    .unwrap()
}

fn entra(endpoint: &TokenEndpoint, secret: &str) -> ClientCredentialsProvider {
    ClientCredentialsProvider::new(
        EntraClientCredentials::new("contoso", "app-id", secret)
            .with_authority(endpoint.authority()),
    )
    .unwrap()
}

#[tokio::test]
async fn client_credentials_token_is_accepted_by_the_registry() {
    let endpoint = endpoint().await;
    let provider = entra(&endpoint, "app-secret");
    assert_eq!(provider.token_url(), endpoint.token_url("contoso"));
    let token = provider.token().await.unwrap();
    let info = endpoint
        .registry()
        .validate(token.secret().expose())
        .unwrap();
    assert_eq!(info.owner, "app-id");
    assert!(token.expires_at().is_some());

    let requests = endpoint.registry().requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].tenant, "contoso");
    assert_eq!(
        requests[0].grant_type.as_deref(),
        Some("client_credentials")
    );
    assert_eq!(requests[0].client_id.as_deref(), Some("app-id"));
    assert_eq!(requests[0].scope.as_deref(), Some(DEFAULT_ENTRA_SCOPE));
    assert_eq!(requests[0].error, None);
    // No secret in Debug.
    assert!(!format!("{provider:?}").contains("app-secret"));
    assert!(!format!("{token:?}").contains(token.secret().expose()));
}

#[tokio::test]
async fn wrong_secret_gives_the_endpoint_error_and_description() {
    let endpoint = endpoint().await;
    let provider = entra(&endpoint, "wrong-secret");
    let err = provider.token().await.unwrap_err();
    match &err {
        OAuthError::Endpoint {
            url,
            error,
            description,
            ..
        } => {
            assert_eq!(url, &endpoint.token_url("contoso"));
            assert_eq!(error, "invalid_client");
            assert!(
                description.as_deref().unwrap().contains("AADSTS7000215"),
                "{description:?}"
            );
        }
        other => panic!("expected an endpoint error, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains("invalid_client") && shown.contains("Invalid client secret"),
        "{shown}"
    );
    assert!(!shown.contains("wrong-secret"));
}

#[tokio::test]
async fn unknown_tenant_is_an_endpoint_error() {
    let endpoint = endpoint().await;
    let provider = ClientCredentialsProvider::new(
        EntraClientCredentials::new("fabrikam", "app-id", "app-secret")
            .with_authority(endpoint.authority()),
    )
    .unwrap();
    let err = provider.token().await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Endpoint { error, .. } if error == "invalid_request"),
        "{err:?}"
    );
}

#[tokio::test]
async fn tokens_are_cached_and_shared_by_concurrent_callers() {
    let endpoint = endpoint().await;
    let provider = Arc::new(entra(&endpoint, "app-secret"));
    let first = provider.token().await.unwrap();
    let second = provider.token().await.unwrap();
    assert_eq!(first.secret().expose(), second.secret().expose());
    assert_eq!(endpoint.registry().stats().requests, 1);

    provider.invalidate();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(
                async move { provider.token().await.unwrap().secret().expose().to_owned() },
            )
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_ne!(tokens[0], first.secret().expose());
    assert_eq!(
        endpoint.registry().stats().requests,
        2,
        "one request for six callers"
    );
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let endpoint = endpoint().await;
    let clock = ManualClock::new();
    let provider = entra(&endpoint, "app-secret").with_clock(clock.clone());
    let first = provider.token().await.unwrap();
    // Default lifetime 3600 s; refreshed 360 s before the end.
    clock.advance(Duration::from_secs(3200));
    assert_eq!(
        provider.token().await.unwrap().secret().expose(),
        first.secret().expose()
    );
    assert_eq!(endpoint.registry().stats().requests, 1);
    clock.advance(Duration::from_secs(100));
    let second = provider.token().await.unwrap();
    assert_ne!(second.secret().expose(), first.secret().expose());
    assert_eq!(endpoint.registry().stats().requests, 2);
    assert!(
        endpoint
            .registry()
            .validate(second.secret().expose())
            .is_ok()
    );
}

#[tokio::test]
async fn short_lifetimes_are_honoured() {
    let endpoint = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .with_client("app-id", "app-secret")
            .with_access_token_lifetime(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let clock = ManualClock::new();
    let provider = entra(&endpoint, "app-secret").with_clock(clock.clone());
    let first = provider.token().await.unwrap();
    clock.advance(Duration::from_secs(14));
    assert_eq!(
        provider.token().await.unwrap().secret().expose(),
        first.secret().expose()
    );
    clock.advance(Duration::from_secs(2)); // past 30 - 15
    assert_ne!(
        provider.token().await.unwrap().secret().expose(),
        first.secret().expose()
    );
}

#[tokio::test]
async fn invalidate_fetches_a_new_token() {
    let endpoint = endpoint().await;
    let provider = entra(&endpoint, "app-secret");
    let first = provider.token().await.unwrap();
    provider.invalidate();
    let second = provider.token().await.unwrap();
    assert_ne!(first.secret().expose(), second.secret().expose());
    assert_eq!(endpoint.registry().stats().requests, 2);
    assert_eq!(endpoint.registry().issued_count(), 2);
}

#[tokio::test]
async fn transient_failure_is_typed_and_the_next_call_recovers() {
    let endpoint = endpoint().await;
    endpoint.registry().fail_next_requests(1);
    let provider = entra(&endpoint, "app-secret");
    let err = provider.token().await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Endpoint { error, .. } if error == "temporarily_unavailable"),
        "{err:?}"
    );
    assert!(provider.token().await.is_ok());
}

#[tokio::test]
async fn refresh_token_flow_with_rotation() {
    let endpoint = endpoint().await;
    let registry = endpoint.registry();
    registry.add_client("desktop", "desktop-secret");
    registry.set_refresh_token_rotation(true);
    let scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
    let original = registry.issue_refresh_token("desktop", "alice@contoso.com", Some(scope));

    let provider = RefreshTokenProvider::new(
        RefreshTokenConfig::microsoft("contoso", "desktop", original.as_str())
            .with_token_url(endpoint.token_url("contoso"))
            .with_client_secret("desktop-secret"),
    )
    .unwrap();
    let token = provider.token().await.unwrap();
    assert_eq!(
        registry.validate(token.secret().expose()).unwrap().owner,
        "alice@contoso.com"
    );
    let request = registry.requests().pop().unwrap();
    assert_eq!(request.grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(request.scope.as_deref(), Some(scope));

    let rotated = provider.refresh_token();
    assert_ne!(
        rotated.expose(),
        original,
        "the rotated refresh token is kept"
    );
    provider.invalidate();
    let again = provider.token().await.unwrap();
    assert_ne!(again.secret().expose(), token.secret().expose());
    assert_eq!(registry.stats().refresh_token_grants, 2);
    assert!(!format!("{provider:?}").contains(rotated.expose()));
}

#[tokio::test]
async fn revoked_refresh_token_is_invalid_grant() {
    let endpoint = endpoint().await;
    let registry = endpoint.registry();
    registry.add_client("desktop", "desktop-secret");
    let rt = registry.issue_refresh_token("desktop", "bob@contoso.com", None);
    assert!(registry.revoke(&rt));
    let provider = RefreshTokenProvider::new(
        RefreshTokenConfig::new(endpoint.token_url("contoso"), "desktop", rt.as_str())
            .with_client_secret("desktop-secret"),
    )
    .unwrap();
    let err = provider.token().await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Endpoint { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&rt));
}

#[tokio::test]
async fn static_token_never_changes() {
    let provider: Arc<dyn TokenProvider> = Arc::new(StaticToken::new("abc.def"));
    assert_eq!(provider.token().await.unwrap().secret().expose(), "abc.def");
    provider.invalidate();
    assert_eq!(provider.token().await.unwrap().secret().expose(), "abc.def");
    assert!(!format!("{provider:?}").contains("abc.def"));
}

#[tokio::test]
async fn refused_connection_is_an_http_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = ClientCredentialsProvider::new(
        EntraClientCredentials::new("t", "id", "s")
            .with_authority(format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let err = provider.token().await.unwrap_err();
    assert!(matches!(err, OAuthError::Http { .. }), "{err:?}");
}
