//! Bench binary (being written).
fn main() {}
