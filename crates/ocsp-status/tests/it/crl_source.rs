//! The CRL status source against real peers: CRLs written by `openssl ca -gencrl` (v1
//! and v2, PEM and DER), delta CRLs written by Python `cryptography`, fetched from files
//! and from an HTTP server that can fail, stall, serve a damaged signature or an older
//! CRL number.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ocsp_proto::crl::{self, CrlLimits};
use ocsp_proto::{CertStatus, RevocationReason, Serial, Timestamp};
use ocsp_status::config::OpenOptions;
use ocsp_status::crl::config::{CrlConfig, IssuedConfig};
use ocsp_status::crl::CrlSource;
use ocsp_status::{Clock, StatusError, StatusSource};
use test_support::crl::{gencrl, python_delta, to_der};
use test_support::crl_server::{Behaviour, CrlServer};
use test_support::pki::{KeyAlg, Pki, PkiOptions};

/// An EC CA with plain keys and four leaves: `a` revoked (keyCompromise), `b` on hold,
/// `c` revoked without a reason, `d` good.
fn pki() -> Pki {
    let pki = Pki::with(
        "crlsrc",
        PkiOptions {
            ca_key: KeyAlg::P256,
            encrypt_keys: false,
            seed_responder: false,
            ..PkiOptions::default()
        },
    );
    for cn in ["a", "b", "c", "d"] {
        pki.issue(cn);
    }
    pki.revoke(&pki.cert("a"), &["-crl_reason", "keyCompromise"]);
    pki.revoke(&pki.cert("b"), &["-crl_hold", "holdInstructionCallIssuer"]);
    pki.revoke(&pki.cert("c"), &[]);
    pki
}

fn serial(pki: &Pki, cn: &str) -> Serial {
    Serial::from_hex(&pki.serial(&pki.cert(cn))).unwrap()
}

fn config(pki: &Pki, locations: Vec<String>, issued: Option<&Path>) -> CrlConfig {
    let mut c = CrlConfig::new(locations);
    c.ca = Some(pki.cacert.clone());
    c.issued = issued.map(|p| IssuedConfig::Path(p.to_path_buf()));
    c.connect_timeout_ms = Some(1_000);
    c.read_timeout_ms = Some(700);
    c
}

fn open(c: &CrlConfig) -> Arc<CrlSource> {
    CrlSource::open(c, &OpenOptions::default()).unwrap()
}

async fn status(src: &CrlSource, s: &Serial) -> Option<CertStatus> {
    src.status(s).await.unwrap().status
}

fn reason(s: Option<CertStatus>) -> Option<Option<RevocationReason>> {
    match s {
        Some(CertStatus::Revoked(r)) => Some(r.reason),
        _ => None,
    }
}

fn meta(bytes: &[u8]) -> crl::CrlMeta {
    let der = crl::decode(bytes, &CrlLimits::default()).unwrap();
    crl::parse(&der, &CrlLimits::default()).unwrap().meta()
}

#[tokio::test]
async fn openssl_crls_v1_and_v2_pem_and_der() {
    let pki = pki();
    let unissued = Serial::from_hex("4242").unwrap();
    // v1 (no crlnumber: openssl writes no extension and no version), PEM.
    let v1 = gencrl(&pki, None, 24, "v1.pem");
    let src = open(&config(
        &pki,
        vec![v1.display().to_string()],
        Some(&pki.index),
    ));
    let m = meta(&std::fs::read(&v1).unwrap());
    assert_eq!(m.crl_number, None, "a v1 CRL");
    let l = src.status(&serial(&pki, "a")).await.unwrap();
    let period = l.period.unwrap();
    assert_eq!(period.this_update, m.this_update);
    assert_eq!(Some(period.next_update), m.next_update);
    assert!(matches!(l.status, Some(CertStatus::Revoked(_))));
    assert_eq!(
        status(&src, &serial(&pki, "d")).await,
        Some(CertStatus::Good)
    );
    assert_eq!(
        status(&src, &unissued).await,
        None,
        "never issued: no record"
    );

    // v2, DER, file: URL: reasons, hold instruction.
    let v2 = gencrl(&pki, Some(0x10), 24, "v2.pem");
    let der_path = pki.dir.join("v2.der");
    std::fs::write(&der_path, to_der(&pki, &v2)).unwrap();
    let src = open(&config(
        &pki,
        vec![format!("file://{}", der_path.display())],
        Some(&pki.index),
    ));
    assert_eq!(
        reason(status(&src, &serial(&pki, "a")).await),
        Some(Some(RevocationReason::KeyCompromise))
    );
    match status(&src, &serial(&pki, "b")).await {
        Some(CertStatus::Revoked(r)) => {
            assert_eq!(r.reason, Some(RevocationReason::CertificateHold));
            assert!(r.hold_instruction.is_some());
        }
        other => panic!("b: {other:?}"),
    }
    assert!(matches!(
        reason(status(&src, &serial(&pki, "c")).await),
        Some(None | Some(RevocationReason::Unspecified))
    ));
    assert_eq!(
        status(&src, &serial(&pki, "d")).await,
        Some(CertStatus::Good)
    );
    assert_eq!(status(&src, &unissued).await, None);
    let r = src.report().unwrap();
    assert_eq!((r.kind, r.revoked, r.ok()), ("crl", 3, true), "{r:?}");

    // Without an issued list, a serial not on the CRL is good (what the private profile
    // allows); with a certificate directory, unknown again.
    let src = open(&config(&pki, vec![der_path.display().to_string()], None));
    assert_eq!(status(&src, &unissued).await, Some(CertStatus::Good));
    let src = open(&config(
        &pki,
        vec![der_path.display().to_string()],
        Some(&pki.dir.join("certs")),
    ));
    assert_eq!(
        status(&src, &serial(&pki, "d")).await,
        Some(CertStatus::Good)
    );
    assert_eq!(status(&src, &unissued).await, None);

    // A CRL of another CA is refused at start, naming the reason.
    let other = Pki::with(
        "crlother",
        PkiOptions {
            ca_key: KeyAlg::P256,
            encrypt_keys: false,
            seed_responder: false,
            ..PkiOptions::default()
        },
    );
    let foreign = gencrl(&other, Some(1), 24, "foreign.pem");
    let err = CrlSource::open(
        &config(&pki, vec![foreign.display().to_string()], None),
        &OpenOptions::default(),
    )
    .err()
    .unwrap();
    assert!(err.contains("issuer"), "{err}");
}

#[tokio::test]
async fn http_refresh_is_conditional_and_keeps_the_last_good_crl() {
    let pki = pki();
    let server = CrlServer::start();
    let v2 = gencrl(&pki, Some(0x10), 24, "v2.pem");
    let good = to_der(&pki, &v2);
    server.put("/ca.crl", &good);
    let src = open(&config(&pki, vec![server.url("/ca.crl")], Some(&pki.index)));
    let mut changes = src.changes().unwrap();
    let g1 = src.generation().await.unwrap();
    let d = serial(&pki, "d");
    assert_eq!(status(&src, &d).await, Some(CertStatus::Good));

    // Unchanged: a conditional GET answered 304, same generation.
    assert_eq!(src.reload().await.unwrap(), g1);
    let last = server.requests().pop().unwrap();
    assert_eq!(last.status, 304, "{last:?}");
    assert!(last.if_none_match.is_some());

    // A damaged signature, a failing server, a stalled one, an older CRL number: each is
    // refused and reported; the last good CRL keeps answering.
    let mut bad = good.clone();
    let n = bad.len() - 4;
    bad[n] ^= 0x01;
    server.put("/ca.crl", &bad);
    let e = src.reload().await.unwrap_err().to_string();
    assert!(e.contains("refused"), "{e}");
    server.behave("/ca.crl", Behaviour::Fail(500));
    let e = src.reload().await.unwrap_err().to_string();
    assert!(e.contains("HTTP 500"), "{e}");
    server.behave("/ca.crl", Behaviour::Stall);
    let e = src.reload().await.unwrap_err().to_string();
    assert!(e.contains("read_timeout_ms"), "{e}");
    pki.revoke(&pki.cert("d"), &["-crl_reason", "superseded"]);
    let older = gencrl(&pki, Some(0x0F), 24, "older.pem");
    server.put("/ca.crl", &to_der(&pki, &older));
    let e = src.reload().await.unwrap_err().to_string();
    assert!(e.contains("older"), "{e}");
    assert_eq!(status(&src, &d).await, Some(CertStatus::Good));
    // (The generation moved only because the issued list, index.txt, changed.)
    assert_eq!(src.generation().await.unwrap(), g1 + 1);
    let r = src.report().unwrap();
    assert!(!r.ok() && r.failures == 4 && r.reloads == 1, "{r:?}");
    assert!(changes.try_recv().is_err(), "nothing changed");

    // A newer CRL is taken.
    let newer = gencrl(&pki, Some(0x11), 24, "newer.pem");
    server.put("/ca.crl", &std::fs::read(&newer).unwrap());
    let g2 = src
        .reload()
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", server.requests()));
    assert!(g2 > g1);
    assert_eq!(
        reason(status(&src, &d).await),
        Some(Some(RevocationReason::Superseded))
    );
    assert_eq!(changes.try_recv().unwrap().generation(), g2);
    assert!(src.report().unwrap().ok());
}

#[tokio::test]
async fn delta_crls_apply_and_remove_from_crl_releases_a_hold() {
    let pki = pki();
    let base = gencrl(&pki, Some(0x20), 24, "base.pem");
    let (b, d) = (serial(&pki, "b"), serial(&pki, "d"));
    let delta = python_delta(
        &pki,
        0x20,
        0x21,
        12,
        &[
            (&b.to_hex(), "removeFromCRL"),
            (&d.to_hex(), "keyCompromise"),
        ],
        "delta.der",
    );
    let delta_path = pki.dir.join("delta.der");
    let src = open(&config(
        &pki,
        vec![base.display().to_string(), delta_path.display().to_string()],
        Some(&pki.index),
    ));
    assert_eq!(status(&src, &b).await, Some(CertStatus::Good), "un-held");
    assert_eq!(
        reason(status(&src, &d).await),
        Some(Some(RevocationReason::KeyCompromise))
    );
    assert_eq!(
        reason(status(&src, &serial(&pki, "a")).await),
        Some(Some(RevocationReason::KeyCompromise))
    );
    let p = src.status(&d).await.unwrap().period.unwrap();
    let dm = meta(&delta);
    assert_eq!(
        p.next_update,
        dm.next_update.unwrap(),
        "the delta's earlier nextUpdate bounds answers"
    );
    assert!(src.describe().contains("delta 33"), "{}", src.describe());

    // A delta for a newer base than the one served is not used; the served pair stays.
    python_delta(&pki, 0x30, 0x31, 12, &[], "delta.der");
    let e = src.reload().await.unwrap_err().to_string();
    assert!(e.contains("base"), "{e}");
    assert_eq!(status(&src, &b).await, Some(CertStatus::Good));
}

struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn past_next_update_is_unavailable_never_stale() {
    let pki = pki();
    let v2 = gencrl(&pki, Some(1), 1, "short.pem");
    let next = meta(&std::fs::read(&v2).unwrap()).next_update.unwrap();
    let clock = Arc::new(TestClock(AtomicU64::new(next.0 - 1_800)));
    let opts = OpenOptions {
        clock: clock.clone(),
        ..OpenOptions::default()
    };
    let c = config(&pki, vec![v2.display().to_string()], Some(&pki.index));
    let src = CrlSource::open(&c, &opts).unwrap();
    assert!(src.generation().await.is_ok());
    clock.0.store(next.0, Ordering::SeqCst);
    assert!(matches!(
        src.status(&serial(&pki, "a")).await,
        Err(StatusError::Unavailable(_))
    ));
    let e = src.generation().await.unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");
    assert!(src.report().unwrap().error.is_some());
    // Opening on an expired CRL fails.
    let e = CrlSource::open(&c, &opts).err().unwrap();
    assert!(e.contains("expired"), "{e}");
}
