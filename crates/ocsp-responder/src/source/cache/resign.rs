//! Re-signing after a rollover: the answers a replaced responder signed are signed again
//! by the one now in force, in the background, while they keep being served.
//!
//! # The promise
//!
//! - **Nothing is served past its signer's notAfter.** Every answer's nextUpdate is
//!   clamped to the notAfter of the certificate that signed it (at signing time, in
//!   `live.rs`), and no entry is served at or past its nextUpdate. So an answer signed
//!   under an old certificate can never be served after that certificate expires,
//!   whether or not a re-sign reached it.
//! - **Answers name the new certificate soon after a swap.** Each answer carries the
//!   epoch of the responder that signed it ([`Answer::signed_by`]). An entry whose epoch
//!   is not its issuer's current one ([`superseded`]) is not a fresh hit: the shared map
//!   and the per-thread copies pass it to the slow path, which serves it (it is valid)
//!   and starts one background re-sign, as for an entry past its refresh point.
//! - **Entries nobody asks for are re-signed too.** [`CachedSource::resign_superseded`]
//!   (run by the rollover right after a swap) walks the map once and re-signs every
//!   superseded entry, [`RESIGN_PARALLEL`] at a time on the signing pool's cacheable
//!   queue, so it never fills the queue the requests need; a full queue is waited out,
//!   not failed.
//!
//! An answer of epoch 0 (signer not known: built outside live signing) is never judged
//! superseded.

use super::map::Key;
use super::{CacheStats, CachedSource, Inner};
use crate::issuer::IssuerId;
use crate::source::signing::Priority;
use crate::source::{Answer, SourceError};
use ocsp_proto::request::RequestItem;
use ocsp_proto::response::{parse as parse_response, ParsedResponse};
use ocsp_proto::{HashAlg, Serial};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Re-signs run at once by a sweep.
pub const RESIGN_PARALLEL: usize = 4;

/// How often a sweep retries one answer the signing pool refused as overloaded.
const OVERLOAD_RETRIES: u32 = 50;

/// Whether `answer` was signed by a responder other than the one of `epoch` (the one in
/// force).
pub(super) fn superseded(answer: &Answer, epoch: u64) -> bool {
    answer.signed_by != 0 && answer.signed_by != epoch
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResignReport {
    /// Superseded entries found.
    pub found: usize,
    /// Re-signed by the responder in force.
    pub resigned: usize,
    /// Already being re-signed by a hit when the sweep reached them.
    pub skipped: usize,
    /// Not re-signed (the signer failed, or the answer could not be read back); they
    /// stay served until their nextUpdate and are re-signed on their next hit.
    pub failed: usize,
}

impl CachedSource {
    /// Re-sign every cached answer whose signer is no longer its issuer's responder in
    /// force (see the module documentation). Returns when every one was tried.
    pub async fn resign_superseded(&self) -> ResignReport {
        let inner = &self.inner;
        let now = inner.clock.now();
        let stale = inner.map.entries_where(now, |k, e| {
            inner
                .issuers
                .get(k.issuer)
                .is_some_and(|i| superseded(&e.answer, i.responder.epoch()))
        });
        let mut report = ResignReport {
            found: stale.len(),
            ..ResignReport::default()
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (key, entry) in stale {
            while tasks.len() >= RESIGN_PARALLEL {
                if let Some(r) = tasks.join_next().await {
                    tally(&mut report, r);
                }
            }
            if entry.refreshing.swap(true, Ordering::AcqRel) {
                report.skipped += 1;
                continue;
            }
            let inner = inner.clone();
            tasks.spawn(async move {
                let outcome = match item_of(&entry.answer) {
                    Some(item) => resign_one(&inner, key, key.issuer, item).await,
                    None => Err(SourceError::Internal("cached answer unreadable".into())),
                };
                entry.refreshing.store(false, Ordering::Release);
                outcome
            });
        }
        while let Some(r) = tasks.join_next().await {
            tally(&mut report, r);
        }
        report
    }
}

fn tally(report: &mut ResignReport, r: Result<Result<(), SourceError>, tokio::task::JoinError>) {
    match r {
        Ok(Ok(())) => report.resigned += 1,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "re-sign after a rollover failed; retried on a later hit");
            report.failed += 1;
        }
        Err(_) => report.failed += 1,
    }
}

/// Sign `key`'s answer again, waiting out a full cacheable queue.
async fn resign_one(
    inner: &Arc<Inner>,
    key: Key,
    id: IssuerId,
    item: RequestItem,
) -> Result<(), SourceError> {
    let mut tries = 0;
    loop {
        match inner.sign_one(id, item.clone(), Priority::Cacheable).await {
            Ok(signed) => {
                inner.insert(key, signed);
                CacheStats::bump(&inner.stats.resigns);
                return Ok(());
            }
            Err(SourceError::Overloaded) if tries < OVERLOAD_RETRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                CacheStats::bump(&inner.stats.resign_failures);
                return Err(e);
            }
        }
    }
}

/// The CertID a cached answer answers (its one SingleResponse), as a request item.
fn item_of(answer: &Answer) -> Option<RequestItem> {
    let Ok(ParsedResponse::Basic { basic, .. }) = parse_response(&answer.der) else {
        return None;
    };
    let [single] = basic.tbs_response_data.responses.as_slice() else {
        return None;
    };
    Some(RequestItem {
        alg: Some(HashAlg::from_oid(&single.cert_id.hash_algorithm.oid)?),
        serial: Serial::of_cert_id(&single.cert_id),
        cert_id: single.cert_id.clone(),
    })
}
