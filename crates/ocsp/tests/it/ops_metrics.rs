//! Metrics, health and logs of the real `ocsp serve` binary: `/metrics` scraped over HTTP
//! and parsed, `/healthz` and `/readyz`, access lines with and without the client address,
//! JSON logs, SIGHUP preflight.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::time::Duration;
use test_support::prelude::*;

#[test]
fn metrics_are_scraped_and_parsed() {
    let pki = Pki::new("M");
    let good = pki.issue("good");
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"].map(String::from));
    let r = Responder::start(OCSP, &args);
    let m = metrics_addr(&r);

    // Traffic: a POST answered good (twice: the second from the cache), a GET with a
    // malformed path, a method not allowed.
    for _ in 0..2 {
        let q = pki.query(&r.url(), &["-cert", p(&good), "-no_nonce"]);
        q.assert_status(p(&good), "good");
    }
    assert_eq!(http(r.addr(), &get_req("/not-base64!", &[])).status, 200);
    assert_eq!(
        http(r.addr(), &b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n"[..]).status,
        405
    );

    let (status, body) = get(m, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = get(m, "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"), "{}", r.stderr());

    let samples = scrape(m);
    assert!(!samples.is_empty());
    for s in &samples {
        assert!(
            s.name.starts_with("ocsp_"),
            "series not named ocsp_…: {s:?}"
        );
    }
    let issuer = "Test CA M";
    let ok = sum(
        &samples,
        "ocsp_requests_total",
        &[("method", "POST"), ("outcome", "successful")],
    );
    assert_eq!(ok, 2.0, "{samples:#?}");
    assert_eq!(
        sum(
            &samples,
            "ocsp_requests_total",
            &[("method", "GET"), ("outcome", "malformedRequest")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "ocsp_requests_total",
            &[("outcome", "methodNotAllowed")]
        ),
        1.0
    );
    assert_eq!(
        sum(&samples, "ocsp_cert_statuses_total", &[("status", "good")]),
        2.0
    );
    // Latency histogram: every request counted, buckets cumulative, +Inf = count.
    let count = sum(
        &samples,
        "ocsp_request_duration_seconds_count",
        &[("method", "POST")],
    );
    assert_eq!(count, 2.0);
    let inf = sum(
        &samples,
        "ocsp_request_duration_seconds_bucket",
        &[("method", "POST"), ("le", "+Inf")],
    );
    assert_eq!(inf, count);
    // Cache: the second identical request was a hit.
    assert_eq!(
        sum(&samples, "ocsp_cache_hits_total", &[]),
        1.0,
        "{samples:#?}"
    );
    assert_eq!(sum(&samples, "ocsp_cache_misses_total", &[]), 1.0);
    assert!(!find(&samples, "ocsp_cache_evictions_total", &[]).is_empty());
    // Signing: one signature for the miss (plus none for the hit), timed.
    assert!(sum(&samples, "ocsp_signatures_total", &[]) >= 1.0);
    assert!(sum(&samples, "ocsp_sign_duration_seconds_count", &[]) >= 1.0);
    assert!(!find(&samples, "ocsp_sign_queue_depth", &[]).is_empty());
    // Per issuer: index entries (the responder and the good leaf), generation, reload.
    let lines = std::fs::read_to_string(&pki.index).unwrap().lines().count() as f64;
    assert_eq!(
        sum(&samples, "ocsp_index_entries", &[("issuer", issuer)]),
        lines
    );
    assert!(sum(&samples, "ocsp_index_generation", &[("issuer", issuer)]) >= 1.0);
    assert_eq!(
        sum(
            &samples,
            "ocsp_index_last_reload_success",
            &[("issuer", issuer)]
        ),
        1.0
    );
    let reloaded = sum(
        &samples,
        "ocsp_index_last_reload_timestamp_seconds",
        &[("issuer", issuer)],
    );
    assert!((reloaded - unix_now() as f64).abs() < 600.0, "{reloaded}");
    // The seed's responder certificate is valid 365 days.
    let left = sum(
        &samples,
        "ocsp_responder_cert_expiry_seconds",
        &[("issuer", issuer)],
    );
    assert!(
        left > 364.0 * 86_400.0 && left <= 366.0 * 86_400.0,
        "{left}"
    );
    assert_eq!(sum(&samples, "ocsp_ready", &[]), 1.0);
    assert_eq!(
        sum(&samples, "ocsp_signer_ready", &[("issuer", issuer)]),
        1.0
    );
    assert_eq!(
        find(&samples, "ocsp_build_info", &[("profile", "private")]).len(),
        1
    );
    assert!(sum(&samples, "ocsp_connections_total", &[("scheme", "http")]) >= 4.0);

    // A change of the index shows in the generation and the entry count.
    let before = sum(&samples, "ocsp_index_generation", &[("issuer", issuer)]);
    pki.revoke(&good, &["-crl_reason", "superseded"]);
    pki.query(&r.url(), &["-cert", p(&good), "-no_nonce"])
        .assert_status(p(&good), "revoked");
    let after = scrape(m);
    assert!(sum(&after, "ocsp_index_generation", &[("issuer", issuer)]) > before);
    assert_eq!(
        sum(&after, "ocsp_index_revoked_entries", &[("issuer", issuer)]),
        1.0
    );

    // The metrics listener answers nothing else.
    assert_eq!(get(m, "/nope").0, 404);
}

#[test]
fn access_lines_name_the_client_only_when_asked_and_json_parses() {
    let pki = Pki::new("L");
    let good = pki.issue("good");
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0", "--log-format", "json"].map(String::from));
    let r = Responder::start(OCSP, &args);
    pki.query(&r.url(), &["-cert", p(&good)])
        .assert_status(p(&good), "good");
    assert!(
        r.wait_stderr("\"target\":\"ocsp::access\"", Duration::from_secs(5)),
        "{}",
        r.stderr()
    );
    for line in r.stderr().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
        if v["target"] == "ocsp::access" {
            assert!(
                v["fields"].get("client").is_none(),
                "client address logged by default: {line}"
            );
            assert_eq!(v["fields"]["statuses"], "good", "{line}");
        }
    }

    args.push("--log-client-addr".into());
    let r = Responder::start(OCSP, &args);
    pki.query(&r.url(), &["-cert", p(&good)])
        .assert_status(p(&good), "good");
    assert!(r.wait_stderr("\"target\":\"ocsp::access\"", Duration::from_secs(5)));
    let access: serde_json::Value = r
        .stderr()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["target"] == "ocsp::access")
        .unwrap();
    let client = access["fields"]["client"].as_str().unwrap();
    assert!(client.starts_with("127.0.0.1:"), "{access}");

    // A log filter from the command line.
    let mut quiet = pki.serve_args();
    quiet.extend(["--listen", "127.0.0.1:0", "--log-filter", "warn"].map(String::from));
    let r = Responder::start(OCSP, &quiet);
    pki.query(&r.url(), &["-cert", p(&good)])
        .assert_status(p(&good), "good");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!r.stderr().contains("ocsp::access"), "{}", r.stderr());
    // A filter that does not parse is refused.
    let mut bad = pki.serve_args();
    bad.extend(["--listen", "127.0.0.1:0", "--log-filter", "ocsp=loud"].map(String::from));
    let f = serve_must_fail(OCSP, &bad);
    assert!(f.stderr.contains("--log-filter"), "{}", f.stderr);
}

#[test]
fn sighup_runs_the_preflight_again() {
    let pki = Pki::new("H");
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0"].map(String::from));
    let r = Responder::start(OCSP, &args);
    // The seed's v3_OCSP section has no ocsp-nocheck: warned at start.
    assert!(
        r.wait_stderr("id-pkix-ocsp-nocheck", Duration::from_secs(5)),
        "{}",
        r.stderr()
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &r.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        r.wait_stderr("SIGHUP: reloading status sources", Duration::from_secs(5)),
        "{}",
        r.stderr()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while r
        .stderr()
        .matches("preflight: every responder certificate is valid")
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no preflight after SIGHUP:\n{}",
            r.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
