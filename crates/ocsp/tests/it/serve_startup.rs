//! `ocsp serve` refuses to start on a broken setup, with a message naming the file and the
//! fix, and a non-zero exit (issue 2, points 2, 3 and 6).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::sync::OnceLock;
use test_support::prelude::*;

fn a() -> &'static Pki {
    static A: OnceLock<Pki> = OnceLock::new();
    A.get_or_init(|| {
        let a = Pki::new("A");
        a.issue("good");
        a
    })
}

fn b() -> &'static Pki {
    static B: OnceLock<Pki> = OnceLock::new();
    B.get_or_init(|| Pki::new("B"))
}

fn with_listen(mut args: Vec<String>) -> Vec<String> {
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    args
}

/// Replace the value after `flag` in `args`.
fn set(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let i = args.iter().position(|a| a == flag).unwrap();
    args[i + 1] = value.to_string();
    args
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn good_setup_starts() {
    // The control for every refusal below.
    let r = Responder::start(OCSP, with_listen(a().serve_args()));
    assert!(r.addr().port() != 0);
}

#[test]
fn wrong_passphrase() {
    let pki = a();
    let wrong = pki.dir.join("private/wrong-pass.txt");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let args = set(
        with_listen(pki.serve_args()),
        "--passin",
        &format!("file:{}", wrong.display()),
    );
    let f = serve_must_fail(OCSP, args);
    assert!(
        f.stderr.contains(&file_name(&pki.responder.key)),
        "names the key file:\n{}",
        f.stderr
    );
    assert!(
        f.stderr.to_lowercase().contains("pass"),
        "says the passphrase is wrong:\n{}",
        f.stderr
    );
}

#[test]
fn encrypted_key_without_passin_and_no_terminal() {
    let pki = a();
    let mut args = with_listen(pki.serve_args());
    let i = args.iter().position(|a| a == "--passin").unwrap();
    args.drain(i..i + 2);
    let f = serve_must_fail(OCSP, args);
    assert!(
        f.stderr.contains("--passin"),
        "tells how to give it:\n{}",
        f.stderr
    );
    assert!(
        f.stderr.contains(&file_name(&pki.responder.key)),
        "{}",
        f.stderr
    );
}

#[test]
fn key_not_matching_certificate() {
    let pki = a();
    // A key of the right kind, just not the certificate's: the CA's (same passphrase).
    let args = set(with_listen(pki.serve_args()), "--rkey", p(&pki.cakey));
    let f = serve_must_fail(OCSP, args);
    assert!(f.stderr.contains(&file_name(&pki.cakey)), "{}", f.stderr);
    assert!(
        f.stderr.to_lowercase().contains("does not match"),
        "says the key does not match the certificate:\n{}",
        f.stderr
    );
}

#[test]
fn responder_certificate_of_another_ca() {
    let a = a();
    let b = b();
    let args = with_listen(a.serve_args_with(&b.responder));
    let f = serve_must_fail(OCSP, args);
    assert!(
        f.stderr.contains(p(&b.responder.cert)),
        "names the responder certificate:\n{}",
        f.stderr
    );
    assert!(
        f.stderr.contains("not issued by"),
        "says it is not issued by the CA:\n{}",
        f.stderr
    );
}

#[test]
fn delegated_certificate_without_ocsp_signing() {
    let pki = a();
    let plain = pki.issue_responder("no_eku", KeyAlg::P256, "usr_cert");
    let f = serve_must_fail(OCSP, with_listen(pki.serve_args_with(&plain)));
    assert!(f.stderr.contains(&file_name(&plain.cert)), "{}", f.stderr);
    assert!(
        f.stderr.contains("OCSPSigning"),
        "names the missing EKU:\n{}",
        f.stderr
    );
}

#[test]
fn bad_index_line_stops_the_start() {
    let pki = a();
    let dir = tempfile::tempdir_in(&pki.dir).unwrap();
    let index = dir.path().join("index.txt");
    let good = std::fs::read_to_string(&pki.index).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() >= 2, "fixture has two entries");
    lines.truncate(2);
    lines.push("X\tnot a valid line");
    std::fs::write(&index, lines.join("\n") + "\n").unwrap();
    let args = set(with_listen(pki.serve_args()), "--index", p(&index));
    let f = serve_must_fail(OCSP, args);
    assert!(
        f.stderr.contains("index.txt:3:"),
        "`file:line: why` for the bad third line:\n{}",
        f.stderr
    );
}

#[test]
fn missing_files_are_named() {
    let pki = a();
    let missing = pki.dir.join("no-such-index.txt");
    let f = serve_must_fail(
        OCSP,
        set(with_listen(pki.serve_args()), "--index", p(&missing)),
    );
    assert!(f.stderr.contains("no-such-index.txt"), "{}", f.stderr);
    let missing = pki.dir.join("no-such-ca.pem");
    let f = serve_must_fail(
        OCSP,
        set(with_listen(pki.serve_args()), "--ca", p(&missing)),
    );
    assert!(f.stderr.contains("no-such-ca.pem"), "{}", f.stderr);
    let missing = pki.dir.join("no-such-key.pem");
    let f = serve_must_fail(
        OCSP,
        set(with_listen(pki.serve_args()), "--rkey", p(&missing)),
    );
    assert!(f.stderr.contains("no-such-key.pem"), "{}", f.stderr);
}

#[test]
fn nothing_to_serve_or_nowhere_to_listen() {
    let f = serve_must_fail(OCSP, ["--listen", "127.0.0.1:0"]);
    assert!(f.stderr.contains("--ca"), "{}", f.stderr);
    let f = serve_must_fail(OCSP, a().serve_args());
    assert!(
        f.stderr.contains("--port") || f.stderr.contains("--listen"),
        "{}",
        f.stderr
    );
}

#[test]
fn unknown_config_key_is_refused_with_its_name() {
    let pki = a();
    let cfg = pki.dir.join("typo.toml");
    let table = pki.issuer_toml().replace("rsigner =", "rsinger =");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = [\"127.0.0.1:0\"]\n{table}"),
    )
    .unwrap();
    let f = serve_must_fail(OCSP, ["--config", p(&cfg)]);
    assert!(
        f.stderr.contains("rsinger"),
        "names the unknown key:\n{}",
        f.stderr
    );
    assert!(
        f.stderr.contains("typo.toml"),
        "names the file:\n{}",
        f.stderr
    );

    let cfg = pki.dir.join("typo-server.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nlisen = 3\n{}",
            pki.issuer_toml()
        ),
    )
    .unwrap();
    let f = serve_must_fail(OCSP, ["--config", p(&cfg)]);
    assert!(f.stderr.contains("lisen"), "{}", f.stderr);
}

#[test]
fn same_ca_twice_is_refused() {
    let pki = a();
    let cfg = pki.dir.join("twice.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}{}",
            pki.issuer_toml(),
            pki.issuer_toml()
        ),
    )
    .unwrap();
    let f = serve_must_fail(OCSP, ["--config", p(&cfg)]);
    assert!(f.stderr.contains("twice"), "{}", f.stderr);
}

#[test]
fn sha1_signatures_are_refused() {
    let f = serve_must_fail(
        OCSP,
        [
            with_listen(a().serve_args()),
            vec!["--rmd".into(), "sha1".into()],
        ]
        .concat(),
    );
    assert!(f.stderr.contains("sha1"), "{}", f.stderr);
}

#[test]
fn responder_certificate_not_valid_now() {
    let pki = a();
    let old = pki.issue_responder_with(
        "ocsp_expired",
        KeyAlg::P256,
        "v3_OCSP",
        &[
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
        ],
    );
    let f = serve_must_fail(OCSP, with_listen(pki.serve_args_with(&old)));
    assert!(f.stderr.contains(&file_name(&old.cert)), "{}", f.stderr);
    assert!(f.stderr.contains("not valid"), "{}", f.stderr);
    let future = pki.issue_responder_with(
        "ocsp_future",
        KeyAlg::P256,
        "v3_OCSP",
        &[
            "-startdate",
            &openssl_date(unix_now() + 86_400 * 30),
            "-enddate",
            &openssl_date(unix_now() + 86_400 * 400),
        ],
    );
    let f = serve_must_fail(OCSP, with_listen(pki.serve_args_with(&future)));
    assert!(f.stderr.contains(&file_name(&future.cert)), "{}", f.stderr);
}
