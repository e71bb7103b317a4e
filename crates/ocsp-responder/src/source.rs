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
        }
    }
}

/// What answers a parsed request.
#[async_trait]
pub trait ResponseSource: Send + Sync {
    /// The answer to `req`, signed.
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError>;
}
