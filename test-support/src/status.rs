//! [`MemSource`]: one in-memory [`StatusSource`] for every integration test and bench.
//!
//! - A map serial → status that the test may change ([`MemSource::set`]); every change
//!   bumps the generation, as a reload of `index.txt` does.
//! - An answer for serials not in the map ([`MemSource::otherwise`]): none (absent, the
//!   default) or a fixed status ("every serial is good").
//! - Failures on demand for chosen serials ([`Fault`]): backend down, bug, overload, or a
//!   slow lookup that then answers from the map.
//!
//! `generation()` is one atomic load, so a cache in front of it measures its own cost.

use async_trait::async_trait;
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Serial, Timestamp};
use ocsp_status::{Lookup, StatusEntry, StatusError, StatusSource};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failure a [`MemSource`] gives for one serial.
#[derive(Clone, Debug)]
pub enum Fault {
    /// `StatusError::Unavailable(reason)`.
    Unavailable(String),
    /// `StatusError::Internal(reason)`.
    Internal(String),
    /// `StatusError::Overloaded`.
    Overloaded,
    /// Sleep this long (on the runtime's timer), then answer from the map.
    Slow(Duration),
}

/// An in-memory status source; see the module docs.
pub struct MemSource {
    map: Mutex<HashMap<Serial, CertStatus>>,
    generation: AtomicU64,
    otherwise: Option<CertStatus>,
    faults: HashMap<Serial, Fault>,
    name: String,
}

fn serial(hex: &str) -> Serial {
    Serial::from_hex(hex).unwrap_or_else(|| panic!("bad test serial {hex:?}"))
}

/// `revoked` for keyCompromise at 1,700,000,000 s (2023-11-14), the tests' usual revocation.
pub fn revoked() -> CertStatus {
    let mut r = Revocation::at(Timestamp(1_700_000_000));
    r.reason = Some(RevocationReason::KeyCompromise);
    CertStatus::Revoked(r)
}

impl Default for MemSource {
    fn default() -> MemSource {
        MemSource::new()
    }
}

impl MemSource {
    /// Empty (every serial absent), generation 1.
    pub fn new() -> MemSource {
        MemSource {
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(1),
            otherwise: None,
            faults: HashMap::new(),
            name: "in-memory test statuses".into(),
        }
    }

    /// With `entries` (hex serial, status).
    pub fn of(entries: &[(&str, CertStatus)]) -> MemSource {
        let mut s = MemSource::new();
        for (hex, status) in entries {
            s = s.with(hex, status.clone());
        }
        s
    }

    /// Add an entry (hex serial).
    pub fn with(self, hex: &str, status: CertStatus) -> MemSource {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(serial(hex), status);
        self
    }

    /// Answer `status` for every serial not in the map (instead of absent).
    pub fn otherwise(mut self, status: CertStatus) -> MemSource {
        self.otherwise = Some(status);
        self
    }

    /// Fail with `fault` for the serial `hex`.
    pub fn with_fault(mut self, hex: &str, fault: Fault) -> MemSource {
        self.faults.insert(serial(hex), fault);
        self
    }

    /// What [`StatusSource::describe`] says.
    pub fn described(mut self, name: &str) -> MemSource {
        self.name = name.into();
        self
    }

    /// Into an `Arc`, as issuers hold sources.
    pub fn shared(self) -> Arc<MemSource> {
        Arc::new(self)
    }

    /// The status the map holds for `s` (not [`MemSource::otherwise`]).
    pub fn get(&self, s: &Serial) -> Option<CertStatus> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(s)
            .cloned()
    }

    /// Set (`Some`) or remove (`None`) the entry for `s`, and bump the generation.
    pub fn set(&self, s: Serial, status: Option<CertStatus>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match status {
            Some(v) => map.insert(s, v),
            None => map.remove(&s),
        };
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Replace every entry with `entries` (hex serial, status), and bump the generation.
    pub fn reset(&self, entries: &[(&str, CertStatus)]) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        *map = entries
            .iter()
            .map(|(hex, status)| (serial(hex), status.clone()))
            .collect();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn lookup(&self, s: &Serial) -> Lookup {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        Lookup {
            status: map.get(s).cloned().or_else(|| self.otherwise.clone()),
            // Read under the lock: the generation matches the map this answer came from.
            generation: self.generation.load(Ordering::SeqCst),
            period: None,
        }
    }
}

#[async_trait]
impl StatusSource for MemSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        match self.faults.get(serial) {
            None => {}
            Some(Fault::Unavailable(why)) => return Err(StatusError::Unavailable(why.clone())),
            Some(Fault::Internal(why)) => return Err(StatusError::Internal(why.clone())),
            Some(Fault::Overloaded) => return Err(StatusError::Overloaded),
            Some(Fault::Slow(d)) => tokio::time::sleep(*d).await,
        }
        Ok(self.lookup(serial))
    }

    async fn generation(&self) -> Result<u64, StatusError> {
        Ok(self.generation.load(Ordering::SeqCst))
    }

    /// The map's entries in serial order (not [`MemSource::otherwise`], which has no
    /// entries to list).
    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        let (mut entries, generation) = {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            let e: Vec<(Serial, CertStatus)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            (e, self.generation.load(Ordering::SeqCst))
        };
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (serial, status) in entries {
            visit(StatusEntry {
                serial,
                status,
                expires: None,
            });
        }
        Ok(generation)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
