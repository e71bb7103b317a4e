//! What is the status of (issuer, serial): the [`StatusSource`] trait every status
//! backend implements, and the backends (today [`index_txt`]).
//!
//! A source serves one issuer. It knows nothing of OCSP requests, signatures or HTTP:
//! the responder (`ocsp-responder`) finds the issuer a CertID names, asks that issuer's
//! source, and signs what it says.
//!
//! # The contract
//!
//! | method | promise |
//! |---|---|
//! | [`StatusSource::status`] | the status on record for a serial, read from a state no older than the one in force when the call began (a file-backed source checks its file first) |
//! | [`StatusSource::generation`] | brings the source up to date (cheap when nothing changed) and names the state lookups now see; it changes whenever any status may have changed, and never goes back within one process |
//! | [`StatusSource::entries`] | every entry of one state, with that state's generation: what `ocsp presign` signs and what a CRL is issued from, read from the source rather than by re-reading its files |
//! | [`StatusSource::changes`] | optional per-serial change notification: after a new generation is in force, the serials whose status differs from the previous generation's; a [`Change::All`] when the source cannot tell (a lagging subscriber, a source that does not diff) |
//! | [`StatusSource::reload`] | force a re-read (SIGHUP); a failed reload keeps the last good state |
//! | [`StatusSource::follow`] | follow the backend in the background (a file watcher, a database listener) until the returned guard is dropped |
//! | [`StatusSource::report`] | what is served and how the last reload went, for metrics, health and the status page |
//!
//! Freshness is decided by generations, never by age: a cache stamps each answer with
//! the generation read *before* its lookup and serves it only while that generation is
//! still in force (or after re-checking the one serial). Change notifications only let a
//! cache drop answers earlier; correctness never depends on receiving them.
//!
//! Errors are [`StatusError`]s: the responder answers `tryLater` for
//! [`StatusError::Unavailable`] and `internalError` for [`StatusError::Internal`]. A
//! source never guesses: when it cannot read its state it says so.

pub mod clock;
pub mod config;
#[cfg(feature = "crl")]
pub mod crl;
pub mod database_url;
pub mod index_txt;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use clock::{Clock, SharedClock, SystemClock};
pub use config::{IndexTxtConfig, StatusConfig};

use async_trait::async_trait;
use ocsp_proto::{CertStatus, Serial, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The backend cannot answer now (file unreadable and never loaded, database down):
    /// the responder says `tryLater`.
    #[error("status backend unavailable: {0}")]
    Unavailable(String),
    /// The backend is saturated (a connection pool exhausted): the responder says
    /// `tryLater` with `Retry-After`.
    #[error("status backend overloaded")]
    Overloaded,
    /// A fault of ours: the responder says `internalError`.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The result of one status lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The status on record (`Good` or `Revoked`), or `None` when the source holds no
    /// record of the serial.
    pub status: Option<CertStatus>,
    /// The generation of the state the answer came from.
    pub generation: u64,
    /// The period the source's state speaks for, when the source has one (a CRL's
    /// thisUpdate and nextUpdate): the answer's thisUpdate is its start and its nextUpdate
    /// is never past its end. `None`: the state is current until the next generation
    /// (an index file, a database), and the responder's own validity applies.
    pub period: Option<Period>,
}

impl Lookup {
    /// A lookup without a period of its own.
    pub fn new(status: Option<CertStatus>, generation: u64) -> Lookup {
        Lookup {
            status,
            generation,
            period: None,
        }
    }
}

/// The period a source's state is vouched for (RFC 6960 §4.2.2.1: "the {thisUpdate,
/// nextUpdate} interval … corresponds to the {thisUpdate, nextUpdate} interval in CRLs").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// When the state was known correct (the CRL's thisUpdate).
    pub this_update: Timestamp,
    /// When the next state is due (the CRL's nextUpdate): no answer may claim more.
    pub next_update: Timestamp,
}

/// One entry of a source, as enumerated by [`StatusSource::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The serial.
    pub serial: Serial,
    /// `Good` or `Revoked` (an expired certificate is `Good` unless revoked: expiry is
    /// not revocation).
    pub status: CertStatus,
    /// The certificate's notAfter, when the source knows it (a CRL keeps a revoked entry
    /// until one CRL after it).
    pub expires: Option<Timestamp>,
}

/// What changed between two generations of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These serials' statuses differ in `generation` from the generation before it.
    Serials {
        /// The generation now in force.
        generation: u64,
        /// The serials whose status (or presence) changed.
        serials: Arc<[Serial]>,
    },
    /// Anything may have changed (too many changes to list, a subscriber that lagged,
    /// a restore): treat every answer of this source as stale.
    All {
        /// The generation now in force.
        generation: u64,
    },
}

impl Change {
    /// The generation now in force.
    pub fn generation(&self) -> u64 {
        match self {
            Change::Serials { generation, .. } | Change::All { generation } => *generation,
        }
    }
}

/// A subscription to a source's changes; `recv` reports [`Change::All`] for whatever
/// was missed when the subscriber lagged.
pub type Changes = tokio::sync::broadcast::Receiver<Change>;

/// What a source serves and how its last reload went (metrics, health, status page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The backend kind (`index_txt`).
    pub kind: &'static str,
    /// Where it reads from (a path, a redacted URL).
    pub location: String,
    /// The generation being served.
    pub generation: u64,
    /// Entries in the served state.
    pub entries: u64,
    /// Revoked entries in the served state.
    pub revoked: u64,
    /// When a reload was last attempted.
    pub attempted_at: Timestamp,
    /// How long it took.
    pub took: Duration,
    /// `None` when the last attempt succeeded; else why it failed (the last good state
    /// is still served).
    pub error: Option<String>,
    /// When the served state was last read successfully.
    pub loaded_at: Timestamp,
    /// Successful loads and reloads so far (including the first).
    pub reloads: u64,
    /// Failed reload attempts so far.
    pub failures: u64,
}

impl SourceReport {
    /// Whether the last attempt succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Keeps a source's background follower running; dropping it stops the follower.
pub type WatchHandle = Box<dyn std::any::Any + Send>;

/// The status of certificates of one issuer.
#[async_trait]
pub trait StatusSource: Send + Sync {
    /// Look up `serial`. A source backed by a file brings itself up to date first, so a
    /// lookup made after the file was replaced sees the new content.
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError>;

    /// Bring the source up to date (cheap when nothing changed) and return the
    /// generation that lookups now see. It changes whenever any status may have changed;
    /// caches compare it to decide whether an answer is still true.
    async fn generation(&self) -> Result<u64, StatusError>;

    /// Call `visit` with every entry of the current state, in serial order; returns the
    /// generation of the state enumerated.
    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError>;

    /// Subscribe to per-serial changes, when the source can tell them. `None`: only
    /// [`StatusSource::generation`] says that something changed.
    fn changes(&self) -> Option<Changes> {
        None
    }

    /// Re-read the backend now (SIGHUP); returns the generation served afterwards. A
    /// failed reload keeps the last good state and returns the error.
    async fn reload(&self) -> Result<u64, StatusError> {
        self.generation().await
    }

    /// Start following the backend in the background; `None` when there is nothing to
    /// follow. The follower stops when the guard is dropped.
    fn follow(self: Arc<Self>) -> Result<Option<WatchHandle>, StatusError> {
        Ok(None)
    }

    /// What is served and how the last reload went.
    fn report(&self) -> Option<SourceReport> {
        None
    }

    /// A short description for logs (`index /root/ca/index.txt (1234 entries)`).
    fn describe(&self) -> String;
}
