//! `ocsp-proto`'s integration tests, in one test binary (`cargo test -p ocsp-proto --test it`):
//! the property tests of serials and CertIDs, and the fuzzing finds kept as regressions.
//!
//! This crate does not use `test-support` (which links the responder): a pure protocol
//! crate's tests need nothing but the crate itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_regressions;
mod prop_cert_id;
