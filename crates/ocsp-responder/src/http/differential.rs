//! One verdict per request head: the HTTP/1.1 fast path ([`crate::http::h1`]) and hyper, fed
//! the same bytes, must not disagree. This module runs both on a byte stream and
//! compares what each made of it, request by request; the property test
//! (`tests/h1_differential.rs`) and the fuzz target (`fuzz/fuzz_targets/h1_differential.rs`)
//! feed it.
//!
//! A [`Step`] is what happened to one request: answered (with the method, path,
//! `If-None-Match` and body the answering code received), refused by the parser (hyper's
//! 400, 414, 431…), or handed to hyper (fast path only). The rule, [`compare`]:
//! - up to the fast path's hand-off, both sides took the same steps: the same requests,
//!   framed the same way (same body, so the next request starts at the same byte);
//! - a fast path that neither handed off nor ended by a close left the rest unanswered,
//!   and so did hyper (an incomplete head or body);
//! - after a hand-off hyper serves the connection, so whatever it does is the verdict.
//!
//! So the fast path never answers what hyper would refuse, and never frames a body
//! another way: where the two parsers differ, the stricter (hyper's refusal, reached by
//! the hand-off) wins. Not for production use: `#[doc(hidden)]`.

use crate::config::Limits;
use crate::http::h1::{self, Probe};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one side did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answered; what the answering code was given.
    Answer {
        /// The method.
        method: String,
        /// The path (no query).
        path: String,
        /// The first `If-None-Match` value.
        if_none_match: Option<Vec<u8>>,
        /// The body.
        body: Vec<u8>,
    },
    /// Refused by the parser with this HTTP status.
    Refused(u16),
    /// Handed to hyper (the fast path only).
    HandOff,
}

/// The fast path's steps on `bytes`, as [`h1::serve`] takes them.
pub fn fast_path(bytes: &[u8], limits: &Limits) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let buf = &bytes[at..];
        match h1::probe(buf, limits) {
            Probe::Partial => break,
            Probe::HandOff => {
                steps.push(Step::HandOff);
                break;
            }
            Probe::Simple(s) => {
                if buf.len() < s.head_len + s.body_len {
                    break;
                }
                steps.push(Step::Answer {
                    method: s.method.as_str().to_string(),
                    path: String::from_utf8_lossy(&buf[s.path.clone()]).into_owned(),
                    if_none_match: s.if_none_match.map(|r| buf[r].to_vec()),
                    body: buf[s.head_len..s.head_len + s.body_len].to_vec(),
                });
                at += s.head_len + s.body_len;
                if s.close {
                    break;
                }
            }
        }
    }
    steps
}

/// hyper's steps on `bytes`: its HTTP/1.1 server, configured as the responder's, over
/// an in-memory stream, on a runtime of its own with one thread: once hyper has had
/// many turns in a row without writing, it has answered all it ever will (an unfinished
/// head or body is never answered).
pub fn hyper(bytes: &[u8]) -> Vec<Step> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return vec![Step::Refused(0)];
    };
    rt.block_on(hyper_async(bytes))
}

async fn hyper_async(bytes: &[u8]) -> Vec<Step> {
    let (mut client, server) = tokio::io::duplex(bytes.len() + 64 * 1024);
    let answered = Arc::new(Mutex::new(Vec::new()));
    let seen = answered.clone();
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            let method = req.method().as_str().to_string();
            let path = req.uri().path().to_string();
            let inm = req
                .headers()
                .get(http::header::IF_NONE_MATCH)
                .map(|v| v.as_bytes().to_vec());
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec());
            let Ok(body) = body else {
                return Err("body");
            };
            if let Ok(mut seen) = seen.lock() {
                seen.push(Step::Answer {
                    method,
                    path,
                    if_none_match: inm,
                    body,
                });
            }
            Ok(http::Response::new(Empty::<Bytes>::new()))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(64 * 1024)
        .serve_connection(hyper_util::rt::TokioIo::new(server), service);
    let task = tokio::spawn(conn);
    let _ = client.write_all(bytes).await;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut quiet = 0;
    while quiet < QUIET_TURNS {
        tokio::select! {
            biased;
            r = client.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    quiet = 0;
                }
            },
            _ = tokio::task::yield_now() => quiet += 1,
        }
    }
    task.abort();
    let answered = answered.lock().map(|a| a.clone()).unwrap_or_default();
    let mut answered = answered.into_iter();
    let mut steps = Vec::new();
    for status in statuses(&out) {
        match status {
            // Only the service answers 200, in order.
            200 => steps.push(answered.next().unwrap_or(Step::Refused(200))),
            100..=199 => {}
            other => steps.push(Step::Refused(other)),
        }
    }
    steps
}

/// Turns without output after which hyper is taken to be done (it needs a few per
/// request; nothing it does here waits on a timer or on I/O outside this thread).
const QUIET_TURNS: usize = 64;

/// The statuses of the HTTP/1.1 responses in `out` (all with a Content-Length or none).
fn statuses(mut out: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(n)) = resp.parse(out) else {
            return codes;
        };
        let code = resp.code.unwrap_or(0);
        let len = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        codes.push(code);
        out = &out[(n + len).min(out.len())..];
    }
}

/// Whether the two sides agree (see the module's documentation); the disagreement
/// otherwise.
pub fn compare(fast: &[Step], hyper: &[Step]) -> Result<(), String> {
    let handed_off = fast.last() == Some(&Step::HandOff);
    let taken = if handed_off {
        fast.len() - 1
    } else {
        fast.len()
    };
    for (i, step) in fast[..taken].iter().enumerate() {
        if hyper.get(i) != Some(step) {
            return Err(format!(
                "request {i}: the fast path took {step:?}, hyper {:?}",
                hyper.get(i)
            ));
        }
    }
    if !handed_off && hyper.len() > taken {
        return Err(format!(
            "the fast path stopped after {taken} requests, hyper went on: {:?}",
            &hyper[taken..]
        ));
    }
    Ok(())
}

/// Run both sides on `bytes` and compare.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let fast = fast_path(bytes, &Limits::default());
    let hyper = hyper(bytes);
    compare(&fast, &hyper).map_err(|e| format!("{e}\nfast: {fast:?}\nhyper: {hyper:?}"))
}
