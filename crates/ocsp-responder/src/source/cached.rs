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
//! # Cost of a hit
//!
//! No signature; no allocation proportional to the index (the key is a fixed-size value;
//! the answer is shared by reference count); the only lock is a read lock on one of
//! `shards` small maps, never taken by the index reloader and never held by the signing
//! threads (inserts happen on the async side, after signing). Concurrent misses for the
//! same key at the same generation share one signature.
//!
//! # Bounded memory
//!
//! At most `max_entries` entries and about `max_bytes` bytes, split evenly over the
//! shards. Eviction is CLOCK (second chance): a hit marks its entry; the eviction hand
//! skips marked entries once.

use super::live::{stated_status, LiveSource};
use super::signing::Priority;
use super::store::{self, StoreError};
use super::{Answer, ResponseSource, SourceError};
use crate::issuer::Issuer;
use async_trait::async_trait;
use bytes::Bytes;
use ocsp_proto::request::{ParsedRequest, RequestItem};
use ocsp_proto::response::{parse as parse_response, ParsedResponse};
use ocsp_proto::verify::{answer_status, responder_id_matches};
use ocsp_proto::{CertStatus, HashAlg, Serial, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::OnceCell;

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

/// A counter that threads add to without sharing a cache line: each thread adds to
/// its own stripe; reading sums them.
#[derive(Debug, Default)]
struct Striped([Stripe; STRIPES]);

const STRIPES: usize = 8;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    fn add(&self, n: u64) {
        thread_local! {
            static SLOT: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
            };
        }
        let i = SLOT.with(|s| *s);
        self.0[i].0.fetch_add(n, Ordering::Relaxed);
    }

    fn load(&self, _: Ordering) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Counters of a [`CachedSource`], for metrics. Plain atomics; read with the getters.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: Striped,
    misses: AtomicU64,
    evictions: AtomicU64,
    resigns: AtomicU64,
    resign_failures: AtomicU64,
    revalidations: AtomicU64,
    invalidations: AtomicU64,
    expired: AtomicU64,
    bypass: AtomicU64,
    coalesced: AtomicU64,
    loaded: AtomicU64,
    entries: AtomicUsize,
    bytes: AtomicUsize,
}

macro_rules! getters {
    ($($(#[$m:meta])* $name:ident: $t:ty),* $(,)?) => {
        impl CacheStats {
            $($(#[$m])* pub fn $name(&self) -> $t { self.$name.load(Ordering::Relaxed) })*
        }
    };
}

getters! {
    /// Requests answered from the cache.
    hits: u64,
    /// Cacheable requests that had to be signed (absent, expired or changed entry).
    misses: u64,
    /// Entries dropped to stay within the bounds.
    evictions: u64,
    /// Background re-signs completed.
    resigns: u64,
    /// Background re-signs that failed (signing queue full, backend down); retried on a
    /// later hit.
    resign_failures: u64,
    /// Entries found under an older generation whose status had not changed, re-stamped
    /// and served without signing.
    revalidations: u64,
    /// Entries found under an older generation whose status had changed (signed afresh).
    invalidations: u64,
    /// Entries found past their nextUpdate.
    expired: u64,
    /// Requests not cacheable (nonce, several CertIDs, unusual CertID), sent to live signing.
    bypass: u64,
    /// Misses that waited for another request's signature of the same answer.
    coalesced: u64,
    /// Entries loaded from a response store.
    loaded: u64,
    /// Entries held now.
    entries: usize,
    /// Bytes held now (DER plus bookkeeping).
    bytes: usize,
}

/// Longest serial (DER content octets) cached; RFC 5280 allows 20 (+1 sign octet).
const MAX_KEY_SERIAL: usize = 24;

/// What makes an answer's bytes identical: issuer, CertID hash algorithm and its
/// parameters encoding, the serial's DER content octets. Fixed size: no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    issuer: u16,
    alg: u8,
    /// 0: parameters absent; 1: parameters NULL.
    params: u8,
    len: u8,
    serial: [u8; MAX_KEY_SERIAL],
}

impl Key {
    fn of(issuer: usize, item: &RequestItem) -> Option<Key> {
        let alg = match item.alg? {
            HashAlg::Sha1 => 1,
            HashAlg::Sha256 => 2,
            HashAlg::Sha384 => 3,
            HashAlg::Sha512 => 4,
        };
        let params = match &item.cert_id.hash_algorithm.parameters {
            None => 0,
            Some(p) if der::Tagged::tag(p) == der::Tag::Null && p.value().is_empty() => 1,
            Some(_) => return None,
        };
        let raw = item.cert_id.serial_number.as_bytes();
        if raw.len() > MAX_KEY_SERIAL {
            return None;
        }
        let mut serial = [0u8; MAX_KEY_SERIAL];
        serial[..raw.len()].copy_from_slice(raw);
        Some(Key {
            issuer: u16::try_from(issuer).ok()?,
            alg,
            params,
            len: raw.len() as u8,
            serial,
        })
    }
}

struct Entry {
    answer: Arc<Answer>,
    /// The status on record when signed (`None`: no record).
    record: Option<CertStatus>,
    /// The source generation at which `record` is known true.
    generation: AtomicU64,
    refresh_at: Timestamp,
    refreshing: AtomicBool,
    referenced: AtomicBool,
    bytes: usize,
}

impl Entry {
    fn new(
        answer: Arc<Answer>,
        record: Option<CertStatus>,
        generation: u64,
        fraction: f64,
    ) -> Entry {
        let span = answer.next_update.0.saturating_sub(answer.this_update.0);
        let refresh_at = answer.this_update.plus((span as f64 * fraction) as u64);
        let bytes = answer.der.len() + answer.etag.len() + ENTRY_OVERHEAD;
        Entry {
            answer,
            record,
            generation: AtomicU64::new(generation),
            refresh_at,
            refreshing: AtomicBool::new(false),
            referenced: AtomicBool::new(false),
            bytes,
        }
    }
}

type Flight = Arc<OnceCell<Result<Arc<Answer>, SourceError>>>;

/// Answers each thread keeps, per cache.
const L1_CAPACITY: usize = 1024;

/// A thread's copy of a cached answer (see [`Inner::l1_get`]).
struct L1Entry {
    /// The generation at which the entry it was copied from was known true.
    generation: u64,
    refresh_at: Timestamp,
    answer: Arc<Answer>,
}

thread_local! {
    /// Each thread's front cache: private copies of the answers it served from the
    /// shared cache, by (cache, key). A hit here takes no lock and writes no memory
    /// another core reads, so the cores serving the same hot answers do not pass cache
    /// lines back and forth. Bounded by [`L1_CAPACITY`] entries per thread; emptied
    /// when full.
    static L1: std::cell::RefCell<HashMap<(u64, Key), L1Entry>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Distinguishes caches in the per-thread front caches.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct ShardMap {
    entries: HashMap<Key, Arc<Entry>>,
    /// The CLOCK ring: keys in insertion order (may hold keys since removed).
    ring: VecDeque<Key>,
    bytes: usize,
}

#[derive(Default)]
struct Shard {
    map: RwLock<ShardMap>,
    /// Misses being signed now, by key, with the generation they were read at.
    inflight: Mutex<HashMap<Key, (u64, Flight)>>,
}

struct Inner {
    /// This cache's key in the per-thread front caches.
    id: u64,
    live: LiveSource,
    opts: CacheOptions,
    shards: Box<[Shard]>,
    hasher: RandomState,
    max_entries_per_shard: usize,
    max_bytes_per_shard: usize,
    stats: Arc<CacheStats>,
}

/// A [`ResponseSource`] answering cacheable requests from pre-signed answers, and the
/// rest (and misses) from a [`LiveSource`].
pub struct CachedSource {
    inner: Arc<Inner>,
}

/// What loading a response store did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Records in the file.
    pub records: usize,
    /// Entries loaded.
    pub loaded: usize,
    /// Past their nextUpdate.
    pub expired: usize,
    /// Their status differs from the current one.
    pub stale: usize,
    /// For a CA not served now, or signed by another responder key or setup.
    pub foreign: usize,
    /// Not a single-answer, nonce-free successful response, or a bad signature.
    pub invalid: usize,
    /// Loaded but evicted again because the cache is smaller than the store
    /// (`max_entries`, `max_bytes`).
    pub evicted: usize,
}

impl CachedSource {
    /// A cache in front of `live`.
    pub fn new(live: LiveSource, opts: CacheOptions) -> CachedSource {
        let max_entries = opts.max_entries.max(1);
        // Enough shards that hits rarely meet, few enough that each holds many entries
        // (the bounds are split evenly, and a shard keeps at least one entry).
        let n = (max_entries / 256).min(opts.max_bytes >> 20).clamp(1, 64);
        let shards: Box<[Shard]> = (0..n).map(|_| Shard::default()).collect();
        let refresh_fraction = if opts.refresh_fraction > 0.0 && opts.refresh_fraction <= 1.0 {
            opts.refresh_fraction
        } else {
            DEFAULT_REFRESH_FRACTION
        };
        CachedSource {
            inner: Arc::new(Inner {
                id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
                live,
                opts: CacheOptions {
                    max_entries,
                    refresh_fraction,
                    ..opts
                },
                max_entries_per_shard: max_entries.div_ceil(n),
                max_bytes_per_shard: opts.max_bytes.max(1).div_ceil(n),
                shards,
                hasher: RandomState::new(),
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

    /// The live source behind the cache.
    pub fn live(&self) -> &LiveSource {
        &self.inner.live
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
        let idx = inner.issuer_index(issuer)?;
        let key = Key::of(idx, &item)
            .ok_or_else(|| SourceError::Internal(format!("serial {serial} too long to cache")))?;
        let generation = issuer.status.generation().await?;
        let now = inner.live.now();
        if let Some(e) = inner.get(&key) {
            if now < e.refresh_at && e.generation.load(Ordering::Acquire) == generation {
                return Ok(false);
            }
        }
        let req = ParsedRequest {
            items: vec![item],
            nonce: None,
            signed: false,
        };
        let signed = inner.live.sign_request(&req, Priority::Cacheable).await?;
        inner.insert(
            key,
            signed.answer,
            signed.records.into_iter().next().flatten(),
            signed.generation,
        );
        Ok(true)
    }

    /// Write every live entry to a response store at `path` (atomically). Returns the
    /// number of records written.
    pub fn save_store(&self, path: &Path) -> Result<usize, StoreError> {
        let now = self.inner.live.now();
        let mut answers: Vec<Bytes> = Vec::new();
        for shard in self.inner.shards.iter() {
            let map = shard.map.read().unwrap_or_else(|p| p.into_inner());
            answers.extend(
                map.entries
                    .values()
                    .filter(|e| e.answer.next_update > now)
                    .map(|e| e.answer.der.clone()),
            );
        }
        store::write(path, answers.iter().map(|b| b.as_ref()))
    }

    /// Load a response store: every record is checked against the current setup (a
    /// served issuer, the same responder key, certificate list and algorithm, a valid
    /// signature), its validity (not past nextUpdate) and the current status of its
    /// serial (unchanged); records that fail a check are skipped and counted.
    pub async fn load_store(&self, path: &Path) -> Result<LoadReport, StoreError> {
        let bytes = store::read(path)?;
        let records = store::parse(&bytes, path)?;
        let inner = &self.inner;
        let now = inner.live.now();
        let mut report = LoadReport {
            records: records.len(),
            ..LoadReport::default()
        };
        let evictions_before = inner.stats.evictions();
        // Parse and verify in parallel (CPU only), then check statuses.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = records.len().div_ceil(threads).max(1);
        let checked: Vec<Checked> = std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    s.spawn(|| {
                        part.iter()
                            .map(|r| inner.check_record(r, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        // One generation per issuer, read before any lookup: an entry can only look
        // older than it is.
        let mut generations = Vec::with_capacity(inner.live.issuers().len());
        for issuer in inner.live.issuers().iter() {
            generations.push(
                issuer
                    .status
                    .generation()
                    .await
                    .map_err(|e| StoreError::Format {
                        path: path.display().to_string(),
                        reason: format!("status source of {}: {e}", issuer.name),
                    })?,
            );
        }
        for c in checked {
            let Good {
                item,
                issuer,
                stated,
                answer,
            } = match c {
                Checked::Ok(good) => *good,
                Checked::Expired => {
                    report.expired += 1;
                    continue;
                }
                Checked::Foreign => {
                    report.foreign += 1;
                    continue;
                }
                Checked::Invalid => {
                    report.invalid += 1;
                    continue;
                }
            };
            let Ok(idx) = inner.issuer_index(&issuer) else {
                report.foreign += 1;
                continue;
            };
            let Some(key) = Key::of(idx, &item) else {
                report.invalid += 1;
                continue;
            };
            let generation = generations[idx];
            let lookup =
                issuer
                    .status
                    .status(&item.serial)
                    .await
                    .map_err(|e| StoreError::Format {
                        path: path.display().to_string(),
                        reason: format!("status source of {}: {e}", issuer.name),
                    })?;
            if stated_status(&issuer, lookup.status.as_ref()).0 != stated {
                report.stale += 1;
                continue;
            }
            inner.insert(key, Arc::new(answer), lookup.status, generation);
            report.loaded += 1;
        }
        report.evicted = (inner.stats.evictions() - evictions_before) as usize;
        inner
            .stats
            .loaded
            .fetch_add(report.loaded as u64, Ordering::Relaxed);
        Ok(report)
    }
}

struct Good {
    item: RequestItem,
    issuer: Arc<Issuer>,
    stated: CertStatus,
    answer: Answer,
}

enum Checked {
    Ok(Box<Good>),
    Expired,
    Foreign,
    Invalid,
}

impl Inner {
    fn shard(&self, key: &Key) -> &Shard {
        let h = self.hasher.hash_one(key) as usize;
        &self.shards[h % self.shards.len()]
    }

    fn issuer_index(&self, issuer: &Arc<Issuer>) -> Result<usize, SourceError> {
        self.live
            .issuers()
            .iter()
            .position(|i| Arc::ptr_eq(i, issuer))
            .ok_or(SourceError::NotFound)
    }

    fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let map = self
            .shard(key)
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner());
        map.entries.get(key).cloned()
    }

    /// This thread's copy of the answer for `key`, if it is still good to serve: taken
    /// from an entry known true at `generation` (the current one), and not yet due for
    /// a refresh (so not expired either).
    fn l1_get(&self, key: &Key, generation: u64, now: Timestamp) -> Option<Arc<Answer>> {
        L1.with(|l1| {
            let l1 = l1.borrow();
            let e = l1.get(&(self.id, *key))?;
            (e.generation == generation && now < e.refresh_at && now < e.answer.next_update)
                .then(|| e.answer.clone())
        })
    }

    /// Keep a private copy of `answer` in this thread's front cache.
    fn l1_put(&self, key: Key, generation: u64, refresh_at: Timestamp, answer: &Answer) {
        L1.with(|l1| {
            let mut l1 = l1.borrow_mut();
            if l1.len() >= L1_CAPACITY {
                l1.clear();
            }
            l1.insert(
                (self.id, key),
                L1Entry {
                    generation,
                    refresh_at,
                    answer: Arc::new(answer.private_copy()),
                },
            );
        });
    }

    /// The common hit, decided under the shard's read lock so that only the answer is
    /// cloned: the entry is unexpired, known true at `generation`, and not due for a
    /// refresh. `None` when there is no entry or it needs a closer look ([`Inner::get`]).
    /// With the answer comes the time it is due for a refresh.
    fn get_fresh(
        &self,
        key: &Key,
        generation: u64,
        now: Timestamp,
    ) -> Option<(Arc<Answer>, Timestamp)> {
        let map = self
            .shard(key)
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let entry = map.entries.get(key)?;
        if entry.answer.next_update <= now
            || entry.generation.load(Ordering::Acquire) != generation
            || now >= entry.refresh_at
        {
            return None;
        }
        // Read first: a hot entry's cache line is not written on every hit.
        if !entry.referenced.load(Ordering::Relaxed) {
            entry.referenced.store(true, Ordering::Relaxed);
        }
        Some((entry.answer.clone(), entry.refresh_at))
    }

    /// Insert (or replace with a newer answer), evicting to stay within bounds.
    fn insert(&self, key: Key, answer: Arc<Answer>, record: Option<CertStatus>, generation: u64) {
        if answer.next_update <= self.live.now() {
            return;
        }
        let entry = Arc::new(Entry::new(
            answer,
            record,
            generation,
            self.opts.refresh_fraction,
        ));
        let added = entry.bytes;
        let shard = self.shard(&key);
        let mut guard = shard.map.write().unwrap_or_else(|p| p.into_inner());
        let map = &mut *guard;
        match map.entries.get(&key) {
            Some(old) if old.answer.produced_at > entry.answer.produced_at => return,
            Some(old) => {
                let old_bytes = old.bytes;
                map.bytes = map.bytes - old_bytes + added;
                self.stats.bytes.fetch_add(added, Ordering::Relaxed);
                self.stats.bytes.fetch_sub(old_bytes, Ordering::Relaxed);
                map.entries.insert(key, entry);
            }
            None => {
                map.entries.insert(key, entry);
                map.ring.push_back(key);
                map.bytes += added;
                self.stats.entries.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(added, Ordering::Relaxed);
            }
        }
        // CLOCK eviction. The ring holds exactly the keys of the map: keys enter it on
        // insertion and leave it only here.
        let mut budget = map.ring.len() * 2 + 1;
        while (map.entries.len() > self.max_entries_per_shard
            || map.bytes > self.max_bytes_per_shard)
            && map.entries.len() > 1
            && budget > 0
        {
            budget -= 1;
            let Some(k) = map.ring.pop_front() else {
                break;
            };
            let spare = match map.entries.get(&k) {
                None => continue,
                // The entry just inserted, and entries hit since the hand last passed,
                // get another round.
                Some(e) => k == key || e.referenced.swap(false, Ordering::Relaxed),
            };
            if spare {
                map.ring.push_back(k);
                continue;
            }
            if let Some(e) = map.entries.remove(&k) {
                map.bytes -= e.bytes;
                self.stats.entries.fetch_sub(1, Ordering::Relaxed);
                self.stats.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Parse and verify one store record (no I/O).
    fn check_record(&self, der: &[u8], now: Timestamp) -> Checked {
        let Ok(ParsedResponse::Basic { basic, tbs_der }) = parse_response(der) else {
            return Checked::Invalid;
        };
        let tbs = &basic.tbs_response_data;
        let [single] = tbs.responses.as_slice() else {
            return Checked::Invalid;
        };
        let has_nonce = tbs
            .response_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE);
        if has_nonce {
            return Checked::Invalid;
        }
        let Some(next) = single.next_update.as_ref().map(Timestamp::from_ocsp) else {
            return Checked::Invalid;
        };
        if next <= now {
            return Checked::Expired;
        }
        let this = Timestamp::from_ocsp(&single.this_update);
        let produced = Timestamp::from_ocsp(&tbs.produced_at);
        let item = RequestItem {
            alg: HashAlg::from_oid(&single.cert_id.hash_algorithm.oid),
            serial: Serial::of_cert_id(&single.cert_id),
            cert_id: single.cert_id.clone(),
        };
        let Some(issuer) = self.live.issuers().find(&item).cloned() else {
            return Checked::Foreign;
        };
        let responder = &issuer.responder;
        if basic.signature_algorithm != responder.signer.algorithm()
            || !responder_id_matches(&tbs.responder_id, &responder.cert)
            || basic.certs.as_deref().unwrap_or(&[]) != responder.certs.as_slice()
        {
            return Checked::Foreign;
        }
        if ocsp_proto::sigalg::verify(
            &basic.signature_algorithm,
            &responder.cert.tbs_certificate.subject_public_key_info,
            &tbs_der,
            basic.signature.raw_bytes(),
        )
        .is_err()
        {
            return Checked::Invalid;
        }
        let stated = answer_status(single);
        let answer = Answer::new(der.to_vec(), this, next, produced, vec![stated.name()]);
        Checked::Ok(Box::new(Good {
            item,
            issuer,
            stated,
            answer,
        }))
    }

    /// Sign `req` (one CertID, no nonce) once for all concurrent misses of `key` at
    /// `generation`, and cache the result.
    async fn sign_shared(
        self: &Arc<Self>,
        key: Key,
        generation: u64,
        req: &ParsedRequest,
    ) -> Result<Arc<Answer>, SourceError> {
        let shard = self.shard(&key);
        let (flight, leader) = {
            let mut inflight = shard.inflight.lock().unwrap_or_else(|p| p.into_inner());
            match inflight.get(&key) {
                Some((g, f)) if *g == generation => (f.clone(), false),
                _ => {
                    let f: Flight = Arc::new(OnceCell::new());
                    inflight.insert(key, (generation, f.clone()));
                    (f, true)
                }
            }
        };
        if !leader {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
        }
        let result = flight
            .get_or_init(|| async {
                let signed = self.live.sign_request(req, Priority::Cacheable).await?;
                self.insert(
                    key,
                    signed.answer.clone(),
                    signed.records.into_iter().next().flatten(),
                    signed.generation,
                );
                Ok(signed.answer)
            })
            .await
            .clone();
        {
            let mut inflight = shard.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if inflight
                .get(&key)
                .is_some_and(|(_, f)| Arc::ptr_eq(f, &flight))
            {
                inflight.remove(&key);
            }
        }
        result
    }

    /// Re-sign `key` in the background; the entry keeps being served meanwhile.
    fn spawn_refresh(self: &Arc<Self>, key: Key, entry: Arc<Entry>, item: RequestItem) {
        let inner = self.clone();
        let spawned = tokio::runtime::Handle::try_current().map(|h| {
            h.spawn(async move {
                let req = ParsedRequest {
                    items: vec![item],
                    nonce: None,
                    signed: false,
                };
                match inner.live.sign_request(&req, Priority::Cacheable).await {
                    Ok(signed) => {
                        inner.insert(
                            key,
                            signed.answer,
                            signed.records.into_iter().next().flatten(),
                            signed.generation,
                        );
                        inner.stats.resigns.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "background re-sign failed; retried on a later hit");
                        inner.stats.resign_failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                entry.refreshing.store(false, Ordering::Release);
            })
        });
        if spawned.is_err() {
            self.stats.resign_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn cached_response(
        self: &Arc<Self>,
        req: &ParsedRequest,
    ) -> Result<Arc<Answer>, SourceError> {
        let [item] = req.items.as_slice() else {
            self.stats.bypass.fetch_add(1, Ordering::Relaxed);
            return Ok(self
                .live
                .sign_request(req, Priority::Cacheable)
                .await?
                .answer);
        };
        let issuer = self
            .live
            .issuers()
            .find(item)
            .ok_or(SourceError::NotFound)?;
        let idx = self.issuer_index(issuer)?;
        let Some(key) = Key::of(idx, item) else {
            self.stats.bypass.fetch_add(1, Ordering::Relaxed);
            return Ok(self
                .live
                .sign_request(req, Priority::Cacheable)
                .await?
                .answer);
        };
        // The freshness check: brings the source up to date, read before any lookup.
        let generation = issuer.status.generation().await?;
        let now = self.live.now();
        if let Some(answer) = self.l1_get(&key, generation, now) {
            self.stats.hits.add(1);
            return Ok(answer);
        }
        if let Some((answer, refresh_at)) = self.get_fresh(&key, generation, now) {
            self.stats.hits.add(1);
            self.l1_put(key, generation, refresh_at, &answer);
            return Ok(answer);
        }
        if let Some(entry) = self.get(&key) {
            let usable = if entry.answer.next_update <= now {
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                false
            } else if entry.generation.load(Ordering::Acquire) == generation {
                true
            } else {
                // A new snapshot: still true if this serial's status did not change.
                let lookup = issuer.status.status(&item.serial).await?;
                if lookup.status == entry.record {
                    entry.generation.store(generation, Ordering::Release);
                    self.stats.revalidations.fetch_add(1, Ordering::Relaxed);
                    true
                } else {
                    self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
                    false
                }
            };
            if usable {
                self.stats.hits.add(1);
                // Read first: a hot entry's cache line is not written on every hit.
                if !entry.referenced.load(Ordering::Relaxed) {
                    entry.referenced.store(true, Ordering::Relaxed);
                }
                if now >= entry.refresh_at && !entry.refreshing.swap(true, Ordering::AcqRel) {
                    self.spawn_refresh(key, entry.clone(), item.clone());
                }
                return Ok(entry.answer.clone());
            }
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        self.sign_shared(key, generation, req).await
    }
}

#[async_trait]
impl ResponseSource for CachedSource {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        if req.nonce.is_some() {
            self.inner.stats.bypass.fetch_add(1, Ordering::Relaxed);
            return Ok(self
                .inner
                .live
                .sign_request(req, Priority::Live)
                .await?
                .answer);
        }
        self.inner.cached_response(req).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::source::testkit::{self, Kit, T0, VALIDITY};
    use ocsp_proto::der::asn1::OctetString;
    use ocsp_proto::der::{Decode, Encode};

    fn cache(kit: &Kit, opts: CacheOptions) -> CachedSource {
        CachedSource::new(kit.live(), opts)
    }

    fn signs(kit: &Kit) -> u64 {
        kit.signer.signs.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn hit_serves_the_same_bytes_without_signing() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = cache(&kit, CacheOptions::default());
        let req = kit.request(&[("01", HashAlg::Sha256)], None);
        let a = c.response(&req).await.unwrap();
        let b = c.response(&req).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(signs(&kit), 1);
        assert_eq!((c.stats().hits(), c.stats().misses()), (1, 1));
        assert_eq!(c.stats().entries(), 1);
        assert!(c.stats().bytes() > a.der.len());
        // The CertID echoed is the requester's, byte for byte.
        let ParsedResponse::Basic { basic, tbs_der } = parse_response(&a.der).unwrap() else {
            panic!()
        };
        kit.verify_signature(&basic, &tbs_der);
        assert_eq!(
            basic.tbs_response_data.responses[0]
                .cert_id
                .to_der()
                .unwrap(),
            req.items[0].cert_id.to_der().unwrap()
        );
    }

    #[tokio::test]
    async fn key_separates_alg_params_and_serial_bytes() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = cache(&kit, CacheOptions::default());
        let sha1 = kit.request(&[("01", HashAlg::Sha1)], None);
        let sha256 = kit.request(&[("01", HashAlg::Sha256)], None);
        let mut absent = sha256.clone();
        absent.items[0].cert_id.hash_algorithm.parameters = None;
        let a1 = c.response(&sha1).await.unwrap();
        let a2 = c.response(&sha256).await.unwrap();
        let a3 = c.response(&absent).await.unwrap();
        assert_eq!(
            signs(&kit),
            3,
            "three distinct CertID encodings, three answers"
        );
        for (a, r) in [(&a1, &sha1), (&a2, &sha256), (&a3, &absent)] {
            let ParsedResponse::Basic { basic, .. } = parse_response(&a.der).unwrap() else {
                panic!()
            };
            assert_eq!(
                basic.tbs_response_data.responses[0]
                    .cert_id
                    .to_der()
                    .unwrap(),
                r.items[0].cert_id.to_der().unwrap()
            );
        }
        let _ = c.response(&absent).await.unwrap();
        assert_eq!(signs(&kit), 3);
        // Unusual parameters are not cached (answered live each time).
        let mut odd = sha256.clone();
        odd.items[0].cert_id.hash_algorithm.parameters = Some(
            der::Any::from_der(&OctetString::new(vec![1]).unwrap().to_der().unwrap()).unwrap(),
        );
        c.response(&odd).await.unwrap();
        c.response(&odd).await.unwrap();
        assert_eq!(signs(&kit), 5);
        assert_eq!(c.stats().bypass(), 2);
    }

    #[tokio::test]
    async fn nonce_and_multi_cert_requests_go_live() {
        let kit = Kit::new(&[
            ("01", Some(CertStatus::Good)),
            ("02", Some(CertStatus::Good)),
        ]);
        let c = cache(&kit, CacheOptions::default());
        let n = kit.request(&[("01", HashAlg::Sha1)], Some(&[1; 32]));
        c.response(&n).await.unwrap();
        c.response(&n).await.unwrap();
        let multi = kit.request(&[("01", HashAlg::Sha1), ("02", HashAlg::Sha1)], None);
        c.response(&multi).await.unwrap();
        assert_eq!(signs(&kit), 3);
        assert_eq!(c.stats().bypass(), 3);
        assert_eq!(c.stats().entries(), 0);
    }

    #[tokio::test]
    async fn per_thread_copies_follow_the_shared_cache() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = cache(&kit, CacheOptions::default());
        let r1 = kit.request(&[("01", HashAlg::Sha1)], None);
        let first = c.response(&r1).await.unwrap();
        // The second answer fills this thread's copy, the third comes from it: the same
        // bytes, not the same allocation, and no signature.
        let second = c.response(&r1).await.unwrap();
        let third = c.response(&r1).await.unwrap();
        assert_eq!(first.der, third.der);
        assert_eq!(first.etag, third.etag);
        assert_eq!(third.etag_header, second.etag_header);
        assert!(!Arc::ptr_eq(&second, &third));
        assert_ne!(third.der.as_ptr(), first.der.as_ptr());
        assert_eq!(signs(&kit), 1);
        assert_eq!(c.stats().hits(), 2);
        // A revocation: never served from the copy.
        kit.source.set("01", Some(testkit::revoked()));
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
        // Another cache on the same thread does not see this one's copies.
        let other = cache(&kit, CacheOptions::default());
        other.response(&r1).await.unwrap();
        assert_eq!(other.stats().hits(), 0);
        assert_eq!(signs(&kit), 3);
    }

    #[tokio::test]
    async fn changed_status_is_never_served_from_cache() {
        let kit = Kit::new(&[
            ("01", Some(CertStatus::Good)),
            ("02", Some(CertStatus::Good)),
        ]);
        let c = cache(&kit, CacheOptions::default());
        let r1 = kit.request(&[("01", HashAlg::Sha1)], None);
        let r2 = kit.request(&[("02", HashAlg::Sha1)], None);
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["good"]);
        assert_eq!(c.response(&r2).await.unwrap().statuses, vec!["good"]);
        assert_eq!(signs(&kit), 2);
        // Revoke 01: a new snapshot.
        kit.source.set("01", Some(testkit::revoked()));
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
        assert_eq!(c.stats().invalidations(), 1);
        // 02 did not change: served from cache after a lookup, without signing.
        assert_eq!(c.response(&r2).await.unwrap().statuses, vec!["good"]);
        assert_eq!(c.stats().revalidations(), 1);
        assert_eq!(signs(&kit), 3);
        // A reload of identical content re-stamps, never re-signs.
        kit.source.bump();
        c.response(&r1).await.unwrap();
        c.response(&r1).await.unwrap();
        assert_eq!(signs(&kit), 3);
        // Removing the serial from the index: unknown, at once.
        kit.source.set("01", None);
        assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["unknown"]);
        assert_eq!(signs(&kit), 4);
    }

    #[tokio::test]
    async fn every_hit_asks_the_generation() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = cache(&kit, CacheOptions::default());
        let r = kit.request(&[("01", HashAlg::Sha1)], None);
        c.response(&r).await.unwrap();
        let before = kit.source.generations.load(Ordering::SeqCst);
        let lookups = kit.source.lookups.load(Ordering::SeqCst);
        for _ in 0..10 {
            c.response(&r).await.unwrap();
        }
        assert_eq!(kit.source.generations.load(Ordering::SeqCst), before + 10);
        assert_eq!(
            kit.source.lookups.load(Ordering::SeqCst),
            lookups,
            "a hit does no status lookup"
        );
    }

    #[tokio::test]
    async fn refreshes_in_background_after_the_fraction_and_never_serves_expired() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = cache(&kit, CacheOptions::default());
        let r = kit.request(&[("01", HashAlg::Sha1)], None);
        let first = c.response(&r).await.unwrap();
        assert_eq!(first.this_update, Timestamp(T0));
        kit.advance(VALIDITY / 2 - 1);
        assert!(Arc::ptr_eq(&c.response(&r).await.unwrap(), &first));
        assert_eq!(signs(&kit), 1);
        kit.advance(1);
        // Past half its validity: the old answer is served while one re-sign runs.
        let during = c.response(&r).await.unwrap();
        assert!(Arc::ptr_eq(&during, &first));
        for _ in 0..100 {
            if c.stats().resigns() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(c.stats().resigns(), 1);
        assert_eq!(signs(&kit), 2);
        let after = c.response(&r).await.unwrap();
        assert_eq!(after.this_update, Timestamp(T0 + VALIDITY / 2));
        // Past nextUpdate, an entry is never served.
        kit.advance(VALIDITY);
        let late = c.response(&r).await.unwrap();
        assert!(late.next_update > Timestamp(T0 + VALIDITY + VALIDITY / 2));
        assert_eq!(c.stats().expired(), 1);
    }

    #[tokio::test]
    async fn bounded_with_clock_eviction() {
        let entries: Vec<(String, Option<CertStatus>)> = (1..=20)
            .map(|i| (format!("{i:02X}"), Some(CertStatus::Good)))
            .collect();
        let refs: Vec<(&str, Option<CertStatus>)> = entries
            .iter()
            .map(|(s, st)| (s.as_str(), st.clone()))
            .collect();
        let kit = Kit::new(&refs);
        let c = cache(
            &kit,
            CacheOptions {
                max_entries: 4,
                ..CacheOptions::default()
            },
        );
        let hot = kit.request(&[("01", HashAlg::Sha1)], None);
        c.response(&hot).await.unwrap();
        for i in 2..=20 {
            c.response(&kit.request(&[(&format!("{i:02X}"), HashAlg::Sha1)], None))
                .await
                .unwrap();
            // Keep 01 hot.
            c.response(&hot).await.unwrap();
        }
        assert_eq!(c.stats().entries(), 4);
        assert_eq!(c.stats().evictions(), 16);
        let s = signs(&kit);
        c.response(&hot).await.unwrap();
        assert_eq!(signs(&kit), s, "the hot entry survived eviction");
        // Byte bound.
        let c2 = cache(
            &kit,
            CacheOptions {
                max_bytes: 1,
                ..CacheOptions::default()
            },
        );
        c2.response(&hot).await.unwrap();
        c2.response(&kit.request(&[("02", HashAlg::Sha1)], None))
            .await
            .unwrap();
        assert_eq!(c2.stats().entries(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_signature() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        kit.signer.delay_ms.store(100, Ordering::SeqCst);
        let c = Arc::new(cache(&kit, CacheOptions::default()));
        let r = kit.request(&[("01", HashAlg::Sha1)], None);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = c.clone();
            let r = r.clone();
            tasks.push(tokio::spawn(async move { c.response(&r).await.unwrap() }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        assert_eq!(signs(&kit), 1);
        assert!(answers.iter().all(|a| Arc::ptr_eq(a, &answers[0])));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nonce_flood_gets_try_later_while_hits_flow() {
        let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c = Arc::new(cache(&kit, CacheOptions::default()));
        let hot = kit.request(&[("01", HashAlg::Sha1)], None);
        c.response(&hot).await.unwrap();
        kit.signer.delay_ms.store(200, Ordering::SeqCst);
        // The kit's pool: 2 threads, queues of 16.
        let mut flood = Vec::new();
        for i in 0..40u8 {
            let c = c.clone();
            let r = kit.request(&[("01", HashAlg::Sha1)], Some(&[i + 1; 16]));
            flood.push(tokio::spawn(async move { c.response(&r).await }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            c.response(&hot).await.unwrap();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "hits were starved"
        );
        let mut overloaded = 0;
        for t in flood {
            if matches!(t.await.unwrap(), Err(SourceError::Overloaded)) {
                overloaded += 1;
            }
        }
        assert!(overloaded >= 40 - 2 - 16, "only {overloaded} refused");
        assert_eq!(kit.pool.stats().rejected(), overloaded);
    }

    #[tokio::test]
    async fn store_round_trip_checks_every_record() {
        let kit = Kit::new(&[
            ("01", Some(CertStatus::Good)),
            ("02", Some(CertStatus::Good)),
            ("03", Some(testkit::revoked())),
        ]);
        let c = cache(&kit, CacheOptions::default());
        let issuer = kit.issuers.iter().next().unwrap().clone();
        for s in ["01", "02", "03", "04"] {
            assert!(c
                .warm(&issuer, &Serial::from_hex(s).unwrap(), HashAlg::Sha256)
                .await
                .unwrap());
        }
        // Fresh entries are not signed again.
        assert!(!c
            .warm(&issuer, &Serial::from_hex("01").unwrap(), HashAlg::Sha256)
            .await
            .unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responses.store");
        assert_eq!(c.save_store(&path).unwrap(), 4);

        // Revoke 02 before the restart: its stored answer is stale.
        kit.source.set("02", Some(testkit::revoked()));
        let c2 = cache(&kit, CacheOptions::default());
        let report = c2.load_store(&path).await.unwrap();
        assert_eq!(
            report,
            LoadReport {
                records: 4,
                loaded: 3,
                stale: 1,
                ..LoadReport::default()
            }
        );
        let s = signs(&kit);
        let a = c2
            .response(&kit.request(&[("03", HashAlg::Sha256)], None))
            .await
            .unwrap();
        assert_eq!(a.statuses, vec!["revoked"]);
        assert_eq!(
            c2.response(&kit.request(&[("02", HashAlg::Sha256)], None))
                .await
                .unwrap()
                .statuses,
            vec!["revoked"]
        );
        assert_eq!(signs(&kit), s + 1, "only the stale one was signed");

        // A cache smaller than the store says how many it could not keep.
        let small = cache(
            &kit,
            CacheOptions {
                max_entries: 2,
                ..CacheOptions::default()
            },
        );
        let r = small.load_store(&path).await.unwrap();
        assert_eq!((r.loaded, r.evicted), (3, 1));
        assert_eq!(small.stats().entries(), 2);

        // Another responder key: every record is foreign.
        let other = Kit::new(&[("01", Some(CertStatus::Good))]);
        let c3 = cache(&other, CacheOptions::default());
        let r = c3.load_store(&path).await.unwrap();
        assert_eq!((r.loaded, r.foreign), (0, 4));

        // Expired by the time of loading.
        kit.advance(VALIDITY + 1);
        let c4 = cache(&kit, CacheOptions::default());
        assert_eq!(c4.load_store(&path).await.unwrap().expired, 4);

        // A tampered record fails its signature check.
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 5] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        kit.now.store(T0 + 10, Ordering::SeqCst);
        let c5 = cache(&kit, CacheOptions::default());
        let r = c5.load_store(&path).await.unwrap();
        assert_eq!(r.invalid + r.stale + r.loaded, 4);
        assert!(r.invalid >= 1);
    }
}
