//! Shared helpers for the benches: transcript generators.
pub mod imap;
pub mod mail;
pub mod pop3;
