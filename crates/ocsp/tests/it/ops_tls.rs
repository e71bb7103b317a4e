//! HTTPS next to the plain listener, against real peers: `openssl ocsp -url https://…`,
//! `openssl s_client -alpn h2`, curl over HTTP/2, and `ocsp query`. The TLS certificate
//! is made by openssl at test time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{ocsp, OCSP};
use test_support::prelude::*;

fn start(pki: &Pki, tls: &TlsFiles, extra: &[&str]) -> Responder {
    let mut args = pki.serve_args();
    args.extend(
        [
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            p(&tls.cert),
            "--tls-key",
            p(&tls.key),
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    Responder::start(OCSP, &args)
}

#[test]
fn openssl_ocsp_over_https() {
    let pki = Pki::standard("T");
    let tls = tls_cert(&pki.dir);
    let r = start(&pki, &tls, &[]);
    let https = https_addr(&r);
    // -CAfile serves both checks: the TLS server certificate and the OCSP response.
    let both = pki.dir.join("trust.pem");
    std::fs::write(
        &both,
        std::fs::read_to_string(&pki.cacert).unwrap() + &std::fs::read_to_string(&tls.ca).unwrap(),
    )
    .unwrap();
    let url = format!("https://{https}");
    let good = pki.cert("good");
    let revoked = pki.cert("revoked");
    let q = query(
        &pki.dir,
        &[
            "ocsp",
            "-CAfile",
            p(&both),
            "-issuer",
            p(&pki.cacert),
            "-cert",
            p(&good),
            "-cert",
            p(&revoked),
            "-url",
            &url,
            "-timeout",
            "10",
        ],
    );
    assert!(q.verified(), "{}", q.all());
    q.assert_status(p(&good), "good");
    q.assert_status(p(&revoked), "revoked");
    // The plain listener answers the same next to it.
    pki.query(&r.url(), &["-cert", p(&good)])
        .assert_status(p(&good), "good");
    // Nothing about it is an error in our logs.
    assert!(!r.stderr().contains("ERROR"), "{}", r.stderr());
}

#[test]
fn s_client_negotiates_h2_and_curl_speaks_it() {
    let pki = Pki::new("S");
    let tls = tls_cert(&pki.dir);
    let r = start(&pki, &tls, &[]);
    let https = https_addr(&r);
    let connect = https.to_string();
    let out = run_input(
        std::process::Command::new("openssl").args([
            "s_client",
            "-connect",
            &connect,
            "-alpn",
            "h2",
            "-CAfile",
            p(&tls.ca),
            "-verify_return_error",
            "-servername",
            "localhost",
        ]),
        Some(b""),
        CMD_TIMEOUT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ALPN protocol: h2"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // HTTP/1.1 is offered too.
    let out = run_input(
        std::process::Command::new("openssl").args([
            "s_client",
            "-connect",
            &connect,
            "-alpn",
            "http/1.1",
            "-CAfile",
            p(&tls.ca),
        ]),
        Some(b""),
        CMD_TIMEOUT,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ALPN protocol: http/1.1"));

    // A real HTTP/2 GET of an OCSP request over TLS.
    let good = pki.issue("good");
    let der = pki.request_der(&["-cert", p(&good), "-no_nonce"]);
    let url = format!(
        "https://localhost:{}/{}",
        https.port(),
        pct_encode(&b64(&der), false)
    );
    let resp_file = pki.dir.join("h2.der");
    let resolve = format!("localhost:{}:127.0.0.1", https.port());
    let out = curl(&[
        "--http2",
        "--cacert",
        p(&tls.ca),
        "--resolve",
        &resolve,
        "-o",
        p(&resp_file),
        "-w",
        "%{http_version} %{http_code} %{content_type}",
        &url,
    ]);
    let w = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        w,
        "2 200 application/ocsp-response",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = pki.verify_respin(&resp_file, &["-cert", p(&good)]);
    assert!(v.verified(), "{}", v.all());
    v.assert_status(p(&good), "good");
}

#[test]
fn ocsp_query_over_https() {
    let pki = Pki::new("Q");
    let tls = tls_cert(&pki.dir);
    let r = start(&pki, &tls, &[]);
    let https = https_addr(&r);
    let good = pki.issue("good");
    let url = format!("https://127.0.0.1:{}", https.port());
    let (code, out, err) = ocsp(&[
        "query",
        "--cafile",
        p(&pki.cacert),
        "--issuer",
        p(&pki.cacert),
        "--cert",
        p(&good),
        "--url",
        &url,
        "--https-cafile",
        p(&tls.ca),
    ])
    .parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("good"), "{out}\n{err}");
}

#[test]
fn tls_flags_are_checked() {
    let pki = Pki::new("F");
    let tls = tls_cert(&pki.dir);
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"].map(String::from));
    let f = serve_must_fail(OCSP, &args);
    assert!(f.stderr.contains("--tls-cert"), "{}", f.stderr);
    // A key that is not the certificate's.
    let other = pki.dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let other = tls_cert(&other);
    args.extend(["--tls-cert", p(&tls.cert), "--tls-key", p(&other.key)].map(String::from));
    let f = serve_must_fail(OCSP, &args);
    assert!(f.stderr.contains("does not match"), "{}", f.stderr);
}
