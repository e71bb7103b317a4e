//! `ocsp lint` against `openssl ocsp` run as the seed runs it: lint must report the known
//! faults of that responder — no nextUpdate without `-ndays`, no caching headers, no
//! answer at all for an `E` (expired) index entry, nonces of any length echoed, an unknown
//! issuer answered `unknown` instead of `unauthorized`, ResponderID byName — and, under
//! `--aggressive`, that it exits on a request it cannot read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::lint_support::*;
use test_support::prelude::*;

struct Setup {
    pki: Pki,
    good: std::path::PathBuf,
    revoked: std::path::PathBuf,
    expired: std::path::PathBuf,
}

fn setup(name: &str) -> Setup {
    let pki = Pki::new(name);
    let good = pki.issue("good");
    let revoked = pki.issue("revoked");
    pki.revoke(&revoked, &["-crl_reason", "keyCompromise"]);
    let expired = issue_expired(&pki);
    Setup {
        pki,
        good,
        revoked,
        expired,
    }
}

#[test]
fn the_seed_responders_faults_are_reported() {
    let s = setup("LO");
    let mut o = OpensslOcsp::start(&s.pki, &[]);
    let url = o.url();
    let (code, doc) = lint_json(&[
        &url,
        "--issuer",
        p(&s.pki.cacert),
        "--cert",
        p(&s.good),
        "--cert",
        p(&s.expired),
        "--revoked-cert",
        p(&s.revoked),
    ]);
    assert_eq!(code, 2, "{:#?}", problems(&doc));
    assert_eq!(doc["exit_code"], 2);
    // What works.
    for id in ["T1", "T2", "E1", "S2", "S5", "N1", "N2", "A4", "P2", "P7"] {
        assert_verdict(&doc, id, "PASS");
    }
    assert_verdict(&doc, "S1", "PASS"); // good.pem
                                        // No nextUpdate without -ndays (RFC 9919).
    assert_verdict(&doc, "P1", "FAIL");
    // No caching headers.
    for id in ["C1", "C2", "C3"] {
        assert_verdict(&doc, id, "WARN");
    }
    assert_verdict(&doc, "C4", "SKIP");
    // An E entry gets no answer at all.
    assert_verdict(&doc, "S1", "FAIL"); // expired.pem
    assert_verdict(&doc, "E5", "FAIL");
    assert_verdict(&doc, "S6", "FAIL");
    // ... so those responses do not verify: an asked CertID is unanswered.
    assert_verdict(&doc, "A1", "FAIL");
    // Nonces of any length echoed.
    assert_verdict(&doc, "N3", "FAIL");
    let n3 = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "N3")
        .unwrap();
    assert!(
        n3["seen"]
            .as_str()
            .unwrap()
            .contains("129 octets: answered and echoed"),
        "{n3}"
    );
    // An unknown issuer answered unknown, not unauthorized.
    assert_verdict(&doc, "S4", "FAIL");
    // ResponderID byName.
    assert_verdict(&doc, "A3", "WARN");
    // The hostile probes were not sent, and the responder is still up.
    for id in ["S7", "T3", "T4"] {
        assert_verdict(&doc, id, "SKIP");
    }
    assert!(!verdicts(&doc).contains_key("R1"));
    assert!(
        o.is_running(),
        "a default lint run must not stop the responder"
    );

    // Under RFC 6960 alone, `unknown` for an unknown issuer is allowed and a missing
    // nextUpdate is a warning.
    let (code, doc) = lint_json(&[
        &url,
        "--issuer",
        p(&s.pki.cacert),
        "--cert",
        p(&s.good),
        "--profile",
        "rfc6960",
    ]);
    assert_eq!(code, 1, "{:#?}", problems(&doc));
    assert_verdict(&doc, "S4", "PASS");
    assert_verdict(&doc, "P1", "WARN");
    assert_verdict(&doc, "A3", "PASS");
    assert!(o.is_running());
}

#[test]
fn next_update_with_ndays_and_the_text_report() {
    let s = setup("LN");
    let o = OpensslOcsp::start(&s.pki, &["-ndays", "1"]);
    let url = o.url();
    let out = lint(&["--issuer", p(&s.pki.cacert), "--cert", p(&s.good), &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // One line per check: id, verdict, what was seen — rule [source]; then a summary.
    let mut checks = 0;
    for line in text.lines() {
        if line.starts_with("ocsp lint ") || line.starts_with('[') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("summary: ") {
            assert!(
                rest.contains(" checks, ") && rest.ends_with("exit 2"),
                "{line}"
            );
            continue;
        }
        let (id, rest) = line.split_once(' ').unwrap();
        assert!(
            id.len() == 2
                && id.as_bytes()[0].is_ascii_uppercase()
                && id.as_bytes()[1].is_ascii_digit(),
            "{line}"
        );
        let verdict = rest.split_whitespace().next().unwrap();
        assert!(
            ["PASS", "WARN", "FAIL", "SKIP"].contains(&verdict),
            "{line}"
        );
        assert!(line.contains(" — ") && line.ends_with(']'), "{line}");
        checks += 1;
    }
    assert!(checks >= 30, "{text}");
    let p1 = text.lines().find(|l| l.starts_with("P1 ")).unwrap();
    assert!(
        p1.contains("PASS"),
        "with -ndays every answer has nextUpdate: {p1}"
    );
    assert!(text.lines().any(|l| l.starts_with("S4   FAIL")), "{text}");
}

#[test]
fn aggressive_probes_stop_openssl_and_say_so() {
    let s = setup("LA");
    let mut o = OpensslOcsp::start(&s.pki, &["-ndays", "1"]);
    let url = o.url();
    let (code, doc) = lint_json(&[
        &url,
        "--issuer",
        p(&s.pki.cacert),
        "--cert",
        p(&s.good),
        "--aggressive",
        "--timeout",
        "5",
    ]);
    assert_eq!(code, 2);
    assert_eq!(doc["aggressive"], true);
    // The first hostile request (a POST of garbage) is refused with HTTP 400, then openssl
    // exits: every later probe finds nobody listening.
    assert_verdict(&doc, "S7", "WARN");
    for id in ["R1", "R2", "R3"] {
        assert_verdict(&doc, id, "FAIL");
    }
    let r3 = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "R3")
        .unwrap();
    assert!(
        r3["seen"].as_str().unwrap().contains("stopped answering"),
        "{r3}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!o.is_running(), "openssl ocsp was expected to exit");
}
