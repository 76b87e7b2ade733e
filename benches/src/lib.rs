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

/// The test server configuration a bench serves from: one user, no sample mail, no OAuth
/// clients, and no auto-logout within a run.
pub fn bench_server_config(
    user: &str,
    password: &str,
) -> inbound_test_server::server::ServerConfig {
    let mut config = inbound_test_server::server::ServerConfig::default()
        .seed_sample(false)
        .user(user, password)
        .auto_logout(std::time::Duration::from_secs(3600));
    config.oauth_clients.clear();
    config
}
