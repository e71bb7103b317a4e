//! `ocsp-proto`'s integration tests, in one test binary (`cargo test -p ocsp-proto --test it`):
//! the property tests of serials, CertIDs, the GET path codec and CRLs, CRLs read from and
//! checked by the real `openssl`, a 1,000,000-entry CRL, and the fuzzing finds kept as
//! regressions.
//!
//! This crate does not use `test-support` (which links the responder): a pure protocol
//! crate's tests need nothing but the crate itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crl_openssl;
mod crl_scale;
mod fuzz_regressions;
mod prop_cert_id;
mod prop_crl;
mod prop_get_path;
