//! The signer crate's integration tests, in one test binary
//! (`cargo test -p ocsp-signer --test it`): keys made and read by the real `openssl`, and
//! every passphrase source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod signer_openssl;
mod signer_passin;
