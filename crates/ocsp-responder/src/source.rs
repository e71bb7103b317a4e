//! Where answers come from: a chain of stages, each behind a narrow trait, composed in
//! one place ([`crate::setup`]).
//!
//! ```text
//! edge ──ResponseSource──► Filter ──ResolvedSource──► CachedSource ──Sign──► LiveSource
//!        (ParsedRequest)   finds the issuers once     pre-signed answers     looks up the
//!                          (none → NotFound)          (or LiveSource alone)  StatusSource,
//!                                                                            signs on the pool
//! ```
//!
//! - [`ResponseSource`]: the bytes that answer a parsed request; what the HTTP edge asks.
//! - [`ResolvedSource`]: the same, for a request whose issuers are already found
//!   ([`Resolved`]); implemented by the cache and by live signing.
//! - [`Sign`]: a fresh signature with what a cache needs to keep it honest ([`Signed`]);
//!   the cache wraps this trait, not a concrete signer, so a shared pre-signed tier can
//!   stand between them later.
//!
//! Statuses come from [`ocsp_status::StatusSource`]s, one per issuer.
//!
//! None of this knows HTTP. Errors are [`SourceError`]s, mapped to OCSP statuses in one
//! place, [`crate::http`].
//!
//! # Cancellation
//!
//! A request's future is dropped when its client goes away or its deadline passes
//! ([`crate::http`]). Every stage is cancel-safe: a lookup holds no lock across an
//! await; a signing job whose requester is gone is skipped by the pool; a miss that
//! leads a single flight and is dropped leaves its entry for the next caller of the
//! same key to take over (see the cache's module docs). Nothing here spawns work on a
//! request's behalf that outlives it, except the cache's background re-sign, which
//! owns what it needs.

pub mod cache;
pub mod filter;
pub mod live;
pub mod signing;
pub mod store;
#[cfg(test)]
pub(crate) mod testkit;

use crate::issuer::{IssuerId, IssuerSet};
use async_trait::async_trait;
use bytes::Bytes;
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::{CertStatus, Timestamp};
use ocsp_status::StatusError;
use signing::Priority;
use std::sync::Arc;

/// Why no answer could be given.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// No served issuer matches a CertID → `unauthorized`.
    #[error("no served issuer matches the request")]
    NotFound,
    /// The backend cannot answer now (database down, index never loaded) → `tryLater`.
    #[error("status backend unavailable: {0}")]
    Unavailable(String),
    /// Too much work queued → `tryLater` with `Retry-After`.
    #[error("overloaded")]
    Overloaded,
    /// A fault of ours → `internalError`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StatusError> for SourceError {
    fn from(e: StatusError) -> SourceError {
        match e {
            StatusError::Unavailable(why) => SourceError::Unavailable(why),
            StatusError::Overloaded => SourceError::Overloaded,
            StatusError::Internal(why) => SourceError::Internal(why),
            other => SourceError::Internal(other.to_string()),
        }
    }
}

/// The status stated for one CertID, as logged and counted (`ocsp_cert_statuses_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `good`.
    Good = 0,
    /// `revoked`.
    Revoked = 1,
    /// `unknown`.
    Unknown = 2,
}

impl StatusKind {
    /// Every kind, in the order of their discriminants (`kind as usize` indexes this).
    pub const ALL: [StatusKind; 3] = [StatusKind::Good, StatusKind::Revoked, StatusKind::Unknown];

    /// The kind of a stated status.
    pub fn of(status: &CertStatus) -> StatusKind {
        match status {
            CertStatus::Good => StatusKind::Good,
            CertStatus::Revoked(_) => StatusKind::Revoked,
            CertStatus::Unknown => StatusKind::Unknown,
        }
    }

    /// `good`, `revoked` or `unknown` (as [`CertStatus::name`]).
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Good => "good",
            StatusKind::Revoked => "revoked",
            StatusKind::Unknown => "unknown",
        }
    }
}

impl From<&CertStatus> for StatusKind {
    fn from(s: &CertStatus) -> StatusKind {
        StatusKind::of(s)
    }
}

/// A status name as [`CertStatus::name`] writes it. Anything but `good` and `revoked`
/// is `unknown`: a name this crate does not know never reads as `good`.
impl From<&str> for StatusKind {
    fn from(name: &str) -> StatusKind {
        match name {
            "good" => StatusKind::Good,
            "revoked" => StatusKind::Revoked,
            _ => StatusKind::Unknown,
        }
    }
}

impl PartialEq<&str> for StatusKind {
    fn eq(&self, name: &&str) -> bool {
        self.name() == *name
    }
}

impl std::fmt::Display for StatusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A ready answer: the DER of a successful OCSPResponse and the facts a transport needs
/// to describe it. The header values that do not depend on the time of the request are
/// formatted once, here, as plain bytes (no HTTP types: the edge turns them into
/// headers), so a cache hit formats nothing but `max-age`.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The DER OCSPResponse.
    pub der: Bytes,
    /// The earliest thisUpdate among the SingleResponses.
    pub this_update: Timestamp,
    /// The earliest nextUpdate among the SingleResponses.
    pub next_update: Timestamp,
    /// producedAt.
    pub produced_at: Timestamp,
    /// Hex SHA-256 of `der` (the ETag, without quotes).
    pub etag: Arc<str>,
    /// The status stated for each CertID, in request order (for logs and metrics).
    pub statuses: Vec<StatusKind>,
    /// The ETag, quoted (`"…"`): visible ASCII.
    pub etag_header: Bytes,
    /// thisUpdate as an HTTP date (`Last-Modified`, RFC 9919 §6.2).
    pub last_modified: Bytes,
    /// nextUpdate as an HTTP date (`Expires`).
    pub expires: Bytes,
    /// The epoch of the responder that signed it ([`crate::issuer::ResponderSlot`]); 0
    /// when not known. The cache re-signs answers whose signer is no longer in force.
    pub signed_by: u64,
}

impl Answer {
    /// Wrap signed bytes, computing the ETag and the fixed header values. `statuses` are
    /// [`StatusKind`]s, or anything that converts into one (a [`CertStatus`], or its
    /// [`CertStatus::name`]).
    pub fn new<S: Into<StatusKind>>(
        der: Vec<u8>,
        this_update: Timestamp,
        next_update: Timestamp,
        produced_at: Timestamp,
        statuses: Vec<S>,
    ) -> Answer {
        let etag: Arc<str> = hex::encode(ocsp_proto::HashAlg::Sha256.digest(&der)).into();
        Answer {
            der: Bytes::from(der),
            this_update,
            next_update,
            produced_at,
            etag_header: Bytes::from(format!("\"{etag}\"")),
            last_modified: Bytes::from(this_update.http_date()),
            expires: Bytes::from(next_update.http_date()),
            signed_by: 0,
            etag,
            statuses: statuses.into_iter().map(Into::into).collect(),
        }
    }

    /// A copy that shares no reference count with `self`: a thread serving it often
    /// then writes only memory of its own (see the cache's per-thread copies).
    pub fn private_copy(&self) -> Answer {
        Answer {
            der: Bytes::copy_from_slice(&self.der),
            this_update: self.this_update,
            next_update: self.next_update,
            produced_at: self.produced_at,
            etag: self.etag.clone(),
            statuses: self.statuses.clone(),
            etag_header: Bytes::copy_from_slice(&self.etag_header),
            last_modified: Bytes::copy_from_slice(&self.last_modified),
            expires: Bytes::copy_from_slice(&self.expires),
            signed_by: self.signed_by,
        }
    }
}

/// What answers a parsed request (what the HTTP edge asks).
#[async_trait]
pub trait ResponseSource: Send + Sync {
    /// The answer to `req`, signed.
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError>;
}

/// A request whose CertIDs' issuers are found: by the filter stage, once.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The request.
    pub request: &'a ParsedRequest,
    /// The served issuers.
    pub issuers: &'a Arc<IssuerSet>,
    /// The issuer of each CertID, in request order; all share one responder.
    pub ids: &'a [IssuerId],
}

/// What answers a request whose issuers are found (the cache, live signing).
#[async_trait]
pub trait ResolvedSource: Send + Sync {
    /// The answer to `req`, signed.
    async fn answer(&self, req: Resolved<'_>) -> Result<Arc<Answer>, SourceError>;
}

/// A freshly signed answer with what a cache needs to keep it honest.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The answer.
    pub answer: Arc<Answer>,
    /// The status on record for each CertID, in request order (`None`: no record).
    pub records: Vec<Option<CertStatus>>,
    /// The lowest status-source generation read *before* the lookups: the answer is
    /// true at least as of this generation (a race can only make it look older).
    pub generation: u64,
}

/// Looks statuses up and signs a fresh answer (live signing); what a cache wraps.
#[async_trait]
pub trait Sign: Send + Sync {
    /// Sign an answer to `req` on the signing queue of `priority`.
    async fn sign(&self, req: Resolved<'_>, priority: Priority) -> Result<Signed, SourceError>;
}
