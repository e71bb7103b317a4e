//! `ocsp lint` and `pkilint` (`lint_ocsp_response`, PyPI package `pkilint`) must not
//! disagree on a response. Each response — from `ocsp serve`, from `openssl ocsp` with and
//! without `-ndays`, error responses, and damaged copies — is judged by both on the rules
//! both implement (DER and ASN.1 syntax, time syntax, empty SEQUENCEs, the sign of the
//! validity interval): lint's single-response checks
//! (`ocsp_client::lint::encoding::one_response`) find a fault exactly when pkilint reports
//! a finding of WARNING or worse, or cannot load the response at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::lint_support::*;
use crate::OCSP;
use ocsp_client::lint::Verdict;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use test_support::prelude::*;

/// pkilint's opinion: `Ok(())` clean, `Err(findings)` otherwise.
fn pkilint(file: &Path) -> Result<(), String> {
    let out = run(
        Command::new("lint_ocsp_response").args([
            "lint",
            "--document-format",
            "DER",
            "-s",
            "WARNING",
            "-f",
            "JSON",
            p(file),
        ]),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stdout.trim_start().starts_with("Failed to load") || stderr.contains("Failed to load") {
        return Err(format!("cannot load: {}{}", stdout.trim(), stderr.trim()));
    }
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("pkilint printed no JSON ({e}): {stdout}\n{stderr}"));
    // With `-s WARNING` only findings of that severity or worse are listed.
    let results = doc["results"].as_array().expect("results");
    if results.is_empty() {
        Ok(())
    } else {
        Err(serde_json::to_string(results).unwrap())
    }
}

fn lint_says(der: &[u8]) -> Result<(), String> {
    let bad: Vec<String> = ocsp_client::lint::encoding::one_response(der)
        .into_iter()
        .filter(|f| f.verdict >= Verdict::Warn)
        .map(|f| format!("{} {}", f.id, f.seen))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

fn require_pkilint() {
    let ok = Command::new("lint_ocsp_response")
        .arg("--help")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "lint_ocsp_response (pkilint) is not installed: pip install pkilint \
         (scripts/test-all.sh installs it)"
    );
}

#[test]
fn lint_and_pkilint_agree_on_every_response() {
    require_pkilint();
    let pki = Pki::new("LK");
    let good = pki.issue("good");
    let revoked = pki.issue("revoked");
    pki.revoke(&revoked, &["-crl_reason", "keyCompromise"]);
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();

    let mut a = pki.serve_args();
    a.extend(["--listen", "127.0.0.1:0"].map(String::from));
    let r = Responder::start(OCSP, a);
    for (name, cert) in [("serve good", &good), ("serve revoked", &revoked)] {
        let f = dir.path().join(format!("{}.der", name.replace(' ', "_")));
        cases.push((name.into(), fetch_response(&pki, &r.url(), cert, &f)));
    }
    drop(r);
    for (name, extra) in [
        ("openssl", &[][..]),
        ("openssl -ndays 1", &["-ndays", "1"][..]),
    ] {
        let o = OpensslOcsp::start(&pki, extra);
        for cert in [&good, &revoked] {
            let f = dir.path().join("openssl.der");
            cases.push((
                format!("{name} {}", cert.file_name().unwrap().to_string_lossy()),
                fetch_response(&pki, &o.url(), cert, &f),
            ));
        }
    }
    cases.push(("malformedRequest".into(), MALFORMED.to_vec()));
    cases.push(("unauthorized".into(), UNAUTHORIZED.to_vec()));
    let whole = cases[0].1.clone();
    let mut trailing = whole.clone();
    trailing.push(0);
    cases.push(("trailing octet".into(), trailing));
    cases.push(("truncated".into(), whole[..whole.len() / 2].to_vec()));

    let mut clean = 0;
    let mut faulty = 0;
    for (i, (name, der)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("case{i}.der"));
        std::fs::write(&f, der).unwrap();
        let theirs = pkilint(&f);
        let ours = lint_says(der);
        assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "{name}: ocsp lint says {ours:?}, pkilint says {theirs:?}"
        );
        if ours.is_ok() {
            clean += 1;
        } else {
            faulty += 1;
        }
    }
    // Both kinds were seen: the comparison can fail either way.
    assert!(clean >= 6 && faulty >= 2, "clean {clean}, faulty {faulty}");
}
