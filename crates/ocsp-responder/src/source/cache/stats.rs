//! The cache's counters: plain atomics read by metrics and the status page, and one
//! striped counter for hits, which every core adds to.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A counter that threads add to without sharing a cache line: each thread adds to
/// its own stripe; reading sums them.
#[derive(Debug, Default)]
pub(super) struct Striped([Stripe; STRIPES]);

const STRIPES: usize = 8;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    pub(super) fn add(&self, n: u64) {
        thread_local! {
            static SLOT: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
            };
        }
        let i = SLOT.with(|s| *s);
        self.0[i].0.fetch_add(n, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Counters of a [`super::CachedSource`], for metrics. Plain atomics; read with the
/// getters.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub(super) hits: Striped,
    pub(super) misses: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) resigns: AtomicU64,
    pub(super) resign_failures: AtomicU64,
    pub(super) revalidations: AtomicU64,
    pub(super) invalidations: AtomicU64,
    pub(super) expired: AtomicU64,
    pub(super) bypass: AtomicU64,
    pub(super) coalesced: AtomicU64,
    pub(super) loaded: AtomicU64,
    pub(super) entries: AtomicUsize,
    pub(super) bytes: AtomicUsize,
}

macro_rules! getters {
    ($($(#[$m:meta])* $name:ident: $t:ty),* $(,)?) => {
        impl CacheStats {
            $($(#[$m])* pub fn $name(&self) -> $t { self.$name.load(Ordering::Relaxed) })*
        }
    };
}

impl CacheStats {
    /// Requests answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.sum()
    }

    /// Count one more of `counter`.
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

getters! {
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
