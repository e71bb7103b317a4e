//! `ocsp serve --crl`: answers from a CRL fetched over HTTP, the issued-serial list
//! deciding between `good` and `unknown`, and the profiles that refuse a CRL without one.

use std::sync::OnceLock;

use crate::OCSP;
use test_support::crl::gencrl;
use test_support::crl_server::CrlServer;
use test_support::prelude::*;

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = Pki::new("crlserve");
        pki.issue("good");
        let r = pki.issue("revoked");
        pki.revoke(&r, &["-crl_reason", "keyCompromise"]);
        pki
    })
}

/// `serve` flags without `--index`, on a free local port.
fn signer_args(pki: &Pki) -> Vec<String> {
    let mut a: Vec<String> = pki.serve_args().into_iter().skip(2).collect();
    a.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    a
}

#[test]
fn answers_from_an_http_crl_with_the_issued_list() {
    let pki = pki();
    let crl = gencrl(pki, Some(7), 48, "serve.pem");
    let server = CrlServer::start();
    server.put("/ca.crl", &std::fs::read(&crl).unwrap());
    let mut args = vec![
        "--crl".to_string(),
        server.url("/ca.crl"),
        "--issued".into(),
        p(&pki.index).into(),
    ];
    args.extend(signer_args(pki));
    let r = Responder::start(OCSP, &args);
    let good = pki.pem("good");
    let revoked = pki.pem("revoked");
    let q = pki.query(
        &r.url(),
        &["-cert", &good, "-cert", &revoked, "-serial", "0x4242"],
    );
    q.assert_status(&good, "good");
    q.assert_status(&revoked, "revoked");
    assert_eq!(
        q.status_of("0x4242").as_deref(),
        Some("unknown"),
        "{}",
        q.all()
    );
    assert!(
        q.details_of(&revoked).contains("Reason: keyCompromise"),
        "{}",
        q.all()
    );
    // nextUpdate never past the CRL's: the default validity (1 day) is shorter here; a
    // CRL valid 48 h bounds nothing, so compare with the CRL's own times.
    let text = openssl_stdout(&pki.dir, &["crl", "-in", p(&crl), "-noout", "-lastupdate"]);
    let last = text.trim().trim_start_matches("lastUpdate=");
    assert!(
        q.details_of(&good)
            .contains(&format!("This Update: {last}")),
        "{}",
        q.all()
    );
}

#[test]
fn a_crl_without_issued_list_is_good_for_all_and_only_private_allows_it() {
    let pki = pki();
    let crl = gencrl(pki, Some(8), 48, "noissued.pem");
    let mut args = vec!["--crl".to_string(), p(&crl).to_string()];
    args.extend(signer_args(pki));
    let r = Responder::start(OCSP, &args);
    let q = pki.query(&r.url(), &["-serial", "0x4242"]);
    assert_eq!(
        q.status_of("0x4242").as_deref(),
        Some("good"),
        "{}",
        q.all()
    );
    assert!(
        r.wait_stderr("GOOD", std::time::Duration::from_secs(5)),
        "{}",
        r.stderr()
    );
    for profile in ["cabf", "mozilla"] {
        let mut a = args.clone();
        a.extend(["--profile".to_string(), profile.to_string()]);
        let f = serve_must_fail(OCSP, &a);
        assert!(
            f.stderr.contains("unassigned-never-good") && f.stderr.contains("--issued"),
            "{}",
            f.stderr
        );
    }
}
