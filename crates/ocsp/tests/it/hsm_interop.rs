//! `ocsp serve` signing inside a real SoftHSM2 token, judged by the real `openssl ocsp`:
//! every algorithm (RSA PKCS#1 v1.5 and PSS, P-256, P-384, Ed25519), keys imported and keys
//! generated inside the token, nonce answers (signed live) and cached ones; the key given by
//! URI with `--pkcs11-module`; `check-config` logging in and checking a test signature; a key
//! that does not match its certificate named beside it; `presign` signing a store in the token;
//! `demo --pkcs11`.

use crate::hsm_support::{ask, hsm, pki, serve, signer};
use crate::{ocsp, OCSP};
use test_support::prelude::*;
use test_support::softhsm::{MODULE, PIN};

#[test]
fn openssl_verifies_answers_signed_in_the_token_by_every_algorithm() {
    hsm();
    let cases: &[(&str, &[&str], &str)] = &[
        ("rsa-imported", &[], "sha256WithRSAEncryption"),
        (
            "rsa-imported",
            &["--rsigopt", "rsa_padding_mode:pss"],
            "rsassaPss",
        ),
        ("rsa-gen", &["--rmd", "sha512"], "sha512WithRSAEncryption"),
        ("p256-imported", &[], "ecdsa-with-SHA256"),
        ("p384-gen", &["--rmd", "sha384"], "ecdsa-with-SHA384"),
        ("ed25519-gen", &[], "ED25519"),
    ];
    for (label, extra, alg) in cases {
        let r = serve("hsm", label, extra);
        for nonce in [true, false] {
            let args: &[&str] = if nonce {
                &["-resp_text"]
            } else {
                &["-resp_text", "-no_nonce"]
            };
            let q = ask(&r, "good", args);
            assert!(q.verified(), "{label} {extra:?} nonce={nonce}: {}", q.all());
            q.assert_status(p(&pki().cert("good")), "good");
            assert!(q.all().contains(alg), "{label}: {alg} not in\n{}", q.all());
        }
        let q = ask(&r, "revoked", &[]);
        assert!(q.verified(), "{label}: {}", q.all());
        q.assert_status(p(&pki().cert("revoked")), "revoked");
    }
}

#[test]
fn the_module_flag_takes_a_uri_without_module_path() {
    let h = hsm();
    let s = signer("hsm", "p256-imported");
    let r = Responder::start(
        OCSP,
        [
            "--index",
            p(&pki().index),
            "--ca",
            p(&pki().cacert),
            "--rsigner",
            p(&s.cert),
            "--rkey",
            &h.uri("hsm", "p256-imported"),
            "--pkcs11-module",
            MODULE,
            "--passin",
            &format!("pass:{PIN}"),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let q = ask(&r, "good", &[]);
    assert!(q.verified(), "{}", q.all());
}

#[test]
fn check_config_logs_in_and_checks_a_test_signature() {
    let h = hsm();
    let s = signer("hsm", "p384-gen");
    let pin_file = write(&h.dir, "check-pin.txt", &format!("{PIN}\n"));
    let cfg = write(
        &pki().dir,
        "hsm-check.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[pkcs11]\nmodule = {:?}\npin = \"file:{}\"\n\
             [[issuer]]\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\n",
            MODULE,
            pin_file.display(),
            p(&pki().cacert),
            p(&pki().index),
            p(&s.cert),
            h.uri("hsm", "p384-gen"),
        ),
    );
    let run = ocsp(&["check-config", p(&cfg), "--no-bind"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("a test signature verifies against the responder certificate"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ECDSA P-384"), "{}", run.stdout);

    // The wrong certificate for the key: both named.
    let other = signer("hsm", "rsa-gen");
    let bad = write(
        &pki().dir,
        "hsm-mismatch.toml",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(p(&s.cert), p(&other.cert)),
    );
    let run = ocsp(&["check-config", p(&bad), "--no-bind"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("pkcs11:token=hsm;object=p384-gen")
            && run.stdout.contains("does not match the certificate")
            && run.stdout.contains(p(&other.cert)),
        "{}",
        run.stdout
    );
}

#[test]
fn demo_pkcs11_signs_with_the_responder_key_in_a_softhsm_token() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    test_support::softhsm::require_softhsm();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-pki");
    let mut child = Command::new(OCSP)
        .arg("demo")
        .arg(&dir)
        .args(["--port", "0", "--pkcs11"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("ocsp demo --pkcs11 stopped before listening:\n{out}");
        };
        out.push_str(&line);
        out.push('\n');
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.trim().to_string();
        }
    };
    let dir = std::fs::canonicalize(&dir).unwrap();
    assert!(out.contains("into the SoftHSM2 token `ocsp-demo`"), "{out}");
    assert!(
        out.contains("--rkey 'pkcs11:token=ocsp-demo;object=ocsp-responder'"),
        "{out}"
    );
    let q = query(
        &dir,
        &[
            "ocsp",
            "-CAfile",
            "cacert.pem",
            "-issuer",
            "cacert.pem",
            "-cert",
            "good.pem",
            "-url",
            &url,
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(q.verified(), "{}", q.all());
    assert!(q.all().contains("good.pem: good"), "{}", q.all());
    // The PIN is in a 0600 file; the key file was not left decrypted anywhere.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("softhsm/pin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!dir.join("softhsm/import.pem").exists());
}

#[test]
fn presign_signs_the_store_in_the_token_and_serve_loads_it() {
    hsm();
    let s = signer("hsm", "p256-imported");
    let store = pki().dir.join("hsm-responses.store");
    let mut args = pki().serve_args_with(&s);
    let n = args.len();
    args[n - 1] = format!("pass:{PIN}");
    let mut presign: Vec<String> = vec!["presign".into()];
    presign.extend(args.iter().cloned());
    presign.extend(["--out".into(), p(&store).into(), "--quiet".into()]);
    let argv: Vec<&str> = presign.iter().map(String::as_str).collect();
    let run = ocsp(&argv);
    run.expect_code(0);
    assert!(run.stdout.contains("wrote "), "{}", run.stdout);
    args.extend(["--listen", "127.0.0.1:0", "--store", p(&store)].map(String::from));
    let r = Responder::start(OCSP, args);
    assert!(
        r.wait_stderr("response store loaded", std::time::Duration::from_secs(10)),
        "{}",
        r.stderr()
    );
    let q = ask(&r, "good", &["-no_nonce"]);
    assert!(q.verified(), "{}", q.all());
}
