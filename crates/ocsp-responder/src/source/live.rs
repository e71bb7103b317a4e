//! Live signing: look up each CertID's status and sign a fresh response.
//!
//! The issuers come resolved ([`Resolved`], from the filter stage), all with one
//! responder. Lookups run on the async worker (they are cheap); building, checking
//! against the compliance profile, signing and hashing the response run on the
//! [`SigningPool`], so a slow key never stalls I/O, and a full signing queue is
//! answered `tryLater` at once.
//!
//! # The compliance profile at signing time
//!
//! Every response passes [`Profile::check_response`] right before its signature (see
//! [`ocsp_proto::profile`] for the rules). A violation is counted
//! (`ocsp_profile_refusals_total{rule}`) and becomes `internalError`: nothing
//! non-compliant is ever signed, whichever command asked (serve or presign: both are
//! built by [`crate::setup`]).
//!
//! # When the key cannot sign
//!
//! A signer's failure (a PKCS#11 token not ready, a call hanging, every session busy) is
//! [`SourceError::Unavailable`]: the client is answered `tryLater` and asks again; cache hits
//! are still served, since they need no signature. Anything else that fails while building
//! the response is ours (`internalError`).

use super::filter;
use super::signing::{Priority, SigningPool};
use super::{Answer, Resolved, ResolvedSource, Sign, Signed, SourceError};
use crate::issuer::{Issuer, IssuerSet, Responder, ResponderSlot};
use async_trait::async_trait;
use ocsp_proto::profile::{Profile, SignerFacts};
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::response::{build_signed, BuildError, ResponseParams, SingleAnswer};
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::{CertStatus, Timestamp};
use ocsp_status::{Period, SharedClock};
use std::sync::Arc;

/// Signs every answer from the issuers' status sources.
pub struct LiveSource {
    issuers: Arc<IssuerSet>,
    pool: Arc<SigningPool>,
    clock: SharedClock,
    profile: Profile,
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
    /// The period the source vouches for (a CRL's): see [`answer_times`].
    pub period: Option<Period>,
}

impl LiveSource {
    /// Live signing for `issuers`, signing on `pool`, by the wall clock, under the
    /// private profile.
    pub fn new(issuers: Arc<IssuerSet>, pool: Arc<SigningPool>) -> LiveSource {
        LiveSource {
            issuers,
            pool,
            clock: ocsp_status::clock::system(),
            profile: Profile::Private,
        }
    }

    /// Check every response against `profile` before signing it (default: private).
    pub fn with_profile(mut self, profile: Profile) -> LiveSource {
        self.profile = profile;
        self
    }

    /// Read the time from `clock` instead of the wall clock.
    pub fn with_clock(mut self, clock: SharedClock) -> LiveSource {
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

    /// Resolve `req`'s issuers and sign an answer (for callers without a filter stage in
    /// front: tests, tools).
    pub async fn sign_request(
        &self,
        req: &ParsedRequest,
        priority: Priority,
    ) -> Result<Signed, SourceError> {
        let ids = filter::resolve(&self.issuers, req)?;
        self.sign(
            Resolved {
                request: req,
                issuers: &self.issuers,
                ids: &ids,
            },
            priority,
        )
        .await
    }

    /// Sign an answer stating `items` (statuses already looked up), echoing `nonce`, on
    /// the signing pool. All items must share one responder.
    pub async fn sign_items(
        &self,
        items: Vec<Item>,
        nonce: Option<Vec<u8>>,
        priority: Priority,
    ) -> Result<Arc<Answer>, SourceError> {
        let now = self.clock.now();
        let job = build_job(items, nonce, now, self.profile)?;
        self.pool.run(priority, job).await?
    }
}

impl LiveSource {
    /// Build and sign the answer for `items` on the calling thread, as a signing job
    /// would, without the pool (`ocsp sign-bench`: the signer's own rate).
    pub fn sign_here(
        &self,
        items: Vec<Item>,
        nonce: Option<Vec<u8>>,
    ) -> Result<Arc<Answer>, SourceError> {
        build_job(items, nonce, self.clock.now(), self.profile)?()
    }
}

#[async_trait]
impl Sign for LiveSource {
    async fn sign(&self, req: Resolved<'_>, priority: Priority) -> Result<Signed, SourceError> {
        let mut generation = u64::MAX;
        let mut items = Vec::with_capacity(req.ids.len());
        for (item, id) in req.request.items.iter().zip(req.ids) {
            let issuer = req.issuers.get(*id).ok_or(SourceError::NotFound)?;
            // Generation first, lookup second: the answer is at least this fresh.
            generation = generation.min(issuer.status.generation().await?);
            let lookup = issuer.status.status(&item.serial).await?;
            items.push(Item {
                cert_id: item.cert_id.clone(),
                issuer: issuer.clone(),
                record: lookup.status,
                period: lookup.period,
            });
        }
        let records = items.iter().map(|i| i.record.clone()).collect();
        let answer = self
            .sign_items(items, req.request.nonce.clone(), priority)
            .await?;
        Ok(Signed {
            answer,
            records,
            generation,
        })
    }
}

#[async_trait]
impl ResolvedSource for LiveSource {
    async fn answer(&self, req: Resolved<'_>) -> Result<Arc<Answer>, SourceError> {
        let priority = if req.request.nonce.is_some() {
            Priority::Live
        } else {
            Priority::Cacheable
        };
        Ok(self.sign(req, priority).await?.answer)
    }
}

/// Everything the signing thread needs, owned, so the job can leave the async worker.
///
/// The responder is read from the issuer's [`ResponderSlot`] when the job runs, not when
/// it is queued: a job that waited through a rollover signs with the responder then in
/// force, and every nextUpdate is clamped to the notAfter of the certificate that
/// actually signs (CA/B BR 4.9.10), so no answer outlives its signer's certificate.
fn build_job(
    items: Vec<Item>,
    nonce: Option<Vec<u8>>,
    now: Timestamp,
    profile: Profile,
) -> Result<impl FnOnce() -> Result<Arc<Answer>, SourceError> + Send + 'static, SourceError> {
    let slot: Arc<ResponderSlot> = items
        .first()
        .map(|i| i.issuer.responder.clone())
        .ok_or(SourceError::NotFound)?;
    let mut answers = Vec::with_capacity(items.len());
    let mut statuses = Vec::with_capacity(items.len());
    let mut extended_revoke = false;
    let on_record: Vec<bool> = items.iter().map(|i| i.record.is_some()).collect();
    for item in items {
        let (status, ext) = item.issuer.stated_status(item.record.as_ref());
        extended_revoke |= ext;
        // The signing certificate's notAfter clamps nextUpdate in the job (the responder
        // in force is known only there).
        let (this_update, next) = answer_times(
            now,
            item.issuer.validity_secs,
            Timestamp(u64::MAX),
            item.period,
            profile,
        )?;
        statuses.push(status.name());
        answers.push(SingleAnswer {
            cert_id: item.cert_id,
            status,
            this_update,
            next_update: Some(next),
        });
    }
    Ok(move || {
        let stamped = slot.stamped();
        let responder = &stamped.responder;
        // No nextUpdate past the signing certificate's notAfter (CA/B BR 4.9.10).
        let mut next_min = Timestamp(u64::MAX);
        for a in &mut answers {
            let next = a.next_update.unwrap_or(now).min(responder.not_after);
            a.next_update = Some(next);
            next_min = next_min.min(next);
        }
        let params = ResponseParams {
            responder_id: &responder.responder_id,
            produced_at: now,
            answers: &answers,
            nonce: nonce.as_deref(),
            extended_revoke,
            certs: &responder.certs,
        };
        check_before_signing(profile, &params, &on_record, responder)?;
        let _timer = crate::metrics::sign_timer();
        let der = build_signed(&params, responder.signer.as_ref()).map_err(|e| match e {
            // The key could not sign now (a token not ready, hanging or busy): try later.
            BuildError::Sign(e) => SourceError::Unavailable(e.to_string()),
            e => SourceError::Internal(e.to_string()),
        })?;
        let mut answer = Answer::new(der, now, next_min, now, statuses);
        answer.signed_by = stamped.epoch;
        Ok(Arc::new(answer))
    })
}

/// thisUpdate and nextUpdate of one answer signed at `now`.
///
/// - Without a period: thisUpdate is `now`, nextUpdate `now + validity`.
/// - With a source's period (a CRL's): thisUpdate is the period's start (never after
///   `now`), and nextUpdate never passes the period's end: an answer never claims more
///   than the CRL it came from. When the profile's longest validity is shorter than
///   from the period's start, thisUpdate moves later (still inside the period, still not
///   after `now`: the status was known correct then too).
/// - Always: no nextUpdate past the responder certificate's notAfter (CA/B BR 4.9.10).
///
/// A period already over (or ending now) is `Unavailable` (`tryLater`): never an answer
/// whose nextUpdate is in the past.
pub fn answer_times(
    now: Timestamp,
    validity_secs: u64,
    not_after: Timestamp,
    period: Option<Period>,
    profile: Profile,
) -> Result<(Timestamp, Timestamp), SourceError> {
    let next = now.plus(validity_secs).min(not_after);
    let Some(p) = period else {
        return Ok((now, next));
    };
    let next = next.min(p.next_update);
    if next <= now {
        return Err(SourceError::Unavailable(format!(
            "the status source's data is valid until {} and nothing newer is loaded",
            p.next_update
        )));
    }
    let mut this = p.this_update.min(now);
    if let (_, Some(max)) = profile.validity_bounds() {
        // The interval counts both ends: next − this + 1 ≤ max.
        let earliest = Timestamp(next.0.saturating_sub(max.saturating_sub(1)));
        this = this.max(earliest).min(now);
    }
    Ok((this, next))
}

/// Check `params` against `profile` before `responder` signs them. `on_record[i]` says
/// whether the status source held a record of answer `i`'s serial.
fn check_before_signing(
    profile: Profile,
    params: &ResponseParams<'_>,
    on_record: &[bool],
    responder: &Responder,
) -> Result<(), SourceError> {
    let alg = responder.signer.algorithm();
    let facts = SignerFacts {
        algorithm: &alg,
        spki_der: responder.signer.public_key_der(),
        not_after: responder.not_after,
    };
    profile
        .check_response(params, on_record, &facts)
        .map_err(|v| {
            crate::metrics::profile_refused(v.rule.id());
            SourceError::Internal(format!("refused to sign: {v}"))
        })
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
            live.sign_request(&req, Priority::Live).await,
            Err(SourceError::NotFound)
        ));
        let _ = Serial::from_hex("01");
    }

    #[test]
    fn answer_times_never_outlive_the_period() {
        let now = Timestamp(1_000_000);
        let far = Timestamp(u64::MAX / 2);
        let day = 86_400;
        // No period: now .. now + validity.
        assert_eq!(
            answer_times(now, day, far, None, Profile::Cabf).unwrap(),
            (now, now.plus(day))
        );
        // A CRL from an hour ago, due in two hours: thisUpdate is the CRL's, nextUpdate
        // never past the CRL's.
        let p = Period {
            this_update: now.minus(3_600),
            next_update: now.plus(7_200),
        };
        assert_eq!(
            answer_times(now, day, far, Some(p), Profile::Private).unwrap(),
            (now.minus(3_600), now.plus(7_200))
        );
        // A CRL issued 12 days ago and due in 2: under cabf (10 days at most) thisUpdate
        // moves later, never after now.
        let p = Period {
            this_update: now.minus(12 * day),
            next_update: now.plus(2 * day),
        };
        let (this, next) = answer_times(now, 3 * day, far, Some(p), Profile::Cabf).unwrap();
        assert_eq!(next, now.plus(2 * day));
        assert!(this <= now && next.0 - this.0 < 10 * day, "{this} {next}");
        assert!(Profile::Cabf.check_validity(next.0 - this.0).is_ok());
        // A thisUpdate in the future is clamped to now.
        let p = Period {
            this_update: now.plus(60),
            next_update: now.plus(day),
        };
        assert_eq!(
            answer_times(now, day, far, Some(p), Profile::Private)
                .unwrap()
                .0,
            now
        );
        // Past (or at) nextUpdate: unavailable, never an answer dated in the past.
        let p = Period {
            this_update: now.minus(day),
            next_update: now,
        };
        assert!(matches!(
            answer_times(now, day, far, Some(p), Profile::Private),
            Err(SourceError::Unavailable(_))
        ));
        // The responder certificate's notAfter still bounds everything.
        let p = Period {
            this_update: now.minus(60),
            next_update: now.plus(day),
        };
        assert_eq!(
            answer_times(now, day, now.plus(100), Some(p), Profile::Private)
                .unwrap()
                .1,
            now.plus(100)
        );
    }

    #[tokio::test]
    async fn revoked_policy_for_absent_serials() {
        let kit = Kit::with_policy(&[], crate::issuer::UnknownSerial::Revoked);
        let live = kit.live();
        let req = kit.request(&[("77", HashAlg::Sha1)], None);
        let a = live
            .sign_request(&req, Priority::Cacheable)
            .await
            .unwrap()
            .answer;
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
