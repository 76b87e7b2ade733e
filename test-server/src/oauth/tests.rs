//! End-to-end tests of the token endpoint over raw HTTP.

use super::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends one request (with `Connection: close`) and returns (status, JSON body).
async fn post(endpoint: &TokenEndpoint, path: &str, body: &str) -> (u16, serde_json::Value) {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let text = exchange(endpoint, raw.as_bytes()).await;
    split_response(&text)
}

async fn exchange(endpoint: &TokenEndpoint, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(endpoint.local_addr()).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn split_response(text: &str) -> (u16, serde_json::Value) {
    let status: u16 = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    (status, serde_json::from_str(body).unwrap())
}

const CC: &str = "client_id=app&client_secret=s%3Dcret&scope=https%3A%2F%2Foutlook.office365.com%2F.default&grant_type=client_credentials";

async fn endpoint() -> TokenEndpoint {
    TokenEndpoint::start(TokenEndpointConfig::default().with_client("app", "s=cret"))
        .await
        .unwrap()
}

#[tokio::test]
async fn client_credentials_issues_a_valid_bearer_token() {
    let ep = endpoint().await;
    assert!(ep.authority().starts_with("http://127.0.0.1:"));
    let (status, json) = post(&ep, "/contoso/oauth2/v2.0/token", CC).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    let token = json["access_token"].as_str().unwrap();
    let info = ep.registry().validate(token).unwrap();
    assert_eq!(info.owner, "app");
    assert_eq!(info.grant, Grant::ClientCredentials);
    assert_eq!(
        info.scope.as_deref(),
        Some("https://outlook.office365.com/.default")
    );
    let stats = ep.registry().stats();
    assert_eq!(
        (
            stats.requests,
            stats.client_credentials_grants,
            stats.errors
        ),
        (1, 1, 0)
    );
    let recorded = ep.registry().requests();
    assert_eq!(recorded[0].tenant, "contoso");
    assert_eq!(recorded[0].client_id.as_deref(), Some("app"));
}

#[tokio::test]
async fn errors_look_like_entra() {
    let ep = endpoint().await;
    let path = "/t/oauth2/v2.0/token";
    let (status, json) = post(&ep, path, &CC.replace("s%3Dcret", "wrong")).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
    let (status, json) = post(&ep, path, &CC.replace("client_credentials", "password")).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, json) = post(
        &ep,
        path,
        "client_id=app&client_secret=s%3Dcret&grant_type=client_credentials",
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, json) = post(
        &ep,
        path,
        "grant_type=refresh_token&client_id=app&client_secret=s%3Dcret&refresh_token=nope",
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, json) = post(&ep, path, &CC.replace("client_id=app", "client_id=other")).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (status, _) = post(&ep, "/t/oauth2/token", CC).await;
    assert_eq!(status, 404);
    assert_eq!(ep.registry().issued_count(), 0);
    assert_eq!(ep.registry().stats().errors, 5); // the 404 is not a token request
}

#[tokio::test]
async fn wrong_method_content_type_tenant_and_scope_are_refused() {
    let ep = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .with_client("app", "s=cret")
            .with_tenants(["contoso"])
            .with_scopes(["https://outlook.office365.com/.default"]),
    )
    .await
    .unwrap();
    let (status, json) = post(&ep, "/fabrikam/oauth2/v2.0/token", CC).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, json) = post(
        &ep,
        "/contoso/oauth2/v2.0/token",
        &CC.replace("outlook.office365.com", "graph.microsoft.com"),
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let raw = "GET /contoso/oauth2/v2.0/token HTTP/1.1\r\nConnection: close\r\n\r\n";
    assert_eq!(split_response(&exchange(&ep, raw.as_bytes()).await).0, 405);
    let raw = format!(
        "POST /contoso/oauth2/v2.0/token HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CC}",
        CC.len()
    );
    let (status, json) = split_response(&exchange(&ep, raw.as_bytes()).await);
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn basic_auth_and_keep_alive() {
    let ep = endpoint().await;
    let body = "scope=x%2F.default&grant_type=client_credentials";
    // "app:s%3Dcret" in base64: client_secret_basic form-encodes inside.
    let auth = STANDARD.encode("app:s%3Dcret");
    let one = format!(
        "POST /t/oauth2/v2.0/token HTTP/1.1\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let last = one.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    let text = exchange(&ep, format!("{one}{last}").as_bytes()).await;
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(ep.registry().issued_count(), 2);
}

#[tokio::test]
async fn refresh_grant_with_rotation() {
    let ep = endpoint().await;
    let reg = ep.registry();
    reg.add_public_client("desktop");
    reg.set_refresh_token_rotation(true);
    reg.set_access_token_lifetime(Duration::from_secs(5));
    let rt = reg.issue_refresh_token("desktop", "alice@example.test", Some("offline_access"));
    let form = format!("grant_type=refresh_token&client_id=desktop&refresh_token={rt}");
    let (status, json) = post(&ep, "/common/oauth2/v2.0/token", &form).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["expires_in"], 5);
    let new_rt = json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_rt, rt);
    let info = reg
        .authorize(json["access_token"].as_str().unwrap(), "alice@example.test")
        .unwrap();
    assert_eq!(info.grant, Grant::RefreshToken);
    // Another client cannot use the new one.
    let (status, json) = post(
        &ep,
        "/common/oauth2/v2.0/token",
        &format!(
            "grant_type=refresh_token&client_id=app&client_secret=s%3Dcret&refresh_token={new_rt}"
        ),
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The old refresh token presented again is reuse: refused, and the new one is revoked
    // with it (the whole family).
    let (status, json) = post(&ep, "/common/oauth2/v2.0/token", &form).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = post(
        &ep,
        "/common/oauth2/v2.0/token",
        &form.replace(&rt, &new_rt),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(reg.stats().refresh_token_grants, 1);
    // A public client may not use client credentials.
    let (status, json) = post(
        &ep,
        "/common/oauth2/v2.0/token",
        "grant_type=client_credentials&client_id=desktop&scope=x",
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn injected_failures_then_recovery() {
    let ep = endpoint().await;
    ep.registry().fail_next_requests(1);
    let (status, json) = post(&ep, "/t/oauth2/v2.0/token", CC).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(post(&ep, "/t/oauth2/v2.0/token", CC).await.0, 200);
}

#[tokio::test]
async fn oversized_body_is_refused_and_shutdown_stops_listening() {
    let ep = endpoint().await;
    let raw = format!(
        "POST /t/oauth2/v2.0/token HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        DEFAULT_MAX_BODY + 1
    );
    assert_eq!(split_response(&exchange(&ep, raw.as_bytes()).await).0, 413);
    let addr = ep.local_addr();
    ep.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn curl_gets_a_token_when_installed() {
    let Ok(curl) = which("curl") else {
        eprintln!("skipped: curl not installed");
        return;
    };
    let ep = endpoint().await;
    let url = ep.token_url("contoso");
    let out = tokio::process::Command::new(curl)
        .args(["-s", "-d", CC, &url])
        .output()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        ep.registry()
            .validate(json["access_token"].as_str().unwrap())
            .is_ok(),
        "{json}"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// `GET {target}` and returns the raw answer.
async fn get(endpoint: &TokenEndpoint, target: &str) -> String {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    exchange(endpoint, raw.as_bytes()).await
}

fn location(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap_or_else(|| panic!("no redirect: {answer}"))
        .to_owned()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

fn challenge() -> String {
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER))
}

/// `/authorize` for `desktop` as alice; returns the code.
async fn authorize_code(ep: &TokenEndpoint) -> String {
    let target = format!(
        "/common/oauth2/v2.0/authorize?response_type=code&client_id=desktop&\
         redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&state=s1&code_challenge={}&\
         code_challenge_method=S256&login_hint=alice&scope=offline_access",
        challenge()
    );
    let answer = get(ep, &target).await;
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    let to = location(&answer);
    assert!(to.starts_with("http://127.0.0.1:4711/?"), "{to}");
    assert_eq!(query_value(&to, "state").as_deref(), Some("s1"));
    query_value(&to, "code").unwrap()
}

fn code_form(code: &str, verifier: &str) -> String {
    format!(
        "grant_type=authorization_code&client_id=desktop&code={code}&\
         redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&code_verifier={verifier}"
    )
}

#[tokio::test]
async fn authorization_code_checks_the_pkce_verifier_and_is_single_use() {
    let ep = endpoint().await;
    ep.registry().add_public_client("desktop");
    let path = "/common/oauth2/v2.0/token";

    let code = authorize_code(&ep).await;
    let (status, json) = post(&ep, path, &code_form(&code, "wrong-verifier")).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("Code_Verifier")
    );

    let code = authorize_code(&ep).await;
    let (status, json) = post(&ep, path, &code_form(&code, VERIFIER)).await;
    assert_eq!(status, 200, "{json}");
    let access = json["access_token"].as_str().unwrap();
    assert_eq!(
        ep.registry().authorize(access, "alice").unwrap().grant,
        Grant::AuthorizationCode
    );
    assert!(json["refresh_token"].as_str().is_some());
    let (status, json) = post(&ep, path, &code_form(&code, VERIFIER)).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A redirect URI that is not loopback: no redirect at all.
    let answer = get(
        &ep,
        "/common/oauth2/v2.0/authorize?response_type=code&client_id=desktop&\
         redirect_uri=https%3A%2F%2Fevil.example%2F&state=s&code_challenge=x&code_challenge_method=S256",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("AADSTS50011"), "{answer}");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let ep = endpoint().await;
    let reg = ep.registry();
    reg.add_public_client("desktop");
    reg.set_refresh_token_rotation(true);
    let path = "/common/oauth2/v2.0/token";
    let code = authorize_code(&ep).await;
    let (_, json) = post(&ep, path, &code_form(&code, VERIFIER)).await;
    let first = json["refresh_token"].as_str().unwrap().to_owned();
    let refresh =
        |rt: &str| format!("grant_type=refresh_token&client_id=desktop&refresh_token={rt}");

    let (status, json) = post(&ep, path, &refresh(&first)).await;
    assert_eq!(status, 200, "{json}");
    let second = json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(reg.is_refresh_token_valid(&second));

    // The old token again (a leaked copy): refused, and the current one is revoked too.
    let (status, json) = post(&ep, path, &refresh(&first)).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("used after it had been replaced")
    );
    assert!(!reg.is_refresh_token_valid(&second));
    let (status, _) = post(&ep, path, &refresh(&second)).await;
    assert_eq!(status, 400);
    assert_eq!(reg.stats().refresh_token_reuses, 1);
}
