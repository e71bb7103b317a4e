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
//! [`verify_chain`] (in [`crate::chain`], re-exported here) separately checks that a
//! certificate chains to a trusted root.
//! Nothing here reads the clock: `now` is an argument.

use crate::cert_id::{HashAlg, IssuerHashes, Serial};
use crate::sigalg::{self, SigError};
use crate::status::CertStatus;
use crate::Timestamp;
use const_oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use der::Decode;
use x509_cert::ext::pkix::ExtendedKeyUsage;
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

// `answer_status` is `CertStatus::from_single` (status.rs) and `responder_id_matches` lives
// beside `ResponderIdKind` (response.rs); both stay reachable from here.
pub use crate::response::responder_id_matches;

/// The status stated by a SingleResponse: [`CertStatus::from_single`].
pub fn answer_status(s: &SingleResponse) -> CertStatus {
    CertStatus::from_single(s)
}

/// The ResponderID as text: the name (RFC 4514), or the key hash in upper-case hex.
pub fn responder_id_text(rid: &ResponderId) -> String {
    match rid {
        ResponderId::ByName(n) => n.to_string(),
        ResponderId::ByKey(h) => hex::encode_upper(h.as_bytes()),
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

pub(crate) fn subject(cert: &Certificate) -> String {
    let s = cert.tbs_certificate.subject.to_string();
    if s.is_empty() {
        "(empty subject)".into()
    } else {
        s
    }
}

pub(crate) fn same_cert(a: &Certificate, b: &Certificate) -> bool {
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

pub(crate) fn validity(cert: &Certificate) -> (Timestamp, Timestamp) {
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

// The chain builder lives in `chain.rs`; these names stay reachable from here.
pub use crate::chain::{verify_chain, ChainError, MAX_CHAIN_LEN};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
