//! Responder certificate and key rollover, driven through the library with an injected
//! clock: a reload that finds a bad pair keeps the one in force and says why; a good pair
//! is put in force and the cache re-signs what the old one signed; no answer is served
//! past the notAfter of the certificate that signed it; a next pair takes over at its
//! notBefore. Certificates are made by the real openssl at test time (one PKI for the
//! whole file); answers are verified by `openssl ocsp -respin -VAfile`.

use ocsp_proto::request::{parse as parse_request, ParsedRequest, RequestLimits};
use ocsp_proto::response::{parse as parse_response, ParsedResponse};
use ocsp_proto::Timestamp;
use ocsp_responder::config::Config;
use ocsp_responder::rollover::{Rollover, RELOAD_PASSIN_FIX};
use ocsp_responder::setup::{self, BuildOptions, Built};
use ocsp_responder::source::SourceError;
use ocsp_status::SharedClock;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use test_support::prelude::*;
use x509_cert::der::DecodePem;
use x509_cert::Certificate;

/// The PKI every test here shares, with the responder pairs they swap in.
struct Fixture {
    pki: Pki,
    /// A foreign CA's responder (not issued by `pki`'s CA).
    other: Pki,
    good: PathBuf,
    r1: SignerFiles,
    r2: SignerFiles,
    /// Valid for two hours from when the fixture was made.
    short: SignerFiles,
    /// Valid from one day after the fixture was made.
    next: SignerFiles,
    expired: SignerFiles,
    noeku: SignerFiles,
    foreign: SignerFiles,
    made_at: u64,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = Pki::with(
            "roll",
            PkiOptions {
                ca_key: KeyAlg::P256,
                seed_responder: false,
                ..PkiOptions::default()
            },
        );
        let good = pki.issue("good");
        let now = unix_now();
        let r1 = pki.issue_responder("r1", KeyAlg::P256, "v3_ocsp_nocheck");
        let r2 = pki.issue_responder("r2", KeyAlg::P256, "v3_ocsp_nocheck");
        let short = pki.issue_responder_with(
            "short",
            KeyAlg::P256,
            "v3_ocsp_nocheck",
            &["-enddate", &openssl_date(now + 7200)],
        );
        let next = pki.issue_responder_with(
            "next",
            KeyAlg::P256,
            "v3_ocsp_nocheck",
            &[
                "-startdate",
                &openssl_date(now + 86_400),
                "-enddate",
                &openssl_date(now + 200 * 86_400),
            ],
        );
        let expired = pki.issue_responder_with(
            "expired",
            KeyAlg::P256,
            "v3_ocsp_nocheck",
            &[
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20210101000000Z",
            ],
        );
        let noeku = pki.issue_responder("noeku", KeyAlg::P256, "v3_noeku");
        let other = Pki::with(
            "roll-other",
            PkiOptions {
                ca_key: KeyAlg::P256,
                seed_responder: false,
                ..PkiOptions::default()
            },
        );
        let foreign = other.issue_responder("foreign", KeyAlg::P256, "v3_ocsp_nocheck");
        Fixture {
            pki,
            other,
            good,
            r1,
            r2,
            short,
            next,
            expired,
            noeku,
            foreign,
            made_at: now,
        }
    })
}

/// A clock the test sets.
fn manual_clock(at: u64) -> (Arc<AtomicU64>, SharedClock) {
    let t = Arc::new(AtomicU64::new(at));
    let t2 = t.clone();
    (t, Arc::new(move || Timestamp(t2.load(Ordering::SeqCst))))
}

/// One responder built from a configuration whose `rsigner`/`rkey` are copies in `live`
/// (the test overwrites them), with `extra` lines in the `[[issuer]]` table.
struct World {
    dir: tempfile::TempDir,
    cfg: Config,
    built: Built,
    rollover: Rollover,
    clock: Arc<AtomicU64>,
    request: ParsedRequest,
}

impl World {
    fn new(profile: &str, start: &SignerFiles, extra: &str) -> World {
        let f = fixture();
        let dir = tempfile::tempdir_in(f.pki.path()).unwrap();
        let w_cert = dir.path().join("responder.crt");
        let w_key = dir.path().join("responder.key");
        std::fs::copy(&start.cert, &w_cert).unwrap();
        std::fs::copy(&start.key, &w_key).unwrap();
        let text = format!(
            "profile = {profile:?}\n[[issuer]]\nname = \"roll\"\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n{extra}\n",
            p(&f.pki.cacert),
            p(&f.pki.index),
            p(&w_cert),
            p(&w_key),
            f.pki.passin(),
        );
        let path = dir.path().join("ocsp.toml");
        std::fs::write(&path, &text).unwrap();
        let cfg = Config::from_toml(&text, &path).unwrap();
        let (clock, shared) = manual_clock(unix_now());
        let prompt = ocsp_signer::no_prompt;
        let mut opts = BuildOptions::new(&prompt);
        opts.clock = shared.clone();
        let built = setup::build(&cfg, &opts).unwrap();
        let rollover = Rollover::new(&cfg, &built.issuers, shared).unwrap();
        let der = f.pki.request_der(&["-cert", p(&f.good), "-no_nonce"]);
        let request = parse_request(&der, &RequestLimits::default()).unwrap();
        World {
            dir,
            cfg,
            built,
            rollover,
            clock,
            request,
        }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path().join("responder.crt")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("responder.key")
    }

    /// Put `cert` and `key` where the configuration points (atomically, as an operator
    /// would with `mv`).
    fn install(&self, cert: &Path, key: &Path) {
        replace_file(&self.cert_path(), &std::fs::read(cert).unwrap());
        replace_file(&self.key_path(), &std::fs::read(key).unwrap());
    }

    fn set_time(&self, t: u64) {
        self.clock.store(t, Ordering::SeqCst);
    }

    fn epoch(&self) -> u64 {
        self.built.issuers.iter().next().unwrap().responder.epoch()
    }

    async fn answer(&self) -> Arc<ocsp_responder::source::Answer> {
        self.built.source.response(&self.request).await.unwrap()
    }
}

fn cert_of(files: &SignerFiles) -> Certificate {
    let pem = std::fs::read_to_string(&files.cert).unwrap();
    let start = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
    Certificate::from_pem(&pem.as_bytes()[start..]).unwrap()
}

/// Whether `der` is a successful answer whose signature verifies with `files`' certificate.
fn signed_with(der: &[u8], files: &SignerFiles) -> bool {
    let Ok(ParsedResponse::Basic { basic, tbs_der }) = parse_response(der) else {
        return false;
    };
    let cert = cert_of(files);
    ocsp_proto::sigalg::verify(
        &basic.signature_algorithm,
        &cert.tbs_certificate.subject_public_key_info,
        &tbs_der,
        basic.signature.raw_bytes(),
    )
    .is_ok()
}

/// `openssl ocsp -respin` accepts `der` with `files`' certificate as the responder
/// (`-VAfile`), at the real time.
fn openssl_accepts(der: &[u8], files: &SignerFiles) -> bool {
    let f = fixture();
    let resp = tempfile::NamedTempFile::new_in(f.pki.path()).unwrap();
    std::fs::write(resp.path(), der).unwrap();
    let q = f.pki.verify_respin(
        resp.path(),
        &["-VAfile", p(&files.cert), "-cert", p(&f.good)],
    );
    let ok = q.status.success()
        && q.stderr.contains("Response verify OK")
        && q.stdout.contains(": good");
    if !ok {
        eprintln!("openssl refused the answer:\n{}", q.all());
    }
    ok
}

#[tokio::test]
async fn reload_refuses_bad_pairs_and_keeps_the_pair_in_force() {
    let f = fixture();
    let w = World::new("cabf", &f.r1, "");
    let before = w.epoch();
    assert!(signed_with(&w.answer().await.der, &f.r1));
    let bad: [(&str, &Path, &Path, &str); 4] = [
        // The certificate of r2 with the key of r1.
        (
            "wrong key",
            &f.r2.cert,
            &f.r1.key,
            "does not match the certificate",
        ),
        ("expired", &f.expired.cert, &f.expired.key, "not valid now"),
        (
            "not issued by the CA",
            &f.foreign.cert,
            &f.foreign.key,
            "not issued by the CA",
        ),
        (
            "no OCSPSigning",
            &f.noeku.cert,
            &f.noeku.key,
            "lacks the OCSPSigning extended key usage",
        ),
    ];
    for (what, cert, key, says) in bad {
        w.install(cert, key);
        let out = w.rollover.reload();
        assert_eq!(out.len(), 1, "{what}");
        assert_eq!(out[0].result, "failed", "{what}: {out:?}");
        assert!(!out[0].switched, "{what}");
        let err = out[0].errors.join("\n");
        assert!(err.contains(says), "{what}: {err}");
        assert!(
            err.contains(p(&w.cert_path())) || err.contains(p(&w.key_path())),
            "{what}: the error names the file: {err}"
        );
        assert_eq!(w.epoch(), before, "{what}: the pair in force stays");
        let a = w.answer().await;
        assert!(signed_with(&a.der, &f.r1), "{what}: still signed by r1");
    }
    // A good pair: put in force; the next reload of the same files changes nothing.
    w.install(&f.r2.cert, &f.r2.key);
    let out = w.rollover.reload();
    assert_eq!(
        (out[0].result, out[0].switched),
        ("ok", true),
        "{:?}",
        out[0]
    );
    assert_ne!(w.epoch(), before);
    let out = w.rollover.reload();
    assert_eq!(
        (out[0].result, out[0].switched),
        ("unchanged", false),
        "{:?}",
        out[0]
    );
    let cache = w.built.cache.as_ref().unwrap();
    cache.resign_superseded().await;
    let a = w.answer().await;
    assert!(signed_with(&a.der, &f.r2), "answers name the new pair");
    assert!(openssl_accepts(&a.der, &f.r2));
    let _ = &f.other;
}

#[tokio::test]
async fn an_encrypted_key_without_passin_is_refused_on_reload() {
    let f = fixture();
    // Start with a plain key and no passin; then an encrypted key arrives.
    let dir = tempfile::tempdir_in(f.pki.path()).unwrap();
    let plain = dir.path().join("r1.plain.key");
    openssl(
        f.pki.path(),
        &[
            "pkey",
            "-in",
            p(&f.r1.key),
            "-passin",
            &f.pki.passin(),
            "-out",
            p(&plain),
        ],
    );
    let w = World::new(
        "private",
        &SignerFiles {
            cert: f.r1.cert.clone(),
            key: plain,
        },
        "",
    );
    let mut cfg = w.cfg.clone();
    cfg.issuers[0].passin = None;
    let shared: SharedClock = ocsp_responder::clock::system();
    let rollover = Rollover::new(&cfg, &w.built.issuers, shared).unwrap();
    w.install(&f.r2.cert, &f.r2.key);
    let out = rollover.reload();
    assert_eq!(out[0].result, "failed", "{out:?}");
    let err = out[0].errors.join("\n");
    assert!(err.contains(RELOAD_PASSIN_FIX), "{err}");
    assert!(err.contains(p(&w.key_path())), "{err}");
    assert!(signed_with(&w.answer().await.der, &f.r1));
}

#[tokio::test]
async fn the_cache_follows_a_swap_and_never_serves_past_the_signers_not_after() {
    let f = fixture();
    let w = World::new("private", &f.short, "");
    let short_not_after =
        Timestamp::from_x509(&cert_of(&f.short).tbs_certificate.validity.not_after);
    // Answers under `short` end at its notAfter (validity 1 day, certificate 2 hours).
    let a = w.answer().await;
    assert!(signed_with(&a.der, &f.short));
    assert_eq!(a.next_update, short_not_after, "nextUpdate clamped");
    assert!(openssl_accepts(&a.der, &f.short));

    // Swap to r2: the cached answer is still served (valid), and the sweep re-signs it.
    w.install(&f.r2.cert, &f.r2.key);
    assert!(w.rollover.reload()[0].switched);
    let cache = w.built.cache.as_ref().unwrap();
    let r = cache.resign_superseded().await;
    assert_eq!((r.found, r.resigned, r.failed), (1, 1, 0), "{r:?}");
    let a = w.answer().await;
    assert!(signed_with(&a.der, &f.r2), "re-signed by the pair in force");
    assert!(a.next_update > short_not_after);

    // Swap back to `short`; a hit serves the superseded answer and re-signs it behind.
    w.install(&f.short.cert, &f.short.key);
    assert!(w.rollover.reload()[0].switched);
    let first = w.answer().await;
    assert!(signed_with(&first.der, &f.r2), "served while re-signed");
    let mut switched = false;
    for _ in 0..200 {
        if signed_with(&w.answer().await.der, &f.short) {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        switched,
        "a hit re-signs a superseded answer in the background"
    );

    // At the certificate's notAfter nothing it signed is served: the cached answer has
    // expired with it, and a fresh one under it is refused before signing (nextUpdate
    // would not be after thisUpdate), never served.
    w.set_time(short_not_after.0);
    let res = w.built.source.response(&w.request).await;
    assert!(
        matches!(res, Err(SourceError::Internal(ref e)) if e.contains("refused to sign")),
        "{:?}",
        res.map(|a| a.next_update)
    );
    // Swap to r2 with the clock there: every answer now is r2's.
    w.install(&f.r2.cert, &f.r2.key);
    let out = w.rollover.reload();
    assert_eq!(out[0].result, "ok", "{out:?}");
    let a = w.answer().await;
    assert!(signed_with(&a.der, &f.r2));
    assert!(a.next_update > short_not_after);
}

#[tokio::test]
async fn a_next_pair_takes_over_at_its_not_before() {
    let f = fixture();
    let extra = format!(
        "rsigner_next = {:?}\nrkey_next = {:?}\n",
        p(&f.next.cert),
        p(&f.next.key)
    );
    let w = World::new("cabf", &f.r1, &extra);
    let not_before = Timestamp::from_x509(&cert_of(&f.next).tbs_certificate.validity.not_before);
    assert!(not_before.0 >= f.made_at + 86_400);
    let (_, pending) = w.rollover.status("roll").unwrap();
    assert_eq!(pending, Some(not_before), "validated at start, pending");
    assert!(!w.rollover.tick());
    // An answer cached just before the switch, signed by the pair in force.
    w.set_time(not_before.0 - 1);
    assert!(signed_with(&w.answer().await.der, &f.r1));
    assert!(!w.rollover.tick(), "not a second early");
    w.set_time(not_before.0);
    assert!(w.rollover.tick(), "takes over at notBefore");
    assert!(!w.rollover.tick(), "once");
    let (not_after, pending) = w.rollover.status("roll").unwrap();
    assert_eq!(pending, None);
    assert_eq!(
        not_after,
        Timestamp::from_x509(&cert_of(&f.next).tbs_certificate.validity.not_after)
    );
    let r = w.built.cache.as_ref().unwrap().resign_superseded().await;
    assert_eq!((r.found, r.resigned), (1, 1), "{r:?}");
    let a = w.answer().await;
    assert!(signed_with(&a.der, &f.next), "signed by the next pair");
    // A reload with unchanged files keeps the next pair in force.
    let out = w.rollover.reload();
    assert_eq!(
        (out[0].result, out[0].switched),
        ("unchanged", false),
        "{out:?}"
    );
    assert!(signed_with(&w.answer().await.der, &f.next));
}

#[tokio::test]
async fn a_bad_next_pair_is_refused_at_start() {
    let f = fixture();
    let w = World::new("cabf", &f.r1, "");
    let mut cfg = w.cfg.clone();
    cfg.issuers[0].rsigner_next = Some(f.noeku.cert.clone());
    cfg.issuers[0].rkey_next = Some(f.noeku.key.clone());
    let err = Rollover::new(&cfg, &w.built.issuers, ocsp_responder::clock::system())
        .unwrap_err()
        .to_string();
    assert!(err.contains(p(&f.noeku.cert)), "{err}");
    assert!(err.contains("OCSPSigning"), "{err}");
}
