//! `ocsp lint` against `ocsp serve`: clean (every check PASS or SKIP, exit 0) under every
//! profile the server is configured for, hostile probes included; and the JSON document's
//! shape, which docs/lint.md promises to keep.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::lint_support::*;
use crate::OCSP;
use test_support::prelude::*;

fn serve(pki: &Pki, signer: &SignerFiles, profile: Option<&str>) -> Responder {
    let mut a = pki.serve_args_with(signer);
    a.extend(["--listen", "127.0.0.1:0"].map(String::from));
    if let Some(p) = profile {
        a.extend(["--profile".to_string(), p.to_string()]);
    }
    Responder::start(OCSP, a)
}

#[test]
fn clean_under_every_profile_the_server_is_configured_for() {
    let pki = Pki::new("LS");
    let good = pki.issue("good");
    let revoked = pki.issue("revoked");
    pki.revoke(&revoked, &["-crl_reason", "keyCompromise"]);
    let signer = br_responder(&pki, "br_responder", KeyAlg::P256);
    // (server profile, lint profiles that judge it)
    let cases: [(Option<&str>, &[&str]); 4] = [
        (None, &["rfc6960", "rfc9919"]),
        (Some("cabf"), &["cabf"]),
        (Some("mozilla"), &["mozilla"]),
        (Some("microsoft"), &["microsoft"]),
    ];
    for (server, lints) in cases {
        let mut r = serve(&pki, &signer, server);
        let url = r.url();
        for profile in lints {
            let (code, doc) = lint_json(&[
                &url,
                "--issuer",
                p(&pki.cacert),
                "--cert",
                p(&good),
                "--revoked-cert",
                p(&revoked),
                "--profile",
                profile,
                "--aggressive",
            ]);
            assert_eq!(
                code,
                0,
                "server profile {server:?}, lint profile {profile}: {:#?}",
                problems(&doc)
            );
            let v = verdicts(&doc);
            for id in [
                "T1", "T2", "T3", "T4", "C1", "C2", "C3", "C4", "S1", "S2", "S3", "S4", "S7", "N1",
                "N3", "A1", "A2", "P1", "P4", "R1", "R2", "R3",
            ] {
                assert_eq!(v[id], vec!["PASS".to_string()], "{id} under {profile}");
            }
        }
        assert!(r.is_running(), "ocsp serve must survive the hostile probes");
    }
}

#[test]
fn the_seed_responder_certificate_breaks_the_br_profile() {
    // The seed's v3_OCSP section gives keyUsage nonRepudiation and keyEncipherment too, and
    // no id-pkix-ocsp-nocheck: fine for RFC 6960, not for the Baseline Requirements.
    let pki = Pki::new("LB");
    let good = pki.issue("good");
    let r = serve(&pki, &pki.responder, None);
    let url = r.url();
    let args = ["--issuer", p(&pki.cacert), "--cert", p(&good), &url];
    let (code, doc) = lint_json(&[&args[..], &["--profile", "rfc9919"]].concat());
    assert_eq!(code, 0, "{:#?}", problems(&doc));
    let (code, doc) = lint_json(&[&args[..], &["--profile", "cabf"]].concat());
    assert_eq!(code, 2, "{:#?}", problems(&doc));
    assert_verdict(&doc, "A2", "FAIL");
    let a2 = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "A2")
        .unwrap();
    let seen = a2["seen"].as_str().unwrap();
    assert!(
        seen.contains("no id-pkix-ocsp-nocheck") && seen.contains("keyUsage"),
        "{seen}"
    );
    assert_eq!(problems(&doc).len(), 1, "{:#?}", problems(&doc));
}

#[test]
fn json_document_shape_and_could_not_run() {
    let pki = Pki::new("LJ");
    let good = pki.issue("good");
    let r = serve(&pki, &pki.responder, None);
    let url = r.url();
    let (code, doc) = lint_json(&[
        &url,
        "--issuer",
        p(&pki.cacert),
        "--serial",
        &format!("0x{}", pki.serial(&good)),
    ]);
    assert_eq!(code, 0, "{:#?}", problems(&doc));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["url"], url.as_str());
    assert_eq!(doc["profile"], "rfc9919");
    assert_eq!(doc["exit_code"], 0);
    assert!(doc["error"].is_null());
    assert!(
        doc["requests"].as_u64().unwrap() >= 12,
        "{}",
        doc["requests"]
    );
    let s = &doc["summary"];
    let total: u64 = ["pass", "warn", "fail", "skip"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum();
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(total as usize, checks.len());
    for c in checks {
        for k in ["id", "group", "verdict", "seen", "rule", "source"] {
            assert!(c[k].is_string(), "{k} in {c}");
        }
    }
    assert_verdict(&doc, "S1", "PASS");
    // Nobody listening: exit 3, and the document says why.
    drop(r);
    let (code, doc) = lint_json(&[&url, "--issuer", p(&pki.cacert), "--timeout", "2"]);
    assert_eq!(code, 3, "{doc}");
    assert_eq!(doc["exit_code"], 3);
    assert!(
        doc["error"].as_str().unwrap().contains("does not answer"),
        "{doc}"
    );
    // A usage error: exit 3 (2 means failures).
    assert_eq!(lint(&[&url, "--no-such-flag"]).status.code(), Some(3));
    assert_eq!(lint(&[&url]).status.code(), Some(3), "--issuer is required");
    assert_eq!(
        lint(&[&url, "--issuer", p(&pki.cacert), "--profile", "webtrust"])
            .status
            .code(),
        Some(3)
    );
    // An unreadable issuer: exit 3 too.
    let out = lint(&[&url, "--issuer", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"));
}
