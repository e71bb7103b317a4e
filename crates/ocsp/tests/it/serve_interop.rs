//! `ocsp serve` judged by the real `openssl ocsp` client, verification on, on a PKI made
//! by `openssl ca` exactly as the seed makes it (issue 2, points 1 and 4).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::const_oid::db::rfc6960::{ID_PKIX_OCSP_EXTENDED_REVOKE, ID_PKIX_OCSP_NONCE};
use ocsp_proto::x509_ocsp::ResponderId;
use ocsp_proto::Timestamp;
use std::sync::OnceLock;
use test_support::prelude::*;

/// CA "A" with the standard leaves, shared by every test in this file.
fn a() -> &'static Pki {
    static A: OnceLock<Pki> = OnceLock::new();
    A.get_or_init(|| Pki::standard("A"))
}

/// Another CA, "B", with one good leaf.
fn b() -> &'static Pki {
    static B: OnceLock<Pki> = OnceLock::new();
    B.get_or_init(|| {
        let b = Pki::new("B");
        b.issue("good");
        b
    })
}

/// `ocsp serve` for CA A (the seed's flags) plus `extra`, on 127.0.0.1, port 0.
fn serve_a(extra: &[&str]) -> Responder {
    let mut args = a().serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Responder::start(OCSP, args)
}

fn c(name: &str) -> String {
    p(&a().cert(name)).to_string()
}

/// Fetch a response into a file with `-respout` and decode it.
fn fetch_basic(
    pki: &Pki,
    url: &str,
    args: &[&str],
) -> (Query, ocsp_proto::x509_ocsp::BasicOcspResponse) {
    let f = tempfile::NamedTempFile::new_in(&pki.dir).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["-respout", p(f.path())]);
    let q = pki.query(url, &all);
    let der = std::fs::read(f.path()).unwrap();
    (q, parse_basic(&der))
}

#[test]
fn seed_command_translated() {
    // ocsp serve --index index.txt --port 2560 --rsigner ocsp_responder.crt
    //   --rkey ocsp_responder.key --ca cacert.pem --text   (port 0 here)
    let pki = a();
    let r = Responder::start(
        OCSP,
        [
            "--index",
            p(&pki.index),
            "--port",
            "0",
            "--rsigner",
            p(&pki.responder.cert),
            "--rkey",
            p(&pki.responder.key),
            "--ca",
            p(&pki.cacert),
            "--passin",
            &pki.passin(),
            "--text",
        ],
    );
    assert!(
        r.listening().iter().all(|a| a.ip().is_unspecified()),
        "--port listens on all interfaces: {:?}",
        r.listening()
    );
    assert!(r.addr().port() != 0, "port 0 resolved to a real port");
    let good = c("good");
    let q = pki.query(&r.url(), &["-cert", &good]);
    q.assert_status(&good, "good");
    assert!(
        q.details_of(&good).contains("Next Update:"),
        "nextUpdate always present:\n{}",
        q.all()
    );
    // The seed's own client line (with -noverify) works too.
    let q = pki.query(&r.url(), &["-cert", &good, "-resp_text", "-noverify"]);
    assert_eq!(q.status_of(&good).as_deref(), Some("good"), "{}", q.all());
    // --text prints something for each request on stdout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while r.stdout().lines().count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        r.stdout().lines().count() >= 2,
        "--text printed nothing after the listening line:\n{}",
        r.stdout()
    );
}

#[test]
fn port_listens_on_ipv6_loopback_too() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: only IPv4 checked");
        return;
    }
    let pki = a();
    let mut args = pki.serve_args();
    args.extend(["--port".to_string(), "0".to_string()]);
    let r = Responder::start(OCSP, args);
    let port = r.addr().port();
    let good = c("good");
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ] {
        let q = pki.query(&url, &["-cert", &good]);
        q.assert_status(&good, "good");
    }
}

#[test]
fn listen_flag_is_repeatable() {
    let pki = a();
    let mut args = pki.serve_args();
    args.extend(
        ["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]
            .iter()
            .map(|s| s.to_string()),
    );
    let r = Responder::start(OCSP, args);
    assert_eq!(r.listening().len(), 2, "one line per listener");
    let good = c("good");
    for a in r.listening() {
        let q = pki.query(&format!("http://{a}"), &["-cert", &good]);
        q.assert_status(&good, "good");
    }
}

#[test]
fn listen_forms() {
    let pki = a();
    let good = c("good");
    let mut forms = vec!["localhost:0", "127.0.0.1:0"];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        forms.push("[::1]:0");
    }
    for form in forms {
        let mut args = pki.serve_args();
        args.extend(["--listen".to_string(), form.to_string()]);
        let r = Responder::start(OCSP, args);
        assert!(
            r.listening()[0].ip().is_loopback(),
            "{form}: {:?}",
            r.listening()
        );
        let q = pki.query(&r.url(), &["-cert", &good]);
        q.assert_status(&good, "good");
    }
}

#[test]
fn revoked_with_reason_and_time() {
    let pki = a();
    let r = serve_a(&[]);
    let revoked = c("revoked");
    let q = pki.query(&r.url(), &["-cert", &revoked]);
    q.assert_status(&revoked, "revoked");
    let d = q.details_of(&revoked);
    assert!(d.contains("Reason: keyCompromise"), "{}", q.all());
    let line = pki.index_line(&pki.serial(&a().cert("revoked"))).unwrap();
    let rev_time = line.split('\t').nth(2).unwrap().split(',').next().unwrap();
    assert!(
        d.contains(&format!("Revocation Time: {}", openssl_time_text(rev_time))),
        "revocation time from index line {line:?}:\n{}",
        q.all()
    );
}

#[test]
fn revoked_without_reason() {
    let pki = a();
    let r = serve_a(&[]);
    let cert = c("revoked_noreason");
    let q = pki.query(&r.url(), &["-cert", &cert]);
    q.assert_status(&cert, "revoked");
    let d = q.details_of(&cert);
    assert!(d.contains("Revocation Time:"), "{}", q.all());
    assert!(
        !d.contains("Reason:"),
        "no reason in the index, none stated:\n{}",
        q.all()
    );
}

#[test]
fn key_compromise_time_gives_invalidity_date() {
    let pki = a();
    let r = serve_a(&[]);
    let cert = c("compromised");
    let q = pki.query(&r.url(), &["-cert", &cert, "-resp_text"]);
    q.assert_status(&cert, "revoked");
    assert!(
        q.details_of(&cert).contains("Reason: keyCompromise"),
        "{}",
        q.all()
    );
    assert!(q.stdout.contains("Invalidity Date"), "{}", q.all());
    assert!(q.stdout.contains(COMPROMISE_TIME_TEXT), "{}", q.all());

    let cert = c("ca_compromised");
    let q = pki.query(&r.url(), &["-cert", &cert, "-resp_text"]);
    q.assert_status(&cert, "revoked");
    assert!(
        q.details_of(&cert).contains("Reason: cACompromise"),
        "{}",
        q.all()
    );
    assert!(q.stdout.contains("Invalidity Date"), "{}", q.all());
    assert!(q.stdout.contains(CA_COMPROMISE_TIME_TEXT), "{}", q.all());
}

#[test]
fn hold_instruction() {
    let pki = a();
    let r = serve_a(&[]);
    let cert = c("held");
    let q = pki.query(&r.url(), &["-cert", &cert, "-resp_text"]);
    q.assert_status(&cert, "revoked");
    assert!(
        q.details_of(&cert).contains("Reason: certificateHold"),
        "{}",
        q.all()
    );
    assert!(
        q.stdout.contains("Hold Instruction"),
        "hold instruction code extension:\n{}",
        q.all()
    );
}

#[test]
fn unknown_serial() {
    let pki = a();
    let r = serve_a(&[]);
    // A certificate of this CA that index.txt does not record.
    let outside = c("outside");
    let q = pki.query(&r.url(), &["-cert", &outside]);
    q.assert_status(&outside, "unknown");
    // A bare serial.
    let q = pki.query(&r.url(), &["-serial", "0xDEAD"]);
    q.assert_status("0xDEAD", "unknown");
}

#[test]
fn expired_entry_is_answered_with_its_status() {
    let pki = a();
    let serial = pki.serial(&a().cert("expired"));
    assert!(
        pki.index_line(&serial).unwrap().starts_with("E\t"),
        "fixture: openssl ca -updatedb marked it E"
    );
    let r = serve_a(&[]);
    let cert = c("expired");
    let q = pki.query(&r.url(), &["-cert", &cert]);
    q.assert_status(&cert, "good");
}

#[test]
fn serial_with_top_bit_set() {
    let pki = a();
    assert_eq!(pki.serial(&a().cert("highbit")), "8000F1");
    let r = serve_a(&[]);
    let cert = c("highbit");
    let q = pki.query(&r.url(), &["-cert", &cert]);
    q.assert_status(&cert, "good");
}

#[test]
fn several_certs_in_one_request() {
    let pki = a();
    let r = serve_a(&[]);
    let names = [
        ("good", "good"),
        ("revoked", "revoked"),
        ("compromised", "revoked"),
        ("outside", "unknown"),
        ("expired", "good"),
        ("highbit", "good"),
        ("held", "revoked"),
        ("far_future", "good"),
    ];
    let paths: Vec<String> = names.iter().map(|(n, _)| c(n)).collect();
    let mut args = Vec::new();
    for path in &paths {
        args.extend(["-cert", path.as_str()]);
    }
    args.extend(["-serial", "0xDEAD", "-resp_text"]);
    let q = pki.query(&r.url(), &args);
    for (path, (_, want)) in paths.iter().zip(names) {
        q.assert_status(path, want);
    }
    q.assert_status("0xDEAD", "unknown");
    assert_eq!(
        q.stdout.matches("Certificate ID:").count(),
        names.len() + 1,
        "one SingleResponse per CertID:\n{}",
        q.all()
    );
}

#[test]
fn cert_ids_hashed_with_sha2_are_answered_in_kind() {
    let pki = a();
    let r = serve_a(&[]);
    let good = c("good");
    let revoked = c("revoked");
    for alg in ["-sha1", "-sha256", "-sha384", "-sha512"] {
        let q = pki.query(
            &r.url(),
            &[alg, "-cert", &good, "-cert", &revoked, "-resp_text"],
        );
        q.assert_status(&good, "good");
        q.assert_status(&revoked, "revoked");
        let name = alg.trim_start_matches('-');
        assert_eq!(
            q.stdout.matches(&format!("Hash Algorithm: {name}")).count(),
            2,
            "CertIDs answered with {name}:\n{}",
            q.all()
        );
    }
}

#[test]
fn nonce_is_echoed() {
    let pki = a();
    let r = serve_a(&[]);
    let good = c("good");
    let q = pki.query(&r.url(), &["-cert", &good, "-req_text", "-resp_text"]);
    q.assert_status(&good, "good");
    assert!(!q.stderr.contains("no nonce"), "{}", q.all());
    // openssl prints the nonce value on the line after "OCSP Nonce:", in the request and
    // again in the response.
    let nonces: Vec<&str> = q
        .stdout
        .lines()
        .zip(q.stdout.lines().skip(1))
        .filter(|(l, _)| l.contains("OCSP Nonce"))
        .map(|(_, v)| v.trim())
        .collect();
    assert_eq!(
        nonces.len(),
        2,
        "nonce in request and response:\n{}",
        q.all()
    );
    assert_eq!(nonces[0], nonces[1], "the same nonce:\n{}", q.all());
}

#[test]
fn no_nonce_request_gets_no_nonce() {
    let pki = a();
    let r = serve_a(&[]);
    let good = c("good");
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good, "-no_nonce", "-resp_text"]);
    q.assert_status(&good, "good");
    assert!(!q.stdout.contains("OCSP Nonce"), "{}", q.all());
    let exts = basic
        .tbs_response_data
        .response_extensions
        .unwrap_or_default();
    assert!(exts.iter().all(|e| e.extn_id != ID_PKIX_OCSP_NONCE));
}

#[test]
fn times_and_next_update() {
    let pki = a();
    let good = c("good");
    for (flags, validity) in [
        (&[][..], 86_400u64),
        (&["--ndays", "2"][..], 2 * 86_400),
        (&["--nmin", "600"][..], 36_000),
        (&["--ndays", "1", "--nmin", "60"][..], 90_000),
    ] {
        let r = serve_a(flags);
        let before = unix_now();
        let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good]);
        let after = unix_now();
        q.assert_status(&good, "good");
        let rd = &basic.tbs_response_data;
        let produced = Timestamp::from_ocsp(&rd.produced_at).0;
        let s = &rd.responses[0];
        let this = Timestamp::from_ocsp(&s.this_update).0;
        let next =
            Timestamp::from_ocsp(s.next_update.as_ref().expect("nextUpdate always present")).0;
        assert!(produced >= this, "producedAt ≥ thisUpdate ({flags:?})");
        assert!(
            (before.saturating_sub(1)..=after + 1).contains(&this),
            "thisUpdate is now ({flags:?}): {this} not in {before}..{after}"
        );
        assert_eq!(next - this, validity, "validity with {flags:?}");
    }
}

#[test]
fn validity_outside_the_baseline_window_warns() {
    let r = serve_a(&["--nmin", "30"]);
    let log = r.stderr().to_lowercase();
    assert!(
        log.contains("warn") && (log.contains("8 hours") || log.contains("outside")),
        "a 30-minute validity is outside 8 h..7 d and should be warned about:\n{log}"
    );
}

#[test]
fn other_ca_is_unauthorized() {
    let r = serve_a(&[]);
    let b = b();
    let leaf = p(&b.cert("good")).to_string();
    let q = b.query(&r.url(), &["-cert", &leaf]);
    assert!(
        q.all().contains("Responder Error: unauthorized (6)"),
        "a CertID of a CA not served:\n{}",
        q.all()
    );
}

#[test]
fn mixing_a_served_and_an_unserved_ca_is_unauthorized() {
    let r = serve_a(&[]);
    let a = a();
    let b = b();
    let q = query(
        &a.dir,
        &[
            "ocsp",
            "-CAfile",
            p(&a.cacert),
            "-issuer",
            p(&a.cacert),
            "-cert",
            &c("good"),
            "-issuer",
            p(&b.cacert),
            "-cert",
            p(&b.cert("good")),
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

#[test]
fn unknown_serial_revoked_policy() {
    let pki = a();
    let r = serve_a(&["--unknown-serial", "revoked"]);
    let outside = c("outside");
    let good = c("good");
    let (q, basic) = fetch_basic(
        pki,
        &r.url(),
        &["-cert", &outside, "-cert", &good, "-resp_text"],
    );
    q.assert_status(&outside, "revoked");
    q.assert_status(&good, "good");
    let d = q.details_of(&outside);
    assert!(d.contains("Reason: certificateHold"), "{}", q.all());
    assert!(
        d.contains("Revocation Time: Jan  1 00:00:00 1970 GMT"),
        "{}",
        q.all()
    );
    let exts = basic
        .tbs_response_data
        .response_extensions
        .unwrap_or_default();
    assert!(
        exts.iter()
            .any(|e| e.extn_id == ID_PKIX_OCSP_EXTENDED_REVOKE),
        "extended revoke extension (RFC 6960 §4.4.8) in responseExtensions:\n{}",
        q.all()
    );
    // Without the policy: unknown, and no extended-revoke extension.
    let r = serve_a(&[]);
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &outside]);
    q.assert_status(&outside, "unknown");
    let exts = basic
        .tbs_response_data
        .response_extensions
        .unwrap_or_default();
    assert!(exts
        .iter()
        .all(|e| e.extn_id != ID_PKIX_OCSP_EXTENDED_REVOKE));
}

#[test]
fn responder_id_by_key_by_default_and_by_name_on_request() {
    let pki = a();
    let good = c("good");
    let r = serve_a(&[]);
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good]);
    q.assert_status(&good, "good");
    assert!(
        matches!(basic.tbs_response_data.responder_id, ResponderId::ByKey(_)),
        "byKey by default (RFC 9919)"
    );
    let r = serve_a(&["--responder-id", "name"]);
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good, "-resp_text"]);
    q.assert_status(&good, "good");
    assert!(matches!(
        basic.tbs_response_data.responder_id,
        ResponderId::ByName(_)
    ));
    assert!(
        q.stdout.contains("Responder Id: CN = OCSP Responder A"),
        "{}",
        q.all()
    );
}

#[test]
fn delegated_cert_included_unless_resp_no_certs() {
    let pki = a();
    let good = c("good");
    let r = serve_a(&[]);
    let (_, basic) = fetch_basic(pki, &r.url(), &["-cert", &good]);
    assert_eq!(
        basic.certs.as_ref().map(Vec::len),
        Some(1),
        "the delegated certificate"
    );

    let r = serve_a(&["--resp-no-certs"]);
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good]);
    assert!(basic.certs.is_none_or(|c| c.is_empty()));
    assert!(
        !q.verified(),
        "openssl cannot find the signer without it:\n{}",
        q.all()
    );
    let q = pki.query(
        &r.url(),
        &["-cert", &good, "-VAfile", p(&pki.responder.cert)],
    );
    q.assert_status(&good, "good");

    let r = serve_a(&["--rother", p(&pki.cacert)]);
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good]);
    q.assert_status(&good, "good");
    assert_eq!(
        basic.certs.as_ref().map(Vec::len),
        Some(2),
        "--rother adds the CA cert"
    );
}

#[test]
fn ca_signed_without_rsigner() {
    let pki = a();
    let r = Responder::start(
        OCSP,
        [
            "--index",
            p(&pki.index),
            "--ca",
            p(&pki.cacert),
            "--rkey",
            p(&pki.cakey),
            "--passin",
            &pki.passin(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let good = c("good");
    let revoked = c("revoked");
    let (q, basic) = fetch_basic(pki, &r.url(), &["-cert", &good, "-cert", &revoked]);
    q.assert_status(&good, "good");
    q.assert_status(&revoked, "revoked");
    assert!(
        basic.certs.is_none_or(|c| c.is_empty()),
        "the CA's own certificate need not be sent"
    );
}

fn check_signer(files: &SignerFiles, extra: &[&str], sigalg_text: &str) {
    let pki = a();
    let mut args = pki.serve_args_with(files);
    args.extend(["--listen", "127.0.0.1:0"].iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let r = Responder::start(OCSP, args);
    let good = c("good");
    let revoked = c("revoked");
    let q = pki.query(&r.url(), &["-cert", &good, "-cert", &revoked, "-resp_text"]);
    q.assert_status(&good, "good");
    q.assert_status(&revoked, "revoked");
    assert!(
        q.stdout
            .contains(&format!("Signature Algorithm: {sigalg_text}")),
        "expected {sigalg_text} ({extra:?}):\n{}",
        q.all()
    );
}

#[test]
fn ecdsa_responder_keys() {
    let pki = a();
    let p256 = pki.issue_responder("ocsp_p256", KeyAlg::P256, "v3_OCSP");
    check_signer(&p256, &[], "ecdsa-with-SHA256");
    check_signer(&p256, &["--rmd", "sha384"], "ecdsa-with-SHA384");
    let p384 = pki.issue_responder("ocsp_p384", KeyAlg::P384, "v3_OCSP");
    check_signer(&p384, &["--rmd", "sha384"], "ecdsa-with-SHA384");
}

#[test]
fn ed25519_responder_key() {
    let pki = a();
    let ed = pki.issue_responder("ocsp_ed25519", KeyAlg::Ed25519, "v3_OCSP");
    check_signer(&ed, &[], "ED25519");
}

#[test]
fn rsa_digests_and_pss() {
    let pki = a();
    check_signer(&pki.responder, &[], "sha256WithRSAEncryption");
    check_signer(
        &pki.responder,
        &["--rmd", "sha384"],
        "sha384WithRSAEncryption",
    );
    check_signer(
        &pki.responder,
        &["--rmd", "sha512"],
        "sha512WithRSAEncryption",
    );
    check_signer(
        &pki.responder,
        &["--rsigopt", "rsa_padding_mode:pss"],
        "rsassaPss",
    );
    check_signer(
        &pki.responder,
        &["--rsigopt", "rsa_padding_mode:pss", "--rmd", "sha384"],
        "rsassaPss",
    );
}

#[test]
fn rsa_4096_responder_key() {
    let pki = a();
    let big = pki.issue_responder("ocsp_rsa4096", KeyAlg::Rsa(4096), "v3_OCSP");
    check_signer(&big, &[], "sha256WithRSAEncryption");
}

#[test]
fn next_update_never_after_the_responder_certificate_expires() {
    let pki = a();
    let not_after = unix_now() + 2 * 3600;
    let short = pki.issue_responder_with(
        "ocsp_short",
        KeyAlg::P256,
        "v3_OCSP",
        &["-enddate", &openssl_date(not_after)],
    );
    let mut args = pki.serve_args_with(&short);
    args.extend(["--listen", "127.0.0.1:0"].iter().map(|s| s.to_string()));
    let r = Responder::start(OCSP, args);
    let good = c("good");
    for extra in [&[][..], &["-no_nonce"][..]] {
        let mut q_args = vec!["-cert", good.as_str()];
        q_args.extend_from_slice(extra);
        let (q, basic) = fetch_basic(pki, &r.url(), &q_args);
        q.assert_status(&good, "good");
        let s = &basic.tbs_response_data.responses[0];
        let next = Timestamp::from_ocsp(s.next_update.as_ref().unwrap()).0;
        assert_eq!(
            next, not_after,
            "nextUpdate is cut to the responder certificate's notAfter (BR 4.9.10)"
        );
    }
}

#[test]
fn cacheable_answers_match_their_request_exactly() {
    // Requests without a nonce may be answered from a cache: each answer must still carry
    // the request's own CertIDs (hash algorithm, order), never a neighbour's.
    let pki = a();
    let r = serve_a(&[]);
    let good = c("good");
    let revoked = c("revoked");
    for round in 0..2 {
        for alg in ["-sha1", "-sha256", "-sha384", "-sha512"] {
            for (first, second) in [(&good, &revoked), (&revoked, &good)] {
                let (q, basic) = fetch_basic(
                    pki,
                    &r.url(),
                    &[alg, "-cert", first, "-cert", second, "-no_nonce"],
                );
                q.assert_status(&good, "good");
                q.assert_status(&revoked, "revoked");
                let rs = &basic.tbs_response_data.responses;
                assert_eq!(rs.len(), 2);
                let want_alg = ocsp_proto::HashAlg::from_name(alg.trim_start_matches('-')).unwrap();
                for (resp, cert) in rs.iter().zip([first, second]) {
                    assert_eq!(
                        ocsp_proto::HashAlg::from_oid(&resp.cert_id.hash_algorithm.oid),
                        Some(want_alg),
                        "round {round}: answered with the request's hash"
                    );
                    let serial = pki.serial(std::path::Path::new(cert.as_str()));
                    assert_eq!(
                        ocsp_proto::Serial::of_cert_id(&resp.cert_id).to_hex(),
                        serial,
                        "round {round} {alg}: SingleResponses in request order"
                    );
                }
            }
        }
    }
}

#[test]
fn text_prints_requests_and_responses_readably() {
    // Issue 2 point 7: `--text` prints each request and response in readable form, as
    // openssl's -text does (openssl prints the CertIDs, serials and statuses).
    let pki = a();
    let r = serve_a(&["--text"]);
    let revoked = c("revoked");
    let serial = pki.serial(&a().cert("revoked"));
    pki.query(&r.url(), &["-cert", &revoked])
        .assert_status(&revoked, "revoked");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let printed = loop {
        let out: String = r
            .stdout()
            .lines()
            .filter(|l| !l.starts_with("listening on "))
            .collect::<Vec<_>>()
            .join("\n");
        if (out.contains(&serial) && out.contains("revoked"))
            || std::time::Instant::now() > deadline
        {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        printed.contains(&serial),
        "--text shows the requested serial {serial}:\n{printed}"
    );
    assert!(
        printed.contains("revoked"),
        "--text shows the status answered:\n{printed}"
    );
}

#[test]
fn duplicate_cert_ids_are_each_answered() {
    let pki = a();
    let r = serve_a(&[]);
    let good = c("good");
    let revoked = c("revoked");
    for extra in [&[][..], &["-no_nonce"][..], &["-no_nonce"][..]] {
        let mut args = vec![
            "-cert",
            good.as_str(),
            "-cert",
            revoked.as_str(),
            "-cert",
            good.as_str(),
        ];
        args.extend_from_slice(extra);
        let (q, basic) = fetch_basic(pki, &r.url(), &args);
        q.assert_status(&good, "good");
        assert_eq!(
            basic.tbs_response_data.responses.len(),
            3,
            "one SingleResponse per CertID, duplicates included ({extra:?})"
        );
    }
}
