//! The SubjectPublicKeyInfo of a token's key, built from its attributes, in the canonical DER
//! a certificate for the key carries (so that the responder compares it with its certificate
//! byte for byte, as it does for key files):
//!
//! - RSA: `rsaEncryption` with NULL parameters over `RSAPublicKey { CKA_MODULUS,
//!   CKA_PUBLIC_EXPONENT }`;
//! - ECDSA: `id-ecPublicKey` with the named curve of CKA_EC_PARAMS (P-256 or P-384; explicit
//!   parameters are refused) over the point of CKA_EC_POINT;
//! - Ed25519: `id-Ed25519` without parameters over the 32-octet point (CKA_EC_PARAMS is the
//!   OID or the printable string `edwards25519`).
//!
//! CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40); some modules give
//! the bare point, which is accepted too.

use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString, UintRef};
use der::{Any, Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// The key's type, as the signer uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, with its modulus length in bits.
    Rsa(usize),
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// The length of an unsigned big-endian integer, in bits.
pub fn bits(n: &[u8]) -> usize {
    let n: &[u8] = match n.iter().position(|&b| b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    match n.first() {
        Some(&top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

/// The SPKI of an RSA key.
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Result<Vec<u8>, String> {
    let enc = |e: der::Error| format!("encoding the RSA public key: {e}");
    let key = pkcs1::RsaPublicKey {
        modulus: UintRef::new(modulus).map_err(enc)?,
        public_exponent: UintRef::new(exponent).map_err(enc)?,
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: Some(Any::from(der::asn1::Null)),
        },
        subject_public_key: BitString::from_bytes(&key.to_der().map_err(enc)?).map_err(enc)?,
    };
    spki.to_der().map_err(enc)
}

/// The curve CKA_EC_PARAMS names.
pub fn curve(params: &[u8], edwards: bool) -> Result<KeyKind, String> {
    if edwards {
        // PKCS#11 3.0: the OID, or PrintableString "edwards25519".
        if let Ok(oid) = ObjectIdentifier::from_der(params) {
            return match oid {
                rfc8410::ID_ED_25519 => Ok(KeyKind::Ed25519),
                o => Err(format!("an Edwards key on {o}; only Ed25519 is supported")),
            };
        }
        if let Ok(s) = der::asn1::PrintableStringRef::from_der(params) {
            return match s.as_str() {
                "edwards25519" => Ok(KeyKind::Ed25519),
                o => Err(format!("an Edwards key on {o}; only Ed25519 is supported")),
            };
        }
        return Err("unreadable CKA_EC_PARAMS on the Edwards key".into());
    }
    match ObjectIdentifier::from_der(params) {
        Ok(rfc5912::SECP_256_R_1) => Ok(KeyKind::P256),
        Ok(rfc5912::SECP_384_R_1) => Ok(KeyKind::P384),
        Ok(o) => Err(format!(
            "EC key on curve {o}; use P-256 or P-384 (or RSA, or Ed25519)"
        )),
        Err(_) => Err(
            "EC key with explicit curve parameters (not a named curve): make the key on \
             P-256 or P-384 by name"
                .into(),
        ),
    }
}

/// The SPKI of an EC or Ed25519 key from CKA_EC_PARAMS and CKA_EC_POINT.
pub fn ec_spki(kind: KeyKind, params: &[u8], point: &[u8]) -> Result<Vec<u8>, String> {
    let enc = |e: der::Error| format!("encoding the EC public key: {e}");
    let point = match OctetString::from_der(point) {
        Ok(inner) => inner.as_bytes().to_vec(),
        Err(_) => point.to_vec(),
    };
    let algorithm = match kind {
        KeyKind::Ed25519 => {
            if point.len() != 32 {
                return Err(format!(
                    "the Ed25519 public key is {} octets, not 32",
                    point.len()
                ));
            }
            AlgorithmIdentifierOwned {
                oid: rfc8410::ID_ED_25519,
                parameters: None,
            }
        }
        KeyKind::P256 | KeyKind::P384 => {
            let want = if kind == KeyKind::P256 { 65 } else { 97 };
            if point.len() != want || point.first() != Some(&4) {
                return Err(format!(
                    "the EC public point is not an uncompressed point of this curve ({} octets)",
                    point.len()
                ));
            }
            AlgorithmIdentifierOwned {
                oid: rfc5912::ID_EC_PUBLIC_KEY,
                parameters: Some(Any::from_der(params).map_err(enc)?),
            }
        }
        KeyKind::Rsa(_) => return Err("not an EC key".into()),
    };
    SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(&point).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bits(&[0, 0x80, 0]), 16);
        assert_eq!(bits(&[1]), 1);
        assert_eq!(bits(&[0]), 0);
    }
}
