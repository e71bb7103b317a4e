//! The status page of the operations listener: `GET /` (HTML) and `GET /status.json`
//! (the same [`StatusSnapshot`] as JSON), for an operator's first look when something is
//! off, in the spirit of HAProxy's stats page.
//!
//! It shows each issuer with its responder certificate (subject, days to expiry), its
//! signer and whether its last test signature verified, its status backend, generation
//! and last reload; readiness problems; request and outcome rates, latency quantiles,
//! the cache hit ratio, the signing queue and signing latency; and a lookup form giving
//! the status a serial would get, with no signature made (see [`lookup`]).
//!
//! Served only by the operations listener (`[metrics] listen`), never by the public OCSP
//! listeners, which have no route but OCSP. Server-rendered HTML with no script and no
//! external asset; every answer is `Cache-Control: no-store`.

pub mod html;
pub mod lookup;
pub mod prom_text;
pub mod snapshot;

pub use snapshot::StatusSnapshot;

use crate::health::Ops;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

fn respond(content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// `GET /[?issuer=…&serial=…]`: the page.
pub async fn page(ops: &Ops, query: Option<&str>) -> Response<Full<Bytes>> {
    let s = snapshot::gather(ops, query).await;
    respond("text/html; charset=utf-8", html::render(&s))
}

/// `GET /status.json[?issuer=…&serial=…]`: the same data as JSON.
pub async fn json(ops: &Ops, query: Option<&str>) -> Response<Full<Bytes>> {
    let s = snapshot::gather(ops, query).await;
    let body = serde_json::to_string_pretty(&s)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the status: {e}\"}}"));
    respond("application/json", body + "\n")
}
