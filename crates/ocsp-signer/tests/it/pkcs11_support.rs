//! The token every PKCS#11 test of this binary shares: one SoftHSM2 store with the tokens
//! `ocsp` (the keys, imported and generated), `pin` (only ever logged in to with a wrong PIN),
//! `drill` (pulled out and put back) and `repin` (its PIN changed under a signer), keys made
//! once.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use ocsp_signer::{KeySpec, Passin, Pkcs11Settings};
use test_support::pki::KeyAlg;
use test_support::softhsm::{SoftHsm, MODULE, PIN};

/// Key files imported into the `ocsp` token, by label.
pub const IMPORTED: &[(&str, &str)] = &[("rsa-imported", "RSA"), ("p256-imported", "EC:P-256")];

/// The store, with every key made.
pub fn hsm() -> &'static SoftHsm {
    static KEYS: OnceLock<()> = OnceLock::new();
    let h = SoftHsm::shared(&["ocsp", "pin", "drill", "repin"]);
    KEYS.get_or_init(|| {
        for (i, (label, alg)) in IMPORTED.iter().enumerate() {
            let file = key_file(label);
            let mut args = vec!["genpkey", "-out", file.to_str().unwrap()];
            match alg.split_once(':') {
                Some((a, curve)) => {
                    args.extend(["-algorithm", a, "-pkeyopt"]);
                    args.push(if curve == "P-256" {
                        "ec_paramgen_curve:P-256"
                    } else {
                        "ec_paramgen_curve:P-384"
                    });
                }
                None => args.extend(["-algorithm", alg, "-pkeyopt", "rsa_keygen_bits:2048"]),
            }
            test_support::openssl::openssl(&h.dir, &args);
            h.import("ocsp", &file, "pass:", label, &[0x10 + i as u8]);
        }
        h.generate("ocsp", KeyAlg::Rsa(2048), "rsa-gen", &[0x20], false);
        h.generate("ocsp", KeyAlg::P256, "p256-gen", &[0x21], false);
        h.generate("ocsp", KeyAlg::P384, "p384-gen", &[0x22], false);
        h.generate("ocsp", KeyAlg::Ed25519, "ed25519-gen", &[0x23], false);
        h.generate("ocsp", KeyAlg::P256, "always-auth", &[0x24], true);
        h.generate("drill", KeyAlg::P256, "drill", &[0x30], false);
        h.generate("repin", KeyAlg::P256, "repin", &[0x50], false);
        // Imported by another process: this one never logs in to `pin` with the right PIN.
        let file = key_file("pin-key");
        test_support::openssl::openssl(
            &h.dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                file.to_str().unwrap(),
            ],
        );
        h.import("pin", &file, "pass:", "pin-key", &[0x40]);
    });
    h
}

/// The key file of an imported key.
pub fn key_file(label: &str) -> std::path::PathBuf {
    SoftHsm::shared(&[]).dir.join(format!("{label}.pem"))
}

/// Settings with the store's module and quick retries.
pub fn settings() -> Pkcs11Settings {
    Pkcs11Settings {
        module: Some(MODULE.into()),
        retry_interval: Duration::from_millis(200),
        ..Pkcs11Settings::default()
    }
}

/// The spec of `label` in `token`, PIN `pin`.
pub fn spec_with(token: &str, label: &str, pin: &str, settings: &Pkcs11Settings) -> KeySpec {
    KeySpec::for_rkey(
        Path::new(&hsm().uri(token, label)),
        Some(Passin::new(format!("pass:{pin}"))),
        settings,
    )
    .unwrap()
}

/// The spec of `label` in the `ocsp` token with the right PIN.
pub fn spec(label: &str) -> KeySpec {
    spec_with("ocsp", label, PIN, &settings())
}
