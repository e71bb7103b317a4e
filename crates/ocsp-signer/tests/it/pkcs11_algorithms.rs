//! Keys in a real SoftHSM2 token sign with every algorithm: RSA PKCS#1 v1.5 and PSS with
//! SHA-256/384/512, ECDSA P-256 and P-384 (SoftHSM2 has only raw `CKM_ECDSA`: hashed here,
//! DER-encoded here), Ed25519; keys imported from files and keys generated inside the token.
//! Each signature is verified against the key's public key; an imported key's public key is
//! the key file's, byte for byte.

use std::path::Path;

use ocsp_proto::signer::Signer;
use ocsp_proto::{sigalg, HashAlg};
use ocsp_signer::{no_prompt, SignOptions, SoftwareSigner};

use super::pkcs11_support::{hsm, key_file, spec, IMPORTED};

const MSG: &[u8] = b"tbsResponseData stand-in for the token";

fn opts(digest: HashAlg, rsa_pss: bool) -> SignOptions {
    SignOptions { digest, rsa_pss }
}

#[test]
fn every_algorithm_signs_in_the_token_and_verifies() {
    hsm();
    let cases = [
        (
            "rsa-imported",
            opts(HashAlg::Sha256, false),
            "sha256WithRSAEncryption",
        ),
        (
            "rsa-imported",
            opts(HashAlg::Sha384, false),
            "sha384WithRSAEncryption",
        ),
        ("rsa-imported", opts(HashAlg::Sha256, true), "PSS"),
        ("rsa-gen", opts(HashAlg::Sha512, true), "PSS"),
        (
            "rsa-gen",
            opts(HashAlg::Sha512, false),
            "sha512WithRSAEncryption",
        ),
        ("p256-imported", opts(HashAlg::Sha256, false), "CKM_ECDSA"),
        ("p256-gen", opts(HashAlg::Sha384, false), "CKM_ECDSA"),
        ("p384-gen", opts(HashAlg::Sha384, false), "CKM_ECDSA"),
        ("ed25519-gen", SignOptions::default(), "Ed25519"),
    ];
    for (label, o, says) in cases {
        let signer = ocsp_signer::load(&spec(label), o, &mut no_prompt)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let d = signer.describe();
        assert!(
            d.contains(says) && d.contains("token `ocsp`"),
            "{label}: {d}"
        );
        let spki = spki::SubjectPublicKeyInfoOwned::try_from(signer.public_key_der()).unwrap();
        for _ in 0..3 {
            let sig = signer.sign(MSG).unwrap();
            sigalg::verify(&signer.algorithm(), &spki, MSG, &sig)
                .unwrap_or_else(|e| panic!("{label} {o:?}: {e}"));
        }
    }
}

#[test]
fn an_imported_key_has_its_files_public_key() {
    hsm();
    for (label, _) in IMPORTED {
        let token =
            ocsp_signer::load(&spec(label), SignOptions::default(), &mut no_prompt).unwrap();
        let data = std::fs::read(key_file(label)).unwrap();
        let file =
            SoftwareSigner::from_bytes(Path::new(label), &data, None, SignOptions::default())
                .unwrap();
        assert_eq!(token.public_key_der(), file.public_key_der(), "{label}");
        // And the software key's signature verifies under the token key's algorithm.
        let spki = spki::SubjectPublicKeyInfoOwned::try_from(token.public_key_der()).unwrap();
        sigalg::verify(&token.algorithm(), &spki, MSG, &file.sign(MSG).unwrap()).unwrap();
    }
}

#[test]
fn the_key_is_refused_when_it_cannot_serve() {
    hsm();
    let e = ocsp_signer::load(&spec("always-auth"), SignOptions::default(), &mut no_prompt)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("CKA_ALWAYS_AUTHENTICATE"), "{e}");
    assert!(e.starts_with("pkcs11:token=ocsp;object=always-auth"), "{e}");
    let e = ocsp_signer::load(&spec("no-such-key"), SignOptions::default(), &mut no_prompt)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("no private key with object=no-such-key"), "{e}");
    let e = ocsp_signer::load(
        &spec("p256-gen"),
        opts(HashAlg::Sha256, true),
        &mut no_prompt,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        e.contains("rsa_padding_mode:pss applies to RSA keys"),
        "{e}"
    );
}
