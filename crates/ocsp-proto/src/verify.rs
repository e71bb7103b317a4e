//! Response verification (RFC 6960 §3.2, §4.2.2.2).
//!
//! [`verify`] checks a parsed BasicOCSPResponse against what was asked:
//!
//! 1. the signer is found from the ResponderID (byName: the certificate's subject; byKey: the
//!    SHA-1 of its subjectPublicKey) among the explicitly trusted certificates, the issuers,
//!    the certificates in the response and the extra untrusted ones;
//! 2. the signature verifies over the raw tbsResponseData bytes as received;
//! 3. the signer is authorised for the issuer of every answer: it is the issuer itself, a
//!    certificate the caller trusts explicitly, or a certificate issued directly by the issuer
//!    carrying the id-kp-OCSPSigning extended key usage (§4.2.2.2);
//! 4. the signer certificate is within its validity period at producedAt;
//! 5. every requested CertID is answered and nothing else is;
//! 6. the nonce is echoed when one was sent (missing is a warning unless required);
//! 7. thisUpdate is not later than now plus the allowed skew, nextUpdate not earlier than now
//!    minus it, and thisUpdate not older than the maximum status age when one is set.
//!
//! [`verify_chain`] separately checks that a certificate chains to a trusted root.
//! Nothing here reads the clock: `now` is an argument.

use crate::cert_id::{HashAlg, IssuerHashes, Serial};
use crate::sigalg::{self, SigError};
use crate::status::{CertStatus, Revocation, RevocationReason};
use crate::Timestamp;
use const_oid::db::rfc5280::{
    ID_CE_HOLD_INSTRUCTION_CODE, ID_CE_INVALIDITY_DATE, ID_KP_OCSP_SIGNING,
};
use const_oid::ObjectIdentifier;
use der::asn1::GeneralizedTime;
use der::Decode;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};
use x509_cert::Certificate;
use x509_ocsp::{BasicOcspResponse, CertId, ResponderId, SingleResponse};

/// How strict to be about times and nonces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Allowed clock skew in seconds (openssl's `-validity_period`, default 300): thisUpdate
    /// may be this far in the future and nextUpdate this far in the past.
    pub leeway_secs: u64,
    /// Largest accepted age of thisUpdate in seconds (openssl's `-status_age`); `None` for
    /// no limit.
    pub max_age_secs: Option<u64>,
    /// Whether a nonce that was sent but not echoed is an error rather than a warning.
    pub require_nonce: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            leeway_secs: 300,
            max_age_secs: None,
            require_nonce: false,
        }
    }
}

/// What the response is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    /// The CertIDs that were asked, in request order.
    pub requested: &'a [CertId],
    /// The issuer certificates of the requested CertIDs (each CertID's issuer is found
    /// among them by its hashes).
    pub issuers: &'a [Certificate],
    /// The nonce octets that were sent, if any.
    pub nonce: Option<&'a [u8]>,
    /// Extra certificates to look for the signer in; a signer found here must still be
    /// authorised (openssl's `-verify_other`).
    pub untrusted: &'a [Certificate],
    /// Certificates trusted as signers without further checks of authority
    /// (openssl's `-verify_other` with `-trust_other`).
    pub trusted: &'a [Certificate],
    /// The current time.
    pub now: Timestamp,
    /// Time and nonce policy.
    pub policy: Policy,
}

/// Why a response was rejected. Every message names what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The response could not be re-encoded or a certificate field could not be read.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// No candidate certificate matches the ResponderID.
    #[error(
        "no certificate matches the ResponderID {responder_id}: it is not the issuer, and no \
         certificate in the response or among the extra ones given has that {kind}"
    )]
    SignerNotFound {
        /// The ResponderID as text.
        responder_id: String,
        /// `subject` or `key hash`.
        kind: &'static str,
    },
    /// The signature does not verify with the signer's key.
    #[error(
        "the response signature ({algorithm}) does not verify with the key of {signer}: {reason}"
    )]
    BadSignature {
        /// The signer's subject.
        signer: String,
        /// The signature algorithm's name.
        algorithm: String,
        /// Why.
        reason: SigError,
    },
    /// The signer is neither the issuer nor issued by it.
    #[error(
        "the response is signed by {signer}, which is not the issuer {issuer} and was not issued \
         by it: not an authorised responder (RFC 6960 §4.2.2.2)"
    )]
    NotAuthorized {
        /// The signer's subject.
        signer: String,
        /// The issuer's subject.
        issuer: String,
    },
    /// A delegated signer without id-kp-OCSPSigning.
    #[error(
        "the delegated responder certificate {signer} (issued by {issuer}) lacks the \
         id-kp-OCSPSigning extended key usage (RFC 6960 §4.2.2.2)"
    )]
    MissingOcspSigning {
        /// The signer's subject.
        signer: String,
        /// The issuer's subject.
        issuer: String,
    },
    /// The signer certificate is outside its validity at producedAt.
    #[error(
        "the responder certificate {signer} is not valid at producedAt {produced_at}: it is valid \
         from {not_before} to {not_after}"
    )]
    SignerNotValid {
        /// The signer's subject.
        signer: String,
        /// producedAt.
        produced_at: Timestamp,
        /// notBefore.
        not_before: Timestamp,
        /// notAfter.
        not_after: Timestamp,
    },
    /// A requested CertID whose issuer was not supplied.
    #[error("no issuer certificate was given for the CertID of serial {serial} ({hash})")]
    IssuerUnknown {
        /// The serial, hex.
        serial: Serial,
        /// The CertID hash algorithm.
        hash: String,
    },
    /// A requested CertID with no answer.
    #[error("the response has no answer for serial {serial}, which was asked")]
    Unanswered {
        /// The serial.
        serial: Serial,
    },
    /// An answer for a CertID that was not asked.
    #[error(
        "the response answers serial {serial} (issuer key hash {key_hash}), which was not asked"
    )]
    Unrequested {
        /// The serial.
        serial: Serial,
        /// The issuer key hash, hex.
        key_hash: String,
    },
    /// The same CertID answered twice.
    #[error("the response answers serial {serial} more than once")]
    Duplicate {
        /// The serial.
        serial: Serial,
    },
    /// A nonce was sent and a different one came back.
    #[error("nonce mismatch: sent {sent}, the response carries {received} (a replayed or misdirected response)")]
    NonceMismatch {
        /// Sent, hex.
        sent: String,
        /// Received, hex.
        received: String,
    },
    /// A nonce was sent, none came back, and one is required.
    #[error("a nonce was sent but the response carries none, and a nonce is required")]
    NonceMissing,
    /// The response nonce extension could not be decoded.
    #[error("the response nonce extension is not an OCTET STRING")]
    NonceMalformed,
    /// thisUpdate in the future.
    #[error(
        "the answer for serial {serial} is not yet valid: thisUpdate {this_update} is later than \
         now ({now}) plus the allowed {leeway} s"
    )]
    NotYetValid {
        /// The serial.
        serial: Serial,
        /// thisUpdate.
        this_update: Timestamp,
        /// The current time.
        now: Timestamp,
        /// The allowed skew.
        leeway: u64,
    },
    /// nextUpdate in the past.
    #[error(
        "the answer for serial {serial} has expired: nextUpdate {next_update} is earlier than now \
         ({now}) minus the allowed {leeway} s"
    )]
    Expired {
        /// The serial.
        serial: Serial,
        /// nextUpdate.
        next_update: Timestamp,
        /// The current time.
        now: Timestamp,
        /// The allowed skew.
        leeway: u64,
    },
    /// nextUpdate before thisUpdate.
    #[error("the answer for serial {serial} has nextUpdate {next_update} before thisUpdate {this_update}")]
    NextBeforeThis {
        /// The serial.
        serial: Serial,
        /// thisUpdate.
        this_update: Timestamp,
        /// nextUpdate.
        next_update: Timestamp,
    },
    /// thisUpdate older than the maximum status age.
    #[error(
        "the answer for serial {serial} is too old: thisUpdate {this_update} is more than {max_age} s \
         before now ({now})"
    )]
    TooOld {
        /// The serial.
        serial: Serial,
        /// thisUpdate.
        this_update: Timestamp,
        /// The current time.
        now: Timestamp,
        /// The maximum age.
        max_age: u64,
    },
}

/// Something accepted but worth saying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// A nonce was sent and not echoed (RFC 6960 lets a responder ignore it).
    #[error(
        "a nonce was sent but the response carries none (it may be a pre-signed, cached answer)"
    )]
    NonceNotEchoed,
}

/// Who signed, in the sense of RFC 6960 §4.2.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerKind {
    /// The CA that issued the certificates in question.
    Issuer,
    /// A certificate issued directly by the CA with id-kp-OCSPSigning.
    Delegated,
    /// A certificate the caller trusts explicitly.
    Trusted,
}

impl SignerKind {
    /// `issuer`, `delegated` or `trusted`.
    pub fn name(self) -> &'static str {
        match self {
            SignerKind::Issuer => "issuer",
            SignerKind::Delegated => "delegated",
            SignerKind::Trusted => "trusted",
        }
    }
}

/// One answer, matched to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Index of the requested CertID this answers.
    pub request_index: usize,
    /// Index of the SingleResponse in the response.
    pub response_index: usize,
    /// The serial.
    pub serial: Serial,
    /// The status.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
}

/// A response that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer certificate.
    pub signer: Certificate,
    /// What authorised it.
    pub signer_kind: SignerKind,
    /// producedAt.
    pub produced_at: Timestamp,
    /// One answer per requested CertID, in request order.
    pub answers: Vec<Answer>,
    /// Things accepted but worth saying.
    pub warnings: Vec<Warning>,
}

/// The status stated by a SingleResponse, with the invalidity date and hold instruction
/// from its extensions when present.
pub fn answer_status(s: &SingleResponse) -> CertStatus {
    match &s.cert_status {
        x509_ocsp::CertStatus::Good(_) => CertStatus::Good,
        x509_ocsp::CertStatus::Unknown(_) => CertStatus::Unknown,
        x509_ocsp::CertStatus::Revoked(info) => {
            let mut rev = Revocation::at(Timestamp::from_ocsp(&info.revocation_time));
            rev.reason = info
                .revocation_reason
                .map(RevocationReason::from_crl_reason);
            for e in s.single_extensions.iter().flatten() {
                if e.extn_id == ID_CE_INVALIDITY_DATE {
                    if let Ok(t) = GeneralizedTime::from_der(e.extn_value.as_bytes()) {
                        rev.invalidity_date = Some(Timestamp::from_generalized(&t));
                    }
                } else if e.extn_id == ID_CE_HOLD_INSTRUCTION_CODE {
                    if let Ok(oid) = ObjectIdentifier::from_der(e.extn_value.as_bytes()) {
                        rev.hold_instruction = Some(oid);
                    }
                }
            }
            CertStatus::Revoked(rev)
        }
    }
}

/// The ResponderID as text: the name (RFC 4514), or the key hash in upper-case hex.
pub fn responder_id_text(rid: &ResponderId) -> String {
    match rid {
        ResponderId::ByName(n) => n.to_string(),
        ResponderId::ByKey(h) => hex::encode_upper(h.as_bytes()),
    }
}

/// Whether `cert` is the one a ResponderID names.
pub fn responder_id_matches(rid: &ResponderId, cert: &Certificate) -> bool {
    match rid {
        ResponderId::ByName(n) => cert.tbs_certificate.subject == *n,
        ResponderId::ByKey(h) => {
            let key = cert
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes();
            HashAlg::Sha1.digest(key) == h.as_bytes()
        }
    }
}

/// Whether two CertIDs name the same certificate. Identical hash algorithms compare their
/// hashes; different ones compare through `issuer` when it is known.
pub fn cert_ids_match(a: &CertId, b: &CertId, issuer: Option<&Certificate>) -> bool {
    if a.serial_number.as_bytes() != b.serial_number.as_bytes()
        && Serial::of_cert_id(a) != Serial::of_cert_id(b)
    {
        return false;
    }
    if a.hash_algorithm.oid == b.hash_algorithm.oid {
        return a.issuer_name_hash == b.issuer_name_hash && a.issuer_key_hash == b.issuer_key_hash;
    }
    let (Some(issuer), Some(alg_a), Some(alg_b)) = (
        issuer,
        HashAlg::from_oid(&a.hash_algorithm.oid),
        HashAlg::from_oid(&b.hash_algorithm.oid),
    ) else {
        return false;
    };
    issuer_matches(issuer, alg_a, a) && issuer_matches(issuer, alg_b, b)
}

fn issuer_matches(issuer: &Certificate, alg: HashAlg, id: &CertId) -> bool {
    match IssuerHashes::of(issuer, alg) {
        Ok(h) => {
            h.name_hash == id.issuer_name_hash.as_bytes()
                && h.key_hash == id.issuer_key_hash.as_bytes()
        }
        Err(_) => false,
    }
}

/// The issuer, among `issuers`, that a CertID names.
pub fn find_issuer<'a>(id: &CertId, issuers: &'a [Certificate]) -> Option<&'a Certificate> {
    let alg = HashAlg::from_oid(&id.hash_algorithm.oid)?;
    issuers.iter().find(|i| issuer_matches(i, alg, id))
}

/// Pair each SingleResponse with the requested CertID it answers. Returns, for each
/// requested CertID in order, the index of its SingleResponse.
pub fn match_answers(
    responses: &[SingleResponse],
    requested: &[CertId],
    issuers: &[Certificate],
) -> Result<Vec<usize>, VerifyError> {
    let req_issuers: Vec<Option<&Certificate>> = requested
        .iter()
        .map(|id| find_issuer(id, issuers))
        .collect();
    let mut answered: Vec<Option<usize>> = vec![None; requested.len()];
    for (ri, single) in responses.iter().enumerate() {
        let candidates: Vec<usize> = requested
            .iter()
            .enumerate()
            .filter(|(qi, q)| cert_ids_match(q, &single.cert_id, req_issuers[*qi]))
            .map(|(qi, _)| qi)
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::Unrequested {
                serial: Serial::of_cert_id(&single.cert_id),
                key_hash: hex::encode_upper(single.cert_id.issuer_key_hash.as_bytes()),
            });
        }
        match candidates.iter().find(|qi| answered[**qi].is_none()) {
            Some(qi) => answered[*qi] = Some(ri),
            None => {
                return Err(VerifyError::Duplicate {
                    serial: Serial::of_cert_id(&single.cert_id),
                })
            }
        }
    }
    answered
        .into_iter()
        .enumerate()
        .map(|(qi, a)| {
            a.ok_or_else(|| VerifyError::Unanswered {
                serial: Serial::of_cert_id(&requested[qi]),
            })
        })
        .collect()
}

fn subject(cert: &Certificate) -> String {
    let s = cert.tbs_certificate.subject.to_string();
    if s.is_empty() {
        "(empty subject)".into()
    } else {
        s
    }
}

fn same_cert(a: &Certificate, b: &Certificate) -> bool {
    a == b
}

fn same_key_and_name(a: &Certificate, b: &Certificate) -> bool {
    a.tbs_certificate.subject == b.tbs_certificate.subject
        && a.tbs_certificate.subject_public_key_info == b.tbs_certificate.subject_public_key_info
}

/// Whether `cert` carries the id-kp-OCSPSigning extended key usage.
pub fn has_ocsp_signing(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate.get::<ExtendedKeyUsage>(),
        Ok(Some((_, eku))) if eku.0.contains(&ID_KP_OCSP_SIGNING)
    )
}

fn validity(cert: &Certificate) -> (Timestamp, Timestamp) {
    let v = &cert.tbs_certificate.validity;
    (
        Timestamp::from_x509(&v.not_before),
        Timestamp::from_x509(&v.not_after),
    )
}

fn nonce_of(basic: &BasicOcspResponse) -> Result<Option<Vec<u8>>, VerifyError> {
    let Some(exts) = &basic.tbs_response_data.response_extensions else {
        return Ok(None);
    };
    match exts
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE)
    {
        None => Ok(None),
        Some(e) => der::asn1::OctetString::from_der(e.extn_value.as_bytes())
            .map(|o| Some(o.as_bytes().to_vec()))
            .map_err(|_| VerifyError::NonceMalformed),
    }
}

/// Find the signer of `basic` and check the signature over `tbs_der` (the tbsResponseData
/// exactly as received). Returns the signer and whether it came from `trusted`.
pub fn find_signer<'a>(
    basic: &'a BasicOcspResponse,
    tbs_der: &[u8],
    issuers: &'a [Certificate],
    untrusted: &'a [Certificate],
    trusted: &'a [Certificate],
) -> Result<(&'a Certificate, bool), VerifyError> {
    let rid = &basic.tbs_response_data.responder_id;
    let in_response: &[Certificate] = basic.certs.as_deref().unwrap_or(&[]);
    let candidates = trusted
        .iter()
        .map(|c| (c, true))
        .chain(issuers.iter().map(|c| (c, false)))
        .chain(in_response.iter().map(|c| (c, false)))
        .chain(untrusted.iter().map(|c| (c, false)))
        .filter(|(c, _)| responder_id_matches(rid, c));
    let mut first_failure = None;
    for (cert, is_trusted) in candidates {
        match sigalg::verify(
            &basic.signature_algorithm,
            &cert.tbs_certificate.subject_public_key_info,
            tbs_der,
            basic.signature.raw_bytes(),
        ) {
            Ok(()) => return Ok((cert, is_trusted)),
            Err(reason) => {
                if first_failure.is_none() {
                    first_failure = Some(VerifyError::BadSignature {
                        signer: subject(cert),
                        algorithm: sigalg::algorithm_name(&basic.signature_algorithm),
                        reason,
                    });
                }
            }
        }
    }
    Err(
        first_failure.unwrap_or_else(|| VerifyError::SignerNotFound {
            responder_id: match rid {
                ResponderId::ByName(_) => format!("byName \"{}\"", responder_id_text(rid)),
                ResponderId::ByKey(_) => format!("byKey {}", responder_id_text(rid)),
            },
            kind: match rid {
                ResponderId::ByName(_) => "subject",
                ResponderId::ByKey(_) => "key hash",
            },
        }),
    )
}

/// Check that `signer` may answer for certificates of `issuer` (RFC 6960 §4.2.2.2).
pub fn check_authority(
    signer: &Certificate,
    issuer: &Certificate,
    trusted: bool,
) -> Result<SignerKind, VerifyError> {
    if trusted {
        return Ok(SignerKind::Trusted);
    }
    if same_cert(signer, issuer) || same_key_and_name(signer, issuer) {
        return Ok(SignerKind::Issuer);
    }
    if sigalg::cert_issued_by(signer, issuer).is_err() {
        return Err(VerifyError::NotAuthorized {
            signer: subject(signer),
            issuer: subject(issuer),
        });
    }
    if !has_ocsp_signing(signer) {
        return Err(VerifyError::MissingOcspSigning {
            signer: subject(signer),
            issuer: subject(issuer),
        });
    }
    Ok(SignerKind::Delegated)
}

/// Check thisUpdate / nextUpdate of one answer against `now` and `policy`.
pub fn check_times(
    serial: &Serial,
    this_update: Timestamp,
    next_update: Option<Timestamp>,
    now: Timestamp,
    policy: &Policy,
) -> Result<(), VerifyError> {
    let leeway = policy.leeway_secs;
    if this_update > now.plus(leeway) {
        return Err(VerifyError::NotYetValid {
            serial: serial.clone(),
            this_update,
            now,
            leeway,
        });
    }
    if let Some(next) = next_update {
        if next < this_update {
            return Err(VerifyError::NextBeforeThis {
                serial: serial.clone(),
                this_update,
                next_update: next,
            });
        }
        if next.plus(leeway) < now {
            return Err(VerifyError::Expired {
                serial: serial.clone(),
                next_update: next,
                now,
                leeway,
            });
        }
    }
    if let Some(max_age) = policy.max_age_secs {
        if this_update.plus(max_age) < now {
            return Err(VerifyError::TooOld {
                serial: serial.clone(),
                this_update,
                now,
                max_age,
            });
        }
    }
    Ok(())
}

/// Verify `basic` (with `tbs_der`, its tbsResponseData as received) against `p`.
pub fn verify(
    basic: &BasicOcspResponse,
    tbs_der: &[u8],
    p: &Params<'_>,
) -> Result<Verified, VerifyError> {
    let rd = &basic.tbs_response_data;
    let produced_at = Timestamp::from_ocsp(&rd.produced_at);

    // Which issuer each requested CertID names: needed to judge the signer's authority.
    let mut req_issuers = Vec::with_capacity(p.requested.len());
    for id in p.requested {
        match find_issuer(id, p.issuers) {
            Some(i) => req_issuers.push(i),
            None => {
                return Err(VerifyError::IssuerUnknown {
                    serial: Serial::of_cert_id(id),
                    hash: HashAlg::from_oid(&id.hash_algorithm.oid)
                        .map(|a| a.name().to_string())
                        .unwrap_or_else(|| id.hash_algorithm.oid.to_string()),
                })
            }
        }
    }

    let (signer, trusted) = find_signer(basic, tbs_der, p.issuers, p.untrusted, p.trusted)?;

    let mut signer_kind = SignerKind::Trusted;
    let mut checked: Vec<&Certificate> = Vec::new();
    for issuer in &req_issuers {
        if checked.iter().any(|c| same_cert(c, issuer)) {
            continue;
        }
        signer_kind = check_authority(signer, issuer, trusted)?;
        checked.push(issuer);
    }

    let (not_before, not_after) = validity(signer);
    if produced_at < not_before || produced_at > not_after {
        return Err(VerifyError::SignerNotValid {
            signer: subject(signer),
            produced_at,
            not_before,
            not_after,
        });
    }

    let matched = match_answers(&rd.responses, p.requested, p.issuers)?;

    let mut warnings = Vec::new();
    if let Some(sent) = p.nonce {
        match nonce_of(basic)? {
            Some(got) if got == sent => {}
            Some(got) => {
                return Err(VerifyError::NonceMismatch {
                    sent: hex::encode_upper(sent),
                    received: hex::encode_upper(got),
                })
            }
            None if p.policy.require_nonce => return Err(VerifyError::NonceMissing),
            None => warnings.push(Warning::NonceNotEchoed),
        }
    }

    let mut answers = Vec::with_capacity(matched.len());
    for (qi, ri) in matched.into_iter().enumerate() {
        let single = &rd.responses[ri];
        let serial = Serial::of_cert_id(&single.cert_id);
        let this_update = Timestamp::from_ocsp(&single.this_update);
        let next_update = single.next_update.as_ref().map(Timestamp::from_ocsp);
        check_times(&serial, this_update, next_update, p.now, &p.policy)?;
        answers.push(Answer {
            request_index: qi,
            response_index: ri,
            serial,
            status: answer_status(single),
            this_update,
            next_update,
        });
    }

    Ok(Verified {
        signer: signer.clone(),
        signer_kind,
        produced_at,
        answers,
        warnings,
    })
}

/// Why a certificate does not chain to a trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No issuer was found among the roots and intermediates.
    #[error("no chain from {subject} (issued by {issuer}) to a trusted root")]
    NoPath {
        /// The certificate whose issuer is missing.
        subject: String,
        /// Its issuer's name.
        issuer: String,
    },
    /// A certificate in the path is outside its validity period.
    #[error("{subject} in the chain is not valid now ({now}): it is valid from {not_before} to {not_after}")]
    NotValid {
        /// The certificate.
        subject: String,
        /// The current time.
        now: Timestamp,
        /// notBefore.
        not_before: Timestamp,
        /// notAfter.
        not_after: Timestamp,
    },
    /// A certificate in the path that issues others is not a CA.
    #[error("{subject} issues certificates in the chain but is not a CA (basicConstraints cA is not set)")]
    NotCa {
        /// The certificate.
        subject: String,
    },
    /// The path is longer than allowed.
    #[error("the chain from {subject} is longer than {max} certificates")]
    TooLong {
        /// The starting certificate.
        subject: String,
        /// The limit.
        max: usize,
    },
}

/// Most certificates in a path [`verify_chain`] builds.
pub const MAX_CHAIN_LEN: usize = 8;

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

fn check_valid_now(cert: &Certificate, now: Timestamp) -> Result<(), ChainError> {
    let (not_before, not_after) = validity(cert);
    if now < not_before || now > not_after {
        return Err(ChainError::NotValid {
            subject: subject(cert),
            now,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Check that `cert` chains to one of `roots` through `intermediates`, every certificate
/// valid at `now` and every issuing certificate a CA. A certificate equal to a root is
/// trusted as it is. Returns the path from `cert` to the root, inclusive.
pub fn verify_chain(
    cert: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    now: Timestamp,
) -> Result<Vec<Certificate>, ChainError> {
    let mut path = vec![cert.clone()];
    let mut current = cert.clone();
    loop {
        check_valid_now(&current, now)?;
        if roots.iter().any(|r| same_cert(r, &current)) {
            return Ok(path);
        }
        if path.len() >= MAX_CHAIN_LEN {
            return Err(ChainError::TooLong {
                subject: subject(cert),
                max: MAX_CHAIN_LEN,
            });
        }
        let issued_by = |c: &&Certificate| {
            c.tbs_certificate.subject == current.tbs_certificate.issuer
                && sigalg::cert_issued_by(&current, c).is_ok()
                && !path.iter().any(|p| same_cert(p, c))
        };
        let next = roots
            .iter()
            .find(issued_by)
            .map(|r| (r, true))
            .or_else(|| intermediates.iter().find(issued_by).map(|c| (c, false)));
        let Some((next, is_root)) = next else {
            return Err(ChainError::NoPath {
                subject: subject(&current),
                issuer: current.tbs_certificate.issuer.to_string(),
            });
        };
        if !is_ca(next) {
            return Err(ChainError::NotCa {
                subject: subject(next),
            });
        }
        path.push(next.clone());
        if is_root {
            check_valid_now(next, now)?;
            return Ok(path);
        }
        current = next.clone();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::cert_id::cert_id;
    use crate::response::{
        build_signed, parse, ParsedResponse, ResponderIdKind, ResponseParams, SingleAnswer,
    };
    use crate::signer::{SignError, Signer};
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
}
