//! Signature algorithms: verify a signature given its AlgorithmIdentifier and the signer's
//! SubjectPublicKeyInfo, and describe and build the identifiers this project signs with.
//!
//! Supported: RSA PKCS#1 v1.5 with SHA-1 (verification only), SHA-256/384/512; RSASSA-PSS
//! with SHA-256/384/512 (MGF1 with the same hash, salt = hash length); ECDSA P-256/P-384/P-521
//! with SHA-256/384/512; Ed25519.

use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use crate::cert_id::HashAlg;

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// An algorithm (or key / algorithm pairing) this crate does not verify.
    #[error("unsupported signature algorithm {0}")]
    Unsupported(String),
    /// Parameters that could not be decoded.
    #[error("malformed algorithm parameters: {0}")]
    BadParameters(String),
    /// The signature is wrong for this key and message.
    #[error("signature does not verify")]
    BadSignature,
}

/// The digest a signature algorithm uses, as a [`HashAlg`] (`None` for Ed25519).
pub fn signature_digest(alg: &AlgorithmIdentifierOwned) -> Result<Option<HashAlg>, SigError> {
    Ok(match alg.oid {
        rfc5912::SHA_1_WITH_RSA_ENCRYPTION => Some(HashAlg::Sha1),
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_256 => Some(HashAlg::Sha256),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_384 => Some(HashAlg::Sha384),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_512 => Some(HashAlg::Sha512),
        rfc5912::ID_RSASSA_PSS => Some(pss_hash(alg)?),
        rfc8410::ID_ED_25519 => None,
        other => return Err(SigError::Unsupported(other.to_string())),
    })
}

/// A readable name: `sha256WithRSAEncryption`, `rsassaPss(sha256)`, `ecdsa-with-SHA384`, `ED25519`.
pub fn algorithm_name(alg: &AlgorithmIdentifierOwned) -> String {
    match alg.oid {
        rfc5912::SHA_1_WITH_RSA_ENCRYPTION => "sha1WithRSAEncryption".into(),
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => "sha256WithRSAEncryption".into(),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => "sha384WithRSAEncryption".into(),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => "sha512WithRSAEncryption".into(),
        rfc5912::ECDSA_WITH_SHA_256 => "ecdsa-with-SHA256".into(),
        rfc5912::ECDSA_WITH_SHA_384 => "ecdsa-with-SHA384".into(),
        rfc5912::ECDSA_WITH_SHA_512 => "ecdsa-with-SHA512".into(),
        rfc5912::ID_RSASSA_PSS => match pss_hash(alg) {
            Ok(h) => format!("rsassaPss({h})"),
            Err(_) => "rsassaPss".into(),
        },
        rfc8410::ID_ED_25519 => "ED25519".into(),
        other => other.to_string(),
    }
}

fn pss_hash(alg: &AlgorithmIdentifierOwned) -> Result<HashAlg, SigError> {
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| SigError::BadParameters("RSASSA-PSS without parameters".into()))?;
    let der = params
        .to_der()
        .map_err(|e| SigError::BadParameters(e.to_string()))?;
    let p =
        pkcs1::RsaPssParams::from_der(&der).map_err(|e| SigError::BadParameters(e.to_string()))?;
    let hash = HashAlg::from_oid(&p.hash.oid)
        .ok_or_else(|| SigError::Unsupported(format!("PSS hash {}", p.hash.oid)))?;
    let mgf_hash = p
        .mask_gen
        .parameters
        .map(|a| a.oid)
        .ok_or_else(|| SigError::BadParameters("MGF1 without hash".into()))?;
    if p.mask_gen.oid != rfc5912::ID_MGF_1 || mgf_hash != p.hash.oid {
        return Err(SigError::Unsupported(
            "PSS with a mask generation other than MGF1 of the same hash".into(),
        ));
    }
    if usize::from(p.salt_len) != hash.output_len() {
        return Err(SigError::Unsupported(format!(
            "PSS salt length {} (only the hash length, {}, is supported)",
            p.salt_len,
            hash.output_len()
        )));
    }
    Ok(hash)
}

/// The RSASSA-PSS AlgorithmIdentifier for `hash` (MGF1 with `hash`, salt = hash length),
/// as openssl writes with `-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest`.
pub fn pss_algorithm_identifier(hash: HashAlg) -> Result<AlgorithmIdentifierOwned, der::Error> {
    let hash_id = spki::AlgorithmIdentifierRef {
        oid: hash.oid(),
        parameters: Some(AnyRef::NULL),
    };
    let params = pkcs1::RsaPssParams {
        hash: hash_id,
        mask_gen: spki::AlgorithmIdentifier {
            oid: rfc5912::ID_MGF_1,
            parameters: Some(hash_id),
        },
        salt_len: u8::try_from(hash.output_len()).map_err(|_| der::ErrorKind::Overflow)?,
        trailer_field: pkcs1::TrailerField::BC,
    };
    let der = params.to_der()?;
    Ok(AlgorithmIdentifierOwned {
        oid: rfc5912::ID_RSASSA_PSS,
        parameters: Some(der::Any::from_der(&der)?),
    })
}

/// Verify `signature` over `message` by the key in `spki` under `alg`.
pub fn verify(
    alg: &AlgorithmIdentifierOwned,
    spki: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SigError> {
    use aws_lc_rs::signature as s;
    let key_oid = spki.algorithm.oid;
    let key = spki.subject_public_key.raw_bytes();
    let is_rsa = key_oid == rfc5912::RSA_ENCRYPTION || key_oid == rfc5912::ID_RSASSA_PSS;
    let v: &'static dyn s::VerificationAlgorithm = match alg.oid {
        rfc5912::SHA_1_WITH_RSA_ENCRYPTION if is_rsa => {
            &s::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION if is_rsa => {
            &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        }
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION if is_rsa => &s::RSA_PKCS1_2048_8192_SHA384,
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION if is_rsa => &s::RSA_PKCS1_2048_8192_SHA512,
        rfc5912::ID_RSASSA_PSS if is_rsa => match pss_hash(alg)? {
            HashAlg::Sha256 => &s::RSA_PSS_2048_8192_SHA256,
            HashAlg::Sha384 => &s::RSA_PSS_2048_8192_SHA384,
            HashAlg::Sha512 => &s::RSA_PSS_2048_8192_SHA512,
            HashAlg::Sha1 => return Err(SigError::Unsupported("PSS with SHA-1".into())),
        },
        rfc5912::ECDSA_WITH_SHA_256 | rfc5912::ECDSA_WITH_SHA_384 | rfc5912::ECDSA_WITH_SHA_512
            if key_oid == rfc5912::ID_EC_PUBLIC_KEY =>
        {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| SigError::BadParameters("EC key without a named curve".into()))?;
            match (curve, alg.oid) {
                (rfc5912::SECP_256_R_1, rfc5912::ECDSA_WITH_SHA_256) => &s::ECDSA_P256_SHA256_ASN1,
                (rfc5912::SECP_256_R_1, rfc5912::ECDSA_WITH_SHA_384) => &s::ECDSA_P256_SHA384_ASN1,
                (rfc5912::SECP_256_R_1, rfc5912::ECDSA_WITH_SHA_512) => &s::ECDSA_P256_SHA512_ASN1,
                (rfc5912::SECP_384_R_1, rfc5912::ECDSA_WITH_SHA_256) => &s::ECDSA_P384_SHA256_ASN1,
                (rfc5912::SECP_384_R_1, rfc5912::ECDSA_WITH_SHA_384) => &s::ECDSA_P384_SHA384_ASN1,
                (rfc5912::SECP_384_R_1, rfc5912::ECDSA_WITH_SHA_512) => &s::ECDSA_P384_SHA512_ASN1,
                (rfc5912::SECP_521_R_1, rfc5912::ECDSA_WITH_SHA_256) => &s::ECDSA_P521_SHA256_ASN1,
                (rfc5912::SECP_521_R_1, rfc5912::ECDSA_WITH_SHA_384) => &s::ECDSA_P521_SHA384_ASN1,
                (rfc5912::SECP_521_R_1, rfc5912::ECDSA_WITH_SHA_512) => &s::ECDSA_P521_SHA512_ASN1,
                (c, a) => return Err(SigError::Unsupported(format!("ECDSA {a} on curve {c}"))),
            }
        }
        rfc8410::ID_ED_25519 if key_oid == rfc8410::ID_ED_25519 => &s::ED25519,
        other => {
            return Err(SigError::Unsupported(format!(
                "{} with a {} key",
                algorithm_name(&AlgorithmIdentifierOwned {
                    oid: other,
                    parameters: None
                }),
                key_oid
            )))
        }
    };
    s::UnparsedPublicKey::new(v, key)
        .verify(message, signature)
        .map_err(|_| SigError::BadSignature)
}

/// Whether `cert` carries a signature by `issuer`'s key (and names it as issuer).
pub fn cert_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), SigError> {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(SigError::BadSignature);
    }
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| SigError::BadParameters(e.to_string()))?;
    verify(
        &cert.signature_algorithm,
        &issuer.tbs_certificate.subject_public_key_info,
        &tbs,
        cert.signature.raw_bytes(),
    )
}
