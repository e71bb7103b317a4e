//! [`load`] end to end on keys generated here: the error table (every message names the file
//! once, says what is wrong once, and gives the fix), and what `KeySpec` promises.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use der::Encode;

use super::*;

/// A fresh P-256 key as PKCS#8 DER.
fn p256_pkcs8() -> Vec<u8> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .serialize_der()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b
}

/// `der` encrypted as `openssl genpkey -aes256` does (PBES2, PBKDF2-SHA256, AES-256-CBC).
fn encrypted_pem(der: &[u8], pass: &[u8]) -> Vec<u8> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).unwrap();
    let (salt, iv) = (random::<16>(), random::<16>());
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(1000, &salt, &iv).unwrap();
    let doc = info.encrypt_with_params(params, pass).unwrap();
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// An Ed448 key (RFC 8410) as PKCS#8 PEM: a well-formed key of a type that does not sign here.
fn ed448_pem() -> Vec<u8> {
    let seed = der::asn1::OctetString::new(random::<57>().to_vec()).unwrap();
    let inner = seed.to_der().unwrap();
    let info = pkcs8::PrivateKeyInfo {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: const_oid::db::rfc8410::ID_ED_448,
            parameters: None,
        },
        private_key: &inner,
        public_key: None,
    };
    pem::encode(&pem::Pem::new("PRIVATE KEY", info.to_der().unwrap())).into_bytes()
}

fn pem(label: &str, der: Vec<u8>) -> Vec<u8> {
    pem::encode(&pem::Pem::new(label, der)).into_bytes()
}

/// A prompt that answers `Unavailable` with `fix`, as the binary's does off a terminal.
fn unavailable(fix: &'static str) -> impl FnMut(&Path) -> Result<Secret, PromptError> {
    move |_| {
        Err(PromptError::Unavailable {
            fix: fix.to_string(),
        })
    }
}

type BoxedPrompt = Box<dyn FnMut(&Path) -> Result<Secret, PromptError>>;

struct Case {
    /// The key file's name (distinct per case, so that counting it in the message is exact).
    file: &'static str,
    contents: Vec<u8>,
    passin: Option<&'static str>,
    prompt: BoxedPrompt,
    opts: SignOptions,
    /// The whole message after `PATH: `.
    want: String,
}

#[test]
fn every_error_names_the_file_once_and_gives_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let good = p256_pkcs8();
    let cases = vec![
        Case {
            file: "bad-bytes.key",
            contents: b"not a key at all\n".to_vec(),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "no private key found (not PEM, and not a DER private key either); give the responder's private key file (--rkey), as `openssl genpkey` or `openssl req -newkey` wrote it".into(),
        },
        Case {
            file: "bad-pem.key",
            contents: b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n".to_vec(),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: String::new(), // checked by prefix below
        },
        Case {
            file: "wrong-pass.key",
            contents: encrypted_pem(&good, b"right"),
            passin: Some("pass:wrong"),
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "wrong passphrase (check --passin)".into(),
        },
        Case {
            file: "missing-pass.key",
            contents: encrypted_pem(&good, b"right"),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "the key is encrypted and no passphrase was given: add --passin \
                   pass:…|env:VAR|file:PATH|fd:N|stdin, or run on a terminal to be asked"
                .into(),
        },
        Case {
            file: "missing-pass-config.key",
            contents: encrypted_pem(&good, b"right"),
            passin: None,
            prompt: Box::new(unavailable(
                "add passin = \"file:PATH\" to its [[issuer]] table",
            )),
            opts: SignOptions::default(),
            want: "the key is encrypted and no passphrase was given: add passin = \
                   \"file:PATH\" to its [[issuer]] table"
                .into(),
        },
        Case {
            file: "prompt-failed.key",
            contents: encrypted_pem(&good, b"right"),
            passin: None,
            prompt: Box::new(|_: &Path| {
                Err(PromptError::Failed(std::io::Error::other("terminal gone")))
            }),
            opts: SignOptions::default(),
            want: "cannot read the passphrase: terminal gone; give it with --passin instead".into(),
        },
        Case {
            file: "passin-unset.key",
            contents: encrypted_pem(&good, b"right"),
            passin: Some("env:OCSP_SIGNER_TEST_SURELY_UNSET"),
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "--passin env:OCSP_SIGNER_TEST_SURELY_UNSET: environment variable \
                   OCSP_SIGNER_TEST_SURELY_UNSET is not set"
                .into(),
        },
        Case {
            file: "ed448.key",
            contents: ed448_pem(),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "Ed448 keys are not supported; use RSA (2048 to 8192 bits), ECDSA \
                   P-256/P-384/P-521 or Ed25519"
                .into(),
        },
        Case {
            file: "sha1.key",
            contents: pem("PRIVATE KEY", good.clone()),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions {
                digest: HashAlg::Sha1,
                rsa_pss: false,
            },
            want: "--rmd sha1: SHA-1 is not used for signing; use sha256, sha384 or sha512".into(),
        },
        Case {
            file: "two-keys.key",
            contents: [
                pem("PRIVATE KEY", good.clone()),
                pem("PRIVATE KEY", good.clone()),
            ]
            .concat(),
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: "2 private keys in one file (PRIVATE KEY, PRIVATE KEY): keep only the \
                   responder's key"
                .into(),
        },
        Case {
            file: "not-there.key",
            contents: Vec::new(), // not written
            passin: None,
            prompt: Box::new(no_prompt),
            opts: SignOptions::default(),
            want: String::new(), // checked by prefix below
        },
    ];
    for mut case in cases {
        let path = dir.path().join(case.file);
        if case.file != "not-there.key" {
            std::fs::write(&path, &case.contents).unwrap();
        }
        let spec = KeySpec::file(&path, case.passin.map(Passin::new));
        let e = match load(&spec, case.opts, &mut case.prompt) {
            Ok(s) => panic!("{}: loaded as {}", case.file, s.describe()),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert_eq!(e.path(), path, "{msg}");
        assert_eq!(msg.matches(case.file).count(), 1, "file named once: {msg}");
        assert_eq!(msg, format!("{}: {}", path.display(), e.kind()));
        let what = e.kind().to_string();
        match case.file {
            "bad-pem.key" => assert!(what.starts_with("malformed PRIVATE KEY: "), "{msg}"),
            "not-there.key" => assert!(
                what.starts_with("cannot read: ") && what.ends_with("(check --rkey)"),
                "{msg}"
            ),
            _ => assert_eq!(what, case.want, "{}", case.file),
        }
    }
}

#[test]
fn passphrase_sources_are_asked_only_when_needed() {
    let dir = tempfile::tempdir().unwrap();
    let good = p256_pkcs8();
    let plain = dir.path().join("plain.key");
    std::fs::write(&plain, pem("PRIVATE KEY", good.clone())).unwrap();
    let enc = dir.path().join("enc.key");
    std::fs::write(&enc, encrypted_pem(&good, b"s3cret")).unwrap();

    let mut asked: Vec<PathBuf> = Vec::new();
    let mut prompt = |p: &Path| {
        asked.push(p.to_path_buf());
        Ok(Secret::from("s3cret".to_string()))
    };
    let d = SignOptions::default();
    // A plain key: neither the passin (unreadable here) nor the prompt is touched.
    let bad_passin = Some(Passin::new("env:OCSP_SIGNER_TEST_SURELY_UNSET"));
    let a = load(&KeySpec::file(&plain, bad_passin), d, &mut prompt).unwrap();
    // An encrypted key with a passin: the prompt is not asked.
    let b = load(
        &KeySpec::file(&enc, Some(Passin::new("pass:s3cret"))),
        d,
        &mut prompt,
    )
    .unwrap();
    // Without a passin: the prompt, once, with the key's path.
    let c = load(&KeySpec::file(&enc, None), d, &mut prompt).unwrap();
    assert_eq!(asked, vec![enc.clone()]);
    assert_eq!(a.public_key_der(), b.public_key_der());
    assert_eq!(b.public_key_der(), c.public_key_der());
    assert_eq!(c.describe(), "ECDSA P-256 ecdsa-with-SHA256");
}

#[test]
fn key_specs_compare_and_hash_by_what_they_say_and_never_show_secrets() {
    let a = KeySpec::file("/k/responder.key", Some(Passin::new("pass:hunter2")));
    let b = KeySpec::file(
        PathBuf::from("/k/responder.key"),
        Some(Passin::new("pass:hunter2")),
    );
    let c = KeySpec::file("/k/responder.key", Some(Passin::new("file:/k/pass.txt")));
    let d = KeySpec::file("/k/other.key", None);
    let set: HashSet<KeySpec> = [a.clone(), b, c.clone(), d.clone()].into_iter().collect();
    assert_eq!(set.len(), 3, "the same key twice is one entry");
    let shown = format!("{a:?} {c:?} {d:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("pass:<redacted>"), "{shown}");
    assert!(
        shown.contains("file:/k/pass.txt"),
        "paths are not secret: {shown}"
    );
    assert!(shown.contains("/k/other.key"), "{shown}");
}

#[test]
fn sign_options_are_part_of_the_sharing_key() {
    let set: HashSet<SignOptions> = [
        SignOptions::default(),
        SignOptions::default(),
        SignOptions {
            digest: HashAlg::Sha384,
            rsa_pss: false,
        },
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 2);
}
