//! `ocsp presign` writes a response store that `ocsp serve --store` loads at start: every
//! record is checked, and a record made stale by a later `openssl ca -revoke` is never
//! served (issue 4, point 3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::process::Command;
use std::time::Duration;
use test_support::prelude::*;

#[test]
fn presigned_store_is_loaded_checked_and_never_stale() {
    require_tools();
    let pki = Pki::new("presign");
    let a = pki.issue("leaf-a");
    let b = pki.issue("leaf-b");
    let c = pki.issue("leaf-c");
    pki.revoke(&a, &["-crl_reason", "keyCompromise"]);
    let store = pki.dir.join("responses.store");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocsp"));
    cmd.arg("presign")
        .args(pki.serve_args())
        .args(["--out", p(&store), "--quiet"]);
    let out = run(&mut cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "presign failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The responder certificate and three leaves, SHA-1 and SHA-256 CertIDs each.
    assert!(stdout.contains("wrote 8 answers for 4 serials"), "{stdout}");
    assert!(std::fs::read(&store).unwrap().starts_with(b"OCSPSTORE1\n"));

    // Revoked after presigning: its two stored answers are stale.
    pki.revoke(&b, &["-crl_reason", "superseded"]);

    let mut args = pki.serve_args();
    args.extend(
        ["--listen", "127.0.0.1:0", "--store", p(&store)]
            .iter()
            .map(|s| s.to_string()),
    );
    let r = Responder::start(OCSP, args);
    assert!(
        r.wait_stderr("response store loaded", Duration::from_secs(10)),
        "{}",
        r.stderr()
    );
    let log = strip_ansi(&r.stderr());
    assert!(log.contains("loaded=6"), "{log}");
    assert!(log.contains("stale=2"), "{log}");

    // Answers without a nonce come from the cache; verified by openssl, statuses current.
    for (cert, want) in [(&a, "revoked"), (&b, "revoked"), (&c, "good")] {
        for hash in ["-sha1", "-sha256"] {
            let q = pki.query(&r.url(), &["-no_nonce", hash, "-cert", p(cert)]);
            q.assert_status(p(cert), want);
        }
    }

    // A store that is not one is refused with a warning; the responder starts cold.
    let bogus = pki.dir.join("bogus.store");
    std::fs::write(&bogus, b"not a store").unwrap();
    let mut args = pki.serve_args();
    args.extend(
        ["--listen", "127.0.0.1:0", "--store", p(&bogus)]
            .iter()
            .map(|s| s.to_string()),
    );
    let r2 = Responder::start(OCSP, args);
    assert!(
        r2.wait_stderr("response store not loaded", Duration::from_secs(10)),
        "{}",
        r2.stderr()
    );
    pki.query(&r2.url(), &["-cert", p(&c), "-no_nonce"])
        .assert_status(p(&c), "good");
}

/// `presign` is built by the same wiring as `serve`: what the profile refuses at
/// `serve`'s start it refuses too, naming the rule, and writes nothing.
#[test]
fn presign_refuses_what_the_profile_refuses_as_serve_does() {
    require_tools();
    let pki = Pki::new("presign-profile");
    pki.issue("leaf");
    let store = pki.dir.join("refused.store");
    for (profile, extra, rule) in [
        ("microsoft", ["--ndays", "10"], "rule validity-max"),
        ("cabf", ["--ndays", "9"], "rule refresh"),
        ("cabf", ["--nmin", "60"], "rule validity-min"),
    ] {
        let mut serve = pki.serve_args();
        serve.extend(["--listen", "127.0.0.1:0", "--profile", profile].map(String::from));
        serve.extend(extra.map(String::from));
        let f = serve_must_fail(OCSP, &serve);
        assert!(f.stderr.contains(rule), "serve {profile}: {}", f.stderr);

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocsp"));
        cmd.arg("presign")
            .args(pki.serve_args())
            .args(["--out", p(&store), "--quiet", "--profile", profile])
            .args(extra);
        let out = run(&mut cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "presign {profile}: {stderr}");
        assert!(stderr.contains(rule), "presign {profile}: {stderr}");
        assert!(!store.exists(), "presign {profile} wrote a store");
    }
    // The same flags under the private profile presign (with the BR warning).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocsp"));
    cmd.arg("presign").args(pki.serve_args()).args([
        "--out",
        p(&store),
        "--quiet",
        "--ndays",
        "10",
    ]);
    let out = run(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store.exists());
}
