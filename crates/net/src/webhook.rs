//! HTTP POSTs to webhook endpoints: the wire side of webhook delivery.
//!
//! One [`WebhookClient`] per endpoint keeps its connections alive between deliveries. TLS is
//! this crate's rustls configuration ([`TlsConfig`]: *ring*, the Mozilla roots and any extra
//! CA file); redirects are never followed (a redirect could send signed mail elsewhere, and
//! is not a delivery); each request is bounded by its own timeout. What to send (the body,
//! the signature headers) is decided above this crate.
//!
//! ```no_run
//! # async fn f() -> Result<(), inbound_net::webhook::WebhookError> {
//! use std::time::Duration;
//! use inbound_net::TlsConfig;
//! use inbound_net::webhook::{WebhookClient, WebhookRequest};
//!
//! let client = WebhookClient::new("https://app.example.com/hooks/mail", &TlsConfig::new())?;
//! let answer = client
//!     .post(WebhookRequest {
//!         headers: &[("webhook-id", "evt_1".to_owned())],
//!         body: b"{}".to_vec(),
//!         timeout: Duration::from_secs(10),
//!     })
//!     .await?;
//! println!("HTTP {}", answer.status);
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use crate::error::TlsConfigError;
use crate::tls::TlsConfig;

/// How much of an answer's body is kept (for logs and `webhooks list`).
const BODY_EXCERPT: usize = 512;

/// What went wrong posting to a webhook endpoint. None of these is the endpoint's answer: an
/// answer, whatever its status, is a [`WebhookResponse`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL is not an `http` or `https` URL.
    #[error("invalid webhook URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS settings could not be used.
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    /// The HTTP client could not be built.
    #[error("could not build the webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A header name or value cannot be sent.
    #[error("invalid header {name:?}")]
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint could not be reached (DNS, refused, TLS handshake).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request failed after connecting (connection reset, malformed answer).
    #[error("request failed: {0}")]
    Request(String),
}

/// One POST.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    /// Headers besides `content-type: application/json`.
    pub headers: &'a [(&'a str, String)],
    /// The JSON body.
    pub body: Vec<u8>,
    /// The whole exchange must end within this.
    pub timeout: Duration,
}

/// The endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The start of the answer's body (at most 512 bytes, as lossy UTF-8).
    pub body: String,
}

/// A client for one webhook endpoint, keeping its connections alive.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    url: reqwest::Url,
    http: reqwest::Client,
}

impl WebhookClient {
    /// A client for `url` (`http` or `https`) trusting what `tls` trusts. Environment
    /// proxies apply, except to a loopback endpoint.
    ///
    /// # Errors
    /// [`WebhookError::InvalidUrl`], [`WebhookError::Tls`] (a CA file that cannot be read),
    /// [`WebhookError::Client`].
    pub fn new(url: &str, tls: &TlsConfig) -> Result<Self, WebhookError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| WebhookError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(WebhookError::InvalidUrl {
                url: url.to_owned(),
                reason: "must be an http:// or https:// URL with a host".to_owned(),
            });
        }
        let config = tls.client_config()?;
        let mut builder = reqwest::Client::builder();
        if is_loopback(&parsed) {
            builder = builder.no_proxy();
        }
        let http = builder
            .use_preconfigured_tls(rustls::ClientConfig::clone(&config))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Self { url: parsed, http })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// POSTs `request` and returns the answer, whatever its status (a redirect is returned
    /// as it is, not followed).
    ///
    /// # Errors
    /// [`WebhookError::Timeout`], [`WebhookError::Connect`], [`WebhookError::Request`],
    /// [`WebhookError::InvalidHeader`].
    pub async fn post(&self, request: WebhookRequest<'_>) -> Result<WebhookResponse, WebhookError> {
        let mut builder = self
            .http
            .post(self.url.clone())
            .timeout(request.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in request.headers {
            let name_ok = reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok();
            let value_ok = reqwest::header::HeaderValue::from_str(value).ok();
            let (Some(n), Some(v)) = (name_ok, value_ok) else {
                return Err(WebhookError::InvalidHeader {
                    name: (*name).to_owned(),
                });
            };
            builder = builder.header(n, v);
        }
        let timeout = request.timeout;
        let classify = move |e: reqwest::Error| {
            if e.is_timeout() {
                WebhookError::Timeout(timeout)
            } else if e.is_connect() {
                WebhookError::Connect(error_chain(&e))
            } else {
                WebhookError::Request(error_chain(&e))
            }
        };
        let response = builder.body(request.body).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(classify)?;
        let body = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_EXCERPT)]).into_owned();
        Ok(WebhookResponse { status, body })
    }
}

/// An error with its causes, `a: b: c` (reqwest's own message is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether the URL's host is the loopback interface.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(oauth2::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(oauth2::url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(oauth2::url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        for bad in ["ftp://example.com/x", "not a url", "file:///etc/passwd"] {
            assert!(
                matches!(
                    WebhookClient::new(bad, &TlsConfig::new()),
                    Err(WebhookError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
        let ok = WebhookClient::new("http://127.0.0.1:9/hook", &TlsConfig::new()).unwrap();
        assert_eq!(ok.url(), "http://127.0.0.1:9/hook");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client =
            WebhookClient::new(&format!("http://127.0.0.1:{port}/"), &TlsConfig::new()).unwrap();
        let e = client
            .post(WebhookRequest {
                headers: &[],
                body: b"{}".to_vec(),
                timeout: Duration::from_secs(5),
            })
            .await
            .unwrap_err();
        assert!(matches!(e, WebhookError::Connect(_)), "{e}");
    }
}
