//! The HTML pages: accounts overview, an account's messages, a message, its body, parts and
//! raw download, login.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use inbound_net::Security;
use inbound_retrieve::{
    Account, AfterReceive, AuthConfig, FetchPolicy, OAuthProviderName, OAuthSettings,
};
use inbound_store::lease::span_text;
use inbound_store::{MessageId, NeedsLogin, PageCursor, PageQuery, PendingAction};
use serde::Deserialize;

use crate::access::{session_cookie, session_set_cookie};
use crate::body::{
    BODY_CSP, BODY_CSP_REMOTE_IMAGES, attachment_disposition, body_document, part_content_type,
};
use crate::error::ApiError;
use crate::json::{addresses, rfc3339, short_date};
use crate::state::{AppState, Shared, last_run_text, shown_state};

/// Renders a template to a page; a template error is logged and becomes a 500.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("rendering a page: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'a str,
}

/// One row of the overview.
pub(crate) struct AccountRow {
    pub(crate) name: String,
    pub(crate) protocol: String,
    pub(crate) security: &'static str,
    pub(crate) host: String,
    pub(crate) auth: &'static str,
    pub(crate) policy: String,
    pub(crate) state: String,
    pub(crate) progress: Option<String>,
    pub(crate) last_event: String,
    pub(crate) last_run: String,
    pub(crate) last_error: String,
    pub(crate) stored: u64,
    pub(crate) subscribed: bool,
}

/// `tls`, `starttls` or `plaintext`.
pub(crate) fn security_name(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::Plaintext => "plaintext",
    }
}

/// `password`, `xoauth2 (entra)`, ...
pub(crate) fn auth_name(a: &Account) -> &'static str {
    match &a.auth {
        AuthConfig::Password(_) => "password",
        AuthConfig::OAuth(OAuthSettings::Entra { .. }) => "XOAUTH2 (Entra ID)",
        AuthConfig::OAuth(OAuthSettings::RefreshToken { .. }) => "XOAUTH2 (refresh token)",
        AuthConfig::OAuth(OAuthSettings::Static { .. }) => "XOAUTH2 (token)",
        AuthConfig::OAuth(OAuthSettings::Login(login)) => match login.provider {
            OAuthProviderName::Google => "XOAUTH2 (Google sign-in)",
            OAuthProviderName::Microsoft => "XOAUTH2 (Microsoft sign-in)",
            _ => "XOAUTH2 (sign-in)",
        },
    }
}

/// The policy in a few words: `latest 50, batch 100, keep`.
pub(crate) fn policy(a: &Account) -> String {
    let fetch = match a.fetch {
        FetchPolicy::Latest(n) => format!("latest {n}"),
        FetchPolicy::Oldest(n) => format!("oldest {n}"),
        FetchPolicy::All => "replicate all".to_owned(),
    };
    let after = match &a.after_receive {
        AfterReceive::Keep => "keep".to_owned(),
        AfterReceive::Delete => "delete".to_owned(),
        AfterReceive::MoveTo(f) => format!("move to {f}"),
    };
    format!("{fetch}, batch {}, {after}", a.batch_size)
}

pub(crate) fn account_rows(
    app: &AppState,
    counts: &HashMap<String, u64>,
    refused: &[NeedsLogin],
) -> Vec<AccountRow> {
    app.accounts()
        .iter()
        .map(|a| {
            let mut s = app.status_of(&a.name);
            let refusal = refused.iter().find(|r| r.account == a.name);
            if shown_state(&s, refusal) == "needs_login" {
                s.state = format!("needs sign-in: run `{}`", a.sign_in_command());
            }
            AccountRow {
                name: a.name.clone(),
                protocol: a.protocol.to_string(),
                security: security_name(a.security),
                host: format!("{}:{}", a.host, a.port),
                auth: auth_name(a),
                policy: policy(a),
                progress: s.progress.map(|(d, t)| format!("{d}/{t}")),
                state: s.state,
                last_event: s.last_event.unwrap_or_default(),
                last_run: s.last_run.as_ref().map(last_run_text).unwrap_or_default(),
                last_error: s.last_error.unwrap_or_default(),
                stored: counts.get(&a.name).copied().unwrap_or(0),
                subscribed: app.live.as_ref().is_some_and(|l| l.is_subscribed(&a.name)),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    rows: Vec<AccountRow>,
    notice: Option<String>,
    fleet: Option<FleetView>,
}

/// The fleet part of the overview: the workers, and who watches each account.
struct FleetView {
    workers: Vec<WorkerLine>,
    /// Account name -> `w3 (host) · watching · lease 25 s left`.
    owners: HashMap<String, String>,
}

impl FleetView {
    fn owner_of(&self, account: &str) -> &str {
        self.owners
            .get(account)
            .map_or("not in the fleet", String::as_str)
    }
}

struct WorkerLine {
    id: String,
    host: String,
    pid: u32,
    heartbeat: String,
    accounts: u64,
}

fn fleet_view(status: &inbound_store::lease::FleetStatus) -> FleetView {
    let now = status.now_ms;
    let workers = status
        .workers
        .iter()
        .filter(|w| w.stopped_at_ms.is_none())
        .map(|w| WorkerLine {
            id: w.id.to_string(),
            host: w.host.clone(),
            pid: w.pid,
            heartbeat: format!("{} ago", span_text(now - w.heartbeat_at_ms)),
            accounts: w.accounts_held,
        })
        .collect();
    let owners = status
        .accounts
        .iter()
        .map(|a| {
            let owner = a.owner_text().unwrap_or_else(|| "nobody".into());
            let lease = match a.expires_at_ms {
                Some(t) if t > now => format!(" · lease {} left", span_text(t - now)),
                Some(_) => " · lease expired".into(),
                None => String::new(),
            };
            (a.account.clone(), format!("{owner} · {}{lease}", a.state))
        })
        .collect();
    FleetView { workers, owners }
}

/// Query of the overview.
#[derive(Debug, Deserialize)]
pub(crate) struct OverviewQuery {
    started: Option<u64>,
}

/// `GET /`.
pub(crate) async fn overview(
    State(app): State<Shared>,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, ApiError> {
    let (counts, refused) = app
        .with_store(|s| Ok((s.count_by_account()?, s.accounts_needing_login()?)))
        .await
        .map_err(ApiError::page)?;
    let fleet = match &app.fleet {
        Some(leases) => Some(fleet_view(
            &leases
                .status()
                .await
                .map_err(|e| ApiError::from(e).page())?,
        )),
        None => None,
    };
    Ok(render(&Overview {
        rows: account_rows(&app, &counts, &refused),
        notice: q.started.map(|run| format!("Retrieval {run} started.")),
        fleet,
    }))
}

/// `POST /accounts/{name}/retrieve`: starts a run, back to the overview.
pub(crate) async fn retrieve(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = app
        .account(&name)
        .ok_or_else(|| ApiError::not_found(format!("no account named {name:?}")).page())?;
    let run = app.start_run(account).map_err(ApiError::page)?;
    Ok(Redirect::to(&format!("/?started={run}")).into_response())
}

struct MessageRow {
    id: i64,
    date: String,
    from: String,
    subject: String,
    folder: String,
    attachments: usize,
    size: u64,
    pending: String,
}

/// A message's pending server action for people: `delete`, `move to X` or `none`.
pub(crate) fn pending_text(action: Option<&PendingAction>) -> String {
    match action {
        None => "none".to_owned(),
        Some(PendingAction::Delete) => "delete".to_owned(),
        Some(PendingAction::MoveTo(folder)) => format!("move to {folder}"),
    }
}

#[derive(Template)]
#[template(path = "messages.html")]
struct Messages {
    account: String,
    q: String,
    total: u64,
    rows: Vec<MessageRow>,
    next: Option<String>,
}

/// Query of a message listing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// Search in subject and From.
    #[serde(default)]
    pub(crate) q: String,
    /// The cursor of the page (`next` of the previous one).
    pub(crate) after: Option<String>,
    /// Page size.
    pub(crate) limit: Option<u32>,
}

impl ListQuery {
    pub(crate) fn page_query(&self, account: Option<String>) -> Result<PageQuery, ApiError> {
        let after = match self.after.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => Some(
                PageCursor::decode(text)
                    .ok_or_else(|| ApiError::bad_request(format!("bad cursor {text:?}")))?,
            ),
            None => None,
        };
        Ok(PageQuery {
            account,
            search: Some(self.q.trim().to_owned()).filter(|s| !s.is_empty()),
            after,
            limit: self.limit.unwrap_or(50),
        })
    }
}

/// `GET /accounts/{name}/messages`.
pub(crate) async fn messages(
    State(app): State<Shared>,
    Path(name): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()).page())?;
    if app.account(&name).is_none() {
        return Err(ApiError::not_found(format!("no account named {name:?}")).page());
    }
    let query = q.page_query(Some(name.clone())).map_err(ApiError::page)?;
    let account = name.clone();
    let (page, total, pending) = app
        .with_store(move |s| {
            let page = s.list_page(&query)?;
            let total = s.count_messages(&inbound_store::MessageFilter::account(account))?;
            let ids: Vec<MessageId> = page.messages.iter().map(|m| m.id).collect();
            let pending = s.pending_actions_of(&ids)?;
            Ok((page, total, pending))
        })
        .await
        .map_err(ApiError::page)?;
    let rows = page
        .messages
        .iter()
        .map(|m| MessageRow {
            id: m.id.0,
            date: short_date(m.date.unwrap_or(m.stored_at)),
            from: addresses(&m.from),
            subject: m
                .subject
                .clone()
                .unwrap_or_else(|| "(no subject)".to_owned()),
            folder: m.folder.clone(),
            attachments: m.attachments.len(),
            size: m.size,
            pending: pending_text(pending.get(&m.id)),
        })
        .collect();
    Ok(render(&Messages {
        account: name,
        q: q.q,
        total,
        rows,
        next: page.next.map(|c| c.encode()),
    }))
}

struct AttachmentRow {
    index: usize,
    name: String,
    content_type: String,
    size: u64,
    inline: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    id: i64,
    account: String,
    folder: String,
    subject: String,
    from: String,
    to: String,
    cc: String,
    date: String,
    message_id: String,
    attachments: Vec<AttachmentRow>,
    warnings: Vec<String>,
    has_html: bool,
    remote_images: bool,
    text: Option<String>,
}

/// Query of the message view and its body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ViewQuery {
    /// `1`: show remote images in this one view.
    #[serde(default)]
    remote_images: Option<String>,
}

impl ViewQuery {
    fn remote_images(&self) -> bool {
        matches!(self.remote_images.as_deref(), Some("1" | "true" | "yes"))
    }
}

fn no_message(id: i64) -> ApiError {
    ApiError::not_found(format!("no message with id {id}"))
}

/// `GET /messages/{id}`.
pub(crate) async fn message(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let view = app
        .with_store(move |s| {
            s.get_message_lean(MessageId(id))?
                .ok_or_else(|| no_message(id))
        })
        .await
        .map_err(ApiError::page)?;
    let m = &view.message;
    let e = &m.email;
    let page = MessagePage {
        id,
        account: m.account.clone(),
        folder: m.folder.clone(),
        subject: e
            .subject
            .clone()
            .unwrap_or_else(|| "(no subject)".to_owned()),
        from: addresses(&e.from),
        to: addresses(&e.to),
        cc: addresses(&e.cc),
        date: e.date.map(rfc3339).unwrap_or_default(),
        message_id: e.message_id.clone().unwrap_or_default(),
        attachments: view
            .attachments
            .iter()
            .enumerate()
            .map(|(index, a)| AttachmentRow {
                index,
                name: a
                    .filename
                    .clone()
                    .unwrap_or_else(|| format!("part-{index}")),
                content_type: a.content_type.clone(),
                size: a.size,
                inline: a.inline,
            })
            .collect(),
        warnings: e
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.kind, w.detail))
            .collect(),
        has_html: e.html.is_some(),
        remote_images: q.remote_images(),
        text: e.text.clone(),
    };
    Ok(render(&page))
}

/// Headers for a response carrying mail content.
fn untrusted(headers: &mut HeaderMap, csp: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `GET /messages/{id}/body`: the HTML body, sanitized, for the sandboxed frame.
pub(crate) async fn body(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let remote = q.remote_images();
    let doc = app
        .with_store(move |s| {
            let m = s
                .get_message_lean(MessageId(id))?
                .ok_or_else(|| no_message(id))?;
            Ok(
                body_document(id, &m.message.email, remote).unwrap_or_else(|| {
                    "<!DOCTYPE html>\n<html><body><p>(no HTML body)</p></body></html>\n".to_owned()
                }),
            )
        })
        .await
        .map_err(ApiError::page)?;
    let mut response = Html(doc).into_response();
    untrusted(
        response.headers_mut(),
        if remote {
            BODY_CSP_REMOTE_IMAGES
        } else {
            BODY_CSP
        },
    );
    Ok(response)
}

/// A download: always an attachment, never rendered by the browser.
pub(crate) fn download(content_type: &'static str, filename: &str, content: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(content));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&attachment_disposition(filename)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    untrusted(headers, BODY_CSP);
    response
}

/// `GET /messages/{id}/parts/{index}` (and under `/api/v1`): one attachment's content.
pub(crate) async fn part(
    State(app): State<Shared>,
    Path((id, index)): Path<(i64, usize)>,
) -> Result<Response, ApiError> {
    let (filename, content_type, content) = app
        .with_store(move |s| {
            let m = s
                .get_message(MessageId(id))?
                .ok_or_else(|| no_message(id))?;
            let a =
                m.email.attachments.get(index).ok_or_else(|| {
                    ApiError::not_found(format!("message {id} has no part {index}"))
                })?;
            Ok((
                a.filename
                    .clone()
                    .unwrap_or_else(|| format!("part-{index}")),
                part_content_type(&a.content_type),
                a.content.to_vec(),
            ))
        })
        .await?;
    Ok(download(content_type, &filename, content))
}

/// `GET /messages/{id}/raw` (and under `/api/v1`): the message as received, as `<id>.eml`.
pub(crate) async fn raw(
    State(app): State<Shared>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let content = app
        .with_store(move |s| {
            let mut out = Vec::new();
            s.write_raw_to(MessageId(id), &mut out)?
                .ok_or_else(|| no_message(id))?;
            Ok(out)
        })
        .await?;
    Ok(download(
        "application/octet-stream",
        &format!("{id}.eml"),
        content,
    ))
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    failed: bool,
}

/// `GET /login`.
pub(crate) async fn login_form() -> Response {
    render(&Login { failed: false })
}

/// The login form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    password: String,
}

/// `POST /login`: a session cookie for the right password.
pub(crate) async fn login(State(app): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    if !app.access.password_ok(&form.password) {
        tracing::warn!("a login failed");
        let mut r = render(&Login { failed: true });
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let id = app.sessions.create();
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&session_set_cookie(&id, app.secure_cookies)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`.
pub(crate) async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        app.sessions.remove(id);
    }
    Redirect::to("/login").into_response()
}

#[derive(Template)]
#[template(path = "test.html")]
struct TestPage {
    account: String,
    steps: Vec<crate::live::TestStep>,
}

fn find(app: &AppState, name: &str) -> Result<Account, ApiError> {
    app.account(name)
        .ok_or_else(|| ApiError::not_found(format!("no account named {name:?}")).page())
}

/// `POST /accounts/{name}/test`: the connection test's steps.
pub(crate) async fn test(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = find(&app, &name)?;
    let steps = app.live().map_err(ApiError::page)?.test(account).await;
    Ok(render(&TestPage {
        account: name,
        steps,
    }))
}

/// `POST /accounts/{name}/subscribe`.
pub(crate) async fn subscribe(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = find(&app, &name)?;
    crate::api::start_subscription(&app, account).map_err(ApiError::page)?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /accounts/{name}/unsubscribe`.
pub(crate) async fn unsubscribe(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    find(&app, &name)?;
    app.live()
        .map_err(ApiError::page)?
        .unsubscribe(name.clone())
        .await;
    app.update(&name, "state", |s| {
        s.state = "off".to_owned();
        s.last_event = Some("unsubscribed".to_owned());
    });
    Ok(Redirect::to("/").into_response())
}
