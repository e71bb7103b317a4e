//! The index is live (issue 2, point 3): `openssl ca` edits made while serving are
//! answered at once, with no stale answer; a broken edit keeps the last good state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::time::Duration;
use test_support::prelude::*;

fn serve(pki: &Pki) -> Responder {
    let mut args = pki.serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    Responder::start(OCSP, args)
}

#[test]
fn revoke_while_serving_is_answered_immediately() {
    // A PKI of its own: this test edits the index.
    let pki = Pki::new("live");
    let leaves: Vec<String> = (0..5)
        .map(|i| p(&pki.issue(&format!("leaf{i}"))).to_string())
        .collect();
    let r = serve(&pki);
    for l in &leaves {
        pki.query(&r.url(), &["-cert", l]).assert_status(l, "good");
    }
    let reasons = [
        "keyCompromise",
        "superseded",
        "cessationOfOperation",
        "affiliationChanged",
        "unspecified",
    ];
    for (i, (leaf, reason)) in leaves.iter().zip(reasons).enumerate() {
        pki.revoke(std::path::Path::new(leaf), &["-crl_reason", reason]);
        // Immediately: no sleep, no signal.
        let q = pki.query(&r.url(), &["-cert", leaf]);
        q.assert_status(leaf, "revoked");
        if reason != "unspecified" {
            assert!(
                q.details_of(leaf).contains(&format!("Reason: {reason}")),
                "{}",
                q.all()
            );
        }
        // The others are unchanged.
        for (j, other) in leaves.iter().enumerate() {
            let want = if j <= i { "revoked" } else { "good" };
            pki.query(&r.url(), &["-cert", other])
                .assert_status(other, want);
        }
    }
}

#[test]
fn new_certificate_while_serving_is_known_immediately() {
    let pki = Pki::new("issue");
    pki.issue("first");
    let r = serve(&pki);
    for i in 0..3 {
        let leaf = p(&pki.issue(&format!("new{i}"))).to_string();
        pki.query(&r.url(), &["-cert", &leaf])
            .assert_status(&leaf, "good");
    }
}

#[test]
fn rapid_revoke_and_query_loop_never_answers_stale() {
    let pki = Pki::new("rapid");
    let leaves: Vec<String> = (0..8)
        .map(|i| p(&pki.issue(&format!("r{i}"))).to_string())
        .collect();
    let r = serve(&pki);
    for leaf in &leaves {
        pki.query(&r.url(), &["-cert", leaf])
            .assert_status(leaf, "good");
        pki.revoke(std::path::Path::new(leaf), &[]);
        pki.query(&r.url(), &["-cert", leaf])
            .assert_status(leaf, "revoked");
    }
}

#[test]
fn bad_index_edit_keeps_the_last_good_state() {
    let pki = Pki::new("badedit");
    let good = p(&pki.issue("good")).to_string();
    let revoked = p(&pki.issue("revoked")).to_string();
    pki.revoke(
        std::path::Path::new(&revoked),
        &["-crl_reason", "keyCompromise"],
    );
    let r = serve(&pki);
    pki.query(&r.url(), &["-cert", &good])
        .assert_status(&good, "good");

    // Append a garbage line, in place (an operator's editor, not openssl ca).
    let before = std::fs::read_to_string(&pki.index).unwrap();
    let bad_line_no = before.lines().count() + 1;
    std::fs::write(&pki.index, format!("{before}this is not an index line\n")).unwrap();
    for _ in 0..3 {
        let q = pki.query(&r.url(), &["-cert", &good, "-cert", &revoked]);
        q.assert_status(&good, "good");
        q.assert_status(&revoked, "revoked");
    }
    let needle = format!("index.txt:{bad_line_no}:");
    assert!(
        r.wait_stderr(&needle, Duration::from_secs(5)),
        "the failed reload is logged as `file:line: why`:\n{}",
        r.stderr()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        r.stderr().matches(&needle).count(),
        1,
        "logged once, not on every request:\n{}",
        r.stderr()
    );

    // Mend the file: openssl ca works again and its edits are served.
    std::fs::write(&pki.index, &before).unwrap();
    pki.revoke(std::path::Path::new(&good), &["-crl_reason", "superseded"]);
    let q = pki.query(&r.url(), &["-cert", &good]);
    q.assert_status(&good, "revoked");
}

#[test]
fn truncated_index_keeps_the_last_good_state() {
    // A half-written file (not replaced by rename) must not be served.
    let pki = Pki::new("trunc");
    let good = p(&pki.issue("good")).to_string();
    let revoked = p(&pki.issue("revoked")).to_string();
    pki.revoke(
        std::path::Path::new(&revoked),
        &["-crl_reason", "keyCompromise"],
    );
    let r = serve(&pki);
    pki.query(&r.url(), &["-cert", &revoked])
        .assert_status(&revoked, "revoked");
    let full = std::fs::read_to_string(&pki.index).unwrap();
    let last = full.lines().last().unwrap();
    // Cut the last (revoked) line in the middle of its revocation field.
    let cut = full.len() - last.len() + 10;
    std::fs::write(&pki.index, &full[..cut]).unwrap();
    let q = pki.query(&r.url(), &["-cert", &revoked, "-cert", &good]);
    q.assert_status(&revoked, "revoked");
    q.assert_status(&good, "good");
    std::fs::write(&pki.index, &full).unwrap();
    pki.query(&r.url(), &["-cert", &revoked])
        .assert_status(&revoked, "revoked");
}

#[test]
fn sighup_is_harmless() {
    let pki = Pki::new("hup");
    let good = p(&pki.issue("good")).to_string();
    let mut r = serve(&pki);
    for _ in 0..3 {
        let st = std::process::Command::new("kill")
            .args(["-HUP", &r.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        r.is_running(),
        "SIGHUP reloads, it does not stop:\n{}",
        r.stderr()
    );
    pki.query(&r.url(), &["-cert", &good])
        .assert_status(&good, "good");
}

/// The same request bytes, asked without a nonce (the answer the cache keeps), by POST
/// and by GET.
fn ask_cacheable(r: &Responder, der: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let post = http(r.addr(), &post_req("/", der, &[]));
    let get = http(
        r.addr(),
        &get_req(&format!("/{}", pct_encode(&b64(der), false)), &[]),
    );
    assert_eq!(post.status, 200);
    assert_eq!(get.status, 200);
    vec![("POST", post.body), ("GET", get.body)]
}

fn stated(body: &[u8]) -> &'static str {
    let basic = parse_basic(body);
    match basic.tbs_response_data.responses[0].cert_status {
        ocsp_proto::x509_ocsp::CertStatus::Good(_) => "good",
        ocsp_proto::x509_ocsp::CertStatus::Revoked(_) => "revoked",
        ocsp_proto::x509_ocsp::CertStatus::Unknown(_) => "unknown",
    }
}

#[test]
fn revoke_while_serving_is_answered_immediately_without_nonce() {
    // Requests without a nonce are the ones a cache answers: they must not be stale either.
    let pki = Pki::new("cache");
    let leaves: Vec<std::path::PathBuf> = (0..4).map(|i| pki.issue(&format!("c{i}"))).collect();
    let r = serve(&pki);
    let ders: Vec<Vec<u8>> = leaves
        .iter()
        .map(|l| pki.request_der(&["-cert", p(l), "-no_nonce"]))
        .collect();
    // Warm: ask each several times so any cache holds it.
    for der in &ders {
        for _ in 0..3 {
            for (how, body) in ask_cacheable(&r, der) {
                assert_eq!(stated(&body), "good", "{how}");
            }
        }
    }
    for (leaf, der) in leaves.iter().zip(&ders) {
        pki.revoke(leaf, &["-crl_reason", "keyCompromise"]);
        for (how, body) in ask_cacheable(&r, der) {
            assert_eq!(
                stated(&body),
                "revoked",
                "{how} right after openssl ca -revoke"
            );
        }
        let q = pki.query(&r.url(), &["-cert", p(leaf), "-no_nonce"]);
        q.assert_status(p(leaf), "revoked");
    }
}

#[test]
fn unknown_then_issued_without_nonce() {
    // A serial asked for before it is issued (unknown), then issued: never a stale unknown.
    let pki = Pki::new("later");
    pki.issue("first");
    let r = serve(&pki);
    let next_serial = std::fs::read_to_string(pki.dir.join("serial")).unwrap();
    let q = pki.query(
        &r.url(),
        &["-serial", &format!("0x{}", next_serial.trim()), "-no_nonce"],
    );
    let label = format!("0x{}", next_serial.trim());
    q.assert_status(&label, "unknown");
    let leaf = pki.issue("second");
    assert_eq!(pki.serial(&leaf), next_serial.trim());
    let q = pki.query(&r.url(), &["-cert", p(&leaf), "-no_nonce"]);
    q.assert_status(p(&leaf), "good");
}

#[test]
fn index_removed_while_serving_keeps_the_last_good_state() {
    let pki = Pki::new("gone");
    let good = p(&pki.issue("good")).to_string();
    let revoked = p(&pki.issue("revoked")).to_string();
    pki.revoke(std::path::Path::new(&revoked), &[]);
    let r = serve(&pki);
    let aside = pki.dir.join("index.txt.aside");
    std::fs::rename(&pki.index, &aside).unwrap();
    for _ in 0..2 {
        let q = pki.query(&r.url(), &["-cert", &good, "-cert", &revoked]);
        q.assert_status(&good, "good");
        q.assert_status(&revoked, "revoked");
    }
    std::fs::rename(&aside, &pki.index).unwrap();
    let leaf = pki.issue("after");
    pki.query(&r.url(), &["-cert", p(&leaf)])
        .assert_status(p(&leaf), "good");
}

#[test]
fn concurrent_queries_during_revocations_are_never_stale_or_wrong() {
    let pki = std::sync::Arc::new(Pki::new("race"));
    let stable_good = p(&pki.issue("stable_good")).to_string();
    let stable_revoked = p(&pki.issue("stable_revoked")).to_string();
    pki.revoke(
        std::path::Path::new(&stable_revoked),
        &["-crl_reason", "keyCompromise"],
    );
    let moving: Vec<String> = (0..6)
        .map(|i| p(&pki.issue(&format!("m{i}"))).to_string())
        .collect();
    let r = serve(&pki);
    let url = r.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (pki, url, stop) = (pki.clone(), url.clone(), stop.clone());
            let (g, rv) = (stable_good.clone(), stable_revoked.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 3 {
                    let nonce: &[&str] = if (n + w) % 2 == 0 {
                        &["-no_nonce"]
                    } else {
                        &[]
                    };
                    let mut args = vec!["-cert", g.as_str(), "-cert", rv.as_str()];
                    args.extend_from_slice(nonce);
                    let q = pki.query(&url, &args);
                    q.assert_status(&g, "good");
                    q.assert_status(&rv, "revoked");
                    n += 1;
                }
                n
            })
        })
        .collect();
    for leaf in &moving {
        pki.revoke(std::path::Path::new(leaf), &[]);
        for extra in [&[][..], &["-no_nonce"][..]] {
            let mut args = vec!["-cert", leaf.as_str()];
            args.extend_from_slice(extra);
            pki.query(&url, &args).assert_status(leaf, "revoked");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        assert!(w.join().unwrap() >= 3);
    }
}

#[test]
fn hand_edited_reasons_in_any_case() {
    // openssl compares reason names case-insensitively; so must the responder.
    let pki = Pki::new("case");
    let leaf = p(&pki.issue("leaf")).to_string();
    let other = p(&pki.issue("other")).to_string();
    pki.revoke(
        std::path::Path::new(&leaf),
        &["-crl_reason", "keyCompromise"],
    );
    pki.revoke(std::path::Path::new(&other), &["-crl_reason", "superseded"]);
    let r = serve(&pki);
    let text = std::fs::read_to_string(&pki.index).unwrap();
    let edited = text
        .replace(",keyCompromise", ",KEYCOMPROMISE")
        .replace(",superseded", ",SuperSeded");
    assert_ne!(edited, text);
    // Replace by rename, as openssl ca does.
    let tmp = pki.dir.join("index.txt.new");
    std::fs::write(&tmp, &edited).unwrap();
    std::fs::rename(&tmp, &pki.index).unwrap();
    let q = pki.query(&r.url(), &["-cert", &leaf, "-cert", &other]);
    q.assert_status(&leaf, "revoked");
    q.assert_status(&other, "revoked");
    assert!(
        q.details_of(&leaf).contains("Reason: keyCompromise"),
        "{}",
        q.all()
    );
    assert!(
        q.details_of(&other).contains("Reason: superseded"),
        "{}",
        q.all()
    );
    assert!(
        !r.stderr().contains("index.txt:"),
        "the edited file is valid:\n{}",
        r.stderr()
    );
}
