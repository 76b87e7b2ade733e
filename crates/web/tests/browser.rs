//! The app in a real browser: headless Chromium (the one installed, never a download)
//! driven over the DevTools protocol. Skipped with a message when no browser is found,
//! unless `INBOUND_REQUIRE_BROWSER=1`.
//!
//! The hostile corpus's every payload would change the page title or make a request to a
//! beacon listening on 127.0.0.1 (HTTPS, so that a remote image allowed by "Load remote
//! images" can reach it); the tests count what arrives there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::browser::{
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use common::{Fixture, fixture};

/// The installed Chromium: `INBOUND_CHROMIUM`, else the first of the usual names on PATH.
fn find_browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("INBOUND_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The browser, or `None` (the test is skipped) when there is none and none is required.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match find_browser() {
        Some(p) => Some(p),
        None if std::env::var("INBOUND_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("INBOUND_REQUIRE_BROWSER=1 but no chromium found (apt-get install chromium)")
        }
        None => {
            eprintln!("skipping {test}: no chromium found (apt-get install chromium to run it)");
            None
        }
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Requests the beacon received: the request lines.
#[derive(Clone, Default)]
struct Beacon {
    requests: Arc<Mutex<Vec<String>>>,
}

impl Beacon {
    fn seen(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// An HTTPS listener on 127.0.0.1 (self-signed certificate) recording every request.
async fn start_beacon() -> (String, Beacon) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let beacon = Beacon::default();
    let record = beacon.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let line = head.lines().next().unwrap_or("").to_owned();
                if !line.is_empty() {
                    record.requests.lock().unwrap().push(line);
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://{addr}"), beacon)
}

/// Serves the fixture's app on 127.0.0.1; its base URL.
async fn serve(f: &Fixture) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = f.app();
    tokio::spawn(app.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

struct Chrome {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
    downloads: tempfile::TempDir,
}

async fn launch(executable: &Path) -> Chrome {
    let profile = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let mut config = BrowserConfig::builder()
        .chrome_executable(executable)
        .new_headless_mode()
        .user_data_dir(profile.path())
        .window_size(1280, 900)
        .args([
            "--ignore-certificate-errors",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-domain-reliability",
            "--dns-prefetch-disable",
            "--no-first-run",
            "--no-pings",
        ]);
    if running_as_root() {
        config = config.no_sandbox();
    }
    let (browser, mut handler) = Browser::launch(config.build().unwrap()).await.unwrap();
    let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
    browser
        .execute(
            SetDownloadBehaviorParams::builder()
                .behavior(SetDownloadBehaviorBehavior::Allow)
                .download_path(downloads.path().display().to_string())
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    Chrome {
        browser,
        handler,
        _profile: profile,
        downloads,
    }
}

impl Chrome {
    async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

async fn eval<T: serde::de::DeserializeOwned>(page: &Page, js: &str) -> T {
    page.evaluate(js).await.unwrap().into_value().unwrap()
}

/// Lets the page load what it is going to load.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

async fn screenshot(page: &Page, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = page
        .screenshot(ScreenshotParams::builder().full_page(true).build())
        .await
        .unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_runs_nothing_and_loads_nothing_until_asked() {
    let Some(exe) = browser_or_skip("hostile_mail_runs_nothing_and_loads_nothing_until_asked")
    else {
        return;
    };
    let (beacon_url, beacon) = start_beacon().await;
    let f = fixture(&beacon_url);
    let base = serve(&f).await;
    let chrome = launch(&exe).await;
    let id = f.hostile.0;

    let page = chrome.browser.new_page(format!("{base}/")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    let names: Vec<String> = eval(
        &page,
        "Array.from(document.querySelectorAll('tr[data-account]')).map(r => r.dataset.account)",
    )
    .await;
    assert_eq!(names, ["work", "home"]);
    screenshot(&page, "overview.png").await;
    page.goto(format!("{base}/accounts/work/messages"))
        .await
        .unwrap();
    page.wait_for_navigation().await.unwrap();
    let rows: i64 = eval(
        &page,
        "document.querySelectorAll('table.messages tbody tr').length",
    )
    .await;
    assert_eq!(rows, 8);
    screenshot(&page, "messages.png").await;
    page.goto(format!("{base}/accounts/new")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    let secrets: i64 = eval(
        &page,
        "document.querySelectorAll('input[type=password]').length",
    )
    .await;
    assert_eq!(secrets, 4);
    screenshot(&page, "account-form.png").await;

    page.goto(format!("{base}/messages/{id}")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    settle().await;
    let title: String = eval(&page, "document.title").await;
    assert_eq!(title, "Hostile corpus · inbound");
    // The frame is another origin (sandboxed without allow-same-origin): the page cannot
    // reach into it, and so nothing in it can reach out.
    let reachable: bool = eval(
        &page,
        "(() => { try { return document.getElementById('body').contentDocument !== null; } \
         catch (e) { return false; } })()",
    )
    .await;
    assert!(!reachable);
    assert_eq!(
        beacon.seen(),
        Vec::<String>::new(),
        "requests before asking"
    );
    screenshot(&page, "message.png").await;

    // Click every link and button inside the frame that survived, by its position.
    let frame_box: Vec<f64> = eval(
        &page,
        "(() => { const r = document.getElementById('body').getBoundingClientRect(); \
         return [r.x, r.y, r.width, r.height]; })()",
    )
    .await;
    for dy in (10..frame_box[3] as i64).step_by(40) {
        let point = chromiumoxide::layout::Point {
            x: frame_box[0] + 40.0,
            y: frame_box[1] + dy as f64,
        };
        let _ = page.click(point).await;
    }
    settle().await;
    let title: String = eval(&page, "document.title").await;
    assert_eq!(title, "Hostile corpus · inbound");
    let url: String = eval(&page, "location.href").await;
    assert_eq!(url, format!("{base}/messages/{id}"));
    assert_eq!(
        beacon.seen(),
        Vec::<String>::new(),
        "requests after clicking"
    );

    // "Load remote images": this one view may load https images, and nothing else.
    page.find_element("#load-remote-images")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.wait_for_navigation().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !beacon
        .seen()
        .iter()
        .any(|l| l.starts_with("GET /remote-image.png "))
    {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle().await;
    let seen = beacon.seen();
    assert!(
        seen.iter().any(|l| l.starts_with("GET /remote-image.png ")),
        "the remote image was not loaded: {seen:?}"
    );
    for line in &seen {
        let path = line.split(' ').nth(1).unwrap_or("");
        assert!(
            matches!(path, "/remote-image.png" | "/css-url"),
            "only images may load, got {line}"
        );
    }
    let title: String = eval(&page, "document.title").await;
    assert_eq!(title, "Hostile corpus · inbound");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cid_image_renders_and_html_and_svg_attachments_only_download() {
    let Some(exe) =
        browser_or_skip("the_cid_image_renders_and_html_and_svg_attachments_only_download")
    else {
        return;
    };
    let (beacon_url, beacon) = start_beacon().await;
    let f = fixture(&beacon_url);
    let base = serve(&f).await;
    let chrome = launch(&exe).await;
    let id = f.hostile.0;

    // The body opened on its own is still under its sandbox policy; the inline image shows.
    let page = chrome
        .browser
        .new_page(format!("{base}/messages/{id}/body"))
        .await
        .unwrap();
    page.wait_for_navigation().await.unwrap();
    settle().await;
    let width: i64 = eval(
        &page,
        "document.querySelector('img[src$=\"/parts/0\"]').naturalWidth",
    )
    .await;
    assert_eq!(width, 16, "the cid: image did not render");
    let title: String = eval(&page, "document.title").await;
    assert_eq!(title, "");
    screenshot(&page, "body.png").await;

    // HTML and SVG attachments: navigating to them downloads, the page stays.
    let parts: serde_json::Value =
        reqwest_like(&format!("{base}/api/v1/messages/{id}/parts")).await;
    for name in ["page.html", "image.svg"] {
        let index = parts
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["filename"] == name)
            .unwrap()["index"]
            .as_u64()
            .unwrap();
        let page = chrome
            .browser
            .new_page(format!("{base}/messages/{id}"))
            .await
            .unwrap();
        page.wait_for_navigation().await.unwrap();
        // A top-level navigation to the part, as following a link would do.
        let _: bool = eval(
            &page,
            &format!(
                "(() => {{ location.href = '/messages/{id}/parts/{index}'; return true; }})()"
            ),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let file = chrome.downloads.path().join(name);
        while !file.exists() {
            assert!(Instant::now() < deadline, "{name} was not downloaded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let title: String = eval(&page, "document.title").await;
        assert_eq!(title, "Hostile corpus · inbound", "{name} rendered");
        let url: String = eval(&page, "location.href").await;
        assert_eq!(url, format!("{base}/messages/{id}"), "{name} rendered");
    }
    assert_eq!(beacon.seen(), Vec::<String>::new());
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_page_cannot_post_to_the_api() {
    let Some(exe) = browser_or_skip("a_cross_origin_page_cannot_post_to_the_api") else {
        return;
    };
    let f = fixture("https://127.0.0.1:9");
    let base = serve(&f).await;
    // Another origin: the same app on another port.
    let other = serve(&f).await;
    let chrome = launch(&exe).await;
    let page = chrome.browser.new_page(format!("{other}/")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    // A form post (no CORS preflight) from the other origin, then the run count.
    let status: i64 = eval(
        &page,
        &format!(
            "fetch('{base}/api/v1/accounts/home/retrieve', {{method: 'POST', mode: 'no-cors'}}) \
             .then(() => 0, () => -1)"
        ),
    )
    .await;
    assert!(status <= 0);
    let accounts: serde_json::Value = reqwest_like(&format!("{base}/api/v1/accounts")).await;
    assert_eq!(accounts[1]["name"], "home");
    assert!(
        accounts[1]["last_event"].is_null(),
        "a cross-origin POST started a run: {accounts}"
    );
    // The same request from the app's own page is accepted.
    let page = chrome.browser.new_page(format!("{base}/")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    let status: i64 = eval(
        &page,
        "fetch('/api/v1/accounts/home/retrieve', {method: 'POST'}).then(r => r.status)",
    )
    .await;
    assert_eq!(status, 202);
    chrome.close().await;
}

/// A GET over plain HTTP/1.1 to the loopback app, as JSON.
async fn reqwest_like(url: &str) -> serde_json::Value {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_live_states_without_reloading() {
    let Some(exe) = browser_or_skip("the_overview_shows_live_states_without_reloading") else {
        return;
    };
    let mut f = fixture("https://127.0.0.1:9");
    let mut broken = common::account("broken");
    broken.folder = "Missing".to_owned();
    f.accounts.push(broken);
    f.accounts.push(common::account("fresh"));
    let base = serve(&f).await;
    let chrome = launch(&exe).await;
    let page = chrome.browser.new_page(format!("{base}/")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    // The page marks itself so that a reload would show.
    let _: bool = eval(&page, "(() => { window.__same = true; return true; })()").await;
    let cell = |account: &str, field: &str| {
        format!(
            "document.querySelector('tr[data-account=\"{account}\"] [data-field=\"{field}\"]').textContent"
        )
    };
    async fn wait_text(page: &Page, js: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text: String = eval(page, js).await;
            if text.contains(want) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{js}: {text:?} never showed {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The EventSource is connected once the page has loaded; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A subscription.
    let host = base.strip_prefix("http://").unwrap().to_owned();
    http_send(&host, "PUT", "/api/v1/accounts/home/subscription").await;
    wait_text(&page, &cell("home", "state"), "idle").await;
    f.server.deliver("INBOX", common::plain_message(300));
    wait_text(&page, &cell("home", "last_event"), "new message: Note 300").await;

    // A retrieval that the server fails: its row's last retrieval says so.
    http_send(&host, "POST", "/api/v1/accounts/broken/retrieve").await;
    wait_text(&page, &cell("broken", "last_event"), "failed").await;
    let error: String = eval(&page, &cell("broken", "last_error")).await;
    assert!(!error.is_empty());
    wait_text(&page, &cell("broken", "last_run"), "(failed)").await;
    screenshot(&page, "overview-live.png").await;

    // A retrieval that works: the row shows its progress, then the final counts.
    let _: bool = eval(
        &page,
        "(() => { window.__states = []; \
           const cell = document.querySelector('tr[data-account=\"fresh\"] [data-field=\"state\"]'); \
           new MutationObserver(() => window.__states.push(cell.textContent)) \
             .observe(cell, { childList: true, characterData: true, subtree: true }); \
           return true; })()",
    )
    .await;
    for i in 0..3 {
        f.server.deliver("INBOX", common::plain_message(400 + i));
    }
    http_send(&host, "POST", "/api/v1/accounts/fresh/retrieve").await;
    wait_text(&page, &cell("fresh", "last_event"), "done").await;
    let last_run = wait_text(&page, &cell("fresh", "last_run"), " new, ").await;
    assert!(!last_run.contains("failed"), "{last_run}");
    let api = reqwest_like(&format!("{base}/api/v1/accounts/fresh")).await;
    let fetched = api["last_run"]["fetched"].as_u64().unwrap();
    assert!(fetched >= 3, "{api}");
    assert!(
        last_run.contains(&format!(": {fetched} new, ")),
        "{last_run}"
    );
    let states: Vec<String> = eval(&page, "window.__states").await;
    assert!(
        states.iter().any(|s| {
            s.strip_prefix("retrieving (")
                .and_then(|rest| rest.split_once('/'))
                .and_then(|(done, _)| done.parse::<u64>().ok())
                .is_some_and(|done| done >= 1)
        }),
        "no progress shown: {states:?}"
    );
    let same: bool = eval(&page, "window.__same === true").await;
    assert!(same, "the page was reloaded");
    chrome.close().await;
}

/// A bodiless request from a non-browser client (no Origin).
async fn http_send(host: &str, method: &str, path: &str) {
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 2"), "{text}");
}
