//! Tests of response verification ([`super::verify`]) and chain building ([`crate::chain`]).

use super::*;
use crate::cert_id::cert_id;
use crate::response::{
    build_signed, parse, ParsedResponse, ResponderIdKind, ResponseParams, SingleAnswer,
};
use crate::signer::{SignError, Signer};
use crate::status::{Revocation, RevocationReason};
use rcgen::{
    BasicConstraints as RcBc, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
};

struct TestSigner {
    key: KeyPair,
    alg: spki::AlgorithmIdentifierOwned,
    spki: Vec<u8>,
}

impl TestSigner {
    fn new(key: KeyPair) -> TestSigner {
        let oid = if key.algorithm() == &PKCS_ED25519 {
            const_oid::db::rfc8410::ID_ED_25519
        } else {
            const_oid::db::rfc5912::ECDSA_WITH_SHA_256
        };
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        TestSigner {
            key,
            alg: spki::AlgorithmIdentifierOwned {
                oid,
                parameters: None,
            },
            spki,
        }
    }
}

impl Signer for TestSigner {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        self.alg.clone()
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        use rcgen::SigningKey;
        self.key.sign(tbs).map_err(|e| SignError(e.to_string()))
    }
    fn describe(&self) -> String {
        "test".into()
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

struct Pki {
    ca_params: CertificateParams,
    ca_signer: TestSigner,
    ca: Certificate,
}

fn to_x509(c: &rcgen::Certificate) -> Certificate {
    Certificate::from_der(c.der()).unwrap()
}

fn ca(cn: &str) -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.distinguished_name = name(cn);
    ca_params.is_ca = IsCa::Ca(RcBc::Unconstrained);
    let ca = to_x509(&ca_params.self_signed(&ca_key).unwrap());
    Pki {
        ca_params,
        ca_signer: TestSigner::new(ca_key),
        ca,
    }
}

impl Pki {
    fn issue(
        &self,
        cn: &str,
        ekus: Vec<ExtendedKeyUsagePurpose>,
        ed25519: bool,
    ) -> (Certificate, KeyPair) {
        let key = if ed25519 {
            KeyPair::generate_for(&PKCS_ED25519).unwrap()
        } else {
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
        };
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.distinguished_name = name(cn);
        params.extended_key_usages = ekus;
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_signer.key);
        (to_x509(&params.signed_by(&key, &issuer).unwrap()), key)
    }
}

const NOW: Timestamp = Timestamp(1_800_000_000);

struct Made {
    der: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn respond(
    signer: &TestSigner,
    signer_cert: &Certificate,
    ids: &[CertId],
    statuses: &[CertStatus],
    nonce: Option<&[u8]>,
    by_key: bool,
    certs: &[Certificate],
    this_update: Timestamp,
    next_update: Option<Timestamp>,
) -> Made {
    let answers: Vec<SingleAnswer> = ids
        .iter()
        .zip(statuses)
        .map(|(id, st)| SingleAnswer {
            cert_id: id.clone(),
            status: st.clone(),
            this_update,
            next_update,
        })
        .collect();
    let rid = if by_key {
        ResponderIdKind::by_key(signer_cert).unwrap()
    } else {
        ResponderIdKind::by_name(signer_cert)
    };
    let p = ResponseParams {
        responder_id: &rid,
        produced_at: this_update,
        answers: &answers,
        nonce,
        extended_revoke: false,
        certs,
    };
    Made {
        der: build_signed(&p, signer).unwrap(),
    }
}

fn check(made: &Made, params: &Params<'_>) -> Result<Verified, VerifyError> {
    let ParsedResponse::Basic { basic, tbs_der } = parse(&made.der).unwrap() else {
        panic!("not basic")
    };
    verify(&basic, &tbs_der, params)
}

fn params<'a>(
    ids: &'a [CertId],
    issuers: &'a [Certificate],
    nonce: Option<&'a [u8]>,
) -> Params<'a> {
    Params {
        requested: ids,
        issuers,
        nonce,
        untrusted: &[],
        trusted: &[],
        now: NOW,
        policy: Policy::default(),
    }
}

fn ids(pki: &Pki, serials: &[&str], alg: HashAlg) -> Vec<CertId> {
    serials
        .iter()
        .map(|s| cert_id(&pki.ca, &Serial::from_hex(s).unwrap(), alg).unwrap())
        .collect()
}

#[test]
fn ca_signed_by_key_and_name() {
    let pki = ca("Test CA");
    let signer = &pki.ca_signer;
    let q = ids(&pki, &["1000", "1001"], HashAlg::Sha256);
    let rev = CertStatus::Revoked(Revocation {
        time: NOW.minus(100),
        reason: Some(RevocationReason::KeyCompromise),
        invalidity_date: None,
        hold_instruction: None,
    });
    for by_key in [true, false] {
        let m = respond(
            signer,
            &pki.ca,
            &q,
            &[CertStatus::Good, rev.clone()],
            Some(&[7; 32]),
            by_key,
            &[],
            NOW.minus(10),
            Some(NOW.plus(3600)),
        );
        let issuers = [pki.ca.clone()];
        let v = check(&m, &params(&q, &issuers, Some(&[7; 32]))).unwrap();
        assert_eq!(v.signer_kind, SignerKind::Issuer);
        assert_eq!(v.answers.len(), 2);
        assert_eq!(v.answers[0].status, CertStatus::Good);
        assert_eq!(v.answers[1].status, rev);
        assert!(v.warnings.is_empty());
    }
}

#[test]
fn delegated_ed25519_and_answer_order() {
    let pki = ca("Test CA");
    let (rc, rk) = pki.issue("OCSP", vec![ExtendedKeyUsagePurpose::OcspSigning], true);
    let signer = &TestSigner::new(rk);
    let q = ids(&pki, &["01", "02", "03"], HashAlg::Sha1);
    // Answer in reverse order: matching must not rely on order.
    let rq: Vec<CertId> = q.iter().rev().cloned().collect();
    let m = respond(
        signer,
        &rc,
        &rq,
        &[CertStatus::Unknown, CertStatus::Good, CertStatus::Good],
        None,
        true,
        std::slice::from_ref(&rc),
        NOW,
        Some(NOW.plus(60)),
    );
    let issuers = [pki.ca.clone()];
    let v = check(&m, &params(&q, &issuers, None)).unwrap();
    assert_eq!(v.signer_kind, SignerKind::Delegated);
    assert_eq!(v.answers[2].status, CertStatus::Unknown);
    assert_eq!(v.answers[2].response_index, 0);
}

#[test]
fn delegated_via_untrusted_list_and_trusted_list() {
    let pki = ca("Test CA");
    let (rc, rk) = pki.issue("OCSP", vec![ExtendedKeyUsagePurpose::OcspSigning], false);
    let signer = &TestSigner::new(rk);
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let m = respond(
        signer,
        &rc,
        &q,
        &[CertStatus::Good],
        None,
        false,
        &[],
        NOW,
        None,
    );
    let issuers = [pki.ca.clone()];
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::SignerNotFound { .. }), "{e}");
    let extra = [rc.clone()];
    let mut p = params(&q, &issuers, None);
    p.untrusted = &extra;
    assert_eq!(check(&m, &p).unwrap().signer_kind, SignerKind::Delegated);

    // An unrelated self-signed signer is accepted only when trusted explicitly.
    let other = ca("Other");
    let m = respond(
        &other.ca_signer,
        &other.ca,
        &q,
        &[CertStatus::Good],
        None,
        true,
        std::slice::from_ref(&other.ca),
        NOW,
        None,
    );
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::NotAuthorized { .. }), "{e}");
    assert!(e.to_string().contains("CN=Other"), "{e}");
    let trusted = [other.ca.clone()];
    let mut p = params(&q, &issuers, None);
    p.trusted = &trusted;
    assert_eq!(check(&m, &p).unwrap().signer_kind, SignerKind::Trusted);
}

#[test]
fn rejects_missing_eku() {
    let pki = ca("Test CA");
    let (rc, rk) = pki.issue("No EKU", vec![ExtendedKeyUsagePurpose::ServerAuth], false);
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let m = respond(
        &TestSigner::new(rk),
        &rc,
        &q,
        &[CertStatus::Good],
        None,
        true,
        std::slice::from_ref(&rc),
        NOW,
        None,
    );
    let issuers = [pki.ca.clone()];
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::MissingOcspSigning { .. }), "{e}");
    assert!(e.to_string().contains("id-kp-OCSPSigning"));
}

#[test]
fn rejects_bad_signature() {
    let pki = ca("Test CA");
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let mut m = respond(
        &pki.ca_signer,
        &pki.ca,
        &q,
        &[CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    // Corrupt the last signature octet, as `openssl ocsp -badsig` does (no certs
    // follow the signature here).
    let last = m.der.len() - 1;
    m.der[last] ^= 0x01;
    let issuers = [pki.ca.clone()];
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::BadSignature { .. }), "{e}");
}

#[test]
fn certid_coverage() {
    let pki = ca("Test CA");
    let q = ids(&pki, &["01", "02"], HashAlg::Sha256);
    let issuers = [pki.ca.clone()];
    let s = &pki.ca_signer;
    // One missing.
    let m = respond(
        s,
        &pki.ca,
        &q[..1],
        &[CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert_eq!(
        e,
        VerifyError::Unanswered {
            serial: Serial::from_hex("02").unwrap()
        }
    );
    // One extra.
    let more = ids(&pki, &["01", "02", "03"], HashAlg::Sha256);
    let m = respond(
        s,
        &pki.ca,
        &more,
        &[CertStatus::Good, CertStatus::Good, CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::Unrequested { .. }), "{e}");
    // Twice.
    let twice = vec![q[0].clone(), q[0].clone(), q[1].clone()];
    let m = respond(
        s,
        &pki.ca,
        &twice,
        &[CertStatus::Good, CertStatus::Good, CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::Duplicate { .. }), "{e}");
    // Answered with SHA-1 CertIDs for a SHA-256 request: matched through the issuer.
    let sha1 = ids(&pki, &["01", "02"], HashAlg::Sha1);
    let m = respond(
        s,
        &pki.ca,
        &sha1,
        &[CertStatus::Good, CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    assert!(check(&m, &params(&q, &issuers, None)).is_ok());
    // Issuer not given.
    let other = ca("Other");
    let oq = ids(&other, &["01"], HashAlg::Sha256);
    let e = check(&m, &params(&oq, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::IssuerUnknown { .. }), "{e}");
}

#[test]
fn nonce_rules() {
    let pki = ca("Test CA");
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let issuers = [pki.ca.clone()];
    let s = &pki.ca_signer;
    let m = respond(
        s,
        &pki.ca,
        &q,
        &[CertStatus::Good],
        Some(&[1; 32]),
        true,
        &[],
        NOW,
        None,
    );
    let e = check(&m, &params(&q, &issuers, Some(&[2; 32]))).unwrap_err();
    assert!(matches!(e, VerifyError::NonceMismatch { .. }), "{e}");
    let m = respond(
        s,
        &pki.ca,
        &q,
        &[CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        None,
    );
    let v = check(&m, &params(&q, &issuers, Some(&[2; 32]))).unwrap();
    assert_eq!(v.warnings, vec![Warning::NonceNotEchoed]);
    let mut p = params(&q, &issuers, Some(&[2; 32]));
    p.policy.require_nonce = true;
    assert_eq!(check(&m, &p).unwrap_err(), VerifyError::NonceMissing);
    // A nonce in the response that was not asked for is ignored.
    let m = respond(
        s,
        &pki.ca,
        &q,
        &[CertStatus::Good],
        Some(&[1; 32]),
        true,
        &[],
        NOW,
        None,
    );
    assert!(check(&m, &params(&q, &issuers, None)).is_ok());
}

#[test]
fn time_windows() {
    let serial = Serial::from_hex("01").unwrap();
    let p = Policy::default();
    assert!(check_times(&serial, NOW, Some(NOW.plus(10)), NOW, &p).is_ok());
    assert!(check_times(&serial, NOW.plus(300), None, NOW, &p).is_ok());
    assert!(matches!(
        check_times(&serial, NOW.plus(301), None, NOW, &p),
        Err(VerifyError::NotYetValid { .. })
    ));
    assert!(check_times(&serial, NOW.minus(1000), Some(NOW.minus(300)), NOW, &p).is_ok());
    assert!(matches!(
        check_times(&serial, NOW.minus(1000), Some(NOW.minus(301)), NOW, &p),
        Err(VerifyError::Expired { .. })
    ));
    assert!(matches!(
        check_times(&serial, NOW, Some(NOW.minus(1)), NOW, &p),
        Err(VerifyError::NextBeforeThis { .. })
    ));
    let aged = Policy {
        max_age_secs: Some(60),
        ..p
    };
    assert!(check_times(&serial, NOW.minus(60), None, NOW, &aged).is_ok());
    assert!(matches!(
        check_times(&serial, NOW.minus(61), None, NOW, &aged),
        Err(VerifyError::TooOld { .. })
    ));
}

#[test]
fn expired_response_is_rejected_end_to_end() {
    let pki = ca("Test CA");
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let issuers = [pki.ca.clone()];
    let m = respond(
        &pki.ca_signer,
        &pki.ca,
        &q,
        &[CertStatus::Good],
        None,
        true,
        &[],
        NOW.minus(7200),
        Some(NOW.minus(3600)),
    );
    let e = check(&m, &params(&q, &issuers, None)).unwrap_err();
    assert!(matches!(e, VerifyError::Expired { .. }), "{e}");
    assert!(e.to_string().contains("has expired"), "{e}");
}

#[test]
fn signer_validity_at_produced_at() {
    let pki = ca("Test CA");
    let (rc, rk) = pki.issue("OCSP", vec![ExtendedKeyUsagePurpose::OcspSigning], false);
    let q = ids(&pki, &["01"], HashAlg::Sha256);
    let issuers = [pki.ca.clone()];
    // Produced before the signer's notBefore.
    let (nb, _) = validity(&rc);
    let early = nb.minus(10);
    let m = respond(
        &TestSigner::new(rk),
        &rc,
        &q,
        &[CertStatus::Good],
        None,
        true,
        std::slice::from_ref(&rc),
        early,
        None,
    );
    let mut p = params(&q, &issuers, None);
    p.now = early;
    let e = check(&m, &p).unwrap_err();
    assert!(matches!(e, VerifyError::SignerNotValid { .. }), "{e}");
}

#[test]
fn chains() {
    let root = ca("Root");
    let (leaf, _) = root.issue("Leaf", vec![], false);
    let roots = [root.ca.clone()];
    assert_eq!(verify_chain(&leaf, &[], &roots, NOW).unwrap().len(), 2);
    assert_eq!(verify_chain(&root.ca, &[], &roots, NOW).unwrap().len(), 1);
    let other = ca("Other");
    let e = verify_chain(&leaf, &[], std::slice::from_ref(&other.ca), NOW).unwrap_err();
    assert!(matches!(e, ChainError::NoPath { .. }), "{e}");
    // A non-CA cannot issue.
    let (mid, mid_key) = root.issue("Not a CA", vec![], false);
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = name("Below");
    let mut mid_params = CertificateParams::new(vec![]).unwrap();
    mid_params.distinguished_name = name("Not a CA");
    let issuer = Issuer::from_params(&mid_params, &mid_key);
    let k = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let below = to_x509(&params.signed_by(&k, &issuer).unwrap());
    let e = verify_chain(&below, std::slice::from_ref(&mid), &roots, NOW).unwrap_err();
    assert!(matches!(e, ChainError::NotCa { .. }), "{e}");
}

/// One rule set, two uses: the facts of a response about to be signed and the facts read
/// back from the signed bytes break the same profile rules.
#[test]
fn facts_before_signing_and_after_receiving_agree() {
    use crate::facts::{ReceivedSigner, ResponseFacts};
    use crate::profile::{Profile, Rule};
    let pki = ca("Facts CA");
    let idz = ids(&pki, &["0a", "0b"], HashAlg::Sha256);
    let statuses = [CertStatus::Good, CertStatus::Unknown];
    for next in [
        None,
        Some(NOW.plus(3600)),
        Some(NOW.plus(86_400)),
        Some(NOW.plus(30 * 86_400)),
    ] {
        let made = respond(
            &pki.ca_signer,
            &pki.ca,
            &idz,
            &statuses,
            None,
            true,
            &[],
            NOW,
            next,
        );
        let ParsedResponse::Basic { basic, .. } = parse(&made.der).unwrap() else {
            panic!("not basic")
        };
        let rs = ReceivedSigner::of(&basic, &pki.ca).unwrap();
        let received = ResponseFacts::from_basic(&basic, rs.facts(), |s| Some(s.to_hex() == "0A"));
        let answers: Vec<SingleAnswer> = idz
            .iter()
            .zip(&statuses)
            .map(|(id, st)| SingleAnswer {
                cert_id: id.clone(),
                status: st.clone(),
                this_update: NOW,
                next_update: next,
            })
            .collect();
        let rid = ResponderIdKind::by_key(&pki.ca).unwrap();
        let params = ResponseParams {
            responder_id: &rid,
            produced_at: NOW,
            answers: &answers,
            nonce: None,
            extended_revoke: false,
            certs: &[],
        };
        let before = ResponseFacts::from_params(&params, &[true, false], rs.facts());
        assert_eq!(before.answers, received.answers, "{next:?}");
        for p in Profile::ALL {
            let a: Vec<Rule> = p.check_facts(&before).iter().map(|v| v.rule).collect();
            let b: Vec<Rule> = p.check_facts(&received).iter().map(|v| v.rule).collect();
            assert_eq!(a, b, "{p} {next:?}");
            // check_response reports the first of them.
            let first = p
                .check_response(&params, &[true, false], &rs.facts())
                .err()
                .map(|v| v.rule);
            assert_eq!(first, a.first().copied(), "{p} {next:?}");
        }
    }
    // A serial not on record answered good breaks unassigned-never-good in both uses.
    let made = respond(
        &pki.ca_signer,
        &pki.ca,
        &idz[..1],
        &[CertStatus::Good],
        None,
        true,
        &[],
        NOW,
        Some(NOW.plus(86_400)),
    );
    let ParsedResponse::Basic { basic, .. } = parse(&made.der).unwrap() else {
        panic!("not basic")
    };
    let rs = ReceivedSigner::of(&basic, &pki.ca).unwrap();
    let received = ResponseFacts::from_basic(&basic, rs.facts(), |_| Some(false));
    let rules: Vec<Rule> = Profile::Cabf
        .check_facts(&received)
        .iter()
        .map(|v| v.rule)
        .collect();
    assert_eq!(rules, vec![Rule::UnassignedNeverGood]);
    let unknown = ResponseFacts::from_basic(&basic, rs.facts(), |_| None);
    assert!(
        Profile::Cabf.check_facts(&unknown).is_empty(),
        "not judged when not known"
    );
}
