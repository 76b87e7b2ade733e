//! The account overview web app and JSON API of inbound, served by `inbound serve`.
//!
//! Server-rendered pages (accounts overview, an account's messages, a message) and a JSON
//! API under `/api/v1`, over a [`Store`](inbound_store::Store) and the accounts. Mail is
//! hostile content: a message's HTML is sanitized, shown in a sandboxed frame under its own
//! Content-Security-Policy, and attachments always download.
//!
//! ```
//! use inbound_web::WebApp;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = inbound_retrieve::share(inbound_store::Store::open_in_memory(None)?);
//! let app = WebApp::new(store, Vec::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}/", listener.local_addr()?);
//! let server = tokio::spawn(app.serve(listener, async {}));  // stops at once here
//! server.await??;
//! assert!(url.starts_with("http://127.0.0.1:"));
//! # Ok(())
//! # }
//! ```

mod access;
mod api;
mod body;
mod error;
mod form;
mod json;
mod live;
mod pages;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use inbound_retrieve::{Account, Connector, SharedStore};
use tower_http::set_header::SetResponseHeaderLayer;

pub use access::{Access, SESSION_COOKIE};
pub use body::{APP_CSP, BODY_CSP, BODY_CSP_REMOTE_IMAGES, FRAME_SANDBOX};
pub use error::{ApiError, WebError};
pub use live::TestStep;
pub use state::{AccountStatus, LiveEvent, RunCounts, RunProgress};

use crate::live::{Live, LiveConnector};
use crate::state::{AppState, Shared};

/// The address `inbound serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8025";

/// The web app, ready to serve: the store, the accounts, who may use it and what runs
/// retrievals.
pub struct WebApp {
    store: SharedStore,
    accounts: Vec<Account>,
    access: Access,
    live: Option<Arc<dyn Live>>,
    cell: Arc<OnceLock<Weak<AppState>>>,
    secure_cookies: bool,
    fleet: Option<Arc<dyn inbound_store::lease::LeaseStore>>,
}

impl std::fmt::Debug for WebApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApp")
            .field("accounts", &self.accounts.len())
            .field("access_configured", &self.access.is_configured())
            .finish_non_exhaustive()
    }
}

impl WebApp {
    /// An app over `store` showing `accounts`, open to whoever reaches it (listen on a
    /// loopback address), without retrievals.
    pub fn new(store: SharedStore, accounts: Vec<Account>) -> Self {
        WebApp {
            store,
            accounts,
            access: Access::default(),
            live: None,
            cell: Arc::default(),
            secure_cookies: false,
            fleet: None,
        }
    }

    /// Shows the fleet of `inbound watch` workers sharing the store (a PostgreSQL store's
    /// leases): who watches each account, in what state, and the workers, on the overview
    /// and at `GET /api/v1/fleet`.
    #[must_use]
    pub fn with_fleet(mut self, leases: Arc<dyn inbound_store::lease::LeaseStore>) -> Self {
        self.fleet = Some(leases);
        self
    }

    /// Requires these credentials (when [`Access::is_configured`]).
    #[must_use]
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Talks to mail servers through `connector` (retrieve now, subscriptions, connection
    /// tests): [`NetConnector`](inbound_retrieve::NetConnector) for real servers.
    #[must_use]
    pub fn with_connector<C: Connector + Clone>(mut self, connector: C) -> Self {
        let live = LiveConnector::new(self.store.clone(), connector, self.cell.clone());
        self.live = Some(Arc::new(live));
        self
    }

    /// Marks the session cookie `Secure` (the app is reached over TLS, through a proxy).
    #[must_use]
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Checks that the app may listen on `addr`: a non-loopback address needs credentials.
    ///
    /// # Errors
    /// [`WebError::NeedsCredentials`].
    pub fn check_listen(&self, addr: SocketAddr) -> Result<(), WebError> {
        if addr.ip().is_loopback() || self.access.is_configured() {
            Ok(())
        } else {
            Err(WebError::NeedsCredentials { addr })
        }
    }

    /// The routes, with the access rules and security headers.
    pub fn router(self) -> Router {
        self.build().0
    }

    fn build(self) -> (Router, Shared) {
        let (events, _) = tokio::sync::broadcast::channel(256);
        let state = Arc::new(AppState {
            store: self.store,
            accounts: RwLock::new(self.accounts),
            status: Mutex::default(),
            access: self.access,
            sessions: access::Sessions::default(),
            live: self.live,
            events,
            next_run: AtomicU64::new(0),
            secure_cookies: self.secure_cookies,
            fleet: self.fleet,
        });
        let _ = self.cell.set(Arc::downgrade(&state));
        let api = Router::new()
            .route("/accounts", get(api::accounts).post(form::create_api))
            .route(
                "/accounts/{name}",
                get(api::account)
                    .put(form::update_api)
                    .delete(form::delete_api),
            )
            .route("/accounts/{name}/retrieve", post(api::retrieve))
            .route("/accounts/{name}/test", post(api::test))
            .route(
                "/accounts/{name}/subscription",
                axum::routing::put(api::subscribe).delete(api::unsubscribe),
            )
            .route("/fleet", get(api::fleet))
            .route("/messages", get(api::messages))
            .route("/messages/{id}", get(api::message))
            .route("/messages/{id}/raw", get(pages::raw))
            .route("/messages/{id}/parts", get(api::parts))
            .route("/messages/{id}/parts/{index}", get(pages::part))
            .route("/events", get(api::events))
            .fallback(api::not_found);
        let router = Router::new()
            .route("/", get(pages::overview))
            .route("/accounts/{name}/messages", get(pages::messages))
            .route("/accounts/new", get(form::new_form))
            .route("/accounts", post(form::create))
            .route("/accounts/{name}", post(form::update))
            .route("/accounts/{name}/edit", get(form::edit_form))
            .route("/accounts/{name}/delete", post(form::delete_page))
            .route("/accounts/{name}/retrieve", post(pages::retrieve))
            .route("/accounts/{name}/test", post(pages::test))
            .route("/accounts/{name}/subscribe", post(pages::subscribe))
            .route("/accounts/{name}/unsubscribe", post(pages::unsubscribe))
            .route("/messages/{id}", get(pages::message))
            .route("/messages/{id}/body", get(pages::body))
            .route("/messages/{id}/raw", get(pages::raw))
            .route("/messages/{id}/parts/{index}", get(pages::part))
            .route("/login", get(pages::login_form).post(pages::login))
            .route("/logout", post(pages::logout))
            .route("/static/app.css", get(app_css))
            .route("/static/live.js", get(live_js))
            .route("/healthz", get(api::healthz))
            .nest("/api/v1", api)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                access::guard,
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(APP_CSP),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .with_state(state.clone());
        (router, state)
    }

    /// Subscribes the accounts marked `subscribe` (when the app talks to servers), then
    /// serves on `listener` until `shutdown` completes, lets open requests finish and ends
    /// the subscriptions.
    ///
    /// # Errors
    /// [`WebError::Serve`] when accepting connections fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WebError> {
        let (router, state) = self.build();
        if let Some(live) = &state.live {
            for account in state.accounts().into_iter().filter(|a| a.subscribe) {
                let name = account.name.clone();
                if let Err(e) = live.subscribe(account) {
                    tracing::warn!("cannot subscribe {name}: {e}");
                    state.update(&name, "state", |s| {
                        s.state = "failed".to_owned();
                        s.last_error = Some(e);
                    });
                }
            }
        }
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(WebError::Serve);
        if let Some(live) = &state.live {
            live.stop_all().await;
        }
        served
    }
}

async fn app_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/app.css"),
    )
}

async fn live_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/live.js"),
    )
}
