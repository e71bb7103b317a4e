//! The signing seam: anything that can sign a response's tbsResponseData.
//!
//! Software keys, PKCS#11 tokens and test doubles implement [`Signer`]; the protocol
//! code never sees key material.

use spki::AlgorithmIdentifierOwned;

/// A signing failure, with the reason as text (a token's error code, a key's refusal).
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// A key that signs OCSP responses.
pub trait Signer: Send + Sync {
    /// The signatureAlgorithm the response will carry (e.g. sha256WithRSAEncryption,
    /// RSASSA-PSS with its parameters, ecdsa-with-SHA384, Ed25519).
    fn algorithm(&self) -> AlgorithmIdentifierOwned;

    /// The DER SubjectPublicKeyInfo of the key, used to check it matches its certificate
    /// and to compute the byKey ResponderID.
    fn public_key_der(&self) -> &[u8];

    /// Sign `tbs` (the DER of tbsResponseData), returning the signature value as it goes
    /// in the BIT STRING (for ECDSA, the DER `Ecdsa-Sig-Value`).
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError>;

    /// A short human description for logs (`RSA-2048 sha256 pss`, `pkcs11:token=...`).
    fn describe(&self) -> String;
}
