//! Single flight: concurrent misses for the same key at the same generation share one
//! signature.
//!
//! The first miss (the leader) registers a cell and signs; the others wait on the cell.
//! If the leader's future is dropped (its client went away, its deadline passed), the
//! cell stays registered and uninitialised: the next caller of the same key and
//! generation initialises it, so no waiter is stranded and no second signature starts
//! while one is running. A flight for an older generation is never joined: a miss at a
//! newer generation starts its own.

use super::map::Key;
use crate::source::{Answer, SourceError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

type Flight = Arc<OnceCell<Result<Arc<Answer>, SourceError>>>;

/// One shard's flights: by key, with the generation each was started at.
type Slot = Mutex<HashMap<Key, (u64, Flight)>>;

/// Flights in progress, sharded like the map.
pub(super) struct Flights {
    shards: Box<[Slot]>,
}

impl Flights {
    pub(super) fn new(shards: usize) -> Flights {
        Flights {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// Run `sign` once for all concurrent callers of (`key`, `generation`); returns its
    /// result and whether this caller joined another's flight.
    pub(super) async fn run<F>(
        &self,
        shard: usize,
        key: Key,
        generation: u64,
        sign: F,
    ) -> (Result<Arc<Answer>, SourceError>, bool)
    where
        F: Future<Output = Result<Arc<Answer>, SourceError>>,
    {
        let slot = &self.shards[shard % self.shards.len()];
        let (flight, joined) = {
            let mut inflight = slot.lock().unwrap_or_else(|p| p.into_inner());
            match inflight.get(&key) {
                Some((g, f)) if *g == generation => (f.clone(), true),
                _ => {
                    let f: Flight = Arc::new(OnceCell::new());
                    inflight.insert(key, (generation, f.clone()));
                    (f, false)
                }
            }
        };
        let result = flight.get_or_init(|| sign).await.clone();
        {
            let mut inflight = slot.lock().unwrap_or_else(|p| p.into_inner());
            if inflight
                .get(&key)
                .is_some_and(|(_, f)| Arc::ptr_eq(f, &flight))
            {
                inflight.remove(&key);
            }
        }
        (result, joined)
    }
}
