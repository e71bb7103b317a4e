//! `ocsp query` against the real `openssl ocsp` responder over a PKI made with `openssl ca`
//! at test time, plus rejections (exit 4) and the error paths (exit 3 and 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::ocsp;
use ocsp_proto::der::Decode;
use test_support::prelude::*;

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"))
}

#[test]
fn good_revoked_unknown_in_one_request() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ed", &[]);
    let url = resp.url();
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--cert",
        &pki.pem("revoked"),
        "--serial",
        "0x4242",
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &url,
    ]);
    r.expect_code(1);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r:#?}");
    assert_eq!(lines[0], format!("{}: good", pki.pem("good")));
    assert_eq!(
        lines[1],
        format!(
            "{}: revoked (keyCompromise, {})",
            pki.pem("revoked"),
            pki.revocation_time("revoked")
        )
    );
    assert_eq!(lines[2], "0x4242: unknown");
    assert!(r.stderr.is_empty(), "{r:#?}");
}

#[test]
fn unknown_serial_exits_2_and_decimal_serial() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ec", &[]);
    // 4096 = 0x1000 is `good`; 999999 is not in index.txt.
    let r = ocsp(&[
        "query",
        "--serial",
        "4096",
        "--serial",
        "999999",
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
    ]);
    r.expect_code(2);
    assert_eq!(r.stdout, "4096: good\n999999: unknown\n", "{r:#?}");
}

#[test]
fn every_signer_kind_by_name_and_by_key() {
    let pki = Pki::client_set();
    for (signer, kind) in [
        ("rsa", "delegated"),
        ("ec", "delegated"),
        ("ed", "delegated"),
        ("ca", "issuer"),
    ] {
        for by_key in [false, true] {
            let extra: &[&str] = if by_key { &["-resp_key_id"] } else { &[] };
            let resp = OpensslResponder::start(&pki, signer, extra);
            let r = ocsp(&[
                "query",
                "--cert",
                &pki.pem("good"),
                "--issuer",
                &pki.pem("ca"),
                "--url",
                &resp.url(),
                "--json",
                "--resp-text",
            ]);
            r.expect_code(0);
            let v = json(&r);
            assert_eq!(
                v["verification"]["verified"], true,
                "{signer} {by_key}: {r:#?}"
            );
            assert_eq!(v["verification"]["signer_kind"], kind, "{signer}: {r:#?}");
            assert_eq!(v["certificates"][0]["status"], "good");
            assert_eq!(v["method"], "GET");
            assert_eq!(v["nonce"]["sent"], v["nonce"]["received"]);
            assert!(v["nonce"]["sent"].as_str().unwrap().len() == 64);
            assert!(v["certificates"][0]["next_update"].is_string());
        }
    }
}

#[test]
fn hash_algorithms_methods_and_text() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "rsa", &[]);
    for flag in ["--sha1", "--sha384", "--sha512"] {
        for method in ["get", "post"] {
            let r = ocsp(&[
                "query",
                "--cert",
                &pki.pem("good"),
                "--issuer",
                &pki.pem("ca"),
                "--url",
                &resp.url(),
                flag,
                "--method",
                method,
                "--json",
            ]);
            r.expect_code(0);
            assert_eq!(json(&r)["method"], method.to_uppercase());
        }
    }
    // --resp-text prints the readable response before the status line.
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("revoked"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
        "--resp-text",
        "--req-text",
        "--no-nonce",
    ]);
    r.expect_code(1);
    assert!(r.stdout.contains("OCSP Request Data:"), "{r:#?}");
    assert!(r.stdout.contains("Hash Algorithm: sha256"), "{r:#?}");
    assert!(r.stdout.contains("Cert Status: revoked"), "{r:#?}");
    assert!(
        r.stdout.contains("Revocation Reason: keyCompromise"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("Responder Id: CN=rsa (byName)"), "{r:#?}");
    assert!(!r.stdout.contains("Nonce:"), "{r:#?}");
    let last = r.stdout.lines().last().unwrap();
    assert!(last.contains(": revoked (keyCompromise, "), "{r:#?}");
}

#[test]
fn many_certificates_go_by_post() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ec", &[]);
    let mut args = vec![
        "query".to_string(),
        "--issuer".into(),
        pki.pem("ca"),
        "--url".into(),
        resp.url(),
        "--json".into(),
    ];
    for i in 0..6 {
        args.extend(["--serial".into(), format!("{}", 0x1000 + i)]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = ocsp(&refs);
    // 0x1000 good, 0x1001 revoked, 0x1002.. the responders (good), 0x1005 good.
    r.expect_code(1);
    let v = json(&r);
    assert_eq!(
        v["method"], "POST",
        "a request of 6 CertIDs exceeds 255 bytes as a GET URL"
    );
    assert_eq!(v["certificates"].as_array().unwrap().len(), 6);
    assert_eq!(v["certificates"][1]["status"], "revoked");
    assert_eq!(v["certificates"][1]["revocation_reason"], "keyCompromise");
}

#[test]
fn chain_in_cert_file_aia_url_and_cafile() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ec", &[]);
    // A leaf whose AIA names the running responder.
    pki.issue_keyed(
        "aia",
        KeyAlg::P256,
        "v3_leaf",
        Some(&format!("{}/", resp.url())),
    );
    let chain = pki.file("aia-chain.pem");
    std::fs::write(
        &chain,
        std::fs::read_to_string(pki.pem("aia")).unwrap()
            + &std::fs::read_to_string(pki.pem("ca")).unwrap(),
    )
    .unwrap();
    let chain = chain.display().to_string();
    // No --url, no --issuer: URL from AIA, issuer from the chain. openssl ocsp may not
    // have reloaded index.txt yet, so the answer is good or unknown, never an error.
    let r = ocsp(&[
        "query",
        "--cert",
        &chain,
        "--cafile",
        &pki.pem("ca"),
        "--json",
    ]);
    assert!(r.code == Some(0) || r.code == Some(2), "{r:#?}");
    let v = json(&r);
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/", resp.url())),
        "{r:#?}"
    );
    assert!(
        !v["url"].as_str().unwrap().contains("//M"),
        "one slash between base and request: {r:#?}"
    );
    assert_eq!(v["verification"]["chain_checked"], true);
    // The issuer does not chain to an unrelated root.
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
        "--cafile",
        &pki.pem("unrelated"),
    ]);
    r.expect_code(4);
    assert!(r.stderr.contains("does not chain to --cafile"), "{r:#?}");
    assert!(
        r.stdout.is_empty(),
        "no verdict lines after a failed verification: {r:#?}"
    );
}

#[test]
fn rejects_corrupted_signature() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "rsa", &["-badsig"]);
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
    ]);
    r.expect_code(4);
    assert!(
        r.stderr.contains("the response signature (sha256WithRSAEncryption) does not verify with the key of CN=rsa"),
        "{r:#?}"
    );
    // --noverify accepts it and says so.
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
        "--noverify",
    ]);
    r.expect_code(0);
    assert!(
        r.stderr
            .contains("--noverify: the response was NOT verified"),
        "{r:#?}"
    );
    assert_eq!(r.stdout, format!("{}: good\n", pki.pem("good")));
}

#[test]
fn rejects_unrelated_signer_unless_trusted() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "unrelated", &[]);
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
    ]);
    r.expect_code(4);
    assert!(
        r.stderr.contains(
            "the response is signed by CN=Unrelated Responder, which is not the issuer CN=Test CA and was not issued by it"
        ),
        "{r:#?}"
    );
    // Trusted explicitly, it passes.
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
        "--verify-other",
        &pki.pem("unrelated"),
        "--trust-other",
        "--json",
    ]);
    r.expect_code(0);
    assert_eq!(json(&r)["verification"]["signer_kind"], "trusted");
}

#[test]
fn rejects_delegated_signer_without_ocsp_signing() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "noeku", &[]);
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
    ]);
    r.expect_code(4);
    assert!(
        r.stderr.contains("the delegated responder certificate CN=noeku (issued by CN=Test CA) lacks the id-kp-OCSPSigning extended key usage"),
        "{r:#?}"
    );
}

#[test]
fn responder_not_in_response_needs_verify_other() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ec", &["-resp_no_certs", "-resp_key_id"]);
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
    ]);
    r.expect_code(4);
    assert!(
        r.stderr
            .contains("no certificate matches the ResponderID byKey"),
        "{r:#?}"
    );
    assert!(r.stderr.contains("--verify-other"), "{r:#?}");
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &resp.url(),
        "--verify-other",
        &pki.pem("ec"),
    ]);
    r.expect_code(0);
}

#[test]
fn offline_save_replay_and_replay_with_another_nonce() {
    let pki = Pki::client_set();
    let resp = OpensslResponder::start(&pki, "ed", &[]);
    let q1 = pki.file("q1.der").display().to_string();
    let r1 = pki.file("r1.der").display().to_string();
    let q2 = pki.file("q2.der").display().to_string();
    let base = [
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
    ];
    let with = |extra: &[&str]| -> Run {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        ocsp(&a)
    };
    with(&["--url", &resp.url(), "--reqout", &q1, "--respout", &r1]).expect_code(0);
    // The saved pair verifies offline.
    with(&["--reqin", &q1, "--respin", &r1]).expect_code(0);
    // A saved response alone verifies too (no nonce was sent, so none is checked).
    with(&["--respin", &r1]).expect_code(0);
    // The saved request can be sent again.
    with(&["--reqin", &q1, "--url", &resp.url()]).expect_code(0);
    // A second query has another nonce; the first response replayed against it fails.
    with(&["--url", &resp.url(), "--reqout", &q2]).expect_code(0);
    let r = with(&["--reqin", &q2, "--respin", &r1]);
    r.expect_code(4);
    assert!(r.stderr.contains("nonce mismatch: sent "), "{r:#?}");
    // The same replay over the network, by a responder that always sends r1.
    let fake = FakeResponder::start(Some(std::fs::read(&r1).unwrap()));
    let r = with(&["--url", &fake.url()]);
    r.expect_code(4);
    assert!(r.stderr.contains("nonce mismatch"), "{r:#?}");
    assert!(
        r.stderr.contains("a replayed or misdirected response"),
        "{r:#?}"
    );
    // Without a nonce in our request the replayed response is acceptable.
    let fake = FakeResponder::start(Some(std::fs::read(&r1).unwrap()));
    with(&["--url", &fake.url(), "--no-nonce"]).expect_code(0);
}

#[test]
fn rejects_expired_response() {
    use ocsp_proto::response::{build_signed, ResponderIdKind, ResponseParams, SingleAnswer};
    let pki = Pki::client_set();
    let load = |stem: &str| {
        ocsp_proto::x509_cert::Certificate::from_der(
            &ocsp_proto::der::pem::decode_vec(
                std::fs::read_to_string(pki.pem(stem)).unwrap().as_bytes(),
            )
            .unwrap()
            .1,
        )
        .unwrap()
    };
    let ca = load("ca");
    let good = load("good");
    let ec = load("ec");
    let signer = TestSigner::p256_pem(&pki.key("ec"));
    let now = ocsp_client::now();
    let id = ocsp_proto::cert_id::cert_id(
        &ca,
        &ocsp_proto::Serial::of_cert(&good),
        ocsp_proto::HashAlg::Sha256,
    )
    .unwrap();
    let answers = [SingleAnswer {
        cert_id: id,
        status: ocsp_proto::CertStatus::Good,
        this_update: now.minus(2 * 86_400),
        next_update: Some(now.minus(86_400)),
    }];
    let rid = ResponderIdKind::by_key(&ec).unwrap();
    let der = build_signed(
        &ResponseParams {
            responder_id: &rid,
            // Signed now (the responder certificate was made a moment ago) from a status
            // snapshot two days old whose validity ended yesterday.
            produced_at: now,
            answers: &answers,
            nonce: None,
            extended_revoke: false,
            certs: std::slice::from_ref(&ec),
        },
        &signer,
    )
    .unwrap();
    let path = pki.file("expired.der");
    std::fs::write(&path, &der).unwrap();
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--respin",
        &path.display().to_string(),
    ]);
    r.expect_code(4);
    let expected = format!(
        "the answer for serial 1000 has expired: nextUpdate {} is earlier than now",
        now.minus(86_400)
    );
    assert!(r.stderr.contains(&expected), "{r:#?}");
    // The same response with a status age limit and a skew allowance that covers it still
    // fails: --status-age.
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--respin",
        &path.display().to_string(),
        "--validity-period",
        "200000",
        "--status-age",
        "3600",
    ]);
    r.expect_code(4);
    assert!(r.stderr.contains("is too old"), "{r:#?}");
    // With enough skew allowed and no age limit, it is accepted.
    ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--respin",
        &path.display().to_string(),
        "--validity-period",
        "200000",
    ])
    .expect_code(0);
}

#[test]
fn responder_error_status_exits_3_and_headers_are_sent() {
    let pki = Pki::client_set();
    let fake = FakeResponder::start(Some(vec![0x30, 0x03, 0x0A, 0x01, 0x06]));
    let r = ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &fake.url(),
        "--header",
        "X-Test=yes",
        "--json",
    ]);
    r.expect_code(3);
    assert!(
        r.stderr.contains("the responder answered unauthorized (6)"),
        "{r:#?}"
    );
    let v = json(&r);
    assert_eq!(v["response_status"], "unauthorized");
    assert_eq!(v["exit_code"], 3);
    let seen = fake
        .seen
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(seen.head.starts_with("GET /ocsp/MI"), "{seen:?}");
    assert!(
        seen.head.to_ascii_lowercase().contains("x-test: yes"),
        "{seen:?}"
    );
    assert!(
        seen.head
            .contains(&format!("host: 127.0.0.1:{}", fake.port))
            || seen
                .head
                .contains(&format!("Host: 127.0.0.1:{}", fake.port)),
        "{seen:?}"
    );
}

#[test]
fn usage_file_and_network_errors_exit_5() {
    let pki = Pki::client_set();
    let ca = pki.pem("ca");
    let good = pki.pem("good");
    // --serial without --issuer.
    let r = ocsp(&["query", "--serial", "12", "--url", "http://127.0.0.1:9"]);
    r.expect_code(5);
    assert!(r.stderr.contains("--serial needs --issuer"), "{r:#?}");
    // A bad serial.
    ocsp(&[
        "query",
        "--serial",
        "12z",
        "--issuer",
        &ca,
        "--url",
        "http://127.0.0.1:9",
    ])
    .expect_code(5);
    // A missing file.
    let r = ocsp(&["query", "--cert", "/nonexistent/x.pem", "--issuer", &ca]);
    r.expect_code(5);
    assert!(r.stderr.contains("/nonexistent/x.pem"), "{r:#?}");
    // A cert without issuer and no chain.
    let r = ocsp(&["query", "--cert", &good, "--url", "http://127.0.0.1:9"]);
    r.expect_code(5);
    assert!(r.stderr.contains("no issuer"), "{r:#?}");
    // No URL and no AIA.
    let r = ocsp(&["query", "--cert", &good, "--issuer", &ca]);
    r.expect_code(5);
    assert!(r.stderr.contains("no responder URL"), "{r:#?}");
    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = ocsp(&[
        "query",
        "--cert",
        &good,
        "--issuer",
        &ca,
        "--url",
        &format!("http://127.0.0.1:{port}"),
    ]);
    r.expect_code(5);
    assert!(r.stderr.contains("cannot connect"), "{r:#?}");
    // A responder that never answers.
    let fake = FakeResponder::start(None);
    let started = std::time::Instant::now();
    let r = ocsp(&[
        "query",
        "--cert",
        &good,
        "--issuer",
        &ca,
        "--url",
        &fake.url(),
        "--timeout",
        "1",
    ]);
    r.expect_code(5);
    assert!(r.stderr.contains("within 1 s"), "{r:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A bad header.
    ocsp(&[
        "query",
        "--cert",
        &good,
        "--issuer",
        &ca,
        "--url",
        "http://127.0.0.1:9",
        "--header",
        "novalue",
    ])
    .expect_code(5);
}
