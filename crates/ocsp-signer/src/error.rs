//! What goes wrong when a key is loaded, as values.
//!
//! A [`KeyError`] is where the key is (its file) and a [`KeyErrorKind`]: what is wrong and how
//! to fix it. `Display` writes `PATH: WHAT: FIX`. No kind's text contains the path, so every
//! message names the file exactly once. A caller that keeps errors in its own shape (the
//! responder's `IssuerError::File { path, reason }`) takes [`KeyError::path`] and
//! [`KeyError::kind`] apart and prints the same text.
//!
//! The flag names in the fixes (`--rkey`, `--passin`, `--rmd`, `--rsigopt`) are the ones of
//! `ocsp serve`; the configuration keys have the same names (`rkey`, `passin`, `rmd`,
//! `rsigopt`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::passin::PassinError;

/// How to give a passphrase, for [`KeyErrorKind::NoPassphrase`] when the caller has no better
/// advice (see [`PromptError::Unavailable`]).
pub const PASSIN_FIX: &str =
    "add --passin pass:…|env:VAR|file:PATH|fd:N|stdin, or run on a terminal to be asked";

/// The fix for an encrypted key in a form this crate does not decrypt.
const REENCRYPT: &str =
    "re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`";

/// The key types that are accepted, for the fix of a refused key.
const SUPPORTED: &str = "use RSA (2048 to 8192 bits), ECDSA P-256/P-384/P-521 or Ed25519";

/// A key that could not be loaded: the file, once, and what is wrong with it.
#[derive(Debug)]
pub struct KeyError {
    path: PathBuf,
    kind: KeyErrorKind,
}

impl KeyError {
    /// The error `kind` for the key at `path`.
    pub fn new(path: impl Into<PathBuf>, kind: KeyErrorKind) -> KeyError {
        KeyError {
            path: path.into(),
            kind,
        }
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is wrong, and the fix (its `Display` does not name the file).
    pub fn kind(&self) -> &KeyErrorKind {
        &self.kind
    }

    /// The parts: the key file and what is wrong.
    pub fn into_parts(self) -> (PathBuf, KeyErrorKind) {
        (self.path, self.kind)
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

/// No `source()`: the cause's text is already in the message, and `{:#}` (anyhow's chain)
/// would print it twice.
impl std::error::Error for KeyError {}

/// What is wrong with a key, and the fix. Never names the key file (see [`KeyError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// The file could not be opened or read.
    Read(std::io::Error),
    /// The file is larger than any key file (`max` bytes).
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The file has PEM markers but does not parse as PEM.
    MalformedPem(String),
    /// PEM without a private key; `found` lists the labels of the blocks that are there.
    NoKey {
        /// The PEM labels found (`CERTIFICATE`, …), each once.
        found: Vec<String>,
    },
    /// Neither PEM nor a DER private key.
    NotAKey,
    /// More than one private key in the file.
    SeveralKeys {
        /// Their PEM labels, in file order.
        labels: Vec<String>,
    },
    /// A PEM private key label that is not read (`unsupported private key format`).
    UnsupportedFormat {
        /// The PEM label.
        label: String,
    },
    /// An OpenSSH-format key (`OPENSSH PRIVATE KEY`).
    OpenSsh,
    /// A key whose structure does not parse: `what` names the structure, `detail` the fault.
    Malformed {
        /// The structure (`PKCS#8 private key`, `EC private key`, `DEK-Info header`, …).
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A legacy-encrypted PEM block whose `Proc-Type` is not `4,ENCRYPTED`.
    ProcType(String),
    /// `Proc-Type: 4,ENCRYPTED` without a `DEK-Info` header.
    NoDekInfo,
    /// An encryption scheme that is not decrypted here (PBES1, an unknown cipher, …).
    UnsupportedEncryption {
        /// Which scheme, and what is supported.
        detail: String,
    },
    /// The passphrase does not decrypt the key.
    WrongPassphrase,
    /// The key is encrypted and no passphrase was given; `fix` says how to give one.
    NoPassphrase {
        /// How to give the passphrase (see [`PASSIN_FIX`]).
        fix: String,
    },
    /// The `passin` source could not be read.
    Passin(PassinError),
    /// Asking for the passphrase failed (the terminal could not be read).
    Prompt(std::io::Error),
    /// A key type that does not sign here (DSA, Ed448, X25519, …).
    UnsupportedKeyType {
        /// The type, by name or OID.
        kind: String,
    },
    /// An EC key on a curve other than P-256, P-384 and P-521.
    UnsupportedCurve {
        /// The curve, by name or OID.
        curve: String,
    },
    /// An EC key with explicit curve parameters instead of a named curve.
    ExplicitCurve,
    /// An EC key that does not name its curve at all.
    NoCurve,
    /// An RSA-PSS-restricted key (`id-RSASSA-PSS` in PKCS#8).
    RsaPssKey,
    /// An RSA modulus outside [`MIN_RSA_BITS`](crate::MIN_RSA_BITS) to
    /// [`MAX_RSA_BITS`](crate::MAX_RSA_BITS).
    RsaKeySize {
        /// The modulus length, in bits.
        bits: usize,
    },
    /// aws-lc-rs refused the key (inconsistent parameters, a point off the curve, …).
    Rejected {
        /// `RSA`, `EC` or `Ed25519`.
        kind: &'static str,
        /// aws-lc-rs's reason.
        reason: String,
    },
    /// SHA-1 was asked for as the signing digest.
    Sha1,
    /// RSASSA-PSS was asked for with a key that is not RSA.
    PssNeedsRsa {
        /// The key type (`EC`, `Ed25519`).
        key: &'static str,
    },
    /// The public key or the signature algorithm could not be encoded (should not happen).
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's error.
        detail: String,
    },
    /// A key in a PKCS#11 token could not be used: what the token or the module said, and
    /// the fix.
    Pkcs11(String),
}

impl fmt::Display for KeyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeyErrorKind as K;
        match self {
            K::Read(e) => match e.kind() {
                std::io::ErrorKind::NotFound => write!(f, "cannot read: {e} (check --rkey)"),
                std::io::ErrorKind::PermissionDenied => {
                    write!(f, "cannot read: {e} (check the file's owner and mode)")
                }
                _ => write!(f, "cannot read: {e}"),
            },
            K::TooLarge { max } => write!(
                f,
                "larger than {max} bytes: this is not a key file (check --rkey)"
            ),
            K::MalformedPem(e) => write!(f, "malformed PEM: {e}"),
            K::NoKey { found } if found.is_empty() => {
                write!(f, "no private key found (no PEM blocks); {GIVE_KEY}")
            }
            K::NoKey { found } => write!(
                f,
                "no private key found (found: {}); {GIVE_KEY}",
                found.join(", ")
            ),
            K::NotAKey => write!(
                f,
                "no private key found (not PEM, and not a DER private key either); {GIVE_KEY}"
            ),
            K::SeveralKeys { labels } => write!(
                f,
                "{} private keys in one file ({}): keep only the responder's key",
                labels.len(),
                labels.join(", ")
            ),
            K::UnsupportedFormat { label } => {
                write!(f, "unsupported private key format `{label}`; {SUPPORTED}")
            }
            K::OpenSsh => f.write_str(
                "an OpenSSH-format key; convert it with `ssh-keygen -p -m PKCS8 -f FILE` \
                 or make one with `openssl genpkey`",
            ),
            K::Malformed { what, detail } => write!(f, "malformed {what}: {detail}"),
            K::ProcType(p) => write!(
                f,
                "unsupported PEM header Proc-Type: {p}; only `4,ENCRYPTED` is read"
            ),
            K::NoDekInfo => f.write_str(
                "PEM block with Proc-Type: 4,ENCRYPTED but no DEK-Info header; \
                 write the key again with `openssl pkey`",
            ),
            K::UnsupportedEncryption { detail } => write!(f, "{detail}; {REENCRYPT}"),
            K::WrongPassphrase => f.write_str("wrong passphrase (check --passin)"),
            K::NoPassphrase { fix } => {
                write!(f, "the key is encrypted and no passphrase was given: {fix}")
            }
            K::Passin(e) => write!(f, "{e}"),
            K::Prompt(e) => write!(
                f,
                "cannot read the passphrase: {e}; give it with --passin instead"
            ),
            K::UnsupportedKeyType { kind } => {
                write!(f, "{kind} keys are not supported; {SUPPORTED}")
            }
            K::UnsupportedCurve { curve } => write!(f, "EC key on curve {curve}; {SUPPORTED}"),
            K::ExplicitCurve => f.write_str(
                "EC key with explicit curve parameters; rewrite it with a named curve: \
                 `openssl pkey -in KEY -out NEW -ec_param_enc named_curve`",
            ),
            K::NoCurve => f.write_str(
                "EC private key that does not name its curve; write it as PKCS#8 with \
                 `openssl pkey -in KEY -out NEW`",
            ),
            K::RsaPssKey => f.write_str(
                "an RSA-PSS-restricted key (openssl genpkey -algorithm RSA-PSS) is not \
                 supported; use an ordinary RSA key (`openssl genpkey -algorithm RSA`) \
                 with --rsigopt rsa_padding_mode:pss",
            ),
            K::RsaKeySize { bits } if *bits < crate::MIN_RSA_BITS => write!(
                f,
                "RSA key of {bits} bits; at least {} required (make one with \
                 `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`)",
                crate::MIN_RSA_BITS
            ),
            K::RsaKeySize { bits } => write!(
                f,
                "RSA key of {bits} bits; at most {} supported",
                crate::MAX_RSA_BITS
            ),
            K::Rejected { kind, reason } => write!(f, "{kind} private key rejected: {reason}"),
            K::Sha1 => f.write_str(
                "--rmd sha1: SHA-1 is not used for signing; use sha256, sha384 or sha512",
            ),
            K::PssNeedsRsa { key } => write!(
                f,
                "--rsigopt rsa_padding_mode:pss applies to RSA keys; this is an {key} key"
            ),
            K::Encoding { what, detail } => write!(f, "could not encode {what}: {detail}"),
            K::Pkcs11(what) => f.write_str(what),
        }
    }
}

/// The fix for a file that holds no usable key.
const GIVE_KEY: &str = "give the responder's private key file (--rkey), as `openssl genpkey` \
    or `openssl req -newkey` wrote it";

impl std::error::Error for KeyErrorKind {}

/// Why a passphrase prompt gave no passphrase.
#[derive(Debug)]
#[non_exhaustive]
pub enum PromptError {
    /// There is nobody to ask: standard input is not a terminal, or the caller never asks.
    /// `fix` tells the operator how to give the passphrase instead; it ends the message
    /// `PATH: the key is encrypted and no passphrase was given: FIX` (see [`PASSIN_FIX`]).
    Unavailable {
        /// How to give the passphrase.
        fix: String,
    },
    /// Asking failed: the terminal could not be read.
    Failed(std::io::Error),
}

impl From<PromptError> for KeyErrorKind {
    fn from(e: PromptError) -> KeyErrorKind {
        match e {
            PromptError::Unavailable { fix } => KeyErrorKind::NoPassphrase { fix },
            PromptError::Failed(e) => KeyErrorKind::Prompt(e),
        }
    }
}
