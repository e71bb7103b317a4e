//! `ocsp serve` on a real SoftHSM2 token that misbehaves: the token's directory removed and
//! restored while serving (nonce and cache-miss requests answered tryLater, cache hits still
//! served, `/readyz` 503 naming the CKR code, then recovery without a restart), a wrong PIN
//! (reported once, the process stops: no login loop that could lock the token), and more
//! signing threads than the token's sessions allowed (they queue; nothing fails).

use std::time::{Duration, Instant};

use crate::hsm_support::{ask, hsm, pki, serve, signer};
use crate::OCSP;
use test_support::prelude::*;

fn nonce_request(name: &str) -> Vec<u8> {
    pki().request_der(&["-cert", p(&pki().cert(name))])
}

fn plain_request(name: &str) -> Vec<u8> {
    pki().request_der(&["-cert", p(&pki().cert(name)), "-no_nonce"])
}

fn post(r: &Responder, der: &[u8]) -> HttpResponse {
    http(r.addr(), &post_req("/", der, &["Connection: close"]))
}

fn is_try_later(resp: &HttpResponse) -> bool {
    resp.status == 200 && resp.body == TRY_LATER
}

fn successful(resp: &HttpResponse) -> bool {
    resp.status == 200 && resp.body.len() > 100
}

#[test]
fn a_pulled_token_answers_try_later_then_recovers_without_restart() {
    let h = hsm();
    let cfg = write(
        &pki().dir,
        "hsm-drill.toml",
        "[pkcs11]\nretry_ms = 200\n[metrics]\nready_cache_secs = 0\n",
    );
    let r = serve(
        "drill",
        "drill",
        &["--config", p(&cfg), "--metrics-listen", "127.0.0.1:0"],
    );
    let ops = metrics_addr(&r);
    let hit = plain_request("good");
    assert!(successful(&post(&r, &hit)), "warm the cache");
    assert_eq!(get(ops, "/readyz").0, 200);

    h.pull("drill");
    // The first signature after the pull meets the fault; from then on, tryLater.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_try_later(&post(&r, &nonce_request("good"))) {
        assert!(
            Instant::now() < deadline,
            "no tryLater 10 s after the token was pulled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(is_try_later(&post(&r, &nonce_request("revoked"))), "nonce");
    assert!(
        is_try_later(&post(&r, &plain_request("revoked"))),
        "cache miss"
    );
    let cached = post(&r, &hit);
    assert!(
        successful(&cached),
        "a cache hit is still served: {cached:?}"
    );
    let (status, body) = get(ops, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("CKR_"), "/readyz names the code: {body}");

    h.restore("drill");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = post(&r, &nonce_request("good"));
        if successful(&resp) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the token is back and the responder did not recover: {resp:?}\n{}",
            r.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let q = ask(&r, "revoked", &[]);
    assert!(q.verified(), "{}", q.all());
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(ops, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "not ready again after recovery");
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = r.stderr();
    assert!(err.contains("the signer recovered"), "{err}");
    assert_eq!(
        err.matches("the signer is not ready").count(),
        1,
        "reported once:\n{err}"
    );
}

#[test]
fn a_wrong_pin_is_reported_once_and_stops_the_start() {
    hsm();
    let s = signer("hsm", "p256-imported");
    let mut args = pki().serve_args_with(&s);
    let n = args.len();
    args[n - 1] = "pass:0000".into();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    let f = serve_must_fail(OCSP, args);
    assert_eq!(
        f.stderr.matches("CKR_PIN_INCORRECT").count(),
        1,
        "{}",
        f.stderr
    );
    assert!(f.stderr.contains("not tried again"), "{}", f.stderr);
    assert!(!f.stderr.contains("0000"), "the PIN shows: {}", f.stderr);
}

#[test]
fn more_signing_threads_than_sessions_queue_for_them() {
    hsm();
    let cfg = write(
        &pki().dir,
        "hsm-sessions.toml",
        "[pkcs11]\nmax_sessions = 1\n",
    );
    let r = serve(
        "hsm",
        "p384-gen",
        &["--config", p(&cfg), "--signing-threads", "4"],
    );
    let req = nonce_request("good");
    let addr = r.addr();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let req = req.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| http(addr, &post_req("/", &req, &["Connection: close"])))
                    .filter(|resp| !(resp.status == 200 && resp.body.len() > 100))
                    .count()
            })
        })
        .collect();
    let failed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(failed, 0, "{}", r.stderr());
}
