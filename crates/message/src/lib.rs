//! Raw RFC 5322/MIME bytes to an [`Email`]; HTML sanitizing; attachments and inline images.
//!
//! ```
//! use inbound_message::{Email, InlineImages, SanitizeConfig};
//!
//! let raw = b"From: Ann <ann@example.org>\r\n\
//! To: bob@example.org\r\n\
//! Subject: =?UTF-8?Q?Caf=C3=A9?=\r\n\
//! Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
//! Message-ID: <1@example.org>\r\n\
//! Content-Type: text/html; charset=utf-8\r\n\
//! \r\n\
//! <p onclick=\"steal()\">Hi <b>Bob</b><script>alert(1)</script></p>\r\n";
//!
//! let email = Email::parse(&raw[..]);
//! assert_eq!(email.subject.as_deref(), Some("Café"));
//! assert_eq!(email.from[0].address, "ann@example.org");
//! assert_eq!(email.date, Some(1_751_364_000));
//! assert!(email.warnings.is_empty());
//!
//! let html = email
//!     .sanitized_html(&InlineImages::Keep, &SanitizeConfig::default())
//!     .unwrap();
//! assert_eq!(html.trim(), "<p>Hi <b>Bob</b></p>");
//! ```
//!
//! Parsing never fails: malformed mail gives an [`Email`] with [`Email::warnings`] saying what
//! was wrong (kinds are the constants on [`Warning`]) and the raw bytes kept in
//! [`Email::raw`].
//!
//! Sanitizing ([`sanitize_html`], [`Email::sanitized_html`]) is for accounts that ask for it.
//! It costs about ten times as much as parsing, so retrieval does not do it: `inbound-store`
//! records that a message's account sanitizes and sanitizes its HTML each time the message
//! is read.
//! `cid:` references to inline parts can be kept, rewritten to the caller's URLs or embedded
//! as `data:` URLs ([`InlineImages`]).

mod headers;
mod inline;
mod lean;
mod model;
mod parse;
mod sanitize;
mod warning;

pub use inline::InlineImages;
pub use lean::{LEAN_MIN_MESSAGE, LEAN_MIN_PART, LeanEmail};
pub use model::{Address, Attachment, Email, Header, Warning};
pub use sanitize::{SanitizeConfig, sanitize_html};
