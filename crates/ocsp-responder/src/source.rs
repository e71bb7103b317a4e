//! Where answers come from.
//!
//! Two narrow traits, one async method that matters each:
//! - [`StatusSource`]: the status of one serial under one issuer (index.txt, PostgreSQL).
//! - [`ResponseSource`]: the bytes that answer a parsed request (live signing, a cache of
//!   pre-signed answers in front of it).
//!
//! Neither knows HTTP. Their errors are [`SourceError`]s, mapped to OCSP statuses in one
//! place, [`crate::http`].

pub mod cached;
pub mod index_txt;
pub mod live;
pub mod signing;
pub mod store;
#[cfg(test)]
pub(crate) mod testkit;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderValue;
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::{CertStatus, Serial, Timestamp};
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

/// The result of one status lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The status on record (`Good` or `Revoked`), or `None` when the source holds no
    /// record of the serial.
    pub status: Option<CertStatus>,
    /// The generation of the state the answer came from.
    pub generation: u64,
}

/// The status of certificates of one issuer.
#[async_trait]
pub trait StatusSource: Send + Sync {
    /// Look up `serial`. A source backed by a file brings itself up to date first, so a
    /// lookup made after the file was replaced sees the new content.
    async fn status(&self, serial: &Serial) -> Result<Lookup, SourceError>;

    /// Bring the source up to date (cheap when nothing changed) and return the
    /// generation that lookups now see. It changes whenever any status may have changed;
    /// caches compare it to decide whether an answer is still true.
    async fn generation(&self) -> Result<u64, SourceError>;

    /// A short description for logs (`index /root/ca/index.txt (1234 entries)`).
    fn describe(&self) -> String;
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

/// What answers a parsed request.
#[async_trait]
pub trait ResponseSource: Send + Sync {
    /// The answer to `req`, signed.
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError>;
}
