//! `ocsp inspect` on requests and responses made by the real openssl, in every input form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{ocsp, ocsp_stdin};
use base64::Engine as _;
use test_support::prelude::*;

/// A request (with nonce) for `good` and `revoked` by openssl, and openssl's answer to it.
fn messages(pki: &Pki) -> (Vec<u8>, Vec<u8>) {
    let d = pki.path();
    openssl(
        d,
        &[
            "ocsp",
            "-issuer",
            "cacert.pem",
            "-cert",
            "good.pem",
            "-cert",
            "revoked.pem",
            "-nonce",
            "-reqout",
            "req.der",
        ],
    );
    openssl(
        d,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            "ec.pem",
            "-rkey",
            "ec.key",
            "-CA",
            "cacert.pem",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-nmin",
            "5",
        ],
    );
    (
        std::fs::read(pki.file("req.der")).unwrap(),
        std::fs::read(pki.file("resp.der")).unwrap(),
    )
}

#[test]
fn request_in_every_form() {
    let pki = Pki::client_set();
    let (req, _) = messages(&pki);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let pem = format!(
        "-----BEGIN OCSP REQUEST-----\n{}\n-----END OCSP REQUEST-----\n",
        b64.as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let url = ocsp_client::get_url("http://[::1]:2560/ocsp", &req);
    for (input, form) in [
        (req.clone(), "DER"),
        (b64.clone().into_bytes(), "base64"),
        (pem.into_bytes(), "PEM"),
        (url.into_bytes(), "a GET URL"),
    ] {
        let r = ocsp_stdin(&["inspect"], Some(&input));
        r.expect_code(0);
        assert!(
            r.stdout.starts_with(&format!(
                "OCSP request ({} octets of DER, read as {form})",
                req.len()
            )),
            "{r:#?}"
        );
        assert!(r.stdout.contains("Hash Algorithm: sha1"), "{r:#?}");
        assert!(r.stdout.contains("Serial Number: 1000"), "{r:#?}");
        assert!(r.stdout.contains("Serial Number: 1001"), "{r:#?}");
        assert!(r.stdout.contains("Nonce: "), "{r:#?}");
    }
    // From a file, as JSON.
    let r = ocsp(&[
        "inspect",
        &pki.file("req.der").display().to_string(),
        "--json",
    ]);
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["type"], "request");
    assert_eq!(v["form"], "der");
    assert_eq!(v["cert_ids"].as_array().unwrap().len(), 2);
    assert_eq!(v["cert_ids"][1]["serial"], "1001");
    assert_eq!(
        v["nonce"].as_str().unwrap().len(),
        32,
        "openssl sends 16 octets"
    );
}

#[test]
fn response_text_and_json() {
    let pki = Pki::client_set();
    let (_, resp) = messages(&pki);
    let path = pki.file("resp.der").display().to_string();
    let r = ocsp(&["inspect", &path]);
    r.expect_code(0);
    for needle in [
        "OCSP response (",
        "OCSP Response Status: successful (0x0)",
        "Responder Id: CN=ec (byName)",
        "Cert Status: good",
        "Cert Status: revoked",
        "Revocation Reason: keyCompromise",
        &format!("Revocation Time: {}", pki.revocation_time("revoked")),
        "Next Update: ",
        "Signature Algorithm: ecdsa-with-SHA256",
        "Subject: CN=ec",
        "OCSP Signing: yes, OCSP No Check: yes",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle:?}: {r:#?}");
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&resp);
    let r = ocsp_stdin(&["inspect", "-", "--json"], Some(b64.as_bytes()));
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["type"], "response");
    assert_eq!(v["form"], "base64");
    assert_eq!(v["response_status"], "successful");
    let basic = &v["basic"];
    assert_eq!(basic["responder_id"]["kind"], "by_name");
    assert_eq!(basic["responses"][1]["status"], "revoked");
    assert_eq!(basic["responses"][1]["revocation_reason"], "keyCompromise");
    assert_eq!(basic["certs"][0]["ocsp_signing"], true);
    // An error response.
    let r = ocsp_stdin(&["inspect"], Some(&[0x30, 0x03, 0x0A, 0x01, 0x03]));
    r.expect_code(0);
    assert!(
        r.stdout.contains("OCSP Response Status: tryLater (0x3)"),
        "{r:#?}"
    );
}

#[test]
fn bad_input_names_the_byte_and_what_was_expected() {
    let pki = Pki::client_set();
    let (req, resp) = messages(&pki);
    // Truncated request.
    let r = ocsp_stdin(&["inspect"], Some(&req[..req.len() - 3]));
    r.expect_code(1);
    assert!(
        r.stderr.contains("not a valid OCSPRequest: at byte"),
        "{r:#?}"
    );
    // A SEQUENCE holding an INTEGER is neither.
    let r = ocsp_stdin(&["inspect"], Some(&[0x30, 0x03, 0x02, 0x01, 0x05]));
    r.expect_code(1);
    assert!(
        r.stderr.contains("byte 2: expected an ENUMERATED (0x0A, responseStatus of an OCSPResponse) or a SEQUENCE (0x30, tbsRequest of an OCSPRequest), found 0x02"),
        "{r:#?}"
    );
    // A response whose producedAt (GeneralizedTime, tag 0x18) is made an OCTET STRING:
    // the offset reported is in the whole input, not in the inner BasicOCSPResponse.
    let mut bad = resp.clone();
    let at = bad.windows(2).position(|w| w == [0x18, 0x0F]).unwrap();
    bad[at] = 0x04;
    let r = ocsp_stdin(&["inspect"], Some(&bad));
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("not a valid BasicOCSPResponse (it starts at byte"),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains(&format!("at byte {at}:")),
        "byte {at}: {r:#?}"
    );
    // Not base64, not anything.
    let r = ocsp_stdin(&["inspect"], Some(b"hello, world"));
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("not DER, PEM or a URL, and not base64 either"),
        "{r:#?}"
    );
    // Empty input and a missing file.
    ocsp_stdin(&["inspect"], Some(b"")).expect_code(5);
    ocsp(&["inspect", "/nonexistent/file.der"]).expect_code(5);
}
