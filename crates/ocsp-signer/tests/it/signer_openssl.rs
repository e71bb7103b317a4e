//! Software signer against the real `openssl` binary: keys in every form openssl writes,
//! generated at test time; signatures judged by `ocsp_proto::sigalg::verify` (against the SPKI
//! of a certificate openssl made for the key) and by `openssl dgst`/`pkeyutl -verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use der::{DecodePem, Encode};
use ocsp_proto::signer::Signer;
use ocsp_proto::{sigalg, HashAlg};
use ocsp_signer::{KeySpec, PromptError, Secret, SignOptions};
use x509_cert::Certificate;

const PASS: &str = "correct horse battery staple";
const MSG: &[u8] = b"tbsResponseData stand-in: \x30\x82\x01\x00 and some more octets";

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install it with `apt-get install -y openssl`")
        });
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `openssl` that may fail (for negative checks).
fn openssl_status(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install it with `apt-get install -y openssl`")
        });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn opts(digest: HashAlg, rsa_pss: bool) -> SignOptions {
    SignOptions { digest, rsa_pss }
}

/// `key` as a key file without a passin (the prompt gives the passphrase).
fn spec(key: &Path) -> KeySpec {
    KeySpec::file(key, None)
}

/// Load `key`, checking the passphrase prompt is called exactly when `encrypted`.
fn load(key: &Path, encrypted: bool, o: SignOptions) -> Arc<dyn Signer> {
    let calls = Cell::new(0);
    let mut cb = |_: &Path| {
        calls.set(calls.get() + 1);
        Ok(Secret::new(PASS.as_bytes().to_vec()))
    };
    let signer = ocsp_signer::load(&spec(key), o, &mut cb)
        .unwrap_or_else(|e| panic!("loading {}: {e}", key.display()));
    assert_eq!(
        calls.get(),
        usize::from(encrypted),
        "passphrase callback calls for {}",
        key.display()
    );
    signer
}

fn load_err(key: &Path, pass: Option<&str>, o: SignOptions) -> String {
    let mut cb = |k: &Path| match pass {
        Some(p) => Ok(Secret::new(p.as_bytes().to_vec())),
        None => ocsp_signer::no_prompt(k),
    };
    match ocsp_signer::load(&spec(key), o, &mut cb) {
        Ok(s) => panic!("{} loaded as {}", key.display(), s.describe()),
        Err(e) => e.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Rsa,
    Ec,
    Ed25519,
}

/// A self-signed certificate for `key`, made by openssl with the same digest and padding as `o`.
fn certificate(
    dir: &Path,
    key: &Path,
    encrypted: bool,
    kind: Kind,
    o: SignOptions,
    tag: &str,
) -> PathBuf {
    let cert = dir.join(format!("{tag}.crt"));
    let key_s = key.to_string_lossy().to_string();
    let cert_s = cert.to_string_lossy().to_string();
    let md = format!("-{}", o.digest.name());
    let pass = format!("pass:{PASS}");
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-key",
        &key_s,
        "-subj",
        "/CN=signer test",
        "-days",
        "2",
        "-out",
        &cert_s,
    ];
    if encrypted {
        args.extend(["-passin", &pass]);
    }
    if kind != Kind::Ed25519 {
        args.push(&md);
    }
    if o.rsa_pss {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ]);
    }
    openssl(dir, &args);
    cert
}

/// Load, sign, and verify with sigalg::verify and with openssl. Returns the signer.
fn check(dir: &Path, key: &Path, encrypted: bool, kind: Kind, o: SignOptions) -> Arc<dyn Signer> {
    check_with_cert_from(dir, key, encrypted, kind, o, key, encrypted)
}

/// As [`check`], with openssl making the certificate from `cert_key` (the same key in a form
/// openssl reads without extra providers).
fn check_with_cert_from(
    dir: &Path,
    key: &Path,
    encrypted: bool,
    kind: Kind,
    o: SignOptions,
    cert_key: &Path,
    cert_key_encrypted: bool,
) -> Arc<dyn Signer> {
    let tag = format!(
        "{}-{}{}",
        key.file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default(),
        o.digest.name(),
        if o.rsa_pss { "-pss" } else { "" }
    );
    let signer = load(key, encrypted, o);
    let cert_path = certificate(dir, cert_key, cert_key_encrypted, kind, o, &tag);
    let cert = Certificate::from_pem(std::fs::read(&cert_path).unwrap()).unwrap();
    let spki = &cert.tbs_certificate.subject_public_key_info;

    // The SPKI is byte for byte the certificate's.
    assert_eq!(
        signer.public_key_der(),
        spki.to_der().unwrap().as_slice(),
        "{tag}: SPKI"
    );
    // The signature algorithm is byte for byte what openssl writes for the same choice.
    assert_eq!(
        signer.algorithm().to_der().unwrap(),
        cert.signature_algorithm.to_der().unwrap(),
        "{tag}: AlgorithmIdentifier {} vs openssl's {}",
        sigalg::algorithm_name(&signer.algorithm()),
        sigalg::algorithm_name(&cert.signature_algorithm)
    );

    let sig = signer.sign(MSG).unwrap();
    sigalg::verify(&signer.algorithm(), spki, MSG, &sig)
        .unwrap_or_else(|e| panic!("{tag}: sigalg::verify: {e}"));
    let mut tampered = MSG.to_vec();
    tampered[0] ^= 1;
    assert!(sigalg::verify(&signer.algorithm(), spki, &tampered, &sig).is_err());

    // The independent judge.
    let pubkey = dir.join(format!("{tag}.pub"));
    let msg = dir.join(format!("{tag}.msg"));
    let bad = dir.join(format!("{tag}.bad"));
    let sigf = dir.join(format!("{tag}.sig"));
    std::fs::write(&msg, MSG).unwrap();
    std::fs::write(&bad, &tampered).unwrap();
    std::fs::write(&sigf, &sig).unwrap();
    let s = |p: &Path| p.to_string_lossy().to_string();
    openssl(
        dir,
        &[
            "x509",
            "-in",
            &s(&cert_path),
            "-pubkey",
            "-noout",
            "-out",
            &s(&pubkey),
        ],
    );
    let judge = |m: &Path| -> (bool, String) {
        if kind == Kind::Ed25519 {
            openssl_status(
                dir,
                &[
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    &s(&pubkey),
                    "-rawin",
                    "-in",
                    &s(m),
                    "-sigfile",
                    &s(&sigf),
                ],
            )
        } else {
            let md = format!("-{}", o.digest.name());
            let mut args = vec!["dgst", md.as_str()];
            if o.rsa_pss {
                args.extend([
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    "rsa_pss_saltlen:digest",
                ]);
            }
            let (pk, sg, mm) = (s(&pubkey), s(&sigf), s(m));
            args.extend(["-verify", &pk, "-signature", &sg, &mm]);
            openssl_status(dir, &args)
        }
    };
    let (ok, out) = judge(&msg);
    assert!(
        ok && out.contains("Verified"),
        "{tag}: openssl rejects our signature: {out}"
    );
    let (ok, out) = judge(&bad);
    assert!(
        !ok,
        "{tag}: openssl accepts a signature over a tampered message: {out}"
    );
    signer
}

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Run openssl writing `name`; returns its path.
    fn gen(&self, name: &str, args: &[&str]) -> PathBuf {
        let p = self.path(name);
        let ps = p.to_string_lossy().to_string();
        // `-out` right after the subcommand: `genrsa` wants its bit count last.
        let mut a: Vec<&str> = args[..1].to_vec();
        a.extend(["-out", &ps]);
        a.extend(&args[1..]);
        openssl(self.dir.path(), &a);
        p
    }
    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

fn pass_arg() -> String {
    format!("pass:{PASS}")
}

const DIGESTS: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

#[test]
fn seed_key_encrypted_pkcs8_rsa_all_digests_and_pss() {
    let k = Keys::new();
    let p = pass_arg();
    // The seed's command.
    let key = k.gen(
        "seed.key",
        &["genpkey", "-algorithm", "RSA", "-aes256", "-pass", &p],
    );
    assert!(k
        .text("seed.key")
        .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    for d in DIGESTS {
        for pss in [false, true] {
            check(k.dir.path(), &key, true, Kind::Rsa, opts(d, pss));
        }
    }
    let s = load(&key, true, SignOptions::default());
    assert_eq!(s.describe(), "RSA-2048 sha256WithRSAEncryption");
    let s = load(&key, true, opts(HashAlg::Sha384, true));
    assert_eq!(s.describe(), "RSA-2048 rsassaPss(sha384)");
}

#[test]
fn plain_pkcs8_keys() {
    let k = Keys::new();
    let rsa = k.gen(
        "rsa3072.pem",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
        ],
    );
    assert!(k
        .text("rsa3072.pem")
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let s = check(
        k.dir.path(),
        &rsa,
        false,
        Kind::Rsa,
        opts(HashAlg::Sha256, false),
    );
    assert_eq!(s.describe(), "RSA-3072 sha256WithRSAEncryption");
    check(
        k.dir.path(),
        &rsa,
        false,
        Kind::Rsa,
        opts(HashAlg::Sha512, true),
    );

    for (curve, name) in [("P-256", "p256"), ("P-384", "p384"), ("P-521", "p521")] {
        let file = format!("{name}.pem");
        let key = k.gen(
            &file,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
            ],
        );
        // Every --rmd on every curve, including those aws-lc-rs does not pair natively.
        for d in DIGESTS {
            let s = check(k.dir.path(), &key, false, Kind::Ec, opts(d, false));
            assert_eq!(
                s.describe(),
                format!("ECDSA {curve} ecdsa-with-{}", d.name().to_uppercase())
            );
        }
    }

    let ed = k.gen("ed25519.pem", &["genpkey", "-algorithm", "ED25519"]);
    let s = check(
        k.dir.path(),
        &ed,
        false,
        Kind::Ed25519,
        SignOptions::default(),
    );
    assert_eq!(s.describe(), "Ed25519");
    // The digest is ignored for Ed25519.
    let s = load(&ed, false, opts(HashAlg::Sha512, false));
    assert_eq!(s.algorithm().parameters, None);
}

#[test]
fn encrypted_pkcs8_variants() {
    let k = Keys::new();
    let p = pass_arg();
    let ec = k.gen(
        "p384_enc.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-aes-128-cbc",
            "-pass",
            &p,
        ],
    );
    check(
        k.dir.path(),
        &ec,
        true,
        Kind::Ec,
        opts(HashAlg::Sha384, false),
    );
    let ed = k.gen(
        "ed_enc.pem",
        &["genpkey", "-algorithm", "ED25519", "-aes256", "-pass", &p],
    );
    check(
        k.dir.path(),
        &ed,
        true,
        Kind::Ed25519,
        SignOptions::default(),
    );

    let plain = k.gen(
        "p256.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let ps = plain.to_string_lossy().to_string();
    let aes128 = k.gen(
        "p256_aes128.pem",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            &ps,
            "-v2",
            "aes-128-cbc",
            "-passout",
            &p,
        ],
    );
    check(
        k.dir.path(),
        &aes128,
        true,
        Kind::Ec,
        SignOptions::default(),
    );
    let aes192 = k.gen(
        "p256_aes192_sha512.pem",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            &ps,
            "-v2",
            "aes-192-cbc",
            "-v2prf",
            "hmacWithSHA512",
            "-passout",
            &p,
        ],
    );
    check(
        k.dir.path(),
        &aes192,
        true,
        Kind::Ec,
        SignOptions::default(),
    );
    let scrypt = k.gen(
        "p256_scrypt.pem",
        &["pkcs8", "-topk8", "-in", &ps, "-scrypt", "-passout", &p],
    );
    check(
        k.dir.path(),
        &scrypt,
        true,
        Kind::Ec,
        SignOptions::default(),
    );

    // Schemes pkcs8's `encryption` feature does not decrypt: a clear error naming the fix.
    let des3 = k.gen(
        "p256_des3.pem",
        &["pkcs8", "-topk8", "-in", &ps, "-v2", "des3", "-passout", &p],
    );
    let e = load_err(&des3, Some(PASS), SignOptions::default());
    assert!(e.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"), "{e}");
    let pbes1 = k.gen(
        "p256_pbes1.pem",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            &ps,
            "-v1",
            "PBE-SHA1-3DES",
            "-passout",
            &p,
        ],
    );
    let e = load_err(&pbes1, Some(PASS), SignOptions::default());
    assert!(e.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"), "{e}");
}

#[test]
fn traditional_pkcs1_and_sec1_keys() {
    let k = Keys::new();
    let rsa = k.gen("rsa_pkcs1.pem", &["genrsa", "-traditional"]);
    assert!(k
        .text("rsa_pkcs1.pem")
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    check(k.dir.path(), &rsa, false, Kind::Rsa, SignOptions::default());
    check(
        k.dir.path(),
        &rsa,
        false,
        Kind::Rsa,
        opts(HashAlg::Sha256, true),
    );

    // `ecparam -genkey` writes an EC PARAMETERS block before the key: skipped.
    let ec = k.gen(
        "p256_sec1.pem",
        &["ecparam", "-name", "prime256v1", "-genkey"],
    );
    let text = k.text("p256_sec1.pem");
    assert!(
        text.contains("BEGIN EC PARAMETERS") && text.contains("BEGIN EC PRIVATE KEY"),
        "{text}"
    );
    check(k.dir.path(), &ec, false, Kind::Ec, SignOptions::default());

    let p384 = k.gen(
        "p384.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
    );
    let p384s = p384.to_string_lossy().to_string();
    let sec1 = k.gen("p384_sec1.pem", &["ec", "-in", &p384s]);
    assert!(k
        .text("p384_sec1.pem")
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
    check(
        k.dir.path(),
        &sec1,
        false,
        Kind::Ec,
        opts(HashAlg::Sha384, false),
    );
    check(
        k.dir.path(),
        &sec1,
        false,
        Kind::Ec,
        opts(HashAlg::Sha256, false),
    );
}

#[test]
fn legacy_proc_type_encrypted_keys() {
    let k = Keys::new();
    let p = pass_arg();
    let rsa = k.gen("rsa.pem", &["genrsa", "-traditional"]);
    let rsas = rsa.to_string_lossy().to_string();
    for (flag, dek) in [
        ("-aes128", "AES-128-CBC"),
        ("-aes192", "AES-192-CBC"),
        ("-aes256", "AES-256-CBC"),
        ("-des3", "DES-EDE3-CBC"),
        ("-des", "DES-CBC"),
    ] {
        let name = format!("rsa_legacy{flag}.pem");
        let mut args = vec!["rsa", "-in", &rsas, flag, "-traditional", "-passout", &p];
        if flag == "-des" {
            // Single DES lives in openssl 3's legacy provider; without it openssl silently
            // writes the key unencrypted.
            args.extend(["-provider", "legacy", "-provider", "default"]);
        }
        let key = k.gen(&name, &args);
        let text = k.text(&name);
        assert!(
            text.contains("Proc-Type: 4,ENCRYPTED") && text.contains(&format!("DEK-Info: {dek},")),
            "{flag}: {text}"
        );
        // Single DES needs openssl's legacy provider to read: the certificate comes from
        // the plain key for that one.
        let (cert_key, cert_key_encrypted) = if flag == "-des" {
            (&rsa, false)
        } else {
            (&key, true)
        };
        let d = SignOptions::default();
        check_with_cert_from(
            k.dir.path(),
            &key,
            true,
            Kind::Rsa,
            d,
            cert_key,
            cert_key_encrypted,
        );
        let e = load_err(&key, Some("wrong"), SignOptions::default());
        assert_eq!(
            e,
            format!("{}: wrong passphrase (check --passin)", key.display())
        );
    }

    let ec = k.gen(
        "p256.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let ecs = ec.to_string_lossy().to_string();
    for flag in ["-aes256", "-des3"] {
        let name = format!("ec_legacy{flag}.pem");
        let key = k.gen(&name, &["ec", "-in", &ecs, flag, "-passout", &p]);
        let text = k.text(&name);
        assert!(
            text.starts_with("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED"),
            "{text}"
        );
        check(k.dir.path(), &key, true, Kind::Ec, SignOptions::default());
    }
}

/// A wrong passphrase passes the CBC padding check about 1 time in 256: the decrypted key must
/// also parse. Try many wrong passphrases; every one must be refused as wrong.
#[test]
fn legacy_wrong_passphrases_never_load_garbage() {
    let k = Keys::new();
    let p = pass_arg();
    let ec = k.gen(
        "p256.pem",
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
    );
    let ecs = ec.to_string_lossy().to_string();
    let key = k.gen(
        "legacy.pem",
        &["ec", "-in", &ecs, "-aes128", "-passout", &p],
    );
    // The same for encrypted PKCS#8 (one PBKDF2 iteration to keep 2000 tries quick).
    let p8 = k.gen(
        "p8.pem",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            &ecs,
            "-v2",
            "aes-128-cbc",
            "-iter",
            "1",
            "-passout",
            &p,
        ],
    );
    for key in [key, p8] {
        load(&key, true, SignOptions::default());
        let want = format!("{}: wrong passphrase (check --passin)", key.display());
        for i in 0..2000 {
            let guess = format!("guess {i}");
            let mut cb = |_: &Path| Ok(Secret::new(guess.as_bytes().to_vec()));
            match ocsp_signer::load(&spec(&key), SignOptions::default(), &mut cb) {
                Ok(_) => panic!("{}: loaded with wrong passphrase {guess:?}", key.display()),
                Err(e) => assert_eq!(e.to_string(), want),
            }
        }
    }
}

#[test]
fn passphrase_errors_name_the_file_and_the_fix() {
    let k = Keys::new();
    let p = pass_arg();
    let key = k.gen(
        "ocsp_responder.key",
        &["genpkey", "-algorithm", "RSA", "-aes256", "-pass", &p],
    );
    let name = key.display();
    assert_eq!(
        load_err(&key, Some("not it"), SignOptions::default()),
        format!("{name}: wrong passphrase (check --passin)")
    );
    assert_eq!(
        load_err(&key, None, SignOptions::default()),
        format!("{name}: the key is encrypted and no passphrase was given: add --passin pass:…|env:VAR|file:PATH|fd:N|stdin, or run on a terminal to be asked")
    );
    let mut cb = |_: &Path| {
        Err(PromptError::Unavailable {
            fix: "stdin is not a terminal; give --passin".to_string(),
        })
    };
    let Err(e) = ocsp_signer::load(&spec(&key), SignOptions::default(), &mut cb) else {
        panic!("{name} loaded without a passphrase")
    };
    assert_eq!(
        e.to_string(),
        format!("{name}: the key is encrypted and no passphrase was given: stdin is not a terminal; give --passin")
    );
    assert_eq!(e.path(), key);
}

#[test]
fn key_and_certificate_in_one_file() {
    let k = Keys::new();
    let key = k.gen(
        "key.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let cert = certificate(
        k.dir.path(),
        &key,
        false,
        Kind::Ec,
        SignOptions::default(),
        "c",
    );
    let certs = cert.to_string_lossy().to_string();
    // What `openssl x509 -text` writes (text, then the PEM block), then the key.
    let text = openssl(k.dir.path(), &["x509", "-in", &certs, "-text"]).stdout;
    let both = k.path("both.pem");
    let mut data = text.clone();
    data.extend(std::fs::read(&key).unwrap());
    std::fs::write(&both, &data).unwrap();
    let s = load(&both, false, SignOptions::default());
    let c = Certificate::from_pem(std::fs::read(&cert).unwrap()).unwrap();
    assert_eq!(
        s.public_key_der(),
        c.tbs_certificate.subject_public_key_info.to_der().unwrap()
    );
    // Key first, certificate after.
    let mut data = std::fs::read(&key).unwrap();
    data.extend(text);
    std::fs::write(&both, &data).unwrap();
    load(&both, false, SignOptions::default());

    // The certificate alone: the error says what was found.
    assert_eq!(
        load_err(&cert, None, SignOptions::default()),
        format!(
            "{}: no private key found (found: CERTIFICATE); give the responder's private key file (--rkey), as `openssl genpkey` or `openssl req -newkey` wrote it",
            cert.display()
        )
    );
    // Two keys: refused rather than picking one.
    let two = k.path("two.pem");
    let mut data = std::fs::read(&key).unwrap();
    data.extend(std::fs::read(&key).unwrap());
    std::fs::write(&two, &data).unwrap();
    let e = load_err(&two, None, SignOptions::default());
    assert!(e.contains("2 private keys in one file"), "{e}");
}

#[test]
fn der_key_files() {
    let k = Keys::new();
    let key = k.gen(
        "p256.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let ks = key.to_string_lossy().to_string();
    let der = k.gen("p256.der", &["pkey", "-in", &ks, "-outform", "DER"]);
    let a = load(&key, false, SignOptions::default());
    let b = load(&der, false, SignOptions::default());
    assert_eq!(a.public_key_der(), b.public_key_der());
    let rsa = k.gen("rsa.pem", &["genrsa", "-traditional"]);
    let rs = rsa.to_string_lossy().to_string();
    let rder = k.gen(
        "rsa.der",
        &["rsa", "-in", &rs, "-outform", "DER", "-traditional"],
    );
    assert_eq!(
        load(&rder, false, SignOptions::default()).public_key_der(),
        load(&rsa, false, SignOptions::default()).public_key_der()
    );
}

#[test]
fn refused_keys_and_options() {
    let k = Keys::new();
    let d = SignOptions::default();
    let small = k.gen(
        "rsa1024.pem",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
        ],
    );
    let e = load_err(&small, None, d);
    assert!(
        e.starts_with(&format!(
            "{}: RSA key of 1024 bits; at least 2048 required",
            small.display()
        )),
        "{e}"
    );
    let small1 = k.gen("rsa1024_pkcs1.pem", &["genrsa", "-traditional", "1024"]);
    assert!(load_err(&small1, None, d).contains("RSA key of 1024 bits; at least 2048 required"));

    let ed448 = k.gen("ed448.pem", &["genpkey", "-algorithm", "ED448"]);
    let e = load_err(&ed448, None, d);
    assert!(e.contains("Ed448 keys are not supported"), "{e}");

    let k1 = k.gen(
        "k1.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
    );
    let e = load_err(&k1, None, d);
    assert!(
        e.contains("curve secp256k1") || e.contains("curve 1.3.132.0.10"),
        "{e}"
    );

    let pss = k.gen("rsapss.pem", &["genpkey", "-algorithm", "RSA-PSS"]);
    let e = load_err(&pss, None, d);
    assert!(e.contains("RSA-PSS"), "{e}");

    let rsa = k.gen("rsa.pem", &["genpkey", "-algorithm", "RSA"]);
    let e = load_err(&rsa, None, opts(HashAlg::Sha1, false));
    assert!(e.contains("SHA-1 is not used for signing"), "{e}");
    let ec = k.gen(
        "ec.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let e = load_err(&ec, None, opts(HashAlg::Sha1, false));
    assert!(e.contains("SHA-1 is not used for signing"), "{e}");
    let e = load_err(&ec, None, opts(HashAlg::Sha256, true));
    assert!(
        e.contains("rsa_padding_mode:pss applies to RSA keys"),
        "{e}"
    );

    let missing = k.path("missing.key");
    let e = load_err(&missing, None, d);
    assert!(
        e.starts_with(&format!("{}: cannot read:", missing.display())),
        "{e}"
    );
    let junk = k.path("junk.key");
    std::fs::write(&junk, "not a key\n").unwrap();
    let e = load_err(&junk, None, d);
    assert!(e.contains("no private key found"), "{e}");
}

#[test]
fn signing_from_many_threads_at_once() {
    let k = Keys::new();
    let mut signers = Vec::new();
    let rsa = k.gen("rsa.pem", &["genpkey", "-algorithm", "RSA"]);
    signers.push(load(&rsa, false, opts(HashAlg::Sha256, true)));
    let ec = k.gen(
        "ec.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
    );
    signers.push(load(&ec, false, opts(HashAlg::Sha256, false)));
    let ed = k.gen("ed.pem", &["genpkey", "-algorithm", "ED25519"]);
    signers.push(load(&ed, false, SignOptions::default()));
    for signer in signers {
        let spki = spki::SubjectPublicKeyInfoOwned::try_from(signer.public_key_der()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let signer = Arc::clone(&signer);
                let spki = spki.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let msg = format!("thread {t} message {i}");
                        let sig = signer.sign(msg.as_bytes()).unwrap();
                        sigalg::verify(&signer.algorithm(), &spki, msg.as_bytes(), &sig).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
