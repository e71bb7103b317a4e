//! Per-thread front caches: each thread's private copies of the answers it served from
//! the shared map, by (cache, key). A hit here takes no lock and writes no memory
//! another core reads, so the cores serving the same hot answers do not pass cache
//! lines back and forth.
//!
//! A copy is served only if it was taken from an entry known true at the generation
//! now in force and is not yet due for a refresh (so not expired either): it can never
//! be fresher or staler than the shared entry it came from. Bounded by
//! [`L1_CAPACITY`] entries per thread; emptied when full.

use super::map::Key;
use crate::source::Answer;
use ocsp_proto::Timestamp;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Answers each thread keeps, over all caches.
const L1_CAPACITY: usize = 1024;

/// A thread's copy of a cached answer.
struct L1Entry {
    /// The generation at which the entry it was copied from was known true.
    generation: u64,
    refresh_at: Timestamp,
    answer: Arc<Answer>,
}

thread_local! {
    static L1: RefCell<HashMap<(u64, Key), L1Entry>> = RefCell::new(HashMap::new());
}

/// Distinguishes caches in the per-thread front caches.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

/// A new cache's id in the front caches.
pub(super) fn new_cache_id() -> u64 {
    NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed)
}

/// This thread's copy of the answer for `key` of cache `id`, if still good to serve at
/// `generation` (the current one) and `now`, and signed by the responder of `epoch` (the
/// one in force; see [`super::superseded`]).
pub(super) fn get(
    id: u64,
    key: &Key,
    generation: u64,
    epoch: u64,
    now: Timestamp,
) -> Option<Arc<Answer>> {
    L1.with(|l1| {
        let l1 = l1.borrow();
        let e = l1.get(&(id, *key))?;
        (e.generation == generation
            && now < e.refresh_at
            && now < e.answer.next_update
            && !super::superseded(&e.answer, epoch))
        .then(|| e.answer.clone())
    })
}

/// Keep a private copy of `answer` in this thread's front cache.
pub(super) fn put(id: u64, key: Key, generation: u64, refresh_at: Timestamp, answer: &Answer) {
    L1.with(|l1| {
        let mut l1 = l1.borrow_mut();
        if l1.len() >= L1_CAPACITY {
            l1.clear();
        }
        l1.insert(
            (id, key),
            L1Entry {
                generation,
                refresh_at,
                answer: Arc::new(answer.private_copy()),
            },
        );
    });
}
