//! Recently seen nonce-free requests, by their exact bytes on the wire (GET path or POST
//! body), with what they decoded to. Clients of a CA ask about the same certificates
//! again and again, in the same bytes: a repeat skips the URL and base64 decoding and
//! the DER parse. Decoding is a pure function of those bytes, so an entry never goes
//! stale; the answer itself still comes from the response cache with its freshness
//! checks.
//!
//! Bounded: at most `capacity` entries of at most [`MAX_KEY_BYTES`] each; a full shard
//! drops an arbitrary entry for each new one. Requests with a nonce are never kept
//! (each is unique).

use ocsp_proto::request::ParsedRequest;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

/// Longest request (GET path or POST body) kept.
pub const MAX_KEY_BYTES: usize = 512;

/// Entries kept by default.
pub const DEFAULT_CAPACITY: usize = 16_384;

const SHARDS: usize = 16;

/// A decoded request: its DER and what it parsed to.
#[derive(Debug)]
pub struct Decoded {
    /// The request's DER.
    pub der: Vec<u8>,
    /// The parsed request.
    pub parsed: ParsedRequest,
}

/// How a request came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// The bytes are a GET path.
    Get,
    /// The bytes are a POST body.
    Post,
}

type Map = HashMap<(Via, Box<[u8]>), Arc<Decoded>>;

/// The cache.
pub struct ParseCache {
    shards: Box<[RwLock<Map>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl ParseCache {
    /// A cache of at most `capacity` entries (0 keeps nothing).
    pub fn new(capacity: usize) -> ParseCache {
        ParseCache {
            shards: (0..SHARDS).map(|_| RwLock::new(Map::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, via: Via, bytes: &[u8]) -> &RwLock<Map> {
        let h = self.hasher.hash_one((via, bytes)) as usize;
        &self.shards[h % self.shards.len()]
    }

    /// What `bytes` decoded to when last seen.
    pub fn get(&self, via: Via, bytes: &[u8]) -> Option<Arc<Decoded>> {
        if self.per_shard == 0 || bytes.len() > MAX_KEY_BYTES {
            return None;
        }
        let map = self
            .shard(via, bytes)
            .read()
            .unwrap_or_else(|p| p.into_inner());
        // The map's key is (Via, Box<[u8]>); look it up without allocating a box.
        map.get(&(via, bytes) as &dyn KeyView).cloned()
    }

    /// Remember what `bytes` decoded to (requests with a nonce are not kept).
    pub fn insert(&self, via: Via, bytes: &[u8], decoded: &Arc<Decoded>) {
        if self.per_shard == 0 || bytes.len() > MAX_KEY_BYTES || decoded.parsed.nonce.is_some() {
            return;
        }
        let mut map = self
            .shard(via, bytes)
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard {
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        map.insert((via, bytes.into()), decoded.clone());
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Borrowed view of a key, so lookups need no allocation.
trait KeyView {
    fn view(&self) -> (Via, &[u8]);
}

impl KeyView for (Via, Box<[u8]>) {
    fn view(&self) -> (Via, &[u8]) {
        (self.0, &self.1)
    }
}

impl KeyView for (Via, &[u8]) {
    fn view(&self) -> (Via, &[u8]) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn KeyView + 'a> for (Via, Box<[u8]>) {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.view() == other.view()
    }
}

impl Eq for dyn KeyView + '_ {}

impl std::hash::Hash for dyn KeyView + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash exactly as (Via, Box<[u8]>) does: Via, then the slice.
        self.view().hash(state)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn decoded(nonce: bool) -> Arc<Decoded> {
        Arc::new(Decoded {
            der: vec![1, 2, 3],
            parsed: ParsedRequest {
                items: Vec::new(),
                nonce: nonce.then(|| vec![9; 16]),
                signed: false,
            },
        })
    }

    #[test]
    fn keys_hash_alike_owned_and_borrowed() {
        let h = RandomState::new();
        let owned: (Via, Box<[u8]>) = (Via::Get, b"/abc".as_slice().into());
        let view: &dyn KeyView = &(Via::Get, b"/abc".as_slice());
        let owned_view: &dyn KeyView = &owned;
        let hash = |k: &dyn KeyView| {
            let mut s = h.build_hasher();
            k.hash(&mut s);
            std::hash::Hasher::finish(&s)
        };
        assert_eq!(hash(view), hash(owned_view));
        assert_eq!(h.hash_one(&owned), hash(owned_view));
    }

    #[test]
    fn get_after_insert_and_via_separates() {
        let c = ParseCache::new(100);
        let d = decoded(false);
        assert!(c.get(Via::Get, b"/x").is_none());
        c.insert(Via::Get, b"/x", &d);
        assert!(Arc::ptr_eq(&c.get(Via::Get, b"/x").unwrap(), &d));
        assert!(
            c.get(Via::Post, b"/x").is_none(),
            "a POST body is not a GET path"
        );
        assert!(c.get(Via::Get, b"/y").is_none());
    }

    #[test]
    fn nonce_requests_and_long_keys_are_not_kept() {
        let c = ParseCache::new(100);
        c.insert(Via::Post, b"n", &decoded(true));
        assert!(c.get(Via::Post, b"n").is_none());
        let long = vec![b'a'; MAX_KEY_BYTES + 1];
        c.insert(Via::Get, &long, &decoded(false));
        assert!(c.get(Via::Get, &long).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn bounded() {
        let c = ParseCache::new(64);
        for i in 0..10_000u32 {
            c.insert(Via::Get, &i.to_be_bytes(), &decoded(false));
        }
        assert!(c.len() <= 64, "{}", c.len());
        let none = ParseCache::new(0);
        none.insert(Via::Get, b"/x", &decoded(false));
        assert!(none.get(Via::Get, b"/x").is_none());
    }
}
