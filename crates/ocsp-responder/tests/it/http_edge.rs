//! In-process table tests of hostile HTTP input against the real edge and server
//! (`Edge` + `Server` + `LiveSource`), with a test Ed25519 signer and a status source
//! defined here. Every outcome of `http.rs`'s table is exercised: malformed input of every
//! kind → HTTP 200 + unsigned malformedRequest; unknown CA → unauthorized; backend
//! failures → tryLater/internalError; limits → 413/414/405; timeouts; keep-alive; h2c.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use ocsp_proto::request::{self};
use ocsp_proto::response::{parse, ParsedResponse};
use ocsp_proto::x509_ocsp::{CertId, OcspResponseStatus};
use ocsp_proto::{cert_id, sigalg, CertStatus, HashAlg, Serial};
use ocsp_responder::config::{Limits, UnknownSerial};
use ocsp_responder::http::server::Server;
use ocsp_responder::http::Edge;
use ocsp_responder::issuer::{Issuer, IssuerSet};
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use test_support::inproc;
use test_support::prelude::*;
use test_support::status::revoked;
use x509_cert::Certificate;

// ---------------------------------------------------------------------------------------
// The system under test, in-process.

/// Serials with special behaviour in [`TestStatus`].
const GOOD: &str = "01";
const REVOKED: &str = "02";
const UNAVAILABLE: &str = "03";
const INTERNAL: &str = "04";
const SLOW: &str = "05";
const OVERLOADED: &str = "06";
const ABSENT: &str = "0A";

/// The statuses every served CA has: fixed answers, and failures on demand.
fn statuses() -> Arc<MemSource> {
    MemSource::new()
        .with(GOOD, CertStatus::Good)
        .with(REVOKED, revoked())
        .with(SLOW, CertStatus::Good)
        .with_fault(UNAVAILABLE, Fault::Unavailable("test: backend down".into()))
        .with_fault(INTERNAL, Fault::Internal("test: bug".into()))
        .with_fault(OVERLOADED, Fault::Overloaded)
        .with_fault(SLOW, Fault::Slow(Duration::from_secs(5)))
        .described("test statuses")
        .shared()
}

/// A self-signed Ed25519 CA made with rcgen, and its key.
fn make_ca(cn: &str) -> (Certificate, rcgen::KeyPair) {
    inproc::ca(cn, &rcgen::PKCS_ED25519)
}

/// A served CA signing its own answers with a deterministic Ed25519 [`TestSigner`]
/// (equal inputs give equal responses, so ETags repeat).
fn issuer(cn: &str) -> Issuer {
    let (ca, kp) = make_ca(cn);
    inproc::issuer(
        cn,
        &ca,
        Arc::new(TestSigner::ed25519(&kp)),
        statuses(),
        3600,
        UnknownSerial::Unknown,
    )
}

struct Harness {
    addr: SocketAddr,
    /// Not served: the same subject as `ca`, another key (a re-keyed CA).
    rekeyed: Certificate,
    /// Served.
    ca: Certificate,
    /// Served too, with its own signer.
    ca2: Certificate,
    /// Not served.
    stranger: Certificate,
}

/// Timeouts kept short so the timeout tests are quick.
fn limits() -> Limits {
    Limits {
        header_timeout_secs: 1,
        body_timeout_secs: 1,
        idle_timeout_secs: 2,
        request_timeout_secs: 1,
        ..Limits::default()
    }
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let i1 = issuer("Edge Test CA");
        let i2 = issuer("Edge Test CA 2");
        let (stranger, _) = make_ca("Stranger CA");
        let (rekeyed, _) = make_ca("Edge Test CA");
        let ca = i1.cert.clone();
        let ca2 = i2.cert.clone();
        let issuers = Arc::new(IssuerSet::new(vec![i1, i2]).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let pool = SigningPool::new(2, 64).unwrap();
                let live = Arc::new(LiveSource::new(issuers.clone(), pool));
                let (source, _) = ocsp_responder::setup::chain(
                    &issuers,
                    live,
                    ocsp_responder::clock::system(),
                    None,
                );
                let edge = Arc::new(Edge::new(source, limits()));
                let server = Server::bind(&["127.0.0.1:0".parse().unwrap()], edge).unwrap();
                tx.send(server.local_addrs()[0]).unwrap();
                server.run(std::future::pending::<()>()).await;
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Harness {
            addr,
            rekeyed,
            ca,
            ca2,
            stranger,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Requests and a raw HTTP/1.1 client.

fn id(ca: &Certificate, serial: &str, alg: HashAlg) -> CertId {
    cert_id::cert_id(ca, &Serial::from_hex(serial).unwrap(), alg).unwrap()
}

fn req(ids: &[CertId], nonce: Option<&[u8]>) -> Vec<u8> {
    request::build(ids, nonce).unwrap()
}

fn good_req() -> Vec<u8> {
    req(&[id(&harness().ca, GOOD, HashAlg::Sha1)], None)
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn pct(der: &[u8]) -> String {
    percent_encoding::utf8_percent_encode(&b64(der), percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A raw connection to the harness.
fn open() -> Conn {
    Conn::open(harness().addr)
}

/// One request on a fresh connection to the harness.
fn exchange(raw: &[u8]) -> HttpResponse {
    http(harness().addr, raw)
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

fn post(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn error_body(s: OcspResponseStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, s as u8]
}

/// What a case must produce.
#[derive(Debug)]
enum Expect {
    /// HTTP 200 + this unsigned OCSP error, `Cache-Control: no-cache`.
    Error(OcspResponseStatus),
    /// HTTP 200 + a signed response with these statuses (in order), verified with the CA
    /// of the first CertID.
    Signed(&'static [&'static str]),
    /// This HTTP status.
    Http(u16),
}

fn check(name: &str, resp: &HttpResponse, expect: &Expect) {
    match expect {
        Expect::Error(s) => {
            assert_eq!(resp.status, 200, "{name}: HTTP status");
            assert_eq!(resp.body, error_body(*s), "{name}: expected unsigned {s:?}");
            assert_eq!(
                resp.header("content-type"),
                Some("application/ocsp-response"),
                "{name}"
            );
            assert!(
                resp.header("cache-control")
                    .is_some_and(|v| v.contains("no-cache")),
                "{name}: error answers carry no-cache: {:?}",
                resp.header("cache-control")
            );
            if *s == OcspResponseStatus::TryLater {
                assert!(resp.header("retry-after").is_some(), "{name}: Retry-After");
            }
        }
        Expect::Signed(statuses) => {
            assert_eq!(resp.status, 200, "{name}: HTTP status");
            let ParsedResponse::Basic { basic, tbs_der } =
                parse(&resp.body).unwrap_or_else(|e| panic!("{name}: not an OCSPResponse: {e}"))
            else {
                panic!("{name}: expected a signed response, got {:?}", resp.body);
            };
            let got: Vec<&str> = basic
                .tbs_response_data
                .responses
                .iter()
                .map(|s| match s.cert_status {
                    ocsp_proto::x509_ocsp::CertStatus::Good(_) => "good",
                    ocsp_proto::x509_ocsp::CertStatus::Revoked(_) => "revoked",
                    ocsp_proto::x509_ocsp::CertStatus::Unknown(_) => "unknown",
                })
                .collect();
            assert_eq!(&got, statuses, "{name}: statuses");
            let h = harness();
            let first = &basic.tbs_response_data.responses[0].cert_id;
            let ca = [&h.ca, &h.ca2]
                .into_iter()
                .find(|c| {
                    cert_id::IssuerHashes::of(
                        c,
                        HashAlg::from_oid(&first.hash_algorithm.oid).unwrap(),
                    )
                    .unwrap()
                    .key_hash
                        == first.issuer_key_hash.as_bytes()
                })
                .expect("answered for a served CA");
            sigalg::verify(
                &basic.signature_algorithm,
                &ca.tbs_certificate.subject_public_key_info,
                &tbs_der,
                basic.signature.raw_bytes(),
            )
            .unwrap_or_else(|e| panic!("{name}: bad signature: {e}"));
        }
        Expect::Http(code) => assert_eq!(resp.status, *code, "{name}: HTTP status"),
    }
}

// ---------------------------------------------------------------------------------------
// The tables.

#[test]
fn get_table() {
    use OcspResponseStatus::*;
    let h = harness();
    let good = good_req();
    let s = b64(&good);
    let mut trailing = good.clone();
    trailing.push(0);
    let with_nonce = |n: &[u8]| req(&[id(&h.ca, GOOD, HashAlg::Sha1)], Some(n));
    // A request whose base64 has '+', '/' and '='.
    let tricky = (0u8..=255)
        .map(|i| with_nonce(&[i, i.wrapping_mul(7), 0xfb, 0xff, 0x3e]))
        .find(|d| {
            let s = b64(d);
            s.contains('+') && s.contains('/') && s.ends_with('=')
        })
        .expect("a request exercising + / =");
    let ts = b64(&tricky);
    let enc = pct(&tricky);
    let cases: Vec<(&str, String, Expect)> = vec![
        ("root", "/".into(), Expect::Http(200)),
        ("plain", format!("/{s}"), Expect::Signed(&["good"])),
        ("raw + /", format!("/{ts}"), Expect::Signed(&["good"])),
        ("%2B%2F%3D", format!("/{enc}"), Expect::Signed(&["good"])),
        (
            "%2b%2f%3d",
            format!(
                "/{}",
                enc.replace("%2B", "%2b")
                    .replace("%2F", "%2f")
                    .replace("%3D", "%3d")
            ),
            Expect::Signed(&["good"]),
        ),
        (
            "space for +",
            format!("/{}", enc.replace("%2B", "%20")),
            Expect::Signed(&["good"]),
        ),
        (
            "base64url",
            format!(
                "/{}",
                ts.replace('+', "-").replace('/', "_").trim_end_matches('=')
            ),
            Expect::Signed(&["good"]),
        ),
        (
            "no padding",
            format!("/{}", ts.trim_end_matches('=')),
            Expect::Signed(&["good"]),
        ),
        ("//", format!("//{enc}"), Expect::Signed(&["good"])),
        ("prefix", format!("/ocsp/{enc}"), Expect::Signed(&["good"])),
        (
            "prefix raw",
            format!("/ocsp/{ts}"),
            Expect::Signed(&["good"]),
        ),
        (
            "prefix //",
            format!("/ocsp//{ts}"),
            Expect::Signed(&["good"]),
        ),
        (
            "deep prefix",
            format!("/a/b/c/d/{enc}"),
            Expect::Signed(&["good"]),
        ),
        (
            "query string ignored?",
            format!("/{enc}?x=1"),
            Expect::Signed(&["good"]),
        ),
        ("bad %", "/%zz".into(), Expect::Error(MalformedRequest)),
        ("lone %", "/MEIw%".into(), Expect::Error(MalformedRequest)),
        ("%00", "/%00%00".into(), Expect::Error(MalformedRequest)),
        (
            "bad base64",
            "/!!!!".into(),
            Expect::Error(MalformedRequest),
        ),
        (
            "base64 of junk",
            format!("/{}", b64(b"not DER at all")),
            Expect::Error(MalformedRequest),
        ),
        ("short", "/AAAA".into(), Expect::Error(MalformedRequest)),
        (
            "trailing byte",
            format!("/{}", pct(&trailing)),
            Expect::Error(MalformedRequest),
        ),
        (
            "truncated",
            format!("/{}", pct(&good[..good.len() - 1])),
            Expect::Error(MalformedRequest),
        ),
        (
            "prefix only",
            "/ocsp/".into(),
            Expect::Error(MalformedRequest),
        ),
        (
            "nonce 0",
            format!("/{}", pct(&with_nonce(&[]))),
            Expect::Error(MalformedRequest),
        ),
        (
            "nonce 129",
            format!("/{}", pct(&with_nonce(&[1; 129]))),
            Expect::Error(MalformedRequest),
        ),
        (
            "nonce 1",
            format!("/{}", pct(&with_nonce(&[1]))),
            Expect::Signed(&["good"]),
        ),
        (
            "nonce 128",
            format!("/{}", pct(&with_nonce(&[1; 128]))),
            Expect::Signed(&["good"]),
        ),
        (
            "stranger CA",
            format!(
                "/{}",
                pct(&req(&[id(&h.stranger, GOOD, HashAlg::Sha1)], None))
            ),
            Expect::Error(Unauthorized),
        ),
        (
            "too long",
            format!("/{}", "A".repeat(20 * 1024)),
            Expect::Http(414),
        ),
    ];
    for (name, path, expect) in &cases {
        let resp = exchange(&get(path));
        check(name, &resp, expect);
    }
}

#[test]
fn post_table() {
    use OcspResponseStatus::*;
    let h = harness();
    let good = good_req();
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0]);
    let ca = &h.ca;
    let mut md5 = id(ca, GOOD, HashAlg::Sha1);
    md5.hash_algorithm.oid =
        ocsp_proto::const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
    let many: Vec<CertId> = (0..65).map(|_| id(ca, GOOD, HashAlg::Sha1)).collect();
    let max: Vec<CertId> = (0..64).map(|_| id(ca, GOOD, HashAlg::Sha1)).collect();
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("good", good.clone(), Expect::Signed(&["good"])),
        (
            "every status, every hash",
            req(
                &[
                    id(ca, GOOD, HashAlg::Sha1),
                    id(ca, REVOKED, HashAlg::Sha256),
                    id(ca, ABSENT, HashAlg::Sha384),
                    id(ca, GOOD, HashAlg::Sha512),
                ],
                Some(&[9; 32]),
            ),
            Expect::Signed(&["good", "revoked", "unknown", "good"]),
        ),
        (
            "second CA",
            req(&[id(&h.ca2, REVOKED, HashAlg::Sha256)], None),
            Expect::Signed(&["revoked"]),
        ),
        ("64 CertIDs", req(&max, None), Expect::Signed(&["good"; 64])),
        (
            "65 CertIDs",
            req(&many, None),
            Expect::Error(MalformedRequest),
        ),
        ("no CertID", req(&[], None), Expect::Error(MalformedRequest)),
        ("empty body", Vec::new(), Expect::Error(MalformedRequest)),
        (
            "junk",
            b"GET / HTTP/1.1".to_vec(),
            Expect::Error(MalformedRequest),
        ),
        ("trailing bytes", trailing, Expect::Error(MalformedRequest)),
        (
            "truncated",
            good[..good.len() - 2].to_vec(),
            Expect::Error(MalformedRequest),
        ),
        (
            "indefinite length",
            vec![0x30, 0x80, 0x00, 0x00],
            Expect::Error(MalformedRequest),
        ),
        (
            "a response",
            error_body(MalformedRequest),
            Expect::Error(MalformedRequest),
        ),
        (
            "nonce 0",
            req(&[id(ca, GOOD, HashAlg::Sha1)], Some(&[])),
            Expect::Error(MalformedRequest),
        ),
        (
            "nonce 129",
            req(&[id(ca, GOOD, HashAlg::Sha1)], Some(&[7; 129])),
            Expect::Error(MalformedRequest),
        ),
        (
            "stranger CA",
            req(&[id(&h.stranger, GOOD, HashAlg::Sha1)], None),
            Expect::Error(Unauthorized),
        ),
        (
            "served + stranger",
            req(
                &[
                    id(ca, GOOD, HashAlg::Sha1),
                    id(&h.stranger, GOOD, HashAlg::Sha1),
                ],
                None,
            ),
            Expect::Error(Unauthorized),
        ),
        (
            "two CAs, two signers",
            req(
                &[id(ca, GOOD, HashAlg::Sha1), id(&h.ca2, GOOD, HashAlg::Sha1)],
                None,
            ),
            Expect::Error(Unauthorized),
        ),
        ("MD5 CertID", req(&[md5], None), Expect::Error(Unauthorized)),
        (
            "same CA name, other key",
            req(&[id(&h.rekeyed, GOOD, HashAlg::Sha256)], None),
            Expect::Error(Unauthorized),
        ),
        (
            "backend down",
            req(&[id(ca, UNAVAILABLE, HashAlg::Sha1)], None),
            Expect::Error(TryLater),
        ),
        (
            "overloaded",
            req(&[id(ca, OVERLOADED, HashAlg::Sha1)], None),
            Expect::Error(TryLater),
        ),
        (
            "our bug",
            req(&[id(ca, INTERNAL, HashAlg::Sha1)], None),
            Expect::Error(InternalError),
        ),
        (
            "too slow",
            req(&[id(ca, SLOW, HashAlg::Sha1)], None),
            Expect::Error(TryLater),
        ),
        (
            "exactly 10 KiB",
            vec![0; 10 * 1024],
            Expect::Error(MalformedRequest),
        ),
        ("over 10 KiB", vec![0; 10 * 1024 + 1], Expect::Http(413)),
    ];
    for (name, body, expect) in &cases {
        let resp = exchange(&post(body));
        check(name, &resp, expect);
    }
}

#[test]
fn nonce_echoed_and_absent_when_not_asked() {
    let h = harness();
    for nonce in [Some(&[0xAB; 32][..]), Some(&[1][..]), None] {
        let resp = exchange(&post(&req(&[id(&h.ca, GOOD, HashAlg::Sha256)], nonce)));
        let ParsedResponse::Basic { basic, .. } = parse(&resp.body).unwrap() else {
            panic!("signed expected")
        };
        let echoed = basic
            .tbs_response_data
            .nonce()
            .map(|n| n.0.as_bytes().to_vec());
        assert_eq!(echoed.as_deref(), nonce);
    }
}

#[test]
fn methods_other_than_get_head_post_get_405() {
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"] {
        let resp =
            exchange(format!("{m} / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes());
        assert_eq!(resp.status, 405, "{m}");
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{m}: Allow header"));
        for want in ["GET", "POST"] {
            assert!(allow.contains(want), "{m}: Allow {allow:?}");
        }
    }
}

#[test]
fn oversize_post_is_refused_before_the_body() {
    let mut c = open();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n");
    let resp = c.read_response(false).expect("413 before the body is sent");
    assert_eq!(resp.status, 413);

    let mut c = open();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..3 {
        let mut piece = b"1000\r\n".to_vec();
        piece.extend_from_slice(&[b'x'; 0x1000]);
        piece.extend_from_slice(b"\r\n");
        c.send(&piece);
    }
    assert_eq!(c.read_response(false).unwrap().status, 413);
}

#[test]
fn expect_100_continue() {
    // Too large: refused without asking for the body.
    let mut c = open();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 413);
    // Within the limit: 100 Continue, then the answer.
    let body = good_req();
    let mut c = open();
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let first = c.read_response(false).unwrap();
    assert_eq!(first.status, 100);
    c.send(&body);
    check(
        "after 100-continue",
        &c.read_response(false).unwrap(),
        &Expect::Signed(&["good"]),
    );
}

#[test]
fn oversized_headers_do_not_hurt_the_server() {
    let mut c = open();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    // The server may answer 431 or close early; either way, no hang and no crash.
    let _ = c.try_send(big.as_bytes());
    let _ = c.read_response(false);
    check(
        "after",
        &exchange(&post(&good_req())),
        &Expect::Signed(&["good"]),
    );
}

#[test]
fn cache_headers_etag_and_304() {
    let path = format!("/{}", pct(&good_req()));
    let first = exchange(&get(&path));
    check("first", &first, &Expect::Signed(&["good"]));
    let etag = first.header("etag").expect("ETag").to_string();
    assert_eq!(
        etag,
        format!("\"{}\"", hex::encode(HashAlg::Sha256.digest(&first.body)))
    );
    let cc = first.header("cache-control").unwrap();
    assert!(
        cc.starts_with("max-age=") && cc.ends_with(", public, no-transform, must-revalidate"),
        "{cc}"
    );
    for h in ["expires", "last-modified", "date"] {
        assert!(first.header(h).is_some(), "{h}");
    }
    // The Ed25519 signer is deterministic: within the same second the bytes repeat.
    let mut got_304 = false;
    for _ in 0..5 {
        let a = exchange(&get(&path));
        let tag = a.header("etag").unwrap().to_string();
        let b = exchange(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {tag}\r\n\r\n").as_bytes(),
        );
        if b.status == 304 {
            assert!(b.body.is_empty());
            assert_eq!(b.header("etag"), Some(tag.as_str()));
            got_304 = true;
            break;
        }
    }
    assert!(
        got_304,
        "If-None-Match with the current ETag never gave 304"
    );
    let miss = exchange(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"nope\"\r\n\r\n").as_bytes(),
    );
    assert_eq!(miss.status, 200);
}

#[test]
fn post_with_if_none_match_never_gets_304() {
    // RFC 9110 §13.1.2: only GET and HEAD answer a matching If-None-Match with 304; for
    // other methods it is 412, or the precondition is not applied at all. A body-less 304
    // to a POST leaves the client without an answer (POST responses are not cached).
    let body = good_req();
    let first = exchange(&post(&body));
    check("first", &first, &Expect::Signed(&["good"]));
    let tag = first.header("etag").unwrap().to_string();
    for inm in [tag.as_str(), "*"] {
        let mut raw = format!(
            "POST / HTTP/1.1\r\nHost: t\r\nIf-None-Match: {inm}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        let r = exchange(&raw);
        assert_ne!(r.status, 304, "POST with If-None-Match: {inm}");
        if r.status == 200 {
            check("POST with If-None-Match", &r, &Expect::Signed(&["good"]));
        } else {
            assert_eq!(r.status, 412, "POST with If-None-Match: {inm}");
        }
    }
}

#[test]
fn head_is_get_without_body() {
    let path = format!("/{}", pct(&good_req()));
    let mut c = open();
    c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    let head = c.read_response(true).unwrap();
    assert_eq!(head.status, 200);
    assert!(
        head.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 0
    );
    // Still in step: the next answer on the connection is whole.
    c.send(&get(&path));
    let g = c.read_response(false).unwrap();
    check("GET after HEAD", &g, &Expect::Signed(&["good"]));
}

#[test]
fn keep_alive_and_pipelining() {
    let mut c = open();
    let path = format!("/{}", pct(&good_req()));
    for i in 0..5 {
        c.send(&if i % 2 == 0 {
            get(&path)
        } else {
            post(&good_req())
        });
        let r = c.read_response(false).unwrap();
        check(&format!("request {i}"), &r, &Expect::Signed(&["good"]));
    }
    // Even after a malformed request the connection stays usable.
    c.send(&post(b"junk"));
    check(
        "junk",
        &c.read_response(false).unwrap(),
        &Expect::Error(OcspResponseStatus::MalformedRequest),
    );
    let mut two = get(&path);
    two.extend(post(&good_req()));
    c.send(&two);
    check(
        "pipelined 1",
        &c.read_response(false).unwrap(),
        &Expect::Signed(&["good"]),
    );
    check(
        "pipelined 2",
        &c.read_response(false).unwrap(),
        &Expect::Signed(&["good"]),
    );
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_delay_nobody() {
    // Half-sent headers: closed after the header timeout (1 s here).
    let mut half_head = open();
    half_head.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Le");
    // Half-sent body: 408 or closed after the body timeout (1 s here).
    let mut half_body = open();
    half_body.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    // Never a byte.
    let mut silent = open();
    // Idle keep-alive after one request: closed after the idle timeout (2 s here).
    let mut idle = open();
    idle.send(&post(&good_req()));
    idle.read_response(false).unwrap();
    let idle_crowd: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(harness().addr).unwrap())
        .collect();

    // Meanwhile others are answered at once.
    let started = Instant::now();
    for _ in 0..5 {
        check(
            "bystander",
            &exchange(&post(&good_req())),
            &Expect::Signed(&["good"]),
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    assert!(
        half_head.closed_within(Duration::from_secs(5)),
        "half-sent headers are timed out"
    );
    assert!(
        half_body.closed_within(Duration::from_secs(5)),
        "half-sent body is timed out"
    );
    assert!(
        silent.closed_within(Duration::from_secs(5)),
        "a silent connection is timed out"
    );
    assert!(
        idle.closed_within(Duration::from_secs(6)),
        "an idle keep-alive connection is closed"
    );
    drop(idle_crowd);
}

#[test]
fn connect_and_close_then_normal_service() {
    let good = good_req();
    for i in 0..100 {
        let mut s = TcpStream::connect(harness().addr).unwrap();
        match i % 3 {
            0 => {}
            1 => s.write_all(&post(&good)).unwrap(), // hang up before the answer
            _ => s
                .write_all(b"POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\nab")
                .unwrap(),
        }
        drop(s);
    }
    for _ in 0..3 {
        check("after", &exchange(&post(&good)), &Expect::Signed(&["good"]));
    }
}

#[test]
fn h2c_prior_knowledge() {
    use http_body_util::{BodyExt, Full};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(harness().addr)
            .await
            .unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        for i in 0..3 {
            let req = if i == 1 {
                http::Request::get(format!("http://t/{}", pct(&good_req())))
                    .body(Full::new(bytes::Bytes::new()))
                    .unwrap()
            } else {
                http::Request::post("http://t/")
                    .header("content-type", "application/ocsp-request")
                    .body(Full::new(bytes::Bytes::from(good_req())))
                    .unwrap()
            };
            let resp = send.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.version(), http::Version::HTTP_2);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let r = HttpResponse {
                version: "HTTP/2".into(),
                status: 200,
                headers: Vec::new(),
                body: body.to_vec(),
            };
            check("h2c", &r, &Expect::Signed(&["good"]));
        }
    });
}

#[test]
fn chunked_post_within_the_limit_is_answered() {
    let body = good_req();
    let (a, b) = body.split_at(body.len() / 2);
    let mut raw = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in [a, b] {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    check("chunked", &exchange(&raw), &Expect::Signed(&["good"]));
}

#[test]
fn many_concurrent_clients_are_all_answered() {
    let h = harness();
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let ca = h.ca.clone();
            std::thread::spawn(move || {
                let mut c = open();
                for j in 0..5 {
                    let serial = if (i + j) % 2 == 0 { GOOD } else { REVOKED };
                    let want: &'static [&'static str] = if serial == GOOD {
                        &["good"]
                    } else {
                        &["revoked"]
                    };
                    let nonce = [i as u8, j as u8];
                    let nonce = if j % 2 == 0 { Some(&nonce[..]) } else { None };
                    c.send(&post(&req(&[id(&ca, serial, HashAlg::Sha256)], nonce)));
                    check(
                        "concurrent",
                        &c.read_response(false).unwrap(),
                        &Expect::Signed(want),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
