//! The common HTTP/1.1 request on a plain listener, served without hyper: a `GET`,
//! `HEAD` or `POST` with a `Content-Length` body that fits the limits, keep-alive or
//! `Connection: close`. The answer itself comes from [`handle_parts`], the same code
//! hyper's requests go through, so statuses, headers, metrics and logs are identical.
//!
//! Anything else at the start of a request (HTTP/1.0, a chunked or oversized body,
//! `Expect`, `Upgrade`, an h2c preface, a head that does not parse, another method, a
//! `Content-Length` that is not one run of digits, a target hyper's URI parser would
//! refuse) is handed to hyper together with the bytes already read, at a request
//! boundary, and hyper serves the rest of the connection as before. So this path only
//! ever has to get the simple case right, and it never answers a head that hyper would
//! read another way or refuse: one verdict per request head, checked by a differential
//! test against hyper (`differential.rs`).
//!
//! Timeouts are those of the hyper path: the request head within `header_timeout`, the
//! body within `body_timeout`, an idle keep-alive connection closed after
//! `idle_timeout`, a client that stops reading its answers closed after `idle_timeout`.
//! One timer per connection, re-armed only when it fires or must fire sooner.

use crate::clock::Clock;
use crate::config::Limits;
use crate::http::{handle_parts, Edge, Reply};
use bytes::{Bytes, BytesMut};
use http::header;
use http::{Method, StatusCode};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Most headers in a request served here (more: handed to hyper).
const MAX_HEADERS: usize = 32;

/// Longest request head served here (longer: handed to hyper, which answers it).
const MAX_HEAD: usize = 20 * 1024;

/// How a connection left this path.
pub enum Next {
    /// Closed (or to be closed): nothing more to do.
    Done,
    /// Hyper takes over.
    HandOff {
        /// Bytes read and not consumed.
        prefix: Bytes,
        /// Whether requests were answered here first.
        served: bool,
    },
}

/// A request that this path serves, as offsets into the buffer.
#[derive(Debug, Clone)]
pub struct Simple {
    /// GET, HEAD or POST.
    pub method: Method,
    /// The path, without the query.
    pub path: std::ops::Range<usize>,
    /// The length of the head, up to and with the empty line.
    pub head_len: usize,
    /// The length of the body (`Content-Length`).
    pub body_len: usize,
    /// `Connection: close`.
    pub close: bool,
    /// The first `If-None-Match` value (as hyper's `headers().get`).
    pub if_none_match: Option<std::ops::Range<usize>>,
}

/// What this path makes of the start of a buffer.
#[derive(Debug, Clone)]
pub enum Probe {
    /// Need more bytes for the head.
    Partial,
    /// Not for this path: hyper's.
    HandOff,
    /// A request served here.
    Simple(Simple),
}

fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| eq_ignore_case(t.trim_ascii(), token))
}

/// A `Content-Length` value as RFC 9110 §8.6 writes it: one or more digits, nothing
/// else (no sign, no space inside, no list), and no overflow. hyper reads it the same
/// way; anything else is refused there with 400 and a close.
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0usize, |n, b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(usize::from(b - b'0')),
        _ => None,
    })
}

/// The length of the path (before `?` or `#`) of an origin-form request target, as
/// hyper's `uri().path()` gives it; `None` if hyper's URI parser (the `http` crate)
/// refuses the target, which it answers 400. The same byte classes as `http`'s: in the
/// path, what need not be percent-encoded plus `"`, `{`, `}`; in the query, `!` and
/// `$` to `~` but `<` and `>`; bytes over 0x7F if the whole is UTF-8; the fragment is
/// not looked at.
fn origin_path(target: &[u8]) -> Option<usize> {
    // The common case, one table lookup a byte: a path of plain characters only (every
    // base64 or percent-encoded GET request), no query, no fragment, no byte over 0x7F.
    if target.iter().all(|&b| PLAIN_PATH[usize::from(b)]) {
        return Some(target.len());
    }
    origin_path_any(target)
}

/// [`origin_path`] for any target, a byte class at a time.
fn origin_path_any(target: &[u8]) -> Option<usize> {
    let mut path_end = None;
    let mut end = target.len();
    let mut high = false;
    for (i, &b) in target.iter().enumerate() {
        let valid = match (path_end.is_some(), b) {
            (_, b'#') => {
                end = i;
                break;
            }
            (false, b'?') => {
                path_end = Some(i);
                true
            }
            (_, 0x80..=0xFF) => {
                high = true;
                true
            }
            (false, 0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E) => true,
            (false, b'"' | b'{' | b'}') => true,
            (true, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E) => true,
            _ => false,
        };
        if !valid {
            return None;
        }
    }
    if high && std::str::from_utf8(&target[..end]).is_err() {
        return None;
    }
    Some(path_end.unwrap_or(end))
}

/// Bytes a path may hold as they are and that end nothing: the path bytes of
/// [`origin_path`] but `?`, `#` and bytes over 0x7F.
const PLAIN_PATH: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(
            b as u8,
            0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E | b'"' | b'{' | b'}'
        );
        b += 1;
    }
    t
};

/// The offsets of `part` inside `buf` (`part` is a slice of `buf`).
fn offsets(buf: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// What this path makes of the start of `buf`.
pub fn probe(buf: &[u8], limits: &Limits) -> Probe {
    // An h2c prior-knowledge preface: hyper's.
    if buf.len() >= 3 && &buf[..3] == b"PRI" {
        return Probe::HandOff;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Probe::Partial,
        _ => return Probe::HandOff,
    };
    if req.version != Some(1) {
        return Probe::HandOff;
    }
    let method = match req.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        Some("POST") => Method::POST,
        _ => return Probe::HandOff,
    };
    let Some(target) = req.path else {
        return Probe::HandOff;
    };
    // Origin form only (absolute form and `*` go to hyper), spelled as hyper's URI
    // parser takes it.
    if !target.starts_with('/') {
        return Probe::HandOff;
    }
    let Some(path_len) = origin_path(target.as_bytes()) else {
        return Probe::HandOff;
    };
    let mut length: Option<usize> = None;
    let mut close = false;
    let mut if_none_match = None;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if eq_ignore_case(name, b"content-length") {
            // One Content-Length of digits, here. Any other spelling is hyper's to
            // refuse (400 and close); a repeated one is hyper's to judge (it refuses
            // differing values and takes equal ones, as RFC 9110 §8.6 allows).
            if length.is_some() {
                return Probe::HandOff;
            }
            let Some(n) = content_length(h.value) else {
                return Probe::HandOff;
            };
            length = Some(n);
        } else if eq_ignore_case(name, b"transfer-encoding")
            || eq_ignore_case(name, b"expect")
            || eq_ignore_case(name, b"upgrade")
        {
            return Probe::HandOff;
        } else if eq_ignore_case(name, b"connection") {
            if has_token(h.value, b"upgrade") {
                return Probe::HandOff;
            }
            close |= has_token(h.value, b"close");
        } else if eq_ignore_case(name, b"if-none-match") && if_none_match.is_none() {
            if_none_match = Some(offsets(buf, h.value));
        }
    }
    let post = method == Method::POST;
    let body_len = match length {
        Some(n) if post && n <= limits.max_body_bytes => n,
        _ if post => return Probe::HandOff,
        None | Some(0) => 0,
        Some(_) => return Probe::HandOff,
    };
    Probe::Simple(Simple {
        method,
        path: offsets(buf, &target.as_bytes()[..path_len]),
        head_len,
        body_len,
        close,
        if_none_match,
    })
}

thread_local! {
    /// `Date` for the current second, formatted once per second per thread.
    static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
}

fn push_date(out: &mut Vec<u8>, clock: &dyn Clock) {
    let now = clock.now();
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != now.0 {
            *d = (now.0, now.http_date().into_bytes());
        }
        out.extend_from_slice(&d.1);
    });
}

/// Append `reply` in HTTP/1.1 form (no body for HEAD; `Connection: close` if `close`).
fn encode(reply: &Reply, head: bool, close: bool, clock: &dyn Clock, out: &mut Vec<u8>) {
    let status = reply.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in reply.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let no_body = status == StatusCode::NOT_MODIFIED || status.is_informational();
    if !no_body && !reply.has(&header::CONTENT_LENGTH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(reply.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"date: ");
    push_date(out, clock);
    out.extend_from_slice(b"\r\n\r\n");
    if !head && !no_body {
        out.extend_from_slice(&reply.body);
    }
}

/// The timer of one connection: armed at most at `deadline`, re-armed lazily.
struct Timer {
    sleep: Pin<Box<Sleep>>,
    deadline: Instant,
}

impl Timer {
    fn new(after: Duration) -> Timer {
        let deadline = Instant::now() + after;
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
        }
    }

    /// The connection must make progress by `deadline`.
    fn set(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if deadline < self.sleep.deadline() {
            self.sleep.as_mut().reset(deadline);
        }
    }

    /// Completes when the deadline has passed.
    async fn expired(&mut self) {
        loop {
            (&mut self.sleep).await;
            if Instant::now() >= self.deadline {
                return;
            }
            let d = self.deadline;
            self.sleep.as_mut().reset(d);
        }
    }
}

/// Write `out` within `limit`; false if the client did not take it in time or is gone.
async fn write_all(io: &mut TcpStream, out: &[u8], timer: &mut Timer, limit: Duration) -> bool {
    timer.set(Instant::now() + limit);
    tokio::select! {
        r = io.write_all(out) => r.is_ok(),
        _ = timer.expired() => false,
    }
}

/// Serve `io` while its requests are simple; see the module's documentation.
pub async fn serve(
    io: &mut TcpStream,
    edge: &Edge,
    peer: SocketAddr,
    limits: &Limits,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Next {
    let idle = limits.idle_timeout();
    let mut buf = BytesMut::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let opened = Instant::now();
    let mut timer = Timer::new(limits.header_timeout().min(idle));
    // When the request now being read began (its first byte), if one is.
    let mut request_started: Option<Instant> = None;
    // A new connection must send its first request head within the header timeout, as
    // on hyper's path; between requests, the idle timeout applies.
    let mut served_any = false;
    // Shutdown, as seen by this connection: read once here, then only through
    // `has_changed` (an atomic load; `borrow` would write a lock word all connections
    // share) and the `changed` branch below.
    let mut stopping = *stop.borrow();
    loop {
        // Answer every complete request already read (pipelining), in order.
        let mut partial_body = false;
        while !buf.is_empty() {
            let simple = match probe(&buf, limits) {
                Probe::Partial => break,
                Probe::HandOff => {
                    if !out.is_empty() && !write_all(io, &out, &mut timer, idle).await {
                        return Next::Done;
                    }
                    return Next::HandOff {
                        prefix: buf.freeze(),
                        served: served_any,
                    };
                }
                Probe::Simple(s) => s,
            };
            if buf.len() < simple.head_len + simple.body_len {
                partial_body = true;
                break;
            }
            let frame = buf.split_to(simple.head_len + simple.body_len).freeze();
            request_started = None;
            let path = std::str::from_utf8(&frame[simple.path.clone()]).unwrap_or("/");
            let inm = simple.if_none_match.map(|r| &frame[r]);
            let body = frame.slice(simple.head_len..);
            let head = simple.method == Method::HEAD;
            let reply = handle_parts(edge, &simple.method, path, inm, body, Some(peer)).await;
            served_any = true;
            stopping |= stop.has_changed().unwrap_or(true);
            let close = simple.close || stopping || reply.close;
            encode(&reply, head, close, edge.clock(), &mut out);
            // Pipelined requests: answers go out at least every 64 KiB.
            if !close && out.len() >= 64 * 1024 {
                if !write_all(io, &out, &mut timer, idle).await {
                    return Next::Done;
                }
                out.clear();
            }
            if close {
                let _ = write_all(io, &out, &mut timer, idle).await;
                let _ = io.shutdown().await;
                return Next::Done;
            }
        }
        if !out.is_empty() {
            if !write_all(io, &out, &mut timer, idle).await {
                return Next::Done;
            }
            out.clear();
        }
        if buf.is_empty() && stopping {
            return Next::Done;
        }
        // What the connection must do next, and by when.
        let now = Instant::now();
        let deadline = if buf.is_empty() && served_any {
            now + idle
        } else if buf.is_empty() {
            opened + limits.header_timeout()
        } else {
            let began = *request_started.get_or_insert(now);
            began
                + if partial_body {
                    limits.body_timeout() + limits.header_timeout()
                } else {
                    limits.header_timeout()
                }
        };
        timer.set(deadline);
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        tokio::select! {
            r = io.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => return Next::Done,
                Ok(_) => {
                    if request_started.is_none() {
                        request_started = Some(Instant::now());
                    }
                }
            },
            _ = timer.expired() => return Next::Done,
            _ = stop.changed(), if buf.is_empty() => return Next::Done,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn simple(req: &[u8]) -> Option<Simple> {
        match probe(req, &Limits::default()) {
            Probe::Simple(s) => Some(s),
            _ => None,
        }
    }

    fn hands_off(req: &[u8]) -> bool {
        matches!(probe(req, &Limits::default()), Probe::HandOff)
    }

    #[test]
    fn simple_requests() {
        let r = b"GET /MEI%3D?x=1 HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"ab\"\r\n\r\n";
        let s = simple(r).unwrap();
        assert_eq!(s.method, Method::GET);
        assert_eq!(&r[s.path.clone()], b"/MEI%3D");
        assert_eq!((s.head_len, s.body_len, s.close), (r.len(), 0, false));
        assert_eq!(&r[s.if_none_match.unwrap()], b"\"ab\"");
        let p = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: keep-alive, Close\r\n\r\nabc";
        let s = simple(p).unwrap();
        assert_eq!((s.body_len, s.close), (3, true));
        assert_eq!(s.head_len + s.body_len, p.len());
    }

    #[test]
    fn partial_heads_wait() {
        assert!(matches!(
            probe(b"GET /abc HTTP/1.1\r\nHo", &Limits::default()),
            Probe::Partial
        ));
    }

    #[test]
    fn the_rest_goes_to_hyper() {
        for r in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"PUT / HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\n\r\n",
            b"G\x01T / HTTP/1.1\r\n\r\n",
        ] {
            assert!(hands_off(r), "{}", String::from_utf8_lossy(r));
        }
        let huge = [b"GET /".as_slice(), &vec![b'a'; MAX_HEAD + 1]].concat();
        assert!(hands_off(&huge));
    }

    proptest::proptest! {
        /// Whatever the bytes, parsing neither panics nor points outside them, and a
        /// request it takes is exactly a head plus the body it announced.
        #[test]
        fn any_bytes_parse_safely(
            prefix in proptest::sample::select(vec![
                &b"GET /"[..], b"POST / HTTP/1.1\r\nContent-Length: ", b"HEAD /a?b HTTP/1.1\r\n", b"",
            ]),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let buf = [prefix, &tail[..]].concat();
            if let Probe::Simple(s) = probe(&buf, &Limits::default()) {
                proptest::prop_assert!(s.path.end <= s.head_len && s.head_len <= buf.len());
                proptest::prop_assert!(buf[s.path.clone()].starts_with(b"/"));
                proptest::prop_assert!(s.method == Method::POST || s.body_len == 0);
                proptest::prop_assert!(s.body_len <= Limits::default().max_body_bytes);
            }
        }
    }

    #[test]
    fn encodes_like_http_1_1() {
        let clock = crate::clock::SystemClock;
        let mut out = Vec::new();
        let reply = Reply::new(StatusCode::OK, Bytes::from_static(b"hello"));
        encode(&reply, false, false, &clock, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: "));
        assert!(text.ends_with(" GMT\r\n\r\nhello"), "{text}");
        let mut out = Vec::new();
        let reply = Reply::new(StatusCode::NOT_MODIFIED, Bytes::new());
        encode(&reply, false, true, &clock, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 304 Not Modified\r\nconnection: close\r\n"));
        assert!(!text.contains("content-length"));
        let mut out = Vec::new();
        let reply = Reply::new(StatusCode::OK, Bytes::from_static(b"hello"));
        encode(&reply, true, false, &clock, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 5\r\n") && text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn the_date_comes_from_the_clock() {
        #[derive(Debug)]
        struct Fixed;
        impl Clock for Fixed {
            fn now(&self) -> ocsp_proto::Timestamp {
                ocsp_proto::Timestamp(784_111_777)
            }
        }
        let mut out = Vec::new();
        encode(
            &Reply::new(StatusCode::OK, Bytes::new()),
            false,
            false,
            &Fixed,
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
            "{text}"
        );
    }

    #[test]
    fn content_length_is_digits_only() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(content_length(b"0012"), Some(12));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b"1 2",
            b" 1",
            b"1,1",
            b"0x10",
            b"1e3",
            b"99999999999999999999999",
        ] {
            assert_eq!(
                content_length(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for r in [
            &b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc"[..],
            b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
        ] {
            assert!(hands_off(r), "{}", String::from_utf8_lossy(r));
        }
    }

    #[test]
    fn plain_path_table_agrees_with_the_byte_classes() {
        for b in 0..=255u8 {
            let target = [b'/', b];
            if PLAIN_PATH[usize::from(b)] {
                assert_eq!(origin_path_any(&target), Some(2), "byte {b:#04x}");
            }
            assert_eq!(
                origin_path(&target),
                origin_path_any(&target),
                "byte {b:#04x}"
            );
        }
    }
}
