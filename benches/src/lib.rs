//! Shared helpers for the benches: transcript generators.
