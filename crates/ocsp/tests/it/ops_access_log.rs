//! The access log under the real `ocsp serve` binary: nothing accepted before SIGTERM is
//! lost, sampling never drops an error or a refusal, SIGHUP reopens `[log] file` after a
//! logrotate-style rename, and the dropped-lines counter is exported. (The writer's bound,
//! drop count and flush interval are unit-tested in `ocsp_responder::log_writer`.)

use crate::OCSP;
use std::path::Path;
use std::time::{Duration, Instant};
use test_support::prelude::*;

/// A cacheable GET and POST of `good`, and requests that are refused.
struct Requests {
    get: Vec<u8>,
    post: Vec<u8>,
    malformed: Vec<u8>,
    put: Vec<u8>,
}

impl Requests {
    fn new(pki: &Pki, good: &Path) -> Requests {
        let der = pki.request_der(&["-cert", p(good), "-no_nonce"]);
        Requests {
            get: get_req(&get_path_of(&der), &[]),
            post: post_req("/", &der, &[]),
            malformed: get_req("/not-base64!", &[]),
            put: b"PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".to_vec(),
        }
    }
}

/// Send `raw` `n` times on one keep-alive connection; every answer must be complete.
fn send(addr: std::net::SocketAddr, raw: &[u8], n: usize) {
    let mut c = Conn::open(addr);
    for i in 0..n {
        c.send(raw);
        c.read_response(false)
            .unwrap_or_else(|e| panic!("request {i}: no answer: {e}"));
    }
}

fn access_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("ocsp::access"))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_request_answered_before_sigterm_is_logged() {
    let pki = Pki::new("AL");
    let good = pki.issue("good");
    let reqs = Requests::new(&pki, &good);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.log");
    for (name, extra) in [
        ("stderr (the default)", vec![]),
        (
            "a JSON log file",
            vec![
                "--log-file".to_string(),
                p(&file).to_string(),
                "--log-format".into(),
                "json".into(),
            ],
        ),
    ] {
        let mut args = pki.serve_args();
        args.extend(["--listen", "127.0.0.1:0"].map(String::from));
        args.extend(extra.iter().cloned());
        let mut r = Responder::start(OCSP, &args);
        let addr = r.addr();
        // Four clients at once, ~2,000 requests, then SIGTERM at once: most lines are still
        // in the buffer when the signal comes.
        let n = 500;
        std::thread::scope(|s| {
            for raw in [&reqs.get, &reqs.post, &reqs.get, &reqs.malformed] {
                s.spawn(move || send(addr, raw, n));
            }
        });
        let status = r.terminate(Duration::from_secs(10)).expect("exits");
        assert!(status.success(), "{name}: {status:?}\n{}", r.stderr());
        let text = if extra.is_empty() {
            r.stderr()
        } else {
            read(&file)
        };
        let lines = access_lines(&text);
        assert_eq!(
            lines.len(),
            4 * n,
            "{name}: every answered request has its access line"
        );
        let malformed = lines
            .iter()
            .filter(|l| l.contains("malformedRequest"))
            .count();
        assert_eq!(malformed, n, "{name}");
        assert!(
            text.contains("stopped"),
            "{name}: the last line is written too"
        );
        if !extra.is_empty() {
            for l in text.lines() {
                let v: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
                assert!(
                    v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{l}"
                );
            }
        }
    }
}

#[test]
fn sampling_never_drops_errors_or_refusals() {
    let pki = Pki::new("AS");
    let good = pki.issue("good");
    let reqs = Requests::new(&pki, &good);
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0", "--access-sample", "0"].map(String::from));
    let mut r = Responder::start(OCSP, &args);
    send(r.addr(), &reqs.get, 60);
    send(r.addr(), &reqs.post, 40);
    send(r.addr(), &reqs.malformed, 30);
    for _ in 0..20 {
        // A 405 closes nothing, but send each on its own connection to be safe.
        send(r.addr(), &reqs.put, 1);
    }
    r.terminate(Duration::from_secs(10)).expect("exits");
    let stderr = r.stderr();
    let lines = access_lines(&stderr);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("malformedRequest"))
            .count(),
        30,
        "{stderr}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("http=405")).count(),
        20,
        "{stderr}"
    );
    assert_eq!(lines.len(), 50, "successes sampled away at 0: {stderr}");

    // Half the successes at 0.5 (100 of them: 20 to 80 is far outside chance).
    let mut args = pki.serve_args();
    args.extend(["--listen", "127.0.0.1:0", "--access-sample", "0.5"].map(String::from));
    let mut r = Responder::start(OCSP, &args);
    send(r.addr(), &reqs.get, 100);
    send(r.addr(), &reqs.malformed, 10);
    r.terminate(Duration::from_secs(10)).expect("exits");
    let stderr = r.stderr();
    let lines = access_lines(&stderr);
    let ok = lines
        .iter()
        .filter(|l| l.contains("\"successful\""))
        .count();
    assert!((20..=80).contains(&ok), "{ok} of 100 kept at 0.5");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("malformedRequest"))
            .count(),
        10
    );

    // Not a share: refused, naming the flag.
    let mut bad = pki.serve_args();
    bad.extend(["--listen", "127.0.0.1:0", "--access-sample", "2"].map(String::from));
    let f = serve_must_fail(OCSP, &bad);
    assert!(f.stderr.contains("--access-sample"), "{}", f.stderr);
}

#[test]
fn sighup_reopens_the_log_file_after_logrotate_renamed_it() {
    let pki = Pki::new("AR");
    let good = pki.issue("good");
    let reqs = Requests::new(&pki, &good);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ocsp.log");
    let rotated = dir.path().join("ocsp.log.1");
    let mut args = pki.serve_args();
    args.extend(
        [
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-file",
            p(&file),
        ]
        .map(String::from),
    );
    let mut r = Responder::start(OCSP, &args);
    send(r.addr(), &reqs.get, 10);
    wait_for(
        "10 access lines in the log file",
        Duration::from_secs(5),
        || access_lines(&read(&file)).len() == 10,
    );
    assert!(
        !r.stderr().contains("ocsp::access"),
        "with [log] file, nothing on stderr"
    );
    // The dropped-lines counter is exported (and nothing was dropped).
    let m = metrics_addr(&r);
    wait_for(
        "ocsp_log_lines_dropped_total",
        Duration::from_secs(5),
        || {
            get(m, "/metrics")
                .1
                .contains("ocsp_log_lines_dropped_total 0")
        },
    );

    // logrotate: rename, then SIGHUP.
    std::fs::rename(&file, &rotated).unwrap();
    send(r.addr(), &reqs.get, 5);
    wait_for(
        "lines after the rename in the renamed file",
        Duration::from_secs(5),
        || access_lines(&read(&rotated)).len() == 15,
    );
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &r.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    wait_for(
        "a new log file after SIGHUP",
        Duration::from_secs(5),
        || read(&file).contains("SIGHUP"),
    );
    send(r.addr(), &reqs.post, 7);
    r.terminate(Duration::from_secs(10)).expect("exits");
    assert_eq!(access_lines(&read(&file)).len(), 7, "{}", read(&file));
    assert_eq!(access_lines(&read(&rotated)).len(), 15);
}
