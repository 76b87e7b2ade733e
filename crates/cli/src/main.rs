//! The `inbound` command-line tool (work in progress).

fn main() {}
