//! Test doubles for the source tests: an in-memory [`StatusSource`] whose generation the
//! test bumps, a counting P-256 [`Signer`] that can be slowed down, and a CA made with
//! rcgen at test time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::live::LiveSource;
use super::signing::SigningPool;
use crate::issuer::{Issuer, IssuerSet, Responder, ResponderSlot, UnknownSerial};
use async_trait::async_trait;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use der::{Decode, Encode};
use ocsp_proto::request::{self, ParsedRequest, RequestLimits};
use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::x509_ocsp::BasicOcspResponse;
use ocsp_proto::{
    cert_id, CertStatus, HashAlg, IssuerIdentity, Revocation, RevocationReason, Serial, Timestamp,
};
use ocsp_status::{
    Change, Changes, Lookup, SharedClock, SourceReport, StatusEntry, StatusError, StatusSource,
};
use spki::AlgorithmIdentifierOwned;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use x509_cert::Certificate;

/// A revocation for fixtures.
pub fn revoked() -> CertStatus {
    let mut r = Revocation::at(Timestamp(1_700_000_000));
    r.reason = Some(RevocationReason::KeyCompromise);
    CertStatus::Revoked(r)
}

/// Statuses in memory; every change bumps the generation.
#[derive(Default)]
pub struct MemSource {
    state: Mutex<(HashMap<Serial, CertStatus>, u64)>,
    pub lookups: AtomicU64,
    pub generations: AtomicU64,
    /// Per-serial change notifications, when made with [`MemSource::with_changes`].
    changes: Option<tokio::sync::broadcast::Sender<Change>>,
}

impl MemSource {
    pub fn new(entries: &[(&str, Option<CertStatus>)]) -> Arc<MemSource> {
        let m = MemSource::default();
        {
            let mut s = m.state.lock().unwrap();
            s.1 = 1;
            for (hex, st) in entries {
                if let Some(st) = st {
                    s.0.insert(Serial::from_hex(hex).unwrap(), st.clone());
                }
            }
        }
        Arc::new(m)
    }

    /// [`MemSource::new`] that also names the serials each change touched
    /// ([`StatusSource::changes`]), as a database source does.
    pub fn with_changes(entries: &[(&str, Option<CertStatus>)]) -> Arc<MemSource> {
        let mut m = Arc::into_inner(MemSource::new(entries)).unwrap();
        m.changes = Some(tokio::sync::broadcast::channel(16).0);
        Arc::new(m)
    }

    /// Set (or remove, with `None`) a status: a new snapshot.
    pub fn set(&self, hex: &str, status: Option<CertStatus>) {
        let mut s = self.state.lock().unwrap();
        let serial = Serial::from_hex(hex).unwrap();
        match status {
            Some(st) => s.0.insert(serial.clone(), st),
            None => s.0.remove(&serial),
        };
        s.1 += 1;
        self.send(Change::Serials {
            generation: s.1,
            serials: vec![serial].into(),
        });
    }

    /// A new snapshot with the same content (a reload of an unchanged file).
    pub fn bump(&self) {
        let mut s = self.state.lock().unwrap();
        s.1 += 1;
        self.send(Change::Serials {
            generation: s.1,
            serials: Vec::new().into(),
        });
    }

    /// A new snapshot with the same content announced as "anything may have changed"
    /// (a restore).
    pub fn restore(&self) {
        let mut s = self.state.lock().unwrap();
        s.1 += 1;
        self.send(Change::All { generation: s.1 });
    }

    fn send(&self, change: Change) {
        if let Some(tx) = &self.changes {
            let _ = tx.send(change);
        }
    }
}

#[async_trait]
impl StatusSource for MemSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let s = self.state.lock().unwrap();
        Ok(Lookup {
            status: s.0.get(serial).cloned(),
            generation: s.1,
            period: None,
        })
    }
    async fn generation(&self) -> Result<u64, StatusError> {
        self.generations.fetch_add(1, Ordering::Relaxed);
        Ok(self.state.lock().unwrap().1)
    }
    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        let (entries, generation) = {
            let s = self.state.lock().unwrap();
            let mut e: Vec<_> = s.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            e.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            (e, s.1)
        };
        for (serial, status) in entries {
            visit(StatusEntry {
                serial,
                status,
                expires: None,
            });
        }
        Ok(generation)
    }
    fn changes(&self) -> Option<Changes> {
        self.changes.as_ref().map(|tx| tx.subscribe())
    }
    fn report(&self) -> Option<SourceReport> {
        let s = self.state.lock().unwrap();
        Some(SourceReport {
            kind: "memory",
            location: String::new(),
            generation: s.1,
            entries: s.0.len() as u64,
            revoked: 0,
            attempted_at: Timestamp(0),
            took: std::time::Duration::ZERO,
            error: None,
            loaded_at: Timestamp(0),
            reloads: 1,
            failures: 0,
        })
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// A P-256 signer that counts its signatures and can be slowed down.
pub struct TestSigner {
    key: EcdsaKeyPair,
    spki: Vec<u8>,
    pub signs: AtomicU64,
    pub delay_ms: AtomicU64,
}

impl Signer for TestSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        }
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signs.fetch_add(1, Ordering::SeqCst);
        let d = self.delay_ms.load(Ordering::SeqCst);
        if d > 0 {
            std::thread::sleep(std::time::Duration::from_millis(d));
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(&rng, tbs)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError("test signer".into()))
    }
    fn describe(&self) -> String {
        "test P-256".into()
    }
}

/// A CA that signs its own answers, with an in-memory status source.
pub struct Kit {
    pub ca: Certificate,
    pub signer: Arc<TestSigner>,
    pub source: Arc<MemSource>,
    pub issuers: Arc<IssuerSet>,
    pub now: Arc<AtomicU64>,
    pub pool: Arc<SigningPool>,
}

/// Validity of fixture answers: one day.
pub const VALIDITY: u64 = 86_400;

/// The fixtures' starting time.
pub const T0: u64 = 1_800_000_000;

impl Kit {
    pub fn new(entries: &[(&str, Option<CertStatus>)]) -> Kit {
        Kit::with_policy(entries, UnknownSerial::Unknown)
    }

    pub fn with_policy(entries: &[(&str, Option<CertStatus>)], policy: UnknownSerial) -> Kit {
        Kit::with_source(MemSource::new(entries), policy)
    }

    /// A kit whose source names the serials each change touched.
    pub fn with_changes(entries: &[(&str, Option<CertStatus>)]) -> Kit {
        Kit::with_source(MemSource::with_changes(entries), UnknownSerial::Unknown)
    }

    fn with_source(source: Arc<MemSource>, policy: UnknownSerial) -> Kit {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = params.self_signed(&kp).unwrap();
        let ca = Certificate::from_der(cert.der()).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &kp.serialize_der()).unwrap();
        let spki = ca.tbs_certificate.subject_public_key_info.to_der().unwrap();
        let signer = Arc::new(TestSigner {
            key,
            spki,
            signs: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
        });
        let responder = Arc::new(Responder {
            signer: signer.clone(),
            cert: ca.clone(),
            responder_id: ResponderIdKind::by_key(&ca).unwrap(),
            certs: Vec::new(),
            not_after: Timestamp::from_x509(&ca.tbs_certificate.validity.not_after),
            delegated: false,
        });
        let issuer = Issuer {
            name: "test".into(),
            identity: IssuerIdentity::of(&ca).unwrap(),
            cert: ca.clone(),
            responder: ResponderSlot::new(responder),
            status: source.clone(),
            validity_secs: VALIDITY,
            unknown_serial: policy,
        };
        Kit {
            ca,
            signer,
            source,
            issuers: Arc::new(IssuerSet::new(vec![issuer]).unwrap()),
            now: Arc::new(AtomicU64::new(T0)),
            pool: SigningPool::new(2, 16).unwrap(),
        }
    }

    pub fn clock(&self) -> SharedClock {
        let now = self.now.clone();
        Arc::new(move || Timestamp(now.load(Ordering::SeqCst)))
    }

    pub fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn live(&self) -> LiveSource {
        LiveSource::new(self.issuers.clone(), self.pool.clone()).with_clock(self.clock())
    }

    /// A parsed request for `(serial hex, alg)` pairs, built and parsed as on the wire.
    pub fn request(&self, items: &[(&str, HashAlg)], nonce: Option<&[u8]>) -> ParsedRequest {
        let ids: Vec<_> = items
            .iter()
            .map(|(hex, alg)| {
                cert_id::cert_id(&self.ca, &Serial::from_hex(hex).unwrap(), *alg).unwrap()
            })
            .collect();
        let der = request::build(&ids, nonce).unwrap();
        request::parse(&der, &RequestLimits::default()).unwrap()
    }

    pub fn verify_signature(&self, basic: &BasicOcspResponse, tbs_der: &[u8]) {
        ocsp_proto::sigalg::verify(
            &basic.signature_algorithm,
            &self.ca.tbs_certificate.subject_public_key_info,
            tbs_der,
            basic.signature.raw_bytes(),
        )
        .unwrap();
    }
}
