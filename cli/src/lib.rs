//! timebank-cli as a library: the HTTP side of talking to a relay, shared by the
//! `timebank` binary and the end-to-end tests.

pub mod relay;
