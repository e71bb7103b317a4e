//! Hostile clients against the real `ocsp serve` binary (issue 5, point 2).
//!
//! While 1,000 connections sit idle or half-sent (headers cut off, or a body that never
//! finishes), 100 clients connect and close without a word, and 100 clients hang up in
//! the middle of their answer, a normal client keeps asking over keep-alive and fresh
//! connections: its p99 stays under 100 ms and every one of its answers verifies and
//! states the status in index.txt. Afterwards the responder is idle (no spinning on
//! closed sockets, as `openssl ocsp` does) and has let go of the hostile connections.
//!
//! A second test drives each connection limit through the binary with small values from
//! `[server.limits]`: header and body read time, idle keep-alive time, header size,
//! CertIDs per request, body size, concurrent connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::{HashAlg, Serial};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::prelude::*;

const IDLE: usize = 500;
const HALF_HEADERS: usize = 250;
const HALF_BODY: usize = 250;
const CONNECT_CLOSE: usize = 100;
const HANG_UP: usize = 100;
const NORMAL_REQUESTS: usize = 600;

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn a_thousand_hostile_connections_do_not_slow_or_corrupt_a_normal_client() {
    let need = 2 * (IDLE + HALF_HEADERS + HALF_BODY) as u64 + 600;
    let have = raise_fd_limit(4096);
    assert!(
        have >= need,
        "this test holds {} connections in this process and in the responder: it needs \
         {need} open files but the limit is {have}; raise it (ulimit -n 4096) or install \
         prlimit (util-linux)",
        IDLE + HALF_HEADERS + HALF_BODY
    );
    let pki = Pki::new("Conn");
    let good = serial_of(&pki.issue("good"));
    let revoked_cert = pki.issue("revoked");
    pki.revoke(&revoked_cert, &["-crl_reason", "keyCompromise"]);
    let revoked = serial_of(&revoked_cert);
    let absent = Serial::from_hex("DEAD01").unwrap();
    let mut args = pki.serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    let r = Responder::start(OCSP, &args);
    let addr = r.addr();
    let pid = r.pid();
    let view = IndexView::read(&pki.index);
    assert_eq!(view.want(&revoked), Want::Revoked);
    let checker = Checker::new(&pki);

    // The normal client's requests: cacheable GETs and POSTs with a nonce, for good,
    // revoked and absent serials, SHA-1 and SHA-256 CertIDs.
    let serials = [good.clone(), revoked.clone(), absent.clone()];
    let normal_request = |i: usize| -> (Vec<u8>, Vec<u8>) {
        let s = &serials[i % 3];
        let alg = if i % 2 == 0 {
            HashAlg::Sha1
        } else {
            HashAlg::Sha256
        };
        if i % 4 < 2 {
            let der = checker.request(std::slice::from_ref(s), alg, None);
            let path = get_path_of(&der);
            (der, get_req(&path, &[]))
        } else {
            let nonce = (i as u64).to_be_bytes().repeat(4);
            let der = checker.request(std::slice::from_ref(s), alg, Some(&nonce));
            let raw = post_req("/", &der, &[]);
            (der, raw)
        }
    };
    let prepared: Vec<(Vec<u8>, Vec<u8>)> = (0..NORMAL_REQUESTS).map(normal_request).collect();

    // Warm up (and fill the response cache).
    let mut conn = Conn::open(addr);
    for (der, raw) in prepared.iter().take(24) {
        conn.send(raw);
        let resp = conn.read_response(false).unwrap();
        checker.check(der, &resp.body, &[&view]).unwrap();
    }

    // 1,000 connections that never finish a request.
    let mut held = Vec::with_capacity(IDLE + HALF_HEADERS + HALF_BODY);
    for _ in 0..IDLE {
        held.push(connect(addr));
    }
    for i in 0..HALF_HEADERS {
        let mut s = connect(addr);
        let partial = format!("GET /{i} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
        s.write_all(partial.as_bytes()).unwrap();
        held.push(s);
    }
    let body = prepared[2].0.clone();
    for _ in 0..HALF_BODY {
        let mut s = connect(addr);
        let mut raw = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(&body[..body.len() / 2]);
        s.write_all(&raw).unwrap();
        held.push(s);
    }
    // Wait until the responder has accepted them all (they are its problem now, not the
    // kernel's accept queue's).
    let hostile_count = IDLE + HALF_HEADERS + HALF_BODY;
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds(pid) < hostile_count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let fds_held = open_fds(pid);
    assert!(
        fds_held > hostile_count,
        "the responder accepted only part of the {hostile_count} connections ({fds_held} fds)"
    );

    // Bare connect-and-close and hang-up-mid-answer clients, spread over the run.
    let stop = Arc::new(AtomicBool::new(false));
    let (closes, hangups) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hostile = {
        let (stop, closes, hangups) = (stop.clone(), closes.clone(), hangups.clone());
        let raw = prepared[3].1.clone();
        std::thread::spawn(move || {
            for i in 0..CONNECT_CLOSE.max(HANG_UP) {
                if i < CONNECT_CLOSE {
                    drop(TcpStream::connect(addr).unwrap());
                    closes.fetch_add(1, Ordering::Relaxed);
                }
                if i < HANG_UP {
                    // Ask, read the first bytes of the answer, hang up with the rest unread
                    // (the kernel answers the responder's next write with a reset).
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    s.write_all(&raw).unwrap();
                    let mut first = [0u8; 16];
                    let _ = s.read(&mut first);
                    drop(s);
                    hangups.fetch_add(1, Ordering::Relaxed);
                }
                if !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(15));
                }
            }
        })
    };

    // The normal client: keep-alive, with a fresh connection every 50 requests.
    let mut latencies = Vec::with_capacity(NORMAL_REQUESTS);
    let mut wrong = Vec::new();
    let started = Instant::now();
    for (i, (der, raw)) in prepared.iter().enumerate() {
        if i % 50 == 0 {
            conn = Conn::open(addr);
        }
        let t = Instant::now();
        conn.send(raw);
        let resp = conn.read_response(false);
        latencies.push(t.elapsed());
        match resp {
            Ok(resp) if resp.status == 200 => {
                if let Err(e) = checker.check(der, &resp.body, &[&view]) {
                    wrong.push(format!("request {i}: {e}"));
                }
            }
            Ok(resp) => wrong.push(format!("request {i}: HTTP {}", resp.status)),
            Err(e) => wrong.push(format!("request {i}: {e}")),
        }
    }
    let took = started.elapsed();
    // The hostile clients finish their quota (without pauses) before the verdict.
    stop.store(true, Ordering::Relaxed);
    hostile.join().unwrap();

    let p50 = percentile(&mut latencies, 50.0);
    let p99 = percentile(&mut latencies, 99.0);
    let max = percentile(&mut latencies, 100.0);
    eprintln!(
        "normal client: {NORMAL_REQUESTS} requests in {took:?}; p50 {p50:?}, p99 {p99:?}, max {max:?}; \
         responder held {fds_held} fds with {} hostile connections open; {} connect-and-close, {} hang-ups",
        held.len(),
        closes.load(Ordering::Relaxed),
        hangups.load(Ordering::Relaxed)
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        p99 < Duration::from_millis(100),
        "p99 {p99:?} (p50 {p50:?}, max {max:?})"
    );
    let fds_end = open_fds(pid);
    assert!(
        fds_end > hostile_count,
        "the responder let go of hostile connections early ({fds_end} fds): within the \
         header timeout they must be held, not dropped"
    );

    // Let go of everything: the responder closes its side and goes idle.
    drop(held);
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds(pid) > 64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let fds_after = open_fds(pid);
    assert!(
        fds_after <= 64,
        "the responder still holds {fds_after} fds after the clients left"
    );
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid) - before;
    assert!(
        spent <= 20,
        "an idle responder used {spent} ticks of CPU in 2 s"
    );
    // And it still answers.
    let (der, raw) = &prepared[5];
    let resp = http(addr, raw);
    checker.check(der, &resp.body, &[&view]).unwrap();
    assert!(is_error(
        &http(addr, &get_req("/%%%", &[])).body,
        OcspResponseStatus::MalformedRequest
    ));
}

/// Each `[server.limits]` value is enforced by the binary.
#[test]
fn every_connection_limit_is_enforced() {
    let pki = Pki::new("Lim");
    let good = serial_of(&pki.issue("good"));
    let cfg = pki.config_with_limits(
        "header_timeout_secs = 1\nbody_timeout_secs = 1\nidle_timeout_secs = 1\n\
         max_connections = 8\nmax_cert_ids = 4\nmax_body_bytes = 2048\nmax_uri_bytes = 4096",
    );
    let r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let addr = r.addr();
    let view = IndexView::read(&pki.index);
    let checker = Checker::new(&pki);
    let der = checker.request(std::slice::from_ref(&good), HashAlg::Sha256, None);

    // Header read time: a request line without end is cut after ~1 s.
    let mut c = Conn::open(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let t = Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "half-sent headers not cut"
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "cut after {:?}",
        t.elapsed()
    );

    // Body read time: a body that stops arriving is refused (408) or cut after ~1 s.
    let mut c = Conn::open(addr);
    let raw = post_req("/", &der, &[]);
    c.send(&raw[..raw.len() - 5]);
    let t = Instant::now();
    // An answer, if any, is 408; closing without one is bounded too.
    if let Ok(resp) = c.read_response(false) {
        assert_eq!(resp.status, 408, "a stalled body");
    }
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stalled body held {:?}",
        t.elapsed()
    );

    // Idle keep-alive time: a connection left idle after an answer is closed after ~1 s.
    let mut c = Conn::open(addr);
    c.send(&post_req("/", &der, &[]));
    let resp = c.read_response(false).unwrap();
    checker.check(&der, &resp.body, &[&view]).unwrap();
    let t = Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "idle keep-alive connection kept"
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "idle closed after {:?}",
        t.elapsed()
    );

    // CertIDs per request: 4 answered, 5 malformedRequest.
    let four = checker.request(&vec![good.clone(); 4], HashAlg::Sha1, None);
    let resp = http(addr, &post_req("/", &four, &["Connection: close"]));
    checker.check(&four, &resp.body, &[&view]).unwrap();
    let five = checker.request(&vec![good.clone(); 5], HashAlg::Sha1, None);
    let resp = http(addr, &post_req("/", &five, &["Connection: close"]));
    assert!(is_error(&resp.body, OcspResponseStatus::MalformedRequest));

    // Body size: over 2048 octets → 413 before the body is read.
    let resp = http(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2049\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 413);

    // URI size: a GET path over 4096 octets → 414.
    let resp = http(
        addr,
        &get_req(&format!("/{}", "A".repeat(5000)), &["Connection: close"]),
    );
    assert_eq!(resp.status, 414);

    // Header size: 100 KiB of headers are refused, and the server carries on.
    let mut c = Conn::open(addr);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let _ = c.stream().try_clone().unwrap().write_all(big.as_bytes());
    // An answer, if any, refuses; closing is refusing too.
    if let Ok(resp) = c.read_response(false) {
        assert!(
            resp.status == 431 || resp.status == 400,
            "HTTP {}",
            resp.status
        );
    }

    // Concurrent connections: 8 held (idle), the 9th waits in the accept queue until one
    // is cut by the header timeout, then is answered.
    let held: Vec<TcpStream> = (0..8).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let resp = http(addr, &post_req("/", &der, &["Connection: close"]));
    let waited = t.elapsed();
    checker.check(&der, &resp.body, &[&view]).unwrap();
    assert!(
        waited >= Duration::from_millis(500),
        "the 9th connection was served in {waited:?}: max_connections = 8 not enforced"
    );
    assert!(
        waited < Duration::from_secs(5),
        "the 9th connection waited {waited:?}"
    );
    drop(held);
}

#[test]
fn in_process_base64_agrees_with_openssl() {
    for len in [0usize, 1, 2, 3, 4, 5, 100, 301] {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(base64(&data), b64(&data), "length {len}");
    }
}
