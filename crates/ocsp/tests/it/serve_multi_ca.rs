//! Many CAs in one process (issue 2, point 6): a `--config` file with one `[[issuer]]`
//! table per CA, each with its own responder key, each CA's certificates answered by its
//! own signer; a request mixing CAs gets one consistent answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::sync::OnceLock;
use test_support::prelude::*;

/// Two CAs whose leaves share serial numbers (both start at 1000) but not statuses:
/// serial 1001 is good under A and revoked under B.
fn cas() -> &'static (Pki, Pki) {
    static CAS: OnceLock<(Pki, Pki)> = OnceLock::new();
    CAS.get_or_init(|| {
        let a = Pki::new("A");
        let b = Pki::new("B");
        a.issue("leaf");
        let bl = b.issue("leaf");
        b.revoke(&bl, &["-crl_reason", "superseded"]);
        a.issue("other");
        b.issue("other");
        (a, b)
    })
}

fn config(extra_server: &str, tables: &[String]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile_in(&cas().0.dir)
        .unwrap();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n{extra_server}\n{}",
        tables.join("\n")
    );
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f
}

fn serve_both() -> (Responder, tempfile::NamedTempFile) {
    let (a, b) = cas();
    let cfg = config("", &[a.issuer_toml(), b.issuer_toml()]);
    let r = Responder::start(OCSP, ["--config", p(cfg.path())]);
    (r, cfg)
}

#[test]
fn each_ca_answered_by_its_own_signer() {
    let (a, b) = cas();
    let (r, _cfg) = serve_both();
    assert_eq!(
        a.serial(&a.cert("leaf")),
        b.serial(&b.cert("leaf")),
        "same serial"
    );
    let la = p(&a.cert("leaf")).to_string();
    let lb = p(&b.cert("leaf")).to_string();
    let qa = a.query(&r.url(), &["-cert", &la, "-resp_text"]);
    qa.assert_status(&la, "good");
    assert!(
        qa.stdout.contains("Subject: CN=OCSP Responder A"),
        "{}",
        qa.all()
    );
    let qb = b.query(&r.url(), &["-cert", &lb, "-resp_text"]);
    qb.assert_status(&lb, "revoked");
    assert!(
        qb.details_of(&lb).contains("Reason: superseded"),
        "{}",
        qb.all()
    );
    assert!(
        qb.stdout.contains("Subject: CN=OCSP Responder B"),
        "{}",
        qb.all()
    );
    // Verification against the other CA fails: the signer really is per CA.
    let wrong_trust = query(
        &a.dir,
        &[
            "ocsp",
            "-CAfile",
            p(&b.cacert),
            "-issuer",
            p(&a.cacert),
            "-cert",
            &la,
            "-url",
            &r.url(),
            "-timeout",
            "10",
        ],
    );
    assert!(
        !wrong_trust.verified(),
        "A's answer must not verify against B's CA:\n{}",
        wrong_trust.all()
    );
}

#[test]
fn several_certs_of_one_ca() {
    let (a, b) = cas();
    let (r, _cfg) = serve_both();
    for pki in [a, b] {
        let leaf = p(&pki.cert("leaf")).to_string();
        let other = p(&pki.cert("other")).to_string();
        let q = pki.query(
            &r.url(),
            &["-cert", &leaf, "-cert", &other, "-serial", "0xDEAD"],
        );
        q.assert_status(&other, "good");
        q.assert_status("0xDEAD", "unknown");
    }
}

#[test]
fn mixing_two_cas_is_unauthorized() {
    let (a, b) = cas();
    let (r, _cfg) = serve_both();
    let q = query(
        &a.dir,
        &[
            "ocsp",
            "-CAfile",
            p(&a.cacert),
            "-issuer",
            p(&a.cacert),
            "-cert",
            p(&a.cert("leaf")),
            "-issuer",
            p(&b.cacert),
            "-cert",
            p(&b.cert("leaf")),
            "-url",
            &r.url(),
            "-timeout",
            "10",
        ],
    );
    assert!(
        q.all().contains("Responder Error: unauthorized (6)"),
        "one signature cannot speak for two CAs with different signers:\n{}",
        q.all()
    );
    // The same answer every time, and in either order.
    for _ in 0..3 {
        let q = query(
            &a.dir,
            &[
                "ocsp",
                "-CAfile",
                p(&b.cacert),
                "-issuer",
                p(&b.cacert),
                "-cert",
                p(&b.cert("leaf")),
                "-issuer",
                p(&a.cacert),
                "-cert",
                p(&a.cert("leaf")),
                "-url",
                &r.url(),
                "-timeout",
                "10",
            ],
        );
        assert!(
            q.all().contains("Responder Error: unauthorized (6)"),
            "{}",
            q.all()
        );
    }
}

#[test]
fn per_issuer_settings_from_the_config() {
    let (a, b) = cas();
    let ta = a.issuer_toml() + "ndays = 2\nunknown_serial = \"revoked\"\n";
    let tb = b.issuer_toml() + "nmin = 600\nresponder_id = \"name\"\nrmd = \"sha512\"\n";
    let cfg = config("", &[ta, tb]);
    let r = Responder::start(OCSP, ["--config", p(cfg.path())]);
    let q = a.query(&r.url(), &["-serial", "0xDEAD", "-resp_text"]);
    q.assert_status("0xDEAD", "revoked");
    assert!(q.stdout.contains("certificateHold"), "{}", q.all());
    let lb = p(&b.cert("other")).to_string();
    let q = b.query(&r.url(), &["-cert", &lb, "-serial", "0xDEAD", "-resp_text"]);
    q.assert_status(&lb, "good");
    q.assert_status("0xDEAD", "unknown");
    assert!(
        q.stdout.contains("Responder Id: CN = OCSP Responder B"),
        "{}",
        q.all()
    );
    assert!(q.stdout.contains("sha512WithRSAEncryption"), "{}", q.all());
}

#[test]
fn relative_paths_are_taken_from_the_config_directory() {
    let (a, _) = cas();
    let cfg = a.dir.join("relative.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[[issuer]]\nca = \"cacert.pem\"\nindex = \"index.txt\"\n\
         rsigner = \"ocsp_responder.crt\"\nrkey = \"ocsp_responder.key\"\npassin = \"file:private/pass.txt\"\n",
    )
    .unwrap();
    // Run from another directory.
    let r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let leaf = p(&a.cert("leaf")).to_string();
    a.query(&r.url(), &["-cert", &leaf])
        .assert_status(&leaf, "good");
}

#[test]
fn flags_add_a_ca_to_the_config() {
    let (a, b) = cas();
    let cfg = config("", &[b.issuer_toml()]);
    let mut args = vec!["--config".to_string(), p(cfg.path()).to_string()];
    args.extend(a.serve_args());
    let r = Responder::start(OCSP, args);
    let la = p(&a.cert("leaf")).to_string();
    let lb = p(&b.cert("leaf")).to_string();
    a.query(&r.url(), &["-cert", &la])
        .assert_status(&la, "good");
    b.query(&r.url(), &["-cert", &lb])
        .assert_status(&lb, "revoked");
}

#[test]
fn unknown_config_keys_are_refused_by_name() {
    let (a, _) = cas();
    for (bad, key) in [
        (a.issuer_toml() + "ndayz = 3\n", "ndayz"),
        (a.issuer_toml().replace("passin", "pasin"), "pasin"),
    ] {
        let cfg = config("", &[bad]);
        let f = serve_must_fail(OCSP, ["--config", p(cfg.path())]);
        assert!(f.stderr.contains(key), "names {key}:\n{}", f.stderr);
    }
    let cfg = config("[server.limits]\nmax_body = 5\n", &[a.issuer_toml()]);
    let f = serve_must_fail(OCSP, ["--config", p(cfg.path())]);
    assert!(f.stderr.contains("max_body"), "{}", f.stderr);
    let cfg = config("", &[a.issuer_toml().replace("[[issuer]]", "[[issuers]]")]);
    let f = serve_must_fail(OCSP, ["--config", p(cfg.path())]);
    assert!(f.stderr.contains("issuers"), "{}", f.stderr);
}

#[test]
fn server_limits_from_the_config_apply() {
    let (a, _) = cas();
    let cfg = config(
        "[server.limits]\nmax_body_bytes = 100\n",
        &[a.issuer_toml()],
    );
    let r = Responder::start(OCSP, ["--config", p(cfg.path())]);
    let resp = http(r.addr(), &post_req("/", &[0u8; 200], &[]));
    assert_eq!(resp.status, 413);
}

#[test]
fn same_serial_two_cas_without_nonce() {
    // Cacheable (no nonce) answers keyed by issuer, not only by serial.
    let (a, b) = cas();
    let (r, _cfg) = serve_both();
    let la = p(&a.cert("leaf")).to_string();
    let lb = p(&b.cert("leaf")).to_string();
    for _ in 0..3 {
        for alg in ["-sha1", "-sha256"] {
            a.query(&r.url(), &[alg, "-cert", &la, "-no_nonce"])
                .assert_status(&la, "good");
            b.query(&r.url(), &[alg, "-cert", &lb, "-no_nonce"])
                .assert_status(&lb, "revoked");
        }
    }
}
