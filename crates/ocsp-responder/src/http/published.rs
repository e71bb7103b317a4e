//! Files the edge serves beside OCSP: published CRLs (`[[crl]]` tables with a `path`).
//!
//! A `GET` or `HEAD` whose path is a published file's is answered from it before any
//! OCSP decoding; every other request goes on to the OCSP edge unchanged.
//!
//! | request | status | headers |
//! |---|---|---|
//! | `GET` / `HEAD` of a published path | 200 | `Content-Type` (`application/pkix-crl`), `ETag`, `Last-Modified` (thisUpdate), `Cache-Control: max-age` up to nextUpdate, `Expires` (nextUpdate) |
//! | the same with a matching `If-None-Match` | 304 | `ETag`, `Cache-Control`, `Expires` |
//! | a published path not generated yet | 503 | `Retry-After` |
//! | a file past its nextUpdate (regeneration failing) | 200 | `Cache-Control: no-cache` (the last file, never cached further) |
//!
//! These replies are not counted in `ocsp_requests_total` nor written to the access log
//! (they are not OCSP requests); the publisher logs and counts its own work.

use bytes::Bytes;
use http::{header, Method, StatusCode};
use ocsp_proto::Timestamp;

use super::{cache_control, etag_matches, HeaderBytes, Reply, NO_CACHE};

/// One published file, as served.
#[derive(Debug, Clone)]
pub struct PublishedFile {
    /// The bytes.
    pub body: Bytes,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The entity tag, unquoted (a hash of the bytes).
    pub etag: String,
    /// When the content was made (a CRL's thisUpdate).
    pub this_update: Timestamp,
    /// When it is due to be replaced (a CRL's nextUpdate).
    pub next_update: Timestamp,
}

/// Where published files come from.
pub trait Published: Send + Sync {
    /// The file published at `path`: `None` when nothing is published there,
    /// `Some(None)` when it is but has not been generated yet.
    fn file(&self, path: &str) -> Option<Option<PublishedFile>>;
}

/// The reply for `path`, when it is a published file's.
pub(super) fn reply(
    published: &dyn Published,
    method: &Method,
    path: &str,
    inm: Option<&[u8]>,
    now: Timestamp,
) -> Option<Reply> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let Some(file) = published.file(path)? else {
        let mut r = Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from_static(b"not generated yet\n"),
        );
        r.push(header::RETRY_AFTER, HeaderBytes::from_static("5"));
        r.push(header::CACHE_CONTROL, NO_CACHE);
        return Some(r);
    };
    let matched = etag_matches(inm, &file.etag);
    let head = method == Method::HEAD;
    let body = if matched || head {
        Bytes::new()
    } else {
        file.body.clone()
    };
    let status = if matched {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut r = Reply::new(status, body);
    r.push(
        header::ETAG,
        HeaderBytes::Shared(Bytes::from(format!("\"{}\"", file.etag))),
    );
    if now < file.next_update {
        r.push(
            header::CACHE_CONTROL,
            cache_control(file.next_update.0 - now.0),
        );
        r.push(
            header::EXPIRES,
            HeaderBytes::Shared(Bytes::from(file.next_update.http_date())),
        );
    } else {
        r.push(header::CACHE_CONTROL, NO_CACHE);
    }
    if matched {
        return Some(r);
    }
    r.push(
        header::LAST_MODIFIED,
        HeaderBytes::Shared(Bytes::from(file.this_update.http_date())),
    );
    r.push(
        header::CONTENT_TYPE,
        HeaderBytes::Shared(Bytes::from_static(file.content_type.as_bytes())),
    );
    if head {
        r.push(
            header::CONTENT_LENGTH,
            HeaderBytes::Shared(Bytes::from(file.body.len().to_string())),
        );
    }
    Some(r)
}
