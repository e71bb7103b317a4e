//! The HTTP side of `ocsp serve`, judged through the real binary (issue 2, points 4 and 5):
//! GET through curl, RFC 9919 caching headers, ETag/304, path forms, h2c, keep-alive,
//! hostile input over raw TCP, limits, and clients that must not delay anyone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::der::DecodePem;
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{HashAlg, Serial};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use test_support::prelude::*;

fn a() -> &'static Pki {
    static A: OnceLock<Pki> = OnceLock::new();
    A.get_or_init(|| Pki::standard("A"))
}

fn b() -> &'static Pki {
    static B: OnceLock<Pki> = OnceLock::new();
    B.get_or_init(|| {
        let b = Pki::new("B");
        b.issue("good");
        b
    })
}

fn serve() -> Responder {
    let mut args = a().serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    Responder::start(OCSP, args)
}

fn good() -> String {
    p(&a().cert("good")).to_string()
}

/// A GET/POST answer fetched by curl: status, HTTP version, headers, body.
struct Fetched {
    status: u16,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn curl_fetch(args: &[&str]) -> Fetched {
    let dir = tempfile::tempdir_in(&a().dir).unwrap();
    let hdr = dir.path().join("headers");
    let body = dir.path().join("body");
    let mut all = vec![
        "--path-as-is",
        "-D",
        p(&hdr),
        "-o",
        p(&body),
        "-w",
        "%{http_code} %{http_version}",
    ];
    all.extend_from_slice(args);
    let out = curl(&all);
    assert!(
        out.status.success(),
        "curl {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = String::from_utf8_lossy(&out.stdout).to_string();
    let (code, version) = w.trim().split_once(' ').unwrap();
    let text = std::fs::read_to_string(&hdr).unwrap();
    // With h2c or 1xx there may be several header blocks: keep the last.
    let block = text
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or("");
    let headers = block
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Fetched {
        status: code.parse().unwrap(),
        version: version.to_string(),
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// Verify response bytes with openssl (`-respin`), for the certificate `cert`.
fn assert_verifies(der: &[u8], cert: &str, status: &str) {
    let f = tempfile::NamedTempFile::new_in(&a().dir).unwrap();
    std::fs::write(f.path(), der).unwrap();
    let q = a().verify_respin(f.path(), &["-cert", cert]);
    q.assert_status(cert, status);
}

fn check_cache_headers(headers: &dyn Fn(&str) -> Option<String>, body: &[u8]) {
    assert_eq!(
        headers("content-type").as_deref(),
        Some("application/ocsp-response")
    );
    let basic = parse_basic(body);
    let next = ocsp_proto::Timestamp::from_ocsp(
        basic.tbs_response_data.responses[0]
            .next_update
            .as_ref()
            .unwrap(),
    )
    .0;
    let this = ocsp_proto::Timestamp::from_ocsp(&basic.tbs_response_data.responses[0].this_update);
    let cc = headers("cache-control").expect("Cache-Control");
    let rest = cc
        .strip_prefix("max-age=")
        .unwrap_or_else(|| panic!("Cache-Control {cc:?}"));
    let (n, tail) = rest.split_once(',').unwrap();
    assert_eq!(
        tail.trim(),
        "public, no-transform, must-revalidate",
        "Cache-Control {cc:?}"
    );
    let n: u64 = n.parse().unwrap();
    let now = unix_now();
    assert!(n > 0, "max-age {n}");
    assert!(
        n <= next.saturating_sub(now) + 1,
        "max-age {n} ≤ nextUpdate − now ({})",
        next.saturating_sub(now)
    );
    assert_eq!(
        headers("expires").as_deref(),
        Some(ocsp_proto::Timestamp(next).http_date().as_str()),
        "Expires is nextUpdate"
    );
    assert_eq!(
        headers("last-modified").as_deref(),
        Some(this.http_date().as_str()),
        "Last-Modified is thisUpdate"
    );
    let etag = headers("etag").expect("ETag");
    assert_eq!(
        etag.trim_matches('"'),
        hex::encode(HashAlg::Sha256.digest(body)),
        "ETag is the hex SHA-256 of the body"
    );
    let date = headers("date").expect("Date");
    assert!(date.ends_with(" GMT"), "Date {date:?}");
}

#[test]
fn get_through_curl_with_rfc9919_headers() {
    let r = serve();
    let good = good();
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    let url = format!("{}/{}", r.url(), pct_encode(&b64(&der), false));
    let f = curl_fetch(&[&url]);
    assert_eq!(f.status, 200);
    check_cache_headers(&|n| f.header(n).map(str::to_string), &f.body);
    assert_verifies(&f.body, &good, "good");
}

#[test]
fn if_none_match_gives_304() {
    let r = serve();
    let good = good();
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    let path = format!("/{}", pct_encode(&b64(&der), false));
    let mut got_304 = false;
    // Answers are signed live, so the ETag changes when thisUpdate does (each second):
    // ask again at once, a few times.
    for _ in 0..5 {
        let first = http(r.addr(), &get_req(&path, &[]));
        assert_eq!(first.status, 200);
        let etag = first.header("etag").unwrap().to_string();
        let second = http(
            r.addr(),
            &get_req(&path, &[&format!("If-None-Match: {etag}")]),
        );
        if second.status == 304 {
            assert!(second.body.is_empty());
            assert_eq!(second.header("etag"), Some(etag.as_str()));
            assert!(second.header("date").is_some());
            got_304 = true;
            break;
        }
        assert_eq!(second.status, 200);
    }
    assert!(
        got_304,
        "If-None-Match with the current ETag never gave 304"
    );
    let other = http(r.addr(), &get_req(&path, &["If-None-Match: \"0123\""]));
    assert_eq!(other.status, 200, "a different ETag gets the answer");
    assert!(!other.body.is_empty());
}

#[test]
fn nonce_answers_are_not_shared_by_caches() {
    let r = serve();
    let good = good();
    let der = a().request_der(&["-cert", &good]);
    let resp = http(
        r.addr(),
        &get_req(&format!("/{}", pct_encode(&b64(&der), false)), &[]),
    );
    assert_eq!(resp.status, 200);
    let cc = resp.header("cache-control").unwrap_or_default();
    assert!(
        !cc.contains("public"),
        "an answer echoing one client's nonce must not be cached for others: {cc:?}"
    );
}

/// An OCSP request (with a nonce) whose base64 holds `+`, `/` and `=`.
fn request_exercising_base64() -> (Vec<u8>, String) {
    let good = good();
    let revoked = p(&a().cert("revoked")).to_string();
    for args in [
        vec!["-cert", good.as_str()],
        vec!["-cert", good.as_str(), "-cert", revoked.as_str()],
        vec!["-sha256", "-cert", good.as_str()],
        vec!["-sha256", "-cert", good.as_str(), "-cert", revoked.as_str()],
    ] {
        let probe = a().request_der(&args);
        if probe.len() % 3 == 0 {
            continue; // no padding: this shape never has '='
        }
        for _ in 0..300 {
            let der = a().request_der(&args);
            let s = b64(&der);
            if s.contains('+') && s.contains('/') && s.ends_with('=') {
                return (der, s);
            }
        }
    }
    panic!("no request with '+', '/' and '=' in its base64");
}

#[test]
fn get_path_forms() {
    let r = serve();
    let good = good();
    let (_der, s) = request_exercising_base64();
    let upper = pct_encode(&s, false);
    let lower = pct_encode(&s, true);
    assert!(lower.contains("%2b") && lower.contains("%2f") && lower.contains("%3d"));
    let url_safe = s
        .replace('+', "-")
        .replace('/', "_")
        .trim_end_matches('=')
        .to_string();
    let forms = [
        ("raw + and /", format!("/{s}")),
        ("%2B %2F %3D", format!("/{upper}")),
        ("%2b %2f %3d", format!("/{lower}")),
        ("prefix /ocsp/", format!("/ocsp/{upper}")),
        ("prefix /ocsp/ raw", format!("/ocsp/{s}")),
        ("deep prefix", format!("/a/b/c/{lower}")),
        ("//", format!("//{upper}")),
        ("prefix //", format!("/ocsp//{s}")),
        ("space for +", format!("/{}", upper.replace("%2B", "%20"))),
        ("base64url", format!("/{url_safe}")),
        ("no padding", format!("/{}", s.trim_end_matches('='))),
    ];
    for (what, path) in forms {
        let resp = http(r.addr(), &get_req(&path, &[]));
        assert_eq!(resp.status, 200, "{what}: {path}");
        assert_ne!(resp.body, MALFORMED, "{what}: {path} decoded as malformed");
        assert_verifies(&resp.body, &good, "good");
    }
    // And through curl, which sends the path as given.
    let f = curl_fetch(&[&format!("{}/ocsp/{lower}", r.url())]);
    assert_eq!(f.status, 200);
    assert_verifies(&f.body, &good, "good");
}

#[test]
fn post_through_curl() {
    let r = serve();
    let good = good();
    let dir = tempfile::tempdir_in(&a().dir).unwrap();
    let req = dir.path().join("req.der");
    std::fs::write(&req, a().request_der(&["-cert", &good, "-no_nonce"])).unwrap();
    let f = curl_fetch(&[
        "-H",
        "Content-Type: application/ocsp-request",
        "--data-binary",
        &format!("@{}", p(&req)),
        &r.url(),
    ]);
    assert_eq!(f.status, 200);
    assert_eq!(f.version, "1.1");
    assert_eq!(f.header("content-type"), Some("application/ocsp-response"));
    assert_verifies(&f.body, &good, "good");
}

#[test]
fn h2c_prior_knowledge() {
    let r = serve();
    let good = good();
    let dir = tempfile::tempdir_in(&a().dir).unwrap();
    let req = dir.path().join("req.der");
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    std::fs::write(&req, &der).unwrap();
    let f = curl_fetch(&[
        "--http2-prior-knowledge",
        "-H",
        "Content-Type: application/ocsp-request",
        "--data-binary",
        &format!("@{}", p(&req)),
        &r.url(),
    ]);
    assert_eq!(f.status, 200);
    assert_eq!(f.version, "2", "answered over HTTP/2");
    assert_verifies(&f.body, &good, "good");
    let f = curl_fetch(&[
        "--http2-prior-knowledge",
        &format!("{}/{}", r.url(), pct_encode(&b64(&der), false)),
    ]);
    assert_eq!((f.status, f.version.as_str()), (200, "2"));
    check_cache_headers(&|n| f.header(n).map(str::to_string), &f.body);
    assert_verifies(&f.body, &good, "good");
}

#[test]
fn h2c_upgrade_request_is_answered() {
    // `curl --http2` on http:// asks for an Upgrade: h2c; answering over HTTP/1.1 is fine,
    // failing is not.
    let r = serve();
    let good = good();
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    let f = curl_fetch(&[
        "--http2",
        &format!("{}/{}", r.url(), pct_encode(&b64(&der), false)),
    ]);
    assert_eq!(f.status, 200);
    assert_verifies(&f.body, &good, "good");
}

#[test]
fn keep_alive_several_requests_on_one_connection() {
    let r = serve();
    let good = good();
    let revoked = p(&a().cert("revoked")).to_string();
    let der_good = a().request_der(&["-cert", &good, "-no_nonce"]);
    let der_revoked = a().request_der(&["-cert", &revoked]);
    let mut c = Conn::open(r.addr());
    let get = get_req(&format!("/{}", pct_encode(&b64(&der_good), false)), &[]);
    let requests: Vec<(Vec<u8>, &str, &str)> = vec![
        (post_req("/", &der_good, &[]), good.as_str(), "good"),
        (
            post_req("/", &der_revoked, &[]),
            revoked.as_str(),
            "revoked",
        ),
        (get.clone(), good.as_str(), "good"),
        (
            post_req("/ocsp", &der_revoked, &[]),
            revoked.as_str(),
            "revoked",
        ),
        (get, good.as_str(), "good"),
    ];
    for (i, (raw, cert, status)) in requests.iter().enumerate() {
        c.send(raw);
        let resp = c
            .read_response(false)
            .unwrap_or_else(|e| panic!("request {i} on the same connection: {e}"));
        assert_eq!(resp.version, "HTTP/1.1");
        assert_eq!(resp.status, 200, "request {i}");
        assert_ne!(resp.header("connection"), Some("close"), "request {i}");
        assert_verifies(&resp.body, cert, status);
    }
    // Pipelined: two requests in one write, two answers in order.
    let mut both = post_req("/", &der_good, &[]);
    both.extend(post_req("/", &der_revoked, &[]));
    c.send(&both);
    let one = c.read_response(false).unwrap();
    let two = c.read_response(false).unwrap();
    assert_verifies(&one.body, &good, "good");
    assert_verifies(&two.body, &revoked, "revoked");
}

#[test]
fn head_gives_headers_only() {
    let r = serve();
    let der = a().request_der(&["-cert", &good(), "-no_nonce"]);
    let path = format!("/{}", pct_encode(&b64(&der), false));
    let mut c = Conn::open(r.addr());
    c.send(&format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes());
    let head = c.read_response(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("application/ocsp-response")
    );
    let len: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(len > 100);
    // The connection is still in sync: a GET on it works.
    c.send(&get_req(&path, &[]));
    let get = c.read_response(false).unwrap();
    assert_eq!(get.status, 200);
    assert_eq!(
        get.body.len(),
        len,
        "HEAD's Content-Length is the GET body's"
    );
}

#[test]
fn root_is_a_plain_text_line() {
    let r = serve();
    for path in ["/", "//"] {
        let resp = http(r.addr(), &get_req(path, &[]));
        assert_eq!(resp.status, 200, "{path}");
        assert!(
            resp.header("content-type")
                .unwrap()
                .starts_with("text/plain"),
            "{path}"
        );
        let text = String::from_utf8(resp.body).unwrap();
        assert!(
            text.to_lowercase().contains("ocsp"),
            "names the service: {text:?}"
        );
    }
    let f = curl_fetch(&[&format!("{}/", r.url())]);
    assert_eq!(f.status, 200);
}

fn ca_cert() -> Certificate {
    Certificate::from_pem(std::fs::read(&a().cacert).unwrap()).unwrap()
}

/// A request for the `good` leaf built in Rust, with any nonce octets.
fn request_with_nonce(nonce: Option<&[u8]>) -> Vec<u8> {
    let serial = Serial::from_hex(&a().serial(&a().cert("good"))).unwrap();
    let id = ocsp_proto::cert_id::cert_id(&ca_cert(), &serial, HashAlg::Sha1).unwrap();
    ocsp_proto::request::build(&[id], nonce).unwrap()
}

#[test]
fn hostile_input_gets_unsigned_malformed_request() {
    let r = serve();
    let good_der = a().request_der(&["-cert", &good(), "-no_nonce"]);
    let mut trailing = good_der.clone();
    trailing.push(0);
    let hello = b64(b"hello, not DER");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("GET bad %", get_req("/%zz", &[])),
        ("GET lone %", get_req("/MEMw%", &[])),
        ("GET bad base64", get_req("/!!!!", &[])),
        ("GET short base64", get_req("/AAAA", &[])),
        (
            "GET base64 of non-DER",
            get_req(&format!("/{}", pct_encode(&hello, false)), &[]),
        ),
        (
            "GET trailing bytes",
            get_req(&format!("/{}", pct_encode(&b64(&trailing), false)), &[]),
        ),
        (
            "GET truncated DER",
            get_req(
                &format!(
                    "/{}",
                    pct_encode(&b64(&good_der[..good_der.len() - 3]), false)
                ),
                &[],
            ),
        ),
        ("POST bad DER", post_req("/", b"hello", &[])),
        ("POST trailing bytes", post_req("/", &trailing, &[])),
        ("POST empty body", post_req("/", b"", &[])),
        ("POST a response", post_req("/", &MALFORMED, &[])),
        (
            "POST nonce of 0 octets",
            post_req("/", &request_with_nonce(Some(&[])), &[]),
        ),
        (
            "POST nonce of 129 octets",
            post_req("/", &request_with_nonce(Some(&[0x5a; 129])), &[]),
        ),
        (
            "GET nonce of 129 octets",
            get_req(
                &format!(
                    "/{}",
                    pct_encode(&b64(&request_with_nonce(Some(&[0xa5; 129]))), false)
                ),
                &[],
            ),
        ),
    ];
    for (what, raw) in &cases {
        let resp = http(r.addr(), raw);
        assert_eq!(resp.status, 200, "{what}: HTTP 200");
        assert_eq!(
            resp.header("content-type"),
            Some("application/ocsp-response"),
            "{what}"
        );
        assert_eq!(resp.body, MALFORMED, "{what}: unsigned malformedRequest");
        assert!(
            resp.header("cache-control")
                .is_some_and(|v| v.contains("no-cache")),
            "{what}: error answers are not cached"
        );
    }
    // Too many CertIDs, an unsupported hash, the maximum.
    let serial = Serial::from_hex(&a().serial(&a().cert("good"))).unwrap();
    let one = ocsp_proto::cert_id::cert_id(&ca_cert(), &serial, HashAlg::Sha256).unwrap();
    let too_many = ocsp_proto::request::build(&vec![one.clone(); 65], None).unwrap();
    let resp = http(r.addr(), &post_req("/", &too_many, &[]));
    assert_eq!(resp.body, MALFORMED, "65 CertIDs");
    let max = ocsp_proto::request::build(&vec![one.clone(); 64], None).unwrap();
    let resp = http(r.addr(), &post_req("/", &max, &[]));
    assert_eq!(
        parse_basic(&resp.body).tbs_response_data.responses.len(),
        64
    );
    let mut md5 = one;
    md5.hash_algorithm.oid =
        ocsp_proto::const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
    let resp = http(
        r.addr(),
        &post_req("/", &ocsp_proto::request::build(&[md5], None).unwrap(), &[]),
    );
    assert_eq!(resp.body, UNAUTHORIZED, "an MD5 CertID names no served CA");
    // Nonces at the limits are fine.
    for n in [1usize, 32, 128] {
        let resp = http(
            r.addr(),
            &post_req("/", &request_with_nonce(Some(&vec![7; n])), &[]),
        );
        assert_eq!(resp.status, 200);
        assert_verifies(&resp.body, &good(), "good");
    }
    // Still serving.
    a().query(&r.url(), &["-cert", &good()])
        .assert_status(&good(), "good");
    // Client mistakes are not errors of ours.
    let log = r.stderr();
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "client mistakes logged at error level:\n{log}"
    );
}

/// A chunked POST body (one chunk).
fn chunked_post(der: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        der.len()
    )
    .into_bytes();
    raw.extend_from_slice(der);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    raw
}

#[test]
fn a_connection_changes_hands_mid_way_without_losing_a_request() {
    // Simple requests are served by the HTTP/1.1 fast path; the first one it does not
    // take (here a chunked body) goes to hyper with the bytes already read, and hyper
    // serves the rest of the connection.
    let r = serve();
    let good = good();
    let revoked = p(&a().cert("revoked")).to_string();
    let der_good = a().request_der(&["-cert", &good, "-no_nonce"]);
    let der_revoked = a().request_der(&["-cert", &revoked, "-no_nonce"]);
    let mut c = Conn::open(r.addr());
    c.send(&post_req("/", &der_good, &[]));
    assert_verifies(&c.read_response(false).unwrap().body, &good, "good");
    // Pipelined across the hand-off: a simple request, a chunked one, a simple one.
    let mut three = post_req("/", &der_revoked, &[]);
    three.extend(chunked_post(&der_good));
    three.extend(get_req(
        &format!("/{}", pct_encode(&b64(&der_revoked), false)),
        &[],
    ));
    c.send(&three);
    for (cert, status) in [
        (&revoked, "revoked"),
        (&good, "good"),
        (&revoked, "revoked"),
    ] {
        let resp = c.read_response(false).unwrap();
        assert_eq!(resp.status, 200);
        assert_verifies(&resp.body, cert, status);
    }
    // And the connection is still usable.
    c.send(&chunked_post(&der_revoked));
    assert_verifies(&c.read_response(false).unwrap().body, &revoked, "revoked");
    // `Connection: close` on a simple request: answered, then closed.
    let mut c = Conn::open(r.addr());
    c.send(&post_req("/", &der_good, &["Connection: close"]));
    let resp = c.read_response(false).unwrap();
    assert_verifies(&resp.body, &good, "good");
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn http_1_0_clients_are_answered() {
    let r = serve();
    let der = a().request_der(&["-cert", &good(), "-no_nonce"]);
    let mut raw = format!(
        "POST / HTTP/1.0\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n\r\n",
        der.len()
    )
    .into_bytes();
    raw.extend_from_slice(&der);
    let mut c = Conn::open(r.addr());
    c.send(&raw);
    let resp = c.read_response(false).unwrap();
    assert_eq!(resp.status, 200);
    assert_verifies(&resp.body, &good(), "good");
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "an HTTP/1.0 request without keep-alive is followed by a close"
    );
    let resp = http(
        r.addr(),
        format!("GET /{} HTTP/1.0\r\n\r\n", pct_encode(&b64(&der), false)).as_bytes(),
    );
    assert_eq!(resp.status, 200);
    assert_verifies(&resp.body, &good(), "good");
}

#[test]
fn unauthorized_is_unsigned_and_not_cached() {
    let r = serve();
    let b = b();
    let der = b.request_der(&["-cert", p(&b.cert("good")), "-no_nonce"]);
    for raw in [
        post_req("/", &der, &[]),
        get_req(&format!("/{}", pct_encode(&b64(&der), false)), &[]),
    ] {
        let resp = http(r.addr(), &raw);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, UNAUTHORIZED);
        assert!(resp
            .header("cache-control")
            .is_some_and(|v| v.contains("no-cache")));
    }
}

#[test]
fn oversize_post_gets_413_without_the_body_being_sent() {
    let r = serve();
    let mut c = Conn::open(r.addr());
    // Only the headers: the answer must come without waiting for 20000 octets.
    c.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 20000\r\n\r\n",
    );
    let started = Instant::now();
    let resp = c
        .read_response(false)
        .expect("a 413 before any body is sent");
    assert_eq!(resp.status, 413);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Chunked, no length declared: cut off once over 10 KiB.
    let mut c = Conn::open(r.addr());
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = vec![b'A'; 4096];
    for _ in 0..3 {
        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
        piece.extend_from_slice(&chunk);
        piece.extend_from_slice(b"\r\n");
        c.send(&piece);
    }
    let resp = c
        .read_response(false)
        .expect("a 413 for a 12 KiB chunked body");
    assert_eq!(resp.status, 413);

    // Exactly at the limit is read (and is malformed, not refused).
    let body = vec![0u8; 10 * 1024];
    let resp = http(r.addr(), &post_req("/", &body, &[]));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, MALFORMED);
}

#[test]
fn other_methods_get_405_with_allow() {
    let r = serve();
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        let resp = http(
            r.addr(),
            format!("{m} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        );
        assert_eq!(resp.status, 405, "{m}");
        let allow = resp.header("allow").unwrap_or_else(|| panic!("{m}: Allow"));
        assert!(
            allow.contains("GET") && allow.contains("POST"),
            "{m}: Allow {allow:?}"
        );
    }
}

/// CPU ticks (user + system) the process has used, from /proc.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[test]
fn idle_and_half_sent_clients_delay_nobody() {
    let r = serve();
    let good = good();
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(r.addr()).unwrap())
        .collect();
    let mut half_head = Conn::open(r.addr());
    half_head.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le");
    let mut half_body = Conn::open(r.addr());
    half_body.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n0\x82");
    let mut half_line = Conn::open(r.addr());
    half_line.send(b"GE");
    let started = Instant::now();
    for _ in 0..3 {
        a().query(&r.url(), &["-cert", &good])
            .assert_status(&good, "good");
    }
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    let resp = http(r.addr(), &post_req("/", &der, &[]));
    assert_eq!(resp.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answers took {:?} with idle clients connected",
        started.elapsed()
    );
    drop(idle);
}

#[test]
fn connect_and_close_storm_then_normal_service() {
    let r = serve();
    let good = good();
    let der = a().request_der(&["-cert", &good, "-no_nonce"]);
    for _ in 0..100 {
        drop(TcpStream::connect(r.addr()).unwrap());
    }
    // Hang up mid-request and right after sending a whole one (before the answer).
    for i in 0..50 {
        let mut c = Conn::open(r.addr());
        if i % 2 == 0 {
            c.send(&post_req("/", &der, &[]));
        } else {
            c.send(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
        }
        drop(c);
    }
    for _ in 0..3 {
        a().query(&r.url(), &["-cert", &good])
            .assert_status(&good, "good");
    }
    // And it is not spinning (openssl ocsp 3.0 sits at 100 % CPU after one such close).
    std::thread::sleep(Duration::from_millis(300));
    if let Some(t0) = cpu_ticks(r.pid()) {
        std::thread::sleep(Duration::from_secs(1));
        let t1 = cpu_ticks(r.pid()).unwrap();
        assert!(
            t1 - t0 < 50,
            "idle responder used {} CPU ticks in 1 s after the storm",
            t1 - t0
        );
    }
}

#[test]
fn sigterm_stops_cleanly() {
    let mut r = serve();
    let good = good();
    a().query(&r.url(), &["-cert", &good])
        .assert_status(&good, "good");
    let _idle = TcpStream::connect(r.addr()).unwrap();
    let status = r
        .terminate(Duration::from_secs(20))
        .expect("exits after SIGTERM within the grace period");
    assert!(status.success(), "exit status {status}");
}
