//! Keys that sign OCSP responses: what a key is ([`KeySpec`]), how it is found and unlocked,
//! and the signer it becomes ([`load`] → `Arc<dyn Signer>`).
//!
//! # A key
//!
//! A [`KeySpec`] is the one description of a signing key. Today it has one form:
//!
//! - [`KeySpec::File`]: a key file, PEM or DER, maybe encrypted (every form openssl writes;
//!   the table is in [`key_file`]), with an optional [`Passin`] saying where its passphrase is.
//!
//! - `KeySpec::Pkcs11`: a key inside a PKCS#11 token, named by an RFC 7512 URI
//!   (`pkcs11:token=…;object=…`), behind the cargo feature `pkcs11` (cryptoki); it signs
//!   inside the token, on a pool of sessions (the `pkcs11` module says how, and what it does
//!   when the token fails). [`KeySpec::for_rkey`] tells the two forms apart by the `pkcs11:`
//!   prefix, so that `--rkey` and `rkey` take either.
//!
//! `KeySpec` is `Clone + Eq + Hash` (and so is [`SignOptions`]), so that a caller can key a
//! table of loaded signers by `(KeySpec, SignOptions)`: issuers naming the same key then share
//! one signer, and one passphrase prompt. Its `Debug`
//! redacts inline secrets (`pass:<redacted>`); paths, variable names and descriptor numbers are
//! shown, since they are not secret.
//!
//! # Passphrases
//!
//! A passphrase is asked for only when the key turns out to be encrypted, and at most once per
//! [`load`]:
//!
//! 1. when the spec has a [`Passin`] (`pass:TEXT`, `env:VAR`, `file:PATH`, `fd:N`, `stdin`, as
//!    openssl's `-passin`; see [`passin`]), it is read, and a source that cannot be read is the
//!    error ([`KeyErrorKind::Passin`]): there is no falling back to a prompt;
//! 2. otherwise the caller's prompt is called with the key's path. The `ocsp` binary asks on the
//!    terminal; without a terminal, or in a caller that never asks ([`no_prompt`]), the prompt
//!    returns [`PromptError::Unavailable`] with the fix that suits the caller (a flag, a
//!    configuration key), which ends the message:
//!    `KEY: the key is encrypted and no passphrase was given: FIX`.
//!
//! Passphrases travel as [`Secret`]s (redacted `Debug`, overwritten when dropped), and so does
//! decrypted key material inside the crate.
//!
//! # What is checked at load
//!
//! - the file is one key file: at most [`key_file::MAX_KEY_FILE`] bytes, exactly one private
//!   key among its PEM blocks (certificates beside it are skipped);
//! - the passphrase decrypts the key, told apart from a damaged key;
//! - the key type and size sign here: RSA 2048–8192 bits, ECDSA P-256/P-384/P-521, Ed25519;
//! - the [`SignOptions`] suit the key: no SHA-1, PSS only with RSA;
//! - aws-lc-rs accepts the key (consistent RSA parameters, a point on the curve), and the
//!   public key it derives re-encodes as canonical DER.
//!
//! Certificates are not this crate's: matching the key against its certificate (byte
//! equality of [`Signer::public_key_der`] with the certificate's SubjectPublicKeyInfo) is the
//! caller's, as are validity and EKU (the responder's issuer loading does all three).
//!
//! # Errors
//!
//! A PKCS#11 key has its own list (the key found once, its type and size, `CKA_SIGN`, no
//! `CKA_ALWAYS_AUTHENTICATE`, a mechanism in the token's list, a test signature that verifies):
//! see the `pkcs11` module.
//!
//! Every failure is a [`KeyError`]: the key's path once, and a [`KeyErrorKind`] that says what
//! is wrong once and gives the fix (`PATH: WHAT: FIX`).
//!
//! # Dependencies
//!
//! `ocsp-proto` (the [`Signer`] trait, digests, algorithm identifiers) ← this crate ←
//! `ocsp-responder`. No HTTP, no async runtime: signing is synchronous and runs on the
//! responder's signing threads.

pub mod error;
pub mod key_file;
pub mod passin;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod pkcs11_settings;
pub mod software;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ocsp_proto::signer::Signer;
use ocsp_proto::HashAlg;

pub use error::{KeyError, KeyErrorKind, PromptError, PASSIN_FIX};
pub use passin::{read_passin, Passin, PassinError, Secret};
pub use pkcs11_settings::{Pkcs11Settings, Reinit};
pub use software::{SoftwareSigner, MAX_RSA_BITS, MIN_RSA_BITS};

/// A signing key, as configured: where it is and how it is unlocked.
///
/// `Debug` never shows a secret (see [`Passin`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySpec {
    /// A key file (`--rkey`, `rkey = …`): PEM or DER, maybe encrypted.
    File {
        /// The key file.
        path: PathBuf,
        /// Where its passphrase is; `None`: ask the prompt, if the key is encrypted.
        passin: Option<Passin>,
    },
    /// A key in a PKCS#11 token (`--rkey pkcs11:…`).
    #[cfg(feature = "pkcs11")]
    Pkcs11 {
        /// The RFC 7512 URI, as written (its `Debug` redacts `pin-value`).
        uri: Pkcs11UriText,
        /// The module, when the URI has no `module-path`.
        module: Option<PathBuf>,
        /// Where the PIN is (`--passin`'s forms); `None`: the URI's `pin-source`, else the prompt.
        pin: Option<Passin>,
        /// `[pkcs11]`: sessions, deadlines, the recovery ladder.
        settings: Pkcs11Settings,
    },
}

/// A PKCS#11 URI as written; `Debug` and `Display` redact `pin-value`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pkcs11UriText(pub String);

impl std::fmt::Debug for Pkcs11UriText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_key_name(&self.0))
    }
}

impl std::fmt::Display for Pkcs11UriText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_key_name(&self.0))
    }
}

/// Whether `rkey` names a key in a token (`pkcs11:…`) rather than a file.
pub fn is_pkcs11_uri(rkey: &str) -> bool {
    rkey.len() >= 7 && rkey.is_char_boundary(7) && rkey[..7].eq_ignore_ascii_case("pkcs11:")
}

/// `rkey` as it may appear in messages: a PKCS#11 URI with `pin-value` redacted; a path as is.
pub fn redact_key_name(rkey: &str) -> String {
    if !is_pkcs11_uri(rkey) {
        return rkey.to_string();
    }
    let mut out = String::with_capacity(rkey.len());
    let mut rest = rkey;
    while let Some(i) = rest.find("pin-value=") {
        out.push_str(&rest[..i]);
        out.push_str("pin-value=<redacted>");
        let after = &rest[i + "pin-value=".len()..];
        let end = after.find(['&', ';', '#']).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

impl KeySpec {
    /// A key file with an optional passphrase source.
    pub fn file(path: impl Into<PathBuf>, passin: Option<Passin>) -> KeySpec {
        KeySpec::File {
            path: path.into(),
            passin,
        }
    }

    /// What `--rkey`/`rkey` names: a `pkcs11:` URI becomes a token key (its PIN from
    /// `passin`, else as the URI and `pkcs11` say), anything else a key file. A URI in a
    /// build without the `pkcs11` feature is an error that says so.
    pub fn for_rkey(
        rkey: &Path,
        passin: Option<Passin>,
        pkcs11: &Pkcs11Settings,
    ) -> Result<KeySpec, KeyError> {
        let text = rkey.to_string_lossy();
        if !is_pkcs11_uri(&text) {
            return Ok(KeySpec::file(rkey, passin));
        }
        #[cfg(feature = "pkcs11")]
        {
            Ok(KeySpec::Pkcs11 {
                uri: Pkcs11UriText(text.into_owned()),
                module: pkcs11.module.clone(),
                pin: passin.or_else(|| pkcs11.pin.clone()),
                settings: pkcs11.clone(),
            })
        }
        #[cfg(not(feature = "pkcs11"))]
        {
            let _ = (passin, pkcs11);
            Err(KeyError::new(
                redact_key_name(&text),
                KeyErrorKind::Pkcs11(
                    "this build has no PKCS#11 support: build with the cargo feature `pkcs11` \
                     (on by default in the `ocsp` binary)"
                        .into(),
                ),
            ))
        }
    }

    /// How the key is named in messages: the file's path, or the URI with `pin-value`
    /// redacted.
    pub fn name(&self) -> String {
        match self {
            KeySpec::File { path, .. } => path.display().to_string(),
            #[cfg(feature = "pkcs11")]
            KeySpec::Pkcs11 { uri, .. } => uri.to_string(),
        }
    }
}

/// How to sign: the digest (`--rmd`) and, for RSA keys, PSS padding (`--rsigopt
/// rsa_padding_mode:pss`). Part of what makes two signers the same (`Hash + Eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignOptions {
    /// Digest for RSA and ECDSA signatures (ignored by Ed25519). Default SHA-256.
    /// SHA-1 is refused for RSA and ECDSA keys.
    pub digest: HashAlg,
    /// RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only; refused for other keys).
    pub rsa_pss: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            digest: HashAlg::Sha256,
            rsa_pss: false,
        }
    }
}

/// Asks for the passphrase of the encrypted key at the given path, when its [`KeySpec`] has no
/// [`Passin`]. The `ocsp` binary reads the terminal; see [`PromptError`] for saying no.
pub type Prompt<'a> = &'a mut dyn FnMut(&Path) -> Result<Secret, PromptError>;

/// A prompt for callers that never ask: an encrypted key without a [`Passin`] fails with
/// `KEY: the key is encrypted and no passphrase was given:` [`PASSIN_FIX`].
pub fn no_prompt(_key: &Path) -> Result<Secret, PromptError> {
    Err(PromptError::Unavailable {
        fix: PASSIN_FIX.into(),
    })
}

/// Load the key `spec` describes into a signer that signs with `opts`.
///
/// The passphrase of an encrypted key comes from the spec's [`Passin`] or, without one, from
/// `prompt` (called at most once, and only for an encrypted key). Everything listed under
/// "What is checked at load" in the crate documentation is checked here; the certificate is
/// not.
pub fn load(
    spec: &KeySpec,
    opts: SignOptions,
    prompt: Prompt<'_>,
) -> Result<Arc<dyn Signer>, KeyError> {
    match spec {
        KeySpec::File { path, passin } => {
            let mut passphrase = || match passin {
                Some(p) => p.read().map_err(KeyErrorKind::Passin),
                None => prompt(path).map_err(KeyErrorKind::from),
            };
            let signer = SoftwareSigner::from_file(path, &mut passphrase, opts)?;
            Ok(Arc::new(signer))
        }
        #[cfg(feature = "pkcs11")]
        KeySpec::Pkcs11 {
            uri,
            module,
            pin,
            settings,
        } => {
            let signer = pkcs11::Pkcs11Signer::open(
                &uri.0,
                module.as_deref(),
                pin.as_ref(),
                settings,
                opts,
                prompt,
            )?;
            Ok(Arc::new(signer))
        }
    }
}

#[cfg(test)]
mod tests;
