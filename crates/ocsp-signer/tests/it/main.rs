//! The signer crate's integration tests, in one test binary
//! (`cargo test -p ocsp-signer --test it`): keys made and read by the real `openssl`, and
//! every passphrase source; keys in a real SoftHSM2 token (`pkcs11_*`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pkcs11_algorithms;
mod pkcs11_faults;
mod pkcs11_support;
mod signer_openssl;
mod signer_passin;
