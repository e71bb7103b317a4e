//! End to end: `ocsp query` against `ocsp serve`, both the real binary, over a PKI made with
//! `openssl ca` at test time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{ocsp, OCSP};
use test_support::prelude::*;

/// `ocsp serve --index … --ca … --port 0 EXTRA` for the client PKI, killed on drop.
fn serve(pki: &Pki, extra: &[&str]) -> Responder {
    let mut args = vec![
        "--index",
        p(&pki.index),
        "--ca",
        p(&pki.cacert),
        "--port",
        "0",
    ];
    args.extend_from_slice(extra);
    Responder::start(OCSP, args)
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"))
}

#[test]
fn query_against_serve_delegated_and_ca_signed() {
    let pki = Pki::client_set();
    let (ec_pem, ec_key) = (pki.pem("ec"), pki.key("ec"));
    let delegated = serve(&pki, &["--rsigner", &ec_pem, "--rkey", p(&ec_key)]);
    let ca_signed = serve(&pki, &["--rkey", p(&pki.cakey)]);
    for (serve, kind) in [(&delegated, "delegated"), (&ca_signed, "issuer")] {
        let r = ocsp(&[
            "query",
            "--cert",
            &pki.pem("good"),
            "--cert",
            &pki.pem("revoked"),
            "--serial",
            "0x7777",
            "--issuer",
            &pki.pem("ca"),
            "--url",
            &serve.url(),
            "--require-nonce",
            "--cafile",
            &pki.pem("ca"),
        ]);
        r.expect_code(1);
        assert_eq!(
            r.stdout,
            format!(
                "{}: good\n{}: revoked (keyCompromise, {})\n0x7777: unknown\n",
                pki.pem("good"),
                pki.pem("revoked"),
                pki.revocation_time("revoked")
            ),
            "{r:#?}"
        );
        assert!(r.stderr.is_empty(), "{r:#?}");
        for (method, extra) in [("GET", "--sha1"), ("POST", "--sha512")] {
            let r = ocsp(&[
                "query",
                "--cert",
                &pki.pem("good"),
                "--issuer",
                &pki.pem("ca"),
                "--url",
                &serve.url(),
                "--method",
                &method.to_lowercase(),
                extra,
                "--json",
            ]);
            r.expect_code(0);
            let v = json(&r);
            assert_eq!(v["method"], method);
            assert_eq!(v["verification"]["verified"], true);
            assert_eq!(v["verification"]["signer_kind"], kind);
            assert_eq!(v["nonce"]["sent"], v["nonce"]["received"]);
            assert!(v["certificates"][0]["next_update"].is_string(), "{r:#?}");
        }
    }
    // What serve sent, saved and inspected.
    let resp = pki.file("serve-resp.der").display().to_string();
    ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &delegated.url(),
        "--respout",
        &resp,
    ])
    .expect_code(0);
    let r = ocsp(&["inspect", &resp]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("(byKey)"),
        "serve identifies itself byKey by default: {r:#?}"
    );
    assert!(r.stdout.contains("Cert Status: good"), "{r:#?}");
}
