//! Software keys from PEM files, signing with aws-lc-rs. (Being written: API contract only.)

use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::HashAlg;
use spki::AlgorithmIdentifierOwned;
use std::path::{Path, PathBuf};

/// How to sign: the digest (`--rmd`) and, for RSA keys, PSS padding (`--rsigopt rsa_padding_mode:pss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOptions {
    /// Digest for RSA and ECDSA signatures (ignored by Ed25519). Default SHA-256.
    pub digest: HashAlg,
    /// RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    pub rsa_pss: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions { digest: HashAlg::Sha256, rsa_pss: false }
    }
}

/// A key file that could not be used, with the file named and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct KeyError {
    /// The key file.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// A private key held in memory.
pub struct SoftwareSigner {
    spki_der: Vec<u8>,
}

/// Load a PEM private key. `passphrase` is called only when the key is encrypted.
pub fn load_key_file(
    path: &Path,
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
    opts: SignOptions,
) -> Result<SoftwareSigner, KeyError> {
    let _ = (path, passphrase, opts);
    todo!("software signer")
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        todo!("software signer")
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        let _ = tbs;
        todo!("software signer")
    }
    fn describe(&self) -> String {
        todo!("software signer")
    }
}
