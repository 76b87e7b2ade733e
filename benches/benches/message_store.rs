//! Parse + sanitize + store throughput (filled in with message and store).
fn main() {}
