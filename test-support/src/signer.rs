//! [`TestSigner`]: one [`Signer`] for every integration test and bench that needs a key
//! without the responder's key-file code.
//!
//! - [`TestSigner::ed25519`]: Ed25519 from an rcgen key pair (deterministic: equal inputs
//!   give equal signatures, so ETags repeat).
//! - [`TestSigner::p256_pem`]: ECDSA P-256 / SHA-256 from an unencrypted PKCS#8 PEM file
//!   (a key openssl made).
//! - [`TestSigner::failing_while`]: fails with a given message while a flag is set, as a
//!   PKCS#11 token does when it is pulled.

use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::spki::AlgorithmIdentifierOwned;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

enum Key {
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
    P256(aws_lc_rs::signature::EcdsaKeyPair),
}

/// A software signer for tests; see the module docs.
pub struct TestSigner {
    key: Key,
    spki: Vec<u8>,
    broken: Option<(Arc<AtomicBool>, String)>,
}

impl TestSigner {
    /// Ed25519 with the key of `kp`.
    pub fn ed25519(kp: &rcgen::KeyPair) -> TestSigner {
        let key =
            aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&kp.serialize_der())
                .unwrap_or_else(|e| panic!("not an Ed25519 key pair: {e}"));
        TestSigner {
            key: Key::Ed25519(key),
            spki: rcgen::PublicKeyData::subject_public_key_info(kp),
            broken: None,
        }
    }

    /// ECDSA P-256 with SHA-256, the key read from an unencrypted PKCS#8 PEM file.
    pub fn p256_pem(path: &Path) -> TestSigner {
        use aws_lc_rs::signature::KeyPair;
        let pem = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (label, der) = ocsp_proto::der::pem::decode_vec(pem.as_bytes())
            .unwrap_or_else(|e| panic!("{} is not PEM: {e}", path.display()));
        assert_eq!(
            label,
            "PRIVATE KEY",
            "{} is not a PKCS#8 key",
            path.display()
        );
        let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &der,
        )
        .unwrap_or_else(|e| panic!("{} is not a P-256 key: {e}", path.display()));
        let spki = key.public_key().as_ref().to_vec();
        TestSigner {
            key: Key::P256(key),
            spki,
            broken: None,
        }
    }

    /// Fail every signature with `message` while `flag` is set.
    pub fn failing_while(mut self, flag: Arc<AtomicBool>, message: &str) -> TestSigner {
        self.broken = Some((flag, message.into()));
        self
    }
}

impl Signer for TestSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        let oid = match self.key {
            Key::Ed25519(_) => ocsp_proto::const_oid::db::rfc8410::ID_ED_25519,
            Key::P256(_) => ocsp_proto::const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        if let Some((flag, message)) = &self.broken {
            if flag.load(Ordering::SeqCst) {
                return Err(SignError(message.clone()));
            }
        }
        match &self.key {
            Key::Ed25519(k) => Ok(k.sign(tbs).as_ref().to_vec()),
            Key::P256(k) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                k.sign(&rng, tbs)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|e| SignError(e.to_string()))
            }
        }
    }

    fn describe(&self) -> String {
        match self.key {
            Key::Ed25519(_) => "test Ed25519".into(),
            Key::P256(_) => "test P-256".into(),
        }
    }
}
