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
use http::HeaderValue;
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

/// A ready answer: the DER of a successful OCSPResponse and what HTTP needs to know.
/// The header values that do not depend on the time of the request are computed once,
/// here, so a cache hit formats nothing but `max-age`.
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
    /// The status stated for each CertID, in request order (for logs).
    pub statuses: Vec<&'static str>,
    /// `ETag` header value (quoted).
    pub etag_header: HeaderValue,
    /// `Last-Modified` header value (thisUpdate, RFC 9919 §6.2).
    pub last_modified: HeaderValue,
    /// `Expires` header value (nextUpdate).
    pub expires: HeaderValue,
}

fn header_value(s: String) -> HeaderValue {
    // Hex digits, quotes and HTTP dates: always valid header octets.
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl Answer {
    /// Wrap signed bytes, computing the ETag and the fixed header values.
    pub fn new(
        der: Vec<u8>,
        this_update: Timestamp,
        next_update: Timestamp,
        produced_at: Timestamp,
        statuses: Vec<&'static str>,
    ) -> Answer {
        let etag: Arc<str> = hex::encode(ocsp_proto::HashAlg::Sha256.digest(&der)).into();
        Answer {
            der: Bytes::from(der),
            this_update,
            next_update,
            produced_at,
            etag_header: header_value(format!("\"{etag}\"")),
            last_modified: header_value(this_update.http_date()),
            expires: header_value(next_update.http_date()),
            etag,
            statuses,
        }
    }

    /// A copy that shares no reference count with `self`: a thread serving it often
    /// then writes only memory of its own (see the cache's per-thread copies).
    pub fn private_copy(&self) -> Answer {
        let copy_header =
            |v: &HeaderValue| HeaderValue::from_bytes(v.as_bytes()).unwrap_or_else(|_| v.clone());
        Answer {
            der: Bytes::copy_from_slice(&self.der),
            this_update: self.this_update,
            next_update: self.next_update,
            produced_at: self.produced_at,
            etag: self.etag.clone(),
            statuses: self.statuses.clone(),
            etag_header: copy_header(&self.etag_header),
            last_modified: copy_header(&self.last_modified),
            expires: copy_header(&self.expires),
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
