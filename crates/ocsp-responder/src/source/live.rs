//! Live signing: look up each CertID's status and sign a fresh response.
//!
//! Every CertID must name a served issuer (else `unauthorized`), and all of them must be
//! answerable by one responder: RFC 6960 §4.2.2.2 lets a response carry only one
//! signature, so a request mixing CAs with different signers gets `unauthorized` as a
//! whole — the same answer every time, never a response half of whose SingleResponses
//! the signer is not authorised for.
//!
//! Lookups run on the async worker (they are cheap); building, signing and hashing the
//! response run on the [`SigningPool`], so a slow key never stalls I/O, and a full
//! signing queue is answered `tryLater` at once.

use super::signing::{Priority, SigningPool};
use super::{Answer, ResponseSource, SourceError};
use crate::clock;
use crate::config::UnknownSerial;
use crate::issuer::{Issuer, IssuerSet, Responder};
use async_trait::async_trait;
use ocsp_proto::profile::Profile;
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::response::{build_signed, ResponseParams, SingleAnswer};
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Timestamp};
use std::sync::Arc;

/// Where the responder reads the time (the wall clock, or a test's).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(clock::now)
}

/// Signs every answer from the issuers' status sources.
pub struct LiveSource {
    issuers: Arc<IssuerSet>,
    pool: Arc<SigningPool>,
    clock: Clock,
    profile: Profile,
}

/// A freshly signed answer with what a cache needs to keep it honest.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The answer.
    pub answer: Arc<Answer>,
    /// The status on record for each CertID, in request order (`None`: no record).
    pub records: Vec<Option<CertStatus>>,
    /// The lowest status-source generation read *before* the lookups: the answer is
    /// true at least as of this generation (a race can only make it look older).
    pub generation: u64,
}

/// One CertID to answer: the CertID as sent, its issuer, and the status on record.
#[derive(Debug, Clone)]
pub struct Item {
    /// The CertID exactly as requested (echoed in the SingleResponse).
    pub cert_id: CertId,
    /// The issuer it names.
    pub issuer: Arc<Issuer>,
    /// The status on record (`None`: the source holds no record).
    pub record: Option<CertStatus>,
}

impl LiveSource {
    /// Live signing for `issuers`, signing on `pool`.
    pub fn new(issuers: Arc<IssuerSet>, pool: Arc<SigningPool>) -> LiveSource {
        LiveSource {
            issuers,
            pool,
            clock: system_clock(),
            profile: Profile::Private,
        }
    }

    /// Check every response against `profile` before signing it (default: private).
    pub fn with_profile(mut self, profile: Profile) -> LiveSource {
        self.profile = profile;
        self
    }

    /// The compliance profile responses are checked against (for a cache: answers past
    /// `profile().refresh_deadline(thisUpdate, nextUpdate)` should not be served).
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Read the time from `clock` instead of the wall clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> LiveSource {
        self.clock = clock;
        self
    }

    /// The served issuers.
    pub fn issuers(&self) -> &Arc<IssuerSet> {
        &self.issuers
    }

    /// The signing pool.
    pub fn pool(&self) -> &Arc<SigningPool> {
        &self.pool
    }

    /// The time now, by this source's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The issuer of every CertID of `req`, all answerable by one responder.
    pub fn resolve(&self, req: &ParsedRequest) -> Result<Vec<Arc<Issuer>>, SourceError> {
        let mut issuers: Vec<Arc<Issuer>> = Vec::with_capacity(req.items.len());
        for item in &req.items {
            issuers.push(
                self.issuers
                    .find(item)
                    .ok_or(SourceError::NotFound)?
                    .clone(),
            );
        }
        let Some(first) = issuers.first() else {
            return Err(SourceError::NotFound);
        };
        let responder = &first.responder;
        if issuers
            .iter()
            .any(|i| !Arc::ptr_eq(&i.responder, responder))
        {
            return Err(SourceError::NotFound);
        }
        Ok(issuers)
    }

    /// Look up and sign an answer to `req` in the queue of `priority`.
    pub async fn sign_request(
        &self,
        req: &ParsedRequest,
        priority: Priority,
    ) -> Result<Signed, SourceError> {
        let issuers = self.resolve(req)?;
        let mut generation = u64::MAX;
        let mut items = Vec::with_capacity(req.items.len());
        for (item, issuer) in req.items.iter().zip(issuers) {
            // Generation first, lookup second: the answer is at least this fresh.
            generation = generation.min(issuer.status.generation().await?);
            let lookup = issuer.status.status(&item.serial).await?;
            items.push(Item {
                cert_id: item.cert_id.clone(),
                issuer,
                record: lookup.status,
            });
        }
        let records = items.iter().map(|i| i.record.clone()).collect();
        let answer = self.sign_items(items, req.nonce.clone(), priority).await?;
        Ok(Signed {
            answer,
            records,
            generation,
        })
    }

    /// Sign an answer stating `items` (statuses already looked up), echoing `nonce`, on
    /// the signing pool. All items must share one responder.
    pub async fn sign_items(
        &self,
        items: Vec<Item>,
        nonce: Option<Vec<u8>>,
        priority: Priority,
    ) -> Result<Arc<Answer>, SourceError> {
        let now = self.now();
        let job = build_job(items, nonce, now, self.profile)?;
        self.pool.run(priority, job).await?
    }
}

/// The status stated for a serial the source holds no record of.
pub fn absent_status(policy: UnknownSerial) -> (CertStatus, bool) {
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

/// The status an answer states for `record` under `issuer`'s policy, and whether it
/// needs the extended-revoke extension.
pub fn stated_status(issuer: &Issuer, record: Option<&CertStatus>) -> (CertStatus, bool) {
    match record {
        Some(s) => (s.clone(), false),
        None => absent_status(issuer.unknown_serial),
    }
}

/// Everything the signing thread needs, owned, so the job can leave the async worker.
fn build_job(
    items: Vec<Item>,
    nonce: Option<Vec<u8>>,
    now: Timestamp,
    profile: Profile,
) -> Result<impl FnOnce() -> Result<Arc<Answer>, SourceError> + Send + 'static, SourceError> {
    let responder: Arc<Responder> = items
        .first()
        .map(|i| i.issuer.responder.clone())
        .ok_or(SourceError::NotFound)?;
    let mut answers = Vec::with_capacity(items.len());
    let mut statuses = Vec::with_capacity(items.len());
    let mut extended_revoke = false;
    let mut next_min = Timestamp(u64::MAX);
    let on_record: Vec<bool> = items.iter().map(|i| i.record.is_some()).collect();
    for item in items {
        let (status, ext) = stated_status(&item.issuer, item.record.as_ref());
        extended_revoke |= ext;
        // No nextUpdate past the responder certificate's notAfter (CA/B BR 4.9.10).
        let next = now.plus(item.issuer.validity_secs).min(responder.not_after);
        next_min = next_min.min(next);
        statuses.push(status.name());
        answers.push(SingleAnswer {
            cert_id: item.cert_id,
            status,
            this_update: now,
            next_update: Some(next),
        });
    }
    Ok(move || {
        let params = ResponseParams {
            responder_id: &responder.responder_id,
            produced_at: now,
            answers: &answers,
            nonce: nonce.as_deref(),
            extended_revoke,
            certs: &responder.certs,
        };
        // Compliance profile (issue 6): checked before every signature; signing timed.
        crate::compliance::check_before_signing(profile, &params, &on_record, &responder)?;
        let _timer = crate::metrics::sign_timer();
        let der = build_signed(&params, responder.signer.as_ref())
            .map_err(|e| SourceError::Internal(e.to_string()))?;
        Ok(Arc::new(Answer::new(der, now, next_min, now, statuses)))
    })
}

#[async_trait]
impl ResponseSource for LiveSource {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        let priority = if req.nonce.is_some() {
            Priority::Live
        } else {
            Priority::Cacheable
        };
        Ok(self.sign_request(req, priority).await?.answer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::source::testkit::{self, Kit};
    use ocsp_proto::response::{parse, ParsedResponse};
    use ocsp_proto::verify::answer_status;
    use ocsp_proto::{HashAlg, Serial};

    #[tokio::test]
    async fn signs_statuses_on_the_pool() {
        let kit = Kit::new(&[
            ("01", Some(CertStatus::Good)),
            ("02", Some(testkit::revoked())),
        ]);
        let live = kit.live();
        let req = kit.request(
            &[
                ("01", HashAlg::Sha256),
                ("02", HashAlg::Sha1),
                ("03", HashAlg::Sha1),
            ],
            Some(&[9; 32]),
        );
        let signed = live.sign_request(&req, Priority::Live).await.unwrap();
        assert_eq!(signed.answer.statuses, vec!["good", "revoked", "unknown"]);
        assert_eq!(signed.records[2], None);
        assert_eq!(signed.generation, 1);
        assert_eq!(live.pool().stats().signed(), 1);
        let ParsedResponse::Basic { basic, tbs_der } = parse(&signed.answer.der).unwrap() else {
            panic!("not basic")
        };
        kit.verify_signature(&basic, &tbs_der);
        let rs = &basic.tbs_response_data.responses;
        assert_eq!(rs.len(), 3);
        for (r, item) in rs.iter().zip(&req.items) {
            assert_eq!(r.cert_id, item.cert_id, "CertID echoed exactly");
        }
        assert_eq!(answer_status(&rs[1]), testkit::revoked());
        assert!(
            basic.tbs_response_data.response_extensions.is_some(),
            "nonce echoed"
        );
    }

    #[tokio::test]
    async fn unknown_issuer_is_not_found() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let live = kit.live();
        let mut req = kit.request(&[("01", HashAlg::Sha256)], None);
        req.items[0].cert_id.issuer_key_hash =
            ocsp_proto::der::asn1::OctetString::new(vec![0u8; 32]).unwrap();
        assert!(matches!(
            live.response(&req).await,
            Err(SourceError::NotFound)
        ));
        let _ = Serial::from_hex("01");
    }

    #[tokio::test]
    async fn revoked_policy_for_absent_serials() {
        let kit = Kit::with_policy(&[], UnknownSerial::Revoked);
        let live = kit.live();
        let req = kit.request(&[("77", HashAlg::Sha1)], None);
        let a = live.response(&req).await.unwrap();
        assert_eq!(a.statuses, vec!["revoked"]);
        let ParsedResponse::Basic { basic, .. } = parse(&a.der).unwrap() else {
            panic!()
        };
        assert!(
            basic.tbs_response_data.response_extensions.is_some(),
            "extended revoke"
        );
    }
}
