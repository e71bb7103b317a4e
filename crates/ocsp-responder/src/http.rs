//! The HTTP edge: decode GET and POST requests, enforce limits, map every outcome to an
//! OCSP status (here and nowhere else), and set the RFC 9919 caching headers.
//!
//! | outcome                                   | HTTP | OCSP                         |
//! |-------------------------------------------|------|------------------------------|
//! | answered                                  | 200  | successful (signed)          |
//! | `If-None-Match` equal to the answer's ETag | 304  | —                            |
//! | undecodable path/body, bad DER, bad nonce | 200  | malformedRequest (unsigned)  |
//! | CertID of no served CA                    | 200  | unauthorized                 |
//! | backend down, overloaded, too slow        | 200  | tryLater + `Retry-After`     |
//! | our fault                                 | 200  | internalError                |
//! | body over the limit                       | 413  | —                            |
//! | method other than GET/HEAD/POST           | 405  | — (`Allow: GET, HEAD, POST`) |
//! | `GET /`                                   | 200  | — (a plain-text line)        |

use crate::clock;
use crate::config::Limits;
use crate::log_sample::Sampler;
use crate::parse_cache::{self, ParseCache, Via};
use crate::source::{Answer, ResponseSource, SourceError};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use ocsp_proto::request::{self, ParsedRequest, RequestLimits};
use ocsp_proto::response::error_response;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::Timestamp;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The media type of OCSP responses.
pub const OCSP_RESPONSE: &str = "application/ocsp-response";

/// Seconds a client is asked to wait after `tryLater`.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Most path segments tried as the start of the base64 request in a GET.
const MAX_GET_PREFIX_SEGMENTS: usize = 16;

/// Prints requests and responses in readable form (`--text`).
pub type TextHook = Arc<dyn Fn(&[u8], &[u8]) + Send + Sync>;

/// Everything the edge needs to answer.
pub struct Edge {
    source: Arc<dyn ResponseSource>,
    limits: Limits,
    request_limits: RequestLimits,
    text: Option<TextHook>,
    log_client_addr: bool,
    internal_errors: Sampler,
    unavailable: Sampler,
    parsed: ParseCache,
}

impl Edge {
    /// An edge in front of `source`.
    pub fn new(source: Arc<dyn ResponseSource>, limits: Limits) -> Edge {
        let request_limits = RequestLimits {
            max_bytes: limits.max_body_bytes.max(limits.max_uri_bytes),
            max_cert_ids: limits.max_cert_ids,
        };
        Edge {
            source,
            limits,
            request_limits,
            text: None,
            log_client_addr: false,
            internal_errors: Sampler::new("internal_error", 10, Duration::from_secs(60)),
            unavailable: Sampler::new("try_later", 10, Duration::from_secs(60)),
            parsed: ParseCache::new(parse_cache::DEFAULT_CAPACITY),
        }
    }

    /// Log the client's address in access lines (`client_addr`), and at most `burst`
    /// error or warning lines of each kind per `window` (the rest are counted and
    /// summarised in the next line logged).
    pub fn with_log(mut self, client_addr: bool, burst: u32, window: Duration) -> Edge {
        self.log_client_addr = client_addr;
        self.internal_errors = Sampler::new("internal_error", burst, window);
        self.unavailable = Sampler::new("try_later", burst, window);
        self
    }

    /// Call `hook(request_der, response_der)` for every request that decoded.
    pub fn with_text(mut self, hook: TextHook) -> Edge {
        self.text = Some(hook);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The outcome of one request, for the access log and metrics.
struct Outcome {
    http: StatusCode,
    ocsp: &'static str,
    /// The request, when it decoded (its serials are logged).
    request: Option<Arc<parse_cache::DecodedRequest>>,
    /// The answer, when there is one (its statuses are logged and counted).
    answer: Option<Arc<Answer>>,
}

impl Outcome {
    fn plain(http: StatusCode, ocsp: &'static str) -> Outcome {
        Outcome {
            http,
            ocsp,
            request: None,
            answer: None,
        }
    }

    fn statuses(&self) -> &[&'static str] {
        self.answer
            .as_deref()
            .map_or(&[], |a| a.statuses.as_slice())
    }

    fn serials(&self) -> String {
        self.request.as_deref().map_or_else(String::new, |r| {
            r.parsed
                .items
                .iter()
                .map(|i| i.serial.to_hex())
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

fn status_name(s: OcspResponseStatus) -> &'static str {
    match s {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// The `outcome` label of `ocsp_requests_total`.
fn outcome_label(o: &Outcome) -> &'static str {
    match (o.ocsp, o.http) {
        ("successful", StatusCode::NOT_MODIFIED) => "notModified",
        ("-", StatusCode::OK) => "info",
        ("-", StatusCode::METHOD_NOT_ALLOWED) => "methodNotAllowed",
        ("-", StatusCode::PAYLOAD_TOO_LARGE) => "tooLarge",
        ("-", StatusCode::URI_TOO_LONG) => "uriTooLong",
        ("-", StatusCode::REQUEST_TIMEOUT) => "timeout",
        ("-", _) => "other",
        (ocsp, _) => ocsp,
    }
}

/// A response builder. `Date` is added by hyper (formatted once a second), on HTTP/1.1
/// and HTTP/2 alike.
fn base_response(status: StatusCode) -> http::response::Builder {
    Response::builder().status(status)
}

fn finish(b: http::response::Builder, body: Bytes) -> Response<Full<Bytes>> {
    b.body(Full::new(body)).unwrap_or_else(|_| {
        // Only reachable with an invalid header value; every value here is ASCII we built.
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    finish(
        base_response(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache"),
        Bytes::from_static(text.as_bytes()),
    )
}

/// An unsigned OCSP error response (HTTP 200, never cached).
fn ocsp_error(status: OcspResponseStatus) -> Response<Full<Bytes>> {
    let mut b = base_response(StatusCode::OK)
        .header(header::CONTENT_TYPE, OCSP_RESPONSE)
        .header(header::CACHE_CONTROL, "no-cache");
    if status == OcspResponseStatus::TryLater {
        b = b.header(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string());
    }
    finish(b, Bytes::from(error_response(status)))
}

fn etag_matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(v) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    v.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

/// The headers of a signed answer. Answers to requests without a nonce are the same for
/// every client until nextUpdate, so caches may keep them (RFC 9919 §6); an answer that
/// echoes a nonce is for one client only.
fn answer_response(
    answer: &Answer,
    nonce: bool,
    head: bool,
    inm: Option<&HeaderValue>,
) -> Response<Full<Bytes>> {
    let matched = etag_matches(inm, &answer.etag);
    let body = if matched || head {
        Bytes::new()
    } else {
        answer.der.clone()
    };
    let mut r = Response::new(Full::new(body));
    if matched {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = r.headers_mut();
    h.reserve(6);
    h.insert(header::ETAG, answer.etag_header.clone());
    h.insert(header::LAST_MODIFIED, answer.last_modified.clone());
    if nonce {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else {
        let max_age = answer.next_update.0.saturating_sub(clock::now().0);
        h.insert(header::CACHE_CONTROL, cache_control(max_age));
        h.insert(header::EXPIRES, answer.expires.clone());
    }
    if matched {
        return r;
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(OCSP_RESPONSE),
    );
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.der.len()));
    }
    r
}

/// `Cache-Control` of a cacheable answer with `max_age` seconds left.
fn cache_control(max_age: u64) -> HeaderValue {
    let mut buf = itoa::Buffer::new();
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(b"max-age=");
    v.extend_from_slice(buf.format(max_age).as_bytes());
    v.extend_from_slice(b", public, no-transform, must-revalidate");
    // Digits and ASCII text: always a valid header value.
    HeaderValue::from_maybe_shared(Bytes::from(v))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
}

fn b64_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Decode one candidate GET path suffix: percent-decoding (either case), space for `+`,
/// base64url characters, missing padding.
pub fn decode_get_component(s: &str) -> Option<Vec<u8>> {
    let decoded = percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let cleaned: Vec<u8> = decoded
        .into_iter()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .map(|b| match b {
            b' ' | b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    b64_engine().decode(&cleaned).ok()
}

/// Find the OCSP request in a GET path: the base64 may follow any prefix (`/ocsp/...`),
/// contain raw `/`, or follow `//`. The longest suffix that decodes and parses wins.
#[allow(clippy::result_unit_err)] // the only failure is "no suffix decodes"
pub fn parse_get_path(path: &str, limits: &RequestLimits) -> Result<(Vec<u8>, ParsedRequest), ()> {
    let trimmed = path.trim_start_matches('/');
    let mut starts = vec![0usize];
    starts.extend(
        trimmed
            .match_indices('/')
            .map(|(i, _)| i + 1)
            .take(MAX_GET_PREFIX_SEGMENTS),
    );
    for start in starts {
        let candidate = trimmed[start..].trim_start_matches('/');
        if let Some(der) = decode_get_component(candidate) {
            if let Ok(parsed) = request::parse(&der, limits) {
                return Ok((der, parsed));
            }
        }
    }
    Err(())
}

enum Decoded {
    Request(Arc<parse_cache::DecodedRequest>),
    Malformed(String),
    Reply(Response<Full<Bytes>>),
}

/// Decode `bytes` (a GET path or POST body) with `f`, or find what they decoded to last
/// time.
fn decode_cached(
    edge: &Edge,
    via: Via,
    bytes: &[u8],
    f: impl FnOnce() -> Result<(Vec<u8>, ParsedRequest), String>,
) -> Decoded {
    if let Some(d) = edge.parsed.get(via, bytes) {
        return Decoded::Request(d);
    }
    match f() {
        Ok((der, parsed)) => {
            let d = Arc::new(parse_cache::DecodedRequest { der, parsed });
            edge.parsed.insert(via, bytes, &d);
            Decoded::Request(d)
        }
        Err(why) => Decoded::Malformed(why),
    }
}

/// Decode a GET (or HEAD) path.
fn decode_get(edge: &Edge, path: &str) -> Decoded {
    if path.trim_start_matches('/').is_empty() {
        return Decoded::Reply(plain(
            StatusCode::OK,
            "ocsp: OCSP responder (RFC 6960, RFC 9919). POST application/ocsp-request to this URL, or GET /{url-encoded base64 DER request}.\n",
        ));
    }
    if path.len() > edge.limits.max_uri_bytes {
        return Decoded::Reply(plain(StatusCode::URI_TOO_LONG, "request URI too long\n"));
    }
    // A request whose DER fails to parse everywhere is reported with the error of
    // the whole path, the most likely intended start.
    decode_cached(edge, Via::Get, path.as_bytes(), || {
        parse_get_path(path, &edge.request_limits).map_err(|()| {
            match decode_get_component(path.trim_start_matches('/')) {
                None => "GET path is not URL-encoded base64".to_string(),
                Some(der) => match request::parse(&der, &edge.request_limits) {
                    Err(e) => e.to_string(),
                    Ok(_) => "unparseable GET path".to_string(),
                },
            }
        })
    })
}

/// Decode a whole POST body.
fn decode_post(edge: &Edge, body: &Bytes) -> Decoded {
    decode_cached(edge, Via::Post, body, || {
        let der = body.to_vec();
        match request::parse(&der, &edge.request_limits) {
            Ok(parsed) => Ok((der, parsed)),
            Err(e) => Err(e.to_string()),
        }
    })
}

fn method_not_allowed() -> Decoded {
    Decoded::Reply(finish(
        base_response(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD, POST")
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        Bytes::from_static(b"use GET or POST\n"),
    ))
}

async fn decode(edge: &Edge, req: Request<hyper::body::Incoming>) -> Decoded {
    match *req.method() {
        Method::GET | Method::HEAD => decode_get(edge, req.uri().path()),
        Method::POST => {
            let max = edge.limits.max_body_bytes;
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                return Decoded::Reply(too_large());
            }
            let body = Limited::new(req.into_body(), max);
            match within(edge.limits.body_timeout(), body.collect()).await {
                None => Decoded::Reply(plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "request body too slow\n",
                )),
                Some(Err(e)) => {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        Decoded::Reply(too_large())
                    } else {
                        Decoded::Malformed(format!("body: {e}"))
                    }
                }
                Some(Ok(collected)) => decode_post(edge, &collected.to_bytes()),
            }
        }
        _ => method_not_allowed(),
    }
}

/// `fut`'s output, or `None` once `limit` has passed. A future that is ready at once
/// (a body that came with the head, a cache hit) arms no timer.
async fn within<F: std::future::Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => tokio::time::timeout(limit, fut).await.ok(),
    }
}

fn too_large() -> Response<Full<Bytes>> {
    let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn error_status(e: &SourceError) -> OcspResponseStatus {
    match e {
        SourceError::NotFound => OcspResponseStatus::Unauthorized,
        SourceError::Unavailable(_) | SourceError::Overloaded => OcspResponseStatus::TryLater,
        SourceError::Internal(_) => OcspResponseStatus::InternalError,
    }
}

/// Answer one HTTP request. Never fails: every outcome is a response.
pub async fn handle(edge: &Edge, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    handle_from(edge, req, None).await
}

/// Answer one HTTP request from `peer` (logged when the edge logs client addresses).
pub async fn handle_from(
    edge: &Edge,
    req: Request<hyper::body::Incoming>,
    peer: Option<SocketAddr>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().clone();
    let head = method == Method::HEAD;
    // Only GET and HEAD are conditional (RFC 9110 §13.1.2): a 304 to a POST would leave
    // the client without an answer, POST responses not being cached.
    let inm = if head || method == Method::GET {
        req.headers().get(header::IF_NONE_MATCH).cloned()
    } else {
        None
    };
    let decoded = decode(edge, req).await;
    answer(edge, started, method, inm, decoded, peer).await
}

/// Answer a request whose head and whole body (for POST) are already read: `path` is
/// the request target's path, `body` the POST body. Same answers, headers, metrics and
/// log lines as [`handle_from`].
pub async fn handle_parts(
    edge: &Edge,
    method: Method,
    path: &str,
    if_none_match: Option<HeaderValue>,
    body: Bytes,
    peer: Option<SocketAddr>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let conditional = method == Method::GET || method == Method::HEAD;
    let decoded = match method {
        Method::GET | Method::HEAD => decode_get(edge, path),
        Method::POST => {
            if body.len() > edge.limits.max_body_bytes {
                Decoded::Reply(too_large())
            } else {
                decode_post(edge, &body)
            }
        }
        _ => method_not_allowed(),
    };
    let inm = if conditional { if_none_match } else { None };
    answer(edge, started, method, inm, decoded, peer).await
}

async fn answer(
    edge: &Edge,
    started: Instant,
    method: Method,
    inm: Option<HeaderValue>,
    decoded: Decoded,
    peer: Option<SocketAddr>,
) -> Response<Full<Bytes>> {
    let head = method == Method::HEAD;
    let (response, outcome) = match decoded {
        Decoded::Reply(r) => {
            let o = Outcome::plain(r.status(), "-");
            (r, o)
        }
        Decoded::Malformed(why) => {
            tracing::debug!(%method, reason = %why, "malformed request");
            let r = ocsp_error(OcspResponseStatus::MalformedRequest);
            let o = Outcome::plain(r.status(), "malformedRequest");
            (r, o)
        }
        Decoded::Request(decoded) => {
            let (der, parsed) = (&decoded.der, &decoded.parsed);
            // A cache hit is ready at once: only a request that has to wait (for a
            // signature, a reload) arms the deadline timer.
            let deadline = edge
                .limits
                .request_timeout()
                .saturating_sub(started.elapsed());
            let result = within(deadline, edge.source.response(parsed))
                .await
                .unwrap_or(Err(SourceError::Unavailable(
                    "request deadline passed".into(),
                )));
            match result {
                Ok(answer) => {
                    if let Some(hook) = &edge.text {
                        hook(der, &answer.der);
                    }
                    let r = answer_response(&answer, parsed.nonce.is_some(), head, inm.as_ref());
                    let o = Outcome {
                        http: r.status(),
                        ocsp: "successful",
                        request: Some(decoded.clone()),
                        answer: Some(answer),
                    };
                    (r, o)
                }
                Err(e) => {
                    let status = error_status(&e);
                    // Our faults are errors, sampled when they storm; client mistakes
                    // (unauthorized) are in the access line only.
                    match &e {
                        SourceError::Internal(why) => {
                            if let Some(suppressed) = edge.internal_errors.admit() {
                                tracing::error!(error = %why, suppressed, "internal error answering a request");
                            }
                        }
                        SourceError::Unavailable(why) => {
                            if let Some(suppressed) = edge.unavailable.admit() {
                                tracing::warn!(error = %why, suppressed, "answering tryLater");
                            }
                        }
                        _ => {}
                    }
                    let r = ocsp_error(status);
                    if let Some(hook) = &edge.text {
                        hook(der, &error_response(status));
                    }
                    let o = Outcome {
                        http: r.status(),
                        ocsp: status_name(status),
                        request: Some(decoded.clone()),
                        answer: None,
                    };
                    (r, o)
                }
            }
        }
    };
    let elapsed = started.elapsed();
    crate::metrics::request(
        crate::metrics::method_label(&method),
        outcome_label(&outcome),
        elapsed,
    );
    crate::metrics::cert_statuses(outcome.statuses());
    match peer.filter(|_| edge.log_client_addr) {
        Some(client) => tracing::info!(
            target: "ocsp::access",
            %client,
            %method,
            http = outcome.http.as_u16(),
            ocsp = outcome.ocsp,
            serials = %outcome.serials(),
            statuses = %outcome.statuses().join(","),
            micros = elapsed.as_micros() as u64,
            "request"
        ),
        None => tracing::info!(
            target: "ocsp::access",
            %method,
            http = outcome.http.as_u16(),
            ocsp = outcome.ocsp,
            serials = %outcome.serials(),
            statuses = %outcome.statuses().join(","),
            micros = elapsed.as_micros() as u64,
            "request"
        ),
    }
    response
}

/// When a cache may consider an answer stale (its nextUpdate has passed).
pub fn is_expired(answer: &Answer, now: Timestamp) -> bool {
    answer.next_update <= now
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocsp_proto::cert_id::{HashAlg, Serial};
    use ocsp_proto::der::asn1::OctetString;
    use ocsp_proto::x509_ocsp::CertId;

    fn req_der(nonce: Option<&[u8]>) -> Vec<u8> {
        let id = CertId {
            hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![0xFB; 20]).unwrap(),
            issuer_key_hash: OctetString::new(vec![0xFF; 20]).unwrap(),
            serial_number: Serial::from_hex("1000")
                .unwrap()
                .to_serial_number()
                .unwrap(),
        };
        request::build(&[id], nonce).unwrap()
    }

    #[test]
    fn get_path_forms() {
        let lim = RequestLimits::default();
        let der = req_der(Some(&[0xFF; 16]));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert!(
            b64.contains('/') || b64.contains('+'),
            "fixture should exercise + and /: {b64}"
        );
        let enc = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let lower = enc
            .replace("%2B", "%2b")
            .replace("%2F", "%2f")
            .replace("%3D", "%3d");
        let spaced = b64.replace('+', " ");
        let url = b64
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_string();
        for p in [
            format!("/{b64}"),
            format!("/{enc}"),
            format!("/{lower}"),
            format!("/{spaced}"),
            format!("/{url}"),
            format!("//{b64}"),
            format!("/ocsp/{b64}"),
            format!("/a/b/c/{enc}"),
            format!("/ocsp//{b64}"),
        ] {
            let (d, parsed) = parse_get_path(&p, &lim).unwrap_or_else(|_| panic!("{p}"));
            assert_eq!(d, der, "{p}");
            assert_eq!(parsed.items.len(), 1);
        }
        for bad in [
            "/%",
            "/%zz",
            "/!!!!",
            "/AAAA",
            "/ocsp/",
            "/MEIwQDA+MDwwOjAJBgUrDgMCGgUABBT",
        ] {
            assert!(parse_get_path(bad, &lim).is_err(), "{bad}");
        }
    }

    #[test]
    fn etags() {
        assert!(etag_matches(
            Some(&HeaderValue::from_static("\"ab\"")),
            "ab"
        ));
        assert!(etag_matches(
            Some(&HeaderValue::from_static("W/\"ab\", \"cd\"")),
            "cd"
        ));
        assert!(etag_matches(Some(&HeaderValue::from_static("*")), "cd"));
        assert!(!etag_matches(
            Some(&HeaderValue::from_static("\"ab\"")),
            "cd"
        ));
        assert!(!etag_matches(None, "cd"));
    }
}
