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
    args.extend(["--metrics-listen".to_string(), "127.0.0.1:0".to_string()]);
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

    // The CRL server fails: SIGHUP refetches, the failure is logged and counted, the
    // last good CRL keeps answering.
    let m = metrics_addr(&r);
    let failures = || sum(&scrape(m), "ocsp_index_reload_failures_total", &[]);
    assert_eq!(failures(), 0.0);
    server.behave("/ca.crl", test_support::crl_server::Behaviour::Fail(503));
    let status = std::process::Command::new("kill")
        .args(["-HUP", &r.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        r.wait_stderr("HTTP 503", std::time::Duration::from_secs(10)),
        "{}",
        r.stderr()
    );
    assert_eq!(failures(), 1.0);
    pki.query(&r.url(), &["-cert", &revoked])
        .assert_status(&revoked, "revoked");
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

/// GET `path` from `r` with extra headers.
fn fetch(r: &Responder, path: &str, headers: &[&str]) -> HttpResponse {
    let mut h = vec!["Connection: close"];
    h.extend_from_slice(headers);
    http(r.addr(), &get_req(path, &h))
}

/// Wait for `pred` on the published CRL, up to `secs` seconds.
fn wait_for(r: &Responder, secs: u64, pred: impl Fn(&HttpResponse) -> bool) -> HttpResponse {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let resp = fetch(r, "/crl/ca.crl", &[]);
        if pred(&resp) || std::time::Instant::now() > deadline {
            return resp;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn serve_publishes_the_crl_and_reissues_it_after_a_revocation() {
    let pki = Pki::new("crlpub");
    pki.issue("good");
    let r1 = pki.issue("revoked");
    pki.revoke(&r1, &["-crl_reason", "keyCompromise"]);
    let later = pki.issue("later");
    let cfg = write(
        &pki.dir,
        "publish.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}\n[[crl]]\nissuer = \"Test CA crlpub\"\nkey = {:?}\npassin = {:?}\npath = \"/crl/ca.crl\"\nhours = 48\n",
            pki.issuer_toml(),
            p(&pki.cakey),
            pki.passin()
        ),
    );
    let r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let first = wait_for(&r, 10, |resp| resp.status == 200);
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.header("content-type"), Some("application/pkix-crl"));
    let etag = first.header("etag").unwrap().to_string();
    assert!(first.header("cache-control").unwrap().contains("max-age="));
    assert!(first.header("expires").is_some());
    let file = pki.dir.join("published.crl");
    std::fs::write(&file, &first.body).unwrap();
    let text = openssl_stdout(
        &pki.dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            p(&file),
            "-CAfile",
            p(&pki.cacert),
            "-noout",
            "-text",
        ],
    );
    assert!(
        text.contains(&format!("Serial Number: {}", pki.serial(&r1))),
        "{text}"
    );
    assert!(
        !text.contains(&format!("Serial Number: {}", pki.serial(&later))),
        "{text}"
    );
    // The same CRL again: 304.
    let again = fetch(&r, "/crl/ca.crl", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(again.status, 304);
    // A revocation makes a new CRL within seconds (not at half its validity).
    pki.revoke(&later, &["-crl_reason", "superseded"]);
    let next = wait_for(&r, 15, |resp| resp.header("etag") != Some(etag.as_str()));
    assert_ne!(next.header("etag"), Some(etag.as_str()), "no new CRL");
    std::fs::write(&file, &next.body).unwrap();
    let text = openssl_stdout(
        &pki.dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            p(&file),
            "-CAfile",
            p(&pki.cacert),
            "-noout",
            "-text",
        ],
    );
    assert!(
        text.contains(&format!("Serial Number: {}", pki.serial(&later))),
        "{text}"
    );
    // OCSP still answers on the same listener.
    let q = pki.query(&r.url(), &["-cert", &pki.pem("revoked")]);
    q.assert_status(&pki.pem("revoked"), "revoked");
}
