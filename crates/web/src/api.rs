//! The JSON API under `/api/v1`, mirroring the pages.

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use inbound_store::{MessageId, NeedsLogin, PendingAction};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::{rfc3339, show_message, summary_json};
use crate::pages::{ListQuery, auth_name, policy, security_name};
use crate::state::{AccountStatus, AppState, Shared, shown_state};

/// An account as JSON; `s` is its status, read before `stored` was counted (a finished run's
/// messages are in the count); `refused` is set when the account needs a new sign-in.
fn account_json(
    s: &AccountStatus,
    a: &inbound_retrieve::Account,
    stored: u64,
    refused: Option<&NeedsLogin>,
) -> Value {
    json!({
        "name": a.name,
        "state": shown_state(s, refused),
        "needs_login": refused.map(|r| json!({
            "since": rfc3339(r.since_ms.div_euclid(1000)),
            "reason": r.reason,
            "command": a.sign_in_command(),
        })),
        "protocol": a.protocol.to_string(),
        "security": security_name(a.security),
        "host": a.host,
        "port": a.port,
        "username": a.username,
        "auth": auth_name(a),
        "folder": a.folder,
        "policy": policy(a),
        "subscribe": a.subscribe,
        "progress": s.progress.map(|(done, total)| json!({"done": done, "total": total})),
        "last_event": s.last_event,
        "last_run": s.last_run,
        "last_error": s.last_error,
        "stored": stored,
    })
}

/// `GET /api/v1/accounts`: every account with its state.
pub(crate) async fn accounts(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    let accounts = app.accounts();
    let statuses: Vec<AccountStatus> = accounts.iter().map(|a| app.status_of(&a.name)).collect();
    let (counts, refused) = app
        .with_store(|s| Ok((s.count_by_account()?, s.accounts_needing_login()?)))
        .await?;
    let list: Vec<Value> = accounts
        .iter()
        .zip(statuses)
        .map(|(a, s)| {
            let stored = counts.get(&a.name).copied().unwrap_or(0);
            account_json(&s, a, stored, refused.iter().find(|r| r.account == a.name))
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /api/v1/fleet`: the workers sharing the store and who watches each account (404
/// when the store is not shared by a fleet).
pub(crate) async fn fleet(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    let Some(leases) = &app.fleet else {
        return Err(ApiError::not_found(
            "no fleet: the store is not a PostgreSQL store shared by `inbound watch` workers",
        ));
    };
    let status = leases.status().await?;
    Ok(Json(inbound_retrieve::json::fleet_json(&status)))
}

fn no_account(name: &str) -> ApiError {
    ApiError::not_found(format!("no account named {name:?}"))
}

/// `GET /api/v1/accounts/{name}`.
pub(crate) async fn account(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = app.account(&name).ok_or_else(|| no_account(&name))?;
    let status = app.status_of(&name);
    let filter = inbound_store::MessageFilter::account(name.clone());
    let (stored, refused) = app
        .with_store(move |s| Ok((s.count_messages(&filter)?, s.needs_login(&name)?)))
        .await?;
    Ok(Json(account_json(&status, &a, stored, refused.as_ref())))
}

/// `POST /api/v1/accounts/{name}/retrieve`: 202 with the run's id.
pub(crate) async fn retrieve(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let a = app.account(&name).ok_or_else(|| no_account(&name))?;
    let run = app.start_run(a)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run": run, "account": name})),
    )
        .into_response())
}

/// Query of `GET /api/v1/messages`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct MessagesQuery {
    account: Option<String>,
    #[serde(default)]
    q: String,
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/messages`: a page of messages, newest first, and the cursor of the next.
pub(crate) async fn messages(
    State(app): State<Shared>,
    q: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let list = ListQuery {
        q: q.q,
        after: q.after,
        limit: q.limit,
    };
    let query = list.page_query(q.account)?;
    let (page, pending) = app
        .with_store(move |s| {
            let page = s.list_page(&query)?;
            let ids: Vec<MessageId> = page.messages.iter().map(|m| m.id).collect();
            let pending = s.pending_actions_of(&ids)?;
            Ok((page, pending))
        })
        .await?;
    let list: Vec<Value> = page
        .messages
        .iter()
        .map(|m| {
            let mut v = summary_json(m);
            if let Value::Object(fields) = &mut v {
                fields.insert("attachment_count".to_owned(), m.attachments.len().into());
                fields.insert(
                    "pending_action".to_owned(),
                    pending_json(pending.get(&m.id)),
                );
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "messages": list,
        "next": page.next.map(|c| c.encode()),
    })))
}

/// A pending server action as JSON: `null`, `{"action": "delete"}` or
/// `{"action": "move", "target": FOLDER}`.
fn pending_json(action: Option<&PendingAction>) -> Value {
    match action {
        None => Value::Null,
        Some(PendingAction::Delete) => json!({"action": "delete"}),
        Some(PendingAction::MoveTo(folder)) => json!({"action": "move", "target": folder}),
    }
}

fn no_message(id: i64) -> ApiError {
    ApiError::not_found(format!("no message with id {id}"))
}

/// `GET /api/v1/messages/{id}`: as `inbound messages show --json` prints it (the same
/// function makes both).
pub(crate) async fn message(
    State(app): State<Shared>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let accounts = app.accounts();
    let sanitizes = move |name: &str| {
        accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.sanitize_mode())
    };
    let value = app
        .with_store(move |s| {
            show_message(s, MessageId(id), &sanitizes)?.ok_or_else(|| no_message(id))
        })
        .await?;
    Ok(Json(value))
}

/// `GET /api/v1/messages/{id}/parts`: the attachments, with their download URLs.
pub(crate) async fn parts(
    State(app): State<Shared>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let view = app
        .with_store(move |s| {
            s.get_message_lean(MessageId(id))?
                .ok_or_else(|| no_message(id))
        })
        .await?;
    let list: Vec<Value> = view
        .attachments
        .iter()
        .enumerate()
        .map(|(index, a)| {
            json!({
                "index": index,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "inline": a.inline,
                "url": format!("/api/v1/messages/{id}/parts/{index}"),
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /api/v1/events`: server-sent events, one per account state change (`state`) and
/// new message (`message`), each `{kind, account, state, detail}`.
pub(crate) async fn events(
    State(app): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let data = serde_json::to_string(&ev).unwrap_or_default();
                    return Some((Ok(Event::default().event(ev.kind).data(data)), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `GET /healthz`.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Any other path under `/api`.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// `POST /api/v1/accounts/{name}/test`: connect, TLS, login, select; each step's result.
pub(crate) async fn test(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = app.account(&name).ok_or_else(|| no_account(&name))?;
    let steps = app.live()?.test(a).await;
    let ok = steps.iter().all(|s| s.ok);
    Ok(Json(json!({"account": name, "ok": ok, "steps": steps})))
}

/// `PUT /api/v1/accounts/{name}/subscription`: subscribes (a running subscription stays).
pub(crate) async fn subscribe(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = app.account(&name).ok_or_else(|| no_account(&name))?;
    start_subscription(&app, a)?;
    Ok(Json(json!({"account": name, "subscribed": true})))
}

/// Subscribes `a`, its state going to the overview.
pub(crate) fn start_subscription(
    app: &AppState,
    a: inbound_retrieve::Account,
) -> Result<(), ApiError> {
    let live = app.live()?;
    let name = a.name.clone();
    if !live.is_subscribed(&name) {
        app.update(&name, "state", |s| {
            s.state = "connecting".to_owned();
            s.last_event = Some("subscribing".to_owned());
        });
    }
    live.subscribe(a).map_err(|e| {
        app.update(&name, "state", |s| {
            s.state = "failed".to_owned();
            s.last_error = Some(e.clone());
        });
        ApiError::conflict(e)
    })
}

/// `DELETE /api/v1/accounts/{name}/subscription`: ends the subscription.
pub(crate) async fn unsubscribe(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if app.account(&name).is_none() {
        return Err(no_account(&name));
    }
    let was = app.live()?.unsubscribe(name.clone()).await;
    app.update(&name, "state", |s| {
        s.state = "off".to_owned();
        s.last_event = Some("unsubscribed".to_owned());
    });
    Ok(Json(
        json!({"account": name, "subscribed": false, "was_subscribed": was}),
    ))
}
