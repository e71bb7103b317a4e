//! The query flow: build a request, send it, judge the answer.
//!
//! Three steps, each usable alone (`ocsp query` runs all three; `ocsp lint` sends many
//! requests and judges each one):
//!
//! 1. [`Asked`]: what is asked, either built from [`Target`]s ([`Asked::build`]) or read
//!    from a DER request someone else built ([`Asked::from_der`]). It keeps the CertIDs in
//!    request order, the nonce sent and a label per CertID for output.
//! 2. [`ask`]: send it ([`crate::send`], GET or POST) and insist on HTTP 200. A
//!    Content-Type other than `application/ocsp-response` is a warning, not a failure
//!    (some responders get it wrong and the body is still an answer).
//! 3. [`judge`]: parse the body and, unless told not to, verify it
//!    ([`ocsp_proto::verify::verify`]: signer, signature, authority, CertIDs, nonce, times)
//!    and optionally the issuers' chains to trusted roots ([`ocsp_proto::chain`]). The
//!    result, a [`Judged`], says how far it got: not OCSP, an error status, or answers
//!    (verified or not, and why not).
//!
//! Nothing here prints, reads files or picks an exit status: that is the caller's. The
//! clock is an argument of [`judge`].

use crate::request::{build_request, Target};
use crate::transport::{send, Exchange, HttpOptions, TransportError};
use ocsp_proto::response::ParsedResponse;
use ocsp_proto::verify::{self, ChainError, Policy, SignerKind, VerifyError, Warning};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::x509_ocsp::{BasicOcspResponse, CertId, OcspResponseStatus, SingleResponse};
use ocsp_proto::{CertStatus, HashAlg, Serial, Timestamp};

/// What was asked, for labelling and verification.
#[derive(Clone, Debug)]
pub struct Asked {
    /// One label per CertID: the target's label, or `0x{serial}` for a request read from DER
    /// whose serial no target names.
    pub labels: Vec<String>,
    /// The CertIDs, in request order.
    pub cert_ids: Vec<CertId>,
    /// The nonce sent, if any.
    pub nonce: Option<Vec<u8>>,
    /// The DER OCSPRequest.
    pub der: Vec<u8>,
}

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The DER request given is not one.
    #[error("{0}")]
    BadRequest(String),
    /// Encoding failed.
    #[error("cannot build the request: {0}")]
    Build(ocsp_proto::der::Error),
    /// The exchange failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The responder answered something other than 200.
    #[error("{method} {url} answered HTTP {status} ({len} octets of body)")]
    HttpStatus {
        /// GET or POST.
        method: &'static str,
        /// The base URL.
        url: String,
        /// The status.
        status: u16,
        /// Body length.
        len: usize,
        /// The whole exchange.
        exchange: Box<Exchange>,
    },
}

impl Asked {
    /// One request for all `targets`, CertIDs hashed with `alg`, with `nonce` when given.
    pub fn build(
        targets: &[Target],
        alg: HashAlg,
        nonce: Option<Vec<u8>>,
    ) -> Result<Asked, AskError> {
        let built = build_request(targets, alg, nonce).map_err(AskError::Build)?;
        Ok(Asked {
            labels: targets.iter().map(|t| t.label.clone()).collect(),
            cert_ids: built.cert_ids,
            nonce: built.nonce,
            der: built.der,
        })
    }

    /// A request someone else built; CertIDs whose serial one of `targets` has take its
    /// label.
    pub fn from_der(der: Vec<u8>, targets: &[Target]) -> Result<Asked, AskError> {
        let parsed = ocsp_proto::request::parse(&der, &Default::default())
            .map_err(|e| AskError::BadRequest(e.to_string()))?;
        let labels = parsed
            .items
            .iter()
            .map(|it| {
                targets
                    .iter()
                    .find(|t| t.serial == it.serial)
                    .map(|t| t.label.clone())
                    .unwrap_or_else(|| format!("0x{}", it.serial.to_hex()))
            })
            .collect();
        Ok(Asked {
            labels,
            cert_ids: parsed.items.into_iter().map(|i| i.cert_id).collect(),
            nonce: parsed.nonce,
            der,
        })
    }
}

/// Send `asked` to `url`; anything but HTTP 200 is an error (carrying the exchange).
pub async fn ask(url: &str, asked: &Asked, opts: &HttpOptions) -> Result<Exchange, AskError> {
    let ex = send(url, &asked.der, opts).await?;
    if ex.status != 200 {
        return Err(AskError::HttpStatus {
            method: ex.method.as_str(),
            url: url.to_string(),
            status: ex.status,
            len: ex.body.len(),
            exchange: Box::new(ex),
        });
    }
    Ok(ex)
}

/// Whether an exchange's Content-Type is `application/ocsp-response`.
pub fn content_type_ok(ex: &Exchange) -> bool {
    matches!(ex.content_type.as_deref(), Some(ct) if ct.eq_ignore_ascii_case("application/ocsp-response"))
}

/// How to judge an answer.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// Skip verification altogether (answers are reported unverified).
    pub noverify: bool,
    /// Extra certificates to look for the responder's certificate in.
    pub untrusted: Vec<Certificate>,
    /// Certificates trusted as responders without further checks.
    pub trusted: Vec<Certificate>,
    /// Skew, status age, nonce requirement.
    pub policy: Policy,
    /// When set, every issuer must chain to one of these roots.
    pub roots: Option<Vec<Certificate>>,
    /// Certificates that may sit between an issuer and a root.
    pub intermediates: Vec<Certificate>,
}

/// One answer, as the response states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerOut {
    /// The status.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
}

/// Why verification failed.
#[derive(Debug)]
pub enum Failure {
    /// The response itself.
    Response(VerifyError),
    /// The response verified, but an issuer does not chain to the roots.
    Chain {
        /// Why.
        error: ChainError,
        /// What authorised the signer.
        signer_kind: SignerKind,
        /// The signer's subject.
        signer_subject: String,
        /// Warnings from the response's verification.
        warnings: Vec<Warning>,
    },
}

/// How verification went.
#[derive(Debug)]
pub enum Verification {
    /// Not attempted ([`Checks::noverify`]).
    NotPerformed,
    /// Failed: the answers are what the response claims, unverified.
    Failed(Failure),
    /// Passed.
    Verified {
        /// What authorised the signer.
        signer_kind: SignerKind,
        /// The signer's subject.
        signer_subject: String,
        /// Things accepted but worth saying.
        warnings: Vec<Warning>,
        /// Whether [`Checks::roots`] were checked.
        chain_checked: bool,
    },
}

/// A successful response, parsed and judged.
#[derive(Debug)]
pub struct Answered {
    /// The BasicOCSPResponse.
    pub basic: Box<BasicOcspResponse>,
    /// The raw tbsResponseData.
    pub tbs_der: Vec<u8>,
    /// producedAt.
    pub produced_at: Timestamp,
    /// The nonce in the response, if any.
    pub nonce: Option<Vec<u8>>,
    /// One entry per requested CertID, in request order; `None` when not answered.
    pub answers: Vec<Option<AnswerOut>>,
    /// How verification went.
    pub verification: Verification,
}

impl Answered {
    /// Whether the answers can be relied on: verified.
    pub fn verified(&self) -> bool {
        matches!(self.verification, Verification::Verified { .. })
    }
}

/// What a response body turned out to be.
#[derive(Debug)]
pub enum Judged {
    /// Not a parseable OCSPResponse.
    NotOcsp(String),
    /// An error status (malformedRequest, tryLater, unauthorized ...).
    ErrorStatus(OcspResponseStatus),
    /// A successful response.
    Answered(Answered),
}

/// Answers matched to the request without any check.
pub fn unverified_answers(
    responses: &[SingleResponse],
    asked: &Asked,
    issuers: &[Certificate],
) -> Vec<Option<AnswerOut>> {
    asked
        .cert_ids
        .iter()
        .map(|id| {
            let issuer = verify::find_issuer(id, issuers);
            responses
                .iter()
                .find(|s| verify::cert_ids_match(id, &s.cert_id, issuer))
                .map(|s| AnswerOut {
                    status: CertStatus::from_single(s),
                    this_update: Timestamp::from_ocsp(&s.this_update),
                    next_update: s.next_update.as_ref().map(Timestamp::from_ocsp),
                })
        })
        .collect()
}

/// Parse `resp_der` and verify it against `asked` at `now`.
pub fn judge(
    resp_der: &[u8],
    asked: &Asked,
    issuers: &[Certificate],
    checks: &Checks,
    now: Timestamp,
) -> Judged {
    let (basic, tbs_der) = match ocsp_proto::response::parse(resp_der) {
        Err(e) => return Judged::NotOcsp(e.to_string()),
        Ok(ParsedResponse::Error(status)) => return Judged::ErrorStatus(status),
        Ok(ParsedResponse::Basic { basic, tbs_der }) => (basic, tbs_der),
    };
    let rd = &basic.tbs_response_data;
    let produced_at = Timestamp::from_ocsp(&rd.produced_at);
    let nonce = rd.nonce().map(|n| n.0.as_bytes().to_vec());
    let unverified = || unverified_answers(&rd.responses, asked, issuers);
    let (answers, verification) = if checks.noverify {
        (unverified(), Verification::NotPerformed)
    } else {
        let params = verify::Params {
            requested: &asked.cert_ids,
            issuers,
            nonce: asked.nonce.as_deref(),
            untrusted: &checks.untrusted,
            trusted: &checks.trusted,
            now,
            policy: checks.policy,
        };
        match verify::verify(&basic, &tbs_der, &params) {
            Err(e) => (unverified(), Verification::Failed(Failure::Response(e))),
            Ok(v) => {
                let chain = match &checks.roots {
                    None => Ok(false),
                    Some(roots) => {
                        let mut extra = checks.intermediates.clone();
                        extra.extend(basic.certs.iter().flatten().cloned());
                        issuers
                            .iter()
                            .try_for_each(|i| {
                                verify::verify_chain(i, &extra, roots, now).map(|_| ())
                            })
                            .map(|()| true)
                    }
                };
                match chain {
                    Err(error) => (
                        unverified(),
                        Verification::Failed(Failure::Chain {
                            error,
                            signer_kind: v.signer_kind,
                            signer_subject: v.signer.tbs_certificate.subject.to_string(),
                            warnings: v.warnings,
                        }),
                    ),
                    Ok(chain_checked) => (
                        v.answers
                            .iter()
                            .map(|a| {
                                Some(AnswerOut {
                                    status: a.status.clone(),
                                    this_update: a.this_update,
                                    next_update: a.next_update,
                                })
                            })
                            .collect(),
                        Verification::Verified {
                            signer_kind: v.signer_kind,
                            signer_subject: v.signer.tbs_certificate.subject.to_string(),
                            warnings: v.warnings,
                            chain_checked,
                        },
                    ),
                }
            }
        }
    };
    Judged::Answered(Answered {
        produced_at,
        nonce,
        answers,
        verification,
        basic,
        tbs_der,
    })
}

/// The whole flow: send `asked` to `url`, then [`judge`] the body at the current time.
pub async fn query(
    url: &str,
    asked: &Asked,
    issuers: &[Certificate],
    opts: &HttpOptions,
    checks: &Checks,
) -> Result<(Exchange, Judged), AskError> {
    let ex = ask(url, asked, opts).await?;
    let judged = judge(&ex.body, asked, issuers, checks, crate::now());
    Ok((ex, judged))
}

/// The serial a CertID asks about, in hex (for output).
pub fn serial_hex(id: &CertId) -> String {
    Serial::of_cert_id(id).to_hex()
}
