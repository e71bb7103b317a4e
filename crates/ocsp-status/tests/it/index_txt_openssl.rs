//! What `openssl ca` really writes to index.txt, read by our parser and source.
//!
//! Builds a throwaway CA in a temp dir with the real `openssl` binary, issues and revokes
//! certificates with every revocation option `openssl ca` has, and checks that each line
//! parses to the right status, prints back byte for byte, and that a lookup made after
//! each `openssl ca -revoke` returns sees the revocation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_proto::const_oid::ObjectIdentifier;
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Serial, Timestamp};
use ocsp_status::index_txt::{parse, IndexFlag, IndexTxtSource};
use ocsp_status::StatusSource;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use test_support::openssl::openssl_stdout as openssl;
use test_support::pki::{KeyAlg, Pki, PkiOptions};

/// A throwaway CA (P-256, unencrypted keys, no responder) with a `-gencrl`-ready config.
struct Ca {
    pki: Pki,
}

impl Ca {
    fn new() -> Ca {
        Ca {
            pki: Pki::with(
                "index",
                PkiOptions {
                    ca_key: KeyAlg::P256,
                    encrypt_keys: false,
                    seed_responder: false,
                    ..PkiOptions::default()
                },
            ),
        }
    }

    fn path(&self) -> &Path {
        self.pki.path()
    }

    fn index(&self) -> PathBuf {
        self.pki.index.clone()
    }

    fn ca(&self, args: &[&str]) -> String {
        let mut all = vec!["-batch"];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&self.pki.ca(&all).stdout).into_owned()
    }

    /// Issue a leaf; returns its path and serial.
    fn issue(&self, name: &str, extra: &[&str]) -> (String, Serial) {
        let pem = self.pki.issue_with(name, "usr_cert", extra);
        let hex = self.pki.serial(&pem);
        (pem.display().to_string(), Serial::from_hex(&hex).unwrap())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn revocation(status: Option<CertStatus>) -> Revocation {
    match status {
        Some(CertStatus::Revoked(r)) => r,
        other => panic!("expected revoked, got {other:?}"),
    }
}

/// `openssl crl -text`, from "Revoked Certificates" on (dates of the CRL itself dropped).
fn revoked_section(crl_text: &str) -> String {
    let start = crl_text
        .find("Revoked Certificates")
        .expect("no revoked certificates in the CRL");
    let end = crl_text[start..]
        .find("Signature Algorithm")
        .map_or(crl_text.len(), |e| start + e);
    crl_text[start..end].to_string()
}

#[tokio::test]
async fn what_openssl_ca_writes() {
    let ca = Ca::new();
    let started = now();
    let (key_pem, key_serial) = ca.issue("keycomp", &[]);
    let (kt_pem, kt_serial) = ca.issue("keytime", &[]);
    let (cat_pem, cat_serial) = ca.issue("catime", &[]);
    let (hold_pem, hold_serial) = ca.issue("hold", &[]);
    let (plain_pem, plain_serial) = ca.issue("plain", &[]);
    let (sup_pem, sup_serial) = ca.issue("superseded", &[]);
    let (_, good_serial) = ca.issue("good2051", &["-enddate", "20510101000000Z"]);
    let (_, expired_serial) = ca.issue(
        "expired",
        &["-startdate", "200101000000Z", "-enddate", "200201000000Z"],
    );
    // Marks the expired certificate E.
    ca.ca(&["-updatedb"]);

    // Serve the index before the revocations: each one must show on the next lookup.
    let src = IndexTxtSource::open(&ca.index()).unwrap();
    for s in [&key_serial, &kt_serial, &good_serial, &expired_serial] {
        assert_eq!(src.status(s).await.unwrap().status, Some(CertStatus::Good));
    }
    let revocations: [(&str, &Serial, &[&str]); 6] = [
        (&key_pem, &key_serial, &["-crl_reason", "keyCompromise"]),
        (&kt_pem, &kt_serial, &["-crl_compromise", "20240101000000Z"]),
        (
            &cat_pem,
            &cat_serial,
            &["-crl_CA_compromise", "20230601120000Z"],
        ),
        (
            &hold_pem,
            &hold_serial,
            &["-crl_hold", "holdInstructionReject"],
        ),
        (&plain_pem, &plain_serial, &[]),
        (&sup_pem, &sup_serial, &["-crl_reason", "SUPERSEDED"]),
    ];
    for (pem, serial, how) in revocations {
        let before = src.status(serial).await.unwrap();
        let mut args = vec!["-revoke", pem];
        args.extend_from_slice(how);
        ca.ca(&args);
        let after = src.status(serial).await.unwrap();
        assert!(
            matches!(after.status, Some(CertStatus::Revoked(_))),
            "{how:?}: not revoked right after openssl ca -revoke: {after:?}"
        );
        assert!(after.generation > before.generation);
    }
    let done = now();

    let in_window = |r: &Revocation| {
        assert!(
            (started - 1..=done + 1).contains(&r.time.0),
            "revocation time {} outside {started}..{done}",
            r.time
        );
    };
    let st = |s: &Serial| src.snapshot().get(s);

    let r = revocation(st(&key_serial));
    in_window(&r);
    assert_eq!(r.reason, Some(RevocationReason::KeyCompromise));
    assert_eq!((r.invalidity_date, r.hold_instruction), (None, None));

    let r = revocation(st(&kt_serial));
    in_window(&r);
    assert_eq!(r.reason, Some(RevocationReason::KeyCompromise));
    assert_eq!(r.invalidity_date, Some(Timestamp(1_704_067_200))); // 2024-01-01

    let r = revocation(st(&cat_serial));
    assert_eq!(r.reason, Some(RevocationReason::CaCompromise));
    assert_eq!(r.invalidity_date, Some(Timestamp(1_685_620_800))); // 2023-06-01T12:00Z

    let r = revocation(st(&hold_serial));
    assert_eq!(r.reason, Some(RevocationReason::CertificateHold));
    assert_eq!(
        r.hold_instruction,
        Some(ObjectIdentifier::new("1.2.840.10040.2.3").unwrap())
    );

    let r = revocation(st(&plain_serial));
    in_window(&r);
    assert_eq!(r.reason, None);

    assert_eq!(
        revocation(st(&sup_serial)).reason,
        Some(RevocationReason::Superseded)
    );
    assert_eq!(st(&good_serial), Some(CertStatus::Good));
    assert_eq!(st(&expired_serial), Some(CertStatus::Good));
    assert_eq!(st(&Serial::from_hex("0FFF").unwrap()), None);

    // The pure parser agrees, and prints every line back exactly as openssl wrote it.
    let text = std::fs::read_to_string(ca.index()).unwrap();
    let entries = parse(text.as_bytes(), &ca.index()).unwrap();
    assert_eq!(entries.len(), 8);
    for (e, line) in entries.iter().zip(text.lines()) {
        assert_eq!(e.to_line(), line);
        assert_eq!(Some(e.status()), st(&e.serial));
    }
    let by_serial = |s: &Serial| entries.iter().find(|e| &e.serial == s).unwrap();
    assert_eq!(by_serial(&expired_serial).flag, IndexFlag::Expired);
    assert_eq!(by_serial(&expired_serial).expires, Timestamp(1_580_515_200)); // 2020-02-01
    assert_eq!(by_serial(&good_serial).flag, IndexFlag::Valid);
    assert_eq!(by_serial(&good_serial).expires, Timestamp(2_556_144_000)); // 2051-01-01
    assert_eq!(by_serial(&key_serial).flag, IndexFlag::Revoked);
    assert_eq!(by_serial(&hold_serial).subject, "/CN=hold");

    // openssl reads what to_line() prints: a CRL made from our re-printed index lists the
    // same revocations as one made from the original.
    let crl_of = |name: &str| {
        ca.ca(&["-gencrl", "-out", name]);
        openssl(ca.path(), &["crl", "-noout", "-text", "-in", name])
    };
    let original = revoked_section(&crl_of("a.crl"));
    let reprinted: String = entries.iter().map(|e| e.to_line() + "\n").collect();
    std::fs::write(ca.index(), reprinted).unwrap();
    let ours = revoked_section(&crl_of("b.crl"));
    assert_eq!(original, ours);
    for want in [
        "Key Compromise",
        "CA Compromise",
        "Certificate Hold",
        "Hold Instruction Reject",
        "Invalidity Date",
        "Superseded",
    ] {
        assert!(ours.contains(want), "{want} missing from\n{ours}");
    }
}
