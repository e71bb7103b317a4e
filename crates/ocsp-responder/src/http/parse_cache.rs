//! Recently seen nonce-free requests, by their exact bytes on the wire (GET path or POST
//! body), with what they decoded to. Clients of a CA ask about the same certificates
//! again and again, in the same bytes: a repeat skips the URL and base64 decoding and
//! the DER parse. Decoding is a pure function of those bytes, so an entry never goes
//! stale; the answer itself still comes from the response cache with its freshness
//! checks.
//!
//! Each thread keeps its own entries (a thread's lookups take no lock and write no
//! memory another core reads), at most `capacity` of at most [`MAX_KEY_BYTES`] each; a
//! full map is emptied. Requests with a nonce are never kept (each is unique).

use ocsp_proto::request::ParsedRequest;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Longest request (GET path or POST body) kept.
pub const MAX_KEY_BYTES: usize = 512;

/// Entries each thread keeps by default.
pub const DEFAULT_CAPACITY: usize = 2048;

/// A decoded request: its DER and what it parsed to.
#[derive(Debug)]
pub struct DecodedRequest {
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

/// Per thread: (cache, how, bytes) → decoded.
type Map = HashMap<(u64, Via, Box<[u8]>), Arc<DecodedRequest>>;

thread_local! {
    static MAP: RefCell<Map> = RefCell::new(Map::new());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The cache.
pub struct ParseCache {
    id: u64,
    capacity: usize,
}

impl ParseCache {
    /// A cache of at most `capacity` entries per thread (0 keeps nothing).
    pub fn new(capacity: usize) -> ParseCache {
        ParseCache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            capacity,
        }
    }

    /// What `bytes` decoded to when last seen on this thread.
    pub fn get(&self, via: Via, bytes: &[u8]) -> Option<Arc<DecodedRequest>> {
        if self.capacity == 0 || bytes.len() > MAX_KEY_BYTES {
            return None;
        }
        // The map's key owns its bytes; look it up without allocating.
        MAP.with(|m| {
            m.borrow()
                .get(&(self.id, via, bytes) as &dyn KeyView)
                .cloned()
        })
    }

    /// Remember what `bytes` decoded to (requests with a nonce are not kept).
    pub fn insert(&self, via: Via, bytes: &[u8], decoded: &Arc<DecodedRequest>) {
        if self.capacity == 0 || bytes.len() > MAX_KEY_BYTES || decoded.parsed.nonce.is_some() {
            return;
        }
        MAP.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= self.capacity {
                m.clear();
            }
            m.insert((self.id, via, bytes.into()), decoded.clone());
        });
    }

    /// Entries this thread holds for this cache.
    pub fn len(&self) -> usize {
        MAP.with(|m| m.borrow().keys().filter(|k| k.0 == self.id).count())
    }

    /// Whether this thread holds nothing for this cache.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Borrowed view of a key, so lookups need no allocation.
trait KeyView {
    fn view(&self) -> (u64, Via, &[u8]);
}

impl KeyView for (u64, Via, Box<[u8]>) {
    fn view(&self) -> (u64, Via, &[u8]) {
        (self.0, self.1, &self.2)
    }
}

impl KeyView for (u64, Via, &[u8]) {
    fn view(&self) -> (u64, Via, &[u8]) {
        (self.0, self.1, self.2)
    }
}

impl<'a> std::borrow::Borrow<dyn KeyView + 'a> for (u64, Via, Box<[u8]>) {
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
        // Must hash exactly as (u64, Via, Box<[u8]>) does: each field in turn.
        self.view().hash(state)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn decoded(nonce: bool) -> Arc<DecodedRequest> {
        Arc::new(DecodedRequest {
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
        let h = std::hash::RandomState::new();
        let owned: (u64, Via, Box<[u8]>) = (7, Via::Get, b"/abc".as_slice().into());
        let view: &dyn KeyView = &(7, Via::Get, b"/abc".as_slice());
        let owned_view: &dyn KeyView = &owned;
        let hash = |k: &dyn KeyView| {
            let mut s = h.build_hasher();
            k.hash(&mut s);
            std::hash::Hasher::finish(&s)
        };
        assert_eq!(hash(view), hash(owned_view));
        assert_eq!(
            std::hash::BuildHasher::hash_one(&h, &owned),
            hash(owned_view)
        );
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
    fn caches_do_not_see_each_other() {
        let (a, b) = (ParseCache::new(10), ParseCache::new(10));
        a.insert(Via::Get, b"/x", &decoded(false));
        assert!(b.get(Via::Get, b"/x").is_none());
        assert_eq!((a.len(), b.len()), (1, 0));
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
