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
//! | a head hyper refuses (bad `Content-Length`, `Transfer-Encoding` other than chunked, obs-fold, bare CR, a target its URI parser refuses) | 400 | — (hyper's; the connection closed) |
//!
//! The edge returns a [`Reply`] (status, header bytes, body), whatever the transport:
//! hyper's path converts it, the HTTP/1.1 fast path writes it as it is. It reads the time
//! from a [`Clock`], and records each request once: one [`Outcome`], one access line.

/// `AsyncWrite` for a wrapper `$ty<T>` that only looks at what is read: every write goes
/// to its `inner: T` as it is. (The connection wrappers of [`server`] and `watchdog`.)
macro_rules! forward_write {
    ($ty:ident) => {
        impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $ty<T> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }
        }
    };
}

#[doc(hidden)]
pub mod differential;
pub mod h1;
pub mod parse_cache;
pub mod published;
pub mod server;
pub mod tls;
mod watchdog;

use crate::clock::{self, Clock};
use crate::config::Limits;
use crate::log_sample::Sampler;
use crate::source::{Answer, ResponseSource, SourceError, StatusKind};
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use ocsp_proto::get_path;
use ocsp_proto::request::{self, ParsedRequest, RequestLimits};
use ocsp_proto::response::error_response;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::Timestamp;
use parse_cache::{ParseCache, Via};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The media type of OCSP responses.
pub const OCSP_RESPONSE: &str = "application/ocsp-response";

/// Seconds a client is asked to wait after `tryLater`.
pub const RETRY_AFTER_SECS: u64 = 5;

/// [`RETRY_AFTER_SECS`] as a header value.
const RETRY_AFTER: &str = "5";
const _: () = assert!(
    RETRY_AFTER_SECS == 5,
    "RETRY_AFTER must spell RETRY_AFTER_SECS"
);

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
    clock: Arc<dyn Clock>,
    published: Option<Arc<dyn published::Published>>,
}

impl Edge {
    /// An edge in front of `source`, on the system clock.
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
            clock: clock::system(),
            published: None,
        }
    }

    /// Serve the files `published` holds (CRLs) at their paths, before OCSP decoding.
    pub fn with_published(mut self, published: Arc<dyn published::Published>) -> Edge {
        self.published = Some(published);
        self
    }

    /// The reply for a published file at `path`, when there is one.
    fn published_reply(&self, method: &Method, path: &str, inm: Option<&[u8]>) -> Option<Reply> {
        let p = self.published.as_ref()?;
        published::reply(p.as_ref(), method, path, inm, self.clock.now())
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

    /// Read the time from `clock` (`max-age`, the HTTP/1.1 `Date` header).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Edge {
        self.clock = clock;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The clock the edge reads.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

/// What the edge decided for one request: the `outcome` label of `ocsp_requests_total`
/// and the `ocsp` field of the access line. The discriminants index the metric handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A signed answer (200).
    Successful = 0,
    /// `If-None-Match` equal to the answer's ETag (304).
    NotModified,
    /// Unsigned `malformedRequest`.
    MalformedRequest,
    /// Unsigned `unauthorized`.
    Unauthorized,
    /// Unsigned `tryLater`.
    TryLater,
    /// Unsigned `internalError`.
    InternalError,
    /// Unsigned `sigRequired` (never sent today; counted if it ever is).
    SigRequired,
    /// `GET /`: the plain-text line.
    Info,
    /// 405.
    MethodNotAllowed,
    /// 413.
    TooLarge,
    /// 414.
    UriTooLong,
    /// 408: the body did not come in time.
    Timeout,
    /// Any other HTTP status.
    Other,
}

impl Outcome {
    /// Every outcome, in the order of their discriminants.
    pub const ALL: [Outcome; 13] = [
        Outcome::Successful,
        Outcome::NotModified,
        Outcome::MalformedRequest,
        Outcome::Unauthorized,
        Outcome::TryLater,
        Outcome::InternalError,
        Outcome::SigRequired,
        Outcome::Info,
        Outcome::MethodNotAllowed,
        Outcome::TooLarge,
        Outcome::UriTooLong,
        Outcome::Timeout,
        Outcome::Other,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Successful => "successful",
            Outcome::NotModified => "notModified",
            Outcome::MalformedRequest => "malformedRequest",
            Outcome::Unauthorized => "unauthorized",
            Outcome::TryLater => "tryLater",
            Outcome::InternalError => "internalError",
            Outcome::SigRequired => "sigRequired",
            Outcome::Info => "info",
            Outcome::MethodNotAllowed => "methodNotAllowed",
            Outcome::TooLarge => "tooLarge",
            Outcome::UriTooLong => "uriTooLong",
            Outcome::Timeout => "timeout",
            Outcome::Other => "other",
        }
    }

    /// The OCSP status sent, if an OCSP response was sent (a 304 stands for a
    /// successful one).
    pub fn ocsp(self) -> Option<OcspResponseStatus> {
        match self {
            Outcome::Successful | Outcome::NotModified => Some(OcspResponseStatus::Successful),
            Outcome::MalformedRequest => Some(OcspResponseStatus::MalformedRequest),
            Outcome::Unauthorized => Some(OcspResponseStatus::Unauthorized),
            Outcome::TryLater => Some(OcspResponseStatus::TryLater),
            Outcome::InternalError => Some(OcspResponseStatus::InternalError),
            Outcome::SigRequired => Some(OcspResponseStatus::SigRequired),
            Outcome::Info
            | Outcome::MethodNotAllowed
            | Outcome::TooLarge
            | Outcome::UriTooLong
            | Outcome::Timeout
            | Outcome::Other => None,
        }
    }

    /// The outcome of an unsigned OCSP error response.
    fn of_error(status: OcspResponseStatus) -> Outcome {
        match status {
            OcspResponseStatus::Successful => Outcome::Successful,
            OcspResponseStatus::MalformedRequest => Outcome::MalformedRequest,
            OcspResponseStatus::InternalError => Outcome::InternalError,
            OcspResponseStatus::TryLater => Outcome::TryLater,
            OcspResponseStatus::SigRequired => Outcome::SigRequired,
            OcspResponseStatus::Unauthorized => Outcome::Unauthorized,
        }
    }
}

/// Longest header value formatted per reply (`Cache-Control` with a 20-digit max-age).
const INLINE_VALUE: usize = 72;

/// A header value: shared bytes (a constant, or an answer's preformatted value), or a
/// short value formatted for this reply, held inline (no allocation).
#[derive(Clone, Debug)]
pub enum HeaderBytes {
    /// Shared bytes.
    Shared(Bytes),
    /// Formatted for this reply: the first `len` bytes of `buf`.
    Inline {
        /// The bytes.
        buf: [u8; INLINE_VALUE],
        /// How many are used.
        len: u8,
    },
}

impl HeaderBytes {
    /// A constant value.
    pub const fn from_static(s: &'static str) -> HeaderBytes {
        HeaderBytes::Shared(Bytes::from_static(s.as_bytes()))
    }

    /// `parts`, concatenated (cut at [`INLINE_VALUE`] bytes; every value formatted
    /// here is shorter).
    fn inline(parts: &[&[u8]]) -> HeaderBytes {
        let mut buf = [0u8; INLINE_VALUE];
        let mut len = 0;
        for p in parts {
            let n = p.len().min(INLINE_VALUE - len);
            buf[len..len + n].copy_from_slice(&p[..n]);
            len += n;
        }
        HeaderBytes::Inline {
            buf,
            len: len as u8,
        }
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            HeaderBytes::Shared(b) => b,
            HeaderBytes::Inline { buf, len } => &buf[..usize::from(*len)],
        }
    }

    fn to_header_value(&self) -> Option<HeaderValue> {
        match self {
            HeaderBytes::Shared(b) => HeaderValue::from_maybe_shared(b.clone()).ok(),
            HeaderBytes::Inline { .. } => HeaderValue::from_bytes(self.as_bytes()).ok(),
        }
    }
}

/// Most headers in a [`Reply`].
const MAX_REPLY_HEADERS: usize = 6;

const NO_HEADER: (HeaderName, HeaderBytes) = (header::ACCEPT, HeaderBytes::from_static(""));

/// What the edge answers, whatever the transport: hyper's path converts it
/// ([`Reply::into_response`]), the HTTP/1.1 fast path writes it as it is. `Date`,
/// `Content-Length` (unless set: HEAD) and `Connection: close` (when `close`) are the
/// transport's.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    headers: [(HeaderName, HeaderBytes); MAX_REPLY_HEADERS],
    len: usize,
    /// The body (empty for HEAD and 304).
    pub body: Bytes,
    /// The connection is to be closed after this reply.
    pub close: bool,
}

impl Reply {
    /// A reply with no headers yet.
    pub fn new(status: StatusCode, body: Bytes) -> Reply {
        Reply {
            status,
            headers: [NO_HEADER; MAX_REPLY_HEADERS],
            len: 0,
            body,
            close: false,
        }
    }

    /// Add a header (at most [`MAX_REPLY_HEADERS`], as many as the edge sets).
    fn header(mut self, name: HeaderName, value: HeaderBytes) -> Reply {
        self.push(name, value);
        self
    }

    fn push(&mut self, name: HeaderName, value: HeaderBytes) {
        if let Some(slot) = self.headers.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    /// The headers, in the order set.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.headers[..self.len]
            .iter()
            .map(|(n, v)| (n, v.as_bytes()))
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &HeaderName) -> bool {
        self.headers[..self.len].iter().any(|(n, _)| n == name)
    }

    /// The reply as a hyper response (`Connection: close` when it closes).
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(self.body));
        *r.status_mut() = self.status;
        let h = r.headers_mut();
        h.reserve(self.len + 1);
        for (name, value) in &self.headers[..self.len] {
            // Every value is ASCII the edge built or an answer's preformatted bytes.
            if let Some(v) = value.to_header_value() {
                h.insert(name.clone(), v);
            }
        }
        if self.close {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}

const TEXT_PLAIN: HeaderBytes = HeaderBytes::from_static("text/plain; charset=utf-8");
const NO_CACHE: HeaderBytes = HeaderBytes::from_static("no-cache");

fn plain(status: StatusCode, text: &'static str) -> Reply {
    Reply::new(status, Bytes::from_static(text.as_bytes()))
        .header(header::CONTENT_TYPE, TEXT_PLAIN)
        .header(header::CACHE_CONTROL, NO_CACHE)
}

/// An unsigned OCSP error response (HTTP 200, never cached).
fn ocsp_error(status: OcspResponseStatus) -> Reply {
    let mut r = Reply::new(StatusCode::OK, Bytes::from(error_response(status)))
        .header(
            header::CONTENT_TYPE,
            HeaderBytes::from_static(OCSP_RESPONSE),
        )
        .header(header::CACHE_CONTROL, NO_CACHE);
    if status == OcspResponseStatus::TryLater {
        r.push(header::RETRY_AFTER, HeaderBytes::from_static(RETRY_AFTER));
    }
    r
}

fn etag_matches(if_none_match: Option<&[u8]>, etag: &str) -> bool {
    let Some(v) = if_none_match
        .filter(|v| v.is_ascii())
        .and_then(|v| std::str::from_utf8(v).ok())
    else {
        return false;
    };
    v.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

/// The reply to a signed answer. Answers to requests without a nonce are the same for
/// every client until nextUpdate, so caches may keep them (RFC 9919 §6); an answer that
/// echoes a nonce is for one client only.
fn answer_reply(
    answer: &Answer,
    nonce: bool,
    head: bool,
    inm: Option<&[u8]>,
    now: Timestamp,
) -> (Reply, Outcome) {
    let matched = etag_matches(inm, &answer.etag);
    let body = if matched || head {
        Bytes::new()
    } else {
        answer.der.clone()
    };
    let (status, outcome) = if matched {
        (StatusCode::NOT_MODIFIED, Outcome::NotModified)
    } else {
        (StatusCode::OK, Outcome::Successful)
    };
    let mut r = Reply::new(status, body)
        .header(
            header::ETAG,
            HeaderBytes::Shared(answer.etag_header.clone()),
        )
        .header(
            header::LAST_MODIFIED,
            HeaderBytes::Shared(answer.last_modified.clone()),
        );
    if nonce {
        r.push(header::CACHE_CONTROL, HeaderBytes::from_static("no-store"));
    } else {
        let max_age = answer.next_update.0.saturating_sub(now.0);
        r.push(header::CACHE_CONTROL, cache_control(max_age));
        r.push(header::EXPIRES, HeaderBytes::Shared(answer.expires.clone()));
    }
    if matched {
        return (r, outcome);
    }
    r.push(
        header::CONTENT_TYPE,
        HeaderBytes::from_static(OCSP_RESPONSE),
    );
    if head {
        let mut digits = itoa::Buffer::new();
        r.push(
            header::CONTENT_LENGTH,
            HeaderBytes::inline(&[digits.format(answer.der.len()).as_bytes()]),
        );
    }
    (r, outcome)
}

/// `Cache-Control` of a cacheable answer with `max_age` seconds left.
fn cache_control(max_age: u64) -> HeaderBytes {
    let mut digits = itoa::Buffer::new();
    HeaderBytes::inline(&[
        b"max-age=",
        digits.format(max_age).as_bytes(),
        b", public, no-transform, must-revalidate",
    ])
}

enum Decoded {
    Request(Arc<parse_cache::DecodedRequest>),
    Malformed(String),
    /// A reply of the edge's own (not an answer: never on the hit path).
    Reply(Box<Reply>, Outcome),
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
        return Decoded::Reply(
            Box::new(plain(
                StatusCode::OK,
                "ocsp: OCSP responder (RFC 6960, RFC 9919). POST application/ocsp-request to this URL, or GET /{url-encoded base64 DER request}.\n",
            )),
            Outcome::Info,
        );
    }
    if path.len() > edge.limits.max_uri_bytes {
        return Decoded::Reply(
            Box::new(plain(StatusCode::URI_TOO_LONG, "request URI too long\n")),
            Outcome::UriTooLong,
        );
    }
    // A request whose DER fails to parse everywhere is reported with the error of
    // the whole path, the most likely intended start.
    decode_cached(edge, Via::Get, path.as_bytes(), || {
        get_path::parse_path(path, &edge.request_limits).map_err(|()| {
            match get_path::decode_component(path.trim_start_matches('/')) {
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
    Decoded::Reply(
        Box::new(
            Reply::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Bytes::from_static(b"use GET or POST\n"),
            )
            .header(header::ALLOW, HeaderBytes::from_static("GET, HEAD, POST"))
            .header(header::CONTENT_TYPE, TEXT_PLAIN),
        ),
        Outcome::MethodNotAllowed,
    )
}

fn too_large() -> Decoded {
    let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    r.close = true;
    Decoded::Reply(Box::new(r), Outcome::TooLarge)
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
                return too_large();
            }
            let body = Limited::new(req.into_body(), max);
            match within(edge.limits.body_timeout(), body.collect()).await {
                None => Decoded::Reply(
                    Box::new(plain(
                        StatusCode::REQUEST_TIMEOUT,
                        "request body too slow\n",
                    )),
                    Outcome::Timeout,
                ),
                Some(Err(e)) => {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        too_large()
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
    // Only GET and HEAD are conditional (RFC 9110 §13.1.2): a 304 to a POST would leave
    // the client without an answer, POST responses not being cached.
    let inm = if method == Method::HEAD || method == Method::GET {
        req.headers().get(header::IF_NONE_MATCH).cloned()
    } else {
        None
    };
    if let Some(r) = edge.published_reply(
        &method,
        req.uri().path(),
        inm.as_ref().map(HeaderValue::as_bytes),
    ) {
        return r.into_response();
    }
    let decoded = decode(edge, req).await;
    answer(
        edge,
        started,
        &method,
        inm.as_ref().map(HeaderValue::as_bytes),
        decoded,
        peer,
    )
    .await
    .into_response()
}

/// Answer a request whose head and whole body (for POST) are already read: `path` is
/// the request target's path, `if_none_match` the first `If-None-Match` value, `body`
/// the POST body. Same answers, headers, metrics and log lines as [`handle_from`].
pub async fn handle_parts(
    edge: &Edge,
    method: &Method,
    path: &str,
    if_none_match: Option<&[u8]>,
    body: Bytes,
    peer: Option<SocketAddr>,
) -> Reply {
    let started = Instant::now();
    let conditional = method == Method::GET || method == Method::HEAD;
    if let Some(r) = edge.published_reply(method, path, if_none_match) {
        return r;
    }
    let decoded = match *method {
        Method::GET | Method::HEAD => decode_get(edge, path),
        Method::POST => {
            if body.len() > edge.limits.max_body_bytes {
                too_large()
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
    method: &Method,
    inm: Option<&[u8]>,
    decoded: Decoded,
    peer: Option<SocketAddr>,
) -> Reply {
    let head = method == Method::HEAD;
    let mut request = None;
    let mut answered = None;
    let (reply, outcome) = match decoded {
        Decoded::Reply(r, o) => (*r, o),
        Decoded::Malformed(why) => {
            tracing::debug!(%method, reason = %why, "malformed request");
            (
                ocsp_error(OcspResponseStatus::MalformedRequest),
                Outcome::MalformedRequest,
            )
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
            let replied = match result {
                Ok(answer) => {
                    if let Some(hook) = &edge.text {
                        hook(der, &answer.der);
                    }
                    let r =
                        answer_reply(&answer, parsed.nonce.is_some(), head, inm, edge.clock.now());
                    answered = Some(answer);
                    r
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
                    if let Some(hook) = &edge.text {
                        hook(der, &error_response(status));
                    }
                    (ocsp_error(status), Outcome::of_error(status))
                }
            };
            request = Some(decoded);
            replied
        }
    };
    let elapsed = started.elapsed();
    let statuses: &[StatusKind] = answered.as_deref().map_or(&[], |a| a.statuses.as_slice());
    crate::metrics::request(method, outcome, elapsed);
    crate::metrics::cert_statuses(statuses);
    crate::access_log::record(&crate::access_log::Line {
        client: peer.filter(|_| edge.log_client_addr),
        method,
        http: reply.status.as_u16(),
        outcome,
        items: request
            .as_deref()
            .map_or(&[], |r| r.parsed.items.as_slice()),
        statuses,
        micros: elapsed.as_micros() as u64,
    });
    reply
}

/// When a cache may consider an answer stale (its nextUpdate has passed).
pub fn is_expired(answer: &Answer, now: Timestamp) -> bool {
    answer.next_update <= now
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
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
            let (d, parsed) = get_path::parse_path(&p, &lim).unwrap_or_else(|_| panic!("{p}"));
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
            assert!(get_path::parse_path(bad, &lim).is_err(), "{bad}");
        }
    }

    #[test]
    fn etags() {
        assert!(etag_matches(Some(b"\"ab\""), "ab"));
        assert!(etag_matches(Some(b"W/\"ab\", \"cd\""), "cd"));
        assert!(etag_matches(Some(b"*"), "cd"));
        assert!(!etag_matches(Some(b"\"ab\""), "cd"));
        assert!(!etag_matches(Some(b"\"c\xe9\""), "c\u{e9}"));
        assert!(!etag_matches(None, "cd"));
    }

    #[test]
    fn outcomes_index_their_table() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i, "{o:?}");
        }
        assert_eq!(
            Outcome::NotModified.ocsp(),
            Some(OcspResponseStatus::Successful)
        );
        assert_eq!(Outcome::Info.ocsp(), None);
    }

    #[test]
    fn replies_convert_for_hyper() {
        let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "x\n");
        r.close = true;
        r.push(header::CONTENT_LENGTH, HeaderBytes::inline(&[b"1", b"2"]));
        assert!(r.has(&header::CONTENT_LENGTH));
        let resp = r.into_response();
        assert_eq!(resp.status(), 413);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], "12");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
        let cc = cache_control(u64::MAX);
        assert!(cc.as_bytes().ends_with(b"must-revalidate"), "{cc:?}");
    }
}
