//! The signing mechanism, chosen once at start from the key's type, the signing options
//! (`--rmd`, `--rsigopt rsa_padding_mode:pss`) and the token's mechanism list
//! (`C_GetMechanismList`), with what it needs done in software around it:
//!
//! | key | options | first choice (hashes in the token) | else (hash in software) |
//! |---|---|---|---|
//! | RSA | PKCS#1 v1.5, SHA-n | `CKM_SHAn_RSA_PKCS` | `CKM_RSA_PKCS` over DigestInfo ‖ hash |
//! | RSA | PSS, SHA-n | `CKM_SHAn_RSA_PKCS_PSS` (MGF1-SHA-n, salt = n/8) | `CKM_RSA_PKCS_PSS` over the hash |
//! | P-256, P-384 | SHA-n | `CKM_ECDSA_SHAn` | `CKM_ECDSA` over the hash |
//! | Ed25519 | — | `CKM_EDDSA` (pure Ed25519) | — |
//!
//! ECDSA signatures come out of the token as `r ‖ s` and are DER-encoded
//! (`Ecdsa-Sig-Value`) here. The signatureAlgorithm the response carries is the one the
//! software signer would write for the same key and options. Nothing available → an error
//! naming the mechanisms looked for.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use der::asn1::UintRef;
use der::Encode;
use ocsp_proto::{sigalg, HashAlg};
use spki::AlgorithmIdentifierOwned;

use super::public_key::KeyKind;
use crate::SignOptions;

/// How one signature is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The mechanism.
    pub mechanism: MechanismType,
    /// What the token is given.
    pub input: Input,
    /// The digest (for PSS parameters and prehashing).
    pub digest: HashAlg,
    /// The signature is `r ‖ s` to be DER-encoded.
    pub ecdsa_raw: bool,
    /// PSS parameters are passed.
    pub pss: bool,
}

/// What the token is given to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The message itself (the token hashes).
    Message,
    /// The message's hash.
    Hash,
    /// DigestInfo ‖ hash (PKCS#1 v1.5 without hashing in the token).
    DigestInfo,
}

fn digest_mech(d: HashAlg) -> MechanismType {
    match d {
        HashAlg::Sha384 => MechanismType::SHA384,
        HashAlg::Sha512 => MechanismType::SHA512,
        _ => MechanismType::SHA256,
    }
}

fn mgf(d: HashAlg) -> PkcsMgfType {
    match d {
        HashAlg::Sha384 => PkcsMgfType::MGF1_SHA384,
        HashAlg::Sha512 => PkcsMgfType::MGF1_SHA512,
        _ => PkcsMgfType::MGF1_SHA256,
    }
}

/// Choose the plan for `kind` signed with `opts` among `available`.
pub fn choose(
    kind: KeyKind,
    opts: SignOptions,
    available: &[MechanismType],
) -> Result<Plan, String> {
    if opts.digest == HashAlg::Sha1 {
        return Err(crate::KeyErrorKind::Sha1.to_string());
    }
    let d = opts.digest;
    let has = |m: &MechanismType| available.contains(m);
    let pick = |combined: MechanismType, fallback: MechanismType, input: Input| {
        if has(&combined) {
            Ok((combined, Input::Message))
        } else if has(&fallback) {
            Ok((fallback, input))
        } else {
            Err(format!(
                "the token has neither {combined} nor {fallback} for this key: use another \
                 --rmd/--rsigopt, or a key type the token signs with"
            ))
        }
    };
    let plan = |(mechanism, input): (MechanismType, Input), ecdsa_raw, pss| Plan {
        mechanism,
        input,
        digest: d,
        ecdsa_raw,
        pss,
    };
    match kind {
        KeyKind::Rsa(_) if opts.rsa_pss => {
            let combined = match d {
                HashAlg::Sha384 => MechanismType::SHA384_RSA_PKCS_PSS,
                HashAlg::Sha512 => MechanismType::SHA512_RSA_PKCS_PSS,
                _ => MechanismType::SHA256_RSA_PKCS_PSS,
            };
            Ok(plan(
                pick(combined, MechanismType::RSA_PKCS_PSS, Input::Hash)?,
                false,
                true,
            ))
        }
        KeyKind::Rsa(_) => {
            let combined = match d {
                HashAlg::Sha384 => MechanismType::SHA384_RSA_PKCS,
                HashAlg::Sha512 => MechanismType::SHA512_RSA_PKCS,
                _ => MechanismType::SHA256_RSA_PKCS,
            };
            Ok(plan(
                pick(combined, MechanismType::RSA_PKCS, Input::DigestInfo)?,
                false,
                false,
            ))
        }
        _ if opts.rsa_pss => Err(crate::KeyErrorKind::PssNeedsRsa {
            key: if kind == KeyKind::Ed25519 {
                "Ed25519"
            } else {
                "EC"
            },
        }
        .to_string()),
        KeyKind::P256 | KeyKind::P384 => {
            let combined = match d {
                HashAlg::Sha384 => MechanismType::ECDSA_SHA384,
                HashAlg::Sha512 => MechanismType::ECDSA_SHA512,
                _ => MechanismType::ECDSA_SHA256,
            };
            Ok(plan(
                pick(combined, MechanismType::ECDSA, Input::Hash)?,
                true,
                false,
            ))
        }
        KeyKind::Ed25519 => {
            if !has(&MechanismType::EDDSA) {
                return Err("the token has no CKM_EDDSA for this Ed25519 key".into());
            }
            Ok(plan((MechanismType::EDDSA, Input::Message), false, false))
        }
    }
}

impl Plan {
    /// The cryptoki mechanism, with its parameters.
    pub fn mechanism(&self) -> Mechanism<'static> {
        let d = self.digest;
        let pss = PkcsPssParams {
            hash_alg: digest_mech(d),
            mgf: mgf(d),
            s_len: (d.output_len() as u64).into(),
        };
        let m = self.mechanism;
        if m == MechanismType::SHA256_RSA_PKCS {
            Mechanism::Sha256RsaPkcs
        } else if m == MechanismType::SHA384_RSA_PKCS {
            Mechanism::Sha384RsaPkcs
        } else if m == MechanismType::SHA512_RSA_PKCS {
            Mechanism::Sha512RsaPkcs
        } else if m == MechanismType::RSA_PKCS {
            Mechanism::RsaPkcs
        } else if m == MechanismType::SHA256_RSA_PKCS_PSS {
            Mechanism::Sha256RsaPkcsPss(pss)
        } else if m == MechanismType::SHA384_RSA_PKCS_PSS {
            Mechanism::Sha384RsaPkcsPss(pss)
        } else if m == MechanismType::SHA512_RSA_PKCS_PSS {
            Mechanism::Sha512RsaPkcsPss(pss)
        } else if m == MechanismType::RSA_PKCS_PSS {
            Mechanism::RsaPkcsPss(pss)
        } else if m == MechanismType::ECDSA_SHA256 {
            Mechanism::EcdsaSha256
        } else if m == MechanismType::ECDSA_SHA384 {
            Mechanism::EcdsaSha384
        } else if m == MechanismType::ECDSA_SHA512 {
            Mechanism::EcdsaSha512
        } else if m == MechanismType::ECDSA {
            Mechanism::Ecdsa
        } else {
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure))
        }
    }

    /// What the token is given for `tbs`.
    pub fn input(&self, tbs: &[u8]) -> Vec<u8> {
        match self.input {
            Input::Message => tbs.to_vec(),
            Input::Hash => self.digest.digest(tbs),
            Input::DigestInfo => {
                let mut v = digest_info_prefix(self.digest).to_vec();
                v.extend_from_slice(&self.digest.digest(tbs));
                v
            }
        }
    }

    /// The token's output as the signature BIT STRING holds it.
    pub fn output(&self, sig: Vec<u8>) -> Result<Vec<u8>, String> {
        if !self.ecdsa_raw {
            return Ok(sig);
        }
        ecdsa_der(&sig)
    }
}

/// The DER `DigestInfo` header before a hash of `d` (RFC 8017 §9.2, note 1).
fn digest_info_prefix(d: HashAlg) -> &'static [u8] {
    match d {
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
    }
}

#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// `r ‖ s` (two halves of equal length) as DER `Ecdsa-Sig-Value`.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return Err(format!(
            "the token's ECDSA signature is {} octets, not r ‖ s",
            raw.len()
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let enc = |e: der::Error| format!("encoding the ECDSA signature: {e}");
    EcdsaSigValue {
        r: UintRef::new(r).map_err(enc)?,
        s: UintRef::new(s).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// The signatureAlgorithm for `kind` signed with `opts` (as the software signer writes it).
pub fn algorithm(kind: KeyKind, opts: SignOptions) -> Result<AlgorithmIdentifierOwned, String> {
    use const_oid::db::{rfc5912, rfc8410};
    Ok(match kind {
        KeyKind::Rsa(_) if opts.rsa_pss => sigalg::pss_algorithm_identifier(opts.digest)
            .map_err(|e| format!("encoding the RSASSA-PSS parameters: {e}"))?,
        KeyKind::Rsa(_) => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
                HashAlg::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
                _ => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            },
            parameters: Some(der::asn1::Null.into()),
        },
        KeyKind::P256 | KeyKind::P384 => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                HashAlg::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
                _ => rfc5912::ECDSA_WITH_SHA_256,
            },
            parameters: None,
        },
        KeyKind::Ed25519 => AlgorithmIdentifierOwned {
            oid: rfc8410::ID_ED_25519,
            parameters: None,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn combined_first_then_software_hash() {
        let opts = SignOptions::default();
        let p = choose(
            KeyKind::P256,
            opts,
            &[MechanismType::ECDSA, MechanismType::ECDSA_SHA256],
        )
        .unwrap();
        assert_eq!(
            (p.mechanism, p.input),
            (MechanismType::ECDSA_SHA256, Input::Message)
        );
        let p = choose(KeyKind::P256, opts, &[MechanismType::ECDSA]).unwrap();
        assert_eq!((p.mechanism, p.input), (MechanismType::ECDSA, Input::Hash));
        let p = choose(KeyKind::Rsa(2048), opts, &[MechanismType::RSA_PKCS]).unwrap();
        assert_eq!(p.input, Input::DigestInfo);
        assert_eq!(p.input(b"x").len(), 19 + 32);
        let e = choose(KeyKind::Ed25519, opts, &[MechanismType::ECDSA]).unwrap_err();
        assert!(e.contains("CKM_EDDSA"), "{e}");
    }

    #[test]
    fn ecdsa_raw_becomes_der() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[63] = 1;
        let der = ecdsa_der(&raw).unwrap();
        // SEQUENCE { INTEGER 00 80 00.., INTEGER 01 }
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 1, 1]);
        assert!(ecdsa_der(&[1, 2, 3]).is_err());
    }
}
