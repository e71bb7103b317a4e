//! The responder library's integration tests, in one test binary
//! (`cargo test -p ocsp-responder --test it`).
//!
//! Each file is one area; shared helpers (the openssl PKI, the in-memory status source and
//! test signer, the raw HTTP client, the judge) live in the `test-support` crate. Tests that
//! measure the whole process (peak RSS) or read their own standard input re-run this binary
//! for themselves alone.
//!
//! Run one area with a filter: `cargo test -p ocsp-responder --test it http_edge::`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod edge_deadlines;
mod h1_differential;
mod http_edge;
mod prop_never_good;
mod rollover;
