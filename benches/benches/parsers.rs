//! Parser comparison (being written).
fn main() {}
