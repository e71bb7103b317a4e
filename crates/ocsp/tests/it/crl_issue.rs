//! `ocsp crl` against real peers: the CRL it writes from index.txt is checked by
//! `openssl crl -verify`, `openssl verify -crl_check` and pkilint's `lint_crl` (BR
//! profile, nothing at WARNING or above); its CRL number is kept in openssl's
//! `crlnumber` format and never goes backwards; the OCSP responder's delegated key is
//! refused; and the CRL fed back to `ocsp serve --crl` answers as `ocsp serve --index`
//! answers from the index it came from.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{ocsp, OCSP};
use test_support::prelude::*;

fn standard() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::standard("crlissue"))
}

/// `ocsp crl` on `pki`'s index into `dir/<out>`; returns the output path.
fn issue(pki: &Pki, dir: &Path, out: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(out);
    let number = dir.join("crlnumber");
    let passin = pki.passin();
    let mut args = vec![
        "crl",
        "--index",
        p(&pki.index),
        "--ca",
        p(&pki.cacert),
        "--keyfile",
        p(&pki.cakey),
        "--passin",
        &passin,
        "--crlnumber",
        p(&number),
        "--out",
        p(&path),
    ];
    args.extend_from_slice(extra);
    ocsp(&args).expect_code(0);
    path
}

fn openssl_ok(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl: install it with `apt-get install -y openssl`");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn openssl_verifies_our_crl_and_uses_it_for_path_validation() {
    let pki = standard();
    let dir = tempfile::tempdir().unwrap();
    let crl = issue(pki, dir.path(), "ca.crl", &["--crldays", "7"]);
    // The standard PKI's `held` leaf: the BR profile warns about it.
    let passin = pki.passin();
    let again = dir.path().join("again.crl");
    let r = ocsp(&[
        "crl",
        "--index",
        p(&pki.index),
        "--ca",
        p(&pki.cacert),
        "--keyfile",
        p(&pki.cakey),
        "--passin",
        &passin,
        "--crlnumber",
        p(&dir.path().join("n2")),
        "--out",
        p(&again),
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("1 entries are on hold"), "{}", r.stderr);
    let (ok, text) = openssl_ok(
        dir.path(),
        &[
            "crl",
            "-in",
            p(&crl),
            "-CAfile",
            p(&pki.cacert),
            "-noout",
            "-text",
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");
    assert!(
        text.contains("Version 2") && text.contains("X509v3 CRL Number"),
        "{text}"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(
        text.contains("Key Compromise") && text.contains("Certificate Hold"),
        "{text}"
    );
    assert!(text.contains("Invalidity Date"), "{text}");
    for (leaf, revoked) in [("good", false), ("revoked", true), ("held", true)] {
        let (ok, text) = openssl_ok(
            dir.path(),
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                p(&pki.cacert),
                "-CRLfile",
                p(&crl),
                &pki.pem(leaf),
            ],
        );
        assert_eq!(!ok, revoked, "{leaf}: {text}");
        if revoked {
            assert!(text.contains("certificate revoked"), "{leaf}: {text}");
        }
    }
}

#[test]
fn pkilint_br_profile_finds_nothing() {
    // A CA whose revocations the BR allow (no certificateHold).
    let pki = Pki::new("crllint");
    let a = pki.issue("a");
    pki.revoke(&a, &["-crl_reason", "keyCompromise"]);
    let b = pki.issue("b");
    pki.revoke(&b, &["-crl_reason", "superseded"]);
    let c = pki.issue("c");
    pki.revoke(&c, &[]);
    pki.issue("d");
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("full.der", vec!["--outform", "DER"]),
        (
            "part.der",
            vec![
                "--outform",
                "DER",
                "--idp-uri",
                "http://crl.example.com/1.crl",
                "--only-user-certs",
            ],
        ),
    ] {
        let crl = issue(&pki, dir.path(), name, &extra);
        let out = Command::new("lint_crl")
            .args([
                "lint",
                "-t",
                "CRL",
                "-p",
                "BR",
                "-s",
                "WARNING",
                "--document-format",
                "DER",
            ])
            .arg(&crl)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `lint_crl` ({e}): install pkilint with `pip install pkilint`")
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.trim().is_empty(),
            "lint_crl ({name}) found:\n{text}"
        );
    }
}

#[test]
fn crl_number_is_kept_as_openssl_keeps_it_and_never_goes_back() {
    let pki = standard();
    let dir = tempfile::tempdir().unwrap();
    let number = dir.path().join("crlnumber");
    let crl = issue(pki, dir.path(), "ca.crl", &[]);
    assert_eq!(std::fs::read_to_string(&number).unwrap(), "02\n");
    issue(pki, dir.path(), "ca.crl", &[]);
    assert_eq!(std::fs::read_to_string(&number).unwrap(), "03\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("crlnumber.old")).unwrap(),
        "02\n"
    );
    let number_of = |f: &Path| {
        let (ok, text) = openssl_ok(dir.path(), &["crl", "-in", p(f), "-noout", "-crlnumber"]);
        assert!(ok, "{text}");
        text.trim().to_string()
    };
    assert_eq!(number_of(&crl), "crlNumber=0x02");
    // A crlnumber file restored from an old backup: the CRL at --out is newer.
    std::fs::write(&number, "01\n").unwrap();
    issue(pki, dir.path(), "ca.crl", &[]);
    assert_eq!(number_of(&crl), "crlNumber=0x03");
    // Over the profile's limit (BR: 10 days), refused.
    let passin = pki.passin();
    let r = ocsp(&[
        "crl",
        "--index",
        p(&pki.index),
        "--ca",
        p(&pki.cacert),
        "--keyfile",
        p(&pki.cakey),
        "--passin",
        &passin,
        "--crldays",
        "11",
        "--crlnumber",
        p(&number),
        "--out",
        p(&crl),
    ]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("limit"), "{}", r.stderr);
}

#[test]
fn the_responder_key_never_signs_a_crl() {
    let pki = standard();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.crl");
    let passin = pki.passin();
    let r = ocsp(&[
        "crl",
        "--index",
        p(&pki.index),
        "--ca",
        p(&pki.cacert),
        "--keyfile",
        p(&pki.responder.key),
        "--passin",
        &passin,
        "--crlnumber",
        p(&dir.path().join("n")),
        "--out",
        p(&out),
    ]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("never the OCSP responder's"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

/// What openssl printed for one certificate, without the times of the answer itself.
fn answer(q: &Query, label: &str) -> (Option<String>, Vec<String>) {
    let details = q
        .details_of(label)
        .lines()
        .filter(|l| !l.starts_with("This Update") && !l.starts_with("Next Update"))
        .map(str::to_string)
        .collect();
    (q.status_of(label), details)
}

#[test]
fn our_crl_served_back_answers_as_the_index_does() {
    let pki = standard();
    let dir = tempfile::tempdir().unwrap();
    let crl = issue(pki, dir.path(), "ca.crl", &[]);
    let listen = ["--listen".to_string(), "127.0.0.1:0".to_string()];
    let mut index_args = pki.serve_args();
    index_args.extend(listen.clone());
    let from_index = Responder::start(OCSP, &index_args);
    let mut args = vec![
        "--crl".to_string(),
        p(&crl).to_string(),
        "--issued".into(),
        p(&pki.index).into(),
    ];
    args.extend(pki.serve_args().into_iter().skip(2)); // without --index
    args.extend(listen);
    let from_crl = Responder::start(OCSP, &args);
    for leaf in STANDARD_LEAVES {
        let cert = pki.pem(leaf);
        let a = pki.query(&from_index.url(), &["-cert", &cert]);
        let b = pki.query(&from_crl.url(), &["-cert", &cert]);
        assert!(
            a.verified() && b.verified(),
            "{leaf}:\n{}\n{}",
            a.all(),
            b.all()
        );
        assert_eq!(
            answer(&a, &cert),
            answer(&b, &cert),
            "{leaf}:\n{}\n{}",
            a.all(),
            b.all()
        );
    }
    // The CRL's thisUpdate is the answers' thisUpdate.
    let (_, last) = openssl_ok(
        dir.path(),
        &["crl", "-in", p(&crl), "-noout", "-lastupdate"],
    );
    let last = last.trim().trim_start_matches("lastUpdate=").to_string();
    let q = pki.query(&from_crl.url(), &["-cert", &pki.pem("good")]);
    assert!(
        q.details_of(&pki.pem("good"))
            .contains(&format!("This Update: {last}")),
        "{last}\n{}",
        q.all()
    );
}

#[test]
fn config_issuers_of_any_backend_issue_crls() {
    let pki = Pki::new("crlcfg");
    let a = pki.issue("a");
    pki.revoke(&a, &["-crl_reason", "keyCompromise"]);
    pki.issue("b");
    let passin = pki.passin();
    // An index.txt issuer: the crlnumber file goes next to the index, as openssl's does.
    let cfg = write(&pki.dir, "index.toml", &pki.issuer_toml());
    let first = pki.dir.join("first.crl");
    ocsp(&[
        "crl",
        "--config",
        p(&cfg),
        "--keyfile",
        p(&pki.cakey),
        "--passin",
        &passin,
        "--out",
        p(&first),
    ])
    .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(pki.dir.join("crlnumber")).unwrap(),
        "02\n"
    );
    // A CRL-fed issuer (the CRL just written, the index as issued list): the same
    // revocations come back out, through the same code.
    let cfg = write(
        &pki.dir,
        "crl.toml",
        &format!(
            "[[issuer]]\nca = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n[issuer.status]\ntype = \"crl\"\nlocations = [{:?}]\nissued = {:?}\n",
            p(&pki.cacert),
            p(&pki.responder.cert),
            p(&pki.responder.key),
            passin,
            p(&first),
            p(&pki.index)
        ),
    );
    let second = pki.dir.join("second.crl");
    ocsp(&[
        "crl",
        "--config",
        p(&cfg),
        "--keyfile",
        p(&pki.cakey),
        "--passin",
        &passin,
        "--crlnumber",
        p(&pki.dir.join("crlnumber")),
        "--out",
        p(&second),
    ])
    .expect_code(0);
    let revoked = |f: &Path| {
        let (ok, text) = openssl_ok(
            &pki.dir,
            &[
                "crl",
                "-in",
                p(f),
                "-CAfile",
                p(&pki.cacert),
                "-noout",
                "-text",
            ],
        );
        assert!(ok && text.contains("verify OK"), "{text}");
        let mut serials: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
            .map(str::to_string)
            .collect();
        serials.sort();
        (serials, text.contains("Key Compromise"))
    };
    assert_eq!(revoked(&first), (vec![pki.serial(&a)], true));
    assert_eq!(revoked(&first), revoked(&second));
}
