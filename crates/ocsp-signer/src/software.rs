//! The software signer: a private key held in memory, signing with aws-lc-rs.
//!
//! Key types: RSA of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`] bits (PKCS#1 v1.5 or, with
//! [`SignOptions::rsa_pss`], RSASSA-PSS with the salt as long as the digest), ECDSA on P-256,
//! P-384 and P-521 (any of SHA-256/384/512 on any curve), Ed25519. Refused, each with the fix:
//! smaller or larger RSA keys, RSA-PSS-restricted keys, other curves, EC keys with explicit
//! parameters, DSA, Ed448, X25519, SHA-1, and PSS with a key that is not RSA.
//!
//! At load the public key is derived from the private key by aws-lc-rs and re-encoded
//! through the x509 types: [`Signer::public_key_der`] is exactly the SubjectPublicKeyInfo a
//! certificate for this key carries (canonical DER), so a caller compares it with its
//! certificate byte for byte.
//!
//! Where the key comes from (file, PEM or DER, encryption) is [`crate::key_file`]'s.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaEncoding, RsaKeyPair};
use aws_lc_rs::{digest, error::KeyRejected};
use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use ocsp_proto::sigalg;
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::HashAlg;
use spki::AlgorithmIdentifierOwned;

use crate::error::{KeyError, KeyErrorKind};
use crate::key_file::{self, PlainKey};
use crate::passin::Secret;
use crate::SignOptions;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (aws-lc's limit).
pub const MAX_RSA_BITS: usize = 8192;

/// A private key held in memory.
///
/// Signing takes `&self` and the key is `Send + Sync`: one signer serves many threads at once.
pub struct SoftwareSigner {
    spki_der: Vec<u8>,
    key: Key,
    algorithm: AlgorithmIdentifierOwned,
    description: String,
    rng: SystemRandom,
}

enum Key {
    Rsa {
        pair: RsaKeyPair,
        encoding: &'static dyn RsaEncoding,
    },
    Ecdsa {
        pair: EcdsaKeyPair,
        prehash: Prehash,
    },
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("key", &self.description)
            .finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// Load the key file at `path` (see [`crate::key_file`]). `passphrase` is called only when
    /// the key is encrypted, at most once; what it returns as an error is the error.
    pub(crate) fn from_file(
        path: &Path,
        passphrase: &mut dyn FnMut() -> Result<Secret, KeyErrorKind>,
        opts: SignOptions,
    ) -> Result<SoftwareSigner, KeyError> {
        key_file::read_key_file(path, passphrase)
            .and_then(|key| build_signer(&key, opts))
            .map_err(|kind| KeyError::new(path, kind))
    }

    /// Load a key from the bytes of a key file (PEM, or DER when there is no PEM block), for
    /// keys that are not in a file (generated in memory, in tests and benchmarks). `name`
    /// stands for the file in errors. An encrypted key needs `passphrase`; without one it
    /// fails with [`KeyErrorKind::NoPassphrase`].
    pub fn from_bytes(
        name: &Path,
        data: &[u8],
        passphrase: Option<&Secret>,
        opts: SignOptions,
    ) -> Result<SoftwareSigner, KeyError> {
        let mut ask = || match passphrase {
            Some(p) => Ok(p.clone()),
            None => Err(KeyErrorKind::NoPassphrase {
                fix: crate::PASSIN_FIX.into(),
            }),
        };
        key_file::read_key(data, &mut ask)
            .and_then(|key| build_signer(&key, opts))
            .map_err(|kind| KeyError::new(name, kind))
    }
}

fn oid_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        rfc8410::ID_ED_448 => "Ed448".into(),
        rfc8410::ID_X_25519 => "X25519".into(),
        rfc8410::ID_X_448 => "X448".into(),
        rfc5912::ID_DSA => "DSA".into(),
        rfc5912::DHPUBLICNUMBER => "DH".into(),
        o => const_oid::db::DB
            .by_oid(&o)
            .map_or_else(|| o.to_string(), str::to_string),
    }
}

fn rsa_bits(pkcs1_der: &[u8]) -> Result<usize, KeyErrorKind> {
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der).map_err(|e| KeyErrorKind::Malformed {
        what: "RSA private key",
        detail: e.to_string(),
    })?;
    let n = key.modulus.as_bytes();
    Ok(match n.first() {
        Some(&top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    })
}

fn rsa_pair(
    pkcs1_der: &[u8],
    pkcs8_der: Option<&[u8]>,
) -> Result<(RsaKeyPair, usize), KeyErrorKind> {
    let bits = rsa_bits(pkcs1_der)?;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(KeyErrorKind::RsaKeySize { bits });
    }
    let pair = match pkcs8_der {
        Some(p8) => RsaKeyPair::from_pkcs8(p8),
        None => RsaKeyPair::from_der(pkcs1_der),
    }
    .map_err(|e| rejected("RSA", &e))?;
    Ok((pair, bits))
}

fn rejected(kind: &'static str, e: &KeyRejected) -> KeyErrorKind {
    KeyErrorKind::Rejected {
        kind,
        reason: e.to_string(),
    }
}

/// For ECDSA with a digest aws-lc-rs does not pair with the curve: the digest to hash with,
/// and the curve's native digest whose length the hash is fitted to (see [`fit_digest`]).
type Prehash = Option<(HashAlg, &'static digest::Algorithm)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn from_oid(oid: &ObjectIdentifier) -> Result<Curve, KeyErrorKind> {
        match *oid {
            rfc5912::SECP_256_R_1 => Ok(Curve::P256),
            rfc5912::SECP_384_R_1 => Ok(Curve::P384),
            rfc5912::SECP_521_R_1 => Ok(Curve::P521),
            o => Err(KeyErrorKind::UnsupportedCurve {
                curve: oid_name(&o),
            }),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The aws-lc-rs signing algorithm for this curve and digest, and, when aws-lc-rs has no
    /// such pairing, the prehash to apply before signing with the curve's native pairing.
    fn signing(self, digest: HashAlg) -> (&'static signature::EcdsaSigningAlgorithm, Prehash) {
        use signature as s;
        match (self, digest) {
            (Curve::P256, HashAlg::Sha256) => (&s::ECDSA_P256_SHA256_ASN1_SIGNING, None),
            (Curve::P256, d) => (
                &s::ECDSA_P256_SHA256_ASN1_SIGNING,
                Some((d, &digest::SHA256)),
            ),
            (Curve::P384, HashAlg::Sha384) => (&s::ECDSA_P384_SHA384_ASN1_SIGNING, None),
            (Curve::P384, d) => (
                &s::ECDSA_P384_SHA384_ASN1_SIGNING,
                Some((d, &digest::SHA384)),
            ),
            (Curve::P521, HashAlg::Sha256) => (&s::ECDSA_P521_SHA256_ASN1_SIGNING, None),
            (Curve::P521, HashAlg::Sha384) => (&s::ECDSA_P521_SHA384_ASN1_SIGNING, None),
            (Curve::P521, HashAlg::Sha512) => (&s::ECDSA_P521_SHA512_ASN1_SIGNING, None),
            // SHA-1 is refused before this point; should it arrive, it is prehashed.
            (Curve::P521, d) => (
                &s::ECDSA_P521_SHA512_ASN1_SIGNING,
                Some((d, &digest::SHA512)),
            ),
        }
    }
}

/// ECDSA signs the leftmost bits of the hash, as many as the curve order has, read as an
/// integer (FIPS 186-4 §6.4). aws-lc-rs pairs each curve with one digest, so a hash of
/// another length is fitted to that digest's length without changing the integer ECDSA
/// uses: a longer hash keeps its leftmost octets (P-256 with SHA-384 uses the first 256
/// bits either way); a shorter one gets leading zero octets (P-384 with SHA-256: the same
/// integer). Orders of P-256 and P-384 are whole octets, so no bit shift is involved;
/// P-521 with SHA-512 is native (the 512-bit hash is shorter than the 521-bit order).
fn fit_digest(hash: &[u8], len: usize) -> Vec<u8> {
    if hash.len() >= len {
        hash[..len].to_vec()
    } else {
        let mut out = vec![0u8; len - hash.len()];
        out.extend_from_slice(hash);
        out
    }
}

fn build_signer(key: &PlainKey, opts: SignOptions) -> Result<SoftwareSigner, KeyErrorKind> {
    let (kind, pkcs8_der, inner_der, curve_hint) = match key {
        PlainKey::Pkcs8(der) => {
            let info =
                pkcs8::PrivateKeyInfo::from_der(&der.0).map_err(|e| KeyErrorKind::Malformed {
                    what: "PKCS#8 private key",
                    detail: e.to_string(),
                })?;
            let curve = match info.algorithm.parameters {
                Some(p) if info.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY => Some(
                    p.decode_as::<ObjectIdentifier>()
                        .map_err(|_| KeyErrorKind::ExplicitCurve)?,
                ),
                _ => None,
            };
            (
                info.algorithm.oid,
                Some(&der.0[..]),
                info.private_key,
                curve,
            )
        }
        PlainKey::Pkcs1(der) => (rfc5912::RSA_ENCRYPTION, None, &der.0[..], None),
        PlainKey::Sec1(der) => (rfc5912::ID_EC_PUBLIC_KEY, None, &der.0[..], None),
    };

    let key_digest = || -> Result<HashAlg, KeyErrorKind> {
        if opts.digest == HashAlg::Sha1 {
            return Err(KeyErrorKind::Sha1);
        }
        Ok(opts.digest)
    };

    let (key, name, spki) = match kind {
        rfc5912::RSA_ENCRYPTION => {
            let (pair, bits) = rsa_pair(inner_der, pkcs8_der)?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            let encoding: &'static dyn RsaEncoding = match (key_digest()?, opts.rsa_pss) {
                (HashAlg::Sha384, false) => &signature::RSA_PKCS1_SHA384,
                (HashAlg::Sha512, false) => &signature::RSA_PKCS1_SHA512,
                (HashAlg::Sha384, true) => &signature::RSA_PSS_SHA384,
                (HashAlg::Sha512, true) => &signature::RSA_PSS_SHA512,
                (_, false) => &signature::RSA_PKCS1_SHA256,
                (_, true) => &signature::RSA_PSS_SHA256,
            };
            (Key::Rsa { pair, encoding }, format!("RSA-{bits}"), spki)
        }
        rfc5912::ID_RSASSA_PSS => return Err(KeyErrorKind::RsaPssKey),
        rfc5912::ID_EC_PUBLIC_KEY => {
            if opts.rsa_pss {
                return Err(KeyErrorKind::PssNeedsRsa { key: "EC" });
            }
            let sec1_key =
                sec1::EcPrivateKey::from_der(inner_der).map_err(|e| KeyErrorKind::Malformed {
                    what: "EC private key",
                    detail: e.to_string(),
                })?;
            let curve_oid = match (curve_hint, sec1_key.parameters) {
                (Some(c), _) => c,
                (None, Some(p)) => p.named_curve().ok_or(KeyErrorKind::ExplicitCurve)?,
                (None, None) => return Err(KeyErrorKind::NoCurve),
            };
            let curve = Curve::from_oid(&curve_oid)?;
            let (alg, prehash) = curve.signing(key_digest()?);
            let pair = match pkcs8_der {
                Some(p8) => EcdsaKeyPair::from_pkcs8(alg, p8),
                None => EcdsaKeyPair::from_private_key_der(alg, inner_der),
            }
            .map_err(|e| rejected("EC", &e))?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            (
                Key::Ecdsa { pair, prehash },
                format!("ECDSA {}", curve.name()),
                spki,
            )
        }
        rfc8410::ID_ED_25519 => {
            if opts.rsa_pss {
                return Err(KeyErrorKind::PssNeedsRsa { key: "Ed25519" });
            }
            let p8 = pkcs8_der.ok_or_else(|| KeyErrorKind::Malformed {
                what: "Ed25519 key",
                detail: "not in PKCS#8".into(),
            })?;
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(p8)
                .map_err(|e| rejected("Ed25519", &e))?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            (Key::Ed25519(pair), "Ed25519".to_string(), spki)
        }
        other => {
            return Err(KeyErrorKind::UnsupportedKeyType {
                kind: oid_name(&other),
            })
        }
    };
    let encoding = |what: &'static str| {
        move |e: &dyn std::fmt::Display| KeyErrorKind::Encoding {
            what,
            detail: e.to_string(),
        }
    };
    let spki_der = spki.map_err(|e| encoding("the public key")(&e))?;
    let algorithm = match &key {
        Key::Rsa { .. } if opts.rsa_pss => sigalg::pss_algorithm_identifier(opts.digest)
            .map_err(|e| encoding("the RSASSA-PSS parameters")(&e))?,
        Key::Rsa { .. } => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
                HashAlg::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
                _ => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            },
            parameters: Some(der::asn1::Null.into()),
        },
        Key::Ecdsa { .. } => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                HashAlg::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
                _ => rfc5912::ECDSA_WITH_SHA_256,
            },
            parameters: None,
        },
        Key::Ed25519(_) => AlgorithmIdentifierOwned {
            oid: rfc8410::ID_ED_25519,
            parameters: None,
        },
    };
    // The SPKI must be exactly what a certificate for this key carries; re-encoding it
    // through the x509 types checks it is canonical DER.
    let reencoded = spki::SubjectPublicKeyInfoOwned::from_der(&spki_der)
        .and_then(|s| s.to_der())
        .map_err(|e| encoding("the public key")(&e))?;
    if reencoded != spki_der {
        return Err(encoding("the public key")(&"not canonical DER"));
    }
    let description = match key {
        Key::Ed25519(_) => name,
        _ => format!("{name} {}", sigalg::algorithm_name(&algorithm)),
    };
    Ok(SoftwareSigner {
        spki_der,
        key,
        algorithm,
        description,
        rng: SystemRandom::new(),
    })
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        self.algorithm.clone()
    }

    fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.key {
            Key::Rsa { pair, encoding } => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(*encoding, &self.rng, tbs, &mut sig)
                    .map_err(|_| SignError(format!("{}: RSA signing failed", self.description)))?;
                Ok(sig)
            }
            Key::Ecdsa {
                pair,
                prehash: None,
            } => pair
                .sign(&self.rng, tbs)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError(format!("{}: ECDSA signing failed", self.description))),
            Key::Ecdsa {
                pair,
                prehash: Some((hash, native)),
            } => {
                let fitted = fit_digest(&hash.digest(tbs), native.output_len());
                digest::Digest::import_less_safe(&fitted, native)
                    .and_then(|d| pair.sign_digest(&d))
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| SignError(format!("{}: ECDSA signing failed", self.description)))
            }
            Key::Ed25519(pair) => Ok(pair.sign(tbs).as_ref().to_vec()),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fit_digest_truncates_and_pads() {
        assert_eq!(fit_digest(&[1, 2, 3, 4], 2), vec![1, 2]);
        assert_eq!(fit_digest(&[1, 2], 4), vec![0, 0, 1, 2]);
        assert_eq!(fit_digest(&[1, 2], 2), vec![1, 2]);
    }

    #[test]
    fn no_key_names_what_was_found() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = SoftwareSigner::from_bytes(
            Path::new("x.pem"),
            pem.as_bytes(),
            None,
            SignOptions::default(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("x.pem: no private key found (found: CERTIFICATE); give the responder's private key file (--rkey), as `openssl genpkey` or `openssl req -newkey` wrote it".to_string())
        );
    }

    #[test]
    fn signer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SoftwareSigner>();
    }
}
