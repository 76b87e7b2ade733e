//! The app over plain HTTP (no browser): what each response says and who may get it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use common::{PASSWORD, TOKEN, fixture};
use inbound_web::{APP_CSP, BODY_CSP, BODY_CSP_REMOTE_IMAGES, WebApp};

const BEACON: &str = "http://127.0.0.1:9";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }
}

async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_overview_lists_every_account_under_the_strict_policy() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let r = get(&router, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    for name in ["work", "home"] {
        assert!(html.contains(&format!("data-account=\"{name}\"")), "{html}");
    }
    assert!(html.contains("IMAP · tls"), "{html}");
    assert!(html.contains("imap.example.org:993"), "{html}");
    assert!(html.contains("replicate all"), "{html}");
    assert!(!html.contains("hunter2"), "a secret reached the page");
    assert_eq!(r.header("content-security-policy"), APP_CSP);
    assert!(APP_CSP.contains("default-src 'self'"));
    assert!(APP_CSP.contains("frame-ancestors 'none'"));
    assert!(APP_CSP.contains("object-src 'none'"));
    assert!(APP_CSP.contains("base-uri 'none'"));
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_message_view_frames_the_body_sandboxed_without_scripts() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let id = f.hostile.0;
    let r = get(&router, &format!("/messages/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    let frame = format!(
        "<iframe id=\"body\" title=\"Message body\" src=\"/messages/{id}/body\" \
         sandbox=\"allow-popups allow-popups-to-escape-sandbox\" referrerpolicy=\"no-referrer\">"
    );
    assert!(html.contains(&frame), "{html}");
    assert!(!html.contains("allow-same-origin") && !html.contains("allow-scripts"));
    assert!(html.contains("Hostile corpus"));
    assert!(
        html.contains("Mallory &#60;mallory@example.org&#62;")
            || html.contains("Mallory &lt;mallory@example.org&gt;"),
        "{html}"
    );
    // The text part is escaped, never markup.
    assert!(!html.contains("<script>x</script>"));
    assert!(html.contains(&format!("href=\"/messages/{id}?remote_images=1\"")));
    assert!(html.contains("page.html") && html.contains("image.svg"));
    // Only the app's own script.
    assert_eq!(html.matches("<script").count(), 0, "{html}");
}

#[tokio::test]
async fn the_body_carries_its_own_policy_and_no_active_content() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let id = f.hostile.0;
    let r = get(&router, &format!("/messages/{id}/body")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-security-policy"),
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; \
         img-src 'self' data:; style-src 'unsafe-inline'; font-src 'none'; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    );
    assert_eq!(r.header("content-security-policy"), BODY_CSP);
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
    assert!(r.header("content-type").starts_with("text/html"));
    let doc = r.text().to_ascii_lowercase();
    assert!(doc.contains("hostile greeting"), "{doc}");
    for bad in [
        "<script",
        "onload",
        "onerror",
        "ontoggle",
        "javascript:",
        "<svg",
        "<meta http-equiv",
        "<base",
        "<form",
        "<iframe",
        "<frame",
        "<object",
        "<embed",
        "srcdoc",
        "expression(",
    ] {
        assert!(!doc.contains(bad), "{bad} in {doc}");
    }
    // The beacon is left only in the link, which loads nothing until clicked.
    assert_eq!(
        doc.matches("127.0.0.1:9").count(),
        doc.matches("href=\"http://127.0.0.1:9/link\"").count(),
        "{doc}"
    );
    assert!(
        doc.contains(&format!("src=\"/messages/{id}/parts/0\"")),
        "{doc}"
    );
    assert!(doc.contains("target=\"_blank\"") && doc.contains("rel=\"noopener noreferrer\""));

    let r = get(&router, &format!("/messages/{id}/body?remote_images=1")).await;
    assert_eq!(r.header("content-security-policy"), BODY_CSP_REMOTE_IMAGES);
    assert!(BODY_CSP_REMOTE_IMAGES.contains("img-src 'self' data: https:;"));
    assert!(r.text().contains("127.0.0.1:9/remote-image.png"));
}

#[tokio::test]
async fn attachments_always_download_and_only_raster_images_keep_their_type() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let id = f.hostile.0;
    let parts = get(&router, &format!("/api/v1/messages/{id}/parts"))
        .await
        .json();
    let parts = parts.as_array().unwrap();
    let find = |name: &str| {
        parts
            .iter()
            .find(|p| p["filename"] == name)
            .unwrap_or_else(|| panic!("no {name} in {parts:?}"))["index"]
            .as_u64()
            .unwrap()
    };
    for (name, content_type) in [
        ("page.html", "application/octet-stream"),
        ("image.svg", "application/octet-stream"),
        ("logo.png", "image/png"),
    ] {
        for base in ["", "/api/v1"] {
            let r = get(
                &router,
                &format!("{base}/messages/{id}/parts/{}", find(name)),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{name}");
            assert_eq!(r.header("content-type"), content_type, "{name}");
            assert!(
                r.header("content-disposition")
                    .starts_with(&format!("attachment; filename=\"{name}\"")),
                "{name}: {}",
                r.header("content-disposition")
            );
            assert_eq!(r.header("x-content-type-options"), "nosniff");
            assert_eq!(r.header("content-security-policy"), BODY_CSP);
        }
    }
    let raw = get(&router, &format!("/messages/{id}/raw")).await;
    assert_eq!(raw.body, common::hostile_message(BEACON));
    assert_eq!(raw.header("content-type"), "application/octet-stream");
    assert!(
        raw.header("content-disposition")
            .starts_with(&format!("attachment; filename=\"{id}.eml\""))
    );
    let missing = get(&router, &format!("/messages/{id}/parts/99")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_lists_accounts_and_pages_messages() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let accounts = get(&router, "/api/v1/accounts").await.json();
    let names: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["work", "home"]);
    assert_eq!(accounts[0]["state"], "off");
    assert_eq!(accounts[0]["stored"], 8);
    assert!(!accounts.to_string().contains("hunter2"));

    let mut seen = Vec::new();
    let mut uri = "/api/v1/messages?account=work&limit=3".to_owned();
    loop {
        let page = get(&router, &uri).await.json();
        let list = page["messages"].as_array().unwrap();
        assert!(list.len() <= 3);
        seen.extend(list.iter().map(|m| m["id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/v1/messages?account=work&limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let search = get(&router, "/api/v1/messages?q=ann1@").await.json();
    let subjects: Vec<&str> = search["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");

    let id = f.plain[2].0;
    let m = get(&router, &format!("/api/v1/messages/{id}")).await.json();
    assert_eq!(m["id"], id);
    assert_eq!(m["subject"], "Note 2");
    assert_eq!(m["from"], "Ann <ann2@example.org>");
    assert_eq!(m["text"], "Note number 2.\r\n");
    assert_eq!(m["server_ref"], "imap:1:12");

    let bad = get(&router, "/api/v1/messages?after=nonsense").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["code"], "bad_request");
    let missing = get(&router, "/api/v1/messages/999999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let nowhere = get(&router, "/api/v1/nowhere").await;
    assert_eq!(nowhere.json()["error"]["code"], "not_found");
    assert_eq!(get(&router, "/healthz").await.json()["status"], "ok");
}

#[tokio::test]
async fn messages_show_their_attachment_count_and_pending_server_action() {
    use inbound_store::{NewMessage, PendingAction, ServerRef};
    let f = fixture(BEACON);
    {
        let mut store = f.store.lock().unwrap();
        for (uid, raw, action) in [
            (
                1,
                common::hostile_message(BEACON),
                Some(PendingAction::Delete),
            ),
            (
                2,
                common::plain_message(1),
                Some(PendingAction::MoveTo("Archive <old>".to_owned())),
            ),
            (3, common::plain_message(2), None),
        ] {
            let email = inbound_message::Email::parse(raw);
            let r = ServerRef::Imap {
                uidvalidity: 1,
                uid,
            };
            store
                .insert_message(
                    &NewMessage::new("home", "INBOX", &r, &email).with_action(action.as_ref()),
                )
                .unwrap();
        }
    }
    let router = f.app().router();
    let page = get(&router, "/accounts/home/messages").await.text();
    let row = |subject: &str| {
        page.split("<tr>")
            .find(|r| r.contains(subject))
            .unwrap_or_else(|| panic!("no row {subject}: {page}"))
            .to_owned()
    };
    let hostile = row("Hostile corpus");
    assert!(
        hostile.contains("<td class=\"pending\">delete</td>"),
        "{hostile}"
    );
    assert!(hostile.contains("<td class=\"count\">3</td>"), "{hostile}");
    assert!(
        row("Note 1").contains("<td class=\"pending\">move to Archive &#60;old&#62;</td>")
            || row("Note 1").contains("<td class=\"pending\">move to Archive &lt;old&gt;</td>"),
        "{}",
        row("Note 1")
    );
    assert!(
        row("Note 2").contains("<td class=\"pending\">none</td>"),
        "{}",
        row("Note 2")
    );
    assert!(
        row("Note 2").contains("<td class=\"count\">0</td>"),
        "{}",
        row("Note 2")
    );

    let list = get(&router, "/api/v1/messages?account=home").await.json();
    let by_subject = |subject: &str| {
        list["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["subject"] == subject)
            .unwrap()
            .clone()
    };
    let hostile = by_subject("Hostile corpus");
    assert_eq!(hostile["attachment_count"], 3, "{hostile}");
    assert_eq!(hostile["pending_action"]["action"], "delete");
    let moved = by_subject("Note 1");
    assert_eq!(moved["pending_action"]["action"], "move");
    assert_eq!(moved["pending_action"]["target"], "Archive <old>");
    let kept = by_subject("Note 2");
    assert_eq!(kept["attachment_count"], 0);
    assert!(kept["pending_action"].is_null(), "{kept}");
}

#[tokio::test]
async fn the_messages_page_pages_and_searches() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let first = get(&router, "/accounts/work/messages?limit=5").await.text();
    assert!(first.contains("8 stored message(s)"), "{first}");
    assert_eq!(first.matches("<a href=\"/messages/").count(), 5);
    let next = first
        .split("class=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let second = get(&router, &format!("{next}&limit=5")).await.text();
    assert_eq!(
        second.matches("<a href=\"/messages/").count(),
        3,
        "{second}"
    );
    let found = get(&router, "/accounts/work/messages?q=Hostile")
        .await
        .text();
    assert_eq!(found.matches("<a href=\"/messages/").count(), 1);
    assert_eq!(
        get(&router, "/accounts/nobody/messages").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn with_credentials_the_api_needs_a_token_and_pages_a_login() {
    let f = fixture(BEACON);
    let router = f.app_with_access().router();
    let r = get(&router, "/api/v1/accounts").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let wrong = send(
        &router,
        Request::get("/api/v1/accounts")
            .header(header::AUTHORIZATION, "Bearer not-the-token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = send(
        &router,
        Request::get("/api/v1/accounts")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(get(&router, "/healthz").await.status, StatusCode::OK);

    // Pages send to the login form; a wrong password gets no cookie.
    let page = get(&router, "/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), "/login");
    let login = |password: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(format!(
                "password={}",
                password.replace(' ', "+")
            )))
            .unwrap()
    };
    let bad = send(&router, login("guess")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.header("set-cookie").is_empty());
    let good = send(&router, login(PASSWORD)).await;
    let cookie = good.header("set-cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let page = send(
        &router,
        Request::get("/")
            .header(header::COOKIE, session)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("data-account=\"work\""));
    assert!(!page.text().contains(PASSWORD));
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused_even_with_a_token() {
    let f = fixture(BEACON);
    let router = f.app_with_access().router();
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "null"),
    ] {
        let r = send(
            &router,
            Request::post("/api/v1/accounts/work/retrieve")
                .header(header::HOST, "127.0.0.1:8025")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(name, value)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert_eq!(r.json()["error"]["code"], "cross_origin");
    }
    let page = send(
        &router,
        Request::post("/accounts/work/retrieve")
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn retrieve_now_runs_in_the_background_and_reports() {
    let f = fixture(BEACON);
    f.server.deliver("INBOX", common::plain_message(100));
    f.server.deliver("INBOX", common::plain_message(101));
    let router = f.app().router();
    let r = send(
        &router,
        Request::post("/api/v1/accounts/home/retrieve")
            .header(header::HOST, "127.0.0.1:8025")
            .header(header::ORIGIN, "http://127.0.0.1:8025")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let run = r.json()["run"].as_u64().unwrap();
    assert!(run >= 1);
    let mut account = Value::Null;
    for _ in 0..200 {
        account = get(&router, "/api/v1/accounts/home").await.json();
        if account["last_run"]["run"] == run {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(account["last_run"]["fetched"], 2, "{account}");
    assert_eq!(account["last_run"]["ok"], true);
    assert_eq!(account["state"], "off");
    assert_eq!(account["stored"], 2, "{account}");
    let unknown = send(
        &router,
        Request::post("/api/v1/accounts/nobody/retrieve")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_account_whose_refresh_token_was_refused_says_to_sign_in_again() {
    use inbound_retrieve::{
        AuthConfig, LoginSettings, OAuthProviderName, OAuthSettings, SecretSource,
    };
    let mut f = fixture(BEACON);
    f.accounts[1].auth = AuthConfig::OAuth(OAuthSettings::Login(LoginSettings {
        provider: OAuthProviderName::Microsoft,
        client_id: "desktop-app".to_owned(),
        client_secret: SecretSource::Stored("client_secret".to_owned()),
        refresh_token: SecretSource::Stored("refresh_token".to_owned()),
        tenant_id: None,
        authority: None,
        auth_url: None,
        token_url: None,
        device_url: None,
        scope: None,
    }));
    // What a run records when the token endpoint answers `invalid_grant`.
    f.store
        .lock()
        .unwrap()
        .mark_needs_login("home", "token endpoint: invalid_grant: <b>revoked</b>")
        .unwrap();
    let router = f.app().router();
    let accounts = get(&router, "/api/v1/accounts").await.json();
    assert_eq!(accounts[0]["state"], "off", "{accounts}");
    assert!(accounts[0]["needs_login"].is_null());
    assert_eq!(accounts[1]["state"], "needs_login", "{accounts}");
    assert_eq!(
        accounts[1]["needs_login"]["command"],
        "inbound accounts login home"
    );
    let one = get(&router, "/api/v1/accounts/home").await.json();
    assert_eq!(one["state"], "needs_login");

    let page = get(&router, "/").await.text();
    let row = page
        .split("<tr data-account=\"home\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert!(
        row.contains("needs sign-in: run `inbound accounts login home`"),
        "{row}"
    );
    assert!(
        !page.contains("<b>revoked"),
        "the reason is text, never markup"
    );

    // A new sign-in (`inbound accounts login`) clears the mark.
    assert!(f.store.lock().unwrap().clear_needs_login("home").unwrap());
    let accounts = get(&router, "/api/v1/accounts").await.json();
    assert_eq!(accounts[1]["state"], "off", "{accounts}");
}

/// A connector whose token endpoint refuses the refresh token (`invalid_grant`).
#[derive(Clone)]
struct RefusedGrant;

impl inbound_retrieve::Connector for RefusedGrant {
    type Imap = inbound_retrieve::backend::memory::MemoryImap;
    type Pop3 = inbound_retrieve::backend::memory::MemoryPop3;

    async fn connect_imap(
        &self,
        _: &inbound_retrieve::Account,
        _: &inbound_net::Credentials,
    ) -> inbound_retrieve::BackendResult<Self::Imap> {
        Err(refused())
    }

    async fn connect_pop3(
        &self,
        _: &inbound_retrieve::Account,
        _: &inbound_net::Credentials,
    ) -> inbound_retrieve::BackendResult<Self::Pop3> {
        Err(refused())
    }
}

fn refused() -> inbound_retrieve::BackendError {
    inbound_retrieve::BackendError::new(inbound_retrieve::ErrorKind::Auth, "token refused")
        .with_source(inbound_net::OAuthError::Endpoint {
            url: "https://login.example.org/token".to_owned(),
            error: "invalid_grant".to_owned(),
            description: Some("the refresh token was revoked".to_owned()),
            uri: None,
        })
}

#[tokio::test]
async fn retrieve_now_with_a_refused_refresh_token_shows_the_sign_in_to_run() {
    let f = fixture(BEACON);
    let router = WebApp::new(f.store.clone(), f.accounts.clone())
        .with_connector(RefusedGrant)
        .router();
    let r = send(
        &router,
        Request::post("/api/v1/accounts/home/retrieve")
            .header(header::HOST, "127.0.0.1:8025")
            .header(header::ORIGIN, "http://127.0.0.1:8025")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let run = r.json()["run"].as_u64().unwrap();
    let mut account = Value::Null;
    for _ in 0..200 {
        account = get(&router, "/api/v1/accounts/home").await.json();
        if account["last_run"]["run"] == run {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(account["last_run"]["ok"], false, "{account}");
    assert_eq!(account["state"], "needs_login", "{account}");
    assert!(
        account["last_event"]
            .as_str()
            .unwrap()
            .contains("needs sign-in: run `inbound accounts add home --secret refresh_token`"),
        "{account}"
    );
    let reason = account["needs_login"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("invalid_grant") && reason.contains("the refresh token was revoked"),
        "{account}"
    );
    // Another account is not affected.
    let work = get(&router, "/api/v1/accounts/work").await.json();
    assert_eq!(work["state"], "off", "{work}");
}

#[test]
fn a_non_loopback_address_needs_credentials() {
    let f = fixture(BEACON);
    let open = f.app();
    assert!(open.check_listen("127.0.0.1:8025".parse().unwrap()).is_ok());
    assert!(open.check_listen("[::1]:8025".parse().unwrap()).is_ok());
    let e = open
        .check_listen("0.0.0.0:8025".parse().unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("no [web] credentials"), "{e}");
    let guarded: WebApp = f.app_with_access();
    assert!(
        guarded
            .check_listen("0.0.0.0:8025".parse().unwrap())
            .is_ok()
    );
}

async fn wait_for(router: &Router, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..250 {
        last = get(router, "/api/v1/accounts/home").await.json();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {last}");
}

fn same_origin_post(uri: &str, method: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_subscription_shows_live_states_and_new_mail() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let r = send(
        &router,
        same_origin_post("/api/v1/accounts/home/subscription", "PUT"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    wait_for(&router, "idle", |a| a["state"] == "idle").await;
    let page = get(&router, "/").await.text();
    assert!(page.contains(">Unsubscribe</button>"), "{page}");
    f.server.deliver("INBOX", common::plain_message(200));
    let a = wait_for(&router, "the new message", |a| a["stored"] == 1).await;
    assert_eq!(a["state"], "idle");
    let r = send(
        &router,
        same_origin_post("/api/v1/accounts/home/subscription", "DELETE"),
    )
    .await;
    assert_eq!(r.json()["was_subscribed"], true);
    let a = wait_for(&router, "off", |a| a["state"] == "off").await;
    assert_eq!(a["last_event"], "unsubscribed");
}

#[tokio::test]
async fn test_connection_reports_each_step() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let r = send(
        &router,
        same_origin_post("/api/v1/accounts/work/test", "POST"),
    )
    .await;
    let body = r.json();
    assert_eq!(body["ok"], true, "{body}");
    let steps: Vec<&str> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["credentials", "connect, TLS and login", "select"]);
    let page = send(&router, same_origin_post("/accounts/work/test", "POST")).await;
    assert!(page.text().contains("connect, TLS and login"));
    assert!(!page.text().contains("hunter2"));
}

fn form_post(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| -> String {
                s.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                            char::from(b).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn the_account_form_round_trips_every_setting_and_never_returns_a_secret() {
    let key = inbound_store::EncryptionKey::generate().unwrap();
    let store = inbound_retrieve::share(inbound_store::Store::open_in_memory(Some(key)).unwrap());
    let router = WebApp::new(store.clone(), vec![common::account("work")]).router();
    let form = get(&router, "/accounts/new").await.text();
    for field in [
        "name",
        "host",
        "oauth.tenant_id",
        "max_message_size",
        "tcp_keepalive_probes",
    ] {
        assert!(form.contains(&format!("name=\"{field}\"")), "{field}");
    }
    let settings: &[(&str, &str)] = &[
        ("name", "added"),
        ("protocol", "imap"),
        ("host", "mail.example.net"),
        ("port", "1993"),
        ("security", "tls"),
        ("username", "me@example.net"),
        ("password", "s3cret-Passw0rd"),
        ("folder", "Lists"),
        ("fetch", "latest"),
        ("count", "25"),
        ("batch_size", "10"),
        ("after_receive", "move"),
        ("move_to", "Archive"),
        ("sanitize_html", "true"),
        ("timeout_secs", "45"),
        ("max_message_size", "10 MiB"),
        ("subscribe", "true"),
        ("idle_renew_secs", "600"),
    ];
    let r = send(&router, form_post("/accounts", settings)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let listed = get(&router, "/api/v1/accounts/added").await.json();
    assert_eq!(listed["host"], "mail.example.net");
    assert_eq!(listed["port"], 1993);
    assert_eq!(listed["policy"], "latest 25, batch 10, move to Archive");

    let edit = get(&router, "/accounts/added/edit").await.text();
    for (k, v) in settings.iter().filter(|(k, _)| *k != "password") {
        assert!(
            edit.contains(&format!("name=\"{k}\" value=\"{v}\"")) || *k == "max_message_size",
            "{k}={v} not shown back"
        );
    }
    assert!(
        !edit.contains("s3cret-Passw0rd"),
        "the password was sent back"
    );
    assert!(edit.contains("stored (blank keeps it)"));

    // A blank password keeps the stored one; a changed setting is saved.
    let mut changed: Vec<(&str, &str)> = settings
        .iter()
        .copied()
        .filter(|(k, _)| *k != "password")
        .collect();
    changed.push(("password", ""));
    changed.retain(|(k, _)| *k != "host");
    changed.push(("host", "mail2.example.net"));
    let r = send(&router, form_post("/accounts/added", &changed)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let saved = store
        .lock()
        .unwrap()
        .load_account("added")
        .unwrap()
        .unwrap();
    assert_eq!(saved.secrets["password"].expose(), "s3cret-Passw0rd");
    assert!(saved.config_json.contains("mail2.example.net"));
    assert!(!saved.config_json.contains("s3cret"));

    // The configuration file's messages, at the field.
    let mut bad: Vec<(&str, &str)> = changed.clone();
    bad.retain(|(k, _)| *k != "port");
    bad.push(("port", "99999"));
    let expected = inbound_retrieve::AccountConfig {
        name: Some("x".into()),
        protocol: Some(inbound_retrieve::MailProtocol::Imap),
        host: Some("h".into()),
        username: Some("u".into()),
        port: Some(99999),
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    let message = &expected
        .problems
        .iter()
        .find(|p| p.field == "port")
        .unwrap()
        .message;
    let r = send(&router, form_post("/accounts/added", &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text().contains(&format!("port: {message}")),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("s3cret"));

    // Accounts of the configuration file are changed there.
    let r = send(&router, form_post("/accounts/work", &changed)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = send(&router, same_origin_post("/api/v1/accounts/work", "DELETE")).await;
    assert_eq!(r.json()["error"]["code"], "conflict");

    let r = send(
        &router,
        same_origin_post("/api/v1/accounts/added", "DELETE"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        store
            .lock()
            .unwrap()
            .load_account("added")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        get(&router, "/api/v1/accounts/added").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn saving_an_account_needs_the_encryption_key() {
    let f = fixture(BEACON);
    let router = f.app().router();
    let r = send(
        &router,
        form_post(
            "/accounts",
            &[
                ("name", "nokey"),
                ("protocol", "imap"),
                ("host", "h.example.net"),
                ("username", "u"),
                ("password", "pw-value-123"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("INBOUND_ENCRYPTION_KEY"));
}

#[tokio::test]
async fn behind_tls_the_session_cookie_is_secure() {
    let f = fixture(BEACON);
    let router = f.app_with_access().with_secure_cookies(true).router();
    let r = send(
        &router,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(format!(
                "password={}",
                PASSWORD.replace(' ', "+")
            )))
            .unwrap(),
    )
    .await;
    let cookie = r.header("set-cookie");
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

fn json_request(method: &str, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_api_creates_updates_and_refuses_accounts_with_every_problem() {
    let key = inbound_store::EncryptionKey::generate().unwrap();
    let store = inbound_retrieve::share(inbound_store::Store::open_in_memory(Some(key)).unwrap());
    let router = WebApp::new(store.clone(), Vec::new()).router();
    let entra = serde_json::json!({
        "name": "entra", "protocol": "imap", "host": "outlook.office365.com",
        "username": "box@example.onmicrosoft.com",
        "oauth": {"provider": "entra", "tenant_id": "tenant-1", "client_id": "client-1",
                  "client_secret": "entra-Secret-value"},
    });
    let r = send(&router, json_request("POST", "/api/v1/accounts", &entra)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let got = get(&router, "/api/v1/accounts/entra").await;
    assert_eq!(got.json()["auth"], "XOAUTH2 (Entra ID)");
    assert!(!got.text().contains("entra-Secret-value"));
    let saved = store
        .lock()
        .unwrap()
        .load_account("entra")
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.secrets["client_secret"].expose(),
        "entra-Secret-value"
    );

    // The client secret left out is kept.
    let mut changed = entra.clone();
    changed["oauth"]["client_secret"] = Value::Null;
    changed["folder"] = "Reports".into();
    let r = send(
        &router,
        json_request("PUT", "/api/v1/accounts/entra", &changed),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let saved = store
        .lock()
        .unwrap()
        .load_account("entra")
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.secrets["client_secret"].expose(),
        "entra-Secret-value"
    );
    assert_eq!(
        get(&router, "/api/v1/accounts/entra").await.json()["folder"],
        "Reports"
    );

    let bad = serde_json::json!({"name": "bad", "protocol": "imap", "port": 0, "fetch": "latest"});
    let r = send(&router, json_request("POST", "/api/v1/accounts", &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.json();
    assert_eq!(body["error"]["code"], "invalid");
    let fields: Vec<&str> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for field in ["host", "username", "port"] {
        assert!(fields.contains(&field), "{field} not in {fields:?}");
    }
    let unknown = serde_json::json!({"name": "x", "colour": "blue"});
    let r = send(&router, json_request("POST", "/api/v1/accounts", &unknown)).await;
    assert_eq!(r.json()["error"]["code"], "bad_request");
}
