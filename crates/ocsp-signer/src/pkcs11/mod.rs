//! Keys in PKCS#11 tokens (HSMs, smart cards, SoftHSM2): signing happens inside the token,
//! the private key never leaves it (non-extractable keys work).
//!
//! # A key
//!
//! `--rkey`/`rkey` take an RFC 7512 URI ([`uri`]): `pkcs11:token=ocsp;object=resp-ec`, the
//! syntax of OpenSSL's pkcs11 provider. The module (the vendor's `.so`) is the URI's
//! `module-path`, else `--pkcs11-module` / `[pkcs11] module`, else the URI's `module-name`
//! looked up in the usual directories (`/usr/lib/<triplet>/pkcs11/`, `/usr/lib/pkcs11/`,
//! `/usr/lib/softhsm/`). The PIN: see [`pin`] (never inside the URI unless allowed; never
//! shown).
//!
//! # At start ([`Pkcs11Signer::open`])
//!
//! The module is loaded and initialised once per process ([`module`]); the token is found by
//! the URI's token attributes, the key by its label and id ([`token`]); one login; the key's
//! type and public half read (RSA 2048–8192, P-256, P-384, Ed25519; `CKA_SIGN` must be set;
//! `CKA_ALWAYS_AUTHENTICATE` keys are refused: they want a PIN per signature); the mechanism
//! chosen from the token's list ([`mechanism`]); one test signature, verified. The
//! certificate match (the key's SubjectPublicKeyInfo against `--rsigner`'s, with both named in
//! the error) is the caller's, as for key files.
//!
//! # Signing and faults
//!
//! One session per signing thread at a time, capped by the token's limit ([`sessions`]);
//! every signature verified before it is returned; token errors climb the recovery ladder,
//! then the signer is not ready until a probe succeeds; a call that hangs stops the others
//! from calling in ([`health`], [`signer`]). A failed signature is a `SignError` naming the
//! `CKR_…`: the responder answers `tryLater` for it and `/readyz` shows it.

pub mod fault;
pub mod health;
pub mod mechanism;
pub mod module;
pub mod pin;
pub mod public_key;
pub mod sessions;
pub mod signer;
pub mod token;
pub mod uri;

use std::path::{Path, PathBuf};

pub use signer::Pkcs11Signer;
pub use uri::Pkcs11Uri;

/// Directories searched for a `module-name`.
pub const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/lib/softhsm",
    "/usr/local/lib/softhsm",
];

/// The module's file for `uri`, `configured` being `--pkcs11-module` / `[pkcs11] module`.
pub fn resolve_module(uri: &Pkcs11Uri, configured: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = &uri.module_path {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = configured {
        return Ok(p.to_path_buf());
    }
    if let Some(name) = &uri.module_name {
        if name.contains('/') {
            return Err(format!(
                "module-name={name}: a name, not a path (use module-path= for a path)"
            ));
        }
        for dir in MODULE_DIRS {
            for file in [format!("{name}.so"), format!("lib{name}.so"), name.clone()] {
                let p = Path::new(dir).join(file);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
        return Err(format!(
            "module-name={name}: no such module in {}: give its path with --pkcs11-module",
            MODULE_DIRS.join(", ")
        ));
    }
    Err(
        "no PKCS#11 module: add --pkcs11-module PATH (or [pkcs11] module, or ?module-path= \
         in the URI); SoftHSM2's is /usr/lib/softhsm/libsofthsm2.so"
            .into(),
    )
}
