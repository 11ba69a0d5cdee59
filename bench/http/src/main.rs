//! Placeholder: the HTTP load benchmark is being written.

fn main() {}
