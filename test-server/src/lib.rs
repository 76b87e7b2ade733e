//! The parts of Inbound's fake IMAP/POP3 server, for integration tests, fuzzing and local
//! testing: a mail store with per-session views, a fake OAuth 2.0 token endpoint, throwaway
//! TLS certificates, fault injection, redacted transcripts, a sample mailbox, and a harness
//! that runs a real Dovecot.
//!
//! A seeded store, a token the IMAP XOAUTH2 handler would accept, and a certificate:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use inbound_test_server::{mailstore::MailStore, oauth, sample, tls::TestPki};
//!
//! let store = MailStore::new();
//! store.add_user("alice@example.test", "password");
//! sample::seed_store(&store, "alice@example.test", "INBOX")?;
//! let mut view = store.select("alice@example.test", "INBOX")?;
//! assert_eq!(view.len(), 8);
//!
//! let endpoint = oauth::TokenEndpoint::start(
//!     oauth::TokenEndpointConfig::default().with_client("app-id", "app-secret"),
//! )
//! .await?;
//! // A client would POST client credentials to this URL and get a bearer token:
//! let _url = endpoint.token_url("contoso");
//! let token = endpoint.registry().issue_token("alice@example.test", Duration::from_secs(60));
//! assert!(endpoint.registry().authorize(&token, "alice@example.test").is_ok());
//!
//! let pki = TestPki::generate()?;
//! let _acceptor = pki.acceptor()?; // clients trust pki.ca_pem()
//!
//! // A delivery wakes an idling session at once.
//! store.deliver("alice@example.test", "INBOX", &b"Subject: new\r\n\r\nhi\r\n"[..])?;
//! view.changed().await;
//! assert_eq!(view.poll(true), [inbound_test_server::mailstore::ViewEvent::Exists(9)]);
//! # Ok(()) }
//! ```
//!
//! Modules:
//! - [`mailstore`]: users, folders, messages; IMAP views and POP3 maildrops; directory
//!   seeding and watching.
//! - [`oauth`]: a token endpoint speaking like Microsoft Entra ID, and the token registry
//!   the SASL handlers check.
//! - [`tls`]: a CA and a `localhost` leaf, rustls configs with the ring provider.
//! - [`faults`]: what to break in which session (drops, refusals, answers held back for a
//!   named command or from the Nth command on, server quirks); a stream wrapper for write
//!   faults.
//! - [`transcript`]: `C:`/`S:` logging with credentials redacted, and in-memory capture.
//! - [`sample`]: a deterministic sample mailbox and generated messages.
//! - [`dovecot`]: start a throwaway Dovecot for tests against a real server.
//! - [`relay`]: a TCP relay that can blackhole its connections (silent, sockets kept open),
//!   to put in front of the bundled server or Dovecot.
//! - [`conn`]: the connection a session runs over (plain, TLS or any stream), with the
//!   server side of the STARTTLS/STLS handshake.
//! - [`imap`]: the IMAP4rev1 session (STARTTLS, SASL with XOAUTH2, IDLE, MOVE, UIDPLUS,
//!   faults and server quirks); any capability can be hidden
//!   ([`server::ServerConfig::hide_capability`]), which also turns its behaviour off.
//! - [`server`]: all of it running: [`server::TestServer`] with its IMAP, IMAPS, POP3 and POP3S
//!   listeners (the sessions are in `pop3`), the token endpoint and the PKI. The
//!   `inbound-test-server` binary runs one from the command line.

pub mod conn;
pub mod dovecot;
pub mod faults;
pub mod imap;
pub mod mailstore;
pub mod oauth;
mod pop3;
pub mod relay;
pub mod sample;
mod sasl;
pub mod server;
mod session;
pub mod tls;
pub mod transcript;
pub mod webhook;
