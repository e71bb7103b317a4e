//! Live signing: look up each CertID's status and sign a fresh response.
//!
//! Every CertID must name a served issuer (else `unauthorized`), and all of them must be
//! answerable by one responder: RFC 6960 §4.2.2.2 lets a response carry only one
//! signature, so a request mixing CAs with different signers gets `unauthorized` as a
//! whole — the same answer every time, never a response half of whose SingleResponses
//! the signer is not authorised for.

use super::{Answer, ResponseSource, SourceError};
use crate::clock;
use crate::config::UnknownSerial;
use crate::issuer::{IssuerSet, Responder};
use async_trait::async_trait;
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::response::{build_signed, ResponseParams, SingleAnswer};
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Timestamp};
use std::sync::Arc;

/// Signs every answer from the issuers' status sources.
pub struct LiveSource {
    issuers: Arc<IssuerSet>,
}

impl LiveSource {
    /// Live signing for `issuers`.
    pub fn new(issuers: Arc<IssuerSet>) -> LiveSource {
        LiveSource { issuers }
    }

    /// The served issuers.
    pub fn issuers(&self) -> &Arc<IssuerSet> {
        &self.issuers
    }
}

/// The status stated for a serial the source holds no record of.
fn absent_status(policy: UnknownSerial) -> (CertStatus, bool) {
    match policy {
        UnknownSerial::Unknown => (CertStatus::Unknown, false),
        UnknownSerial::Revoked => (
            CertStatus::Revoked(Revocation {
                time: Timestamp::EPOCH,
                reason: Some(RevocationReason::CertificateHold),
                invalidity_date: None,
                hold_instruction: None,
            }),
            true,
        ),
    }
}

#[async_trait]
impl ResponseSource for LiveSource {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        let mut issuers = Vec::with_capacity(req.items.len());
        for item in &req.items {
            issuers.push(self.issuers.find(item).ok_or(SourceError::NotFound)?);
        }
        let responder: &Arc<Responder> = &issuers[0].responder;
        if issuers.iter().any(|i| !Arc::ptr_eq(&i.responder, responder)) {
            return Err(SourceError::NotFound);
        }
        let now = clock::now();
        let mut answers = Vec::with_capacity(req.items.len());
        let mut statuses = Vec::with_capacity(req.items.len());
        let mut extended_revoke = false;
        let mut next_min = Timestamp(u64::MAX);
        for (item, issuer) in req.items.iter().zip(&issuers) {
            let lookup = issuer.status.status(&item.serial).await?;
            let status = match lookup.status {
                Some(s) => s,
                None => {
                    let (s, ext) = absent_status(issuer.unknown_serial);
                    extended_revoke |= ext;
                    s
                }
            };
            // No nextUpdate past the responder certificate's notAfter (CA/B BR 4.9.10).
            let next = now.plus(issuer.validity_secs).min(responder.not_after);
            next_min = next_min.min(next);
            statuses.push(status.name());
            answers.push(SingleAnswer {
                cert_id: item.cert_id.clone(),
                status,
                this_update: now,
                next_update: Some(next),
            });
        }
        let params = ResponseParams {
            responder_id: &responder.responder_id,
            produced_at: now,
            answers: &answers,
            nonce: req.nonce.as_deref(),
            extended_revoke,
            certs: &responder.certs,
        };
        let der = build_signed(&params, responder.signer.as_ref())
            .map_err(|e| SourceError::Internal(e.to_string()))?;
        Ok(Arc::new(Answer::new(der, now, next_min, now, statuses)))
    }
}
