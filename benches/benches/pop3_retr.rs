//! POP3 RETR decode throughput (filled in with the codec).
fn main() {}
