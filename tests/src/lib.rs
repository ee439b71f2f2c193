//! End-to-end tests' helpers and the scenarios of the `timebank-bench` benchmark binary.

pub mod bench;
