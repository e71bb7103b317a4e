//! Signers: software keys from PEM files (and, later, PKCS#11 tokens).

pub mod software;

pub use software::{load_key_file, KeyError, SignOptions, SoftwareSigner};
