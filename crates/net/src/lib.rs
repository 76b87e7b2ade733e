//! Connections to IMAP and POP3 servers: TCP with timeouts, implicit TLS and STARTTLS,
//! SASL, OAuth 2.0 access tokens and reconnection backoff. This is the only library crate of
//! Inbound that opens sockets.
//!
//! ```
//! use inbound_net::sasl::{self, CredentialsKind, Mechanism, SaslClient};
//! use inbound_net::{MailProtocol, Secret, Security, TlsConfig};
//!
//! // Connection settings: implicit TLS on the default IMAPS port, Mozilla roots.
//! assert_eq!(Security::Tls.default_port(MailProtocol::Imap), 993);
//! let _config = TlsConfig::new().client_config()?;
//!
//! // The server advertised AUTH=PLAIN AUTH=XOAUTH2; we hold an OAuth token.
//! let mechanism = sasl::choose(["PLAIN", "XOAUTH2"], CredentialsKind::OAuth, None)?;
//! assert_eq!(mechanism, Some(Mechanism::XOAuth2));
//!
//! // The XOAUTH2 initial response; the IMAP codec base64-encodes it for AUTHENTICATE.
//! let token = Secret::new("ya29.a0Af");
//! let mut client = SaslClient::xoauth2("shared@example.com", &token)?;
//! let initial = client.initial_response().expect("XOAUTH2 has an initial response");
//! assert_eq!(initial.as_bytes(), b"user=shared@example.com\x01auth=Bearer ya29.a0Af\x01\x01");
//! # Ok::<(), inbound_net::Error>(())
//! ```
//!
//! # Map
//! - [`tls`]: [`Security`] modes (no default; plaintext must be chosen by name) and
//!   [`TlsConfig`] (Mozilla roots, extra CA files, a clearly dangerous opt-out).
//! - [`connect`]: [`connect_tcp`], [`tls_handshake`], [`upgrade_to_tls`] (refuses bytes
//!   buffered before the STARTTLS handshake), [`MailStream`] and [`Dialer`].
//! - [`sasl`]: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER as bytes, without I/O; mechanism choice.
//! - [`oauth`]: the [`TokenProvider`](oauth::TokenProvider) trait with cached providers for
//!   Entra ID client credentials, refresh tokens and static tokens; a person's consent
//!   ([`AuthorizationCodeLogin`](oauth::AuthorizationCodeLogin) with PKCE and a loopback
//!   redirect, [`DeviceLogin`](oauth::DeviceLogin)) to obtain the refresh token.
//! - [`transport`]: [`Transport`], a buffered connection with per-wait timeouts and redacted
//!   TRACE logging, shared by the protocol clients; [`Timeouts`].
//! - [`imap`]: the IMAP client, [`ImapClient`]: STARTTLS done right, SASL, streaming
//!   `UID FETCH`, MOVE with fallback, IDLE.
//! - [`pop3`]: the POP3 client, [`Pop3Client`].
//! - [`webhook`]: HTTP POSTs to webhook endpoints ([`webhook::WebhookClient`]), no
//!   redirects, a timeout per request.
//! - [`backoff`]: reconnection delays.
//! - [`rt`]: spawn, sleep and timeout, so the layers above need no runtime of their own.
//! - [`redact`]: hiding secrets in protocol traces.
//! - [`error`]: the error types.
//!
//! rustls configurations are always built with an explicit *ring* provider; this crate never
//! installs a process-wide default provider.

pub mod backoff;
pub mod connect;
pub mod error;
pub mod imap;
pub mod oauth;
pub mod pop3;
pub mod redact;
pub mod rt;
pub mod sasl;
mod server_config;
pub mod tls;
pub mod transport;
pub mod webhook;

pub use connect::{Dialer, Keepalive, MailStream, connect_tcp, tls_handshake, upgrade_to_tls};
pub use error::{ConnectError, Error, OAuthError, Result, TlsConfigError, TransportError};
pub use imap::{ImapClient, ImapConfig, ImapError};
pub use inbound_secret::Secret;
pub use pop3::{Pop3Client, Pop3Config, Pop3Error};
pub use sasl::{Credentials, CredentialsKind, Mechanism, SaslError};
pub use tls::{MailProtocol, Security, TlsConfig};
pub use transport::{Timeouts, Transport};
