//! Compliance profiles of the real binary: a configuration that cannot comply is refused at
//! start naming the rule; a compliant one serves answers openssl verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use test_support::prelude::*;

fn args(pki: &Pki, extra: &[&str]) -> Vec<String> {
    let mut a = pki.serve_args();
    a.extend(["--listen", "127.0.0.1:0"].map(String::from));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn microsoft_refuses_ten_days_naming_the_rule() {
    let pki = Pki::new("P");
    let f = serve_must_fail(
        OCSP,
        args(&pki, &["--profile", "microsoft", "--ndays", "10"]),
    );
    assert_eq!(f.code, Some(1));
    assert!(f.stderr.contains("rule validity-max"), "{}", f.stderr);
    assert!(
        f.stderr.contains("Microsoft Trusted Root Program"),
        "{}",
        f.stderr
    );
    assert!(f.stderr.contains("at most 7 days"), "{}", f.stderr);
    assert!(!f.stdout.contains("listening on"), "{}", f.stdout);

    // The same validity is fine for a private PKI (with a warning) and for nobody else
    // at exactly 10 days (both ends count).
    let r = Responder::start(OCSP, args(&pki, &["--ndays", "10"]));
    assert!(
        r.stderr().contains("outside the Baseline Requirements"),
        "{}",
        r.stderr()
    );
    for p in ["cabf", "mozilla"] {
        let f = serve_must_fail(OCSP, args(&pki, &["--profile", p, "--ndays", "10"]));
        assert!(f.stderr.contains("rule validity-max"), "{p}: {}", f.stderr);
    }
    // One second less fits.
    let good = pki.issue("good");
    let r = Responder::start(
        OCSP,
        args(
            &pki,
            &[
                "--profile",
                "cabf",
                "--ndays",
                "9",
                "--nmin",
                "1439",
                "--refresh-fraction",
                "0.4",
            ],
        ),
    );
    let q = pki.query(&r.url(), &["-cert", p(&good)]);
    assert!(q.verified(), "{}", q.all());
    q.assert_status(p(&good), "good");
}

#[test]
fn other_rules_are_named() {
    let pki = Pki::new("R");
    // Too short for the Baseline Requirements.
    let f = serve_must_fail(OCSP, args(&pki, &["--profile", "cabf", "--nmin", "60"]));
    assert!(f.stderr.contains("rule validity-min"), "{}", f.stderr);
    assert!(f.stderr.contains("at least 8 hours"), "{}", f.stderr);
    // Cached answers re-signed too late: 9 days × 0.5 = 4.5 days after thisUpdate.
    let f = serve_must_fail(OCSP, args(&pki, &["--profile", "cabf", "--ndays", "9"]));
    assert!(f.stderr.contains("rule refresh"), "{}", f.stderr);
    assert!(f.stderr.contains("--refresh-fraction"), "{}", f.stderr);
    // Ed25519 is not allowed for publicly trusted responders.
    let ed = pki.issue_responder("ocsp_ed25519", KeyAlg::Ed25519, "v3_OCSP");
    let mut a = pki.serve_args_with(&ed);
    a.extend(["--listen", "127.0.0.1:0", "--profile", "mozilla"].map(String::from));
    let f = serve_must_fail(OCSP, &a);
    assert!(
        f.stderr.contains("rule signature-algorithm"),
        "{}",
        f.stderr
    );
    // ... but fine for a private PKI.
    let mut a = pki.serve_args_with(&ed);
    a.extend(["--listen", "127.0.0.1:0"].map(String::from));
    let good = pki.issue("good");
    let r = Responder::start(OCSP, &a);
    pki.query(&r.url(), &["-cert", p(&good)])
        .assert_status(p(&good), "good");
    // An ECDSA P-384 key signing with SHA-256 breaks the curve/hash pairing of cabf.
    let p384 = pki.issue_responder("ocsp_p384", KeyAlg::P384, "v3_OCSP");
    let mut a = pki.serve_args_with(&p384);
    a.extend(["--listen", "127.0.0.1:0", "--profile", "cabf"].map(String::from));
    let f = serve_must_fail(OCSP, &a);
    assert!(
        f.stderr.contains("rule signature-algorithm") && f.stderr.contains("P-384"),
        "{}",
        f.stderr
    );
    a.extend(["--rmd", "sha384"].map(String::from));
    let r = Responder::start(OCSP, &a);
    let q = pki.query(&r.url(), &["-cert", p(&good)]);
    assert!(q.verified(), "{}", q.all());
}

#[test]
fn profile_from_the_config_file_and_flag_override() {
    let pki = Pki::new("C");
    let cfg = write(
        &pki.dir,
        "ocsp.toml",
        &format!(
            "profile = \"microsoft\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n{}ndays = 8\n",
            pki.issuer_toml()
        ),
    );
    let f = serve_must_fail(OCSP, ["--config", p(&cfg)]);
    assert!(
        f.stderr.contains("profile microsoft, rule validity-max"),
        "{}",
        f.stderr
    );
    // The flag overrides the file.
    let r = Responder::start(OCSP, ["--config", p(&cfg), "--profile", "private"]);
    assert!(!r.listening().is_empty());
}
