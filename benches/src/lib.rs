//! Shared helpers for the benches: transcript generators.
pub mod imap;
pub mod mail;
pub mod pop3;

/// The README's Rust examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
pub mod memory;
pub mod retrieval;
