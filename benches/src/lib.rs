//! Shared helpers for the benches: transcript generators.
pub mod mail;
pub mod pop3;
