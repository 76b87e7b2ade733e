//! Who may use the app: the `[web]` credentials (a password and/or API tokens stored as
//! SHA-256 hashes), login sessions, and the same-origin rule for state-changing requests.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use inbound_store::Secret;
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::state::Shared;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "inbound_session";

/// The credentials of the `[web]` table. With none configured the app is open to whoever
/// reaches it, so it listens on loopback addresses only.
#[derive(Debug, Default, Clone)]
pub struct Access {
    /// The login password (from the environment); `None`: no password login.
    pub password: Option<Secret>,
    /// SHA-256 digests of the API tokens accepted as `Authorization: Bearer <token>`.
    pub token_hashes: Vec<[u8; 32]>,
}

impl Access {
    /// True when a password or a token is configured.
    pub fn is_configured(&self) -> bool {
        self.password.is_some() || !self.token_hashes.is_empty()
    }

    /// Reads a token digest as written in `[web] tokens`: 64 hex digits, optionally after
    /// `sha256:`. `None` when it is not one.
    pub fn parse_token_hash(text: &str) -> Option<[u8; 32]> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(out)
    }

    /// The digest to write in `[web] tokens` for `token`, as `sha256:<hex>`.
    pub fn token_hash_text(token: &str) -> String {
        let digest = Sha256::digest(token.as_bytes());
        let mut out = String::from("sha256:");
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    fn token_ok(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every configured digest is compared, each in full.
        self.token_hashes
            .iter()
            .fold(false, |ok, h| ok | equal(h, &digest))
    }

    /// True when `password` is the configured one.
    pub(crate) fn password_ok(&self, password: &str) -> bool {
        match &self.password {
            Some(p) => {
                let a: [u8; 32] = Sha256::digest(p.expose().as_bytes()).into();
                let b: [u8; 32] = Sha256::digest(password.as_bytes()).into();
                equal(&a, &b)
            }
            None => false,
        }
    }
}

/// Compares two digests without stopping at the first difference.
fn equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Login sessions: the SHA-256 of each session id handed out (the ids themselves are only in
/// the browsers' cookies).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    ids: Mutex<HashSet<[u8; 32]>>,
}

impl Sessions {
    /// A new session: its id, for the cookie.
    pub(crate) fn create(&self) -> String {
        use base64::Engine as _;
        let bytes: [u8; 32] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(Sha256::digest(id.as_bytes()).into());
        }
        id
    }

    fn contains(&self, id: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        self.ids.lock().is_ok_and(|ids| ids.contains(&digest))
    }

    /// Ends the session `id`.
    pub(crate) fn remove(&self, id: &str) {
        let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        if let Ok(mut ids) = self.ids.lock() {
            ids.remove(&digest);
        }
    }
}

/// The session id the request's cookie carries, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

/// The `Set-Cookie` value for a new session (`Secure` when the app is served over TLS).
pub(crate) fn session_set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// True when a state-changing request comes from this site: `Sec-Fetch-Site` is
/// `same-origin` (or `none`: typed by the user), else `Origin` names this host. A request
/// with neither header is not from a browser page (a command-line client) and passes.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The middleware in front of every route: the same-origin rule for state-changing
/// requests, then (when credentials are configured) a bearer token or a session for the
/// API and a session for pages.
pub(crate) async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/");
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes && !same_origin(request.headers()) {
        tracing::warn!("refused a cross-origin {} {path}", request.method());
        let e = ApiError::cross_origin();
        return if api { e } else { e.page() }.into_response();
    }
    let open = path == "/healthz" || path == "/login" || path.starts_with("/static/");
    if open || !app.access.is_configured() {
        return next.run(request).await;
    }
    let headers = request.headers();
    let session = session_cookie(headers).is_some_and(|id| app.sessions.contains(id));
    if api {
        let token = bearer(headers).is_some_and(|t| app.access.token_ok(t));
        if token || session {
            return next.run(request).await;
        }
        return ApiError::unauthorized().into_response();
    }
    if session {
        return next.run(request).await;
    }
    Redirect::to("/login").into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn token_digests_round_trip_and_match() {
        let text = Access::token_hash_text("s3cret-token");
        let access = Access {
            password: None,
            token_hashes: vec![Access::parse_token_hash(&text).unwrap()],
        };
        assert!(access.token_ok("s3cret-token"));
        assert!(!access.token_ok("s3cret-tokeN"));
        assert!(Access::parse_token_hash("sha256:zz").is_none());
    }

    #[test]
    fn origin_rules() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h));
        h.insert(header::HOST, "127.0.0.1:8025".parse().unwrap());
        h.insert(header::ORIGIN, "http://127.0.0.1:8025".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&h));
    }
}
