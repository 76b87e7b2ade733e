//! The account form: add and edit accounts saved in the store, every setting of an
//! `[[account]]` table, checked by the same validation (and messages) as the configuration
//! file. Secrets are write-only: never sent back, a blank field keeps the stored one; they
//! are stored encrypted under the store's key, as `inbound accounts add` does.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use inbound_retrieve::{Account, AccountConfig, AuthConfig, OAuthSettings, SecretSource};
use inbound_store::Secret;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::pages::render;
use crate::state::Shared;

/// How a field's text becomes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// `true`/`false`, or empty for the default.
    Bool,
    /// A number of bytes or a size with a unit (`25 MiB`).
    Size,
    /// Write-only: stored encrypted, never shown.
    Secret,
}

/// Every setting of an `[[account]]` table, in the configuration file's order, with a hint.
const FIELDS: &[(&str, Kind, &str)] = &[
    ("name", Kind::Text, "unique name"),
    ("protocol", Kind::Text, "imap or pop3"),
    ("host", Kind::Text, "server host name"),
    ("port", Kind::Number, "default from protocol and security"),
    (
        "security",
        Kind::Text,
        "tls (default), starttls or plaintext",
    ),
    ("username", Kind::Text, "login name"),
    (
        "password",
        Kind::Secret,
        "stored encrypted; blank keeps the stored one",
    ),
    (
        "password_env",
        Kind::Text,
        "or: read the password from this variable",
    ),
    (
        "password_command",
        Kind::Text,
        "or: the output of this command",
    ),
    (
        "oauth.provider",
        Kind::Text,
        "google, microsoft, authorization_code (then sign in with `inbound accounts login`), entra, refresh_token or static",
    ),
    ("oauth.tenant_id", Kind::Text, "Entra ID tenant"),
    ("oauth.client_id", Kind::Text, "OAuth client id"),
    (
        "oauth.client_secret",
        Kind::Secret,
        "stored encrypted; blank keeps the stored one",
    ),
    (
        "oauth.client_secret_env",
        Kind::Text,
        "or: from this variable",
    ),
    ("oauth.scope", Kind::Text, "scope, if not the default"),
    (
        "oauth.authority",
        Kind::Text,
        "authority, if not the default",
    ),
    (
        "oauth.token_url",
        Kind::Text,
        "token endpoint (refresh_token, authorization_code)",
    ),
    (
        "oauth.auth_url",
        Kind::Text,
        "authorization endpoint (authorization_code)",
    ),
    (
        "oauth.device_url",
        Kind::Text,
        "device authorization endpoint (optional)",
    ),
    (
        "oauth.refresh_token",
        Kind::Secret,
        "stored encrypted; blank keeps the stored one",
    ),
    (
        "oauth.refresh_token_env",
        Kind::Text,
        "or: from this variable",
    ),
    (
        "oauth.token",
        Kind::Secret,
        "static access token, stored encrypted",
    ),
    ("oauth.token_env", Kind::Text, "or: from this variable"),
    ("ca_file", Kind::Text, "extra CA certificate (PEM)"),
    (
        "danger_accept_invalid_certs",
        Kind::Bool,
        "never in production",
    ),
    ("folder", Kind::Text, "default INBOX"),
    ("fetch", Kind::Text, "latest, oldest or all"),
    ("count", Kind::Number, "N for latest/oldest"),
    ("batch_size", Kind::Number, "messages per transaction"),
    ("after_receive", Kind::Text, "keep, delete or move"),
    ("move_to", Kind::Text, "folder for after_receive = move"),
    ("sanitize_html", Kind::Bool, "sanitize stored HTML"),
    ("inline_images", Kind::Text, "keep, rewrite or data_url"),
    ("inline_image_url", Kind::Text, "pattern for rewrite"),
    ("remote_images", Kind::Text, "block or allow"),
    ("timeout_secs", Kind::Number, "network timeout"),
    ("max_message_size", Kind::Size, "e.g. 25 MiB"),
    ("subscribe", Kind::Bool, "watch for new mail"),
    ("poll_interval_secs", Kind::Number, "POP3 / no IDLE"),
    ("idle_renew_secs", Kind::Number, "IDLE renewal"),
    (
        "tcp_keepalive_secs",
        Kind::Number,
        "TCP keepalive idle time",
    ),
    (
        "tcp_keepalive_interval_secs",
        Kind::Number,
        "between probes",
    ),
    (
        "tcp_keepalive_probes",
        Kind::Number,
        "probes before giving up",
    ),
];

/// The store's names of the secrets a field names.
fn secret_key(field: &str) -> &str {
    field.strip_prefix("oauth.").unwrap_or(field)
}

/// One field of the form as shown.
pub(crate) struct FieldView {
    name: &'static str,
    hint: &'static str,
    value: String,
    secret: bool,
    /// The secret is stored (shown as "stored", never its value).
    stored: bool,
    error: String,
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct FormPage {
    /// `None` for a new account.
    editing: Option<String>,
    fields: Vec<FieldView>,
    problems: Vec<String>,
}

/// The form's fields from `values` (text by field name); secrets always empty.
fn views(
    values: &HashMap<String, String>,
    stored_secrets: &[String],
    problems: &[(String, String)],
) -> Vec<FieldView> {
    FIELDS
        .iter()
        .map(|&(name, kind, hint)| FieldView {
            name,
            hint,
            value: if kind == Kind::Secret {
                String::new()
            } else {
                values.get(name).cloned().unwrap_or_default()
            },
            secret: kind == Kind::Secret,
            stored: kind == Kind::Secret && stored_secrets.iter().any(|s| s == secret_key(name)),
            error: problems
                .iter()
                .filter(|(f, _)| f == name)
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect()
}

/// An account's settings as form text (no secrets: they are never serialized).
fn values_of(account: &Account) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(Value::Object(map)) = serde_json::to_value(account) else {
        return out;
    };
    let mut put = |key: String, v: &Value| {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => return,
            other => other.to_string(),
        };
        out.insert(key, text);
    };
    for (k, v) in &map {
        match v {
            Value::Object(inner) => {
                for (ik, iv) in inner {
                    put(format!("{k}.{ik}"), iv);
                }
            }
            _ => put(k.clone(), v),
        }
    }
    out
}

/// Problems by field: `(field, message)`.
type Problems = Vec<(String, String)>;

/// The form's text as an `[[account]]` table (JSON), and the secrets given.
fn table_of(form: &HashMap<String, String>) -> Result<(Value, BTreeMap<String, Secret>), Problems> {
    let mut top = Map::new();
    let mut oauth = Map::new();
    let mut secrets = BTreeMap::new();
    let mut problems = Vec::new();
    for &(name, kind, _) in FIELDS {
        let Some(text) = form.get(name).map(|t| t.trim()).filter(|t| !t.is_empty()) else {
            continue;
        };
        let value = match kind {
            Kind::Secret => {
                secrets.insert(secret_key(name).to_owned(), Secret::new(text.to_owned()));
                continue;
            }
            Kind::Text => Value::String(text.to_owned()),
            Kind::Number => match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    problems.push((name.to_owned(), "must be a whole number".to_owned()));
                    continue;
                }
            },
            Kind::Bool => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    problems.push((name.to_owned(), "must be true or false".to_owned()));
                    continue;
                }
            },
            Kind::Size => text
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        };
        match name.strip_prefix("oauth.") {
            Some(inner) => oauth.insert(inner.to_owned(), value),
            None => top.insert(name.to_owned(), value),
        };
    }
    if !oauth.is_empty() {
        top.insert("oauth".to_owned(), Value::Object(oauth));
    }
    if problems.is_empty() {
        Ok((Value::Object(top), secrets))
    } else {
        Err(problems)
    }
}

/// The store names of the secrets `account` reads from the store.
fn stored_secret_names(account: &Account) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |s: &SecretSource| {
        if let SecretSource::Stored(n) = s {
            names.push(n.clone());
        }
    };
    match &account.auth {
        AuthConfig::Password(s) => add(s),
        AuthConfig::OAuth(OAuthSettings::Entra { client_secret, .. }) => add(client_secret),
        AuthConfig::OAuth(OAuthSettings::RefreshToken {
            client_secret,
            refresh_token,
            ..
        }) => {
            add(client_secret);
            add(refresh_token);
        }
        AuthConfig::OAuth(OAuthSettings::Static { token }) => add(token),
        AuthConfig::OAuth(OAuthSettings::Login(login)) => {
            add(&login.client_secret);
            add(&login.refresh_token);
        }
    }
    names
}

/// True when `name` is an account saved in the store (not one of the configuration file).
async fn is_stored(app: &Shared, name: &str) -> Result<bool, ApiError> {
    let name = name.to_owned();
    app.with_store(move |s| Ok(s.list_accounts()?.contains(&name)))
        .await
}

fn config_file_account(name: &str) -> ApiError {
    ApiError::conflict(format!(
        "account {name:?} is configured in the configuration file: change or remove it there"
    ))
}

/// `GET /accounts/new`.
pub(crate) async fn new_form() -> Response {
    render(&FormPage {
        editing: None,
        fields: views(&HashMap::new(), &[], &[]),
        problems: Vec::new(),
    })
}

/// `GET /accounts/{name}/edit`.
pub(crate) async fn edit_form(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = app
        .account(&name)
        .ok_or_else(|| ApiError::not_found(format!("no account named {name:?}")).page())?;
    if !is_stored(&app, &name).await.map_err(ApiError::page)? {
        return Err(config_file_account(&name).page());
    }
    let n = name.clone();
    let stored = app
        .with_store(move |s| {
            Ok(s.load_account(&n)?
                .map(|a| a.secrets.into_keys().collect::<Vec<_>>())
                .unwrap_or_default())
        })
        .await
        .map_err(ApiError::page)?;
    Ok(render(&FormPage {
        editing: Some(name),
        fields: views(&values_of(&account), &stored, &[]),
        problems: Vec::new(),
    }))
}

/// `POST /accounts` (new) and `POST /accounts/{name}` (edit).
/// With `json`, answers as the API does (JSON, errors with `code`), else as a page.
pub(crate) async fn save(
    app: Shared,
    editing: Option<String>,
    form: HashMap<String, String>,
    json: bool,
) -> Result<Response, ApiError> {
    let shown = |e: ApiError| if json { e } else { e.page() };
    if let Some(name) = &editing {
        if app.account(name).is_none() {
            return Err(shown(ApiError::not_found(format!(
                "no account named {name:?}"
            ))));
        }
        if !is_stored(&app, name).await.map_err(shown)? {
            return Err(shown(config_file_account(name)));
        }
    }
    let again = |problems: Vec<(String, String)>| {
        problems_response(json, editing.as_ref(), &form, &problems)
    };
    let (table, given) = match table_of(&form) {
        Ok(t) => t,
        Err(problems) => return Ok(again(problems)),
    };
    let config: AccountConfig = match serde_json::from_value(table) {
        Ok(c) => c,
        Err(e) => return Ok(again(vec![(String::new(), e.to_string())])),
    };
    let account = match config.validate() {
        Ok(a) => a,
        Err(e) => {
            return Ok(again(
                e.problems
                    .iter()
                    .map(|p| (p.field.to_owned(), p.message.clone()))
                    .collect(),
            ));
        }
    };
    let name = account.name.clone();
    if editing.as_deref() != Some(name.as_str()) && app.account(&name).is_some() {
        return Ok(again(vec![(
            "name".to_owned(),
            format!("an account named {name:?} exists already"),
        )]));
    }
    let needed = stored_secret_names(&account);
    let config_json = serde_json::to_string(&account).map_err(ApiError::internal)?;
    let old = editing.clone();
    let result = app
        .with_store_mut(move |s| {
            if !s.has_key() {
                return Err(ApiError::conflict(format!(
                    "{} is not set: accounts are stored encrypted with it",
                    inbound_store::KEY_ENV
                )));
            }
            let mut secrets = match &old {
                Some(old) => s.load_account(old)?.map(|a| a.secrets).unwrap_or_default(),
                None => BTreeMap::new(),
            };
            secrets.extend(given);
            secrets.retain(|k, _| needed.contains(k));
            if let Some(missing) = needed.iter().find(|n| !secrets.contains_key(*n)) {
                return Ok(Err(vec![(
                    if missing.as_str() == "password" {
                        "password".to_owned()
                    } else {
                        format!("oauth.{missing}")
                    },
                    "is required (stored encrypted)".to_owned(),
                )]));
            }
            let pairs: Vec<(&str, Secret)> = secrets
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            s.save_account(&name, &config_json, &pairs)?;
            if let Some(old) = &old {
                if old != &name {
                    s.remove_account(old)?;
                }
            }
            Ok(Ok(()))
        })
        .await
        .map_err(shown)?;
    if let Err(problems) = result {
        return Ok(again(problems));
    }
    let name = account.name.clone();
    app.replace_account(editing.as_deref(), account);
    tracing::info!("account saved from the web app");
    Ok(saved_response(json, editing.is_some(), &name))
}

/// The answer to a saved account: 200 (edited) or 201 (created) with its name (JSON), or
/// back to the overview.
fn saved_response(json: bool, edited: bool, name: &str) -> Response {
    if json {
        let status = if edited {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        return (status, axum::Json(serde_json::json!({"name": name}))).into_response();
    }
    Redirect::to("/").into_response()
}

/// The answer to settings with problems: 422 with the problems by field (JSON), or the form
/// again with the values given and the problems shown.
fn problems_response(
    json: bool,
    editing: Option<&String>,
    form: &HashMap<String, String>,
    problems: &[(String, String)],
) -> Response {
    if json {
        let list: Vec<Value> = problems
            .iter()
            .map(|(f, m)| serde_json::json!({"field": f, "message": m}))
            .collect();
        let body = serde_json::json!({"error": {
            "code": "invalid",
            "message": "the account's settings have problems",
            "problems": list,
        }});
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    }
    let shown: Vec<String> = problems
        .iter()
        .map(|(f, m)| {
            if f.is_empty() {
                m.clone()
            } else {
                format!("{f}: {m}")
            }
        })
        .collect();
    let mut r = render(&FormPage {
        editing: editing.cloned(),
        fields: views(form, &[], problems),
        problems: shown,
    });
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

/// `POST /accounts`.
pub(crate) async fn create(
    State(app): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    save(app, None, form, false).await
}

/// `POST /accounts/{name}`.
pub(crate) async fn update(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    save(app, Some(name), form, false).await
}

/// A JSON account (the `[[account]]` keys, `oauth` as an object, secrets included to set
/// them) as the form's fields.
fn fields_of_json(body: &Value) -> Result<HashMap<String, String>, ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let mut out = HashMap::new();
    let mut put = |key: String, v: &Value| -> Result<(), ApiError> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => return Ok(()),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{key}: must be a plain value"
                )));
            }
        };
        if !FIELDS.iter().any(|(name, _, _)| *name == key) {
            return Err(ApiError::bad_request(format!("{key}: unknown setting")));
        }
        out.insert(key, text);
        Ok(())
    };
    for (k, v) in map {
        match v {
            Value::Object(inner) if k == "oauth" => {
                for (ik, iv) in inner {
                    put(format!("oauth.{ik}"), iv)?;
                }
            }
            _ => put(k.clone(), v)?,
        }
    }
    Ok(out)
}

/// `POST /api/v1/accounts`: 201, or 422 with every problem (`field`, `message`).
pub(crate) async fn create_api(
    State(app): State<Shared>,
    axum::Json(body): axum::Json<Value>,
) -> Result<Response, ApiError> {
    let form = fields_of_json(&body)?;
    save(app, None, form, true).await
}

/// `PUT /api/v1/accounts/{name}`: the whole account; secrets left out keep the stored ones.
pub(crate) async fn update_api(
    State(app): State<Shared>,
    Path(name): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Result<Response, ApiError> {
    let form = fields_of_json(&body)?;
    save(app, Some(name), form, true).await
}

/// Removes a stored account (ending its subscription first).
pub(crate) async fn remove(app: &Shared, name: &str) -> Result<(), ApiError> {
    if app.account(name).is_none() {
        return Err(ApiError::not_found(format!("no account named {name:?}")));
    }
    if !is_stored(app, name).await? {
        return Err(config_file_account(name));
    }
    if let Some(live) = &app.live {
        live.unsubscribe(name.to_owned()).await;
    }
    let n = name.to_owned();
    app.with_store_mut(move |s| Ok(s.remove_account(&n)?))
        .await?;
    app.replace_account(Some(name), None);
    Ok(())
}

/// `POST /accounts/{name}/delete`.
pub(crate) async fn delete_page(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    remove(&app, &name).await.map_err(ApiError::page)?;
    Ok(Redirect::to("/").into_response())
}

/// `DELETE /api/v1/accounts/{name}`.
pub(crate) async fn delete_api(
    State(app): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    remove(&app, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
