//! The facts a compliance profile judges, taken from a response about to be signed or from
//! one received.
//!
//! One rule set, two uses: the responder checks [`ResponseFacts::from_params`] right before
//! signing (the profile refuses to sign what breaks a rule), and `ocsp lint` checks
//! [`ResponseFacts::from_basic`] of whatever a responder sent back. Both go through
//! [`crate::profile::Profile::check_facts`], so a rule changed there changes both.
//!
//! A fact the holder cannot know is `None`: a linter does not know whether a serial is on
//! record unless it asked about a certificate it holds (`Some(true)`) or a serial it made
//! up (`Some(false)`), so `unassigned-never-good` is judged only where it is known.

use crate::profile::SignerFacts;
use crate::response::ResponseParams;
use crate::status::CertStatus;
use crate::{Serial, Timestamp};
use der::Encode;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::BasicOcspResponse;

/// What the rules need to know about one SingleResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerFacts {
    /// The serial asked about.
    pub serial: Serial,
    /// The status stated.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
    /// Whether the CA issued the serial, when known.
    pub on_record: Option<bool>,
}

/// What the rules need to know about one response.
#[derive(Clone, Debug)]
pub struct ResponseFacts<'a> {
    /// producedAt.
    pub produced_at: Timestamp,
    /// Every SingleResponse, in order.
    pub answers: Vec<AnswerFacts>,
    /// The signature algorithm and the signer's key and notAfter.
    pub signer: SignerFacts<'a>,
}

/// The signer of a received response, owned (the borrowed [`SignerFacts`] points into it).
#[derive(Clone, Debug)]
pub struct ReceivedSigner {
    /// signatureAlgorithm of the BasicOCSPResponse.
    pub algorithm: AlgorithmIdentifierOwned,
    /// The signer certificate's DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The signer certificate's notAfter.
    pub not_after: Timestamp,
}

impl ReceivedSigner {
    /// The signer facts of `basic`, signed by `signer_cert` (found by verification).
    pub fn of(basic: &BasicOcspResponse, signer_cert: &Certificate) -> Result<Self, der::Error> {
        Ok(ReceivedSigner {
            algorithm: basic.signature_algorithm.clone(),
            spki_der: signer_cert
                .tbs_certificate
                .subject_public_key_info
                .to_der()?,
            not_after: Timestamp::from_x509(&signer_cert.tbs_certificate.validity.not_after),
        })
    }

    /// Borrowed, as the profile takes it.
    pub fn facts(&self) -> SignerFacts<'_> {
        SignerFacts {
            algorithm: &self.algorithm,
            spki_der: &self.spki_der,
            not_after: self.not_after,
        }
    }
}

impl<'a> ResponseFacts<'a> {
    /// A response about to be signed: `on_record[i]` says whether the status source held a
    /// record of the serial of `params.answers[i]`; a missing entry counts as no record.
    pub fn from_params(
        params: &ResponseParams<'_>,
        on_record: &[bool],
        signer: SignerFacts<'a>,
    ) -> Self {
        ResponseFacts {
            produced_at: params.produced_at,
            answers: params
                .answers
                .iter()
                .enumerate()
                .map(|(i, a)| AnswerFacts {
                    serial: Serial::of_cert_id(&a.cert_id),
                    status: a.status.clone(),
                    this_update: a.this_update,
                    next_update: a.next_update,
                    on_record: Some(on_record.get(i).copied().unwrap_or(false)),
                })
                .collect(),
            signer,
        }
    }

    /// A received response: `on_record` maps a serial to whether it was issued, when the
    /// caller knows.
    pub fn from_basic(
        basic: &BasicOcspResponse,
        signer: SignerFacts<'a>,
        on_record: impl Fn(&Serial) -> Option<bool>,
    ) -> Self {
        let rd = &basic.tbs_response_data;
        ResponseFacts {
            produced_at: Timestamp::from_ocsp(&rd.produced_at),
            answers: rd
                .responses
                .iter()
                .map(|s| {
                    let serial = Serial::of_cert_id(&s.cert_id);
                    let on_record = on_record(&serial);
                    AnswerFacts {
                        serial,
                        status: CertStatus::from_single(s),
                        this_update: Timestamp::from_ocsp(&s.this_update),
                        next_update: s.next_update.as_ref().map(Timestamp::from_ocsp),
                        on_record,
                    }
                })
                .collect(),
            signer,
        }
    }
}
