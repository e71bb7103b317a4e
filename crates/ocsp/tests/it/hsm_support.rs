//! What the `hsm_*` tests share: one SoftHSM2 store (token `hsm` with every key, token `drill`
//! for pulling out), one PKI whose CA certifies the token keys, and `ocsp serve` started on
//! a token key.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::OCSP;
use test_support::pki::KeyAlg;
use test_support::prelude::*;
use test_support::softhsm::{SoftHsm, PIN};

/// The store, every key made once: in token `hsm`, `rsa-imported` and `p256-imported`
/// (key files imported), `rsa-gen`, `p384-gen`, `ed25519-gen` (made inside the token); in
/// token `drill`, `drill`.
pub fn hsm() -> &'static SoftHsm {
    static MADE: OnceLock<()> = OnceLock::new();
    let h = SoftHsm::shared(&["hsm", "drill"]);
    MADE.get_or_init(|| {
        let genpkey = |file: &std::path::Path, args: &[&str]| {
            let mut all = vec!["genpkey", "-out", p(file)];
            all.extend_from_slice(args);
            openssl(&h.dir, &all);
        };
        let rsa = h.dir.join("rsa-imported.pem");
        genpkey(
            &rsa,
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        );
        h.import("hsm", &rsa, "pass:", "rsa-imported", &[1]);
        let ec = h.dir.join("p256-imported.pem");
        genpkey(
            &ec,
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        h.import("hsm", &ec, "pass:", "p256-imported", &[2]);
        h.generate("hsm", KeyAlg::Rsa(2048), "rsa-gen", &[3], false);
        h.generate("hsm", KeyAlg::P384, "p384-gen", &[4], false);
        h.generate("hsm", KeyAlg::Ed25519, "ed25519-gen", &[5], false);
        h.generate("drill", KeyAlg::P256, "drill", &[6], false);
    });
    h
}

/// The CA "H" with the standard leaves.
pub fn pki() -> &'static Pki {
    static H: OnceLock<Pki> = OnceLock::new();
    H.get_or_init(|| Pki::standard("H"))
}

/// The responder certificate of `label` in `token` (made once), its key the token URI.
pub fn signer(token: &str, label: &str) -> SignerFiles {
    static MADE: OnceLock<Mutex<HashMap<String, SignerFiles>>> = OnceLock::new();
    let h = hsm();
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    made.entry(format!("{token}/{label}"))
        .or_insert_with(|| h.certify(pki(), token, label))
        .clone()
}

/// `ocsp serve` for CA H signing with `label` of `token`, plus `extra`.
pub fn serve(token: &str, label: &str, extra: &[&str]) -> Responder {
    let s = signer(token, label);
    let mut args = pki().serve_args_with(&s);
    // The token's PIN instead of the PKI's passphrase.
    let n = args.len();
    args[n - 1] = format!("pass:{PIN}");
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Responder::start(OCSP, args)
}

/// `openssl ocsp` for leaf `name` of CA H at `r` (a nonce unless `-no_nonce` is in `args`).
pub fn ask(r: &Responder, name: &str, args: &[&str]) -> Query {
    let cert = pki().cert(name);
    let mut all = vec!["-cert", p(&cert)];
    all.extend_from_slice(args);
    pki().query(&r.url(), &all)
}
