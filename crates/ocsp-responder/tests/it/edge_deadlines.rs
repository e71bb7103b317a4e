//! Connections that never finish, and request heads that frame a body two ways, against
//! the real server (`Server` + `Edge`, plain and TLS listeners) in-process.
//!
//! - HTTP/2 (h2c and h2 over TLS): a connection that sends only the preface, only pings,
//!   or half a header block is closed with GOAWAY within the header timeout (plus the
//!   watchdog's short linger), not at the idle timeout or never; an idle one is closed
//!   with GOAWAY at the idle timeout, whether it pings or not.
//! - While such connections hold every slot of `max_connections`, a new client is
//!   answered within 2 s (they are closed, freeing their slots).
//! - Rapid reset, CONTINUATION and SETTINGS floods are answered with GOAWAY and the
//!   connection closed; the process does not grow while they run.
//! - `Content-Length: +N`, `-N`, `1 2`, `0x10` (and a repeated Content-Length) are
//!   answered 400 and the connection closed, on the plain and on the TLS listener.
//!
//! The answers themselves come from a source defined here that returns one fixed answer:
//! these tests are about connections, not about what is signed (`http_edge.rs` checks
//! that).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use ocsp_proto::request::ParsedRequest;
use ocsp_proto::response::error_response;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::Timestamp;
use ocsp_responder::config::Limits;
use ocsp_responder::http::server::Server;
use ocsp_responder::http::tls::Tls;
use ocsp_responder::http::Edge;
use ocsp_responder::source::{Answer, ResponseSource, SourceError, StatusKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------
// The server under test.

/// Returns the same answer to every request.
struct Fixed(Arc<Answer>);

#[async_trait]
impl ResponseSource for Fixed {
    async fn response(&self, _req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        Ok(self.0.clone())
    }
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// How long after its deadline a connection may still be open: the watchdog's linger
/// (250 ms) and scheduling.
const SLACK: Duration = Duration::from_millis(900);

fn limits(max_connections: usize, idle_timeout_secs: u64) -> Limits {
    Limits {
        header_timeout_secs: HEADER_TIMEOUT.as_secs(),
        body_timeout_secs: 1,
        idle_timeout_secs,
        request_timeout_secs: 1,
        max_connections,
        ..Limits::default()
    }
}

struct Running {
    plain: SocketAddr,
    tls: SocketAddr,
    client: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

/// A server with a plain and a TLS listener, on the test's runtime. The idle timeout is
/// long, so that only the header timeout can explain a close.
fn start(max_connections: usize) -> Running {
    start_with(limits(max_connections, 30))
}

fn start_with(limits: Limits) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let tls = Arc::new(Tls::load(&cert_path, Some(&key_path)).unwrap());
    let der = error_response(OcspResponseStatus::TryLater);
    let answer = Answer::new(
        der,
        Timestamp(1_700_000_000),
        Timestamp(4_000_000_000),
        Timestamp(1_700_000_000),
        vec![StatusKind::Good],
    );
    let edge = Arc::new(Edge::new(Arc::new(Fixed(Arc::new(answer))), limits));
    let mut server = Server::bind(&["127.0.0.1:0".parse().unwrap()], edge).unwrap();
    server
        .bind_tls(&["127.0.0.1:0".parse().unwrap()], tls)
        .unwrap();
    let (plain, tls) = (server.local_addrs()[0], server.tls_addrs()[0]);
    tokio::spawn(server.run(std::future::pending::<()>()));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Running {
        plain,
        tls,
        client: Arc::new(client),
        _dir: dir,
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to the plain listener, or to the TLS one with ALPN `alpn`.
async fn connect(r: &Running, tls: Option<&[u8]>) -> Box<dyn Io> {
    match tls {
        None => Box::new(TcpStream::connect(r.plain).await.unwrap()),
        Some(alpn) => {
            let mut config = (*r.client).clone();
            config.alpn_protocols = vec![alpn.to_vec()];
            let tcp = TcpStream::connect(r.tls).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let s = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .unwrap();
            assert_eq!(s.get_ref().1.alpn_protocol(), Some(alpn));
            Box::new(s)
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/2 frames, written and read by hand.

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK for `GET http://a/`: `:method GET`, `:scheme http`, `:path /` (static table),
/// `:authority a` (literal, indexed name).
const GET_ROOT: &[u8] = &[0x82, 0x86, 0x84, 0x01, 0x01, b'a'];

/// What the server sent on a connection until it closed it.
struct Closed {
    after: Duration,
    goaway: bool,
    frames: Vec<u8>,
}

/// Read until the server closes (or `limit` passes: then `after` is `limit`).
async fn until_closed<S: AsyncRead + Unpin + ?Sized>(
    s: &mut S,
    since: Instant,
    limit: Duration,
) -> Closed {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = tokio::time::Instant::from_std(since + limit);
    loop {
        match tokio::time::timeout_at(end, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {
                return Closed {
                    after: limit,
                    goaway: false,
                    frames: frames(&buf),
                }
            }
        }
    }
    let kinds = frames(&buf);
    Closed {
        after: since.elapsed(),
        goaway: kinds.contains(&GOAWAY),
        frames: kinds,
    }
}

/// The frame types in `bytes` (a server's side of an HTTP/2 connection).
fn frames(mut bytes: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    while bytes.len() >= 9 {
        let len =
            (usize::from(bytes[0]) << 16) | (usize::from(bytes[1]) << 8) | usize::from(bytes[2]);
        kinds.push(bytes[3]);
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    kinds
}

fn assert_closed_in_header_time(what: &str, c: &Closed) {
    assert!(
        c.after <= HEADER_TIMEOUT + SLACK,
        "{what}: closed after {:?}, the header timeout is {HEADER_TIMEOUT:?}",
        c.after
    );
    assert!(
        c.goaway,
        "{what}: no GOAWAY before the close: {:?}",
        c.frames
    );
}

/// The process's resident set, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

// ---------------------------------------------------------------------------------------
// Connections that never finish.

/// How a hostile HTTP/2 client stops.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// The preface and SETTINGS, then nothing.
    Preface,
    /// The preface, then a PING every 200 ms.
    Pings,
    /// A HEADERS frame without END_HEADERS, then nothing.
    HalfBlock,
    /// One complete request (answered), then half a header block.
    HalfBlockAfterRequest,
}

async fn stall(io: &mut Box<dyn Io>, how: Stall) -> Instant {
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    match how {
        Stall::Preface | Stall::Pings => {}
        Stall::HalfBlock => out.extend(frame(HEADERS, END_STREAM, 1, &GET_ROOT[..2])),
        Stall::HalfBlockAfterRequest => {
            out.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, GET_ROOT));
        }
    }
    io.write_all(&out).await.unwrap();
    if let Stall::HalfBlockAfterRequest = how {
        // Wait for the answer (a HEADERS frame from the server), then begin a block.
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !frames(&seen).contains(&HEADERS) {
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before answering");
            seen.extend_from_slice(&chunk[..n]);
        }
        let started = Instant::now();
        io.write_all(&frame(HEADERS, END_STREAM, 3, &GET_ROOT[..2]))
            .await
            .unwrap();
        return started;
    }
    Instant::now()
}

async fn hostile(r: &Running, tls: bool, how: Stall) -> Closed {
    let opened = Instant::now();
    let mut io = connect(r, tls.then_some(&b"h2"[..])).await;
    let since = match how {
        Stall::HalfBlockAfterRequest => stall(&mut io, how).await,
        _ => {
            stall(&mut io, how).await;
            opened
        }
    };
    if let Stall::Pings = how {
        let (mut rd, mut wr) = tokio::io::split(io);
        let pinger = tokio::spawn(async move {
            for i in 0u64..100 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if wr
                    .write_all(&frame(PING, 0, 0, &i.to_be_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let c = until_closed(&mut rd, since, Duration::from_secs(10)).await;
        pinger.abort();
        return c;
    }
    until_closed(&mut io, since, Duration::from_secs(10)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_http2_connections_are_closed_in_header_time() {
    let r = Arc::new(start(1000));
    for tls in [false, true] {
        for how in [
            Stall::Preface,
            Stall::Pings,
            Stall::HalfBlock,
            Stall::HalfBlockAfterRequest,
        ] {
            // Several at once, so a slow close of one cannot hide behind another.
            let runs: Vec<_> = (0..8)
                .map(|_| {
                    let r = r.clone();
                    async move { hostile(&r, tls, how).await }
                })
                .collect();
            for c in futures_join(runs).await {
                let what = format!("{} {how:?}", if tls { "h2 over TLS" } else { "h2c" });
                assert_closed_in_header_time(&what, &c);
            }
        }
    }
}

/// Await every future (all run at once).
async fn futures_join<F: std::future::Future + Send + 'static>(fs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_at_the_idle_timeout_pings_or_not() {
    const IDLE: Duration = Duration::from_secs(2);
    let r = Arc::new(start_with(limits(1000, IDLE.as_secs())));
    for tls in [false, true] {
        for pings in [false, true] {
            let mut io = connect(&r, tls.then_some(&b"h2"[..])).await;
            let mut out = preface();
            out.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, GET_ROOT));
            io.write_all(&out).await.unwrap();
            let mut seen = Vec::new();
            let mut chunk = [0u8; 4096];
            while !frames(&seen).contains(&DATA) {
                let n = io.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed before answering");
                seen.extend_from_slice(&chunk[..n]);
            }
            let answered = Instant::now();
            let (mut rd, mut wr) = tokio::io::split(io);
            let pinger = tokio::spawn(async move {
                for i in 0u64..100 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if pings
                        && wr
                            .write_all(&frame(PING, 0, 0, &i.to_be_bytes()))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            });
            let c = until_closed(&mut rd, answered, Duration::from_secs(10)).await;
            pinger.abort();
            let what = format!("tls {tls}, pings {pings}");
            assert!(c.goaway, "{what}: no GOAWAY: {:?}", c.frames);
            assert!(
                c.after >= IDLE - Duration::from_millis(100) && c.after <= IDLE + SLACK,
                "{what}: an idle connection closed {:?} after its answer (idle timeout {IDLE:?})",
                c.after
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_is_answered_while_stalled_connections_hold_every_slot() {
    const SLOTS: usize = 24;
    let r = Arc::new(start(SLOTS));
    let mut held = Vec::new();
    for i in 0..SLOTS {
        // Half over h2c, half over TLS, half of each with only a preface.
        let how = if i % 2 == 0 {
            Stall::Preface
        } else {
            Stall::HalfBlock
        };
        let mut io = connect(&r, (i % 4 >= 2).then_some(&b"h2"[..])).await;
        stall(&mut io, how).await;
        held.push(io);
    }
    // Every slot is taken: this client waits in the accept queue until one frees.
    let asked = Instant::now();
    let mut s = TcpStream::connect(r.plain).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer))
        .await
        .expect("no answer in 5 s")
        .unwrap();
    let waited = asked.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        waited <= Duration::from_secs(2),
        "a new client waited {waited:?} while stalled connections held the slots"
    );
    drop(held);
}

// ---------------------------------------------------------------------------------------
// Floods.

/// Write `flood` (from a task of its own: the server may stop reading) and read what
/// the server says until it closes.
async fn flood(addr: SocketAddr, flood: Vec<u8>) -> Closed {
    let io = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(io);
    let since = Instant::now();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&flood).await;
        wr
    });
    let c = until_closed(&mut rd, since, Duration::from_secs(10)).await;
    writer.abort();
    c
}

fn preface() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_are_answered_with_goaway_and_bounded_memory() {
    // The process's memory is measured: alone in its own process, not beside the other
    // tests of this binary.
    if !test_support::process::run_alone(
        module_path!(),
        "floods_are_answered_with_goaway_and_bounded_memory",
        Duration::from_secs(120),
    ) {
        return;
    }
    let r = start(1000);
    let before = rss_kib();
    // Rapid reset: a request, then its cancellation, 5,000 times.
    let mut rapid = preface();
    for i in 0..5_000u32 {
        let id = 1 + 2 * i;
        rapid.extend(frame(HEADERS, END_STREAM | END_HEADERS, id, GET_ROOT));
        rapid.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    // CONTINUATION: one header block that never ends, 100,000 frames.
    let mut continuation = preface();
    continuation.extend(frame(HEADERS, END_STREAM, 1, &GET_ROOT[..2]));
    for _ in 0..100_000 {
        continuation.extend(frame(CONTINUATION, 0, 1, &[0x40, 0x01, b'x', 0x01, b'y']));
    }
    // SETTINGS: 100,000 of them (each asks for an ACK).
    let mut settings = preface();
    for _ in 0..100_000 {
        settings.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
    }
    // PING: 100,000.
    let mut pings = preface();
    for i in 0..100_000u64 {
        pings.extend(frame(PING, 0, 0, &i.to_be_bytes()));
    }
    // Empty DATA frames on an open stream.
    let mut data = preface();
    data.extend(frame(
        HEADERS,
        END_HEADERS,
        1,
        &[0x83, 0x86, 0x84, 0x01, 0x01, b'a'],
    ));
    for _ in 0..100_000 {
        data.extend(frame(DATA, 0, 1, &[]));
    }
    for (what, bytes) in [
        ("rapid reset", rapid),
        ("CONTINUATION flood", continuation),
        ("SETTINGS flood", settings),
        ("PING flood", pings),
        ("empty DATA flood", data),
    ] {
        // Four at once.
        let runs: Vec<_> = (0..4).map(|_| flood(r.plain, bytes.clone())).collect();
        for c in futures_join(runs).await {
            assert!(c.goaway, "{what}: no GOAWAY: {:?}", c.frames);
            assert!(
                c.after < Duration::from_secs(5),
                "{what}: the connection stayed open {:?}",
                c.after
            );
        }
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "the process grew by {grown} KiB during the floods"
    );
}

// ---------------------------------------------------------------------------------------
// Content-Length: digits only, once.

async fn exchange(io: &mut Box<dyn Io>, request: &[u8]) -> (Vec<u8>, Duration) {
    let since = Instant::now();
    io.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut answer))
        .await
        .expect("the connection was not closed within 5 s");
    (answer, since.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_other_than_digits_is_400_and_close_on_both_listeners() {
    let r = start(1000);
    for tls in [false, true] {
        for value in [
            "+3",
            "-3",
            "1 2",
            "0x10",
            "3, 3",
            "3\r\nContent-Length: 4",
            "",
        ] {
            // Two requests in one write: the second must never be answered (the first
            // one's framing cannot be trusted, so neither can where the second begins).
            let request = format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nabc\
                 GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            );
            let mut io = connect(&r, tls.then_some(&b"http/1.1"[..])).await;
            let (answer, _) = exchange(&mut io, request.as_bytes()).await;
            let text = String::from_utf8_lossy(&answer);
            let listener = if tls { "TLS" } else { "plain" };
            assert!(
                text.starts_with("HTTP/1.1 400 "),
                "{listener}, Content-Length: {value:?}: {text}"
            );
            assert_eq!(
                text.matches("HTTP/1.1 ").count(),
                1,
                "{listener}, Content-Length: {value:?}: answered past the bad head: {text}"
            );
        }
        // A well-formed one is answered, and the connection kept; so is one that
        // repeats the same value (hyper takes it, as RFC 9110 §8.6 allows, and the body
        // is framed one way only), on both listeners alike.
        for value in ["3", "003", "3\r\nContent-Length: 3"] {
            let mut io = connect(&r, tls.then_some(&b"http/1.1"[..])).await;
            let request = format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nabc\
                 GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            );
            let (answer, _) = exchange(&mut io, request.as_bytes()).await;
            let text = String::from_utf8_lossy(&answer);
            assert_eq!(
                text.matches("HTTP/1.1 200 ").count(),
                2,
                "Content-Length: {value:?}: {text}"
            );
        }
    }
}
