//! Errors: [`WebError`] for starting the server, [`ApiError`] for one request (JSON with a
//! stable `code` under `/api`, a short page elsewhere).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the web app could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A non-loopback address was asked for without credentials configured.
    #[error(
        "refusing to listen on {addr}: it is not a loopback address and no [web] credentials \
         are configured (set [web] password_env or tokens, or listen on 127.0.0.1)"
    )]
    NeedsCredentials {
        /// The address asked for.
        addr: std::net::SocketAddr,
    },
    /// Binding or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Serving connections failed.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}

/// One request's failure: an HTTP status and a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable code: `not_found`, `unauthorized`, `cross_origin`, `bad_request`, `conflict`,
    /// `unavailable`, `internal`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// True when the response is JSON (the API), false for a page.
    pub json: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            json: true,
        }
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token or a login session is required",
        )
    }

    /// 403 `cross_origin`.
    pub fn cross_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "state-changing requests must come from this site",
        )
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal`: the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("request failed: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (see the server's log)",
        )
    }

    /// The same error shown as a page instead of JSON.
    pub fn page(mut self) -> Self {
        self.json = false;
        self
    }
}

impl From<inbound_store::Error> for ApiError {
    fn from(e: inbound_store::Error) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = if self.json {
            let body = serde_json::json!({
                "error": { "code": self.code, "message": self.message }
            });
            (self.status, axum::Json(body)).into_response()
        } else {
            let page = crate::pages::ErrorPage {
                status: self.status.as_u16(),
                message: &self.message,
            };
            (self.status, crate::pages::render(&page)).into_response()
        };
        if self.status == StatusCode::UNAUTHORIZED && self.json {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"inbound\""),
            );
        }
        response
    }
}
