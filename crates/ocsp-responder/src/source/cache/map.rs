//! The shared map: fixed-size keys, entries stamped with the generation they are known
//! true at, split over shards, bounded by CLOCK (second-chance) eviction.
//!
//! A hit takes one shard's read lock and clones one `Arc`; inserts take the shard's
//! write lock on the async side, after signing, never on a signing thread, and never
//! while the index reloader runs.

use super::stats::CacheStats;
use super::ENTRY_OVERHEAD;
use crate::issuer::IssuerId;
use crate::source::Answer;
use ocsp_proto::request::RequestItem;
use ocsp_proto::{CertStatus, HashAlg, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Longest serial (DER content octets) cached; RFC 5280 allows 20 (+1 sign octet).
const MAX_KEY_SERIAL: usize = 24;

/// What makes an answer's bytes identical: issuer, CertID hash algorithm and its
/// parameters encoding, the serial's DER content octets. Fixed size: no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct Key {
    pub(super) issuer: IssuerId,
    alg: u8,
    /// 0: parameters absent; 1: parameters NULL.
    params: u8,
    len: u8,
    serial: [u8; MAX_KEY_SERIAL],
}

impl Key {
    /// The key of `item` under `issuer`; `None` for CertIDs that are not cached
    /// (unusual parameters, overlong serials).
    pub(super) fn of(issuer: IssuerId, item: &RequestItem) -> Option<Key> {
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
            issuer,
            alg,
            params,
            len: raw.len() as u8,
            serial,
        })
    }
}

/// One cached answer.
pub(super) struct Entry {
    pub(super) answer: Arc<Answer>,
    /// The status on record when signed (`None`: no record).
    pub(super) record: Option<CertStatus>,
    /// The source generation at which `record` is known true.
    pub(super) generation: AtomicU64,
    pub(super) refresh_at: Timestamp,
    pub(super) refreshing: AtomicBool,
    referenced: AtomicBool,
    bytes: usize,
}

impl Entry {
    pub(super) fn new(
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

    /// Mark the entry used since the eviction hand last passed. Read first: a hot
    /// entry's cache line is not written on every hit.
    pub(super) fn touch(&self) {
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct ShardMap {
    entries: HashMap<Key, Arc<Entry>>,
    /// The CLOCK ring: keys in insertion order (may hold keys since removed).
    ring: VecDeque<Key>,
    bytes: usize,
}

/// The sharded map with its bounds.
pub(super) struct Map {
    shards: Box<[RwLock<ShardMap>]>,
    hasher: RandomState,
    max_entries_per_shard: usize,
    max_bytes_per_shard: usize,
}

impl Map {
    /// `n` shards sharing `max_entries` and `max_bytes` evenly (each keeps at least one
    /// entry).
    pub(super) fn new(n: usize, max_entries: usize, max_bytes: usize) -> Map {
        let n = n.max(1);
        Map {
            shards: (0..n).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
            max_entries_per_shard: max_entries.max(1).div_ceil(n),
            max_bytes_per_shard: max_bytes.max(1).div_ceil(n),
        }
    }

    /// The shard a key lives in (also the single-flight shard).
    pub(super) fn shard_of(&self, key: &Key) -> usize {
        self.hasher.hash_one(key) as usize % self.shards.len()
    }

    /// How many shards.
    pub(super) fn shards(&self) -> usize {
        self.shards.len()
    }

    pub(super) fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let map = self.shards[self.shard_of(key)]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        map.entries.get(key).cloned()
    }

    /// The common hit, decided under the shard's read lock so that only the answer is
    /// cloned: the entry is unexpired, known true at `generation`, signed by the
    /// responder of `epoch` (the one in force), and not due for a refresh. `None` when
    /// there is no entry or it needs a closer look ([`Map::get`]). With the answer comes
    /// the time it is due for a refresh.
    pub(super) fn get_fresh(
        &self,
        key: &Key,
        generation: u64,
        epoch: u64,
        now: Timestamp,
    ) -> Option<(Arc<Answer>, Timestamp)> {
        let map = self.shards[self.shard_of(key)]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let entry = map.entries.get(key)?;
        if entry.answer.next_update <= now
            || entry.generation.load(Ordering::Acquire) != generation
            || now >= entry.refresh_at
            || super::superseded(&entry.answer, epoch)
        {
            return None;
        }
        entry.touch();
        Some((entry.answer.clone(), entry.refresh_at))
    }

    /// Insert (or replace with a newer answer), evicting to stay within bounds.
    pub(super) fn insert(&self, key: Key, entry: Arc<Entry>, stats: &CacheStats) {
        let added = entry.bytes;
        let mut guard = self.shards[self.shard_of(&key)]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let map = &mut *guard;
        match map.entries.get(&key) {
            Some(old) if old.answer.produced_at > entry.answer.produced_at => return,
            Some(old) => {
                let old_bytes = old.bytes;
                map.bytes = map.bytes - old_bytes + added;
                stats.bytes.fetch_add(added, Ordering::Relaxed);
                stats.bytes.fetch_sub(old_bytes, Ordering::Relaxed);
                map.entries.insert(key, entry);
            }
            None => {
                map.entries.insert(key, entry);
                map.ring.push_back(key);
                map.bytes += added;
                stats.entries.fetch_add(1, Ordering::Relaxed);
                stats.bytes.fetch_add(added, Ordering::Relaxed);
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
                stats.entries.fetch_sub(1, Ordering::Relaxed);
                stats.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
                stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drop every entry of `issuer` (its source said anything may have changed).
    pub(super) fn remove_issuer(&self, issuer: IssuerId, stats: &CacheStats) {
        for shard in self.shards.iter() {
            let mut guard = shard.write().unwrap_or_else(|p| p.into_inner());
            let map = &mut *guard;
            let before = (map.entries.len(), map.bytes);
            map.entries.retain(|k, _| k.issuer != issuer);
            map.ring.retain(|k| k.issuer != issuer);
            map.bytes = map.entries.values().map(|e| e.bytes).sum();
            stats
                .entries
                .fetch_sub(before.0 - map.entries.len(), Ordering::Relaxed);
            stats
                .bytes
                .fetch_sub(before.1 - map.bytes, Ordering::Relaxed);
        }
    }

    /// The key and entry of every answer still valid at `now` that `keep` selects.
    pub(super) fn entries_where(
        &self,
        now: Timestamp,
        keep: impl Fn(&Key, &Entry) -> bool,
    ) -> Vec<(Key, Arc<Entry>)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let map = shard.read().unwrap_or_else(|p| p.into_inner());
            out.extend(
                map.entries
                    .iter()
                    .filter(|(k, e)| e.answer.next_update > now && keep(k, e))
                    .map(|(k, e)| (*k, e.clone())),
            );
        }
        out
    }

    /// Every answer still valid at `now`.
    pub(super) fn live_answers(&self, now: Timestamp) -> Vec<Arc<Answer>> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let map = shard.read().unwrap_or_else(|p| p.into_inner());
            out.extend(
                map.entries
                    .values()
                    .filter(|e| e.answer.next_update > now)
                    .map(|e| e.answer.clone()),
            );
        }
        out
    }
}
