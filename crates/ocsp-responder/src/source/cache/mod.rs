//! The response cache: pre-signed answers served at memory speed, refreshed before they
//! age, never served once the status behind them may have changed.
//!
//! # What is cached
//!
//! Requests without a nonce naming one CertID (the RFC 9919 case). The answer echoes the
//! requester's CertID byte for byte, so the key is what makes those bytes identical: the
//! issuer (which fixes both issuer hashes for a given algorithm), the hash algorithm,
//! whether its parameters are NULL or absent, and the serial's DER content octets.
//! Requests with a nonce, with several CertIDs, or with unusual CertIDs go to live
//! signing.
//!
//! # Freshness
//!
//! Each entry records the status it states and the status-source generation read before
//! that status was looked up. Every hit first asks the issuer's source for its current
//! generation (the source brings itself up to date: a stat of index.txt). If it differs
//! from the entry's, the entry is not served as is: the serial's status is looked up in
//! the new snapshot; when it is unchanged the entry is re-stamped with the new generation
//! and served (a reload that did not touch this serial costs no signature), otherwise it
//! is signed afresh. So no answer is served from a snapshot older than the one in force
//! when the request arrived.
//!
//! An entry is re-signed once `refresh_fraction` of its validity has passed: the hit that
//! finds it so starts one background re-sign (on the signing pool's cacheable queue) and
//! is answered with the old, still valid entry. An entry past its nextUpdate is never
//! served.
//!
//! # Responder rollover
//!
//! An entry signed by a responder its issuer no longer has in force (the certificate and
//! key were replaced while serving) is treated like one past its refresh point: served,
//! while one background re-sign replaces it; a sweep after the swap re-signs the rest.
//! Its nextUpdate never passes the notAfter of the certificate that signed it, so it is
//! never served after that certificate expires. The details are in `resign.rs`.
//!
//! # Cost of a hit
//!
//! No signature; no allocation proportional to the index (the key is a fixed-size value;
//! the answer is shared by reference count); the only lock is a read lock on one of
//! `shards` small maps, never taken by the index reloader and never held by the signing
//! threads (inserts happen on the async side, after signing). Concurrent misses for the
//! same key at the same generation share one signature.
//!
//! # Change notifications
//!
//! A status source may also name the serials a new generation changed
//! ([`ocsp_status::StatusSource::changes`]). The cache does not need them for
//! correctness — the generation check above already guarantees that no answer is
//! served from an older snapshot — they only spare the re-check: an entry whose serial
//! no logged change named since its stamp is re-stamped without asking the source, an
//! entry whose serial one named is signed afresh, and only when the log does not cover
//! the entry's generations is the serial looked up (`changes.rs`). So one revocation
//! re-signs the answers of that serial and nothing else, and costs the source no lookup
//! for the others. A [`ocsp_status::Change::All`] (a restore, a full reload) drops every
//! answer of that issuer.
//!
//! # Bounded memory
//!
//! At most `max_entries` entries and about `max_bytes` bytes, split evenly over the
//! shards. Eviction is CLOCK (second chance): a hit marks its entry; the eviction hand
//! skips marked entries once.

mod changes;
mod flight;
mod local;
mod map;
mod persist;
mod resign;
mod stats;
#[cfg(test)]
mod tests;

pub use persist::LoadReport;
use resign::superseded;
pub use resign::{ResignReport, RESIGN_PARALLEL};
pub use stats::CacheStats;

use super::signing::Priority;
use super::{Answer, Resolved, ResolvedSource, Sign, Signed, SourceError};
use crate::issuer::{Issuer, IssuerId, IssuerSet};
use async_trait::async_trait;
use changes::{ChangeLogs, Verdict};
use flight::Flights;
use map::{Entry, Key, Map};
use ocsp_proto::request::{ParsedRequest, RequestItem};
use ocsp_proto::{CertStatus, HashAlg, Serial};
use ocsp_status::SharedClock;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Cache settings (the `[cache]` table of the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheOptions {
    /// Most entries held.
    pub max_entries: usize,
    /// About the most bytes of answers held (DER plus bookkeeping).
    pub max_bytes: usize,
    /// Fraction of an answer's validity after which it is re-signed, in (0, 1].
    pub refresh_fraction: f64,
}

/// Default `max_entries`.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Default `max_bytes`: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Default `refresh_fraction`: one half, which keeps the Baseline Requirements' refresh
/// rules for validities up to 8 days.
pub const DEFAULT_REFRESH_FRACTION: f64 = 0.5;

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
            refresh_fraction: DEFAULT_REFRESH_FRACTION,
        }
    }
}

/// Bookkeeping charged per entry on top of the DER.
const ENTRY_OVERHEAD: usize = 256;

struct Inner {
    /// This cache's key in the per-thread front caches.
    id: u64,
    issuers: Arc<IssuerSet>,
    signer: Arc<dyn Sign>,
    clock: SharedClock,
    opts: CacheOptions,
    map: Map,
    flights: Flights,
    stats: Arc<CacheStats>,
    /// What each issuer's source said changed (per-serial revalidation).
    changes: ChangeLogs,
}

/// A [`ResolvedSource`] answering cacheable requests from pre-signed answers, and the
/// rest (and misses) by asking a [`Sign`]er.
pub struct CachedSource {
    inner: Arc<Inner>,
}

impl CachedSource {
    /// A cache for `issuers` in front of `signer`, reading the time from `clock`.
    pub fn new(
        issuers: Arc<IssuerSet>,
        signer: Arc<dyn Sign>,
        clock: SharedClock,
        opts: CacheOptions,
    ) -> CachedSource {
        let max_entries = opts.max_entries.max(1);
        // Enough shards that hits rarely meet, few enough that each holds many entries
        // (the bounds are split evenly, and a shard keeps at least one entry).
        let n = (max_entries / 256).min(opts.max_bytes >> 20).clamp(1, 64);
        let refresh_fraction = if opts.refresh_fraction > 0.0 && opts.refresh_fraction <= 1.0 {
            opts.refresh_fraction
        } else {
            DEFAULT_REFRESH_FRACTION
        };
        let map = Map::new(n, max_entries, opts.max_bytes);
        let changes = ChangeLogs::subscribe(&issuers);
        CachedSource {
            inner: Arc::new(Inner {
                id: local::new_cache_id(),
                issuers,
                signer,
                clock,
                opts: CacheOptions {
                    max_entries,
                    refresh_fraction,
                    ..opts
                },
                flights: Flights::new(map.shards()),
                changes,
                map,
                stats: Arc::new(CacheStats::default()),
            }),
        }
    }

    /// The cache's counters.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.inner.stats
    }

    /// The settings in force.
    pub fn options(&self) -> CacheOptions {
        self.inner.opts
    }

    /// The served issuers.
    pub fn issuers(&self) -> &Arc<IssuerSet> {
        &self.inner.issuers
    }

    /// Make sure the cache holds a fresh answer for `serial` of `issuer` under `alg`
    /// (parameters NULL, as openssl and this project's client write them): sign it when
    /// absent, stale or past its refresh time. Returns whether it signed. Used by
    /// `ocsp presign`.
    pub async fn warm(
        &self,
        issuer: &Arc<Issuer>,
        serial: &Serial,
        alg: HashAlg,
    ) -> Result<bool, SourceError> {
        let cert_id = ocsp_proto::cert_id::cert_id(&issuer.cert, serial, alg)
            .map_err(|e| SourceError::Internal(format!("building a CertID: {e}")))?;
        let item = RequestItem {
            cert_id,
            alg: Some(alg),
            serial: serial.clone(),
        };
        let inner = &self.inner;
        let id = inner.issuers.id_of(issuer).ok_or(SourceError::NotFound)?;
        let key = Key::of(id, &item)
            .ok_or_else(|| SourceError::Internal(format!("serial {serial} too long to cache")))?;
        let generation = issuer.status.generation().await?;
        let now = inner.clock.now();
        if let Some(e) = inner.map.get(&key) {
            if now < e.refresh_at
                && e.generation.load(Ordering::Acquire) == generation
                && !superseded(&e.answer, issuer.responder.epoch())
            {
                return Ok(false);
            }
        }
        let signed = inner.sign_one(id, item, Priority::Cacheable).await?;
        inner.insert(key, signed);
        Ok(true)
    }
}

impl Inner {
    /// Sign an answer for one CertID of issuer `id` (no nonce).
    async fn sign_one(
        &self,
        id: IssuerId,
        item: RequestItem,
        priority: Priority,
    ) -> Result<Signed, SourceError> {
        let req = ParsedRequest {
            items: vec![item],
            nonce: None,
            signed: false,
        };
        self.signer
            .sign(
                Resolved {
                    request: &req,
                    issuers: &self.issuers,
                    ids: &[id],
                },
                priority,
            )
            .await
    }

    /// Keep `signed` under `key` (unless it is already past its nextUpdate).
    fn insert(&self, key: Key, signed: Signed) {
        let record = signed.records.into_iter().next().flatten();
        self.insert_answer(key, signed.answer, record, signed.generation);
    }

    fn insert_answer(
        &self,
        key: Key,
        answer: Arc<Answer>,
        record: Option<CertStatus>,
        generation: u64,
    ) {
        if answer.next_update <= self.clock.now() {
            return;
        }
        let entry = Entry::new(answer, record, generation, self.opts.refresh_fraction);
        self.map.insert(key, Arc::new(entry), &self.stats);
    }

    /// Sign `req` (one CertID, no nonce) once for all concurrent misses of `key` at
    /// `generation`, and cache the result.
    async fn sign_shared(
        self: &Arc<Self>,
        key: Key,
        generation: u64,
        req: Resolved<'_>,
    ) -> Result<Arc<Answer>, SourceError> {
        let (result, joined) = self
            .flights
            .run(self.map.shard_of(&key), key, generation, async {
                let signed = self.signer.sign(req, Priority::Cacheable).await?;
                let answer = signed.answer.clone();
                self.insert(key, signed);
                Ok(answer)
            })
            .await;
        if joined {
            CacheStats::bump(&self.stats.coalesced);
        }
        result
    }

    /// Re-sign `key` in the background; the entry keeps being served meanwhile.
    fn spawn_refresh(
        self: &Arc<Self>,
        key: Key,
        entry: Arc<Entry>,
        id: IssuerId,
        item: RequestItem,
    ) {
        let inner = self.clone();
        let spawned = tokio::runtime::Handle::try_current().map(|h| {
            h.spawn(async move {
                match inner.sign_one(id, item, Priority::Cacheable).await {
                    Ok(signed) => {
                        inner.insert(key, signed);
                        CacheStats::bump(&inner.stats.resigns);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "background re-sign failed; retried on a later hit");
                        CacheStats::bump(&inner.stats.resign_failures);
                    }
                }
                entry.refreshing.store(false, Ordering::Release);
            })
        });
        if spawned.is_err() {
            CacheStats::bump(&self.stats.resign_failures);
        }
    }

    async fn cached_response(
        self: &Arc<Self>,
        req: Resolved<'_>,
    ) -> Result<Arc<Answer>, SourceError> {
        let (Some(item), Some(&id), 1) =
            (req.request.items.first(), req.ids.first(), req.ids.len())
        else {
            CacheStats::bump(&self.stats.bypass);
            return Ok(self.signer.sign(req, Priority::Cacheable).await?.answer);
        };
        let Some(key) = Key::of(id, item) else {
            CacheStats::bump(&self.stats.bypass);
            return Ok(self.signer.sign(req, Priority::Cacheable).await?.answer);
        };
        let issuer = req.issuers.get(id).ok_or(SourceError::NotFound)?;
        // The freshness check: brings the source up to date, read before any lookup.
        let generation = issuer.status.generation().await?;
        let now = self.clock.now();
        let epoch = issuer.responder.epoch();
        if let Some(answer) = local::get(self.id, &key, generation, epoch, now) {
            self.stats.hits.add(1);
            return Ok(answer);
        }
        if let Some((answer, refresh_at)) = self.map.get_fresh(&key, generation, epoch, now) {
            self.stats.hits.add(1);
            local::put(self.id, key, generation, refresh_at, &answer);
            return Ok(answer);
        }
        if let Some(entry) = self.map.get(&key) {
            let usable = if entry.answer.next_update <= now {
                CacheStats::bump(&self.stats.expired);
                false
            } else if entry.generation.load(Ordering::Acquire) == generation {
                true
            } else {
                // A new snapshot: still true if this serial's status did not change, as
                // the change log says, or else the source.
                let since = entry.generation.load(Ordering::Acquire);
                let (verdict, all) = self.changes.verdict(id, &item.serial, since, generation);
                if all {
                    self.map.remove_issuer(id, &self.stats);
                }
                let unchanged = match verdict {
                    _ if all => false,
                    Verdict::Unchanged => true,
                    Verdict::Changed => false,
                    Verdict::Unknown => {
                        issuer.status.status(&item.serial).await?.status == entry.record
                    }
                };
                if unchanged {
                    entry.generation.store(generation, Ordering::Release);
                    CacheStats::bump(&self.stats.revalidations);
                } else {
                    CacheStats::bump(&self.stats.invalidations);
                }
                unchanged
            };
            if usable {
                self.stats.hits.add(1);
                entry.touch();
                let due = now >= entry.refresh_at || superseded(&entry.answer, epoch);
                if due && !entry.refreshing.swap(true, Ordering::AcqRel) {
                    self.spawn_refresh(key, entry.clone(), id, item.clone());
                }
                return Ok(entry.answer.clone());
            }
        }
        CacheStats::bump(&self.stats.misses);
        self.sign_shared(key, generation, req).await
    }
}

#[async_trait]
impl ResolvedSource for CachedSource {
    async fn answer(&self, req: Resolved<'_>) -> Result<Arc<Answer>, SourceError> {
        if req.request.nonce.is_some() {
            CacheStats::bump(&self.inner.stats.bypass);
            return Ok(self.inner.signer.sign(req, Priority::Live).await?.answer);
        }
        self.inner.cached_response(req).await
    }
}
